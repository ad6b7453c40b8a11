// SPDX-License-Identifier: MIT
// lamina: the per-layer batch buffers a model runs a batch through, padded for the products.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <lamina/core/types.hpp>
#include <lamina/detail/gemm.hpp>
#include <lamina/layers/layer.hpp>

namespace lamina::detail {

/// A batch of one layer's values (rows x width) whose rows start 32 bytes apart at least:
/// its storage is padded to a whole number of AVX vectors per row, so that the products
/// that read it row by row (a layer's weight gradient reads dy's rows once per non-zero
/// input) never load a vector across two cache lines. The padding is never read.
template <Scalar S>
struct Buffer {
    Matrix<S> storage;
    Index width = 0;

    static constexpr Index lanes = Index(32 / sizeof(S));
    void resize(Index rows, Index w) {
        width = w;
        storage.setZero(rows, (w + lanes - 1) / lanes * lanes);
    }
    [[nodiscard]] Index cols() const noexcept { return width; }
    auto topRows(Index n) { return storage.topLeftCorner(n, width); }
    auto middleRows(Index r0, Index n) { return storage.block(r0, 0, n, width); }
    auto row(Index r) { return storage.row(r).head(width); }
};

/// Per-layer buffers for a batch of up to `capacity` rows: acts[i] is the input of layer i
/// (acts[L] the output), deltas[i] = dL/d acts[i], target the batch's targets, and in
/// training where each gathered input row is non-zero (see Pass::nonzeros).
template <Scalar S>
struct Workspace {
    std::vector<Buffer<S>> acts, deltas;
    Matrix<S> target;
    std::vector<std::uint64_t> nonzeros;
    Index capacity = 0;

    /// Sizes the buffers for `rows` rows of `layers`; allocates only when the batch grows or
    /// the layers change.
    void resize(const std::vector<std::unique_ptr<Layer<S>>>& layers, Index rows, bool training = false) {
        const std::size_t count = layers.size() + 1;
        const auto width = [&](std::size_t i) { return i == 0 ? layers[0]->input_dim() : layers[i - 1]->output_dim(); };
        bool same = acts.size() == count && (!training || deltas.size() == count);
        for (std::size_t i = 0; same && i < count; ++i) same = acts[i].cols() == width(i);
        if (rows <= capacity && same) return;
        capacity = same ? std::max(rows, capacity) : rows;
        acts.resize(count);
        for (std::size_t i = 0; i < count; ++i) {
            acts[i].resize(capacity, width(i));
            if (training) {
                deltas.resize(count);
                deltas[i].resize(capacity, width(i));
            }
        }
        if (training) {
            target.resize(capacity, layers.back()->output_dim());
            nonzeros.resize(std::size_t(capacity * nonzero_words(layers[0]->input_dim())));
        }
    }
};

}  // namespace lamina::detail
