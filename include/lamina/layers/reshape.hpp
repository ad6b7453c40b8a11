// SPDX-License-Identifier: MIT
// lamina: the Reshape layer: each sample in another shape of as many values, (784) -> (28, 28, 1).
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/layers/layer.hpp>

namespace lamina {

/// Options of a Reshape layer.
struct ReshapeOptions {
    /// The shape of one input sample, for the first layer of a model.
    Shape input_shape{};
};

namespace detail {

/// The Reshape layer of scalar `S`. Samples are stored flattened row-major, so reshaping
/// changes the shape and not a value: y = x, dx = dy.
template <Scalar S>
class ReshapeLayer final : public Layer<S> {
public:
    static constexpr const char* kind_name = "Reshape";

    ReshapeLayer(const Shape& input, const Shape& output, std::vector<Index> target) : target_(std::move(target)) {
        this->set_shapes(input, output);
    }
    /// The registry's factory: config {target_shape}.
    static std::unique_ptr<Layer<S>> from_config(const Config& config, const Shape& input);

    [[nodiscard]] std::string kind() const override { return kind_name; }
    [[nodiscard]] Config get_config() const override { return {{"target_shape", target_}}; }
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& /*pass*/ = {}) const override { y = x; }
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*y*/, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& /*pass*/ = {}) const override {
        dx = dy;
    }

private:
    std::vector<Index> target_;  // as given: one dimension may be -1
};

}  // namespace detail

/// Gives each sample another shape of as many values, as Keras's `Reshape(target_shape)`;
/// one dimension may be -1, inferred from the others: `Reshape({28, 28, 1})`, `Reshape({-1})`.
///
/// \code
/// lamina::Sequential<float> model{lamina::Reshape({28, 28, 1}, {.input_shape = {784}}), lamina::Flatten()};
/// \endcode
class Reshape {
public:
    /// \throws std::invalid_argument for an empty target, a dimension < 1 other than one -1.
    explicit Reshape(std::vector<Index> target_shape, ReshapeOptions options = {})
        : target_(std::move(target_shape)), options_(std::move(options)) {
        if (target_.empty()) throw std::invalid_argument("Reshape: target_shape has no dimensions");
        std::size_t unknown = 0;
        for (const Index d : target_) {
            if (d == -1) ++unknown;
            else if (d < 1)
                throw std::invalid_argument("Reshape: target_shape " + Config::value_text(target_) +
                                            " has a dimension " + std::to_string(d) +
                                            "; expected >= 1 (or one -1, inferred)");
        }
        if (unknown > 1)
            throw std::invalid_argument("Reshape: target_shape " + Config::value_text(target_) +
                                        " has more than one -1; at most one dimension can be inferred");
    }

    /// Builds the layer after one whose output is `input` (empty: it is the first).
    /// \throws std::invalid_argument when first without input_shape; shape_error when the
    ///         target does not hold as many values as the input (naming both).
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    std::vector<Index> target_;
    ReshapeOptions options_;
};

template <Scalar S>
std::unique_ptr<Layer<S>> Reshape::build(const Shape& input) const {
    const std::string what = "Reshape(" + Config::value_text(target_) + ")";
    const Shape in = input_shape_for(what, input, options_.input_shape);
    std::vector<Index> dims = target_;
    Index known = 1;
    std::size_t unknown = dims.size();
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == -1) unknown = i;
        else if (known > in.size() / dims[i] + 1) known = in.size() + 1;  // more than the input: refused below
        else known *= dims[i];
    }
    if (unknown < dims.size() && in.size() % known == 0) dims[unknown] = in.size() / known;
    if ((unknown < dims.size() && in.size() % known != 0) || (unknown == dims.size() && known != in.size()))
        throw shape_error(what + ": cannot reshape input shape " + in.text() + " (" + std::to_string(in.size()) +
                          " values) into " + Config::value_text(target_));
    return std::make_unique<detail::ReshapeLayer<S>>(in, Shape::checked(std::move(dims), what), target_);
}

template <Scalar S>
std::unique_ptr<Layer<S>> detail::ReshapeLayer<S>::from_config(const Config& config, const Shape& input) {
    ConfigReader r(config, kind_name);
    const Reshape spec(r.get<std::vector<Index>>("target_shape"));
    r.finish();
    return spec.build<S>(input);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp). `build` is defined outside the
// class so that it is not inline: an inline one would be instantiated here all the same.
extern template std::unique_ptr<Layer<float>> Reshape::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> Reshape::build<double>(const Shape&) const;
#endif

}  // namespace lamina
