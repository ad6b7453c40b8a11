// SPDX-License-Identifier: MIT
// lamina tests: the MNIST loader on small fake datasets, its errors, and the real files when present.
#include <lamina/datasets/mnist.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "idx_files.hpp"

namespace mnist = lamina::datasets::mnist;
using namespace lamina::test;

namespace {

/// The pixel a fake dataset puts at (image, position).
std::uint8_t fake_pixel(std::size_t image, std::size_t position) { return std::uint8_t((image * 7 + position) % 256); }

Bytes fake_images(std::uint32_t n) {
    std::vector<std::uint8_t> pixels(std::size_t(n) * 784);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = fake_pixel(i / 784, i % 784);
    return idx_file<std::uint8_t>({n, 28, 28}, pixels);
}

Bytes fake_labels(std::uint32_t n) {
    std::vector<std::uint8_t> labels(n);
    for (std::uint32_t i = 0; i < n; ++i) labels[i] = std::uint8_t((3 * i + 1) % 10);
    return idx_file<std::uint8_t>({n}, labels);
}

/// Writes the four files of a fake MNIST with 3 training and 2 test images.
/// `sep` is "-" or "." (the two spellings), `write` writes one file (plain or gzip).
template <class Write>
void write_fake_mnist(const std::filesystem::path& dir, const char* sep, const char* suffix, Write write) {
    write(dir / (std::string("train-images") + sep + "idx3-ubyte" + suffix), fake_images(3));
    write(dir / (std::string("train-labels") + sep + "idx1-ubyte" + suffix), fake_labels(3));
    write(dir / (std::string("t10k-images") + sep + "idx3-ubyte" + suffix), fake_images(2));
    write(dir / (std::string("t10k-labels") + sep + "idx1-ubyte" + suffix), fake_labels(2));
}

void check_fake_split(const mnist::Split& split, lamina::Index n) {
    REQUIRE(split.images.rows() == n);
    REQUIRE(split.images.cols() == 784);
    REQUIRE(split.labels.size() == n);
    for (lamina::Index i = 0; i < n; ++i) {
        CHECK(split.labels(i) == (3 * i + 1) % 10);
        for (lamina::Index p : {0, 1, 27, 28, 500, 783}) CHECK(split.images(i, p) == fake_pixel(i, p));
    }
}

/// Runs `load` expecting an io_error whose message holds each of `words`.
template <class Load>
void require_io_error(Load&& load, std::initializer_list<std::string> words) {
    try {
        load();
        FAIL("no io_error");
    } catch (const lamina::io_error& e) {
        const std::string message = e.what();
        INFO(message);
        for (const auto& w : words) CHECK(message.find(w) != std::string::npos);
    }
}

/// Sets an environment variable for the lifetime of the object, then restores it.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        value ? ::setenv(name, value, 1) : ::unsetenv(name);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
    ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("MNIST load_data reads both splits of a folder in either file-name spelling", "[mnist]") {
    const char* sep = GENERATE("-", ".");
    TempDir dir;
    write_fake_mnist(dir.path(), sep, "", write_file);
    auto [train, test] = mnist::load_data(dir.path());
    check_fake_split(train, 3);
    check_fake_split(test, 2);
}

#if defined(LAMINA_HAVE_ZLIB)
TEST_CASE("MNIST load_data reads gzip-compressed files ending in .gz", "[mnist][gzip]") {
    TempDir dir;
    write_fake_mnist(dir.path(), "-", ".gz", write_gzip);
    auto [train, test] = mnist::load_data(dir.path());
    check_fake_split(train, 3);
    check_fake_split(test, 2);
}
#endif

TEST_CASE("MNIST to_matrix turns images into a Matrix, scaled to [0, 1] or not", "[mnist]") {
    mnist::Images images(2, 784);
    images.setZero();
    images(0, 0) = 255;
    images(1, 783) = 51;
    const lamina::Matrix<float> scaled = mnist::to_matrix<float>(images);
    const lamina::Matrix<double> raw = mnist::to_matrix<double>(images, {.scale = false});
    REQUIRE(scaled.rows() == 2);
    REQUIRE(scaled.cols() == 784);
    CHECK(scaled(0, 0) == 1.0f);
    CHECK(scaled(1, 783) == Approx(0.2f));
    CHECK(scaled(0, 1) == 0.0f);
    CHECK(raw(0, 0) == 255.0);
    CHECK(raw(1, 783) == 51.0);
    CHECK(mnist::to_matrix<double>(images, {.scale = true})(0, 0) == 1.0);
}

TEST_CASE("MNIST default_directory prefers LAMINA_MNIST_DIR to the caller's fallback", "[mnist]") {
    {
        ScopedEnv env("LAMINA_MNIST_DIR", "/somewhere/mnist");
        CHECK(mnist::default_directory("/repo/data/mnist") == "/somewhere/mnist");
    }
    {
        ScopedEnv env("LAMINA_MNIST_DIR", "");
        CHECK(mnist::default_directory("/repo/data/mnist") == "/repo/data/mnist");
    }
    {
        ScopedEnv env("LAMINA_MNIST_DIR", nullptr);
        CHECK(mnist::default_directory("/repo/data/mnist") == "/repo/data/mnist");
        CHECK(mnist::default_directory() == "data/mnist");
    }
}

TEST_CASE("MNIST load_data reports missing and malformed files by name", "[mnist][errors]") {
    TempDir dir;
    write_fake_mnist(dir.path(), "-", "", write_file);
    const auto file = [&](const char* name) { return (dir / name).string(); };
    auto load = [&] { mnist::load_data(dir.path()); };

    SECTION("a missing file: the names tried and the fetch script") {
        std::filesystem::remove(dir / "t10k-labels-idx1-ubyte");
        require_io_error(load, {file("t10k-labels-idx1-ubyte"), "not found",
                                "t10k-labels-idx1-ubyte, t10k-labels.idx1-ubyte, t10k-labels-idx1-ubyte.gz, "
                                "t10k-labels.idx1-ubyte.gz",
                                "data/fetch_mnist.sh"});
    }
    SECTION("images and labels of different counts") {
        write_file(dir / "train-labels-idx1-ubyte", fake_labels(4));
        require_io_error(load, {file("train-labels-idx1-ubyte"), "holds 4 labels", file("train-images-idx3-ubyte"),
                                "holds 3 images"});
    }
    SECTION("a label outside 0-9") {
        write_file(dir / "t10k-labels-idx1-ubyte", idx_file<std::uint8_t>({2}, {4, 12}));
        require_io_error(load, {file("t10k-labels-idx1-ubyte"), "label 12 at index 1", "outside 0-9"});
    }
    SECTION("images that are not 28 x 28") {
        write_file(dir / "train-images-idx3-ubyte",
                   idx_file<std::uint8_t>({3, 28, 27}, std::vector<std::uint8_t>(3 * 28 * 27)));
        require_io_error(load, {file("train-images-idx3-ubyte"), "N x 28 x 28", "found 3 x 28 x 27"});
    }
    SECTION("images that are not rank 3") {
        write_file(dir / "train-images-idx3-ubyte",
                   idx_file<std::uint8_t>({3, 784}, std::vector<std::uint8_t>(3 * 784)));
        require_io_error(load, {file("train-images-idx3-ubyte"), "rank 3", "found 3 x 784"});
    }
    SECTION("labels that are not rank 1") {
        write_file(dir / "train-labels-idx1-ubyte", idx_file<std::uint8_t>({3, 1}, {1, 2, 3}));
        require_io_error(load, {file("train-labels-idx1-ubyte"), "rank 1", "found 3 x 1"});
    }
    SECTION("images of the wrong type code") {
        write_file(dir / "t10k-images-idx3-ubyte", idx_file<float>({2, 28, 28}, std::vector<float>(2 * 784)));
        require_io_error(load, {file("t10k-images-idx3-ubyte"), "unsigned byte (0x08)", "float (0x0D)"});
    }
    SECTION("labels of the wrong type code") {
        write_file(dir / "train-labels-idx1-ubyte", idx_file<std::int16_t>({3}, {1, 2, 3}));
        require_io_error(load, {file("train-labels-idx1-ubyte"), "unsigned byte (0x08)", "short (0x0B)"});
    }
    SECTION("a file that is not IDX at all") {
        write_file(dir / "train-images-idx3-ubyte", {'<', 'h', 't', 'm', 'l', '>'});
        require_io_error(load, {file("train-images-idx3-ubyte"), "wrong magic number 0x3C68746D"});
    }
}

TEST_CASE("MNIST load_data reads the real dataset with its known label counts", "[mnist-real]") {
    const auto dir = mnist::default_directory(LAMINA_SOURCE_DIR "/data/mnist");
    bool present = false;
    for (const char* name : {"train-images-idx3-ubyte", "train-images.idx3-ubyte", "train-images-idx3-ubyte.gz"})
        present = present || std::filesystem::exists(dir / name);
    if (!present) {
        WARN("skipped: no MNIST files in " << dir << "; run data/fetch_mnist.sh or set LAMINA_MNIST_DIR");
        return;
    }
    auto [train, test] = mnist::load_data(dir);
    REQUIRE(train.images.rows() == 60000);
    REQUIRE(train.images.cols() == 28 * 28);
    REQUIRE(test.images.rows() == 10000);
    REQUIRE(test.images.cols() == 28 * 28);

    auto counts = [](const mnist::Labels& labels) {
        std::array<int, 10> c{};
        for (auto label : labels) ++c[label];
        return c;
    };
    CHECK(counts(train.labels) == std::array<int, 10>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
    CHECK(counts(test.labels) == std::array<int, 10>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
    // The first training image is a 5 whose pixels use the full 0-255 range.
    CHECK(train.labels(0) == 5);
    CHECK(train.images.row(0).maxCoeff() == 255);
    CHECK(train.images.row(0).minCoeff() == 0);
}
