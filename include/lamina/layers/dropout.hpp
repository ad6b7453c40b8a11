// SPDX-License-Identifier: MIT
// lamina: the Dropout layer: zeroes a random fraction of its inputs while training (inverted dropout).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/layers/layer.hpp>

namespace lamina {

namespace detail {

/// SplitMix64's finaliser: a bijective mix of 64 bits in which every input bit changes
/// about half of the output bits. Hashing (seed, row, column) with it gives each element
/// its own random number, whatever order or thread computes it.
[[nodiscard]] constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// The Dropout layer of scalar `S`, `rate` of its inputs dropped in training.
///
/// Training: y = x * keep / (1 - rate), keep = 1 with probability 1 - rate, else 0;
/// dx = dy * keep / (1 - rate). Element (r, c) of the batch keeps when the 53-bit number
/// of mix64(seed + golden * (r * width + c + 1)) is at least `rate`: the mask is a
/// function of the pass's seed and the element's place in the batch, recomputed in
/// the training `backward` rather than stored. Inference: y = x.
template <Scalar S>
class DropoutLayer final : public Layer<S> {
public:
    static constexpr const char* kind_name = "Dropout";

    DropoutLayer(double rate, const Shape& shape) : rate_(rate), scale_(S(1.0 / (1.0 - rate))) {
        this->set_shapes(shape, shape);
    }
    /// The registry's factory: config {rate}.
    static std::unique_ptr<Layer<S>> from_config(const Config& config, const Shape& input);

    [[nodiscard]] std::string kind() const override { return kind_name; }
    [[nodiscard]] Config get_config() const override { return {{"rate", rate_}}; }
    [[nodiscard]] double rate() const noexcept { return rate_; }
    [[nodiscard]] LayerTraits traits() const override { return {.random_in_training = rate_ > 0}; }

    // Training: the mask; otherwise the identity.
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& pass = {}) const override {
        if (pass.training) apply_mask(x, y, pass);
        else y = x;
    }
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*y*/, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& pass = {}) const override {
        if (pass.training) apply_mask(dy, dx, pass);
        else dx = dy;
    }

private:
    // out = in * keep / (1 - rate), element by element, for rows pass.row.. of the batch.
    void apply_mask(ConstMatrixRef<S> in, MatrixRef<S> out, const Pass& pass) const {
        if (rate_ == 0) {
            out = in;
            return;
        }
        const Index width = in.cols();
        // Drop when u < rate, u = top 53 bits / 2^53: compare the integer against rate * 2^53.
        const auto threshold = std::uint64_t(std::ceil(rate_ * 0x1.0p53));
        for (Index r = 0; r < in.rows(); ++r) {
            const std::uint64_t base = std::uint64_t(pass.row + r) * std::uint64_t(width) + 1;
            const S* src = in.row(r).data();
            S* dst = out.row(r).data();
            for (Index c = 0; c < width; ++c) {
                const std::uint64_t u = mix64(pass.seed + 0x9E3779B97F4A7C15ull * (base + std::uint64_t(c))) >> 11;
                dst[c] = u >= threshold ? src[c] * scale_ : S(0);
            }
        }
    }

    double rate_;
    S scale_;
};

}  // namespace detail

/// Dropout, as Keras's `Dropout(rate)`: while training, each input is zeroed with
/// probability `rate` and the others are scaled by 1 / (1 - rate) (inverted dropout), so
/// that `predict` and `evaluate`, where the layer passes its input through unchanged, need
/// no rescaling. Which units drop is drawn from the model's random stream (or fit's
/// `seed`), once per epoch and layer, and hashed with each element's place in the batch:
/// a fixed seed gives identical training, whatever the thread count.
///
/// \code
/// lamina::Sequential<float> model{
///     lamina::Dense(256, {.input_dim = 784}), lamina::Activation("relu"), lamina::Dropout(0.2),
///     lamina::Dense(10), lamina::Activation("softmax")};
/// \endcode
class Dropout {
public:
    /// \throws std::invalid_argument when `rate` is not in [0, 1).
    explicit Dropout(double rate) : rate_(rate) {
        if (!(rate >= 0 && rate < 1))
            throw std::invalid_argument("Dropout: rate must be in [0, 1), found " + std::to_string(rate));
    }

    [[nodiscard]] double rate() const noexcept { return rate_; }

    /// Builds the layer for samples of `input` (the previous layer's output shape).
    /// \throws std::invalid_argument when `input` is empty (a Dropout layer cannot be first).
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    double rate_;
};

template <Scalar S>
std::unique_ptr<Layer<S>> Dropout::build(const Shape& input) const {
    if (input.empty())
        throw std::invalid_argument("Dropout(" + std::to_string(rate_) +
                                    "): cannot be the first layer; start with a layer that takes input_dim");
    return std::make_unique<detail::DropoutLayer<S>>(rate_, input);
}

template <Scalar S>
std::unique_ptr<Layer<S>> detail::DropoutLayer<S>::from_config(const Config& config, const Shape& input) {
    ConfigReader r(config, kind_name);
    const Dropout spec(r.get<double>("rate"));
    r.finish();
    return spec.build<S>(input);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp). `build` is defined outside the
// class so that it is not inline: an inline one would be instantiated here all the same.
extern template std::unique_ptr<Layer<float>> Dropout::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> Dropout::build<double>(const Shape&) const;
#endif

}  // namespace lamina
