// SPDX-License-Identifier: MIT
// lamina tests: fit's validation_split, initial_epoch and callbacks (EarlyStopping, ModelCheckpoint, ...).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>

#include "idx_files.hpp"
#include "xor_data.hpp"

using lamina::Index;
using M = lamina::Matrix<double>;
using MF = lamina::Matrix<float>;
using VD = lamina::Vector<double>;

namespace {

lamina::Sequential<double> small_model(std::uint64_t seed, double learning_rate = 0.1, double momentum = 0.0) {
    lamina::Sequential<double> model{lamina::Dense(6, {.input_dim = 2}), lamina::Activation("tanh"), lamina::Dense(2),
                                     lamina::Activation("softmax")};
    model.initialize(seed);
    model.compile(lamina::loss::categorical_crossentropy,
                  lamina::SGD{.learning_rate = learning_rate, .momentum = momentum}, {lamina::metric::accuracy});
    return model;
}

void check_same_history(const lamina::History& a, const lamina::History& b) {
    CHECK(a.epoch == b.epoch);
    CHECK(a.loss == b.loss);
    CHECK(a.accuracy == b.accuracy);
    CHECK(a.val_loss == b.val_loss);
    CHECK(a.val_accuracy == b.val_accuracy);
}

// The epochs after which a figure improved on every earlier one (strictly, as Keras's
// ModelCheckpoint and EarlyStopping with min_delta 0), worked out here from the History.
std::vector<int> improving_epochs(const std::vector<double>& values, bool maximize = false) {
    std::vector<int> epochs;
    double best = maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    for (std::size_t e = 0; e < values.size(); ++e)
        if (maximize ? values[e] > best : values[e] < best) {
            best = values[e];
            epochs.push_back(int(e));
        }
    return epochs;
}

// Records the weights after every epoch.
struct WeightLog {
    std::vector<VD> weights;
    lamina::LambdaCallback<double> callback() {
        return lamina::LambdaCallback<double>(
            {.on_epoch_end = [this](int, const lamina::History&, lamina::Sequential<double>& m) {
                weights.push_back(m.parameters());
            }});
    }
};

// Feeds EarlyStopping a scripted sequence of a figure, as fit would, and returns the epoch it
// stopped after (-1 if it did not).
int drive(lamina::EarlyStopping<double>& stop, lamina::Sequential<double>& model, const std::string& name,
          const std::vector<double>& values) {
    lamina::History history;
    stop.on_train_begin(model);
    for (std::size_t e = 0; e < values.size(); ++e) {
        history.epoch.push_back(int(e));
        history.loss.push_back(name == "loss" ? values[e] : 1.0);
        history.accuracy.push_back(name == "accuracy" ? values[e] : 0.5);
        stop.on_epoch_end(int(e), history, model);
        if (stop.stopped_epoch() > 0) return stop.stopped_epoch();
    }
    return -1;
}

}  // namespace

TEST_CASE("History looks figures up by name and lists those it holds", "[callbacks]") {
    lamina::History h;
    h.loss = {1.0, 0.5};
    h.accuracy = {0.5, 0.75};
    REQUIRE(h.get("loss") == &h.loss);
    CHECK(h.get("val_accuracy") == &h.val_accuracy);
    CHECK(h.get("val_acc") == nullptr);
    CHECK(h.get("seconds") == nullptr);
    CHECK(h.keys() == std::vector<std::string_view>{"loss", "accuracy"});
    h.val_loss = {2.0, 1.0};
    h.val_accuracy = {0.5, 0.5};
    CHECK(h.keys() == std::vector<std::string_view>{"loss", "accuracy", "val_loss", "val_accuracy"});
}

TEST_CASE("validation_split holds out the last rows before shuffling, as validation_data of them would",
          "[callbacks][validation_split]") {
    M x, y;
    lamina::test::xor_data(10, 1, x, y);
    // Keras: split_at = floor(10 * (1 - 0.25)) = floor(7.5) = 7 rows trained on, the last 3 held out.
    auto split = small_model(2);
    const auto hs = split.fit(x, y, {.batch_size = 3, .epochs = 4, .verbose = 0, .validation_split = 0.25, .seed = 5});
    const M xv = x.bottomRows(3), yv = y.bottomRows(3);
    auto explicit_data = small_model(2);
    const auto he =
        explicit_data.fit(x.topRows(7), y.topRows(7),
                          {.batch_size = 3, .epochs = 4, .verbose = 0, .validation_data = {xv, yv}, .seed = 5});
    REQUIRE(hs.val_loss.size() == 4);
    check_same_history(hs, he);
    CHECK(split.parameters() == explicit_data.parameters());
    // The held-out figures are those of the last 3 rows after training.
    const auto score = split.evaluate(xv, yv);
    CHECK(hs.val_loss.back() == Approx(score.loss).epsilon(1e-12));
    CHECK(hs.val_accuracy.back() == score.accuracy);
}

TEST_CASE("validation_split rejects values outside 0 to 1, empty sides and validation_data with it",
          "[callbacks][validation_split][errors]") {
    M x, y;
    lamina::test::xor_data(10, 1, x, y);
    auto model = small_model(3);
    const VD before = model.parameters();
    for (const double bad : {-0.1, 1.0, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
        INFO("validation_split " << bad);
        CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_split = bad}),
                          Catch::Contains("validation_split must be in [0, 1)"));
    }
    // floor(10 * (1 - 0.95)) = 0 rows left to train on; 1 - 1e-20 is 1.0, leaving none to validate.
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_split = 0.95}),
                      Catch::Contains("validation_split = 0.95") && Catch::Contains("no training samples"));
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_split = 1e-20}),
                      Catch::Contains("no validation samples"));
    const M xv = x.topRows(2), yv = y.topRows(2);
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .validation_split = 0.2, .validation_data = {xv, yv}}),
                      Catch::Contains("validation_split = 0.2") && Catch::Contains("validation_data"));
    CHECK_THROWS_AS(model.fit(x, y, {.verbose = 0, .validation_split = -1}), std::invalid_argument);
    CHECK(model.parameters() == before);
}

TEST_CASE("initial_epoch numbers the epochs from it and trains epochs - initial_epoch of them",
          "[callbacks][initial_epoch]") {
    M x, y;
    lamina::test::xor_data(12, 4, x, y);
    auto model = small_model(5);
    std::vector<int> seen;
    lamina::LambdaCallback<double> log(
        {.on_epoch_begin = [&](int epoch, lamina::Sequential<double>&) { seen.push_back(epoch); }});
    const auto h = model.fit(x, y,
                             {.batch_size = 4, .epochs = 4, .verbose = 0, .callbacks = {log}, .initial_epoch = 2});
    CHECK(h.epoch == std::vector<int>{2, 3});
    CHECK(h.loss.size() == 2);
    CHECK(seen == std::vector<int>{2, 3});

    const VD before = model.parameters();
    for (const Index initial : {4, 5}) {
        const auto none = model.fit(x, y, {.epochs = 4, .verbose = 0, .initial_epoch = initial});
        CHECK(none.epoch.empty());
        CHECK(none.loss.empty());
    }
    CHECK(model.parameters() == before);
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .initial_epoch = -1}),
                      Catch::Contains("initial_epoch must be >= 0, found -1"));
}

TEST_CASE("Two fits split by initial_epoch give the weights of one fit bit for bit", "[callbacks][initial_epoch]") {
    M x, y;
    lamina::test::xor_data(30, 6, x, y);
    // Momentum: the optimizer's state must carry over too.
    const auto run = [&](std::optional<std::uint64_t> seed) {
        auto one = small_model(7, 0.2, 0.9);
        const auto whole = one.fit(x, y, {.batch_size = 4, .epochs = 4, .verbose = 0, .seed = seed, .threads = 1});
        auto two = small_model(7, 0.2, 0.9);
        const auto first = two.fit(x, y, {.batch_size = 4, .epochs = 2, .verbose = 0, .seed = seed, .threads = 1});
        const auto second =
            two.fit(x, y, {.batch_size = 4, .epochs = 4, .verbose = 0, .initial_epoch = 2, .seed = seed, .threads = 1});
        CHECK(one.parameters() == two.parameters());
        std::vector<double> losses = first.loss;
        losses.insert(losses.end(), second.loss.begin(), second.loss.end());
        CHECK(losses == whole.loss);
        CHECK(second.epoch == std::vector<int>{2, 3});
    };
    SECTION("the model's own random stream") { run(std::nullopt); }
    SECTION("a fit seed: the shuffles of the skipped epochs are drawn again") { run(11); }
}

TEST_CASE("EarlyStopping counts epochs without improvement as Keras does", "[callbacks][early_stopping]") {
    auto model = small_model(1);
    SECTION("patience: stop at the patience-th epoch after the best one") {
        lamina::EarlyStopping<double> stop({.monitor = "loss", .patience = 2});
        // Best at epoch 1 (0.9); epochs 2 and 3 do not beat it: stop after epoch 3.
        CHECK(drive(stop, model, "loss", {1.0, 0.9, 0.95, 0.91, 0.5}) == 3);
        CHECK(stop.best() == 0.9);
        CHECK(stop.best_epoch() == 1);
        CHECK(stop.wait() == 2);
        CHECK(model.stop_training_requested());
    }
    SECTION("patience 0 stops at the first epoch without improvement") {
        lamina::EarlyStopping<double> stop({.monitor = "loss"});
        CHECK(drive(stop, model, "loss", {1.0, 0.9, 0.9, 0.1}) == 2);
    }
    SECTION("min_delta: smaller changes are no improvement") {
        lamina::EarlyStopping<double> stop({.monitor = "loss", .min_delta = -0.05, .patience = 1});  // |min_delta|
        // 0.94 + 0.05 is below 1.0; 0.9 + 0.05 is not below 0.94.
        CHECK(drive(stop, model, "loss", {1.0, 0.94, 0.9, 0.5}) == 2);
        CHECK(stop.best() == 0.94);
    }
    SECTION("accuracy is maximised under mode auto, and mode min turns that round") {
        lamina::EarlyStopping<double> up({.monitor = "accuracy", .patience = 1});
        CHECK(drive(up, model, "accuracy", {0.5, 0.7, 0.6, 0.9}) == 2);
        CHECK(up.best() == 0.7);
        lamina::EarlyStopping<double> down({.monitor = "accuracy", .patience = 1, .mode = "min"});
        CHECK(drive(down, model, "accuracy", {0.5, 0.7, 0.4, 0.9}) == 1);
    }
    SECTION("baseline: improvements that do not beat it do not reset the count") {
        // Keras: an improvement ends the epoch's check, but without beating the baseline it
        // does not reset the count, so the count runs from the first epoch.
        lamina::EarlyStopping<double> plain({.monitor = "loss", .patience = 2});
        CHECK(drive(plain, model, "loss", {1.0, 1.1, 1.2, 1.3}) == 2);
        lamina::EarlyStopping<double> stop({.monitor = "loss", .patience = 2, .baseline = 0.5});
        CHECK(drive(stop, model, "loss", {1.0, 1.1, 1.2, 1.3}) == 1);
        lamina::EarlyStopping<double> improving({.monitor = "loss", .patience = 2, .baseline = 0.5});
        CHECK(drive(improving, model, "loss", {1.0, 0.9, 0.8, 0.7}) == -1);
        lamina::EarlyStopping<double> beaten({.monitor = "loss", .patience = 2, .baseline = 0.5});
        CHECK(drive(beaten, model, "loss", {0.4, 0.3, 0.35, 0.36, 0.37}) == 3);
    }
    SECTION("start_from_epoch: no watching during the warm-up") {
        lamina::EarlyStopping<double> stop({.monitor = "loss", .start_from_epoch = 2});
        CHECK(drive(stop, model, "loss", {1.0, 2.0, 3.0, 4.0}) == 3);
    }
    SECTION("a fresh fit starts a fresh count") {
        lamina::EarlyStopping<double> stop({.monitor = "loss"});
        CHECK(drive(stop, model, "loss", {1.0, 2.0}) == 1);
        CHECK(drive(stop, model, "loss", {5.0, 4.0, 4.5}) == 2);
        CHECK(stop.best() == 4.0);
    }
}

TEST_CASE("EarlyStopping in fit runs patience + 1 epochs when nothing improves after the first",
          "[callbacks][early_stopping]") {
    M x, y, xv, yv;
    lamina::test::xor_data(20, 8, x, y);
    lamina::test::xor_data(10, 9, xv, yv);
    for (const int patience : {1, 3}) {
        INFO("patience " << patience);
        // A learning rate so small that val_loss moves by far less than min_delta.
        auto model = small_model(10, 1e-9);
        lamina::EarlyStopping<double> stop({.min_delta = 0.1, .patience = patience});
        const auto h = model.fit(x, y, {.epochs = 50, .verbose = 0, .callbacks = {stop}, .validation_data = {xv, yv}});
        CHECK(h.epoch.size() == std::size_t(patience + 1));
        CHECK(stop.stopped_epoch() == patience);
        CHECK(stop.best() == h.val_loss.front());
        // fit clears the request when it starts again.
        CHECK(model.stop_training_requested());
        CHECK(model.fit(x, y, {.epochs = 2, .verbose = 0}).epoch.size() == 2);
        CHECK_FALSE(model.stop_training_requested());
    }
}

TEST_CASE("EarlyStopping restore_best_weights puts back the weights of the best epoch", "[callbacks][early_stopping]") {
    M x, y, xv, yv;
    lamina::test::xor_data(40, 12, x, y);
    lamina::test::xor_data(20, 13, xv, yv, true);  // flipped labels: training makes val_loss worse
    for (const int patience : {2, 100}) {
        INFO("patience " << patience);
        auto model = small_model(14, 0.5);
        WeightLog log;
        lamina::EarlyStopping<double> stop({.patience = patience, .restore_best_weights = true});
        const auto h = model.fit(x, y,
                                 {.batch_size = 8,
                                  .epochs = 8,
                                  .verbose = 0,
                                  .callbacks = {log.callback(), stop},
                                  .validation_data = {xv, yv}});
        const auto improved = improving_epochs(h.val_loss);
        const int best = improved.back();
        REQUIRE(best + 1 < int(h.epoch.size()));  // the best epoch is not the last: restoring matters
        CHECK(stop.best_epoch() == best);
        CHECK(stop.best() == h.val_loss[std::size_t(best)]);
        CHECK(model.parameters() == log.weights[std::size_t(best)]);
        CHECK(model.parameters() != log.weights.back());
        // Keras 3: restored at the end of training whether or not it stopped early.
        if (patience == 100) CHECK(stop.stopped_epoch() == 0);
        else CHECK(stop.stopped_epoch() > 0);
    }
}

TEST_CASE("EarlyStopping names an unknown monitor, one without figures, and a bad mode",
          "[callbacks][early_stopping][errors]") {
    CHECK_THROWS_WITH(lamina::EarlyStopping<double>({.monitor = "val_acc"}),
                      Catch::Contains("monitor 'val_acc'") &&
                          Catch::Contains("loss, accuracy, val_loss, val_accuracy"));
    CHECK_THROWS_WITH(lamina::EarlyStopping<double>({.mode = "maximum"}), Catch::Contains("\"maximum\""));
    CHECK_THROWS_WITH(lamina::EarlyStopping<double>({.patience = -1}), Catch::Contains("patience must be >= 0"));
    M x, y;
    lamina::test::xor_data(10, 1, x, y);
    auto model = small_model(2);
    lamina::EarlyStopping<double> stop;  // val_loss, but no validation data
    CHECK_THROWS_WITH(model.fit(x, y, {.epochs = 3, .verbose = 0, .callbacks = {stop}}),
                      Catch::Contains("monitor 'val_loss' has no figures") && Catch::Contains("holds loss, accuracy") &&
                          Catch::Contains("validation_split"));
}

TEST_CASE("ModelCheckpoint with save_best_only writes only after improvements", "[callbacks][checkpoint]") {
    lamina::test::TempDir dir;
    M x, y, xv, yv;
    lamina::test::xor_data(40, 12, x, y);
    lamina::test::xor_data(20, 15, xv, yv, true);
    auto model = small_model(16, 0.5);
    WeightLog log;
    lamina::ModelCheckpoint<double> best((dir / "model-{epoch:02d}.lamina").string(), {.save_best_only = true});
    lamina::ModelCheckpoint<double> latest((dir / "sub" / "latest.lamina").string(), {.save_best_only = true});
    const auto h = model.fit(x, y,
                             {.batch_size = 8,
                              .epochs = 8,
                              .verbose = 0,
                              .callbacks = {log.callback(), best, latest},
                              .validation_data = {xv, yv}});
    const auto improved = improving_epochs(h.val_loss);
    REQUIRE(improved.size() < h.epoch.size());  // some epochs do not improve
    std::set<std::string> expected{"sub"}, found;
    for (const int e : improved) {
        char name[32];
        std::snprintf(name, sizeof name, "model-%02d.lamina", e + 1);
        expected.insert(name);
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
        found.insert(entry.path().filename().string());
    CHECK(found == expected);
    const auto best_epoch = std::size_t(improved.back());
    CHECK(best.best() == h.val_loss[best_epoch]);
    for (const auto& path : {best.last_saved(), latest.last_saved()}) {
        INFO(path);
        auto loaded = lamina::load_model<double>(path);
        CHECK(loaded.parameters() == log.weights[best_epoch]);
        CHECK(loaded.evaluate(xv, yv).loss == Approx(h.val_loss[best_epoch]).epsilon(1e-12));
    }
    char best_name[32];
    std::snprintf(best_name, sizeof best_name, "model-%02d.lamina", int(best_epoch) + 1);
    CHECK(best.last_saved() == dir / best_name);
    CHECK(latest.last_saved() == dir / "sub" / "latest.lamina");
}

TEST_CASE("ModelCheckpoint fills {epoch} and figures into the path, every epoch without save_best_only",
          "[callbacks][checkpoint]") {
    lamina::test::TempDir dir;
    M x, y;
    lamina::test::xor_data(20, 3, x, y);
    auto model = small_model(4);
    WeightLog log;
    lamina::ModelCheckpoint<double> weights((dir / "w-{epoch}-{{{loss:.3f}}}.npz").string(),
                                            {.monitor = "loss", .save_weights_only = true});
    const auto h = model.fit(x, y, {.epochs = 3, .verbose = 0, .callbacks = {log.callback(), weights}});
    for (int e = 0; e < 3; ++e) {
        char name[64];
        std::snprintf(name, sizeof name, "w-%d-{%.3f}.npz", e + 1, h.loss[std::size_t(e)]);
        INFO(name);
        REQUIRE(std::filesystem::exists(dir / name));
        auto fresh = small_model(99);
        fresh.load_weights(dir / name);
        CHECK(fresh.parameters() == log.weights[std::size_t(e)]);
    }
    CHECK(weights.last_saved().filename().string().rfind("w-3-{", 0) == 0);

    for (const char* bad : {"m-{epoch:x}.lamina", "m-{foo}.lamina", "m-{epoch.lamina", "m-}.lamina", "m-{epoch:.2f}"}) {
        INFO(bad);
        CHECK_THROWS_AS(lamina::ModelCheckpoint<double>(bad), std::invalid_argument);
    }
    CHECK_THROWS_WITH(lamina::ModelCheckpoint<double>("m-{foo}.lamina"),
                      Catch::Contains("{foo}") && Catch::Contains("epoch (1-based), loss, accuracy"));
    // A figure the History lacks is named when the epoch ends.
    lamina::ModelCheckpoint<double> needs_val((dir / "v-{val_loss}.lamina").string());
    CHECK_THROWS_WITH(model.fit(x, y, {.verbose = 0, .callbacks = {needs_val}}),
                      Catch::Contains("'val_loss' has no figures"));
}

TEST_CASE("TerminateOnNaN ends training quietly with the weights of before the failing batch",
          "[callbacks][divergence]") {
    // One batch per epoch and a learning rate that diverges after some epochs (as in the
    // sequential divergence tests).
    MF x, y;
    lamina::test::diverging_setup(x, y);
    const auto make = lamina::test::diverging_model;
    const lamina::FitOptions<float> one_batch{.batch_size = 16, .verbose = 0, .shuffle = false, .threads = 1};
    auto failing = make();
    lamina::TerminateOnNaN<float> nan;
    bool ended = false;
    std::size_t epochs_at_end = 0;
    lamina::LambdaCallback<float> end({.on_train_end = [&](const lamina::History& h, lamina::Sequential<float>&) {
        ended = true;
        epochs_at_end = h.epoch.size();
    }});
    auto options = one_batch;
    options.epochs = 10;
    options.callbacks = {nan, end};
    lamina::History h;
    REQUIRE_NOTHROW(h = failing.fit(x, y, options));
    const auto completed = h.epoch.size();
    INFO("epochs completed before divergence: " << completed);
    REQUIRE(nan.terminated());
    REQUIRE(completed >= 1);
    REQUIRE(completed < 10);
    CHECK(nan.epoch() == int(completed));
    CHECK(nan.batch() == 0);
    CHECK_THAT(nan.reason(), Catch::Contains("NaN or infinite") || Catch::Contains("the loss became"));
    CHECK(ended);
    CHECK(epochs_at_end == completed);
    // The weights are those after the completed epochs.
    auto replay = make();
    options.epochs = Index(completed);
    options.callbacks = {};
    replay.fit(x, y, options);
    CHECK(failing.parameters() == replay.parameters());
    // Without TerminateOnNaN (a callback that does not end training) fit still throws.
    auto throwing = make();
    options.epochs = 10;
    options.callbacks = {end};
    CHECK_THROWS_AS(throwing.fit(x, y, options), lamina::training_error);
}

TEST_CASE("TerminateOnNaN with terminate_on_nan off stops after the batch whose loss is not finite",
          "[callbacks][divergence]") {
    MF x, y;
    lamina::test::xor_data(64, 2, x, y);
    x *= 1e3f;
    lamina::Sequential<float> model{lamina::Dense(8, {.input_dim = 2}), lamina::Activation("relu"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
    model.initialize(4);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 1e36});
    lamina::TerminateOnNaN<float> nan;
    const auto h =
        model.fit(x, y, {.batch_size = 8, .epochs = 20, .verbose = 0, .callbacks = {nan}, .terminate_on_nan = false});
    REQUIRE(nan.terminated());
    CHECK_THAT(nan.reason(), Catch::StartsWith("the loss became"));
    CHECK(h.epoch.size() == std::size_t(nan.epoch()));
    for (const double l : h.loss) CHECK(std::isfinite(l));
}

TEST_CASE("LambdaCallback sees the History with the epoch just ended, in Keras's order of hooks",
          "[callbacks][lambda]") {
    M x, y;
    lamina::test::xor_data(20, 21, x, y);
    auto model = small_model(22);
    std::vector<std::string> calls;
    std::vector<double> losses_seen, val_seen;
    lamina::LambdaCallback<double> log({
        .on_epoch_begin = [&](int e,
                              lamina::Sequential<double>&) { calls.push_back("epoch_begin " + std::to_string(e)); },
        .on_epoch_end =
            [&](int e, const lamina::History& h, lamina::Sequential<double>&) {
                calls.push_back("epoch_end " + std::to_string(e) + " with " + std::to_string(h.epoch.size()));
                CHECK(h.epoch.back() == e);
                losses_seen.push_back(h.get("loss")->back());
                val_seen.push_back(h.get("val_loss")->back());
            },
        .on_train_begin = [&](lamina::Sequential<double>&) { calls.push_back("train_begin"); },
        .on_train_end =
            [&](const lamina::History& h, lamina::Sequential<double>&) {
                calls.push_back("train_end with " + std::to_string(h.epoch.size()));
            },
    });
    const auto h = model.fit(x, y, {.epochs = 2, .verbose = 0, .callbacks = {log}, .validation_split = 0.2});
    CHECK(calls == std::vector<std::string>{"train_begin", "epoch_begin 0", "epoch_end 0 with 1", "epoch_begin 1",
                                            "epoch_end 1 with 2", "train_end with 2"});
    CHECK(losses_seen == h.loss);
    CHECK(val_seen == h.val_loss);

    // A callback may stop training after the current epoch; the next fit starts afresh.
    lamina::LambdaCallback<double> stop_after_1(
        {.on_epoch_end = [](int e, const lamina::History&, lamina::Sequential<double>& m) {
            if (e == 1) m.stop_training();
        }});
    CHECK(model.fit(x, y, {.epochs = 5, .verbose = 0, .callbacks = {stop_after_1}}).epoch == std::vector<int>{0, 1});
    // With initial_epoch 0 and no epochs, train_begin and train_end still run.
    calls.clear();
    CHECK(model.fit(x, y, {.epochs = 0, .verbose = 0, .callbacks = {log}}).epoch.empty());
    CHECK(calls == std::vector<std::string>{"train_begin", "train_end with 0"});
}

TEST_CASE("Callbacks are taken by reference, by value or shared, and change nothing when they do nothing",
          "[callbacks]") {
    struct Nothing : lamina::Callback<double> {};
    struct Count : lamina::Callback<double> {
        int epochs = 0;
        void on_epoch_end(int, const lamina::History&, lamina::Sequential<double>&) override { ++epochs; }
    };
    M x, y;
    lamina::test::xor_data(20, 31, x, y);
    auto plain = small_model(32, 0.3, 0.5);
    const auto hp = plain.fit(x, y, {.batch_size = 4, .epochs = 3, .verbose = 0, .seed = 1});
    auto with = small_model(32, 0.3, 0.5);
    Count by_ref;
    auto shared = std::make_shared<Count>();
    const auto hw = with.fit(x, y,
                             {.batch_size = 4,
                              .epochs = 3,
                              .verbose = 0,
                              .callbacks = {by_ref, Nothing{}, shared, lamina::TerminateOnNaN<double>()},
                              .seed = 1});
    check_same_history(hp, hw);
    CHECK(plain.parameters() == with.parameters());
    CHECK(by_ref.epochs == 3);
    CHECK(shared->epochs == 3);
    CHECK_THROWS_AS(lamina::FitOptions<double>{.callbacks = {std::shared_ptr<Count>()}}, std::invalid_argument);
}
