// SPDX-License-Identifier: MIT
// lamina tests: Adam, RMSprop and Adagrad against hand computations, their configs and states, and training with them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <lamina/io/model_file.hpp>
#include <lamina/lamina.hpp>
#include <lamina/optimizers/adagrad.hpp>
#include <lamina/optimizers/adam.hpp>
#include <lamina/optimizers/from_config.hpp>
#include <lamina/optimizers/rmsprop.hpp>

using lamina::Index;
using HP = std::vector<std::pair<std::string, double>>;

namespace {

// The parameters every hand-checked run starts from, and the gradients of its two steps.
const std::vector<double> start{1.0, -2.0, 0.5};
const std::vector<std::vector<double>> two_steps{{0.5, -0.25, 0.0}, {1.0, 0.1, -3.0}};

// Runs `spec` over `gradients` from `start`, one whole-buffer update per step, in scalar S.
template <class S, class Spec>
std::vector<double> run(const Spec& spec, const std::vector<std::vector<double>>& gradients) {
    const Index n = Index(start.size());
    lamina::Vector<S> w(n), g(n);
    for (Index i = 0; i < n; ++i) w(i) = S(start[std::size_t(i)]);
    auto opt = spec.template build<S>();
    opt->build(n);
    for (const auto& step : gradients) {
        for (Index i = 0; i < n; ++i) g(i) = S(step[std::size_t(i)]);
        opt->begin_step();
        opt->update(w.data(), g.data(), 0, n);
    }
    return std::vector<double>(w.data(), w.data() + n);
}

// ----- The formulas, written out for one scalar parameter in double (not the code under test) -----

// Adam (Keras): t = 1, 2, ...; alpha = lr sqrt(1 - b2^t) / (1 - b1^t);
// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; v_hat = max(v_hat, v) with amsgrad;
// w -= alpha m / (sqrt(v or v_hat) + eps).
double adam_by_hand(double w, const std::vector<double>& gs, const lamina::Adam& a) {
    double m = 0, v = 0, v_hat = 0;
    for (std::size_t t = 1; t <= gs.size(); ++t) {
        const double g = gs[t - 1];
        const double alpha = a.learning_rate * std::sqrt(1 - std::pow(a.beta_2, double(t))) /
                             (1 - std::pow(a.beta_1, double(t)));
        m = a.beta_1 * m + (1 - a.beta_1) * g;
        v = a.beta_2 * v + (1 - a.beta_2) * g * g;
        v_hat = std::max(v_hat, v);
        w -= alpha * m / (std::sqrt(a.amsgrad ? v_hat : v) + a.epsilon);
    }
    return w;
}

// RMSprop (Keras 3): v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g and the
// denominator is sqrt(v - a^2 + eps), else sqrt(v + eps); increment = lr g / denominator;
// with momentum u = momentum u + increment, w -= u; else w -= increment.
double rmsprop_by_hand(double w, const std::vector<double>& gs, const lamina::RMSprop& r) {
    double v = 0, a = 0, u = 0;
    for (const double g : gs) {
        v = r.rho * v + (1 - r.rho) * g * g;
        a = r.rho * a + (1 - r.rho) * g;
        const double increment = r.learning_rate * g / std::sqrt((r.centered ? v - a * a : v) + r.epsilon);
        u = r.momentum * u + increment;
        w -= r.momentum > 0 ? u : increment;
    }
    return w;
}

// Adagrad (Keras 3): acc starts at initial_accumulator_value; acc += g^2;
// w -= lr g / sqrt(acc + eps).
double adagrad_by_hand(double w, const std::vector<double>& gs, const lamina::Adagrad& ad) {
    double acc = ad.initial_accumulator_value;
    for (const double g : gs) {
        acc += g * g;
        w -= ad.learning_rate * g / std::sqrt(acc + ad.epsilon);
    }
    return w;
}

// Checks run<float> and run<double> of `spec` over two_steps against `by_hand` per parameter.
template <class Spec, class ByHand>
void check_two_steps(const Spec& spec, ByHand by_hand) {
    const auto wd = run<double>(spec, two_steps);
    const auto wf = run<float>(spec, two_steps);
    for (std::size_t i = 0; i < start.size(); ++i) {
        const double expected = by_hand(start[i], {two_steps[0][i], two_steps[1][i]}, spec);
        INFO("parameter " << i);
        CHECK(wd[i] == Approx(expected).epsilon(1e-13).margin(1e-15));
        CHECK(wf[i] == Approx(expected).epsilon(2e-6).margin(1e-6));
    }
}

// Two steps over [0, n) in one update and in two slices give the same values, up to the last
// bits: Eigen's vectorised sqrt (rsqrt and Newton steps on AVX-512) and std::sqrt on a
// slice's unaligned ends may round differently.
template <class Spec>
void check_slices_agree(const Spec& spec) {
    const Index n = 37, cut = 13;
    lamina::Vector<double> w = lamina::Vector<double>::LinSpaced(n, -1, 1), g(n);
    lamina::Vector<double> w2 = w;
    auto whole = spec.template build<double>(), sliced = spec.template build<double>();
    whole->build(n);
    sliced->build(n);
    for (int step = 0; step < 2; ++step) {
        for (Index i = 0; i < n; ++i) g(i) = std::sin(double(i + 7 * step));
        whole->begin_step();
        whole->update(w.data(), g.data(), 0, n);
        sliced->begin_step();
        sliced->update(w2.data(), g.data(), cut, n - cut);  // the later slice first, as threads may
        sliced->update(w2.data(), g.data(), 0, cut);
    }
    const auto close = [](const lamina::Vector<double>& u, const lamina::Vector<double>& v) {
        return ((u - v).array().abs() <= 1e-14 * u.array().abs().max(1.0)).all();
    };
    CHECK(close(w, w2));
    const auto a = whole->get_state(), b = sliced->get_state();
    REQUIRE(a.slots.size() == b.slots.size());
    for (std::size_t i = 0; i < a.slots.size(); ++i) CHECK(close(a.slots[i].second, b.slots[i].second));
    // The same slices again give the same bits.
    auto again = spec.template build<double>();
    again->build(n);
    lamina::Vector<double> w3 = lamina::Vector<double>::LinSpaced(n, -1, 1);
    for (int step = 0; step < 2; ++step) {
        for (Index i = 0; i < n; ++i) g(i) = std::sin(double(i + 7 * step));
        again->begin_step();
        again->update(w3.data(), g.data(), 0, cut);
        again->update(w3.data(), g.data(), cut, n - cut);
    }
    CHECK(w3 == w2);
}

// The slot names of an optimizer's state, and checks that slots() points at those vectors.
template <class S>
std::vector<std::string> slot_names(lamina::Optimizer<S>& opt) {
    const auto state = opt.get_state();
    const auto slots = opt.slots();
    REQUIRE(slots.size() == state.slots.size());
    std::vector<std::string> names;
    for (std::size_t i = 0; i < slots.size(); ++i) {
        CHECK(*slots[i] == state.slots[i].second);
        names.push_back(state.slots[i].first);
    }
    return names;
}

// After two steps, a copy made through get_config / get_state takes the same third step.
template <class Spec>
void check_config_and_state_round_trip(const Spec& spec) {
    const Index n = 5;
    lamina::Vector<double> w = lamina::Vector<double>::LinSpaced(n, -1, 1), g(n);
    auto opt = spec.template build<double>();
    opt->build(n);
    for (int step = 0; step < 2; ++step) {
        for (Index i = 0; i < n; ++i) g(i) = std::cos(double(3 * i + step));
        opt->begin_step();
        opt->update(w.data(), g.data(), 0, n);
    }
    const auto config = opt->get_config();
    CHECK(Spec::from_config(config).template build<double>()->get_config().hyperparameters == config.hyperparameters);
    auto again = lamina::optimizer_from_config<double>(config);
    CHECK(again->config() == opt->config());
    again->build(n);
    again->set_state(opt->get_state());
    CHECK(again->get_state().iterations == 2);
    lamina::Vector<double> w1 = w, w2 = w;
    opt->begin_step();
    opt->update(w1.data(), g.data(), 0, n);
    again->begin_step();
    again->update(w2.data(), g.data(), 0, n);
    CHECK(w1 == w2);
}

// ----- Models -----

void small_data(lamina::Matrix<double>& x, lamina::Matrix<double>& y) {
    lamina::Random rng(5);
    x.resize(40, 4);
    std::vector<int> labels;
    for (Index i = 0; i < x.rows(); ++i) {
        for (Index j = 0; j < 4; ++j) x(i, j) = rng.uniform(-1, 1);
        labels.push_back(int(i % 3));
    }
    y = lamina::to_categorical<double>(labels, 3);
}

template <class Spec>
lamina::Sequential<double> small_model(const Spec& spec) {
    lamina::Sequential<double> model{lamina::Dense(5, {.input_dim = 4}), lamina::Activation("tanh"), lamina::Dense(3),
                                     lamina::Activation("softmax")};
    model.compile(lamina::loss::categorical_crossentropy, spec, {lamina::metric::accuracy});
    model.initialize(11);
    return model;
}

// The optimizer state a model would save.
lamina::OptimizerState<double> saved_state(const lamina::Sequential<double>& model) {
    const auto bytes = model.to_bytes();
    return lamina::io::decode_model<double>(std::span<const std::byte>(bytes)).optimizer_state;
}

// 2 epochs, to_bytes, load_model, 2 more epochs: the same weights and losses as 4 epochs.
template <class Spec>
void check_continuation(const Spec& spec, int threads) {
    INFO("threads " << threads);
    lamina::Matrix<double> x, y;
    small_data(x, y);
    const lamina::FitOptions<double> two{.batch_size = 7, .epochs = 2, .verbose = 0, .threads = threads};
    auto four = two;
    four.epochs = 4;

    auto straight = small_model(spec);
    const auto h4 = straight.fit(x, y, four);

    auto first = small_model(spec);
    first.fit(x, y, two);
    const auto bytes = first.to_bytes();
    auto resumed = lamina::load_model<double>(std::span<const std::byte>(bytes));
    CHECK(resumed.to_bytes() == bytes);
    const auto h2 = resumed.fit(x, y, two);

    CHECK(resumed.parameters() == straight.parameters());
    REQUIRE(h2.loss.size() == 2);
    CHECK(h2.loss[0] == h4.loss[2]);
    CHECK(h2.loss[1] == h4.loss[3]);
    CHECK(resumed.to_bytes() == straight.to_bytes());  // the optimizer's state too

    // The state matters: the same weights with a fresh optimizer go elsewhere.
    auto weights_only = small_model(spec);
    weights_only.parameters() = first.parameters();
    weights_only.fit(x, y, two);
    CHECK(weights_only.parameters() != straight.parameters());
}

}  // namespace

// ===== Steps against the formulas =====

TEST_CASE("Adam's first step moves every parameter with a gradient by about the learning rate", "[optimizers][adam]") {
    // t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so the step is
    // lr * 0.1 g sqrt(0.001) / 0.1 / (sqrt(0.001) |g| + eps) = lr sign(g) / (1 + eps / (sqrt(0.001) |g|)).
    const auto w = run<double>(lamina::Adam{.learning_rate = 0.1}, {two_steps[0]});
    const double eps_term = 1e-7 / std::sqrt(0.001);
    CHECK(w[0] == Approx(1.0 - 0.1 / (1 + eps_term / 0.5)).epsilon(1e-14));
    CHECK(w[1] == Approx(-2.0 + 0.1 / (1 + eps_term / 0.25)).epsilon(1e-14));
    CHECK(w[2] == 0.5);  // g = 0: m = 0, no step
}

TEST_CASE("Two Adam steps match Keras's formula in float and double", "[optimizers][adam]") {
    SECTION("defaults but the learning rate") { check_two_steps(lamina::Adam{.learning_rate = 0.1}, adam_by_hand); }
    SECTION("other betas and epsilon") {
        check_two_steps(lamina::Adam{.learning_rate = 0.05, .beta_1 = 0.5, .beta_2 = 0.75, .epsilon = 1e-3},
                        adam_by_hand);
    }
    SECTION("amsgrad") {
        // The second gradient of parameter 1 (0.1) is smaller than the first (-0.25): with
        // beta_2 = 0.5, v drops (0.03125 -> 0.020625) and v_hat keeps 0.03125.
        const lamina::Adam ams{.learning_rate = 0.1, .beta_2 = 0.5, .amsgrad = true};
        check_two_steps(ams, adam_by_hand);
        auto plain = ams;
        plain.amsgrad = false;
        CHECK(run<double>(ams, two_steps)[1] != Approx(run<double>(plain, two_steps)[1]).epsilon(1e-6));
    }
}

TEST_CASE("Two RMSprop steps match Keras's formula, epsilon inside the square root", "[optimizers][rmsprop]") {
    SECTION("plain") { check_two_steps(lamina::RMSprop{.learning_rate = 0.1}, rmsprop_by_hand); }
    SECTION("momentum") { check_two_steps(lamina::RMSprop{.learning_rate = 0.1, .momentum = 0.8}, rmsprop_by_hand); }
    SECTION("centered") { check_two_steps(lamina::RMSprop{.learning_rate = 0.1, .centered = true}, rmsprop_by_hand); }
    SECTION("centered with momentum, other rho and epsilon") {
        check_two_steps(
            lamina::RMSprop{.learning_rate = 0.02, .rho = 0.5, .momentum = 0.3, .epsilon = 1e-2, .centered = true},
            rmsprop_by_hand);
    }
    SECTION("epsilon is inside the square root") {
        // One step with g = 0.5, rho = 0.9: v = 0.1 * 0.25 = 0.025; epsilon = 0.01 makes
        // sqrt(0.035) (inside), not sqrt(0.025) + 0.01 (outside).
        const auto w = run<double>(lamina::RMSprop{.learning_rate = 0.1, .epsilon = 0.01}, {two_steps[0]});
        CHECK(w[0] == Approx(1.0 - 0.1 * 0.5 / std::sqrt(0.035)).epsilon(1e-14));
        CHECK(w[0] != Approx(1.0 - 0.1 * 0.5 / (std::sqrt(0.025) + 0.01)).epsilon(1e-6));
    }
}

TEST_CASE("Two Adagrad steps match Keras's formula, epsilon inside the square root", "[optimizers][adagrad]") {
    SECTION("defaults but the learning rate") {
        check_two_steps(lamina::Adagrad{.learning_rate = 0.1}, adagrad_by_hand);
    }
    SECTION("another initial accumulator and epsilon") {
        check_two_steps(lamina::Adagrad{.learning_rate = 0.5, .initial_accumulator_value = 0.0, .epsilon = 1e-2},
                        adagrad_by_hand);
    }
    SECTION("one step by hand") {
        // acc = 0.1 + 0.25 = 0.35; w = 1 - 0.1 * 0.5 / sqrt(0.35 + 1e-7).
        const auto w = run<double>(lamina::Adagrad{.learning_rate = 0.1}, {two_steps[0]});
        CHECK(w[0] == Approx(1.0 - 0.05 / std::sqrt(0.35 + 1e-7)).epsilon(1e-14));
        CHECK(w[2] == 0.5);
    }
}

TEST_CASE("Updates over slices in any order agree with one update over the whole buffer", "[optimizers]") {
    check_slices_agree(lamina::Adam{.learning_rate = 0.1});
    check_slices_agree(lamina::Adam{.learning_rate = 0.1, .amsgrad = true});
    check_slices_agree(lamina::RMSprop{.learning_rate = 0.1, .momentum = 0.9, .centered = true});
    check_slices_agree(lamina::RMSprop{});
    check_slices_agree(lamina::Adagrad{.learning_rate = 0.1});
}

// ===== Settings =====

TEST_CASE("Adam, RMSprop and Adagrad have Keras's defaults", "[optimizers]") {
    const lamina::Adam adam{};
    CHECK(adam.learning_rate == 0.001);
    CHECK(adam.beta_1 == 0.9);
    CHECK(adam.beta_2 == 0.999);
    CHECK(adam.epsilon == 1e-7);
    CHECK_FALSE(adam.amsgrad);
    const lamina::RMSprop rmsprop{};
    CHECK(rmsprop.learning_rate == 0.001);
    CHECK(rmsprop.rho == 0.9);
    CHECK(rmsprop.momentum == 0.0);
    CHECK(rmsprop.epsilon == 1e-7);
    CHECK_FALSE(rmsprop.centered);
    const lamina::Adagrad adagrad{};
    CHECK(adagrad.learning_rate == 0.01);
    CHECK(adagrad.initial_accumulator_value == 0.1);
    CHECK(adagrad.epsilon == 1e-7);
    // Missing hyperparameters keep these defaults.
    CHECK(lamina::Adam::from_config({"Adam", {}}).beta_2 == 0.999);
    CHECK(lamina::RMSprop::from_config({"RMSprop", {}}).rho == 0.9);
    CHECK(lamina::Adagrad::from_config({"Adagrad", {}}).initial_accumulator_value == 0.1);
}

TEST_CASE("Invalid settings are rejected naming the optimizer, the field and the value", "[optimizers][errors]") {
    using Catch::Equals;
    const double inf = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH(lamina::Adam{.beta_1 = 1.5}.build<float>(), Equals("Adam: beta_1 must be in [0, 1), found 1.5"));
    CHECK_THROWS_WITH(lamina::Adam{.beta_2 = 1.0}.build<float>(), Equals("Adam: beta_2 must be in [0, 1), found 1"));
    CHECK_THROWS_WITH(lamina::Adam{.beta_1 = -0.1}.build<double>(),
                      Equals("Adam: beta_1 must be in [0, 1), found -0.1"));
    CHECK_THROWS_WITH(lamina::Adam{.learning_rate = 0}.build<float>(),
                      Equals("Adam: learning_rate must be positive and finite, found 0"));
    CHECK_THROWS_WITH(lamina::Adam{.learning_rate = inf}.build<float>(),
                      Equals("Adam: learning_rate must be positive and finite, found inf"));
    CHECK_THROWS_WITH(lamina::Adam{.epsilon = 0}.build<float>(),
                      Equals("Adam: epsilon must be positive and finite, found 0"));
    CHECK_THROWS_WITH(lamina::Adam{.learning_rate = std::nan("")}.build<float>(), Catch::Contains("learning_rate"));

    CHECK_THROWS_WITH(lamina::RMSprop{.rho = 1}.build<float>(), Equals("RMSprop: rho must be in [0, 1), found 1"));
    CHECK_THROWS_WITH(lamina::RMSprop{.momentum = 2}.build<float>(),
                      Equals("RMSprop: momentum must be in [0, 1), found 2"));
    CHECK_THROWS_WITH(lamina::RMSprop{.learning_rate = -1}.build<float>(),
                      Equals("RMSprop: learning_rate must be positive and finite, found -1"));
    CHECK_THROWS_WITH(lamina::RMSprop{.epsilon = -1e-7}.build<float>(),
                      Equals("RMSprop: epsilon must be positive and finite, found -1e-07"));

    CHECK_THROWS_WITH(lamina::Adagrad{.initial_accumulator_value = -0.5}.build<float>(),
                      Equals("Adagrad: initial_accumulator_value must be >= 0 and finite, found -0.5"));
    CHECK_THROWS_WITH(lamina::Adagrad{.initial_accumulator_value = inf}.build<float>(),
                      Equals("Adagrad: initial_accumulator_value must be >= 0 and finite, found inf"));
    CHECK_THROWS_WITH(lamina::Adagrad{.learning_rate = 0}.build<float>(),
                      Equals("Adagrad: learning_rate must be positive and finite, found 0"));
    CHECK_THROWS_WITH(lamina::Adagrad{.epsilon = 0}.build<float>(),
                      Equals("Adagrad: epsilon must be positive and finite, found 0"));
    CHECK_NOTHROW(lamina::Adagrad{.initial_accumulator_value = 0}.build<float>());
    CHECK_NOTHROW((lamina::Adam{.beta_1 = 0, .beta_2 = 0}.build<float>()));

    // compile validates too.
    lamina::Sequential<float> model{lamina::Dense(2, {.input_dim = 2})};
    CHECK_THROWS_WITH(model.compile("mse", lamina::RMSprop{.rho = 1.5}), Catch::Contains("RMSprop: rho"));
}

TEST_CASE("Configs name every hyperparameter and round-trip through from_config", "[optimizers][save]") {
    auto adam = lamina::Adam{.learning_rate = 0.01, .beta_1 = 0.8, .beta_2 = 0.99, .epsilon = 1e-6, .amsgrad = true}
                    .build<float>();
    CHECK(adam->get_config().name == "Adam");
    CHECK(adam->get_config().hyperparameters ==
          HP{{"learning_rate", 0.01}, {"beta_1", 0.8}, {"beta_2", 0.99}, {"epsilon", 1e-6}, {"amsgrad", 1.0}});
    CHECK(adam->config() == "Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-06, amsgrad=true)");
    auto rms = lamina::RMSprop{.momentum = 0.5, .centered = true}.build<float>();
    CHECK(rms->get_config().name == "RMSprop");
    CHECK(rms->get_config().hyperparameters ==
          HP{{"learning_rate", 0.001}, {"rho", 0.9}, {"momentum", 0.5}, {"epsilon", 1e-7}, {"centered", 1.0}});
    CHECK(rms->config() == "RMSprop(learning_rate=0.001, rho=0.9, momentum=0.5, epsilon=1e-07, centered=true)");
    auto ada = lamina::Adagrad{}.build<float>();
    CHECK(ada->get_config().name == "Adagrad");
    CHECK(ada->get_config().hyperparameters ==
          HP{{"learning_rate", 0.01}, {"initial_accumulator_value", 0.1}, {"epsilon", 1e-7}});
    CHECK(ada->config() == "Adagrad(learning_rate=0.01, initial_accumulator_value=0.1, epsilon=1e-07)");

    check_config_and_state_round_trip(lamina::Adam{.learning_rate = 0.01});
    check_config_and_state_round_trip(lamina::Adam{.learning_rate = 0.01, .beta_2 = 0.5, .amsgrad = true});
    check_config_and_state_round_trip(lamina::RMSprop{.learning_rate = 0.01});
    check_config_and_state_round_trip(lamina::RMSprop{.learning_rate = 0.01, .momentum = 0.9, .centered = true});
    check_config_and_state_round_trip(lamina::Adagrad{.learning_rate = 0.1, .initial_accumulator_value = 0.5});
}

TEST_CASE("from_config rejects other names, unknown, repeated and invalid hyperparameters", "[optimizers][errors]") {
    using Catch::Contains;
    using Catch::Equals;
    CHECK_THROWS_WITH(lamina::Adam::from_config({"SGD", {}}),
                      Equals("Adam.from_config: the config is for 'SGD', not 'Adam'"));
    CHECK_THROWS_WITH(lamina::Adam::from_config({"Adam", {{"momentum", 0.9}}}),
                      Equals("Adam.from_config: unknown hyperparameter 'momentum'; known: learning_rate, beta_1, "
                             "beta_2, epsilon, amsgrad"));
    CHECK_THROWS_WITH(lamina::Adam::from_config({"Adam", {{"beta_1", 0.5}, {"beta_1", 0.6}}}),
                      Equals("Adam.from_config: hyperparameter 'beta_1' given twice"));
    CHECK_THROWS_WITH(lamina::Adam::from_config({"Adam", {{"amsgrad", 0.5}}}),
                      Equals("Adam.from_config: amsgrad must be 0 or 1, found 0.5"));
    CHECK_THROWS_WITH(lamina::Adam::from_config({"Adam", {{"beta_2", 1}}}), Contains("Adam: beta_2"));

    CHECK_THROWS_WITH(lamina::RMSprop::from_config({"Adam", {}}), Contains("not 'RMSprop'"));
    CHECK_THROWS_WITH(lamina::RMSprop::from_config({"RMSprop", {{"beta_1", 0.9}}}),
                      Contains("unknown hyperparameter 'beta_1'") &&
                          Contains("known: learning_rate, rho, momentum, epsilon, centered"));
    CHECK_THROWS_WITH(lamina::RMSprop::from_config({"RMSprop", {{"rho", 0.5}, {"momentum", 0.1}, {"rho", 0.5}}}),
                      Contains("'rho' given twice"));
    CHECK_THROWS_WITH(lamina::RMSprop::from_config({"RMSprop", {{"centered", 2}}}),
                      Contains("centered must be 0 or 1, found 2"));
    CHECK_THROWS_WITH(lamina::RMSprop::from_config({"RMSprop", {{"momentum", -1}}}), Contains("RMSprop: momentum"));

    CHECK_THROWS_WITH(lamina::Adagrad::from_config({"adagrad", {}}), Contains("not 'Adagrad'"));
    CHECK_THROWS_WITH(lamina::Adagrad::from_config({"Adagrad", {{"rho", 0.9}}}),
                      Contains("unknown hyperparameter 'rho'") &&
                          Contains("known: learning_rate, initial_accumulator_value, epsilon"));
    CHECK_THROWS_WITH(lamina::Adagrad::from_config({"Adagrad", {{"epsilon", 1e-7}, {"epsilon", 1e-7}}}),
                      Contains("'epsilon' given twice"));
    CHECK_THROWS_WITH(lamina::Adagrad::from_config({"Adagrad", {{"initial_accumulator_value", -1}}}),
                      Contains("Adagrad: initial_accumulator_value"));

    CHECK_THROWS_WITH(lamina::optimizer_from_config<float>({"Nadam", {}}),
                      Equals("optimizer_from_config: unknown optimizer 'Nadam'; known: SGD, Adam, RMSprop, Adagrad"));
    CHECK(lamina::optimizer_from_config<float>({"Adam", {}})->get_config().name == "Adam");
    CHECK(lamina::optimizer_from_config<float>({"RMSprop", {}})->get_config().name == "RMSprop");
    CHECK(lamina::optimizer_from_config<float>({"Adagrad", {}})->get_config().name == "Adagrad");
}

namespace {

// Every hyperparameter that `Spec` lists is set to a non-default value in `spec`; get_config
// gives `expected` (names, values and order written out by hand) and config() `text`; and
// from_config reads every field back, each one alone too (the others keeping their defaults).
template <class Spec>
void check_every_listed_field_round_trips(const Spec& spec, const HP& expected, const std::string& text) {
    const Spec defaults{};
    std::size_t listed = 0;
    lamina::detail::for_each_hyperparameter<Spec>([&](const auto& h) {
        INFO(Spec::name << "." << h.name);
        CHECK(spec.*h.member != defaults.*h.member);  // else the round trip would not show it
        ++listed;
    });
    CHECK(listed == expected.size());

    const auto opt = spec.template build<float>();
    const lamina::OptimizerConfig config = opt->get_config();
    CHECK(config.name == Spec::name);
    CHECK(config.hyperparameters == expected);
    CHECK(opt->config() == text);

    const Spec back = Spec::from_config(config);
    lamina::detail::for_each_hyperparameter<Spec>([&](const auto& h) {
        INFO(Spec::name << "." << h.name);
        CHECK(back.*h.member == spec.*h.member);
    });
    CHECK(lamina::optimizer_from_config<double>(config)->config() == text);

    for (std::size_t alone = 0; alone < expected.size(); ++alone) {
        const Spec one = Spec::from_config({config.name, {expected[alone]}});
        std::size_t i = 0;
        lamina::detail::for_each_hyperparameter<Spec>([&](const auto& h) {
            INFO(Spec::name << "." << h.name << " with only " << expected[alone].first << " given");
            CHECK(one.*h.member == (i++ == alone ? spec.*h.member : defaults.*h.member));
        });
    }
}

// A spec of the test's own through the same generic code, with a rule that relates two
// fields: it sits in validate(), after the rules of the single fields.
struct Window {
    double low = 0.1;
    double high = 0.5;
    bool wrap = false;
    static constexpr std::string_view name = "Window";
    static constexpr auto hyperparameters =
        std::tuple{lamina::detail::hyperparameter("low", &Window::low, lamina::detail::non_negative),
                   lamina::detail::hyperparameter("high", &Window::high, lamina::detail::positive),
                   lamina::detail::hyperparameter("wrap", &Window::wrap, lamina::detail::boolean)};
    void validate() const {
        lamina::detail::validate_hyperparameters(*this);
        if (!(low < high))
            throw std::invalid_argument("Window: low must be below high, found " + lamina::detail::number_text(low) +
                                        " and " + lamina::detail::number_text(high));
    }
};

}  // namespace

TEST_CASE("Every listed hyperparameter of each optimizer round-trips through get_config and from_config",
          "[optimizers][save]") {
    check_every_listed_field_round_trips(
        lamina::SGD{.learning_rate = 0.0123456789, .momentum = 0.8, .nesterov = true, .decay = 0.25},
        HP{{"learning_rate", 0.0123456789}, {"momentum", 0.8}, {"nesterov", 1.0}, {"decay", 0.25}},
        "SGD(learning_rate=0.0123456789, momentum=0.8, nesterov=true, decay=0.25)");
    check_every_listed_field_round_trips(
        lamina::Adam{.learning_rate = 0.02, .beta_1 = 0.7, .beta_2 = 0.95, .epsilon = 1e-5, .amsgrad = true},
        HP{{"learning_rate", 0.02}, {"beta_1", 0.7}, {"beta_2", 0.95}, {"epsilon", 1e-5}, {"amsgrad", 1.0}},
        "Adam(learning_rate=0.02, beta_1=0.7, beta_2=0.95, epsilon=1e-05, amsgrad=true)");
    check_every_listed_field_round_trips(
        lamina::RMSprop{.learning_rate = 0.03, .rho = 0.8, .momentum = 0.4, .epsilon = 1e-6, .centered = true},
        HP{{"learning_rate", 0.03}, {"rho", 0.8}, {"momentum", 0.4}, {"epsilon", 1e-6}, {"centered", 1.0}},
        "RMSprop(learning_rate=0.03, rho=0.8, momentum=0.4, epsilon=1e-06, centered=true)");
    check_every_listed_field_round_trips(
        lamina::Adagrad{.learning_rate = 0.2, .initial_accumulator_value = 0.3, .epsilon = 1e-4},
        HP{{"learning_rate", 0.2}, {"initial_accumulator_value", 0.3}, {"epsilon", 1e-4}},
        "Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-04)");
}

TEST_CASE("from_config refuses an unknown or repeated name and a boolean other than 0 or 1, naming the optimizer "
          "and the field",
          "[optimizers][errors]") {
    using Catch::Equals;
    CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"beta_1", 0.9}}}),
                      Equals("SGD.from_config: unknown hyperparameter 'beta_1'; known: learning_rate, momentum, "
                             "nesterov, decay"));
    CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"decay", 0}, {"momentum", 0.5}, {"decay", 0}}}),
                      Equals("SGD.from_config: hyperparameter 'decay' given twice"));
    CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"nesterov", 0.5}}}),
                      Equals("SGD.from_config: nesterov must be 0 or 1, found 0.5"));
    CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"nesterov", -1}}}),
                      Equals("SGD.from_config: nesterov must be 0 or 1, found -1"));
    CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"momentum", 1}}}),
                      Equals("SGD: momentum must be in [0, 1), found 1"));

    CHECK_THROWS_WITH(lamina::Adam::from_config({"Adam", {{"rho", 0.9}}}),
                      Equals("Adam.from_config: unknown hyperparameter 'rho'; known: learning_rate, beta_1, beta_2, "
                             "epsilon, amsgrad"));
    CHECK_THROWS_WITH(lamina::Adam::from_config({"Adam", {{"amsgrad", 1}, {"amsgrad", 1}}}),
                      Equals("Adam.from_config: hyperparameter 'amsgrad' given twice"));
    CHECK_THROWS_WITH(lamina::Adam::from_config({"Adam", {{"amsgrad", std::nan("")}}}),
                      Equals("Adam.from_config: amsgrad must be 0 or 1, found nan"));

    CHECK_THROWS_WITH(lamina::RMSprop::from_config({"RMSprop", {{"nesterov", 1}}}),
                      Equals("RMSprop.from_config: unknown hyperparameter 'nesterov'; known: learning_rate, rho, "
                             "momentum, epsilon, centered"));
    CHECK_THROWS_WITH(lamina::RMSprop::from_config({"RMSprop", {{"centered", 0}, {"centered", 1}}}),
                      Equals("RMSprop.from_config: hyperparameter 'centered' given twice"));
    CHECK_THROWS_WITH(lamina::RMSprop::from_config({"RMSprop", {{"centered", 0.5}}}),
                      Equals("RMSprop.from_config: centered must be 0 or 1, found 0.5"));

    CHECK_THROWS_WITH(lamina::Adagrad::from_config({"Adagrad", {{"amsgrad", 0}}}),
                      Equals("Adagrad.from_config: unknown hyperparameter 'amsgrad'; known: learning_rate, "
                             "initial_accumulator_value, epsilon"));
    CHECK_THROWS_WITH(lamina::Adagrad::from_config({"Adagrad", {{"learning_rate", 0.1}, {"learning_rate", 0.2}}}),
                      Equals("Adagrad.from_config: hyperparameter 'learning_rate' given twice"));

    // The generic checks all come before the booleans are read: an unknown name after a bad boolean wins.
    CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"nesterov", 2}, {"rho", 0}}}),
                      Equals("SGD.from_config: unknown hyperparameter 'rho'; known: learning_rate, momentum, "
                             "nesterov, decay"));
}

TEST_CASE("A spec's list feeds its validation, config and text; a rule across fields stays in validate()",
          "[optimizers][errors]") {
    using Catch::Equals;
    using lamina::detail::spec_from_config;
    CHECK(lamina::detail::config_of(Window{}).hyperparameters == HP{{"low", 0.1}, {"high", 0.5}, {"wrap", 0.0}});
    CHECK(lamina::detail::config_text(Window{.wrap = true}) == "Window(low=0.1, high=0.5, wrap=true)");
    const Window w = spec_from_config<Window>({"Window", {{"wrap", 1}, {"high", 2}}});
    CHECK(w.low == 0.1);
    CHECK(w.high == 2);
    CHECK(w.wrap);
    CHECK_THROWS_WITH(spec_from_config<Window>({"Window", {{"low", -1}}}),
                      Equals("Window: low must be >= 0 and finite, found -1"));
    CHECK_THROWS_WITH(spec_from_config<Window>({"Window", {{"low", 0.6}}}),
                      Equals("Window: low must be below high, found 0.6 and 0.5"));
    CHECK_THROWS_WITH((Window{.low = 1, .high = 1}.validate()),
                      Equals("Window: low must be below high, found 1 and 1"));
    CHECK_THROWS_WITH(spec_from_config<Window>({"Windows", {}}),
                      Equals("Window.from_config: the config is for 'Windows', not 'Window'"));
}

// ===== State =====

TEST_CASE("Each optimizer's slots have Keras's names and slots() exposes them", "[optimizers][save]") {
    const Index n = 4;
    const auto names_of = [&](auto spec) {
        auto opt = spec.template build<float>();
        opt->build(n);
        return slot_names(*opt);
    };
    using Names = std::vector<std::string>;
    CHECK(names_of(lamina::Adam{}) == Names{"momentum", "velocity"});
    CHECK(names_of(lamina::Adam{.amsgrad = true}) == Names{"momentum", "velocity", "velocity_hat"});
    CHECK(names_of(lamina::RMSprop{}) == Names{"velocity"});
    CHECK(names_of(lamina::RMSprop{.momentum = 0.5}) == Names{"velocity", "momentum"});
    CHECK(names_of(lamina::RMSprop{.centered = true}) == Names{"velocity", "average_gradient"});
    CHECK(names_of(lamina::RMSprop{.momentum = 0.5, .centered = true}) ==
          Names{"velocity", "momentum", "average_gradient"});
    CHECK(names_of(lamina::Adagrad{}) == Names{"accumulator"});
    CHECK(names_of(lamina::SGD{}).empty());
    CHECK(names_of(lamina::SGD{.momentum = 0.9}) == Names{"momentum"});

    // Adagrad's accumulator starts at initial_accumulator_value, the others' slots at zero.
    auto adagrad = lamina::Adagrad{.initial_accumulator_value = 0.25}.build<float>();
    adagrad->build(n);
    CHECK(adagrad->get_state().slots[0].second == lamina::Vector<float>::Constant(n, 0.25f));
    auto adam = lamina::Adam{}.build<double>();
    adam->build(n);
    CHECK(adam->get_state().iterations == 0);
    CHECK(adam->get_state().slots[1].second == lamina::Vector<double>::Zero(n));
}

TEST_CASE("set_state refuses wrong iterations, slot counts, names and sizes, changing nothing",
          "[optimizers][errors]") {
    using Catch::Contains;
    using Catch::Equals;
    const Index n = 3;
    lamina::Vector<double> w = lamina::Vector<double>::Ones(n), g = lamina::Vector<double>::Constant(n, 0.5);
    auto adam = lamina::Adam{}.build<double>();
    adam->build(n);
    adam->begin_step();
    adam->update(w.data(), g.data(), 0, n);
    const auto good = adam->get_state();

    auto bad = good;
    bad.iterations = -1;
    CHECK_THROWS_WITH(adam->set_state(bad), Equals("Adam.set_state: iterations must be >= 0, found -1"));
    bad = good;
    bad.slots.pop_back();
    CHECK_THROWS_WITH(adam->set_state(bad), Equals("Adam.set_state: expected 2 slots (momentum, velocity), found 1"));
    bad = good;
    std::swap(bad.slots[0], bad.slots[1]);
    CHECK_THROWS_WITH(adam->set_state(bad),
                      Equals("Adam.set_state: expected slot 0 to be 'momentum' of 3 values, found 'velocity' of 3"));
    bad = good;
    bad.slots[1].second.resize(2);
    CHECK_THROWS_WITH(adam->set_state(bad), Contains("'velocity' of 3 values, found 'velocity' of 2"));
    bad = good;
    bad.slots.emplace_back("velocity_hat", lamina::Vector<double>::Zero(n));
    CHECK_THROWS_WITH(adam->set_state(bad), Contains("expected 2 slots"));
    // Nothing changed: the state is still the one after one step.
    const auto after = adam->get_state();
    CHECK(after.iterations == 1);
    CHECK(after.slots == good.slots);

    auto ams = lamina::Adam{.amsgrad = true}.build<double>();
    ams->build(n);
    CHECK_THROWS_WITH(ams->set_state(good), Contains("expected 3 slots (momentum, velocity, velocity_hat)"));

    auto rms = lamina::RMSprop{.momentum = 0.9}.build<float>();
    rms->build(n);
    CHECK_THROWS_WITH(rms->set_state({0, {{"velocity", lamina::Vector<float>::Zero(n)}}}),
                      Equals("RMSprop.set_state: expected 2 slots (velocity, momentum), found 1"));
    CHECK_THROWS_WITH(rms->set_state({0,
                                      {{"velocity", lamina::Vector<float>::Zero(n)},
                                       {"average_gradient", lamina::Vector<float>::Zero(n)}}}),
                      Contains("expected slot 1 to be 'momentum' of 3 values, found 'average_gradient' of 3"));

    auto ada = lamina::Adagrad{}.build<float>();
    ada->build(n);
    CHECK_THROWS_WITH(ada->set_state({0, {{"accumulator", lamina::Vector<float>::Zero(n + 1)}}}),
                      Equals("Adagrad.set_state: expected slot 0 to be 'accumulator' of 3 values, found "
                             "'accumulator' of 4"));
    CHECK_THROWS_WITH(ada->set_state({0, {}}), Contains("expected 1 slots (accumulator), found 0"));
    CHECK(ada->get_state().slots[0].second == lamina::Vector<float>::Constant(n, 0.1f));
}

// ===== Through a model =====

TEST_CASE("fit with Adam, RMSprop or Adagrad goes on after save and load exactly where it stopped",
          "[optimizers][save][fit]") {
    const int threads = GENERATE(1, 2);
    SECTION("Adam") { check_continuation(lamina::Adam{.learning_rate = 0.01}, threads); }
    SECTION("Adam with amsgrad") { check_continuation(lamina::Adam{.learning_rate = 0.01, .amsgrad = true}, threads); }
    SECTION("RMSprop") { check_continuation(lamina::RMSprop{.learning_rate = 0.01}, threads); }
    SECTION("RMSprop with momentum, centered") {
        check_continuation(lamina::RMSprop{.learning_rate = 0.01, .momentum = 0.5, .centered = true}, threads);
    }
    SECTION("Adagrad") { check_continuation(lamina::Adagrad{.learning_rate = 0.1}, threads); }
}

TEST_CASE("A diverging Adam step is undone: weights, both slots and the step count", "[optimizers][divergence]") {
    // One batch per epoch, relu hidden units: the first step moves every weight by about the
    // learning rate (1e160), the second's logits overflow to infinity and the loss is NaN.
    lamina::Matrix<double> x, y;
    small_data(x, y);
    const auto make = [] {
        lamina::Sequential<double> m{lamina::Dense(6, {.input_dim = 4}), lamina::Activation("relu"), lamina::Dense(3),
                                     lamina::Activation("softmax")};
        m.initialize(3);
        m.compile(lamina::loss::categorical_crossentropy, lamina::Adam{.learning_rate = 1e160});
        return m;
    };
    const int threads = GENERATE(1, 2);
    CAPTURE(threads);
    const lamina::FitOptions<double> one{
        .batch_size = 40, .epochs = 1, .verbose = 0, .shuffle = false, .threads = threads};
    auto model = make();
    lamina::Vector<double> weights_before;
    lamina::OptimizerState<double> state_before;
    int completed = 0;
    std::string message;
    for (; completed < 10; ++completed) {
        weights_before = model.parameters();
        state_before = saved_state(model);
        try {
            model.fit(x, y, one);
        } catch (const lamina::training_error& e) {
            message = e.what();
            break;
        }
    }
    INFO("epochs completed before divergence: " << completed);
    REQUIRE(completed >= 1);
    REQUIRE(completed < 10);
    CHECK_THAT(message, Catch::Contains("before that batch"));

    CHECK(model.parameters() == weights_before);
    const auto state_after = saved_state(model);
    CHECK(state_after.iterations == state_before.iterations);
    CHECK(state_after.iterations == completed);
    REQUIRE(state_after.slots.size() == 2);
    CHECK(state_after.slots == state_before.slots);
    // The kept slots are those of real steps, not zeros.
    CHECK(state_before.slots[0].first == "momentum");
    CHECK(state_before.slots[1].first == "velocity");
    CHECK(state_before.slots[1].second.maxCoeff() > 0);
}

TEST_CASE("Adam learns XOR to 100% training accuracy", "[optimizers][adam][fit]") {
    // Points in [-1, 1]^2 away from the axes, class 1 where x * y > 0 (as in test_sequential).
    lamina::Random rng(11);
    lamina::Matrix<float> x(400, 2), y;
    std::vector<int> labels;
    for (Index i = 0; i < x.rows(); ++i) {
        for (Index j = 0; j < 2; ++j) {
            const double v = rng.uniform(0.1, 1.0);
            x(i, j) = float(rng.uniform01() < 0.5 ? -v : v);
        }
        labels.push_back(x(i, 0) * x(i, 1) > 0 ? 1 : 0);
    }
    y = lamina::to_categorical<float>(labels, 2);
    lamina::Sequential<float> model{lamina::Dense(16, {.input_dim = 2}), lamina::Activation("tanh"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
    model.initialize(12);
    model.compile(lamina::loss::categorical_crossentropy, lamina::Adam{.learning_rate = 0.01},
                  {lamina::metric::accuracy});
    const auto history = model.fit(x, y, {.batch_size = 16, .epochs = 100, .verbose = 0, .seed = 13});
    REQUIRE(history.accuracy.size() == 100);
    CHECK(history.accuracy.back() == 1.0);
    CHECK(model.evaluate(x, y).accuracy == 1.0);
}
