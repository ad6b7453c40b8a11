// SPDX-License-Identifier: MIT
// lamina tests: the Activation layer: known values, gradients, extreme inputs and errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>
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

TEST_CASE("The sigmoid kernels of every instruction set agree with each other, with exp, and with Eigen's AVX-512 code",
          "[activation][isa]") {
    // Ordinary values, both tails (where e^-x overflows or the result rounds to 0 or 1), signed
    // zeros, a subnormal, infinities and NaN; 37 values, so that the kernels' masked tail runs.
    std::vector<float> x{0.0f,
                         -0.0f,
                         1e-3f,
                         -1e-3f,
                         0.5f,
                         -0.5f,
                         1.0f,
                         -1.0f,
                         2.5f,
                         -2.5f,
                         7.0f,
                         -7.0f,
                         15.0f,
                         -15.0f,
                         30.0f,
                         -30.0f,
                         87.0f,
                         -87.0f,
                         88.5f,
                         -88.5f,
                         89.0f,
                         -89.0f,
                         100.0f,
                         -100.0f,
                         1e4f,
                         -1e4f,
                         1e-40f,
                         3.3f,
                         -4.4f,
                         5.5f,
                         -6.6f,
                         0.25f,
                         -0.75f,
                         std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity(),
                         std::numeric_limits<float>::quiet_NaN(),
                         42.0f};
    const auto n = Index(x.size());
    std::vector<std::vector<float>> results;
    for (lamina::Isa isa : {lamina::Isa::avx2, lamina::Isa::avx512}) {
        const auto kernels = lamina::detail::float_kernels_for(isa);
        if (isa > lamina::cpu_isa() || !kernels.sigmoid) continue;
        std::vector<float> y(x.size() + 1, -1.0f);
        kernels.sigmoid(x.data(), y.data(), n);
        CHECK(y.back() == -1.0f);  // nothing written past n
        y.pop_back();
        for (Index i = 0; i < n; ++i) {
            const double v = x[std::size_t(i)], expected = 1.0 / (1.0 + std::exp(-v));
            INFO(lamina::isa_name(isa) << ": x = " << v << ", y = " << y[std::size_t(i)]);
            if (std::isnan(v)) CHECK(std::isnan(y[std::size_t(i)]));
            else CHECK(std::fabs(y[std::size_t(i)] - expected) <= 4e-7 * expected + 1e-37);
        }
        results.push_back(y);
    }
    if (results.size() == 2)
        for (Index i = 0; i < n; ++i)
            if (!std::isnan(x[std::size_t(i)])) CHECK(results[0][std::size_t(i)] == results[1][std::size_t(i)]);
    // Where Eigen itself is built for AVX-512 (16 floats a packet), the layer's Eigen path and
    // the kernels give the same bits: a model trains the same either way.
    if (!results.empty() && lamina::detail::packet_size<float> == 16) {
        const Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>> in(x.data(), n);
        Eigen::Array<float, 1, Eigen::Dynamic> eigen(n);
        lamina::detail::for_each_packet(
            n, eigen.data(), [](const auto& v, const auto&) { return lamina::detail::Sigmoid::f(v); }, x.data(),
            x.data());
        for (Index i = 0; i < n; ++i)
            if (!std::isnan(x[std::size_t(i)])) CHECK(eigen(i) == results.back()[std::size_t(i)]);
    }
}

TEST_CASE("Keras's elu, selu, softplus, silu (swish) and gelu give Keras's values", "[activation]") {
    M x(1, 5);
    x << -3.0, -0.5, 0.0, 0.7, 4.0;
    const auto y = [&](const char* name) { return forward(*lamina::Activation(name).build<double>({5}), x); };
    const double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
    const M elu = y("elu"), selu = y("selu"), softplus = y("softplus"), silu = y("silu"), swish = y("swish"),
            gelu = y("gelu");
    for (Index j = 0; j < 5; ++j) {
        const double v = x(0, j);
        INFO(v);
        CHECK(elu(0, j) == Approx(v > 0 ? v : std::exp(v) - 1).margin(1e-15));
        CHECK(selu(0, j) == Approx(scale * (v > 0 ? v : alpha * (std::exp(v) - 1))).margin(1e-15));
        CHECK(softplus(0, j) == Approx(std::log(1 + std::exp(v))).margin(1e-15));
        CHECK(silu(0, j) == Approx(v / (1 + std::exp(-v))).margin(1e-15));
        CHECK(gelu(0, j) == Approx(0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))).margin(1e-15));
    }
    CHECK(swish == silu);
    CHECK(lamina::Activation("swish").function() == lamina::activation::silu);
    CHECK(lamina::to_string(lamina::activation::gelu) == "gelu");
    // Keras's gelu(1) (approximate=False) = 0.8413447460685429.
    M one(1, 1);
    one << 1.0;
    CHECK(forward(*lamina::Activation("gelu").build<double>({1}), one)(0, 0) == Approx(0.8413447460685429));
}

TEST_CASE("elu, selu, softplus, silu and gelu backward match finite differences", "[activation][gradient]") {
    M x = M::Random(5, 7) * 3;
    // elu and selu have a kink in their second derivative at 0 only; keep inputs off it anyway.
    x = x.unaryExpr([](double v) { return std::abs(v) < 0.1 ? v + 0.5 : v; });
    for (const char* name : {"elu", "selu", "softplus", "silu", "gelu"}) {
        INFO(name);
        CHECK(input_gradient_error(*lamina::Activation(name).build<double>({7}), x) < 1e-6);
    }
}

TEST_CASE("elu, selu, softplus, silu and gelu stay finite for inputs of plus or minus 1e4", "[activation]") {
    for (const char* name : {"elu", "selu", "softplus", "silu", "gelu"}) {
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
}
