// SPDX-License-Identifier: MIT
// lamina tests: the Sequential model: building, gradients, training, determinism and errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <span>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include <lamina/detail/gemm.hpp>
#include <lamina/lamina.hpp>

#include "gradient_check.hpp"
#include "xor_data.hpp"

using lamina::Index;
using M = lamina::Matrix<double>;
using MF = lamina::Matrix<float>;
using lamina::test::model_gradient_error;
using lamina::test::xor_data;

namespace {

lamina::Sequential<float> seed_network() {
    return lamina::Sequential<float>{
        lamina::Dense(100, {.input_dim = 784}),
        lamina::Activation("sigmoid"),
        lamina::Dense(10),
        lamina::Activation("softmax"),
    };
}

}  // namespace

TEST_CASE("The seed network infers its sizes and summarises like Keras", "[sequential]") {
    auto model = seed_network();
    CHECK(model.size() == 4);
    CHECK(model.input_dim() == 784);
    CHECK(model.output_dim() == 10);
    CHECK(model.count_params() == 79510);
    CHECK(model.layer(2).input_dim() == 100);
    CHECK(model.layer(0).name() == "dense");
    CHECK(model.layer(3).name() == "activation_1");
    std::ostringstream out;
    model.summary(out);
    const auto text = out.str();
    CHECK_THAT(text, Catch::Contains("dense (Dense)") && Catch::Contains("(None, 100)") && Catch::Contains("78,500") &&
                         Catch::Contains("dense_1 (Dense)") && Catch::Contains("1,010") &&
                         Catch::Contains("Total params: 79,510"));
    const auto w = model.layer(0).get_weights();
    REQUIRE(w.size() == 2);
    CHECK(w[0].rows() == 784);
    CHECK(w[0].cols() == 100);
    CHECK(w[1].cols() == 100);
}

TEST_CASE("Layers can be added one by one", "[sequential]") {
    lamina::Sequential<double> model;
    model.add(lamina::Dense(8, {.input_dim = 3}));
    model.add(lamina::Activation(lamina::activation::relu));
    model.add(lamina::Dense(2));
    CHECK(model.output_dim() == 2);
    CHECK(model.count_params() == 3 * 8 + 8 + 8 * 2 + 2);
}

TEST_CASE("Whole-model gradients match finite differences", "[sequential][gradient]") {
    const M x = M::Random(6, 4);
    M y = M::Zero(6, 3);
    for (Index i = 0; i < 6; ++i) y(i, i % 3) = 1;

    SECTION("softmax fused with cross-entropy") {
        lamina::Sequential<double> model{
            lamina::Dense(5, {.input_dim = 4}), lamina::Activation("tanh"), lamina::Dense(6),
            lamina::Activation("sigmoid"),      lamina::Dense(3),           lamina::Activation("softmax")};
        model.initialize(7);
        model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
        CHECK(model_gradient_error(model, x, y) < 1e-6);
    }
    SECTION("softmax with mean squared error, through the softmax Jacobian") {
        lamina::Sequential<double> model{lamina::Dense(5, {.input_dim = 4}), lamina::Activation("relu"),
                                         lamina::Dense(3), lamina::Activation("softmax")};
        model.initialize(8);
        model.compile(lamina::loss::mean_squared_error, lamina::SGD{});
        CHECK(model_gradient_error(model, x, y) < 1e-6);
    }
    SECTION("sigmoid outputs with unfused cross-entropy") {
        lamina::Sequential<double> model{lamina::Dense(5, {.input_dim = 4}), lamina::Activation("linear"),
                                         lamina::Dense(3), lamina::Activation("sigmoid")};
        model.initialize(9);
        model.compile("categorical_crossentropy", lamina::SGD{});
        CHECK(model_gradient_error(model, x, y) < 1e-6);
    }
}

TEST_CASE("fit learns XOR to 99% training accuracy", "[sequential][fit]") {
    MF x, y;
    xor_data(400, 11, x, y);
    lamina::Sequential<float> model{lamina::Dense(16, {.input_dim = 2}), lamina::Activation("tanh"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
    model.initialize(12);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.1, .momentum = 0.9},
                  {lamina::metric::accuracy});
    const auto history = model.fit(x, y, {.batch_size = 16, .epochs = 100, .verbose = 0, .seed = 13});
    REQUIRE(history.accuracy.size() == 100);
    CHECK(history.accuracy.back() >= 0.99);
    CHECK(model.evaluate(x, y).accuracy >= 0.99);
    // Held-out points from the same distribution.
    MF xt, yt;
    xor_data(400, 99, xt, yt);
    CHECK(model.evaluate(xt, yt).accuracy >= 0.97);
}

TEST_CASE("The same seed gives bit-identical weights and another seed different ones", "[sequential][fit]") {
    MF x, y;
    xor_data(100, 1, x, y);
    const auto train = [&](std::uint64_t seed, int threads) {
        lamina::Sequential<float> model{lamina::Dense(8, {.input_dim = 2}), lamina::Activation("sigmoid"),
                                        lamina::Dense(2), lamina::Activation("softmax")};
        model.initialize(seed);
        model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.5});
        model.fit(x, y, {.batch_size = 10, .epochs = 3, .verbose = 0, .seed = seed, .threads = threads});
        return lamina::Vector<float>(model.parameters());
    };
    CHECK(train(5, 1) == train(5, 1));
    CHECK(train(5, 2) == train(5, 2));
    CHECK(train(5, 1) != train(6, 1));
}

TEST_CASE("Training gives the same weights on any number of threads", "[sequential][fit][threads]") {
    // Batches cut into blocks of rows differently for each team size, and some batches run by
    // the caller alone when fit finds that faster: each row of every product must come out the
    // same whatever block it is in (Eigen's product, which computed the input gradients, rounds
    // a row of a 100-row block differently than of a 50-row one). 40 batches: fit tries the
    // caller alone after 16. Float kernels only: where Eigen does every product (no AVX2, or
    // double) this cannot hold.
    if (!lamina::detail::gemm_rows_independent<float>()) return;
    lamina::Random rng{21};
    const Index n = 2000, features = 120, classes = 10;
    MF x = MF::Zero(n, features), y = MF::Zero(n, classes);
    for (Index r = 0; r < n; ++r) {
        for (Index c = 0; c < features; ++c)
            if (rng.uniform01() < 0.3) x(r, c) = float(rng.uniform01() * 255);  // mostly zero, as pixels
        y(r, Index(rng.uniform01() * double(classes))) = 1;
    }
    const auto train = [&](int threads, bool deep) {
        auto model = deep ? lamina::Sequential<float>{lamina::Dense(64, {.input_dim = features}),
                                                      lamina::Activation("relu"),
                                                      lamina::Dropout(0.2),
                                                      lamina::Dense(48),
                                                      lamina::Activation("tanh"),
                                                      lamina::Dense(classes),
                                                      lamina::Activation("softmax")}
                          : lamina::Sequential<float>{lamina::Dense(100, {.input_dim = features}),
                                                      lamina::Activation("sigmoid"), lamina::Dense(classes),
                                                      lamina::Activation("softmax")};
        model.initialize(7);
        if (deep) model.compile(lamina::loss::categorical_crossentropy, lamina::Adam{});
        else model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.01});
        const auto history = model.fit(
            x, y,
            {.batch_size = 100, .epochs = 2, .verbose = 0, .validation_split = 0.05, .seed = 4, .threads = threads});
        if (threads == 1) CHECK(history.alone == std::vector<double>{0, 0});
        // Losses are summed row by row, not by blocks of rows that depend on the threads.
        const double evaluated = model.evaluate(x, y, {.batch_size = 64 + threads, .threads = threads}).loss;
        return std::tuple{model.to_bytes(), history.loss, history.val_loss, evaluated};
    };
    for (const bool deep : {false, true}) {
        INFO((deep ? "relu, dropout, tanh, Adam" : "the seed network's layers, SGD"));
        const auto one = train(1, deep);
        for (const int threads : {2, 3, 4}) {
            INFO(threads << " threads");
            const auto many = train(threads, deep);
            CHECK(std::get<0>(many) == std::get<0>(one));  // the weights
            CHECK(std::get<1>(many) == std::get<1>(one));  // training losses
            CHECK(std::get<2>(many) == std::get<2>(one));  // validation losses
            CHECK(std::get<3>(many) == std::get<3>(one));  // evaluate
        }
    }
}

TEST_CASE("fit uses the last partial batch", "[sequential][fit]") {
    // 10 samples in batches of 4: steps of 4, 4 and 2 samples, in order (no shuffle).
    const M x = M::Random(10, 3);
    M y = M::Zero(10, 2);
    for (Index i = 0; i < 10; ++i) y(i, i % 2) = 1;
    const auto make = [] {
        lamina::Sequential<double> m{lamina::Dense(4, {.input_dim = 3}), lamina::Activation("tanh"), lamina::Dense(2),
                                     lamina::Activation("softmax")};
        m.initialize(21);
        m.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.3});
        return m;
    };
    auto fitted = make();
    fitted.fit(x, y, {.batch_size = 4, .epochs = 1, .verbose = 0, .shuffle = false, .threads = 1});

    auto manual = make();
    for (Index start : {0, 4, 8}) {
        const Index rows = std::min<Index>(4, 10 - start);
        manual.loss_and_gradient(x.middleRows(start, rows), y.middleRows(start, rows));
        manual.parameters() -= 0.3 * manual.gradients();
    }
    CHECK((fitted.parameters() - manual.parameters()).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("fit reports validation figures and evaluate and predict agree", "[sequential][fit]") {
    MF x, y, xv, yv;
    xor_data(200, 3, x, y);
    xor_data(50, 4, xv, yv);
    lamina::Sequential<float> model{lamina::Dense(8, {.input_dim = 2}), lamina::Activation("tanh"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
    model.initialize(1);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.1},
                  {lamina::metric::accuracy});
    const auto h = model.fit(x, y, {.batch_size = 20, .epochs = 4, .verbose = 0, .validation_data = {xv, yv}});
    CHECK(h.epoch == std::vector<int>{0, 1, 2, 3});
    REQUIRE(h.val_loss.size() == 4);
    REQUIRE(h.val_accuracy.size() == 4);
    CHECK(h.seconds.size() == 4);
    REQUIRE(h.alone.size() == 4);
    for (const double a : h.alone) CHECK((a >= 0 && a <= 1));
    const auto score = model.evaluate(xv, yv);
    CHECK(score.loss == Approx(h.val_loss.back()));
    CHECK(score.accuracy == Approx(h.val_accuracy.back()));

    const MF p = model.predict(xv);
    REQUIRE(p.rows() == 50);
    CHECK(p.rowwise().sum().isOnes(1e-5f));
    const auto classes = model.predict_classes(xv);
    double hits = 0;
    double loss = 0;
    for (Index i = 0; i < 50; ++i) {
        Index c;
        p.row(i).maxCoeff(&c);
        CHECK(classes[std::size_t(i)] == c);
        Index t;
        yv.row(i).maxCoeff(&t);
        hits += c == t;
        loss -= std::log(double(p(i, t)));
    }
    CHECK(score.accuracy == Approx(hits / 50));
    CHECK(score.loss == Approx(loss / 50).epsilon(1e-4));
    // Splitting the work changes nothing but rounding.
    CHECK((model.predict(xv, {.batch_size = 7, .threads = 2}) - p).cwiseAbs().maxCoeff() < 1e-6f);
}

TEST_CASE("Byte inputs train, score and predict exactly as their float values", "[sequential][fit]") {
    // Sparse "pixels" 0-255 of 300 samples, 40 wide, with labels from a rule on them.
    lamina::Random rng(11);
    lamina::ByteMatrix bytes(300, 40);
    std::vector<int> labels;
    for (Index i = 0; i < bytes.rows(); ++i) {
        int ink = 0;
        for (Index j = 0; j < bytes.cols(); ++j) {
            bytes(i, j) = rng.uniform01() < 0.7 ? 0 : std::uint8_t(1 + rng.below(255));
            ink += j < 20 ? bytes(i, j) : 0;
        }
        labels.push_back(ink % 3);
    }
    const MF floats = bytes.cast<float>(), y = lamina::to_categorical(labels, 3);
    const lamina::ByteMatrix bytes_val = bytes.bottomRows(60);
    const MF floats_val = floats.bottomRows(60), y_val = y.bottomRows(60);
    const auto model = [] {
        lamina::Sequential<float> m{lamina::Dense(64, {.input_dim = 40}), lamina::Activation("sigmoid"),
                                    lamina::Dense(3), lamina::Activation("softmax")};
        m.initialize(2);
        m.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.001});
        return m;
    };
    for (int threads : {1, 2}) {
        INFO("threads " << threads);
        auto a = model(), b = model(), c = model(), d = model();
        const lamina::FitOptions<float> split{
            .batch_size = 32, .epochs = 3, .verbose = 0, .validation_split = 0.2, .seed = 4, .threads = threads};
        const auto ha = a.fit(bytes, y, split);
        const auto hb = b.fit(floats, y, split);
        CHECK(a.parameters() == b.parameters());
        CHECK(ha.loss == hb.loss);
        CHECK(ha.val_loss == hb.val_loss);
        CHECK(ha.val_accuracy == hb.val_accuracy);
        // validation_data given as bytes, beside floats.
        auto with_data = split;
        with_data.validation_split = 0;
        with_data.validation_data = {bytes_val, y_val};
        const auto hc = c.fit(bytes.topRows(240), y.topRows(240), with_data);
        with_data.validation_data = {floats_val, y_val};
        const auto hd = d.fit(floats.topRows(240), y.topRows(240), with_data);
        CHECK(c.parameters() == d.parameters());
        CHECK(hc.val_loss == hd.val_loss);
        CHECK(hc.val_loss.back() == Approx(c.evaluate(bytes_val, y_val, {.threads = threads}).loss));

        const auto sa = a.evaluate(bytes, y, {.threads = threads}), sb = a.evaluate(floats, y, {.threads = threads});
        CHECK(sa.loss == sb.loss);
        CHECK(sa.accuracy == sb.accuracy);
        CHECK(a.predict(bytes, {.batch_size = 50, .threads = threads}) ==
              a.predict(floats, {.batch_size = 50, .threads = threads}));
        // In blocks of other sizes too, where each row of a product is computed alone (lamina's
        // kernels; Eigen's product rounds a row differently by the size of its block).
        if (lamina::detail::gemm_rows_independent<float>())
            CHECK(a.predict(bytes, {.batch_size = 50, .threads = threads}) == a.predict(floats, {.threads = threads}));
        CHECK(a.predict_classes(bytes) == a.predict_classes(floats));
        CHECK(a.train_on_batch(bytes.topRows(32), y.topRows(32), threads).loss ==
              b.train_on_batch(floats.topRows(32), y.topRows(32), threads).loss);
        CHECK(a.parameters() == b.parameters());
    }
    // Shape errors name x as they do for floats.
    auto m = model();
    CHECK_THROWS_WITH(m.fit(lamina::ByteMatrix::Zero(5, 39), y.topRows(5), {.verbose = 0}),
                      Catch::Contains("x is 5x39") && Catch::Contains("input_dim 40"));
    CHECK_THROWS_WITH(m.predict(lamina::ByteMatrix::Zero(2, 41)),
                      Catch::Contains("predict") && Catch::Contains("2x41"));
    CHECK_THROWS_WITH(m.evaluate(bytes.topRows(5), y.topRows(4)), Catch::Contains("x has 5 samples but y has 4"));
}

TEST_CASE("A moved model keeps its weights and still predicts", "[sequential]") {
    auto model = seed_network();
    model.initialize(3);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
    const MF x = MF::Random(5, 784);
    const MF before = model.predict(x);
    lamina::Sequential<float> moved = std::move(model);
    CHECK(moved.predict(x) == before);
}

TEST_CASE("Shape mismatches name the layer and the expected and found shapes", "[sequential][errors]") {
    auto model = seed_network();
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
    const MF x = MF::Zero(5, 784), y = lamina::to_categorical(std::vector<int>{0, 1, 2, 3, 4}, 10);
    CHECK_THROWS_AS(model.fit(MF::Zero(5, 783), y), lamina::shape_error);
    CHECK_THROWS_WITH(model.fit(MF::Zero(5, 783), y, {.verbose = 0}), Catch::Contains("x is 5x783") &&
                                                                          Catch::Contains("layer 0 (Dense 'dense')") &&
                                                                          Catch::Contains("input_dim 784"));
    CHECK_THROWS_WITH(model.predict(MF::Zero(2, 10)), Catch::Contains("predict") && Catch::Contains("2x10"));
    CHECK_THROWS_WITH(model.evaluate(x, MF::Zero(4, 10)), Catch::Contains("x has 5 samples but y has 4"));
    CHECK_THROWS_WITH(model.fit(x, MF::Zero(5, 9), {.verbose = 0}),
                      Catch::Contains("y is 5x9") && Catch::Contains("layer 3 (Activation 'activation_1')") &&
                          Catch::Contains("outputs 10"));
    CHECK_THROWS_AS(model.fit(x, MF::Zero(5, 9)), lamina::shape_error);
}

TEST_CASE("Bad arguments are rejected with clear errors", "[sequential][errors]") {
    auto model = seed_network();
    const MF x = MF::Zero(5, 784), y = lamina::to_categorical(std::vector<int>{0, 1, 2, 3, 4}, 10);
    CHECK_THROWS_WITH(model.fit(x, y), Catch::Contains("not compiled"));
    CHECK_THROWS_WITH(model.evaluate(x, y), Catch::Contains("not compiled"));
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
    CHECK_THROWS_WITH(model.fit(x, y, {.batch_size = 0}), Catch::Contains("batch_size must be >= 1, found 0"));
    CHECK_THROWS_AS(model.fit(x, y, {.batch_size = -4}), std::invalid_argument);
    CHECK_THROWS_WITH(model.fit(x, y, {.epochs = -1}), Catch::Contains("epochs must be >= 0, found -1"));
    CHECK_THROWS_WITH(model.fit(MF::Zero(0, 784), MF::Zero(0, 10)), Catch::Contains("no samples"));
    CHECK_THROWS_AS(model.layer(4), std::out_of_range);
    CHECK_THROWS_WITH(model.layer(-1), Catch::Contains("index -1") && Catch::Contains("4 layers"));
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .threads = -1}), Catch::Contains("threads"));

    const auto before = lamina::Vector<float>(model.parameters());
    const auto h = model.fit(x, y, {.epochs = 0});
    CHECK(h.loss.empty());
    CHECK(model.parameters() == before);

    lamina::Sequential<float> empty;
    CHECK_THROWS_WITH(empty.compile(lamina::loss::mean_squared_error, lamina::SGD{}), Catch::Contains("no layers"));
    CHECK_THROWS_WITH((lamina::Sequential<float>{lamina::Dense(3)}),
                      Catch::Contains("layer 0") && Catch::Contains("needs input_dim"));
    CHECK_THROWS_WITH((lamina::Sequential<float>{lamina::Dense(3, {.input_dim = 2}),
                                                 lamina::Dense(4, {.input_dim = 5})}),
                      Catch::Contains("layer 1") && Catch::Contains("input_dim 5"));
    CHECK_THROWS_AS((lamina::Sequential<float>{lamina::Activation("relu")}), std::invalid_argument);
    CHECK_THROWS_AS(model.compile("hinge", lamina::SGD{}), std::invalid_argument);
    CHECK_THROWS_AS(model.compile(lamina::loss::mean_squared_error, lamina::SGD{}, {"precision"}),
                    std::invalid_argument);
}

TEST_CASE("to_categorical makes one-hot rows and rejects labels outside the classes", "[utils]") {
    const std::vector<std::uint8_t> labels{2, 0, 1};
    const MF y = lamina::to_categorical(labels, 3);
    MF expected(3, 3);
    expected << 0, 0, 1, 1, 0, 0, 0, 1, 0;
    CHECK(y == expected);
    CHECK_THROWS_WITH(lamina::to_categorical(std::vector<int>{1, 5}, 3),
                      Catch::Contains("label 5 at index 1") && Catch::Contains("[0, 3)"));
    CHECK_THROWS_AS(lamina::to_categorical(std::vector<int>{-1}, 3), std::invalid_argument);
}

TEST_CASE("Progress prints one line per epoch without carriage returns off a terminal", "[progress]") {
    for (int verbose : {1, 2}) {
        std::ostringstream out;
        lamina::Progress p(verbose, 3, 50, true, out, false);
        for (Index e = 0; e < 3; ++e) {
            p.epoch_begin(e);
            for (Index s = 1; s <= 50; ++s) p.batch_end(s, 0.5, 0.9);
            p.epoch_end({0.5, 0.9, 0.4, 0.95}, double(e + 1));
        }
        const auto text = out.str();
        CHECK(text.find('\r') == std::string::npos);
        CHECK(std::count(text.begin(), text.end(), '\n') == 3);
        CHECK_THAT(text, Catch::Contains("Epoch 3/3") && Catch::Contains("loss: 0.5000") &&
                             Catch::Contains("accuracy: 0.9000") && Catch::Contains("val_accuracy: 0.9500") &&
                             Catch::Contains("ETA"));
    }
    std::ostringstream silent;
    lamina::Progress quiet(0, 1, 10, true, silent, true);
    quiet.epoch_begin(0);
    quiet.batch_end(10, 1, 1);
    quiet.epoch_end({}, 1);
    CHECK(silent.str().empty());
}

TEST_CASE("Progress says nothing of optimisation in an optimised build", "[progress]") {
    // The tests are built with optimisation; tests/unoptimized.cpp checks the -O0 side.
    if (lamina::detail::built_without_optimization()) {
        WARN("skipped: these tests were built without optimisation");
        return;
    }
    std::ostringstream out;
    lamina::Progress p(2, 1, 4, false, out, false);
    p.unoptimized_notice();
    CHECK(out.str().empty());
}

TEST_CASE("Progress draws a live bar on a terminal", "[progress]") {
    std::ostringstream out;
    lamina::Progress p(1, 1, 4, false, out, true);
    p.epoch_begin(0);
    for (Index s = 1; s <= 4; ++s) p.batch_end(s, 0.25, 0);
    p.epoch_end({0.25, 0}, 1);
    const auto text = out.str();
    CHECK_THAT(text, Catch::Contains("Epoch 1/1\n") && Catch::Contains("4/4 [==============================]") &&
                         Catch::Contains("\r"));
    CHECK(text.find("accuracy") == std::string::npos);
}

TEST_CASE("Divergence stops fit with the epoch and batch and keeps the last finite weights",
          "[sequential][divergence]") {
    MF x, y;
    xor_data(64, 2, x, y);
    x *= 1e3f;
    for (const bool momentum : {false, true}) {
        INFO("momentum " << momentum);
        lamina::Sequential<float> model{lamina::Dense(8, {.input_dim = 2}), lamina::Activation("relu"),
                                        lamina::Dense(2), lamina::Activation("softmax")};
        model.initialize(4);
        model.compile(lamina::loss::categorical_crossentropy,
                      lamina::SGD{.learning_rate = 1e38, .momentum = momentum ? 0.5 : 0.0});
        const lamina::Vector<float> initial = model.parameters();
        try {
            model.fit(x, y, {.batch_size = 8, .epochs = 5, .verbose = 0, .seed = 1});
            FAIL("fit did not stop");
        } catch (const lamina::training_error& e) {
            // The first step overflows: lr * gradient is beyond the largest float.
            CHECK_THAT(e.what(), Catch::Contains("a weight became NaN or infinite at epoch 1, batch 1 of 8") &&
                                     Catch::Contains("before that batch"));
        }
        CHECK(model.parameters() == initial);
        // Nothing is lost: with a sane learning rate training goes on from there.
        model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 1e-6});
        const auto h = model.fit(x, y, {.batch_size = 8, .epochs = 1, .verbose = 0});
        CHECK(std::isfinite(h.loss.back()));
        CHECK(model.parameters().allFinite());
    }
}

TEST_CASE("The weights kept after divergence are those from before the failing batch", "[sequential][divergence]") {
    // One batch per epoch: the epoch that fails leaves the weights of the end of the last one.
    MF x, y;
    lamina::test::diverging_setup(x, y);
    const auto make = lamina::test::diverging_model;
    auto failing = make();
    Index completed = 0;
    for (; completed < 10; ++completed) {
        try {
            failing.fit(x, y, {.batch_size = 16, .epochs = 1, .verbose = 0, .shuffle = false, .threads = 1});
        } catch (const lamina::training_error&) {
            break;
        }
    }
    INFO("epochs completed before divergence: " << completed);
    REQUIRE(completed >= 1);
    REQUIRE(completed < 10);
    auto replay = make();
    for (Index e = 0; e < completed; ++e)
        replay.fit(x, y, {.batch_size = 16, .epochs = 1, .verbose = 0, .shuffle = false, .threads = 1});
    CHECK(failing.parameters() == replay.parameters());
}

TEST_CASE("A batch that diverges inside a later epoch leaves the weights, slots and step count of before it",
          "[sequential][divergence]") {
    // Shuffled batches of 4 with momentum: the guard recovers the state of before the failing
    // batch by training the epoch's earlier batches again from the epoch's start. The reference
    // trains the same batches, in fit's order, one train_on_batch at a time.
    MF x, y;
    lamina::test::diverging_setup(x, y);
    const auto make = [](double lr) {
        lamina::Sequential<float> m{lamina::Dense(4, {.input_dim = 2}), lamina::Activation("relu"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
        m.initialize(6);
        m.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = lr, .momentum = 0.5});
        return m;
    };
    const Index batch = 4, n = x.rows(), seed = 3;
    for (const int threads : {1, 2}) {
        INFO("threads " << threads);
        // The first learning rate (going down from 1e12) whose divergence is past an epoch's first batch
        // and past the first epoch.
        Index epoch = 0, step = 0;
        double chosen = 0;
        std::vector<std::byte> failed;
        for (double lr = 1e12; lr > 1e3 && failed.empty(); lr /= 4) {
            auto model = make(lr);
            try {
                model.fit(x, y, {.batch_size = batch, .epochs = 200, .verbose = 0, .seed = seed, .threads = threads});
            } catch (const lamina::training_error& e) {
                const std::string what = e.what();
                const auto at = what.find("at epoch ");
                REQUIRE(at != std::string::npos);
                std::istringstream in(what.substr(at + 9));
                char comma = 0;
                std::string word;
                in >> epoch >> comma >> word >> step;
                if (epoch > 1 && step > 1) {
                    failed = model.to_bytes();
                    chosen = lr;
                }
            }
        }
        INFO("learning rate " << chosen << ", failed at epoch " << epoch << ", batch " << step);
        REQUIRE_FALSE(failed.empty());
        auto reference = make(chosen);
        lamina::Random rng{std::uint64_t(seed)};
        std::vector<Index> order;
        for (Index e = 1; e <= epoch; ++e) {
            rng.permutation(order, n);
            for (Index s = 1; s <= (e < epoch ? n / batch : step - 1); ++s) {
                MF bx(batch, x.cols()), by(batch, y.cols());
                for (Index r = 0; r < batch; ++r) {
                    bx.row(r) = x.row(order[std::size_t((s - 1) * batch + r)]);
                    by.row(r) = y.row(order[std::size_t((s - 1) * batch + r)]);
                }
                reference.train_on_batch(bx, by, threads);
            }
        }
        CHECK(reference.parameters().allFinite());
        CHECK(failed == reference.to_bytes());
    }
}

TEST_CASE("terminate_on_nan = false trains on whatever the values", "[sequential][divergence]") {
    MF x, y;
    xor_data(64, 2, x, y);
    x *= 1e3f;
    lamina::Sequential<float> model{lamina::Dense(8, {.input_dim = 2}), lamina::Activation("relu"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
    model.initialize(4);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 1e36});
    const auto h = model.fit(x, y, {.batch_size = 8, .epochs = 3, .verbose = 0, .terminate_on_nan = false});
    CHECK(h.loss.size() == 3);
    CHECK_FALSE(model.parameters().allFinite());
}

TEST_CASE("NaN or infinite inputs and non-one-hot targets are rejected with their position", "[sequential][errors]") {
    auto model = seed_network();
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
    MF x = MF::Zero(3, 784);
    const MF y = lamina::to_categorical(std::vector<int>{0, 1, 2}, 10);
    x(2, 17) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0}), Catch::Contains("x has NaN at row 2, column 17"));
    CHECK_THROWS_WITH(model.evaluate(x, y), Catch::Contains("evaluate") && Catch::Contains("row 2, column 17"));
    CHECK_THROWS_WITH(model.predict(x), Catch::Contains("predict") && Catch::Contains("row 2, column 17"));
    x(2, 17) = 0;
    x(1, 3) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(model.predict(x), Catch::Contains("an infinity at row 1, column 3"));
    x(1, 3) = 0;
    MF bad = y;
    bad(1, 1) = 0;
    CHECK_THROWS_WITH(model.fit(x, bad, {.verbose = 0}), Catch::Contains("y row 1 is not one-hot"));
    bad(1, 1) = 2;
    CHECK_THROWS_WITH(model.evaluate(x, bad), Catch::Contains("y row 1 is not one-hot"));
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_data = {x, bad}}),
                      Catch::Contains("validation_data") && Catch::Contains("y row 1"));
    CHECK_NOTHROW(model.evaluate(x, y));
}

TEST_CASE("A model ending in logits trained with from_logits matches the fused softmax model, also when loaded",
          "[sequential][loss]") {
    const lamina::Matrix<double> x = lamina::Matrix<double>::Random(6, 4);
    lamina::Matrix<double> y = lamina::Matrix<double>::Zero(6, 3);
    for (int i = 0; i < 6; ++i) y(i, i % 3) = 1;
    lamina::Sequential<double> logits{lamina::Dense(3, {.input_dim = 4})};
    lamina::Sequential<double> fused{lamina::Dense(3, {.input_dim = 4}), lamina::Activation("softmax")};
    logits.initialize(3);
    fused.initialize(3);
    logits.compile(lamina::loss::CategoricalCrossentropy{.from_logits = true}, lamina::SGD{});
    fused.compile(lamina::loss::categorical_crossentropy, lamina::SGD{});
    const double loss = logits.loss_and_gradient(x, y);
    CHECK(loss == Approx(fused.loss_and_gradient(x, y)).epsilon(1e-12));
    CHECK(logits.gradients().isApprox(fused.gradients(), 1e-12));
    // Without the option the same outputs would be read as probabilities: a loaded model must keep it.
    const auto bytes = logits.to_bytes();
    auto loaded = lamina::load_model<double>(std::span<const std::byte>(bytes));
    CHECK(loaded.loss_and_gradient(x, y) == loss);
}
