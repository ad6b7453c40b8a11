// SPDX-License-Identifier: MIT
// lamina: weight initializers by Keras's names.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <lamina/core/random.hpp>
#include <lamina/core/types.hpp>

namespace lamina {

/// How a layer's weights are first drawn, named as Keras names its initializers. Give it by
/// value or by name: `{.kernel_initializer = lamina::Initializer::he_normal}` or
/// `{.kernel_initializer = "he_normal"}`.
///
/// With fan_in and fan_out the layer's input and output widths:
/// - `zeros`, `ones`: constants (Keras's default bias is zeros);
/// - `*_uniform`: U(-l, l) with l = sqrt(3 * scale / n);
/// - `*_normal`: Keras's truncated normal: N(0, sd^2) redrawn beyond 2 sd, with
///   sd = sqrt(scale / n) / 0.87962566103423978 so that the variance after truncation is
///   scale / n;
///
/// where glorot uses scale 2 and n = fan_in + fan_out (`glorot_uniform` is Keras's default
/// kernel), he scale 2 and n = fan_in, lecun scale 1 and n = fan_in.
class Initializer {
public:
    enum Kind {
        zeros,
        ones,
        glorot_uniform,
        glorot_normal,
        he_uniform,
        he_normal,
        lecun_uniform,
        lecun_normal,
    };

    Initializer(Kind kind) noexcept : kind_(kind) {}  // NOLINT(google-explicit-constructor)
    /// The initializer of Keras's name `name`.
    /// \throws std::invalid_argument for an unknown name; the message lists the known ones.
    Initializer(std::string_view name) : kind_(from_name(name)) {}          // NOLINT(google-explicit-constructor)
    Initializer(const char* name) : Initializer(std::string_view(name)) {}  // NOLINT(google-explicit-constructor)
    Initializer(const std::string& name) : Initializer(std::string_view(name)) {}  // NOLINT

    [[nodiscard]] Kind kind() const noexcept { return kind_; }
    /// Keras's name, e.g. "glorot_uniform".
    [[nodiscard]] std::string_view name() const noexcept { return names[std::size_t(kind_)]; }
    friend bool operator==(Initializer a, Initializer b) noexcept { return a.kind_ == b.kind_; }

private:
    static constexpr std::array<std::string_view, 8> names{"zeros",      "ones",      "glorot_uniform", "glorot_normal",
                                                           "he_uniform", "he_normal", "lecun_uniform",  "lecun_normal"};
    static Kind from_name(std::string_view name) {
        for (std::size_t k = 0; k < names.size(); ++k)
            if (names[k] == name) return Kind(k);
        std::string known;
        for (auto n : names) known += (known.empty() ? "" : ", ") + std::string(n);
        throw std::invalid_argument("Initializer: unknown initializer '" + std::string(name) + "'; known: " + known);
    }

    Kind kind_;
};

namespace detail {

/// Fills `n` scalars at `out` as `init` says, for a layer of the given fans.
template <Scalar S>
void fill(S* out, Index n, Initializer init, double fan_in, double fan_out, Random& rng) {
    double scale = 1, fan = fan_in;
    bool normal = false;
    switch (init.kind()) {
        case Initializer::zeros: std::fill(out, out + n, S(0)); return;
        case Initializer::ones: std::fill(out, out + n, S(1)); return;
        case Initializer::glorot_normal: normal = true; [[fallthrough]];
        case Initializer::glorot_uniform:
            scale = 2;
            fan = fan_in + fan_out;
            break;
        case Initializer::he_normal: normal = true; [[fallthrough]];
        case Initializer::he_uniform: scale = 2; break;
        case Initializer::lecun_normal: normal = true; [[fallthrough]];
        case Initializer::lecun_uniform: break;
    }
    if (!normal) {
        const double limit = std::sqrt(3.0 * scale / fan);
        for (Index i = 0; i < n; ++i) out[i] = S(rng.uniform(-limit, limit));
        return;
    }
    // 0.8796...: the standard deviation of a standard normal truncated to [-2, 2].
    const double sd = std::sqrt(scale / fan) / 0.87962566103423978;
    for (Index i = 0; i < n; ++i) {
        double z = rng.normal01();
        while (std::abs(z) > 2.0) z = rng.normal01();
        out[i] = S(sd * z);
    }
}

}  // namespace detail
}  // namespace lamina
