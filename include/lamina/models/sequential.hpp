// SPDX-License-Identifier: MIT
// lamina: the Sequential model: a stack of layers over one flat parameter buffer, trained batch by batch.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/convert.hpp>
#include <lamina/detail/fp_env.hpp>
#include <lamina/detail/team.hpp>
#include <lamina/io/file.hpp>
#include <lamina/io/model_file.hpp>
#include <lamina/io/npz.hpp>
#include <lamina/layers/activation.hpp>
#include <lamina/layers/dense.hpp>
#include <lamina/layers/dropout.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/losses/loss.hpp>
#include <lamina/metrics/metric.hpp>
#include <lamina/optimizers/from_config.hpp>
#include <lamina/optimizers/optimizer.hpp>
#include <lamina/models/history.hpp>
#include <lamina/models/options.hpp>
#include <lamina/models/progress.hpp>

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
/// (samples x output_dim()), one sample per row.
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

    /// A model of the given layers, in order; the first must carry its `input_dim`.
    /// \throws std::invalid_argument, shape_error as `add` does.
    Sequential(std::initializer_list<LayerSpec<S>> layers) {
        for (const auto& spec : layers) add(spec);
    }

    Sequential(Sequential&&) noexcept = default;
    Sequential& operator=(Sequential&&) noexcept = default;
    Sequential(const Sequential&) = delete;
    Sequential& operator=(const Sequential&) = delete;

    /// Appends a layer whose input width is the current output width, and draws its weights.
    /// Weights of the layers already there are kept.
    /// \throws std::invalid_argument when the first layer lacks input_dim or a later one is
    ///         an invalid spec; shape_error when a given input_dim does not match.
    void add(const LayerSpec<S>& spec) {
        const auto index = Index(layers_.size());
        std::unique_ptr<Layer<S>> layer;
        try {
            layer = spec.build(output_dim());
        } catch (const shape_error& e) {
            throw shape_error("Sequential.add: layer " + std::to_string(index) + ": " + e.what());
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument("Sequential.add: layer " + std::to_string(index) + ": " + e.what());
        }
        layer->set_position(index, keras_name(*layer));
        layers_.push_back(std::move(layer));
        relayout();
        layers_.back()->initialize(rng_);
        compiled_ = false;  // the optimizer's slots no longer fit
    }

    /// Re-seeds the model's random stream with `seed` and draws every layer's weights again
    /// from it, so that the same seed gives the same weights (and, through `fit` without its
    /// own seed, the same shuffling).
    void initialize(std::uint64_t seed) {
        rng_.seed(seed);
        for (auto& layer : layers_) layer->initialize(rng_);
        if (optimizer_) optimizer_->build(params_.size());
    }

    /// Number of layers.
    [[nodiscard]] Index size() const noexcept { return Index(layers_.size()); }
    /// Layer `i` (0-based), as Keras's `model.layers[i]`.
    /// \throws std::out_of_range naming the index and the number of layers.
    [[nodiscard]] Layer<S>& layer(Index i) { return *layers_[std::size_t(checked_index(i))]; }
    [[nodiscard]] const Layer<S>& layer(Index i) const { return *layers_[std::size_t(checked_index(i))]; }

    /// Width of one input sample (0 for an empty model).
    [[nodiscard]] Index input_dim() const noexcept { return layers_.empty() ? 0 : layers_.front()->input_dim(); }
    /// Width of one output sample (0 for an empty model).
    [[nodiscard]] Index output_dim() const noexcept { return layers_.empty() ? 0 : layers_.back()->output_dim(); }
    /// Number of trainable scalars (Keras `count_params`).
    [[nodiscard]] Index count_params() const noexcept { return params_.size(); }

    /// Every weight, layer after layer (a Dense layer: kernel row-major, then bias).
    [[nodiscard]] const Vector<S>& parameters() const noexcept { return params_; }
    /// Writable view of every weight; keep its size.
    [[nodiscard]] VectorMap<S> parameters() noexcept { return VectorMap<S>(params_.data(), params_.size()); }
    /// The gradient of the last `loss_and_gradient` (or of the last batch of `fit`), laid out
    /// as `parameters()`.
    [[nodiscard]] const Vector<S>& gradients() const noexcept { return grads_; }

    /// Prints a Keras-like table of the layers, their output shapes and parameter counts.
    void summary(std::ostream& out = std::cout) const {
        const std::string rule(65, '_'), thick(65, '=');
        out << "Model: \"sequential\"\n" << rule << '\n';
        out << std::left << std::setw(29) << " Layer (type)" << std::setw(26) << "Output Shape"
            << "Param #\n";
        out << thick << '\n';
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            const auto& l = *layers_[i];
            out << std::left << std::setw(29) << (" " + l.name() + " (" + l.kind() + ")") << std::setw(26)
                << ("(None, " + std::to_string(l.output_dim()) + ")") << grouped(l.parameter_count()) << '\n';
        }
        out << thick << '\n';
        out << "Total params: " << grouped(count_params()) << '\n';
        out << "Trainable params: " << grouped(count_params()) << '\n';
        out << "Non-trainable params: 0\n" << rule << '\n';
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
        if (layers_.empty()) throw error("Sequential.compile: the model has no layers; add some first");
        auto state = optimizer.template build<S>();
        state->build(params_.size());
        optimizer_ = std::move(state);
        loss_ = loss;
        metrics_ = std::move(metrics);
        fused_softmax_ = std::holds_alternative<loss::CategoricalCrossentropy>(loss.kind()) &&
                         dynamic_cast<const detail::SoftmaxActivation<S>*>(layers_.back().get()) != nullptr;
        compiled_ = true;
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
    ///         validation_data; training_error when the loss or a weight becomes NaN or
    ///         infinite (with terminate_on_nan, unless a callback such as TerminateOnNaN ends
    ///         training quietly instead); whatever a callback throws.
    History fit(ConstMatrixRef<S> x, ConstMatrixRef<S> y, const FitOptions<S>& options = {}) {
        return fit_inputs<S>(x, y, options);
    }

    /// `fit` on inputs given as bytes, such as raw pixels 0-255 (`mnist::Images`), as Keras's
    /// fit takes a uint8 array: each batch is converted to S as it is gathered, so the data
    /// stays a quarter of its float size. Trains exactly as `fit` on `x.cast<S>()`.
    History fit(ConstByteMatrixRef x, ConstMatrixRef<S> y, const FitOptions<S>& options = {}) {
        return fit_inputs<std::uint8_t>(x, y, options);
    }

    /// The loss and accuracy over the given samples, as Keras's `evaluate`.
    /// \throws error before compile; shape_error and std::invalid_argument as `fit`.
    [[nodiscard]] Score evaluate(ConstMatrixRef<S> x, ConstMatrixRef<S> y, const PredictOptions& options = {}) const {
        return evaluate_inputs<S>(x, y, options);
    }

    /// `evaluate` on inputs given as bytes (raw pixels), converted to S batch by batch.
    [[nodiscard]] Score evaluate(ConstByteMatrixRef x, ConstMatrixRef<S> y, const PredictOptions& options = {}) const {
        return evaluate_inputs<std::uint8_t>(x, y, options);
    }

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
    void predict(ConstMatrixRef<S> x, MatrixRef<S> out, const PredictOptions& options = {}) const {
        predict_inputs<S>(x, out, options);
    }

    /// `predict` into `out` on inputs given as bytes (raw pixels), converted to S batch by
    /// batch (in the thread's buffers: still allocation-free after the first call).
    void predict(ConstByteMatrixRef x, MatrixRef<S> out, const PredictOptions& options = {}) const {
        predict_inputs<std::uint8_t>(x, out, options);
    }

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
    Score train_on_batch(ConstMatrixRef<S> x, ConstMatrixRef<S> y, int threads = 0) {
        return train_on_batch_inputs<S>(x, y, threads);
    }

    /// `train_on_batch` on inputs given as bytes (raw pixels), converted to S as gathered.
    Score train_on_batch(ConstByteMatrixRef x, ConstMatrixRef<S> y, int threads = 0) {
        return train_on_batch_inputs<std::uint8_t>(x, y, threads);
    }

    /// The mean loss over all of `x` as one batch (with the layers' weight penalties), and its
    /// gradient into `gradients()`; weights are not changed. For gradient checks and custom
    /// training loops. Layers run as in training; Dropout drops the same units on every
    /// call (a fixed seed), so that the loss is a deterministic function of the weights.
    /// \throws as `fit`.
    S loss_and_gradient(ConstMatrixRef<S> x, ConstMatrixRef<S> y) {
        require_compiled("loss_and_gradient");
        check_xy<S>("loss_and_gradient", x, y);
        detail::Team& team = training_team(1);
        train_.resize(layers_, x.rows(), true);
        guard_ = false;
        pass_seed_ = 0;
        return S(train_step<S>(team, x, y, nullptr, 0, x.rows(), false).first / double(x.rows()));
    }

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
    /// \throws io_error naming `path` if it cannot be written; error for a layer the format
    ///         cannot describe (a layer type of your own: Dense, Activation and Dropout are known).
    void save(const std::filesystem::path& path) const {
        io::write_file_atomically(path, to_bytes(), "Sequential.save");
    }

    /// The bytes of the model file `save` writes (for memory, sockets or databases);
    /// `from_bytes` or `load_model<S>(bytes)` reads them back.
    /// \throws error as `save`.
    [[nodiscard]] std::vector<std::byte> to_bytes() const { return io::encode_model<S>(to_record()); }

    /// The model that the bytes of a whole model file describe (as `to_bytes` gives them).
    /// \param bytes the file's bytes.
    /// \param name what error messages call them (a file name).
    /// \throws io_error "lamina::load_model: '<name>': <problem>" (with the byte offset where
    ///         one applies) for anything but one well-formed model file of scalar type `S`:
    ///         see `io::decode_model`; also for compile settings this lamina does not know
    ///         and a random state written by another C++ standard library.
    [[nodiscard]] static Sequential from_bytes(std::span<const std::byte> bytes, std::string_view name = "<memory>") {
        return from_record(io::decode_model<S>(bytes, name), name);
    }

    /// Saves every layer's weights as a NumPy .npz archive (a zip of .npy arrays, stored,
    /// written atomically like `save`), readable with `numpy.load(path)`. One array per
    /// weight, named "<layer>.<weight>" after the layer's Keras name: "dense.kernel" of
    /// shape (input_dim, units) and "dense.bias" of shape (units,), then "dense_1.kernel",
    /// ...; dtype '<f4' for a float model, '<f8' for double; C order. The order is that
    /// of Keras's `model.get_weights()`.
    /// \param path the archive to write; its folder must exist.
    /// \throws io_error naming `path` if it cannot be written (no file is left behind).
    void save_weights(const std::filesystem::path& path) const {
        std::vector<io::NpzEntry> entries;
        for (const auto& layer : layers_) {
            const auto weights = layer->get_weights();
            const auto names = weight_names(*layer, weights.size());
            for (std::size_t k = 0; k < weights.size(); ++k) {
                const auto& w = weights[k];
                std::vector<std::uint64_t> shape{std::uint64_t(w.rows()), std::uint64_t(w.cols())};
                if (layer->kind() == "Dense" && k == 1) shape = {std::uint64_t(w.cols())};  // the bias: (units,)
                entries.push_back({layer->name() + "." + names[k],
                                   io::make_npy<S>(std::span<const S>(w.data(), std::size_t(w.size())), shape)});
            }
        }
        io::write_npz(path, entries, "Sequential.save_weights");
    }

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
    void load_weights(const std::filesystem::path& path) { load_weights_from(io::read_npz(path), path.string()); }

private:
    // A batch of one layer's values (rows x width) whose rows start 32 bytes apart at least:
    // its storage is padded to a whole number of AVX vectors per row, so that the products
    // that read it row by row (a layer's weight gradient reads dy's rows once per non-zero
    // input) never load a vector across two cache lines. The padding is never read.
    struct Buffer {
        Matrix<S> storage;
        Index width = 0;

        static constexpr Index lanes = Index(32 / sizeof(S));
        void resize(Index rows, Index w) {
            width = w;
            storage.setZero(rows, (w + lanes - 1) / lanes * lanes);
        }
        [[nodiscard]] Index cols() const noexcept { return width; }
        auto topRows(Index n) { return storage.topLeftCorner(n, width); }
        auto middleRows(Index r0, Index n) { return storage.block(r0, 0, n, width); }
        auto row(Index r) { return storage.row(r).head(width); }
    };

    /// Per-layer buffers for a batch of up to `capacity` rows: acts[i] is the input of
    /// layer i (acts[L] the output), deltas[i] = dL/d acts[i], target the batch's targets,
    /// and in training where each gathered input row is non-zero (see TrainingPass).
    struct Workspace {
        std::vector<Buffer> acts, deltas;
        Matrix<S> target;
        std::vector<std::uint64_t> nonzeros;
        Index capacity = 0;

        // Allocates only when the batch grows or the layers change.
        void resize(const std::vector<std::unique_ptr<Layer<S>>>& layers, Index rows, bool training = false) {
            const std::size_t count = layers.size() + 1;
            bool same = acts.size() == count && (!training || deltas.size() == count);
            for (std::size_t i = 0; same && i < count; ++i)
                same = acts[i].cols() == (i == 0 ? layers[0]->input_dim() : layers[i - 1]->output_dim());
            if (rows <= capacity && same) return;
            capacity = same ? std::max(rows, capacity) : rows;
            acts.resize(count);
            for (std::size_t i = 0; i < count; ++i) {
                const Index width = i == 0 ? layers[0]->input_dim() : layers[i - 1]->output_dim();
                acts[i].resize(capacity, width);
                if (training) {
                    deltas.resize(count);
                    deltas[i].resize(capacity, width);
                }
            }
            if (training) {
                target.resize(capacity, layers.back()->output_dim());
                nonzeros.resize(std::size_t(capacity * detail::nonzero_words(layers[0]->input_dim())));
            }
        }
    };

    // fit on inputs of element type T (S, or bytes converted batch by batch).
    template <class T>
    History fit_inputs(ConstInputRef<T> x, ConstMatrixRef<S> y, const FitOptions<S>& options) {
        require_compiled("fit");
        check_xy<T>("fit", x, y);
        if (options.batch_size < 1)
            throw std::invalid_argument("Sequential.fit: batch_size must be >= 1, found " +
                                        std::to_string(options.batch_size));
        if (options.epochs < 0)
            throw std::invalid_argument("Sequential.fit: epochs must be >= 0, found " + std::to_string(options.epochs));
        if (options.initial_epoch < 0)
            throw std::invalid_argument("Sequential.fit: initial_epoch must be >= 0, found " +
                                        std::to_string(options.initial_epoch));
        check_values<T>("fit", x, y);
        const auto& val = options.validation_data;
        if (val.x) {
            check_xy<S>("fit (validation_data)", *val.x, *val.y);
            check_values<S>("fit (validation_data)", *val.x, *val.y);
        }
        if (val.bytes) {
            check_xy<std::uint8_t>("fit (validation_data)", *val.bytes, *val.y);
            check_values<std::uint8_t>("fit (validation_data)", *val.bytes, *val.y);
        }
        // validation_split holds out the last rows, before any shuffling: Keras's
        // split_at = floor(samples * (1 - validation_split)) rows are trained on.
        const double split = options.validation_split;
        const auto split_text = [&] {
            std::ostringstream text;
            text << "validation_split = " << split;
            return text.str();
        };
        if (!(split >= 0 && split < 1))
            throw std::invalid_argument("Sequential.fit: validation_split must be in [0, 1), found " + split_text());
        if (split > 0 && val)
            throw std::invalid_argument("Sequential.fit: " + split_text() +
                                        " and validation_data are both given; give one of them");
        const Index n = split > 0 ? Index(std::floor(double(x.rows()) * (1.0 - split))) : x.rows();
        if (split > 0 && (n == 0 || n == x.rows()))
            throw std::invalid_argument("Sequential.fit: " + split_text() + " of " + std::to_string(x.rows()) +
                                        " samples leaves " + (n == 0 ? "no training" : "no validation") +
                                        " samples (split_at = floor(samples * (1 - validation_split)) = " +
                                        std::to_string(n) + "); give more samples or another validation_split");
        const ConstInputRef<T> train_x = x.topRows(n);  // views, no copies
        const ConstMatrixRef<S> train_y = y.topRows(n);
        const bool validate = val || n < x.rows();  // scored after every epoch: validation_data or the held-out rows
        const auto score_validation = [&](detail::Team& team) {
            const Index batch_size = PredictOptions{}.batch_size;
            if (val.x) return evaluate_on<S>(team, *val.x, *val.y, batch_size);
            if (val.bytes) return evaluate_on<std::uint8_t>(team, *val.bytes, *val.y, batch_size);
            return evaluate_on<T>(team, x.bottomRows(x.rows() - n), y.bottomRows(y.rows() - n), batch_size);
        };
        const auto& callbacks = options.callbacks;

        History history;
        stop_training_.clear();
        for (const auto& c : callbacks) c->on_train_begin(*this);
        if (options.initial_epoch >= options.epochs) {
            for (const auto& c : callbacks) c->on_train_end(history, *this);
            return history;
        }

        const Index batch = std::min(options.batch_size, n);
        const Index steps = (n + batch - 1) / batch;
        detail::FlushSubnormals flush;
        detail::Team& team = training_team(thread_count(options.threads, batch));
        // Each batch on the team or on this thread alone, whichever is faster at the time: the
        // weights are the same either way where every row of every product is computed the
        // same way whatever block of rows it is in (lamina's float kernels).
        detail::TeamChoice choice(team.size() > 1 && detail::gemm_rows_independent<S>);
        train_.resize(layers_, batch, true);
        Random own_rng(options.seed.value_or(0));
        Random& shuffle_rng = options.seed ? own_rng : rng_;
        std::vector<Index> order;  // empty: the samples in their order
        guard_ = options.terminate_on_nan;
        if (guard_) {
            backup_.resize(params_.size());
            const auto slots = optimizer_->slots();
            slots_backup_.resize(slots.size());
            for (std::size_t i = 0; i < slots.size(); ++i) slots_backup_[i].resize(slots[i]->size());
        }

        // With a seed, first the draws that the epochs before initial_epoch made in a fit from
        // epoch 0 (in step with those at the start of every epoch below), so that a resumed
        // fit goes on as one fit would have.
        if (options.seed)
            for (Index e = 0; e < options.initial_epoch; ++e) {
                if (options.shuffle) own_rng.permutation(order, n);
                if (random_in_training_) static_cast<void>(own_rng.bits());
            }
        // Batch `step` of `epoch` made the loss or a weight NaN or infinite: whether a callback
        // (TerminateOnNaN) ends training there without an exception. Every callback hears of it.
        const auto stop_quietly = [&](Index epoch, Index step, double loss) {
            const char* what = std::isfinite(loss) ? "a weight became NaN or infinite"
                               : std::isnan(loss)  ? "the loss became NaN"
                                                   : "the loss became infinite";
            bool stop = false;
            for (const auto& c : callbacks) stop = c->on_divergence(int(epoch), int(step), what, *this) || stop;
            return stop;
        };
        bool diverged = false;

        Progress progress(options.verbose, options.epochs, steps, !metrics_.empty());
        const auto fit_start = std::chrono::steady_clock::now();
        for (Index epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
            const auto epoch_start = std::chrono::steady_clock::now();
            for (const auto& c : callbacks) c->on_epoch_begin(int(epoch), *this);
            progress.epoch_begin(epoch);
            if (options.shuffle) shuffle_rng.permutation(order, n);
            if (random_in_training_) pass_seed_ = shuffle_rng.bits();  // this epoch's dropout masks
            const Index* sequence = order.empty() ? nullptr : order.data();
            const auto run_batch = [&](Index step) {
                const Index start = step * batch;
                return train_step<T>(team, train_x, train_y, sequence ? sequence + start : nullptr, start,
                                     std::min(batch, n - start), true, choice.alone());
            };
            if (guard_) checkpoint();
            double loss_sum = 0;
            Index correct = 0, alone = 0;
            for (Index step = 0; step < steps; ++step) {
                const Index start = step * batch, rows = std::min(batch, n - start);
                alone += choice.alone_kept();
                const auto batch_start = std::chrono::steady_clock::now();
                const auto [l, c] = run_batch(step);
                if (rows == batch)
                    choice.record(
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count());
                if (guard_ && (!std::isfinite(l) || diverged_.get())) {
                    try {
                        restore_and_throw(epoch, step, steps, l, run_batch);  // the weights of before this batch
                    } catch (const training_error&) {
                        if (!stop_quietly(epoch, step, l)) throw;
                    }
                    diverged = true;
                    break;
                }
                if (!guard_ && !callbacks.empty() && !std::isfinite(l) && stop_quietly(epoch, step, l)) {
                    diverged = true;  // Keras's TerminateOnNaN: stop after the batch, weights as they are
                    break;
                }
                loss_sum += l;
                correct += c;
                progress.batch_end(step + 1, loss_sum / double(start + rows), double(correct) / double(start + rows));
            }
            if (diverged) break;  // the History keeps the completed epochs
            EpochLogs logs{loss_sum / double(n), double(correct) / double(n)};
            history.epoch.push_back(int(epoch));
            history.loss.push_back(logs.loss);
            history.accuracy.push_back(logs.accuracy);
            if (validate) {
                const auto score = score_validation(team);
                logs.val_loss = score.loss;
                logs.val_accuracy = score.accuracy;
                history.val_loss.push_back(score.loss);
                history.val_accuracy.push_back(score.accuracy);
            }
            const auto now = std::chrono::steady_clock::now();
            history.seconds.push_back(std::chrono::duration<double>(now - epoch_start).count());
            history.alone.push_back(double(alone) / double(steps));
            // Progress's ETA takes the time so far as that of epochs 0..epoch: scale it to that.
            const double elapsed = std::chrono::duration<double>(now - fit_start).count();
            progress.epoch_end(logs, elapsed * double(epoch + 1) / double(epoch + 1 - options.initial_epoch));
            for (const auto& c : callbacks) c->on_epoch_end(int(epoch), history, *this);
            if (stop_training_.get()) break;
        }
        for (const auto& c : callbacks) c->on_train_end(history, *this);
        return history;
    }

    // train_on_batch on inputs of element type T.
    template <class T>
    Score train_on_batch_inputs(ConstInputRef<T> x, ConstMatrixRef<S> y, int threads) {
        require_compiled("train_on_batch");
        check_xy<T>("train_on_batch", x, y);
        check_values<T>("train_on_batch", x, y);
        detail::FlushSubnormals flush;
        detail::Team& team = training_team(thread_count(threads, x.rows()));
        train_.resize(layers_, x.rows(), true);
        guard_ = false;
        if (random_in_training_) pass_seed_ = rng_.bits();
        const auto [loss, correct] = train_step<T>(team, x, y, nullptr, 0, x.rows(), true);
        return {loss / double(x.rows()), double(correct) / double(x.rows())};
    }

    // evaluate on inputs of element type T.
    template <class T>
    Score evaluate_inputs(ConstInputRef<T> x, ConstMatrixRef<S> y, const PredictOptions& options) const {
        require_compiled("evaluate");
        check_xy<T>("evaluate", x, y);
        check_values<T>("evaluate", x, y);
        check_batch_size("evaluate", options.batch_size);
        detail::FlushSubnormals flush;
        return with_inference_team(thread_count(options.threads, x.rows() / 64),
                                   [&](detail::Team& team) { return evaluate_on<T>(team, x, y, options.batch_size); });
    }

    template <class T>
    void predict_inputs(ConstInputRef<T> x, MatrixRef<S> out, const PredictOptions& options) const {
        check_x<T>("predict", x);
        if constexpr (std::is_same_v<T, S>) check_finite("predict", "x", x);
        check_batch_size("predict", options.batch_size);
        if (out.rows() != x.rows() || out.cols() != output_dim())
            throw shape_error("Sequential.predict: out is " + shape(out) + ", expected " + std::to_string(x.rows()) +
                              "x" + std::to_string(output_dim()));
        detail::FlushSubnormals flush;
        const int threads = thread_count(options.threads, x.rows() / 64);
        const auto work = [&](int t, int parts) {
            const auto span = detail::split(x.rows(), t, parts);
            Workspace& ws = thread_workspace();
            for (Index start = span.begin; start < span.end; start += options.batch_size) {
                const Index rows = std::min(options.batch_size, span.end - start);
                ws.resize(layers_, rows);
                forward_inputs<T>(x.middleRows(start, rows), ws, size(), out.middleRows(start, rows));
            }
        };
        if (threads == 1) {
            work(0, 1);
            return;
        }
        with_inference_team(threads, [&](detail::Team& team) { team.run([&](int t) { work(t, threads); }); });
    }

    static std::vector<Index> classes_of(const Matrix<S>& p) {
        std::vector<Index> classes(std::size_t(p.rows()));
        for (Index i = 0; i < p.rows(); ++i) p.row(i).maxCoeff(&classes[std::size_t(i)]);
        return classes;
    }

    // forward on inputs of element type T: bytes are converted into ws.acts[0] first.
    template <class T>
    void forward_inputs(ConstInputRef<T> x, Workspace& ws, Index stop, std::optional<MatrixRef<S>> out) const {
        if constexpr (std::is_same_v<T, S>) {
            forward(x, ws, stop, out);
        } else {
            auto in = ws.acts[0].topRows(x.rows());
            for (Index r = 0; r < x.rows(); ++r) detail::convert_row(x.row(r).data(), in.row(r).data(), x.cols());
            forward(in, ws, stop, out);
        }
    }

    // Runs layers [0, stop) on x into ws.acts; the last one writes into `out` when given.
    void forward(ConstMatrixRef<S> x, Workspace& ws, Index stop, std::optional<MatrixRef<S>> out) const {
        const Index rows = x.rows();
        for (Index i = 0; i < stop; ++i) {
            const auto& layer = *layers_[std::size_t(i)];
            auto dst = (out && i == stop - 1) ? *out : MatrixRef<S>(ws.acts[std::size_t(i + 1)].topRows(rows));
            if (i == 0) layer.forward(x, dst);
            else layer.forward(ws.acts[std::size_t(i)].topRows(rows), dst);
        }
    }

    // How many samples ahead of the one it converts the gather asks the cache for: about a
    // memory latency's worth of conversions.
    static constexpr Index gather_ahead = 8;

    // One batch of `rows` samples, x.row(order[r]) for r < rows (x.row(start + r) without an
    // order), as one job of the team (or of the caller `alone`, as a team of one would) in two
    // phases of fixed chunks, which members claim as they come (a descheduled thread leaves
    // its share to the others instead of stalling the batch). Phase A, `chunks_per_member` row
    // blocks per member (one block for one thread: nothing to balance, and the first layer's
    // product reuses each depth chunk of its weights over all the rows): gather, forward,
    // loss, and the input gradients down to layer 1. Phase B, slices of each layer's weights:
    // the weight gradient and, when `update`, the optimizer step. The chunks depend on the
    // batch, the layers and the team's size, never on which member runs them, and each writes
    // its own outputs (each row's loss, summed in row order after): a seed and a thread count
    // give the same training every time; where every product computes a row the same way
    // whatever block it is in (gemm_rows_independent), so does any thread count.
    // Returns the batch's summed loss and its number of correct predictions.
    // The gather asks the cache for the sample `gather_ahead` places ahead of the one it
    // converts (shuffled rows are scattered over memory; the hardware prefetcher cannot guess
    // them), and notes each sample's non-zeros for the first layer as it converts it.
    template <class T>
    std::pair<double, Index> train_step(detail::Team& team, ConstInputRef<T> x, ConstMatrixRef<S> y, const Index* order,
                                        Index start, Index rows, bool update, bool alone = false) {
        const Index head = fused_softmax_ ? size() - 1 : size();  // the loss reads acts[head]
        auto& ws = train_;
        const int threads = alone ? 1 : team.size();
        const Index chunks_a = threads == 1 ? 1 : std::min<Index>(rows, chunks_per_member * threads);
        // Sliced again when the team changes or a batch runs `alone` after one that did not (or
        // the reverse); allocates only for more slices than any batch before.
        if (slices_for_ != threads) slice_weights(threads);
        const auto chunks_b = Index(weight_slices_.size());
        diverged_.clear();
        if (row_loss_.size() < rows) row_loss_.resize(rows);
        partial_correct_.assign(std::size_t(chunks_a), 0);
        // The weight penalties, of the weights before this step, count once per sample in the
        // summed loss (so that the epoch's mean loss includes them once).
        const double penalty = regularization_loss();
        // Layer i's random choices for this batch: a seed of (this epoch's seed, first row, i).
        const std::uint64_t batch_seed = detail::mix64(pass_seed_ + 0x9E3779B97F4A7C15ull * std::uint64_t(start + 1));
        const auto pass = [&](Index i, Index r0) {
            return TrainingPass{detail::mix64(batch_seed + std::uint64_t(i)), r0};
        };
        if (update) optimizer_->begin_step();
        for (Index i = 1; i < head; ++i) layers_[std::size_t(i)]->prepare_backward();
        // Where each gathered row is non-zero, for the first layer's product when it reads that.
        const bool find_nonzeros = detail::gemm_rows_independent<S> &&
                                   dynamic_cast<const detail::DenseLayer<S>*>(layers_[0].get()) != nullptr;
        const Index words = detail::nonzero_words(x.cols());
        const auto phase_a = [&](Index chunk) {
            const auto span = detail::split(rows, int(chunk), int(chunks_a));
            const Index r0 = span.begin, len = span.size();
            for (Index r = r0; r < r0 + len; ++r) {
                if (r + gather_ahead < r0 + len) {
                    const Index later = order ? order[r + gather_ahead] : start + r + gather_ahead;
                    detail::prefetch_row(x.row(later).data(), x.cols());
                    detail::prefetch_row(y.row(later).data(), y.cols());
                }
                const Index from = order ? order[r] : start + r;
                detail::convert_row(x.row(from).data(), ws.acts[0].row(r).data(), x.cols());
                if (find_nonzeros) detail::nonzero_bits(x.row(from).data(), x.cols(), ws.nonzeros.data() + r * words);
                detail::convert_row(y.row(from).data(), ws.target.row(r).data(), y.cols());
            }
            for (Index i = 0; i < head; ++i) {
                TrainingPass p = pass(i, r0);
                if (i == 0 && find_nonzeros) {  // the first layer's input: the rows just gathered
                    p.nonzeros = ws.nonzeros.data() + r0 * words;
                    p.nonzero_words = words;
                }
                layers_[std::size_t(i)]->forward_training(ws.acts[std::size_t(i)].middleRows(r0, len),
                                                          ws.acts[std::size_t(i + 1)].middleRows(r0, len), p);
            }
            auto out = ws.acts[std::size_t(head)].middleRows(r0, len);
            MatrixRef<S> grad = ws.deltas[std::size_t(head)].middleRows(r0, len);
            loss_value(out, ws.target.middleRows(r0, len), &grad, rows, row_loss_.data() + r0);
            partial_correct_[std::size_t(chunk)] = metric::Accuracy::correct<S>(out, ws.target.middleRows(r0, len));
            for (Index i = head - 1; i >= 1; --i)
                layers_[std::size_t(i)]->backward_training(ws.acts[std::size_t(i)].middleRows(r0, len),
                                                           ws.acts[std::size_t(i + 1)].middleRows(r0, len),
                                                           ws.deltas[std::size_t(i + 1)].middleRows(r0, len),
                                                           ws.deltas[std::size_t(i)].middleRows(r0, len), pass(i, r0));
        };
        const auto phase_b = [&](Index chunk) {
            const WeightSlice& slice = weight_slices_[std::size_t(chunk)];
            const Index i = slice.layer;
            const auto range = layers_[std::size_t(i)]->gradient(ws.acts[std::size_t(i)].topRows(rows),
                                                                 ws.deltas[std::size_t(i + 1)].topRows(rows),
                                                                 slice.part, slice.parts);
            if (update && range.size > 0) {
                const Index offset = offsets_[std::size_t(i)] + range.offset;
                if (guard_) guarded_update(offset, range.size);
                else optimizer_->update(params_.data(), grads_.data(), offset, range.size);
            }
        };
        team.run_phases(chunks_a, phase_a, chunks_b, phase_b, alone);
        // Summed row by row in order, the same however the rows were cut into chunks.
        double loss = penalty * double(rows);
        for (Index r = 0; r < rows; ++r) loss += double(row_loss_[r]);
        Index correct = 0;
        for (Index c = 0; c < chunks_a; ++c) correct += partial_correct_[std::size_t(c)];
        return {loss, correct};
    }

    // The summed loss of `out` (logits when fused with softmax) against `target`, the
    // gradient of the batch mean into *grad when given, and each row's loss into
    // row_losses[row] when given.
    S loss_value(ConstMatrixRef<S> out, ConstMatrixRef<S> target, MatrixRef<S>* grad, Index batch,
                 S* row_losses = nullptr) const {
        return std::visit(
            [&](const auto& l) -> S {
                using L = std::decay_t<decltype(l)>;
                if constexpr (std::is_same_v<L, loss::CategoricalCrossentropy>)
                    return fused_softmax_ ? L::template from_logits<S>(out, target, grad, batch, row_losses)
                                          : L::template from_probabilities<S>(out, target, grad, batch, row_losses);
                else return L::template evaluate<S>(out, target, grad, batch, row_losses);
            },
            loss_->kind());
    }

    template <class T>
    Score evaluate_on(detail::Team& team, ConstInputRef<T> x, ConstMatrixRef<S> y, Index batch_size) const {
        const Index head = fused_softmax_ ? size() - 1 : size();
        // Each row's loss, summed in row order after: the same whatever the thread count and
        // batch size.
        std::vector<S> row_losses(std::size_t(x.rows()));
        std::vector<Index> hits(std::size_t(team.size()), 0);
        team.run([&](int t) {
            const auto span = detail::split(x.rows(), t, team.size());
            Workspace& ws = thread_workspace();
            for (Index start = span.begin; start < span.end; start += batch_size) {
                const Index rows = std::min(batch_size, span.end - start);
                ws.resize(layers_, rows);
                forward_inputs<T>(x.middleRows(start, rows), ws, head, std::nullopt);
                auto out = ws.acts[std::size_t(head)].topRows(rows);
                loss_value(out, y.middleRows(start, rows), nullptr, 1, row_losses.data() + start);
                hits[std::size_t(t)] += metric::Accuracy::correct<S>(out, y.middleRows(start, rows));
            }
        });
        double loss = 0;
        for (const S l : row_losses) loss += double(l);
        Index correct = 0;
        for (const Index h : hits) correct += h;
        return {loss / double(x.rows()) + regularization_loss(), double(correct) / double(x.rows())};
    }

    // The sum of every layer's weight penalty (L1/L2), from the current weights.
    [[nodiscard]] double regularization_loss() const {
        double sum = 0;
        for (const auto& layer : layers_) sum += layer->regularization_loss();
        return sum;
    }

    // The divergence guard. Every step checks the weights it wrote; the weights and optimizer
    // slots of before a failing batch are recovered from a copy made at the start of its epoch
    // by training the epoch's earlier batches again, which gives them exactly (a seed and a
    // thread count give the same training every time). Copying every step's weights before
    // updating them instead cost 7% of an epoch of the seed network; the replay costs at most
    // an epoch, once, when training fails.
    void checkpoint() {
        backup_ = params_;
        const auto slots = optimizer_->slots();
        for (std::size_t i = 0; i < slots.size(); ++i) slots_backup_[i] = *slots[i];
    }

    // The optimizer's step over [offset, offset + size) with the divergence guard: the weights
    // updated, then checked, a block at a time so that the check reads L1 rather than memory
    // (the steps of different elements are independent).
    void guarded_update(Index offset, Index size) {
        constexpr Index block = 2048;  // 8 KiB of floats
        bool finite = true;
        for (Index b = offset; b < offset + size; b += block) {
            const Index n = std::min(block, offset + size - b);
            optimizer_->update(params_.data(), grads_.data(), b, n);
            finite = detail::all_finite(params_.data() + b, n) && finite;
        }
        if (!finite) diverged_.set();
    }

    // Batch `step` of a guarded epoch diverged: puts back the weights, the optimizer's slots
    // and its step count of before it (the epoch's checkpoint, then `replay(s)` trains batch s
    // of the epoch again for s < step), and reports where.
    template <class Replay>
    [[noreturn]] void restore_and_throw(Index epoch, Index step, Index steps, double loss, const Replay& replay) {
        auto state = optimizer_->get_state();  // this epoch's steps counted, the failing one too
        state.iterations = std::max<std::int64_t>(state.iterations - (step + 1), 0);
        optimizer_->set_state(state);
        params_ = backup_;
        const auto slots = optimizer_->slots();
        for (std::size_t i = 0; i < slots.size(); ++i) *slots[i] = slots_backup_[i];
        for (Index s = 0; s < step; ++s) static_cast<void>(replay(s));
        const std::string what = std::isfinite(loss) ? "a weight became NaN or infinite"
                                 : std::isnan(loss)  ? "the loss became NaN"
                                                     : "the loss became infinite";
        throw training_error("Sequential.fit: " + what + " at epoch " + std::to_string(epoch + 1) + ", batch " +
                             std::to_string(step + 1) + " of " + std::to_string(steps) +
                             "; the weights are those from before that batch. Lower the learning rate (or set "
                             "terminate_on_nan = false to train on regardless).");
    }

    // Phase B's chunks for a team of `threads`: each layer's weights in slices of about
    // 10,000 parameters, at most `chunks_per_member` per member (one per layer for one thread).
    void slice_weights(int threads) {
        weight_slices_.clear();
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            const Index count = layers_[i]->parameter_count();
            if (count == 0) continue;
            const Index parts = std::clamp<Index>((count + 9999) / 10000, 1, chunks_per_member * threads);
            for (Index part = 0; part < (threads == 1 ? 1 : parts); ++part)
                weight_slices_.push_back({Index(i), part, threads == 1 ? 1 : parts});
        }
        slices_for_ = threads;
    }

    // Calls f(team) with a team of `threads` for inference: the model's own, kept between
    // calls so that its threads and their buffers stay warm, unless another call is using it
    // (predict and evaluate may run concurrently), in which case one of this call's own.
    template <class F>
    decltype(auto) with_inference_team(int threads, F&& f) const {
        std::unique_lock lock(inference_.mutex, std::try_to_lock);
        if (!lock.owns_lock()) {
            detail::Team team(threads);
            return f(team);
        }
        if (!inference_.team || inference_.team->size() != threads)
            inference_.team = std::make_unique<detail::Team>(threads);
        return f(*inference_.team);
    }

    // The model's own team for training, kept between calls (thread starts are not free).
    detail::Team& training_team(int threads) {
        if (!team_ || team_->size() != threads) team_ = std::make_unique<detail::Team>(threads);
        return *team_;
    }

    // Inference buffers of the calling thread, shared by every model of this scalar type:
    // concurrent predictions use different buffers, and a thread reuses its own.
    static Workspace& thread_workspace() {
        static thread_local Workspace ws;
        return ws;
    }

    // Lays the parameters of every layer end to end in new flat buffers, keeping the
    // values already there, and re-binds every layer's views.
    void relayout() {
        Index total = 0;
        offsets_.clear();
        for (const auto& l : layers_) {
            offsets_.push_back(total);
            total += l->parameter_count();
        }
        Vector<S> params = Vector<S>::Zero(total);
        params.head(params_.size()) = params_;
        params_ = std::move(params);
        grads_ = Vector<S>::Zero(total);
        random_in_training_ = false;
        for (const auto& l : layers_) random_in_training_ = random_in_training_ || l->random_in_training();
        slices_for_ = 0;  // train_step slices the new layers' weights
        for (std::size_t i = 0; i < layers_.size(); ++i)
            layers_[i]->bind(params_.data() + offsets_[i], grads_.data() + offsets_[i]);
    }

    // Keras's automatic names: "dense", "dense_1", "activation", ...
    std::string keras_name(const Layer<S>& layer) const {
        std::string base = layer.kind();
        std::transform(base.begin(), base.end(), base.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        Index same = 0;
        for (const auto& l : layers_) same += l->kind() == layer.kind();
        return same == 0 ? base : base + "_" + std::to_string(same);
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

    template <class T>
    void check_x(const char* fn, ConstInputRef<T> x) const {
        if (layers_.empty()) throw error(std::string("Sequential.") + fn + ": the model has no layers");
        if (x.rows() == 0) throw std::invalid_argument(std::string("Sequential.") + fn + ": x has no samples (0 rows)");
        if (x.cols() != input_dim())
            throw shape_error(std::string("Sequential.") + fn + ": x is " + shape(x) + " but " + layers_[0]->where() +
                              " expects input_dim " + std::to_string(input_dim()) + ", i.e. (samples x " +
                              std::to_string(input_dim()) + ")");
    }

    template <class T>
    void check_xy(const char* fn, ConstInputRef<T> x, ConstMatrixRef<S> y) const {
        check_x<T>(fn, x);
        if (y.rows() != x.rows())
            throw shape_error(std::string("Sequential.") + fn + ": x has " + std::to_string(x.rows()) +
                              " samples but y has " + std::to_string(y.rows()));
        if (y.cols() != output_dim())
            throw shape_error(std::string("Sequential.") + fn + ": y is " + shape(y) + " but " +
                              layers_.back()->where() + " outputs " + std::to_string(output_dim()) +
                              " values per sample, i.e. (samples x " + std::to_string(output_dim()) + ")");
    }

    // Rejects NaN and infinity in x or y, naming the first bad value; for categorical
    // cross-entropy, also targets that are not one-hot (or at least a distribution).
    template <class T>
    void check_values(const char* fn, ConstInputRef<T> x, ConstMatrixRef<S> y) const {
        if constexpr (std::is_same_v<T, S>) check_finite(fn, "x", x);  // bytes are always finite
        check_finite(fn, "y", y);
        if (!std::holds_alternative<loss::CategoricalCrossentropy>(loss_->kind())) return;
        for (Index i = 0; i < y.rows(); ++i) {
            const S sum = y.row(i).sum();
            if ((y.row(i).array() < S(0)).any() || std::abs(sum - S(1)) > S(1e-3))
                throw std::invalid_argument(
                    std::string("Sequential.") + fn + ": y row " + std::to_string(i) +
                    " is not one-hot (its values sum to " + std::to_string(double(sum)) +
                    "); categorical_crossentropy needs one-hot targets, e.g. from to_categorical");
        }
    }

    static void check_finite(const char* fn, const char* name, ConstMatrixRef<S> m) {
        bool finite = true;
        for (Index i = 0; i < m.rows(); ++i) finite &= detail::all_finite(m.row(i).data(), m.cols());
        if (finite) return;
        for (Index i = 0; i < m.rows(); ++i)
            for (Index j = 0; j < m.cols(); ++j)
                if (!std::isfinite(m(i, j)))
                    throw std::invalid_argument(std::string("Sequential.") + fn + ": " + name + " has " +
                                                (std::isnan(m(i, j)) ? "NaN" : "an infinity") + " at row " +
                                                std::to_string(i) + ", column " + std::to_string(j));
    }

    static void check_batch_size(const char* fn, Index batch_size) {
        if (batch_size < 1)
            throw std::invalid_argument(std::string("Sequential.") + fn + ": batch_size must be >= 1, found " +
                                        std::to_string(batch_size));
    }

    template <class M>
    static std::string shape(const M& m) {
        return std::to_string(m.rows()) + "x" + std::to_string(m.cols());
    }

    static std::string grouped(Index v) {
        std::string digits = std::to_string(v), out;
        for (std::size_t i = 0; i < digits.size(); ++i) {
            if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
            out += digits[i];
        }
        return out;
    }

    // `requested` threads, or the number of cores, but at least one row-block of work each.
    static int thread_count(int requested, Index rows) {
        if (requested < 0) throw std::invalid_argument("threads must be >= 0, found " + std::to_string(requested));
        int t = requested > 0 ? requested : int(std::max(1u, std::thread::hardware_concurrency()));
        return int(std::clamp<Index>(std::min<Index>(t, rows), 1, t));
    }

    std::vector<std::unique_ptr<Layer<S>>> layers_;
    std::vector<Index> offsets_;
    Vector<S> params_, grads_;
    Random rng_;
    std::optional<Loss> loss_;
    std::unique_ptr<Optimizer<S>> optimizer_;
    std::vector<Metric> metrics_;
    bool fused_softmax_ = false;
    bool compiled_ = false;
    detail::MovableFlag stop_training_;  // stop_training() was called since fit began
    Workspace train_;
    std::unique_ptr<detail::Team> team_;
    // The inference team and the lock that lends it to one call at a time; a moved model
    // starts without a team (nothing runs during a move).
    struct InferenceTeam {
        std::mutex mutex;
        std::unique_ptr<detail::Team> team;
        InferenceTeam() = default;
        InferenceTeam(InferenceTeam&&) noexcept {}
        InferenceTeam& operator=(InferenceTeam&&) noexcept {
            team.reset();
            return *this;
        }
    };
    mutable InferenceTeam inference_;
    bool random_in_training_ = false;  // a layer draws at random in training (Dropout)
    std::uint64_t pass_seed_ = 0;      // the seed of those draws for the running epoch
    bool guard_ = false;               // the running fit checks every step (see checkpoint)
    detail::MovableFlag diverged_;     // a guarded step made a weight non-finite
    Vector<S> backup_;                 // the weights at the start of the running epoch
    // One per optimizer slot, in the order of optimizer_->slots().
    std::vector<Vector<S>> slots_backup_;
    // A training step's phases are cut into this many chunks per member of the team: enough
    // for a member that is late to leave its share to the others, few enough to keep every
    // chunk a good size for the products.
    static constexpr Index chunks_per_member = 2;
    // Phase B's chunks: slice `part` of `parts` of layer `layer`'s weight gradient.
    struct WeightSlice {
        Index layer, part, parts;
    };
    std::vector<WeightSlice> weight_slices_;
    int slices_for_ = 0;  // the team size weight_slices_ was made for (0: none yet)
    Vector<S> row_loss_;  // the loss of each row of the running batch
    std::vector<Index> partial_correct_;

    // ----- Saving and loading: private helpers (see save, from_bytes, save_weights, load_weights) -----

    // The model as a model-file record.
    io::ModelRecord<S> to_record() const {
        io::ModelRecord<S> record;
        for (const auto& layer : layers_) {
            if (const auto* dense = dynamic_cast<const detail::DenseLayer<S>*>(layer.get())) {
                const auto& r = dense->options().kernel_regularizer;
                record.layers.push_back({"Dense", layer->input_dim(), layer->output_dim(), {}, r.l1, r.l2});
            } else if (const auto* dropout = dynamic_cast<const detail::DropoutLayer<S>*>(layer.get()))
                record.layers.push_back({"Dropout", 0, 0, {}, 0, 0, dropout->rate()});
            else if (layer->kind() == "Activation")
                record.layers.push_back({"Activation", 0, 0, layer->config()});  // config(): the activation's name
            else throw error("Sequential.save: " + layer->where() + " is of a kind the model file cannot describe");
        }
        record.compiled = compiled_;
        if (compiled_) {
            record.loss = std::string(loss_->name());
            for (const auto& m : metrics_) record.metrics.emplace_back(m.name());
            record.optimizer = optimizer_->get_config();
            record.optimizer_state = optimizer_->get_state();
        }
        record.random_state = rng_.state();
        record.weights = params_;
        return record;
    }

    // The model a checked record describes; what the record's reader cannot check (names
    // of losses, metrics, optimizers; the random state) is checked here.
    static Sequential from_record(io::ModelRecord<S>&& record, std::string_view name) {
        const auto fail = [&](const std::string& what) {
            io::detail::raise_io_error("lamina::load_model", name, what);
        };
        Sequential model;
        for (std::size_t i = 0; i < record.layers.size(); ++i) {
            const auto& layer = record.layers[i];
            if (layer.kind == "Dense")
                model.add(Dense(layer.units, {.input_dim = i == 0 ? layer.input_dim : 0,
                                              .kernel_regularizer = {layer.l1, layer.l2}}));
            else if (layer.kind == "Dropout") model.add(Dropout(layer.rate));
            else model.add(Activation(layer.activation));
        }
        if (record.weights.size() != model.params_.size()) fail("the weights do not fit the layers");
        VectorMap<S>(model.params_.data(), model.params_.size()) = record.weights;  // the layers' views stay valid
        try {
            model.rng_.set_state(record.random_state);
        } catch (const std::invalid_argument&) {
            fail("the random state is not one this C++ standard library wrote (was the file written by a program "
                 "built with another one, e.g. libc++ rather than libstdc++?)");
        }
        if (record.compiled) {
            try {
                std::vector<Metric> metrics;
                for (const auto& m : record.metrics) metrics.emplace_back(std::string_view(m));
                model.compile(Loss(std::string_view(record.loss)), detail::OptimizerFromConfig{record.optimizer},
                              std::move(metrics));
                model.optimizer_->set_state(record.optimizer_state);
            } catch (const std::invalid_argument& e) {
                fail(std::string("unusable compile settings: ") + e.what());
            }
        }
        return model;
    }

    // The names of a layer's weight arrays in .npz archives: Keras's for a Dense layer.
    static std::vector<std::string> weight_names(const Layer<S>& layer, std::size_t count) {
        if (layer.kind() == "Dense" && count == 2) return {"kernel", "bias"};
        std::vector<std::string> names;
        for (std::size_t k = 0; k < count; ++k) names.push_back("weight_" + std::to_string(k));
        return names;
    }

    // Checks every array of an archive against the layers, then sets them all.
    void load_weights_from(std::vector<io::NpzEntry> entries, const std::string& file) {
        const std::string where = "Sequential.load_weights: " + lamina::detail::quoted(file) + ": ";
        struct Expected {
            std::size_t layer, k;
            std::string name;
            std::vector<std::uint64_t> shape;
        };
        std::vector<Expected> expected;
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            const auto weights = layers_[i]->get_weights();
            const auto names = weight_names(*layers_[i], weights.size());
            for (std::size_t k = 0; k < weights.size(); ++k) {
                std::vector<std::uint64_t> shape{std::uint64_t(weights[k].rows()), std::uint64_t(weights[k].cols())};
                if (layers_[i]->kind() == "Dense" && k == 1) shape = {std::uint64_t(weights[k].cols())};
                expected.push_back({i, k, layers_[i]->name() + "." + names[k], std::move(shape)});
            }
        }
        const auto list = [](const auto& items, auto name_of) {
            std::string s;
            for (const auto& item : items) s += (s.empty() ? "" : ", ") + name_of(item);
            return s.empty() ? std::string("nothing") : s;
        };
        const auto is_positional = [](const std::string& n) {
            return n.size() > 4 && n.size() <= 13 && n.compare(0, 4, "arr_") == 0 &&
                   n.find_first_not_of("0123456789", 4) == std::string::npos && (n.size() == 5 || n[4] != '0');
        };
        std::size_t positional = 0;
        for (const auto& e : entries) positional += is_positional(e.name);
        if (positional != 0 && positional != entries.size())
            throw io_error(where + "the archive mixes positional arrays (arr_0, arr_1, ...) with named ones: " +
                           list(entries, [](const io::NpzEntry& e) { return e.name; }));
        if (entries.size() != expected.size())
            throw io_error(where + "the archive holds " + std::to_string(entries.size()) + " arrays (" +
                           list(entries, [](const io::NpzEntry& e) { return e.name; }) + "), but the model has " +
                           std::to_string(expected.size()) + " (" +
                           list(expected, [](const Expected& x) { return x.name; }) + ")");
        // Match each expected weight to its array: "arr_<j>" for the j-th, or by name.
        std::vector<const io::NpzEntry*> match(expected.size(), nullptr);
        for (const auto& e : entries) {
            std::size_t j = expected.size();
            if (positional != 0) {
                j = std::size_t(std::stoull(e.name.substr(4)));  // at most 9 digits: no overflow
            } else {
                for (std::size_t q = 0; q < expected.size(); ++q)
                    if (expected[q].name == e.name) j = q;
            }
            if (j >= expected.size())
                throw io_error(where + "the model has no weight '" + e.name + "'; it expects " +
                               list(expected, [](const Expected& x) { return x.name; }));
            match[j] = &e;
        }
        std::vector<std::vector<S>> values(expected.size());
        for (std::size_t j = 0; j < expected.size(); ++j) {
            const auto& x = expected[j];
            const io::NpzEntry* e = match[j];
            if (e == nullptr)
                throw io_error(
                    where + "the archive lacks " +
                    (positional != 0 ? "arr_" + std::to_string(j) + " (" + x.name + ")" : "'" + x.name + "'"));
            const std::string label = "'" + e->name + "'" + (e->name == x.name ? "" : " (" + x.name + ")");
            if (e->array.shape != x.shape)
                throw shape_error(where + "array " + label + " has shape " + io::detail::python_tuple(e->array.shape) +
                                  ", but " + layers_[x.layer]->where() + " expects " +
                                  io::detail::python_tuple(x.shape));
            values[j] = io::npy_values<S>(e->array, file, e->name, "Sequential.load_weights");
        }
        for (std::size_t j = 0; j < expected.size(); ++j) {
            auto weights = layers_[expected[j].layer]->get_weights();
            auto& w = weights[expected[j].k];
            std::copy(values[j].begin(), values[j].end(), w.data());
            layers_[expected[j].layer]->set_weights(weights);
        }
    }
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
[[nodiscard]] Sequential<S> load_model(const std::filesystem::path& path) {
    const std::vector<std::byte> bytes = io::read_file(path, "lamina::load_model");
    return Sequential<S>::from_bytes(bytes, path.string());
}

/// Loads a model from the bytes of a model file in memory (as `Sequential::to_bytes` gives).
/// \param bytes the file's bytes.
/// \param name what error messages call them.
/// \throws io_error as `Sequential::from_bytes`.
template <Scalar S>
[[nodiscard]] Sequential<S> load_model(std::span<const std::byte> bytes, std::string_view name = "<memory>") {
    return Sequential<S>::from_bytes(bytes, name);
}

}  // namespace lamina
