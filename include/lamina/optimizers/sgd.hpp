// SPDX-License-Identifier: MIT
// lamina: stochastic gradient descent with Keras's momentum, Nesterov momentum and decay.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>

#include <lamina/core/types.hpp>
#include <lamina/optimizers/optimizer.hpp>

namespace lamina {

/// Stochastic gradient descent, as Keras's `SGD(learning_rate=0.01, momentum=0.0,
/// nesterov=False, decay=0.0)`. With step count t (0 for the first batch):
///
///     lr_t = learning_rate / (1 + decay * t)
///     momentum == 0:  w -= lr_t * g
///     otherwise:      v = momentum * v - lr_t * g
///                     w += v                         (plain)
///                     w += momentum * v - lr_t * g   (nesterov)
///
/// \code
/// model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.1, .momentum = 0.9});
/// \endcode
struct SGD {
    double learning_rate = 0.01;
    double momentum = 0.0;
    bool nesterov = false;
    double decay = 0.0;

    /// \throws std::invalid_argument for a learning rate that is not positive and finite,
    ///         a momentum outside [0, 1), or a negative or non-finite decay.
    void validate() const {
        if (!(learning_rate > 0) || !std::isfinite(learning_rate))
            throw std::invalid_argument("SGD: learning_rate must be positive and finite, found " +
                                        std::to_string(learning_rate));
        if (!(momentum >= 0 && momentum < 1))
            throw std::invalid_argument("SGD: momentum must be in [0, 1), found " + std::to_string(momentum));
        if (!(decay >= 0) || !std::isfinite(decay))
            throw std::invalid_argument("SGD: decay must be >= 0 and finite, found " + std::to_string(decay));
    }

    /// The spec of `config` (as `get_config()` of an SGD optimizer gives it): hyperparameters
    /// it lacks keep their defaults.
    /// \throws std::invalid_argument if the name is not "SGD", a hyperparameter is unknown or
    ///         given twice, "nesterov" is not 0 or 1, or the values fail `validate()`.
    [[nodiscard]] static SGD from_config(const OptimizerConfig& config);

    /// The optimizer's state for a model of scalar `S`.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Optimizer<S>> build() const;
};

namespace detail {

/// SGD's per-model state: the step count and, with momentum, the velocity of every parameter.
template <Scalar S>
class SgdState final : public Optimizer<S> {
public:
    explicit SgdState(const SGD& spec) : spec_(spec) {}
    SgdState(const SgdState&) = delete;  // slots() points into the object
    SgdState& operator=(const SgdState&) = delete;

    void build(Index n) override {
        velocity_ = spec_.momentum > 0 ? Vector<S>::Zero(n) : Vector<S>();
        slot_count_ = spec_.momentum > 0 ? 1 : 0;
        step_ = -1;
    }
    void begin_step() override {
        ++step_;
        lr_ = S(spec_.learning_rate / (1.0 + spec_.decay * double(step_)));
    }
    void update(S* w_ptr, const S* g_ptr, Index offset, Index size) override {
        VectorMap<S> w(w_ptr + offset, size);
        Eigen::Map<const Vector<S>> g(g_ptr + offset, size);
        if (spec_.momentum == 0) {
            w.noalias() -= lr_ * g;
            return;
        }
        const S mu = S(spec_.momentum);
        auto v = velocity_.segment(offset, size);
        v = mu * v - lr_ * g;
        if (spec_.nesterov) w.noalias() += mu * v - lr_ * g;
        else w += v;
    }
    [[nodiscard]] std::span<Vector<S>* const> slots() noexcept override { return {slots_.data(), slot_count_}; }
    [[nodiscard]] OptimizerConfig get_config() const override {
        return {"SGD",
                {{"learning_rate", spec_.learning_rate},
                 {"momentum", spec_.momentum},
                 {"nesterov", spec_.nesterov ? 1.0 : 0.0},
                 {"decay", spec_.decay}}};
    }
    // iterations = step_ + 1: step_ is the index of the last step taken (-1 before any).
    // The one slot, "momentum", is the velocity v (present only when momentum > 0).
    [[nodiscard]] OptimizerState<S> get_state() const override {
        OptimizerState<S> state{step_ + 1, {}};
        if (velocity_.size() > 0) state.slots.emplace_back("momentum", velocity_);
        return state;
    }
    void set_state(const OptimizerState<S>& state) override {
        if (state.iterations < 0)
            throw std::invalid_argument("SGD.set_state: iterations must be >= 0, found " +
                                        std::to_string(state.iterations));
        const std::size_t want = velocity_.size() > 0 ? 1 : 0;
        if (state.slots.size() != want)
            throw std::invalid_argument("SGD.set_state: expected " + std::to_string(want) +
                                        (want == 1 ? " slot (momentum)" : " slots (momentum is 0)") + ", found " +
                                        std::to_string(state.slots.size()));
        if (want == 1) {
            const auto& [name, v] = state.slots.front();
            if (name != "momentum" || v.size() != velocity_.size())
                throw std::invalid_argument("SGD.set_state: expected the slot 'momentum' of " +
                                            std::to_string(velocity_.size()) + " values, found '" + name + "' of " +
                                            std::to_string(v.size()));
            velocity_ = v;
        }
        step_ = state.iterations - 1;
    }
    [[nodiscard]] std::string config() const override {
        std::ostringstream s;
        s << "SGD(learning_rate=" << spec_.learning_rate << ", momentum=" << spec_.momentum
          << ", nesterov=" << (spec_.nesterov ? "true" : "false") << ", decay=" << spec_.decay << ")";
        return s.str();
    }

private:
    SGD spec_;
    Vector<S> velocity_;
    std::array<Vector<S>*, 1> slots_{&velocity_};
    std::size_t slot_count_ = 0;  // 1 with momentum
    std::int64_t step_ = -1;
    S lr_ = 0;
};

}  // namespace detail

inline SGD SGD::from_config(const OptimizerConfig& config) {
    if (config.name != "SGD")
        throw std::invalid_argument("SGD.from_config: the config is for '" + config.name + "', not 'SGD'");
    SGD sgd;
    bool seen[4] = {};
    for (const auto& [name, value] : config.hyperparameters) {
        const int which = name == "learning_rate" ? 0
                          : name == "momentum"    ? 1
                          : name == "nesterov"    ? 2
                          : name == "decay"       ? 3
                                                  : -1;
        if (which < 0)
            throw std::invalid_argument("SGD.from_config: unknown hyperparameter '" + name +
                                        "'; known: learning_rate, momentum, nesterov, decay");
        if (seen[which]) throw std::invalid_argument("SGD.from_config: hyperparameter '" + name + "' given twice");
        seen[which] = true;
        if (which == 0) sgd.learning_rate = value;
        if (which == 1) sgd.momentum = value;
        if (which == 2) {
            if (value != 0 && value != 1)
                throw std::invalid_argument("SGD.from_config: nesterov must be 0 or 1, found " + std::to_string(value));
            sgd.nesterov = value == 1;
        }
        if (which == 3) sgd.decay = value;
    }
    sgd.validate();
    return sgd;
}

template <Scalar S>
std::unique_ptr<Optimizer<S>> SGD::build() const {
    validate();
    return std::make_unique<detail::SgdState<S>>(*this);
}

}  // namespace lamina
