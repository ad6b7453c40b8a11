// SPDX-License-Identifier: MIT
// lamina tests: the thread team's chunked jobs (run_phases, run_stages) run every chunk once, stage by stage, whoever
// is late.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include <lamina/detail/team.hpp>

namespace {

using lamina::Index;
using lamina::detail::Team;

// What the chunks of the jobs saw, counted by whichever thread ran them (Catch2's checks are
// not thread-safe: workers only count, the test thread checks).
struct Tally {
    explicit Tally(std::size_t chunks) : runs_a(chunks), runs_b(chunks) {}
    std::vector<std::atomic<int>> runs_a, runs_b;  // per chunk, reset after every job
    std::atomic<int> finished_a{0};                // phase-A chunks finished in this job
    std::atomic<std::uint64_t> job{0};             // the job the test thread is running
    std::atomic<int> early_b{0};                   // phase-B chunks that began before phase A ended
    std::atomic<int> stale{0};                     // chunks that ran with another job's functions
    std::atomic<int> out_of_range{0};              // chunk indices outside [0, count)
    std::atomic<int> by_workers{0};                // chunks that a member other than the caller ran
    std::atomic<int> slept{0};                     // chunks that slept
    std::atomic<int> met{0};                       // jobs in which the caller waited for a worker
    std::atomic<int> missed{0};                    // jobs in which no worker came within 10 s
    std::atomic<int> began{0};                     // chunks of this job that workers began
    std::atomic<bool> waited{false}, napped{false};
};

// How a job's chunks behave. `free`: each does a microsecond of arithmetic. `meet`: besides,
// the first chunk the caller runs waits until a worker has begun a chunk, so that workers take
// part even when the caller could claim everything first. `slow`: besides, the first chunk a
// worker runs sleeps 3 ms, the others going on without it. `meet` and `slow` need 2 or more
// phase-A chunks, so that a worker can begin one while the caller holds another.
enum class Pace { free, meet, slow };

// About a microsecond of arithmetic.
void busy_work(Index c) {
    volatile float x = float(c);
    for (int i = 0; i < 200; ++i) x = x * 0.999f + 1.0f;
}

void chunk_work(Tally& tally, Index c, Pace pace, std::thread::id caller) {
    busy_work(c);
    if (std::this_thread::get_id() == caller) {
        if (pace != Pace::free && !tally.waited.exchange(true, std::memory_order_relaxed)) {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (tally.began.load(std::memory_order_relaxed) == 0 && std::chrono::steady_clock::now() < deadline)
                std::this_thread::yield();
            (tally.began.load(std::memory_order_relaxed) > 0 ? tally.met : tally.missed).fetch_add(1);
        }
        return;
    }
    tally.began.fetch_add(1, std::memory_order_relaxed);
    tally.by_workers.fetch_add(1, std::memory_order_relaxed);
    if (pace == Pace::slow && !tally.napped.exchange(true, std::memory_order_relaxed)) {
        tally.slept.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
}

// What every job of a run of `tallied_job`s must have done: each chunk once (`failures` counts
// the jobs where one ran another number of times), phase B after phase A, only the job's own
// chunks, all in range.
void check_jobs_ran_right(const Tally& tally, int failures) {
    CHECK(failures == 0);
    CHECK(tally.early_b.load() == 0);
    CHECK(tally.stale.load() == 0);
    CHECK(tally.out_of_range.load() == 0);
}

// One job of `a` + `b` chunks whose functions check, as they run, that they belong to the job
// under way and that phase A is over before phase B begins.
void tallied_job(Team& team, Tally& tally, std::uint64_t job, Index a, Index b, Pace pace, std::thread::id caller) {
    tally.job.store(job, std::memory_order_relaxed);
    tally.finished_a.store(0, std::memory_order_relaxed);
    tally.began.store(0, std::memory_order_relaxed);
    tally.waited.store(false, std::memory_order_relaxed);
    tally.napped.store(false, std::memory_order_relaxed);
    team.run_phases(
        a,
        [&tally, job, a, pace, caller](Index c) {
            if (tally.job.load(std::memory_order_relaxed) != job) tally.stale.fetch_add(1);
            if (c < 0 || c >= a) {
                tally.out_of_range.fetch_add(1);
                return;
            }
            chunk_work(tally, c, pace, caller);
            tally.runs_a[std::size_t(c)].fetch_add(1, std::memory_order_relaxed);
            tally.finished_a.fetch_add(1, std::memory_order_relaxed);
        },
        b,
        [&tally, job, a, b, caller](Index c) {
            if (tally.job.load(std::memory_order_relaxed) != job) tally.stale.fetch_add(1);
            if (c < 0 || c >= b) {
                tally.out_of_range.fetch_add(1);
                return;
            }
            // Relaxed is enough: run_phases must order phase A's chunks before this one.
            if (tally.finished_a.load(std::memory_order_relaxed) != a) tally.early_b.fetch_add(1);
            chunk_work(tally, a + c, Pace::free, caller);
            tally.runs_b[std::size_t(c)].fetch_add(1, std::memory_order_relaxed);
        });
}

// Whether every chunk of the last job ran exactly once (and those beyond it never); resets
// the counts for the next job. Read with relaxed loads: run_phases must have made the chunks'
// writes visible to its caller.
bool each_once_then_reset(Tally& tally, Index a, Index b) {
    bool ok = true;
    for (std::size_t c = 0; c < tally.runs_a.size(); ++c) {
        ok = ok && tally.runs_a[c].load(std::memory_order_relaxed) == (Index(c) < a ? 1 : 0);
        ok = ok && tally.runs_b[c].load(std::memory_order_relaxed) == (Index(c) < b ? 1 : 0);
        tally.runs_a[c].store(0, std::memory_order_relaxed);
        tally.runs_b[c].store(0, std::memory_order_relaxed);
    }
    return ok;
}

const Index chunk_counts[] = {0, 1, 2, 3, 5, 8, 17};
constexpr std::size_t largest_count = 17;

}  // namespace

TEST_CASE("Team.run_phases runs every chunk of both phases exactly once, phase A before phase B", "[team]") {
    const int members = GENERATE(1, 2, 3, 4);
    const int jobs = members == 2 ? 20000 : 5000;
    Team team(members);
    Tally tally(largest_count);
    const auto caller = std::this_thread::get_id();
    int failures = 0, meetings = 0;
    for (int j = 0; j < jobs; ++j) {
        // Every pair of counts, in an order that often changes the count between jobs.
        const Index a = chunk_counts[std::size_t(j) % 7], b = chunk_counts[std::size_t(j / 7 + j) % 7];
        const bool meet = members > 1 && j % 50 == 0 && a >= 2;
        meetings += meet;
        tallied_job(team, tally, std::uint64_t(j), a, b, meet ? Pace::meet : Pace::free, caller);
        if (!each_once_then_reset(tally, a, b)) ++failures;
    }
    CAPTURE(members);
    check_jobs_ran_right(tally, failures);
    // Workers did take part: in every `meet` job where the caller ran a chunk, it found a
    // worker running one too; in the others workers took every chunk (with three workers
    // and a busy machine, the caller may find none left to claim).
    CHECK(tally.met.load() <= meetings);
    if (members > 1) CHECK(tally.met.load() >= 1);
    CHECK(tally.missed.load() == 0);
    if (members > 1) CHECK(tally.by_workers.load() >= meetings);
}

TEST_CASE("Team.run_phases gives the same per-chunk results whichever member runs a chunk", "[team]") {
    // Phase A: chunk c sums 1 / (k + 1) for k in [1000c, 1000c + 1000), in float, in order.
    // Phase B: chunk c adds the phase-A sums in chunk order, times (c + 1). The expected values
    // are the same loops run here, on one thread.
    constexpr Index a = 13, b = 7, terms = 1000;
    const auto sum_of = [](Index c) {
        float s = 0;
        for (Index k = terms * c; k < terms * (c + 1); ++k) s += 1.0f / float(k + 1);
        return s;
    };
    std::vector<float> expected_a(a), expected_b(b);
    for (Index c = 0; c < a; ++c) expected_a[std::size_t(c)] = sum_of(c);
    for (Index c = 0; c < b; ++c) {
        float s = 0;
        for (float x : expected_a) s += x;
        expected_b[std::size_t(c)] = s * float(c + 1);
    }
    const int members = GENERATE(1, 2, 3, 4);
    Team team(members);
    const auto caller = std::this_thread::get_id();
    int mismatches = 0, missed = 0;
    for (int job = 0; job < 300; ++job) {
        // Workers surely take part: the caller's first chunk waits until a worker has begun one.
        std::atomic<int> began{0};
        bool waited = members == 1;
        const auto meet = [&] {
            if (std::this_thread::get_id() != caller) {
                began.fetch_add(1, std::memory_order_relaxed);
            } else if (!waited) {
                waited = true;
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
                while (began.load(std::memory_order_relaxed) == 0 && std::chrono::steady_clock::now() < deadline)
                    std::this_thread::yield();
                missed += began.load(std::memory_order_relaxed) == 0;
            }
        };
        std::vector<float> out_a(a, -1.0f), out_b(b, -1.0f);
        team.run_phases(
            a,
            [&](Index c) {
                meet();
                out_a[std::size_t(c)] = sum_of(c);
            },
            b,
            [&](Index c) {
                float s = 0;
                for (float x : out_a) s += x;
                out_b[std::size_t(c)] = s * float(c + 1);
            });
        if (out_a != expected_a || out_b != expected_b) ++mismatches;
    }
    CAPTURE(members);
    CHECK(mismatches == 0);
    CHECK(missed == 0);
}

TEST_CASE("Team.run_phases survives a member that is slow in some jobs", "[team]") {
    // In every 20th job (with 2 or more phase-A chunks) the first chunk that a worker runs
    // sleeps 3 ms: the others go on claiming, phase B waits for it if it is in phase A, and the
    // job ends only after it. The caller waits for a worker to begin, so one surely sleeps.
    const int members = GENERATE(2, 3, 4);
    Team team(members);
    Tally tally(largest_count);
    const auto caller = std::this_thread::get_id();
    int failures = 0, slow_jobs = 0;
    for (int j = 0; j < 2000; ++j) {
        const Index a = chunk_counts[std::size_t(j) % 7], b = chunk_counts[std::size_t(j / 7 + 3) % 7];
        const bool slow = j % 20 == 0 && a >= 2;
        slow_jobs += slow;
        tallied_job(team, tally, std::uint64_t(j), a, b, slow ? Pace::slow : Pace::free, caller);
        if (!each_once_then_reset(tally, a, b)) ++failures;
    }
    CAPTURE(members);
    check_jobs_ran_right(tally, failures);
    CHECK(tally.missed.load() == 0);
    CHECK(tally.slept.load() == slow_jobs);
}

TEST_CASE("Team.run and barrier still work between run_phases jobs", "[team]") {
    const int members = GENERATE(1, 2, 3, 4);
    Team team(members);
    Tally tally(largest_count);
    const auto caller = std::this_thread::get_id();
    std::vector<int> before(static_cast<std::size_t>(members)), after(static_cast<std::size_t>(members));
    int failures = 0;
    for (int j = 0; j < 2000; ++j) {
        const Index a = chunk_counts[std::size_t(j) % 7], b = chunk_counts[std::size_t(j + 2) % 7];
        tallied_job(team, tally, std::uint64_t(j), a, b, Pace::free, caller);
        if (!each_once_then_reset(tally, a, b)) ++failures;
        if (j % 3 == 0) {
            // Each member writes its own slot before the barrier and reads everyone's after it.
            std::atomic<int> calls{0};
            team.run([&](int t) {
                calls.fetch_add(1, std::memory_order_relaxed);
                before[std::size_t(t)] = j + t;
                team.barrier();
                int sum = 0;
                for (int x : before) sum += x;
                after[std::size_t(t)] = sum;
            });
            const int expected = members * j + members * (members - 1) / 2;
            if (calls.load() != members) ++failures;
            for (int x : after)
                if (x != expected) ++failures;
        }
    }
    CAPTURE(members);
    CHECK(failures == 0);
    CHECK(tally.early_b.load() == 0);
    CHECK(tally.stale.load() == 0);
}

TEST_CASE("A team destroyed right after a run_phases job stops cleanly", "[team]") {
    const int members = GENERATE(2, 3, 4);
    int failures = 0;
    for (int round = 0; round < 300; ++round) {
        std::atomic<int> runs{0};
        {
            Team team(members);
            team.run_phases(
                Index(round % 5), [&](Index) { runs.fetch_add(1); }, Index(round % 3),
                [&](Index) { runs.fetch_add(1); });
        }
        if (runs.load() != round % 5 + round % 3) ++failures;
    }
    CAPTURE(members);
    CHECK(failures == 0);
}

TEST_CASE("Team.run_phases rejects negative chunk counts and more than 2^31 - 1 chunks", "[team]") {
    Team team(2);
    const auto nothing = [](Index) {};
    CHECK_THROWS_AS(team.run_phases(-1, nothing, 2, nothing), std::invalid_argument);
    CHECK_THROWS_AS(team.run_phases(2, nothing, -1, nothing), std::invalid_argument);
    CHECK_THROWS_AS(team.run_phases(Index(1) << 31, nothing, 0, nothing), std::invalid_argument);
    CHECK_THROWS_AS(team.run_phases(Index(1) << 30, nothing, Index(1) << 30, nothing), std::invalid_argument);
    const Index most = std::numeric_limits<Index>::max();
    CHECK_THROWS_AS(team.run_phases(most, nothing, most, nothing), std::invalid_argument);
    int runs = 0;
    team.run_phases(
        1, [&](Index) { ++runs; }, 1, [&](Index) { ++runs; });  // still usable
    CHECK(runs == 2);
}

TEST_CASE("Team.run_phases alone runs every chunk on the caller, in order", "[team]") {
    Team team(3);
    const auto caller = std::this_thread::get_id();
    std::vector<Index> order;
    order.reserve(8);
    bool elsewhere = false;
    team.run_phases(
        3,
        [&](Index c) {
            elsewhere = elsewhere || std::this_thread::get_id() != caller;
            order.push_back(c);
        },
        2,
        [&](Index c) {
            elsewhere = elsewhere || std::this_thread::get_id() != caller;
            order.push_back(10 + c);
        },
        true);
    CHECK_FALSE(elsewhere);
    CHECK(order == std::vector<Index>{0, 1, 2, 10, 11});
}

TEST_CASE("TeamChoice keeps the team or goes alone by the times it is given", "[team]") {
    using lamina::detail::TeamChoice;
    // Jobs take `team` seconds on the team and `alone` seconds alone; returns how many of
    // `jobs` ran alone, and whether the last one did.
    const auto run = [](TeamChoice& choice, int jobs, double team, double alone) {
        int count = 0;
        for (int j = 0; j < jobs; ++j) {
            count += choice.alone();
            choice.record(choice.alone() ? alone : team);
        }
        return count;
    };
    SECTION("a faster team: the trial alone after 16 jobs, then every 512, each 8 jobs long") {
        TeamChoice choice(true);
        CHECK(run(choice, 16, 1.0, 2.0) == 0);
        CHECK(run(choice, 8, 1.0, 2.0) == 8);
        CHECK(run(choice, 512, 1.0, 2.0) == 0);
        CHECK(run(choice, 8, 1.0, 2.0) == 8);
        CHECK_FALSE(choice.alone());
    }
    SECTION("a slower team: alone from the first trial on, the team tried again every 512 jobs") {
        TeamChoice choice(true);
        CHECK(run(choice, 16, 2.0, 1.0) == 0);
        CHECK_FALSE(choice.alone_kept());  // a trial
        CHECK(run(choice, 8, 2.0, 1.0) == 8);
        CHECK(choice.alone_kept());
        CHECK(run(choice, 512, 2.0, 1.0) == 512);
        CHECK(run(choice, 8, 2.0, 1.0) == 0);
        CHECK(choice.alone_kept());
    }
    SECTION("the machine changes: back to the team at the next trial once it is faster") {
        TeamChoice choice(true);
        run(choice, 24, 2.0, 1.0);
        REQUIRE(choice.alone());
        run(choice, 520, 0.5, 1.0);
        CHECK_FALSE(choice.alone());
    }
    SECTION("a trial's first jobs are not compared") {
        TeamChoice choice(true);
        run(choice, 16, 1.0, 2.0);
        for (int j = 0; j < 8; ++j) choice.record(j < 4 ? 100.0 : 0.5);  // slow to start, then faster
        CHECK(choice.alone());
    }
    SECTION("not choosing: always the team") {
        TeamChoice choice(false);
        CHECK(run(choice, 2000, 2.0, 1.0) == 0);
    }
}

TEST_CASE("Team.run_stages runs each stage's chunks once, after every chunk of the stages before", "[team]") {
    const int members = GENERATE(1, 2, 3);
    Team team(members);
    // Stages of 3, 0, 1, 5 and 2 chunks: an empty stage and a stage of one chunk between others.
    const std::vector<Index> ends = {3, 3, 4, 9, 11};
    std::vector<std::atomic<int>> runs(std::size_t(ends.back()));
    std::atomic<int> finished{0}, early{0}, out_of_range{0};
    int failures = 0;
    for (int job = 0; job < 2000; ++job) {
        finished.store(0, std::memory_order_relaxed);
        for (auto& r : runs) r.store(0, std::memory_order_relaxed);
        team.run_stages(ends, [&](Index stage, Index chunk) {
            const Index start = stage == 0 ? 0 : ends[std::size_t(stage - 1)];
            if (stage < 0 || stage >= Index(ends.size()) || chunk < 0 || start + chunk >= ends[std::size_t(stage)]) {
                out_of_range.fetch_add(1);
                return;
            }
            // Relaxed is enough: run_stages must order the stages before this one.
            if (finished.load(std::memory_order_relaxed) < start) early.fetch_add(1);
            runs[std::size_t(start + chunk)].fetch_add(1, std::memory_order_relaxed);
            finished.fetch_add(1, std::memory_order_relaxed);
        });
        for (const auto& r : runs) failures += r.load(std::memory_order_relaxed) == 1 ? 0 : 1;
    }
    CHECK(failures == 0);
    CHECK(early.load() == 0);
    CHECK(out_of_range.load() == 0);

    const std::vector<Index> decreasing = {3, 2};
    CHECK_THROWS_AS(team.run_stages(decreasing, [](Index, Index) {}), std::invalid_argument);
    const std::vector<Index> negative = {-1};
    CHECK_THROWS_AS(team.run_stages(negative, [](Index, Index) {}), std::invalid_argument);
}
