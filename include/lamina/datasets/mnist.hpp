// SPDX-License-Identifier: MIT
// lamina: loads the MNIST handwritten digits from their four IDX files, as Keras's mnist.load_data.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include <lamina/core/error.hpp>
#include <lamina/core/types.hpp>
#include <lamina/io/idx.hpp>

namespace lamina::datasets::mnist {

/// MNIST images, one per row, pixels in reading order: shape (N x 784), row-major,
/// 0 = background to 255 = ink. The IDX file's bytes, unchanged. A model takes them as
/// they are (`model.fit(train.images, y)`: raw pixels), or through `to_matrix`.
using Images = ByteMatrix;

/// MNIST labels: shape (N), the digit 0 to 9 drawn in the image of the same row.
using Labels = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, 1>;

/// Rows, columns and pixels of one image; the number of classes.
inline constexpr Index image_rows = 28, image_cols = 28, image_size = 784, num_classes = 10;

/// Images and their labels: `images.rows() == labels.size()`.
struct Split {
    Images images;  ///< (N x 784)
    Labels labels;  ///< (N)
};

/// The training split (60,000 images) and the test split (10,000), in file order.
struct Dataset {
    Split train;
    Split test;
};

/// The MNIST folder to use when the caller names none: the environment variable
/// `LAMINA_MNIST_DIR` when it is set and not empty, otherwise `fallback`.
/// \param fallback for example `LAMINA_SOURCE_DIR "/data/mnist"` in a program that knows
///        the repository; by default `data/mnist` relative to the working directory.
inline std::filesystem::path default_directory(const std::filesystem::path& fallback = "data/mnist") {
    const char* env = std::getenv("LAMINA_MNIST_DIR");
    return env != nullptr && *env != '\0' ? std::filesystem::path(env) : fallback;
}

namespace detail {

inline constexpr std::string_view loader = "lamina::datasets::mnist::load_data";

/// The first of `<stem>-<kind>`, `<stem>.<kind>` and the same with `.gz` that exists in `dir`.
inline std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& stem,
                                       const std::string& kind) {
    std::string tried;
    for (const char* gz : {"", ".gz"})
        for (const char* sep : {"-", "."}) {
            const std::string name = stem + sep + kind + gz;
            if (std::filesystem::exists(dir / name)) return dir / name;
            tried += (tried.empty() ? "" : ", ") + name;
        }
    io::detail::raise_io_error(loader, (dir / (stem + "-" + kind)).string(), "MNIST file not found; tried ", tried,
                               " in '", dir.string(),
                               "'. Run data/fetch_mnist.sh to download MNIST (or point LAMINA_MNIST_DIR at "
                               "a folder that holds it)");
}

/// Reads and checks `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte`.
inline Split load_split(const std::filesystem::path& dir, const std::string& prefix) {
    const auto image_path = find_file(dir, prefix + "-images", "idx3-ubyte");  // both found before
    const auto label_path = find_file(dir, prefix + "-labels", "idx1-ubyte");  // either is read
    const auto image_file = io::read_idx(image_path);
    const auto label_file = io::read_idx(label_path);
    const auto& pixels = image_file.as<std::uint8_t>();
    const auto& digits = label_file.as<std::uint8_t>();
    const auto& shape = image_file.shape();
    if (shape.size() != 3 || shape[1] != std::uint64_t(image_rows) || shape[2] != std::uint64_t(image_cols))
        io::detail::raise_io_error(loader, image_file.source(), "expected images of shape N x 28 x 28 (rank 3), found ",
                                   io::detail::shape_string(shape));
    if (label_file.rank() != 1)
        io::detail::raise_io_error(loader, label_file.source(), "expected labels of shape N (rank 1), found ",
                                   io::detail::shape_string(label_file.shape()));
    if (digits.size() != shape[0])
        io::detail::raise_io_error(loader, label_file.source(), "holds ", digits.size(), " labels but '",
                                   image_file.source(), "' holds ", shape[0], " images");
    for (std::size_t i = 0; i < digits.size(); ++i)
        if (digits[i] >= num_classes)
            io::detail::raise_io_error(loader, label_file.source(), "label ", unsigned(digits[i]), " at index ", i,
                                       " (byte ", 8 + i, ") is outside 0-9");

    const auto n = Index(digits.size());
    Split split{Images(n, image_size), Labels(n)};
    std::memcpy(split.images.data(), pixels.data(), pixels.size());
    std::memcpy(split.labels.data(), digits.data(), digits.size());
    return split;
}

}  // namespace detail

/// Loads MNIST from the folder `dir`, like Keras's `mnist.load_data()`:
/// \code
///   namespace mnist = lamina::datasets::mnist;
///   auto [train, test] = mnist::load_data(mnist::default_directory(LAMINA_SOURCE_DIR "/data/mnist"));
///   lamina::Matrix<float> x = mnist::to_matrix<float>(train.images);  // (60000 x 784), in [0, 1]
/// \endcode
/// The folder holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte` (`data/fetch_mnist.sh` puts them in
/// `data/mnist/`). Each name may also be spelt with a dot (`train-images.idx3-ubyte`) and
/// end in `.gz` (read through zlib).
/// \param dir the folder; `load_data()` uses `default_directory()`.
/// \returns the training and test splits: images (N x 784) and labels (N).
/// \throws io_error naming the file if one is missing (listing the names tried) or
///         malformed: not an IDX file, not unsigned bytes, images not N x 28 x 28, labels
///         not rank 1, counts that differ, or a label outside 0-9.
inline Dataset load_data(const std::filesystem::path& dir) {
    return {detail::load_split(dir, "train"), detail::load_split(dir, "t10k")};
}

/// \copydoc load_data(const std::filesystem::path&)
inline Dataset load_data() { return load_data(default_directory()); }

/// Options of `to_matrix`.
struct ToMatrixOptions {
    /// Divide by 255 so that pixels lie in [0, 1] (as Keras examples do); if false, keep 0-255.
    bool scale = true;
};

/// MNIST images as a batch for a model: `Matrix<S>` of shape (N x 784), by default
/// scaled to [0, 1].
/// \code
///   auto x = mnist::to_matrix<float>(train.images, {.scale = false});  // 0 to 255
/// \endcode
template <Scalar S>
Matrix<S> to_matrix(const Images& images, ToMatrixOptions options = {}) {
    if (options.scale) return images.template cast<S>() / S(255);
    return images.template cast<S>();
}

}  // namespace lamina::datasets::mnist
