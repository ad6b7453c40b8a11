// SPDX-License-Identifier: MIT
// lamina tests: categorical cross-entropy (fused and not) and mean squared error.
#include <catch2/catch.hpp>

#include <cmath>

#include <lamina/losses/loss.hpp>

#include "gradient_check.hpp"

using lamina::Index;
using M = lamina::Matrix<double>;
using CCE = lamina::loss::CategoricalCrossentropy;
using MSE = lamina::loss::MeanSquaredError;

TEST_CASE("Cross-entropy from logits gives log-sum-exp minus the target logit", "[loss][cce]") {
    M z(2, 3), y(2, 3), g(2, 3);
    z << 1, 2, 3, 0, 0, 0;
    y << 0, 0, 1, 1, 0, 0;
    lamina::MatrixRef<double> gref(g);
    const double total = CCE::from_logits<double>(z, y, &gref, 2);
    const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
    CHECK(total == Approx((lse0 - 3) + std::log(3.0)));
    // gradient = (softmax(z) - y) / batch
    CHECK(g(0, 0) == Approx(std::exp(1.0 - lse0) / 2));
    CHECK(g(0, 2) == Approx((std::exp(3.0 - lse0) - 1) / 2));
    CHECK(g(1, 0) == Approx((1.0 / 3 - 1) / 2));
    CHECK(g(1, 1) == Approx(1.0 / 6));
}

TEST_CASE("Cross-entropy from logits of plus or minus 1e4 is finite", "[loss][cce]") {
    lamina::Matrix<float> z(1, 3), y(1, 3), g(1, 3);
    z << 1e4f, -1e4f, 0;
    y << 0, 1, 0;
    lamina::MatrixRef<float> gref(g);
    const float total = CCE::from_logits<float>(z, y, &gref, 1);
    CHECK(std::isfinite(total));
    CHECK(total == Approx(2e4));
    CHECK(g.allFinite());
    CHECK(g(0, 0) == Approx(1));
    CHECK(g(0, 1) == Approx(-1));
    CHECK(g(0, 2) == Approx(0).margin(1e-30));
}

TEST_CASE("Loss gradients match finite differences", "[loss][gradient]") {
    M z = M::Random(4, 5) * 2;
    M y = M::Zero(4, 5);
    for (Index i = 0; i < 4; ++i) y(i, (i * 2) % 5) = 1;
    M g(4, 5);
    lamina::MatrixRef<double> gref(g);

    CCE::from_logits<double>(z, y, &gref, 4);
    CHECK(lamina::test::max_gradient_error(z.data(), z.size(), M(g).data(),
                                           [&] { return CCE::from_logits<double>(z, y, nullptr, 4) / 4; }) < 1e-6);

    M p = (M::Random(4, 5).array() * 0.4 + 0.5).matrix();  // probabilities away from the clip
    CCE::from_probabilities<double>(p, y, &gref, 4);
    CHECK(lamina::test::max_gradient_error(p.data(), p.size(), M(g).data(), [&] {
              return CCE::from_probabilities<double>(p, y, nullptr, 4) / 4;
          }) < 1e-6);

    const M t = M::Random(4, 5);
    MSE::evaluate<double>(z, t, &gref, 4);
    CHECK(lamina::test::max_gradient_error(z.data(), z.size(), M(g).data(),
                                           [&] { return MSE::evaluate<double>(z, t, nullptr, 4) / 4; }) < 1e-6);
}

TEST_CASE("Cross-entropy from probabilities clips as Keras does", "[loss][cce]") {
    M p(1, 2), y(1, 2), g(1, 2);
    p << 0.0, 1.0;
    y << 1, 0;
    lamina::MatrixRef<double> gref(g);
    const double total = CCE::from_probabilities<double>(p, y, &gref, 1);
    CHECK(total == Approx(-std::log(1e-7)));
    CHECK(g.allFinite());
}

TEST_CASE("Mean squared error averages over outputs, then over the batch", "[loss][mse]") {
    M o(1, 2), y(1, 2), g(1, 2);
    o << 1, 2;
    y << 0, 4;
    lamina::MatrixRef<double> gref(g);
    CHECK(MSE::evaluate<double>(o, y, &gref, 1) == Approx((1.0 + 4.0) / 2));
    CHECK(g(0, 0) == Approx(2.0 * 1 / 2));
    CHECK(g(0, 1) == Approx(2.0 * -2 / 2));
}

TEST_CASE("Losses are named as in Keras and unknown names are rejected", "[loss][errors]") {
    CHECK(lamina::Loss("categorical_crossentropy").name() == "categorical_crossentropy");
    CHECK(lamina::Loss("mse").name() == "mean_squared_error");
    CHECK(lamina::Loss(lamina::loss::mean_squared_error).name() == "mean_squared_error");
    CHECK_THROWS_WITH(lamina::Loss("crossentropy"),
                      Catch::Contains("'crossentropy'") && Catch::Contains("categorical_crossentropy"));
}
