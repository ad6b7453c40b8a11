// SPDX-License-Identifier: MIT
// lamina: draws a Dense kernel as a grid of grey tiles, one per unit, and saves it as a PNG.
#pragma once

// ---------------------------------------------------------------------------------------
// stb_image_write: this is the only lamina header that includes it. It is compiled with
// STB_IMAGE_WRITE_STATIC, so every translation unit that includes this header gets its
// own private (internal-linkage) copy and nothing clashes at link time. A translation unit
// that includes this header must not also compile stb_image_write's implementation itself
// (define STB_IMAGE_WRITE_IMPLEMENTATION and include <stb/stb_image_write.h>); including
// the stb header again without the implementation macro is fine.
// ---------------------------------------------------------------------------------------
#ifndef LAMINA_DETAIL_STB_IMAGE_WRITE_INCLUDED
#define LAMINA_DETAIL_STB_IMAGE_WRITE_INCLUDED

#ifndef STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_STATIC
#define LAMINA_DETAIL_UNDEF_STB_IMAGE_WRITE_STATIC
#endif
#ifndef STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define LAMINA_DETAIL_UNDEF_STB_IMAGE_WRITE_IMPLEMENTATION
#endif

// stb is third-party C code: silence its warnings here only, never in lamina's own code.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wunused-variable"
#pragma clang diagnostic ignored "-Wunused-parameter"
#pragma clang diagnostic ignored "-Wsign-compare"
#pragma clang diagnostic ignored "-Wsign-conversion"
#pragma clang diagnostic ignored "-Wconversion"
#pragma clang diagnostic ignored "-Wshorten-64-to-32"
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#pragma clang diagnostic ignored "-Wold-style-cast"
#pragma clang diagnostic ignored "-Wcast-qual"
#pragma clang diagnostic ignored "-Wcast-align"
#pragma clang diagnostic ignored "-Wdouble-promotion"
#pragma clang diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma clang diagnostic ignored "-Wcomma"
#pragma clang diagnostic ignored "-Wextra-semi-stmt"
#pragma clang diagnostic ignored "-Wreserved-identifier"
#pragma clang diagnostic ignored "-Wmissing-prototypes"
#pragma clang diagnostic ignored "-Wdisabled-macro-expansion"
#pragma clang diagnostic ignored "-Wshadow"
#pragma clang diagnostic ignored "-Wpedantic"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wduplicated-branches"
#pragma GCC diagnostic ignored "-Wmissing-declarations"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#elif defined(_MSC_VER)
#pragma warning(push, 0)
#endif

#include <stb/stb_image_write.h>

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#elif defined(_MSC_VER)
#pragma warning(pop)
#endif

// The implementation is compiled; do not let the macros we set leak into the includer.
#ifdef LAMINA_DETAIL_UNDEF_STB_IMAGE_WRITE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#undef LAMINA_DETAIL_UNDEF_STB_IMAGE_WRITE_IMPLEMENTATION
#endif
#ifdef LAMINA_DETAIL_UNDEF_STB_IMAGE_WRITE_STATIC
#undef STB_IMAGE_WRITE_STATIC
#undef LAMINA_DETAIL_UNDEF_STB_IMAGE_WRITE_STATIC
#endif

#endif  // LAMINA_DETAIL_STB_IMAGE_WRITE_INCLUDED

#include <lamina/core/error.hpp>
#include <lamina/core/types.hpp>
#include <lamina/io/file.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace lamina {

/// How `render_weight_grid` and `save_weight_grid` lay out and colour the tiles. An
/// aggregate: set only what you need with designated initializers, for example
/// `{.tile_height = 8, .tile_width = 8, .scale = 4}`.
///
/// Sizes are in pixels of the final image unless they say otherwise.
struct WeightGridOptions {
    /// Rows of one tile in weights (28 for MNIST). tile_height * tile_width must equal
    /// the kernel's input count; weight `i` of a unit goes to tile row `i / tile_width`,
    /// column `i % tile_width` (row-major, the order of an MNIST image).
    Index tile_height = 28;
    /// Columns of one tile in weights (28 for MNIST).
    Index tile_width = 28;
    /// Each weight becomes a scale x scale block of pixels. 0 picks the smallest factor
    /// (at least 1) that makes the image at least `min_width` pixels wide.
    Index scale = 0;
    /// Width of the lines between tiles and of the border around the grid; not scaled.
    Index separator = 2;
    /// The width the automatic scale aims for (ignored when `scale` is set).
    Index min_width = 600;
    /// Tiles per grid row. 0 picks ceil(sqrt(units)); a value above the unit count is
    /// lowered to the unit count. The grid then has ceil(units / cols) rows.
    Index cols = 0;
    /// Grey level of the separator lines and the border (255 = white).
    std::uint8_t separator_value = 255;
    /// Grey level of the grid cells past the last unit.
    std::uint8_t background = 255;
    /// Grey level of every pixel of a unit whose weights are all equal, which min-max
    /// normalisation cannot spread (no division by zero, no NaN): mid-grey 128.
    std::uint8_t constant_value = 128;
};

/// A single-channel 8-bit image: `pixels[row * width + col]`, top row first.
struct GreyImage {
    Index width = 0;                   ///< Columns of pixels.
    Index height = 0;                  ///< Rows of pixels.
    std::vector<std::uint8_t> pixels;  ///< height * width grey levels, 0 black, 255 white.

    /// The grey level at (row, col), 0 <= row < height, 0 <= col < width (not checked).
    [[nodiscard]] std::uint8_t at(Index row, Index col) const {
        return pixels[static_cast<std::size_t>(row * width + col)];
    }
};

/// Where the tiles of a weight grid go, computed from the unit count and the options.
///
/// With `t = separator`, `w = tile_width * scale` and `h = tile_height * scale`:
/// `width = t + cols * (w + t)`, `height = t + rows * (h + t)`, and the tile of unit `u`
/// has its top-left pixel at row `t + (u / cols) * (h + t)`, column `t + (u % cols) * (w + t)`.
struct WeightGridLayout {
    Index units = 0;        ///< Tiles drawn: the kernel's column count.
    Index rows = 0;         ///< Grid rows: ceil(units / cols).
    Index cols = 0;         ///< Grid columns (tiles per grid row).
    Index scale = 0;        ///< Pixels per weight along each side (the resolved factor).
    Index tile_height = 0;  ///< Pixel rows of one tile: tile_height * scale.
    Index tile_width = 0;   ///< Pixel columns of one tile: tile_width * scale.
    Index separator = 0;    ///< Separator and border width in pixels.
    Index width = 0;        ///< Image width in pixels.
    Index height = 0;       ///< Image height in pixels.

    /// Top pixel row of unit `u`'s tile.
    [[nodiscard]] Index tile_top(Index u) const { return separator + (u / cols) * (tile_height + separator); }
    /// Left pixel column of unit `u`'s tile.
    [[nodiscard]] Index tile_left(Index u) const { return separator + (u % cols) * (tile_width + separator); }
};

namespace detail {

/// Largest image side lamina writes. stb_image_write sizes its buffers with `int`
/// arithmetic, so this keeps width * height well inside the int range.
inline constexpr Index max_image_side = Index{1} << 15;

inline void check_options(const WeightGridOptions& opts, const char* where) {
    const auto fail = [where](const std::string& what) {
        throw std::invalid_argument(std::string(where) + ": " + what);
    };
    if (opts.tile_height < 1 || opts.tile_width < 1) {
        fail("tile_height and tile_width must be at least 1, found " + std::to_string(opts.tile_height) + " x " +
             std::to_string(opts.tile_width));
    }
    if (opts.tile_height > max_image_side || opts.tile_width > max_image_side) {
        fail("tile " + std::to_string(opts.tile_height) + " x " + std::to_string(opts.tile_width) + " is over the " +
             std::to_string(max_image_side) + " px limit per side");
    }
    if (opts.scale < 0 || opts.scale > max_image_side) {
        fail("scale must be 0 (auto) or 1.." + std::to_string(max_image_side) + ", found " +
             std::to_string(opts.scale));
    }
    if (opts.separator < 0 || opts.separator > max_image_side) {
        fail("separator must be 0.." + std::to_string(max_image_side) + ", found " + std::to_string(opts.separator));
    }
    if (opts.min_width < 0) {
        fail("min_width must not be negative, found " + std::to_string(opts.min_width));
    }
    if (opts.cols < 0) {
        fail("cols must be 0 (auto) or positive, found " + std::to_string(opts.cols));
    }
}

/// Smallest c with c * c >= n (n >= 1), in exact integer arithmetic.
inline Index ceil_sqrt(Index n) {
    auto c = static_cast<Index>(std::sqrt(static_cast<double>(n)));
    while (c * c < n) ++c;
    while (c > 1 && (c - 1) * (c - 1) >= n) --c;
    return c;
}

/// Grey level of weight `w` in a unit whose weights span [lo, hi], lo < hi:
/// round(255 * (w - lo) / (hi - lo)), computed in double, halves away from zero.
inline std::uint8_t grey_level(double w, double lo, double hi) {
    const double v = 255.0 * (w - lo) / (hi - lo);
    return static_cast<std::uint8_t>(std::clamp(std::round(v), 0.0, 255.0));
}

/// An Eigen matrix or matrix expression (not an array) with a floating-point scalar. The
/// class test comes first so that `save_weight_grid<float>(...)` never instantiates
/// Eigen::MatrixBase<float>.
template <class K>
concept dense_matrix_expression = std::is_class_v<K> && std::derived_from<K, Eigen::MatrixBase<K>> &&
    Scalar<typename K::Scalar>;

}  // namespace detail

/// Lays out a grid for `units` tiles: the grid shape, the resolved scale and the image size.
///
/// \param units  tiles to draw (the kernel's column count), at least 1.
/// \param opts   tile size, scale, separator, columns; see WeightGridOptions.
/// \returns the layout; for the defaults and 100 units: 10 x 10 tiles, scale 3, 862 x 862 px.
/// \throws std::invalid_argument if `units` < 1, an option is out of range, or the image
///         would be over 32768 px on a side.
[[nodiscard]] inline WeightGridLayout weight_grid_layout(Index units, const WeightGridOptions& opts = {}) {
    constexpr const char* where = "lamina::weight_grid_layout";
    detail::check_options(opts, where);
    if (units < 1) {
        throw std::invalid_argument(std::string(where) + ": need at least 1 unit, found " + std::to_string(units));
    }
    WeightGridLayout g;
    g.units = units;
    g.cols = opts.cols > 0 ? std::min(opts.cols, units) : detail::ceil_sqrt(units);
    g.rows = (units + g.cols - 1) / g.cols;
    g.separator = opts.separator;
    g.scale = opts.scale;
    if (g.scale == 0) {
        // Smallest s >= 1 with t + cols * (tile_width * s + t) >= min_width.
        const Index spare = opts.min_width - g.separator * (g.cols + 1);
        const Index per_scale = g.cols * opts.tile_width;
        g.scale = spare > 0 ? std::max<Index>(1, (spare + per_scale - 1) / per_scale) : 1;
        g.scale = std::min(g.scale, detail::max_image_side);
    }
    g.tile_height = opts.tile_height * g.scale;
    g.tile_width = opts.tile_width * g.scale;
    // Both factors are below 2^16 and the grid has at most `units` cells per side, so
    // these products only overflow for kernels far larger than memory.
    g.width = g.separator + g.cols * (g.tile_width + g.separator);
    g.height = g.separator + g.rows * (g.tile_height + g.separator);
    if (g.width > detail::max_image_side || g.height > detail::max_image_side) {
        throw std::invalid_argument(std::string(where) + ": image would be " + std::to_string(g.width) + " x " +
                                    std::to_string(g.height) + " px, over the " +
                                    std::to_string(detail::max_image_side) + " px limit per side");
    }
    return g;
}

/// Renders a Dense kernel as a grid of grey tiles in memory, one tile per unit.
///
/// Shape contract: `kernel` is (inputs x units), as Keras stores a Dense kernel
/// (784 x 100 for a 784-100 layer), and inputs == tile_height * tile_width. Column `u`
/// (the incoming weights of unit `u`) becomes tile `u`, filled row-major: weight `i` at
/// tile row `i / tile_width`, column `i % tile_width`. Tiles go left to right, then top
/// to bottom, in a `WeightGridLayout` grid.
///
/// Each unit is min-max normalised on its own, like matplotlib's `Greys_r`: grey level
/// round(255 * (w - min) / (max - min)), so its lowest weight is black 0 and its highest
/// white 255. A unit whose weights are all equal is drawn in `opts.constant_value`
/// (mid-grey 128 by default). Each weight fills a scale x scale block of pixels.
///
/// \param kernel  the weights, (inputs x units), all finite.
/// \param opts    tile shape, scale, separator, grid columns and grey levels.
/// \returns a GreyImage of `weight_grid_layout(kernel.cols(), opts).width x height` pixels.
/// \throws lamina::shape_error if `kernel.rows()` != tile_height * tile_width, or the
///         kernel has no columns.
/// \throws std::invalid_argument if a weight is NaN or infinite or an option is out of range.
template <Scalar S>
[[nodiscard]] GreyImage render_weight_grid(const Eigen::Ref<const Matrix<S>>& kernel,
                                           const WeightGridOptions& opts = {}) {
    constexpr const char* where = "lamina::render_weight_grid";
    detail::check_options(opts, where);
    const Index inputs = opts.tile_height * opts.tile_width;
    if (kernel.rows() != inputs) {
        throw shape_error(std::string(where) +
                          ": kernel must have tile_height * tile_width = " + std::to_string(opts.tile_height) + " * " +
                          std::to_string(opts.tile_width) + " = " + std::to_string(inputs) + " rows (inputs), found " +
                          std::to_string(kernel.rows()) + " x " + std::to_string(kernel.cols()));
    }
    if (kernel.cols() < 1) {
        throw shape_error(std::string(where) + ": kernel must have at least 1 column (unit), found " +
                          std::to_string(kernel.rows()) + " x 0");
    }
    if (!kernel.allFinite()) {
        for (Index u = 0; u < kernel.cols(); ++u) {
            for (Index i = 0; i < inputs; ++i) {
                if (!std::isfinite(kernel(i, u))) {
                    throw std::invalid_argument(std::string(where) + ": weight (" + std::to_string(i) + ", " +
                                                std::to_string(u) + ") of the kernel is " +
                                                std::to_string(kernel(i, u)) + "; all must be finite");
                }
            }
        }
    }

    const WeightGridLayout g = weight_grid_layout(kernel.cols(), opts);
    GreyImage img;
    img.width = g.width;
    img.height = g.height;
    img.pixels.assign(static_cast<std::size_t>(g.width * g.height), opts.separator_value);

    const auto fill = [&img](Index top, Index left, Index h, Index w, std::uint8_t value) {
        for (Index r = top; r < top + h; ++r) {
            auto* row = img.pixels.data() + r * img.width;
            std::fill(row + left, row + left + w, value);
        }
    };

    for (Index cell = 0; cell < g.rows * g.cols; ++cell) {
        const Index top = g.tile_top(cell);
        const Index left = g.tile_left(cell);
        if (cell >= g.units) {  // past the last unit: an empty cell
            fill(top, left, g.tile_height, g.tile_width, opts.background);
            continue;
        }
        // Column `cell` of the (inputs x units) kernel: this unit's incoming weights.
        const auto w = kernel.col(cell);
        const double lo = static_cast<double>(w.minCoeff());
        const double hi = static_cast<double>(w.maxCoeff());
        if (!(lo < hi)) {  // all weights equal: nothing to normalise
            fill(top, left, g.tile_height, g.tile_width, opts.constant_value);
            continue;
        }
        for (Index i = 0; i < inputs; ++i) {
            const std::uint8_t v = detail::grey_level(static_cast<double>(w(i)), lo, hi);
            // Weight i sits at tile row i / tile_width, column i % tile_width, and
            // covers a scale x scale block of pixels.
            fill(top + (i / opts.tile_width) * g.scale, left + (i % opts.tile_width) * g.scale, g.scale, g.scale, v);
        }
    }
    return img;
}

/// Renders any Eigen expression: deduces the scalar from it, then as the overload above.
/// \param kernel  (inputs x units) weights; a column-major matrix is copied once.
/// \param opts    see WeightGridOptions.
/// \throws as the Ref overload.
template <class Kernel>
    requires detail::dense_matrix_expression<Kernel>
[[nodiscard]] GreyImage render_weight_grid(const Kernel& kernel, const WeightGridOptions& opts = {}) {
    using S = typename Kernel::Scalar;
    const Eigen::Ref<const Matrix<S>> ref(kernel);
    return render_weight_grid<S>(ref, opts);
}

/// Encodes a grey image as PNG bytes in memory (stb_image_write, one channel).
///
/// \param image  width x height pixels, pixels.size() == width * height.
/// \returns the PNG file's bytes.
/// \throws lamina::shape_error if the pixel count does not match width * height.
/// \throws std::invalid_argument if a side is below 1 or over 32768 px.
/// \throws lamina::error if stb_image_write fails (it only does when out of memory).
[[nodiscard]] inline std::vector<std::uint8_t> encode_png(const GreyImage& image) {
    constexpr const char* where = "lamina::encode_png";
    if (image.width < 1 || image.height < 1 || image.width > detail::max_image_side ||
        image.height > detail::max_image_side) {
        throw std::invalid_argument(std::string(where) + ": image must be 1.." +
                                    std::to_string(detail::max_image_side) + " px on each side, found " +
                                    std::to_string(image.width) + " x " + std::to_string(image.height));
    }
    if (image.pixels.size() != static_cast<std::size_t>(image.width * image.height)) {
        throw shape_error(std::string(where) + ": a " + std::to_string(image.width) + " x " +
                          std::to_string(image.height) + " image needs " + std::to_string(image.width * image.height) +
                          " pixels, found " + std::to_string(image.pixels.size()));
    }
    struct Sink {
        std::vector<std::uint8_t> bytes;
        bool failed = false;
    } sink;
    // stb calls back with chunks of the file; never let an exception cross its C code.
    const auto append = [](void* context, void* data, int size) {
        auto* s = static_cast<Sink*>(context);
        try {
            const auto* p = static_cast<const std::uint8_t*>(data);
            s->bytes.insert(s->bytes.end(), p, p + size);
        } catch (...) {
            s->failed = true;
        }
    };
    const int w = static_cast<int>(image.width);
    const int h = static_cast<int>(image.height);
    const int ok = stbi_write_png_to_func(+append, &sink, w, h, 1, image.pixels.data(), w);
    if (ok == 0 || sink.failed) {
        throw error(std::string(where) + ": stb_image_write could not encode a " + std::to_string(w) + " x " +
                    std::to_string(h) + " image (out of memory)");
    }
    return std::move(sink.bytes);
}

/// Writes a grey image as a PNG file, atomically: the bytes go to a temporary file in the
/// same folder (`path` + ".tmp-<pid>-<n>"), which is then renamed onto `path`, so a
/// reader never sees a half-written file and an existing file is replaced only on success
/// (`io::write_file_atomically`).
///
/// \param path   the PNG to write; its folder must exist.
/// \param image  width x height pixels, pixels.size() == width * height.
/// \throws lamina::io_error naming `path` if the folder is missing or not writable, the
///         write fails or the rename fails; the temporary file is removed first.
/// \throws as encode_png for a malformed image.
inline void save_png(const std::filesystem::path& path, const GreyImage& image) {
    const std::vector<std::uint8_t> bytes = encode_png(image);
    io::write_file_atomically(path, std::as_bytes(std::span(bytes)), "lamina::save_png");
}

/// Draws a Dense kernel as a grid of grey tiles, one per unit, and saves it as a PNG.
///
/// Shape contract: `kernel` is (inputs x units), inputs == tile_height * tile_width
/// (784 x 100 with the defaults gives 10 x 10 tiles of 28 x 28 weights, scale 3,
/// an 862 x 862 px PNG). See render_weight_grid for the layout and grey levels, and
/// save_png for how the file is written.
///
/// Example:
/// \code
/// lamina::save_weight_grid<float>("weights.png", kernel);               // 784 x 100
/// lamina::save_weight_grid<float>("w.png", k, {.tile_height = 8, .tile_width = 8});
/// \endcode
///
/// \param path    the PNG to write; its folder must exist.
/// \param kernel  the weights, (inputs x units), all finite.
/// \param opts    tile shape, scale, separator, grid columns and grey levels.
/// \throws lamina::shape_error if `kernel.rows()` != tile_height * tile_width or it has no columns.
/// \throws lamina::io_error naming `path` if the file cannot be written (no file is left).
/// \throws std::invalid_argument for a non-finite weight or an out-of-range option.
template <Scalar S>
void save_weight_grid(const std::filesystem::path& path, const Eigen::Ref<const Matrix<S>>& kernel,
                      const WeightGridOptions& opts = {}) {
    save_png(path, render_weight_grid<S>(kernel, opts));
}

/// As above for any Eigen expression, deducing the scalar: `save_weight_grid("w.png", kernel)`.
/// \param path    the PNG to write; its folder must exist.
/// \param kernel  (inputs x units) weights.
/// \param opts    see WeightGridOptions.
/// \throws as the Ref overload.
template <class Kernel>
    requires detail::dense_matrix_expression<Kernel>
void save_weight_grid(const std::filesystem::path& path, const Kernel& kernel, const WeightGridOptions& opts = {}) {
    save_png(path, render_weight_grid(kernel, opts));
}

}  // namespace lamina
