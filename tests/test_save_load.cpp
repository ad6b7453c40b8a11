// SPDX-License-Identifier: MIT
// lamina tests: saving and loading whole models (the model file), exact continuation, and every error path.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#if defined(LAMINA_HAVE_ZLIB)
#include <zlib.h>
#endif

#include <lamina/io/crc32.hpp>
#include <lamina/io/model_file.hpp>
#include <lamina/lamina.hpp>
#include <lamina/optimizers/from_config.hpp>

#include "save_files.hpp"

using lamina::Index;
using lamina::test::ByteVec;
using lamina::test::LeWriter;
using lamina::test::SaveDir;
namespace fs = std::filesystem;

namespace {

template <class S>
lamina::Sequential<S> small_model(
    lamina::SGD sgd = {.learning_rate = 0.1, .momentum = 0.9, .nesterov = true, .decay = 0.01}) {
    lamina::Sequential<S> model{
        lamina::Dense(5, {.input_dim = 4}),
        lamina::Activation("tanh"),
        lamina::Dense(3),
        lamina::Activation("softmax"),
    };
    model.compile(lamina::loss::categorical_crossentropy, sgd, {lamina::metric::accuracy});
    model.initialize(11);
    return model;
}

template <class S>
void small_data(lamina::Matrix<S>& x, lamina::Matrix<S>& y) {
    lamina::Random rng(5);
    x.resize(40, 4);
    std::vector<int> labels;
    for (Index i = 0; i < x.rows(); ++i) {
        for (Index j = 0; j < 4; ++j) x(i, j) = S(rng.uniform(-1, 1));
        labels.push_back(int(i % 3));
    }
    y = lamina::to_categorical<S>(labels, 3);
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const lamina::io_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("unexpected exception: ") + e.what();
    }
    return "no exception";
}

template <class S>
std::string load_error(const ByteVec& bytes, std::string name = "hand.lamina") {
    return message_of([&] { (void)lamina::load_model<S>(std::span<const std::byte>(bytes), name); });
}

// The numbers of a random stream's text state, as the model file stores them.
std::vector<std::uint64_t> state_numbers(const lamina::Random& rng) {
    std::istringstream in(rng.state());
    std::vector<std::uint64_t> numbers;
    std::uint64_t v = 0;
    while (in >> v) numbers.push_back(v);
    return numbers;
}

// A model file written by hand from the format description: Dense(2, input_dim 1) + an
// activation, compiled with a loss and SGD; every field can be changed to a wrong value.
struct HandModel {
    std::uint32_t version = 1, scalar = 4, layer_count = 2;
    std::string kind0 = "Dense", kind1 = "Activation", activation = "relu";
    std::uint64_t input_dim = 1, units = 2, input_dim1 = 0;  // input_dim1: of a second Dense (0: units)
    double l1 = 0, l2 = 0, rate = 0.5;                       // Dense regularizers (version 2), a Dropout's rate
    std::uint8_t compiled = 1;
    std::string loss = "mean_squared_error", optimizer = "SGD", hp_name = "learning_rate";
    double learning_rate = 0.5;
    std::int64_t iterations = 3;
    std::uint32_t slot_count = 0;
    std::uint64_t slot_length = 4;
    std::int64_t random_count = -1;  // -1: the real count
    std::uint64_t weight_count = 4;
    std::vector<float> weights{1.0f, -2.0f, 0.5f, 0.25f};  // kernel (1 x 2), bias (2)
};

ByteVec hand_file(const HandModel& m) {
    LeWriter w = lamina::test::model_header(m.version, m.scalar);
    w.u32(m.layer_count);
    w.str(m.kind0);
    const auto regularizer = [&] {
        if (m.version >= 2) w.f64(m.l1).f64(m.l2);
    };
    if (m.kind0 == "Dense") {
        w.u64(m.input_dim).u64(m.units);
        regularizer();
    } else w.str(m.activation);
    if (m.layer_count >= 2) {
        w.str(m.kind1);
        if (m.kind1 == "Dense") {
            w.u64(m.input_dim1 != 0 ? m.input_dim1 : m.units).u64(m.units);
            regularizer();
        } else if (m.kind1 == "Dropout") w.f64(m.rate);
        else w.str(m.activation);
    }
    w.u8(m.compiled);
    if (m.compiled == 1) {
        w.str(m.loss).u32(0).str(m.optimizer);
        w.u32(4)
            .str(m.hp_name)
            .f64(m.learning_rate)
            .str("momentum")
            .f64(0)
            .str("nesterov")
            .f64(0)
            .str("decay")
            .f64(0.1);
        w.u64(std::uint64_t(m.iterations)).u32(m.slot_count);
        for (std::uint32_t s = 0; s < std::min<std::uint32_t>(m.slot_count, 1); ++s) {
            w.str("momentum").u64(m.slot_length);
            for (std::uint64_t i = 0; i < std::min<std::uint64_t>(m.slot_length, 4); ++i) w.f32(0);
        }
    }
    const auto numbers = state_numbers(lamina::Random(5));
    w.u32(m.random_count < 0 ? numbers.size() : std::uint64_t(m.random_count));
    for (std::size_t i = 0; i < numbers.size() && (m.random_count < 0 || i < std::size_t(m.random_count)); ++i)
        w.u64(numbers[i]);
    w.u64(m.weight_count);
    for (const float v : m.weights) w.f32(v);
    w.u32(0);  // the checksum, set by fix_model_file
    return lamina::test::fix_model_file(w.bytes);
}

// The same model (a Dense layer and an Activation, compiled with mse and SGD) in format
// version 3, from the format description: the input shape, the layers as kinds and typed
// config fields, the weights, then the compile settings and the random state.
ByteVec hand_file_v3(const HandModel& m) {
    LeWriter w = lamina::test::model_header(3, m.scalar);
    w.u32(1).u64(m.input_dim);  // input shape (1)
    w.u32(2);
    w.str("Dense").u32(4);
    w.str("units").u8(1).u64(m.units);
    w.str("kernel_initializer").u8(3).str("glorot_uniform");
    w.str("bias_initializer").u8(3).str("zeros");
    w.str("kernel_regularizer").u8(5).u32(2).f64(m.l1).f64(m.l2);
    w.str("Activation").u32(1).str("activation").u8(3).str(m.activation);
    w.u64(m.weight_count);
    for (const float v : m.weights) w.f32(v);
    w.u8(1).str(m.loss).u32(0).u32(0).str(m.optimizer);  // mse has no options; no metrics
    w.u32(4).str(m.hp_name).f64(m.learning_rate).str("momentum").f64(0).str("nesterov").f64(0).str("decay").f64(0.1);
    w.u64(std::uint64_t(m.iterations)).u32(0);
    const auto numbers = state_numbers(lamina::Random(5));
    w.u32(numbers.size());
    for (const auto v : numbers) w.u64(v);
    w.u32(0);  // the checksum, set by fix_model_file
    return lamina::test::fix_model_file(w.bytes);
}

}  // namespace

TEST_CASE("CRC-32 gives the standard check value and agrees with zlib", "[save][crc32]") {
    const std::string text = "123456789";
    const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
    CHECK(lamina::io::crc32(bytes) == 0xCBF43926u);
    CHECK(lamina::io::crc32(bytes.subspan(4), lamina::io::crc32(bytes.first(4))) == 0xCBF43926u);
    CHECK(lamina::io::crc32({}) == 0u);
    ByteVec noise(1000);
    lamina::Random rng(3);
    for (auto& b : noise) b = std::byte(rng.bits() & 0xFF);
    CHECK(lamina::io::crc32(noise) == lamina::test::crc32_bitwise(noise, noise.size()));
#if defined(LAMINA_HAVE_ZLIB)
    CHECK(lamina::io::crc32(noise) ==
          ::crc32(0, reinterpret_cast<const Bytef*>(noise.data()), static_cast<uInt>(noise.size())));
#endif
}

TEST_CASE("Random's state text restores the stream exactly, and bad text changes nothing", "[save][random]") {
    lamina::Random a(42);
    for (int i = 0; i < 5; ++i) (void)a.bits();
    const std::string state = a.state();
    const std::uint64_t next = a.bits(), after = a.bits();

    lamina::Random b(7);
    b.set_state(state);
    CHECK(b.bits() == next);
    CHECK(b.bits() == after);

    lamina::Random c(7);
    c.set_state(state + " \n");  // trailing white space is fine
    CHECK(c.bits() == next);

    lamina::Random d(9);
    lamina::Random d_copy(9);
    CHECK_THROWS_AS(d.set_state("1 2 3"), std::invalid_argument);
    CHECK_THROWS_AS(d.set_state(state + " 5"), std::invalid_argument);
    CHECK_THROWS_AS(d.set_state("x" + state), std::invalid_argument);
    CHECK_THROWS_AS(d.set_state(""), std::invalid_argument);
    CHECK(d.bits() == d_copy.bits());  // unchanged by the failures
}

TEST_CASE("SGD reports its config and state and takes them back", "[save][sgd]") {
    const lamina::SGD spec{.learning_rate = 0.05, .momentum = 0.5, .nesterov = true, .decay = 0.25};
    auto opt = spec.build<double>();
    opt->build(3);
    const auto config = opt->get_config();
    CHECK(config.name == "SGD");
    using HP = std::vector<std::pair<std::string, double>>;
    CHECK(config.hyperparameters == HP{{"learning_rate", 0.05}, {"momentum", 0.5}, {"nesterov", 1.0}, {"decay", 0.25}});

    // Two steps of w -= ... with g = 1 build up a velocity; the state carries it.
    std::vector<double> w{0, 0, 0}, g{1, 1, 1};
    for (int step = 0; step < 2; ++step) {
        opt->begin_step();
        opt->update(w.data(), g.data(), 0, 3);
    }
    const auto state = opt->get_state();
    CHECK(state.iterations == 2);
    REQUIRE(state.slots.size() == 1);
    CHECK(state.slots[0].first == "momentum");
    // v1 = -0.05; v2 = 0.5 * v1 - 0.05 / (1 + 0.25) = -0.025 - 0.04 = -0.065.
    CHECK(state.slots[0].second[0] == Approx(-0.065).epsilon(1e-12));

    auto again = lamina::optimizer_from_config<double>(config);
    again->build(3);
    again->set_state(state);
    std::vector<double> w1 = w, w2 = w;
    opt->begin_step();
    opt->update(w1.data(), g.data(), 0, 3);
    again->begin_step();
    again->update(w2.data(), g.data(), 0, 3);
    CHECK(w1 == w2);

    SECTION("bad states are refused and change nothing") {
        auto bad = state;
        bad.iterations = -1;
        CHECK_THROWS_AS(again->set_state(bad), std::invalid_argument);
        bad = state;
        bad.slots.clear();
        CHECK_THROWS_WITH(again->set_state(bad), Catch::Contains("expected 1 slot"));
        bad = state;
        bad.slots[0].first = "velocity";
        CHECK_THROWS_WITH(again->set_state(bad), Catch::Contains("'momentum'"));
        bad = state;
        bad.slots[0].second.resize(2);
        CHECK_THROWS_WITH(again->set_state(bad), Catch::Contains("of 3 values"));
        CHECK(again->get_state().iterations == 3);
    }
    SECTION("plain SGD has no slots") {
        auto plain = lamina::SGD{}.build<float>();
        plain->build(4);
        CHECK(plain->get_state().slots.empty());
        CHECK_THROWS_WITH(plain->set_state({0, {{"momentum", lamina::Vector<float>::Zero(4)}}}),
                          Catch::Contains("expected 0 slots"));
    }
    SECTION("configs that are not SGD's are refused") {
        using lamina::OptimizerConfig;
        CHECK_THROWS_WITH(lamina::optimizer_from_config<float>(OptimizerConfig{"Nadam", {}}),
                          Catch::Contains("unknown optimizer 'Nadam'"));
        CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"beta_1", 0.9}}}), Catch::Contains("'beta_1'"));
        CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"momentum", 0.1}, {"momentum", 0.2}}}),
                          Catch::Contains("twice"));
        CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"nesterov", 0.5}}}), Catch::Contains("0 or 1"));
        CHECK_THROWS_WITH(lamina::SGD::from_config({"SGD", {{"learning_rate", -1}}}), Catch::Contains("learning_rate"));
        CHECK(lamina::SGD::from_config({"SGD", {}}).learning_rate == 0.01);  // defaults
    }
}

TEMPLATE_TEST_CASE("A loaded model predicts bit for bit as the saved one", "[save][load]", float, double) {
    lamina::Matrix<TestType> x, y;
    small_data(x, y);
    auto model = small_model<TestType>();
    model.fit(x, y, {.batch_size = 8, .epochs = 2, .verbose = 0, .threads = 1});

    SaveDir dir;
    const fs::path file = dir / "model.lamina";
    model.save(file);
    CHECK(dir.entries() == std::vector<std::string>{"model.lamina"});
    const auto loaded = lamina::load_model<TestType>(file);

    CHECK(loaded.size() == 4);
    CHECK(loaded.layer(2).name() == "dense_1");
    CHECK(loaded.layer(3).config() == "activation: softmax");
    CHECK(loaded.parameters() == model.parameters());
    const lamina::Matrix<TestType> expected = model.predict(x, {.threads = 1});
    CHECK(loaded.predict(x, {.threads = 1}) == expected);
    CHECK(loaded.predict(x, {.threads = 2}) == model.predict(x, {.threads = 2}));
    std::ostringstream a, b;
    model.summary(a);
    loaded.summary(b);
    CHECK(a.str() == b.str());
    const auto s1 = model.evaluate(x, y, {.threads = 1}), s2 = loaded.evaluate(x, y, {.threads = 1});
    CHECK(s1.loss == s2.loss);
    CHECK(s1.accuracy == s2.accuracy);
    // Saving the loaded model again gives the same bytes.
    CHECK(loaded.to_bytes() == model.to_bytes());
    CHECK(lamina::test::read_bytes(file) == model.to_bytes());
}

TEST_CASE("fit goes on after save and load exactly where it stopped", "[save][load][fit]") {
    const int threads = GENERATE(1, 2);
    CAPTURE(threads);
    lamina::Matrix<float> x, y;
    small_data(x, y);
    const lamina::FitOptions<float> two{.batch_size = 7, .epochs = 2, .verbose = 0, .threads = threads};
    auto four = two;
    four.epochs = 4;

    auto straight = small_model<float>();
    const auto h4 = straight.fit(x, y, four);

    SaveDir dir;
    auto first = small_model<float>();
    first.fit(x, y, two);
    first.save(dir / "half.lamina");
    auto resumed = lamina::load_model<float>(dir / "half.lamina");
    const auto h2 = resumed.fit(x, y, two);

    CHECK(resumed.parameters() == straight.parameters());
    REQUIRE(h2.loss.size() == 2);
    CHECK(h2.loss[0] == h4.loss[2]);
    CHECK(h2.loss[1] == h4.loss[3]);

    // The state matters: the same weights with a fresh optimizer and random stream go elsewhere.
    auto weights_only = small_model<float>();
    weights_only.parameters() = first.parameters();
    weights_only.fit(x, y, two);
    CHECK(weights_only.parameters() != straight.parameters());

    SECTION("also with plain SGD, mean squared error and no metrics") {
        const lamina::SGD plain{.learning_rate = 0.2, .decay = 0.5};
        const auto make = [&] {
            lamina::Sequential<float> m{lamina::Dense(3, {.input_dim = 4}), lamina::Activation("relu"),
                                        lamina::Dense(3)};
            m.compile("mse", plain);
            m.initialize(2);
            return m;
        };
        auto m4 = make();
        m4.fit(x, y, four);
        auto m2 = make();
        m2.fit(x, y, two);
        auto m2b = lamina::load_model<float>(std::span<const std::byte>(m2.to_bytes()));
        m2b.fit(x, y, two);
        CHECK(m2b.parameters() == m4.parameters());
    }
}

TEST_CASE("An uncompiled model saves and loads uncompiled", "[save][load]") {
    lamina::Sequential<double> model{lamina::Dense(2, {.input_dim = 3}), lamina::Activation("sigmoid")};
    model.initialize(4);
    const auto bytes = model.to_bytes();
    auto loaded = lamina::Sequential<double>::from_bytes(bytes, "memory");
    CHECK(loaded.parameters() == model.parameters());
    const lamina::Matrix<double> x = lamina::Matrix<double>::Constant(2, 3, 0.5);
    CHECK(loaded.predict(x) == model.predict(x));
    CHECK_THROWS_WITH(loaded.evaluate(x, model.predict(x)), Catch::Contains("not compiled"));
    loaded.compile("mse", lamina::SGD{});
    CHECK_NOTHROW(loaded.fit(x, model.predict(x), {.epochs = 1, .verbose = 0}));
}

TEST_CASE("A model file written by hand from the format description loads", "[save][load][format]") {
    const ByteVec bytes = hand_file({});  // version 1
    auto model = lamina::load_model<float>(std::span<const std::byte>(bytes));
    REQUIRE(model.size() == 2);
    CHECK(model.layer(0).kind() == "Dense");
    CHECK(model.layer(1).config() == "activation: relu");
    const lamina::Matrix<float> x = lamina::Matrix<float>::Constant(1, 1, 2.0f);
    // relu(2 * [1, -2] + [0.5, 0.25]) = relu([2.5, -3.75]) = [2.5, 0]
    const lamina::Matrix<float> p = model.predict(x);
    CHECK(p(0, 0) == 2.5f);
    CHECK(p(0, 1) == 0.0f);
    // Written again, it is the same file, byte for byte, in the current version (3); the same
    // model written in version 2 loads too.
    CHECK(model.to_bytes() == hand_file_v3({}));
    CHECK(lamina::load_model<float>(std::span<const std::byte>(hand_file_v3({}))).parameters() == model.parameters());
    HandModel v2;
    v2.version = 2;
    CHECK(lamina::load_model<float>(std::span<const std::byte>(hand_file(v2))).parameters() == model.parameters());
    // Its optimizer resumes at step 3: lr = 0.5 / (1 + 0.1 * 3) for the next step.
    // d(0.5 * mean((y - t)^2))... mse's gradient is 2 (y - t) / (batch * outputs) per output;
    // with t = [2.5, 0] nothing moves, with t = [1.5, 0] the first unit moves.
    const lamina::Matrix<float> t{{1.5f, 0.0f}};
    model.train_on_batch(x, t, 1);
    // y0 = 2.5, grad wrt y0 = 2 * (2.5 - 1.5) / 2 = 1; kernel0 -= lr * 1 * x = lr * 2; bias0 -= lr.
    const float lr = float(0.5 / (1 + 0.1 * 3));
    CHECK(model.parameters()[0] == Approx(1.0f - 2 * lr));
    CHECK(model.parameters()[2] == Approx(0.5f - lr));
}

TEST_CASE("A version 2 file with a kernel regularizer and a Dropout layer loads", "[save][load][format]") {
    HandModel m;
    m.version = 2;
    m.l2 = 0.25;
    m.kind1 = "Dropout";
    const auto model = lamina::load_model<float>(std::span<const std::byte>(hand_file(m)));
    REQUIRE(model.size() == 2);
    CHECK(model.layer(1).kind() == "Dropout");
    CHECK(model.layer(1).config() == "rate: 0.5");
    // The penalty is back: 0.25 * (1 + 4) for the kernel (1, -2).
    CHECK(model.layer(0).regularization_loss() == Approx(1.25));

    m.kind1 = "Activation";
    m.l1 = -1;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("regularizer factors l1 = -1"));
    m = {};
    m.version = 2;
    m.kind1 = "Dropout";
    m.rate = 1;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("layer 1 (Dropout)") && Catch::Contains("[0, 1)"));
    m.version = 1;  // Dropout is new in version 2
    m.rate = 0.5;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("unknown kind 'Dropout'"));
}

TEST_CASE("A model with Dropout and L2 goes on after save and load exactly where it stopped", "[save][load][fit]") {
    const int threads = GENERATE(1, 2);
    CAPTURE(threads);
    lamina::Matrix<float> x, y;
    small_data(x, y);
    const auto make = [] {
        lamina::Sequential<float> m{lamina::Dense(6, {.input_dim = 4,
                                                      .kernel_regularizer = lamina::regularizers::l2(0.01)}),
                                    lamina::Activation("relu"), lamina::Dropout(0.3), lamina::Dense(3),
                                    lamina::Activation("softmax")};
        m.initialize(8);
        m.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.1, .momentum = 0.5});
        return m;
    };
    const lamina::FitOptions<float> two{.batch_size = 7, .epochs = 2, .verbose = 0, .threads = threads};
    auto four = two;
    four.epochs = 4;
    auto straight = make();
    const auto h4 = straight.fit(x, y, four);
    auto first = make();
    first.fit(x, y, two);
    auto resumed = lamina::load_model<float>(std::span<const std::byte>(first.to_bytes()));
    CHECK(resumed.evaluate(x, y).loss == first.evaluate(x, y).loss);  // the penalty came back
    const auto h2 = resumed.fit(x, y, two);
    CHECK(resumed.parameters() == straight.parameters());
    CHECK(h2.loss[1] == h4.loss[3]);
}

TEST_CASE("Loading reports a missing file and files of another kind", "[save][load][errors]") {
    SaveDir dir;
    const fs::path missing = dir / "missing.lamina";
    const std::string m = message_of([&] { (void)lamina::load_model<float>(missing); });
    CHECK_THAT(m, Catch::StartsWith("lamina::load_model: '" + missing.string() + "'"));

    const fs::path text = dir / "notes.txt";
    lamina::test::write_bytes(text, LeWriter{}.raw("these are not the weights you are looking for").bytes);
    const std::string t = message_of([&] { (void)lamina::load_model<float>(text); });
    CHECK_THAT(t, Catch::Contains(text.string()) && Catch::Contains("wrong magic at byte 0"));

    auto model = small_model<float>();
    model.save_weights(dir / "w.npz");
    CHECK_THAT(message_of([&] { (void)lamina::load_model<float>(dir / "w.npz"); }),
               Catch::Contains("zip archive") && Catch::Contains("load_weights"));
    CHECK_THAT(load_error<float>(LeWriter{}.raw("\x89LM").bytes), Catch::Contains("too short for the 8-byte magic"));
    CHECK_THAT(message_of([&] { (void)lamina::load_model<float>(dir.path()); }), Catch::Contains("not a regular file"));
}

TEST_CASE("Loading refuses newer and invalid format versions", "[save][load][errors]") {
    HandModel m;
    m.version = 4;
    CHECK_THAT(load_error<float>(hand_file(m)),
               Catch::Contains("format version 4 at byte 8 is newer than this lamina reads (3)"));
    m.version = 0;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("invalid format version 0"));
}

TEST_CASE("Every truncation and every flipped byte of a model file is an io_error", "[save][load][errors]") {
    auto model = small_model<float>();
    const ByteVec bytes = model.to_bytes();
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        const ByteVec cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
        const std::string e = load_error<float>(cut, "cut.lamina");
        CAPTURE(n, e);
        REQUIRE_THAT(e, Catch::StartsWith("lamina::load_model: 'cut.lamina': "));
        if (n >= 28) REQUIRE_THAT(e, Catch::Contains("truncated file"));
    }
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        ByteVec flipped = bytes;
        flipped[i] ^= std::byte{0x10};
        const std::string e = load_error<float>(flipped, "flipped.lamina");
        CAPTURE(i, e);
        REQUIRE_THAT(e, Catch::StartsWith("lamina::load_model: 'flipped.lamina': "));
        if (i >= 24) REQUIRE_THAT(e, Catch::Contains("checksum mismatch"));
    }
    ByteVec longer = bytes;
    longer.push_back(std::byte{0});
    CHECK_THAT(load_error<float>(longer), Catch::Contains("1 trailing bytes"));
}

TEST_CASE("A float file loaded as double and the reverse are refused, naming the file's type", "[save][load][errors]") {
    const auto f = small_model<float>().to_bytes();
    const auto d = small_model<double>().to_bytes();
    CHECK_THAT(load_error<double>(f),
               Catch::Contains("holds float (4-byte) weights") && Catch::Contains("load it with load_model<float>"));
    CHECK_THAT(load_error<float>(d),
               Catch::Contains("holds double (8-byte) weights") && Catch::Contains("load it with load_model<double>"));
    HandModel m;
    m.scalar = 2;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("unknown scalar tag 2 at byte 12"));
}

TEST_CASE("Absurd sizes are refused before anything is allocated", "[save][load][errors]") {
    HandModel m;
    m.units = std::uint64_t(1) << 40;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("layer 0 (Dense, at byte 28)"));
    m = {};
    m.input_dim = 100;
    m.units = 100;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("more than the file's size can hold"));
    m = {};
    m.layer_count = 0xFFFFFFFF;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("layer count 4294967295 at byte 24"));
    m = {};
    m.weight_count = std::uint64_t(1) << 62;
    CHECK_THAT(load_error<float>(hand_file(m)),
               Catch::Contains("the weight count") && Catch::Contains("but the layers have 4"));
    m = {};
    m.slot_count = 1;
    m.slot_length = std::uint64_t(1) << 61;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("slot 'momentum'") && Catch::Contains("layers have 4"));
    m = {};
    m.slot_count = 0x7FFFFFFF;
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("slot count 2147483647"));
    m = {};
    m.random_count = 0xFFFFFF;
    CHECK_THAT(load_error<float>(hand_file(m)),
               Catch::Contains("random state") && Catch::Contains("expected 1 to 4096"));
    m = {};
    m.loss = std::string(2000, 'x');
    CHECK_THAT(load_error<float>(hand_file(m)), Catch::Contains("the loss at byte") && Catch::Contains("at most 1024"));
}

TEST_CASE("Malformed model descriptions are io_errors naming the problem", "[save][load][errors]") {
    const auto fails_with = [](HandModel m, const std::string& what) {
        const std::string e = load_error<float>(hand_file(m));
        CAPTURE(e);
        CHECK_THAT(e, Catch::StartsWith("lamina::load_model: 'hand.lamina': ") && Catch::Contains(what));
    };
    HandModel m;
    m.kind1 = "Conv2D";
    fails_with(m, "unknown kind 'Conv2D'; known: Dense, Activation");
    m = {};
    m.activation = "hard_sigmoid";
    fails_with(m, "unknown activation 'hard_sigmoid'");
    m = {};
    m.kind0 = "Activation";
    fails_with(m, "the first layer must be Dense");
    m = {};
    m.kind1 = "Dense";
    m.input_dim1 = 4;
    fails_with(m, "layer 1 (Dense, at byte 53) takes input_dim 4 but the layer before outputs 2");
    m = {};
    m.loss = "hinge";
    fails_with(m, "unknown loss 'hinge'");
    m = {};
    m.optimizer = "Nadam";
    fails_with(m, "unknown optimizer 'Nadam'");
    m = {};
    m.learning_rate = -1;
    fails_with(m, "learning_rate must be positive");
    m = {};
    m.hp_name = "lr";
    fails_with(m, "unknown hyperparameter 'lr'");
    m = {};
    m.iterations = -5;
    fails_with(m, "iterations at byte");
    m = {};
    m.compiled = 2;
    fails_with(m, "the compiled flag at byte");
    m = {};
    m.random_count = 312;  // as another standard library would write it
    fails_with(m, "random state is not one this C++ standard library wrote");
    m = {};
    m.kind1 = "Dense\x01";
    fails_with(m, "expected printable ASCII");
    m = {};
    m.units = 0;
    fails_with(m, "is 1 x 0");
}

TEST_CASE("Saving into a missing folder or onto a folder throws io_error and leaves no file", "[save][errors]") {
    SaveDir dir;
    const auto model = small_model<float>();
    const fs::path missing = dir / "no_such_folder" / "m.lamina";
    CHECK_THROWS_WITH(model.save(missing),
                      Catch::Contains("Sequential.save: cannot write '" + missing.string() + "'") &&
                          Catch::Contains("does not exist"));
    CHECK(dir.entries().empty());

    fs::create_directory(dir / "taken");
    CHECK_THROWS_AS(model.save(dir / "taken"), lamina::io_error);
    CHECK(dir.entries() == std::vector<std::string>{"taken"});
    CHECK(fs::is_directory(dir / "taken"));

    SECTION("an existing file is replaced only by a complete one") {
        const fs::path file = dir / "m.lamina";
        lamina::test::write_bytes(file, LeWriter{}.raw("old").bytes);
        model.save(file);
        CHECK(lamina::test::read_bytes(file) == model.to_bytes());
        CHECK(dir.entries() == std::vector<std::string>{"m.lamina", "taken"});
    }
}
