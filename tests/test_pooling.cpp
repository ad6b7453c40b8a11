// SPDX-License-Identifier: MIT
// lamina tests: MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D: hand-computed values, gradients' routes,
// errors.
#include <catch2/catch.hpp>

#include <lamina/layers/pooling.hpp>

using lamina::AveragePooling2D;
using lamina::GlobalAveragePooling2D;
using lamina::Index;
using lamina::MaxPooling2D;
using lamina::Shape;
using M = lamina::Matrix<double>;

namespace {

template <class Spec>
M forward(const Spec& spec, const Shape& input, const M& x) {
    const auto layer = spec.template build<double>(input);
    M y(x.rows(), layer->output_dim());
    layer->forward(x, y);
    return y;
}

// 1..n as one sample.
M count_up(Index n) {
    M x(1, n);
    for (Index i = 0; i < n; ++i) x(0, i) = double(i + 1);
    return x;
}

}  // namespace

TEST_CASE("MaxPooling2D takes each window's maximum, per channel", "[pooling]") {
    M expected(1, 4);
    expected << 6, 8, 14, 16;  // 1..16 as a 4 x 4 image, 2 x 2 windows
    CHECK(forward(MaxPooling2D(2), {4, 4, 1}, count_up(16)) == expected);
    // Two channels: the second is the first negated, so its maxima are the windows' minima.
    M x(1, 8);
    x << 1, -1, 5, -5, 3, -3, 2, -2;  // a 2 x 2 image of two channels
    M two(1, 2);
    two << 5, -1;
    CHECK(forward(MaxPooling2D(2), {2, 2, 2}, x) == two);
    // A 3 x 3 image: "valid" drops the last row and column, "same" pools what is under the
    // windows that overhang.
    M valid(1, 1), same(1, 4);
    valid << 5;
    same << 5, 6, 8, 9;
    CHECK(forward(MaxPooling2D(2), {3, 3, 1}, count_up(9)) == valid);
    CHECK(forward(MaxPooling2D(2, {.padding = "same"}), {3, 3, 1}, count_up(9)) == same);
    // Overlapping windows: 3 x 3 pools moved by 1.
    M overlapping(1, 4);
    overlapping << 11, 12, 15, 16;
    CHECK(forward(MaxPooling2D(3, {.strides = 1}), {4, 4, 1}, count_up(16)) == overlapping);
}

TEST_CASE("MaxPooling2D's gradient goes to the first maximum of each window, and adds where windows overlap",
          "[pooling]") {
    const auto layer = MaxPooling2D(2, {.strides = 1}).build<double>({2, 3, 1});
    M x(1, 6);
    x << 4, 4, 1,  //
        4, 2, 3;
    M y(1, 2);
    layer->forward(x, y);
    M expected_y(1, 2);
    expected_y << 4, 4;
    REQUIRE(y == expected_y);
    M dy(1, 2), dx(1, 6);
    dy << 10, 1;
    layer->backward(x, y, dy, dx);
    // Window 0 (columns 0-1) ties at 4 three times: the first, (0, 0), takes 10. Window 1
    // (columns 1-2): its first 4 is (0, 1).
    M expected(1, 6);
    expected << 10, 1, 0, 0, 0, 0;
    CHECK(dx == expected);
}

TEST_CASE("AveragePooling2D averages what lies under each window, padding left out", "[pooling]") {
    M valid(1, 4);
    valid << 3.5, 5.5, 11.5, 13.5;
    CHECK(forward(AveragePooling2D(2), {4, 4, 1}, count_up(16)) == valid);
    M same(1, 4);
    same << 3, 4.5, 7.5, 9;  // (1+2+4+5)/4, (3+6)/2, (7+8)/2, 9
    CHECK(forward(AveragePooling2D(2, {.padding = "same"}), {3, 3, 1}, count_up(9)) == same);
    const auto layer = AveragePooling2D(2, {.padding = "same"}).build<double>({3, 3, 1});
    M dy(1, 4), dx(1, 9);
    dy << 4, 2, 2, 1;
    layer->backward(count_up(9), same, dy, dx);
    M expected(1, 9);
    expected << 1, 1, 1, 1, 1, 1, 1, 1, 1;
    CHECK(dx == expected);
}

TEST_CASE("GlobalAveragePooling2D averages each channel over the sample", "[pooling]") {
    M x(1, 8);
    x << 1, 10, 2, 20, 3, 30, 6, 60;  // 2 x 2 positions of two channels
    M expected(1, 2);
    expected << 3, 30;
    CHECK(forward(GlobalAveragePooling2D(), {2, 2, 2}, x) == expected);
    CHECK(GlobalAveragePooling2D({.keepdims = true}).build<double>({2, 2, 2})->output_shape() == Shape{1, 1, 2});
}

TEST_CASE("Pooling layers refuse impossible configurations, naming the layer and the shapes", "[pooling][errors]") {
    CHECK_THROWS_WITH(MaxPooling2D(0), Catch::Contains("MaxPooling2D(0x0)") && Catch::Contains("pool_size"));
    CHECK_THROWS_WITH(AveragePooling2D(2, {.strides = {2, -1}}), Catch::Contains("strides must be positive"));
    CHECK_THROWS_WITH(MaxPooling2D(2, {.padding = "causal"}), Catch::Contains("padding"));
    CHECK_THROWS_AS(MaxPooling2D(3).build<float>({2, 5, 4}), lamina::shape_error);
    CHECK_THROWS_WITH(MaxPooling2D(3).build<float>({2, 5, 4}), Catch::Contains("MaxPooling2D(3x3)") &&
                                                                   Catch::Contains("(2, 5, 4)") &&
                                                                   Catch::Contains("no output"));
    CHECK(MaxPooling2D(3, {.padding = "same"}).build<float>({2, 5, 4})->output_shape() == Shape{1, 2, 4});
    CHECK_THROWS_WITH(MaxPooling2D(2).build<float>({16}), Catch::Contains("(height, width, channels)"));
    CHECK_THROWS_WITH(GlobalAveragePooling2D().build<float>({4, 4}), Catch::Contains("(height, width, channels)"));
    // Strides default to the pool size, as Keras's None does.
    CHECK(MaxPooling2D({2, 3}).options().strides == lamina::Size2(2, 3));
}
