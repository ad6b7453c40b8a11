// SPDX-License-Identifier: MIT
// lamina tests: the Activation layer: known values, gradients, extreme inputs and errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include <lamina/layers/activation.hpp>

#include "gradient_check.hpp"

using lamina::Index;
using M = lamina::Matrix<double>;

namespace {

M forward(const lamina::Layer<double>& layer, const M& x) {
    M y(x.rows(), layer.output_dim());
    layer.forward(x, y);
    return y;
}

// Checks dL/dx of L = sum(f(x) .* r) against central differences, r a fixed random matrix.
double input_gradient_error(const lamina::Layer<double>& layer, M x) {
    const M r = M::Random(x.rows(), layer.output_dim());
    const M y = forward(layer, x);
    M dx(x.rows(), x.cols());
    layer.backward(x, y, r, dx);
    return lamina::test::max_gradient_error(x.data(), x.size(), dx.data(),
                                            [&] { return forward(layer, x).cwiseProduct(r).sum(); });
}

}  // namespace

TEST_CASE("Activation functions give their known values", "[activation]") {
    M x(1, 4);
    x << -2.0, 0.0, 0.5, 3.0;
    const auto y = [&](const char* name) { return forward(*lamina::Activation(name).build<double>({4}), x); };

    const M sig = y("sigmoid");
    for (Index j = 0; j < 4; ++j) CHECK(sig(0, j) == Approx(1.0 / (1.0 + std::exp(-x(0, j)))));
    CHECK(sig(0, 1) == 0.5);
    const M th = y("tanh");
    for (Index j = 0; j < 4; ++j) CHECK(th(0, j) == Approx(std::tanh(x(0, j))));
    const M re = y("relu");
    CHECK(re(0, 0) == 0.0);
    CHECK(re(0, 1) == 0.0);
    CHECK(re(0, 2) == 0.5);
    CHECK(re(0, 3) == 3.0);
    CHECK(y("linear") == x);

    // softmax of (-2, 0, 0.5, 3): e^x / (e^-2 + 1 + e^0.5 + e^3)
    const M sm = y("softmax");
    const double z = std::exp(-2.0) + 1.0 + std::exp(0.5) + std::exp(3.0);
    CHECK(sm(0, 0) == Approx(std::exp(-2.0) / z));
    CHECK(sm(0, 3) == Approx(std::exp(3.0) / z));
    CHECK(sm.sum() == Approx(1.0));
}

TEST_CASE("Activation backward matches finite differences", "[activation][gradient]") {
    const M x = M::Random(5, 7) * 3;
    for (const char* name : {"sigmoid", "tanh", "linear", "softmax"}) {
        INFO(name);
        CHECK(input_gradient_error(*lamina::Activation(name).build<double>({7}), x) < 1e-6);
    }
    // relu is not differentiable at 0: keep inputs away from it.
    M away = x;
    away = away.unaryExpr([](double v) { return std::abs(v) < 0.1 ? v + 0.5 : v; });
    CHECK(input_gradient_error(*lamina::Activation("relu").build<double>({7}), away) < 1e-6);
}

TEST_CASE("Sigmoid and softmax stay finite for inputs of plus or minus 1e4", "[activation]") {
    for (const char* name : {"sigmoid", "softmax", "tanh"}) {
        INFO(name);
        lamina::Matrix<float> x(2, 3);
        x << -1e4f, 0.0f, 1e4f, 1e4f, 1e4f, -1e4f;
        auto layer = lamina::Activation(name).build<float>({3});
        lamina::Matrix<float> y(2, 3), dx(2, 3);
        layer->forward(x, y);
        REQUIRE(y.allFinite());
        layer->backward(x, y, lamina::Matrix<float>::Ones(2, 3), dx);
        CHECK(dx.allFinite());
    }
    lamina::Matrix<float> x(1, 2);
    x << -1e4f, 1e4f;
    lamina::Matrix<float> y(1, 2);
    lamina::Activation(lamina::activation::sigmoid).build<float>({2})->forward(x, y);
    CHECK(y(0, 0) == 0.0f);
    CHECK(y(0, 1) == 1.0f);
}

TEST_CASE("Activation accepts typed names and rejects unknown names with the known ones", "[activation][errors]") {
    CHECK(lamina::Activation(lamina::activation::relu).function() == lamina::activation::relu);
    CHECK(lamina::Activation("tanh").function() == lamina::activation::tanh);
    CHECK(lamina::to_string(lamina::activation::softmax) == "softmax");
    CHECK_THROWS_WITH(lamina::Activation("sigmod"), Catch::Contains("'sigmod'") && Catch::Contains("sigmoid") &&
                                                        Catch::Contains("softmax") && Catch::Contains("relu"));
    CHECK_THROWS_AS(lamina::Activation("sigmod"), std::invalid_argument);
    CHECK_THROWS_WITH(lamina::Activation("relu").build<float>({}), Catch::Contains("first layer"));
}

TEST_CASE("An activation's value does not depend on where in the batch it lies", "[activation]") {
    // Widths below, at and above a packet, and blocks of rows that lie end to end or not: each
    // value must equal the one computed for its row alone, and for itself alone.
    using MF = lamina::Matrix<float>;
    for (const char* name : {"sigmoid", "tanh", "relu", "softmax"}) {
        for (Index width : {1, 3, 10, 16, 37, 100}) {
            INFO(name << ", width " << width);
            const auto layer = lamina::Activation(name).build<float>({width});
            const MF x = MF::Random(9, width) * 6.0f;
            MF whole(9, width), wide = MF::Constant(9, width + 5, 7.0f);
            layer->forward(x, whole);
            layer->forward(x, wide.leftCols(width));  // rows not end to end
            CHECK(wide.leftCols(width) == whole);
            CHECK((wide.rightCols(5).array() == 7.0f).all());
            for (Index i = 0; i < x.rows(); ++i) {
                MF row(1, width);
                layer->forward(x.row(i), row);
                REQUIRE(row == whole.row(i));
                if (std::string(name) == "softmax") continue;  // not element-wise
                for (Index j = 0; j < width; ++j) {
                    MF one(1, 1);
                    layer->forward(x.block(i, j, 1, 1), one);
                    REQUIRE(one(0, 0) == whole(i, j));
                }
            }
            // And the values are the functions' own, to float rounding.
            if (std::string(name) == "sigmoid")
                CHECK((whole.array() - (1.0f + (-x.array()).exp()).inverse()).abs().maxCoeff() < 1e-6f);
            if (std::string(name) == "softmax") CHECK((whole.rowwise().sum().array() - 1.0f).abs().maxCoeff() < 1e-5f);
        }
    }
}
