// SPDX-License-Identifier: MIT
// lamina: one row of inputs into a model's batch buffer, converting bytes to the model's scalar.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <lamina/core/types.hpp>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace lamina::detail {

/// to[i] = S(from[i]) for i < n: a copy when T is S; bytes are widened 8 at a time where
/// AVX2 is on (the gather of a shuffled batch runs this for every sample of every epoch).
template <class T, Scalar S>
inline void convert_row(const T* from, S* to, Index n) noexcept {
    if constexpr (std::is_same_v<T, S>) {
        std::copy(from, from + n, to);
    } else {
        Index i = 0;
#if defined(__AVX2__)
        if constexpr (std::is_same_v<T, std::uint8_t> && std::is_same_v<S, float>)
            for (; i + 8 <= n; i += 8) {
                const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(from + i));
                _mm256_storeu_ps(to + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)));
            }
#endif
        for (; i < n; ++i) to[i] = S(from[i]);
    }
}

}  // namespace lamina::detail
