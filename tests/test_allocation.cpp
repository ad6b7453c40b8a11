// SPDX-License-Identifier: MIT
// lamina tests: the training step and single-sample prediction allocate nothing after warming up.
#include <catch2/catch.hpp>

#include <functional>

#include <atomic>
#include <cstdlib>

#include <lamina/lamina.hpp>

// AddressSanitizer and ThreadSanitizer (and MemorySanitizer) replace malloc themselves: glibc's
// __libc_* entry points would hand them memory they never allocated. Under them the hook is
// compiled out and the tests below are skipped with a warning.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LAMINA_MALLOC_INTERCEPTED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define LAMINA_MALLOC_INTERCEPTED 1
#endif
#endif
#ifndef LAMINA_MALLOC_INTERCEPTED
#define LAMINA_MALLOC_INTERCEPTED 0
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

// Every heap allocation of the test program passes here (operator new and Eigen both end in
// malloc); only those made while `counting` is on are counted. glibc's own entry points do
// the work.
#if !LAMINA_MALLOC_INTERCEPTED
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

static void count_one() {
    if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
}
void* malloc(std::size_t size) {
    count_one();
    return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) {
    count_one();
    return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) {
    count_one();
    return __libc_realloc(p, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
    count_one();
    return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
    count_one();
    *out = __libc_memalign(alignment, size);
    return *out ? 0 : 12;  // ENOMEM
}
}
#endif

namespace {

// True (after a warning) when a sanitizer owns malloc and allocations cannot be counted.
bool malloc_intercepted() {
    if (LAMINA_MALLOC_INTERCEPTED) WARN("skipped: a sanitizer replaces malloc, so allocations cannot be counted");
    return LAMINA_MALLOC_INTERCEPTED;
}

// Allocations made by `f`, from every thread.
template <class F>
long allocations_in(F&& f) {
    allocations = 0;
    counting = true;
    f();
    counting = false;
    return allocations.load();
}

lamina::Sequential<float> seed_like() {
    lamina::Sequential<float> model{lamina::Dense(100, {.input_dim = 784}), lamina::Activation("sigmoid"),
                                    lamina::Dense(10), lamina::Activation("softmax")};
    model.initialize(1);
    return model;
}

}  // namespace

TEST_CASE("The training step allocates nothing after the first batch", "[allocation]") {
    if (malloc_intercepted()) return;
    const lamina::Matrix<float> x = lamina::Matrix<float>::Random(100, 784).cwiseAbs() * 255;
    lamina::Matrix<float> y = lamina::Matrix<float>::Zero(100, 10);
    for (int i = 0; i < 100; ++i) y(i, i % 10) = 1;
    const lamina::ByteMatrix pixels = x.cast<std::uint8_t>();
    for (int threads : {1, 2}) {
        for (const bool momentum : {false, true}) {
            INFO("threads " << threads << ", momentum " << momentum);
            auto model = seed_like();
            model.compile(lamina::loss::categorical_crossentropy,
                          lamina::SGD{.momentum = momentum ? 0.9 : 0.0, .nesterov = momentum});
            model.train_on_batch(x, y, threads);  // the first batch sizes every buffer
            CHECK(allocations_in([&] {
                      for (int step = 0; step < 20; ++step) model.train_on_batch(x, y, threads);
                      // A smaller last batch reuses the same buffers.
                      model.train_on_batch(x.topRows(37), y.topRows(37), threads);
                      // So do inputs given as bytes (converted as they are gathered).
                      model.train_on_batch(pixels, y, threads);
                  }) == 0);
        }
    }
}

TEST_CASE("fit allocates nothing per batch, on the team or on one thread", "[allocation]") {
    // 600 batches against 60: on two threads fit tries one thread alone after 16 batches and
    // the other way again 512 batches later, so the longer fit runs batches both ways.
    if (malloc_intercepted()) return;
    const lamina::Index n = 6000;
    const lamina::Matrix<float> x = lamina::Matrix<float>::Random(n, 784).cwiseAbs() * 255;
    lamina::Matrix<float> y = lamina::Matrix<float>::Zero(n, 10);
    for (lamina::Index i = 0; i < n; ++i) y(i, i % 10) = 1;
    for (int threads : {1, 2}) {
        auto model = seed_like();
        model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
        const auto count = [&](lamina::Index rows) {
            return allocations_in([&] {
                model.fit(x.topRows(rows), y.topRows(rows),
                          {.batch_size = 10, .epochs = 1, .verbose = 0, .seed = 1, .threads = threads});
            });
        };
        count(10);  // starts the model's threads (how often creating a thread allocates varies)
        INFO("threads " << threads);
        CHECK(count(n) == count(n / 10));
    }
}

TEST_CASE("Single-sample predict into a buffer allocates nothing after the first call", "[allocation]") {
    if (malloc_intercepted()) return;
    auto model = seed_like();
    const lamina::Matrix<float> x = lamina::Matrix<float>::Random(3, 784);
    lamina::Matrix<float> out(1, 10);
    model.predict(x.topRows(1), out);
    CHECK(allocations_in([&] {
              for (int i = 0; i < 3; ++i) model.predict(x.middleRows(i, 1), out);
          }) == 0);
    CHECK(out.sum() == Approx(1.0f));
    // Inputs given as bytes are converted into the same buffers.
    const lamina::ByteMatrix pixels = (x.cwiseAbs() * 255).cast<std::uint8_t>();
    model.predict(pixels.topRows(1), out);
    CHECK(allocations_in([&] {
              for (int i = 0; i < 3; ++i) model.predict(pixels.middleRows(i, 1), out);
          }) == 0);
}

TEST_CASE("The allocation counter sees allocations", "[allocation]") {
    if (malloc_intercepted()) return;
    // Guards the tests above against a hook that counts nothing.
    CHECK(allocations_in([] {
              lamina::Matrix<float> m(10, 10);
              m.setZero();
          }) >= 1);
}

namespace lamina::test {

// The counter for the layer conformance check (tests/layer_conformance.hpp).
long count_allocations(const std::function<void()>& f) {
    return LAMINA_MALLOC_INTERCEPTED ? -1 : long(allocations_in(f));
}

}  // namespace lamina::test
