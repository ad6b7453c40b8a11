// SPDX-License-Identifier: MIT
// lamina: scalar concepts and the Eigen aliases every other header uses.
#pragma once

#include <Eigen/Core>

#include <concepts>
#include <cstdint>

namespace lamina {

/// The scalar types lamina computes in: float for training, double for gradient checks.
template <class S>
concept Scalar = std::floating_point<S>;

/// Index type of every size and position (Eigen's signed index).
using Index = Eigen::Index;

/// A batch of samples: one sample per row, one feature per column (row-major, as Keras
/// writes `output = dot(x, kernel) + bias`). Shape: (batch x features).
template <Scalar S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A column vector, used for the flat parameter and gradient buffers and for biases.
template <Scalar S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// A read-only view of a batch that accepts any row-major matrix or row block.
template <Scalar S>
using ConstMatrixRef = Eigen::Ref<const Matrix<S>>;

/// A writable view of a row-major matrix or a contiguous block of its rows.
template <Scalar S>
using MatrixRef = Eigen::Ref<Matrix<S>>;

/// Inputs as unsigned bytes, one sample per row (raw pixels 0-255, as MNIST's files hold
/// them). Models take them as they are and convert each batch to their scalar, so a
/// dataset stays a quarter of its float size in memory and in memory traffic.
using ByteMatrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A read-only view of a ByteMatrix or a block of its rows.
using ConstByteMatrixRef = Eigen::Ref<const ByteMatrix>;

/// The element types a model of scalar S takes inputs in: S, or bytes.
template <class T, class S>
concept InputElement = std::same_as<T, S> || std::same_as<T, std::uint8_t>;

/// A read-only view of inputs of element type T (ConstMatrixRef<S> or ConstByteMatrixRef).
template <class T>
using ConstInputRef = Eigen::Ref<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

/// A view of part of a flat buffer as a row-major matrix (a Dense kernel).
template <Scalar S>
using MatrixMap = Eigen::Map<Matrix<S>>;

/// A view of part of a flat buffer as a vector (a Dense bias).
template <Scalar S>
using VectorMap = Eigen::Map<Vector<S>>;

}  // namespace lamina
