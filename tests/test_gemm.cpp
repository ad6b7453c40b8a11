// SPDX-License-Identifier: MIT
// lamina tests: the Dense layer's matrix product against Eigen's, for every shape class it handles.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <type_traits>
#include <vector>

#include <lamina/core/random.hpp>
#include <lamina/detail/gemm.hpp>

using lamina::Index;
using lamina::Isa;
using lamina::detail::FloatKernels;
using MF = lamina::Matrix<float>;

namespace {

// The kernels of every instruction set this CPU can run, the baseline's (none: Eigen and
// plain loops) first: each test checks them all, whichever one LAMINA_MAX_ISA chose.
std::vector<FloatKernels> kernel_sets() {
    std::vector<FloatKernels> sets{lamina::detail::float_kernels_for(Isa::baseline)};
    for (Isa isa : {Isa::avx2, Isa::avx512})
        if (isa <= lamina::cpu_isa() && lamina::detail::float_kernels_for(isa).gemm)
            sets.push_back(lamina::detail::float_kernels_for(isa));
    return sets;
}

// detail::gemm<float> through the kernels of `k`.
void product(const FloatKernels& k, Index m, Index n, Index k_depth, lamina::detail::Strided<float> A, const float* B,
             Index ldb, float* C, Index ldc, const float* bias = nullptr, const std::uint64_t* nonzeros = nullptr,
             Index words = 0) {
    if (k.gemm) k.gemm(m, n, k_depth, A, B, ldb, C, ldc, bias, nonzeros, words);
    else lamina::detail::eigen_gemm<float>(m, n, k_depth, A, B, ldb, C, ldc, bias);
}

template <class T>
void nonzero_bits(const FloatKernels& k, const T* from, Index n, std::uint64_t* bits) {
    if constexpr (std::is_same_v<T, float>) {
        if (k.nonzero_bits_f32) return k.nonzero_bits_f32(from, n, bits);
    } else {
        if (k.nonzero_bits_u8) return k.nonzero_bits_u8(from, n, bits);
    }
    lamina::detail::nonzero_bits_plain(from, n, bits);
}

// Zeroes about `zeros` of the entries, as MNIST's background pixels are.
MF sparse_random(Index rows, Index cols, double zeros, unsigned seed) {
    std::srand(seed);
    MF m = MF::Random(rows, cols);
    for (Index i = 0; i < m.size(); ++i)
        if ((std::rand() % 1000) < zeros * 1000) m.data()[i] = 0;
    return m;
}

}  // namespace

TEST_CASE("gemm matches Eigen for every shape, stride and sparsity", "[gemm]") {
    for (const FloatKernels& kernels : kernel_sets())
        for (Index m : {1, 3, 4, 7, 50, 101, 600})  // 600: masks found 256 rows at a time
            for (Index n : {1, 5, 8, 9, 31, 100})
                for (Index k : {1, 6, 64, 65, 200})
                    for (double zeros : {0.0, 0.8}) {
                        INFO(lamina::isa_name(kernels.isa)
                             << ": m " << m << " n " << n << " k " << k << " zeros " << zeros);
                        const MF a = sparse_random(m, k, zeros, unsigned(m * 7 + n * 3 + k));
                        const MF b = MF::Random(k, n);
                        const lamina::Vector<float> bias = lamina::Vector<float>::Random(n);
                        const MF expected = ((a * b).rowwise() + bias.transpose()).eval();
                        const float tol = 1e-5f * float(k);

                        MF c = MF::Constant(m, n, 99.0f);
                        product(kernels, m, n, k, {a.data(), k, 1}, b.data(), n, c.data(), n, bias.data());
                        CHECK((c - expected).cwiseAbs().maxCoeff() <= tol);

                        // With A's non-zeros given, as the model finds them when it gathers a batch:
                        // the same product, bit for bit, whichever kernel the shape takes.
                        const Index words = lamina::detail::nonzero_words(k);
                        std::vector<std::uint64_t> bits(static_cast<std::size_t>(m * words));
                        for (Index r = 0; r < m; ++r)
                            nonzero_bits(kernels, a.row(r).data(), k, bits.data() + r * words);
                        MF given = MF::Constant(m, n, 99.0f);
                        product(kernels, m, n, k, {a.data(), k, 1}, b.data(), n, given.data(), n, bias.data(),
                                bits.data(), words);
                        CHECK(given == c);

                        // A given as the transpose of a stored (k x m) matrix, no bias.
                        const MF at = a.transpose();
                        product(kernels, m, n, k, {at.data(), 1, m}, b.data(), n, c.data(), n);
                        CHECK((c - a * b).cwiseAbs().maxCoeff() <= tol);
                    }
}

TEST_CASE("gemm writes only its block of a wider C and reads B with a row stride", "[gemm]") {
    for (const FloatKernels& kernels : kernel_sets()) {
        INFO(lamina::isa_name(kernels.isa));
        const MF a = MF::Random(6, 10), b_wide = MF::Random(10, 20);
        MF c_wide = MF::Constant(6, 30, 7.0f);
        product(kernels, 6, 13, 10, {a.data(), 10, 1}, b_wide.data() + 2, 20, c_wide.data() + 5, 30);
        CHECK((c_wide.middleCols(5, 13) - a * b_wide.middleCols(2, 13)).cwiseAbs().maxCoeff() < 1e-5f);
        CHECK((c_wide.leftCols(5).array() == 7.0f).all());
        CHECK((c_wide.rightCols(12).array() == 7.0f).all());
    }
}

TEST_CASE("gemm skips zeros of A without hiding NaN in A", "[gemm]") {
    for (const FloatKernels& kernels : kernel_sets()) {
        INFO(lamina::isa_name(kernels.isa));
        MF a = MF::Zero(4, 16);
        a(2, 5) = std::numeric_limits<float>::quiet_NaN();
        const MF b = MF::Ones(16, 8);
        MF c(4, 8);
        product(kernels, 4, 8, 16, {a.data(), 16, 1}, b.data(), 8, c.data(), 8);
        CHECK(std::isnan(c(2, 0)));
        CHECK(c.row(0).isZero());
    }
}

TEST_CASE("gemm in double goes through Eigen and agrees", "[gemm]") {
    const lamina::Matrix<double> a = lamina::Matrix<double>::Random(5, 7), b = lamina::Matrix<double>::Random(7, 3);
    lamina::Matrix<double> c(5, 3);
    lamina::detail::gemm<double>(5, 3, 7, {a.data(), 7, 1}, b.data(), 3, c.data(), 3);
    CHECK((c - a * b).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("nonzero_bits marks exactly the non-zero bytes and floats of a row, NaN included", "[gemm]") {
    lamina::Random rng(11);
    for (const FloatKernels& kernels : kernel_sets())
        for (Index n = 1; n <= 200; ++n) {
            std::vector<std::uint8_t> bytes(static_cast<std::size_t>(n));
            std::vector<float> floats(static_cast<std::size_t>(n));
            for (Index i = 0; i < n; ++i) {
                bytes[std::size_t(i)] = rng.uniform01() < 0.7 ? 0 : std::uint8_t(1 + rng.below(255));
                floats[std::size_t(i)] = rng.uniform01() < 0.7 ? 0.0f : float(rng.uniform(-1, 1));
            }
            floats[std::size_t(n / 2)] = std::numeric_limits<float>::quiet_NaN();
            std::vector<std::uint64_t> from_bytes(std::size_t(lamina::detail::nonzero_words(n)), ~0ull),
                from_floats = from_bytes;
            nonzero_bits(kernels, bytes.data(), n, from_bytes.data());
            nonzero_bits(kernels, floats.data(), n, from_floats.data());
            INFO(lamina::isa_name(kernels.isa) << ": n " << n);
            for (Index i = 0; i < lamina::detail::nonzero_words(n) * 64; ++i) {
                const auto bit = [&](const std::vector<std::uint64_t>& w) {
                    return (w[std::size_t(i / 64)] >> (i % 64)) & 1u;
                };
                REQUIRE(bit(from_bytes) == (i < n && bytes[std::size_t(i)] != 0 ? 1u : 0u));
                REQUIRE(bit(from_floats) == (i < n && !(floats[std::size_t(i)] == 0.0f) ? 1u : 0u));
            }
        }
}

#if LAMINA_X86_KERNELS
TEST_CASE("transpose8x8 moves bit j of byte i to bit i of byte j", "[gemm]") {
    if (lamina::cpu_isa() < Isa::avx2) return;
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 1000; ++round) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const std::uint64_t t = lamina::detail::avx2::transpose8x8(x);
        for (int i = 0; i < 8; ++i)
            for (int j = 0; j < 8; ++j) REQUIRE(((x >> (8 * i + j)) & 1u) == ((t >> (8 * j + i)) & 1u));
    }
}
#endif

TEST_CASE("the sparse product finds every non-zero of A, however A is laid out", "[gemm]") {
    // One non-zero at a time, at every row and depth of a 21 x 130 A (tails of 8 rows and of
    // 64 depths), read in place and as the transpose of a stored matrix: with n = 40 and A
    // mostly zero, the kernels take the row-at-a-time path.
    const Index m = 21, k = 130, n = 40;
    const MF b = MF::Random(k, n);
    for (const FloatKernels& kernels : kernel_sets()) {
        if (!kernels.gemm) continue;
        INFO(lamina::isa_name(kernels.isa));
        for (Index i = 0; i < m; ++i)
            for (Index p = 0; p < k; ++p) {
                MF a = MF::Zero(m, k);
                a(i, p) = 2.0f;
                const MF at = a.transpose();
                // ... and with the non-zeros given, as the model gathers them.
                const Index words = lamina::detail::nonzero_words(k);
                std::vector<std::uint64_t> bits(std::size_t(m * words));
                for (Index r = 0; r < m; ++r) nonzero_bits(kernels, a.row(r).data(), k, bits.data() + r * words);
                MF c(m, n), ct(m, n), cg(m, n);
                kernels.gemm(m, n, k, {a.data(), k, 1}, b.data(), n, c.data(), n, nullptr, nullptr, 0);
                kernels.gemm(m, n, k, {at.data(), 1, m}, b.data(), n, ct.data(), n, nullptr, nullptr, 0);
                kernels.gemm(m, n, k, {a.data(), k, 1}, b.data(), n, cg.data(), n, nullptr, bits.data(), words);
                INFO("row " << i << " depth " << p);
                REQUIRE(c == a * b);
                REQUIRE(ct == a * b);
                REQUIRE(cg == a * b);
            }
    }
}

TEST_CASE("Every instruction set's kernels give the same products, bit for bit", "[gemm]") {
    // The AVX2 and AVX-512 kernels differ only in how they load tails and find non-zeros; the
    // sums are the same FMAs in the same order.
    const auto sets = kernel_sets();
    if (sets.size() < 3) return;
    const MF a = sparse_random(100, 784, 0.8, 5), b = MF::Random(784, 100);
    const MF at = a.transpose();
    MF c2(100, 100), c512(100, 100);
    for (auto [view, label] : {std::pair{lamina::detail::Strided<float>{a.data(), 784, 1}, "A"},
                               std::pair{lamina::detail::Strided<float>{at.data(), 1, 100}, "A^T stored"}}) {
        INFO(label);
        sets[1].gemm(100, 100, 784, view, b.data(), 100, c2.data(), 100, nullptr, nullptr, 0);
        sets[2].gemm(100, 100, 784, view, b.data(), 100, c512.data(), 100, nullptr, nullptr, 0);
        CHECK(c2 == c512);
    }
}

TEST_CASE("Bytes widen to floats exactly with every instruction set's kernels", "[gemm]") {
    std::vector<std::uint8_t> bytes(259);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::uint8_t(i * 37 + 11);
    for (const FloatKernels& kernels : kernel_sets()) {
        if (!kernels.widen_u8) continue;
        INFO(lamina::isa_name(kernels.isa));
        for (Index n : {0, 1, 7, 8, 9, 64, 259}) {
            std::vector<float> floats(bytes.size() + 1, -1.0f);
            kernels.widen_u8(bytes.data(), floats.data(), n);
            for (Index i = 0; i < n; ++i) REQUIRE(floats[std::size_t(i)] == float(bytes[std::size_t(i)]));
            CHECK(floats[std::size_t(n)] == -1.0f);
        }
    }
}

TEST_CASE(
    "LAMINA_MAX_ISA caps the kernels at the instruction set it names, and a name it does not know at the baseline",
    "[gemm][isa]") {
    CHECK(lamina::choose_isa(Isa::avx512, nullptr).chosen == Isa::avx512);
    CHECK(lamina::choose_isa(Isa::avx512, "").chosen == Isa::avx512);
    CHECK(lamina::choose_isa(Isa::avx512, "avx2").chosen == Isa::avx2);
    CHECK(lamina::choose_isa(Isa::avx512, "AVX2").chosen == Isa::avx2);
    CHECK(lamina::choose_isa(Isa::avx512, "sse2").chosen == Isa::baseline);
    CHECK(lamina::choose_isa(Isa::avx2, "avx512").chosen == Isa::avx2);  // a cap never adds what the CPU lacks
    CHECK(lamina::choose_isa(Isa::baseline, "avx2").chosen == Isa::baseline);
    const auto unknown = lamina::choose_isa(Isa::avx512, "avx9000");
    CHECK(unknown.chosen == Isa::baseline);
    CHECK_FALSE(unknown.understood);
    // The choice this process made says what it ran on.
    const std::string said = lamina::kernel_description();
    CHECK(said.rfind(std::string(lamina::isa_name(lamina::kernel_isa())), 0) == 0);
}

TEST_CASE("transpose matches Eigen's for every shape, with row strides", "[gemm]") {
    for (Index rows = 1; rows <= 27; ++rows)
        for (Index cols = 1; cols <= 27; ++cols) {
            // src is the left rows x cols block of a wider matrix, dst that of a wider one too.
            const MF src = MF::Random(rows, cols + 3);
            MF dst = MF::Constant(cols, rows + 5, -7.0f);
            INFO(rows << " x " << cols);
            for (const FloatKernels& kernels : kernel_sets())
                if (kernels.transpose) {
                    MF by_kernel = dst;
                    kernels.transpose(rows, cols, src.data(), src.cols(), by_kernel.data(), by_kernel.cols());
                    INFO(lamina::isa_name(kernels.isa));
                    REQUIRE(by_kernel.leftCols(rows) == src.leftCols(cols).transpose());
                    REQUIRE((by_kernel.rightCols(5).array() == -7.0f).all());
                }
            lamina::detail::transpose<float>(rows, cols, src.data(), src.cols(), dst.data(), dst.cols());
            REQUIRE(dst.leftCols(rows) == src.leftCols(cols).transpose());
            REQUIRE((dst.rightCols(5).array() == -7.0f).all());  // nothing written past the block
        }
    const lamina::Matrix<double> d = lamina::Matrix<double>::Random(9, 11);
    lamina::Matrix<double> t(11, 9);
    lamina::detail::transpose<double>(9, 11, d.data(), 11, t.data(), 9);
    CHECK(t == d.transpose());
}
