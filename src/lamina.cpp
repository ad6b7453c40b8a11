// SPDX-License-Identifier: MIT
// lamina::compiled: the float and double models instantiated once, for programs built with LAMINA_COMPILED.
//
// A program that links lamina::compiled gets LAMINA_COMPILED, and the headers then declare
// what is instantiated here `extern template`: its translation units compile none of the
// model's machinery (the fit loop, the training step, inference, the layers, the losses'
// kernels, the optimizers' updates, model files and .npz), they call it here. An explicit
// instantiation of a class instantiates its members but not its member templates, so the
// layer specs' and optimizer specs' `build` and `load_model` are instantiated one by one.
//
// LAMINA_COMPILED_SOURCE: this unit gets the definitions that the headers leave out of a
// program's units under LAMINA_COMPILED (lamina/detail/compiled.hpp): the model's members that
// run it and read and write its files, Keras's files, and the float kernels of every
// instruction set with the run-time choice among them (ordinary functions here).
#define LAMINA_COMPILED_SOURCE 1
#include <lamina/lamina.hpp>
#if defined(LAMINA_COMPILED_KERAS)
#include <lamina/io/keras.hpp>
#endif

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lamina {

template class Sequential<float>;
template class Sequential<double>;
template Sequential<float> load_model<float>(const std::filesystem::path&);
template Sequential<double> load_model<double>(const std::filesystem::path&);
template Sequential<float> load_model<float>(std::span<const std::byte>, std::string_view);
template Sequential<double> load_model<double>(std::span<const std::byte>, std::string_view);

template std::unique_ptr<Layer<float>> Dense::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> Dense::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> Activation::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> Activation::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> Dropout::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> Dropout::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> Flatten::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> Flatten::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> Reshape::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> Reshape::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> BatchNormalization::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> BatchNormalization::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> Conv2D::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> Conv2D::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> MaxPooling2D::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> MaxPooling2D::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> AveragePooling2D::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> AveragePooling2D::build<double>(const Shape&) const;
template std::unique_ptr<Layer<float>> GlobalAveragePooling2D::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> GlobalAveragePooling2D::build<double>(const Shape&) const;
template class LayerRegistry<float>;
template class LayerRegistry<double>;
template std::unique_ptr<Layer<float>> LayerFromConfig::build<float>(const Shape&) const;
template std::unique_ptr<Layer<double>> LayerFromConfig::build<double>(const Shape&) const;

template std::unique_ptr<Optimizer<float>> SGD::build<float>() const;
template std::unique_ptr<Optimizer<double>> SGD::build<double>() const;
template std::unique_ptr<Optimizer<float>> Adam::build<float>() const;
template std::unique_ptr<Optimizer<double>> Adam::build<double>() const;
template std::unique_ptr<Optimizer<float>> RMSprop::build<float>() const;
template std::unique_ptr<Optimizer<double>> RMSprop::build<double>() const;
template std::unique_ptr<Optimizer<float>> Adagrad::build<float>() const;
template std::unique_ptr<Optimizer<double>> Adagrad::build<double>() const;

#if defined(LAMINA_COMPILED_KERAS)
// Keras's files (lamina/io/keras.hpp), where the library is built with nlohmann/json.
template Sequential<float> load_keras_model<float>(std::span<const std::byte>, const std::string&);
template Sequential<double> load_keras_model<double>(std::span<const std::byte>, const std::string&);
template Sequential<float> load_keras_model<float>(const std::filesystem::path&);
template Sequential<double> load_keras_model<double>(const std::filesystem::path&);
template std::vector<std::byte> to_keras_bytes<float>(const Sequential<float>&);
template std::vector<std::byte> to_keras_bytes<double>(const Sequential<double>&);
template void save_keras<float>(const Sequential<float>&, const std::filesystem::path&);
template void save_keras<double>(const Sequential<double>&, const std::filesystem::path&);
template void save_keras_weights<float>(const Sequential<float>&, const std::filesystem::path&);
template void save_keras_weights<double>(const Sequential<double>&, const std::filesystem::path&);
template void load_keras_weights<float>(Sequential<float>&, const std::filesystem::path&);
template void load_keras_weights<double>(Sequential<double>&, const std::filesystem::path&);
#endif

}  // namespace lamina
