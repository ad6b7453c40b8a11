// SPDX-License-Identifier: MIT
// lamina: a small team of threads that runs one function per batch on all its members.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#endif

#include <lamina/core/types.hpp>
#include <lamina/detail/fp_env.hpp>

namespace lamina::detail {

inline void cpu_relax() noexcept {
#if defined(__SSE2__) || defined(_M_X64)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Waits until `word` differs from `old`: spins briefly, then yields the processor between
/// checks for up to a millisecond (a batch of a small network takes well under that, and
/// waking a sleeping thread costs tens of microseconds, more in a virtual machine; yielding
/// keeps a busy machine's other work going), then sleeps on the word.
template <class T>
void await_change(const std::atomic<T>& word, T old) noexcept {
    for (int i = 0; i < 256; ++i) {
        if (word.load(std::memory_order_acquire) != old) return;
        cpu_relax();
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
    while (std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < 16; ++i) {
            if (word.load(std::memory_order_acquire) != old) return;
            cpu_relax();
        }
        std::this_thread::yield();
    }
    while (word.load(std::memory_order_acquire) == old) word.wait(old, std::memory_order_acquire);
}

/// `size()` threads, the caller being member 0, that run a function together. Each `run`
/// costs a few microseconds, not a thread start, so a model can split every batch. Members
/// other than the caller flush subnormals for their whole life; the caller does it with a
/// `FlushSubnormals` scope of its own.
///
/// Not copyable or movable; `run` must not be called from two threads at once.
class Team {
public:
    explicit Team(int size) : size_(size < 1 ? 1 : size) {
        workers_.reserve(std::size_t(size_ - 1));
        for (int t = 1; t < size_; ++t) workers_.emplace_back([this, t] { work(t); });
    }
    ~Team() {
        stop_.store(true, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        for (auto& w : workers_) w.join();
    }
    Team(const Team&) = delete;
    Team& operator=(const Team&) = delete;

    [[nodiscard]] int size() const noexcept { return size_; }

    /// Calls `f(member)` on every member, the caller as member 0, and returns when all are done.
    template <class F>
    void run(F&& f) {
        if (size_ == 1) {
            f(0);
            return;
        }
        fn_ = [](void* ctx, int t) { (*static_cast<std::remove_reference_t<F>*>(ctx))(t); };
        ctx_ = static_cast<void*>(&f);
        done_.store(0, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        f(0);
        int finished = done_.load(std::memory_order_acquire);
        while (finished != size_ - 1) {
            await_change(done_, finished);
            finished = done_.load(std::memory_order_acquire);
        }
    }

    /// Inside `run`: waits until every member has reached this point.
    void barrier() noexcept {
        if (size_ == 1) return;
        const auto phase = phase_.load(std::memory_order_acquire);
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == size_) {
            arrived_.store(0, std::memory_order_relaxed);
            phase_.fetch_add(1, std::memory_order_release);
            phase_.notify_all();
        } else {
            await_change(phase_, phase);
        }
    }

private:
    void work(int t) {
        FlushSubnormals flush;
        std::uint64_t seen = 0;
        for (;;) {
            await_change(generation_, seen);
            seen = generation_.load(std::memory_order_acquire);
            if (stop_.load(std::memory_order_relaxed)) return;
            fn_(ctx_, t);
            done_.fetch_add(1, std::memory_order_acq_rel);
            done_.notify_one();
        }
    }

    int size_;
    std::vector<std::thread> workers_;
    void (*fn_)(void*, int) = nullptr;
    void* ctx_ = nullptr;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<int> done_{0};
    std::atomic<int> arrived_{0};
    std::atomic<std::uint64_t> phase_{0};
    std::atomic<bool> stop_{false};
};

/// Asks the cache for the `n` scalars at `p` (a hint; it changes no result).
template <class T>
inline void prefetch_row(const T* p, Index n) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    const auto* bytes = reinterpret_cast<const char*>(p);
    for (Index i = 0; i < Index(sizeof(T)) * n; i += 64) __builtin_prefetch(bytes + i, 0, 2);
#else
    (void)p;
    (void)n;
#endif
}

/// A flag that several threads may raise at once; moving its owner does not move it (a moved
/// model starts with the flag down, as nothing runs during a move).
class MovableFlag {
public:
    MovableFlag() = default;
    MovableFlag(MovableFlag&&) noexcept {}
    MovableFlag& operator=(MovableFlag&&) noexcept { return *this; }
    void set() noexcept { flag_.store(true, std::memory_order_relaxed); }
    void clear() noexcept { flag_.store(false, std::memory_order_relaxed); }
    [[nodiscard]] bool get() const noexcept { return flag_.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> flag_{false};
};

/// [begin, end) of part `part` of `parts` equal splits of `n`.
struct Span {
    Index begin, end;
    [[nodiscard]] Index size() const noexcept { return end - begin; }
};
inline Span split(Index n, int part, int parts) noexcept { return {n * part / parts, n * (part + 1) / parts}; }

}  // namespace lamina::detail
