// SPDX-License-Identifier: MIT
// lamina: fit's callbacks, as Keras's: EarlyStopping, ModelCheckpoint, TerminateOnNaN, LambdaCallback,
// LearningRateScheduler, ReduceLROnPlateau.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <lamina/core/config.hpp>  // detail::number_text
#include <lamina/core/error.hpp>
#include <lamina/core/types.hpp>
#include <lamina/models/history.hpp>
#include <lamina/optimizers/optimizer.hpp>

namespace lamina {

// Defined in lamina/models/sequential.hpp, which includes this header (through options.hpp).
// The callbacks below use the model only in member templates, where it is complete by the
// time they are instantiated.
template <Scalar S>
class Sequential;

/// What `Sequential::fit` calls at the start and end of training and of every epoch, as
/// Keras's `keras.callbacks.Callback`. Every hook does nothing unless overridden. Hooks run
/// once per epoch, never per batch: a fit without callbacks costs nothing more, and one with
/// them a few virtual calls per epoch.
///
/// A callback asks training to stop by calling `model.stop_training()` (Keras's
/// `model.stop_training = True`): fit stops after the current epoch.
///
/// \code
/// class PrintLoss : public lamina::Callback<float> {
/// public:
///     void on_epoch_end(int epoch, const lamina::History& history, lamina::Sequential<float>&) override {
///         std::cout << "epoch " << epoch + 1 << ": " << history.loss.back() << '\n';
///     }
/// };
/// PrintLoss print;
/// model.fit(x, y, {.epochs = 10, .callbacks = {print}});
/// \endcode
///
/// Epochs are 0-based, counted from fit's `initial_epoch`.
///
/// What a hook may do with the model (Keras lets a callback read the model and change its
/// learning rate): read it (`parameters`, `save`, `summary`), change its weights
/// (`parameters() = ...`, `load_weights`), `evaluate`, `predict`, `loss_and_gradient`,
/// `train_on_batch`, `initialize`, `compile` (a new optimizer or loss, used from the next
/// batch on) and `optimizer().set_learning_rate(...)`; fit takes up its own team of threads,
/// buffers and checks again after every hook. It may not `add` a layer or call `fit` on the
/// same model (both throw lamina::error), nor move, assign or destroy the model.
template <Scalar S>
class Callback {
public:
    virtual ~Callback() = default;

    /// Before the first epoch (also when fit trains no epoch at all).
    virtual void on_train_begin(Sequential<S>& /*model*/) {}
    /// Before epoch `epoch`'s first batch.
    virtual void on_epoch_begin(int /*epoch*/, Sequential<S>& /*model*/) {}
    /// After epoch `epoch` and its validation; `history` already holds that epoch's figures
    /// (its last entries).
    virtual void on_epoch_end(int /*epoch*/, const History& /*history*/, Sequential<S>& /*model*/) {}
    /// After the last epoch, or after the epoch at which training was asked to stop (also
    /// after a divergence that a callback chose to end quietly); `history` holds every
    /// completed epoch.
    virtual void on_train_end(const History& /*history*/, Sequential<S>& /*model*/) {}

    /// Batch `batch` (0-based) of epoch `epoch` made the loss, or (with fit's
    /// `terminate_on_nan`) a weight, NaN or infinite. Called only then, so no hook runs per
    /// batch. With `terminate_on_nan` the weights are already back to those of before the
    /// batch. Return true to end training there without an exception (the History keeps
    /// only the completed epochs, and `on_train_end` is called); when every callback returns
    /// false (the default), fit goes on as `terminate_on_nan` says: a `training_error`, or
    /// (without it) on with the next batch. `TerminateOnNaN` returns true.
    /// \param what "the loss became NaN", "the loss became infinite" or "a weight became
    ///        NaN or infinite".
    virtual bool on_divergence(int /*epoch*/, int /*batch*/, std::string_view /*what*/, Sequential<S>& /*model*/) {
        return false;
    }

    /// Whether fit records the optimizer's learning rate of every epoch in
    /// `History::learning_rate` (as Keras's LearningRateScheduler and ReduceLROnPlateau add
    /// "learning_rate" to the logs): true for those two, false by default.
    [[nodiscard]] virtual bool logs_learning_rate() const noexcept { return false; }

protected:
    Callback() = default;
    Callback(const Callback&) = default;
    Callback(Callback&&) noexcept = default;
    Callback& operator=(const Callback&) = default;
    Callback& operator=(Callback&&) noexcept = default;
};

namespace detail {

// What `CallbackHandle<S>` takes by reference or by value: a callback of scalar type S, not const.
template <class C, class S>
concept CallbackObject = std::derived_from<std::remove_cvref_t<C>, Callback<S>> &&
    !std::is_const_v<std::remove_reference_t<C>>;

}  // namespace detail

/// One entry of `FitOptions::callbacks`: a callback that fit calls, made implicitly from
///  - a callback object with a name (an lvalue): used in place, not copied, so that its
///    state (`EarlyStopping::stopped_epoch()`, ...) can be read after fit. It must outlive
///    the fit call (as `validation_data`'s matrices must);
///  - a temporary: moved into the options, which own it;
///  - a `std::shared_ptr` to a callback: shared.
///
/// \code
/// lamina::EarlyStopping<float> stop({.patience = 3});
/// model.fit(x, y, {.epochs = 50, .callbacks = {stop, lamina::TerminateOnNaN<float>()}});
/// std::cout << stop.stopped_epoch();
/// \endcode
template <Scalar S>
class CallbackHandle {
public:
    /// Refers to `callback` (an lvalue) or takes it over (an rvalue). Implicit, so that
    /// `.callbacks = {a, b}` reads as a list of callbacks.
    template <detail::CallbackObject<S> C>
    CallbackHandle(C&& callback) {  // NOLINT(google-explicit-constructor)
        if constexpr (std::is_lvalue_reference_v<C>) {
            callback_ = std::shared_ptr<Callback<S>>(std::shared_ptr<Callback<S>>(), &callback);  // not owned
        } else {
            callback_ = std::make_shared<std::remove_cvref_t<C>>(std::forward<C>(callback));
        }
    }

    /// Shares `callback`.
    /// \throws std::invalid_argument if it is null.
    template <std::derived_from<Callback<S>> C>
    CallbackHandle(std::shared_ptr<C> callback)
        : callback_(std::move(callback)) {  // NOLINT(google-explicit-constructor)
        if (!callback_) throw std::invalid_argument("FitOptions.callbacks: a null std::shared_ptr given as a callback");
    }

    /// The callback.
    [[nodiscard]] Callback<S>& operator*() const noexcept { return *callback_; }
    [[nodiscard]] Callback<S>* operator->() const noexcept { return callback_.get(); }
    [[nodiscard]] Callback<S>* get() const noexcept { return callback_.get(); }

private:
    std::shared_ptr<Callback<S>> callback_;
};

namespace detail {

// The names a callback may monitor, for error messages: "loss, accuracy, val_loss, val_accuracy".
inline std::string monitor_names() {
    std::string names;
    for (const std::string_view name : History::metric_names()) (names += names.empty() ? "" : ", ") += name;
    return names;
}

// Checks that `monitor` is a name the History records.
inline void check_monitor(const char* who, const std::string& monitor) {
    constexpr auto names = History::metric_names();
    if (std::find(names.begin(), names.end(), std::string_view(monitor)) == names.end())
        throw std::invalid_argument(std::string(who) + ": monitor '" + monitor +
                                    "' is not a figure fit records; use one of " + monitor_names());
}

// Whether larger values of `monitor` are better, from `mode` ("auto": accuracy is maximised,
// a loss minimised, as Keras infers it from the name).
inline bool monitor_maximizes(const char* who, const std::string& monitor, const std::string& mode) {
    if (mode == "max") return true;
    if (mode == "min") return false;
    if (mode == "auto") return monitor == "accuracy" || monitor == "val_accuracy";
    throw std::invalid_argument(std::string(who) + ": mode must be \"auto\", \"min\" or \"max\", found \"" + mode +
                                "\"");
}

// The figure `name` of the epoch that just ended; `role` says why it is wanted ("monitor").
inline double monitored_value(const char* who, const char* role, const std::string& name, const History& history) {
    const std::vector<double>* values = history.get(name);
    if (values == nullptr || values->empty() || values->size() != history.epoch.size()) {
        std::string held;
        for (const std::string_view key : history.keys()) (held += held.empty() ? "" : ", ") += key;
        throw std::invalid_argument(
            std::string(who) + ": " + role + " '" + name + "' has no figures in the History, which holds " +
            (held.empty() ? std::string("nothing") : held) +
            (name.rfind("val_", 0) == 0 ? "; val_loss and val_accuracy need fit's validation_data or "
                                          "validation_split"
                                        : ""));
    }
    return values->back();
}

// A file path with Python format fields, as Keras's ModelCheckpoint takes it:
// "{epoch}", "{epoch:02d}", "{val_loss:.4f}", "{{" and "}}". Checked when made.
class PathPattern {
public:
    PathPattern() = default;

    PathPattern(std::string pattern, const char* who) : pattern_(std::move(pattern)) {
        std::string literal;
        for (std::size_t i = 0; i < pattern_.size(); ++i) {
            const char c = pattern_[i];
            if ((c == '{' || c == '}') && i + 1 < pattern_.size() && pattern_[i + 1] == c) {
                literal += c;  // "{{" or "}}"
                ++i;
                continue;
            }
            if (c == '}') fail(who, "has a single '}' (write \"}}\" for a brace)");
            if (c != '{') {
                literal += c;
                continue;
            }
            const std::size_t close = pattern_.find('}', i);
            if (close == std::string::npos) fail(who, "has a '{' without its '}' (write \"{{\" for a brace)");
            const std::string field = pattern_.substr(i + 1, close - i - 1);
            const std::size_t colon = field.find(':');
            Part part{std::move(literal), field.substr(0, colon), ""};
            literal.clear();
            const std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
            const bool is_epoch = part.name == "epoch";
            if (!is_epoch && History().get(part.name) == nullptr)
                fail(who, "names the field {" + part.name + "}; fields are epoch (1-based), " + monitor_names());
            auto format = printf_format(spec, is_epoch);
            if (format) part.format = std::move(*format);
            else
                fail(who, "formats {" + field + "} with '" + spec + "'; use e.g. " +
                              (is_epoch ? std::string("{epoch:02d}") : "{" + part.name + ":.4f}"));
            parts_.push_back(std::move(part));
            i = close;
        }
        tail_ = std::move(literal);
    }

    [[nodiscard]] const std::string& pattern() const noexcept { return pattern_; }

    // The path of the epoch that just ended (`epoch` 0-based; the path shows epoch + 1).
    [[nodiscard]] std::filesystem::path format(int epoch, const History& history, const char* who) const {
        std::string out;
        for (const auto& part : parts_) {
            out += part.literal;
            if (part.name == "epoch") out += printf_string(part.format.c_str(), static_cast<long long>(epoch) + 1);
            else out += number(part.format, monitored_value(who, "the path's field", part.name, history));
        }
        return out + tail_;
    }

private:
    struct Part {
        std::string literal;  // the text before the field
        std::string name;     // "epoch" or a figure of the History
        std::string format;   // printf's: "%02lld", "%.4f"; "" for Python's shortest form
    };

    [[noreturn]] void fail(const char* who, const std::string& what) const {
        throw std::invalid_argument(std::string(who) + ": the path '" + pattern_ + "' " + what);
    }

    // printf's format for a Python format spec "[0][width][.precision][type]", types d (the
    // epoch) or f, e, g (a figure); "" for a figure without a spec (Python's shortest form);
    // nothing for a spec this does not support.
    static std::optional<std::string> printf_format(const std::string& spec, bool integer) {
        if (spec.empty()) return integer ? "%lld" : "";
        std::size_t i = 0;
        std::string flags;
        if (spec[i] == '0') flags = "0", ++i;
        const auto digits = [&] {
            const std::size_t from = i;
            while (i < spec.size() && i - from < 2 && spec[i] >= '0' && spec[i] <= '9') ++i;
            return spec.substr(from, i - from);
        };
        const std::string width = digits();
        std::string precision;
        if (i < spec.size() && spec[i] == '.') {
            ++i;
            precision = "." + digits();
            if (precision == "." || integer) return std::nullopt;
        }
        char type = integer ? 'd' : 'g';
        if (i < spec.size()) type = spec[i++];
        if (i != spec.size()) return std::nullopt;
        if (integer) return type == 'd' ? std::optional<std::string>("%" + flags + width + "lld") : std::nullopt;
        if (type != 'f' && type != 'e' && type != 'g') return std::nullopt;
        return "%" + flags + width + precision + type;
    }

    template <class T>
    static std::string printf_string(const char* format, T value) {
        const int size = std::snprintf(nullptr, 0, format, value);
        std::string out(std::size_t(size > 0 ? size : 0), '\0');
        if (size > 0) std::snprintf(out.data(), out.size() + 1, format, value);
        return out;
    }

    static std::string number(const std::string& format, double value) {
        if (!format.empty()) return printf_string(format.c_str(), value);
        char buf[64];
        const auto result = std::to_chars(buf, buf + sizeof buf, value);
        return std::string(buf, result.ptr);
    }

    std::string pattern_;
    std::vector<Part> parts_;
    std::string tail_;
};

}  // namespace detail

/// Options of `EarlyStopping`, Keras's arguments with their defaults (but `verbose`: lamina
/// prints nothing from callbacks).
struct EarlyStoppingOptions {
    /// The figure watched: "val_loss", "loss", "accuracy" or "val_accuracy".
    std::string monitor = "val_loss";
    /// The least change that counts as an improvement (its absolute value is used).
    double min_delta = 0;
    /// Epochs without improvement after which training stops.
    int patience = 0;
    /// "auto" (accuracy is maximised, a loss minimised), "min" or "max".
    std::string mode = "auto";
    /// Stop unless the figure also improves on this value (the counter of epochs without
    /// improvement is only reset by an epoch that beats both the best so far and it).
    std::optional<double> baseline{};
    /// At the end of training put back the weights of the best epoch (see EarlyStopping).
    bool restore_best_weights = false;
    /// Epochs (counted from 0, as fit numbers them) before the figure is watched: a warm-up.
    int start_from_epoch = 0;
};

/// Stops training when a monitored figure has stopped improving, as Keras's `EarlyStopping`.
///
/// After every epoch the monitored figure is compared with the best so far: an improvement
/// (better by more than `min_delta`) resets a counter of epochs without improvement; once
/// that counter reaches `patience` (and the epoch is not fit's epoch 0), the callback calls
/// `model.stop_training()`. When the first epoch is the best, training thus runs exactly
/// `patience + 1` epochs (with `patience` 0 or 1, two).
///
/// `restore_best_weights` follows Keras 3 (keras/src/callbacks/early_stopping.py): the weights
/// after the best epoch are kept and put back at the end of training, whether or not
/// training stopped early (Keras 2 put them back only when it stopped early). Only the
/// weights, as Keras's `set_weights`: the optimizer's state stays that of the last epoch.
///
/// The best value and the counter start afresh at every fit (as Keras 2 did; Keras 3 keeps
/// the best value of an earlier fit).
///
/// \code
/// lamina::EarlyStopping<float> stop({.monitor = "val_loss", .patience = 3, .restore_best_weights = true});
/// model.fit(x, y, {.epochs = 100, .callbacks = {stop}, .validation_split = 0.1});
/// if (stop.stopped_epoch() > 0) std::cout << "stopped after epoch " << stop.stopped_epoch() + 1;
/// \endcode
template <Scalar S>
class EarlyStopping : public Callback<S> {
public:
    /// \throws std::invalid_argument for a monitor fit does not record (naming those it does),
    ///         an unknown mode, a negative patience or start_from_epoch, or a NaN min_delta
    ///         or baseline.
    explicit EarlyStopping(EarlyStoppingOptions options = {})
        : options_(std::move(options)),
          maximize_(detail::monitor_maximizes("EarlyStopping", options_.monitor, options_.mode)) {
        detail::check_monitor("EarlyStopping", options_.monitor);
        if (options_.patience < 0)
            throw std::invalid_argument("EarlyStopping: patience must be >= 0, found " +
                                        std::to_string(options_.patience));
        if (options_.start_from_epoch < 0)
            throw std::invalid_argument("EarlyStopping: start_from_epoch must be >= 0, found " +
                                        std::to_string(options_.start_from_epoch));
        if (std::isnan(options_.min_delta) || (options_.baseline && std::isnan(*options_.baseline)))
            throw std::invalid_argument("EarlyStopping: min_delta and baseline must be numbers, found NaN");
        options_.min_delta = std::abs(options_.min_delta);
        reset();
    }

    /// The options, as given (min_delta made non-negative).
    [[nodiscard]] const EarlyStoppingOptions& options() const noexcept { return options_; }
    /// The epoch (0-based, as fit numbers them) after which this callback stopped the last
    /// fit; 0 when it did not (as Keras's `stopped_epoch`: it never stops after epoch 0).
    [[nodiscard]] int stopped_epoch() const noexcept { return stopped_epoch_; }
    /// The best monitored value of the last fit (+infinity, or -infinity when maximising,
    /// before any epoch).
    [[nodiscard]] double best() const noexcept { return best_; }
    /// The epoch of `best()`; -1 before any monitored epoch.
    [[nodiscard]] int best_epoch() const noexcept { return best_epoch_; }
    /// Epochs since the last improvement, as Keras's `wait`.
    [[nodiscard]] int wait() const noexcept { return wait_; }

    void on_train_begin(Sequential<S>& /*model*/) override { reset(); }

    /// \throws std::invalid_argument if the History has no figures under the monitor (for
    ///         instance val_loss without validation data), naming those it has.
    void on_epoch_end(int epoch, const History& history, Sequential<S>& model) override {
        const double current = detail::monitored_value("EarlyStopping", "monitor", options_.monitor, history);
        if (epoch < options_.start_from_epoch) return;
        if (options_.restore_best_weights && !has_best_weights_) keep_weights(epoch, model);  // the first epoch watched
        ++wait_;
        if (improves(current, best_)) {
            best_ = current;
            best_epoch_ = epoch;
            if (options_.restore_best_weights) keep_weights(epoch, model);
            if (!options_.baseline || improves(current, *options_.baseline)) wait_ = 0;
            return;
        }
        if (wait_ >= options_.patience && epoch > 0) {
            stopped_epoch_ = epoch;
            model.stop_training();
        }
    }

    void on_train_end(const History& /*history*/, Sequential<S>& model) override {
        if (options_.restore_best_weights && has_best_weights_) model.parameters() = best_weights_;
    }

private:
    [[nodiscard]] bool improves(double value, double reference) const noexcept {
        return maximize_ ? value - options_.min_delta > reference : value + options_.min_delta < reference;
    }

    void keep_weights(int epoch, Sequential<S>& model) {
        best_weights_ = model.parameters();
        has_best_weights_ = true;
        if (best_epoch_ < 0) best_epoch_ = epoch;
    }

    void reset() noexcept {
        wait_ = 0;
        stopped_epoch_ = 0;
        best_epoch_ = -1;
        best_ = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        has_best_weights_ = false;
    }

    EarlyStoppingOptions options_;
    bool maximize_;
    int wait_ = 0, stopped_epoch_ = 0, best_epoch_ = -1;
    double best_ = 0;
    Vector<S> best_weights_;
    bool has_best_weights_ = false;
};

/// Options of `ModelCheckpoint`, Keras's arguments with their defaults (but `verbose`, and
/// `save_freq`, which is always once per epoch).
struct ModelCheckpointOptions {
    /// The figure that decides what "best" is with `save_best_only`: "val_loss", "loss",
    /// "accuracy" or "val_accuracy".
    std::string monitor = "val_loss";
    /// Save only after an epoch whose monitored figure is the best so far.
    bool save_best_only = false;
    /// Save the weights alone (`save_weights`, a NumPy .npz archive) rather than the whole
    /// model (`save`, lamina's model file, for `load_model`).
    bool save_weights_only = false;
    /// "auto" (accuracy is maximised, a loss minimised), "min" or "max".
    std::string mode = "auto";
    /// With `save_best_only`, the value the first save must beat.
    std::optional<double> initial_value_threshold{};
};

/// Saves the model (or its weights) after every epoch, or only after the best ones, as
/// Keras's `ModelCheckpoint`.
///
/// The path may hold Python format fields, as Keras's: `{epoch}` (the 1-based number of the
/// epoch just ended, as Keras writes it), `{epoch:02d}` (zero-padded to two digits),
/// `{val_loss}` or `{val_loss:.4f}` (a figure of that epoch; also loss, accuracy,
/// val_accuracy), and `{{`, `}}` for braces. Without fields, each save overwrites the last.
/// Missing folders are created. Each file is written atomically (a failure leaves the old
/// one), and an improvement compares with the best value of every earlier epoch this
/// callback saw, across fit calls (as Keras: a resumed training does not overwrite a better
/// checkpoint).
///
/// \code
/// lamina::ModelCheckpoint<float> checkpoint("checkpoints/model-{epoch:02d}.lamina", {.save_best_only = true});
/// model.fit(x, y, {.epochs = 20, .callbacks = {checkpoint}, .validation_split = 0.1});
/// auto best = lamina::load_model<float>(checkpoint.last_saved());
/// \endcode
template <Scalar S>
class ModelCheckpoint : public Callback<S> {
public:
    /// \param filepath where to save; fields as above.
    /// \throws std::invalid_argument for a malformed or unknown field in `filepath`, a monitor
    ///         fit does not record, an unknown mode or a NaN initial_value_threshold.
    explicit ModelCheckpoint(const std::filesystem::path& filepath, ModelCheckpointOptions options = {})
        : options_(std::move(options)), path_(filepath.string(), "ModelCheckpoint"),
          maximize_(detail::monitor_maximizes("ModelCheckpoint", options_.monitor, options_.mode)) {
        detail::check_monitor("ModelCheckpoint", options_.monitor);
        if (options_.initial_value_threshold && std::isnan(*options_.initial_value_threshold))
            throw std::invalid_argument("ModelCheckpoint: initial_value_threshold must be a number, found NaN");
        best_ = options_.initial_value_threshold.value_or(maximize_ ? -std::numeric_limits<double>::infinity()
                                                                    : std::numeric_limits<double>::infinity());
    }

    /// The options, as given.
    [[nodiscard]] const ModelCheckpointOptions& options() const noexcept { return options_; }
    /// The best monitored value seen (with `save_best_only`; else the threshold or infinity).
    [[nodiscard]] double best() const noexcept { return best_; }
    /// The file written last; empty before any.
    [[nodiscard]] const std::filesystem::path& last_saved() const noexcept { return last_saved_; }

    /// \throws std::invalid_argument if the monitor (with `save_best_only`) or a figure named
    ///         in the path has no figures in the History; io_error naming the file if it
    ///         cannot be written.
    void on_epoch_end(int epoch, const History& history, Sequential<S>& model) override {
        const std::filesystem::path path = path_.format(epoch, history, "ModelCheckpoint");
        if (options_.save_best_only) {
            const double current = detail::monitored_value("ModelCheckpoint", "monitor", options_.monitor, history);
            if (!(maximize_ ? current > best_ : current < best_)) return;
            best_ = current;
        }
        if (path.has_parent_path()) {
            std::error_code ec;  // a failure shows when the file is written
            std::filesystem::create_directories(path.parent_path(), ec);
        }
        if (options_.save_weights_only) model.save_weights(path);
        else model.save(path);
        last_saved_ = path;
    }

private:
    ModelCheckpointOptions options_;
    detail::PathPattern path_;
    bool maximize_;
    double best_ = 0;
    std::filesystem::path last_saved_;
};

/// Ends training quietly when the loss becomes NaN or infinite, as Keras's `TerminateOnNaN`.
///
/// With fit's `terminate_on_nan` (the default), fit already watches every batch: on its own
/// it throws a `training_error` with the weights of before the failing batch. With this
/// callback, fit instead stops there without an exception: the weights are those of before
/// the failing batch (a weight that became NaN or infinite counts too), the History holds
/// the completed epochs, `on_train_end` runs, and this callback records where and why.
/// With `terminate_on_nan = false`, fit watches only the loss, and stops after the batch
/// whose loss is not finite, keeping the weights it made, as Keras does.
///
/// \code
/// lamina::TerminateOnNaN<float> nan;
/// auto history = model.fit(x, y, {.epochs = 10, .callbacks = {nan}});
/// if (nan.terminated()) std::cout << nan.reason() << " at epoch " << nan.epoch() + 1;
/// \endcode
template <Scalar S>
class TerminateOnNaN : public Callback<S> {
public:
    TerminateOnNaN() = default;

    /// Whether the last fit was ended by this callback.
    [[nodiscard]] bool terminated() const noexcept { return epoch_ >= 0; }
    /// The epoch (0-based, as fit numbers them) of the failing batch; -1 when not terminated.
    [[nodiscard]] int epoch() const noexcept { return epoch_; }
    /// The failing batch (0-based) within that epoch; -1 when not terminated.
    [[nodiscard]] int batch() const noexcept { return batch_; }
    /// "the loss became NaN", "the loss became infinite" or "a weight became NaN or
    /// infinite"; empty when not terminated.
    [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

    void on_train_begin(Sequential<S>& /*model*/) override {
        epoch_ = batch_ = -1;
        reason_.clear();
    }

    bool on_divergence(int epoch, int batch, std::string_view what, Sequential<S>& /*model*/) override {
        epoch_ = epoch;
        batch_ = batch;
        reason_ = what;
        return true;
    }

private:
    int epoch_ = -1, batch_ = -1;
    std::string reason_;
};

/// The functions a `LambdaCallback` calls, in the order of Keras's arguments; any may be
/// left empty.
template <Scalar S>
struct LambdaCallbackOptions {
    std::function<void(int epoch, Sequential<S>& model)> on_epoch_begin{};
    std::function<void(int epoch, const History& history, Sequential<S>& model)> on_epoch_end{};
    std::function<void(Sequential<S>& model)> on_train_begin{};
    std::function<void(const History& history, Sequential<S>& model)> on_train_end{};
};

/// A callback made of functions, as Keras's `LambdaCallback`.
///
/// \code
/// std::vector<lamina::Vector<float>> weights;
/// lamina::LambdaCallback<float> keep({.on_epoch_end = [&](int, const lamina::History& h, lamina::Sequential<float>& m)
/// {
///     weights.push_back(m.parameters());
///     if (h.loss.back() < 0.01) m.stop_training();
/// }});
/// model.fit(x, y, {.epochs = 100, .callbacks = {keep}});
/// \endcode
template <Scalar S>
class LambdaCallback : public Callback<S> {
public:
    /// \param hooks the functions to call; empty ones are skipped.
    explicit LambdaCallback(LambdaCallbackOptions<S> hooks) : hooks_(std::move(hooks)) {}

    void on_train_begin(Sequential<S>& model) override {
        if (hooks_.on_train_begin) hooks_.on_train_begin(model);
    }
    void on_epoch_begin(int epoch, Sequential<S>& model) override {
        if (hooks_.on_epoch_begin) hooks_.on_epoch_begin(epoch, model);
    }
    void on_epoch_end(int epoch, const History& history, Sequential<S>& model) override {
        if (hooks_.on_epoch_end) hooks_.on_epoch_end(epoch, history, model);
    }
    void on_train_end(const History& history, Sequential<S>& model) override {
        if (hooks_.on_train_end) hooks_.on_train_end(history, model);
    }

private:
    LambdaCallbackOptions<S> hooks_;
};

/// Sets the learning rate at the start of every epoch from a schedule, as Keras's
/// `LearningRateScheduler`: before epoch `epoch` (0-based, as fit numbers them) the
/// optimizer's learning rate becomes `schedule(epoch, current learning rate)`. The rate of
/// every epoch is recorded in `History::learning_rate` (Keras's logs["learning_rate"]).
///
/// \code
/// lamina::LearningRateScheduler<float> schedule([](int epoch, double lr) { return epoch < 10 ? lr : lr * 0.9; });
/// auto history = model.fit(x, y, {.epochs = 30, .callbacks = {schedule}});
/// // history.learning_rate[e] is the rate epoch e trained with
/// \endcode
template <Scalar S>
class LearningRateScheduler : public Callback<S> {
public:
    /// The schedule: the learning rate of epoch `epoch` from the rate of the epoch before.
    using Schedule = std::function<double(int epoch, double learning_rate)>;

    /// \throws std::invalid_argument for an empty schedule.
    explicit LearningRateScheduler(Schedule schedule) : schedule_(std::move(schedule)) {
        if (!schedule_) throw std::invalid_argument("LearningRateScheduler: the schedule is an empty function");
    }

    /// \throws std::invalid_argument when the schedule gives a rate that is not positive and
    ///         finite (naming the epoch and the rate); what the schedule throws.
    void on_epoch_begin(int epoch, Sequential<S>& model) override {
        Optimizer<S>& optimizer = model.optimizer();
        const double rate = schedule_(epoch, optimizer.learning_rate());
        if (!(rate > 0) || !std::isfinite(rate))
            throw std::invalid_argument("LearningRateScheduler: the schedule gave the learning rate " +
                                        detail::number_text(rate) + " for epoch " + std::to_string(epoch) +
                                        "; it must be positive and finite");
        optimizer.set_learning_rate(rate);
    }

    [[nodiscard]] bool logs_learning_rate() const noexcept override { return true; }

private:
    Schedule schedule_;
};

/// Options of `ReduceLROnPlateau`, Keras's arguments in Keras's order with its defaults (but
/// `verbose`: lamina prints nothing from callbacks).
struct ReduceLROnPlateauOptions {
    /// The figure watched: "val_loss", "loss", "accuracy" or "val_accuracy".
    std::string monitor = "val_loss";
    /// new learning rate = learning rate x factor; in (0, 1).
    double factor = 0.1;
    /// Epochs without improvement after which the learning rate is reduced.
    int patience = 10;
    /// "auto" (accuracy is maximised, a loss minimised), "min" or "max".
    std::string mode = "auto";
    /// An improvement is a figure better than the best by more than this.
    double min_delta = 1e-4;
    /// Epochs after a reduction during which epochs without improvement are not counted.
    int cooldown = 0;
    /// The learning rate is never reduced below this.
    double min_lr = 0;
};

/// Reduces the learning rate when a monitored figure has stopped improving, as Keras's
/// `ReduceLROnPlateau`.
///
/// After every epoch: during a cooldown, the cooldown counter goes down by one and the count
/// of epochs without improvement is reset; a figure better than the best by more than
/// `min_delta` becomes the best and resets the count; otherwise, outside a cooldown, the count
/// goes up, and when it reaches `patience` the learning rate becomes
/// max(rate x factor, min_lr) (if the rate is still above min_lr), a cooldown of `cooldown`
/// epochs begins and the count starts again. The state starts afresh at every fit. The
/// learning rate of every epoch (before this callback's change) is recorded in
/// `History::learning_rate`, as Keras's logs["learning_rate"].
///
/// \code
/// lamina::ReduceLROnPlateau<float> reduce({.monitor = "val_loss", .factor = 0.2, .patience = 5, .min_lr = 1e-4});
/// model.fit(x, y, {.epochs = 100, .callbacks = {reduce}, .validation_split = 0.1});
/// \endcode
template <Scalar S>
class ReduceLROnPlateau : public Callback<S> {
public:
    /// \throws std::invalid_argument for a monitor fit does not record, an unknown mode, a
    ///         factor outside (0, 1), a negative patience or cooldown, a min_lr that is
    ///         negative or not finite, or a NaN min_delta.
    explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {})
        : options_(std::move(options)),
          maximize_(detail::monitor_maximizes("ReduceLROnPlateau", options_.monitor, options_.mode)) {
        detail::check_monitor("ReduceLROnPlateau", options_.monitor);
        if (!(options_.factor > 0 && options_.factor < 1))
            throw std::invalid_argument("ReduceLROnPlateau: factor must be in (0, 1), found " +
                                        detail::number_text(options_.factor));
        if (options_.patience < 0)
            throw std::invalid_argument("ReduceLROnPlateau: patience must be >= 0, found " +
                                        std::to_string(options_.patience));
        if (options_.cooldown < 0)
            throw std::invalid_argument("ReduceLROnPlateau: cooldown must be >= 0, found " +
                                        std::to_string(options_.cooldown));
        if (!(options_.min_lr >= 0) || !std::isfinite(options_.min_lr))
            throw std::invalid_argument("ReduceLROnPlateau: min_lr must be >= 0 and finite, found " +
                                        detail::number_text(options_.min_lr));
        if (std::isnan(options_.min_delta))
            throw std::invalid_argument("ReduceLROnPlateau: min_delta must be a number, found NaN");
        reset();
    }

    /// The options, as given.
    [[nodiscard]] const ReduceLROnPlateauOptions& options() const noexcept { return options_; }
    /// The best monitored value of this fit (+infinity, or -infinity when maximising, before any).
    [[nodiscard]] double best() const noexcept { return best_; }
    /// Epochs without improvement counted since the last improvement or reduction (Keras's `wait`).
    [[nodiscard]] int wait() const noexcept { return wait_; }
    /// Epochs of cooldown left (Keras's `cooldown_counter`).
    [[nodiscard]] int cooldown_counter() const noexcept { return cooldown_counter_; }

    void on_train_begin(Sequential<S>& /*model*/) override { reset(); }

    /// \throws std::invalid_argument if the History has no figures under the monitor (for
    ///         instance val_loss without validation data), naming those it has.
    void on_epoch_end(int /*epoch*/, const History& history, Sequential<S>& model) override {
        const double current = detail::monitored_value("ReduceLROnPlateau", "monitor", options_.monitor, history);
        if (cooldown_counter_ > 0) {
            --cooldown_counter_;
            wait_ = 0;
        }
        if (maximize_ ? current > best_ + options_.min_delta : current < best_ - options_.min_delta) {
            best_ = current;
            wait_ = 0;
            return;
        }
        if (cooldown_counter_ > 0 || ++wait_ < options_.patience) return;
        Optimizer<S>& optimizer = model.optimizer();
        const double rate = optimizer.learning_rate();
        // As Keras, which compares them as float32 (its learning rate is one).
        if (!(static_cast<float>(rate) > static_cast<float>(options_.min_lr))) return;
        const double reduced = std::max(rate * options_.factor, options_.min_lr);
        if (reduced > 0) optimizer.set_learning_rate(reduced);  // 0 only when min_lr is and the product underflows
        cooldown_counter_ = options_.cooldown;
        wait_ = 0;
    }

    [[nodiscard]] bool logs_learning_rate() const noexcept override { return true; }

private:
    void reset() noexcept {
        cooldown_counter_ = 0;
        wait_ = 0;
        best_ = maximize_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    }

    ReduceLROnPlateauOptions options_;
    bool maximize_;
    int wait_ = 0, cooldown_counter_ = 0;
    double best_ = 0;
};

}  // namespace lamina
