// SPDX-License-Identifier: MIT
// lamina: element-wise passes in which every value takes the vectorised path, wherever it lies.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <type_traits>

#include <Eigen/Core>

#include <lamina/core/types.hpp>

namespace lamina::detail {

/// Floats (or doubles) per SIMD register in Eigen's build: 16 floats with AVX-512, 8 with AVX.
template <Scalar S>
inline constexpr Index packet_size = Eigen::internal::packet_traits<S>::size;

/// out[i] = f(a, b)[i] for i < n, with f an element-wise Eigen expression of two one-packet
/// arrays (b = a for a unary f). Every value goes through the expression's vectorised form:
/// whole packets, the last one overlapping its predecessor (computed first, so that out may be
/// a), or below one packet a zero-padded copy. Eigen's own loops send a row's last
/// n % packet values through the scalar functions (libm's expf for exp), which round
/// differently: here a value's result never depends on its place in the batch, so that
/// splitting the work (threads, batch sizes) changes nothing, and nothing runs scalar.
template <Scalar S, class F>
void for_each_packet(Index n, S* out, F&& f, const S* a, const S* b) {
    constexpr Index P = packet_size<S>;
    using In = Eigen::Map<const Eigen::Array<S, P, 1>>;
    using Out = Eigen::Map<Eigen::Array<S, P, 1>>;
    using Packet = Eigen::Array<S, P, 1>;
    if (n <= 0) return;
    if (n < P) {
        Packet pa = Packet::Zero(), pb = Packet::Zero();
        std::copy(a, a + n, pa.data());
        std::copy(b, b + n, pb.data());
        const Packet r = f(In(pa.data()), In(pb.data()));
        std::copy(r.data(), r.data() + n, out);
        return;
    }
    const Packet last = f(In(a + n - P), In(b + n - P));
    for (Index i = 0; i + P < n; i += P) Out(out + i) = f(In(a + i), In(b + i));
    Out(out + n - P) = last;
}

/// The sum of a row's values from first to last. Eigen's vectorised reductions start where
/// the memory is aligned, so their rounding depends on the row's address; this does not.
/// The unsigned integer of a scalar's width, for selecting values by bit masks.
template <Scalar S>
using ScalarBits = std::conditional_t<sizeof(S) == 4, std::uint32_t, std::uint64_t>;

/// All bits set where `condition`, none otherwise: a select that compilers vectorize at any
/// instruction set (a `c ? a : 0` on floats stays scalar where there is no blend, as on SSE2).
template <Scalar S>
[[nodiscard]] inline ScalarBits<S> bit_mask(bool condition) noexcept {
    return ScalarBits<S>(0) - ScalarBits<S>(condition);
}

/// `value` where `mask` is all ones, +0 where it is zero; bit for bit (an infinite or NaN value
/// is kept as it is, where a product by 0 or 1 would not).
template <Scalar S>
[[nodiscard]] inline S masked(S value, ScalarBits<S> mask) noexcept {
    return std::bit_cast<S>(std::bit_cast<ScalarBits<S>>(value) & mask);
}

/// out[i] = a[i] where keep[i] > 0, else 0, for i < n: ReLU's backward pass written in terms of
/// its output (out may be a).
template <Scalar S>
void where_positive(const S* keep, const S* a, S* out, Index n) noexcept {
    for (Index i = 0; i < n; ++i) out[i] = masked(a[i], bit_mask<S>(keep[i] > S(0)));
}

template <class Row>
[[nodiscard]] typename Row::Scalar sum_in_order(const Row& row) noexcept {
    typename Row::Scalar sum = 0;
    for (Index j = 0; j < row.size(); ++j) sum += row(j);
    return sum;
}

/// Whether the rows of `m` lie end to end in memory (a block of whole rows of a matrix).
template <class M>
[[nodiscard]] bool contiguous(const M& m) noexcept {
    return m.rows() <= 1 || m.outerStride() == m.cols();
}

/// out = f(a, b) element-wise as `for_each_packet` does it, over the whole block at once
/// when the three lie end to end, else row by row (the same values either way). Shapes: all
/// the same; out may be a or b.
template <Scalar S, class F>
void elementwise(MatrixRef<S> out, F&& f, ConstMatrixRef<S> a, ConstMatrixRef<S> b) {
    if (contiguous(out) && contiguous(a) && contiguous(b)) {
        for_each_packet(out.size(), out.data(), f, a.data(), b.data());
        return;
    }
    for (Index i = 0; i < out.rows(); ++i)
        for_each_packet(out.cols(), out.row(i).data(), f, a.row(i).data(), b.row(i).data());
}

}  // namespace lamina::detail
