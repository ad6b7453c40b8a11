// SPDX-License-Identifier: MIT
// lamina: the Activation layer (sigmoid, tanh, relu, linear, softmax, elu, selu, softplus, silu, gelu) and its
// functors.
#pragma once

#include <array>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/elementwise.hpp>
#include <lamina/detail/kernels.hpp>
#include <lamina/layers/layer.hpp>

namespace lamina {

/// The activation functions, by typed name: `Activation(activation::sigmoid)`.
/// elu, selu, softplus, silu (Keras's "swish" too) and gelu are Keras's functions of those
/// names with their default arguments (elu's alpha 1, gelu exact: approximate=False).
enum class activation { linear, sigmoid, tanh, relu, softmax, elu, selu, softplus, silu, gelu };

namespace detail {
/// Keras's names of the activations, in the order of `activation`: the one list of them.
inline constexpr std::array<std::string_view, 10> activation_names{"linear", "sigmoid", "tanh",     "relu", "softmax",
                                                                   "elu",    "selu",    "softplus", "silu", "gelu"};
}  // namespace detail

/// Keras's name of an activation: "linear", "sigmoid", "tanh", "relu", "softmax", "elu", ...
[[nodiscard]] constexpr std::string_view to_string(activation a) noexcept {
    return detail::activation_names[static_cast<std::size_t>(a)];
}

/// The activation with Keras's name `name`.
/// \throws std::invalid_argument for an unknown name; the message lists the known ones.
[[nodiscard]] inline activation activation_from_string(std::string_view name) {
    if (name == "swish") return activation::silu;  // Keras's other name of silu
    std::string known;
    for (std::size_t i = 0; i < detail::activation_names.size(); ++i) {
        if (detail::activation_names[i] == name) return static_cast<activation>(i);
        known += (i > 0 ? ", " : "") + std::string(detail::activation_names[i]);
    }
    throw std::invalid_argument("Activation: unknown activation '" + std::string(name) + "'; known: " + known);
}

namespace detail {

// Element-wise activations as stateless policies: f(x) and f'(x) written in terms of the
// output y = f(x), so backward needs no copy of the input. All return Eigen array expressions
// that the layer evaluates in one pass.

struct Linear {
    template <class X>
    static auto f(const X& x) {
        return x;
    }
    template <class Y>
    static auto df(const Y& y) {
        return Y::Constant(y.rows(), y.cols(), 1);
    }
};

struct Sigmoid {
    // 1 / (1 + e^-x): for x = -1e4, e^-x is inf and y is exactly 0, never NaN.
    template <class X>
    static auto f(const X& x) {
        using T = typename X::Scalar;
        return (T(1) + (-x).exp()).inverse();
    }
    template <class Y>
    static auto df(const Y& y) {
        using T = typename Y::Scalar;
        return y * (T(1) - y);
    }
};

struct Tanh {
    template <class X>
    static auto f(const X& x) {
        return x.tanh();
    }
    template <class Y>
    static auto df(const Y& y) {
        using T = typename Y::Scalar;
        return T(1) - y.square();
    }
};

struct Relu {
    template <class X>
    static auto f(const X& x) {
        using T = typename X::Scalar;
        return x.max(T(0));
    }
    template <class Y>
    static auto df(const Y& y) {
        using T = typename Y::Scalar;
        return (y > T(0)).template cast<T>();
    }
};

// Keras's elu (alpha 1): x for x > 0, e^x - 1 otherwise; f' = 1, or y + 1 = e^x.
struct Elu {
    template <class X>
    static auto f(const X& x) {
        using T = typename X::Scalar;
        return (x > T(0)).select(x, x.expm1());
    }
    template <class Y>
    static auto df(const Y& y) {
        using T = typename Y::Scalar;
        return (y > T(0)).select(Y::Constant(y.rows(), y.cols(), T(1)), y + T(1));
    }
};

// Keras's selu: scale * elu(x, alpha) with its fixed alpha and scale; f' = scale, or y + scale * alpha.
struct Selu {
    static constexpr double alpha = 1.6732632423543772848170429916717;
    static constexpr double scale = 1.0507009873554804934193349852946;
    template <class X>
    static auto f(const X& x) {
        using T = typename X::Scalar;
        return T(scale) * (x > T(0)).select(x, T(alpha) * x.expm1());
    }
    template <class Y>
    static auto df(const Y& y) {
        using T = typename Y::Scalar;
        return (y > T(0)).select(Y::Constant(y.rows(), y.cols(), T(scale)), y + T(scale * alpha));
    }
};

// Keras's softplus: log(1 + e^x), as max(x, 0) + log1p(e^-|x|) (no overflow); f' = sigmoid(x) = 1 - e^-y.
struct Softplus {
    template <class X>
    static auto f(const X& x) {
        using T = typename X::Scalar;
        return x.max(T(0)) + (-x.abs()).exp().log1p();
    }
    template <class Y>
    static auto df(const Y& y) {
        return -(-y).expm1();
    }
};

// Activations whose derivative needs the input x, not only the output: df(x, y).

// Keras's silu (swish): x * sigmoid(x); f' = s + x s (1 - s), s = sigmoid(x).
struct Silu {
    static constexpr bool needs_input = true;
    template <class X>
    static auto f(const X& x) {
        using T = typename X::Scalar;
        return x * (T(1) + (-x).exp()).inverse();
    }
    template <class X, class Y>
    static auto df(const X& x, const Y& /*y*/) {
        using T = typename X::Scalar;
        const auto s = (T(1) + (-x).exp()).inverse();
        return s + x * s * (T(1) - s);
    }
};

// Keras's gelu, exact (approximate=False): x Phi(x) = x (1 + erf(x / sqrt 2)) / 2;
// f' = Phi(x) + x phi(x), phi the standard normal density.
struct Gelu {
    static constexpr bool needs_input = true;
    template <class X>
    static auto f(const X& x) {
        using T = typename X::Scalar;
        return T(0.5) * x * (T(1) + (x * T(0.70710678118654752440)).unaryExpr([](T v) { return std::erf(v); }));
    }
    template <class X, class Y>
    static auto df(const X& x, const Y& /*y*/) {
        using T = typename X::Scalar;
        return T(0.5) * (T(1) + (x * T(0.70710678118654752440)).unaryExpr([](T v) { return std::erf(v); })) +
               x * (T(-0.5) * x.square()).exp() * T(0.39894228040143267794);
    }
};

/// An element-wise activation layer over policy `F`.
template <Scalar S, class F>
class ElementwiseActivation final : public Layer<S> {
public:
    ElementwiseActivation(activation a, const Shape& shape) : activation_(a) { this->set_shapes(shape, shape); }
    [[nodiscard]] std::string kind() const override { return "Activation"; }
    [[nodiscard]] Config get_config() const override { return {{"activation", std::string(to_string(activation_))}}; }

    // Through detail::elementwise: every value takes the vectorised path, and its result does
    // not depend on where in the batch it lies.
    // The float sigmoid goes through the kernels chosen at run time where there are (the same
    // values as Eigen's AVX-512 exp gives), so that it runs at the CPU's width in any build.
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& /*pass*/ = {}) const override {
        if constexpr (std::is_same_v<S, float> && std::is_same_v<F, Sigmoid>) {
            if (auto kernel = float_kernels().sigmoid) {
                if (contiguous(x) && contiguous(y)) return kernel(x.data(), y.data(), x.size());
                for (Index i = 0; i < x.rows(); ++i) kernel(x.row(i).data(), y.row(i).data(), x.cols());
                return;
            }
        }
        detail::elementwise<S>(
            y, [](const auto& in, const auto&) { return F::f(in); }, x, x);
    }

    // dx = dy * f'(y), element-wise; for ReLU, dy where y > 0 (a select, which Eigen's
    // comparison and cast would compute one value at a time).
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& /*pass*/ = {}) const override {
        if constexpr (std::is_same_v<F, Relu>) {
            for (Index i = 0; i < dy.rows(); ++i)
                where_positive<S>(y.row(i).data(), dy.row(i).data(), dx.row(i).data(), dy.cols());
            return;
        }
        detail::elementwise<S>(
            dx, [](const auto& d, const auto& out) { return d * F::df(out); }, dy, y);
    }

private:
    activation activation_;
};

/// An element-wise activation layer over policy `F` whose derivative needs the layer's
/// input (silu, gelu): backward reads x as well as y.
template <Scalar S, class F>
class InputActivation final : public Layer<S> {
public:
    InputActivation(activation a, const Shape& shape) : activation_(a) { this->set_shapes(shape, shape); }
    [[nodiscard]] std::string kind() const override { return "Activation"; }
    [[nodiscard]] Config get_config() const override { return {{"activation", std::string(to_string(activation_))}}; }

    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& /*pass*/ = {}) const override {
        detail::elementwise<S>(
            y, [](const auto& in, const auto&) { return F::f(in); }, x, x);
    }

    // dx = dy * f'(x), row by row (a row's values do not depend on the block it lies in).
    void backward(ConstMatrixRef<S> x, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& /*pass*/ = {}) const override {
        for (Index i = 0; i < x.rows(); ++i)
            dx.row(i).array() = dy.row(i).array() * F::df(x.row(i).array(), y.row(i).array());
    }

private:
    activation activation_;
};

/// Row-wise softmax: y_ij = exp(x_ij - max_i) / sum_k exp(x_ik - max_i). The exponentials
/// run as one vectorised pass over the whole block (rows are short: 10 classes); each row is
/// summed in order, so that a row's values do not depend on where it lies.
template <Scalar S>
void softmax_rows(ConstMatrixRef<S> x, MatrixRef<S> y) {
    for (Index i = 0; i < x.rows(); ++i) y.row(i) = x.row(i).array() - x.row(i).maxCoeff();
    elementwise<S>(
        y, [](const auto& v, const auto&) { return v.exp(); }, y, y);
    for (Index i = 0; i < x.rows(); ++i) y.row(i) /= sum_in_order(y.row(i));
}

/// The softmax activation layer, over each sample (its input must be flat). When a model ends
/// in it and trains with a loss that fuses softmax (categorical cross-entropy), the model
/// hands the loss this layer's input and never calls its `backward` in training.
template <Scalar S>
class SoftmaxActivation final : public Layer<S> {
public:
    explicit SoftmaxActivation(const Shape& shape) { this->set_shapes(shape, shape); }
    [[nodiscard]] std::string kind() const override { return "Activation"; }
    [[nodiscard]] Config get_config() const override { return {{"activation", std::string("softmax")}}; }
    [[nodiscard]] LayerTraits traits() const override { return {.row_softmax = true}; }

    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& /*pass*/ = {}) const override {
        softmax_rows<S>(x, y);
    }

    // The softmax Jacobian applied row by row: dx_i = y_i * (dy_i - <dy_i, y_i>).
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& /*pass*/ = {}) const override {
        for (Index i = 0; i < y.rows(); ++i) {
            const S dot = dy.row(i).dot(y.row(i));
            dx.row(i).array() = y.row(i).array() * (dy.row(i).array() - dot);
        }
    }
};

}  // namespace detail

/// An activation layer, as Keras's `Activation("sigmoid")`: applies a function to every
/// output of the previous layer. Its width is that of the previous layer.
///
/// \code
/// lamina::Sequential<float> model{lamina::Dense(100, {.input_dim = 784}), lamina::Activation("sigmoid")};
/// \endcode
class Activation {
public:
    /// \throws std::invalid_argument for an unknown name (the message lists the known ones).
    explicit Activation(std::string_view name) : activation_(activation_from_string(name)) {}
    explicit Activation(const char* name) : Activation(std::string_view(name)) {}
    explicit Activation(activation a) : activation_(a) {}

    [[nodiscard]] activation function() const noexcept { return activation_; }

    /// Builds the layer for samples of `input` (the previous layer's output shape).
    /// \throws std::invalid_argument when `input` is empty (an activation cannot be first);
    ///         shape_error for a softmax over samples that are not flat.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    activation activation_;
};

template <Scalar S>
std::unique_ptr<Layer<S>> Activation::build(const Shape& input) const {
    if (input.empty())
        throw std::invalid_argument("Activation('" + std::string(to_string(activation_)) +
                                    "'): cannot be the first layer; start with a layer that takes input_dim");
    switch (activation_) {
        case activation::linear:
            return std::make_unique<detail::ElementwiseActivation<S, detail::Linear>>(activation_, input);
        case activation::sigmoid:
            return std::make_unique<detail::ElementwiseActivation<S, detail::Sigmoid>>(activation_, input);
        case activation::tanh:
            return std::make_unique<detail::ElementwiseActivation<S, detail::Tanh>>(activation_, input);
        case activation::relu:
            return std::make_unique<detail::ElementwiseActivation<S, detail::Relu>>(activation_, input);
        case activation::softmax:
            if (input.rank() != 1)
                throw shape_error("Activation('softmax'): needs flat samples (rank 1), found input shape " +
                                  input.text() + "; add Flatten() before it");
            return std::make_unique<detail::SoftmaxActivation<S>>(input);
        case activation::elu:
            return std::make_unique<detail::ElementwiseActivation<S, detail::Elu>>(activation_, input);
        case activation::selu:
            return std::make_unique<detail::ElementwiseActivation<S, detail::Selu>>(activation_, input);
        case activation::softplus:
            return std::make_unique<detail::ElementwiseActivation<S, detail::Softplus>>(activation_, input);
        case activation::silu: return std::make_unique<detail::InputActivation<S, detail::Silu>>(activation_, input);
        case activation::gelu: return std::make_unique<detail::InputActivation<S, detail::Gelu>>(activation_, input);
    }
    throw std::invalid_argument("Activation: invalid activation value");
}

namespace detail {

/// The registry's factory of Activation layers: config {activation: name}.
template <Scalar S>
std::unique_ptr<Layer<S>> activation_from_config(const Config& config, const Shape& input) {
    ConfigReader r(config, "Activation");
    const Activation spec(r.get<std::string>("activation"));
    r.finish();
    return spec.build<S>(input);
}

}  // namespace detail

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp). `build` is defined outside the
// class so that it is not inline: an inline one would be instantiated here all the same.
extern template std::unique_ptr<Layer<float>> Activation::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> Activation::build<double>(const Shape&) const;
#endif

}  // namespace lamina
