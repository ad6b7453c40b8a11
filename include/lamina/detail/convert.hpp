// SPDX-License-Identifier: MIT
// lamina: one row of inputs into a model's batch buffer, converting bytes to the model's scalar.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <lamina/core/types.hpp>
#include <lamina/detail/kernels.hpp>

namespace lamina::detail {

/// to[i] = S(from[i]) for i < n: a copy when T is S; bytes to floats through the kernels
/// (the gather of a shuffled batch runs this for every sample of every epoch).
template <class T, Scalar S>
inline void convert_row(const T* from, S* to, Index n) noexcept {
    if constexpr (std::is_same_v<T, S>) {
        std::copy(from, from + n, to);
    } else {
        if constexpr (std::is_same_v<T, std::uint8_t> && std::is_same_v<S, float>)
            if (auto kernel = float_kernels().widen_u8) return kernel(from, to, n);
        for (Index i = 0; i < n; ++i) to[i] = S(from[i]);
    }
}

}  // namespace lamina::detail
