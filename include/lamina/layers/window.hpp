// SPDX-License-Identifier: MIT
// lamina: the geometry of a 2-D sliding window (Conv2D, MaxPooling2D, AveragePooling2D), as Keras computes it.
#pragma once

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/core/types.hpp>

namespace lamina {

/// A height and a width, as Keras's `kernel_size`, `strides` and `pool_size` take them: one
/// number for both (`3`) or a pair (`{3, 5}`).
struct Size2 {
    Index height = 1, width = 1;
    Size2(Index both) : height(both), width(both) {}  // NOLINT(google-explicit-constructor): Keras's `3`
    Size2(Index h, Index w) : height(h), width(w) {}
    [[nodiscard]] std::vector<Index> dims() const { return {height, width}; }
    /// "3x3".
    [[nodiscard]] std::string text() const { return std::to_string(height) + "x" + std::to_string(width); }
    friend bool operator==(const Size2&, const Size2&) = default;
};

namespace detail {

/// A window of `size` moved by `strides` over (height, width, channels) samples, with Keras's
/// padding: "valid" (no padding: out = floor((in - size) / stride) + 1) or "same" (out =
/// ceil(in / stride), the zeros split evenly, the odd one at the bottom and right).
/// Output position (oh, ow) covers input rows oh * stride_h - pad_top + [0, size_h) and
/// columns ow * stride_w - pad_left + [0, size_w).
struct Window2D {
    Index in_h = 0, in_w = 0, channels = 0;
    Index size_h = 1, size_w = 1, stride_h = 1, stride_w = 1;
    Index out_h = 0, out_w = 0, pad_top = 0, pad_left = 0;

    /// Output positions per channel: out_h * out_w.
    [[nodiscard]] Index positions() const noexcept { return out_h * out_w; }
};

/// Keras's padding name, lower case: "valid" or "same".
/// \throws std::invalid_argument "<where>: padding ..." for another.
inline std::string padding_name(std::string padding, const std::string& where) {
    std::transform(padding.begin(), padding.end(), padding.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (padding != "valid" && padding != "same")
        throw std::invalid_argument(where + ": padding must be \"valid\" or \"same\", found \"" + padding + "\"");
    return padding;
}

/// Checks a window's size or strides: both at least 1.
/// \throws std::invalid_argument "<where>: <what> ... must be positive".
inline void check_size2(const Size2& s, const std::string& where, const std::string& what) {
    if (s.height < 1 || s.width < 1)
        throw std::invalid_argument(where + ": " + what + " must be positive, found (" + std::to_string(s.height) +
                                    ", " + std::to_string(s.width) + ")");
}

/// The (height, width) field `name` of a layer's config, or `fallback` where it has none.
/// \throws std::invalid_argument "<kind>: <name> must be (height, width) ..." for another length.
inline Size2 read_size2(ConfigReader& r, const char* name, const std::string& kind,
                        const std::optional<std::vector<Index>>& fallback = std::nullopt) {
    const auto v = fallback ? r.get<std::vector<Index>>(name, *fallback) : r.get<std::vector<Index>>(name);
    if (v.size() != 2)
        throw std::invalid_argument(kind + ": " + name + " must be (height, width), found " + Config::value_text(v));
    return {v[0], v[1]};
}

/// The window over samples of `input` (height, width, channels).
/// \throws shape_error "<where>: ..." when the input is not of rank 3, or when with "valid" the
///         window is larger than the input, so that no output would be left.
inline Window2D make_window(const Shape& input, const Size2& size, const Size2& strides, const std::string& padding,
                            const std::string& where) {
    if (input.rank() != 3)
        throw shape_error(where + ": needs samples of (height, width, channels), found input shape " + input.text() +
                          (input.rank() == 1 ? "; add Reshape({28, 28, 1}) or give input_shape" : ""));
    Window2D w;
    w.in_h = input[0];
    w.in_w = input[1];
    w.channels = input[2];
    w.size_h = size.height;
    w.size_w = size.width;
    w.stride_h = strides.height;
    w.stride_w = strides.width;
    if (padding == "same") {
        // Written so that no step overflows, whatever the sizes: (out - 1) * stride < in.
        w.out_h = (w.in_h - 1) / w.stride_h + 1;
        w.out_w = (w.in_w - 1) / w.stride_w + 1;
        w.pad_top = std::max<Index>(w.size_h - (w.in_h - (w.out_h - 1) * w.stride_h), 0) / 2;
        w.pad_left = std::max<Index>(w.size_w - (w.in_w - (w.out_w - 1) * w.stride_w), 0) / 2;
    } else {
        if (w.size_h > w.in_h || w.size_w > w.in_w)
            throw shape_error(where + ": a window of " + size.text() + " does not fit the input " + input.text() +
                              " with padding \"valid\", which would leave no output; use padding \"same\" or a "
                              "smaller window");
        w.out_h = (w.in_h - w.size_h) / w.stride_h + 1;
        w.out_w = (w.in_w - w.size_w) / w.stride_w + 1;
    }
    return w;
}

}  // namespace detail
}  // namespace lamina
