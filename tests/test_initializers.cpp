// SPDX-License-Identifier: MIT
// lamina tests: initializers by Keras's names: ranges, variances and errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <lamina/layers/initializers.hpp>

using lamina::Index;

namespace {

// The mean and variance of `n` draws of `init` for a layer of fans (fan_in, fan_out).
struct Moments {
    double mean = 0, variance = 0, max_abs = 0;
};
Moments draw(lamina::Initializer init, double fan_in, double fan_out, Index n = 200000) {
    std::vector<double> v(static_cast<std::size_t>(n));
    lamina::Random rng(17);
    lamina::detail::fill(v.data(), n, init, fan_in, fan_out, rng);
    Moments m;
    for (double x : v) m.mean += x / double(n);
    for (double x : v) {
        m.variance += (x - m.mean) * (x - m.mean) / double(n);
        m.max_abs = std::max(m.max_abs, std::abs(x));
    }
    return m;
}

}  // namespace

TEST_CASE("Initializers are named as in Keras and convert from their names", "[init]") {
    CHECK(lamina::Initializer("he_normal") == lamina::Initializer::he_normal);
    CHECK(lamina::Initializer(std::string("glorot_normal")).kind() == lamina::Initializer::glorot_normal);
    CHECK(lamina::Initializer(lamina::Initializer::lecun_uniform).name() == "lecun_uniform");
    for (const char* name : {"zeros", "ones", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                             "lecun_uniform", "lecun_normal"})
        CHECK(lamina::Initializer(name).name() == name);
    CHECK_THROWS_WITH(lamina::Initializer("glorot"),
                      Catch::Contains("unknown initializer 'glorot'") && Catch::Contains("known: zeros, ones"));
}

TEST_CASE("Uniform initializers draw from U(-l, l) with Keras's limits", "[init]") {
    const double fan_in = 300, fan_out = 100;
    const struct {
        lamina::Initializer init;
        double limit;
    } cases[] = {{lamina::Initializer::glorot_uniform, std::sqrt(6.0 / (fan_in + fan_out))},
                 {lamina::Initializer::he_uniform, std::sqrt(6.0 / fan_in)},
                 {lamina::Initializer::lecun_uniform, std::sqrt(3.0 / fan_in)}};
    for (const auto& c : cases) {
        const auto m = draw(c.init, fan_in, fan_out);
        CHECK(m.max_abs <= c.limit);
        CHECK(m.max_abs > 0.99 * c.limit);
        CHECK(std::abs(m.mean) < 0.01 * c.limit);
        CHECK(m.variance == Approx(c.limit * c.limit / 3).epsilon(0.02));  // the variance of U(-l, l)
    }
}

TEST_CASE("Normal initializers draw Keras's truncated normal of variance scale / fan", "[init]") {
    const double fan_in = 300, fan_out = 100;
    const struct {
        lamina::Initializer init;
        double variance;
    } cases[] = {{lamina::Initializer::glorot_normal, 2.0 / (fan_in + fan_out)},
                 {lamina::Initializer::he_normal, 2.0 / fan_in},
                 {lamina::Initializer::lecun_normal, 1.0 / fan_in}};
    for (const auto& c : cases) {
        const auto m = draw(c.init, fan_in, fan_out);
        // Truncated at two standard deviations of the untruncated normal, sd = sqrt(var) / 0.8796.
        const double sd = std::sqrt(c.variance) / 0.87962566103423978;
        CHECK(m.max_abs <= 2 * sd);
        CHECK(m.max_abs > 1.98 * sd);
        CHECK(std::abs(m.mean) < 0.01 * sd);
        CHECK(m.variance == Approx(c.variance).epsilon(0.02));
    }
}

TEST_CASE("Constant initializers and reproducible draws", "[init]") {
    CHECK(draw(lamina::Initializer::zeros, 3, 3, 10).max_abs == 0);
    const auto ones = draw(lamina::Initializer::ones, 3, 3, 10);
    CHECK(ones.mean == Approx(1));
    CHECK(ones.variance == Approx(0).margin(1e-15));
    CHECK(draw(lamina::Initializer::he_normal, 5, 5, 100).mean == draw(lamina::Initializer::he_normal, 5, 5, 100).mean);
}

TEST_CASE("Random's normal draws have mean 0 and variance 1", "[init]") {
    lamina::Random rng(3);
    double sum = 0, squares = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) {
        const double z = rng.normal01();
        sum += z;
        squares += z * z;
    }
    CHECK(std::abs(sum / n) < 0.01);
    CHECK(squares / n == Approx(1).epsilon(0.01));
}
