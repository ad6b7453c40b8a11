// SPDX-License-Identifier: MIT
// lamina: the interface of an optimizer's per-model state, updating the flat parameter buffer.
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lamina/core/types.hpp>

namespace lamina {

/// An optimizer's settings as plain data, as Keras's `optimizer.get_config()`: its class
/// name and its hyperparameters by name (booleans as 0 or 1). Enough to build the same
/// optimizer again (`optimizer_from_config`); saved in model files.
struct OptimizerConfig {
    /// The class name, e.g. "SGD".
    std::string name;
    /// Every hyperparameter, e.g. {{"learning_rate", 0.01}, {"momentum", 0}, ...}.
    std::vector<std::pair<std::string, double>> hyperparameters;
};

/// What an optimizer has learned while training, as plain data: the number of steps taken
/// and its per-parameter slots, so that training can stop, be saved, and go on exactly
/// where it was.
template <Scalar S>
struct OptimizerState {
    /// Steps taken so far (Keras `optimizer.iterations`).
    std::int64_t iterations = 0;
    /// Named per-parameter vectors, each laid out as the model's flat parameter buffer,
    /// e.g. {"momentum", velocity} for SGD with momentum; empty when there are none.
    std::vector<std::pair<std::string, Vector<S>>> slots;
};

/// The state of an optimizer for one model: hyperparameters, step count, slots such as
/// momentum. Built by an optimizer spec (`SGD{...}`) when a model is compiled.
///
/// Per batch the model calls `begin_step()` once, then `update` over disjoint ranges of
/// the flat buffers, possibly from several threads at once. Saving and loading go through
/// `get_config`, `get_state` and `set_state`, once per model, never per parameter.
template <Scalar S>
class Optimizer {
public:
    virtual ~Optimizer() = default;
    /// Sizes the slots for `n` parameters, at their initial values (zero, or e.g. Adagrad's
    /// `initial_accumulator_value`), and sets the step count to 0.
    virtual void build(Index n) = 0;
    /// Advances the step count; called once per batch before any `update`.
    virtual void begin_step() = 0;
    /// Updates w[offset, offset + size) from g[offset, offset + size). Element-wise: each
    /// parameter's step depends only on its own gradient and slots, so ranges may be updated
    /// concurrently and in any order. The same ranges give the same bits every time; other
    /// ranges may differ in the last bit where an optimizer takes a square root (Adam,
    /// RMSprop, Adagrad), as Eigen's vectorised sqrt (rsqrt plus Newton steps on AVX-512
    /// under EIGEN_FAST_MATH, its default) is within a few ulps of the scalar std::sqrt
    /// that a range's unaligned ends use.
    virtual void update(S* w, const S* g, Index offset, Index size) = 0;
    /// Every per-parameter vector that `update` changes (SGD's velocity, Adam's m and v),
    /// each laid out as the parameters; empty when there are none. The model saves and
    /// restores them with the weights when a step diverges, range by range as `update` goes,
    /// so this is called per parameter range per batch: it allocates nothing. The span and
    /// the pointers stay valid until the next `build`.
    [[nodiscard]] virtual std::span<Vector<S>* const> slots() noexcept { return {}; }
    /// A one-line description, e.g. "SGD(learning_rate=0.01)".
    [[nodiscard]] virtual std::string config() const = 0;

    /// The class name and hyperparameters: `optimizer_from_config(get_config())` builds an
    /// optimizer that takes the same steps.
    [[nodiscard]] virtual OptimizerConfig get_config() const = 0;
    /// A copy of the step count and the slots.
    [[nodiscard]] virtual OptimizerState<S> get_state() const = 0;
    /// Replaces the step count and the slots with `state` (after `build`), as they were
    /// when `get_state` copied them out.
    /// \throws std::invalid_argument if `state` has a negative step count, or slots that
    ///         differ in name, number or length from what `build` made; nothing changes then.
    virtual void set_state(const OptimizerState<S>& state) = 0;
};

namespace detail {

/// `value` as the shortest text that reads back as it ("0.001", "1e-07", "inf", "nan"), for
/// optimizers' messages and `config()`.
inline std::string number_text(double value) {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

/// \throws std::invalid_argument "<optimizer>: <field> must be positive and finite, found <value>".
inline void require_positive(std::string_view optimizer, std::string_view field, double value) {
    if (!(value > 0) || !std::isfinite(value))
        throw std::invalid_argument(std::string(optimizer) + ": " + std::string(field) +
                                    " must be positive and finite, found " + number_text(value));
}

/// \throws std::invalid_argument "<optimizer>: <field> must be >= 0 and finite, found <value>".
inline void require_non_negative(std::string_view optimizer, std::string_view field, double value) {
    if (!(value >= 0) || !std::isfinite(value))
        throw std::invalid_argument(std::string(optimizer) + ": " + std::string(field) +
                                    " must be >= 0 and finite, found " + number_text(value));
}

/// \throws std::invalid_argument "<optimizer>: <field> must be in [0, 1), found <value>".
inline void require_unit_interval(std::string_view optimizer, std::string_view field, double value) {
    if (!(value >= 0 && value < 1))
        throw std::invalid_argument(std::string(optimizer) + ": " + std::string(field) + " must be in [0, 1), found " +
                                    number_text(value));
}

/// The hyperparameters of `config` in the order of `known` (empty where not given), for an
/// optimizer's `from_config`.
/// \throws std::invalid_argument if `config` is not for `optimizer`, or names a
///         hyperparameter that is not in `known` or names one twice.
template <std::size_t N>
[[nodiscard]] std::array<std::optional<double>, N> hyperparameters_of(const OptimizerConfig& config,
                                                                      std::string_view optimizer,
                                                                      const std::array<std::string_view, N>& known) {
    const std::string where = std::string(optimizer) + ".from_config: ";
    if (config.name != optimizer)
        throw std::invalid_argument(where + "the config is for '" + config.name + "', not '" + std::string(optimizer) +
                                    "'");
    std::array<std::optional<double>, N> values;
    for (const auto& [name, value] : config.hyperparameters) {
        std::size_t which = 0;
        while (which < N && known[which] != name) ++which;
        if (which == N) {
            std::string list;
            for (const auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            throw std::invalid_argument(where + "unknown hyperparameter '" + name + "'; known: " + list);
        }
        if (values[which]) throw std::invalid_argument(where + "hyperparameter '" + name + "' given twice");
        values[which] = value;
    }
    return values;
}

/// A boolean hyperparameter as configs hold it: 0 or 1.
/// \throws std::invalid_argument "<optimizer>.from_config: <name> must be 0 or 1, found <value>".
inline bool boolean_hyperparameter(std::string_view optimizer, std::string_view name, double value) {
    if (value != 0 && value != 1)
        throw std::invalid_argument(std::string(optimizer) + ".from_config: " + std::string(name) +
                                    " must be 0 or 1, found " + number_text(value));
    return value == 1;
}

/// Checks a `set_state` argument against the slots an optimizer built: the step count is
/// >= 0, and the slots are, in order, `names` with `size` values each.
/// \throws std::invalid_argument naming the optimizer, the expected and the found slots.
template <Scalar S>
void check_state(std::string_view optimizer, const OptimizerState<S>& state, std::span<const std::string_view> names,
                 Index size) {
    const std::string where = std::string(optimizer) + ".set_state: ";
    if (state.iterations < 0)
        throw std::invalid_argument(where + "iterations must be >= 0, found " + std::to_string(state.iterations));
    std::string list;
    for (const auto n : names) list += (list.empty() ? "" : ", ") + std::string(n);
    if (state.slots.size() != names.size())
        throw std::invalid_argument(where + "expected " + std::to_string(names.size()) + " slots (" + list +
                                    "), found " + std::to_string(state.slots.size()));
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto& [name, values] = state.slots[i];
        if (name != names[i] || values.size() != size)
            throw std::invalid_argument(where + "expected slot " + std::to_string(i) + " to be '" +
                                        std::string(names[i]) + "' of " + std::to_string(size) + " values, found '" +
                                        name + "' of " + std::to_string(values.size()));
    }
}

/// An optimizer's per-parameter vectors in use (of at most N), with their Keras names, in
/// order: what its `slots()`, `get_state` and `set_state` go through. It points at vectors
/// of its owner, so it is neither copied nor moved.
template <Scalar S, std::size_t N>
class NamedSlots {
public:
    NamedSlots() = default;
    NamedSlots(const NamedSlots&) = delete;
    NamedSlots& operator=(const NamedSlots&) = delete;

    /// Puts `slot` in use under `name`, after the slots added before.
    void add(Vector<S>& slot, std::string_view name) noexcept {
        slots_[count_] = &slot;
        names_[count_] = name;
        ++count_;
    }
    /// Makes every slot in use `n` copies of `value`.
    void fill(Index n, S value) {
        for (std::size_t i = 0; i < count_; ++i) *slots_[i] = Vector<S>::Constant(n, value);
        size_ = n;
    }
    /// The slots in use, for `Optimizer::slots()`.
    [[nodiscard]] std::span<Vector<S>* const> span() noexcept { return {slots_.data(), count_}; }
    /// A state of `iterations` steps with a copy of every slot in use.
    [[nodiscard]] OptimizerState<S> state(std::int64_t iterations) const {
        OptimizerState<S> state{iterations, {}};
        for (std::size_t i = 0; i < count_; ++i) state.slots.emplace_back(std::string(names_[i]), *slots_[i]);
        return state;
    }
    /// Copies the slots of `state` in, after `check_state` (nothing changes when it throws).
    void set(std::string_view optimizer, const OptimizerState<S>& state) {
        check_state<S>(optimizer, state, std::span<const std::string_view>(names_.data(), count_), size_);
        for (std::size_t i = 0; i < count_; ++i) *slots_[i] = state.slots[i].second;
    }

private:
    std::array<Vector<S>*, N> slots_{};  // the first count_ are in use, named names_
    std::array<std::string_view, N> names_{};
    std::size_t count_ = 0;
    Index size_ = 0;  // the values of each, as `fill` made them
};

}  // namespace detail

}  // namespace lamina
