// SPDX-License-Identifier: MIT
// lamina: the float kernels of every instruction set in every build, and the one chosen at run time.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <utility>

#include <lamina/core/isa.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/compiled.hpp>

// x86-64 with GCC or Clang: the AVX2 and AVX-512 kernels are compiled in every translation
// unit, each in a region whose functions get that instruction set through the compiler's
// target attribute, whatever the -m flags; elsewhere (ARM64, MSVC) only the baseline exists.
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define LAMINA_X86_KERNELS 1
#else
#define LAMINA_X86_KERNELS 0
#endif

#if LAMINA_X86_KERNELS && LAMINA_DETAIL_DEFINITIONS
#include <immintrin.h>
#endif

namespace lamina::detail {

/// A read-only strided view of an (rows x cols) matrix: element (r, c) at data[r * rs + c * cs].
template <Scalar S>
struct Strided {
    const S* data;
    Index rs, cs;
};

}  // namespace lamina::detail

#if LAMINA_X86_KERNELS && LAMINA_DETAIL_DEFINITIONS
// A target attribute adds to the file's instruction sets (neither compiler can take one away
// from a function that calls intrinsics), so a file built with -mavx512f compiles the avx2
// namespace with AVX-512 allowed too. The kernels' arithmetic is written out in intrinsics,
// so each namespace computes the same values wherever it was compiled.
#define LAMINA_KERNELS_AVX512 0
#include <lamina/detail/kernels/x86_body.hpp>
#define LAMINA_KERNELS_AVX512 1
#include <lamina/detail/kernels/x86_body.hpp>
#endif

namespace lamina::detail {

/// The float kernels of one instruction set. A null `gemm` (the baseline) means: no kernels
/// of lamina's own; the callers use Eigen and plain loops.
struct FloatKernels {
    Isa isa = Isa::baseline;
    /// C (m x n, row stride ldc) = A B [+ bias], as `detail::gemm` documents it.
    void (*gemm)(Index m, Index n, Index k, Strided<float> A, const float* B, Index ldb, float* C, Index ldc,
                 const float* bias, const std::uint64_t* nonzeros, Index words) = nullptr;
    void (*transpose)(Index rows, Index cols, const float* src, Index ld_src, float* dst, Index ld_dst) = nullptr;
    void (*nonzero_bits_u8)(const std::uint8_t* from, Index n, std::uint64_t* bits) = nullptr;
    void (*nonzero_bits_f32)(const float* from, Index n, std::uint64_t* bits) = nullptr;
    void (*widen_u8)(const std::uint8_t* from, float* to, Index n) = nullptr;
    /// y[i] = 1 / (1 + e^-x[i]) for i < n; y may be x.
    void (*sigmoid)(const float* x, float* y, Index n) = nullptr;
};

// With LAMINA_COMPILED, lamina::compiled holds the kernels and the choice among them
// (lamina/detail/compiled.hpp): a program's translation units parse neither them nor
// <immintrin.h>.

/// The kernels for `isa` (the baseline's are all null; so are those of a set this build has
/// no kernels for).
LAMINA_DETAIL_INLINE FloatKernels float_kernels_for(Isa isa) noexcept;

/// The kernels this program runs: those of `kernel_isa()`, chosen once.
LAMINA_DETAIL_INLINE const FloatKernels& float_kernels() noexcept;

#if LAMINA_DETAIL_DEFINITIONS
LAMINA_DETAIL_INLINE FloatKernels float_kernels_for(Isa isa) noexcept {
#if LAMINA_X86_KERNELS
    // Each set's kernels in the order of FloatKernels' members.
    if (isa == Isa::avx512)
        return {isa,
                &avx512::gemm,
                &avx512::transpose,
                &avx512::nonzero_bits_u8,
                &avx512::nonzero_bits_f32,
                &avx512::widen_u8,
                &avx512::sigmoid_rows};
    if (isa == Isa::avx2)
        return {isa,
                &avx2::gemm,
                &avx2::transpose,
                &avx2::nonzero_bits_u8,
                &avx2::nonzero_bits_f32,
                &avx2::widen_u8,
                &avx2::sigmoid_rows};
#else
    static_cast<void>(isa);
#endif
    return {};
}

LAMINA_DETAIL_INLINE const FloatKernels& float_kernels() noexcept {
    static const FloatKernels chosen = float_kernels_for(kernel_isa());
    return chosen;
}
#endif

}  // namespace lamina::detail
