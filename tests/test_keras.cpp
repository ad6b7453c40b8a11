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
#include <string>
#include <vector>

#include <unistd.h>

#include <lamina/io/keras.hpp>
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

#else

TEST_CASE("Keras files: skipped without nlohmann/json", "[keras]") {
    WARN("skipped: nlohmann/json was not found (Debian: apt-get install nlohmann-json3-dev)");
}

#endif
