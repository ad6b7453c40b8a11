// SPDX-License-Identifier: MIT
// lamina: a seeded, portable random source for initializers and shuffling.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <lamina/core/types.hpp>

namespace lamina {

/// A 64-bit Mersenne Twister with draws defined by lamina itself rather than by the
/// standard library's distributions, so that one seed gives the same numbers with every
/// compiler and standard library.
class Random {
public:
    /// Seeds from the operating system: a different stream every run.
    Random() : engine_(std::random_device{}() ^ (std::uint64_t(std::random_device{}()) << 32)) {}
    /// Seeds deterministically.
    explicit Random(std::uint64_t seed) : engine_(seed) {}

    /// Re-seeds deterministically.
    void seed(std::uint64_t s) { engine_.seed(s); }

    /// The engine's whole state as text, as `operator<<` of `std::mt19937_64` writes it:
    /// decimal numbers separated by spaces (312 words, and with libstdc++ a position).
    /// `set_state` of this text continues the stream exactly where it stands.
    [[nodiscard]] std::string state() const {
        std::ostringstream out;
        out << engine_;
        return out.str();
    }

    /// Restores a state written by `state()` (by the same C++ standard library: libstdc++
    /// and libc++ write different texts). The stream then continues as it would have
    /// continued from there. Nothing changes when the text is rejected.
    /// \throws std::invalid_argument if `text` is not exactly one engine state (a missing or
    ///         malformed number, or anything but spaces after it), or is the zero state, from
    ///         which every draw is 0 (no seed gives it; a shuffle or a normal draw would never
    ///         end).
    void set_state(std::string_view text) {
        std::istringstream in{std::string(text)};
        std::mt19937_64 engine;
        in >> engine;
        if (!in.fail() && !in.eof()) in >> std::ws;  // (ws at the end would set failbit)
        if (in.fail() || !in.eof())
            throw std::invalid_argument("Random.set_state: the text is not a std::mt19937_64 state as this "
                                        "C++ standard library writes it");
        if (degenerate(engine))
            throw std::invalid_argument("Random.set_state: the state is all zeros, from which every draw is 0 "
                                        "(a shuffle or a normal draw would never end); no seed gives it");
        engine_ = engine;
    }

    /// Raw 64 random bits.
    std::uint64_t bits() { return engine_(); }

    /// A double uniform in [0, 1) with 53 random bits.
    double uniform01() { return double(engine_() >> 11) * 0x1.0p-53; }

    /// A double uniform in [lo, hi).
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }

    /// A standard normal draw (mean 0, variance 1) by Marsaglia's polar method: a point
    /// drawn uniformly in the unit disc gives the normal. (The method yields two normals;
    /// the second is dropped so that `state()` alone describes the stream.)
    double normal01() {
        double u = 0, v = 0, s = 0;
        do {
            u = uniform(-1.0, 1.0);
            v = uniform(-1.0, 1.0);
            s = u * u + v * v;
        } while (s >= 1.0 || s == 0.0);
        return u * std::sqrt(-2.0 * std::log(s) / s);
    }

    /// An integer uniform in [0, n), without modulo bias: draws below 2^64 mod n are
    /// rejected so that every residue is equally likely. n > 0.
    std::uint64_t below(std::uint64_t n) {
        const std::uint64_t threshold = (0 - n) % n;
        std::uint64_t r = engine_();
        while (r < threshold) r = engine_();
        return r % n;
    }

    /// Fills `order` with a uniformly random permutation of 0..n-1 (Fisher-Yates).
    void permutation(std::vector<Index>& order, Index n) {
        order.resize(std::size_t(n));
        for (Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
        for (Index i = n - 1; i > 0; --i) {
            const auto j = Index(below(std::uint64_t(i) + 1));
            std::swap(order[std::size_t(i)], order[std::size_t(j)]);
        }
    }

private:
    // Whether `engine` is stuck at zero. The Mersenne Twister's recurrence maps its state (n
    // words, less the low bits of the oldest) one to one onto the next, so n consecutive zero
    // words arise only from the zero state, and from it every generated word is zero. Up to n
    // words may be waiting unread (a zero state can still hold a non-zero low part there), so
    // the test is on the n words drawn after 2n - n: all of them generated from the state.
    // Seeding never gives the zero state; only a state read from elsewhere can.
    static bool degenerate(std::mt19937_64 engine) {
        constexpr std::size_t n = std::mt19937_64::state_size;
        engine.discard(n);
        for (std::size_t i = 0; i < n; ++i)
            if (engine() != 0) return false;
        return true;
    }

    std::mt19937_64 engine_;
};

}  // namespace lamina
