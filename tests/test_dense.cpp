// SPDX-License-Identifier: MIT
// lamina tests: the Dense layer: known values, gradients, slicing, weights and errors.
#include <catch2/catch.hpp>

#include <cmath>

#include <lamina/layers/dense.hpp>

#include "gradient_check.hpp"
#include "layer_conformance.hpp"

using lamina::Index;
using M = lamina::Matrix<double>;
using V = lamina::Vector<double>;

namespace {

using lamina::test::conformance::Bound;

// A Dense layer of `units` on `in` inputs, with its own flat buffers.
Bound<double> dense(Index in, Index units, lamina::DenseOptions options = {}) {
    return Bound<double>(lamina::Dense(units, options).build<double>({in}));
}

}  // namespace

TEST_CASE("Dense computes x times kernel plus bias, kernel stored inputs x units", "[dense]") {
    auto d = dense(3, 2);
    M kernel(3, 2), bias(1, 2);
    kernel << 1, 2, 3, 4, 5, 6;
    bias << 0.5, -1;
    d.layer->set_weights({kernel, bias});
    M x(2, 3);
    x << 1, 0, -1, 2, 1, 0;
    const M y = d.forward(x, {});
    // row 0: (1*1 + 0*3 - 1*5, 1*2 + 0*4 - 1*6) + b = (-4, -4) + (0.5, -1)
    CHECK(y(0, 0) == -3.5);
    CHECK(y(0, 1) == -5.0);
    // row 1: (2*1 + 1*3, 2*2 + 1*4) + b = (5, 8) + (0.5, -1)
    CHECK(y(1, 0) == 5.5);
    CHECK(y(1, 1) == 7.0);
    // The flat layout is the kernel row-major, then the bias.
    CHECK(d.params(1) == 2.0);
    CHECK(d.params(6) == 0.5);
}

TEST_CASE("Dense backward and gradient match finite differences", "[dense][gradient]") {
    auto d = dense(6, 4);
    lamina::Random rng(3);
    d.layer->initialize(rng);
    d.params.tail(4) = V::Random(4);  // a non-zero bias
    M x = M::Random(5, 6);
    const M r = M::Random(5, 4);  // L = sum(y .* r), so dL/dy = r
    const auto loss = [&] { return d.forward(x, {}).cwiseProduct(r).sum(); };

    M dx(5, 6);
    d.layer->backward(x, d.forward(x, {}), r, dx);
    CHECK(lamina::test::max_gradient_error(x.data(), x.size(), dx.data(), loss) < 1e-6);

    const auto range = d.layer->gradient(x, r, 0, 1);
    CHECK(range.offset == 0);
    CHECK(range.size == d.layer->parameter_count());
    const V analytic = d.grads;
    CHECK(lamina::test::max_gradient_error(d.params.data(), d.params.size(), analytic.data(), loss) < 1e-6);
}

TEST_CASE("Dense's float input gradient is dy W^T, in training from the W^T of prepare_backward", "[dense][gradient]") {
    // In float the input gradient runs through lamina's kernels (from a row-major W^T), not
    // Eigen's product: checked against dy W^T in double, for widths on and off 8 and 16.
    using MF = lamina::Matrix<float>;
    for (const Index units : {3, 10, 16, 37}) {
        auto layer = lamina::Dense(units).build<float>({29});
        lamina::Vector<float> params = lamina::Vector<float>::Random(layer->parameter_count());
        lamina::Vector<float> grads = lamina::Vector<float>::Zero(layer->parameter_count());
        layer->bind(params.data(), grads.data());
        const MF x = MF::Random(13, 29), dy = MF::Random(13, units);
        const M kernel = Eigen::Map<const MF>(params.data(), 29, units).cast<double>();
        const M expected = dy.cast<double>() * kernel.transpose();
        MF dx(13, 29), dx_training(13, 29);
        layer->backward(x, MF(), dy, dx);
        INFO(units << " units");
        CHECK((dx.cast<double>() - expected).cwiseAbs().maxCoeff() < 1e-5);
        layer->begin_batch(13);
        layer->backward(x, MF(), dy, dx_training, {});
        CHECK(dx_training == dx);
        // New weights reach the training gradient at the next prepare_backward.
        params *= 2.0f;
        layer->begin_batch(13);
        layer->backward(x, MF(), dy, dx_training, {});
        CHECK(dx_training == 2.0f * dx);
    }
}

TEST_CASE("Dense gradient slices cover the buffer exactly once and agree with one slice", "[dense][gradient]") {
    auto d = dense(7, 3);
    lamina::Random rng(5);
    d.layer->initialize(rng);
    const M x = M::Random(4, 7), dy = M::Random(4, 3);
    d.layer->gradient(x, dy, 0, 1);
    const V whole = d.grads;
    d.grads.setConstant(99);
    Index next = 0;
    for (Index part = 0; part < 3; ++part) {
        const auto range = d.layer->gradient(x, dy, part, 3);
        CHECK(range.offset == next);
        next += range.size;
    }
    CHECK(next == d.layer->parameter_count());
    CHECK((d.grads - whole).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("Dense draws a glorot-uniform kernel and a zero bias by default", "[dense][init]") {
    auto d = dense(784, 100);
    lamina::Random rng(1);
    d.layer->initialize(rng);
    const auto w = d.layer->get_weights();
    const double limit = std::sqrt(6.0 / (784 + 100));
    CHECK(w[0].cwiseAbs().maxCoeff() <= limit);
    CHECK(w[0].cwiseAbs().maxCoeff() > 0.95 * limit);
    // The mean of U(-l, l) is 0 and its variance l^2 / 3.
    CHECK(std::abs(w[0].mean()) < 0.01 * limit);
    const double var = (w[0].array() - w[0].mean()).square().mean();
    CHECK(var == Approx(limit * limit / 3).epsilon(0.02));
    CHECK(w[1].isZero());

    auto he = dense(10, 5,
                    {.kernel_initializer = lamina::Initializer::he_uniform,
                     .bias_initializer = lamina::Initializer::ones});
    he.layer->initialize(rng);
    CHECK(he.layer->get_weights()[0].cwiseAbs().maxCoeff() <= std::sqrt(6.0 / 10));
    CHECK(he.layer->get_weights()[1] == M::Ones(1, 5));
}

TEST_CASE("Dense get_weights and set_weights round-trip and check shapes", "[dense][errors]") {
    auto d = dense(3, 2);
    const M kernel = M::Random(3, 2), bias = M::Random(1, 2);
    d.layer->set_weights({kernel, bias});
    const auto w = d.layer->get_weights();
    CHECK(w[0] == kernel);
    CHECK(w[1] == bias);
    d.layer->set_position(0, "dense");
    CHECK_THROWS_AS(d.layer->set_weights({kernel}), lamina::shape_error);
    CHECK_THROWS_WITH(d.layer->set_weights({kernel}),
                      Catch::Contains("expected 2 arrays") && Catch::Contains("found 1"));
    CHECK_THROWS_WITH(d.layer->set_weights({M::Zero(2, 3), bias}), Catch::Contains("layer 0 (Dense 'dense')") &&
                                                                       Catch::Contains("kernel expected 3x2") &&
                                                                       Catch::Contains("found 2x3"));
    CHECK_THROWS_WITH(d.layer->set_weights({kernel, M::Zero(2, 1)}),
                      Catch::Contains("bias expected 1x2") && Catch::Contains("found 2x1"));
}

TEST_CASE("Dense rejects zero units, a missing first input_dim and a mismatched input_dim", "[dense][errors]") {
    CHECK_THROWS_AS(lamina::Dense(0), std::invalid_argument);
    CHECK_THROWS_WITH(lamina::Dense(-3), Catch::Contains("units must be positive") && Catch::Contains("-3"));
    CHECK_THROWS_WITH(lamina::Dense(10).build<float>({}), Catch::Contains("needs input_dim"));
    CHECK_THROWS_AS(lamina::Dense(10, {.input_dim = 5}).build<float>({6}), lamina::shape_error);
    CHECK_THROWS_WITH(lamina::Dense(10, {.input_dim = 5}).build<float>({6}),
                      Catch::Contains("input_dim 5") && Catch::Contains("output 6"));
}
