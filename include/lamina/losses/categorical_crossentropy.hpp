// SPDX-License-Identifier: MIT
// lamina: categorical cross-entropy, fused with softmax when the model ends in one.
#pragma once

#include <algorithm>
#include <cmath>
#include <string_view>

#include <lamina/core/types.hpp>
#include <lamina/detail/elementwise.hpp>

namespace lamina::loss {

/// Categorical cross-entropy, as Keras's `categorical_crossentropy`: for a target row y
/// (one-hot, or any distribution) and predicted probabilities p, -sum_j y_j log p_j,
/// averaged over the batch.
///
/// When the model ends in a softmax activation the model fuses the two (as Keras's
/// `from_logits=True` and PyTorch's `CrossEntropyLoss` do): the loss is computed from the
/// logits z by log-sum-exp and the gradient with respect to z is (softmax(z) - y) / batch,
/// which stays finite for any finite logits. Without a softmax, probabilities are clipped
/// to [1e-7, 1 - 1e-7] as Keras does.
struct CategoricalCrossentropy {
    static constexpr std::string_view name = "categorical_crossentropy";

    /// Fused with softmax: sum over the rows of the per-sample loss for logits `z`, and,
    /// when `grad` is not null, dL/dz of the batch mean into `*grad`; when `row_losses` is
    /// not null, each row's loss into row_losses[row].
    /// Shapes: z, y and grad (rows x classes); `batch` is the whole batch's size (the mean's
    /// divisor), which may exceed `rows` when the batch is split across threads.
    template <Scalar S>
    static S from_logits(ConstMatrixRef<S> z, ConstMatrixRef<S> y, MatrixRef<S>* grad, Index batch,
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

    /// Unfused, from probabilities `p` (clipped as Keras clips them); same contract as
    /// `from_logits`.
    template <Scalar S>
    static S from_probabilities(ConstMatrixRef<S> p, ConstMatrixRef<S> y, MatrixRef<S>* grad, Index batch,
                                S* row_losses = nullptr) {
        const S eps = S(1e-7);
        const S inv_batch = S(1) / S(batch);
        S total = 0;
        for (Index i = 0; i < p.rows(); ++i) {
            const auto clipped = p.row(i).array().max(eps).min(S(1) - eps);
            const S loss = -(y.row(i).array() * clipped.log()).sum();
            if (row_losses) row_losses[i] = loss;
            total += loss;
            if (grad) {
                // d/dp of -y log(clip(p)): -y / p inside the clip range, 0 outside it.
                const auto inside = (p.row(i).array() > eps && p.row(i).array() < S(1) - eps).template cast<S>();
                grad->row(i).array() = -y.row(i).array() / clipped * inside * inv_batch;
            }
        }
        return total;
    }
};

/// The categorical cross-entropy loss: `model.compile(loss::categorical_crossentropy, ...)`.
inline constexpr CategoricalCrossentropy categorical_crossentropy{};

}  // namespace lamina::loss
