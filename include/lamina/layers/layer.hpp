// SPDX-License-Identifier: MIT
// lamina: the interface every layer implements, and the type-erased spec a model builds layers from.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/types.hpp>

namespace lamina {

/// A layer's trainable arrays, in Keras's order (a Dense layer: kernel, then bias).
/// A kernel is (inputs x units); a bias is one row of (1 x units).
template <Scalar S>
using Weights = std::vector<Matrix<S>>;

/// The range of a layer's parameters, relative to its first one, that one slice of
/// `Layer::gradient` writes: [offset, offset + size).
struct ParameterRange {
    Index offset = 0;
    Index size = 0;
};

/// What a training pass tells a layer beyond its rows, for layers that act at random while
/// training (Dropout): a seed for this batch and layer, and the index within the batch of
/// the first row the call sees. A layer's random choices must depend only on these and the
/// row and column, never on how the batch was split between threads, so that a seed gives
/// the same training whatever the thread count.
///
/// For the first layer the model also passes where x is non-zero, found as it gathered the
/// batch: when `nonzeros` is not null, bit q of word `nonzeros[r * nonzero_words + c]` is set
/// exactly when x(r, 64 c + q) != 0 (NaN counts as non-zero), for the rows of the call.
struct TrainingPass {
    std::uint64_t seed = 0;
    Index row = 0;
    const std::uint64_t* nonzeros = nullptr;
    Index nonzero_words = 0;
};

/// A layer of a `Sequential` model.
///
/// Shape contract: `forward` maps x (rows x input_dim()) to y (rows x output_dim()); the rows
/// are independent samples, so a model may call `forward` and `backward` on any block of
/// rows, from several threads at once, each thread its own rows. `gradient` needs the whole
/// batch and is split by parameters instead: slice `part` of `parts` writes only its own
/// range of the gradient buffer. A layer is called once per batch (or per slice of a batch),
/// never per sample.
///
/// Parameters live in the model: a layer with `parameter_count() > 0` receives, through
/// `bind`, views into the model's flat parameter and gradient buffers.
template <Scalar S>
class Layer {
public:
    virtual ~Layer() = default;

    /// The kind of layer, as Keras names its class: "Dense", "Activation".
    [[nodiscard]] virtual std::string kind() const = 0;
    /// A one-line description for `summary()`, e.g. "activation: sigmoid".
    [[nodiscard]] virtual std::string config() const { return {}; }

    /// Width of one input sample.
    [[nodiscard]] Index input_dim() const { return input_dim_; }
    /// Width of one output sample.
    [[nodiscard]] Index output_dim() const { return output_dim_; }

    /// Number of trainable scalars the layer owns in the model's flat buffer.
    [[nodiscard]] virtual Index parameter_count() const { return 0; }
    /// Points the layer's weights at `params` and its gradients at `grads`, each
    /// `parameter_count()` long, owned by the model and valid until the next `bind`.
    virtual void bind(S* /*params*/, S* /*grads*/) {}
    /// Draws initial weights.
    virtual void initialize(Random& /*rng*/) {}

    /// y = f(x). Shapes: x (rows x input_dim()), y (rows x output_dim()); y is overwritten.
    virtual void forward(ConstMatrixRef<S> x, MatrixRef<S> y) const = 0;

    /// `forward` while training. Layers that behave differently in training (Dropout)
    /// override it; the others are the same in both.
    virtual void forward_training(ConstMatrixRef<S> x, MatrixRef<S> y, const TrainingPass& /*pass*/) const {
        forward(x, y);
    }
    /// True when `forward_training` draws at random (the model then derives a seed per batch).
    [[nodiscard]] virtual bool random_in_training() const { return false; }

    /// The input gradient dx = dL/dx from dy = dL/dy, for the same rows as `forward`.
    /// Shapes: x and dx (rows x input_dim()), y and dy (rows x output_dim()). dx is
    /// overwritten. A model skips this call for its first layer.
    virtual void backward(ConstMatrixRef<S> x, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx) const = 0;

    /// `backward` after `forward_training` with the same `pass`, after `prepare_backward`.
    virtual void backward_training(ConstMatrixRef<S> x, ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dx,
                                   const TrainingPass& /*pass*/) const {
        backward(x, y, dy, dx);
    }
    /// Called by the model before each training batch whose input gradients it needs, from
    /// one thread, with the weights that batch reads: a layer may prepare there what every
    /// block of rows of `backward_training` reads (Dense: its kernel transposed). The first
    /// call may allocate; later ones must not.
    virtual void prepare_backward() {}

    /// What the layer adds to the loss (a weight penalty such as L2), from its current
    /// weights; its gradient is part of what `gradient` writes. 0 for most layers.
    [[nodiscard]] virtual double regularization_loss() const { return 0; }

    /// Writes slice `part` (0 <= part < parts) of the parameter gradient dL/dw from the
    /// whole batch, overwriting (no zeroing pass needed), and returns the range written.
    /// Slices of different `part` are disjoint and may run concurrently.
    virtual ParameterRange gradient(ConstMatrixRef<S> /*x*/, ConstMatrixRef<S> /*dy*/, Index /*part*/,
                                    Index /*parts*/) {
        return {};
    }

    /// The trainable arrays, copied out (Keras `get_weights`).
    [[nodiscard]] virtual Weights<S> get_weights() const { return {}; }
    /// Replaces the trainable arrays (Keras `set_weights`).
    /// \throws shape_error when the count or a shape differs from `get_weights()`.
    virtual void set_weights(const Weights<S>& weights) {
        if (!weights.empty())
            throw shape_error(where() + ".set_weights: expected 0 arrays (the layer has no weights), found " +
                              std::to_string(weights.size()));
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

protected:
    Index input_dim_ = 0;
    Index output_dim_ = 0;

private:
    Index index_ = 0;
    std::string name_;
};

/// Something a `Sequential<S>` can build a layer from: a layer spec such as `Dense(100)`
/// or `Activation("relu")`, given the width of the previous layer's output (0 when the
/// spec is first and must carry its own `input_dim`). Any type with a member
/// `template <Scalar S> std::unique_ptr<Layer<S>> build(Index input_dim) const` converts.
template <Scalar S>
class LayerSpec {
public:
    template <class Spec>
        requires requires(const Spec& s, Index n) {
            { s.template build<S>(n) } -> std::convertible_to<std::unique_ptr<Layer<S>>>;
        }
    LayerSpec(Spec spec)  // NOLINT(google-explicit-constructor): specs convert implicitly
        : build_([spec = std::move(spec)](Index input_dim) { return spec.template build<S>(input_dim); }) {}

    /// Builds the layer after one whose output is `input_dim` wide (0: no previous layer).
    [[nodiscard]] std::unique_ptr<Layer<S>> build(Index input_dim) const { return build_(input_dim); }

private:
    std::function<std::unique_ptr<Layer<S>>(Index)> build_;
};

}  // namespace lamina
