// SPDX-License-Identifier: MIT
// lamina: a small team of threads that runs one function per batch on all its members.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#endif

#include <lamina/core/error.hpp>
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

/// For tests: when set, the team constructor calls it before starting member t's thread; it
/// may throw std::system_error to stand for a system that refuses the thread. Null otherwise.
inline std::atomic<void (*)(int)> team_start_hook{nullptr};

/// `size()` threads, the caller being member 0, that run work together in one of two ways.
///
/// - `run(f)` calls `f(member)` on every member and returns when all are done; inside it
///   `barrier()` waits for every member. Each call costs a few microseconds, not a thread
///   start, but it waits for every member: one that the OS has descheduled stalls it for a
///   whole time slice (milliseconds).
/// - `run_phases(chunks_a, a, chunks_b, b)` runs a job of fixed chunks that members claim as
///   they come: `a(chunk)` once for every phase-A chunk, then, once all of them have finished,
///   `b(chunk)` once for every phase-B chunk (`run_stages` does the same for any number of
///   stages). A member that is late or descheduled only leaves
///   its share to the others: the call waits for no member, only for chunks that members
///   have claimed. Which member runs a chunk is not known in advance, so results must be
///   written per chunk, which makes them the same whoever runs them.
///
/// Members other than the caller flush subnormals for their whole life; the caller does it
/// with a `FlushSubnormals` scope of its own. Not copyable or movable; `run` and `run_phases`
/// must not be called from two threads at once, nor from inside each other.
///
/// How the members meet. `generation_` counts the jobs of both kinds; its lowest bit says
/// which kind the newest job is (0: `run`, 1: `run_phases`). Only the caller (and the
/// destructor, on the same thread) writes it, with a release store after it has written the
/// job, and workers wait for it to change (`await_change`), then read it with acquire.
/// - A `run` job can only end when every worker has counted itself in `done_`, so no worker
///   can miss one, and `fn_`/`ctx_` stay in place until they have all run it.
/// - A `run_phases` job is claimed through `claim_` (see `claim_and_run`), so a worker that
///   wakes after the job has ended finds nothing left to claim and goes back to waiting, and
///   one that wakes after a newer job has begun helps with that one.
class Team {
public:
    /// Starts `size - 1` worker threads (none for a size below 2).
    /// \throws lamina::error "cannot start thread <t> of a team of <size> threads (<the
    ///         system's reason>)" when the system refuses a thread (a process or memory limit),
    ///         after stopping and joining those already started: a team runs with every member
    ///         it was asked for, or not at all (a smaller one would change what a thread count
    ///         promises). std::bad_alloc when the team cannot be allocated.
    explicit Team(int size) : size_(size < 1 ? 1 : size) {
        workers_.reserve(std::size_t(size_ - 1));
        int t = 1;
        try {
            for (; t < size_; ++t) {
                if (const auto hook = team_start_hook.load(std::memory_order_relaxed)) hook(t);
                workers_.emplace_back([this, t] { work(t); });
            }
        } catch (const std::system_error& e) {
            stop_workers();
            throw error("lamina: cannot start thread " + std::to_string(t + 1) + " of a team of " +
                        std::to_string(size_) + " threads (" + e.code().message() +
                        "); ask for fewer threads (the threads option)");
        } catch (...) {
            stop_workers();
            throw;
        }
    }
    ~Team() { stop_workers(); }
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
        publish(next_generation(run_kind));
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

    /// Runs a job of two phases of chunks on whichever members are free, the caller among
    /// them: `phase_a(chunk)` exactly once for each chunk in [0, chunks_a), then, once every
    /// phase-A chunk has finished, `phase_b(chunk)` exactly once for each chunk in
    /// [0, chunks_b); returns when every chunk has finished, with all their writes visible.
    /// Allocates nothing.
    ///
    /// The chunks of a phase run in any order and at the same time, on any member; the caller
    /// returns as soon as the last chunk finishes, even if a worker has not woken up for the
    /// job yet. A member that the OS deschedules between chunks (or before it wakes) delays
    /// nothing; one descheduled in the middle of a chunk still delays the job until it runs
    /// again, which no scheme can avoid. Several chunks per member keep the ends of the phases
    /// balanced; tens of microseconds per chunk keep the cost of claiming one (two contended
    /// atomic operations, about 0.1 us) small. For results that do not depend on the thread
    /// count or on timing, each chunk writes outputs of its own (a partial sum per chunk, not
    /// per member) that the caller combines in chunk order.
    ///
    /// Example: the rows of a batch in phase A, then slices of the weights in phase B.
    /// \code
    /// team.run_phases(
    ///     8, [&](Index c) { auto s = split(rows, int(c), 8); loss[c] = forward_backward(s); },
    ///     4, [&](Index c) { auto s = split(weights, int(c), 4); update(s); });
    /// \endcode
    /// \param chunks_a, chunks_b the number of chunks of each phase (either may be 0).
    /// \param phase_a, phase_b called as `phase_a(Index chunk)`; they must stay callable from
    ///        other threads until the call returns and must not throw (a throw calls
    ///        `std::terminate`). They may not call `run`, `run_phases` or `barrier`.
    /// \param alone run every chunk on the caller, in order, and leave the workers asleep.
    /// \throws std::invalid_argument for a negative count or more than 2^31 - 1 chunks in all.
    template <class A, class B>
    void run_phases(Index chunks_a, A&& phase_a, Index chunks_b, B&& phase_b, bool alone = false) {
        if (chunks_a < 0 || chunks_b < 0 || chunks_a > max_chunks || chunks_b > max_chunks - chunks_a)
            throw std::invalid_argument("Team.run_phases: chunk counts " + std::to_string(chunks_a) + " and " +
                                        std::to_string(chunks_b) + " must be >= 0 and at most " +
                                        std::to_string(max_chunks) + " together");
        const Index ends[2] = {chunks_a, chunks_a + chunks_b};
        run_stages(
            ends, [&](Index stage, Index chunk) { stage == 0 ? phase_a(chunk) : phase_b(chunk); }, alone);
    }

    /// `run_phases` for any number of stages: stage s has `ends[s] - ends[s - 1]` chunks
    /// (`ends[0]` for the first), and `stage(s, chunk)` runs for each of them once every chunk
    /// of the stages before has finished. The same promises as `run_phases`: whoever claims a
    /// chunk runs it, nobody waits for a member, nothing is allocated. `ends` must stay valid
    /// until the call returns.
    /// 	hrows std::invalid_argument when `ends` decreases, starts below 0 or passes 2^31 - 1.
    template <class F>
    void run_stages(std::span<const Index> ends, F&& stage, bool alone = false) {
        Index before = 0;
        for (const Index end : ends) {
            if (end < before || end > max_chunks)
                throw std::invalid_argument("Team.run_stages: the stages' ends must not decrease, start at 0 or "
                                            "more and stay at most " +
                                            std::to_string(max_chunks) + ", found " + std::to_string(end) + " after " +
                                            std::to_string(before));
            before = end;
        }
        job_ = {&call_chunk<std::remove_reference_t<F>>, erase(stage), ends.data(), Index(ends.size()), before};
        if (alone || size_ == 1 || job_.total <= 1) {  // no one to share with, or nothing to share
            Index start = 0;
            for (Index s = 0; s < job_.stages; ++s) {
                for (Index c = start; c < ends[std::size_t(s)]; ++c) stage(s, c - start);
                start = ends[std::size_t(s)];
            }
            return;
        }
        // The previous job has ended, so claim_ holds a count of 0 and no member reads job_
        // or writes finished_ (see claim_and_run) until the store to claim_ opens this job.
        finished_.store(0, std::memory_order_relaxed);
        const std::uint64_t generation = next_generation(phases_kind);
        claim_.store(((generation >> 1) & count_mask) << 32 | std::uint64_t(job_.total), std::memory_order_release);
        publish(generation);
        while (claim_and_run()) {
        }
        // Every chunk is claimed; wait for the ones other members still run. The acquire
        // load that reads the last count synchronises with every member's release increment
        // (they are read-modify-writes, so each one continues the others' release sequence).
        int finished = finished_.load(std::memory_order_acquire);
        while (finished != int(job_.total)) {
            await_change(finished_, finished);
            finished = finished_.load(std::memory_order_acquire);
        }
    }

private:
    // Stops and joins the workers started so far.
    void stop_workers() noexcept {
        stop_.store(true, std::memory_order_relaxed);
        publish(next_generation(run_kind));  // its release store makes `stop_` visible to the workers
        for (auto& w : workers_) w.join();
    }

    static constexpr std::uint64_t run_kind = 0, phases_kind = 1;  // the lowest bit of generation_
    static constexpr std::uint64_t count_mask = 0xffff'ffffu;      // the low half of claim_
    static constexpr Index max_chunks = 0x7fff'ffff;               // finished_ counts them in an int

    /// One `run_stages` job: written by the caller while no member can read it (before the
    /// job is published to claim_), read by a member only while it holds a chunk of the job.
    struct Job {
        void (*stage)(void*, Index, Index) noexcept;
        void* ctx;
        const Index* ends;  // where each stage's chunks end, counted over the whole job
        Index stages, total;
    };

    template <class F>
    static void call_chunk(void* f, Index stage, Index chunk) noexcept {
        (*static_cast<F*>(f))(stage, chunk);
    }
    template <class F>
    static void* erase(F& f) noexcept {
        return const_cast<void*>(static_cast<const void*>(std::addressof(f)));
    }

    /// The generation that announces the next job, of `kind`: the next even number, plus 1
    /// for a `run_phases` job. Only the caller's thread (or the destructor) writes generation_.
    [[nodiscard]] std::uint64_t next_generation(std::uint64_t kind) const noexcept {
        return (generation_.load(std::memory_order_relaxed) | 1u) + 1u + kind;
    }

    /// Announces a job written before this call: a release store of `generation`, which the
    /// workers load with acquire, then a wake-up for those asleep on it.
    void publish(std::uint64_t generation) noexcept {
        generation_.store(generation, std::memory_order_release);
        generation_.notify_all();
    }

    /// Claims the next chunk of the job that claim_ holds and runs it; false when every chunk
    /// is already claimed (or no job is open).
    ///
    /// The claim protocol. claim_ holds (tag << 32 | count): `tag` is the low 32 bits of the
    /// job's number (generation_ / 2), `count` the job's chunks not yet claimed; chunk
    /// `total - count` is the next one, so chunks are claimed in order, all of phase A first.
    /// - The caller stores (tag, total) with release after writing job_ and resetting
    ///   finished_. claim_ held a count of 0 before, so nothing could be claimed meanwhile.
    /// - A member claims by compare-and-swap (tag, count) -> (tag, count - 1), with acquire,
    ///   only while count > 0. Every change to claim_ between the caller's store and the swap
    ///   is itself a read-modify-write (a release sequence), so the swap synchronises with the
    ///   caller's store and the member sees the job_ that the word describes.
    /// - The caller cannot return (so cannot overwrite job_ or reset finished_) before the
    ///   claimed chunk is counted in finished_. So a member reads job_ only after a successful
    ///   claim and never after its increment of finished_; both are then that job's.
    /// - A late member (one that read claim_ or generation_ before the job ended) either finds
    ///   a count of 0 and claims nothing, or its swap fails on the changed word and it reads the
    ///   word again: it can only claim a chunk of the job that claim_ holds at its swap, and
    ///   runs it with that job's functions. No chunk is claimed twice: each successful swap
    ///   takes a different (tag, count).
    /// - The tag makes the words of successive jobs differ, so a swap prepared on an old
    ///   job's word fails even when the new job has the same count. Only after 2^32 jobs could
    ///   a word repeat, and even then the swap would be a genuine claim of the job that claim_
    ///   holds at that moment, since a member takes nothing from its load but the word itself.
    ///
    /// A chunk first waits until finished_ reaches the number of chunks of the stages before
    /// its own: every one of them was claimed before it, so this waits only on chunks that
    /// members are running. The acquire loads make the earlier stages' writes visible; the
    /// release increment publishes the chunk's writes to the later stages and to the caller.
    bool claim_and_run() noexcept {
        std::uint64_t word = claim_.load(std::memory_order_relaxed);
        do {
            if ((word & count_mask) == 0) return false;
        } while (!claim_.compare_exchange_weak(word, word - 1, std::memory_order_acquire, std::memory_order_relaxed));
        const Index chunk = job_.total - Index(word & count_mask);
        Index stage = 0, start = 0;
        while (chunk >= job_.ends[stage]) start = job_.ends[stage++];
        int finished = finished_.load(std::memory_order_acquire);
        while (finished < start) {
            await_change(finished_, finished);
            finished = finished_.load(std::memory_order_acquire);
        }
        job_.stage(job_.ctx, stage, chunk - start);
        // After this increment the job may end and job_ be rewritten: nothing reads it below.
        finished_.fetch_add(1, std::memory_order_release);
        finished_.notify_all();  // a syscall only when a member sleeps on it
        return true;
    }

    void work(int t) {
        FlushSubnormals flush;
        std::uint64_t seen = 0;
        for (;;) {
            await_change(generation_, seen);
            seen = generation_.load(std::memory_order_acquire);
            if (stop_.load(std::memory_order_relaxed)) return;
            if ((seen & 1u) == phases_kind) {
                while (claim_and_run()) {
                }
            } else {
                fn_(ctx_, t);
                done_.fetch_add(1, std::memory_order_acq_rel);
                done_.notify_one();
            }
        }
    }

    int size_;
    std::vector<std::thread> workers_;
    void (*fn_)(void*, int) = nullptr;
    void* ctx_ = nullptr;
    Job job_{};
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<int> done_{0};
    std::atomic<int> arrived_{0};
    std::atomic<std::uint64_t> phase_{0};
    std::atomic<bool> stop_{false};
    alignas(64) std::atomic<std::uint64_t> claim_{0};
    std::atomic<int> finished_{0};
};

/// Chooses, job after job, whether a job runs on the whole team or on the calling thread
/// alone, by timing both ways. Where a machine's cores are shared (virtual cores that land on
/// one physical core, or other programs busy) a team can be slower than one thread, and that
/// changes from minute to minute. The team goes first; after `first` jobs, then every `period`
/// jobs, the other way is tried for `trial` jobs and kept when the median time of its last
/// `compared` jobs beats that of the way before it. Only for jobs whose results do not depend
/// on the way they run, and that take about the same time each (a training step of one batch
/// size).
class TeamChoice {
public:
    /// `choose`: whether to choose at all (false: always the team).
    explicit TeamChoice(bool choose) noexcept : choose_(choose) {}

    /// Whether the next job runs on the caller alone.
    [[nodiscard]] bool alone() const noexcept { return alone_; }
    /// Whether the next job runs on the caller alone as the faster way found (not as a trial).
    [[nodiscard]] bool alone_kept() const noexcept { return alone_ && !trying_; }

    /// Counts one job that just took `seconds` the way `alone()` said.
    void record(double seconds) noexcept {
        if (!choose_) return;
        if (!trying_) {
            kept_[std::size_t(kept_count_++ % compared)] = seconds;
            if (++since_ >= (tried_ ? period : first) && kept_count_ >= compared) {
                trying_ = true;
                trial_count_ = 0;
                alone_ = !alone_;
            }
            return;
        }
        if (trial_count_ >= trial - compared) trial_[std::size_t(trial_count_ - (trial - compared))] = seconds;
        if (++trial_count_ < trial) return;
        trying_ = false;
        tried_ = true;
        since_ = 0;
        if (median(trial_) < median(kept_)) {
            kept_ = trial_;
            kept_count_ = compared;
        } else {
            alone_ = !alone_;
        }
    }

private:
    // The first jobs after a switch pay for it (waking the workers; a worker still spinning
    // beside the caller), so a trial's first trial - compared jobs are not compared.
    static constexpr int compared = 4, trial = 8, first = 16, period = 512;
    using Times = std::array<double, std::size_t(compared)>;

    static double median(Times t) noexcept {
        std::sort(t.begin(), t.end());
        return 0.5 * (t[compared / 2 - 1] + t[compared / 2]);
    }

    bool choose_;
    bool alone_ = false, trying_ = false, tried_ = false;
    int since_ = 0;  // jobs since the last trial ended, or since the start
    int kept_count_ = 0, trial_count_ = 0;
    Times kept_{}, trial_{};  // the last times of the way kept (a ring), of the trial
};

/// Asks the cache for the `n` scalars at `p`, every 64-byte line they touch (a hint; it
/// changes no result).
template <class T>
inline void prefetch_row(const T* p, Index n) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    if (n <= 0) return;
    const auto begin = reinterpret_cast<std::uintptr_t>(p);
    const auto last = begin + sizeof(T) * std::size_t(n) - 1;
    for (std::uintptr_t line = begin & ~std::uintptr_t(63); line <= last; line += 64)
        __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 2);
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
