// SPDX-License-Identifier: MIT
// lamina tests: every built-in layer against the Layer contract, and the Flatten and Reshape layers' own behaviour.
#include <catch2/catch.hpp>

#include <string>

#include <lamina/lamina.hpp>
#include <lamina/layers/flatten.hpp>
#include <lamina/layers/registry.hpp>
#include <lamina/layers/reshape.hpp>

#include "gradient_check.hpp"
#include "layer_conformance.hpp"

using lamina::Index;
using lamina::Shape;
using lamina::test::check_layer_conformance;

// ----- Every built-in layer, through the one conformance check -----

TEST_CASE("Dense keeps the layer contract as the first layer and after another Dense", "[conformance][dense]") {
    check_layer_conformance(lamina::Dense(3, {.input_dim = 4}), {4});
    check_layer_conformance(lamina::Dense(3), {4});
    // Enough inputs for three gradient slices, with a penalty in each slice's gradient.
    check_layer_conformance(lamina::Dense(2, {.kernel_regularizer = lamina::regularizers::l2(0.05)}), {5});
}

TEST_CASE("Every activation keeps the layer contract", "[conformance][activation]") {
    for (const char* name : {"linear", "sigmoid", "tanh", "relu", "softmax"}) {
        INFO("Activation('" << name << "')");
        check_layer_conformance(lamina::Activation(name), {5});
    }
}

TEST_CASE("Dropout keeps the layer contract, its mask fixed by the pass's seed and rows", "[conformance][dropout]") {
    check_layer_conformance(lamina::Dropout(0.3), {6});
}

TEST_CASE("Flatten keeps the layer contract, first and after other layers", "[conformance][flatten]") {
    check_layer_conformance(lamina::Flatten({.input_shape = {2, 3, 2}}), {2, 3, 2});
    check_layer_conformance(lamina::Flatten(), {2, 3, 2});
}

TEST_CASE("Reshape keeps the layer contract, with a given and an inferred dimension", "[conformance][reshape]") {
    check_layer_conformance(lamina::Reshape({3, 4}, {.input_shape = {12}}), {12});
    check_layer_conformance(lamina::Reshape({2, -1}), {12});
}

TEST_CASE("Dense with an activation keeps the layer contract, first and after another layer", "[conformance][dense]") {
    check_layer_conformance(lamina::Dense(3, {.input_dim = 4, .activation = "tanh"}), {4});
    check_layer_conformance(lamina::Dense(3, {.activation = "relu"}), {5});
}

TEST_CASE("Conv2D keeps the layer contract: first, strided, padded, rectangular, without bias",
          "[conformance][conv2d]") {
    check_layer_conformance(lamina::Conv2D(2, {2, 3}, {.input_shape = {4, 5, 3}}), {4, 5, 3});
    check_layer_conformance(lamina::Conv2D(3, 3, {.strides = {2, 1}, .padding = "same", .activation = "relu"}),
                            {5, 4, 2});
    check_layer_conformance(
        lamina::Conv2D(2, 2,
                       {.activation = "tanh", .use_bias = false, .kernel_regularizer = lamina::regularizers::l2(0.05)}),
        {3, 3, 2});
}

TEST_CASE("The pooling layers keep the layer contract", "[conformance][pooling]") {
    check_layer_conformance(lamina::MaxPooling2D(2, {.input_shape = {4, 5, 3}}), {4, 5, 3});
    check_layer_conformance(lamina::MaxPooling2D({3, 2}, {.strides = {1, 2}, .padding = "same"}), {5, 4, 2});
    check_layer_conformance(lamina::AveragePooling2D(2), {4, 5, 3});
    check_layer_conformance(lamina::AveragePooling2D({2, 3}, {.strides = 2, .padding = "same"}), {5, 4, 2});
    check_layer_conformance(lamina::GlobalAveragePooling2D(), {3, 4, 2});
    check_layer_conformance(lamina::GlobalAveragePooling2D({.keepdims = true}), {2, 3, 2});
}

TEST_CASE("A layer given by kind and config keeps the layer contract", "[conformance]") {
    check_layer_conformance(lamina::LayerFromConfig{"Dropout", {{"rate", 0.25}}}, {4});
    check_layer_conformance(lamina::LayerFromConfig{"Dense", {{"units", Index(3)}}, {4}}, {4});
}

// ----- Flatten and Reshape: shapes, inference, errors, training -----

namespace {

using MD = lamina::Matrix<double>;

template <class Spec>
std::unique_ptr<lamina::Layer<double>> build(const Spec& spec, const Shape& input) {
    return spec.template build<double>(input);
}

}  // namespace

TEST_CASE("Flatten turns any sample shape into one flat vector and keeps every value", "[conformance][flatten]") {
    const auto layer = build(lamina::Flatten(), {2, 3, 2});
    CHECK(layer->input_shape() == Shape{2, 3, 2});
    CHECK(layer->output_shape() == Shape{12});
    CHECK(layer->parameter_count() == 0);
    CHECK(layer->get_config().empty());
    CHECK(build(lamina::Flatten(), {5})->output_shape() == Shape{5});
    CHECK(build(lamina::Flatten(), {28, 28, 1})->output_shape() == Shape{784});
    // Samples are stored flattened row-major, so y = x and dx = dy.
    MD x(2, 12), y(2, 12), dx(2, 12);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = double(i) - 5.5;
    layer->forward(x, y);
    CHECK(y == x);
    layer->backward(x, y, x * 3, dx);
    CHECK(dx == x * 3);
}

TEST_CASE("Reshape infers its -1 dimension as Keras does", "[conformance][reshape]") {
    CHECK(build(lamina::Reshape({3, 4}), {12})->output_shape() == Shape{3, 4});
    CHECK(build(lamina::Reshape({-1}), {2, 3, 2})->output_shape() == Shape{12});
    CHECK(build(lamina::Reshape({3, -1}), {12})->output_shape() == Shape{3, 4});
    CHECK(build(lamina::Reshape({-1, 2, 2}), {12})->output_shape() == Shape{3, 2, 2});
    CHECK(build(lamina::Reshape({2, -1, 1}), {4, 3})->output_shape() == Shape{2, 6, 1});
    // The config keeps the -1 as given, so that a saved model reshapes as it was written.
    const auto inferred = build(lamina::Reshape({3, -1}), {12});
    CHECK(inferred->get_config() == lamina::Config{{"target_shape", std::vector<Index>{3, -1}}});
    CHECK(inferred->get_config().text() == "target_shape: (3, -1)");
}

TEST_CASE("Reshape refuses a target it cannot fill, naming the layer and the shapes", "[conformance][reshape]") {
    using Catch::Contains;
    // A target of another size: 12 values into 5.
    CHECK_THROWS_AS(build(lamina::Reshape({5}), {12}), lamina::shape_error);
    CHECK_THROWS_WITH(build(lamina::Reshape({5}), {12}),
                      Contains("Reshape((5))") && Contains("(12)") && Contains("12 values") && Contains("(5)"));
    CHECK_THROWS_WITH(build(lamina::Reshape({2, 2}), {3, 2}), Contains("(3, 2)") && Contains("(2, 2)"));
    // A -1 that does not divide the size: 12 values into (5, -1).
    CHECK_THROWS_AS(build(lamina::Reshape({-1, 5}), {12}), lamina::shape_error);
    CHECK_THROWS_WITH(build(lamina::Reshape({-1, 5}), {12}), Contains("(-1, 5)") && Contains("(12)"));
    // Two -1s, zero or negative dimensions, no dimension at all.
    CHECK_THROWS_AS(lamina::Reshape({-1, -1}), std::invalid_argument);
    CHECK_THROWS_WITH(lamina::Reshape({-1, -1}), Contains("Reshape") && Contains("more than one -1"));
    CHECK_THROWS_AS(lamina::Reshape({0, 12}), std::invalid_argument);
    CHECK_THROWS_WITH(lamina::Reshape({0, 12}), Contains("Reshape") && Contains("(0, 12)") && Contains("0"));
    CHECK_THROWS_AS(lamina::Reshape({3, -2}), std::invalid_argument);
    CHECK_THROWS_AS(lamina::Reshape({}), std::invalid_argument);
    // The same through a config, as a model file would give it.
    const auto& registry = lamina::LayerRegistry<double>::instance();
    CHECK_THROWS_AS(registry.create("Reshape", {{"target_shape", std::vector<Index>{-1, -1}}}, {12}),
                    std::invalid_argument);
    CHECK_THROWS_AS(registry.create("Reshape", {{"target_shape", std::vector<Index>{7}}}, {12}), lamina::shape_error);
    CHECK_THROWS_WITH(registry.create("Reshape", {}, {12}), Contains("Reshape") && Contains("target_shape"));
}

TEST_CASE("Flatten and Reshape as the first layer need an input shape", "[conformance][flatten][reshape]") {
    using Catch::Contains;
    CHECK_THROWS_AS(lamina::Sequential<float>{lamina::Flatten()}, std::invalid_argument);
    CHECK_THROWS_WITH(lamina::Sequential<float>{lamina::Flatten()}, Contains("Flatten") && Contains("input_shape"));
    CHECK_THROWS_AS(lamina::Sequential<float>{lamina::Reshape({3, 4})}, std::invalid_argument);
    CHECK_THROWS_WITH(lamina::Sequential<float>{lamina::Reshape({3, 4})},
                      Contains("Reshape((3, 4))") && Contains("input_shape"));
    // An input shape with a zero dimension, and one that disagrees with the previous layer.
    CHECK_THROWS_WITH(lamina::Sequential<float>{lamina::Flatten({.input_shape = {2, 0}})},
                      Contains("Flatten") && Contains("(2, 0)"));
    CHECK_THROWS_AS((lamina::Sequential<float>{lamina::Dense(6, {.input_dim = 3}),
                                               lamina::Flatten({.input_shape = {2, 3}})}),
                    lamina::shape_error);
    CHECK_THROWS_WITH((lamina::Sequential<float>{lamina::Dense(6, {.input_dim = 3}),
                                                 lamina::Flatten({.input_shape = {2, 3}})}),
                      Contains("Flatten") && Contains("(2, 3)") && Contains("(6)"));
    // A Dense after a shaped sample needs a Flatten, and says so.
    CHECK_THROWS_WITH((lamina::Sequential<float>{lamina::Reshape({3, 4}, {.input_shape = {12}}), lamina::Dense(2)}),
                      Contains("Dense(2)") && Contains("(3, 4)") && Contains("Flatten"));
}

TEST_CASE("A model of Flatten then Dense learns a linear map of images", "[conformance][flatten]") {
    // y = sum of w_i x_i + 0.5 over a (2, 2, 1) image, w = (1, -2, 0.5, 3): exactly a Dense(1).
    lamina::Sequential<double> model{lamina::Flatten({.input_shape = {2, 2, 1}}), lamina::Dense(1)};
    model.initialize(3);
    model.compile(lamina::loss::mean_squared_error, lamina::SGD{.learning_rate = 0.1});
    CHECK(model.input_shape() == Shape{2, 2, 1});
    CHECK(model.layer(1).weight_specs()[0].shape == Shape{4, 1});
    std::srand(5);
    const MD x = MD::Random(64, 4);
    MD w(4, 1);
    w << 1, -2, 0.5, 3;
    const MD y = (x * w).array() + 0.5;
    // The whole model's gradient through Flatten matches finite differences.
    CHECK(lamina::test::model_gradient_error(model, x, y) < 1e-6);
    const double before = model.evaluate(x, y).loss;
    for (int step = 0; step < 300; ++step) model.train_on_batch(x, y, 1);
    const double after = model.evaluate(x, y).loss;
    CHECK(after < before * 1e-3);
    const auto weights = model.layer(1).get_weights();
    CHECK(weights[0](1, 0) == Approx(-2).margin(0.05));
    CHECK(weights[1](0, 0) == Approx(0.5).margin(0.05));
}
