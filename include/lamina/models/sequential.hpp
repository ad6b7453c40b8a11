// SPDX-License-Identifier: MIT
// lamina: the Sequential model: a stack of layers over one flat parameter buffer, compiled and trained as in Keras.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/compiled.hpp>
#include <lamina/detail/team.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/losses/loss.hpp>
#include <lamina/metrics/metric.hpp>
#include <lamina/models/detail/inference.hpp>
#include <lamina/models/detail/layer_stack.hpp>
#include <lamina/models/detail/training_step.hpp>
#include <lamina/models/history.hpp>
#include <lamina/models/options.hpp>
#include <lamina/optimizers/optimizer.hpp>

namespace lamina::detail {
template <Scalar S, class T>
class FitLoop;
template <Scalar S>
class ModelMapping;
}  // namespace lamina::detail

namespace lamina {

/// A linear stack of layers, as Keras's `Sequential`.
///
/// \code
/// lamina::Sequential<float> model{
///     lamina::Dense(100, {.input_dim = 784}),
///     lamina::Activation("sigmoid"),
///     lamina::Dense(10),
///     lamina::Activation("softmax"),
/// };
/// model.compile(lamina::loss::categorical_crossentropy, lamina::SGD{}, {lamina::metric::accuracy});
/// auto history = model.fit(x_train, y_train, {.batch_size = 100, .epochs = 100});
/// auto score = model.evaluate(x_test, y_test);
/// \endcode
///
/// Shapes: inputs are (samples x input_dim()), targets and predictions
/// (samples x output_dim()), one sample per row, each sample its shape (`input_shape()`,
/// e.g. (28, 28, 1)) flattened row-major, channels last.
///
/// The model composes: it holds the layer stack (detail::LayerStack), the compile settings
/// and the public API. The fit loop (detail::FitLoop), the training step
/// (detail::TrainingStep, with the divergence guard), inference (detail::Inference), the
/// input checks and the file mappings (detail::ModelMapping) are pieces of their own in
/// lamina/models/detail/; none of them names a kind of layer.
///
/// The model owns every weight in one flat buffer (`parameters()`) and every gradient in
/// another (`gradients()`); layers hold views into them, so an optimizer step is one pass
/// over one buffer. The model is movable, not copyable (a copy would share those views).
///
/// Thread safety: `predict`, `predict_classes` and `evaluate` only read the model and may
/// run concurrently with each other; `fit`, `compile`, `add` and `set_weights` must not
/// overlap with anything else.
template <Scalar S>
class Sequential {
public:
    /// An empty model; add layers with `add`. Weights are drawn from a random seed unless
    /// `initialize(seed)` is called.
    Sequential() = default;

    /// A model of the given layers, in order; the first must carry its input shape
    /// (`input_shape` or `input_dim`).
    /// \throws std::invalid_argument, shape_error as `add` does.
    Sequential(std::initializer_list<LayerSpec<S>> layers);

    Sequential(Sequential&&) noexcept = default;
    Sequential& operator=(Sequential&&) noexcept = default;
    Sequential(const Sequential&) = delete;
    Sequential& operator=(const Sequential&) = delete;

    /// Appends a layer whose input shape is the current output shape, and draws its weights.
    /// Weights of the layers already there are kept; when it throws, the model is as it was.
    /// \throws std::invalid_argument when the first layer lacks its input shape or a later one
    ///         is an invalid spec, or the parameters would be more than an index counts;
    ///         shape_error when a given input shape does not match; std::bad_alloc when the
    ///         parameters cannot be allocated; error during fit (from a callback).
    void add(const LayerSpec<S>& spec);

    /// Re-seeds the model's random stream with `seed` and draws every layer's weights again
    /// from it, so that the same seed gives the same weights (and, through `fit` without its
    /// own seed, the same shuffling).
    void initialize(std::uint64_t seed) {
        rng_.seed(seed);
        stack_.initialize(rng_);
        if (optimizer_) optimizer_->build(stack_.params().size());
    }

    /// Number of layers.
    [[nodiscard]] Index size() const noexcept { return stack_.size(); }
    /// Layer `i` (0-based), as Keras's `model.layers[i]`.
    /// \throws std::out_of_range naming the index and the number of layers.
    [[nodiscard]] Layer<S>& layer(Index i) { return stack_[checked_index(i)]; }
    [[nodiscard]] const Layer<S>& layer(Index i) const { return stack_[checked_index(i)]; }

    /// Width of one input sample (0 for an empty model).
    [[nodiscard]] Index input_dim() const noexcept { return stack_.input_dim(); }
    /// Width of one output sample (0 for an empty model).
    [[nodiscard]] Index output_dim() const noexcept { return stack_.output_dim(); }
    /// The shape of one input sample, e.g. (28, 28, 1) (empty for an empty model).
    [[nodiscard]] Shape input_shape() const { return stack_.empty() ? Shape{} : stack_[0].input_shape(); }
    /// The shape of one output sample, e.g. (10) (empty for an empty model).
    [[nodiscard]] Shape output_shape() const { return stack_.output_shape(); }
    /// Number of weights, trainable or not (Keras `count_params`).
    [[nodiscard]] Index count_params() const noexcept { return stack_.params().size(); }
    /// Number of trainable weights: all but BatchNormalization's moving averages.
    [[nodiscard]] Index count_trainable_params() const {
        Index n = 0;
        for (const auto& l : stack_.layers()) n += l->trainable_count();
        return n;
    }

    /// Every weight, layer after layer, each layer's arrays in turn (a Dense layer: kernel
    /// row-major, then bias).
    [[nodiscard]] const Vector<S>& parameters() const noexcept { return stack_.params(); }
    /// Writable view of every weight; keep its size.
    [[nodiscard]] VectorMap<S> parameters() noexcept {
        return VectorMap<S>(stack_.params().data(), stack_.params().size());
    }
    /// The gradient of the last `loss_and_gradient` (or of the last batch of `fit`), laid out
    /// as `parameters()`.
    [[nodiscard]] const Vector<S>& gradients() const noexcept { return stack_.grads(); }

    /// Prints a Keras-like table of the layers, their output shapes and parameter counts.
    void summary(std::ostream& out = std::cout) const {
        const std::string rule(65, '_'), thick(65, '=');
        out << "Model: \"sequential\"\n" << rule << '\n';
        out << std::left << std::setw(29) << " Layer (type)" << std::setw(26) << "Output Shape"
            << "Param #\n";
        out << thick << '\n';
        for (const auto& l : stack_.layers()) {
            const std::string label = " " + l->name() + " (" + l->kind() + ")";
            // A label wider than its column keeps a space before the next one.
            out << std::left << std::setw(29) << (label.size() < 29 ? label : label + " ") << std::setw(26)
                << l->output_shape().text(true) << grouped(l->parameter_count()) << '\n';
        }
        out << thick << '\n';
        out << "Total params: " << grouped(count_params()) << '\n';
        out << "Trainable params: " << grouped(count_trainable_params()) << '\n';
        out << "Non-trainable params: " << grouped(count_params() - count_trainable_params()) << '\n' << rule << '\n';
    }

    /// Sets the loss, the optimizer and the metrics to report, as Keras's `compile`.
    /// \param loss `loss::categorical_crossentropy`, `loss::mean_squared_error` or a name.
    /// \param optimizer an optimizer spec such as `SGD{.learning_rate = 0.1}`.
    /// \param metrics `{metric::accuracy}` (or `{"accuracy"}`) to report accuracy in fit's progress.
    /// \throws std::invalid_argument for an invalid optimizer setting; error for an empty model.
    template <class OptimizerSpec>
        requires requires(const OptimizerSpec& o) {
            { o.template build<S>() } -> std::convertible_to<std::unique_ptr<Optimizer<S>>>;
        }
    void compile(Loss loss, const OptimizerSpec& optimizer, std::vector<Metric> metrics = {}) {
        if (stack_.empty()) throw error("Sequential.compile: the model has no layers; add some first");
        auto state = optimizer.template build<S>();
        state->build(stack_.params().size());
        optimizer_ = std::move(state);
        loss_ = loss;
        metrics_ = std::move(metrics);
        // The loss takes the last layer's input as logits where both agree to: a loss that
        // fuses softmax (categorical cross-entropy) after a layer that is a row-wise softmax.
        fused_softmax_ = loss.fuses_softmax() && stack_.traits(stack_.size() - 1).row_softmax;
        compiled_ = true;
        ++compilations_;
    }

    /// The compiled optimizer, as Keras's `model.optimizer`: its learning rate may be read and
    /// changed (`set_learning_rate`), also by a callback between epochs.
    /// \throws error before compile.
    [[nodiscard]] Optimizer<S>& optimizer() {
        require_compiled("optimizer");
        return *optimizer_;
    }
    [[nodiscard]] const Optimizer<S>& optimizer() const {
        require_compiled("optimizer");
        return *optimizer_;
    }

    /// Asks a running `fit` to stop after the current epoch, as Keras's
    /// `model.stop_training = True`: callbacks call it (EarlyStopping does), and so may
    /// another thread. Every fit clears the request when it starts.
    void stop_training() noexcept { stop_training_.set(); }
    /// Whether stopping has been asked for since the last fit began.
    [[nodiscard]] bool stop_training_requested() const noexcept { return stop_training_.get(); }

    /// Trains the model, as Keras's `fit`, batch by batch with the compiled optimizer.
    ///
    /// \code
    /// lamina::EarlyStopping<float> stop({.patience = 3, .restore_best_weights = true});
    /// auto history = model.fit(x, y, {.epochs = 100, .callbacks = {stop}, .validation_split = 0.1});
    /// \endcode
    /// \param x inputs (samples x input_dim()).
    /// \param y targets (samples x output_dim()), e.g. from `to_categorical`.
    /// \param options batch size, epochs, validation, callbacks, ...: see `FitOptions`.
    /// \returns the loss and accuracy of every epoch trained (initial_epoch .. epochs-1, fewer
    ///          when a callback stopped training), and validation figures when
    ///          validation_data or validation_split is given.
    /// \throws error before compile; shape_error for x or y of the wrong shape (naming the
    ///         layer and the expected and found shapes); std::invalid_argument for a batch
    ///         size < 1, negative epochs or initial_epoch, no samples, or a validation_split
    ///         outside [0, 1), leaving no training or no validation sample, or given with
    ///         validation_data, validation_data with x but no y (or y but no x), or epochs
    ///         above 2^31 - 1; training_error when the loss or a weight becomes NaN or
    ///         infinite (with terminate_on_nan, unless a callback such as TerminateOnNaN ends
    ///         training quietly instead); error when called from a callback of this model's
    ///         running fit (see Callback for what a callback may do); whatever a callback throws.
    History fit(ConstMatrixRef<S> x, ConstMatrixRef<S> y, const FitOptions<S>& options = {});

    /// `fit` on inputs given as bytes, such as raw pixels 0-255 (`mnist::Images`), as Keras's
    /// fit takes a uint8 array: each batch is converted to S as it is gathered, so the data
    /// stays a quarter of its float size. Trains exactly as `fit` on `x.cast<S>()`.
    History fit(ConstByteMatrixRef x, ConstMatrixRef<S> y, const FitOptions<S>& options = {});

    /// The loss and accuracy over the given samples, as Keras's `evaluate`.
    /// \throws error before compile; shape_error and std::invalid_argument as `fit`.
    [[nodiscard]] Score evaluate(ConstMatrixRef<S> x, ConstMatrixRef<S> y, const PredictOptions& options = {}) const;

    /// `evaluate` on inputs given as bytes (raw pixels), converted to S batch by batch.
    [[nodiscard]] Score evaluate(ConstByteMatrixRef x, ConstMatrixRef<S> y, const PredictOptions& options = {}) const;

    /// The outputs of the model for `x` (probabilities when it ends in softmax), as Keras's
    /// `predict`. Shape: (x.rows() x output_dim()).
    /// \throws shape_error when x is not input_dim() wide; std::invalid_argument for no samples.
    [[nodiscard]] Matrix<S> predict(ConstMatrixRef<S> x, const PredictOptions& options = {}) const {
        Matrix<S> out(x.rows(), output_dim());
        predict(x, out, options);
        return out;
    }

    /// `predict` on inputs given as bytes (raw pixels), converted to S batch by batch.
    [[nodiscard]] Matrix<S> predict(ConstByteMatrixRef x, const PredictOptions& options = {}) const {
        Matrix<S> out(x.rows(), output_dim());
        predict(x, out, options);
        return out;
    }

    /// `predict` into `out` (x.rows() x output_dim()), which must not overlap x. Allocates
    /// nothing after the first call on a thread when the work stays on that thread (fewer
    /// than 64 samples per thread, or `threads = 1`): a single sample costs a few microseconds.
    /// \throws shape_error for x or out of the wrong shape; std::invalid_argument for no samples.
    void predict(ConstMatrixRef<S> x, MatrixRef<S> out, const PredictOptions& options = {}) const;

    /// `predict` into `out` on inputs given as bytes (raw pixels), converted to S batch by
    /// batch (in the thread's buffers: still allocation-free after the first call).
    void predict(ConstByteMatrixRef x, MatrixRef<S> out, const PredictOptions& options = {}) const;

    /// The index of the largest output of each sample (the predicted class).
    [[nodiscard]] std::vector<Index> predict_classes(ConstMatrixRef<S> x, const PredictOptions& options = {}) const {
        return classes_of(predict(x, options));
    }

    /// `predict_classes` on inputs given as bytes (raw pixels).
    [[nodiscard]] std::vector<Index> predict_classes(ConstByteMatrixRef x, const PredictOptions& options = {}) const {
        return classes_of(predict(x, options));
    }

    /// One gradient step on one batch, as Keras's `train_on_batch`: x and y are the whole
    /// batch, in order. Returns the batch's mean loss and accuracy before the step. After the
    /// first call, a call allocates nothing as long as the batch does not grow.
    /// \throws as `fit`.
    Score train_on_batch(ConstMatrixRef<S> x, ConstMatrixRef<S> y, int threads = 0);

    /// `train_on_batch` on inputs given as bytes (raw pixels), converted to S as gathered.
    Score train_on_batch(ConstByteMatrixRef x, ConstMatrixRef<S> y, int threads = 0);

    /// The mean loss over all of `x` as one batch (with the layers' weight penalties), and its
    /// gradient into `gradients()`; weights are not changed. For gradient checks and custom
    /// training loops. Layers run as in training; Dropout drops the same units on every
    /// call (a fixed seed), so that the loss is a deterministic function of the weights.
    /// \throws as `fit`.
    S loss_and_gradient(ConstMatrixRef<S> x, ConstMatrixRef<S> y);

    // ----- Saving and loading: the whole model (lamina/io/model_file.hpp) and the weights (.npz) -----

    /// Saves the whole model to `path` in lamina's model format (specified at the top of
    /// lamina/io/model_file.hpp): the layers, the weights, the compile settings, the
    /// optimizer's state and the model's random stream. `load_model<S>(path)` then gives a
    /// model that predicts bit for bit as this one and whose `fit` (without a fit seed; same
    /// thread count where that matters, see FitOptions::threads) goes on exactly where this
    /// one's stopped. The file is written to a temporary file in the same folder and renamed
    /// into place: a failure leaves the old file, or none, and no temporary file. Like
    /// `predict`, it only reads the model.
    /// \param path the file to write; its folder must exist.
    /// \throws io_error naming `path` if it cannot be written. A layer kind of your own saves
    ///         as the built-in ones do; loading it needs it registered (`register_layer`).
    void save(const std::filesystem::path& path) const;

    /// The bytes of the model file `save` writes (for memory, sockets or databases);
    /// `from_bytes` or `load_model<S>(bytes)` reads them back.
    /// \throws error as `save`.
    [[nodiscard]] std::vector<std::byte> to_bytes() const;

    /// The model that the bytes of a whole model file describe (as `to_bytes` gives them).
    /// \param bytes the file's bytes.
    /// \param name what error messages call them (a file name).
    /// \throws io_error "lamina::load_model: '<name>': <problem>" (with the byte offset where
    ///         one applies) for anything but one well-formed model file of scalar type `S`:
    ///         see `io::decode_model`; also for compile settings this lamina does not know
    ///         and a random state written by another C++ standard library.
    [[nodiscard]] static Sequential from_bytes(std::span<const std::byte> bytes, std::string_view name = "<memory>");

    /// Saves every layer's weights as a NumPy .npz archive (a zip of .npy arrays, stored,
    /// written atomically like `save`), readable with `numpy.load(path)`. One array per
    /// weight, named "<layer>.<weight>" after the layer's Keras name: "dense.kernel" of
    /// shape (input_dim, units) and "dense.bias" of shape (units,), then "dense_1.kernel",
    /// ... (each layer's `weight_specs()`: names and shapes); dtype '<f4' for a float model,
    /// '<f8' for double; C order. The order is that of Keras's `model.get_weights()`.
    /// \param path the archive to write; its folder must exist.
    /// \throws io_error naming `path` if it cannot be written (no file is left behind).
    void save_weights(const std::filesystem::path& path) const;

    /// Sets every layer's weights from a NumPy .npz archive: one written by `save_weights`
    /// (arrays named "dense.kernel", "dense.bias", ...), or by Python's
    /// `numpy.savez(path, *keras_model.get_weights())` (arrays "arr_0", "arr_1", ... in
    /// Keras's order: each Dense layer's kernel (input_dim, units), then its bias (units,)).
    /// Stored and (with zlib) deflated archives are read (`numpy.savez_compressed`); arrays
    /// may be in either byte order and C or Fortran order. Nothing is changed unless every
    /// array fits: the architecture, the compile settings and the optimizer's state stay.
    /// \param path the .npz archive.
    /// \throws io_error naming the file if it cannot be read or is malformed, an array is
    ///         missing or not expected, names mix the two schemes, or an array's dtype is not
    ///         the model's (float32 for `Sequential<float>`, float64 for double: no conversion);
    ///         shape_error naming the file, the array and the expected and found shapes.
    void load_weights(const std::filesystem::path& path);

private:
    template <Scalar, class>
    friend class detail::FitLoop;
    friend class detail::ModelMapping<S>;

    // Builds layer `index` from `spec` after a layer whose output is `input`, naming the
    // index in its errors.
    static std::unique_ptr<Layer<S>> build(const LayerSpec<S>& spec, const Shape& input, Index index) {
        try {
            return spec.build(input);
        } catch (const shape_error& e) {
            throw shape_error("Sequential.add: layer " + std::to_string(index) + ": " + e.what());
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("Sequential.add: layer " + std::to_string(index) + ": " + e.what());
        }
    }

    // What the training step reads and changes of this model.
    detail::StepModel<S> step_model() { return {stack_, *loss_, fused_softmax_, *optimizer_}; }

    // Whether the targets must be distributions (one-hot rows): for categorical cross-entropy.
    [[nodiscard]] bool targets_are_distributions() const {
        return std::holds_alternative<loss::CategoricalCrossentropy>(loss_->kind());
    }

    // train_on_batch, evaluate and predict on inputs of element type T (S, or bytes).
    template <class T>
    Score train_on_batch_inputs(ConstInputRef<T> x, ConstMatrixRef<S> y, int threads);
    template <class T>
    Score evaluate_inputs(ConstInputRef<T> x, ConstMatrixRef<S> y, const PredictOptions& options) const;
    template <class T>
    void predict_inputs(ConstInputRef<T> x, MatrixRef<S> out, const PredictOptions& options) const;

    static std::vector<Index> classes_of(const Matrix<S>& p) {
        std::vector<Index> classes(std::size_t(p.rows()));
        for (Index i = 0; i < p.rows(); ++i) p.row(i).maxCoeff(&classes[std::size_t(i)]);
        return classes;
    }

    static std::string grouped(Index v) {
        std::string digits = std::to_string(v), out;
        for (std::size_t i = 0; i < digits.size(); ++i) {
            if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
            out += digits[i];
        }
        return out;
    }

    Index checked_index(Index i) const {
        if (i < 0 || i >= size())
            throw std::out_of_range("Sequential.layer: index " + std::to_string(i) +
                                    " is out of range; the model has " + std::to_string(size()) + " layers");
        return i;
    }

    void require_compiled(const char* fn) const {
        if (!compiled_)
            throw error(std::string("Sequential.") + fn +
                        ": the model is not compiled; call compile(loss, optimizer) first");
    }

    detail::LayerStack<S> stack_;
    Random rng_;
    std::optional<Loss> loss_;
    std::unique_ptr<Optimizer<S>> optimizer_;
    std::vector<Metric> metrics_;
    bool fused_softmax_ = false;
    bool compiled_ = false;
    detail::MovableFlag stop_training_;  // stop_training() was called since fit began
    bool in_fit_ = false;                // a fit of this model is running (its callbacks may call in)
    std::uint64_t compilations_ = 0;     // compile calls so far: a running fit sees a callback's
    detail::TrainingStep<S> trainer_;
    mutable detail::Inference<S> inference_;
};

/// Loads a model saved by `Sequential<S>::save`, as Keras's `load_model`: the layers, the
/// weights, the compile settings, the optimizer's state and the random stream, so that it
/// predicts bit for bit as the saved model and `fit` goes on exactly where it stopped.
///
/// \code
/// model.save("mnist.lamina");
/// auto again = lamina::load_model<float>("mnist.lamina");
/// \endcode
/// \param path the model file.
/// \throws io_error "lamina::load_model: '<path>': <problem>" (with the byte offset where one
///         applies) if the file cannot be read or is not one well-formed model file of scalar
///         type `S` (a file of the other scalar type is refused, not converted): see
///         `Sequential::from_bytes`.
template <Scalar S>
[[nodiscard]] Sequential<S> load_model(const std::filesystem::path& path);

/// Loads a model from the bytes of a model file in memory (as `Sequential::to_bytes` gives).
/// \param bytes the file's bytes.
/// \param name what error messages call them.
/// \throws io_error as `Sequential::from_bytes`.
template <Scalar S>
[[nodiscard]] Sequential<S> load_model(std::span<const std::byte> bytes, std::string_view name = "<memory>");

#if defined(LAMINA_COMPILED)
// Instantiated once in lamina::compiled (src/lamina.cpp).
extern template class Sequential<float>;
extern template class Sequential<double>;
extern template Sequential<float> load_model<float>(const std::filesystem::path&);
extern template Sequential<double> load_model<double>(const std::filesystem::path&);
extern template Sequential<float> load_model<float>(std::span<const std::byte>, std::string_view);
extern template Sequential<double> load_model<double>(std::span<const std::byte>, std::string_view);
#endif

}  // namespace lamina

// The members that run the model (fit, evaluate, predict, the files), out of the class so that
// they are not inline: with LAMINA_COMPILED the extern template declarations above keep a
// translation unit from instantiating them, and it does not even parse them
// (lamina/detail/compiled.hpp); lamina::compiled's src/lamina.cpp instantiates them once.
#if LAMINA_DETAIL_DEFINITIONS
#include <lamina/models/detail/sequential_members.hpp>
#endif
