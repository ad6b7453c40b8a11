// SPDX-License-Identifier: MIT
// lamina: the Dense (fully connected) layer, output = dot(x, kernel) + bias.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/gemm.hpp>
#include <lamina/layers/fused_activation.hpp>
#include <lamina/layers/initializers.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/layers/regularizers.hpp>

namespace lamina {

/// Options of a Dense layer, named as Keras names them.
struct DenseOptions {
    /// Width of the input; for the first layer of a model, Keras's shorthand for
    /// `input_shape = {input_dim}`; inferred otherwise (when given for a later layer it must
    /// match the previous layer's output).
    Index input_dim = 0;
    /// An element-wise activation applied to the output ("relu", "sigmoid", "tanh"), as
    /// Keras's `Dense(64, activation="relu")`; "linear" (Keras's None) applies nothing.
    std::string activation = "linear";
    /// How the kernel is drawn (Keras default: glorot_uniform).
    Initializer kernel_initializer = Initializer::glorot_uniform;
    /// How the bias is drawn (Keras default: zeros).
    Initializer bias_initializer = Initializer::zeros;
    /// A penalty on the kernel added to the loss, e.g. `regularizers::l2(1e-4)` (default: none).
    Regularizer kernel_regularizer{};
    /// The shape of one input sample, for the first layer (rank 1: Dense reads flat samples;
    /// put a Flatten before it for images).
    Shape input_shape{};
};

namespace detail {

/// The Dense layer of scalar `S`. Parameters, in the model's flat buffer: the kernel
/// (input_dim x units, row-major, as Keras stores it), then the bias (units).
template <Scalar S>
class DenseLayer final : public Layer<S> {
public:
    static constexpr const char* kind_name = "Dense";

    /// \throws std::invalid_argument when the parameter count would overflow.
    DenseLayer(Index input_dim, Index units, const DenseOptions& options)
        : options_(options), activation_(options.activation, {units}, "Dense(" + std::to_string(units) + ")") {
        this->set_shapes({input_dim}, {units});
        this->add_weight("kernel", {input_dim, units});
        this->add_weight("bias", {units});
    }

    /// The layer `config` describes after a layer of output `input` (the registry's factory).
    /// \throws std::invalid_argument for a missing, unknown or invalid field; shape_error for
    ///         an input that is not flat.
    static std::unique_ptr<Layer<S>> from_config(const Config& config, const Shape& input);

    [[nodiscard]] std::string kind() const override { return kind_name; }
    [[nodiscard]] Config get_config() const override {
        const auto& r = options_.kernel_regularizer;
        Config config{{"units", this->output_dim()},
                      {"kernel_initializer", std::string(options_.kernel_initializer.name())},
                      {"bias_initializer", std::string(options_.bias_initializer.name())},
                      {"kernel_regularizer", std::vector<double>{r.l1, r.l2}}};
        // Written only when there is one, so that files without it read as before.
        if (activation_.active()) config.set("activation", activation_.name());
        return config;
    }
    // The first layer's product reads the gathered input's non-zeros (lamina's float
    // kernels); the input gradient reads W^T, made once per batch; the weight gradient can
    // be cut into slices of kernel rows; with an activation, the gradient reads the delta
    // before it, which backward keeps.
    [[nodiscard]] LayerTraits traits() const override {
        return {.reads_input_nonzeros = detail::gemm_rows_independent<S>(),
                .prepares_batch = true,
                .backward_as_first = activation_.active(),
                .gradient_slices = this->input_dim()};
    }

    void initialize(Random& rng) override {
        const auto fan_in = double(this->input_dim()), fan_out = double(this->output_dim());
        fill(kernel().data(), kernel().size(), options_.kernel_initializer, fan_in, fan_out, rng);
        fill(bias().data(), bias().size(), options_.bias_initializer, fan_in, fan_out, rng);
    }

    // y = x W + b: (rows x in)(in x units) + (1 x units) broadcast over rows, with x's
    // non-zeros when the model found them as it gathered x.
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& pass = {}) const override {
        detail::gemm<S>(x.rows(), this->output_dim(), this->input_dim(), {x.data(), x.outerStride(), 1},
                        kernel().data(), this->output_dim(), y.data(), y.outerStride(), bias().data(), pass.nonzeros,
                        pass.nonzero_words);
        activation_.forward(y);
    }

    // dx = dy W^T: (rows x units)(units x in), through the same product as the forward pass,
    // which reads W^T row-major: in training the one `begin_batch` made, otherwise a copy
    // made here. Each row of dx is then computed the same way whatever block of rows it is
    // part of (Eigen's product rounds a row differently in blocks of 100 rows than of 50),
    // so training gives the same weights on any number of threads.
    // With an activation, dy becomes dz = dy * f'(y) first, kept in training for `gradient`.
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& pass = {}) const override {
        if (!activation_.active()) return input_gradient_for(dy, dx, pass);
        const Index rows = dy.rows(), out = this->output_dim();
        if (!pass.training) {
            Matrix<S> dz(rows, out);
            activation_.backward(y, dy, dz);
            return input_gradient_for(dz, dx, pass);
        }
        if (dz_.rows() < pass.row + rows)
            throw std::logic_error(this->where() + ": a training backward of rows [" + std::to_string(pass.row) + ", " +
                                   std::to_string(pass.row + rows) + ") before begin_batch sized them");
        MatrixMap<S> dz(dz_.data() + pass.row * out, rows, out);
        activation_.backward(y, dy, dz);
        input_gradient_for(dz, dx, pass);
    }
    // The batch's W^T, and room for the delta before the activation.
    void begin_batch(Index rows) override {
        transpose_kernel(kernel_t_);
        if (activation_.active() && dz_.rows() < rows) dz_.resize(rows, this->output_dim());
    }

    // Slice `part` owns kernel rows [r0, r1) (input features): dW[r0:r1] = x[:, r0:r1]^T dy,
    // (r1-r0 x batch)(batch x units). The last slice also writes db = column sums of dy.
    // In the flat buffer the bias follows the kernel, so every slice's range is contiguous.
    ParameterRange gradient(ConstMatrixRef<S> x, ConstMatrixRef<S> delta, Index part, Index parts) override {
        const Index in = this->input_dim(), out = this->output_dim();
        // With an activation, the delta before it, which backward kept.
        const ConstMatrixRef<S> dy = activation_.active() ? ConstMatrixRef<S>(dz_.topRows(delta.rows())) : delta;
        const Index r0 = in * part / parts, r1 = in * (part + 1) / parts;
        S* kernel_grad = this->grads();
        // A(r, p) = x(p, r0 + r): the transposed slice, read in place through strides.
        detail::gemm<S>(r1 - r0, out, x.rows(), {x.data() + r0, 1, x.outerStride()}, dy.data(), dy.outerStride(),
                        kernel_grad + r0 * out, out);
        Index size = (r1 - r0) * out;
        if (options_.kernel_regularizer.active())
            options_.kernel_regularizer.add_gradient(kernel().data() + r0 * out, kernel_grad + r0 * out, size);
        if (part == parts - 1) {
            VectorMap<S>(kernel_grad + in * out, out) = dy.colwise().sum().transpose();
            size += out;
        }
        return {r0 * out, size};
    }

    [[nodiscard]] double regularization_loss() const override {
        return options_.kernel_regularizer.penalty(kernel().data(), kernel().size());
    }
    [[nodiscard]] const DenseOptions& options() const noexcept { return options_; }

private:
    [[nodiscard]] MatrixMap<S> kernel() const { return {this->params(), this->input_dim(), this->output_dim()}; }
    [[nodiscard]] VectorMap<S> bias() const {
        return {this->params() + this->input_dim() * this->output_dim(), this->output_dim()};
    }

    // t = W^T (units x in); allocates only when t is not that size yet.
    void transpose_kernel(Matrix<S>& t) const {
        const Index in = this->input_dim(), out = this->output_dim();
        t.resize(out, in);
        detail::transpose<S>(in, out, kernel().data(), out, t.data(), in);
    }
    // dx = dz W^T, through the training pass's W^T or one made here; nothing for a dx of no
    // columns (the first layer).
    void input_gradient_for(ConstMatrixRef<S> dz, MatrixRef<S> dx, const Pass& pass) const {
        if (dx.cols() == 0) return;
        if (pass.training) return input_gradient(dz, dx, kernel_t_);
        Matrix<S> transposed;
        transpose_kernel(transposed);
        input_gradient(dz, dx, transposed);
    }
    void input_gradient(ConstMatrixRef<S> dy, MatrixRef<S> dx, const Matrix<S>& transposed) const {
        const Index in = this->input_dim(), out = this->output_dim();
        detail::gemm<S>(dy.rows(), in, out, {dy.data(), dy.outerStride(), 1}, transposed.data(), in, dx.data(),
                        dx.outerStride());
    }

    DenseOptions options_;
    FusedActivation<S> activation_;
    Matrix<S> kernel_t_;    // W^T (units x in), made by begin_batch
    mutable Matrix<S> dz_;  // training, with an activation: the delta before it (rows x units)
};

}  // namespace detail

/// A densely connected layer, as Keras's `Dense(units, input_dim=...)`:
/// `output = dot(input, kernel) + bias`, with the kernel stored (input_dim x units).
///
/// \code
/// lamina::Dense(100, {.input_dim = 784})   // first layer
/// lamina::Dense(10)                         // input width inferred
/// \endcode
class Dense {
public:
    /// \throws std::invalid_argument when `units` or `options.input_dim` is negative, or `units` is 0.
    explicit Dense(Index units, DenseOptions options = {}) : units_(units), options_(std::move(options)) {
        if (units <= 0) throw std::invalid_argument("Dense: units must be positive, found " + std::to_string(units));
        if (options_.input_dim < 0)
            throw std::invalid_argument("Dense: input_dim must be positive, found " +
                                        std::to_string(options_.input_dim));
        if (options_.input_dim > 0 && !options_.input_shape.empty() &&
            options_.input_shape != Shape{options_.input_dim})
            throw std::invalid_argument("Dense(" + std::to_string(units) + "): input_dim " +
                                        std::to_string(options_.input_dim) + " and input_shape " +
                                        options_.input_shape.text() + " disagree; give one of them");
        options_.kernel_regularizer.validate("Dense(" + std::to_string(units) + "): kernel_regularizer");
        (void)detail::fused_activation_of(options_.activation, "Dense(" + std::to_string(units) + ")");
    }

    [[nodiscard]] Index units() const noexcept { return units_; }
    [[nodiscard]] const DenseOptions& options() const noexcept { return options_; }

    /// Builds the layer after one whose output is `input` (empty: it is the first).
    /// \throws std::invalid_argument when first without `input_dim`/`input_shape`, or when the
    ///         kernel would have more values than an index counts; shape_error when the given
    ///         input shape differs from the previous output, or the input is not flat.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    Index units_;
    DenseOptions options_;
};

template <Scalar S>
std::unique_ptr<Layer<S>> Dense::build(const Shape& input) const {
    const std::string what = "Dense(" + std::to_string(units_) + ")";
    const Shape own = options_.input_dim > 0 ? Shape{options_.input_dim} : options_.input_shape;
    if (options_.input_dim > 0 && !input.empty() && input != own)
        throw shape_error(what + ": input_dim " + std::to_string(options_.input_dim) +
                          " does not match the previous layer's output " +
                          (input.rank() == 1 ? std::to_string(input[0]) : input.text()));
    const Shape in = input_shape_for(what, input, own);
    if (in.rank() != 1)
        throw shape_error(what + ": needs flat samples (rank 1), found input shape " + in.text() +
                          "; add Flatten() before it");
    if (in[0] > std::numeric_limits<Index>::max() / units_ - 1)
        throw std::invalid_argument(what + ": a kernel of " + std::to_string(in[0]) + " x " + std::to_string(units_) +
                                    " has more values than an index can count");
    return std::make_unique<detail::DenseLayer<S>>(in[0], units_, options_);
}

template <Scalar S>
std::unique_ptr<Layer<S>> detail::DenseLayer<S>::from_config(const Config& config, const Shape& input) {
    ConfigReader r(config, kind_name);
    DenseOptions options;
    const Index units = r.get<Index>("units");
    options.kernel_initializer = r.get<std::string>("kernel_initializer", "glorot_uniform");
    options.bias_initializer = r.get<std::string>("bias_initializer", "zeros");
    options.activation = r.get<std::string>("activation", "linear");
    const auto factors = r.get<std::vector<double>>("kernel_regularizer", {0.0, 0.0});
    if (factors.size() != 2)
        throw std::invalid_argument("Dense: kernel_regularizer must be (l1, l2), found " + Config::value_text(factors));
    options.kernel_regularizer = {factors[0], factors[1]};
    r.finish();
    return Dense(units, options).template build<S>(input);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp). `build` is defined outside the
// class so that it is not inline: an inline one would be instantiated here all the same.
extern template std::unique_ptr<Layer<float>> Dense::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> Dense::build<double>(const Shape&) const;
#endif

}  // namespace lamina
