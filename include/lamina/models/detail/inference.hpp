// SPDX-License-Identifier: MIT
// lamina: a model's inference: predict and evaluate over blocks of rows on a kept team of threads.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

#include <lamina/core/types.hpp>
#include <lamina/detail/convert.hpp>
#include <lamina/detail/team.hpp>
#include <lamina/losses/loss.hpp>
#include <lamina/metrics/accuracy.hpp>
#include <lamina/metrics/metric.hpp>
#include <lamina/models/history.hpp>
#include <lamina/models/detail/layer_stack.hpp>
#include <lamina/models/detail/workspace.hpp>

namespace lamina::detail {

/// Inference for a model: forward passes over blocks of rows, on a team of threads that the
/// model keeps between calls (lent to one call at a time; concurrent calls make their own),
/// each thread in its own buffers.
template <Scalar S>
class Inference {
public:
    Inference() = default;
    // A moved model starts without a team (nothing runs during a move).
    Inference(Inference&&) noexcept {}
    Inference& operator=(Inference&&) noexcept {
        team_.reset();
        return *this;
    }

    /// Calls f(team) with a team of `threads`: the kept one, unless another call is using it
    /// (predict and evaluate may run concurrently), in which case one of this call's own.
    template <class F>
    decltype(auto) with_team(int threads, F&& f) {
        std::unique_lock lock(mutex_, std::try_to_lock);
        if (!lock.owns_lock()) {
            Team team(threads);
            return f(team);
        }
        if (!team_ || team_->size() != threads) team_ = std::make_unique<Team>(threads);
        return f(*team_);
    }

    /// The outputs for x into `out`, in blocks of `batch_size` rows, on `threads` threads.
    template <class T>
    void predict(const LayerStack<S>& stack, ConstInputRef<T> x, MatrixRef<S> out, Index batch_size, int threads) {
        batch_size = std::min(batch_size, x.rows());  // so that `start += batch_size` stays below 2 x.rows()
        const auto work = [&](int t, int parts) {
            const auto span = split(x.rows(), t, parts);
            Workspace<S>& ws = thread_workspace();
            for (Index start = span.begin; start < span.end; start += batch_size) {
                const Index rows = std::min(batch_size, span.end - start);
                ws.resize(stack.layers(), rows);
                forward<T>(stack, x.middleRows(start, rows), ws, stack.size(), out.middleRows(start, rows));
            }
        };
        if (threads == 1) {
            work(0, 1);
            return;
        }
        with_team(threads, [&](Team& team) { team.run([&](int t) { work(t, threads); }); });
    }

    /// The mean loss (with the layers' weight penalties) and the accuracy of x against y, in
    /// blocks of `batch_size` rows on `team`; each row's loss is summed in row order after, so
    /// that neither the thread count nor the batch size changes the result.
    template <class T>
    static Score evaluate(const LayerStack<S>& stack, const Loss& loss, bool fused_softmax, Team& team,
                          ConstInputRef<T> x, ConstMatrixRef<S> y, Index batch_size) {
        const Index head = fused_softmax ? stack.size() - 1 : stack.size();
        batch_size = std::min(batch_size, x.rows());  // so that `start += batch_size` stays below 2 x.rows()
        std::vector<S> row_losses(std::size_t(x.rows()));
        std::vector<Index> hits(std::size_t(team.size()), 0);
        team.run([&](int t) {
            const auto span = split(x.rows(), t, team.size());
            Workspace<S>& ws = thread_workspace();
            for (Index start = span.begin; start < span.end; start += batch_size) {
                const Index rows = std::min(batch_size, span.end - start);
                ws.resize(stack.layers(), rows);
                forward<T>(stack, x.middleRows(start, rows), ws, head, std::nullopt);
                auto out = ws.acts[std::size_t(head)].topRows(rows);
                loss.template compute<S>(out, y.middleRows(start, rows), nullptr, 1, row_losses.data() + start,
                                         fused_softmax);
                hits[std::size_t(t)] += metric::Accuracy::correct<S>(out, y.middleRows(start, rows));
            }
        });
        double sum = 0;
        for (const S l : row_losses) sum += double(l);
        Index correct = 0;
        for (const Index h : hits) correct += h;
        return {sum / double(x.rows()) + stack.regularization_loss(), double(correct) / double(x.rows())};
    }

private:
    // Inference buffers of the calling thread, shared by every model of this scalar type:
    // concurrent predictions use different buffers, and a thread reuses its own.
    static Workspace<S>& thread_workspace() {
        static thread_local Workspace<S> ws;
        return ws;
    }

    // Runs layers [0, stop) on x into ws.acts (bytes converted into ws.acts[0] first); the
    // last one writes into `out` when given.
    template <class T>
    static void forward(const LayerStack<S>& stack, ConstInputRef<T> x, Workspace<S>& ws, Index stop,
                        std::optional<MatrixRef<S>> out) {
        const Index rows = x.rows();
        const auto run = [&](ConstMatrixRef<S> in) {
            for (Index i = 0; i < stop; ++i) {
                auto dst = (out && i == stop - 1) ? *out : MatrixRef<S>(ws.acts[std::size_t(i + 1)].topRows(rows));
                if (i == 0) stack[i].forward(in, dst);
                else stack[i].forward(ws.acts[std::size_t(i)].topRows(rows), dst);
            }
        };
        if constexpr (std::is_same_v<T, S>) {
            run(x);
        } else {
            auto in = ws.acts[0].topRows(rows);
            for (Index r = 0; r < rows; ++r) convert_row(x.row(r).data(), in.row(r).data(), x.cols());
            run(in);
        }
    }

    std::mutex mutex_;
    std::unique_ptr<Team> team_;
};

}  // namespace lamina::detail
