// SPDX-License-Identifier: MIT
// lamina example: Keras's MNIST convnet (two Conv2D + MaxPooling2D, Dropout, Dense softmax; Adam), and pictures of its
// first layer.
//
// The Keras original (keras-io examples/vision/mnist_convnet.py), line by line:
//   model = keras.Sequential([keras.Input(shape=(28, 28, 1)),
//       layers.Conv2D(32, kernel_size=(3, 3), activation="relu"), layers.MaxPooling2D(pool_size=(2, 2)),
//       layers.Conv2D(64, kernel_size=(3, 3), activation="relu"), layers.MaxPooling2D(pool_size=(2, 2)),
//       layers.Flatten(), layers.Dropout(0.5), layers.Dense(num_classes, activation="softmax")])
//   model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
//   model.fit(x_train, y_train, batch_size=128, epochs=15, validation_split=0.1)
// with pixels scaled to [0, 1]. Keras's softmax Dense is Dense then Activation("softmax") here,
// which the loss fuses with categorical cross-entropy; this example trains on all 60,000
// training images (no validation split) and scores the 10,000 test images.
#include <lamina/datasets/mnist.hpp>
#include <lamina/lamina.hpp>
#include <lamina/viz/weight_grid.hpp>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#endif

#include "keras_convnet.hpp"

#ifndef LAMINA_SOURCE_DIR
#define LAMINA_SOURCE_DIR "."
#endif

namespace {

namespace mnist = lamina::datasets::mnist;

constexpr const char* usage_text = R"(Usage: mnist_cnn [options]

Trains Keras's MNIST convnet (Conv2D(32, 3x3, relu), MaxPooling2D(2), Conv2D(64, 3x3, relu),
MaxPooling2D(2), Flatten, Dropout(0.5), Dense(10) + softmax; Adam, batch 128, 15 epochs,
pixels scaled to [0, 1]) on MNIST's 60,000 training images, reports the accuracy on the
10,000 test images, and draws the 32 first-layer filters and one test digit's 32 feature maps.

Options:
  --data DIR         folder with the four MNIST IDX files (default: $LAMINA_MNIST_DIR,
                     else the repository's data/mnist; fetch them with data/fetch_mnist.sh)
  --epochs N         passes over the training data (default 15)
  --batch-size N     samples per Adam step (default 128)
  --seed N           seed of the initial weights, the shuffling and the dropout (default 1)
  --threads N        threads per batch, 0 for all cores (default 0)
  --out FILE         PNG of the first layer's 32 filters (default conv_filters.png)
  --maps FILE        PNG of the first test digit's 32 feature maps after the first layer
                     (default feature_maps.png)
  --batch-norm       each Conv2D followed by BatchNormalization, then its ReLU (the
                     Conv2D without bias); not in Keras's example
  --verbose 0|1|2    0 silent, 1 progress bar (a line per epoch off a terminal), 2 a line per epoch
  -h, --help         this text
)";

struct Args {
    std::filesystem::path data = mnist::default_directory(LAMINA_SOURCE_DIR "/data/mnist");
    long epochs = 15;
    long batch_size = 128;
    unsigned long long seed = 1;
    long threads = 0;
    std::filesystem::path out = "conv_filters.png";
    std::filesystem::path maps = "feature_maps.png";
    long verbose = 1;
    bool batch_norm = false;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "mnist_cnn: " << message << "\nTry 'mnist_cnn --help'.\n";
    std::exit(2);
}

// A whole number of `flag` in [low, high], or a usage error that says what was found.
template <class T>
T whole_number(std::string_view flag, std::string_view text, T low, T high) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < low || value > high)
        usage_error(std::string(flag) + " expects a whole number from " + std::to_string(low) + " to " +
                    std::to_string(high) + ", found '" + std::string(text) + "'");
    return value;
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--batch-norm") {
            a.batch_norm = true;
            continue;
        }
        if (flag == "-h" || flag == "--help") {
            std::cout << usage_text;
            std::exit(0);
        }
        if (i + 1 >= argc)
            usage_error(std::string(flag.starts_with("-") ? "" : "unknown argument ") + std::string(flag) +
                        (flag.starts_with("-") ? " needs a value" : ""));
        const std::string_view value = argv[++i];
        if (flag == "--data") a.data = value;
        else if (flag == "--epochs") a.epochs = whole_number<long>(flag, value, 0, 100000);
        else if (flag == "--batch-size") a.batch_size = whole_number<long>(flag, value, 1, 1 << 20);
        else if (flag == "--seed") a.seed = whole_number<unsigned long long>(flag, value, 0, ~0ull);
        else if (flag == "--threads") a.threads = whole_number<long>(flag, value, 0, 256);
        else if (flag == "--out") a.out = value;
        else if (flag == "--maps") a.maps = value;
        else if (flag == "--verbose") a.verbose = whole_number<long>(flag, value, 0, 2);
        else usage_error("unknown option " + std::string(flag));
    }
    // The pictures' folders must exist before training, not after it.
    for (const auto* path : {&a.out, &a.maps}) {
        const auto folder = path->has_parent_path() ? path->parent_path() : std::filesystem::path(".");
        if (!std::filesystem::is_directory(folder)) usage_error("the folder of " + path->string() + " does not exist");
        if (std::filesystem::is_directory(*path)) usage_error(path->string() + " is a folder; give a file name");
    }
    return a;
}

// The peak resident memory of this process in MiB (0 where the system does not say).
double peak_memory_mib() {
#if defined(__unix__) || defined(__APPLE__)
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
#if defined(__APPLE__)
    return double(usage.ru_maxrss) / (1024.0 * 1024.0);  // bytes
#else
    return double(usage.ru_maxrss) / 1024.0;  // KiB
#endif
#else
    return 0;
#endif
}

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    try {
        const auto data = mnist::load_data(args.data);
        // Pixels scaled to [0, 1] as the Keras example does; labels one-hot.
        const lamina::Matrix<float> x_train = mnist::to_matrix<float>(data.train.images);
        const lamina::Matrix<float> x_test = mnist::to_matrix<float>(data.test.images);
        const auto y_train = lamina::to_categorical<float>(data.train.labels, mnist::num_classes);
        const auto y_test = lamina::to_categorical<float>(data.test.labels, mnist::num_classes);

        lamina::Sequential<float> model = lamina_example::keras_convnet(args.seed, args.batch_norm);
        const int threads = args.threads > 0 ? int(args.threads)
                                             : int(std::max(1u, std::thread::hardware_concurrency()));
        if (args.verbose > 0) {
            model.summary();
            std::printf("Kernels: %s\n", lamina::kernel_description().c_str());
        }

        const auto start = std::chrono::steady_clock::now();
        model.fit(x_train, y_train,
                  {.batch_size = args.batch_size,
                   .epochs = args.epochs,
                   .verbose = int(args.verbose),
                   .seed = args.seed,
                   .threads = threads});
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const auto score = model.evaluate(x_test, y_test, {.threads = threads});

        std::printf("Test loss: %.4f\n", score.loss);
        std::printf("Test accuracy: %.4f\n", score.accuracy);
        std::printf("Training time: %.2f s for %ld epochs (%.2f s per epoch, %d thread%s)\n", seconds, args.epochs,
                    args.epochs > 0 ? seconds / double(args.epochs) : 0.0, threads, threads == 1 ? "" : "s");
        std::printf("Peak memory: %.0f MiB\n", peak_memory_mib());

        // The first layer's kernel (3, 3, 1, 32) as 9 x 32: each column one filter's 3 x 3 tile.
        const auto kernel = model.layer(0).get_weights()[0];
        lamina::save_weight_grid(args.out, kernel, {.tile_height = 3, .tile_width = 3, .scale = 24, .cols = 8});
        // The first test digit through the layers before the first pooling (the convolution
        // and its ReLU; with --batch-norm, the normalization between them): (26, 26, 32), read as
        // 676 positions x 32 filters, each column one 26 x 26 map.
        lamina::Matrix<float> maps = x_test.topRows(1);
        for (lamina::Index i = 0; model.layer(i).kind() != "MaxPooling2D"; ++i) {
            lamina::Matrix<float> next(1, model.layer(i).output_dim());
            model.layer(i).forward(maps, next);
            maps.swap(next);
        }
        const Eigen::Map<const lamina::Matrix<float>> by_position(maps.data(), 26 * 26, 32);
        lamina::save_weight_grid(args.maps, by_position, {.tile_height = 26, .tile_width = 26, .scale = 3, .cols = 8});
        std::printf("Saved the first layer's filters to %s and the first test digit's feature maps to %s\n",
                    args.out.string().c_str(), args.maps.string().c_str());
    } catch (const std::exception& e) {
        std::cerr << "mnist_cnn: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
