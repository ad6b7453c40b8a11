// SPDX-License-Identifier: MIT
// lamina tests: categorical cross-entropy (from logits and from probabilities), mean squared
// error, and the Loss that dispatches between them and stores their options.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <variant>

#include <lamina/losses/loss.hpp>

#include "gradient_check.hpp"

using lamina::Index;
using M = lamina::Matrix<double>;
using CCE = lamina::loss::CategoricalCrossentropy;
using MSE = lamina::loss::MeanSquaredError;

namespace {

// Keras's categorical_crossentropy with from_logits=False, written out independently of
// lamina: each row divided by its sum, clipped to [1e-7, 1 - 1e-7], then -sum y log.
double keras_cce(const M& p, const M& y) {
    double total = 0;
    for (Index i = 0; i < p.rows(); ++i) {
        double s = 0;
        for (Index j = 0; j < p.cols(); ++j) s += p(i, j);
        for (Index j = 0; j < p.cols(); ++j) total -= y(i, j) * std::log(std::clamp(p(i, j) / s, 1e-7, 1 - 1e-7));
    }
    return total;
}

}  // namespace

TEST_CASE("Cross-entropy from logits gives log-sum-exp minus the target logit", "[loss][cce]") {
    M z(2, 3), y(2, 3), g(2, 3);
    z << 1, 2, 3, 0, 0, 0;
    y << 0, 0, 1, 1, 0, 0;
    lamina::MatrixRef<double> gref(g);
    const double total = CCE::logits_loss<double>(z, y, &gref, 2);
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
    const float total = CCE::logits_loss<float>(z, y, &gref, 1);
    CHECK(std::isfinite(total));
    CHECK(total == Approx(2e4));
    CHECK(g.allFinite());
    CHECK(g(0, 0) == Approx(1));
    CHECK(g(0, 1) == Approx(-1));
    CHECK(g(0, 2) == Approx(0).margin(1e-30));
}

TEST_CASE("Loss gradients from logits and of mean squared error match finite differences", "[loss][gradient]") {
    M z = M::Random(4, 5) * 2;
    M y = M::Zero(4, 5);
    for (Index i = 0; i < 4; ++i) y(i, (i * 2) % 5) = 1;
    M g(4, 5);
    lamina::MatrixRef<double> gref(g);

    CCE::logits_loss<double>(z, y, &gref, 4);
    CHECK(lamina::test::max_gradient_error(z.data(), z.size(), M(g).data(),
                                           [&] { return CCE::logits_loss<double>(z, y, nullptr, 4) / 4; }) < 1e-6);

    const M t = M::Random(4, 5);
    MSE::evaluate<double>(z, t, &gref, 4);
    CHECK(lamina::test::max_gradient_error(z.data(), z.size(), M(g).data(),
                                           [&] { return MSE::evaluate<double>(z, t, nullptr, 4) / 4; }) < 1e-6);
}

TEST_CASE("Cross-entropy from probabilities clips a zero and a one as Keras does", "[loss][cce]") {
    M p(1, 2), y(1, 2), g(1, 2);
    p << 0.0, 1.0;
    y << 1, 0;
    lamina::MatrixRef<double> gref(g);
    const double total = CCE::probabilities_loss<double>(p, y, &gref, 1);
    CHECK(total == Approx(-std::log(1e-7)));
    CHECK(g.allFinite());
}

TEST_CASE("Cross-entropy from probabilities divides each row by its sum first, as Keras does", "[loss][cce]") {
    M p(3, 2), y(3, 2), g(3, 2);
    p << 0.2, 0.2,   // sums to 0.4: q = (0.5, 0.5), where clipping alone gave -log(0.2)
        1, 3,        // sums to 4: q = (0.25, 0.75)
        -0.2, -0.6;  // sums to -0.8: q = (0.25, 0.75) again
    y << 1, 0, 0, 1, 0.5, 0.5;
    double rows[3];
    lamina::MatrixRef<double> gref(g);
    const double total = CCE::probabilities_loss<double>(p, y, &gref, 4, rows);
    CHECK(rows[0] == Approx(-std::log(0.5)));
    CHECK(rows[1] == Approx(-std::log(0.75)));
    CHECK(rows[2] == Approx(-0.5 * std::log(0.25) - 0.5 * std::log(0.75)));
    CHECK(total == Approx(rows[0] + rows[1] + rows[2]));
    // Row 0 by hand: dL/dq = (-1 / 0.5, 0) = (-2, 0), <dL/dq, q> = -1,
    // dL/dp = ((-2 + 1) / 0.4, (0 + 1) / 0.4) = (-2.5, 2.5), divided by the batch of 4.
    CHECK(g(0, 0) == Approx(-2.5 / 4));
    CHECK(g(0, 1) == Approx(2.5 / 4));
    // Row 1: dL/dq = (0, -1 / 0.75), <dL/dq, q> = -1, dL/dp = ((0 + 1) / 4, (-4 / 3 + 1) / 4) / 4.
    CHECK(g(1, 0) == Approx(0.25 / 4));
    CHECK(g(1, 1) == Approx((-4.0 / 3 + 1) / 4 / 4));
    // Without the gradient the losses are the same.
    double again[3];
    CHECK(CCE::probabilities_loss<double>(p, y, nullptr, 4, again) == total);
    CHECK(again[0] == rows[0]);
}

TEST_CASE("Cross-entropy from probabilities clips after normalising", "[loss][cce]") {
    M p(2, 2), y(2, 2), g(2, 2);
    p << 1e-8, 0.05,  // q_0 = 2e-7: inside the clip range once normalised, below it before
        2e-8, 2.0;    // q_0 = 1e-8: clipped to 1e-7, and q_1 to 1 - 1e-7
    y << 1, 0, 1, 0;
    double rows[2];
    lamina::MatrixRef<double> gref(g);
    CCE::probabilities_loss<double>(p, y, &gref, 2, rows);
    CHECK(rows[0] == Approx(-std::log(1e-8 / (0.05 + 1e-8))));
    CHECK(rows[1] == Approx(-std::log(1e-7)));
    CHECK(g(0, 0) != 0);
    // Both of row 1's entries lie outside the clip range, where clip is flat.
    CHECK(g(1, 0) == 0);
    CHECK(g(1, 1) == 0);
}

TEST_CASE("Cross-entropy from probabilities matches finite differences of Keras's formula", "[loss][cce][gradient]") {
    // Rows that do not sum to 1 (sums from about 0.4 to 4), with one-hot and soft targets.
    M p = (M::Random(5, 4).array() * 0.4 + 0.5).matrix();
    p.row(1) *= 4;
    p.row(2) *= 0.4;
    p.row(3) *= 2.5;
    M y = M::Zero(5, 4);
    for (Index i = 0; i < 3; ++i) y(i, (i * 3) % 4) = 1;
    y.row(3) << 0.1, 0.2, 0.3, 0.4;
    y.row(4) << 0.5, 0, 0.5, 0;
    const Index batch = 8;  // the batch's size, larger than this block of rows
    M g(5, 4);
    lamina::MatrixRef<double> gref(g);
    double rows[5];
    const double total = CCE::probabilities_loss<double>(p, y, &gref, batch, rows);
    CHECK(total == Approx(keras_cce(p, y)).epsilon(1e-12));
    const M analytic = g;
    CHECK(lamina::test::max_gradient_error(p.data(), p.size(), analytic.data(),
                                           [&] { return keras_cce(p, y) / double(batch); }) < 1e-6);
    // The loss does not change when a row is scaled, so each row's gradient is orthogonal
    // to the row itself (the old clip-only gradient -y / p was not).
    for (Index i = 0; i < p.rows(); ++i) CHECK(std::abs(p.row(i).dot(analytic.row(i))) < 1e-12);
}

TEST_CASE("A row of probabilities summing to 0 costs -log(1e-7) per unit of target and has no gradient",
          "[loss][cce]") {
    M p(3, 3), y(3, 3), g(3, 3);
    p << 0, 0, 0, 0.1, 0.3, 0.6, 0, 0, 0;
    y << 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0;
    double rows[3];
    lamina::MatrixRef<double> gref(g);
    const double total = CCE::probabilities_loss<double>(p, y, &gref, 3, rows);
    CHECK(std::isfinite(total));
    CHECK(g.allFinite());
    CHECK(rows[0] == Approx(-std::log(1e-7)));
    CHECK(rows[2] == Approx(-std::log(1e-7)));
    CHECK(g.row(0).isZero(0));
    CHECK(g.row(2).isZero(0));
    // The other row is as it would be alone.
    M g1(1, 3);
    lamina::MatrixRef<double> g1ref(g1);
    double alone;
    CCE::probabilities_loss<double>(p.middleRows(1, 1), y.middleRows(1, 1), &g1ref, 3, &alone);
    CHECK(rows[1] == alone);
    CHECK(g.row(1) == g1.row(0));
}

TEST_CASE("Cross-entropy from probabilities gives each row the same bits wherever it lies", "[loss][cce]") {
    // 17 columns, so vectorised sums would start at different offsets in each row.
    using F = lamina::Matrix<float>;
    F p = (F::Random(3, 17).array() * 0.4f + 0.5f).matrix();
    F y = F::Zero(3, 17);
    for (Index i = 0; i < 3; ++i) y(i, 5 * i + 1) = 1;
    F g(3, 17), g1(1, 17);
    float rows[3];
    lamina::MatrixRef<float> gref(g);
    CCE::probabilities_loss<float>(p, y, &gref, 3, rows);
    for (Index i = 0; i < 3; ++i) {
        const F pi = p.row(i), yi = y.row(i);  // copied: a fresh address
        lamina::MatrixRef<float> g1ref(g1);
        float alone;
        CCE::probabilities_loss<float>(pi, yi, &g1ref, 3, &alone);
        CHECK(rows[i] == alone);
        CHECK(g.row(i) == g1.row(0));
    }
}

TEST_CASE("Cross-entropy with from_logits takes the output as logits, as the fused path does", "[loss][cce]") {
    const lamina::Loss logits = CCE{.from_logits = true};
    const lamina::Loss probabilities = lamina::loss::categorical_crossentropy;
    const lamina::Loss mse = "mse";
    CHECK_FALSE(logits.fuses_softmax());
    CHECK(probabilities.fuses_softmax());
    CHECK_FALSE(mse.fuses_softmax());
    CHECK_FALSE(lamina::loss::categorical_crossentropy.from_logits);

    lamina::Matrix<float> z = lamina::Matrix<float>::Random(4, 6) * 3;
    lamina::Matrix<float> y = lamina::Matrix<float>::Zero(4, 6);
    for (Index i = 0; i < 4; ++i) y(i, (i * 5) % 6) = 1;
    lamina::Matrix<float> g1(4, 6), g2(4, 6), g3(4, 6);
    lamina::MatrixRef<float> r1(g1), r2(g2), r3(g3);
    float rows1[4], rows2[4], rows3[4];
    const float a = logits.compute<float>(z, y, &r1, 10, rows1, false);
    const float b = probabilities.compute<float>(z, y, &r2, 10, rows2, true);
    const float c = CCE::logits_loss<float>(z, y, &r3, 10, rows3);
    CHECK(a == c);
    CHECK(b == c);
    CHECK(g1 == g3);
    CHECK(g2 == g3);
    for (int i = 0; i < 4; ++i) CHECK((rows1[i] == rows3[i] && rows2[i] == rows3[i]));

    // Unfused, the default takes the output as probabilities; mean squared error evaluates.
    const lamina::Matrix<float> p = (lamina::Matrix<float>::Random(4, 6).array() * 0.4f + 0.5f).matrix();
    CHECK(probabilities.compute<float>(p, y, &r1, 4, nullptr, false) == CCE::probabilities_loss<float>(p, y, &r2, 4));
    CHECK(g1 == g2);
    CHECK(mse.compute<float>(p, y, &r1, 4, rows1, false) == MSE::evaluate<float>(p, y, &r2, 4, rows2));
    CHECK(g1 == g2);
    CHECK(rows1[3] == rows2[3]);
}

TEST_CASE("Loss options round-trip through get_config and from_config", "[loss][config]") {
    using Options = lamina::Loss::Options;
    const lamina::Loss logits = CCE{.from_logits = true};
    CHECK(logits.get_config() == Options{{"from_logits", 1.0}});
    CHECK(lamina::Loss(lamina::loss::categorical_crossentropy).get_config() == Options{{"from_logits", 0.0}});
    CHECK(lamina::Loss("mse").get_config().empty());

    const lamina::Loss back = lamina::Loss::from_config(logits.name(), logits.get_config());
    CHECK(back.name() == "categorical_crossentropy");
    REQUIRE(std::holds_alternative<CCE>(back.kind()));
    CHECK(std::get<CCE>(back.kind()).from_logits);
    CHECK_FALSE(back.fuses_softmax());

    // An empty config gives the defaults; "mse" is Keras's alias.
    CHECK(lamina::Loss::from_config("categorical_crossentropy", {}).fuses_softmax());
    CHECK_FALSE(lamina::Loss::from_config("categorical_crossentropy", {{"from_logits", 0}}).get_config()[0].second);
    CHECK(lamina::Loss::from_config("mse", {}).name() == "mean_squared_error");
}

TEST_CASE("Loss.from_config names the loss and the option it rejects", "[loss][config][errors]") {
    using lamina::Loss;
    CHECK_THROWS_WITH(Loss::from_config("hinge", {}), Catch::Contains("Loss.from_config") &&
                                                          Catch::Contains("'hinge'") &&
                                                          Catch::Contains("categorical_crossentropy"));
    CHECK_THROWS_AS(Loss::from_config("hinge", {}), std::invalid_argument);
    CHECK_THROWS_WITH(Loss::from_config("categorical_crossentropy", {{"from_logit", 1}}),
                      Catch::Contains("categorical_crossentropy") && Catch::Contains("'from_logit'") &&
                          Catch::Contains("known: from_logits"));
    CHECK_THROWS_WITH(Loss::from_config("mean_squared_error", {{"from_logits", 1}}),
                      Catch::Contains("mean_squared_error") && Catch::Contains("'from_logits'") &&
                          Catch::Contains("known: none"));
    CHECK_THROWS_WITH(Loss::from_config("categorical_crossentropy", {{"from_logits", 0.5}}),
                      Catch::Contains("from_logits") && Catch::Contains("expected 0 or 1") &&
                          Catch::Contains("found 0.5"));
    CHECK_THROWS_WITH(Loss::from_config("categorical_crossentropy",
                                        {{"from_logits", std::numeric_limits<double>::quiet_NaN()}}),
                      Catch::Contains("expected 0 or 1") && Catch::Contains("found nan"));
    CHECK_THROWS_WITH(Loss::from_config("categorical_crossentropy", {{"from_logits", 1}, {"from_logits", 0}}),
                      Catch::Contains("'from_logits'") && Catch::Contains("twice"));
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
