// SPDX-License-Identifier: MIT
// lamina tests: the XOR problem as data (points away from the axes, class 1 where x * y > 0), and a model that diverges
// on it.
#pragma once

#include <cstdint>
#include <vector>

#include <lamina/core/random.hpp>
#include <lamina/core/to_categorical.hpp>
#include <lamina/core/types.hpp>
#include <lamina/layers/activation.hpp>
#include <lamina/layers/dense.hpp>
#include <lamina/losses/loss.hpp>
#include <lamina/models/sequential.hpp>
#include <lamina/optimizers/sgd.hpp>

namespace lamina::test {

/// n points in [-1, 1]^2 at least 0.1 from the axes, with one-hot labels: class 1 where
/// x * y > 0 (the other class with `flip`). No linear model separates them better than
/// about 50%.
template <class S>
void xor_data(Index n, std::uint64_t seed, Matrix<S>& x, Matrix<S>& y, bool flip = false) {
    Random rng(seed);
    x.resize(n, 2);
    std::vector<int> labels;
    for (Index i = 0; i < n; ++i) {
        for (Index j = 0; j < 2; ++j) {
            const double v = rng.uniform(0.1, 1.0);
            x(i, j) = S(rng.uniform01() < 0.5 ? -v : v);
        }
        labels.push_back((x(i, 0) * x(i, 1) > 0) != flip ? 1 : 0);
    }
    y = to_categorical<S>(labels, 2);
}

/// The divergence tests' setup: the 16 points of `xor_data(16, 5)` scaled by 1000 and a small
/// ReLU network whose learning rate (1e12) makes its weights blow up after a few steps of
/// one 16-sample batch each.
inline void diverging_setup(Matrix<float>& x, Matrix<float>& y) {
    xor_data(16, 5, x, y);
    x *= 1e3f;
}
inline Sequential<float> diverging_model() {
    Sequential<float> m{Dense(4, {.input_dim = 2}), Activation("relu"), Dense(2), Activation("softmax")};
    m.initialize(6);
    m.compile(loss::categorical_crossentropy, SGD{.learning_rate = 1e12});
    return m;
}

}  // namespace lamina::test
