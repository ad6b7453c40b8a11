// SPDX-License-Identifier: MIT
// lamina: stochastic gradient descent with Keras's momentum, Nesterov momentum and decay.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>

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

    static constexpr std::string_view name = "SGD";
    /// Every hyperparameter, once: its Keras name, member and rule, in the order of
    /// `get_config()` and `config()`.
    static constexpr auto hyperparameters =
        std::tuple{detail::hyperparameter("learning_rate", &SGD::learning_rate, detail::positive),
                   detail::hyperparameter("momentum", &SGD::momentum, detail::unit_interval),
                   detail::hyperparameter("nesterov", &SGD::nesterov, detail::boolean),
                   detail::hyperparameter("decay", &SGD::decay, detail::non_negative)};

    /// \throws std::invalid_argument for a learning rate that is not positive and finite,
    ///         a momentum outside [0, 1), or a negative or non-finite decay.
    void validate() const { detail::validate_hyperparameters(*this); }

    /// The spec of `config` (as `get_config()` of an SGD optimizer gives it): hyperparameters
    /// it lacks keep their defaults.
    /// \throws std::invalid_argument if the name is not "SGD", a hyperparameter is unknown or
    ///         given twice, "nesterov" is not 0 or 1, or the values fail `validate()`.
    [[nodiscard]] static SGD from_config(const OptimizerConfig& config) {
        return detail::spec_from_config<SGD>(config);
    }

    /// The optimizer's state for a model of scalar `S`.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Optimizer<S>> build() const;
};

namespace detail {

/// SGD's per-model state: the step count and, with momentum, the velocity of every parameter.
template <Scalar S>
class SgdState final : public OptimizerOf<S, SGD> {
public:
    explicit SgdState(const SGD& spec) : OptimizerOf<S, SGD>(spec) {
        if (spec_.momentum > 0) slots_.add(velocity_, "momentum");
    }
    SgdState(const SgdState&) = delete;  // slots() points into the object
    SgdState& operator=(const SgdState&) = delete;

    void build(Index n) override {
        slots_.fill(n, S(0));
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
    [[nodiscard]] std::span<Vector<S>* const> slots() noexcept override { return slots_.span(); }
    // iterations = step_ + 1: step_ is the index of the last step taken (-1 before any).
    // The one slot, "momentum", is the velocity v (present only when momentum > 0).
    [[nodiscard]] OptimizerState<S> get_state() const override { return slots_.state(step_ + 1); }
    void set_state(const OptimizerState<S>& state) override {
        slots_.set(SGD::name, state);
        step_ = state.iterations - 1;
    }

private:
    using OptimizerOf<S, SGD>::spec_;
    Vector<S> velocity_;
    NamedSlots<S, 1> slots_;  // the velocity, with momentum
    std::int64_t step_ = -1;
    S lr_ = 0;
};

}  // namespace detail

template <Scalar S>
std::unique_ptr<Optimizer<S>> SGD::build() const {
    validate();
    return std::make_unique<detail::SgdState<S>>(*this);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp).
extern template std::unique_ptr<Optimizer<float>> SGD::build<float>() const;
extern template std::unique_ptr<Optimizer<double>> SGD::build<double>() const;
#endif

}  // namespace lamina
