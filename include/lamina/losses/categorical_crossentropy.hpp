// SPDX-License-Identifier: MIT
// lamina: categorical cross-entropy, from probabilities or from logits (fused with softmax).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>
#include <utility>

#include <lamina/core/types.hpp>
#include <lamina/detail/elementwise.hpp>

namespace lamina::loss {

/// Categorical cross-entropy, as Keras's `categorical_crossentropy`: for a target row y
/// (one-hot, or any distribution) and a predicted row, -sum_j y_j log p_j, averaged over
/// the batch.
///
/// With `from_logits = false` (the default) the model's output is taken as probabilities,
/// and as in Keras each row is first divided by its sum, then clipped to [1e-7, 1 - 1e-7].
/// When such a model ends in a softmax activation the model fuses the two (as Keras does
/// for a softmax output, and as PyTorch's `CrossEntropyLoss` does): the loss is computed
/// from the logits z by log-sum-exp and the gradient with respect to z is
/// (softmax(z) - y) / batch, which stays finite for any finite logits.
///
/// With `from_logits = true` the output itself is taken as logits (Keras's
/// `from_logits=True`), whatever the last layer is.
///
/// \code
/// model.compile(lamina::loss::categorical_crossentropy, ...);                     // probabilities
/// model.compile(lamina::loss::CategoricalCrossentropy{.from_logits = true}, ...);  // logits
/// \endcode
struct CategoricalCrossentropy {
    static constexpr std::string_view name = "categorical_crossentropy";

    /// Whether the model's output is logits rather than probabilities (Keras's option).
    bool from_logits = false;

    /// The options a model file stores, each by its Keras name, listed once for
    /// `Loss::get_config` and `Loss::from_config`.
    static constexpr auto options() noexcept {
        return std::array{std::pair{std::string_view("from_logits"), &CategoricalCrossentropy::from_logits}};
    }

    /// From logits `z` (fused with softmax, or `from_logits`): the sum over the rows of the
    /// per-sample loss -sum_j y_j log softmax(z)_j, and, when `grad` is not null, dL/dz of
    /// the batch mean into `*grad`; when `row_losses` is not null, each row's loss into
    /// row_losses[row].
    /// Shapes: z, y and grad (rows x classes); `batch` is the whole batch's size (the mean's
    /// divisor), which may exceed `rows` when the batch is split across threads. `grad` must
    /// not alias z or y.
    template <Scalar S>
    static S logits_loss(ConstMatrixRef<S> z, ConstMatrixRef<S> y, MatrixRef<S>* grad, Index batch,
                         S* row_losses = nullptr) {
        S total = 0;
        const S inv_batch = S(1) / S(batch);
        if (grad) {
            // With a gradient buffer, the exponentials run as one vectorised pass over the
            // block: g = z - max (per row), g = e^g, then per row the sums and the gradient.
            MatrixRef<S>& g = *grad;
            for (Index i = 0; i < z.rows(); ++i) g.row(i) = z.row(i).array() - z.row(i).maxCoeff();
            detail::elementwise<S>(
                g, [](const auto& v, const auto&) { return v.exp(); }, g, g);
            for (Index i = 0; i < z.rows(); ++i) {
                const S m = z.row(i).maxCoeff();
                const S sum_exp = detail::sum_in_order(g.row(i));  // (in order: independent of the row's address)
                const S y_sum = detail::sum_in_order(y.row(i));
                // log sum_j e^{z_j} = m + log sum_j e^{z_j - m}, m = max_j z_j (no overflow);
                // the loss -sum_j y_j (z_j - lse) = lse * sum_j y_j - <y, z>.
                const S loss = (m + std::log(sum_exp)) * y_sum - y.row(i).dot(z.row(i));
                if (row_losses) row_losses[i] = loss;
                total += loss;
                // d/dz = softmax(z) * sum_j y_j - y  (= p - y for one-hot y), over the batch.
                g.row(i) = (g.row(i) * (y_sum / sum_exp) - y.row(i)) * inv_batch;
            }
            return total;
        }
        for (Index i = 0; i < z.rows(); ++i) {
            const S m = z.row(i).maxCoeff();
            const S lse = m + std::log((z.row(i).array() - m).exp().sum());
            const S loss = lse * y.row(i).sum() - y.row(i).dot(z.row(i));
            if (row_losses) row_losses[i] = loss;
            total += loss;
        }
        return total;
    }

    /// From probabilities `p`, as Keras's `categorical_crossentropy` with from_logits=False:
    /// each row is normalised, q = p / s with s = sum_k p_k, clipped, c = clip(q, 1e-7,
    /// 1 - 1e-7), and its loss is -sum_j y_j log c_j. The gradient runs exactly through the
    /// normalisation: dL/dq_j = -y_j / c_j where q_j lies inside the clip range (0 outside),
    /// and dL/dp_k = (dL/dq_k - sum_j dL/dq_j q_j) / s. Otherwise the same contract as
    /// `logits_loss`.
    ///
    /// A row summing to 0 cannot be normalised (Keras divides by 0, and a row of zeros
    /// gives it NaN): lamina clips such a row as it is, so a row of zeros costs
    /// -log(1e-7) per unit of target, and its gradient is 0. A row whose sum is not finite
    /// gives NaN, as in Keras.
    template <Scalar S>
    static S probabilities_loss(ConstMatrixRef<S> p, ConstMatrixRef<S> y, MatrixRef<S>* grad, Index batch,
                                S* row_losses = nullptr) {
        const S eps = S(1e-7);
        const S inv_batch = S(1) / S(batch);
        S total = 0;
        for (Index i = 0; i < p.rows(); ++i) {
            // Sums run in order, so a row's result does not depend on its address (on how
            // the batch was split across threads).
            const S s = detail::sum_in_order(p.row(i));
            const S scale = s != S(0) ? s : S(1);
            const auto q = p.row(i).array() / scale;    // (1 x classes): the normalised row
            const auto c = q.max(eps).min(S(1) - eps);  // (1 x classes): clipped
            const S loss = -detail::sum_in_order(y.row(i).array() * c.log());
            if (row_losses) row_losses[i] = loss;
            total += loss;
            if (!grad) continue;
            auto g = grad->row(i).array();
            if (s == S(0)) {
                g.setZero();
                continue;
            }
            // g = dL/dq: -y / c inside the clip range, 0 outside it (clip is flat there).
            g = (q > eps && q < S(1) - eps).select(-y.row(i).array() / c, S(0));
            // Through q = p / s: dL/dp = (dL/dq - <dL/dq, q>) / s, then the batch mean.
            const S dot = detail::sum_in_order(g * q);
            g = (g - dot) / s * inv_batch;
        }
        return total;
    }
};

/// The categorical cross-entropy loss on probabilities (fused with the model's softmax when
/// it ends in one): `model.compile(loss::categorical_crossentropy, ...)`.
inline constexpr CategoricalCrossentropy categorical_crossentropy{};

}  // namespace lamina::loss
