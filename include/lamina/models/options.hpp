// SPDX-License-Identifier: MIT
// lamina: the keyword-style options of Sequential's fit, evaluate and predict.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <lamina/core/types.hpp>
#include <lamina/models/callbacks.hpp>

namespace lamina {

/// Data to score after every epoch, as Keras's `validation_data=(x, y)`; x may be given as
/// bytes (raw pixels) as fit's may. It refers to the two matrices, which must outlive the
/// `fit` call.
template <Scalar S>
struct ValidationData {
    const Matrix<S>* x = nullptr;       ///< the inputs, when given as S
    const ByteMatrix* bytes = nullptr;  ///< the inputs, when given as bytes
    const Matrix<S>* y = nullptr;

    ValidationData() = default;
    ValidationData(const Matrix<S>& x_, const Matrix<S>& y_) : x(&x_), y(&y_) {}
    ValidationData(const ByteMatrix& x_, const Matrix<S>& y_) : bytes(&x_), y(&y_) {}
    ValidationData(Matrix<S>&&, Matrix<S>&&) = delete;  // would dangle
    ValidationData(ByteMatrix&&, Matrix<S>&&) = delete;
    [[nodiscard]] explicit operator bool() const noexcept { return x != nullptr || bytes != nullptr; }
};

/// Options of `Sequential::fit`, in the order and with the defaults of Keras's `fit`
/// (lamina's own options, seed, threads and terminate_on_nan, come last):
/// `model.fit(x, y, {.batch_size = 100, .epochs = 100, .verbose = 1})`.
///
/// \code
/// lamina::EarlyStopping<float> stop({.monitor = "val_loss", .patience = 3});
/// model.fit(x, y, {.epochs = 50, .callbacks = {stop}, .validation_split = 0.1});
/// // Later, three more epochs numbered as the continuation of the first fit (50, 51, 52):
/// model.fit(x, y, {.epochs = 53, .initial_epoch = 50});
/// \endcode
template <Scalar S>
struct FitOptions {
    /// Samples per gradient step; the last batch of an epoch may be smaller (it is used).
    Index batch_size = 32;
    /// The number of the epoch at which training ends, as Keras's `epochs`: training runs
    /// epochs initial_epoch .. epochs-1, so that with initial_epoch 0 it is the number of
    /// passes over the data. Nothing is trained when it is not above initial_epoch (0 by
    /// default: an empty History).
    Index epochs = 1;
    /// 0 silent; 1 a progress bar on a terminal (one line per epoch otherwise); 2 one line per epoch.
    int verbose = 1;
    /// Called at the start and end of training and of every epoch (never per batch), in
    /// this order: see `Callback` and the ready-made EarlyStopping, ModelCheckpoint,
    /// TerminateOnNaN and LambdaCallback (lamina/models/callbacks.hpp). A callback given by
    /// name is used in place and must outlive the fit call; a temporary is moved in:
    /// `{.callbacks = {stop, lamina::TerminateOnNaN<float>()}}`.
    std::vector<CallbackHandle<S>> callbacks{};
    /// The fraction of the samples held out for validation, as Keras's: of the n rows of x
    /// and y, the first split_at = floor(n * (1 - validation_split)) are trained on and the
    /// LAST n - split_at, taken before any shuffling, are scored after every epoch into
    /// val_loss and val_accuracy. Must be in [0, 1) and leave at least one sample on each
    /// side; 0 holds nothing out. Giving it together with validation_data is an error
    /// (Keras silently lets validation_data win).
    double validation_split = 0;
    /// Scored after every epoch into History's val_loss and val_accuracy.
    ValidationData<S> validation_data{};
    /// A fresh random order of the samples every epoch.
    bool shuffle = true;
    /// The epoch at which to start (0-based), as Keras's `initial_epoch`: to resume a
    /// training, History's epoch numbers and callbacks count from it. Training draws from
    /// the model's random stream as the earlier epochs left it, so a fit of epochs 0..k-1
    /// followed by a fit with initial_epoch k and the same other options gives the weights of
    /// one fit of all the epochs, bit for bit; with a `seed`, the shuffles of epochs before
    /// initial_epoch are drawn and discarded, for the same result.
    Index initial_epoch = 0;
    /// Seeds the shuffling; without it the model's own random stream is used.
    std::optional<std::uint64_t> seed{};
    /// The most threads that split a batch; 0 picks the number of cores. With more than one,
    /// fit times the batches as it trains and gives them to the calling thread alone while
    /// that is faster than the team (on a machine whose cores are shared or busy; History's
    /// `alone` tells how often). Results are bit-identical for a given seed whatever the
    /// thread count, where lamina's float kernels do the products (float models built with
    /// AVX2 and FMA); otherwise (double, or no AVX2) for a given seed and thread count, and
    /// the team always trains.
    int threads = 0;
    /// Stop with a `training_error` as soon as the loss or a weight becomes NaN or infinite,
    /// keeping the weights of before that batch (as Keras's TerminateOnNaN callback, but
    /// nothing is lost). Off: training goes on whatever the values. With a `TerminateOnNaN`
    /// callback fit stops at that batch without an exception instead (see TerminateOnNaN).
    bool terminate_on_nan = true;
};

/// Options of `Sequential::evaluate` and `Sequential::predict`.
struct PredictOptions {
    /// Samples per forward pass (memory only: the result does not depend on it).
    Index batch_size = 256;
    /// Threads that split the samples; 0 picks the number of cores.
    int threads = 0;
};

}  // namespace lamina
