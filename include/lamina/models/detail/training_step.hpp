// SPDX-License-Identifier: MIT
// lamina: one training batch through the layers, the loss and the optimizer, on a team of threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <lamina/core/types.hpp>
#include <lamina/detail/convert.hpp>
#include <lamina/detail/gemm.hpp>
#include <lamina/detail/team.hpp>
#include <lamina/layers/dropout.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/losses/loss.hpp>
#include <lamina/metrics/accuracy.hpp>
#include <lamina/models/detail/divergence_guard.hpp>
#include <lamina/models/detail/layer_stack.hpp>
#include <lamina/models/detail/workspace.hpp>
#include <lamina/optimizers/optimizer.hpp>

namespace lamina::detail {

/// What a training step reads and changes of its model: the layers and their buffers, the
/// loss (taking the last layer's input as logits when `fused_softmax`) and the optimizer.
template <Scalar S>
struct StepModel {
    LayerStack<S>& stack;
    const Loss& loss;
    bool fused_softmax;
    Optimizer<S>& optimizer;
};

/// A model's training step and what it keeps between batches: the batch buffers, the team
/// of threads, the slices of the weight gradients, the divergence guard. Nothing is allocated
/// after the first batch of a size, a team and a stack of layers.
template <Scalar S>
class TrainingStep {
public:
    /// The team for `threads`, kept between calls (thread starts are not free).
    Team& team(int threads) {
        if (!team_ || team_->size() != threads) team_ = std::make_unique<Team>(threads);
        return *team_;
    }
    /// Sizes the buffers for batches of up to `rows` rows of `stack`'s layers.
    void prepare(const LayerStack<S>& stack, Index rows) { ws_.resize(stack.layers(), rows, true); }
    /// The layers changed: the next step slices their weights again.
    void layers_changed() noexcept { slices_for_ = 0; }
    /// The seed of the layers' random draws (Dropout) for the batches to come.
    void set_seed(std::uint64_t seed) noexcept { pass_seed_ = seed; }
    [[nodiscard]] DivergenceGuard<S>& guard() noexcept { return guard_; }

    /// One batch of `rows` samples, x.row(order[r]) for r < rows (x.row(start + r) without an
    /// order), as one job of the team (or of the caller `alone`, as a team of one would) in
    /// stages of fixed chunks, which members claim as they come (a descheduled thread leaves
    /// its share to the others instead of stalling the batch).
    ///
    /// In most models, two stages. The rows, `chunks_per_member` row blocks per member (one
    /// block for one thread: nothing to balance, and the first layer's product reuses each
    /// depth chunk of its weights over all the rows): gather, forward, loss, and the input
    /// gradients down to layer 1. Then the weights, slices of each layer's: the weight
    /// gradient and, when `update`, the optimizer step (through the guard when it is armed).
    /// A layer that reads statistics of the whole batch (`batch_slices`, BatchNormalization)
    /// cuts the rows' work at itself: the rows up to it, its `batch_forward` in slices, the
    /// rows from it to the next such layer or the loss, and on the way back its
    /// `batch_backward` in slices before the rows' backwards through it.
    ///
    /// The chunks depend on the batch, the layers and the team's size, never on which member
    /// runs them, and each writes its own outputs (each row's loss, summed in row order
    /// after): a seed and a thread count give the same training every time; where every
    /// product computes a row the same way whatever block it is in (gemm_rows_independent),
    /// so does any thread count. The gather asks the cache for the sample `gather_ahead`
    /// places ahead of the one it converts (shuffled rows are scattered over memory; the
    /// hardware prefetcher cannot guess them), and notes each sample's non-zeros for the first
    /// layer as it converts it when that layer reads them.
    /// Returns the batch's summed loss and its number of correct predictions.
    template <class T>
    std::pair<double, Index> run(const StepModel<S>& m, Team& team, ConstInputRef<T> x, ConstMatrixRef<S> y,
                                 const Index* order, Index start, Index rows, bool update, bool alone = false) {
        const auto& layers = m.stack.layers();
        const Index head = m.fused_softmax ? m.stack.size() - 1 : m.stack.size();  // the loss reads acts[head]
        auto& ws = ws_;
        const int threads = alone ? 1 : team.size();
        const Index chunks_a = threads == 1 ? 1 : std::min<Index>(rows, chunks_per_member * threads);
        // Sliced again when the team changes or a batch runs `alone` after one that did not (or
        // the reverse); allocates only for more slices than any batch before.
        if (slices_for_ != threads) slice_weights(m.stack, threads);
        guard_.begin_step();
        if (row_loss_.size() < rows) row_loss_.resize(rows);
        partial_correct_.assign(std::size_t(chunks_a), 0);
        // The weight penalties, of the weights before this step, count once per sample in the
        // summed loss (so that the epoch's mean loss includes them once).
        const double penalty = m.stack.regularization_loss();
        // Layer i's random choices for this batch: a seed of (this epoch's seed, first row, i).
        const std::uint64_t batch_seed = mix64(pass_seed_ + 0x9E3779B97F4A7C15ull * std::uint64_t(start + 1));
        const auto pass = [&](Index i, Index r0) {
            return Pass{.training = true, .seed = mix64(batch_seed + std::uint64_t(i)), .row = r0};
        };
        if (update) m.optimizer.begin_step();
        // The first layer's input gradient is never needed: it runs backward only when its
        // gradient reads what backward keeps, and then with a dx of no columns.
        const bool first_backward = m.stack.traits(0).backward_as_first;
        for (Index i = first_backward ? 0 : 1; i < head; ++i)
            if (m.stack.traits(i).prepares_batch) m.stack[i].begin_batch(rows);
        // Where each gathered row is non-zero, for the first layer's product when it reads that.
        const bool find_nonzeros = m.stack.traits(0).reads_input_nonzeros;
        const Index words = nonzero_words(x.cols());
        plan_stages(m.stack, head, first_backward ? 0 : 1, chunks_a, threads);
        // A block of rows: the gather, forwards, the loss, backwards, as the stage says.
        const auto rows_stage = [&](const Stage& stage, Index chunk) {
            const auto span = split(rows, int(chunk), int(chunks_a));
            const Index r0 = span.begin, len = span.size();
            if (stage.gather) {
                for (Index r = r0; r < r0 + len; ++r) {
                    if (r + gather_ahead < r0 + len) {
                        const Index later = order ? order[r + gather_ahead] : start + r + gather_ahead;
                        prefetch_row(x.row(later).data(), x.cols());
                        prefetch_row(y.row(later).data(), y.cols());
                    }
                    const Index from = order ? order[r] : start + r;
                    convert_row(x.row(from).data(), ws.acts[0].row(r).data(), x.cols());
                    if (find_nonzeros) nonzero_bits(x.row(from).data(), x.cols(), ws.nonzeros.data() + r * words);
                    convert_row(y.row(from).data(), ws.target.row(r).data(), y.cols());
                }
            }
            for (Index i = stage.forward_begin; i < stage.forward_end; ++i) {
                Pass p = pass(i, r0);
                if (i == 0 && find_nonzeros) {  // the first layer's input: the rows just gathered
                    p.nonzeros = ws.nonzeros.data() + r0 * words;
                    p.nonzero_words = words;
                }
                layers[std::size_t(i)]->forward(ws.acts[std::size_t(i)].middleRows(r0, len),
                                                ws.acts[std::size_t(i + 1)].middleRows(r0, len), p);
            }
            if (stage.loss) {
                auto out = ws.acts[std::size_t(head)].middleRows(r0, len);
                MatrixRef<S> grad = ws.deltas[std::size_t(head)].middleRows(r0, len);
                m.loss.template compute<S>(out, ws.target.middleRows(r0, len), &grad, rows, row_loss_.data() + r0,
                                           m.fused_softmax);
                partial_correct_[std::size_t(chunk)] = metric::Accuracy::correct<S>(out, ws.target.middleRows(r0, len));
            }
            for (Index i = stage.backward_end - 1; i >= stage.backward_begin; --i) {
                auto dx = ws.deltas[std::size_t(i)].middleRows(r0, len);
                layers[std::size_t(i)]->backward(ws.acts[std::size_t(i)].middleRows(r0, len),
                                                 ws.acts[std::size_t(i + 1)].middleRows(r0, len),
                                                 ws.deltas[std::size_t(i + 1)].middleRows(r0, len),
                                                 i == 0 ? MatrixRef<S>(dx.leftCols(0)) : MatrixRef<S>(dx), pass(i, r0));
            }
        };
        // A slice of a layer's weights: its gradient and, when `update`, the optimizer step.
        const auto weights_stage = [&](Index chunk) {
            const WeightSlice& slice = weight_slices_[std::size_t(chunk)];
            const Index i = slice.layer;
            const auto range = layers[std::size_t(i)]->gradient(ws.acts[std::size_t(i)].topRows(rows),
                                                                ws.deltas[std::size_t(i + 1)].topRows(rows), slice.part,
                                                                slice.parts);
            if (update && range.size > 0) {
                const Index offset = m.stack.offset(i) + range.offset;
                S* params = m.stack.params().data();
                const S* grads = m.stack.grads().data();
                if (guard_.armed()) guard_.update(m.optimizer, params, grads, offset, range.size);
                else m.optimizer.update(params, grads, offset, range.size);
            }
        };
        team.run_stages(
            ends_,
            [&](Index s, Index chunk) {
                const Stage& stage = stages_[std::size_t(s)];
                const auto i = std::size_t(stage.layer);
                switch (stage.kind) {
                    case StageKind::rows: return rows_stage(stage, chunk);
                    case StageKind::statistics:
                        return layers[i]->batch_forward(ws.acts[i].topRows(rows), chunk, stage.chunks, update);
                    case StageKind::sums:
                        return layers[i]->batch_backward(ws.acts[i].topRows(rows), ws.deltas[i + 1].topRows(rows),
                                                         chunk, stage.chunks);
                    case StageKind::weights: return weights_stage(chunk);
                }
            },
            alone);
        // Summed row by row in order, the same however the rows were cut into chunks.
        double loss = penalty * double(rows);
        for (Index r = 0; r < rows; ++r) loss += double(row_loss_[r]);
        Index correct = 0;
        for (Index c = 0; c < chunks_a; ++c) correct += partial_correct_[std::size_t(c)];
        return {loss, correct};
    }

private:
    // A training step's phases are cut into this many chunks per member of the team: enough
    // for a member that is late to leave its share to the others, few enough to keep every
    // chunk a good size for the products.
    static constexpr Index chunks_per_member = 2;
    // How many samples ahead of the one it converts the gather asks the cache for: about a
    // memory latency's worth of conversions.
    static constexpr Index gather_ahead = 8;

    // Phase B's chunks for a team of `threads`: each layer's weights in slices of about
    // 10,000 parameters, at most `chunks_per_member` per member and what the layer can
    // write (one per layer for one thread).
    void slice_weights(const LayerStack<S>& stack, int threads) {
        weight_slices_.clear();
        for (Index i = 0; i < stack.size(); ++i) {
            const Index count = stack[i].trainable_count();
            if (count == 0) continue;
            const Index parts = threads == 1 ? 1
                                             : std::clamp<Index>((count + 9999) / 10000, 1,
                                                                 std::min<Index>(chunks_per_member * threads,
                                                                                 stack.traits(i).gradient_slices));
            for (Index part = 0; part < parts; ++part) weight_slices_.push_back({i, part, parts});
        }
        slices_for_ = threads;
    }

    // The weight stage's chunks: slice `part` of `parts` of layer `layer`'s weight gradient.
    struct WeightSlice {
        Index layer, part, parts;
    };

    // What the chunks of a stage do: blocks of rows; slices of a layer's batch_forward or
    // batch_backward; slices of the weights.
    enum class StageKind { rows, statistics, sums, weights };
    struct Stage {
        StageKind kind = StageKind::rows;
        Index chunks = 0;
        Index layer = 0;  // statistics, sums: whose
        // rows: gather the batch first; forward layers [forward_begin, forward_end); then the
        // loss; then backward layers backward_end - 1 down to backward_begin.
        bool gather = false, loss = false;
        Index forward_begin = 0, forward_end = 0, backward_begin = 0, backward_end = 0;
    };

    // The stages of a step through `stack`'s layers up to `head` (the loss reads acts[head]),
    // whose backward runs down to layer `lowest`, in `rows_chunks` row blocks; allocates only
    // for more stages than any step before.
    void plan_stages(const LayerStack<S>& stack, Index head, Index lowest, Index rows_chunks, int threads) {
        stages_.clear();
        const Index most = threads == 1 ? 1 : chunks_per_member * threads;
        Index from = 0;  // the first layer the next rows stage runs forward
        for (Index i = 0; i < head; ++i) {
            const Index slices = stack.traits(i).batch_slices;
            if (slices <= 0) continue;
            stages_.push_back(
                {.chunks = rows_chunks, .gather = stages_.empty(), .forward_begin = from, .forward_end = i});
            stages_.push_back({.kind = StageKind::statistics, .chunks = std::min(slices, most), .layer = i});
            from = i;
        }
        const std::size_t statistics = stages_.size() / 2;  // the layers that cut the rows' work
        const Index last = statistics > 0 ? stages_.back().layer + 1 : lowest;
        stages_.push_back({.chunks = rows_chunks,
                           .gather = statistics == 0,
                           .loss = true,
                           .forward_begin = from,
                           .forward_end = head,
                           .backward_begin = std::max(last, lowest),
                           .backward_end = head});
        for (std::size_t k = statistics; k-- > 0;) {
            const Index layer = stages_[2 * k + 1].layer;
            const Index below = k > 0 ? stages_[2 * k - 1].layer + 1 : lowest;
            stages_.push_back({.kind = StageKind::sums, .chunks = stages_[2 * k + 1].chunks, .layer = layer});
            stages_.push_back({.chunks = rows_chunks,
                               .backward_begin = std::max(below, lowest),
                               .backward_end = std::max(layer + 1, lowest)});
        }
        stages_.push_back({.kind = StageKind::weights, .chunks = Index(weight_slices_.size())});
        ends_.clear();
        for (const Stage& stage : stages_) ends_.push_back((ends_.empty() ? 0 : ends_.back()) + stage.chunks);
    }

    Workspace<S> ws_;
    std::unique_ptr<Team> team_;
    std::vector<WeightSlice> weight_slices_;
    std::vector<Stage> stages_;  // the running step's, and where each one's chunks end
    std::vector<Index> ends_;
    int slices_for_ = 0;  // the team size weight_slices_ was made for (0: none yet)
    Vector<S> row_loss_;  // the loss of each row of the running batch
    std::vector<Index> partial_correct_;
    std::uint64_t pass_seed_ = 0;  // the seed of the layers' draws for the running epoch
    DivergenceGuard<S> guard_;
};

}  // namespace lamina::detail
