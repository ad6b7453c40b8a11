// SPDX-License-Identifier: MIT
// lamina tests: the Conv2D layer: hand-computed outputs, a direct convolution over padding, strides and channels,
// errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include <lamina/layers/conv2d.hpp>
#include <lamina/layers/registry.hpp>
#include <lamina/models/sequential.hpp>

#include "layer_conformance.hpp"

using lamina::Conv2D;
using lamina::Index;
using lamina::Shape;
using M = lamina::Matrix<double>;
using V = lamina::Vector<double>;

namespace {

using lamina::test::conformance::Bound;

// The Conv2D layer `spec` built for `input`, with its own flat buffers.
Bound<double> bound(const Conv2D& spec, const Shape& input) { return Bound<double>(spec.build<double>(input)); }

// The convolution written out as its definition, for one sample of (h, w, c): Keras's
// padding put explicitly (total = max((out - 1) * stride + size - in, 0), the smaller half
// first), the kernel indexed (i, j, c, f) as Keras stores it.
M direct_conv(const M& x, Index h, Index w, Index c, const V& params, Index kh, Index kw, Index f, Index sh, Index sw,
              bool same, bool bias) {
    const auto out_size = [&](Index in, Index k, Index s) { return same ? (in + s - 1) / s : (in - k) / s + 1; };
    const Index oh = out_size(h, kh, sh), ow = out_size(w, kw, sw);
    const Index pt = same ? std::max<Index>((oh - 1) * sh + kh - h, 0) / 2 : 0;
    const Index pl = same ? std::max<Index>((ow - 1) * sw + kw - w, 0) / 2 : 0;
    const auto kernel = [&](Index i, Index j, Index ch, Index fi) {
        return params((((i * kw) + j) * c + ch) * f + fi);
    };
    M y(x.rows(), oh * ow * f);
    for (Index n = 0; n < x.rows(); ++n)
        for (Index a = 0; a < oh; ++a)
            for (Index b = 0; b < ow; ++b)
                for (Index fi = 0; fi < f; ++fi) {
                    double sum = bias ? params(kh * kw * c * f + fi) : 0.0;
                    for (Index i = 0; i < kh; ++i)
                        for (Index j = 0; j < kw; ++j) {
                            const Index r = a * sh + i - pt, s = b * sw + j - pl;
                            if (r < 0 || r >= h || s < 0 || s >= w) continue;
                            for (Index ch = 0; ch < c; ++ch) sum += x(n, (r * w + s) * c + ch) * kernel(i, j, ch, fi);
                        }
                    y(n, (a * ow + b) * f + fi) = sum;
                }
    return y;
}

}  // namespace

TEST_CASE("Conv2D computes a valid convolution of a one-channel image by hand", "[conv2d]") {
    // x = 1..9 as a 3 x 3 image; the kernel (2, 2, 1, 1) is [[1, 2], [3, 4]]; bias 0.5.
    auto b = bound(Conv2D(1, 2, {.input_shape = {3, 3, 1}}), {3, 3, 1});
    REQUIRE(b.layer->output_shape() == Shape{2, 2, 1});
    b.params << 1, 2, 3, 4, 0.5;
    M x(1, 9);
    x << 1, 2, 3, 4, 5, 6, 7, 8, 9;
    M expected(1, 4);
    // (0,0): 1*1 + 2*2 + 4*3 + 5*4 = 37; (0,1): 2 + 6 + 15 + 24 = 47; (1,0): 4 + 10 + 21 + 32 = 67;
    // (1,1): 5 + 12 + 24 + 36 = 77; each + 0.5.
    expected << 37.5, 47.5, 67.5, 77.5;
    CHECK(b.forward(x, {}) == expected);
}

TEST_CASE("Conv2D's same padding puts the odd zero at the bottom and the right, as Keras does", "[conv2d]") {
    // A 4 x 4 image of 1..16, a 3 x 3 kernel of ones, stride 2: out ceil(4 / 2) = 2, one row
    // and one column of zeros in all, after the image. Window (0, 0) covers rows and columns
    // 0-2; window (1, 1) rows and columns 2-3 and the padding.
    auto b = bound(Conv2D(1, 3, {.strides = 2, .padding = "same"}), {4, 4, 1});
    REQUIRE(b.layer->output_shape() == Shape{2, 2, 1});
    b.params.head(9).setOnes();
    M x(1, 16);
    for (Index i = 0; i < 16; ++i) x(0, i) = double(i + 1);
    M expected(1, 4);
    expected << 1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 3 + 4 + 7 + 8 + 11 + 12, 9 + 10 + 11 + 13 + 14 + 15,
        11 + 12 + 15 + 16;
    CHECK(b.forward(x, {}) == expected);
}

TEST_CASE("Conv2D matches the direct convolution over padding, strides, odd sizes and channels", "[conv2d]") {
    struct Case {
        Index h, w, c, f, kh, kw, sh, sw;
        bool same, bias;
    };
    const Case cases[] = {{5, 7, 3, 4, 3, 3, 1, 1, false, true}, {5, 7, 3, 4, 3, 3, 1, 1, true, true},
                          {6, 5, 2, 3, 2, 3, 2, 1, true, false}, {7, 6, 1, 2, 3, 2, 2, 3, false, true},
                          {4, 4, 2, 5, 4, 4, 1, 1, true, true},  {3, 8, 4, 1, 1, 5, 3, 2, true, true},
                          {9, 9, 1, 32, 3, 3, 1, 1, false, true}};
    for (const auto& k : cases) {
        INFO("input " << k.h << "x" << k.w << "x" << k.c << ", " << k.f << " filters of " << k.kh << "x" << k.kw
                      << ", strides " << k.sh << "x" << k.sw << (k.same ? ", same" : ", valid")
                      << (k.bias ? "" : ", no bias"));
        auto b = bound(Conv2D(k.f, {k.kh, k.kw},
                              {.strides = {k.sh, k.sw}, .padding = k.same ? "same" : "valid", .use_bias = k.bias}),
                       {k.h, k.w, k.c});
        b.params.setRandom();
        const M x = M::Random(3, k.h * k.w * k.c);
        const M expected = direct_conv(x, k.h, k.w, k.c, b.params, k.kh, k.kw, k.f, k.sh, k.sw, k.same, k.bias);
        REQUIRE(b.forward(x, {}).cols() == expected.cols());
        CHECK((b.forward(x, {}) - expected).cwiseAbs().maxCoeff() < 1e-12);
    }
}

TEST_CASE("Conv2D's fused relu is the convolution's output clipped at zero", "[conv2d]") {
    auto plain = bound(Conv2D(3, 2), {4, 4, 2}), relu = bound(Conv2D(3, 2, {.activation = "relu"}), {4, 4, 2});
    plain.params.setRandom();
    relu.params = plain.params;
    const M x = M::Random(2, 32);
    const M y = plain.forward(x, {});
    CHECK((y.array() < 0).any());
    CHECK(relu.forward(x, {}) == M(y.cwiseMax(0.0)));
}

TEST_CASE("Conv2D stores its kernel as Keras does, (kh, kw, channels, filters), and counts its weights", "[conv2d]") {
    // Keras's MNIST convnet: 320 + 18,496 parameters in its two convolutions.
    const auto first = bound(Conv2D(32, 3, {.activation = "relu"}), {28, 28, 1});
    const auto second = bound(Conv2D(64, 3), {13, 13, 32});
    CHECK(first.layer->output_shape() == Shape{26, 26, 32});
    CHECK(first.layer->parameter_count() == 320);
    CHECK(second.layer->parameter_count() == 18496);
    REQUIRE(first.layer->weight_specs().size() == 2);
    CHECK(first.layer->weight_specs()[0].name == "kernel");
    CHECK(first.layer->weight_specs()[0].shape == Shape{3, 3, 1, 32});
    CHECK(first.layer->weight_specs()[1].name == "bias");
    CHECK(first.layer->weight_specs()[1].shape == Shape{32});
    auto no_bias = bound(Conv2D(4, 2, {.use_bias = false}), {3, 3, 2});
    CHECK(no_bias.layer->parameter_count() == 2 * 2 * 2 * 4);
}

TEST_CASE("Conv2D refuses impossible configurations, naming the layer and the shapes", "[conv2d][errors]") {
    CHECK_THROWS_WITH(Conv2D(0, 3), Catch::Contains("Conv2D(0, 3x3)") && Catch::Contains("filters must be positive"));
    CHECK_THROWS_WITH(Conv2D(4, {0, 3}), Catch::Contains("kernel_size must be positive"));
    CHECK_THROWS_WITH(Conv2D(4, 3, {.strides = {1, -2}}), Catch::Contains("strides must be positive"));
    CHECK_THROWS_WITH(Conv2D(4, 3, {.padding = "full"}), Catch::Contains("padding must be \"valid\" or \"same\""));
    CHECK_THROWS_WITH(Conv2D(4, 3, {.activation = "softmax"}), Catch::Contains("Activation(\"softmax\") after it"));
    CHECK_THROWS_WITH(Conv2D(4, 3, {.activation = "swishy"}), Catch::Contains("unknown activation 'swishy'"));
    // A kernel larger than its input with "valid" leaves no output; "same" pads it.
    CHECK_THROWS_AS(Conv2D(4, 5).build<float>({4, 6, 1}), lamina::shape_error);
    CHECK_THROWS_WITH(Conv2D(4, 5).build<float>({4, 6, 1}), Catch::Contains("Conv2D(4, 5x5)") &&
                                                                Catch::Contains("(4, 6, 1)") &&
                                                                Catch::Contains("no output"));
    CHECK(Conv2D(4, 5, {.padding = "same"}).build<float>({4, 6, 1})->output_shape() == Shape{4, 6, 4});
    CHECK_THROWS_WITH(Conv2D(4, 3).build<float>({784}),
                      Catch::Contains("(height, width, channels)") && Catch::Contains("(784)"));
    CHECK_THROWS_WITH(Conv2D(4, 3).build<float>({}), Catch::Contains("input_shape"));
    // The sizes of one sample's unrolled input must be countable: 2^40 positions of windows
    // of 2^26 values.
    const Index side = Index(1) << 20, window = Index(1) << 12;
    CHECK_THROWS_AS(Conv2D(4, {window, window}, {.padding = "same"}).build<float>({side, side, 4}),
                    std::invalid_argument);
}

TEST_CASE("Conv2D's config names Keras's fields and rebuilds the same layer through the registry",
          "[conv2d][registry]") {
    auto b = bound(Conv2D(5, {3, 2}, {.strides = {2, 1}, .padding = "same", .activation = "relu"}), {7, 6, 3});
    const lamina::Config config = b.layer->get_config();
    CHECK(config.text().find("filters: 5") != std::string::npos);
    const auto copy = lamina::LayerRegistry<double>::instance().create("Conv2D", config, {7, 6, 3});
    CHECK(copy->get_config() == config);
    CHECK(copy->output_shape() == Shape{4, 6, 5});
    lamina::Config odd = config;
    odd.set("kernel_size", std::vector<Index>{3});
    CHECK_THROWS_WITH(lamina::LayerRegistry<double>::instance().create("Conv2D", odd, {7, 6, 3}),
                      Catch::Contains("kernel_size must be (height, width)"));
}

TEST_CASE("A small convolutional network learns to tell two stripe patterns apart", "[conv2d][training]") {
    // Horizontal against vertical stripes of random phase on 6 x 6 images, with noise.
    lamina::Sequential<float> model{Conv2D(4, 3, {.activation = "relu", .input_shape = {6, 6, 1}}), lamina::Flatten(),
                                    lamina::Dense(2), lamina::Activation("softmax")};
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.1});
    model.initialize(7);
    const Index n = 200;
    lamina::Matrix<float> x = lamina::Matrix<float>::Random(n, 36) * 0.1f, y = lamina::Matrix<float>::Zero(n, 2);
    for (Index s = 0; s < n; ++s) {
        const bool horizontal = s % 2 == 0;
        for (Index r = 0; r < 6; ++r)
            for (Index c = 0; c < 6; ++c)
                if (((horizontal ? r : c) + s / 2) % 2 == 0) x(s, r * 6 + c) += 1.0f;
        y(s, horizontal ? 0 : 1) = 1;
    }
    const auto before = model.evaluate(x, y);
    model.fit(x, y, {.batch_size = 20, .epochs = 30, .verbose = 0, .seed = 3});
    const auto after = model.evaluate(x, y);
    CHECK(after.loss < before.loss / 4);
    CHECK(after.accuracy == 1.0);
}
