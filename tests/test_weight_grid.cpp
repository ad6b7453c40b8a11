// SPDX-License-Identifier: MIT
// lamina: tests of the weight-grid renderer and its PNG writer (lamina/viz/weight_grid.hpp).

// Included twice on purpose: the second include must be harmless.
#include <lamina/viz/weight_grid.hpp>
#include <lamina/viz/weight_grid.hpp>

// The viz header must not leak the stb macros it sets into the includer.
#ifdef STB_IMAGE_WRITE_IMPLEMENTATION
#error "lamina/viz/weight_grid.hpp leaked STB_IMAGE_WRITE_IMPLEMENTATION"
#endif
#ifdef STB_IMAGE_WRITE_STATIC
#error "lamina/viz/weight_grid.hpp leaked STB_IMAGE_WRITE_STATIC"
#endif

// stb_image, private to this test file, to read the PNGs back.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wunused-parameter"
#pragma clang diagnostic ignored "-Wsign-compare"
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#pragma clang diagnostic ignored "-Wshadow"
#pragma clang diagnostic ignored "-Wpedantic"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
#include <stb/stb_image.h>
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using lamina::Index;

namespace {

/// A fresh, empty folder under the system temp folder, removed with everything in it.
struct ScratchDir {
    fs::path path;
    ScratchDir() {
        std::random_device rd;
        path = fs::temp_directory_path() /
               ("lamina_test_weight_grid_" + std::to_string(rd()) + "_" + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    [[nodiscard]] std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
        return names;
    }
};

/// A PNG read back as one grey channel.
struct LoadedPng {
    int width = 0;
    int height = 0;
    int channels_in_file = 0;
    std::vector<std::uint8_t> pixels;
    [[nodiscard]] std::uint8_t at(Index row, Index col) const {
        return pixels[static_cast<std::size_t>(row * width + col)];
    }
};

LoadedPng load_png(const fs::path& path) {
    LoadedPng png;
    stbi_uc* data = stbi_load(path.string().c_str(), &png.width, &png.height, &png.channels_in_file, 1);
    REQUIRE(data != nullptr);
    png.pixels.assign(data, data + static_cast<std::size_t>(png.width) * static_cast<std::size_t>(png.height));
    stbi_image_free(data);
    return png;
}

/// Pixels of the h x w rectangle at (top, left) that differ from `value`.
template <class Image>
Index count_not_equal(const Image& img, Index top, Index left, Index h, Index w, std::uint8_t value) {
    Index n = 0;
    for (Index r = top; r < top + h; ++r) {
        for (Index c = left; c < left + w; ++c) n += img.at(r, c) != value ? 1 : 0;
    }
    return n;
}

// 37 is coprime with 784 = 2^4 * 7^2, so for each unit u, i -> (37 i + 11 u) mod 784 is a
// permutation of 0..783: the unit's weights a_u + b_u * k take each k in 0..783 once.
// Its min is at k = 0 and its max at k = 783 when b_u > 0 (the other way round when
// b_u < 0), so the min-max normalised weight is k / 783 (or (783 - k) / 783).
Index permuted(Index i, Index u) { return (37 * i + 11 * u) % 784; }
double offset_of(Index u) { return static_cast<double>(u) - 50.0; }
double slope_of(Index u) { return (u % 3 == 0 ? -1.0 : 1.0) * (0.5 + 0.01 * static_cast<double>(u)); }

template <class S>
lamina::Matrix<S> permutation_kernel(Index units) {
    lamina::Matrix<S> k(784, units);
    for (Index u = 0; u < units; ++u) {
        for (Index i = 0; i < 784; ++i) {
            k(i, u) = static_cast<S>(offset_of(u) + slope_of(u) * static_cast<double>(permuted(i, u)));
        }
    }
    return k;
}

/// The grey level the test expects for weight i of unit u of permutation_kernel:
/// round(255 * (w - min) / (max - min)) with (w - min) / (max - min) = k / 783.
std::uint8_t expected_permutation_grey(Index i, Index u) {
    const double k = static_cast<double>(permuted(i, u));
    const double t = slope_of(u) > 0 ? k / 783.0 : (783.0 - k) / 783.0;
    return static_cast<std::uint8_t>(std::lround(255.0 * t));
}

}  // namespace

TEST_CASE("weight_grid_layout gives the documented grid and image size", "[viz][weight_grid]") {
    // Defaults: 28 x 28 tiles, 2 px separators, auto scale aiming at >= 600 px wide.
    // width = 2 + cols * (28 * scale + 2), height = 2 + rows * (28 * scale + 2).
    SECTION("100 units: 10 x 10 tiles, scale 3 (2 + 10 * 58 = 582 < 600 <= 862)") {
        const auto g = lamina::weight_grid_layout(100);
        CHECK(g.cols == 10);
        CHECK(g.rows == 10);
        CHECK(g.scale == 3);
        CHECK(g.width == 2 + 10 * (28 * 3 + 2));
        CHECK(g.width == 862);
        CHECK(g.height == 862);
    }
    SECTION("7 units: 3 x 3 grid, scale 8 (2 + 3 * 198 = 596 < 600 <= 680)") {
        const auto g = lamina::weight_grid_layout(7);
        CHECK(g.cols == 3);
        CHECK(g.rows == 3);
        CHECK(g.scale == 8);
        CHECK(g.width == 680);
        CHECK(g.height == 680);
    }
    SECTION("30 units: 6 columns, 5 rows, scale 4 (2 + 6 * 86 = 518 < 600 <= 686)") {
        const auto g = lamina::weight_grid_layout(30);
        CHECK(g.cols == 6);
        CHECK(g.rows == 5);
        CHECK(g.scale == 4);
        CHECK(g.width == 2 + 6 * (28 * 4 + 2));
        CHECK(g.height == 2 + 5 * (28 * 4 + 2));
    }
    SECTION("1 unit: one tile, scale 22 (2 + 590 = 592 < 600 <= 620)") {
        const auto g = lamina::weight_grid_layout(1);
        CHECK(g.cols == 1);
        CHECK(g.rows == 1);
        CHECK(g.scale == 22);
        CHECK(g.width == 620);
    }
    SECTION("2, 5, 10 and 17 units: cols = ceil(sqrt(n)), rows = ceil(n / cols)") {
        CHECK(lamina::weight_grid_layout(2).cols == 2);
        CHECK(lamina::weight_grid_layout(2).rows == 1);
        CHECK(lamina::weight_grid_layout(5).cols == 3);
        CHECK(lamina::weight_grid_layout(5).rows == 2);
        CHECK(lamina::weight_grid_layout(10).cols == 4);
        CHECK(lamina::weight_grid_layout(10).rows == 3);
        CHECK(lamina::weight_grid_layout(17).cols == 5);
        CHECK(lamina::weight_grid_layout(17).rows == 4);
    }
    SECTION("explicit scale, separator and columns are honoured") {
        const auto g = lamina::weight_grid_layout(12, {.scale = 2, .separator = 1, .cols = 4});
        CHECK(g.cols == 4);
        CHECK(g.rows == 3);
        CHECK(g.scale == 2);
        CHECK(g.width == 1 + 4 * (56 + 1));
        CHECK(g.height == 1 + 3 * (56 + 1));
        CHECK(g.tile_top(5) == 1 + 1 * 57);
        CHECK(g.tile_left(5) == 1 + 1 * 57);
    }
    SECTION("more columns than units are lowered to the unit count") {
        const auto g = lamina::weight_grid_layout(3, {.scale = 1, .cols = 10});
        CHECK(g.cols == 3);
        CHECK(g.rows == 1);
    }
}

TEMPLATE_TEST_CASE("save_weight_grid writes each unit's min-max normalised weights as a tile", "[viz][weight_grid]",
                   float, double) {
    ScratchDir dir;
    const fs::path file = dir.path / "grid.png";
    const lamina::Matrix<TestType> kernel = permutation_kernel<TestType>(100);

    lamina::save_weight_grid<TestType>(file, kernel);
    REQUIRE(fs::exists(file));
    CHECK(dir.entries() == std::vector<std::string>{"grid.png"});  // no temporary left

    const LoadedPng png = load_png(file);
    // 10 x 10 tiles of 28 * 3 px with 2 px separators: 2 + 10 * (84 + 2) px each way.
    constexpr Index scale = 3;
    constexpr Index side = 2 + 10 * (28 * scale + 2);
    REQUIRE(png.width == side);
    REQUIRE(png.height == side);
    CHECK(png.channels_in_file == 1);

    Index mismatches = 0;
    for (Index u = 0; u < 100; ++u) {
        const Index top = 2 + (u / 10) * (28 * scale + 2);
        const Index left = 2 + (u % 10) * (28 * scale + 2);
        for (Index i = 0; i < 784; ++i) {
            // Weight i is at tile row i / 28, column i % 28; sample the centre of its block.
            const Index row = top + (i / 28) * scale + scale / 2;
            const Index col = left + (i % 28) * scale + scale / 2;
            if (png.at(row, col) != expected_permutation_grey(i, u)) {
                if (mismatches < 5) {
                    UNSCOPED_INFO("unit " << u << " weight " << i << ": found " << int(png.at(row, col))
                                          << ", expected " << int(expected_permutation_grey(i, u)));
                }
                ++mismatches;
            }
        }
    }
    CHECK(mismatches == 0);

    // Every unit spans black to white.
    for (Index u = 0; u < 100; ++u) {
        const Index top = 2 + (u / 10) * (28 * scale + 2);
        const Index left = 2 + (u % 10) * (28 * scale + 2);
        std::uint8_t lo = 255;
        std::uint8_t hi = 0;
        for (Index r = 0; r < 28 * scale; ++r) {
            for (Index c = 0; c < 28 * scale; ++c) {
                lo = std::min(lo, png.at(top + r, left + c));
                hi = std::max(hi, png.at(top + r, left + c));
            }
        }
        CHECK(lo == 0);
        CHECK(hi == 255);
    }

    // Border and separators are white (255): the outer 2 px frame and every 2 px line
    // between tile columns and between tile rows.
    CHECK(count_not_equal(png, 0, 0, 2, side, 255) == 0);
    CHECK(count_not_equal(png, side - 2, 0, 2, side, 255) == 0);
    CHECK(count_not_equal(png, 0, 0, side, 2, 255) == 0);
    CHECK(count_not_equal(png, 0, side - 2, side, 2, 255) == 0);
    for (Index k = 1; k < 10; ++k) {
        CHECK(count_not_equal(png, 0, k * (28 * scale + 2), side, 2, 255) == 0);
        CHECK(count_not_equal(png, k * (28 * scale + 2), 0, 2, side, 255) == 0);
    }
}

TEST_CASE("render_weight_grid fills every pixel of a weight's scale x scale block", "[viz][weight_grid]") {
    // A 4 x 3 tile (not square, to pin the row-major order), scale 2, separator 1, 5 units:
    // 3 columns and 2 rows of tiles, width 1 + 3 * (3 * 2 + 1) = 22, height 1 + 2 * (4 * 2 + 1) = 19.
    lamina::Matrix<double> kernel(12, 5);
    for (Index u = 0; u < 5; ++u) {
        for (Index i = 0; i < 12; ++i) kernel(i, u) = static_cast<double>(i);  // 0..11 row-major
    }
    const lamina::WeightGridOptions opts{
        .tile_height = 4, .tile_width = 3, .scale = 2, .separator = 1, .separator_value = 200, .background = 50};
    const lamina::GreyImage img = lamina::render_weight_grid(kernel, opts);
    REQUIRE(img.width == 22);
    REQUIRE(img.height == 19);
    REQUIRE(img.pixels.size() == std::size_t{22 * 19});

    for (Index u = 0; u < 5; ++u) {
        const Index top = 1 + (u / 3) * 9;
        const Index left = 1 + (u % 3) * 7;
        for (Index i = 0; i < 12; ++i) {
            // Weight i (value i in 0..11) is at tile row i / 3, column i % 3: a 2 x 2 block.
            const auto expected = static_cast<std::uint8_t>(std::lround(255.0 * static_cast<double>(i) / 11.0));
            CHECK(count_not_equal(img, top + (i / 3) * 2, left + (i % 3) * 2, 2, 2, expected) == 0);
        }
    }
    // Cell 5 (grid row 1, column 2) is empty: background 50. Separators are 200.
    CHECK(count_not_equal(img, 1 + 9, 1 + 2 * 7, 8, 6, 50) == 0);
    CHECK(img.at(0, 0) == 200);
    CHECK(img.at(9, 5) == 200);  // horizontal line between tile rows
    CHECK(img.at(4, 7) == 200);  // vertical line between tile columns
    CHECK(img.at(18, 21) == 200);
}

TEMPLATE_TEST_CASE("A unit whose weights are all equal is drawn mid-grey 128, never NaN", "[viz][weight_grid]", float,
                   double) {
    lamina::Matrix<TestType> kernel(784, 3);
    kernel.col(0).setConstant(TestType(0.25));
    kernel.col(1).setZero();
    for (Index i = 0; i < 784; ++i) kernel(i, 2) = static_cast<TestType>(i);

    const lamina::GreyImage img = lamina::render_weight_grid<TestType>(kernel);
    // 3 units: 2 columns, 2 rows; scale: 2 + 2 * (28 s + 2) >= 600 -> s = 11.
    constexpr Index scale = 11;
    REQUIRE(img.width == 2 + 2 * (28 * scale + 2));
    REQUIRE(img.height == 2 + 2 * (28 * scale + 2));
    for (Index u = 0; u < 2; ++u) {
        const Index left = 2 + u * (28 * scale + 2);
        CHECK(count_not_equal(img, 2, left, 28 * scale, 28 * scale, 128) == 0);
    }
    // The ramp unit still spans black to white: 0 at weight 0, 255 at weight 783.
    const Index left2 = 2;
    const Index top2 = 2 + 28 * scale + 2;
    CHECK(img.at(top2 + scale / 2, left2 + scale / 2) == 0);
    CHECK(img.at(top2 + 27 * scale + scale / 2, left2 + 27 * scale + scale / 2) == 255);

    SECTION("the constant grey level is an option") {
        const lamina::GreyImage black = lamina::render_weight_grid<TestType>(kernel, {.constant_value = 0});
        CHECK(black.at(2 + 5, 2 + 5) == 0);
    }
    SECTION("the same value survives the PNG round trip") {
        ScratchDir dir;
        const fs::path file = dir.path / "constant.png";
        lamina::save_weight_grid<TestType>(file, kernel);
        const LoadedPng png = load_png(file);
        CHECK(png.at(2 + scale / 2, 2 + scale / 2) == 128);
        CHECK(png.at(2 + scale / 2, 2 + 28 * scale + 2 + scale / 2) == 128);
    }
}

TEST_CASE("Unit counts that are not a square give the documented grid", "[viz][weight_grid]") {
    // Unit u has one weight of 1 at input u and 0 elsewhere: a single white weight at
    // tile row u / 28, column u % 28 on a black tile.
    const auto one_hot_kernel = [](Index units) {
        lamina::Matrix<float> k = lamina::Matrix<float>::Zero(784, units);
        for (Index u = 0; u < units; ++u) k(u, u) = 1.0f;
        return k;
    };

    SECTION("7 units: 3 x 3 grid, scale 8, two empty cells of background") {
        ScratchDir dir;
        const fs::path file = dir.path / "seven.png";
        lamina::save_weight_grid(file, one_hot_kernel(7));
        const LoadedPng png = load_png(file);
        constexpr Index scale = 8;
        constexpr Index step = 28 * scale + 2;
        REQUIRE(png.width == 2 + 3 * step);
        REQUIRE(png.height == 2 + 3 * step);
        for (Index u = 0; u < 7; ++u) {
            const Index top = 2 + (u / 3) * step;
            const Index left = 2 + (u % 3) * step;
            Index wrong = 0;
            for (Index i = 0; i < 784; ++i) {
                const std::uint8_t expected = i == u ? 255 : 0;
                wrong += png.at(top + (i / 28) * scale + scale / 2, left + (i % 28) * scale + scale / 2) != expected
                             ? 1
                             : 0;
            }
            CHECK(wrong == 0);
        }
        for (Index cell = 7; cell < 9; ++cell) {  // grid row 2, columns 1 and 2
            CHECK(count_not_equal(png, 2 + 2 * step, 2 + (cell % 3) * step, 28 * scale, 28 * scale, 255) == 0);
        }
    }
    SECTION("30 units: 6 columns x 5 rows, scale 4, no empty cell") {
        const lamina::GreyImage img = lamina::render_weight_grid(one_hot_kernel(30));
        constexpr Index scale = 4;
        constexpr Index step = 28 * scale + 2;
        REQUIRE(img.width == 2 + 6 * step);
        REQUIRE(img.height == 2 + 5 * step);
        // The last unit, 29, is at grid row 4, column 5; its white weight at input 29 is at
        // tile row 1, column 1.
        const Index top = 2 + 4 * step;
        const Index left = 2 + 5 * step;
        CHECK(img.at(top + 1 * scale + 1, left + 1 * scale + 1) == 255);
        CHECK(img.at(top + 1 * scale + 1, left + 0 * scale + 1) == 0);
        CHECK(img.at(top + 27 * scale, left + 27 * scale) == 0);
    }
    SECTION("an Eigen block and a column-major matrix render like the row-major original") {
        const lamina::Matrix<float> k = one_hot_kernel(10);
        const Eigen::MatrixXf col_major = k;
        const lamina::GreyImage a = lamina::render_weight_grid(k.leftCols(4));
        const lamina::GreyImage b = lamina::render_weight_grid(col_major.leftCols(4));
        const lamina::GreyImage c = lamina::render_weight_grid(one_hot_kernel(4));
        CHECK(a.pixels == c.pixels);
        CHECK(b.pixels == c.pixels);
    }
}

TEST_CASE("save_weight_grid into a missing folder throws io_error naming the path and leaves no file",
          "[viz][weight_grid][io]") {
    ScratchDir dir;
    const fs::path missing = dir.path / "no_such_folder";
    const fs::path file = missing / "grid.png";
    const lamina::Matrix<float> kernel = permutation_kernel<float>(4);

    REQUIRE_THROWS_AS(lamina::save_weight_grid(file, kernel), lamina::io_error);
    try {
        lamina::save_weight_grid(file, kernel);
    } catch (const lamina::io_error& e) {
        CHECK_THAT(e.what(), Catch::Contains(file.string()));
    }
    CHECK_FALSE(fs::exists(missing));
    CHECK_FALSE(fs::exists(file));
    CHECK(dir.entries().empty());
}

TEST_CASE("A failed rename removes the temporary file and throws io_error", "[viz][weight_grid][io]") {
    // The target is an existing folder, so the temporary file is written beside it but
    // cannot be renamed onto it.
    ScratchDir dir;
    const fs::path target = dir.path / "taken";
    fs::create_directory(target);
    const lamina::Matrix<double> kernel = permutation_kernel<double>(2);

    try {
        lamina::save_weight_grid(target, kernel);
        FAIL("expected lamina::io_error");
    } catch (const lamina::io_error& e) {
        CHECK_THAT(e.what(), Catch::Contains(target.string()));
    }
    CHECK(fs::is_directory(target));
    CHECK(dir.entries() == std::vector<std::string>{"taken"});
}

TEST_CASE("save_weight_grid replaces an existing file", "[viz][weight_grid][io]") {
    ScratchDir dir;
    const fs::path file = dir.path / "grid.png";
    {
        std::ofstream old(file);
        old << "not a png";
    }
    lamina::save_weight_grid(file, permutation_kernel<float>(9));
    const LoadedPng png = load_png(file);
    // 9 units: 3 x 3, scale 8 (as for 7 units).
    CHECK(png.width == 2 + 3 * (28 * 8 + 2));
    CHECK(dir.entries() == std::vector<std::string>{"grid.png"});
}

TEST_CASE("A kernel whose input count is not tile_height * tile_width throws shape_error", "[viz][weight_grid]") {
    const lamina::Matrix<float> wrong = lamina::Matrix<float>::Ones(783, 10);
    REQUIRE_THROWS_AS(lamina::render_weight_grid(wrong), lamina::shape_error);
    try {
        (void)lamina::render_weight_grid(wrong);
    } catch (const lamina::shape_error& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Catch::Contains("784"));  // expected
        CHECK_THAT(msg, Catch::Contains("783"));  // found
    }

    SECTION("a transposed (units x inputs) kernel is refused") {
        const lamina::Matrix<float> transposed = lamina::Matrix<float>::Ones(100, 784);
        CHECK_THROWS_AS(lamina::render_weight_grid(transposed), lamina::shape_error);
    }
    SECTION("a custom tile shape sets the expected input count") {
        const lamina::Matrix<float> k64 = lamina::Matrix<float>::Random(64, 3);
        CHECK_NOTHROW(lamina::render_weight_grid(k64, {.tile_height = 8, .tile_width = 8}));
        CHECK_THROWS_AS(lamina::render_weight_grid(k64), lamina::shape_error);
    }
    SECTION("a kernel with no units is refused") {
        const lamina::Matrix<float> empty(784, 0);
        CHECK_THROWS_AS(lamina::render_weight_grid(empty), lamina::shape_error);
    }
    SECTION("save_weight_grid leaves no file behind") {
        ScratchDir dir;
        CHECK_THROWS_AS(lamina::save_weight_grid(dir.path / "bad.png", wrong), lamina::shape_error);
        CHECK(dir.entries().empty());
    }
}

TEST_CASE("Non-finite weights and out-of-range options throw std::invalid_argument", "[viz][weight_grid]") {
    lamina::Matrix<double> kernel = lamina::Matrix<double>::Random(784, 4);
    SECTION("NaN") {
        kernel(10, 2) = std::numeric_limits<double>::quiet_NaN();
        CHECK_THROWS_AS(lamina::render_weight_grid(kernel), std::invalid_argument);
    }
    SECTION("infinity") {
        kernel(0, 3) = -std::numeric_limits<double>::infinity();
        CHECK_THROWS_AS(lamina::render_weight_grid(kernel), std::invalid_argument);
    }
    SECTION("options") {
        CHECK_THROWS_AS(lamina::render_weight_grid(kernel, {.scale = -1}), std::invalid_argument);
        CHECK_THROWS_AS(lamina::render_weight_grid(kernel, {.separator = -2}), std::invalid_argument);
        CHECK_THROWS_AS(lamina::render_weight_grid(kernel, {.cols = -1}), std::invalid_argument);
        CHECK_THROWS_AS(lamina::render_weight_grid(kernel, {.scale = 5000}), std::invalid_argument);
        CHECK_THROWS_AS(lamina::weight_grid_layout(0), std::invalid_argument);
    }
}

TEST_CASE("encode_png checks the image and produces a PNG stb_image can read", "[viz][weight_grid]") {
    lamina::GreyImage img{.width = 3, .height = 2, .pixels = {0, 50, 100, 150, 200, 255}};
    const std::vector<std::uint8_t> bytes = lamina::encode_png(img);
    REQUIRE(bytes.size() > 8);
    CHECK(bytes[1] == 'P');
    CHECK(bytes[2] == 'N');
    CHECK(bytes[3] == 'G');
    int w = 0;
    int h = 0;
    int n = 0;
    stbi_uc* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &n, 1);
    REQUIRE(data != nullptr);
    CHECK(w == 3);
    CHECK(h == 2);
    CHECK(std::vector<std::uint8_t>(data, data + 6) == img.pixels);
    stbi_image_free(data);

    img.pixels.pop_back();
    CHECK_THROWS_AS(lamina::encode_png(img), lamina::shape_error);
    img.width = 0;
    CHECK_THROWS_AS(lamina::encode_png(img), std::invalid_argument);
}
