// SPDX-License-Identifier: MIT
// lamina: the shape of one sample, without the batch, as Keras prints it: (784), (28, 28, 1).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <lamina/core/types.hpp>

namespace lamina {

/// The shape of one sample, without the batch dimension, channels last (Keras's
/// `channels_last`): `{784}` for a flat vector, `{28, 28, 1}` for a grey image. A batch of
/// such samples is a (samples x size()) matrix whose rows are the samples flattened
/// row-major, so that a Dense layer sees a (28, 28, 1) sample as 784 values in order.
class Shape {
public:
    Shape() = default;
    Shape(std::initializer_list<Index> dims) : dims_(dims) {}
    explicit Shape(std::vector<Index> dims) : dims_(std::move(dims)) {}

    /// Number of dimensions (0 for an empty shape, which stands for "not given").
    [[nodiscard]] std::size_t rank() const noexcept { return dims_.size(); }
    [[nodiscard]] bool empty() const noexcept { return dims_.empty(); }
    [[nodiscard]] Index operator[](std::size_t i) const { return dims_[i]; }
    [[nodiscard]] Index back() const { return dims_.back(); }
    [[nodiscard]] const std::vector<Index>& dims() const noexcept { return dims_; }
    [[nodiscard]] auto begin() const noexcept { return dims_.begin(); }
    [[nodiscard]] auto end() const noexcept { return dims_.end(); }

    /// The number of values of one sample: the product of the dimensions (0 when empty).
    /// Shapes are checked when made (`checked`), so the product does not overflow.
    [[nodiscard]] Index size() const noexcept {
        if (dims_.empty()) return 0;
        Index n = 1;
        for (const Index d : dims_) n *= d;
        return n;
    }

    /// Keras's text: "(784)", "(28, 28, 1)"; with `batch`, "(None, 28, 28, 1)".
    [[nodiscard]] std::string text(bool batch = false) const {
        std::string s = batch ? "(None" : "(";
        for (std::size_t i = 0; i < dims_.size(); ++i) s += (i > 0 || batch ? ", " : "") + std::to_string(dims_[i]);
        return s + ")";
    }

    /// `dims` as a shape after checking that every dimension is at least 1 and that their
    /// product fits an Index.
    /// \throws std::invalid_argument "<where>: <what> ... " naming the bad dimension.
    static Shape checked(std::vector<Index> dims, const std::string& where, const std::string& what = "shape") {
        Shape s(std::move(dims));
        if (s.empty()) throw std::invalid_argument(where + ": " + what + " has no dimensions");
        Index n = 1;
        for (std::size_t i = 0; i < s.rank(); ++i) {
            const Index d = s.dims_[i];
            if (d < 1)
                throw std::invalid_argument(where + ": " + what + " " + s.text() + " has dimension " +
                                            std::to_string(i) + " = " + std::to_string(d) + "; expected >= 1");
            if (n > std::numeric_limits<Index>::max() / d)
                throw std::invalid_argument(where + ": " + what + " " + s.text() +
                                            " has more values than an index can count");
            n *= d;
        }
        return s;
    }

    friend bool operator==(const Shape&, const Shape&) = default;

private:
    std::vector<Index> dims_;
};

}  // namespace lamina
