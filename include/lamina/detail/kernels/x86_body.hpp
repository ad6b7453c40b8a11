// SPDX-License-Identifier: MIT
// lamina: the float kernels of one x86 instruction set, included once per set by kernels.hpp.
//
// No include guard on purpose: kernels.hpp includes this file twice, with LAMINA_KERNELS_AVX512
// 0 (namespace avx2: AVX2 + FMA) and 1 (namespace avx512), so that one text gives both
// namespaces, each inside a region whose functions get its instruction set through the
// compiler's target attribute. It includes nothing: whatever it uses is included before, so
// that no function of another header gets the target. Inside, only LAMINA_KERNELS_AVX512
// chooses code, never the compiler's __AVX2__-style macros, which follow the file's -m flags:
// each namespace's functions are the same tokens in every translation unit.

#if LAMINA_KERNELS_AVX512
#define LAMINA_KERNELS_NS avx512
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi,bmi2,popcnt")
#endif
#else
#define LAMINA_KERNELS_NS avx2
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi,bmi2,popcnt"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,popcnt")
#endif
#endif

namespace lamina::detail::LAMINA_KERNELS_NS {

// Why not Eigen's product: for the shapes of a small network trained in batches of ~100
// (100 x 784 times 784 x 100), Eigen's general product packs both operands on every call
// and reaches about half of this machine's FMA peak. These kernels read the operands in
// place, keep an MR x (8 * NV) block of C in registers and stream k.
//
// They also skip zeros of A: for each block of MR rows, only the depths p where some
// A(r, p) is non-zero are visited (from 64-bit masks of each row's non-zero depths, built
// once per depth chunk).
// Inputs such as MNIST pixels are mostly 0, which makes the first layer's products several
// times cheaper. Skipping adds nothing but exact zeros (0 * b), so results are the same as
// the dense product's for finite B.

constexpr int MR = 4;     // rows of C per kernel call
constexpr int NVMAX = 4;  // vectors of 8 columns per kernel call
constexpr Index KC = 64;  // depth per pass: a 64 x 100 chunk of B (25 KiB) stays in L1
static_assert(KC == 64, "a row's non-zeros in a depth chunk are one 64-bit mask, as nonzero_bits writes them");

// The last vector of a row that is not a multiple of 8 wide: loaded and stored under a mask
// of its first n lanes. Where AVX-512 is on, through a mask register: AVX2's vmaskmovps
// store costs about a dozen plain stores on AMD's Zen 4 (9% of the sparse kernel's time).
#if LAMINA_KERNELS_AVX512
using Tail = __mmask8;
inline Tail tail_mask(int n) { return Tail((1u << n) - 1u); }
inline __m256 load_tail(const float* p, Tail t) { return _mm256_maskz_loadu_ps(t, p); }
inline void store_tail(float* p, Tail t, __m256 v) { _mm256_mask_storeu_ps(p, t, v); }
#else
using Tail = __m256i;
inline Tail tail_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline __m256 load_tail(const float* p, Tail t) { return _mm256_maskload_ps(p, t); }
inline void store_tail(float* p, Tail t, __m256 v) { _mm256_maskstore_ps(p, t, v); }
#endif

// Keeps a loaded vector in a register: without it the compiler folds the load into every
// FMA that uses it, and R loads of the same vector make the loop load-bound.
inline void pin(__m256& v) { __asm__("" : "+x"(v)); }

// C[0:R, 0:8*NV) = (first ? init : C) + sum over p in idx[0:count) of A(r, p) B(p, :),
// where init is the bias row (or 0 without one). The last of the NV vectors covers `tail`
// columns (1-8).
template <int R, int NV, bool Full, bool Indexed>
inline void kernel(const int* idx, int count, const float* a, Index a_rs, Index a_cs, const float* b, Index ldb,
                   float* c, Index ldc, bool first, const float* bias, Tail mask) {
    __m256 acc[R][NV];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
        for (int v = 0; v < NV - 1; ++v)
            acc[r][v] = first ? (bias ? _mm256_loadu_ps(bias + 8 * v) : _mm256_setzero_ps())
                              : _mm256_loadu_ps(c + r * ldc + 8 * v);
        acc[r][NV - 1] = first ? (bias ? load_tail(bias + 8 * (NV - 1), mask) : _mm256_setzero_ps())
                               : load_tail(c + r * ldc + 8 * (NV - 1), mask);
    }
    for (int q = 0; q < count; ++q) {
        const Index p = Indexed ? idx[q] : idx[0] + q;
        const float* bp = b + p * ldb;
        const float* ap = a + p * a_cs;
        __m256 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            bv[v] = (Full || v < NV - 1) ? _mm256_loadu_ps(bp + 8 * v) : load_tail(bp + 8 * v, mask);
            pin(bv[v]);
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const __m256 av = _mm256_broadcast_ss(ap + r * a_rs);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
        for (int v = 0; v < NV - 1; ++v) _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
        store_tail(c + r * ldc + 8 * (NV - 1), mask, acc[r][NV - 1]);
    }
}

template <int R>
inline void kernel_rows(int nv, bool full, const int* idx, int count, const float* a, Index a_rs, Index a_cs,
                        const float* b, Index ldb, float* c, Index ldc, bool first, const float* bias, Tail mask) {
    // A dense depth chunk (idx = p0, p0 + 1, ...) runs without the index list.
    const bool dense = count > 0 && idx[count - 1] - idx[0] == count - 1;
#define LAMINA_KERNEL_CASE(NV)                                                                                       \
    case NV:                                                                                                         \
        if (full && dense) kernel<R, NV, true, false>(idx, count, a, a_rs, a_cs, b, ldb, c, ldc, first, bias, mask); \
        else if (full) kernel<R, NV, true, true>(idx, count, a, a_rs, a_cs, b, ldb, c, ldc, first, bias, mask);      \
        else if (dense) kernel<R, NV, false, false>(idx, count, a, a_rs, a_cs, b, ldb, c, ldc, first, bias, mask);   \
        else kernel<R, NV, false, true>(idx, count, a, a_rs, a_cs, b, ldb, c, ldc, first, bias, mask);               \
        break;
    switch (nv) {
        LAMINA_KERNEL_CASE(1)
        LAMINA_KERNEL_CASE(2)
        LAMINA_KERNEL_CASE(3)
        default: LAMINA_KERNEL_CASE(4)
    }
#undef LAMINA_KERNEL_CASE
}

// Bit q of the result: whether a[q] != 0, for q < n <= 64 (a contiguous run of A). NaN
// counts as non-zero, so that it reaches C.
inline std::uint64_t nonzero_mask(const float* a, Index n) {
    std::uint64_t bits = 0;
    Index q = 0;
#if LAMINA_KERNELS_AVX512
    for (; q + 16 <= n; q += 16)  // AVX-512 compares straight into a 16-bit mask
        bits |= std::uint64_t(_mm512_cmp_ps_mask(_mm512_loadu_ps(a + q), _mm512_setzero_ps(), _CMP_NEQ_UQ)) << q;
#endif
    for (; q + 8 <= n; q += 8)
        bits |= std::uint64_t(unsigned(
                    _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(a + q), _mm256_setzero_ps(), _CMP_NEQ_UQ))))
                << q;
    for (; q < n; ++q) bits |= std::uint64_t(a[q] != 0.0f) << q;
    return bits;
}

// The 8 x 8 bit matrix in x (row i = byte i, column j = bit j of it), transposed: three
// rounds of swapping the off-diagonal halves of 2x2, 4x4 and 8x8 blocks.
constexpr std::uint64_t transpose8x8(std::uint64_t x) {
    std::uint64_t t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
    x ^= t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
    x ^= t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
    x ^= t ^ (t << 28);
    return x;
}

// For a transposed A (A(r, p) = a[r + p * cs]: each depth a contiguous run over the rows),
// bits[r] = the depth mask of row r in [p0, p0 + kc), kc <= 64, for r < m. Eight rows by
// eight depths at a time: the depths' compare masks form an 8 x 8 bit matrix whose
// transpose holds the rows' masks, so a non-zero costs no store of its own.
inline void transposed_masks(const float* a, Index cs, Index m, Index p0, Index kc, std::uint64_t* bits) {
    Index r = 0;
#if LAMINA_KERNELS_AVX512
    // Sixteen rows at a time: depth q's compare gives a 16-bit mask (bit b: row r + b), and
    // bit b of the 64 depths' masks, shifted into each 16-bit lane's sign bit, is row r + b's
    // mask: two sign-bit extractions per row instead of 8 x 8 transposes.
    for (; r + 16 <= m; r += 16) {
        alignas(64) std::uint16_t depth_masks[64] = {};
        for (Index q = 0; q < kc; ++q)
            depth_masks[q] = _mm512_cmp_ps_mask(_mm512_loadu_ps(a + (p0 + q) * cs + r), _mm512_setzero_ps(),
                                                _CMP_NEQ_UQ);
        const __m512i low = _mm512_load_si512(depth_masks), high = _mm512_load_si512(depth_masks + 32);
#pragma GCC unroll 16
        for (int b = 0; b < 16; ++b) {
            const auto first = std::uint64_t(_mm512_movepi16_mask(_mm512_slli_epi16(low, unsigned(15 - b))));
            const auto last = std::uint64_t(_mm512_movepi16_mask(_mm512_slli_epi16(high, unsigned(15 - b))));
            bits[r + b] = first | last << 32;
        }
    }
#endif
    for (; r + 8 <= m; r += 8) {
        std::uint64_t rows[8] = {};
        for (Index q0 = 0; q0 < kc; q0 += 8) {
            std::uint64_t block = 0;  // byte s, bit b: A(r + b, p0 + q0 + s) != 0
#pragma GCC unroll 8
            for (int s = 0; s < 8; ++s)
                if (q0 + s < kc) {
                    const __m256 v = _mm256_loadu_ps(a + (p0 + q0 + s) * cs + r);
                    block |=
                        std::uint64_t(unsigned(_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ))))
                        << (8 * s);
                }
            block = transpose8x8(block);  // byte b, bit s: the same
#pragma GCC unroll 8
            for (int b = 0; b < 8; ++b) rows[b] |= ((block >> (8 * b)) & 0xFFu) << q0;
        }
        for (int b = 0; b < 8; ++b) bits[r + b] = rows[b];
    }
    for (; r < m; ++r) {
        std::uint64_t row = 0;
        for (Index q = 0; q < kc; ++q) row |= std::uint64_t(a[r + (p0 + q) * cs] != 0.0f) << q;
        bits[r] = row;
    }
}

// Rows of A whose masks are found at a time, into a buffer on the stack (no allocation,
// whichever thread runs which product): a multiple of MR.
constexpr Index MASK_ROWS = 256;
static_assert(MASK_ROWS % MR == 0);

// masks[j] = the depth mask of row i0 + j of A in [p0, p0 + kc), kc <= 64, for j < count:
// from compares along the rows (A.cs == 1), across them (A.rs == 1), or one value at a time.
inline void chunk_masks(Strided<float> A, Index i0, Index count, Index p0, Index kc, std::uint64_t* masks) {
    const float* a = A.data + i0 * A.rs;
    if (A.cs == 1) {
        for (Index j = 0; j < count; ++j) masks[j] = nonzero_mask(a + j * A.rs + p0, kc);
    } else if (A.rs == 1) {
        transposed_masks(a, A.cs, count, p0, kc, masks);
    } else {
        for (Index j = 0; j < count; ++j) {
            std::uint64_t row = 0;
            for (Index q = 0; q < kc; ++q) row |= std::uint64_t(a[j * A.rs + (p0 + q) * A.cs] != 0.0f) << q;
            masks[j] = row;
        }
    }
}

// The depth masks of A's rows in one depth chunk at a time, for both products: the caller's
// (`nonzeros`, `words` per row, when A's rows were scanned as they were gathered) or found
// MASK_ROWS rows at a time into a buffer on the stack. Rows are asked for in increasing order
// within a chunk.
class RowMasks {
public:
    RowMasks(Strided<float> A, Index m, const std::uint64_t* nonzeros, Index words)
        : A_(A), m_(m), nonzeros_(nonzeros), words_(words) {}
    void chunk(Index p0, Index kc) {
        p0_ = p0;
        kc_ = kc;
    }
    std::uint64_t operator()(Index i) {
        if (nonzeros_) return nonzeros_[i * words_ + p0_ / KC];
        if (i % MASK_ROWS == 0) chunk_masks(A_, i, std::min(MASK_ROWS, m_ - i), p0_, kc_, found_);
        return found_[i % MASK_ROWS];
    }

private:
    Strided<float> A_;
    Index m_;
    const std::uint64_t* nonzeros_;
    Index words_;
    Index p0_ = 0, kc_ = 0;
    std::uint64_t found_[MASK_ROWS];
};

// C (m x n, row stride ldc) = A (m x k) B (k x n, row stride ldb) [+ bias], MR rows at a time:
// for dense A, where each B vector loaded serves MR rows.
inline void gemm_blocked(Index m, Index n, Index k, Strided<float> A, const float* B, Index ldb, float* C, Index ldc,
                         const float* bias, const std::uint64_t* nonzeros, Index words) {
    const Index vectors = (n + 7) / 8;
    const Index panels = (vectors + NVMAX - 1) / NVMAX;
    const int tail = int(n - 8 * (vectors - 1));
    const Tail mask = tail_mask(tail);
    const Tail all = tail_mask(8);
    int idx[KC];
    RowMasks masks(A, m, nonzeros, words);
    Index p0 = 0;
    do {
        const Index kc = std::min(KC, k - p0);
        const bool first = p0 == 0;
        masks.chunk(p0, kc);
        for (Index i = 0; i < m; i += MR) {
            const int rows = int(std::min<Index>(MR, m - i));
            const float* a = A.data + i * A.rs;
            // The depths where some of the block's rows is non-zero, in order.
            std::uint64_t any = 0;
            for (int r = 0; r < rows; ++r) any |= masks(i + r);
            int count = 0;
            for (; any != 0; any &= any - 1) idx[count++] = int(p0 + std::countr_zero(any));
            Index v0 = 0;
            for (Index panel = 0; panel < panels; ++panel) {
                // Balanced panels: 13 vectors become 4 + 3 + 3 + 3, not 4 + 4 + 4 + 1.
                const Index v1 = vectors * (panel + 1) / panels;
                const bool full = v1 < vectors || tail == 8;
                const Index j0 = 8 * v0;
                const float* bias_j = bias ? bias + j0 : nullptr;
                float* c = C + i * ldc + j0;
                if (rows == MR)
                    kernel_rows<MR>(int(v1 - v0), full, idx, count, a, A.rs, A.cs, B + j0, ldb, c, ldc, first, bias_j,
                                    full ? all : mask);
                else
                    for (int r = 0; r < rows; ++r)
                        kernel_rows<1>(int(v1 - v0), full, idx, count, a + r * A.rs, A.rs, A.cs, B + j0, ldb,
                                       c + r * ldc, ldc, first, bias_j, full ? all : mask);
                v0 = v1;
            }
        }
        p0 += kc;
    } while (p0 < k);
}

// One row of C, all of its (up to 8 * NV1MAX) columns in registers: each non-zero A(0, p)
// (a set bit of `depths`, p = p0 + its position) costs one broadcast and NV FMAs reading B
// straight from L1. Every zero of A is skipped, not only depths where a whole block of rows
// is zero, so this is the path for sparse A.
constexpr int NV1MAX = 14;

template <int NV, bool Full>
inline void kernel_row(std::uint64_t depths, Index p0, const float* a, Index a_cs, const float* b, Index ldb, float* c,
                       bool first, const float* bias, Tail mask) {
    __m256 acc[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
        const bool last = !Full && v == NV - 1;
        const float* from = first ? bias : c;
        acc[v] = (first && !bias) ? _mm256_setzero_ps()
                                  : (last ? load_tail(from + 8 * v, mask) : _mm256_loadu_ps(from + 8 * v));
    }
    for (std::uint64_t left = depths; left != 0; left &= left - 1) {
        const Index p = p0 + std::countr_zero(left);
        const __m256 av = _mm256_broadcast_ss(a + p * a_cs);
        const float* bp = b + p * ldb;
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) {
            const bool last = !Full && v == NV - 1;
            acc[v] = _mm256_fmadd_ps(av, last ? load_tail(bp + 8 * v, mask) : _mm256_loadu_ps(bp + 8 * v), acc[v]);
        }
    }
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
        if (!Full && v == NV - 1) store_tail(c + 8 * v, mask, acc[v]);
        else _mm256_storeu_ps(c + 8 * v, acc[v]);
    }
}

using RowKernel = void (*)(std::uint64_t, Index, const float*, Index, const float*, Index, float*, bool, const float*,
                           Tail);

template <int... NV>
constexpr RowKernel row_kernel(int nv, bool full, std::integer_sequence<int, NV...>) {
    RowKernel chosen = nullptr;
    ((nv == NV + 1 ? (chosen = full ? &kernel_row<NV + 1, true> : &kernel_row<NV + 1, false>) : chosen), ...);
    return chosen;
}

// C = A B [+ bias] one row at a time over the non-zero depths of each row, in chunks of KC
// depths (so that the chunk of B stays in L1 while every row of C visits it), each row's
// non-zeros in a chunk given by one 64-bit mask. n <= 8 * NV1MAX; A's rows or its depths
// are contiguous (A.cs == 1, a forward product; or A.rs == 1, a weight gradient x^T dy).
inline void gemm_sparse(Index m, Index n, Index k, Strided<float> A, const float* B, Index ldb, float* C, Index ldc,
                        const float* bias, const std::uint64_t* nonzeros, Index words) {
    const int nv = int((n + 7) / 8);
    const int tail = int(n - 8 * (nv - 1));
    const Tail mask = tail_mask(tail);
    const RowKernel kernel = row_kernel(nv, tail == 8, std::make_integer_sequence<int, NV1MAX>{});
    RowMasks masks(A, m, nonzeros, words);
    for (Index p0 = 0; p0 < k || p0 == 0; p0 += KC) {
        masks.chunk(p0, std::min(KC, k - p0));
        for (Index i = 0; i < m; ++i) {
            const std::uint64_t depths = masks(i);
            // A row with no non-zero in a later chunk keeps its C as it is.
            if (depths != 0 || p0 == 0)
                kernel(depths, p0, A.data + i * A.rs, A.cs, B, ldb, C + i * ldc, p0 == 0, bias, mask);
        }
        if (k == 0) break;
    }
}

// How many of A's contiguous runs mostly_zero samples, and its rule: fewer non-zeros than
// zeros among the values seen.
constexpr Index SAMPLED_RUNS = 8;
constexpr bool under_half(Index nonzeros, Index seen) { return seen > 0 && 2 * nonzeros < seen; }

// Whether A has few enough non-zeros for the row-at-a-time path: sampled on up to
// SAMPLED_RUNS of its contiguous runs, rows when A.cs == 1, else depths (A.rs == 1), 64
// values per compare mask.
inline bool mostly_zero(Index m, Index k, Strided<float> A) {
    const bool by_rows = A.cs == 1;
    const Index runs = std::min(by_rows ? m : k, SAMPLED_RUNS), length = by_rows ? k : m,
                stride = by_rows ? A.rs : A.cs;
    Index nonzeros = 0;
    for (Index r = 0; r < runs; ++r)
        for (Index q = 0; q < length; q += 64)
            nonzeros += std::popcount(nonzero_mask(A.data + r * stride + q, std::min<Index>(64, length - q)));
    return under_half(nonzeros, runs * length);
}

// Whether the first (up to SAMPLED_RUNS) rows of A are mostly zero, as mostly_zero finds it,
// from the caller's masks of A's non-zeros (`words` per row).
inline bool mostly_zero(Index m, Index k, const std::uint64_t* nonzeros, Index words) {
    const Index runs = std::min(m, SAMPLED_RUNS);
    Index count = 0;
    for (Index i = 0; i < runs * words; ++i) count += std::popcount(nonzeros[i]);
    return under_half(count, runs * k);
}

// C (m x n, row stride ldc) = A (m x k) B (k x n, row stride ldb) [+ bias], with A's
// non-zeros given when `nonzeros` is not null (see gemm below).
inline void gemm(Index m, Index n, Index k, Strided<float> A, const float* B, Index ldb, float* C, Index ldc,
                 const float* bias, const std::uint64_t* nonzeros, Index words) {
    const bool sparse = n >= 32 && n <= 8 * NV1MAX &&
                        (nonzeros ? mostly_zero(m, k, nonzeros, words)
                                  : (A.cs == 1 || A.rs == 1) && mostly_zero(m, k, A));
    if (sparse) gemm_sparse(m, n, k, A, B, ldb, C, ldc, bias, nonzeros, words);
    else gemm_blocked(m, n, k, A, B, ldb, C, ldc, bias, nonzeros, words);
}

// dst (8 x 8, row stride ld_dst) = the transpose of src (8 x 8, row stride ld_src): pairs of
// rows interleaved, then pairs of pairs, then the 128-bit halves swapped across.
inline void transpose_block8(const float* src, Index ld_src, float* dst, Index ld_dst) {
    __m256 r[8], t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld_src);
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 2
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(dst + i * ld_dst, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ld_dst, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}

// dst (cols x rows, row stride ld_dst) = the transpose of src (rows x cols, row stride
// ld_src), 8 x 8 blocks at a time, then the edges one value at a time.
inline void transpose(Index rows, Index cols, const float* src, Index ld_src, float* dst, Index ld_dst) {
    const Index i0 = rows / 8 * 8, j0 = cols / 8 * 8;
    for (Index i = 0; i < i0; i += 8)
        for (Index j = 0; j < j0; j += 8) transpose_block8(src + i * ld_src + j, ld_src, dst + j * ld_dst + i, ld_dst);
    for (Index i = 0; i < rows; ++i)
        for (Index j = (i < i0 ? j0 : 0); j < cols; ++j) dst[j * ld_dst + i] = src[i * ld_src + j];
}

// bits[c] for 64 c < n: bit q set exactly when from[64 c + q] != 0, bytes compared 64
// (AVX-512BW) or 32 (AVX2) at a time.
inline void nonzero_bits_u8(const std::uint8_t* from, Index n, std::uint64_t* bits) {
    for (Index c = 0; 64 * c < n; ++c) {
        const std::uint8_t* p = from + 64 * c;
        const Index len = n - 64 * c < 64 ? n - 64 * c : 64;
        std::uint64_t word = 0;
        Index q = 0;
#if LAMINA_KERNELS_AVX512
        const __mmask64 lanes = len == 64 ? ~__mmask64(0) : (__mmask64(1) << len) - 1;
        const __m512i v = _mm512_maskz_loadu_epi8(lanes, p);
        word = _mm512_test_epi8_mask(v, v);
        q = len;
#else
        for (; q + 32 <= len; q += 32) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + q));
            const auto zeros = unsigned(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_setzero_si256())));
            word |= std::uint64_t(~zeros) << q;
        }
#endif
        for (; q < len; ++q) word |= std::uint64_t(p[q] != 0) << q;
        bits[c] = word;
    }
}

// The same for floats (NaN counts as non-zero).
inline void nonzero_bits_f32(const float* from, Index n, std::uint64_t* bits) {
    for (Index c = 0; 64 * c < n; ++c) bits[c] = nonzero_mask(from + 64 * c, n - 64 * c < 64 ? n - 64 * c : 64);
}

// to[i] = float(from[i]) for i < n, 8 bytes widened at a time.
inline void widen_u8(const std::uint8_t* from, float* to, Index n) {
    Index i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(from + i));
        _mm256_storeu_ps(to + i, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)));
    }
    for (; i < n; ++i) to[i] = float(from[i]);
}

// W float lanes of one register (8: __m256; 16: __m512 where AVX-512 is on), and the
// operations the element-wise kernels take from it.
template <int W>
struct Lanes;

template <>
struct Lanes<8> {
    using F = __m256;
    using Mask = Tail;
    static F load(const float* p) { return _mm256_loadu_ps(p); }
    static F load(const float* p, Mask m) { return load_tail(p, m); }
    static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
    static void store(float* p, Mask m, F v) { store_tail(p, m, v); }
    static Mask mask(int n) { return tail_mask(n); }
    static F set1(float v) { return _mm256_set1_ps(v); }
    static F add(F a, F b) { return _mm256_add_ps(a, b); }
    static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
    static F div(F a, F b) { return _mm256_div_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
    static F min(F a, F b) { return _mm256_min_ps(a, b); }
    static F max(F a, F b) { return _mm256_max_ps(a, b); }
    static F floor(F a) { return _mm256_floor_ps(a); }
    // 2^m for whole m in [-127, 128]: m + 127 as the exponent field.
    static F pow2(F m) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvttps_epi32(add(m, set1(127.0f))), 23)); }
};

#if LAMINA_KERNELS_AVX512
template <>
struct Lanes<16> {
    using F = __m512;
    using Mask = __mmask16;
    static F load(const float* p) { return _mm512_loadu_ps(p); }
    static F load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
    static void store(float* p, Mask m, F v) { _mm512_mask_storeu_ps(p, m, v); }
    static Mask mask(int n) { return Mask((1u << n) - 1u); }
    static F set1(float v) { return _mm512_set1_ps(v); }
    static F add(F a, F b) { return _mm512_add_ps(a, b); }
    static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F div(F a, F b) { return _mm512_div_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static F min(F a, F b) { return _mm512_min_ps(a, b); }
    static F max(F a, F b) { return _mm512_max_ps(a, b); }
    static F floor(F a) { return _mm512_floor_ps(a); }
    static F pow2(F m) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvttps_epi32(add(m, set1(127.0f))), 23)); }
};
constexpr int WIDE = 16;
#else
constexpr int WIDE = 8;
#endif

// e^x, each lane as Eigen 3.4's AVX-512 exp computes it (Cephes' degree-5 polynomial on
// r = x - m ln 2, m = floor(x log2(e) + 1/2), r by one FMA; the clamps and the last max in
// the operand order of its pmin/pmax, which decides what NaN gives), so that a model
// trains the same with these kernels as with Eigen's own code built for AVX-512.
template <int W>
inline typename Lanes<W>::F exp(typename Lanes<W>::F x0) {
    using L = Lanes<W>;
    const auto x = L::max(L::set1(-88.3762626647949f), L::min(L::set1(88.3762626647950f), x0));
    const auto m = L::floor(L::fmadd(x, L::set1(1.44269504088896341f), L::set1(0.5f)));
    const auto r = L::fmadd(m, L::set1(-0.6931471805599453f), x);
    const auto r2 = L::mul(r, r), r3 = L::mul(r2, r);
    auto y = L::fmadd(L::set1(1.9875691500E-4f), r, L::set1(1.3981999507E-3f));
    auto y1 = L::fmadd(L::set1(4.1665795894E-2f), r, L::set1(1.6666665459E-1f));
    const auto y2 = L::add(r, L::set1(1.0f));
    y = L::fmadd(y, r, L::set1(8.3334519073E-3f));
    y1 = L::fmadd(y1, r, L::set1(5.0000001201E-1f));
    y = L::fmadd(y, r3, y1);
    y = L::fmadd(y, r2, y2);
    return L::max(x0, L::mul(y, L::pow2(m)));
}

// 1 / (1 + e^-x), as Eigen evaluates the Sigmoid activation's expression.
template <int W>
inline typename Lanes<W>::F sigmoid(typename Lanes<W>::F x) {
    using L = Lanes<W>;
    const auto one = L::set1(1.0f);
    return L::div(one, L::add(one, exp<W>(L::sub(L::set1(0.0f), x))));
}

// y[i] = 1 / (1 + e^-x[i]) for i < n (y may be x), the last values under a mask: a value's
// result never depends on where it lies.
inline void sigmoid_rows(const float* x, float* y, Index n) {
    using L = Lanes<WIDE>;
    Index i = 0;
    for (; i + WIDE <= n; i += WIDE) L::store(y + i, sigmoid<WIDE>(L::load(x + i)));
    if (i < n) {
        const auto m = L::mask(int(n - i));
        L::store(y + i, m, sigmoid<WIDE>(L::load(x + i, m)));
    }
}

}  // namespace lamina::detail::LAMINA_KERNELS_NS

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef LAMINA_KERNELS_NS
#undef LAMINA_KERNELS_AVX512
