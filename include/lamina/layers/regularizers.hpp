// SPDX-License-Identifier: MIT
// lamina: weight penalties added to the loss (Keras's regularizers L1, L2, L1L2).
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>

#include <lamina/core/types.hpp>

namespace lamina {

/// A penalty on a layer's weights w, added to the loss that training minimises and that
/// `fit` and `evaluate` report, as Keras's `regularizers.L1L2(l1, l2)`:
///
///     penalty = l1 * sum(|w|) + l2 * sum(w^2)      gradient: l1 * sign(w) + 2 * l2 * w
///
/// Build one with `regularizers::l2(0.01)`, `regularizers::l1(...)` or `regularizers::l1_l2(...)`;
/// the default, {0, 0}, is none and costs nothing.
///
/// \code
/// lamina::Dense(256, {.kernel_regularizer = lamina::regularizers::l2(1e-4)})
/// \endcode
struct Regularizer {
    double l1 = 0;
    double l2 = 0;

    /// True when it adds anything.
    [[nodiscard]] bool active() const noexcept { return l1 != 0 || l2 != 0; }

    /// \throws std::invalid_argument naming `where` for a negative or non-finite factor.
    void validate(const std::string& where) const {
        if (!(l1 >= 0) || !std::isfinite(l1))
            throw std::invalid_argument(where + ": l1 must be >= 0 and finite, found " + std::to_string(l1));
        if (!(l2 >= 0) || !std::isfinite(l2))
            throw std::invalid_argument(where + ": l2 must be >= 0 and finite, found " + std::to_string(l2));
    }

    /// The penalty of the `n` weights at `w`, summed in double.
    template <Scalar S>
    [[nodiscard]] double penalty(const S* w, Index n) const {
        const Eigen::Map<const Vector<S>> v(w, n);
        double sum = 0;
        if (l1 != 0) sum += l1 * v.template cast<double>().array().abs().sum();
        if (l2 != 0) sum += l2 * v.template cast<double>().squaredNorm();
        return sum;
    }

    /// Adds the penalty's gradient for the `n` weights at `w` to the gradient at `g`.
    template <Scalar S>
    void add_gradient(const S* w, S* g, Index n) const {
        const Eigen::Map<const Vector<S>> v(w, n);
        VectorMap<S> grad(g, n);
        if (l2 != 0) grad += S(2 * l2) * v;
        if (l1 != 0) grad += S(l1) * v.array().sign().matrix();
    }
};

namespace regularizers {

/// Keras's `regularizers.l2(l2=0.01)`: l2 * sum(w^2).
[[nodiscard]] inline Regularizer l2(double factor = 0.01) { return {0, factor}; }
/// Keras's `regularizers.l1(l1=0.01)`: l1 * sum(|w|).
[[nodiscard]] inline Regularizer l1(double factor = 0.01) { return {factor, 0}; }
/// Keras's `regularizers.l1_l2(l1=0.01, l2=0.01)`.
[[nodiscard]] inline Regularizer l1_l2(double l1 = 0.01, double l2 = 0.01) { return {l1, l2}; }

}  // namespace regularizers
}  // namespace lamina
