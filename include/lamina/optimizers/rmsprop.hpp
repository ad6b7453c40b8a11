// SPDX-License-Identifier: MIT
// lamina: the RMSprop optimizer (with Keras's momentum and centered variants), step for step as Keras 3 computes it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>

#include <lamina/core/types.hpp>
#include <lamina/optimizers/optimizer.hpp>

namespace lamina {

/// RMSprop, as Keras's `RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
/// centered=False)`. For every parameter w with gradient g, following
/// keras/src/optimizers/rmsprop.py (Keras 3) operation for operation:
///
///     v = rho v + (1 - rho) g^2                          (slot "velocity")
///     centered:  a = rho a + (1 - rho) g                 (slot "average_gradient")
///                increment = learning_rate * g / sqrt(v - a^2 + epsilon)
///     otherwise: increment = learning_rate * g / sqrt(v + epsilon)
///     momentum == 0:  w -= increment
///     otherwise:      u = momentum * u + increment       (slot "momentum")
///                     w -= u
///
/// epsilon is added *inside* the square root, as Keras 3 and TensorFlow's `ApplyRMSProp`
/// kernel (behind tf.keras 2's RMSprop) both do; only the Keras 1/2.0 backend code put it
/// outside (`sqrt(v) + epsilon`). With the default epsilon = 1e-7 the two differ visibly
/// once v is small (sqrt(1e-7) is about 3e-4), so we follow the current Keras exactly.
/// There is no bias correction: the step count is kept for saving only. Every slot starts
/// at zero; "momentum" exists only when momentum > 0 and "average_gradient" only when
/// centered, in Keras's order: velocity, momentum, average_gradient.
///
/// \code
/// model.compile(lamina::loss::categorical_crossentropy, lamina::RMSprop{.learning_rate = 0.01});
/// \endcode
struct RMSprop {
    double learning_rate = 0.001;
    double rho = 0.9;
    double momentum = 0.0;
    double epsilon = 1e-7;
    bool centered = false;

    static constexpr std::string_view name = "RMSprop";
    /// Every hyperparameter, once: its Keras name, member and rule, in the order of
    /// `get_config()` and `config()`.
    static constexpr auto hyperparameters =
        std::tuple{detail::hyperparameter("learning_rate", &RMSprop::learning_rate, detail::positive),
                   detail::hyperparameter("rho", &RMSprop::rho, detail::unit_interval),
                   detail::hyperparameter("momentum", &RMSprop::momentum, detail::unit_interval),
                   detail::hyperparameter("epsilon", &RMSprop::epsilon, detail::positive),
                   detail::hyperparameter("centered", &RMSprop::centered, detail::boolean)};

    /// \throws std::invalid_argument for a learning rate or epsilon that is not positive and
    ///         finite, or a rho or momentum outside [0, 1).
    void validate() const { detail::validate_hyperparameters(*this); }

    /// The spec of `config` (as `get_config()` of an RMSprop optimizer gives it):
    /// hyperparameters it lacks keep their defaults.
    /// \throws std::invalid_argument if the name is not "RMSprop", a hyperparameter is unknown
    ///         or given twice, "centered" is not 0 or 1, or the values fail `validate()`.
    [[nodiscard]] static RMSprop from_config(const OptimizerConfig& config) {
        return detail::spec_from_config<RMSprop>(config);
    }

    /// The optimizer's state for a model of scalar `S`.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Optimizer<S>> build() const;
};

namespace detail {

/// RMSprop's per-model state: the step count, and the velocity (with momentum the momentum,
/// centered the average gradient) of every parameter.
template <Scalar S>
class RmspropState final : public OptimizerOf<S, RMSprop> {
public:
    explicit RmspropState(const RMSprop& spec)
        : OptimizerOf<S, RMSprop>(spec), lr_(S(spec.learning_rate)), rho_(S(spec.rho)), one_minus_rho_(S(1 - spec.rho)),
          momentum_(S(spec.momentum)), epsilon_(S(spec.epsilon)) {
        // The slots in use, in Keras's order.
        slots_.add(velocity_, "velocity");
        if (spec_.momentum > 0) slots_.add(momentum_slot_, "momentum");
        if (spec_.centered) slots_.add(average_, "average_gradient");
    }
    RmspropState(const RmspropState&) = delete;  // slots() points into the object
    RmspropState& operator=(const RmspropState&) = delete;

    void build(Index n) override {
        slots_.fill(n, S(0));
        iterations_ = 0;
    }
    void begin_step() override {
        ++iterations_;
        lr_ = S(spec_.learning_rate);  // set_learning_rate may have changed it
    }
    void update(S* w_ptr, const S* g_ptr, Index offset, Index size) override {
        // All arrays are the parameters' [offset, offset + size); element-wise throughout.
        auto w = VectorMap<S>(w_ptr + offset, size).array();
        const auto g = Eigen::Map<const Vector<S>>(g_ptr + offset, size).array();
        auto v = velocity_.segment(offset, size).array();
        // w -= increment, directly or through the momentum u.
        const auto apply = [&](const auto& increment) {
            if (spec_.momentum > 0) {
                auto u = momentum_slot_.segment(offset, size).array();
                u = momentum_ * u + increment;
                w -= u;
            } else {
                w -= increment;
            }
        };
        v = rho_ * v + one_minus_rho_ * g.square();
        if (spec_.centered) {
            auto a = average_.segment(offset, size).array();
            a = rho_ * a + one_minus_rho_ * g;
            apply(lr_ * g / (v - a.square() + epsilon_).sqrt());
        } else {
            apply(lr_ * g / (v + epsilon_).sqrt());
        }
    }
    [[nodiscard]] std::span<Vector<S>* const> slots() noexcept override { return slots_.span(); }
    // Slots: "velocity", then "momentum" (momentum > 0), then "average_gradient" (centered).
    [[nodiscard]] OptimizerState<S> get_state() const override { return slots_.state(iterations_); }
    void set_state(const OptimizerState<S>& state) override {
        slots_.set(RMSprop::name, state);
        iterations_ = state.iterations;
    }

private:
    using OptimizerOf<S, RMSprop>::spec_;
    S lr_, rho_, one_minus_rho_, momentum_, epsilon_;
    Vector<S> velocity_, momentum_slot_, average_;
    NamedSlots<S, 3> slots_;
    std::int64_t iterations_ = 0;
};

}  // namespace detail

template <Scalar S>
std::unique_ptr<Optimizer<S>> RMSprop::build() const {
    validate();
    return std::make_unique<detail::RmspropState<S>>(*this);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp).
extern template std::unique_ptr<Optimizer<float>> RMSprop::build<float>() const;
extern template std::unique_ptr<Optimizer<double>> RMSprop::build<double>() const;
#endif

}  // namespace lamina
