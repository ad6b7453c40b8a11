// SPDX-License-Identifier: MIT
// lamina: a model's layers over one flat parameter buffer and one flat gradient buffer.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <lamina/core/random.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/snake_case.hpp>
#include <lamina/layers/layer.hpp>

namespace lamina::detail {

/// The layers of a model in order, their parameters laid end to end in one flat buffer and
/// their gradients in another; each layer holds views into both (`Layer::bind`). It also
/// keeps what the training step asks of the layers' traits, so that it asks once.
template <Scalar S>
class LayerStack {
public:
    [[nodiscard]] Index size() const noexcept { return Index(layers_.size()); }
    [[nodiscard]] bool empty() const noexcept { return layers_.empty(); }
    [[nodiscard]] const std::vector<std::unique_ptr<Layer<S>>>& layers() const noexcept { return layers_; }
    [[nodiscard]] Layer<S>& operator[](Index i) { return *layers_[std::size_t(i)]; }
    [[nodiscard]] const Layer<S>& operator[](Index i) const { return *layers_[std::size_t(i)]; }
    [[nodiscard]] const Layer<S>& back() const { return *layers_.back(); }

    /// The output shape of the last layer (empty without layers): the next layer's input.
    [[nodiscard]] Shape output_shape() const { return layers_.empty() ? Shape{} : layers_.back()->output_shape(); }
    [[nodiscard]] Index input_dim() const noexcept { return layers_.empty() ? 0 : layers_.front()->input_dim(); }
    [[nodiscard]] Index output_dim() const noexcept { return layers_.empty() ? 0 : layers_.back()->output_dim(); }

    [[nodiscard]] Vector<S>& params() noexcept { return params_; }
    [[nodiscard]] const Vector<S>& params() const noexcept { return params_; }
    [[nodiscard]] Vector<S>& grads() noexcept { return grads_; }
    [[nodiscard]] const Vector<S>& grads() const noexcept { return grads_; }
    /// Where layer i's parameters start in the flat buffers.
    [[nodiscard]] Index offset(Index i) const { return offsets_[std::size_t(i)]; }

    /// Whether a layer draws at random in training (Dropout).
    [[nodiscard]] bool random_in_training() const noexcept { return random_in_training_; }
    /// The traits of layer i, as it gave them when added.
    [[nodiscard]] const LayerTraits& traits(Index i) const { return traits_[std::size_t(i)]; }

    /// Appends `added`, in order, naming each as Keras does ("dense", "dense_1", ...), lays
    /// out the parameters once for all of them (keeping the values already there) and draws
    /// the new layers' weights from `rng`. Nothing changes when it throws (a parameter count
    /// past an index, or no memory). Layers without parameters (Activation, Flatten) leave the
    /// buffers where they are, so that only the new layers are bound and a model built by
    /// adding L of them one at a time costs time linear in L.
    void append(std::vector<std::unique_ptr<Layer<S>>> added, Random& rng) {
        Index total = params_.size();
        for (const auto& l : added) {
            if (l->parameter_count() > std::numeric_limits<Index>::max() - total)
                throw std::invalid_argument("Sequential.add: " + l->kind() +
                                            ": the model's parameters would be more than an index can count");
            total += l->parameter_count();
        }
        const bool grows = total != params_.size();
        Vector<S> params, grads;
        if (grows) {  // may throw: nothing changed yet
            params = Vector<S>::Zero(total);
            grads = Vector<S>::Zero(total);
            params.head(params_.size()) = params_;
        }
        const std::size_t first = layers_.size(), needed = first + added.size();
        if (needed > layers_.capacity()) {  // geometric growth: appends one at a time stay linear
            const std::size_t capacity = std::max(needed, 2 * layers_.capacity());
            layers_.reserve(capacity);
            traits_.reserve(capacity);
            offsets_.reserve(capacity);
        }
        for (auto& l : added) {
            l->set_position(Index(layers_.size()), keras_name(l->kind()));
            traits_.push_back(l->traits());
            offsets_.push_back(offsets_.empty() ? 0 : offsets_.back() + layers_.back()->parameter_count());
            random_in_training_ = random_in_training_ || traits_.back().random_in_training;
            layers_.push_back(std::move(l));
        }
        if (grows) {
            params_ = std::move(params);
            grads_ = std::move(grads);
        }
        for (std::size_t i = grows ? 0 : first; i < layers_.size(); ++i) {
            layers_[i]->bind(params_.data() + offsets_[i], grads_.data() + offsets_[i]);
            ++binds_;
        }
        for (std::size_t i = first; i < layers_.size(); ++i) layers_[i]->initialize(rng);
    }

    /// How many times a layer was bound to the buffers since the stack was made (each append
    /// binds the new layers, and every layer when the buffers move): for tests of the cost
    /// of building a model.
    [[nodiscard]] Index binds() const noexcept { return binds_; }

    /// Draws every layer's weights again from `rng`.
    void initialize(Random& rng) {
        for (auto& layer : layers_) layer->initialize(rng);
    }

    /// The sum of every layer's weight penalty (L1/L2), from the current weights.
    [[nodiscard]] double regularization_loss() const {
        double sum = 0;
        for (const auto& layer : layers_) sum += layer->regularization_loss();
        return sum;
    }

private:
    // Keras's automatic names: "dense", "dense_1", "conv2d", "max_pooling2d", ...: the kind in
    // snake case, as Keras's to_snake_case makes it.
    std::string keras_name(const std::string& kind) {
        const std::string base = keras_snake_case(kind);
        const Index same = kinds_[kind]++;
        return same == 0 ? base : base + "_" + std::to_string(same);
    }

    std::vector<std::unique_ptr<Layer<S>>> layers_;
    std::vector<LayerTraits> traits_;
    std::vector<Index> offsets_;
    std::map<std::string, Index> kinds_;  // layers of each kind so far, for the names
    Vector<S> params_, grads_;
    bool random_in_training_ = false;
    Index binds_ = 0;
};

}  // namespace lamina::detail
