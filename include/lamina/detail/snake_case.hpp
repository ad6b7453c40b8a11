// SPDX-License-Identifier: MIT
// lamina: Keras's snake case of a class name, for layer names and the groups of Keras's weight files.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lamina::detail {

/// Keras's `naming.to_snake_case` of a class name: "Dense" -> "dense", "Conv2D" -> "conv2d",
/// "MaxPooling2D" -> "max_pooling2d", "BatchNormalization" -> "batch_normalization", "ReLU" ->
/// "re_lu": an underscore before each capital that follows a lower-case letter, or that starts
/// a lower-case word and is not the first character, then everything in lower case. The same
/// as Keras's for every name of ASCII letters, digits and '_'; other characters, which Keras
/// drops, are kept (lamina's layer names have always kept them).
inline std::string keras_snake_case(std::string_view name) {
    const auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
    const auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (upper(c) && i > 0 && (lower(name[i - 1]) || (i + 1 < name.size() && lower(name[i + 1])))) out += '_';
        out += upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

}  // namespace lamina::detail
