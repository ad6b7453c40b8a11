// SPDX-License-Identifier: MIT
// lamina benchmark: time to load MNIST with load_data against reading the four files' raw bytes.
//
// Usage: mnist_load [folder]   (default: $LAMINA_MNIST_DIR, else the repository's data/mnist)
// Prints the median of 5 runs of each. The files are in the page cache after the first run,
// so both rows measure the work done in memory, not the disk.
#include <lamina/datasets/mnist.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <vector>

#ifndef LAMINA_SOURCE_DIR
#define LAMINA_SOURCE_DIR "."
#endif

namespace mnist = lamina::datasets::mnist;

namespace {

/// Median wall time in milliseconds of `runs` calls of `f`.
double median_ms(const std::function<void()>& f, int runs = 5) {
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
        const auto start = std::chrono::steady_clock::now();
        f();
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(times.begin(), times.begin() + runs / 2, times.end());
    return times[std::size_t(runs / 2)];
}

/// Reads a whole file into memory, as the lower bound any loader has to pay.
std::size_t read_raw(const std::filesystem::path& file) {
    std::vector<char> bytes(std::filesystem::file_size(file));
    std::FILE* f = std::fopen(file.string().c_str(), "rb");
    if (f == nullptr) throw lamina::io_error("cannot open " + file.string());
    const std::size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    return got;
}

}  // namespace

int main(int argc, char** argv) try {
    const std::filesystem::path dir = argc > 1 ? std::filesystem::path(argv[1])
                                               : mnist::default_directory(LAMINA_SOURCE_DIR "/data/mnist");
    const char* names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"};
    std::size_t total = 0;
    for (const char* name : names) total += std::filesystem::file_size(dir / name);

    std::size_t sink = 0;
    const double raw = median_ms([&] {
        for (const char* name : names) sink += read_raw(dir / name);
    });
    const double load = median_ms([&] {
        auto [train, test] = mnist::load_data(dir);
        sink += std::size_t(train.images.rows() + test.images.rows());
    });

    std::printf("MNIST load time from %s (%.1f MB, median of 5)\n", dir.string().c_str(), double(total) / 1e6);
    std::printf("%-34s %10s %10s\n", "what", "ms", "MB/s");
    std::printf("%-34s %10.1f %10.0f\n", "read the raw bytes of the 4 files", raw, double(total) / 1e3 / raw);
    std::printf("%-34s %10.1f %10.0f\n", "mnist::load_data", load, double(total) / 1e3 / load);
    std::printf("(load_data / raw read: %.2fx; checksum %zu)\n", load / raw, sink);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_load: %s\n", e.what());
    return 1;
}
