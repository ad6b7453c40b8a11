// SPDX-License-Identifier: MIT
// lamina: the one table from a layer kind's name to the factory that builds it from its config.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lamina/core/config.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/layers/activation.hpp>
#include <lamina/layers/batch_normalization.hpp>
#include <lamina/layers/conv2d.hpp>
#include <lamina/layers/dense.hpp>
#include <lamina/layers/dropout.hpp>
#include <lamina/layers/flatten.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/layers/pooling.hpp>
#include <lamina/layers/reshape.hpp>

namespace lamina {

/// Builds a layer of one kind from its config (as `Layer::get_config()` gave it), after a
/// layer whose output is `input` (never empty: a model file stores the model's input shape).
/// \throws std::invalid_argument for a config it cannot use; shape_error for an input it
///         cannot take. Either names the kind and the field or shape.
template <Scalar S>
using LayerFactory = std::function<std::unique_ptr<Layer<S>>(const Config& config, const Shape& input)>;

/// The layer kinds a model file, `load_model` and a config can name, for models of scalar
/// `S`: each kind's name (Keras's class name, as `Layer::kind()` gives it) and its factory.
/// The built-in kinds are in it from the start; add your own with `register_layer`.
/// Registering is safe from any thread, alongside lookups.
template <Scalar S>
class LayerRegistry {
public:
    /// Adds (or replaces) the factory of `kind`.
    void add(std::string kind, LayerFactory<S> factory) {
        std::unique_lock lock(mutex_);
        factories_[std::move(kind)] = std::move(factory);
    }
    /// Whether `kind` has a factory.
    [[nodiscard]] bool contains(std::string_view kind) const {
        std::shared_lock lock(mutex_);
        return factories_.find(kind) != factories_.end();
    }
    /// Every kind, in alphabetical order.
    [[nodiscard]] std::vector<std::string> kinds() const {
        std::shared_lock lock(mutex_);
        std::vector<std::string> out;
        for (const auto& [kind, factory] : factories_) out.push_back(kind);
        return out;
    }
    /// The layer of `kind` that `config` describes, after a layer whose output is `input`.
    /// \throws std::invalid_argument for an unknown kind (listing the known ones) and as the
    ///         kind's factory does; shape_error as the factory does.
    [[nodiscard]] std::unique_ptr<Layer<S>> create(std::string_view kind, const Config& config,
                                                   const Shape& input) const {
        LayerFactory<S> factory;
        {
            std::shared_lock lock(mutex_);
            const auto it = factories_.find(kind);
            if (it != factories_.end()) factory = it->second;
        }
        if (!factory) {
            std::string known;
            for (const auto& k : kinds()) known += (known.empty() ? "" : ", ") + k;
            throw std::invalid_argument("unknown layer kind '" + std::string(kind) + "'; known: " + known +
                                        " (register your own with lamina::register_layer)");
        }
        return factory(config, input);
    }

    /// The registry of models of scalar `S`, with the built-in kinds.
    static LayerRegistry& instance();

private:
    LayerRegistry();

    mutable std::shared_mutex mutex_;
    std::map<std::string, LayerFactory<S>, std::less<>> factories_;
};

// Out of the class (not inline), so that with LAMINA_COMPILED the built-in kinds' factories,
// and so every layer, are instantiated in lamina::compiled only.
template <Scalar S>
LayerRegistry<S>& LayerRegistry<S>::instance() {
    static LayerRegistry registry;
    return registry;
}

// The built-in kinds: one line each.
template <Scalar S>
LayerRegistry<S>::LayerRegistry() {
    add("Activation", &detail::activation_from_config<S>);
    add("AveragePooling2D", &detail::Pool2DLayer<S, detail::PoolMode::average>::from_config);
    add("BatchNormalization", &detail::BatchNormalizationLayer<S>::from_config);
    add("Conv2D", &detail::Conv2DLayer<S>::from_config);
    add("Dense", &detail::DenseLayer<S>::from_config);
    add("Dropout", &detail::DropoutLayer<S>::from_config);
    add("Flatten", &detail::FlattenLayer<S>::from_config);
    add("GlobalAveragePooling2D", &detail::GlobalAveragePooling2DLayer<S>::from_config);
    add("MaxPooling2D", &detail::Pool2DLayer<S, detail::PoolMode::max>::from_config);
    add("Reshape", &detail::ReshapeLayer<S>::from_config);
}

/// Registers a layer class template of your own for float and double models, so that models
/// holding it save, load, `summary()` and `.npz` as the built-in ones do. `L<S>` derives
/// from `Layer<S>` and has `static constexpr const char* kind_name` (what its `kind()` returns)
/// and `static std::unique_ptr<Layer<S>> from_config(const Config&, const Shape& input)`.
///
/// \code
/// lamina::register_layer<my::ScaleLayer>();   // once, before loading a model that has one
/// \endcode
template <template <class> class L>
void register_layer() {
    LayerRegistry<float>::instance().add(L<float>::kind_name, &L<float>::from_config);
    LayerRegistry<double>::instance().add(L<double>::kind_name, &L<double>::from_config);
}

/// A spec for `Sequential::add` of any registered kind, by name and config, as a model file
/// holds it: `model.add(lamina::LayerFromConfig{"Dropout", {{"rate", 0.5}}})`. The first layer
/// of a model also needs `input_shape`.
struct LayerFromConfig {
    std::string kind;
    Config config;
    Shape input_shape{};

    /// \throws as `LayerRegistry::create`, and as `input_shape_for` for the first layer.
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Layer<S>> build(const Shape& input) const;
};

template <Scalar S>
std::unique_ptr<Layer<S>> LayerFromConfig::build(const Shape& input) const {
    return LayerRegistry<S>::instance().create(kind, config, input_shape_for(kind, input, input_shape));
}

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp).
extern template class LayerRegistry<float>;
extern template class LayerRegistry<double>;
extern template std::unique_ptr<Layer<float>> LayerFromConfig::build<float>(const Shape&) const;
extern template std::unique_ptr<Layer<double>> LayerFromConfig::build<double>(const Shape&) const;
#endif

}  // namespace lamina
