// SPDX-License-Identifier: MIT
// lamina: the Flatten layer: a sample of any shape as one flat vector, (28, 28, 1) -> (784).
#pragma once

#include <memory>
#include <stdexcept>

#include <lamina/core/config.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/layers/layer.hpp>

namespace lamina {

/// Options of a Flatten layer.
struct FlattenOptions {
    /// The shape of one input sample, for the first layer of a model.
    Shape input_shape{};
};

namespace detail {

/// The Flatten layer of scalar `S`. Samples are stored flattened row-major, channels last,
/// so flattening changes the shape and not a value: y = x, dx = dy.
template <Scalar S>
class FlattenLayer final : public Layer<S> {
public:
    static constexpr const char* kind_name = "Flatten";

    explicit FlattenLayer(const Shape& input) { this->set_shapes(input, {input.size()}); }
    /// The registry's factory: an empty config.
    static std::unique_ptr<Layer<S>> from_config(const Config& config, const Shape& input) {
        ConfigReader(config, kind_name).finish();
        return std::make_unique<FlattenLayer>(input);
    }

    [[nodiscard]] std::string kind() const override { return kind_name; }
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& /*pass*/ = {}) const override { y = x; }
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*y*/, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& /*pass*/ = {}) const override {
        dx = dy;
    }
};

}  // namespace detail

/// Flattens each sample, as Keras's `Flatten()`: (28, 28, 1) -> (784), channels last.
///
/// \code
/// lamina::Sequential<float> model{lamina::Flatten({.input_shape = {28, 28, 1}}), lamina::Dense(10)};
/// \endcode
class Flatten {
public:
    explicit Flatten(FlattenOptions options = {}) : options_(std::move(options)) {}

    /// Builds the layer after one whose output is `input` (empty: it is the first).
    /// \throws std::invalid_argument when first without input_shape; shape_error when the
    ///         given input_shape differs from the previous layer's output.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    FlattenOptions options_;
};

template <Scalar S>
std::unique_ptr<Layer<S>> Flatten::build(const Shape& input) const {
    return std::make_unique<detail::FlattenLayer<S>>(input_shape_for("Flatten()", input, options_.input_shape));
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp). `build` is defined outside the
// class so that it is not inline: an inline one would be instantiated here all the same.
extern template std::unique_ptr<Layer<float>> Flatten::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> Flatten::build<double>(const Shape&) const;
#endif

}  // namespace lamina
