// SPDX-License-Identifier: MIT
// lamina benchmark: Keras's MNIST convnet, its training epoch and the test set's inference, at 1 and 2 threads.
//
// Prints a table: seconds per epoch of the mnist_cnn example's network (Adam, batch 128,
// pixels scaled to [0, 1]) over the real MNIST training images, after a warm-up of a few
// batches; samples per second; GFLOP/s counted as the convolutions' and the Dense layer's
// products (forward, weight gradient, and the input gradient of every layer but the first)
// and their ratio to the FMA peak measured in the same run; and the time to predict the
// 10,000 test images. Without the MNIST files it fails (data/fetch_mnist.sh brings them).
// Usage: cnn_benchmark [--data DIR] [--epochs N] [--samples N] [--threads N[,N...]]
#include <lamina/datasets/mnist.hpp>
#include <lamina/lamina.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fma_peak.hpp"
#include "keras_convnet.hpp"  // from examples/

#ifndef LAMINA_SOURCE_DIR
#define LAMINA_SOURCE_DIR "."
#endif

namespace {

using Clock = std::chrono::steady_clock;
using M = lamina::Matrix<float>;
using lamina::Index;
namespace mnist = lamina::datasets::mnist;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The mnist_cnn example's network, with its default seed.
lamina::Sequential<float> keras_convnet() { return lamina_example::keras_convnet(1); }

// Multiply-adds of one sample's forward pass through layer `layer`: a Conv2D's output
// positions times its kernel's size, a Dense layer's kernel size; 0 for the others.
double forward_macs(const lamina::Layer<float>& layer) {
    if (layer.kind() != "Conv2D" && layer.kind() != "Dense") return 0;
    const auto& kernel = layer.weight_specs()[0].shape;
    const double positions = layer.kind() == "Conv2D" ? double(layer.output_dim() / kernel.back()) : 1.0;
    return positions * double(kernel.size());
}

// FLOPs of one training sample: each product forward, its weight gradient, and the input
// gradient of every layer but the first.
double training_flops(const lamina::Sequential<float>& model) {
    double flops = 0;
    for (Index i = 0; i < model.size(); ++i) flops += 2 * forward_macs(model.layer(i)) * (i == 0 ? 2 : 3);
    return flops;
}

std::vector<int> parse_threads(std::string_view text) {
    std::vector<int> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const std::string_view item = text.substr(0, comma);
        int t = 0;
        const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), t);
        if (ec != std::errc() || end != item.data() + item.size() || t < 1 || t > 256) {
            std::fprintf(stderr, "cnn_benchmark: --threads expects counts from 1 to 256 such as 1,2, found '%s'\n",
                         std::string(item).c_str());
            std::exit(2);
        }
        out.push_back(t);
        text = comma == std::string_view::npos ? "" : text.substr(comma + 1);
    }
    return out;
}

long parse_count(const char* flag, const char* text, long high) {
    long v = 0;
    const std::string_view s(text);
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > high) {
        std::fprintf(stderr, "cnn_benchmark: %s expects a whole number from 1 to %ld, found '%s'\n", flag, high, text);
        std::exit(2);
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::string data_dir = mnist::default_directory(LAMINA_SOURCE_DIR "/data/mnist").string();
    long epochs = 1, samples = 60000;
    std::vector<int> threads_list{1, 2};
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view flag = argv[i];
        if (flag == "--data") data_dir = argv[i + 1];
        else if (flag == "--epochs") epochs = parse_count("--epochs", argv[i + 1], 1000);
        else if (flag == "--samples") samples = parse_count("--samples", argv[i + 1], 60000);
        else if (flag == "--threads") threads_list = parse_threads(argv[i + 1]);
        else {
            std::fprintf(stderr, "cnn_benchmark: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc % 2 == 0) {
        std::fprintf(stderr, "cnn_benchmark: %s needs a value\n", argv[argc - 1]);
        return 2;
    }

    mnist::Dataset data;
    try {
        data = mnist::load_data(data_dir);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "cnn_benchmark: needs the real MNIST files (run data/fetch_mnist.sh): %s\n", e.what());
        return 1;
    }
    const M x = mnist::to_matrix<float>(data.train.images).topRows(samples);
    const M y = lamina::to_categorical<float>(data.train.labels, 10).topRows(samples);
    const M x_test = mnist::to_matrix<float>(data.test.images);

    const double flops = training_flops(keras_convnet()) * double(samples);
    const double peak1 = lamina::bench::fma_peak_gflops(1), peak2 = lamina::bench::fma_peak_gflops(2);
    std::printf("lamina %s; kernels: %s\n", "Keras MNIST convnet (34,826 parameters), Adam, batch 128",
                lamina::kernel_description().c_str());
    std::printf("FMA peak measured now: %.1f GFLOP/s on 1 thread, %.1f on 2; one epoch of %ld samples: %.1f GFLOP\n",
                peak1, peak2, samples, flops / 1e9);
    std::printf(
        "\n| threads | s/epoch | samples/s | GFLOP/s | %% of FMA peak | predict 10,000 (s) | train accuracy |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    for (const int threads : threads_list) {
        auto model = keras_convnet();
        // Warm-up: the first batches size the buffers and start the threads.
        model.fit(x.topRows(std::min<Index>(1280, x.rows())), y.topRows(std::min<Index>(1280, y.rows())),
                  {.batch_size = 128, .epochs = 1, .verbose = 0, .seed = 1, .threads = threads});
        const auto start = Clock::now();
        const auto history =
            model.fit(x, y, {.batch_size = 128, .epochs = epochs, .verbose = 0, .seed = 2, .threads = threads});
        const double per_epoch = seconds_since(start) / double(epochs);
        (void)model.predict(x_test.topRows(256), {.threads = threads});  // warm-up
        const auto predict_start = Clock::now();
        const M out = model.predict(x_test, {.threads = threads});
        const double predict_seconds = seconds_since(predict_start);
        const double gflops = flops / per_epoch / 1e9, peak = threads == 1 ? peak1 : peak2;
        std::printf("| %d | %.2f | %.0f | %.1f | %.0f%% | %.3f | %.4f |\n", threads, per_epoch,
                    double(samples) / per_epoch, gflops, peak > 0 && threads <= 2 ? 100 * gflops / peak : 0.0,
                    predict_seconds, history.accuracy.back());
        std::fflush(stdout);
        if (out.rows() != x_test.rows()) return 1;
    }
    return 0;
}
