// SPDX-License-Identifier: MIT
// lamina: the checks of a model's public calls on their inputs: shapes, values, batch sizes, threads.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include <lamina/core/error.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/convert.hpp>
#include <lamina/models/detail/layer_stack.hpp>

namespace lamina::detail {

/// `v` as the shortest text that reads back as it in its own type ("-0.5", "0.1", "nan").
template <Scalar S>
std::string scalar_text(S v) {
    char buffer[48];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
    return std::string(buffer, result.ptr);
}

/// "rows x cols", for messages.
template <class M>
std::string shape_text(const M& m) {
    return std::to_string(m.rows()) + "x" + std::to_string(m.cols());
}

/// \throws error for a model without layers; std::invalid_argument for no samples;
///         shape_error for x of the wrong width, naming the first layer and its input shape.
template <Scalar S, class T>
void check_x(const char* fn, const LayerStack<S>& stack, ConstInputRef<T> x) {
    if (stack.empty()) throw error(std::string("Sequential.") + fn + ": the model has no layers");
    if (x.rows() == 0) throw std::invalid_argument(std::string("Sequential.") + fn + ": x has no samples (0 rows)");
    if (x.cols() != stack.input_dim()) {
        const auto& first = stack[0];
        const std::string shape = first.input_shape().rank() == 1
                                      ? ""
                                      : " (input shape " + first.input_shape().text() + " flattened)";
        throw shape_error(std::string("Sequential.") + fn + ": x is " + shape_text(x) + " but " + first.where() +
                          " expects input_dim " + std::to_string(stack.input_dim()) + shape + ", i.e. (samples x " +
                          std::to_string(stack.input_dim()) + ")");
    }
}

/// `check_x`, and y of as many rows as x and as wide as the model's output.
template <Scalar S, class T>
void check_xy(const char* fn, const LayerStack<S>& stack, ConstInputRef<T> x, ConstMatrixRef<S> y) {
    check_x<S, T>(fn, stack, x);
    if (y.rows() != x.rows())
        throw shape_error(std::string("Sequential.") + fn + ": x has " + std::to_string(x.rows()) +
                          " samples but y has " + std::to_string(y.rows()));
    if (y.cols() != stack.output_dim())
        throw shape_error(std::string("Sequential.") + fn + ": y is " + shape_text(y) + " but " + stack.back().where() +
                          " outputs " + std::to_string(stack.output_dim()) + " values per sample, i.e. (samples x " +
                          std::to_string(stack.output_dim()) + ")");
}

/// \throws std::invalid_argument naming the first NaN or infinity of `m`.
template <Scalar S>
void check_finite(const char* fn, const char* name, ConstMatrixRef<S> m) {
    bool finite = true;
    for (Index i = 0; i < m.rows(); ++i) finite &= all_finite(m.row(i).data(), m.cols());
    if (finite) return;
    for (Index i = 0; i < m.rows(); ++i)
        for (Index j = 0; j < m.cols(); ++j)
            if (!std::isfinite(m(i, j)))
                throw std::invalid_argument(std::string("Sequential.") + fn + ": " + name + " has " +
                                            (std::isnan(m(i, j)) ? "NaN" : "an infinity") + " at row " +
                                            std::to_string(i) + ", column " + std::to_string(j));
}

/// Rejects NaN and infinity in x or y, naming the first bad value; with `distributions`
/// (categorical cross-entropy), also targets that are not one-hot (or at least a distribution).
template <Scalar S, class T>
void check_values(const char* fn, bool distributions, ConstInputRef<T> x, ConstMatrixRef<S> y) {
    if constexpr (std::is_same_v<T, S>) check_finite<S>(fn, "x", x);  // bytes are always finite
    check_finite<S>(fn, "y", y);
    if (!distributions) return;
    for (Index i = 0; i < y.rows(); ++i) {
        const auto row = y.row(i);
        Index negative = -1;
        if ((row.array() < S(0)).any()) row.minCoeff(&negative);
        if (negative >= 0)
            throw std::invalid_argument(std::string("Sequential.") + fn + ": y row " + std::to_string(i) + " has " +
                                        scalar_text(row(negative)) + " at column " + std::to_string(negative) +
                                        "; categorical_crossentropy needs one-hot targets (values in [0, 1] summing "
                                        "to 1), e.g. from to_categorical");
        const S sum = row.sum();
        if (std::abs(sum - S(1)) > S(1e-3))
            throw std::invalid_argument(std::string("Sequential.") + fn + ": y row " + std::to_string(i) +
                                        " is not one-hot (its values sum to " + scalar_text(sum) +
                                        "); categorical_crossentropy needs one-hot targets, e.g. from to_categorical");
    }
}

/// \throws std::invalid_argument for a batch size below 1.
inline void check_batch_size(const char* fn, Index batch_size) {
    if (batch_size < 1)
        throw std::invalid_argument(std::string("Sequential.") + fn + ": batch_size must be >= 1, found " +
                                    std::to_string(batch_size));
}

/// `requested` threads, or the number of cores, but at least one row-block of work each.
/// \throws std::invalid_argument for a negative count.
inline int thread_count(int requested, Index rows) {
    if (requested < 0) throw std::invalid_argument("threads must be >= 0, found " + std::to_string(requested));
    int t = requested > 0 ? requested : int(std::max(1u, std::thread::hardware_concurrency()));
    return int(std::clamp<Index>(std::min<Index>(t, rows), 1, t));
}

}  // namespace lamina::detail
