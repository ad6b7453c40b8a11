// SPDX-License-Identifier: MIT
// lamina compile-time probe: the README's API example as one translation unit (timed by compile_times.sh).
//
// Builds, compiles and fits the seed network, evaluates it and reads a layer's weights, as the
// README's "The API, next to the Keras seed" does, on inputs given as bytes (as MNIST's images
// are). The MNIST loader and the PNG writer are left out: compile_times.sh times their headers
// on their own, and examples/mnist_mlp.cpp with both.
#include <lamina/lamina.hpp>

#include <cstdint>
#include <vector>

int main(int argc, char**) {
    const lamina::Index n = 100 * argc;
    const lamina::ByteMatrix X_train = lamina::ByteMatrix::Constant(n, 784, std::uint8_t(7));
    const std::vector<std::uint8_t> labels(std::size_t(n), std::uint8_t(3));
    auto Y_train = lamina::to_categorical(labels, 10);

    lamina::Sequential<float> model{
        lamina::Dense(100, {.input_dim = 784}),
        lamina::Activation("sigmoid"),
        lamina::Dense(10),
        lamina::Activation("softmax"),
    };
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{}, {lamina::metric::accuracy});
    model.summary();
    auto history = model.fit(X_train, Y_train, {.batch_size = 100, .epochs = 1, .verbose = 1});
    auto score = model.evaluate(X_train, Y_train);
    auto weights = model.layer(0).get_weights();
    return history.loss.empty() || !(score.loss >= 0) || weights.size() != 2;
}
