// SPDX-License-Identifier: MIT
// lamina tests: a program built at -O0 (tests/CMakeLists.txt) is told so by fit's progress, once.
#include <lamina/lamina.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

int main() {
    lamina::Matrix<float> x(4, 2), y(4, 2);
    x << 0, 0, 0, 1, 1, 0, 1, 1;
    y << 1, 0, 0, 1, 0, 1, 1, 0;
    lamina::Sequential<float> model{lamina::Dense(4, {.input_dim = 2}), lamina::Activation("tanh"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
    model.initialize(1);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.1});
    std::ostringstream captured;
    auto* const old = std::cout.rdbuf(captured.rdbuf());
    model.fit(x, y, {.batch_size = 2, .epochs = 2, .verbose = 2});
    model.fit(x, y, {.batch_size = 2, .epochs = 2, .verbose = 2});
    model.fit(x, y, {.batch_size = 2, .epochs = 1, .verbose = 0});
    std::cout.rdbuf(old);
    const std::string out = captured.str(), notice = lamina::Progress::unoptimized_text;
    const auto first = out.find(notice);
    if (first == std::string::npos || out.find(notice, first + 1) != std::string::npos) {
        std::printf("expected the notice once in fit's output, found:\n%s", out.c_str());
        return 1;
    }
    std::printf("%s\n", out.c_str());
    return 0;
}
