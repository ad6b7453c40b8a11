// SPDX-License-Identifier: MIT
// lamina tests: Keras's files (.keras, legacy .h5, .weights.h5) read and written, against hand-computed
// predictions, h5py and refusals of what lamina cannot represent. Needs nlohmann/json.
#include <catch2/catch.hpp>

#if defined(LAMINA_HAVE_NLOHMANN_JSON)

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <lamina/io/file.hpp>
#include <lamina/io/keras.hpp>
#include <lamina/io/model_file.hpp>
#include <lamina/io/stored_zip.hpp>
#include <lamina/lamina.hpp>

namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) { return fs::path(LAMINA_SOURCE_DIR) / "tests" / "keras" / name; }

// The fixtures' model (make_fixtures.py): 4 -> Dense(3, relu) -> Dropout -> Dense(5, relu) ->
// Dense(2, softmax), kernel[i][j] = (i * units + j) / 8 - 0.5 + 0.01 * layer (float32),
// bias[j] = 0.1 (j + 1) (float32), computed here in double.
std::vector<double> keras_forward(const std::vector<double>& x) {
    const int sizes[4] = {4, 3, 5, 2};
    std::vector<double> a = x;
    for (int l = 0; l < 3; ++l) {
        std::vector<double> z(static_cast<std::size_t>(sizes[l + 1]));
        for (int j = 0; j < sizes[l + 1]; ++j) {
            double s = static_cast<double>(static_cast<float>(0.1 * (j + 1)));
            for (int i = 0; i < sizes[l]; ++i) {
                const float k = static_cast<float>(i * sizes[l + 1] + j) / 8.0f - 0.5f + 0.01f * static_cast<float>(l);
                s += a[static_cast<std::size_t>(i)] * static_cast<double>(k);
            }
            z[static_cast<std::size_t>(j)] = s;
        }
        if (l < 2) {
            for (double& v : z) v = std::max(v, 0.0);
        } else {
            const double m = std::max(z[0], z[1]);
            const double e0 = std::exp(z[0] - m), e1 = std::exp(z[1] - m);
            z = {e0 / (e0 + e1), e1 / (e0 + e1)};
        }
        a = z;
    }
    return a;
}

lamina::Matrix<float> inputs() {
    lamina::Matrix<float> x(3, 4);
    x << 1.0f, 2.0f, 3.0f, 4.0f, -1.0f, 0.5f, 0.25f, 2.0f, 0.3f, -0.7f, 1.1f, 0.9f;
    return x;
}

void check_predictions(lamina::Sequential<float>& model) {
    const lamina::Matrix<float> x = inputs();
    const lamina::Matrix<float> p = model.predict(x);
    REQUIRE(p.cols() == 2);
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        std::vector<double> row;
        for (Eigen::Index c = 0; c < 4; ++c) row.push_back(static_cast<double>(x(r, c)));
        const std::vector<double> expected = keras_forward(row);
        for (Eigen::Index c = 0; c < 2; ++c)
            CHECK(static_cast<double>(p(r, c)) == Approx(expected[static_cast<std::size_t>(c)]).epsilon(1e-5));
    }
}

// The compiled optimizer's settings, read through the model file (the public record).
lamina::OptimizerConfig optimizer_config(const lamina::Sequential<float>& model) {
    const auto bytes = model.to_bytes();
    const auto record = lamina::io::decode_model<float>(bytes, "model");
    REQUIRE(record.compiled);
    return record.optimizer;
}

fs::path scratch(const std::string& name) {
    return fs::temp_directory_path() / ("lamina-keras-" + std::to_string(::getpid()) + "-" + name);
}

std::string load_error(const std::vector<std::byte>& bytes) {
    try {
        (void)lamina::load_keras_model<float>(bytes, "bad.keras");
    } catch (const lamina::io_error& e) {
        return e.what();
    }
    return "";
}

// keras3.keras with its config.json replaced by `config`.
std::vector<std::byte> with_config(const std::string& config) {
    const std::vector<std::byte> keras = lamina::io::read_file(fixture("keras3.keras"), "test");
    auto entries = lamina::io::zip::read(keras, "keras3.keras", "test");
    for (auto& e : entries)
        if (e.name == "config.json") e.data = std::as_bytes(std::span(config));
    return lamina::io::zip::write(entries);
}

std::string fixture_config() {
    const std::vector<std::byte> keras = lamina::io::read_file(fixture("keras3.keras"), "test");
    for (const auto& e : lamina::io::zip::read(keras, "keras3.keras", "test"))
        if (e.name == "config.json") return std::string(reinterpret_cast<const char*>(e.data.data()), e.data.size());
    return "";
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
    const std::size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("Keras snake case names the weight groups as Keras does", "[keras]") {
    using lamina::detail::keras::snake_case;
    CHECK(snake_case("Dense") == "dense");
    CHECK(snake_case("Conv2D") == "conv2d");
    CHECK(snake_case("MaxPooling2D") == "max_pooling2d");
    CHECK(snake_case("GlobalAveragePooling2D") == "global_average_pooling2d");
    CHECK(snake_case("BatchNormalization") == "batch_normalization");
    CHECK(snake_case("InputLayer") == "input_layer");
    // Keras's to_snake_case on names of other shapes: runs of capitals, a leading capital.
    CHECK(snake_case("ReLU") == "re_lu");
    CHECK(snake_case("PReLU") == "p_re_lu");
    CHECK(snake_case("ABCDef") == "abc_def");
    CHECK(snake_case("GRU") == "gru");
    CHECK(snake_case("My_Layer") == "my__layer");
    // lamina's own layer names are the same snake case.
    lamina::Sequential<float> model{lamina::Dense(2, {.input_dim = 3}), lamina::Dense(2)};
    CHECK(model.layer(1).name() == snake_case(model.layer(1).kind()) + "_1");
}

TEST_CASE("A Keras 3 .keras file loads: layers, weights, compile config, predictions", "[keras]") {
    auto model = lamina::load_keras_model<float>(fixture("keras3.keras"));
    check_predictions(model);
    CHECK(model.input_shape() == lamina::Shape{4});
    CHECK(model.output_dim() == 2);
    const auto opt = optimizer_config(model);
    CHECK(opt.name == "Adam");
    bool found = false;
    for (const auto& [k, v] : opt.hyperparameters)
        if (k == "learning_rate") found = (v == 0.002);
    CHECK(found);
}

TEST_CASE("tf.keras 2.14 .keras and legacy .h5 files load to the same predictions", "[keras]") {
    for (const char* name : {"tf_keras_214.keras", "legacy_keras2.h5", "legacy_nested.h5"}) {
        INFO(name);
        auto model = lamina::load_keras_model<float>(fixture(name));
        check_predictions(model);
    }
    auto legacy = lamina::load_keras_model<float>(fixture("legacy_keras2.h5"));
    const auto opt = optimizer_config(legacy);
    CHECK(opt.name == "SGD");
    for (const auto& [k, v] : opt.hyperparameters) {
        if (k == "learning_rate") CHECK(v == 0.05);
        if (k == "momentum") CHECK(v == 0.9);
        if (k == "nesterov") CHECK(v == 1.0);
    }
}

TEST_CASE("A .keras round trip keeps predictions bit for bit, and training goes on", "[keras]") {
    auto model = lamina::load_keras_model<float>(fixture("keras3.keras"));
    const auto bytes = lamina::to_keras_bytes(model);
    CHECK(lamina::to_keras_bytes(model) == bytes);  // no time or randomness in the file
    auto again = lamina::load_keras_model<float>(bytes, "again.keras");
    REQUIRE(again.size() == model.size());
    CHECK(again.parameters() == model.parameters());
    CHECK(again.predict(inputs()) == model.predict(inputs()));
    CHECK(lamina::to_keras_bytes(again) == bytes);
    // Compiled from the file: fit goes on.
    lamina::Matrix<float> y = lamina::Matrix<float>::Zero(3, 2);
    y.col(0).setOnes();
    CHECK_NOTHROW(again.train_on_batch(inputs(), y));

    const fs::path path = scratch("model.keras");
    lamina::save_keras(model, path);
    auto from_file = lamina::load_keras_model<float>(path);
    CHECK(from_file.predict(inputs()) == model.predict(inputs()));
    fs::remove(path);
}

TEST_CASE("save_keras_weights and load_keras_weights: Keras 3's and legacy layouts", "[keras]") {
    auto model = lamina::load_keras_model<float>(fixture("keras3.keras"));
    auto fresh = lamina::load_keras_model<float>(fixture("keras3.keras"));
    fresh.initialize(7);
    REQUIRE(fresh.parameters() != model.parameters());
    const fs::path path = scratch("x.weights.h5");
    lamina::save_keras_weights(model, path);
    lamina::load_keras_weights(fresh, path);
    CHECK(fresh.parameters() == model.parameters());
    fs::remove(path);
    for (const char* name : {"keras3.weights.h5", "legacy_keras2.h5", "legacy_nested.h5"}) {
        INFO(name);
        fresh.initialize(7);
        lamina::load_keras_weights(fresh, fixture(name));
        CHECK(fresh.parameters() == model.parameters());
    }
    // A model of other shapes: an error, nothing changed.
    lamina::Sequential<float> other{lamina::Dense(3, {.input_dim = 4}), lamina::Dense(2)};
    const lamina::Vector<float> before = other.parameters();
    CHECK_THROWS_AS(lamina::load_keras_weights(other, fixture("keras3.weights.h5")), lamina::io_error);
    CHECK(other.parameters() == before);
}

TEST_CASE("Keras files lamina cannot represent are refused, naming the layer and the feature", "[keras][errors]") {
    const std::string config = fixture_config();
    REQUIRE_FALSE(config.empty());
    REQUIRE(load_error(with_config(config)).empty());
    CHECK_THAT(load_error(
                   with_config(replaced(config, "\"class_name\": \"Sequential\"", "\"class_name\": \"Functional\""))),
               Catch::Contains("model class 'Functional' is not supported"));
    CHECK_THAT(load_error(
                   with_config(replaced(config, "\"class_name\": \"Dropout\"", "\"class_name\": \"GaussianNoise\""))),
               Catch::Contains("(GaussianNoise 'dropout'): layer class 'GaussianNoise' is not supported"));
    CHECK_THAT(load_error(with_config(replaced(config, "\"use_bias\": true", "\"use_bias\": false"))),
               Catch::Contains("(Dense 'dense'): use_bias=False is not supported"));
    CHECK_THAT(load_error(with_config(replaced(config, "\"name\": \"float32\"", "\"name\": \"mixed_float16\""))),
               Catch::Contains("dtype policy"));
    CHECK_THAT(load_error(
                   with_config(replaced(config, "\"activation\": \"relu\"", "\"activation\": \"hard_sigmoid\""))),
               Catch::Contains("layer 'dense' (Dense)"));
    CHECK_THAT(load_error(with_config(replaced(config, "\"clipnorm\": null", "\"clipnorm\": 1.0"))),
               Catch::Contains("optimizer Adam option 'clipnorm' = 1.0 is not supported"));
    CHECK_THAT(load_error(with_config(
                   replaced(config, "\"registered_name\": null, \"build_config\": {\"input_shape\": [null, 3]}",
                            "\"registered_name\": \"my>Net\", \"build_config\": {\"input_shape\": [null, 3]}"))),
               Catch::Contains("custom object 'my>Net'"));
    CHECK_THAT(load_error(with_config("{not json")), Catch::Contains("config.json is not valid JSON"));
    CHECK_THAT(load_error({}), Catch::Contains("neither a .keras archive"));
}

TEST_CASE("Every truncation and flipped byte of a .keras file is an io_error or a model", "[keras][errors]") {
    const std::vector<std::byte> bytes = lamina::io::read_file(fixture("keras3.keras"), "test");
    for (std::size_t n = 0; n < bytes.size(); n += 7) {
        const std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        CHECK_THROWS_AS(lamina::load_keras_model<float>(cut, "cut.keras"), lamina::io_error);
    }
    // Flips inside config.json and model.weights.h5 get past the zip's CRC only when it is
    // made to agree: the archive is rebuilt around each flipped entry. Every other byte of
    // the config and every 11th of the weights (every byte of an HDF5 file is tried in
    // test_hdf5.cpp) keep the test short under the sanitizers and qemu.
    auto entries = lamina::io::zip::read(bytes, "keras3.keras", "test");
    for (std::size_t e = 1; e < entries.size(); ++e) {
        const std::vector<std::byte> original(entries[e].data.begin(), entries[e].data.end());
        for (std::size_t i = 0; i < original.size(); i += (e == 1 ? 2 : 11)) {
            std::vector<std::byte> flipped = original;
            flipped[i] ^= std::byte{0x04};
            auto changed = entries;
            changed[e].data = flipped;
            try {
                auto model = lamina::load_keras_model<float>(lamina::io::zip::write(changed), "flipped.keras");
                (void)model.predict(inputs());
            } catch (const lamina::io_error& error) {
                REQUIRE_THAT(std::string(error.what()), Catch::StartsWith("lamina::load_keras_model: 'flipped.keras"));
            }
        }
    }
}

TEST_CASE("h5py and Python read lamina's .keras and .weights.h5 files as Keras writes them", "[keras][h5py]") {
    if (std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") != 0) {
        WARN("skipped: /usr/bin/python3 with h5py is not available (Debian: apt-get install python3-h5py)");
        return;
    }
    auto model = lamina::load_keras_model<float>(fixture("keras3.keras"));
    const fs::path path = scratch("check.keras");
    lamina::save_keras(model, path);
    const fs::path script = scratch("check.py");
    {
        std::ofstream py(script);
        py << R"(import io, json, sys, zipfile, h5py, numpy as np
z = zipfile.ZipFile(sys.argv[1])
assert [i.compress_type for i in z.infolist()] == [zipfile.ZIP_STORED] * 3
assert sorted(z.namelist()) == ['config.json', 'metadata.json', 'model.weights.h5'], z.namelist()
assert 'keras_version' in json.loads(z.read('metadata.json'))
c = json.loads(z.read('config.json'))
for key in ['module', 'class_name', 'config', 'registered_name', 'build_config', 'compile_config']:
    assert key in c, key
assert c['class_name'] == 'Sequential' and c['module'] == 'keras'
layers = c['config']['layers']
assert [l['class_name'] for l in layers[:2]] == ['InputLayer', 'Dense'], [l['class_name'] for l in layers]
assert layers[0]['config']['batch_shape'] == [None, 4]
dense = layers[1]
assert set(dense['config']) >= {'name', 'trainable', 'dtype', 'units', 'activation', 'use_bias', 'kernel_initializer',
    'bias_initializer', 'kernel_regularizer', 'bias_regularizer', 'kernel_constraint', 'bias_constraint'}, dense['config']
assert dense['config']['dtype']['config']['name'] == 'float32'
assert dense['build_config'] == {'input_shape': [None, 4]}
assert c['compile_config']['optimizer']['class_name'] == 'Adam'
assert c['compile_config']['optimizer']['config']['learning_rate'] == 0.002
assert c['compile_config']['loss'] == 'categorical_crossentropy'
f = h5py.File(io.BytesIO(z.read('model.weights.h5')), 'r')
ref = h5py.File(sys.argv[2], 'r')
for group in ['dense', 'dense_1', 'dense_2']:
    for i in ['0', '1']:
        ours = f['layers/' + group + '/vars/' + i]
        theirs = ref['layers/' + group + '/vars/' + i]
        assert ours.dtype == np.float32 and ours.shape == theirs.shape, (group, ours.dtype, ours.shape)
        assert (ours[()] == theirs[()]).all(), group
assert 'vars' in f and 'dropout' in f['layers']
)";
    }
    const std::string cmd = "/usr/bin/python3 " + script.string() + " " + path.string() + " " +
                            fixture("keras3.weights.h5").string();
    CHECK(std::system(cmd.c_str()) == 0);

    // A NumPy forward pass over the weights h5py reads from the fixture gives the loaded
    // model's predictions (to 1e-5 relative).
    const fs::path forward = scratch("forward.py"), out = scratch("forward.txt");
    {
        std::ofstream py(forward);
        py << R"(import io, sys, zipfile, h5py, numpy as np
z = zipfile.ZipFile(sys.argv[1])
f = h5py.File(io.BytesIO(z.read('model.weights.h5')), 'r')
x = np.array([[1, 2, 3, 4], [-1, 0.5, 0.25, 2], [0.3, -0.7, 1.1, 0.9]], np.float32).astype(np.float64)
for name, act in [('dense', 'relu'), ('dense_1', 'relu'), ('dense_2', 'softmax')]:
    x = x @ f['layers/' + name + '/vars/0'][()].astype(np.float64) + f['layers/' + name + '/vars/1'][()]
    if act == 'relu':
        x = np.maximum(x, 0)
    else:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        x = e / e.sum(axis=1, keepdims=True)
np.savetxt(sys.argv[2], x, fmt='%.17g')
)";
    }
    const std::string run = "/usr/bin/python3 " + forward.string() + " " + fixture("keras3.keras").string() + " " +
                            out.string();
    REQUIRE(std::system(run.c_str()) == 0);
    std::ifstream in(out);
    const lamina::Matrix<float> p = model.predict(inputs());
    for (Eigen::Index r = 0; r < p.rows(); ++r)
        for (Eigen::Index c = 0; c < p.cols(); ++c) {
            double v = 0;
            REQUIRE(static_cast<bool>(in >> v));
            CHECK(static_cast<double>(p(r, c)) == Approx(v).epsilon(1e-5));
        }
    fs::remove(path);
    fs::remove(script);
    fs::remove(forward);
    fs::remove(out);
}

TEST_CASE("Keras Dense layers with Keras's other activations load", "[keras]") {
    const std::string config = fixture_config();
    for (const char* a : {"elu", "selu", "softplus", "silu", "swish", "gelu", "sigmoid", "tanh"}) {
        INFO(a);
        const std::string changed = replaced(config, "\"activation\": \"relu\"",
                                             std::string("\"activation\": \"") + a + "\"");
        auto model = lamina::load_keras_model<float>(with_config(changed), "activations.keras");
        const lamina::Matrix<float> p = model.predict(inputs());
        CHECK(p.allFinite());
        CHECK((p.rowwise().sum().array() - 1.0f).abs().maxCoeff() < 1e-5f);
        // Written and read back: the same predictions.
        auto again = lamina::load_keras_model<float>(lamina::to_keras_bytes(model), "again.keras");
        CHECK(again.predict(inputs()) == p);
    }
}

namespace {

// Two samples of `size` inputs, sin(0.1 i + n), written for numpy_forward.py as well.
lamina::Matrix<float> conv_inputs(Eigen::Index size) {
    lamina::Matrix<float> x(2, size);
    for (Eigen::Index n = 0; n < 2; ++n)
        for (Eigen::Index i = 0; i < size; ++i)
            x(n, i) = static_cast<float>(std::sin(0.1 * static_cast<double>(i) + static_cast<double>(n)));
    return x;
}

std::vector<std::string> kinds(const lamina::Sequential<float>& model) {
    std::vector<std::string> out;
    for (Eigen::Index i = 0; i < model.size(); ++i) out.push_back(model.layer(i).kind());
    return out;
}

bool have_h5py() { return std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") == 0; }

// The predictions of numpy_forward.py (a NumPy forward pass over the weights h5py reads from
// `model_file`) for `x`, one row a sample.
std::vector<std::vector<double>> numpy_predictions(const fs::path& model_file, const lamina::Matrix<float>& x) {
    const fs::path in = scratch("numpy-in.txt"), out = scratch("numpy-out.txt");
    {
        std::ofstream f(in);
        f.precision(9);
        for (Eigen::Index r = 0; r < x.rows(); ++r) {
            for (Eigen::Index c = 0; c < x.cols(); ++c) f << x(r, c) << ' ';
            f << '\n';
        }
    }
    const std::string cmd = "/usr/bin/python3 " + fixture("numpy_forward.py").string() + " " + model_file.string() +
                            " " + in.string() + " " + out.string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::vector<std::vector<double>> rows;
    std::ifstream f(out);
    for (std::string line; std::getline(f, line);) {
        std::istringstream ls(line);
        rows.emplace_back();
        for (double v = 0; ls >> v;) rows.back().push_back(v);
    }
    fs::remove(in);
    fs::remove(out);
    return rows;
}

void check_against_numpy(const fs::path& model_file, lamina::Sequential<float>& model) {
    const lamina::Matrix<float> x = conv_inputs(model.input_dim());
    const lamina::Matrix<float> p = model.predict(x);
    const auto expected = numpy_predictions(model_file, x);
    REQUIRE(expected.size() == static_cast<std::size_t>(p.rows()));
    for (Eigen::Index r = 0; r < p.rows(); ++r) {
        REQUIRE(expected[static_cast<std::size_t>(r)].size() == static_cast<std::size_t>(p.cols()));
        for (Eigen::Index c = 0; c < p.cols(); ++c)
            CHECK(static_cast<double>(p(r, c)) ==
                  Approx(expected[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)]).epsilon(1e-5));
    }
}

// A lamina convnet with every Conv2D and pooling option that has a Keras form.
lamina::Sequential<float> lamina_convnet() {
    lamina::Sequential<float> model{
        lamina::Conv2D(3, {3, 2},
                       {.strides = {2, 1}, .padding = "same", .activation = "relu", .input_shape = {7, 6, 2}}),
        lamina::AveragePooling2D(2, {.strides = 1, .padding = "same"}),
        lamina::Conv2D(4, 2, {.activation = "sigmoid", .use_bias = false}),
        lamina::MaxPooling2D({2, 1}),
        lamina::GlobalAveragePooling2D({.keepdims = true}),
        lamina::Flatten(),
        lamina::Dense(3),
        lamina::Activation("softmax")};
    model.initialize(11);
    return model;
}

}  // namespace

TEST_CASE("Keras convolutional models load: Conv2D, the poolings, Keras 3 and Keras 2 files", "[keras][conv]") {
    auto model = lamina::load_keras_model<float>(fixture("conv_keras3.keras"));
    CHECK(kinds(model) == std::vector<std::string>{"Conv2D", "MaxPooling2D", "Conv2D", "AveragePooling2D", "Flatten",
                                                   "Dense", "Activation"});
    CHECK(model.input_shape() == lamina::Shape{8, 8, 2});
    CHECK(model.layer(2).weight_specs().size() == 1);  // use_bias=False
    CHECK(model.layer(2).output_shape() == lamina::Shape{2, 2, 3});
    const lamina::Matrix<float> p = model.predict(conv_inputs(128));
    CHECK((p.rowwise().sum().array() - 1.0f).abs().maxCoeff() < 1e-5f);

    auto legacy = lamina::load_keras_model<float>(fixture("conv_legacy_keras2.h5"));
    CHECK(kinds(legacy) == std::vector<std::string>{"Conv2D", "MaxPooling2D", "Conv2D", "GlobalAveragePooling2D",
                                                    "Dense", "Activation"});
    CHECK(legacy.input_shape() == lamina::Shape{6, 5, 1});
    CHECK(legacy.layer(1).output_shape() == lamina::Shape{4, 3, 3});
    CHECK(legacy.output_dim() == 3);

    // Weights only, from both layouts, into a model of the same layers.
    auto fresh = lamina::load_keras_model<float>(fixture("conv_keras3.keras"));
    fresh.initialize(5);
    const fs::path path = scratch("conv.weights.h5");
    lamina::save_keras_weights(model, path);
    lamina::load_keras_weights(fresh, path);
    CHECK(fresh.parameters() == model.parameters());
    fs::remove(path);
    auto fresh_legacy = lamina::load_keras_model<float>(fixture("conv_legacy_keras2.h5"));
    fresh_legacy.initialize(5);
    lamina::load_keras_weights(fresh_legacy, fixture("conv_legacy_keras2.h5"));
    CHECK(fresh_legacy.parameters() == legacy.parameters());
}

TEST_CASE("Keras convolutional models predict as a NumPy forward pass over h5py's weights", "[keras][conv][h5py]") {
    if (!have_h5py()) {
        WARN("skipped: /usr/bin/python3 with h5py is not available (Debian: apt-get install python3-h5py)");
        return;
    }
    for (const char* name : {"conv_keras3.keras", "conv_legacy_keras2.h5", "keras3.keras"}) {
        INFO(name);
        auto model = lamina::load_keras_model<float>(fixture(name));
        check_against_numpy(fixture(name), model);
    }
    // lamina's own convnet, written as .keras, read by NumPy and h5py.
    auto model = lamina_convnet();
    const fs::path path = scratch("convnet.keras");
    lamina::save_keras(model, path);
    check_against_numpy(path, model);
    fs::remove(path);
}

TEST_CASE("A convolutional .keras round trip keeps predictions bit for bit", "[keras][conv]") {
    for (int which = 0; which < 2; ++which) {
        INFO(which);
        auto model = which == 0 ? lamina::load_keras_model<float>(fixture("conv_keras3.keras")) : lamina_convnet();
        const auto bytes = lamina::to_keras_bytes(model);
        auto again = lamina::load_keras_model<float>(bytes, "again.keras");
        CHECK(kinds(again) == kinds(model));
        for (Eigen::Index i = 0; i < model.size(); ++i)
            CHECK(again.layer(i).get_config() == model.layer(i).get_config());
        CHECK(again.parameters() == model.parameters());
        const lamina::Matrix<float> x = conv_inputs(model.input_dim());
        CHECK(again.predict(x) == model.predict(x));
        CHECK(lamina::to_keras_bytes(again) == bytes);
    }
}

TEST_CASE("lamina's Conv2D and pooling configs carry every key Keras 3's get_config writes", "[keras][conv][h5py]") {
    if (!have_h5py()) {
        WARN("skipped: /usr/bin/python3 with h5py is not available (Debian: apt-get install python3-h5py)");
        return;
    }
    auto model = lamina_convnet();
    const fs::path path = scratch("keys.keras");
    lamina::save_keras(model, path);
    const fs::path script = scratch("keys.py");
    {
        std::ofstream py(script);
        py << R"(import io, json, sys, zipfile, h5py, numpy as np
z = zipfile.ZipFile(sys.argv[1])
layers = json.loads(z.read('config.json'))['config']['layers']
base = ['name', 'trainable', 'dtype']
keys = {
    'Conv2D': base + ['filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate', 'groups',
        'activation', 'use_bias', 'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer',
        'activity_regularizer', 'kernel_constraint', 'bias_constraint'],
    'MaxPooling2D': base + ['pool_size', 'padding', 'strides', 'data_format'],
    'AveragePooling2D': base + ['pool_size', 'padding', 'strides', 'data_format'],
    'GlobalAveragePooling2D': base + ['data_format', 'keepdims'],
}
seen = []
for l in layers:
    cls = l['class_name']
    if cls in keys:
        assert list(l['config']) == keys[cls], (cls, list(l['config']))
        assert l['config']['data_format'] == 'channels_last'
        assert l['module'] == 'keras.layers' and l['registered_name'] is None and 'build_config' in l
        seen.append(cls)
assert seen == ['Conv2D', 'AveragePooling2D', 'Conv2D', 'MaxPooling2D', 'GlobalAveragePooling2D'], seen
conv, avg, conv1, pool = layers[1]['config'], layers[2]['config'], layers[3]['config'], layers[4]['config']
assert conv['kernel_size'] == [3, 2] and conv['strides'] == [2, 1] and conv['padding'] == 'same', conv
assert conv['activation'] == 'relu' and conv['use_bias'] is True and conv['dilation_rate'] == [1, 1]
assert conv['groups'] == 1
assert avg['pool_size'] == [2, 2] and avg['strides'] == [1, 1] and avg['padding'] == 'same', avg
assert conv1['use_bias'] is False and conv1['activation'] == 'sigmoid', conv1
assert pool['pool_size'] == [2, 1] and pool['strides'] == [2, 1] and pool['padding'] == 'valid', pool
assert layers[5]['config']['keepdims'] is True
assert layers[1]['build_config'] == {'input_shape': [None, 7, 6, 2]}
f = h5py.File(io.BytesIO(z.read('model.weights.h5')), 'r')
assert f['layers/conv2d/vars/0'].shape == (3, 2, 2, 3) and f['layers/conv2d/vars/0'].dtype == np.float32
assert f['layers/conv2d/vars/1'].shape == (3,)
assert list(f['layers/conv2d_1/vars']) == ['0'] and f['layers/conv2d_1/vars/0'].shape == (2, 2, 3, 4)
for g in ['average_pooling2d', 'max_pooling2d', 'global_average_pooling2d', 'flatten']:
    assert len(f['layers/' + g + '/vars']) == 0, g
np.savetxt(sys.argv[2], f['layers/conv2d/vars/0'][()].reshape(-1), fmt='%.9g')
)";
    }
    const fs::path kernel = scratch("kernel.txt");
    const std::string cmd = "/usr/bin/python3 " + script.string() + " " + path.string() + " " + kernel.string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(kernel);
    const float* w = model.parameters().data();  // the first layer's kernel comes first
    for (Eigen::Index i = 0; i < 3 * 2 * 2 * 3; ++i) {
        float v = 0;
        REQUIRE(static_cast<bool>(in >> v));
        CHECK(v == w[i]);
    }
    fs::remove(path);
    fs::remove(script);
    fs::remove(kernel);
}

TEST_CASE("Keras convolutions lamina cannot represent are refused, naming the layer and the feature",
          "[keras][conv][errors]") {
    const std::vector<std::byte> keras = lamina::io::read_file(fixture("conv_keras3.keras"), "test");
    std::string config;
    for (const auto& e : lamina::io::zip::read(keras, "conv_keras3.keras", "test"))
        if (e.name == "config.json") config.assign(reinterpret_cast<const char*>(e.data.data()), e.data.size());
    const auto error = [&](const std::string& changed) {
        auto entries = lamina::io::zip::read(keras, "conv_keras3.keras", "test");
        for (auto& e : entries)
            if (e.name == "config.json") e.data = std::as_bytes(std::span(changed));
        return load_error(lamina::io::zip::write(entries));
    };
    REQUIRE(error(config).empty());
    CHECK_THAT(error(replaced(config, "\"data_format\": \"channels_last\"", "\"data_format\": \"channels_first\"")),
               Catch::Contains("(Conv2D 'conv2d'): data_format \"channels_first\" is not supported"));
    CHECK_THAT(error(replaced(config, "\"dilation_rate\": [1, 1]", "\"dilation_rate\": [2, 2]")),
               Catch::Contains("(Conv2D 'conv2d'): dilation_rate [2,2] is not supported (only 1)"));
    CHECK_THAT(error(replaced(config, "\"groups\": 1", "\"groups\": 2")),
               Catch::Contains("(Conv2D 'conv2d'): groups 2 is not supported (only 1)"));
    CHECK_THAT(error(replaced(config, "\"padding\": \"same\"", "\"padding\": \"causal\"")),
               Catch::Contains("(Conv2D 'conv2d'): padding \"causal\" is not supported"));
    CHECK_THAT(error(replaced(config, "\"bias_constraint\": null", "\"bias_constraint\": {}")),
               Catch::Contains("(Conv2D 'conv2d'): bias_constraint is not supported"));
    CHECK_THAT(error(replaced(config, "\"kernel_size\": [3, 3]", "\"kernel_size\": [3, 0]")),
               Catch::Contains("(Conv2D 'conv2d'): 'kernel_size' must be a positive integer or a pair"));
    // The first pooling's data_format comes after the first Conv2D's.
    const std::string pool_cf = replaced(config,
                                         "\"pool_size\": [2, 2], \"padding\": \"valid\", \"strides\": [2, 2], "
                                         "\"data_format\": \"channels_last\"",
                                         "\"pool_size\": [2, 2], \"padding\": \"valid\", \"strides\": [2, 2], "
                                         "\"data_format\": \"channels_first\"");
    CHECK_THAT(error(pool_cf), Catch::Contains("(MaxPooling2D 'max_pooling2d'): data_format \"channels_first\""));
    // An integer kernel_size and strides, Keras's "SAME" and pooling strides None load.
    std::string loose = replaced(config, "\"kernel_size\": [3, 3]", "\"kernel_size\": 3");
    loose = replaced(loose, "\"padding\": \"same\"", "\"padding\": \"SAME\"");
    loose = replaced(loose, "\"strides\": [2, 2]", "\"strides\": null");
    CHECK(error(loose).empty());
}

TEST_CASE("Keras BatchNormalization loads: axis -1 and [3], scale and center off, Keras 3 and Keras 2 files",
          "[keras][batch_normalization]") {
    auto model = lamina::load_keras_model<float>(fixture("bn_keras3.keras"));
    CHECK(kinds(model) == std::vector<std::string>{"Conv2D", "BatchNormalization", "MaxPooling2D", "Flatten", "Dense",
                                                   "BatchNormalization", "Dense", "Activation"});
    CHECK(model.layer(1).weight_specs().size() == 4);
    CHECK(model.layer(5).weight_specs().size() == 3);  // scale=False: no gamma
    const lamina::Config bn = model.layer(1).get_config();
    CHECK(std::get<double>(*bn.find("momentum")) == 0.9);
    CHECK(std::get<double>(*bn.find("epsilon")) == 0.01);
    CHECK(std::get<bool>(*model.layer(5).get_config().find("scale")) == false);
    // Keras 3 keeps the moving averages in vars/2 and vars/3: read as the model's.
    const auto w = model.layer(1).get_weights();
    REQUIRE(w.size() == 4);
    CHECK(w[3](0, 0) == 0.5f);
    CHECK(w[3](0, 2) == 1.0f);

    auto legacy = lamina::load_keras_model<float>(fixture("bn_legacy_keras2.h5"));
    CHECK(kinds(legacy) == std::vector<std::string>{"Conv2D", "BatchNormalization", "Flatten", "Dense", "Activation"});
    CHECK(std::get<lamina::Index>(*legacy.layer(1).get_config().find("axis")) == 3);
    CHECK(legacy.layer(1).weight_specs().size() == 3);  // center=False: no beta

    for (auto* m : {&model, &legacy}) {
        auto again = lamina::load_keras_model<float>(lamina::to_keras_bytes(*m), "again.keras");
        CHECK(kinds(again) == kinds(*m));
        for (Eigen::Index i = 0; i < m->size(); ++i) CHECK(again.layer(i).get_config() == m->layer(i).get_config());
        CHECK(again.parameters() == m->parameters());
        const lamina::Matrix<float> x = conv_inputs(m->input_dim());
        CHECK(again.predict(x) == m->predict(x));
    }
    auto fresh = lamina::load_keras_model<float>(fixture("bn_legacy_keras2.h5"));
    fresh.initialize(3);
    lamina::load_keras_weights(fresh, fixture("bn_legacy_keras2.h5"));
    CHECK(fresh.parameters() == legacy.parameters());

    if (!have_h5py()) {
        WARN("skipped the NumPy check: /usr/bin/python3 with h5py is not available");
        return;
    }
    check_against_numpy(fixture("bn_keras3.keras"), model);
    check_against_numpy(fixture("bn_legacy_keras2.h5"), legacy);
    // Written by lamina: every key of batch_normalization.py's get_config, in its order, and
    // the four arrays in Keras's order.
    const fs::path path = scratch("bn.keras");
    lamina::save_keras(model, path);
    check_against_numpy(path, model);
    const fs::path script = scratch("bn.py");
    {
        std::ofstream py(script);
        py << R"(import io, json, sys, zipfile, h5py, numpy as np
z = zipfile.ZipFile(sys.argv[1])
layers = json.loads(z.read('config.json'))['config']['layers']
bn = [l for l in layers if l['class_name'] == 'BatchNormalization']
assert len(bn) == 2
keys = ['name', 'trainable', 'dtype', 'axis', 'momentum', 'epsilon', 'center', 'scale', 'beta_initializer',
        'gamma_initializer', 'moving_mean_initializer', 'moving_variance_initializer', 'beta_regularizer',
        'gamma_regularizer', 'beta_constraint', 'gamma_constraint', 'synchronized']
for l in bn:
    assert list(l['config']) == keys, list(l['config'])
assert bn[0]['config']['axis'] == -1 and bn[0]['config']['momentum'] == 0.9 and bn[0]['config']['epsilon'] == 0.01
assert bn[1]['config']['scale'] is False and bn[1]['config']['center'] is True
assert bn[0]['config']['gamma_initializer']['class_name'] == 'Ones'
f = h5py.File(io.BytesIO(z.read('model.weights.h5')), 'r')
assert sorted(f['layers/batch_normalization/vars']) == ['0', '1', '2', '3']
assert sorted(f['layers/batch_normalization_1/vars']) == ['0', '1', '2']
assert f['layers/batch_normalization/vars/3'][0] == 0.5
)";
    }
    const std::string cmd = "/usr/bin/python3 " + script.string() + " " + path.string();
    CHECK(std::system(cmd.c_str()) == 0);
    fs::remove(path);
    fs::remove(script);
}

TEST_CASE("Keras BatchNormalization settings lamina cannot represent are refused",
          "[keras][batch_normalization][errors]") {
    const std::vector<std::byte> keras = lamina::io::read_file(fixture("bn_keras3.keras"), "test");
    std::string config;
    for (const auto& e : lamina::io::zip::read(keras, "bn_keras3.keras", "test"))
        if (e.name == "config.json") config.assign(reinterpret_cast<const char*>(e.data.data()), e.data.size());
    const auto error = [&](const std::string& changed) {
        auto entries = lamina::io::zip::read(keras, "bn_keras3.keras", "test");
        for (auto& e : entries)
            if (e.name == "config.json") e.data = std::as_bytes(std::span(changed));
        return load_error(lamina::io::zip::write(entries));
    };
    REQUIRE(error(config).empty());
    CHECK_THAT(error(replaced(config, "\"axis\": -1", "\"axis\": 1")),
               Catch::Contains("layer 'batch_normalization' (BatchNormalization): Sequential.add: layer 1: "
                               "BatchNormalization: axis 1 is not supported"));
    CHECK_THAT(error(replaced(config, "\"axis\": -1", "\"axis\": [1, 2]")),
               Catch::Contains("(BatchNormalization 'batch_normalization'): axis [1,2] is not supported"));
    CHECK_THAT(error(replaced(config, "\"gamma_constraint\": null", "\"gamma_constraint\": {}")),
               Catch::Contains("(BatchNormalization 'batch_normalization'): gamma_constraint is not supported"));
    CHECK_THAT(error(replaced(config, "\"synchronized\": false", "\"synchronized\": true")),
               Catch::Contains("(BatchNormalization 'batch_normalization'): synchronized=true is not supported"));
    // Keras's axis counted with the batch: 3 is the last axis of (5, 5, 3), and [3] the same.
    CHECK(error(replaced(config, "\"axis\": -1", "\"axis\": [3]")).empty());
}

#else

TEST_CASE("Keras files: skipped without nlohmann/json", "[keras]") {
    WARN("skipped: nlohmann/json was not found (Debian: apt-get install nlohmann-json3-dev)");
}

#endif
