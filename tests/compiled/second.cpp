// SPDX-License-Identifier: MIT
// lamina tests: a second translation unit of the program built against lamina::compiled (a double model).
#include <lamina/lamina.hpp>

#include <cmath>

// A double model of every built-in layer kind, one of them named through the registry,
// compiled with RMSprop: its loss and gradient on a few samples, and the loss after a step of
// each of the other optimizers (all finite when lamina::compiled holds what they need).
bool double_model_trains() {
    lamina::Sequential<double> model{lamina::Reshape({2, 2}, {.input_shape = {4}}),
                                     lamina::Flatten(),
                                     lamina::Dense(3),
                                     lamina::Activation("relu"),
                                     lamina::LayerFromConfig{"Dropout", {{"rate", 0.25}}},
                                     lamina::Dense(2),
                                     lamina::Activation(lamina::activation::softmax)};
    model.initialize(3);
    lamina::Matrix<double> x(4, 4), y = lamina::Matrix<double>::Zero(4, 2);
    for (lamina::Index i = 0; i < 4; ++i) {
        for (lamina::Index j = 0; j < 4; ++j) x(i, j) = double(i + 1) * 0.1 - double(j) * 0.05;
        y(i, i % 2) = 1;
    }
    model.compile(lamina::loss::categorical_crossentropy, lamina::RMSprop{});
    const double loss = model.loss_and_gradient(x, y);
    bool ok = std::isfinite(loss) && model.gradients().allFinite();
    model.compile("mean_squared_error", lamina::Adagrad{});
    ok = ok && std::isfinite(model.train_on_batch(x, y, 1).loss);
    model.compile(lamina::loss::categorical_crossentropy, lamina::Adam{});
    ok = ok && std::isfinite(model.train_on_batch(x, y, 1).loss);
    return ok;
}
