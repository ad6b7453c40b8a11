// SPDX-License-Identifier: MIT
// lamina tests: the Dropout layer: inverted scaling, rate, determinism, gradients and errors.
#include <catch2/catch.hpp>

#include <cmath>

#include <lamina/lamina.hpp>

#include "gradient_check.hpp"

using lamina::Index;
using M = lamina::Matrix<double>;
using MF = lamina::Matrix<float>;
using lamina::test::model_gradient_error;

namespace {

M run(const lamina::Layer<double>& layer, const M& x, const lamina::Pass& pass) {
    M y(x.rows(), x.cols());
    layer.forward(x, y, pass);
    return y;
}

}  // namespace

TEST_CASE("Dropout zeroes about rate of its inputs in training and scales the rest by 1/(1-rate)", "[dropout]") {
    const auto layer = lamina::Dropout(0.3).build<double>({50});
    CHECK(layer->kind() == "Dropout");
    CHECK(layer->output_dim() == 50);
    const M x = M::Constant(400, 50, 2.0);
    const M y = run(*layer, x, {.training = true, .seed = 42, .row = 0});
    Index dropped = 0;
    for (Index i = 0; i < y.size(); ++i) {
        const double v = y.data()[i];
        CHECK((v == 0.0 || v == Approx(2.0 / 0.7)));
        dropped += v == 0.0;
    }
    // 20,000 Bernoulli(0.3) draws: mean 6000, standard deviation about 65.
    CHECK(std::abs(double(dropped) - 6000) < 400);
}

TEST_CASE("Dropout passes its input through unchanged outside training", "[dropout]") {
    const auto layer = lamina::Dropout(0.5).build<double>({4});
    const M x = M::Random(3, 4);
    M y(3, 4), dx(3, 4);
    layer->forward(x, y);
    CHECK(y == x);
    layer->backward(x, y, x, dx);
    CHECK(dx == x);
    // A rate of 0 is the identity in training too.
    CHECK(run(*lamina::Dropout(0).build<double>({4}), x, {.training = true, .seed = 7, .row = 0}) == x);
}

TEST_CASE("Dropout's mask depends on the seed and the row's place in the batch, not on the split", "[dropout]") {
    const auto layer = lamina::Dropout(0.5).build<double>({8});
    const M x = M::Ones(6, 8);
    const M whole = run(*layer, x, {.training = true, .seed = 5, .row = 0});
    CHECK(run(*layer, x, {.training = true, .seed = 5, .row = 0}) == whole);  // same seed, same mask
    CHECK(run(*layer, x, {.training = true, .seed = 6, .row = 0}) != whole);  // another seed, another mask
    // Rows 2..5 computed alone, told they start at row 2, give the same rows.
    CHECK(run(*layer, x.bottomRows(4), {.training = true, .seed = 5, .row = 2}) == whole.bottomRows(4));
}

TEST_CASE("Dropout's training backward matches finite differences for a fixed mask", "[dropout][gradient]") {
    const auto layer = lamina::Dropout(0.4).build<double>({6});
    M x = M::Random(5, 6);
    const M r = M::Random(5, 6);
    const lamina::Pass pass{.training = true, .seed = 11, .row = 3};
    const auto loss = [&] { return run(*layer, x, pass).cwiseProduct(r).sum(); };
    M dx(5, 6);
    layer->backward(x, run(*layer, x, pass), r, dx, pass);
    CHECK(lamina::test::max_gradient_error(x.data(), x.size(), dx.data(), loss) < 1e-6);
}

TEST_CASE("A model with Dropout has exact gradients and trains deterministically", "[dropout][gradient]") {
    lamina::Sequential<double> model{lamina::Dense(7, {.input_dim = 4}), lamina::Activation("tanh"),
                                     lamina::Dropout(0.5), lamina::Dense(3), lamina::Activation("softmax")};
    model.initialize(3);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
    const M x = M::Random(9, 4);
    const M y = lamina::to_categorical(std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1, 2}, 3).cast<double>();
    CHECK(model_gradient_error(model, x, y) < 1e-6);

    // Training drops units: the gradient differs from the one without Dropout.
    lamina::Sequential<double> plain{lamina::Dense(7, {.input_dim = 4}), lamina::Activation("tanh"), lamina::Dense(3),
                                     lamina::Activation("softmax")};
    plain.initialize(3);
    plain.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
    REQUIRE(plain.parameters() == model.parameters());
    plain.loss_and_gradient(x, y);
    model.loss_and_gradient(x, y);
    CHECK(plain.gradients() != model.gradients());
    // ... but prediction ignores it.
    CHECK(plain.predict(x) == model.predict(x));
}

TEST_CASE("Training with Dropout is identical for a seed, whatever the thread count", "[dropout]") {
    const auto train = [](int threads, std::uint64_t seed) {
        lamina::Sequential<float> model{lamina::Dense(32, {.input_dim = 16}), lamina::Activation("relu"),
                                        lamina::Dropout(0.25), lamina::Dense(4), lamina::Activation("softmax")};
        model.initialize(1);
        model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.1});
        lamina::Random rng(2);
        MF x(256, 16);
        std::vector<int> labels;
        for (Index i = 0; i < x.rows(); ++i) {
            for (Index j = 0; j < x.cols(); ++j) x(i, j) = float(rng.uniform(-1, 1));
            labels.push_back(int(i % 4));
        }
        const MF y = lamina::to_categorical(labels, 4);
        model.fit(x, y, {.batch_size = 64, .epochs = 3, .verbose = 0, .seed = seed, .threads = threads});
        return lamina::Vector<float>(model.parameters());
    };
    const auto one = train(1, 9);
    CHECK(train(1, 9) == one);
    CHECK(train(2, 9) == one);
    CHECK(train(1, 10) != one);
}

TEST_CASE("Dropout rejects a rate below 0 or from 1 up, and being first", "[dropout][errors]") {
    CHECK_THROWS_WITH(lamina::Dropout(1.0), Catch::Contains("rate must be in [0, 1)") && Catch::Contains("found 1"));
    CHECK_THROWS_AS(lamina::Dropout(-0.1), std::invalid_argument);
    CHECK_THROWS_AS(lamina::Dropout(std::nan("")), std::invalid_argument);
    CHECK_THROWS_WITH((lamina::Sequential<float>{lamina::Dropout(0.5)}), Catch::Contains("cannot be the first layer"));
}
