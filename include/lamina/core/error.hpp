// SPDX-License-Identifier: MIT
// lamina: the exception types the library throws.
#pragma once

#include <stdexcept>
#include <string>

namespace lamina {

/// Base of every error lamina throws that is not a plain bad argument.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Shapes that do not fit: a batch of the wrong width, X and Y of different row counts,
/// weights of the wrong size. The message names the layer or argument, expected and found.
class shape_error : public error {
public:
    using error::error;
};

/// A file that cannot be read or written, or whose contents are malformed. The message
/// names the file and, where it matters, the byte offset.
class io_error : public error {
public:
    using error::error;
};

/// Training that cannot go on, for example because the loss became NaN or infinite.
class training_error : public error {
public:
    using error::error;
};

}  // namespace lamina
