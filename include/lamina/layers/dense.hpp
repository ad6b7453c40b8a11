// SPDX-License-Identifier: MIT
// lamina: the Dense (fully connected) layer, output = dot(x, kernel) + bias.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include <lamina/core/error.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/gemm.hpp>
#include <lamina/layers/initializers.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/layers/regularizers.hpp>

namespace lamina {

/// Options of a Dense layer, named as Keras names them.
struct DenseOptions {
    /// Width of the input; required for the first layer of a model, inferred otherwise
    /// (when given for a later layer it must match the previous layer's output).
    Index input_dim = 0;
    /// How the kernel is drawn (Keras default: glorot_uniform).
    Initializer kernel_initializer = Initializer::glorot_uniform;
    /// How the bias is drawn (Keras default: zeros).
    Initializer bias_initializer = Initializer::zeros;
    /// A penalty on the kernel added to the loss, e.g. `regularizers::l2(1e-4)` (default: none).
    Regularizer kernel_regularizer{};
};

namespace detail {

/// The Dense layer of scalar `S`. Parameters, in the model's flat buffer: the kernel
/// (input_dim x units, row-major, as Keras stores it), then the bias (units).
template <Scalar S>
class DenseLayer final : public Layer<S> {
public:
    DenseLayer(Index input_dim, Index units, const DenseOptions& options)
        : options_(options), kernel_(nullptr, input_dim, units), bias_(nullptr, units),
          kernel_grad_(nullptr, input_dim, units), bias_grad_(nullptr, units) {
        this->input_dim_ = input_dim;
        this->output_dim_ = units;
    }

    [[nodiscard]] std::string kind() const override { return "Dense"; }
    [[nodiscard]] std::string config() const override { return "units: " + std::to_string(this->output_dim_); }
    [[nodiscard]] Index parameter_count() const override { return (this->input_dim_ + 1) * this->output_dim_; }

    void bind(S* params, S* grads) override {
        const Index in = this->input_dim_, out = this->output_dim_;
        new (&kernel_) MatrixMap<S>(params, in, out);
        new (&bias_) VectorMap<S>(params + in * out, out);
        new (&kernel_grad_) MatrixMap<S>(grads, in, out);
        new (&bias_grad_) VectorMap<S>(grads + in * out, out);
    }

    void initialize(Random& rng) override {
        const auto fan_in = double(this->input_dim_), fan_out = double(this->output_dim_);
        fill(kernel_.data(), kernel_.size(), options_.kernel_initializer, fan_in, fan_out, rng);
        fill(bias_.data(), bias_.size(), options_.bias_initializer, fan_in, fan_out, rng);
    }

    // y = x W + b: (rows x in)(in x units) + (1 x units) broadcast over rows.
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y) const override { product(x, y, nullptr, 0); }

    // The same, with x's non-zeros when the model found them as it gathered x.
    void forward_training(ConstMatrixRef<S> x, MatrixRef<S> y, const TrainingPass& pass) const override {
        product(x, y, pass.nonzeros, pass.nonzero_words);
    }

    // dx = dy W^T: (rows x units)(units x in), through the same product as the forward pass,
    // which reads W^T row-major (copied here; in training, once per batch).
    void backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*y*/, ConstMatrixRef<S> dy,
                  MatrixRef<S> dx) const override {
        Matrix<S> transposed;
        transpose_kernel(transposed);
        input_gradient(dy, dx, transposed);
    }
    void backward_training(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*y*/, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                           const TrainingPass& /*pass*/) const override {
        input_gradient(dy, dx, kernel_t_);
    }
    // The batch's W^T. Each row of dx is then computed the same way whatever block of rows
    // it is part of (Eigen's product rounds a row differently in blocks of 100 rows than of
    // 50), so training gives the same weights on any number of threads.
    void prepare_backward() override { transpose_kernel(kernel_t_); }

    // Slice `part` owns kernel rows [r0, r1) (input features): dW[r0:r1] = x[:, r0:r1]^T dy,
    // (r1-r0 x batch)(batch x units). The last slice also writes db = column sums of dy.
    // In the flat buffer the bias follows the kernel, so every slice's range is contiguous.
    ParameterRange gradient(ConstMatrixRef<S> x, ConstMatrixRef<S> dy, Index part, Index parts) override {
        const Index in = this->input_dim_, out = this->output_dim_;
        const Index r0 = in * part / parts, r1 = in * (part + 1) / parts;
        // A(r, p) = x(p, r0 + r): the transposed slice, read in place through strides.
        detail::gemm<S>(r1 - r0, out, x.rows(), {x.data() + r0, 1, x.outerStride()}, dy.data(), dy.outerStride(),
                        kernel_grad_.data() + r0 * out, out);
        Index size = (r1 - r0) * out;
        if (options_.kernel_regularizer.active())
            options_.kernel_regularizer.add_gradient(kernel_.data() + r0 * out, kernel_grad_.data() + r0 * out, size);
        if (part == parts - 1) {
            bias_grad_ = dy.colwise().sum().transpose();
            size += out;
        }
        return {r0 * out, size};
    }

    [[nodiscard]] double regularization_loss() const override {
        return options_.kernel_regularizer.penalty(kernel_.data(), kernel_.size());
    }
    [[nodiscard]] const DenseOptions& options() const noexcept { return options_; }

    [[nodiscard]] Weights<S> get_weights() const override { return {Matrix<S>(kernel_), Matrix<S>(bias_.transpose())}; }

    void set_weights(const Weights<S>& weights) override {
        const Index in = this->input_dim_, out = this->output_dim_;
        if (weights.size() != 2)
            throw shape_error(this->where() + ".set_weights: expected 2 arrays (kernel, bias), found " +
                              std::to_string(weights.size()));
        check_shape(weights[0], in, out, "kernel");
        check_shape(weights[1], 1, out, "bias");
        kernel_ = weights[0];
        bias_ = weights[1].transpose();
    }

private:
    void product(ConstMatrixRef<S> x, MatrixRef<S> y, const std::uint64_t* nonzeros, Index words) const {
        const Index in = this->input_dim_, out = this->output_dim_;
        detail::gemm<S>(x.rows(), out, in, {x.data(), x.outerStride(), 1}, kernel_.data(), out, y.data(),
                        y.outerStride(), bias_.data(), nonzeros, words);
    }

    // t = W^T (units x in); allocates only when t is not that size yet.
    void transpose_kernel(Matrix<S>& t) const {
        const Index in = this->input_dim_, out = this->output_dim_;
        t.resize(out, in);
        detail::transpose<S>(in, out, kernel_.data(), out, t.data(), in);
    }
    void input_gradient(ConstMatrixRef<S> dy, MatrixRef<S> dx, const Matrix<S>& transposed) const {
        const Index in = this->input_dim_, out = this->output_dim_;
        detail::gemm<S>(dy.rows(), in, out, {dy.data(), dy.outerStride(), 1}, transposed.data(), in, dx.data(),
                        dx.outerStride());
    }
    void check_shape(const Matrix<S>& m, Index rows, Index cols, const char* what) const {
        if (m.rows() != rows || m.cols() != cols)
            throw shape_error(this->where() + ".set_weights: " + what + " expected " + std::to_string(rows) + "x" +
                              std::to_string(cols) + ", found " + std::to_string(m.rows()) + "x" +
                              std::to_string(m.cols()));
    }

    DenseOptions options_;
    MatrixMap<S> kernel_;
    VectorMap<S> bias_;
    MatrixMap<S> kernel_grad_;
    VectorMap<S> bias_grad_;
    Matrix<S> kernel_t_;  // W^T (units x in), made by prepare_backward
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
    explicit Dense(Index units, DenseOptions options = {}) : units_(units), options_(options) {
        if (units <= 0) throw std::invalid_argument("Dense: units must be positive, found " + std::to_string(units));
        if (options.input_dim < 0)
            throw std::invalid_argument("Dense: input_dim must be positive, found " +
                                        std::to_string(options.input_dim));
        options.kernel_regularizer.validate("Dense(" + std::to_string(units) + "): kernel_regularizer");
    }

    [[nodiscard]] Index units() const noexcept { return units_; }
    [[nodiscard]] const DenseOptions& options() const noexcept { return options_; }

    /// Builds the layer after one whose output is `input_dim` wide (0: it is the first).
    /// \throws std::invalid_argument when first without `input_dim`;
    ///         shape_error when `options.input_dim` differs from the previous output.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(Index input_dim) const {
        if (input_dim == 0 && options_.input_dim == 0)
            throw std::invalid_argument("Dense(" + std::to_string(units_) +
                                        "): the first layer needs input_dim, e.g. Dense(" + std::to_string(units_) +
                                        ", {.input_dim = 784})");
        if (input_dim != 0 && options_.input_dim != 0 && options_.input_dim != input_dim)
            throw shape_error("Dense(" + std::to_string(units_) + "): input_dim " + std::to_string(options_.input_dim) +
                              " does not match the previous layer's output " + std::to_string(input_dim));
        return std::make_unique<detail::DenseLayer<S>>(input_dim != 0 ? input_dim : options_.input_dim, units_,
                                                       options_);
    }

private:
    Index units_;
    DenseOptions options_;
};

}  // namespace lamina
