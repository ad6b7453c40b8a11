// SPDX-License-Identifier: MIT
// lamina: the accuracy metric.
#pragma once

#include <string_view>

#include <lamina/core/types.hpp>

namespace lamina::metric {

/// Accuracy, as Keras's "accuracy": the fraction of samples whose predicted class is the
/// target's class (argmax of each row; with one output column, both thresholded at 0.5).
struct Accuracy {
    static constexpr std::string_view name = "accuracy";

    /// How many rows of `out` predict the class of the same row of `target`.
    /// Shapes: out and target (rows x outputs).
    template <Scalar S>
    static Index correct(ConstMatrixRef<S> out, ConstMatrixRef<S> target) {
        Index hits = 0;
        for (Index i = 0; i < out.rows(); ++i) {
            if (out.cols() == 1) {
                hits += (out(i, 0) > S(0.5)) == (target(i, 0) > S(0.5));
            } else {
                Index p = 0, t = 0;
                out.row(i).maxCoeff(&p);
                target.row(i).maxCoeff(&t);
                hits += p == t;
            }
        }
        return hits;
    }
};

/// The accuracy metric: `model.compile(loss, optimizer, {lamina::metric::accuracy})`.
inline constexpr Accuracy accuracy{};

}  // namespace lamina::metric
