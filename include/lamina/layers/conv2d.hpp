// SPDX-License-Identifier: MIT
// lamina: the Conv2D layer, a 2-D convolution over (height, width, channels) samples, as Keras's.
#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/gemm.hpp>
#include <lamina/layers/fused_activation.hpp>
#include <lamina/layers/initializers.hpp>
#include <lamina/detail/scratch.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/layers/regularizers.hpp>
#include <lamina/layers/window.hpp>

namespace lamina {

/// Options of a Conv2D layer, named as Keras names them (channels last).
struct Conv2DOptions {
    /// How far the window moves: one number for both directions or {height, width}.
    Size2 strides = 1;
    /// "valid" (no padding) or "same" (zeros around the input so that the output is
    /// ceil(input / stride); the odd one at the bottom and the right, as Keras pads).
    std::string padding = "valid";
    /// An element-wise activation applied to the output ("relu", "sigmoid", "tanh"); "linear"
    /// (Keras's None) applies nothing.
    std::string activation = "linear";
    /// Whether the layer adds a bias per filter.
    bool use_bias = true;
    /// How the kernel is drawn (Keras default: glorot_uniform, fans of kh * kw * channels and
    /// kh * kw * filters).
    Initializer kernel_initializer = Initializer::glorot_uniform;
    /// How the bias is drawn (Keras default: zeros).
    Initializer bias_initializer = Initializer::zeros;
    /// A penalty on the kernel added to the loss (default: none).
    Regularizer kernel_regularizer{};
    /// The shape of one input sample (height, width, channels), for the first layer.
    Shape input_shape{};
};

namespace detail {

/// The Conv2D layer of scalar `S`, by im2col: each output position's window of the input is
/// unrolled into a row of `cols` (positions x kh * kw * channels, in the kernel's order), and
/// the convolution is the product cols W with the kernel as Keras stores it, (kh, kw,
/// channels, filters) read as a (kh * kw * channels) x filters row-major matrix. Parameters,
/// in the model's flat buffer: the kernel, then the bias (filters) when `use_bias`.
///
/// In training the unrolled input of each sample and the delta before the activation (dz) are
/// kept, for the batch, by `forward` and `backward`, and `gradient` reads them: dW = cols^T dz
/// over the whole batch, in slices of kernel rows.
template <Scalar S>
class Conv2DLayer final : public Layer<S> {
public:
    static constexpr const char* kind_name = "Conv2D";

    /// \throws std::invalid_argument for an unknown activation or a kernel too large to count.
    Conv2DLayer(const Window2D& window, Index filters, Conv2DOptions options, const std::string& where)
        : w_(window), filters_(filters), depth_(window.size_h * window.size_w * window.channels),
          options_(std::move(options)), activation_(options_.activation, {window.out_h, window.out_w, filters}, where) {
        this->set_shapes({w_.in_h, w_.in_w, w_.channels}, {w_.out_h, w_.out_w, filters});
        this->add_weight("kernel", {w_.size_h, w_.size_w, w_.channels, filters});
        if (options_.use_bias) this->add_weight("bias", {filters});
        // One sample's unrolled input, positions x depth, must be countable.
        (void)Shape::checked({w_.positions(), depth_}, where, "the unrolled input of one sample");
    }

    /// The registry's factory.
    static std::unique_ptr<Layer<S>> from_config(const Config& config, const Shape& input);

    [[nodiscard]] std::string kind() const override { return kind_name; }
    [[nodiscard]] Config get_config() const override {
        const auto& r = options_.kernel_regularizer;
        return {{"filters", filters_},
                {"kernel_size", std::vector<Index>{w_.size_h, w_.size_w}},
                {"strides", std::vector<Index>{w_.stride_h, w_.stride_w}},
                {"padding", options_.padding},
                {"activation", activation_.name()},
                {"use_bias", options_.use_bias},
                {"kernel_initializer", std::string(options_.kernel_initializer.name())},
                {"bias_initializer", std::string(options_.bias_initializer.name())},
                {"kernel_regularizer", std::vector<double>{r.l1, r.l2}}};
    }
    [[nodiscard]] LayerTraits traits() const override {
        return {.prepares_batch = true, .backward_as_first = true, .gradient_slices = depth_};
    }

    void initialize(Random& rng) override {
        const double fan_in = double(depth_), fan_out = double(w_.size_h * w_.size_w * filters_);
        fill(this->params(), depth_ * filters_, options_.kernel_initializer, fan_in, fan_out, rng);
        if (options_.use_bias) fill(bias(), filters_, options_.bias_initializer, fan_in, fan_out, rng);
    }

    // Sizes what training keeps for `rows` samples, and makes W^T for the input gradient.
    void begin_batch(Index rows) override {
        const Index positions = rows * w_.positions();
        if (cols_.rows() < positions) cols_.resize(positions, depth_);
        if (dz_.rows() < positions) dz_.resize(positions, filters_);
        kernel_t_.resize(filters_, depth_);
        detail::transpose<S>(depth_, filters_, this->params(), filters_, kernel_t_.data(), depth_);
    }

    // A few samples at a time: cols = im2col(x) (positions x depth per sample), y = f(cols W +
    // b) (positions x filters per sample, which is the sample's (out_h, out_w, filters)
    // row-major), one product for the chunk's samples.
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& pass = {}) const override {
        const Index positions = w_.positions(), rows = x.rows(), chunk = samples_per_product(y);
        if (pass.training) require_batch(pass.row + rows, "forward");
        for (Index n0 = 0; n0 < rows; n0 += chunk) {
            const Index count = std::min(chunk, rows - n0);
            S* cols = pass.training ? cols_.data() + (pass.row + n0) * positions * depth_
                                    : detail::thread_scratch<S>(count * positions * depth_);
            for (Index n = 0; n < count; ++n) unroll(x.row(n0 + n).data(), cols + n * positions * depth_);
            detail::gemm<S>(count * positions, filters_, depth_, {cols, depth_, 1}, this->params(), filters_,
                            y.row(n0).data(), filters_, options_.use_bias ? bias() : nullptr);
            activation_.forward(y.middleRows(n0, count));
        }
    }

    // dz = dy * f'(y), kept in training for `gradient`; then per sample, a group of positions
    // at a time: dcols = dz W^T (positions x depth), and dx = the sum of each dcols row put
    // back where its window came from (col2im). The groups' dcols live on the stack, so that
    // no thread allocates in training, whichever rows it takes.
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& pass = {}) const override {
        const Index positions = w_.positions(), out = positions * filters_, rows = dy.rows();
        Matrix<S> local_dz, transposed;  // outside training: dz, and W^T (begin_batch made it for training)
        if (pass.training) {
            require_batch(pass.row + rows, "backward");
        } else {
            local_dz.resize(rows, out);
            if (dx.cols() > 0) {
                transposed.resize(filters_, depth_);
                detail::transpose<S>(depth_, filters_, this->params(), filters_, transposed.data(), depth_);
            }
        }
        S* dz = pass.training ? dz_.data() + pass.row * out : local_dz.data();
        activation_.backward(y, dy, MatrixMap<S>(dz, rows, out));
        if (dx.cols() == 0) return;
        const S* kernel_t = pass.training ? kernel_t_.data() : transposed.data();
        S on_stack[stack_values];
        std::vector<S> on_heap;  // only for windows of more than stack_values values
        Index group = stack_values / depth_;
        S* dcols = on_stack;
        if (group == 0) {
            on_heap.resize(std::size_t(depth_));
            dcols = on_heap.data();
            group = 1;
        }
        for (Index n = 0; n < rows; ++n) {
            S* d_in = dx.row(n).data();
            std::fill_n(d_in, this->input_dim(), S(0));
            for (Index p0 = 0; p0 < positions; p0 += group) {
                const Index count = std::min(group, positions - p0);
                detail::gemm<S>(count, depth_, filters_, {dz + n * out + p0 * filters_, filters_, 1}, kernel_t, depth_,
                                dcols, depth_);
                fold(dcols, d_in, p0, p0 + count);
            }
        }
    }

    // Slice `part` owns kernel rows [k0, k1): dW[k0:k1] = cols[:, k0:k1]^T dz over every
    // position of every sample of the batch, ((k1 - k0) x positions)(positions x filters);
    // the last slice also writes db = the column sums of dz.
    ParameterRange gradient(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> dy, Index part, Index parts) override {
        const Index rows = dy.rows() * w_.positions();
        require_batch(dy.rows(), "gradient");
        const Index k0 = depth_ * part / parts, k1 = depth_ * (part + 1) / parts;
        S* kernel_grad = this->grads();
        detail::gemm<S>(k1 - k0, filters_, rows, {cols_.data() + k0, 1, depth_}, dz_.data(), filters_,
                        kernel_grad + k0 * filters_, filters_);
        Index size = (k1 - k0) * filters_;
        if (options_.kernel_regularizer.active())
            options_.kernel_regularizer.add_gradient(this->params() + k0 * filters_, kernel_grad + k0 * filters_, size);
        if (part == parts - 1 && options_.use_bias) {
            // Row by row in order, a vector of filters at a time.
            VectorMap<S> db(kernel_grad + depth_ * filters_, filters_);
            db.setZero();
            for (Index p = 0; p < rows; ++p) db += VectorMap<S>(dz_.data() + p * filters_, filters_);
            size += filters_;
        }
        return {k0 * filters_, size};
    }

    [[nodiscard]] double regularization_loss() const override {
        return options_.kernel_regularizer.penalty(this->params(), depth_ * filters_);
    }
    [[nodiscard]] const Conv2DOptions& options() const noexcept { return options_; }

private:
    [[nodiscard]] S* bias() const noexcept { return this->params() + depth_ * filters_; }

    // Samples per product: enough rows (positions) for the kernels to run at speed, one where
    // the rows of `m` are not one contiguous block (a padded or strided view).
    template <class Rows>
    [[nodiscard]] Index samples_per_product(const Rows& m) const {
        if (m.rows() > 1 && m.outerStride() != m.cols()) return 1;
        return std::max<Index>(1, product_rows / w_.positions());
    }
    static constexpr Index product_rows = 512;

    // A training pass of rows [0, rows) reads what begin_batch sized.
    void require_batch(Index rows, const char* call) const {
        if (cols_.rows() < rows * w_.positions())
            throw std::logic_error(this->where() + ": a training " + call + " of " + std::to_string(rows) +
                                   " rows before begin_batch(" + std::to_string(rows) + ")");
    }

    // cols (positions x depth) = one sample's windows, each row the window of (oh, ow) in the
    // kernel's (kh, kw, channels) order, zeros where it lies over the padding. For a fixed
    // window row i the kw * channels values are one run of the input's row h; the windows of
    // [ow_begin, ow_end) lie inside the input's width and copy whole runs.
    void unroll(const S* x, S* cols) const {
        const Index c = w_.channels, run = w_.size_w * c;
        const auto [ow_begin, ow_end] = inside_columns();
        for (Index oh = 0; oh < w_.out_h; ++oh)
            for (Index i = 0; i < w_.size_h; ++i) {
                S* dst = cols + oh * w_.out_w * depth_ + i * run;
                const Index h = oh * w_.stride_h - w_.pad_top + i;
                if (h < 0 || h >= w_.in_h) {
                    for (Index ow = 0; ow < w_.out_w; ++ow) std::fill_n(dst + ow * depth_, run, S(0));
                    continue;
                }
                const S* row = x + h * w_.in_w * c;
                if (ow_end <= ow_begin) {
                    // No window lies inside the width: all are edges.
                } else if (run < 16) {
                    // Short runs (a first layer of one channel): value q of every inside window
                    // at once, so that no copy is a loop of a few values.
                    const Index step = w_.stride_w * c;
                    const S* src = row + (ow_begin * w_.stride_w - w_.pad_left) * c;
                    for (Index q = 0; q < run; ++q)
                        for (Index ow = ow_begin; ow < ow_end; ++ow)
                            dst[ow * depth_ + q] = src[(ow - ow_begin) * step + q];
                } else {
                    for (Index ow = ow_begin; ow < ow_end; ++ow)
                        std::copy_n(row + (ow * w_.stride_w - w_.pad_left) * c, run, dst + ow * depth_);
                }
                // The windows over the left or right padding, a channel run at a time.
                const auto edge = [&](Index ow) {
                    S* d = dst + ow * depth_;
                    const Index w0 = ow * w_.stride_w - w_.pad_left;
                    for (Index j = 0; j < w_.size_w; ++j) {
                        const Index w = w0 + j;
                        if (w < 0 || w >= w_.in_w) std::fill_n(d + j * c, c, S(0));
                        else std::copy_n(row + w * c, c, d + j * c);
                    }
                };
                for (Index ow = 0; ow < ow_begin; ++ow) edge(ow);
                for (Index ow = std::max(ow_end, ow_begin); ow < w_.out_w; ++ow) edge(ow);
            }
    }

    // The output columns [begin, end) whose windows lie inside the input's width.
    [[nodiscard]] std::pair<Index, Index> inside_columns() const {
        Index begin = 0, end = w_.out_w;
        while (begin < end && begin * w_.stride_w - w_.pad_left < 0) ++begin;
        while (end > begin && (end - 1) * w_.stride_w - w_.pad_left + w_.size_w > w_.in_w) --end;
        return {begin, end};
    }

    // dx (one sample, in_h x in_w x channels) += the rows of dcols for positions [p0, p1),
    // each added where unroll took it from (padding dropped): unroll's transpose (col2im).
    void fold(const S* dcols, S* dx, Index p0, Index p1) const {
        const Index c = w_.channels;
        for (Index p = p0; p < p1; ++p) {
            const Index oh = p / w_.out_w, ow = p % w_.out_w;
            const S* row = dcols + (p - p0) * depth_;
            const Index w0 = ow * w_.stride_w - w_.pad_left;
            for (Index i = 0; i < w_.size_h; ++i) {
                const Index h = oh * w_.stride_h - w_.pad_top + i;
                if (h < 0 || h >= w_.in_h) continue;
                for (Index j = 0; j < w_.size_w; ++j) {
                    const Index w = w0 + j;
                    if (w < 0 || w >= w_.in_w) continue;
                    S* dst = dx + (h * w_.in_w + w) * c;
                    const S* src = row + (i * w_.size_w + j) * c;
                    for (Index q = 0; q < c; ++q) dst[q] += src[q];
                }
            }
        }
    }

    // Values of dcols the backward pass keeps on the stack (64 KiB of floats).
    static constexpr Index stack_values = 16384;

    Window2D w_;
    Index filters_;
    Index depth_;  // kh * kw * channels: the kernel's rows, a window's values
    Conv2DOptions options_;
    FusedActivation<S> activation_;
    mutable Matrix<S> cols_;  // training: each sample's unrolled input, (rows * positions) x depth
    mutable Matrix<S> dz_;    // training: the delta before the activation, (rows * positions) x filters
    Matrix<S> kernel_t_;      // W^T (filters x depth), made by begin_batch
};

}  // namespace detail

/// A 2-D convolution layer, as Keras's `Conv2D(filters, kernel_size, ...)`, channels last:
/// samples of (height, width, channels) give (out_h, out_w, filters), each output the dot
/// product of a kernel_size window of the input (all channels) with one filter, plus its bias.
///
/// \code
/// lamina::Conv2D(32, 3, {.activation = "relu", .input_shape = {28, 28, 1}})   // first layer
/// lamina::Conv2D(64, {3, 3}, {.strides = 2, .padding = "same"})
/// \endcode
class Conv2D {
public:
    /// \throws std::invalid_argument when `filters` is not positive, a kernel size, stride or
    ///         padding is invalid, or the activation unknown.
    Conv2D(Index filters, Size2 kernel_size, Conv2DOptions options = {})
        : filters_(filters), kernel_size_(kernel_size), options_(std::move(options)) {
        const std::string what = text();
        if (filters < 1)
            throw std::invalid_argument(what + ": filters must be positive, found " + std::to_string(filters));
        detail::check_size2(kernel_size_, what, "kernel_size");
        detail::check_size2(options_.strides, what, "strides");
        options_.padding = detail::padding_name(options_.padding, what);
        (void)detail::fused_activation_of(options_.activation, what);
        options_.kernel_regularizer.validate(what + ": kernel_regularizer");
    }

    [[nodiscard]] Index filters() const noexcept { return filters_; }
    [[nodiscard]] const Size2& kernel_size() const noexcept { return kernel_size_; }
    [[nodiscard]] const Conv2DOptions& options() const noexcept { return options_; }

    /// Builds the layer after one whose output is `input` (empty: it is the first).
    /// \throws std::invalid_argument when first without input_shape; shape_error when the input
    ///         is not (height, width, channels) or, with "valid", smaller than the kernel.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    [[nodiscard]] std::string text() const {
        return "Conv2D(" + std::to_string(filters_) + ", " + kernel_size_.text() + ")";
    }

    Index filters_;
    Size2 kernel_size_;
    Conv2DOptions options_;
};

template <Scalar S>
std::unique_ptr<Layer<S>> Conv2D::build(const Shape& input) const {
    const std::string what = text();
    const Shape in = input_shape_for(what, input, options_.input_shape);
    const auto window = detail::make_window(in, kernel_size_, options_.strides, options_.padding, what);
    return std::make_unique<detail::Conv2DLayer<S>>(window, filters_, options_, what);
}

template <Scalar S>
std::unique_ptr<Layer<S>> detail::Conv2DLayer<S>::from_config(const Config& config, const Shape& input) {
    ConfigReader r(config, kind_name);
    Conv2DOptions options;
    const Index filters = r.get<Index>("filters");
    const Size2 kernel_size = read_size2(r, "kernel_size", kind_name);
    options.strides = read_size2(r, "strides", kind_name, std::vector<Index>{1, 1});
    options.padding = r.get<std::string>("padding", "valid");
    options.activation = r.get<std::string>("activation", "linear");
    options.use_bias = r.get<bool>("use_bias", true);
    options.kernel_initializer = r.get<std::string>("kernel_initializer", "glorot_uniform");
    options.bias_initializer = r.get<std::string>("bias_initializer", "zeros");
    const auto factors = r.get<std::vector<double>>("kernel_regularizer", {0.0, 0.0});
    if (factors.size() != 2)
        throw std::invalid_argument("Conv2D: kernel_regularizer must be (l1, l2), found " +
                                    Config::value_text(factors));
    options.kernel_regularizer = {factors[0], factors[1]};
    r.finish();
    return Conv2D(filters, kernel_size, options).template build<S>(input);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp). `build` is defined outside the
// class so that it is not inline: an inline one would be instantiated here all the same.
extern template std::unique_ptr<Layer<float>> Conv2D::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> Conv2D::build<double>(const Shape&) const;
#endif

}  // namespace lamina
