// SPDX-License-Identifier: MIT
// lamina: the keyword-style options of Sequential's fit, evaluate and predict.
#pragma once

#include <cstdint>
#include <optional>

#include <lamina/core/types.hpp>

namespace lamina {

/// Data to score after every epoch, as Keras's `validation_data=(x, y)`. It refers to the
/// two matrices, which must outlive the `fit` call.
template <Scalar S>
struct ValidationData {
    const Matrix<S>* x = nullptr;
    const Matrix<S>* y = nullptr;

    ValidationData() = default;
    ValidationData(const Matrix<S>& x_, const Matrix<S>& y_) : x(&x_), y(&y_) {}
    ValidationData(Matrix<S>&&, Matrix<S>&&) = delete;  // would dangle
    [[nodiscard]] explicit operator bool() const noexcept { return x != nullptr; }
};

/// Options of `Sequential::fit`, in the order and with the defaults of Keras's `fit`:
/// `model.fit(x, y, {.batch_size = 100, .epochs = 100, .verbose = 1})`.
template <Scalar S>
struct FitOptions {
    /// Samples per gradient step; the last batch of an epoch may be smaller (it is used).
    Index batch_size = 32;
    /// Passes over the data; 0 trains nothing and returns an empty History.
    Index epochs = 1;
    /// 0 silent; 1 a progress bar on a terminal (one line per epoch otherwise); 2 one line per epoch.
    int verbose = 1;
    /// Scored after every epoch into History's val_loss and val_accuracy.
    ValidationData<S> validation_data{};
    /// A fresh random order of the samples every epoch.
    bool shuffle = true;
    /// Seeds the shuffling; without it the model's own random stream is used.
    std::optional<std::uint64_t> seed{};
    /// Threads that split every batch; 0 picks the number of cores. Results are bit-identical
    /// for a given seed and thread count.
    int threads = 0;
    /// Stop with a `training_error` as soon as the loss or a weight becomes NaN or infinite,
    /// keeping the weights of before that batch (as Keras's TerminateOnNaN callback, but
    /// nothing is lost). Off: training goes on whatever the values.
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
