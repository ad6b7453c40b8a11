// SPDX-License-Identifier: MIT
// lamina: BatchNormalization, as Keras's: batch statistics in training, moving averages in inference.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/layers/initializers.hpp>
#include <lamina/layers/layer.hpp>

namespace lamina {

/// Options of BatchNormalization, named as Keras names them, with Keras's defaults.
struct BatchNormalizationOptions {
    /// The axis of the features normalized apart, counted as Keras counts it (the batch is
    /// axis 0): -1, or the input's rank, both the last axis (channels last). Other axes are
    /// refused.
    Index axis = -1;
    /// How much of the moving mean and variance each training batch keeps:
    /// moving = moving * momentum + batch * (1 - momentum).
    double momentum = 0.99;
    /// Added to the variance before its square root.
    double epsilon = 0.001;
    /// Whether the layer has beta, an offset added after normalizing.
    bool center = true;
    /// Whether the layer has gamma, a factor applied after normalizing.
    bool scale = true;
    Initializer beta_initializer = Initializer::zeros;
    Initializer gamma_initializer = Initializer::ones;
    Initializer moving_mean_initializer = Initializer::zeros;
    Initializer moving_variance_initializer = Initializer::ones;
    /// The shape of one input sample, for the first layer.
    Shape input_shape{};
};

namespace detail {

/// BatchNormalization of scalar `S` over the last axis: with C features (channels) and P
/// positions per sample (P = 1 after Dense, height x width after Conv2D), each feature c is
/// normalized over the batch's rows x P values,
///   y = gamma[c] (x - mean[c]) / sqrt(var[c] + epsilon) + beta[c],
/// with the batch's mean and (biased) variance in training, which also update the moving
/// averages, and the moving averages in inference. Weights, in Keras's order: gamma (C, when
/// `scale`), beta (C, when `center`), then the non-trainable moving_mean and moving_variance.
///
/// In training the model calls `batch_forward` (the statistics, in slices of features) before
/// the rows' forwards and `batch_backward` (the sums of dy and dy x-hat, which are also the
/// gradients of beta and gamma) before their backwards; forward and backward are then one
/// affine map per feature, and every feature's sums run over the rows in the same order
/// whatever the slices, so the thread count changes nothing.
template <Scalar S>
class BatchNormalizationLayer final : public Layer<S> {
public:
    static constexpr const char* kind_name = "BatchNormalization";

    BatchNormalizationLayer(const Shape& input, const BatchNormalizationOptions& options)
        : options_(options), features_(input.back()), positions_(input.size() / input.back()) {
        this->set_shapes(input, input);
        if (options_.scale) this->add_weight("gamma", {features_});
        if (options_.center) this->add_weight("beta", {features_});
        this->add_weight("moving_mean", {features_}, false);
        this->add_weight("moving_variance", {features_}, false);
        for (auto* v : {&mean_, &inv_std_, &sum_dy_, &sum_dy_xhat_}) v->setZero(features_);
        for (auto* v : {&scale_, &shift_, &dy_factor_, &x_factor_, &offset_}) v->setZero(features_);
    }

    /// The registry's factory.
    static std::unique_ptr<Layer<S>> from_config(const Config& config, const Shape& input);

    [[nodiscard]] std::string kind() const override { return kind_name; }
    [[nodiscard]] Config get_config() const override {
        return {{"axis", options_.axis},
                {"momentum", options_.momentum},
                {"epsilon", options_.epsilon},
                {"center", options_.center},
                {"scale", options_.scale},
                {"beta_initializer", std::string(options_.beta_initializer.name())},
                {"gamma_initializer", std::string(options_.gamma_initializer.name())},
                {"moving_mean_initializer", std::string(options_.moving_mean_initializer.name())},
                {"moving_variance_initializer", std::string(options_.moving_variance_initializer.name())}};
    }
    [[nodiscard]] LayerTraits traits() const override { return {.batch_slices = features_}; }

    void initialize(Random& rng) override {
        const auto fan = double(features_);
        if (options_.scale) fill(gamma(), features_, options_.gamma_initializer, fan, fan, rng);
        if (options_.center) fill(beta(), features_, options_.beta_initializer, fan, fan, rng);
        fill(moving_mean(), features_, options_.moving_mean_initializer, fan, fan, rng);
        fill(moving_variance(), features_, options_.moving_variance_initializer, fan, fan, rng);
    }

    // The batch's mean and variance of features [c0, c1) (two passes, in double), the affine
    // map forward applies, and, when the step updates the weights, the moving averages.
    void batch_forward(ConstMatrixRef<S> x, Index part, Index parts, bool update) override {
        const Index c0 = features_ * part / parts, c1 = features_ * (part + 1) / parts;
        const auto count = double(x.rows() * positions_);
        if (count == 0) return;
        double* mean = mean_.data();
        std::fill(mean + c0, mean + c1, 0.0);
        for_each_value(x, c0, c1, [&](Index c, S v) { mean[c] += double(v); });
        for (Index c = c0; c < c1; ++c) mean[c] /= count;
        double* var = inv_std_.data();  // the variance first, then 1 / sqrt(var + epsilon)
        std::fill(var + c0, var + c1, 0.0);
        for_each_value(x, c0, c1, [&](Index c, S v) {
            const double d = double(v) - mean[c];
            var[c] += d * d;
        });
        for (Index c = c0; c < c1; ++c) {
            var[c] /= count;
            if (update) {
                const double m = options_.momentum;
                moving_mean()[c] = S(double(moving_mean()[c]) * m + mean[c] * (1 - m));
                moving_variance()[c] = S(double(moving_variance()[c]) * m + var[c] * (1 - m));
            }
            var[c] = 1 / std::sqrt(var[c] + options_.epsilon);
            const double a = gamma_at(c) * var[c];
            scale_[c] = S(a);
            shift_[c] = S(beta_at(c) - mean[c] * a);
        }
    }

    // The sums of dy and dy x-hat over the batch for features [c0, c1), and the map backward
    // applies: dx = k (dy - sum(dy) / n - x-hat sum(dy x-hat) / n), k = gamma / sqrt(var + eps),
    // which is dy_factor dy + x_factor x + offset with x-hat = (x - mean) / sqrt(var + eps).
    void batch_backward(ConstMatrixRef<S> x, ConstMatrixRef<S> dy, Index part, Index parts) override {
        const Index c0 = features_ * part / parts, c1 = features_ * (part + 1) / parts;
        const auto count = double(x.rows() * positions_);
        if (count == 0) return;
        double* sum_dy = sum_dy_.data();
        double* sum_dy_xc = sum_dy_xhat_.data();  // first the sum of dy (x - mean)
        std::fill(sum_dy + c0, sum_dy + c1, 0.0);
        std::fill(sum_dy_xc + c0, sum_dy_xc + c1, 0.0);
        const double* mean = mean_.data();
        for (Index r = 0; r < x.rows(); ++r)
            for (Index p = 0; p < positions_; ++p) {
                const S* v = x.row(r).data() + p * features_;
                const S* g = dy.row(r).data() + p * features_;
                for (Index c = c0; c < c1; ++c) {
                    sum_dy[c] += double(g[c]);
                    sum_dy_xc[c] += double(g[c]) * (double(v[c]) - mean[c]);
                }
            }
        for (Index c = c0; c < c1; ++c) {
            const double inv_std = inv_std_[c], k = gamma_at(c) * inv_std;
            sum_dy_xc[c] *= inv_std;  // now the sum of dy x-hat
            const double mean_dy = sum_dy[c] / count, mean_dy_xhat = sum_dy_xc[c] / count;
            dy_factor_[c] = S(k);
            x_factor_[c] = S(-k * inv_std * mean_dy_xhat);
            offset_[c] = S(-k * mean_dy + k * inv_std * mean_[c] * mean_dy_xhat);
        }
    }

    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& pass = {}) const override {
        if (pass.training) return affine(x, y, scale_.data(), shift_.data());
        for_feature_blocks([&](Index c0, Index n, S* a, S* b) {
            for (Index c = 0; c < n; ++c) {
                const double k = gamma_at(c0 + c) / std::sqrt(double(moving_variance()[c0 + c]) + options_.epsilon);
                a[c] = S(k);
                b[c] = S(beta_at(c0 + c) - double(moving_mean()[c0 + c]) * k);
            }
            affine(x, y, a, b, c0, n);
        });
    }

    void backward(ConstMatrixRef<S> x, ConstMatrixRef<S> /*y*/, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                  const Pass& pass = {}) const override {
        if (dx.cols() == 0) return;
        if (pass.training) {
            // dx = dy_factor dy + (x_factor x + offset), the latter through the forward's map.
            affine(x, dx, x_factor_.data(), offset_.data());
            add_scaled(dy, dx, dy_factor_.data());
            return;
        }
        // Inference: the moving averages are constants, so dx = dy gamma / sqrt(var + epsilon).
        for_feature_blocks([&](Index c0, Index n, S* a, S* /*b*/) {
            for (Index c = 0; c < n; ++c)
                a[c] = S(gamma_at(c0 + c) / std::sqrt(double(moving_variance()[c0 + c]) + options_.epsilon));
            for (Index r = 0; r < dy.rows(); ++r)
                for (Index p = 0; p < positions_; ++p) {
                    const S* g = dy.row(r).data() + p * features_ + c0;
                    S* d = dx.row(r).data() + p * features_ + c0;
                    for (Index c = 0; c < n; ++c) d[c] = g[c] * a[c];
                }
        });
    }

    // d gamma = sum(dy x-hat), d beta = sum(dy), as batch_backward summed them.
    ParameterRange gradient(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*dy*/, Index /*part*/,
                            Index /*parts*/) override {
        S* g = this->grads();
        if (options_.scale) {
            for (Index c = 0; c < features_; ++c) g[c] = S(sum_dy_xhat_[c]);
            g += features_;
        }
        if (options_.center)
            for (Index c = 0; c < features_; ++c) g[c] = S(sum_dy_[c]);
        return {0, this->trainable_count()};
    }

    [[nodiscard]] const BatchNormalizationOptions& options() const noexcept { return options_; }

private:
    [[nodiscard]] S* gamma() const { return this->params(); }
    [[nodiscard]] S* beta() const { return this->params() + (options_.scale ? features_ : 0); }
    [[nodiscard]] S* moving_mean() const { return this->params() + this->trainable_count(); }
    [[nodiscard]] S* moving_variance() const { return moving_mean() + features_; }
    [[nodiscard]] double gamma_at(Index c) const { return options_.scale ? double(gamma()[c]) : 1.0; }
    [[nodiscard]] double beta_at(Index c) const { return options_.center ? double(beta()[c]) : 0.0; }

    // f(c, x(r, p C + c)) for every row r and position p, features c in [c0, c1), the rows
    // and positions in order for each feature.
    template <class F>
    void for_each_value(ConstMatrixRef<S> x, Index c0, Index c1, F&& f) const {
        for (Index r = 0; r < x.rows(); ++r)
            for (Index p = 0; p < positions_; ++p) {
                const S* v = x.row(r).data() + p * features_;
                for (Index c = c0; c < c1; ++c) f(c, v[c]);
            }
    }

    // y = x a + b, feature by feature, for features [c0, c0 + n) (all when n < 0).
    void affine(ConstMatrixRef<S> x, MatrixRef<S> y, const S* a, const S* b, Index c0 = 0, Index n = -1) const {
        if (n < 0) n = features_;
        for (Index r = 0; r < x.rows(); ++r)
            for (Index p = 0; p < positions_; ++p) {
                const S* __restrict in = x.row(r).data() + p * features_ + c0;
                S* __restrict out = y.row(r).data() + p * features_ + c0;
                for (Index c = 0; c < n; ++c) out[c] = in[c] * a[c] + b[c];
            }
    }
    // dx += dy a, feature by feature.
    void add_scaled(ConstMatrixRef<S> dy, MatrixRef<S> dx, const S* a) const {
        for (Index r = 0; r < dy.rows(); ++r)
            for (Index p = 0; p < positions_; ++p) {
                const S* __restrict g = dy.row(r).data() + p * features_;
                S* __restrict d = dx.row(r).data() + p * features_;
                for (Index c = 0; c < features_; ++c) d[c] += g[c] * a[c];
            }
    }

    // f(c0, n, a, b) for blocks of up to 256 features, with room for a per-feature map on the
    // stack (inference allocates nothing and needs nothing a concurrent call could change).
    template <class F>
    void for_feature_blocks(F&& f) const {
        constexpr Index block = 256;
        S a[block], b[block];
        for (Index c0 = 0; c0 < features_; c0 += block) f(c0, std::min(block, features_ - c0), a, b);
    }

    BatchNormalizationOptions options_;
    Index features_, positions_;
    // The running batch's, written by batch_forward and batch_backward (each slice its own
    // features) and read by forward, backward and gradient.
    Vector<double> mean_, inv_std_, sum_dy_, sum_dy_xhat_;
    Vector<S> scale_, shift_;                  // forward in training: y = x scale + shift
    Vector<S> dy_factor_, x_factor_, offset_;  // backward in training
};

}  // namespace detail

/// Batch normalization, as Keras's `BatchNormalization()`: each feature of the last axis
/// (the channels of an image, the units of a Dense) normalized to the batch's mean and
/// variance in training, to moving averages of them in inference, then scaled by gamma and
/// offset by beta. Its moving mean and variance are non-trainable weights: saved, loaded and
/// counted in `summary()` as such, updated by training, never by the optimizer.
///
/// \code
/// model.add(lamina::Conv2D(32, 3));
/// model.add(lamina::BatchNormalization());
/// model.add(lamina::Activation("relu"));
/// \endcode
class BatchNormalization {
public:
    /// \throws std::invalid_argument for a momentum outside [0, 1] or an epsilon that is not
    ///         positive and finite.
    explicit BatchNormalization(BatchNormalizationOptions options = {}) : options_(std::move(options)) {
        if (!(options_.momentum >= 0 && options_.momentum <= 1))
            throw std::invalid_argument("BatchNormalization: momentum must be in [0, 1], found " +
                                        Config::value_text(options_.momentum));
        if (!(options_.epsilon > 0 && std::isfinite(options_.epsilon)))
            throw std::invalid_argument("BatchNormalization: epsilon must be positive and finite, found " +
                                        Config::value_text(options_.epsilon));
    }

    [[nodiscard]] const BatchNormalizationOptions& options() const noexcept { return options_; }

    /// Builds the layer after one whose output is `input` (empty: it is the first).
    /// \throws std::invalid_argument when first without input_shape, or for an axis other than
    ///         the last.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;

private:
    BatchNormalizationOptions options_;
};

template <Scalar S>
std::unique_ptr<Layer<S>> BatchNormalization::build(const Shape& input) const {
    const Shape in = input_shape_for("BatchNormalization", input, options_.input_shape);
    if (options_.axis != -1 && options_.axis != Index(in.rank()))
        throw std::invalid_argument("BatchNormalization: axis " + std::to_string(options_.axis) +
                                    " is not supported on input shape " + in.text() +
                                    "; lamina normalizes the last axis (axis -1 or " + std::to_string(in.rank()) +
                                    ", counting the batch as axis 0)");
    return std::make_unique<detail::BatchNormalizationLayer<S>>(in, options_);
}

template <Scalar S>
std::unique_ptr<Layer<S>> detail::BatchNormalizationLayer<S>::from_config(const Config& config, const Shape& input) {
    ConfigReader r(config, kind_name);
    BatchNormalizationOptions o;
    o.axis = r.get<Index>("axis", -1);
    o.momentum = r.get<double>("momentum", 0.99);
    o.epsilon = r.get<double>("epsilon", 0.001);
    o.center = r.get<bool>("center", true);
    o.scale = r.get<bool>("scale", true);
    o.beta_initializer = r.get<std::string>("beta_initializer", "zeros");
    o.gamma_initializer = r.get<std::string>("gamma_initializer", "ones");
    o.moving_mean_initializer = r.get<std::string>("moving_mean_initializer", "zeros");
    o.moving_variance_initializer = r.get<std::string>("moving_variance_initializer", "ones");
    r.finish();
    return BatchNormalization(o).template build<S>(input);
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp).
extern template std::unique_ptr<Layer<float>> BatchNormalization::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> BatchNormalization::build<double>(const Shape&) const;
#endif

}  // namespace lamina
