// SPDX-License-Identifier: MIT
// lamina: a scope in which subnormal floats are flushed to zero, restoring the caller's state after.
#pragma once

#include <Eigen/Core>

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

namespace lamina::detail {

/// Whether none of the `n` values at `p` is NaN or infinite, in one pass of Eigen's packet
/// code whatever the optimisation level (GCC vectorises a plain loop at -O3 only): x - x is
/// 0 for a finite x and NaN otherwise, and the sum of those stays 0 exactly when all are finite.
template <class S>
[[nodiscard]] bool all_finite(const S* p, Eigen::Index n) noexcept {
    constexpr Eigen::Index P = Eigen::internal::packet_traits<S>::size;
    using Packet = Eigen::Array<S, P, 1>;
    Packet sum = Packet::Zero();
    Eigen::Index i = 0;
    for (; i + P <= n; i += P) {
        const Eigen::Map<const Packet> x(p + i);
        sum += x - x;
    }
    S rest = 0;
    for (; i < n; ++i) rest += p[i] - p[i];
    return (sum == S(0)).all() && rest == S(0);
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
