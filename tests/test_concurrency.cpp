// SPDX-License-Identifier: MIT
// lamina tests: predict and evaluate called from several threads at once give what one call alone gives.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <lamina/lamina.hpp>

namespace {

using lamina::Index;
using lamina::Matrix;

// The seed network, compiled but never trained here: its weights stay those of seed 1.
lamina::Sequential<float> seed_model() {
    lamina::Sequential<float> model{lamina::Dense(100, {.input_dim = 784}), lamina::Activation("sigmoid"),
                                    lamina::Dense(10), lamina::Activation("softmax")};
    model.initialize(1);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
    return model;
}

// Inputs shaped like MNIST digits: about 80% zeros (so both the sparse and the blocked
// product run), the rest in [0, 1). One-hot targets cycle through the classes.
Matrix<float> digits(Index rows, std::uint64_t seed) {
    lamina::Random rng(seed);
    Matrix<float> x(rows, 784);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = rng.uniform01() < 0.8 ? 0.0f : float(rng.uniform01());
    return x;
}
Matrix<float> one_hot(Index rows) {
    Matrix<float> y = Matrix<float>::Zero(rows, 10);
    for (Index i = 0; i < rows; ++i) y(i, i % 10) = 1;
    return y;
}

// Same shape and the same bits in every element.
bool identical(const Matrix<float>& a, const Matrix<float>& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

}  // namespace

TEST_CASE("Concurrent predict and evaluate on an untrained model match one call alone, bit for bit",
          "[concurrency][sequential]") {
    constexpr int threads = 4, calls = 50;
    // 256 rows: whole-matrix calls split into teams of their own (>= 64 rows per worker).
    constexpr Index n = 256;
    const auto model = seed_model();
    const Matrix<float> x = digits(n, 7), y = one_hot(n);

    // What each kind of call gives when it runs alone.
    const Matrix<float> whole = model.predict(x);
    const Matrix<float> whole_three = model.predict(x, {.threads = 3});
    const Matrix<float> whole_one = model.predict(x, {.batch_size = 100, .threads = 1});
    std::vector<Matrix<float>> single(std::size_t(n), Matrix<float>(1, 10));
    for (Index i = 0; i < n; ++i) model.predict(x.middleRows(i, 1), single[std::size_t(i)]);
    std::vector<Matrix<float>> blocks(std::size_t(n / 8), Matrix<float>(8, 10));  // rows [8b, 8b + 8)
    for (Index b = 0; b < n / 8; ++b) model.predict(x.middleRows(8 * b, 8), blocks[std::size_t(b)]);
    const lamina::Score score = model.evaluate(x, y);
    const lamina::Score score_two = model.evaluate(x, y, {.threads = 2});
    REQUIRE(whole.rows() == n);
    REQUIRE(whole.cols() == 10);

    // Catch2's assertions are not thread-safe: the threads count mismatches, checked after.
    std::atomic<int> single_wrong{0}, whole_wrong{0}, evaluate_wrong{0}, failures{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                Matrix<float> out(1, 10);  // this thread's own buffer
                Matrix<float> block(8, 10);
                // Start together, so that the calls overlap.
                ready.fetch_add(1);
                while (ready.load() < threads) std::this_thread::yield();
                for (int c = 0; c < calls; ++c) {
                    const Index i = (Index(t) * 61 + Index(c) * 7) % n;
                    switch ((t + c) % 5) {
                        case 0:
                            model.predict(x.middleRows(i, 1), out);
                            single_wrong += !identical(out, single[std::size_t(i)]);
                            break;
                        case 1:
                            // A block of 8 rows into this thread's buffer, on this thread.
                            model.predict(x.middleRows(i / 8 * 8, 8), block, {.threads = 1});
                            single_wrong += !identical(block, blocks[std::size_t(i / 8)]);
                            break;
                        case 2: whole_wrong += !identical(model.predict(x), whole); break;
                        case 3:
                            whole_wrong += !identical(model.predict(x, {.threads = 3}), whole_three);
                            whole_wrong += !identical(model.predict(x, {.batch_size = 100, .threads = 1}), whole_one);
                            break;
                        default: {
                            const auto s = (c % 2 == 0) ? model.evaluate(x, y) : model.evaluate(x, y, {.threads = 2});
                            const auto& expected = (c % 2 == 0) ? score : score_two;
                            evaluate_wrong += s.loss != expected.loss || s.accuracy != expected.accuracy;
                        }
                    }
                }
            } catch (...) {
                failures += 1;
            }
        });
    }
    for (auto& th : pool) th.join();

    CHECK(failures == 0);
    CHECK(single_wrong == 0);
    CHECK(whole_wrong == 0);
    CHECK(evaluate_wrong == 0);
    // The model was only read: the calls alone still give the same.
    CHECK(identical(model.predict(x), whole));
    CHECK(model.evaluate(x, y).loss == score.loss);
}
