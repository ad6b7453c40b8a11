// SPDX-License-Identifier: MIT
// lamina tests: a consumer that trains a tiny model on two threads, linking only lamina::lamina.
#include <lamina/lamina.hpp>

#include <cstdio>

int main() {
    lamina::Matrix<float> x(4, 2), y(4, 2);
    x << 0, 0, 0, 1, 1, 0, 1, 1;
    y << 1, 0, 0, 1, 0, 1, 1, 0;
    lamina::Sequential<float> model{lamina::Dense(8, {.input_dim = 2}), lamina::Activation("tanh"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
    model.initialize(1);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.5, .momentum = 0.9});
    const auto h = model.fit(x, y, {.batch_size = 2, .epochs = 300, .verbose = 0, .threads = 2});
    std::printf("final loss %.4f, accuracy %.2f\n", h.loss.back(), model.evaluate(x, y).accuracy);
    return model.evaluate(x, y).accuracy == 1.0 ? 0 : 1;
}
