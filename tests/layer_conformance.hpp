// SPDX-License-Identifier: MIT
// lamina tests: one call that checks any layer against the Layer contract (gradients, shapes, files, threads).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <lamina/lamina.hpp>
#include <lamina/layers/registry.hpp>

#include "gradient_check.hpp"
#include "idx_files.hpp"

namespace lamina::test {

/// The heap allocations `f` makes, on every thread, or -1 where they cannot be counted (a
/// sanitizer owns malloc). Defined in test_allocation.cpp, which replaces malloc for the
/// whole test program.
long count_allocations(const std::function<void()>& f);

/// A layer spec the conformance check can build in double (gradients, config) and in float
/// (models): Dense(3), Activation("relu"), Flatten({...}), LayerFromConfig{...}, or your own.
template <class Spec>
concept ConformanceSpec = requires(const Spec& s, const Shape& shape) {
    { s.template build<double>(shape) } -> std::convertible_to<std::unique_ptr<Layer<double>>>;
    { s.template build<float>(shape) } -> std::convertible_to<std::unique_ptr<Layer<float>>>;
};

/// Settings of `check_layer_conformance`; the defaults suit small layers.
struct ConformanceOptions {
    /// Rows of the batches given to the layer alone (gradient checks, blocks of rows).
    Index rows = 6;
    /// Seeds the weights, the data and the training passes.
    std::uint64_t seed = 1;
    /// The largest relative error allowed between analytic and central-difference gradients.
    double gradient_tolerance = 1e-6;
};

namespace conformance {

using MD = Matrix<double>;
using VD = Vector<double>;
using MF = Matrix<float>;

inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// Whether a and b hold the same values bit for bit (NaN never equals).
template <class A, class B>
bool same(const A& a, const B& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() && (a.array() == b.array()).all();
}

/// The largest |a - b| / max(|a| + |b|, 1) over the elements (0 for equal matrices).
template <class A, class B>
double max_difference(const A& a, const B& b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) return std::numeric_limits<double>::infinity();
    double worst = 0;
    for (Index i = 0; i < a.rows(); ++i)
        for (Index j = 0; j < a.cols(); ++j) {
            const double x = double(a(i, j)), y = double(b(i, j));
            const double d = std::abs(x - y) / std::max(std::abs(x) + std::abs(y), 1.0);
            worst = (d > worst || d != d) ? d : worst;  // a NaN makes it NaN, which fails `< tol`
        }
    return worst;
}

inline bool same_traits(const LayerTraits& a, const LayerTraits& b) {
    return a.random_in_training == b.random_in_training && a.reads_input_nonzeros == b.reads_input_nonzeros &&
           a.prepares_batch == b.prepares_batch && a.row_softmax == b.row_softmax &&
           a.backward_as_first == b.backward_as_first && a.gradient_slices == b.gradient_slices &&
           a.batch_slices == b.batch_slices;
}

/// A layer alone with its own flat buffers, as a model would bind it.
template <Scalar S>
struct Bound {
    std::unique_ptr<Layer<S>> layer;
    Vector<S> params, grads;
    explicit Bound(std::unique_ptr<Layer<S>> l) : layer(std::move(l)) {
        params = Vector<S>::Zero(layer->parameter_count());
        grads = Vector<S>::Zero(layer->parameter_count());
        layer->bind(params.data(), grads.data());
    }
    Matrix<S> forward(ConstMatrixRef<S> x, const Pass& pass) const {
        Matrix<S> y(x.rows(), layer->output_dim());
        layer->forward(x, y, pass);
        return y;
    }
};

/// What a model does before a training forward of the whole batch x: the layer's
/// `batch_forward`, in `parts` slices (nothing for layers without `batch_slices`); the
/// moving averages stay as they are (update false), so that the checks see fixed weights.
template <Scalar S>
void before_forward(Layer<S>& layer, ConstMatrixRef<S> x, Index parts = 1) {
    if (layer.traits().batch_slices <= 0) return;
    for (Index part = 0; part < parts; ++part) layer.batch_forward(x, part, parts, false);
}
/// What a model does before the training backwards of the whole batch: `batch_backward`.
template <Scalar S>
void before_backward(Layer<S>& layer, ConstMatrixRef<S> x, ConstMatrixRef<S> dy, Index parts = 1) {
    if (layer.traits().batch_slices <= 0) return;
    for (Index part = 0; part < parts; ++part) layer.batch_backward(x, dy, part, parts);
}

/// Input shape, output shape and weights as the contract says.
inline void check_shapes(Bound<double>& b, const Shape& input_shape, const Pass& train, Index rows) {
    const Layer<double>& layer = *b.layer;
    INFO("shapes");
    CHECK(layer.input_shape() == input_shape);
    CHECK(layer.input_dim() == input_shape.size());
    CHECK_FALSE(layer.output_shape().empty());
    CHECK(layer.output_dim() == layer.output_shape().size());

    Index total = 0;
    std::vector<std::string> names;
    for (const auto& w : layer.weight_specs()) {
        INFO("weight '" << w.name << "' " << w.shape.text());
        CHECK_FALSE(w.name.empty());
        CHECK(w.shape.rank() >= 1);
        CHECK(w.shape.size() >= 1);
        CHECK(std::find(names.begin(), names.end(), w.name) == names.end());
        names.push_back(w.name);
        total += w.shape.size();
    }
    CHECK(total == layer.parameter_count());

    // get_weights: one array per spec, shaped as matrix_shape says, in the flat buffer's order.
    b.params = VD::Random(b.params.size());
    const Weights<double> weights = layer.get_weights();
    REQUIRE(weights.size() == layer.weight_specs().size());
    Index at = 0;
    for (std::size_t k = 0; k < weights.size(); ++k) {
        const auto [r, c] = Layer<double>::matrix_shape(layer.weight_specs()[k].shape);
        INFO("get_weights()[" << k << "]");
        CHECK(weights[k].rows() == r);
        CHECK(weights[k].cols() == c);
        if (at + weights[k].size() <= b.params.size())
            CHECK(same(Eigen::Map<const MD>(b.params.data() + at, weights[k].rows(), weights[k].cols()), weights[k]));
        at += weights[k].size();
    }
    // set_weights writes them back in the same places, and refuses a wrong count.
    Weights<double> doubled = weights;
    for (auto& w : doubled) w *= 2;
    const VD before = b.params;
    b.layer->set_weights(doubled);
    CHECK(same(b.params, (before * 2).eval()));
    Weights<double> more = weights;
    more.push_back(MD::Zero(1, 1));
    CHECK_THROWS_AS(b.layer->set_weights(more), shape_error);

    // forward writes every element of its rows x output_dim() output and nothing else (a
    // training forward after begin_batch, where the traits ask for it).
    if (layer.traits().prepares_batch) b.layer->begin_batch(rows);
    const MD x = MD::Random(rows, layer.input_dim());
    before_forward<double>(*b.layer, x);
    MD out = MD::Constant(rows + 2, layer.output_dim() + 2, 7777.0);
    out.block(1, 1, rows, layer.output_dim()).setConstant(nan);
    layer.forward(x, out.block(1, 1, rows, layer.output_dim()), train);
    CHECK(out.block(1, 1, rows, layer.output_dim()).allFinite());
    MD frame = out;
    frame.block(1, 1, rows, layer.output_dim()).setConstant(7777.0);
    CHECK((frame.array() == 7777.0).all());
}

/// Input and weight gradients against central differences of L = sum(forward(x) .* r) + penalty.
inline void check_gradients(Bound<double>& b, const Pass& train, Index rows, std::uint64_t seed, double tol) {
    Layer<double>& layer = *b.layer;
    const LayerTraits traits = layer.traits();
    INFO("gradients");
    Random rng(seed);
    layer.initialize(rng);
    // begin_batch with the first weights, then with others: backward must follow the second.
    if (traits.prepares_batch) layer.begin_batch(rows);
    b.params += 0.25 * VD::Random(b.params.size());  // a non-zero bias, weights off their draw
    if (traits.prepares_batch) layer.begin_batch(rows);

    MD x = MD::Random(rows, layer.input_dim());
    const MD r = MD::Random(rows, layer.output_dim());  // dL/dy
    MD y(rows, layer.output_dim());
    // The loss of a training pass, whose statistics (batch_forward) follow x.
    const auto loss = [&] {
        before_forward<double>(layer, x);
        layer.forward(x, y, train);
        return y.cwiseProduct(r).sum() + layer.regularization_loss();
    };

    before_forward<double>(layer, x);
    layer.forward(x, y, train);
    MD dx = MD::Constant(rows, layer.input_dim(), nan);
    before_backward<double>(layer, x, r);
    layer.backward(x, y, r, dx, train);
    {
        INFO("the input gradient of backward");
        REQUIRE(dx.allFinite());
        CHECK(max_gradient_error(x.data(), x.size(), dx.data(), loss) < tol);
    }

    // gradient follows the training forward and backward of its batch (the differences above
    // ran forward on other inputs), whose kept values it may read (backward_as_first).
    before_forward<double>(layer, x);
    layer.forward(x, y, train);
    before_backward<double>(layer, x, r);
    layer.backward(x, y, r, dx, train);
    const Index count = layer.trainable_count();
    b.grads.setConstant(nan);
    const ParameterRange whole = layer.gradient(x, r, 0, 1);
    const VD analytic = b.grads.head(count);
    {
        INFO("the weight gradient of gradient(x, dy, 0, 1)");
        CHECK(whole.offset == 0);
        CHECK(whole.size == count);
        REQUIRE(analytic.allFinite());
        CHECK(max_gradient_error(b.params.data(), count, analytic.data(), loss) < tol);
    }
    if (count < layer.parameter_count()) {
        INFO("the non-trainable weights follow the trainable ones, which gradient never writes");
        CHECK(std::isnan(b.grads(count)));
        const auto& specs = layer.weight_specs();
        const auto first_fixed = std::find_if(specs.begin(), specs.end(), [](const auto& w) { return !w.trainable; });
        CHECK(std::all_of(first_fixed, specs.end(), [](const auto& w) { return !w.trainable; }));
    }
    if (traits.batch_slices > 0) {
        INFO("batch_forward and batch_backward in 2 and 3 slices give what one slice gives");
        MD y_whole(rows, layer.output_dim()), dx_whole(rows, layer.input_dim());
        before_forward<double>(layer, x);
        layer.forward(x, y_whole, train);
        before_backward<double>(layer, x, r);
        layer.backward(x, y_whole, r, dx_whole, train);
        for (Index parts = 2; parts <= std::min<Index>(traits.batch_slices, 3); ++parts) {
            MD y_parts(rows, layer.output_dim()), dx_parts(rows, layer.input_dim());
            before_forward<double>(layer, x, parts);
            layer.forward(x, y_parts, train);
            before_backward<double>(layer, x, r, parts);
            layer.backward(x, y_parts, r, dx_parts, train);
            CHECK(same(y_parts, y_whole));
            CHECK(same(dx_parts, dx_whole));
        }
    }

    CHECK(traits.gradient_slices >= 1);
    const Index most = std::min<Index>(traits.gradient_slices, 3);
    for (Index parts = 2; parts <= most; ++parts) {
        INFO("the weight gradient in " << parts << " slices");
        VD sliced = VD::Constant(count, nan);
        std::vector<int> written(std::size_t(count), 0);
        for (Index part = 0; part < parts; ++part) {
            INFO("slice " << part);
            b.grads.setConstant(nan);
            const ParameterRange range = layer.gradient(x, r, part, parts);
            INFO("range [" << range.offset << ", " << range.offset + range.size << ") of " << count);
            REQUIRE(range.offset >= 0);
            REQUIRE(range.size >= 0);
            REQUIRE(range.offset + range.size <= count);
            Index outside = 0;  // values written out of the range the slice returned
            for (Index i = 0; i < count; ++i) {
                const bool in = i >= range.offset && i < range.offset + range.size;
                if (in) {
                    ++written[std::size_t(i)];
                    sliced(i) = b.grads(i);
                } else if (!std::isnan(b.grads(i))) {
                    ++outside;
                }
            }
            CHECK(outside == 0);
        }
        CHECK(std::all_of(written.begin(), written.end(), [](int n) { return n == 1; }));  // the ranges tile
        CHECK(max_difference(sliced, analytic) < 1e-12);
    }
}

/// Rows are independent: blocks of rows (with Pass::row) give the whole batch's result, and
/// strided views (a block of a larger matrix) read and write as contiguous ones; equal up to
/// rounding, since double products go through Eigen, which rounds by block size and stride
/// (the float kernels' bit-for-bit independence is checked through fit on 1 and 2 threads).
inline void check_rows(Bound<double>& b, const Pass& train, Index rows) {
    Layer<double>& layer = *b.layer;
    INFO("blocks of rows and strided views");
    const Index in = layer.input_dim(), out = layer.output_dim(), k = rows / 2;
    const MD big_x = MD::Random(rows + 2, in + 3);
    const auto x = big_x.block(1, 2, rows, in);
    const MD r = MD::Random(rows, out);
    if (layer.traits().prepares_batch) layer.begin_batch(rows);
    for (const bool training : {false, true}) {
        INFO((training ? "training" : "inference") << " pass");
        Pass whole = train, first = train, second = train;
        whole.training = first.training = second.training = training;
        second.row = k;
        if (training) before_forward<double>(layer, MD(x));
        const MD y = b.forward(MD(x), whole);
        MD y_blocks(rows, out);
        layer.forward(x.topRows(k), y_blocks.topRows(k), first);
        layer.forward(x.bottomRows(rows - k), y_blocks.bottomRows(rows - k), second);
        CHECK(max_difference(y_blocks, y) < 1e-12);
        CHECK(same(b.forward(MD(x), whole), y));  // the same every time
        // Double products go through Eigen, which may round a strided view differently.
        CHECK(max_difference(b.forward(x, whole), y) < 1e-12);

        MD dx(rows, in);
        if (training) before_backward<double>(layer, MD(x), r);
        layer.backward(MD(x), y, r, dx, whole);
        MD dx_blocks(rows, in);
        layer.backward(x.topRows(k), y.topRows(k), r.topRows(k), dx_blocks.topRows(k), first);
        layer.backward(x.bottomRows(rows - k), y.bottomRows(rows - k), r.bottomRows(rows - k),
                       dx_blocks.bottomRows(rows - k), second);
        CHECK(max_difference(dx_blocks, dx) < 1e-12);
        MD big_dx = MD::Constant(rows + 2, in + 2, 7777.0);
        layer.backward(x, y, r, big_dx.block(1, 1, rows, in), whole);
        CHECK(max_difference(big_dx.block(1, 1, rows, in), dx) < 1e-12);
        big_dx.block(1, 1, rows, in).setConstant(7777.0);
        CHECK((big_dx.array() == 7777.0).all());
    }
}

/// The registry rebuilds the layer from kind and config, and refuses an unknown field.
inline void check_config(const Bound<double>& b, const Shape& input_shape, const Pass& train, Index rows) {
    const Layer<double>& layer = *b.layer;
    INFO("config round trip through the registry");
    const auto& registry = LayerRegistry<double>::instance();
    REQUIRE(registry.contains(layer.kind()));
    const Config config = layer.get_config();
    Bound<double> copy(registry.create(layer.kind(), config, input_shape));
    CHECK(copy.layer->kind() == layer.kind());
    CHECK(copy.layer->get_config() == config);
    CHECK(copy.layer->input_shape() == layer.input_shape());
    CHECK(copy.layer->output_shape() == layer.output_shape());
    CHECK(copy.layer->parameter_count() == layer.parameter_count());
    CHECK(same_traits(copy.layer->traits(), layer.traits()));
    REQUIRE(copy.layer->weight_specs().size() == layer.weight_specs().size());
    for (std::size_t k = 0; k < layer.weight_specs().size(); ++k) {
        CHECK(copy.layer->weight_specs()[k].name == layer.weight_specs()[k].name);
        CHECK(copy.layer->weight_specs()[k].shape == layer.weight_specs()[k].shape);
    }
    // With the same weights it computes the same.
    copy.params = b.params;
    CHECK(copy.layer->regularization_loss() == layer.regularization_loss());
    const MD x = MD::Random(rows, layer.input_dim());
    if (copy.layer->traits().prepares_batch) copy.layer->begin_batch(rows);
    before_forward<double>(*copy.layer, x);
    const MD y_copy = copy.forward(x, train);
    before_forward<double>(*b.layer, x);
    CHECK(same(y_copy, b.forward(x, train)));
    // The float registry reads the same config.
    const auto as_float = LayerRegistry<float>::instance().create(layer.kind(), config, input_shape);
    CHECK(as_float->get_config() == config);
    CHECK(as_float->output_shape() == layer.output_shape());

    Config bogus = config;
    bogus.set("bogus", Index(1));
    CHECK_THROWS_AS(registry.create(layer.kind(), bogus, input_shape), std::invalid_argument);
    CHECK_THROWS_WITH(registry.create(layer.kind(), bogus, input_shape),
                      Catch::Contains("bogus") && Catch::Contains(layer.kind()));
}

/// A float model around the spec: the layer first when it carries its own input shape,
/// otherwise after a Dense (and a Reshape to `input_shape` when that is not flat); then a
/// Flatten when its output is not flat, and a Dense(2), so that every model trains weights
/// on both sides of the layer. `index` is set to the layer's place in the model.
template <class Spec>
Sequential<float> model_around(const Spec& spec, const Shape& input_shape, Index& index) {
    bool first = true;
    try {
        (void)spec.template build<float>(Shape{});
    } catch (const std::invalid_argument&) {
        first = false;
    }
    Sequential<float> model;
    if (!first) {
        model.add(Dense(input_shape.size(), {.input_dim = input_shape.size()}));
        if (input_shape.rank() > 1) model.add(Reshape(input_shape.dims()));
    }
    model.add(spec);
    index = model.size() - 1;
    REQUIRE(model.layer(index).input_shape() == input_shape);
    if (model.output_shape().rank() > 1) model.add(Flatten());
    model.add(Dense(2));
    model.compile(loss::mean_squared_error, SGD{.learning_rate = 0.01, .momentum = 0.5});
    return model;
}

/// Inputs (with some zeros, for layers that read the input's non-zeros) and targets.
inline MF model_inputs(Index rows, Index cols, unsigned seed) {
    std::srand(seed);
    MF x = MF::Random(rows, cols);
    for (Index i = 0; i < x.size(); i += 7) x.data()[i] = 0;
    return x;
}

/// to_bytes/from_bytes, save_weights/load_weights and summary.
template <class Spec>
void check_model_files(const Spec& spec, const Shape& input_shape, std::uint64_t seed) {
    INFO("model round trips");
    Index index = 0;
    auto model = model_around(spec, input_shape, index);
    model.initialize(seed);
    const MF x = model_inputs(40, model.input_dim(), unsigned(seed));
    const MF y = MF::Random(40, model.output_dim());
    model.fit(x, y, {.batch_size = 10, .epochs = 1, .verbose = 0, .seed = seed, .threads = 1});
    const Layer<float>& layer = model.layer(index);

    const auto bytes = model.to_bytes();
    const auto back = Sequential<float>::from_bytes(bytes);
    REQUIRE(back.size() == model.size());
    CHECK(back.layer(index).kind() == layer.kind());
    CHECK(back.layer(index).name() == layer.name());
    CHECK(back.layer(index).get_config() == layer.get_config());
    CHECK(back.layer(index).output_shape() == layer.output_shape());
    CHECK(same(back.parameters(), model.parameters()));
    CHECK(same(back.predict(x), model.predict(x)));
    CHECK(back.to_bytes() == bytes);

    {
        TempDir dir;
        model.save_weights(dir / "weights.npz");
        Index fresh_index = 0;
        auto fresh = model_around(spec, input_shape, fresh_index);
        fresh.initialize(seed + 1);
        REQUIRE(fresh.count_params() == model.count_params());
        CHECK_FALSE(same(fresh.parameters(), model.parameters()));  // else the load proves nothing
        fresh.load_weights(dir / "weights.npz");
        CHECK(same(fresh.parameters(), model.parameters()));
        CHECK(same(fresh.predict(x), model.predict(x)));
    }

    std::ostringstream out;
    model.summary(out);
    const std::string label = layer.name() + " (" + layer.kind() + ")", shape = layer.output_shape().text(true);
    INFO("summary():\n" << out.str() << "expected a line with '" << label << "' and '" << shape << "'");
    std::istringstream lines(out.str());
    bool found = false;
    for (std::string line; std::getline(lines, line);)
        found = found || (line.find(" " + label + " ") != std::string::npos && line.find(shape) != std::string::npos);
    CHECK(found);
}

/// fit on one thread and on two, from the same weights and seed, trains the same weights.
template <class Spec>
void check_threads(const Spec& spec, const Shape& input_shape, std::uint64_t seed) {
    INFO("fit on 1 and 2 threads");
    if (!detail::gemm_rows_independent<float>()) {
        WARN("skipped: lamina's float kernels are not built here (no AVX2/FMA), so thread counts may round apart");
        return;
    }
    Index index = 0;
    auto one = model_around(spec, input_shape, index), two = model_around(spec, input_shape, index);
    one.initialize(seed);
    two.initialize(seed);
    REQUIRE(same(one.parameters(), two.parameters()));
    const MF x = model_inputs(200, one.input_dim(), unsigned(seed));
    const MF y = MF::Random(200, one.output_dim());
    one.fit(x, y, {.batch_size = 100, .epochs = 2, .verbose = 0, .seed = seed, .threads = 1});
    two.fit(x, y, {.batch_size = 100, .epochs = 2, .verbose = 0, .seed = seed, .threads = 2});
    CHECK(same(one.parameters(), two.parameters()));
    CHECK(same(one.predict(x, {.threads = 1}), two.predict(x, {.threads = 2})));
}

/// After the first batch, training steps and single-sample predictions allocate nothing.
template <class Spec>
void check_allocations(const Spec& spec, const Shape& input_shape, std::uint64_t seed) {
    INFO("allocations after the first batch");
    if (count_allocations([] {}) < 0) {
        WARN("skipped: a sanitizer replaces malloc, so allocations cannot be counted");
        return;
    }
    for (const int threads : {1, 2}) {
        INFO("threads " << threads);
        Index index = 0;
        auto model = model_around(spec, input_shape, index);
        model.initialize(seed);
        const MF x = model_inputs(64, model.input_dim(), unsigned(seed));
        const MF y = MF::Random(64, model.output_dim());
        model.train_on_batch(x, y, threads);
        CHECK(count_allocations([&] {
                  for (int step = 0; step < 5; ++step) model.train_on_batch(x, y, threads);
                  model.train_on_batch(x.topRows(37), y.topRows(37), threads);  // a smaller last batch
              }) == 0);
        MF out(1, model.output_dim());
        model.predict(x.topRows(1), out);
        CHECK(count_allocations([&] {
                  for (Index i = 0; i < 3; ++i) model.predict(x.middleRows(i, 1), out);
              }) == 0);
    }
}

}  // namespace conformance

/// Checks that the layer `spec` builds, after a layer whose output is `input_shape`, keeps
/// the Layer contract (lamina/layers/layer.hpp), with Catch2 checks that name the layer:
///  1. gradients (double): backward's input gradient (a training pass of fixed seed, after
///     `begin_batch` when the traits ask for it) and gradient(x, dy, 0, 1) against central
///     differences of sum(forward(x) .* r) + regularization_loss(); gradient in 2 and 3
///     slices (up to traits().gradient_slices) writes only the ranges it returns, which tile
///     [0, parameter_count()), and gives the one-slice values; blocks of rows (Pass::row) and
///     strided views compute as the whole batch;
///  2. shapes: dims match shapes, forward writes exactly rows x output_dim(), weight specs sum
///     to parameter_count(), get_weights/set_weights follow the specs and the flat layout;
///  3. the registry rebuilds the layer from kind() and get_config() (same kind, config,
///     shapes, weight specs, traits, outputs) and refuses an unknown field "bogus";
///  4. a float Sequential holding it (see `model_around`) survives to_bytes/from_bytes bit
///     for bit, save_weights/load_weights (.npz) restores its parameters, and summary() shows
///     the layer's name, kind and output shape;
///  5. fit on 1 and 2 threads from the same weights and seed trains identical parameters;
///  6. after the first batch, train_on_batch and single-sample predict allocate nothing.
/// \param spec any layer spec (a type with `build<S>(const Shape&)` for float and double).
/// \param input_shape the shape of one input sample of the layer (the spec's own input
///        shape, if it carries one, must be the same).
template <ConformanceSpec Spec>
void check_layer_conformance(const Spec& spec, const Shape& input_shape, const ConformanceOptions& options = {}) {
    using namespace conformance;
    REQUIRE(options.rows >= 2);
    Bound<double> b(spec.template build<double>(input_shape));
    INFO("layer " << b.layer->kind() << " {" << b.layer->get_config().text() << "} on input " << input_shape.text()
                  << " -> " << b.layer->output_shape().text());
    const Pass train{.training = true, .seed = detail::mix64(options.seed + 0x5EED), .row = 0};
    std::srand(unsigned(options.seed));
    check_shapes(b, input_shape, train, options.rows);
    check_gradients(b, train, options.rows, options.seed, options.gradient_tolerance);
    check_rows(b, train, options.rows);
    check_config(b, input_shape, train, options.rows);
    check_model_files(spec, input_shape, options.seed);
    check_threads(spec, input_shape, options.seed);
    check_allocations(spec, input_shape, options.seed);
}

}  // namespace lamina::test
