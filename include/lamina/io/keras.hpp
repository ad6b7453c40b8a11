// SPDX-License-Identifier: MIT
// lamina: Keras's own model files: .keras (Keras 3) and legacy .h5 read, .keras and .weights.h5 written (needs
// nlohmann/json).
#pragma once

// What is read: Sequential models of InputLayer, Dense, Conv2D, MaxPooling2D,
// AveragePooling2D, GlobalAveragePooling2D, BatchNormalization, Activation, Dropout, Flatten
// and Reshape, float32 policy, with the compile config (loss, optimizer and its
// hyperparameters, metrics) when the file has one; from
// - `.keras` (Keras 3, and tf.keras 2.13/2.14): a stored zip of config.json, metadata.json
//   and model.weights.h5, whose groups are named by each layer's class in snake case plus a
//   counter in config order (`layers/dense_1/vars/0`, `layers/conv2d/vars/0`), under
//   `_layer_checkpoint_dependencies/` in tf.keras 2.14's;
// - legacy `.h5` (Keras 2, tf.keras, Keras 3's `save("x.h5")`): `model_config` and
//   `training_config` JSON on the root, `model_weights/<layer>` groups whose `weight_names`
//   attribute lists the layer's datasets (with or without ":0", nested or not), layer order
//   from the config.
// Conv2D's kernel is (kh, kw, in, filters) in Keras and in lamina; its and the poolings'
// kernel_size, pool_size and strides are read as one integer or a pair, padding "valid" or
// "same", pooling strides None as the pool size; Conv2D may have use_bias=False.
// BatchNormalization's axis is -1, its input's rank (Keras counts the batch as axis 0) or a
// list of one of them ([3]), with momentum, epsilon, center and scale; its weights are gamma
// (with scale), beta (with center), moving_mean and moving_variance, in that order in both
// formats.
// Refused, with an io_error naming the layer and what is not supported: other model classes
// (Functional with branches, subclassed), other layers, custom objects, a dtype policy other
// than float32, Dense's use_bias=False, data_format channels_first, Conv2D's dilation_rate
// other than 1 and groups other than 1, padding "causal", BatchNormalization over another
// axis or with synchronized, renorm or virtual batches, constraints, bias, activity, beta and
// gamma regularizers, LoRA, noise_shape, non-trainable layers, learning-rate schedules,
// gradient clipping, weight decay, EMA, losses, metrics and optimizers lamina does not have.
// The optimizer's state (slots, iterations) is not read: a loaded model's optimizer starts
// fresh.
//
// What is written: the same layers with every key Keras 3's get_config gives them (for Conv2D
// base_conv.py's: data_format "channels_last", dilation_rate [1, 1], groups 1, the
// regularizers and constraints as null; for the poolings base_pooling.py's and
// base_global_pooling.py's; for BatchNormalization batch_normalization.py's, synchronized
// false).
//
// Layer names: lamina names layers itself (dense, dense_1, conv2d, max_pooling2d, ...), so a
// Keras config's own names are not kept. Dense(activation=X) and Conv2D(activation=X) become
// one layer with X when lamina's layer takes that activation, and the layer followed by
// Activation(X) otherwise.

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <lamina/core/types.hpp>
#include <lamina/detail/compiled.hpp>
#include <lamina/models/sequential.hpp>

namespace lamina {

/// Loads a Keras model file: `.keras` (Keras 3, tf.keras 2.13+) or legacy `.h5` (Keras 2,
/// tf.keras, Keras 3's `save("x.h5")`), told apart by their first bytes.
///
/// \code
/// auto model = lamina::load_keras_model<float>("mnist.keras");
/// auto p = model.predict(x);      // as Keras's model.predict(x), to float rounding
/// \endcode
/// \param bytes the file's bytes; \param name the file's name for error messages.
/// \returns a Sequential model with the file's layers and weights, compiled when the file
///          has a compile config (with a fresh optimizer state).
/// \throws io_error "lamina::load_keras_model: '<file>': <what>" naming the layer and what
///         is not supported (see the top of lamina/io/keras.hpp), or the HDF5/zip problem.
template <Scalar S>
[[nodiscard]] Sequential<S> load_keras_model(std::span<const std::byte> bytes, const std::string& name);

/// Loads the Keras model file at `path`: see the overload on bytes.
template <Scalar S>
[[nodiscard]] Sequential<S> load_keras_model(const std::filesystem::path& path);

/// The bytes of a Keras 3 `.keras` archive of `model`: config.json (serialize_keras_object's
/// schema: module, class_name, config, registered_name, build_config, and compile_config when
/// compiled), metadata.json and model.weights.h5 (`layers/<class>_<n>/vars/<i>`).
/// The optimizer's state is not written.
/// \throws io_error "lamina::save_keras: ..." for a layer or setting with no Keras form here.
template <Scalar S>
[[nodiscard]] std::vector<std::byte> to_keras_bytes(const Sequential<S>& model);

/// Saves `model` as a Keras 3 `.keras` file (see `to_keras_bytes`), atomically like
/// `Sequential::save`; `keras.models.load_model(path)` opens it.
/// \throws io_error as `to_keras_bytes`, or naming `path` if it cannot be written.
template <Scalar S>
void save_keras(const Sequential<S>& model, const std::filesystem::path& path);

/// Saves the weights as Keras 3's `model.save_weights("x.weights.h5")` does
/// (`layers/<class>_<n>/vars/<i>`), atomically; Keras's `load_weights` reads it.
/// \throws io_error naming `path` if it cannot be written.
template <Scalar S>
void save_keras_weights(const Sequential<S>& model, const std::filesystem::path& path);

/// Sets the weights of `model` from a Keras weights file: Keras 3's `.weights.h5` (groups by
/// layer class and counter: the model's layers must be the Keras model's, in order), or a
/// legacy `.h5` (weights-only or full model: the layers with weights, in order, as Keras's
/// legacy `load_weights` matches them). Nothing changes unless every array fits.
/// \throws io_error naming the file, the layer and the problem (missing group, count, dtype
///         or shape).
template <Scalar S>
void load_keras_weights(Sequential<S>& model, const std::filesystem::path& path);

#if defined(LAMINA_COMPILED_KERAS)
// Instantiated once in lamina::compiled (src/lamina.cpp), which defines LAMINA_COMPILED_KERAS
// for its users when it was built with nlohmann/json.
extern template Sequential<float> load_keras_model<float>(std::span<const std::byte>, const std::string&);
extern template Sequential<double> load_keras_model<double>(std::span<const std::byte>, const std::string&);
extern template Sequential<float> load_keras_model<float>(const std::filesystem::path&);
extern template Sequential<double> load_keras_model<double>(const std::filesystem::path&);
extern template std::vector<std::byte> to_keras_bytes<float>(const Sequential<float>&);
extern template std::vector<std::byte> to_keras_bytes<double>(const Sequential<double>&);
extern template void save_keras<float>(const Sequential<float>&, const std::filesystem::path&);
extern template void save_keras<double>(const Sequential<double>&, const std::filesystem::path&);
extern template void save_keras_weights<float>(const Sequential<float>&, const std::filesystem::path&);
extern template void save_keras_weights<double>(const Sequential<double>&, const std::filesystem::path&);
extern template void load_keras_weights<float>(Sequential<float>&, const std::filesystem::path&);
extern template void load_keras_weights<double>(Sequential<double>&, const std::filesystem::path&);
#endif

}  // namespace lamina

// The definitions, with nlohmann/json, the HDF5 reader and writer: in every translation unit of
// a header-only build; with LAMINA_COMPILED_KERAS only in lamina::compiled, which holds the
// float and double instantiations (lamina/detail/compiled.hpp).
#if LAMINA_DETAIL_KERAS_DEFINITIONS
#include <lamina/detail/keras_definitions.hpp>
#endif
