// SPDX-License-Identifier: MIT
// lamina benchmark: the thread team's two ways to split a job (run + barrier against run_phases), idle and busy.
//
// Each job is 8 phase-A chunks, then 8 phase-B chunks that read phase A's outputs (the shape of
// a training step: rows, then weight slices), each chunk a fixed amount of arithmetic. Three
// ways run the same jobs:
//   serial        one thread, no team;
//   run+barrier   Team(2).run: each member takes a fixed half of each phase, a barrier between;
//   run_phases    Team(2).run_phases: members claim chunks as they come.
// With `--busy N`, N threads of this process spin for the whole run (a compiler on the other
// core, say); start a load outside (`yes > /dev/null &`) to compare with that too.
//
// Usage: team_benchmark [--busy N] [--seconds S]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <lamina/detail/team.hpp>

namespace {

using lamina::Index;
using Clock = std::chrono::steady_clock;

constexpr Index chunks = 8;  // per phase

// `iterations` steps of a dependent multiply-add chain (about 4 cycles each), from `seed`.
double arithmetic(double seed, long iterations) {
    double x = seed;
    for (long i = 0; i < iterations; ++i) x = x * 0.999999 + 1e-6;
    return x;
}

// Iterations of `arithmetic` per microsecond on this machine: the fastest of 20 runs of about
// a millisecond, so that a busy machine does not skew it much.
double iterations_per_us() {
    const long n = 1'000'000;
    double best = 1e300;
    for (int trial = 0; trial < 20; ++trial) {
        const auto start = Clock::now();
        // The seed depends on the clock and the result goes to a volatile, so the loop can move
        // neither before the first reading nor after the second.
        volatile double sink = arithmetic(double(start.time_since_epoch().count() & 1), n);
        (void)sink;
        best = std::min(best, std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    return double(n) / best;
}

struct Stats {
    double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;  // microseconds per job
    long jobs = 0;
};

Stats summarise(std::vector<double> us) {
    Stats s;
    s.jobs = long(us.size());
    for (double u : us) s.mean += u;
    s.mean /= double(us.size());
    std::sort(us.begin(), us.end());
    const auto at = [&](std::size_t percent) { return us[std::min(us.size() - 1, us.size() * percent / 100)]; };
    s.p50 = at(50);
    s.p90 = at(90);
    s.p99 = at(99);
    s.max = us.back();
    return s;
}

// Runs `job` for about `seconds` (at least 20 times), adding the time of each run to `us`.
template <class Job>
void time_jobs(double seconds, std::vector<double>& us, Job&& job) {
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    for (int n = 0; n < 20 || Clock::now() < end; ++n) {
        const auto start = Clock::now();
        job();
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
}

void print(const char* way, double chunk_us, const Stats& s, double serial_mean) {
    std::printf("%-12s %8.0f %8ld %9.1f %9.1f %9.1f %9.1f %9.1f %8.2f\n", way, chunk_us, s.jobs, s.mean, s.p50, s.p90,
                s.p99, s.max, s.mean / serial_mean);
}

}  // namespace

int main(int argc, char** argv) {
    int busy = 0;
    double seconds = 1.0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--busy") == 0 && i + 1 < argc) busy = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = std::atof(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--busy N] [--seconds S]\n", argv[0]);
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a line at a time, also into a file
    lamina::detail::FlushSubnormals flush;
    const double rate = iterations_per_us();  // before the busy threads start
    std::atomic<bool> stop{false};
    std::vector<std::thread> spinners;
    for (int i = 0; i < busy; ++i)
        spinners.emplace_back([&stop] {
            volatile double x = 1.0;
            while (!stop.load(std::memory_order_relaxed)) x = x * 0.999999 + 1e-6;
        });

    std::printf("team_benchmark: %u hardware threads, %d busy thread(s) in this process, %lld + %lld chunks per job, "
                "%.0f iterations per microsecond\n",
                std::thread::hardware_concurrency(), busy, static_cast<long long>(chunks),
                static_cast<long long>(chunks), rate);
    std::printf("%-12s %8s %8s %9s %9s %9s %9s %9s %8s\n", "way", "chunk_us", "jobs", "mean_us", "p50_us", "p90_us",
                "p99_us", "max_us", "/serial");
    // The three ways take turns, `rounds` times each, so that a change in the machine's load
    // falls on all of them alike.
    constexpr int rounds = 10;
    lamina::detail::Team team(2);
    for (const double chunk_us : {0.0, 6.0, 60.0}) {
        const long iterations = long(chunk_us * rate);
        std::vector<double> out_a(chunks), out_b(chunks);
        const auto phase_a = [&](Index c) { out_a[std::size_t(c)] = arithmetic(double(c), iterations); };
        const auto phase_b = [&](Index c) {
            double s = 0;
            for (double x : out_a) s += x;
            out_b[std::size_t(c)] = arithmetic(s, iterations);
        };
        std::vector<double> serial, barrier, phases;
        std::vector<double> expected;
        for (int round = 0; round < rounds; ++round) {
            time_jobs(seconds / rounds, serial, [&] {
                for (Index c = 0; c < chunks; ++c) phase_a(c);
                for (Index c = 0; c < chunks; ++c) phase_b(c);
            });
            expected = out_b;
            time_jobs(seconds / rounds, barrier, [&] {
                team.run([&](int t) {
                    const auto span = lamina::detail::split(chunks, t, 2);
                    for (Index c = span.begin; c < span.end; ++c) phase_a(c);
                    team.barrier();
                    for (Index c = span.begin; c < span.end; ++c) phase_b(c);
                });
            });
            time_jobs(seconds / rounds, phases, [&] { team.run_phases(chunks, phase_a, chunks, phase_b); });
            if (out_b != expected) {
                std::fprintf(stderr, "team_benchmark: run_phases gave other results than the serial loop\n");
                return 1;
            }
        }
        const Stats one = summarise(std::move(serial));
        print("serial", chunk_us, one, one.mean);
        print("run+barrier", chunk_us, summarise(std::move(barrier)), one.mean);
        print("run_phases", chunk_us, summarise(std::move(phases)), one.mean);
    }
    stop.store(true, std::memory_order_relaxed);
    for (auto& s : spinners) s.join();
    return 0;
}
