// SPDX-License-Identifier: MIT
// lamina: the Adagrad optimizer, step for step as Keras 3 computes it.
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

/// Adagrad, as Keras's `Adagrad(learning_rate, initial_accumulator_value=0.1,
/// epsilon=1e-7)`. For every parameter w with gradient g, following
/// keras/src/optimizers/adagrad.py (Keras 3) operation for operation:
///
///     accumulator += g^2                 (slot "accumulator", initial_accumulator_value at first)
///     w -= learning_rate * g / sqrt(accumulator + epsilon)
///
/// epsilon is added *inside* the square root, as Keras 3 does. (tf.keras 2's Adagrad,
/// through TensorFlow's `ApplyAdagradV2`, and Keras 2.0 put it outside:
/// `sqrt(accumulator) + epsilon`; with the default initial accumulator of 0.1 the two
/// differ by less than 2e-7 relative, and we follow the current Keras exactly.)
/// The default learning rate is 0.01, Keras 2.0's and the one our MNIST recipes use (Keras 3
/// and tf.keras 2 default to 0.001; pass `.learning_rate = 0.001` for theirs: Keras's
/// documentation notes that Adagrad usually wants the larger one). There is no bias
/// correction: the step count is kept for saving only.
///
/// \code
/// model.compile(lamina::loss::categorical_crossentropy, lamina::Adagrad{.learning_rate = 0.1});
/// \endcode
struct Adagrad {
    double learning_rate = 0.01;
    double initial_accumulator_value = 0.1;
    double epsilon = 1e-7;

    static constexpr std::string_view name = "Adagrad";
    /// Every hyperparameter, once: its Keras name, member and rule, in the order of
    /// `get_config()` and `config()`.
    static constexpr auto hyperparameters = std::tuple{
        detail::hyperparameter("learning_rate", &Adagrad::learning_rate, detail::positive),
        detail::hyperparameter("initial_accumulator_value", &Adagrad::initial_accumulator_value, detail::non_negative),
        detail::hyperparameter("epsilon", &Adagrad::epsilon, detail::positive)};

    /// \throws std::invalid_argument for a learning rate or epsilon that is not positive and
    ///         finite, or an initial_accumulator_value that is negative or not finite.
    void validate() const { detail::validate_hyperparameters(*this); }

    /// The spec of `config` (as `get_config()` of an Adagrad optimizer gives it):
    /// hyperparameters it lacks keep their defaults.
    /// \throws std::invalid_argument if the name is not "Adagrad", a hyperparameter is
    ///         unknown or given twice, or the values fail `validate()`.
    [[nodiscard]] static Adagrad from_config(const OptimizerConfig& config) {
        return detail::spec_from_config<Adagrad>(config);
    }

    /// The optimizer's state for a model of scalar `S`.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Optimizer<S>> build() const;
};

namespace detail {

/// Adagrad's per-model state: the step count and the accumulated squared gradient of every
/// parameter.
template <Scalar S>
class AdagradState final : public OptimizerOf<S, Adagrad> {
public:
    explicit AdagradState(const Adagrad& spec)
        : OptimizerOf<S, Adagrad>(spec), lr_(S(spec.learning_rate)), epsilon_(S(spec.epsilon)) {
        slots_.add(accumulator_, "accumulator");
    }
    AdagradState(const AdagradState&) = delete;  // slots() points into the object
    AdagradState& operator=(const AdagradState&) = delete;

    void build(Index n) override {
        slots_.fill(n, S(spec_.initial_accumulator_value));
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
        auto accumulator = accumulator_.segment(offset, size).array();
        accumulator += g.square();
        w -= lr_ * g / (accumulator + epsilon_).sqrt();
    }
    [[nodiscard]] std::span<Vector<S>* const> slots() noexcept override { return slots_.span(); }
    // The one slot: "accumulator".
    [[nodiscard]] OptimizerState<S> get_state() const override { return slots_.state(iterations_); }
    void set_state(const OptimizerState<S>& state) override {
        slots_.set(Adagrad::name, state);
        iterations_ = state.iterations;
    }

private:
    using OptimizerOf<S, Adagrad>::spec_;
    S lr_, epsilon_;
    Vector<S> accumulator_;
    NamedSlots<S, 1> slots_;  // the accumulator
    std::int64_t iterations_ = 0;
};

}  // namespace detail

template <Scalar S>
std::unique_ptr<Optimizer<S>> Adagrad::build() const {
    validate();
    return std::make_unique<detail::AdagradState<S>>(*this);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp).
extern template std::unique_ptr<Optimizer<float>> Adagrad::build<float>() const;
extern template std::unique_ptr<Optimizer<double>> Adagrad::build<double>() const;
#endif

}  // namespace lamina
