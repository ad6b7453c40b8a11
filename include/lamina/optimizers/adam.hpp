// SPDX-License-Identifier: MIT
// lamina: the Adam optimizer (with Keras's AMSGrad variant), step for step as Keras 3 computes it.
#pragma once

#include <array>
#include <cmath>
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

/// Adam, as Keras's `Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
/// amsgrad=False)`. With step count t (1 for the first batch), for every parameter w with
/// gradient g, following keras/src/optimizers/adam.py (Keras 3) operation for operation:
///
///     alpha = learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)   (once per step, in double)
///     m += (g - m) * (1 - beta_1)          i.e. m = beta_1 m + (1 - beta_1) g
///     v += (g^2 - v) * (1 - beta_2)        i.e. v = beta_2 v + (1 - beta_2) g^2
///     amsgrad:  v_hat = max(v_hat, v), and v_hat replaces v below
///     w -= alpha * m / (sqrt(v) + epsilon)
///
/// epsilon is Kingma and Ba's "epsilon hat", added outside the square root to the
/// uncorrected v (as Keras and TensorFlow do), not the epsilon of the paper's Algorithm 1.
/// The slots carry Keras's names: "momentum" (m), "velocity" (v) and, with amsgrad,
/// "velocity_hat" (v_hat), all zero at first.
///
/// \code
/// model.compile(lamina::loss::categorical_crossentropy, lamina::Adam{.learning_rate = 0.01});
/// \endcode
struct Adam {
    double learning_rate = 0.001;
    double beta_1 = 0.9;
    double beta_2 = 0.999;
    double epsilon = 1e-7;
    bool amsgrad = false;

    static constexpr std::string_view name = "Adam";
    /// Every hyperparameter, once: its Keras name, member and rule, in the order of
    /// `get_config()` and `config()`.
    static constexpr auto hyperparameters =
        std::tuple{detail::hyperparameter("learning_rate", &Adam::learning_rate, detail::positive),
                   detail::hyperparameter("beta_1", &Adam::beta_1, detail::unit_interval),
                   detail::hyperparameter("beta_2", &Adam::beta_2, detail::unit_interval),
                   detail::hyperparameter("epsilon", &Adam::epsilon, detail::positive),
                   detail::hyperparameter("amsgrad", &Adam::amsgrad, detail::boolean)};

    /// \throws std::invalid_argument for a learning rate or epsilon that is not positive and
    ///         finite, or a beta_1 or beta_2 outside [0, 1).
    void validate() const { detail::validate_hyperparameters(*this); }

    /// The spec of `config` (as `get_config()` of an Adam optimizer gives it): hyperparameters
    /// it lacks keep their defaults.
    /// \throws std::invalid_argument if the name is not "Adam", a hyperparameter is unknown or
    ///         given twice, "amsgrad" is not 0 or 1, or the values fail `validate()`.
    [[nodiscard]] static Adam from_config(const OptimizerConfig& config) {
        return detail::spec_from_config<Adam>(config);
    }

    /// The optimizer's state for a model of scalar `S`.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Optimizer<S>> build() const;
};

namespace detail {

/// Adam's per-model state: the step count and m, v (and v_hat) of every parameter.
template <Scalar S>
class AdamState final : public OptimizerOf<S, Adam> {
public:
    explicit AdamState(const Adam& spec)
        : OptimizerOf<S, Adam>(spec), one_minus_beta_1_(S(1 - spec.beta_1)), one_minus_beta_2_(S(1 - spec.beta_2)),
          epsilon_(S(spec.epsilon)) {
        slots_.add(m_, "momentum");
        slots_.add(v_, "velocity");
        if (spec_.amsgrad) slots_.add(v_hat_, "velocity_hat");
    }
    AdamState(const AdamState&) = delete;  // slots() points into the object
    AdamState& operator=(const AdamState&) = delete;

    void build(Index n) override {
        slots_.fill(n, S(0));
        iterations_ = 0;
    }
    void begin_step() override {
        ++iterations_;
        const double t = double(iterations_);
        alpha_ = S(spec_.learning_rate * std::sqrt(1 - std::pow(spec_.beta_2, t)) / (1 - std::pow(spec_.beta_1, t)));
    }
    void update(S* w_ptr, const S* g_ptr, Index offset, Index size) override {
        // All arrays are the parameters' [offset, offset + size); element-wise throughout.
        auto w = VectorMap<S>(w_ptr + offset, size).array();
        const auto g = Eigen::Map<const Vector<S>>(g_ptr + offset, size).array();
        auto m = m_.segment(offset, size).array();
        auto v = v_.segment(offset, size).array();
        m += (g - m) * one_minus_beta_1_;
        v += (g.square() - v) * one_minus_beta_2_;
        if (spec_.amsgrad) {
            auto v_hat = v_hat_.segment(offset, size).array();
            v_hat = v_hat.max(v);
            w -= alpha_ * m / (v_hat.sqrt() + epsilon_);
        } else {
            w -= alpha_ * m / (v.sqrt() + epsilon_);
        }
    }
    [[nodiscard]] std::span<Vector<S>* const> slots() noexcept override { return slots_.span(); }
    // Slots in this order: "momentum" (m), "velocity" (v), then "velocity_hat" with amsgrad.
    [[nodiscard]] OptimizerState<S> get_state() const override { return slots_.state(iterations_); }
    void set_state(const OptimizerState<S>& state) override {
        slots_.set(Adam::name, state);
        iterations_ = state.iterations;
    }

private:
    using OptimizerOf<S, Adam>::spec_;
    S one_minus_beta_1_, one_minus_beta_2_, epsilon_;
    Vector<S> m_, v_, v_hat_;
    NamedSlots<S, 3> slots_;       // m, v, and v_hat with amsgrad
    std::int64_t iterations_ = 0;  // steps taken; begin_step makes it the current step's t
    S alpha_ = 0;                  // learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)
};

}  // namespace detail

template <Scalar S>
std::unique_ptr<Optimizer<S>> Adam::build() const {
    validate();
    return std::make_unique<detail::AdamState<S>>(*this);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp).
extern template std::unique_ptr<Optimizer<float>> Adam::build<float>() const;
extern template std::unique_ptr<Optimizer<double>> Adam::build<double>() const;
#endif

}  // namespace lamina
