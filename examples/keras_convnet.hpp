// SPDX-License-Identifier: MIT
// lamina example: Keras's MNIST convnet, built and compiled once for examples/mnist_cnn.cpp and
// benchmarks/cnn_benchmark.cpp.
#pragma once

#include <cstdint>

#include <lamina/datasets/mnist.hpp>
#include <lamina/lamina.hpp>

namespace lamina_example {

/// Keras's MNIST convnet (keras-io examples/vision/mnist_convnet.py): Conv2D(32, 3x3, relu),
/// MaxPooling2D(2), Conv2D(64, 3x3, relu), MaxPooling2D(2), Flatten, Dropout(0.5), Dense(10)
/// and softmax, compiled with categorical cross-entropy, Adam and accuracy as Keras's is, its
/// weights drawn from `seed`. Keras's softmax Dense is Dense then Activation("softmax") here,
/// which the loss fuses with categorical cross-entropy. With `batch_norm`, each Conv2D loses its
/// bias and its ReLU to a BatchNormalization (Keras's defaults: momentum 0.99, epsilon 0.001)
/// and an Activation("relu") after it, the usual place of batch normalization in a convnet.
inline lamina::Sequential<float> keras_convnet(std::uint64_t seed, bool batch_norm = false) {
    lamina::Sequential<float> model;
    // Conv2D(filters, 3x3) with its ReLU, or with batch_norm Conv2D, BatchNormalization, ReLU.
    const auto convolution = [&](lamina::Index filters, lamina::Conv2DOptions options) {
        if (!batch_norm) options.activation = "relu";
        options.use_bias = !batch_norm;
        model.add(lamina::Conv2D(filters, 3, std::move(options)));
        if (!batch_norm) return;
        model.add(lamina::BatchNormalization());
        model.add(lamina::Activation("relu"));
    };
    convolution(32, {.input_shape = {28, 28, 1}});
    model.add(lamina::MaxPooling2D(2));
    convolution(64, {});
    model.add(lamina::MaxPooling2D(2));
    model.add(lamina::Flatten());
    model.add(lamina::Dropout(0.5));
    model.add(lamina::Dense(lamina::datasets::mnist::num_classes));
    model.add(lamina::Activation("softmax"));
    model.compile(lamina::loss::categorical_crossentropy, lamina::Adam{}, {lamina::metric::accuracy});
    model.initialize(seed);
    return model;
}

}  // namespace lamina_example
