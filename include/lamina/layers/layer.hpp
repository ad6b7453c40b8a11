// SPDX-License-Identifier: MIT
// lamina: the interface every layer implements, and the type-erased spec a model builds layers from.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
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

namespace lamina {

/// A layer's trainable arrays, in Keras's order (a Dense layer: kernel, then bias), each as
/// a row-major matrix of (product of all dimensions but the last) x (the last): a Dense
/// kernel (inputs x units), a bias one row of (1 x units).
template <Scalar S>
using Weights = std::vector<Matrix<S>>;

/// The name and shape of one of a layer's weight arrays, as Keras names them: "kernel"
/// (784, 100), "bias" (100). The arrays lie one after the other in the layer's part of the
/// model's flat buffer, each row-major, the trainable ones first.
struct WeightSpec {
    std::string name;
    Shape shape;
    /// False for a weight the layer keeps up to date itself and the optimizer never changes
    /// (BatchNormalization's moving mean and variance); saved and loaded as the others are.
    bool trainable = true;
};

/// The range of a layer's parameters, relative to its first one, that one slice of
/// `Layer::gradient` writes: [offset, offset + size).
struct ParameterRange {
    Index offset = 0;
    Index size = 0;
};

/// What a model tells a layer about the pass it runs in, beyond its rows.
///
/// A layer's random choices in training (Dropout) must depend only on `seed`, `row` and the
/// element's place, never on how the batch was split between threads, so that a seed gives
/// the same training whatever the thread count.
struct Pass {
    /// True in `fit`, `train_on_batch` and `loss_and_gradient`; false in `predict` and `evaluate`.
    bool training = false;
    /// A seed for this batch and layer.
    std::uint64_t seed = 0;
    /// The index within the batch of the first row the call sees.
    Index row = 0;
    /// A hint for layers whose traits ask for it (`reads_input_nonzeros`): where the input is
    /// non-zero, found as the model gathered the batch. When not null, bit q of word
    /// `nonzeros[r * nonzero_words + c]` is set exactly when x(r, 64 c + q) != 0 (NaN counts
    /// as non-zero), for the rows of the call. Layers must compute the same without it.
    const std::uint64_t* nonzeros = nullptr;
    Index nonzero_words = 0;
};

/// What a layer can do or needs beyond forward and backward; the model asks once, when the
/// layer is added, and none of it is required.
struct LayerTraits {
    /// Forward draws at random in training (the model then derives a seed per batch).
    bool random_in_training = false;
    /// As the first layer, the layer can use the `Pass::nonzeros` hint.
    bool reads_input_nonzeros = false;
    /// The layer wants `begin_batch(rows)` before each training batch.
    bool prepares_batch = false;
    /// The layer's `gradient` reads what its `forward` and `backward` of the batch kept (a
    /// convolution's unrolled input, the delta before a fused activation): the model calls
    /// `begin_batch` and `backward` for it even when it is the first layer, the latter with a
    /// dx of no columns.
    bool backward_as_first = false;
    /// Forward is a softmax over each row of its input: a loss that fuses softmax (categorical
    /// cross-entropy) may take this layer's input as logits and skip it in training.
    bool row_softmax = false;
    /// How many disjoint slices `gradient` can write concurrently (at least 1).
    Index gradient_slices = 1;
    /// Training forward and backward read statistics of the whole batch (BatchNormalization's
    /// mean and variance): when above 0, the model calls `batch_forward` before the batch's
    /// training forwards and `batch_backward` before its backwards, each in up to this many
    /// disjoint slices that may run concurrently.
    Index batch_slices = 0;
};

/// A layer of a `Sequential` model.
///
/// Shape contract: a layer maps samples of `input_shape()` to samples of `output_shape()`;
/// `forward` takes x (rows x input_dim()) and writes y (rows x output_dim()), each row one
/// sample flattened row-major, channels last. Rows are independent samples, so a model may
/// call `forward` and `backward` on any block of rows, from several threads at once, each
/// thread its own rows. `gradient` needs the whole batch and is split by parameters instead:
/// slice `part` of `parts` writes only its own range of the gradient buffer. A layer is
/// called once per batch (or per block of a batch), never per sample.
///
/// A layer describes itself: its `kind()` (Keras's class name), its configuration
/// (`get_config()`, Keras's field names) and its weights' names and shapes (`weight_specs()`).
/// With a factory in the registry (lamina/layers/registry.hpp) that is all the model file,
/// `.npz` archives and `summary()` need.
///
/// Parameters live in the model: a layer with weights receives, through `bind`, views into
/// the model's flat parameter and gradient buffers.
template <Scalar S>
class Layer {
public:
    virtual ~Layer() = default;

    /// The kind of layer, as Keras names its class: "Dense", "Activation".
    [[nodiscard]] virtual std::string kind() const = 0;
    /// The configuration that, with the input shape, rebuilds this layer through the registry.
    [[nodiscard]] virtual Config get_config() const { return {}; }
    /// A one-line description for `summary()`, e.g. "activation: sigmoid".
    [[nodiscard]] std::string config() const { return get_config().text(); }
    /// What the layer can do or needs beyond forward and backward.
    [[nodiscard]] virtual LayerTraits traits() const { return {}; }

    /// The shape of one input sample, e.g. (28, 28, 1).
    [[nodiscard]] const Shape& input_shape() const noexcept { return input_shape_; }
    /// The shape of one output sample, e.g. (26, 26, 32).
    [[nodiscard]] const Shape& output_shape() const noexcept { return output_shape_; }
    /// Width of one input sample: the product of `input_shape()`.
    [[nodiscard]] Index input_dim() const noexcept { return input_dim_; }
    /// Width of one output sample: the product of `output_shape()`.
    [[nodiscard]] Index output_dim() const noexcept { return output_dim_; }

    /// The weight arrays' names and shapes, in Keras's order.
    [[nodiscard]] const std::vector<WeightSpec>& weight_specs() const noexcept { return weight_specs_; }
    /// Number of scalars the layer owns in the model's flat buffer, trainable or not.
    [[nodiscard]] Index parameter_count() const noexcept { return parameter_count_; }
    /// Number of those that are trainable: the first ones (`gradient` writes only them).
    [[nodiscard]] Index trainable_count() const noexcept { return trainable_count_; }
    /// Points the layer's weights at `params` and its gradients at `grads`, each
    /// `parameter_count()` long, owned by the model and valid until the next `bind`.
    virtual void bind(S* params, S* grads) {
        params_ = params;
        grads_ = grads;
    }
    /// Draws initial weights.
    virtual void initialize(Random& /*rng*/) {}

    /// y = f(x). Shapes: x (rows x input_dim()), y (rows x output_dim()); y is overwritten.
    /// `pass` says whether the model trains (Dropout only drops then) and gives the hints.
    virtual void forward(ConstMatrixRef<S> x, MatrixRef<S> y, const Pass& pass = {}) const = 0;

    /// The input gradient dx = dL/dx from dy = dL/dy, for the same rows and `pass` as a
    /// `forward` that gave y. Shapes: x and dx (rows x input_dim()), y and dy (rows x
    /// output_dim()). dx is overwritten. A model skips this call for its first layer, unless
    /// its traits set `backward_as_first`; dx then has no columns and only what `gradient`
    /// reads is kept.
    virtual void backward(ConstMatrixRef<S> x, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                          const Pass& pass = {}) const = 0;

    /// For layers whose traits set `batch_slices`: slice `part` of `parts` of what the training
    /// forward of the batch reads of the whole batch x (rows x input_dim()), before any block
    /// of its rows runs `forward`. `update` is true when the step goes on to update the
    /// weights (fit, train_on_batch), false when it only computes the gradient
    /// (loss_and_gradient): a layer updates its own non-trainable weights (moving averages)
    /// only then. Slices of different `part` are disjoint and may run concurrently; what a
    /// slice computes must not depend on `parts`, so that any thread count trains the same.
    virtual void batch_forward(ConstMatrixRef<S> /*x*/, Index /*part*/, Index /*parts*/, bool /*update*/) {}
    /// For layers whose traits set `batch_slices`: slice `part` of `parts` of what backward
    /// reads of the whole batch (x and dy, rows x input_dim() and rows x output_dim()), after
    /// the batch's training forward and before any block of its rows runs `backward`; also
    /// what `gradient` then writes. The same rules as `batch_forward`.
    virtual void batch_backward(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*dy*/, Index /*part*/, Index /*parts*/) {}

    /// Called before each training batch of `rows` rows, from one thread, with the weights that
    /// batch reads, for layers whose traits set `prepares_batch`: a layer may make there what
    /// every block of rows reads (Dense: its kernel transposed) and size what its training
    /// passes keep for `gradient`. The first call of a size may allocate; later ones must not.
    virtual void begin_batch(Index /*rows*/) {}

    /// What the layer adds to the loss (a weight penalty such as L2), from its current
    /// weights; its gradient is part of what `gradient` writes. 0 for most layers.
    [[nodiscard]] virtual double regularization_loss() const { return 0; }

    /// Writes slice `part` (0 <= part < parts <= traits().gradient_slices) of the parameter
    /// gradient dL/dw from the whole batch, overwriting (no zeroing pass needed), and returns
    /// the range written; the slices' ranges tile [0, trainable_count()). Slices of different `part` are disjoint and
    /// may run concurrently. It follows the training `forward` and `backward` of the same batch (of every block of its
    /// rows, at their `Pass::row`), whose kept values a layer may read
    /// (`backward_as_first`).
    virtual ParameterRange gradient(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*dy*/, Index /*part*/,
                                    Index /*parts*/) {
        return {};
    }

    /// The trainable arrays, copied out (Keras `get_weights`), shaped as `Weights` says.
    [[nodiscard]] Weights<S> get_weights() const {
        Weights<S> out;
        const S* p = params_;
        for (const auto& w : weight_specs_) {
            const auto [rows, cols] = matrix_shape(w.shape);
            out.emplace_back(Eigen::Map<const Matrix<S>>(p, rows, cols));
            p += rows * cols;
        }
        return out;
    }
    /// Replaces the trainable arrays (Keras `set_weights`).
    /// \throws shape_error when the count or a shape differs from `get_weights()`; nothing changes then.
    void set_weights(const Weights<S>& weights) {
        if (weights.size() != weight_specs_.size()) {
            std::string names;
            for (const auto& w : weight_specs_) names += (names.empty() ? "" : ", ") + w.name;
            throw shape_error(where() + ".set_weights: expected " + std::to_string(weight_specs_.size()) + " arrays" +
                              (names.empty() ? " (the layer has no weights)" : " (" + names + ")") + ", found " +
                              std::to_string(weights.size()));
        }
        for (std::size_t k = 0; k < weights.size(); ++k) {
            const auto [rows, cols] = matrix_shape(weight_specs_[k].shape);
            if (weights[k].rows() != rows || weights[k].cols() != cols)
                throw shape_error(where() + ".set_weights: " + weight_specs_[k].name + " expected " +
                                  std::to_string(rows) + "x" + std::to_string(cols) + ", found " +
                                  std::to_string(weights[k].rows()) + "x" + std::to_string(weights[k].cols()));
        }
        S* p = params_;
        for (const auto& w : weights) {
            Eigen::Map<Matrix<S>>(p, w.rows(), w.cols()) = w;
            p += w.size();
        }
    }

    /// The layer's name in its model, as Keras names them: "dense", "dense_1", "activation".
    [[nodiscard]] const std::string& name() const { return name_; }
    /// Where the layer sits, for error messages: "layer 2 (Dense 'dense_1')".
    [[nodiscard]] std::string where() const {
        return "layer " + std::to_string(index_) + " (" + kind() + " '" + name_ + "')";
    }
    /// Called by the model that owns the layer.
    void set_position(Index index, std::string name) {
        index_ = index;
        name_ = std::move(name);
    }

    /// The (rows, cols) of the row-major matrix that holds an array of `shape`: the product
    /// of all dimensions but the last, and the last (a rank-1 array is one row).
    [[nodiscard]] static std::pair<Index, Index> matrix_shape(const Shape& shape) {
        const Index cols = shape.back();
        return {cols == 0 ? 0 : shape.size() / cols, cols};
    }

protected:
    /// Sets the shapes; derived constructors call it once.
    void set_shapes(Shape input, Shape output) {
        input_shape_ = std::move(input);
        output_shape_ = std::move(output);
        input_dim_ = input_shape_.size();
        output_dim_ = output_shape_.size();
    }
    /// Declares the next weight array; derived constructors call it, in Keras's order, the
    /// trainable ones first (as Keras orders a layer's weights).
    /// \throws std::invalid_argument when the layer's parameters would overflow an Index;
    ///         std::logic_error for a trainable weight after a non-trainable one.
    void add_weight(std::string name, const Shape& shape, bool trainable = true) {
        const Shape checked = Shape::checked(shape.dims(), kind(), name);
        const Index n = checked.size();
        if (n > std::numeric_limits<Index>::max() - parameter_count_)
            throw std::invalid_argument(kind() + ": the weights have more values than an index can count");
        if (trainable && trainable_count_ != parameter_count_)
            throw std::logic_error(kind() + ": trainable weight '" + name + "' after a non-trainable one");
        parameter_count_ += n;
        if (trainable) trainable_count_ += n;
        weight_specs_.push_back({std::move(name), checked, trainable});
    }
    /// The layer's weights and gradients in the model's buffers, as `bind` gave them.
    [[nodiscard]] S* params() const noexcept { return params_; }
    [[nodiscard]] S* grads() const noexcept { return grads_; }

private:
    Shape input_shape_, output_shape_;
    Index input_dim_ = 0, output_dim_ = 0;
    std::vector<WeightSpec> weight_specs_;
    Index parameter_count_ = 0, trainable_count_ = 0;
    S* params_ = nullptr;
    S* grads_ = nullptr;
    Index index_ = 0;
    std::string name_;
};

/// The shape a layer spec is built for: the previous layer's output shape, or, for the first
/// layer, an empty shape (the spec then needs its own `input_shape`). Throws the usual
/// errors for a spec that cannot be first or whose given input shape does not match.
/// \param kind the spec's text for messages, e.g. "Dense(10)".
/// \param previous the previous layer's output shape (empty for the first layer).
/// \param own the spec's own `input_shape` (empty when not given).
/// \throws std::invalid_argument when neither is given; shape_error when both differ.
inline Shape input_shape_for(const std::string& kind, const Shape& previous, const Shape& own) {
    if (previous.empty() && own.empty())
        throw std::invalid_argument(kind + ": the first layer needs input_dim or input_shape, e.g. " + kind +
                                    " with {.input_dim = 784} or {.input_shape = {28, 28, 1}}");
    if (!previous.empty() && !own.empty() && previous != own)
        throw shape_error(kind + ": input_shape " + own.text() + " does not match the previous layer's output " +
                          previous.text());
    return previous.empty() ? Shape::checked(own.dims(), kind, "input_shape") : previous;
}

/// Something a `Sequential<S>` can build a layer from: a layer spec such as `Dense(100)`
/// or `Activation("relu")`, given the previous layer's output shape (empty when the spec is
/// first and must carry its own input shape). Any type with a member
/// `template <Scalar S> std::unique_ptr<Layer<S>> build(const Shape& input_shape) const`
/// converts.
template <Scalar S>
class LayerSpec {
public:
    template <class Spec>
        requires requires(const Spec& s, const Shape& shape) {
            { s.template build<S>(shape) } -> std::convertible_to<std::unique_ptr<Layer<S>>>;
        }
    LayerSpec(Spec spec)  // NOLINT(google-explicit-constructor): specs convert implicitly
        : build_([spec = std::move(spec)](const Shape& input) { return spec.template build<S>(input); }) {}

    /// Builds the layer after one whose output is `input_shape` (empty: no previous layer).
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input_shape) const { return build_(input_shape); }

private:
    std::function<std::unique_ptr<Layer<S>>(const Shape&)> build_;
};

}  // namespace lamina
