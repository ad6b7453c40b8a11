// SPDX-License-Identifier: MIT
// lamina benchmark: the seed network's training and inference speed, beside a naive Eigen loop and the FMA peak.
//
// Prints a table: seconds per epoch (median over the timed epochs, after a warm-up epoch),
// samples per second, GFLOP/s counted as the dense products' FLOPs (19.27 GFLOP per epoch)
// and their ratio to the FMA peak measured in the same run; at 1 and 2 threads; for raw pixels
// given as bytes (uint8, as MNIST's files hold them and the example feeds them: each batch is
// converted as it is gathered), raw pixels given as floats, and scaled floats; then the same
// for a MiniDNN-style Eigen loop (Eigen products with temporaries, no subnormal flushing,
// Eigen's OpenMP threads), and inference times. A lamina row on 2 threads says which share of
// the timed batches fit gave one thread, having found it faster than the team at the time
// (History::alone), e.g. "2 (40% on 1)".
#include <lamina/datasets/mnist.hpp>
#include <lamina/lamina.hpp>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fma_peak.hpp"
#if defined(_OPENMP)
#include <omp.h>
#endif

#ifndef LAMINA_SOURCE_DIR
#define LAMINA_SOURCE_DIR "."
#endif

namespace {

using Clock = std::chrono::steady_clock;
using M = lamina::Matrix<float>;
using lamina::Index;
namespace mnist = lamina::datasets::mnist;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const auto n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// FLOPs of one epoch of the 784-100-10 network over n samples in batches of `batch`:
// forward x W1, h W2; backward x^T dA1, h^T dZ, dZ W2^T (the first layer needs no input
// gradient); the SGD update.
double epoch_flops(double n, double batch) {
    const double fwd = 2 * n * (784 * 100 + 100 * 10);
    const double bwd = 2 * n * (784 * 100 + 100 * 10 + 10 * 100);
    const double update = 2 * 79510 * std::ceil(n / batch);
    return fwd + bwd + update;
}

// What each configuration measured.
struct Row {
    std::string system, input;
    int threads;
    double seconds;    // median per epoch
    double accuracy;   // training accuracy of the last timed epoch
    double alone = 0;  // lamina: the timed batches fit gave one thread, faster then than the team
};

// lamina: the seed recipe, as the example trains it: one fit of warm-up + `epochs` epochs,
// each epoch's wall time as fit measures it (History::seconds). The checks fit makes once
// per call (finite inputs, one-hot targets: about 7 ms for MNIST) are outside the epochs.
template <class X>
Row time_lamina(const X& x, const M& y, const char* input, int threads, int epochs) {
    lamina::Sequential<float> model{lamina::Dense(100, {.input_dim = 784}), lamina::Activation("sigmoid"),
                                    lamina::Dense(10), lamina::Activation("softmax")};
    model.initialize(1);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.01});
    const auto h = model.fit(
        x, y, {.batch_size = 100, .epochs = epochs + 1, .verbose = 0, .seed = std::uint64_t(1), .threads = threads});
    const std::vector<double> times(h.seconds.begin() + 1, h.seconds.end());  // epoch 0 warms up
    const double accuracy = h.accuracy.back();
    double alone = 0;
    for (std::size_t e = 1; e < h.alone.size(); ++e) alone += h.alone[e] / double(epochs);
    return {"lamina", input, threads, median(times), accuracy, alone};
}

// The naive loop: what a plain Eigen implementation does (MiniDNN-style): every step in
// Eigen expressions with temporaries, no subnormal flushing, threads only through Eigen's
// OpenMP products. Byte inputs are converted to float as each batch is gathered.
template <class X>
Row time_naive(const X& x, const M& y, const char* input, int threads, int epochs) {
#if defined(_OPENMP)
    Eigen::setNbThreads(threads);
#else
    if (threads > 1) return {"naive Eigen loop", input, threads, 0, 0};
#endif
    lamina::Random rng(1);
    const auto glorot = [&](Index in, Index out) {
        const double limit = std::sqrt(6.0 / double(in + out));
        M w(in, out);
        for (Index i = 0; i < w.size(); ++i) w.data()[i] = float(rng.uniform(-limit, limit));
        return w;
    };
    M w1 = glorot(784, 100), w2 = glorot(100, 10);
    Eigen::RowVectorXf b1 = Eigen::RowVectorXf::Zero(100), b2 = Eigen::RowVectorXf::Zero(10);
    const float lr = 0.01f;
    const Index n = x.rows(), batch = 100;
    std::vector<Index> order;
    std::vector<double> times;
    double accuracy = 0;
    for (int e = 0; e <= epochs; ++e) {
        const auto start = Clock::now();
        rng.permutation(order, n);
        Index correct = 0;
        for (Index s = 0; s < n; s += batch) {
            const Index rows = std::min(batch, n - s);
            M xb(rows, 784), yb(rows, 10);
            for (Index r = 0; r < rows; ++r) {
                xb.row(r) = x.row(order[std::size_t(s + r)]).template cast<float>();
                yb.row(r) = y.row(order[std::size_t(s + r)]);
            }
            M h = ((xb * w1).rowwise() + b1).array().unaryExpr([](float v) { return 1.0f / (1.0f + std::exp(-v)); });
            M z = (h * w2).rowwise() + b2;
            M p = (z.colwise() - z.rowwise().maxCoeff()).array().exp();
            p = p.array().colwise() / p.rowwise().sum().array();
            for (Index r = 0; r < rows; ++r) {
                Index a, b;
                p.row(r).maxCoeff(&a);
                yb.row(r).maxCoeff(&b);
                correct += a == b;
            }
            M dz = (p - yb) / float(rows);
            M dw2 = h.transpose() * dz;
            M dh = (dz * w2.transpose()).array() * h.array() * (1.0f - h.array());
            M dw1 = xb.transpose() * dh;
            w2 -= lr * dw2;
            b2 -= lr * dz.colwise().sum();
            w1 -= lr * dw1;
            b1 -= lr * dh.colwise().sum();
        }
        if (e > 0) times.push_back(seconds_since(start));
        accuracy = double(correct) / double(n);
    }
#if defined(_OPENMP)
    Eigen::setNbThreads(1);
#endif
    return {"naive Eigen loop", input, threads, median(times), accuracy};
}

// Inference: 10,000 images in one predict call, and one image at a time into a buffer.
template <class X>
void time_inference(const X& x_test, const char* input, int threads) {
    lamina::Sequential<float> model{lamina::Dense(100, {.input_dim = 784}), lamina::Activation("sigmoid"),
                                    lamina::Dense(10), lamina::Activation("softmax")};
    model.initialize(1);
    M out(x_test.rows(), 10);
    std::vector<double> many, one;
    for (int rep = 0; rep < 12; ++rep) {
        const auto start = Clock::now();
        model.predict(x_test, out, {.batch_size = 1024, .threads = threads});
        if (rep > 1) many.push_back(seconds_since(start));
    }
    M single(1, 10);
    for (int rep = 0; rep < 12; ++rep) {
        const int count = 2000;
        const auto start = Clock::now();
        for (int i = 0; i < count; ++i) model.predict(x_test.middleRows(i, 1), single, {.threads = threads});
        if (rep > 1) one.push_back(seconds_since(start) / count);
    }
    std::printf("| predict, %d %s images, %d thread%s | %.2f ms | %.0f images/s |\n", int(x_test.rows()), input,
                threads, threads == 1 ? "" : "s", median(many) * 1e3, double(x_test.rows()) / median(many));
    if (threads == 1)
        std::printf("| predict, 1 %s image into a buffer | %.2f us | %.0f images/s |\n", input, median(one) * 1e6,
                    1.0 / median(one));
}

}  // namespace

int main(int argc, char** argv) {
    int epochs = 5;
    bool with_naive = true;
    int only_threads = 0;    // 0: 1 and 2
    std::string only_input;  // empty: bytes, raw and scaled
    std::string dir = mnist::default_directory(LAMINA_SOURCE_DIR "/data/mnist").string();
    bool synthetic = false;  // --synthetic: random images of MNIST's shape instead of the files
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--epochs" && i + 1 < argc) epochs = std::max(1, std::atoi(argv[++i]));
        else if (a == "--data" && i + 1 < argc) dir = argv[++i];
        else if (a == "--no-naive") with_naive = false;
        else if (a == "--synthetic") synthetic = true;
        else if (a == "--only-threads" && i + 1 < argc) only_threads = std::max(1, std::atoi(argv[++i]));
        else if (a == "--only-input" && i + 1 < argc) only_input = argv[++i];
        else if (a == "--isa") {  // the best instruction set of this CPU among lamina's kernels'
            std::printf("%s\n", std::string(lamina::isa_name(lamina::cpu_isa())).c_str());
            return 0;
        } else {
            std::printf("usage: train_benchmark [--epochs N (timed, default 5)] [--data DIR] [--no-naive]\n"
                        "                       [--only-threads N] [--only-input bytes|raw|scaled] [--isa]\n"
                        "                       [--synthetic (random images of MNIST's shape, marked so in\n"
                        "                       every result line; without it the MNIST files must be there)]\n");
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
#if defined(_OPENMP)
    Eigen::setNbThreads(1);
#endif

    lamina::ByteMatrix x_bytes, x_test_bytes;
    M y;
    std::string source;
    if (!synthetic) {
        // Timings of other data are not the seed recipe's: no silent stand-in.
        try {
            auto data = mnist::load_data(dir);
            x_bytes = std::move(data.train.images);
            x_test_bytes = std::move(data.test.images);
            y = lamina::to_categorical(data.train.labels, 10);
            source = "real MNIST from " + dir;
        } catch (const lamina::io_error& e) {
            std::fprintf(stderr,
                         "train_benchmark: %s\nIt times the seed recipe on MNIST; --synthetic times random images "
                         "of MNIST's shape instead, marked so in every result line.\n",
                         e.what());
            return 1;
        }
    } else {
        // Same shape and about the same sparsity as MNIST: 81% zero pixels, the rest 1-255.
        lamina::Random rng(7);
        x_bytes.resize(60000, 784);
        x_test_bytes.resize(10000, 784);
        for (auto* m : {&x_bytes, &x_test_bytes})
            for (Index i = 0; i < m->size(); ++i)
                m->data()[i] = rng.uniform01() < 0.81 ? 0 : std::uint8_t(1 + rng.below(255));
        std::vector<int> labels(60000);
        for (auto& l : labels) l = int(rng.below(10));
        y = lamina::to_categorical(labels, 10);
        source = "SYNTHETIC data (--synthetic): random sparse images of MNIST's shape, not MNIST";
    }
    const M x_raw = x_bytes.cast<float>(), x_test_raw = x_test_bytes.cast<float>();
    const M x_scaled = x_raw / 255.0f;

    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const double peak1 = lamina::bench::fma_peak_gflops(1), peak2 = lamina::bench::fma_peak_gflops(2);
    const double flops = epoch_flops(double(x_raw.rows()), 100);
    std::printf("lamina benchmark: 784-100-10 sigmoid/softmax, SGD lr 0.01, batch 100, %d timed epochs each\n", epochs);
    std::printf("data: %s\n", source.c_str());
    std::printf("kernels: %s; Eigen: %s\n", lamina::kernel_description().c_str(), Eigen::SimdInstructionSetsInUse());
    std::printf("machine: %u hardware threads; FMA peak measured now: %.1f GFLOP/s on 1 thread, %.1f on 2\n", cores,
                peak1, peak2);
    std::printf("one epoch = %.2f GFLOP of dense products (lamina skips zero inputs, so it executes fewer)\n\n",
                flops / 1e9);

    std::vector<int> thread_counts{1, 2};
    if (only_threads > 0) thread_counts = {only_threads};
    std::vector<Row> rows;
    // Each input: its --only-input name, its label, and the timing of one system on it.
    const auto run = [&](const char* key, const char* label, const auto& x) {
        if (!only_input.empty() && only_input != key) return;
        for (int threads : thread_counts) rows.push_back(time_lamina(x, y, label, threads, epochs));
        if (with_naive)
            for (int threads : thread_counts) rows.push_back(time_naive(x, y, label, threads, epochs));
    };
    run("bytes", synthetic ? "SYNTHETIC raw 0-255, uint8" : "raw 0-255, uint8", x_bytes);
    run("raw", synthetic ? "SYNTHETIC raw 0-255, float" : "raw 0-255, float", x_raw);
    run("scaled", synthetic ? "SYNTHETIC scaled 0-1, float" : "scaled 0-1, float", x_scaled);

    std::printf("| system | input | threads | s/epoch (median) | samples/s | GFLOP/s | %% of FMA peak | vs naive |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    for (const auto& r : rows) {
        if (r.seconds == 0) continue;
        const double gflops = flops / r.seconds / 1e9;
        const double peak = r.threads == 1 ? peak1 : peak2;
        double naive = 0;
        for (const auto& o : rows)
            if (o.system != r.system && o.input == r.input && o.threads == r.threads) naive = o.seconds;
        char ratio[32] = "";
        if (r.system == "lamina" && naive > 0) std::snprintf(ratio, sizeof ratio, "%.1fx faster", naive / r.seconds);
        char threads[32];
        if (r.alone > 0) std::snprintf(threads, sizeof threads, "%d (%.0f%% on 1)", r.threads, 100 * r.alone);
        else std::snprintf(threads, sizeof threads, "%d", r.threads);
        std::printf("| %s | %s | %s | %.3f | %.0f | %.1f | %.0f%% | %s |\n", r.system.c_str(), r.input.c_str(), threads,
                    r.seconds, double(x_raw.rows()) / r.seconds, gflops, peak > 0 ? 100 * gflops / peak : 0.0, ratio);
    }
    std::printf("\n| inference | time | rate |\n|---|---|---|\n");
    for (int threads : thread_counts) {
        time_inference(x_test_bytes, synthetic ? "SYNTHETIC uint8" : "uint8", threads);
        time_inference(x_test_raw, synthetic ? "SYNTHETIC float" : "float", threads);
    }
    return 0;
}
