// SPDX-License-Identifier: MIT
// lamina tests: what each translation unit of the ODR test runs: train a model and describe its result.
#pragma once

#include <lamina/lamina.hpp>
#include <lamina/viz/weight_grid.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

// Trains a small network on bytes (the kernels' widening and non-zero masks, both products)
// and returns its weights and predictions as hexadecimal floats: equal strings mean equal
// bits. Internal linkage: each translation unit has its own copy of this function, compiled
// with its own flags, while lamina's inline functions are shared by the two.
std::string train_and_describe() {
    lamina::Random rng(7);
    const lamina::Index n = 240, features = 80, classes = 4;
    lamina::ByteMatrix x = lamina::ByteMatrix::Zero(n, features);
    std::vector<int> labels(static_cast<std::size_t>(n));
    for (lamina::Index r = 0; r < n; ++r) {
        const int label = int(r % classes);
        labels[std::size_t(r)] = label;
        for (lamina::Index c = 0; c < features; ++c)
            if (rng.uniform01() < (c % classes == label ? 0.6 : 0.1)) x(r, c) = std::uint8_t(1 + rng.below(255));
    }
    const auto y = lamina::to_categorical(labels, classes);
    lamina::Sequential<float> model{lamina::Dense(40, {.input_dim = features}), lamina::Activation("relu"),
                                    lamina::Dense(classes), lamina::Activation("softmax")};
    model.initialize(3);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.0001});
    model.fit(x, y, {.batch_size = 40, .epochs = 4, .verbose = 0, .seed = 5, .threads = 1});
    const lamina::Matrix<float> p = model.predict(x, {.threads = 1});
    std::string text;
    char buf[32];
    const auto add = [&](float v) {
        std::snprintf(buf, sizeof buf, "%a ", double(v));
        text += buf;
    };
    for (lamina::Index i = 0; i < model.parameters().size(); i += 97) add(model.parameters()[i]);
    for (lamina::Index i = 0; i < p.size(); i += 31) add(p.data()[i]);
    return text;
}

}  // namespace
