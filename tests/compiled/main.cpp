// SPDX-License-Identifier: MIT
// lamina tests: a program built against lamina::compiled trains, scores, predicts, saves and loads.
//
// Its translation units define LAMINA_COMPILED (the target gives it), so the model's code comes
// from the library: the program links only if the library instantiates all that it uses, and
// check_objects.cmake checks that these objects compile none of it themselves.
#include <lamina/lamina.hpp>
#if defined(LAMINA_COMPILED_KERAS)
#include <lamina/io/keras.hpp>
// Keras's files are defined in the library, so this unit does not even parse them.
#if defined(INCLUDE_NLOHMANN_JSON_HPP_)
#error "lamina/io/keras.hpp included nlohmann/json under LAMINA_COMPILED_KERAS"
#endif
#endif

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

bool double_model_trains();  // second.cpp

namespace {

int failures = 0;

void check(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    failures += ok ? 0 : 1;
}

}  // namespace

int main() {
    // XOR as bytes: 0 or 200 per input, class 1 where both are 0 or both 200.
    const lamina::Index n = 64;
    lamina::ByteMatrix bytes(n, 2);
    std::vector<int> labels;
    for (lamina::Index i = 0; i < n; ++i) {
        bytes(i, 0) = std::uint8_t(i % 2 == 0 ? 0 : 200);
        bytes(i, 1) = std::uint8_t(i % 4 < 2 ? 0 : 200);
        labels.push_back(bytes(i, 0) == bytes(i, 1) ? 1 : 0);
    }
    const lamina::Matrix<float> x = bytes.cast<float>() / 200.0f;
    const lamina::Matrix<float> y = lamina::to_categorical(labels, 2);

    lamina::Sequential<float> model{lamina::Dense(8, {.input_dim = 2}), lamina::Activation("tanh"), lamina::Dense(2),
                                    lamina::Activation("softmax")};
    model.initialize(1);
    model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{.learning_rate = 0.5, .momentum = 0.9},
                  {lamina::metric::accuracy});
    const auto history = model.fit(x, y, {.batch_size = 16, .epochs = 100, .verbose = 0, .seed = 1});
    check(history.loss.size() == 100 && history.loss.back() < history.loss.front(), "fit on floats lowers the loss");
    check(model.evaluate(x, y).accuracy == 1.0, "evaluate on floats: XOR learnt");

    model.fit(bytes, y, {.batch_size = 16, .epochs = 2, .verbose = 0, .seed = 2});
    const lamina::Score on_bytes = model.evaluate(bytes, y);
    check(on_bytes.loss > 0 && model.train_on_batch(bytes, y, 1).loss > 0, "fit, evaluate, train_on_batch on bytes");
    const auto classes = model.predict_classes(x);
    bool right = true;
    for (lamina::Index i = 0; i < n; ++i) right = right && classes[std::size_t(i)] == labels[std::size_t(i)];
    check(right, "predict_classes");

    const auto restored = lamina::load_model<float>(model.to_bytes());
    check(restored.predict(x) == model.predict(x), "to_bytes and load_model: the same predictions");

    std::error_code ignored;
    const auto folder = std::filesystem::temp_directory_path() / "lamina_compiled_test";
    std::filesystem::create_directories(folder, ignored);
    model.save(folder / "model.lamina");
    model.save_weights(folder / "weights.npz");
    auto loaded = lamina::load_model<float>(folder / "model.lamina");
    loaded.load_weights(folder / "weights.npz");
    check(loaded.predict(bytes) == model.predict(bytes), "save, load_model, save_weights, load_weights");
    std::filesystem::remove_all(folder, ignored);

    // A small convolutional model: the Conv2D, pooling and BatchNormalization specs and layers
    // come from the library too.
    lamina::Sequential<float> cnn{lamina::Reshape({2, 1, 1}, {.input_shape = {2}}),
                                  lamina::Conv2D(4, 1, {.activation = "relu"}),
                                  lamina::BatchNormalization(),
                                  lamina::MaxPooling2D({1, 1}),
                                  lamina::AveragePooling2D({1, 1}),
                                  lamina::GlobalAveragePooling2D(),
                                  lamina::Dense(2),
                                  lamina::Activation("softmax")};
    cnn.initialize(1);
    cnn.compile(lamina::loss::categorical_crossentropy, lamina::Adam{});
    const auto cnn_history = cnn.fit(x, y, {.batch_size = 16, .epochs = 5, .verbose = 0, .seed = 1});
    check(cnn_history.loss.back() < cnn_history.loss.front(), "a Conv2D and pooling model trains");

#if defined(LAMINA_COMPILED_KERAS)
    // Keras's files come from the library too: a .keras round trip predicts the same.
    const lamina::Sequential<float> keras = lamina::load_keras_model<float>(lamina::to_keras_bytes(cnn), "cnn.keras");
    check(keras.predict(x) == cnn.predict(x), "a .keras round trip predicts as the model it came from");
#endif

    check(double_model_trains(), "a double model of every layer kind, with every optimizer");
    return failures == 0 ? 0 : 1;
}
