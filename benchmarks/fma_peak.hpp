// SPDX-License-Identifier: MIT
// lamina benchmarks: the FMA peak of this machine, measured in the same run as what it is compared with.
#pragma once

#include <chrono>
#include <thread>
#include <vector>

#include <lamina/core/isa.hpp>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace lamina::bench {

// GFLOP/s of one thread running 12 independent chains of 8-wide FMAs `iters` times, compiled
// for AVX2 and FMA whatever this program was compiled for (call it only where the CPU has them).
#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) inline double fma_rate(long iters) {
    using Clock = std::chrono::steady_clock;
    __m256 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(1.0f + float(i) * 1e-7f);
    const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
    const auto start = Clock::now();
    for (long k = 0; k < iters; ++k)
#pragma GCC unroll 12  // the 12 chains in registers at -O2 too (else the array lives in memory)
        for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    float sink = 0, lanes[8];
    for (int i = 0; i < 12; ++i) {
        _mm256_storeu_ps(lanes, acc[i]);
        sink += lanes[0];
    }
    return (sink == 12345.0f ? 0 : 1) * double(iters) * 12 * 16 / s / 1e9;
}
#endif

// FMA throughput of `threads` threads at once (0 where the CPU has no AVX2 and FMA).
inline double fma_peak_gflops(int threads) {
#if defined(__x86_64__)
    if (lamina::cpu_isa() < lamina::Isa::avx2) return 0;
    std::vector<double> rates(static_cast<std::size_t>(threads), 0.0);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&rates, t] { rates[std::size_t(t)] = fma_rate(40000000); });
    for (auto& th : pool) th.join();
    double total = 0;
    for (double r : rates) total += r;
    return total;
#else
    static_cast<void>(threads);
    return 0;
#endif
}

}  // namespace lamina::bench
