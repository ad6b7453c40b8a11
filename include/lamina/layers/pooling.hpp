// SPDX-License-Identifier: MIT
// lamina: the pooling layers, MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D, as Keras's.
#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/elementwise.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/layers/window.hpp>

namespace lamina {

/// Options of MaxPooling2D and AveragePooling2D, named as Keras names them.
struct Pooling2DOptions {
    /// How far the window moves; 0 (Keras's None) means the pool size.
    Size2 strides = 0;
    /// "valid" (windows inside the input) or "same" (output ceil(input / stride); a window
    /// over the edge pools only the input under it, as Keras does).
    std::string padding = "valid";
    /// The shape of one input sample (height, width, channels), for the first layer.
    Shape input_shape{};
};

namespace detail {

/// Which pooling a Pool2DLayer does.
enum class PoolMode { max, average };

/// MaxPooling2D and AveragePooling2D of scalar `S`: each output (oh, ow, c) is the maximum or
/// the mean of channel c over the window of (oh, ow), counting only the input under it.
template <Scalar S, PoolMode Mode>
class Pool2DLayer final : public Layer<S> {
public:
    static constexpr const char* kind_name = Mode == PoolMode::max ? "MaxPooling2D" : "AveragePooling2D";

    Pool2DLayer(const Window2D& window, std::string padding) : w_(window), padding_(std::move(padding)) {
        this->set_shapes({w_.in_h, w_.in_w, w_.channels}, {w_.out_h, w_.out_w, w_.channels});
    }

    /// The registry's factory: pool_size, strides, padding.
    static std::unique_ptr<Layer<S>> from_config(const Config& config, const Shape& input);

    [[nodiscard]] std::string kind() const override { return kind_name; }
    [[nodiscard]] Config get_config() const override {
        return {{"pool_size", std::vector<Index>{w_.size_h, w_.size_w}},
                {"strides", std::vector<Index>{w_.stride_h, w_.stride_w}},
                {"padding", padding_}};
    }

    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& /*pass*/ = {}) const override {
        const Index c = w_.channels;
        for (Index n = 0; n < x.rows(); ++n) {
            const S* in = x.row(n).data();
            S* out = y.row(n).data();
            for_each_window([&](Index position, Index h0, Index h1, Index v0, Index v1) {
                S* o = out + position * c;
                std::copy_n(in + (h0 * w_.in_w + v0) * c, c, o);
                for (Index h = h0; h < h1; ++h)
                    for (Index v = (h == h0 ? v0 + 1 : v0); v < v1; ++v) {
                        const S* p = in + (h * w_.in_w + v) * c;
                        if constexpr (Mode == PoolMode::max) {
                            for (Index q = 0; q < c; ++q) o[q] = std::max(o[q], p[q]);
                        } else {
                            for (Index q = 0; q < c; ++q) o[q] += p[q];
                        }
                    }
                if constexpr (Mode == PoolMode::average) {
                    const S scale = S(1) / S((h1 - h0) * (v1 - v0));
                    for (Index q = 0; q < c; ++q) o[q] *= scale;
                }
            });
        }
    }

    // Max: each output's gradient goes to the first input of its window (in row-major order)
    // that equals the output, as TensorFlow's max-pooling gradient does; windows that
    // overlap add up. Average: each input under a window gets dy / (the inputs under it).
    void backward(ConstMatrixRef<S> x, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& /*pass*/ = {}) const override {
        const Index c = w_.channels;
        // What is still to hand out, per channel: on the stack, so that no thread allocates in
        // training (on the heap only for more than 512 channels).
        S on_stack[512];
        std::vector<S> on_heap(Mode == PoolMode::max && c > 512 ? std::size_t(c) : 0);
        S* left = c > 512 ? on_heap.data() : on_stack;
        // Windows that tile the input (stride = size) each write their inputs once; the inputs
        // under no window (the last rows and columns "valid" drops) are zeroed apart.
        const bool tiles = w_.stride_h == w_.size_h && w_.stride_w == w_.size_w;
        for (Index n = 0; n < dy.rows(); ++n) {
            const S* in = x.row(n).data();
            const S* out = y.row(n).data();
            const S* d_out = dy.row(n).data();
            S* d_in = dx.row(n).data();
            if (tiles) zero_uncovered(d_in);
            else std::fill_n(d_in, this->input_dim(), S(0));
            for_each_window([&](Index position, Index h0, Index h1, Index v0, Index v1) {
                const S* o = out + position * c;
                const S* g = d_out + position * c;
                if constexpr (Mode == PoolMode::max) std::copy_n(g, c, left);
                const S scale = S(1) / S((h1 - h0) * (v1 - v0));
                for (Index h = h0; h < h1; ++h)
                    for (Index v = v0; v < v1; ++v) {
                        const Index at = (h * w_.in_w + v) * c;
                        if constexpr (Mode == PoolMode::max) {
                            if (tiles) route_max<false>(in + at, o, left, d_in + at, c);
                            else route_max<true>(in + at, o, left, d_in + at, c);
                        } else {
                            S* __restrict d = d_in + at;
                            for (Index q = 0; q < c; ++q) d[q] = (tiles ? S(0) : d[q]) + scale * g[q];
                        }
                    }
            });
        }
    }

private:
    // f(position, h0, h1, v0, v1) for each output position, with the input rows [h0, h1) and
    // columns [v0, v1) under its window (never empty: see make_window's padding).
    template <class F>
    void for_each_window(F&& f) const {
        for (Index oh = 0; oh < w_.out_h; ++oh) {
            const Index top = oh * w_.stride_h - w_.pad_top;
            const Index h0 = std::max<Index>(top, 0), h1 = std::min(top + w_.size_h, w_.in_h);
            for (Index ow = 0; ow < w_.out_w; ++ow) {
                const Index left = ow * w_.stride_w - w_.pad_left;
                const Index v0 = std::max<Index>(left, 0), v1 = std::min(left + w_.size_w, w_.in_w);
                f(oh * w_.out_w + ow, h0, h1, v0, v1);
            }
        }
    }

    // One input of a window, channel by channel without branches (so that it vectorizes in
    // any build): where it equals the output, it takes what is left of the output's gradient,
    // which becomes 0 for the inputs after it (the first maximum takes all).
    template <bool Add>
    static void route_max(const S* __restrict p, const S* __restrict o, S* __restrict left, S* __restrict d, Index c) {
        for (Index q = 0; q < c; ++q) {
            const auto hit = bit_mask<S>(p[q] == o[q]);
            const S take = masked(left[q], hit);
            d[q] = Add ? d[q] + take : take;
            left[q] = masked(left[q], ~hit);
        }
    }

    // Zeros the inputs of one sample that lie under no window of a "valid" tiling: the
    // columns right of the last window and the rows below it.
    void zero_uncovered(S* d_in) const {
        const Index c = w_.channels, rows = std::min(w_.out_h * w_.size_h - w_.pad_top, w_.in_h),
                    cols = std::min(w_.out_w * w_.size_w - w_.pad_left, w_.in_w);
        for (Index h = 0; h < rows; ++h) std::fill_n(d_in + (h * w_.in_w + cols) * c, (w_.in_w - cols) * c, S(0));
        std::fill_n(d_in + rows * w_.in_w * c, (w_.in_h - rows) * w_.in_w * c, S(0));
    }

    Window2D w_;
    std::string padding_;
};

/// GlobalAveragePooling2D of scalar `S`: (height, width, channels) -> (channels), or (1, 1,
/// channels) with `keepdims`; each output the mean of its channel over every position.
template <Scalar S>
class GlobalAveragePooling2DLayer final : public Layer<S> {
public:
    static constexpr const char* kind_name = "GlobalAveragePooling2D";

    GlobalAveragePooling2DLayer(const Shape& input, bool keepdims) : keepdims_(keepdims) {
        const Index c = input[2];
        this->set_shapes(input, keepdims ? Shape{1, 1, c} : Shape{c});
    }
    /// The registry's factory: keepdims.
    static std::unique_ptr<Layer<S>> from_config(const Config& config, const Shape& input);

    [[nodiscard]] std::string kind() const override { return kind_name; }
    [[nodiscard]] Config get_config() const override { return {{"keepdims", keepdims_}}; }

    // y = the mean over positions, summed position by position in order.
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& /*pass*/ = {}) const override {
        const Index c = this->output_dim(), positions = this->input_dim() / c;
        for (Index n = 0; n < x.rows(); ++n) {
            auto out = y.row(n);
            out.setZero();
            for (Index p = 0; p < positions; ++p) out += x.row(n).segment(p * c, c);
            out *= S(1) / S(positions);
        }
    }
    // dx = dy / positions at every position.
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*y*/, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& /*pass*/ = {}) const override {
        const Index c = this->output_dim(), positions = this->input_dim() / c;
        const S scale = S(1) / S(positions);
        for (Index n = 0; n < dy.rows(); ++n)
            for (Index p = 0; p < positions; ++p) dx.row(n).segment(p * c, c) = scale * dy.row(n);
    }

private:
    bool keepdims_;
};

}  // namespace detail

/// The spec of MaxPooling2D and AveragePooling2D (see `MaxPooling2D`, `AveragePooling2D`).
template <detail::PoolMode Mode>
class Pooling2D {
public:
    /// \throws std::invalid_argument for a pool size or stride that is not positive, or an
    ///         unknown padding.
    explicit Pooling2D(Size2 pool_size = 2, Pooling2DOptions options = {})
        : pool_size_(pool_size), options_(std::move(options)) {
        const std::string what = text();
        detail::check_size2(pool_size_, what, "pool_size");
        if (options_.strides == Size2(0)) options_.strides = pool_size_;
        detail::check_size2(options_.strides, what, "strides");
        options_.padding = detail::padding_name(options_.padding, what);
    }

    [[nodiscard]] const Size2& pool_size() const noexcept { return pool_size_; }
    [[nodiscard]] const Pooling2DOptions& options() const noexcept { return options_; }

    /// Builds the layer after one whose output is `input` (empty: it is the first).
    /// \throws std::invalid_argument when first without input_shape; shape_error when the input
    ///         is not (height, width, channels) or, with "valid", smaller than the pool.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    [[nodiscard]] std::string text() const {
        return std::string(Mode == detail::PoolMode::max ? "MaxPooling2D" : "AveragePooling2D") + "(" +
               pool_size_.text() + ")";
    }

    Size2 pool_size_;
    Pooling2DOptions options_;
};

/// Keras's `MaxPooling2D(pool_size=2)`: the maximum of each channel over each window.
///
/// \code
/// lamina::MaxPooling2D(2)                          // 26 x 26 x 32 -> 13 x 13 x 32
/// lamina::MaxPooling2D({3, 3}, {.strides = 2, .padding = "same"})
/// \endcode
using MaxPooling2D = Pooling2D<detail::PoolMode::max>;
/// Keras's `AveragePooling2D(pool_size=2)`: the mean of each channel over each window.
using AveragePooling2D = Pooling2D<detail::PoolMode::average>;

/// Options of GlobalAveragePooling2D.
struct GlobalAveragePooling2DOptions {
    /// Keep the output as (1, 1, channels) rather than (channels).
    bool keepdims = false;
    /// The shape of one input sample (height, width, channels), for the first layer.
    Shape input_shape{};
};

/// Keras's `GlobalAveragePooling2D()`: the mean of each channel over the whole sample,
/// (height, width, channels) -> (channels).
class GlobalAveragePooling2D {
public:
    explicit GlobalAveragePooling2D(GlobalAveragePooling2DOptions options = {}) : options_(std::move(options)) {}

    /// \throws std::invalid_argument when first without input_shape; shape_error when the
    ///         input is not (height, width, channels).
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    GlobalAveragePooling2DOptions options_;
};

template <detail::PoolMode Mode>
template <Scalar S>
std::unique_ptr<Layer<S>> Pooling2D<Mode>::build(const Shape& input) const {
    const std::string what = text();
    const Shape in = input_shape_for(what, input, options_.input_shape);
    return std::make_unique<detail::Pool2DLayer<S, Mode>>(detail::make_window(in, pool_size_, options_.strides,
                                                                              options_.padding, what),
                                                          options_.padding);
}

template <Scalar S>
std::unique_ptr<Layer<S>> GlobalAveragePooling2D::build(const Shape& input) const {
    const Shape in = input_shape_for("GlobalAveragePooling2D()", input, options_.input_shape);
    if (in.rank() != 3)
        throw shape_error("GlobalAveragePooling2D(): needs samples of (height, width, channels), found input shape " +
                          in.text());
    return std::make_unique<detail::GlobalAveragePooling2DLayer<S>>(in, options_.keepdims);
}

template <Scalar S, detail::PoolMode Mode>
std::unique_ptr<Layer<S>> detail::Pool2DLayer<S, Mode>::from_config(const Config& config, const Shape& input) {
    ConfigReader r(config, kind_name);
    const Size2 pool_size = read_size2(r, "pool_size", kind_name);
    Pooling2DOptions options;
    options.strides = read_size2(r, "strides", kind_name, pool_size.dims());
    options.padding = r.get<std::string>("padding", "valid");
    r.finish();
    return Pooling2D<Mode>(pool_size, options).template build<S>(input);
}

template <Scalar S>
std::unique_ptr<Layer<S>> detail::GlobalAveragePooling2DLayer<S>::from_config(const Config& config,
                                                                              const Shape& input) {
    ConfigReader r(config, kind_name);
    const bool keepdims = r.get<bool>("keepdims", false);
    r.finish();
    return GlobalAveragePooling2D({.keepdims = keepdims}).template build<S>(input);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp). `build` is defined outside the
// class so that it is not inline: an inline one would be instantiated here all the same.
extern template std::unique_ptr<Layer<float>> MaxPooling2D::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> MaxPooling2D::build<double>(const Shape&) const;
extern template std::unique_ptr<Layer<float>> AveragePooling2D::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> AveragePooling2D::build<double>(const Shape&) const;
extern template std::unique_ptr<Layer<float>> GlobalAveragePooling2D::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> GlobalAveragePooling2D::build<double>(const Shape&) const;
#endif

}  // namespace lamina
