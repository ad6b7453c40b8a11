// SPDX-License-Identifier: MIT
// lamina example: the classic Keras MNIST MLP (784-100-10, sigmoid, softmax, SGD), and a picture of its hidden neurons.
// Flags turn it into the other recipes Keras users train next (ReLU, dropout, Adam, early stopping).
//
// The Keras original, line by line:
//   model = Sequential([Dense(100, input_dim=784), Activation('sigmoid'), Dense(10), Activation('softmax')])
//   model.compile(loss='categorical_crossentropy', optimizer=SGD(learning_rate=0.01), metrics=['accuracy'])
//   model.fit(X_train, Y_train, batch_size=100, epochs=100, verbose=1)
//   score = model.evaluate(X_test, Y_test)
#include <lamina/datasets/mnist.hpp>
#include <lamina/io/file.hpp>
#include <lamina/lamina.hpp>
#include <lamina/viz/weight_grid.hpp>
#if defined(LAMINA_HAVE_NLOHMANN_JSON)
#include <lamina/io/keras.hpp>  // --load FILE.keras / FILE.h5, --save FILE.keras
#endif

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#ifndef LAMINA_SOURCE_DIR
#define LAMINA_SOURCE_DIR "."
#endif

namespace {

namespace mnist = lamina::datasets::mnist;

struct Args {
    std::filesystem::path data = mnist::default_directory(LAMINA_SOURCE_DIR "/data/mnist");
    bool data_given = false;  // --data was passed
    long epochs = 100;
    long batch_size = 100;
    std::vector<long> hidden{100};
    std::string activation = "sigmoid";
    double dropout = 0;
    double l2 = 0;
    std::string optimizer = "sgd";
    std::optional<double> lr;  // the optimizer's Keras default when not given
    double momentum = 0.0;
    bool scale = false;
    std::uint64_t seed = 1;
    int threads = 0;
    std::filesystem::path out = "neuron_images.png";
    std::optional<std::filesystem::path> history;
    std::optional<std::filesystem::path> save;
    std::optional<std::filesystem::path> load;
    int verbose = 1;
    double validation_split = 0;
    std::optional<long> patience;
};

constexpr const char* usage_text = R"(Usage: mnist_mlp [options]

Trains the classic Keras MNIST network (784 inputs, Dense(hidden) + sigmoid, Dense(10) +
softmax, categorical cross-entropy, plain SGD) on MNIST's 60,000 training images, reports
the accuracy on the 10,000 test images and draws the first hidden layer's weights.
The flags below build other networks of the same shape: more hidden layers, ReLU or tanh,
dropout, L2, Adam/RMSprop/Adagrad, a validation split with early stopping.

Options:
  --data DIR         folder with the four MNIST IDX files (default: $LAMINA_MNIST_DIR,
                     else the repository's data/mnist; fetch them with data/fetch_mnist.sh)
  --epochs N         passes over the training data (default 100)
  --batch-size N     samples per SGD step (default 100)
  --hidden N[,N...]  hidden layers and their units, e.g. 256,128 (default 100)
  --activation F     hidden activation: sigmoid, relu or tanh (default sigmoid)
  --dropout X        Dropout(X) after every hidden activation, X in [0, 1) (default 0: none)
  --l2 X             L2 penalty X * sum(w^2) on every kernel (default 0: none)
  --optimizer NAME   sgd, adam, rmsprop or adagrad (default sgd)
  --lr X             learning rate (default: Keras's for the optimizer: sgd 0.01, adam 0.001,
                     rmsprop 0.001, adagrad 0.01)
  --momentum X       SGD momentum in [0, 1) (default 0; sgd only)
  --scale            divide pixels by 255 (default: raw 0-255 values, as the Keras example)
  --seed N           seed of the initial weights and the shuffling (default 1)
  --threads N        threads per batch, 0 for all cores (default 0)
  --out FILE         PNG of the hidden neurons' weights (default neuron_images.png)
  --validation-split X  hold out the last fraction X of the training images (before
                     shuffling, as Keras) and score them after every epoch
  --patience N       stop when the validation loss (the training loss without a split) has
                     not improved for N epochs, and keep the best epoch's weights
  --history FILE     write the history as CSV; without --validation-split the test set is
                     scored every epoch for it
  --save FILE        save the model when done: layers, weights, optimizer state, random stream
  --load FILE        start from a model saved with --save instead of a new one: --epochs 0 only
                     evaluates it, more epochs go on training it from where it stopped (its
                     shuffling from its own random stream); its layers, optimizer and seed
                     come from the file, so --hidden, --activation, --dropout, --l2,
                     --optimizer, --lr, --momentum and --seed cannot be given with it;
                     a FILE ending in .keras or .h5 is a Keras model, and --save FILE.keras
                     writes one (builds with nlohmann/json)
  --verbose 0|1|2    0 silent, 1 progress bar (a line per epoch off a terminal), 2 a line per epoch
  -h, --help         this text
)";

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "mnist_mlp: " << message << "\nTry 'mnist_mlp --help'.\n";
    std::exit(2);
}

// A number as a person would write it: 0.001, 1e-06, 1000000 (not 1000000.000000).
std::string show(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.15g", v);
    return text;
}

// The values a flag takes, written as an interval: [0, 1) or (0, 1000000].
struct Range {
    double lo, hi;
    bool lo_open = false, hi_open = false;
    bool contains(double v) const {
        return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);  // false for NaN
    }
    std::string text() const { return (lo_open ? "(" : "[") + show(lo) + ", " + show(hi) + (hi_open ? ")" : "]"); }
};

// A decimal number for `flag`, in `range`.
double parse_real(std::string_view flag, std::string_view text, Range range) {
    double value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ptr != end || text.empty() || (ec != std::errc{} && ec != std::errc::result_out_of_range))
        usage_error(std::string(flag) + " expects a decimal number in " + range.text() + ", found '" +
                    std::string(text) + "'");
    if (ec == std::errc::result_out_of_range || !range.contains(value))
        usage_error(std::string(flag) + " must be in " + range.text() + ", found " + std::string(text));
    return value;
}

// A whole number for `flag`, in [lo, hi]: "1.5" and "-1" (for a count) are named as what they are.
template <class T>
T parse_whole(std::string_view flag, std::string_view text, T lo, T hi) {
    const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    T value{};
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec == std::errc{} && ptr == end) {
        if (value < lo || value > hi)
            usage_error(std::string(flag) + " must be a whole number in " + range + ", found " + std::string(text));
        return value;
    }
    double real = 0;
    const auto [real_end, real_ec] = std::from_chars(text.data(), end, real);
    const bool is_number = !text.empty() && real_end == end && real_ec != std::errc::invalid_argument;
    if (is_number && ec == std::errc::result_out_of_range)
        usage_error(std::string(flag) + " must be a whole number in " + range + ", found " + std::string(text));
    if (is_number && (real < 0 || text.front() == '-') && lo >= 0)
        usage_error(std::string(flag) + " must be a whole number in " + range + ", found the negative number " +
                    std::string(text));
    if (is_number)
        usage_error(std::string(flag) + " expects a whole number in " + range + ", found the fraction " +
                    std::string(text));
    usage_error(std::string(flag) + " expects a whole number in " + range + ", found '" + std::string(text) + "'");
}

// "256,128" -> {256, 128}.
std::vector<long> parse_list(std::string_view flag, std::string_view text) {
    std::vector<long> sizes;
    for (std::size_t start = 0;;) {
        const std::size_t comma = text.find(',', start);
        sizes.push_back(parse_whole<long>(flag, text.substr(start, comma - start), 1, 100000));
        if (comma == std::string_view::npos) return sizes;
        start = comma + 1;
    }
}

std::string one_of(std::string_view flag, std::string_view text, std::initializer_list<std::string_view> known) {
    std::string list;
    for (auto k : known) {
        if (k == text) return std::string(text);
        list += (list.empty() ? "" : ", ") + std::string(k);
    }
    usage_error(std::string(flag) + " must be one of " + list + ", found '" + std::string(text) + "'");
}

Args parse(int argc, char** argv) {
    Args a;
    std::string_view new_model_flag;  // a flag that only a new model can take
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        const auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) usage_error(std::string(flag) + " expects a value");
            return argv[++i];
        };
        if (flag == "-h" || flag == "--help") {
            std::cout << usage_text;
            std::exit(0);
        } else if (flag == "--data") {
            a.data = std::string(value());
            a.data_given = true;
        } else if (flag == "--epochs") a.epochs = parse_whole<long>(flag, value(), 0, 1000000);
        else if (flag == "--batch-size") a.batch_size = parse_whole<long>(flag, value(), 1, 60000);
        else if (flag == "--hidden" || flag == "--activation" || flag == "--dropout" || flag == "--l2" ||
                 flag == "--optimizer" || flag == "--lr" || flag == "--momentum" || flag == "--seed") {
            new_model_flag = flag;
            if (flag == "--hidden") a.hidden = parse_list(flag, value());
            else if (flag == "--activation") a.activation = one_of(flag, value(), {"sigmoid", "relu", "tanh"});
            else if (flag == "--dropout") a.dropout = parse_real(flag, value(), {0, 1, false, true});
            else if (flag == "--l2") a.l2 = parse_real(flag, value(), {0, 1e3});
            else if (flag == "--optimizer") a.optimizer = one_of(flag, value(), {"sgd", "adam", "rmsprop", "adagrad"});
            else if (flag == "--lr") a.lr = parse_real(flag, value(), {0, 1e6, true, false});
            else if (flag == "--momentum") a.momentum = parse_real(flag, value(), {0, 1, false, true});
            else a.seed = parse_whole<std::uint64_t>(flag, value(), 0, UINT64_MAX);
        } else if (flag == "--scale") a.scale = true;
        else if (flag == "--validation-split") a.validation_split = parse_real(flag, value(), {0, 1, false, true});
        else if (flag == "--patience") a.patience = parse_whole<long>(flag, value(), 0, 1000000);
        else if (flag == "--threads") a.threads = parse_whole<int>(flag, value(), 0, 1024);
        else if (flag == "--out") a.out = std::string(value());
        else if (flag == "--history") a.history = std::string(value());
        else if (flag == "--save") a.save = std::string(value());
        else if (flag == "--load") a.load = std::string(value());
        else if (flag == "--verbose") a.verbose = parse_whole<int>(flag, value(), 0, 2);
        else usage_error("unknown option '" + std::string(flag) + "'");
    }
    if (a.momentum != 0 && a.optimizer != "sgd") usage_error("--momentum is for --optimizer sgd, not " + a.optimizer);
    if (a.load && !new_model_flag.empty())
        usage_error(std::string(new_model_flag) + " cannot be combined with --load: the loaded model brings its own");
    if (a.save && a.save->filename().empty())
        usage_error("--save expects a file name, found '" + a.save->string() + "'");
    return a;
}

// Writes `text` to `path` through a temporary file renamed into place: never a half-written file.
void write_atomically(const std::filesystem::path& path, const std::string& text) {
    lamina::io::write_file_atomically(path, std::as_bytes(std::span(text.data(), text.size())), "mnist_mlp");
}

std::string history_csv(const lamina::History& h, bool split) {
    std::string csv = split ? "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n"
                            : "epoch,loss,accuracy,test_loss,test_accuracy,seconds\n";
    char line[160];
    for (std::size_t e = 0; e < h.epoch.size(); ++e) {
        std::snprintf(line, sizeof line, "%d,%.6f,%.6f,%.6f,%.6f,%.4f\n", h.epoch[e] + 1, h.loss[e], h.accuracy[e],
                      h.val_loss[e], h.val_accuracy[e], h.seconds[e]);
        csv += line;
    }
    return csv;
}

void print_confusion(const std::vector<lamina::Index>& predicted, const mnist::Labels& truth) {
    long counts[10][10] = {};
    for (std::size_t i = 0; i < predicted.size(); ++i) ++counts[truth[Eigen::Index(i)]][predicted[i]];
    std::printf("\nConfusion matrix (rows: true digit, columns: predicted)\n      ");
    for (int c = 0; c < 10; ++c) std::printf("%6d", c);
    std::printf("\n");
    for (int r = 0; r < 10; ++r) {
        std::printf("%6d", r);
        for (int c = 0; c < 10; ++c) std::printf("%6ld", counts[r][c]);
        std::printf("\n");
    }
}

// A lamina model file, or (with nlohmann/json) a Keras one: .keras or .h5.
lamina::Sequential<float> load_any(const std::filesystem::path& path) {
#if defined(LAMINA_HAVE_NLOHMANN_JSON)
    if (path.extension() == ".keras" || path.extension() == ".h5") return lamina::load_keras_model<float>(path);
#endif
    return lamina::load_model<float>(path);
}

// A new model of the Keras recipe, or the one saved in --load.
lamina::Sequential<float> make_model(const Args& args) {
    if (args.load) {
        auto model = load_any(*args.load);
        if (model.input_dim() != 784 || model.output_dim() != 10)
            throw lamina::error("'" + args.load->string() + "' holds a model of " + std::to_string(model.input_dim()) +
                                " inputs and " + std::to_string(model.output_dim()) +
                                " outputs; MNIST needs 784 and 10");
        return model;
    }
    // The defaults are the seed recipe: Dense(100, input_dim=784), sigmoid, Dense(10), softmax.
    lamina::Sequential<float> model;
    const lamina::Regularizer l2 = lamina::regularizers::l2(args.l2);
    for (std::size_t i = 0; i < args.hidden.size(); ++i) {
        model.add(lamina::Dense(args.hidden[i], {.input_dim = i == 0 ? 784 : 0, .kernel_regularizer = l2}));
        model.add(lamina::Activation(args.activation));
        if (args.dropout > 0) model.add(lamina::Dropout(args.dropout));
    }
    model.add(lamina::Dense(10, {.kernel_regularizer = l2}));
    model.add(lamina::Activation("softmax"));
    model.initialize(args.seed);
    const auto compile = [&](const auto& optimizer) {
        model.compile(lamina::loss::categorical_crossentropy, optimizer, {lamina::metric::accuracy});
    };
    if (args.optimizer == "adam") compile(lamina::Adam{.learning_rate = args.lr.value_or(0.001)});
    else if (args.optimizer == "rmsprop") compile(lamina::RMSprop{.learning_rate = args.lr.value_or(0.001)});
    else if (args.optimizer == "adagrad") compile(lamina::Adagrad{.learning_rate = args.lr.value_or(0.01)});
    else compile(lamina::SGD{.learning_rate = args.lr.value_or(0.01), .momentum = args.momentum});
    return model;
}

using Clock = std::chrono::steady_clock;

// Trains `model` on x_train (raw bytes or floats: the model takes either), then reports,
// draws and saves. `start`: when the program started.
template <class X>
int train_and_report(const Args& args, lamina::Sequential<float>& model, const X& x_train, const X& x_test,
                     const mnist::Dataset& data, Clock::time_point start) {
    using clock = Clock;
    const auto y_train = lamina::to_categorical(data.train.labels, 10);
    const auto y_test = lamina::to_categorical(data.test.labels, 10);

    if (args.verbose > 0) {
        model.summary();
        // Which kernels run: lamina's own are chosen at run time from the CPU; Eigen's
        // follow the flags this program was compiled with.
        std::printf("Kernels: %s; Eigen: %s\n", lamina::kernel_description().c_str(),
                    Eigen::SimdInstructionSetsInUse());
    }

    // A loaded model shuffles from its own random stream, so its training goes on from there.
    lamina::FitOptions<float> fit{.batch_size = args.batch_size,
                                  .epochs = args.epochs,
                                  .verbose = args.verbose,
                                  .threads = args.threads};
    if (!args.load) fit.seed = args.seed;
    fit.validation_split = args.validation_split;
    if (args.history && args.validation_split == 0) fit.validation_data = {x_test, y_test};
    // EarlyStopping(monitor='val_loss', patience=N, restore_best_weights=True), on the
    // training loss when nothing is held out.
    lamina::EarlyStopping<float> stop({.monitor = args.validation_split > 0 ? "val_loss" : "loss",
                                       .patience = int(args.patience.value_or(0)),
                                       .restore_best_weights = true});
    if (args.patience) fit.callbacks.emplace_back(stop);
    const auto train_start = clock::now();
    const auto history = model.fit(x_train, y_train, fit);
    const double train_seconds = std::chrono::duration<double>(clock::now() - train_start).count();
    const long epochs_run = long(history.epoch.size());
    if (args.patience && epochs_run < args.epochs)
        std::printf("\nEarly stopping after epoch %ld; the weights are those of the best epoch\n", epochs_run);

    const auto score = model.evaluate(x_test, y_test, {.threads = args.threads});
    std::printf("\nTest loss: %.4f\nTest accuracy: %.4f\n", score.loss, score.accuracy);
    if (epochs_run > 0) {
        const int threads = args.threads > 0 ? args.threads : int(std::thread::hardware_concurrency());
        double alone = 0;  // batches trained by one thread, faster then than the team
        for (const double a : history.alone) alone += a / double(epochs_run);
        std::printf("Training time: %.2f s for %ld epochs (%.3f s per epoch, %d thread%s", train_seconds, epochs_run,
                    train_seconds / double(epochs_run), threads, threads == 1 ? "" : "s");
        if (alone > 0) std::printf("; %.0f%% of the batches on one, faster at the time", 100 * alone);
        std::printf(")\n");
    }
    if (args.verbose > 0) print_confusion(model.predict_classes(x_test, {.threads = args.threads}), data.test.labels);

    if (args.save) {
#if defined(LAMINA_HAVE_NLOHMANN_JSON)
        if (args.save->extension() == ".keras") {
            lamina::save_keras(model, *args.save);
        } else
#endif
        {
            model.save(*args.save);
        }
        std::printf("\nSaved the model to %s (continue with --load %s)\n", args.save->string().c_str(),
                    args.save->string().c_str());
    }
    lamina::save_weight_grid(args.out, model.layer(0).get_weights()[0]);  // the first Dense layer
    std::printf("\nSaved the %ld hidden neurons' weights to %s\n", long(model.layer(0).output_dim()),
                args.out.string().c_str());
    if (args.history) {
        write_atomically(*args.history, history_csv(history, args.validation_split > 0));
        std::printf("Saved the training history to %s (plot it with examples/plot_history.gp)\n",
                    args.history->string().c_str());
    }
    std::printf("Total time: %.2f s\n", std::chrono::duration<double>(clock::now() - start).count());
    return 0;
}

// Checks that every file the run will write can be written (a regular file or a new one in
// an existing, writable folder; links followed), and that no two outputs are the same file:
// a bad path is reported now, not after the training.
void check_outputs(const Args& args) {
    std::vector<std::pair<std::string, std::filesystem::path>> outputs{{"--out", args.out}};
    if (args.save) outputs.emplace_back("--save", *args.save);
    if (args.history) outputs.emplace_back("--history", *args.history);
    std::vector<std::pair<std::string, std::filesystem::path>> seen;
    for (const auto& [flag, path] : outputs) {
        const auto target = std::filesystem::weakly_canonical(lamina::io::check_writable(path, flag));
        for (const auto& [other, other_target] : seen)
            if (other_target == target)
                usage_error(other + " and " + flag + " name the same file '" + target.string() +
                            "'; the second would replace the first");
        seen.emplace_back(flag, target);
    }
}

int run(const Args& args) {
    const auto start = Clock::now();
    check_outputs(args);
    // The model first: a bad --load file is reported before the data is read.
    auto model = make_model(args);

    // (X_train, y_train), (X_test, y_test) = mnist.load_data()
    mnist::Dataset data;
    try {
        data = mnist::load_data(args.data);
    } catch (const lamina::io_error& e) {
        // The loader's message may carry its own advice; give the example's only when it does not.
        const std::string what = e.what();
        std::cerr << "mnist_mlp: " << what << '\n';
        if (args.data_given) std::cerr << "(the MNIST folder given with --data: '" << args.data.string() << "')\n";
        else if (what.find("fetch_mnist.sh") == std::string::npos)
            std::cerr << "Fetch the data again with data/fetch_mnist.sh (it checks each file's SHA-256), or pass "
                         "--data DIR.\n";
        return 1;
    }
    if (!args.scale)  // raw pixels: the model takes the bytes as they are, as Keras's fit takes the uint8 array
        return train_and_report(args, model, data.train.images, data.test.images, data, start);
    // X_train = X_train.reshape(60000, 784).astype('float32') / 255
    const auto x_train = mnist::to_matrix<float>(data.train.images);
    const auto x_test = mnist::to_matrix<float>(data.test.images);
    return train_and_report(args, model, x_train, x_test, data, start);
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    try {
        return run(args);
    } catch (const std::exception& e) {
        std::cerr << "mnist_mlp: " << e.what() << '\n';
        return 1;
    }
}
