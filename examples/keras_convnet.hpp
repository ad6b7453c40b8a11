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
/// which the loss fuses with categorical cross-entropy.
inline lamina::Sequential<float> keras_convnet(std::uint64_t seed) {
    lamina::Sequential<float> model{lamina::Conv2D(32, 3, {.activation = "relu", .input_shape = {28, 28, 1}}),
                                    lamina::MaxPooling2D(2),
                                    lamina::Conv2D(64, 3, {.activation = "relu"}),
                                    lamina::MaxPooling2D(2),
                                    lamina::Flatten(),
                                    lamina::Dropout(0.5),
                                    lamina::Dense(lamina::datasets::mnist::num_classes),
                                    lamina::Activation("softmax")};
    model.compile(lamina::loss::categorical_crossentropy, lamina::Adam{}, {lamina::metric::accuracy});
    model.initialize(seed);
    return model;
}

}  // namespace lamina_example
