// SPDX-License-Identifier: MIT
// lamina tests: BatchNormalization: the layer contract, hand-computed outputs in training and inference, the
// moving averages, non-trainable weights in models, files and summary, errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include <lamina/io/npz.hpp>
#include <lamina/lamina.hpp>
#include <lamina/layers/registry.hpp>

#include "gradient_check.hpp"
#include "layer_conformance.hpp"

using lamina::BatchNormalization;
using lamina::Index;
using lamina::Shape;
using lamina::test::check_layer_conformance;
using M = lamina::Matrix<double>;
using V = lamina::Vector<double>;
using lamina::test::conformance::Bound;

TEST_CASE("BatchNormalization keeps the layer contract after Dense, on images, first, without gamma or beta",
          "[conformance][batch_normalization]") {
    check_layer_conformance(BatchNormalization(), {5});
    check_layer_conformance(BatchNormalization({.axis = 3, .momentum = 0.9}), {3, 4, 3});
    check_layer_conformance(BatchNormalization({.input_shape = {2, 2, 4}}), {2, 2, 4});
    check_layer_conformance(BatchNormalization({.center = false}), {4});
    check_layer_conformance(BatchNormalization({.scale = false}), {2, 3, 2});
    check_layer_conformance(BatchNormalization({.center = false, .scale = false}), {3});
}

namespace {

// The batch's per-feature mean and biased variance over rows and positions, written out.
void moments(const M& x, Index features, V& mean, V& var) {
    const Index positions = x.cols() / features;
    mean = V::Zero(features);
    var = V::Zero(features);
    const double n = double(x.rows() * positions);
    for (Index r = 0; r < x.rows(); ++r)
        for (Index p = 0; p < positions; ++p)
            for (Index c = 0; c < features; ++c) mean(c) += x(r, p * features + c) / n;
    for (Index r = 0; r < x.rows(); ++r)
        for (Index p = 0; p < positions; ++p)
            for (Index c = 0; c < features; ++c) var(c) += std::pow(x(r, p * features + c) - mean(c), 2) / n;
}

// y = gamma (x - mean) / sqrt(var + epsilon) + beta, feature by feature.
M normalized(const M& x, const V& mean, const V& var, const V& gamma, const V& beta, double epsilon) {
    const Index features = mean.size();
    M y(x.rows(), x.cols());
    for (Index r = 0; r < x.rows(); ++r)
        for (Index j = 0; j < x.cols(); ++j) {
            const Index c = j % features;
            y(r, j) = gamma(c) * (x(r, j) - mean(c)) / std::sqrt(var(c) + epsilon) + beta(c);
        }
    return y;
}

}  // namespace

TEST_CASE("BatchNormalization normalizes each channel over rows and positions in training, by its moving averages "
          "in inference",
          "[batch_normalization]") {
    // Two samples of 2 x 1 positions and 3 channels.
    Bound<double> b(BatchNormalization({.epsilon = 0.01}).build<double>({2, 1, 3}));
    const auto& specs = b.layer->weight_specs();
    REQUIRE(specs.size() == 4);
    CHECK(specs[0].name == "gamma");
    CHECK(specs[1].name == "beta");
    CHECK(specs[2].name == "moving_mean");
    CHECK(specs[3].name == "moving_variance");
    CHECK(specs[0].trainable);
    CHECK(specs[1].trainable);
    CHECK_FALSE(specs[2].trainable);
    CHECK_FALSE(specs[3].trainable);
    CHECK(b.layer->parameter_count() == 12);
    CHECK(b.layer->trainable_count() == 6);

    const V gamma = (V(3) << 1.0, 2.0, -0.5).finished(), beta = (V(3) << 0.0, 1.0, 3.0).finished();
    const V moving_mean = (V(3) << 0.5, -1.0, 2.0).finished(), moving_var = (V(3) << 4.0, 0.25, 1.0).finished();
    b.params << gamma, beta, moving_mean, moving_var;
    const M x = (M(2, 6) << 1, 2, 3, 5, -2, 0,  //
                 -1, 4, 3, 7, 0, 1)
                    .finished();

    SECTION("training: the batch's mean and biased variance, channel by channel") {
        V mean, var;
        moments(x, 3, mean, var);
        CHECK(mean(0) == Approx(3.0));    // 1, 5, -1, 7
        CHECK(var(2) == Approx(1.6875));  // 3, 0, 3, 1: mean 1.75, squares 1.5625 3.0625 1.5625 0.5625
        lamina::test::conformance::before_forward<double>(*b.layer, x);
        const M y = b.forward(x, {.training = true});
        CHECK(lamina::test::conformance::max_difference(y, normalized(x, mean, var, gamma, beta, 0.01)) < 1e-14);
        // The moving averages are not touched without an update.
        CHECK(b.params.tail(6) == (V(6) << moving_mean, moving_var).finished());
    }
    SECTION("training with an update moves the moving averages a step of 1 - momentum toward the batch's") {
        V mean, var;
        moments(x, 3, mean, var);
        for (Index part = 0; part < 3; ++part) b.layer->batch_forward(x, part, 3, true);
        const double m = 0.99;
        CHECK(lamina::test::conformance::max_difference(b.params.segment(6, 3), moving_mean * m + mean * (1 - m)) <
              1e-15);
        CHECK(lamina::test::conformance::max_difference(b.params.segment(9, 3), moving_var * m + var * (1 - m)) <
              1e-15);
    }
    SECTION("inference: the moving averages, whatever the batch") {
        const M y = b.forward(x, {.training = false});
        CHECK(lamina::test::conformance::max_difference(y, normalized(x, moving_mean, moving_var, gamma, beta, 0.01)) <
              1e-14);
        const M one = b.forward(x.topRows(1), {.training = false});
        CHECK(lamina::test::conformance::same(one, y.topRows(1)));
    }
}

TEST_CASE("A model with BatchNormalization: gradients, moving averages, non-trainable counts, files",
          "[batch_normalization][sequential]") {
    SECTION("the model's gradient matches central differences; loss_and_gradient leaves the moving averages") {
        lamina::Sequential<double> model{lamina::Dense(4, {.input_dim = 3}), BatchNormalization(),
                                         lamina::Activation("tanh"), lamina::Dense(2), lamina::Activation("softmax")};
        model.initialize(3);
        model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.1});
        std::srand(5);
        const M x = M::Random(8, 3);
        M y = M::Zero(8, 2);
        for (Index r = 0; r < 8; ++r) y(r, r % 2) = 1;
        // Gamma and beta away from 1 and 0, and moving averages that would change the output.
        const auto& bn = model.layer(1);
        auto w = bn.get_weights();
        w[0] << 1.5, 0.5, 2.0, -1.0;
        w[1] << 0.1, -0.2, 0.3, 0.0;
        w[2] << 0.4, 0.4, 0.4, 0.4;
        w[3] << 2.0, 2.0, 2.0, 2.0;
        model.layer(1).set_weights(w);
        const V before = model.parameters();
        CHECK(lamina::test::model_gradient_error(model, x, y) < 1e-6);
        CHECK(model.parameters() == before);
        // The moving averages get no gradient.
        const Index fixed = model.count_params() - model.count_trainable_params();
        CHECK(fixed == 8);
        model.loss_and_gradient(x, y);
        CHECK((model.gradients().segment(3 * 4 + 4 + 8, 8).array() == 0).all());
    }
    SECTION("fit moves the moving averages toward the data's statistics; predict uses them") {
        lamina::Sequential<float> model{BatchNormalization({.momentum = 0.5, .input_shape = {2}}), lamina::Dense(1)};
        model.initialize(1);
        model.compile(lamina::loss::mean_squared_error, lamina::SGD{.learning_rate = 1e-6});
        lamina::Matrix<float> x(400, 2), y = lamina::Matrix<float>::Zero(400, 1);
        for (Index r = 0; r < 400; ++r) {
            x(r, 0) = float(10 + (r % 2 == 0 ? 2 : -2));  // mean 10, variance 4
            x(r, 1) = float(-3 + (r % 4 < 2 ? 0.5 : -0.5));
        }
        model.fit(x, y, {.batch_size = 40, .epochs = 2, .verbose = 0, .shuffle = false});
        const auto w = model.layer(0).get_weights();
        CHECK(w[2](0) == Approx(10.0).epsilon(1e-4));
        CHECK(w[3](0) == Approx(4.0).epsilon(1e-4));
        CHECK(w[2](1) == Approx(-3.0).epsilon(1e-4));
        CHECK(w[3](1) == Approx(0.25).epsilon(1e-4));
        // Inference normalizes one sample by them: x = (12, -2.5) -> (1, 1) (up to epsilon).
        lamina::Sequential<float> bn_only{BatchNormalization({.input_shape = {2}})};
        bn_only.layer(0).set_weights(w);
        const lamina::Matrix<float> sample = (lamina::Matrix<float>(1, 2) << 12.0f, -2.5f).finished();
        const auto out = bn_only.predict(sample);
        CHECK(out(0) == Approx(2.0 / std::sqrt(4.001)).epsilon(1e-4));
        CHECK(out(1) == Approx(0.5 / std::sqrt(0.251)).epsilon(1e-4));
    }
    SECTION("summary counts the moving averages as non-trainable; files keep them") {
        lamina::Sequential<float> model{lamina::Conv2D(8, 3, {.input_shape = {6, 6, 1}}), BatchNormalization(),
                                        lamina::Activation("relu"), lamina::Flatten(), lamina::Dense(2)};
        model.initialize(2);
        std::ostringstream out;
        model.summary(out);
        const std::string text = out.str();
        CHECK_THAT(text, Catch::Contains("batch_normalization (BatchNormalization)"));
        CHECK_THAT(text, Catch::Contains("Total params: 370"));  // 80 + 32 + 258
        CHECK_THAT(text, Catch::Contains("Trainable params: 354"));
        CHECK_THAT(text, Catch::Contains("Non-trainable params: 16"));

        model.compile(lamina::loss::mean_squared_error, lamina::Adam{});
        lamina::Matrix<float> x = lamina::Matrix<float>::Random(32, 36), y = lamina::Matrix<float>::Random(32, 2);
        model.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0, .seed = 1});
        const auto back = lamina::Sequential<float>::from_bytes(model.to_bytes());
        CHECK(back.parameters() == model.parameters());
        CHECK(back.predict(x) == model.predict(x));
        lamina::test::TempDir dir;
        model.save_weights(dir / "w.npz");
        const auto entries = lamina::io::read_npz(dir / "w.npz");
        CHECK(std::any_of(entries.begin(), entries.end(),
                          [](const auto& e) { return e.name == "batch_normalization.moving_variance"; }));
    }
}

TEST_CASE("BatchNormalization refuses impossible settings, naming them", "[batch_normalization][errors]") {
    CHECK_THROWS_WITH(BatchNormalization({.momentum = 1.5}), Catch::Contains("momentum") && Catch::Contains("1.5"));
    CHECK_THROWS_WITH(BatchNormalization({.epsilon = 0}), Catch::Contains("epsilon"));
    CHECK_THROWS_WITH(BatchNormalization({.epsilon = std::nan("")}), Catch::Contains("epsilon"));
    CHECK_THROWS_WITH(BatchNormalization({.axis = 1}).build<float>({4, 4, 3}),
                      Catch::Contains("axis 1") && Catch::Contains("(4, 4, 3)") && Catch::Contains("last axis"));
    CHECK_NOTHROW(BatchNormalization({.axis = 3}).build<float>({4, 4, 3}));
    CHECK_THROWS_AS(BatchNormalization().build<float>({}), std::invalid_argument);
    CHECK_THROWS_WITH(lamina::LayerRegistry<float>::instance().create("BatchNormalization", {{"momentum", -0.1}},
                                                                      Shape{3}),
                      Catch::Contains("momentum"));
}
