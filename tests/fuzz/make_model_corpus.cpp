// SPDX-License-Identifier: MIT
// lamina: writes the model fuzzer's seed corpus (a few small model files) into the folder given as argument.
#include <lamina/lamina.hpp>

#include <filesystem>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: make_model_corpus FOLDER\n";
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    const lamina::Matrix<float> xf{{0.5f, -1.0f}, {1.0f, 0.25f}};
    const lamina::Matrix<float> yf{{1.0f, 0.0f}, {0.0f, 1.0f}};

    // Softmax classifier, SGD with Nesterov momentum and decay, after two steps.
    lamina::Sequential<float> a{lamina::Dense(3, {.input_dim = 2}), lamina::Activation("sigmoid"), lamina::Dense(2),
                                lamina::Activation("softmax")};
    a.compile("categorical_crossentropy",
              lamina::SGD{.learning_rate = 0.1, .momentum = 0.9, .nesterov = true, .decay = 0.01}, {"accuracy"});
    a.initialize(1);
    a.train_on_batch(xf, yf, 1);
    a.train_on_batch(xf, yf, 1);
    a.save(dir / "float-softmax-momentum.lamina");

    // Regression with plain SGD and every other activation.
    lamina::Sequential<float> b{
        lamina::Dense(2, {.input_dim = 2}), lamina::Activation("relu"), lamina::Dense(2),
        lamina::Activation("tanh"),         lamina::Dense(2),           lamina::Activation("linear")};
    b.compile("mean_squared_error", lamina::SGD{.learning_rate = 0.05});
    b.initialize(2);
    b.train_on_batch(xf, yf, 1);
    b.save(dir / "float-mse-plain.lamina");

    // Uncompiled double model.
    lamina::Sequential<double> c{lamina::Dense(1, {.input_dim = 1})};
    c.initialize(3);
    c.save(dir / "double-uncompiled.lamina");

    // Compiled double model with momentum.
    lamina::Sequential<double> d{lamina::Dense(2, {.input_dim = 2}), lamina::Activation("softmax")};
    d.compile("categorical_crossentropy", lamina::SGD{.learning_rate = 0.5, .momentum = 0.5});
    d.initialize(4);
    d.train_on_batch(xf.cast<double>(), yf.cast<double>(), 1);
    d.save(dir / "double-momentum.lamina");
    return 0;
}
