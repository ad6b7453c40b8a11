// SPDX-License-Identifier: MIT
// lamina: the `activation` argument of Dense and Conv2D, an element-wise Activation run inside the layer.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/layers/activation.hpp>
#include <lamina/layers/layer.hpp>

namespace lamina::detail {

/// The activation named `name` as a layer's `activation` argument.
/// \throws std::invalid_argument "<where>: ..." for an unknown name, for softmax, which needs
///         the loss to see its logits, and for silu and gelu, whose derivative reads their
///         input (add Activation(name) after the layer for these).
inline activation fused_activation_of(const std::string& name, const std::string& where) {
    activation a{};
    try {
        a = activation_from_string(name);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(where + ": " + e.what());
    }
    // silu and gelu compute their derivative from their input, which an activation run in
    // place over the layer's output no longer has.
    if (a == activation::silu || a == activation::gelu)
        throw std::invalid_argument(where + ": activation '" + name +
                                    "' is not fused into the layer (its derivative "
                                    "reads its input); add Activation(\"" +
                                    name + "\") after it");
    if (a == activation::softmax)
        throw std::invalid_argument(where + ": activation 'softmax' is not fused into the layer; add "
                                            "Activation(\"softmax\") after it, which the loss fuses with "
                                            "categorical cross-entropy");
    return a;
}

/// The activation a layer applies to its own output, as Keras's `Dense(64, activation="relu")`:
/// the Activation layer of that name, run in place on the layer's output. Its derivative is
/// written in terms of the output, so the layer keeps no pre-activation copy.
template <Scalar S>
class FusedActivation {
public:
    /// `name` for samples of `shape`; "linear" (Keras's default, and its `None`) applies nothing.
    /// \throws std::invalid_argument as `fused_activation_of`.
    FusedActivation(const std::string& name, const Shape& shape, const std::string& where) {
        const activation a = fused_activation_of(name, where);
        name_ = std::string(to_string(a));
        if (a != activation::linear) layer_ = Activation(a).build<S>(shape);
    }

    /// Keras's name of the activation: "linear", "relu".
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// Whether it changes anything (not "linear").
    [[nodiscard]] bool active() const noexcept { return layer_ != nullptr; }

    /// y = f(y) in place.
    void forward(MatrixRef<S> y) const {
        if (layer_) layer_->forward(y, y);
    }
    /// dz = dy * f'(y), for the y `forward` wrote; dz may be dy.
    void backward(ConstMatrixRef<S> y, ConstMatrixRef<S> dy, MatrixRef<S> dz) const {
        if (layer_) layer_->backward(y, y, dy, dz);
        else if (dz.data() != dy.data()) dz = dy;
    }

private:
    std::string name_;
    std::unique_ptr<Layer<S>> layer_;
};

}  // namespace lamina::detail
