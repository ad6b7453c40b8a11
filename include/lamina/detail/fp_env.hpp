// SPDX-License-Identifier: MIT
// lamina: a scope in which subnormal floats are flushed to zero, restoring the caller's state after.
#pragma once

#include <cmath>
#include <limits>

#include <Eigen/Core>

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

namespace lamina::detail {

/// Whether none of the `n` values at `p` is NaN or infinite, in one vectorisable pass
/// (Eigen's allFinite stops at nothing but runs element by element).
template <class S>
[[nodiscard]] bool all_finite(const S* p, Eigen::Index n) noexcept {
    constexpr S largest = std::numeric_limits<S>::max();
    unsigned bad = 0;
    for (Eigen::Index i = 0; i < n; ++i) bad |= unsigned(!(std::abs(p[i]) <= largest));  // NaN fails <=
    return bad == 0;
}

/// While alive, the calling thread treats subnormal inputs as zero and flushes subnormal
/// results to zero (x86 MXCSR DAZ and FTZ; AArch64 FPCR FZ). Saturated sigmoids make
/// subnormals, and on x86 every operation on one costs as much as a hundred normal ones.
/// The destructor restores the thread's previous state.
class FlushSubnormals {
public:
#if defined(__SSE__) || defined(_M_X64)
    FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }  // FTZ | DAZ
    ~FlushSubnormals() { _mm_setcsr(saved_); }
#elif defined(__aarch64__)
    FlushSubnormals() {
        __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved_));
        const unsigned long long fz = saved_ | (1ull << 24);
        __asm__ __volatile__("msr fpcr, %0" : : "r"(fz));
    }
    ~FlushSubnormals() { __asm__ __volatile__("msr fpcr, %0" : : "r"(saved_)); }
#else
    FlushSubnormals() = default;
#endif
    FlushSubnormals(const FlushSubnormals&) = delete;
    FlushSubnormals& operator=(const FlushSubnormals&) = delete;

private:
#if defined(__SSE__) || defined(_M_X64)
    unsigned saved_;
#elif defined(__aarch64__)
    unsigned long long saved_ = 0;
#endif
};

}  // namespace lamina::detail
