// SPDX-License-Identifier: MIT
// lamina: the divergence guard: a failing batch's weights and optimizer state put back as they were before it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/convert.hpp>
#include <lamina/detail/team.hpp>
#include <lamina/optimizers/optimizer.hpp>

namespace lamina::detail {

/// What fit's `terminate_on_nan` promises: a batch that makes the loss or a weight NaN or
/// infinite leaves the weights, the optimizer's slots and its step count as they were
/// before it, and fit reports where.
///
/// Every guarded step checks the weights it wrote (`update`); the state of before a failing
/// batch is recovered from a copy made at the start of its epoch (`checkpoint`) by training
/// the epoch's earlier batches again (`restore_and_throw`), which gives it exactly: a seed
/// and a thread count give the same training every time. Copying every step's weights
/// before updating them instead cost 7% of an epoch of the seed network; the replay costs at
/// most an epoch, once, when training fails.
template <Scalar S>
class DivergenceGuard {
public:
    /// Whether the running fit guards its steps.
    [[nodiscard]] bool armed() const noexcept { return armed_; }

    /// Guards the steps from now on (when `on`), sizing the copies for `parameters` weights
    /// and the optimizer's slots; allocates only when they grow.
    void arm(bool on, Index parameters, Optimizer<S>& optimizer) {
        armed_ = on;
        if (!on) return;
        backup_.resize(parameters);
        const auto slots = optimizer.slots();
        slots_backup_.resize(slots.size());
        for (std::size_t i = 0; i < slots.size(); ++i) slots_backup_[i].resize(slots[i]->size());
    }

    /// Copies the weights and slots at the start of an epoch.
    void checkpoint(const Vector<S>& params, Optimizer<S>& optimizer) {
        backup_ = params;
        const auto slots = optimizer.slots();
        slots_backup_.resize(slots.size());  // as `arm` sized them, unless the optimizer changed since
        for (std::size_t i = 0; i < slots.size(); ++i) slots_backup_[i] = *slots[i];
    }

    /// Called before each step; `diverged()` then tells whether one of its updates wrote a
    /// non-finite weight.
    void begin_step() noexcept { diverged_.clear(); }
    [[nodiscard]] bool diverged() const noexcept { return diverged_.get(); }

    /// The optimizer's step over [offset, offset + size), then the check of what it wrote, a
    /// block at a time so that the check reads L1 rather than memory (the steps of different
    /// elements are independent). Ranges may be updated concurrently.
    void update(Optimizer<S>& optimizer, S* params, const S* grads, Index offset, Index size) {
        constexpr Index block = 2048;  // 8 KiB of floats
        bool finite = true;
        for (Index b = offset; b < offset + size; b += block) {
            const Index n = std::min(block, offset + size - b);
            optimizer.update(params, grads, b, n);
            finite = all_finite(params + b, n) && finite;
        }
        if (!finite) diverged_.set();
    }

    /// Batch `step` of a guarded epoch diverged: puts back the weights, the optimizer's slots
    /// and its step count of before it (the epoch's checkpoint, then `replay(s)` trains batch
    /// s of the epoch again for s < step), and throws training_error saying where.
    template <class Replay>
    [[noreturn]] void restore_and_throw(Vector<S>& params, Optimizer<S>& optimizer, Index epoch, Index step,
                                        Index steps, double loss, const Replay& replay) {
        auto state = optimizer.get_state();  // this epoch's steps counted, the failing one too
        state.iterations = std::max<std::int64_t>(state.iterations - (step + 1), 0);
        optimizer.set_state(state);
        params = backup_;
        const auto slots = optimizer.slots();
        for (std::size_t i = 0; i < slots.size(); ++i) *slots[i] = slots_backup_[i];
        for (Index s = 0; s < step; ++s) static_cast<void>(replay(s));
        throw training_error("Sequential.fit: " + what(loss) + " at epoch " + std::to_string(epoch + 1) + ", batch " +
                             std::to_string(step + 1) + " of " + std::to_string(steps) +
                             "; the weights are those from before that batch. Lower the learning rate (or set "
                             "terminate_on_nan = false to train on regardless).");
    }

    /// What went wrong in a batch of summed loss `loss`: "the loss became NaN", ...
    [[nodiscard]] static std::string what(double loss) {
        return std::isfinite(loss) ? "a weight became NaN or infinite"
               : std::isnan(loss)  ? "the loss became NaN"
                                   : "the loss became infinite";
    }

private:
    bool armed_ = false;
    MovableFlag diverged_;  // a guarded step made a weight non-finite
    Vector<S> backup_;      // the weights at the start of the running epoch
    // One per optimizer slot, in the order of optimizer.slots().
    std::vector<Vector<S>> slots_backup_;
};

}  // namespace lamina::detail
