// SPDX-License-Identifier: MIT
// lamina: integer class labels to one-hot rows, as Keras's to_categorical.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <lamina/core/types.hpp>

namespace lamina {

namespace detail {

// `label` as it reads: an integer of any width and signedness as itself (a uint64 above
// INT64_MAX too), a floating-point label in full ("2.5", "nan", "1e+30").
template <class L>
std::string label_text(const L& label) {
    if constexpr (std::is_same_v<L, bool>) {
        return label ? "1" : "0";
    } else if constexpr (std::is_integral_v<L>) {
        if constexpr (std::is_signed_v<L>) return std::to_string(static_cast<long long>(label));
        else return std::to_string(static_cast<unsigned long long>(label));
    } else if constexpr (std::is_floating_point_v<L>) {
        std::ostringstream out;
        out.precision(std::numeric_limits<L>::max_digits10);
        out << label;
        return out.str();
    } else {
        return std::to_string(static_cast<long long>(label));
    }
}

// The column of `label` among `classes`, or -1 when it names none: negative, not below
// `classes`, or (a floating-point label) not a whole number, NaN or infinite. No conversion
// here is out of range: a value is compared before it is converted.
template <class L>
Index label_column(const L& label, Index classes) {
    if constexpr (std::is_same_v<L, bool>) {
        return Index(label) < classes ? Index(label) : -1;
    } else if constexpr (std::is_integral_v<L>) {
        if constexpr (std::is_signed_v<L>) {
            const auto c = static_cast<long long>(label);
            return c >= 0 && c < classes ? Index(c) : -1;
        } else {
            const auto c = static_cast<unsigned long long>(label);
            return c < static_cast<unsigned long long>(classes) ? Index(c) : -1;
        }
    } else if constexpr (std::is_floating_point_v<L>) {
        // Every whole float in [0, 2^63) converts exactly to an Index.
        if (!(label >= L(0) && label < L(0x1p63)) || std::trunc(label) != label) return -1;
        const auto c = static_cast<Index>(label);
        return c < classes ? c : -1;
    } else {
        const auto c = static_cast<long long>(label);
        return c >= 0 && c < classes ? Index(c) : -1;
    }
}

}  // namespace detail

/// One-hot rows from integer labels: row i has a 1 in column labels[i], 0 elsewhere.
/// Shape of the result: (labels x classes).
/// \param labels any range of integers (std::vector<uint8_t>, an Eigen vector, ...), or of
///        floating-point numbers that are whole (2.0 is class 2; 2.5 is refused, not truncated).
/// \param classes the number of classes (columns).
/// \throws std::invalid_argument when `classes` < 1 or a label is negative, >= `classes`,
///         not a whole number, NaN or infinite (the message names the index and the label as
///         it is, e.g. a uint64 above INT64_MAX in full); std::bad_alloc when labels x
///         classes values cannot be allocated. Labels are checked before anything is
///         allocated.
template <Scalar S = float, class Labels>
[[nodiscard]] Matrix<S> to_categorical(const Labels& labels, Index classes) {
    if (classes < 1)
        throw std::invalid_argument("to_categorical: classes must be positive, found " + std::to_string(classes));
    const auto n = Index(std::size(labels));
    Index i = 0;
    for (const auto& label : labels) {
        if (detail::label_column(label, classes) < 0) {
            using L = std::remove_cvref_t<decltype(label)>;
            bool whole = true;
            if constexpr (std::is_floating_point_v<L>) whole = std::isfinite(label) && std::trunc(label) == label;
            throw std::invalid_argument(
                "to_categorical: label " + detail::label_text(label) + " at index " + std::to_string(i) +
                (whole ? " is outside [0, " + std::to_string(classes) + ")"
                       : " is not a whole number; labels are class indices in [0, " + std::to_string(classes) + ")"));
        }
        ++i;
    }
    Matrix<S> out = Matrix<S>::Zero(n, classes);
    i = 0;
    for (const auto& label : labels) out(i++, detail::label_column(label, classes)) = S(1);
    return out;
}

}  // namespace lamina
