// SPDX-License-Identifier: MIT
// lamina tests: careless and hostile use of the model (issue 17): sizes at the edges, files that lie, callbacks that
// use the model, half-filled options, threads that cannot start, bad labels.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <lamina/io/model_file.hpp>
#include <lamina/lamina.hpp>
#include <lamina/models/detail/layer_stack.hpp>

#include "xor_data.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using lamina::Index;
using MF = lamina::Matrix<float>;
using M = lamina::Matrix<double>;

namespace {

constexpr Index index_max = std::numeric_limits<Index>::max();

// A small classifier of the XOR points, compiled with SGD.
lamina::Sequential<float> xor_model(std::uint64_t seed = 3, double learning_rate = 0.1) {
    lamina::Sequential<float> m{lamina::Dense(8, {.input_dim = 2}), lamina::Activation("tanh"), lamina::Dense(2),
                                lamina::Activation("softmax")};
    m.initialize(seed);
    m.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = learning_rate},
              {lamina::metric::accuracy});
    return m;
}

// Makes the team constructor fail at a member, as a system out of threads would, while alive.
class RefuseThreadsFrom {
public:
    explicit RefuseThreadsFrom(int member) {
        first_refused() = member;
        lamina::detail::team_start_hook.store(&refuse);
    }
    ~RefuseThreadsFrom() { lamina::detail::team_start_hook.store(nullptr); }
    RefuseThreadsFrom(const RefuseThreadsFrom&) = delete;
    RefuseThreadsFrom& operator=(const RefuseThreadsFrom&) = delete;

private:
    static int& first_refused() {
        static int member = 0;
        return member;
    }
    static void refuse(int member) {
        if (member >= first_refused())
            throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
    }
};

// The record of `model`'s file, changed by `change`, as the bytes of a file with a valid checksum.
template <class Change>
std::vector<std::byte> changed_file(const lamina::Sequential<float>& model, Change change) {
    auto record = lamina::io::decode_model<float>(model.to_bytes());
    change(record);
    return lamina::io::encode_model<float>(record);
}

}  // namespace

// ----- 1. Sizes, counts and conversions at the edges -----

TEST_CASE("predict and evaluate with a batch_size of INT64_MAX run every sample as one batch", "[hostile][overflow]") {
    MF x, y;
    lamina::test::xor_data(300, 1, x, y);
    const auto model = xor_model();
    const MF expected = model.predict(x, {.threads = 1});
    // Two threads: the second's rows start above 0, where start + batch_size overflowed.
    const MF got = model.predict(x, {.batch_size = index_max, .threads = 2});
    // Bit for bit where each row's product does not depend on its block (lamina's kernels);
    // Eigen's products (LAMINA_MAX_ISA=baseline, ARM) round by block size.
    if (lamina::detail::gemm_rows_independent<float>()) CHECK(got == expected);
    else CHECK((got - expected).cwiseAbs().maxCoeff() < 1e-5f);
    const auto score = model.evaluate(x, y, {.batch_size = index_max, .threads = 2});
    const auto reference = model.evaluate(x, y, {.threads = 1});
    CHECK(score.loss == Approx(reference.loss).epsilon(1e-6));
    CHECK(score.accuracy == reference.accuracy);
}

TEST_CASE("Layers and models whose parameters an index cannot count are refused, and the model stays as it was",
          "[hostile][overflow]") {
    CHECK_THROWS_AS((lamina::Sequential<float>{lamina::Dense(index_max, {.input_dim = 1})}), std::invalid_argument);
    CHECK_THROWS_AS((lamina::Sequential<float>{lamina::Dense(Index(1) << 40, {.input_dim = Index(1) << 40})}),
                    std::invalid_argument);
    // Each layer fits an index, their sum does not: refused before anything is allocated.
    CHECK_THROWS_WITH((lamina::Sequential<float>{lamina::Dense((Index(1) << 62) - 1, {.input_dim = 1}),
                                                 lamina::Dense(1)}),
                      Contains("more than an index can count"));

    auto model = xor_model();
    const lamina::Vector<float> before = model.parameters();
    CHECK_THROWS_AS(model.add(lamina::Dense(index_max)), std::invalid_argument);
    CHECK_THROWS_AS(model.add(lamina::Dense(index_max / 2)), std::invalid_argument);
    CHECK(model.size() == 4);
    CHECK(model.parameters() == before);
    MF x, y;
    lamina::test::xor_data(16, 2, x, y);
    CHECK_NOTHROW(model.fit(x, y, {.verbose = 0}));  // still compiled
}

TEST_CASE("to_categorical refuses NaN, infinite, huge, negative and fractional float labels, naming them",
          "[hostile][labels]") {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH(lamina::to_categorical(std::vector<double>{0, nan}, 3),
                      Equals("to_categorical: label nan at index 1 is not a whole number; labels are class indices "
                             "in [0, 3)"));
    CHECK_THROWS_WITH(lamina::to_categorical(std::vector<double>{inf}, 3), Contains("label inf at index 0"));
    CHECK_THROWS_WITH(lamina::to_categorical(std::vector<double>{1e30}, 3),
                      Equals("to_categorical: label 1e+30 at index 0 is outside [0, 3)"));
    CHECK_THROWS_WITH(lamina::to_categorical(std::vector<float>{2, -1}, 3),
                      Equals("to_categorical: label -1 at index 1 is outside [0, 3)"));
    CHECK_THROWS_WITH(lamina::to_categorical(std::vector<float>{2.5f}, 3), Contains("label 2.5 at index 0 is not"));
    const MF y = lamina::to_categorical(std::vector<double>{2, 0}, 3);
    CHECK(y == (MF(2, 3) << 0, 0, 1, 1, 0, 0).finished());
}

TEST_CASE("to_categorical prints a uint64 label above INT64_MAX as itself", "[hostile][labels]") {
    CHECK_THROWS_WITH(lamina::to_categorical(std::vector<std::uint64_t>{1, 18446744073709551615ull}, 10),
                      Equals("to_categorical: label 18446744073709551615 at index 1 is outside [0, 10)"));
    CHECK_THROWS_WITH(lamina::to_categorical(std::vector<std::uint64_t>{9223372036854775808ull}, 10),
                      Contains("label 9223372036854775808 at index 0"));
}

TEST_CASE("An optimizer step count above 2^53 is refused, in a state and in a model file", "[hostile][overflow]") {
    auto adam = lamina::Adam{}.build<float>();
    adam->build(3);
    auto state = adam->get_state();
    state.iterations = std::numeric_limits<std::int64_t>::max();
    CHECK_THROWS_WITH(adam->set_state(state), Contains("iterations must be at most 2^53"));
    state.iterations = std::int64_t(1) << 53;
    CHECK_NOTHROW(adam->set_state(state));

    const auto model = xor_model();
    const auto bytes = changed_file(model, [](auto& r) { r.optimizer_state.iterations = (std::int64_t(1) << 53) + 1; });
    CHECK_THROWS_WITH(lamina::load_model<float>(bytes), Contains("iterations") && Contains("expected 0 to 2^53"));
}

TEST_CASE("fit refuses more epochs than callbacks can number", "[hostile][overflow]") {
    MF x, y;
    lamina::test::xor_data(8, 2, x, y);
    auto model = xor_model();
    CHECK_THROWS_WITH(model.fit(x, y, {.epochs = Index(std::numeric_limits<int>::max()) + 1}),
                      Contains("epochs must be at most 2147483647"));
}

// ----- 2. Model files that pass their checksum but not their sense -----

TEST_CASE("A model file whose random state is all zeros is refused rather than shuffling for ever",
          "[hostile][model_file]") {
    const auto model = xor_model();
    const auto bytes = changed_file(model, [](auto& r) {
        std::istringstream in(r.random_state);
        std::vector<std::uint64_t> numbers;
        for (std::uint64_t v = 0; in >> v;) numbers.push_back(v);
        std::ostringstream zeros;
        for (std::size_t i = 0; i + 1 < numbers.size(); ++i) zeros << "0 ";
        zeros << numbers.back();
        r.random_state = zeros.str();  // every word 0, the position kept
    });
    CHECK_THROWS_WITH(lamina::load_model<float>(bytes), Contains("random state is all zeros"));
    std::string zeros;  // libstdc++'s text: 312 words, then the position
    for (int i = 0; i < 312; ++i) zeros += "0 ";
    lamina::Random rng(1);
    const std::uint64_t next = lamina::Random(1).bits();
    CHECK_THROWS_WITH(rng.set_state(zeros + "312"), Contains("all zeros"));
    // The low 31 bits of the oldest word are not part of the state: with them set, one draw
    // is not 0 and every draw after it is.
    CHECK_THROWS_WITH(rng.set_state("1 " + zeros.substr(2) + "0"), Contains("all zeros"));
    CHECK(rng.bits() == next);  // unchanged
}

TEST_CASE("Adding parameter-free layers one at a time binds each layer once, and a file of 20,000 of them loads",
          "[hostile][model_file]") {
    constexpr Index count = 20000;
    lamina::detail::LayerStack<float> stack;
    lamina::Random rng(1);
    const lamina::LayerSpec<float> first = lamina::Dense(3, {.input_dim = 2});
    const lamina::LayerSpec<float> relu = lamina::Activation("relu");
    std::vector<std::unique_ptr<lamina::Layer<float>>> one;
    one.push_back(first.build(lamina::Shape{}));
    stack.append(std::move(one), rng);
    for (Index i = 0; i < count; ++i) {
        std::vector<std::unique_ptr<lamina::Layer<float>>> layer;
        layer.push_back(relu.build(stack.output_shape()));
        stack.append(std::move(layer), rng);
    }
    CHECK(stack.size() == count + 1);
    CHECK(stack.binds() == count + 1);  // was the square of the count over 2

    lamina::Sequential<float> model{lamina::Dense(3, {.input_dim = 2})};
    for (Index i = 0; i < count; ++i) model.add(lamina::Activation("relu"));
    const auto loaded = lamina::load_model<float>(model.to_bytes());
    CHECK(loaded.size() == count + 1);
    CHECK(loaded.layer(count).name() == "activation_" + std::to_string(count - 1));
}

// ----- 3. Callbacks that use the model -----

TEST_CASE("A callback may compile a new optimizer in on_epoch_begin; fit trains on with it, guarded",
          "[hostile][callbacks]") {
    MF x, y;
    lamina::test::xor_data(64, 4, x, y);
    auto model = xor_model();
    lamina::LambdaCallback<float> switch_to_adam({.on_epoch_begin = [&](int epoch, lamina::Sequential<float>& m) {
        if (epoch == 1) m.compile(lamina::loss::categorical_crossentropy, lamina::Adam{.learning_rate = 0.01});
    }});
    // Adam's two slots where SGD had none: the divergence guard's copies must follow.
    const auto history = model.fit(x, y, {.batch_size = 16, .epochs = 3, .verbose = 0, .callbacks = {switch_to_adam}});
    CHECK(history.epoch == std::vector<int>{0, 1, 2});
    CHECK(model.optimizer().get_config().name == "Adam");
    CHECK(model.optimizer().get_state().iterations == 8);  // epochs 1 and 2, 4 batches each
    CHECK(model.parameters().allFinite());
}

TEST_CASE("A callback may call loss_and_gradient, evaluate and predict; fit's training is unchanged",
          "[hostile][callbacks]") {
    MF x, y;
    lamina::test::xor_data(200, 5, x, y);
    const lamina::FitOptions<float> options{.batch_size = 50, .epochs = 3, .verbose = 0, .seed = 9, .threads = 2};
    auto plain = xor_model();
    plain.fit(x, y, options);

    auto model = xor_model();
    std::vector<double> losses;
    lamina::LambdaCallback<float> reader(
        {.on_epoch_begin = [&](int, lamina::Sequential<float>& m) { losses.push_back(m.loss_and_gradient(x, y)); },
         .on_epoch_end =
             [&](int, const lamina::History&, lamina::Sequential<float>& m) {
                 losses.push_back(m.loss_and_gradient(x.topRows(3), y.topRows(3)));
                 losses.push_back(m.evaluate(x, y, {.threads = 3}).loss);
                 losses.push_back(double(m.predict(x, {.threads = 2})(0, 0)));
             }});
    auto with_reader = options;
    with_reader.callbacks = {reader};
    model.fit(x, y, with_reader);
    CHECK(losses.size() == 12);
    CHECK(model.parameters() == plain.parameters());
}

TEST_CASE("A callback may train a batch with train_on_batch between epochs", "[hostile][callbacks]") {
    MF x, y;
    lamina::test::xor_data(64, 6, x, y);
    auto model = xor_model();
    lamina::LambdaCallback<float> extra(
        {.on_epoch_end = [&](int, const lamina::History&, lamina::Sequential<float>& m) {
            m.train_on_batch(x.topRows(10), y.topRows(10), 3);
        }});
    const auto history = model.fit(x, y,
                                   {.batch_size = 16, .epochs = 3, .verbose = 0, .callbacks = {extra}, .threads = 2});
    CHECK(history.epoch.size() == 3);
    CHECK(model.optimizer().get_state().iterations == 3 * 4 + 3);
}

TEST_CASE("fit and add called from a callback of a running fit are refused with a lamina::error",
          "[hostile][callbacks]") {
    MF x, y;
    lamina::test::xor_data(16, 7, x, y);
    auto model = xor_model();
    lamina::LambdaCallback<float> nested(
        {.on_epoch_begin = [&](int, lamina::Sequential<float>& m) { m.fit(x, y, {.verbose = 0}); }});
    CHECK_THROWS_AS(model.fit(x, y, {.verbose = 0, .callbacks = {nested}}), lamina::error);
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .callbacks = {nested}}), Contains("already running"));
    lamina::LambdaCallback<float> grow(
        {.on_epoch_end = [](int, const lamina::History&, lamina::Sequential<float>& m) { m.add(lamina::Dense(2)); }});
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .callbacks = {grow}}), Contains("Sequential.add"));
    CHECK(model.size() == 4);
    CHECK_NOTHROW(model.fit(x, y, {.verbose = 0}));  // the refusals left the model usable
}

TEST_CASE("LearningRateScheduler sets every epoch's learning rate and History records it", "[hostile][callbacks]") {
    MF x, y;
    lamina::test::xor_data(32, 8, x, y);
    auto model = xor_model(3, 0.1);
    std::vector<int> epochs;
    lamina::LearningRateScheduler<float> halve([&](int epoch, double lr) {
        epochs.push_back(epoch);
        return epoch == 0 ? lr : lr / 2;
    });
    const auto history = model.fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0, .callbacks = {halve}});
    CHECK(epochs == std::vector<int>{0, 1, 2});
    CHECK(history.learning_rate == std::vector<double>{0.1, 0.05, 0.025});
    CHECK(model.optimizer().learning_rate() == 0.025);
    CHECK(history.keys() == std::vector<std::string_view>{"loss", "accuracy", "learning_rate"});
    CHECK(model.fit(x, y, {.verbose = 0}).learning_rate.empty());  // without such a callback, nothing

    // The scheduled rate is the one the steps use: as a model compiled with it.
    auto scheduled = xor_model(3, 0.1), direct = xor_model(3, 0.05);
    lamina::LearningRateScheduler<float> fixed([](int, double) { return 0.05; });
    scheduled.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .callbacks = {fixed}, .shuffle = false});
    direct.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .shuffle = false});
    CHECK(scheduled.parameters() == direct.parameters());

    lamina::LearningRateScheduler<float> zero([](int, double) { return 0.0; });
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .callbacks = {zero}}),
                      Contains("LearningRateScheduler: the schedule gave the learning rate 0 for epoch 0"));
}

TEST_CASE("ReduceLROnPlateau reduces the rate after patience epochs without improvement, as Keras does",
          "[hostile][callbacks]") {
    auto model = xor_model(3, 0.1);
    lamina::ReduceLROnPlateau<float> reduce(
        {.monitor = "loss", .factor = 0.5, .patience = 2, .min_delta = 0, .cooldown = 1, .min_lr = 0.02});
    // Worked by hand from Keras's rules: best 1.0 at epoch 0; epochs 1-2 wait 1, 2: reduce to
    // 0.05, cooldown 1; epoch 3 uses up the cooldown (wait 0, then 1); epoch 4 reduces to
    // 0.025; epoch 5 cooldown; epoch 6 improves (0.5); 7-8 wait: 0.0125 clipped to min_lr
    // 0.02; then the rate is at min_lr and stays.
    const std::vector<double> losses{1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    const std::vector<double> expected{0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02};
    lamina::History history;
    reduce.on_train_begin(model);
    std::vector<double> rates;
    for (std::size_t e = 0; e < losses.size(); ++e) {
        history.epoch.push_back(int(e));
        history.loss.push_back(losses[e]);
        history.accuracy.push_back(0.5);
        reduce.on_epoch_end(int(e), history, model);
        rates.push_back(model.optimizer().learning_rate());
    }
    CHECK(rates == expected);
    CHECK(reduce.best() == 0.5);

    MF x, y;
    lamina::test::xor_data(32, 9, x, y);
    lamina::ReduceLROnPlateau<float> in_fit({.monitor = "loss", .patience = 0});
    const auto fitted = model.fit(x, y, {.epochs = 3, .verbose = 0, .callbacks = {in_fit}});
    CHECK(fitted.learning_rate.size() == 3);

    CHECK_THROWS_WITH(lamina::ReduceLROnPlateau<float>({.factor = 1.0}), Contains("factor must be in (0, 1)"));
    CHECK_THROWS_WITH(lamina::ReduceLROnPlateau<float>({.monitor = "lr"}), Contains("monitor 'lr'"));
    CHECK_THROWS_WITH(lamina::ReduceLROnPlateau<float>({.min_lr = -1}), Contains("min_lr"));
    CHECK_THROWS_WITH(lamina::ReduceLROnPlateau<float>({.mode = "down"}), Contains("mode"));
}

// ----- 4. Half-filled options -----

TEST_CASE("validation_data with x but no y, or y but no x, is refused", "[hostile][options]") {
    MF x, y;
    lamina::test::xor_data(16, 10, x, y);
    auto model = xor_model();
    lamina::ValidationData<float> x_only;
    x_only.x = &x;
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_data = x_only}),
                      Contains("validation_data has x but no y"));
    const lamina::ByteMatrix bytes = lamina::ByteMatrix::Zero(16, 2);
    lamina::ValidationData<float> bytes_only;
    bytes_only.bytes = &bytes;
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_data = bytes_only}),
                      Contains("validation_data has x but no y"));
    lamina::ValidationData<float> y_only;
    y_only.y = &y;
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_data = y_only}),
                      Contains("validation_data has y but no x"));
    lamina::ValidationData<float> both(x, y);
    both.bytes = &bytes;
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_data = both}), Contains("both x"));
    CHECK_THROWS_WITH(lamina::ModelCheckpoint<float>("m.lamina", {.initial_value_threshold = std::nan("")}),
                      Contains("initial_value_threshold"));
}

// ----- 5. Threads that cannot be created -----

TEST_CASE("A team whose threads the system refuses throws a lamina::error and joins those it started",
          "[hostile][threads]") {
    {
        RefuseThreadsFrom refuse(3);
        CHECK_THROWS_WITH(lamina::detail::Team(8), Equals("lamina: cannot start thread 4 of a team of 8 threads "
                                                          "(Resource temporarily unavailable); ask for fewer threads "
                                                          "(the threads option)"));
    }
    MF x, y;
    lamina::test::xor_data(256, 11, x, y);
    auto model = xor_model();
    const lamina::Vector<float> before = model.parameters();
    {
        RefuseThreadsFrom refuse(1);
        CHECK_THROWS_AS(model.fit(x, y, {.verbose = 0, .threads = 4}), lamina::error);
        CHECK_THROWS_AS(model.predict(x, {.threads = 4}), lamina::error);
    }
    CHECK(model.parameters() == before);
    CHECK_NOTHROW(model.fit(x, y, {.verbose = 0, .threads = 4}));
}

// ----- 9. Labels and targets -----

TEST_CASE("A target row with a negative value is named by its row, column and value", "[hostile][labels]") {
    MF x, y;
    lamina::test::xor_data(4, 12, x, y);
    y.row(2) << 1.5f, -0.5f;  // sums to 1
    auto model = xor_model();
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0}), Contains("y row 2 has -0.5 at column 1"));
    CHECK_THROWS_WITH(model.evaluate(x, y), Contains("y row 2 has -0.5 at column 1"));
}
