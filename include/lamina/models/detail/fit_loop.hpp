// SPDX-License-Identifier: MIT
// lamina: the fit loop: epochs of shuffled batches, validation, callbacks and the divergence guard's reports.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/fp_env.hpp>
#include <lamina/detail/team.hpp>
#include <lamina/models/detail/inference.hpp>
#include <lamina/models/detail/input_checks.hpp>
#include <lamina/models/detail/training_step.hpp>
#include <lamina/models/history.hpp>
#include <lamina/models/options.hpp>
#include <lamina/models/progress.hpp>

namespace lamina {
template <Scalar S>
class Sequential;
}  // namespace lamina

namespace lamina::detail {

/// `Sequential::fit`: the loop that drives the training step over epochs and batches. It
/// knows the model's public face (callbacks receive it) and its training step, never a
/// concrete layer.
template <Scalar S>
class FitLoop {
public:
    /// fit on inputs of element type T (S, or bytes converted batch by batch); see `Sequential::fit`.
    template <class T>
    static History run(Sequential<S>& model, ConstInputRef<T> x, ConstMatrixRef<S> y, const FitOptions<S>& options) {
        model.require_compiled("fit");
        const auto n = check_options<T>(model, x, y, options);
        const ConstInputRef<T> train_x = x.topRows(n);  // views, no copies
        const ConstMatrixRef<S> train_y = y.topRows(n);
        const auto& callbacks = options.callbacks;

        History history;
        model.stop_training_.clear();
        for (const auto& c : callbacks) c->on_train_begin(model);
        if (options.initial_epoch >= options.epochs) {
            for (const auto& c : callbacks) c->on_train_end(history, model);
            return history;
        }

        const Index batch = std::min(options.batch_size, n);
        const Index steps = (n + batch - 1) / batch;
        FlushSubnormals flush;
        auto& trainer = model.trainer_;
        Team& team = trainer.team(thread_count(options.threads, batch));
        // Each batch on the team or on this thread alone, whichever is faster at the time: the
        // weights are the same either way where every row of every product is computed the
        // same way whatever block of rows it is in (lamina's float kernels).
        TeamChoice choice(team.size() > 1 && gemm_rows_independent<S>);
        trainer.prepare(model.stack_, batch);
        Random own_rng(options.seed.value_or(0));
        Random& shuffle_rng = options.seed ? own_rng : model.rng_;
        std::vector<Index> order;  // empty: the samples in their order
        auto& guard = trainer.guard();
        guard.arm(options.terminate_on_nan, model.stack_.params().size(), *model.optimizer_);
        const bool random = model.stack_.random_in_training();

        // With a seed, first the draws that the epochs before initial_epoch made in a fit from
        // epoch 0 (in step with those at the start of every epoch below), so that a resumed
        // fit goes on as one fit would have.
        if (options.seed)
            for (Index e = 0; e < options.initial_epoch; ++e) {
                if (options.shuffle) own_rng.permutation(order, n);
                if (random) static_cast<void>(own_rng.bits());
            }
        // Batch `step` of `epoch` made the loss or a weight NaN or infinite: whether a callback
        // (TerminateOnNaN) ends training there without an exception. Every callback hears of it.
        const auto stop_quietly = [&](Index epoch, Index step, double loss) {
            const std::string what = DivergenceGuard<S>::what(loss);
            bool stop = false;
            for (const auto& c : callbacks) stop = c->on_divergence(int(epoch), int(step), what.c_str(), model) || stop;
            return stop;
        };
        bool diverged = false;

        Progress progress(options.verbose, options.epochs, steps, !model.metrics_.empty());
        const auto fit_start = std::chrono::steady_clock::now();
        for (Index epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
            const auto epoch_start = std::chrono::steady_clock::now();
            for (const auto& c : callbacks) c->on_epoch_begin(int(epoch), model);
            progress.epoch_begin(epoch);
            if (options.shuffle) shuffle_rng.permutation(order, n);
            if (random) trainer.set_seed(shuffle_rng.bits());  // this epoch's dropout masks
            const Index* sequence = order.empty() ? nullptr : order.data();
            const StepModel<S> m{model.stack_, *model.loss_, model.fused_softmax_, *model.optimizer_};
            const auto run_batch = [&](Index step) {
                const Index start = step * batch;
                return trainer.template run<T>(m, team, train_x, train_y, sequence ? sequence + start : nullptr, start,
                                               std::min(batch, n - start), true, choice.alone());
            };
            if (guard.armed()) guard.checkpoint(model.stack_.params(), *model.optimizer_);
            double loss_sum = 0;
            Index correct = 0, alone = 0;
            for (Index step = 0; step < steps; ++step) {
                const Index start = step * batch, rows = std::min(batch, n - start);
                alone += choice.alone_kept();
                const auto batch_start = std::chrono::steady_clock::now();
                const auto [l, c] = run_batch(step);
                if (rows == batch)
                    choice.record(
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count());
                if (guard.armed() && (!std::isfinite(l) || guard.diverged())) {
                    try {  // the weights of before this batch
                        guard.restore_and_throw(model.stack_.params(), *model.optimizer_, epoch, step, steps, l,
                                                run_batch);
                    } catch (const training_error&) {
                        if (!stop_quietly(epoch, step, l)) throw;
                    }
                    diverged = true;
                    break;
                }
                if (!guard.armed() && !callbacks.empty() && !std::isfinite(l) && stop_quietly(epoch, step, l)) {
                    diverged = true;  // Keras's TerminateOnNaN: stop after the batch, weights as they are
                    break;
                }
                loss_sum += l;
                correct += c;
                progress.batch_end(step + 1, loss_sum / double(start + rows), double(correct) / double(start + rows));
            }
            if (diverged) break;  // the History keeps the completed epochs
            EpochLogs logs{loss_sum / double(n), double(correct) / double(n)};
            history.epoch.push_back(int(epoch));
            history.loss.push_back(logs.loss);
            history.accuracy.push_back(logs.accuracy);
            if (options.validation_data || n < x.rows()) {  // validation_data or the held-out rows
                const auto score = score_validation<T>(model, team, x, y, n, options);
                logs.val_loss = score.loss;
                logs.val_accuracy = score.accuracy;
                history.val_loss.push_back(score.loss);
                history.val_accuracy.push_back(score.accuracy);
            }
            const auto now = std::chrono::steady_clock::now();
            history.seconds.push_back(std::chrono::duration<double>(now - epoch_start).count());
            history.alone.push_back(double(alone) / double(steps));
            // Progress's ETA takes the time so far as that of epochs 0..epoch: scale it to that.
            const double elapsed = std::chrono::duration<double>(now - fit_start).count();
            progress.epoch_end(logs, elapsed * double(epoch + 1) / double(epoch + 1 - options.initial_epoch));
            for (const auto& c : callbacks) c->on_epoch_end(int(epoch), history, model);
            if (model.stop_training_.get()) break;
        }
        for (const auto& c : callbacks) c->on_train_end(history, model);
        return history;
    }

private:
    // Checks fit's arguments and returns how many of the samples it trains on: all of them,
    // or Keras's split_at = floor(samples * (1 - validation_split)), the rest held out
    // before any shuffling.
    template <class T>
    static Index check_options(const Sequential<S>& model, ConstInputRef<T> x, ConstMatrixRef<S> y,
                               const FitOptions<S>& options) {
        const bool distributions = model.targets_are_distributions();
        check_xy<S, T>("fit", model.stack_, x, y);
        if (options.batch_size < 1)
            throw std::invalid_argument("Sequential.fit: batch_size must be >= 1, found " +
                                        std::to_string(options.batch_size));
        if (options.epochs < 0)
            throw std::invalid_argument("Sequential.fit: epochs must be >= 0, found " + std::to_string(options.epochs));
        if (options.initial_epoch < 0)
            throw std::invalid_argument("Sequential.fit: initial_epoch must be >= 0, found " +
                                        std::to_string(options.initial_epoch));
        check_values<S, T>("fit", distributions, x, y);
        const auto& val = options.validation_data;
        if (val.x) {
            check_xy<S, S>("fit (validation_data)", model.stack_, *val.x, *val.y);
            check_values<S, S>("fit (validation_data)", distributions, *val.x, *val.y);
        }
        if (val.bytes) {
            check_xy<S, std::uint8_t>("fit (validation_data)", model.stack_, *val.bytes, *val.y);
            check_values<S, std::uint8_t>("fit (validation_data)", distributions, *val.bytes, *val.y);
        }
        const double split = options.validation_split;
        const auto split_text = [&] {
            std::ostringstream text;
            text << "validation_split = " << split;
            return text.str();
        };
        if (!(split >= 0 && split < 1))
            throw std::invalid_argument("Sequential.fit: validation_split must be in [0, 1), found " + split_text());
        if (split > 0 && val)
            throw std::invalid_argument("Sequential.fit: " + split_text() +
                                        " and validation_data are both given; give one of them");
        const Index n = split > 0 ? Index(std::floor(double(x.rows()) * (1.0 - split))) : x.rows();
        if (split > 0 && (n == 0 || n == x.rows()))
            throw std::invalid_argument("Sequential.fit: " + split_text() + " of " + std::to_string(x.rows()) +
                                        " samples leaves " + (n == 0 ? "no training" : "no validation") +
                                        " samples (split_at = floor(samples * (1 - validation_split)) = " +
                                        std::to_string(n) + "); give more samples or another validation_split");
        return n;
    }

    // The validation score after an epoch: of validation_data, or of the rows from `n` on.
    template <class T>
    static Score score_validation(const Sequential<S>& model, Team& team, ConstInputRef<T> x, ConstMatrixRef<S> y,
                                  Index n, const FitOptions<S>& options) {
        const auto& val = options.validation_data;
        const Index batch_size = PredictOptions{}.batch_size;
        const auto evaluate = [&]<class U>(ConstInputRef<U> vx, ConstMatrixRef<S> vy) {
            return Inference<S>::template evaluate<U>(model.stack_, *model.loss_, model.fused_softmax_, team, vx, vy,
                                                      batch_size);
        };
        if (val.x) return evaluate.template operator()<S>(*val.x, *val.y);
        if (val.bytes) return evaluate.template operator()<std::uint8_t>(*val.bytes, *val.y);
        return evaluate.template operator()<T>(x.bottomRows(x.rows() - n), y.bottomRows(y.rows() - n));
    }
};

}  // namespace lamina::detail
