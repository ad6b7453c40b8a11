// SPDX-License-Identifier: MIT
// lamina: the matrix product of the Dense layer, through the float kernels chosen at run time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <lamina/core/types.hpp>
#include <lamina/detail/kernels.hpp>

namespace lamina::detail {

/// `transpose` without lamina's kernels: one value at a time.
template <Scalar S>
void transpose_plain(Index rows, Index cols, const S* src, Index ld_src, S* dst, Index ld_dst) {
    for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < cols; ++j) dst[j * ld_dst + i] = src[i * ld_src + j];
}

/// dst (cols x rows, row stride ld_dst) = the transpose of src (rows x cols, row stride
/// ld_src); the two must not overlap. Floats go 8 x 8 blocks at a time where lamina's kernels
/// run (Eigen's assignment of a transpose copies one value at a time).
template <Scalar S>
void transpose(Index rows, Index cols, const S* src, Index ld_src, S* dst, Index ld_dst) {
    if constexpr (std::is_same_v<S, float>) {
        if (auto kernel = float_kernels().transpose) return kernel(rows, cols, src, ld_src, dst, ld_dst);
    }
    transpose_plain(rows, cols, src, ld_src, dst, ld_dst);
}

/// `gemm` by Eigen's product, for double and where lamina's float kernels do not run. A with
/// contiguous rows or contiguous columns is read in place (a map of another inner stride
/// would be copied into a temporary first, an allocation per call). Eigen packs a product's
/// operands into buffers on the stack up to EIGEN_STACK_ALLOCATION_LIMIT (128 KiB) and on the
/// heap beyond, so the product goes in blocks of at most 128 rows, columns and depths, each
/// of whose buffers fits the stack: no allocation, whatever the shapes.
template <Scalar S>
void eigen_gemm(Index m, Index n, Index k, Strided<S> A, const S* B, Index ldb, S* C, Index ldc, const S* bias) {
    using RowStride = Eigen::OuterStride<Eigen::Dynamic>;
    using ColMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
    constexpr Index block = 128;
    Eigen::Map<const Matrix<S>, 0, RowStride> b(B, k, n, RowStride(ldb));
    Eigen::Map<Matrix<S>, 0, RowStride> c(C, m, n, RowStride(ldc));
    const auto multiply = [&](const auto& a) {
        if (k == 0) c.setZero();
        for (Index i = 0; i < m; i += block)
            for (Index j = 0; j < n; j += block)
                for (Index p = 0; p < k; p += block) {
                    const Index rows = std::min(block, m - i), cols = std::min(block, n - j),
                                depth = std::min(block, k - p);
                    auto part = c.block(i, j, rows, cols);
                    if (p == 0) part.noalias() = a.block(i, p, rows, depth) * b.block(p, j, depth, cols);
                    else part.noalias() += a.block(i, p, rows, depth) * b.block(p, j, depth, cols);
                }
    };
    if (A.cs == 1) {
        multiply(Eigen::Map<const Matrix<S>, 0, RowStride>(A.data, m, k, RowStride(A.rs)));
    } else if (A.rs == 1) {
        multiply(Eigen::Map<const ColMajor, 0, RowStride>(A.data, m, k, RowStride(A.cs)));
    } else {
        using Stride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
        multiply(Eigen::Map<const Matrix<S>, 0, Stride>(A.data, m, k, Stride(A.rs, A.cs)));
    }
    if (bias) c.rowwise() += Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>(bias, n);
}

/// C = A B (+ bias added to every row when `bias` is not null).
/// Shapes: A (m x k) given by strides (so a transposed view costs nothing), B (k x n) and
/// C (m x n) row-major with row strides ldb and ldc. C must not overlap A or B.
/// `nonzeros`, when not null, says where A is non-zero, as `nonzero_bits` writes it for each
/// of its rows, `words` per row; the product then need not look for them. Only the float
/// kernels read it (`gemm_rows_independent<S>()`).
template <Scalar S>
void gemm(Index m, Index n, Index k, Strided<S> A, const S* B, Index ldb, S* C, Index ldc, const S* bias = nullptr,
          const std::uint64_t* nonzeros = nullptr, Index words = 0) {
    if constexpr (std::is_same_v<S, float>) {
        if (auto kernel = float_kernels().gemm) return kernel(m, n, k, A, B, ldb, C, ldc, bias, nonzeros, words);
    }
    eigen_gemm(m, n, k, A, B, ldb, C, ldc, bias);
}

/// Whether `gemm` in S runs lamina's own kernels (float, where the CPU has AVX2 and FMA) rather
/// than Eigen's product. They read the `nonzeros` they are given (so that a caller knows when
/// finding them is worth it), and they compute each row of C the same way whatever other rows
/// are in the call (a zero product added is exact), so that a product cut into blocks of rows
/// gives the same result however it is cut; Eigen's rounds a row differently by block size.
template <Scalar S>
bool gemm_rows_independent() noexcept {
    return std::is_same_v<S, float> && float_kernels().gemm != nullptr;
}

/// Words of `nonzero_bits` for a row of n values.
constexpr Index nonzero_words(Index n) noexcept { return (n + 63) / 64; }

/// `nonzero_bits` without lamina's kernels: one value at a time.
template <class T>
void nonzero_bits_plain(const T* from, Index n, std::uint64_t* bits) noexcept {
    for (Index c = 0; 64 * c < n; ++c) {
        const T* p = from + 64 * c;
        const Index len = std::min<Index>(64, n - 64 * c);
        std::uint64_t word = 0;
        for (Index q = 0; q < len; ++q) word |= std::uint64_t(p[q] != T(0)) << q;
        bits[c] = word;
    }
}

/// bits[c] for c < nonzero_words(n): bit q set exactly when from[64 c + q] != 0 (NaN counts
/// as non-zero), the masks the sparse product visits; bytes and floats through the kernels.
template <class T>
void nonzero_bits(const T* from, Index n, std::uint64_t* bits) noexcept {
    if constexpr (std::is_same_v<T, std::uint8_t>) {
        if (auto kernel = float_kernels().nonzero_bits_u8) return kernel(from, n, bits);
    } else if constexpr (std::is_same_v<T, float>) {
        if (auto kernel = float_kernels().nonzero_bits_f32) return kernel(from, n, bits);
    }
    nonzero_bits_plain(from, n, bits);
}

}  // namespace lamina::detail
