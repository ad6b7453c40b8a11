// SPDX-License-Identifier: MIT
// lamina tests: SGD steps (plain, momentum, Nesterov, decay) against hand computations.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <lamina/optimizers/sgd.hpp>

using V = lamina::Vector<double>;

namespace {

// Runs the optimizer over the given gradients, one whole-buffer update per step.
V run(const lamina::SGD& spec, std::initializer_list<V> gradients) {
    V w(2);
    w << 1, -2;
    auto opt = spec.build<double>();
    opt->build(2);
    for (const V& g : gradients) {
        opt->begin_step();
        opt->update(w.data(), g.data(), 0, 2);
    }
    return w;
}

V vec(double a, double b) {
    V v(2);
    v << a, b;
    return v;
}

}  // namespace

TEST_CASE("One plain SGD step is w - lr g", "[sgd]") {
    const V w = run({.learning_rate = 0.1}, {vec(0.5, 0.25)});
    CHECK(w(0) == Approx(0.95));
    CHECK(w(1) == Approx(-2.025));
}

TEST_CASE("Momentum steps accumulate a velocity v = mu v - lr g", "[sgd]") {
    // step 1: v = (-0.05, -0.025), w = (0.95, -2.025)
    // step 2: v = 0.9 v - 0.1 (1, 1) = (-0.145, -0.1225), w = (0.805, -2.1475)
    const V w = run({.learning_rate = 0.1, .momentum = 0.9}, {vec(0.5, 0.25), vec(1, 1)});
    CHECK(w(0) == Approx(0.805));
    CHECK(w(1) == Approx(-2.1475));
}

TEST_CASE("Nesterov steps add mu v - lr g", "[sgd]") {
    // step 1: v = (-0.05, -0.025); w += 0.9 v - 0.1 g = (-0.095, -0.0475) -> (0.905, -2.0475)
    // step 2: v = (-0.145, -0.1225); w += 0.9 v - 0.1 (1, 1) = (-0.2305, -0.21025) -> (0.6745, -2.25775)
    const V w1 = run({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true}, {vec(0.5, 0.25)});
    CHECK(w1(0) == Approx(0.905));
    CHECK(w1(1) == Approx(-2.0475));
    const V w2 = run({.learning_rate = 0.1, .momentum = 0.9, .nesterov = true}, {vec(0.5, 0.25), vec(1, 1)});
    CHECK(w2(0) == Approx(0.6745));
    CHECK(w2(1) == Approx(-2.25775));
}

TEST_CASE("Decay divides the learning rate by 1 + decay * step", "[sgd]") {
    // step 0 at lr 0.1, step 1 at lr 0.1 / 1.5
    const V w = run({.learning_rate = 0.1, .decay = 0.5}, {vec(1, 0), vec(1, 0)});
    CHECK(w(0) == Approx(1 - 0.1 - 0.1 / 1.5));
    CHECK(w(1) == -2.0);
}

TEST_CASE("SGD has Keras's defaults and rejects invalid settings", "[sgd][errors]") {
    const lamina::SGD sgd{};
    CHECK(sgd.learning_rate == 0.01);
    CHECK(sgd.momentum == 0.0);
    CHECK_FALSE(sgd.nesterov);
    CHECK(sgd.decay == 0.0);
    CHECK_THROWS_WITH((lamina::SGD{.learning_rate = 0}.build<float>()), Catch::Contains("learning_rate"));
    CHECK_THROWS_AS((lamina::SGD{.learning_rate = -1}.build<float>()), std::invalid_argument);
    CHECK_THROWS_AS((lamina::SGD{.learning_rate = std::numeric_limits<double>::infinity()}.build<float>()),
                    std::invalid_argument);
    CHECK_THROWS_AS((lamina::SGD{.learning_rate = std::nan("")}.build<float>()), std::invalid_argument);
    CHECK_THROWS_WITH((lamina::SGD{.momentum = 1.0}.build<float>()),
                      Catch::Contains("momentum") && Catch::Contains("[0, 1)"));
    CHECK_THROWS_AS((lamina::SGD{.momentum = -0.1}.build<float>()), std::invalid_argument);
    CHECK_THROWS_AS((lamina::SGD{.decay = -1}.build<float>()), std::invalid_argument);
}

TEST_CASE("SGD's config lists its hyperparameters in Keras's order and its text keeps every digit", "[sgd][save]") {
    using HP = std::vector<std::pair<std::string, double>>;
    const auto opt = lamina::SGD{.learning_rate = 0.0123456789, .momentum = 0.9, .nesterov = true}.build<float>();
    CHECK(opt->get_config().name == "SGD");
    CHECK(opt->get_config().hyperparameters ==
          HP{{"learning_rate", 0.0123456789}, {"momentum", 0.9}, {"nesterov", 1.0}, {"decay", 0.0}});
    // Every number as the shortest text that reads back as it (a stream's 6 digits gave 0.0123457).
    CHECK(opt->config() == "SGD(learning_rate=0.0123456789, momentum=0.9, nesterov=true, decay=0)");
    CHECK(lamina::SGD{.decay = 1e-7}.build<double>()->config() ==
          "SGD(learning_rate=0.01, momentum=0, nesterov=false, decay=1e-07)");
    const lamina::SGD back = lamina::SGD::from_config(opt->get_config());
    CHECK(back.learning_rate == 0.0123456789);
    CHECK(back.momentum == 0.9);
    CHECK(back.nesterov);
    CHECK(back.decay == 0.0);
    CHECK_THROWS_WITH(lamina::SGD::from_config({"Adam", {}}),
                      Catch::Equals("SGD.from_config: the config is for 'Adam', not 'SGD'"));
}
