// SPDX-License-Identifier: MIT
// lamina: weight initializers by Keras's names.
#pragma once

#include <algorithm>
#include <cmath>

#include <lamina/core/random.hpp>
#include <lamina/core/types.hpp>

namespace lamina {

/// How a layer's weights are first drawn, as Keras names its initializers.
enum class Initializer {
    zeros,           ///< all 0 (Keras's default bias)
    ones,            ///< all 1
    glorot_uniform,  ///< U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras's default kernel)
    he_uniform,      ///< U(-l, l), l = sqrt(6 / fan_in)
    lecun_uniform,   ///< U(-l, l), l = sqrt(3 / fan_in)
};

namespace detail {

/// Fills `n` scalars at `out` as `init` says, for a layer of the given fans.
template <Scalar S>
void fill(S* out, Index n, Initializer init, double fan_in, double fan_out, Random& rng) {
    double limit = 0;
    switch (init) {
        case Initializer::zeros: std::fill(out, out + n, S(0)); return;
        case Initializer::ones: std::fill(out, out + n, S(1)); return;
        case Initializer::glorot_uniform: limit = std::sqrt(6.0 / (fan_in + fan_out)); break;
        case Initializer::he_uniform: limit = std::sqrt(6.0 / fan_in); break;
        case Initializer::lecun_uniform: limit = std::sqrt(3.0 / fan_in); break;
    }
    for (Index i = 0; i < n; ++i) out[i] = S(rng.uniform(-limit, limit));
}

}  // namespace detail
}  // namespace lamina
