// SPDX-License-Identifier: MIT
// lamina tests: L1/L2 weight penalties: values, gradients, the reported loss and errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <lamina/lamina.hpp>

#include "gradient_check.hpp"

using lamina::Index;
using M = lamina::Matrix<double>;

namespace {

lamina::Sequential<double> model_with(lamina::Regularizer r) {
    lamina::Sequential<double> model{lamina::Dense(5, {.input_dim = 3, .kernel_regularizer = r}),
                                     lamina::Activation("sigmoid"), lamina::Dense(2, {.kernel_regularizer = r}),
                                     lamina::Activation("softmax")};
    model.initialize(4);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.5});
    return model;
}

}  // namespace

TEST_CASE("Regularizers have Keras's defaults and penalise as l1 sum|w| + l2 sum w^2", "[regularizers]") {
    CHECK(lamina::regularizers::l2().l2 == 0.01);
    CHECK(lamina::regularizers::l2().l1 == 0);
    CHECK(lamina::regularizers::l1().l1 == 0.01);
    CHECK(!lamina::Regularizer{}.active());
    // 1, -2, 3, then zeros (which add nothing): 16 values, whole vector registers.
    std::vector<double> weights(16, 0.0), gradient(16, 0.0);
    weights[0] = 1;
    weights[1] = -2;
    weights[2] = 3;
    const Index n = Index(weights.size());
    CHECK(lamina::regularizers::l2(0.5).penalty(weights.data(), n) == Approx(0.5 * 14));
    CHECK(lamina::regularizers::l1(0.25).penalty(weights.data(), n) == Approx(0.25 * 6));
    CHECK(lamina::regularizers::l1_l2(0.25, 0.5).penalty(weights.data(), n) == Approx(0.25 * 6 + 0.5 * 14));
    lamina::regularizers::l1_l2(0.25, 0.5).add_gradient(weights.data(), gradient.data(), n);
    CHECK(gradient[0] == Approx(0.25 + 1.0));
    CHECK(gradient[1] == Approx(-0.25 - 2.0));
    CHECK(gradient[2] == Approx(0.25 + 3.0));
    CHECK(gradient[3] == 0.0);
}

TEST_CASE("The loss of a model with L2 adds the penalty, and its gradient matches finite differences",
          "[regularizers][gradient]") {
    auto model = model_with(lamina::regularizers::l2(0.05));
    auto plain = model_with({});
    REQUIRE(plain.parameters() == model.parameters());
    const M x = M::Random(6, 3);
    const M y = lamina::to_categorical(std::vector<int>{0, 1, 1, 0, 1, 0}, 2).cast<double>();
    // The penalty, computed here from the kernels: 0.05 * (|K1|^2 + |K2|^2).
    const double penalty = 0.05 * (model.layer(0).get_weights()[0].squaredNorm() +
                                   model.layer(2).get_weights()[0].squaredNorm());
    CHECK(model.loss_and_gradient(x, y) == Approx(plain.loss_and_gradient(x, y) + penalty).epsilon(1e-12));
    CHECK(model.evaluate(x, y).loss == Approx(plain.evaluate(x, y).loss + penalty).epsilon(1e-12));

    CHECK(lamina::test::model_gradient_error(model, x, y) < 1e-6);
}

TEST_CASE("L1 gradients match finite differences away from zero", "[regularizers][gradient]") {
    auto model = model_with(lamina::regularizers::l1_l2(0.03, 0.01));
    const M x = M::Random(4, 3);
    const M y = lamina::to_categorical(std::vector<int>{0, 1, 1, 0}, 2).cast<double>();
    CHECK(lamina::test::model_gradient_error(model, x, y) < 1e-6);
}

TEST_CASE("L2 shrinks the kernel while training and is reported in fit's loss", "[regularizers]") {
    auto model = model_with(lamina::regularizers::l2(0.1));
    auto plain = model_with({});
    const M x = M::Random(32, 3);
    std::vector<int> labels;
    for (Index i = 0; i < 32; ++i) labels.push_back(x(i, 0) > 0 ? 1 : 0);
    const M y = lamina::to_categorical(labels, 2).cast<double>();
    const auto h = model.fit(x, y, {.batch_size = 32, .epochs = 20, .verbose = 0, .shuffle = false, .threads = 1});
    plain.fit(x, y, {.batch_size = 32, .epochs = 20, .verbose = 0, .shuffle = false, .threads = 1});
    CHECK(model.layer(0).get_weights()[0].norm() < plain.layer(0).get_weights()[0].norm());
    // One batch per epoch: the last epoch's loss is the loss of the weights before its step.
    CHECK(h.loss.back() > 0);
}

TEST_CASE("Dense rejects negative or non-finite regularization factors", "[regularizers][errors]") {
    CHECK_THROWS_WITH(lamina::Dense(4, {.kernel_regularizer = lamina::regularizers::l2(-1)}),
                      Catch::Contains("Dense(4): kernel_regularizer: l2 must be >= 0") && Catch::Contains("-1"));
    CHECK_THROWS_AS(lamina::Dense(4, {.kernel_regularizer = lamina::regularizers::l1(INFINITY)}),
                    std::invalid_argument);
}
