// SPDX-License-Identifier: MIT
// lamina: mean squared error.
#pragma once

#include <array>
#include <string_view>
#include <utility>

#include <lamina/core/types.hpp>

namespace lamina::loss {

/// Mean squared error, as Keras's `mean_squared_error`: mean over the outputs of
/// (o - y)^2 per sample, averaged over the batch.
struct MeanSquaredError {
    static constexpr std::string_view name = "mean_squared_error";

    /// The options a model file stores: none.
    static constexpr auto options() noexcept {
        return std::array<std::pair<std::string_view, bool MeanSquaredError::*>, 0>{};
    }

    /// Sum over the rows of the per-sample loss, and, when `grad` is not null,
    /// dL/do = 2 (o - y) / (outputs * batch) into `*grad`; when `row_losses` is not null,
    /// each row's loss into row_losses[row].
    /// Shapes: o, y and grad (rows x outputs); `batch` is the whole batch's size.
    template <Scalar S>
    static S evaluate(ConstMatrixRef<S> o, ConstMatrixRef<S> y, MatrixRef<S>* grad, Index batch,
                      S* row_losses = nullptr) {
        const S inv_cols = S(1) / S(o.cols());
        S total = 0;
        for (Index i = 0; i < o.rows(); ++i) {
            const auto diff = o.row(i).array() - y.row(i).array();
            const S loss = diff.square().sum() * inv_cols;
            if (row_losses) row_losses[i] = loss;
            total += loss;
            if (grad) grad->row(i).array() = diff * (S(2) * inv_cols / S(batch));
        }
        return total;
    }
};

/// The mean squared error loss: `model.compile(loss::mean_squared_error, ...)`.
inline constexpr MeanSquaredError mean_squared_error{};

}  // namespace lamina::loss
