// SPDX-License-Identifier: MIT
// lamina: integer class labels to one-hot rows, as Keras's to_categorical.
#pragma once

#include <cstddef>
#include <iterator>
#include <stdexcept>
#include <string>

#include <lamina/core/types.hpp>

namespace lamina {

/// One-hot rows from integer labels: row i has a 1 in column labels[i], 0 elsewhere.
/// Shape of the result: (labels x classes).
/// \param labels any range of integers (std::vector<uint8_t>, an Eigen vector, ...).
/// \param classes the number of classes (columns).
/// \throws std::invalid_argument when `classes` < 1 or a label is negative or >= `classes`
///         (the message names the index and the label).
template <Scalar S = float, class Labels>
[[nodiscard]] Matrix<S> to_categorical(const Labels& labels, Index classes) {
    if (classes < 1)
        throw std::invalid_argument("to_categorical: classes must be positive, found " + std::to_string(classes));
    const auto n = Index(std::size(labels));
    Matrix<S> out = Matrix<S>::Zero(n, classes);
    Index i = 0;
    for (const auto& label : labels) {
        const auto c = static_cast<long long>(label);
        if (c < 0 || c >= classes)
            throw std::invalid_argument("to_categorical: label " + std::to_string(c) + " at index " +
                                        std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
        out(i++, Index(c)) = S(1);
    }
    return out;
}

}  // namespace lamina
