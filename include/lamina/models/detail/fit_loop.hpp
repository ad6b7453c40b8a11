// SPDX-License-Identifier: MIT
// lamina: the fit loop: epochs of shuffled batches, validation, callbacks and the divergence guard's reports.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
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

/// `Sequential::fit` on inputs of element type T (S, or bytes converted batch by batch): the
/// loop that drives the training step over epochs and batches. It knows the model's public
/// face (callbacks receive it) and its training step, never a concrete layer.
template <Scalar S, class T>
class FitLoop {
public:
    /// See `Sequential::fit`.
    static History run(Sequential<S>& model, ConstInputRef<T> x, ConstMatrixRef<S> y, const FitOptions<S>& given) {
        if (model.in_fit_)
            throw error("Sequential.fit: this model's fit is already running (a callback called fit); a fit "
                        "cannot run inside another. From a callback, train_on_batch trains one batch, and "
                        "evaluate, predict, loss_and_gradient, compile and set_learning_rate work.");
        model.require_compiled("fit");
        // A copy: a callback that changes the options it was given (its vector of callbacks)
        // changes nothing of this fit.
        const FitOptions<S> options = given;
        const Index n = check_options(model, x, y, options);
        const bool checked_distributions = model.targets_are_distributions();
        History history;
        model.stop_training_.clear();
        const InFit in_fit(model);
        for (const auto& c : options.callbacks) c->on_train_begin(model);
        if (options.initial_epoch >= options.epochs) {
            for (const auto& c : options.callbacks) c->on_train_end(history, model);
            return history;
        }
        FlushSubnormals flush;
        FitLoop(model, x, y, options, n, checked_distributions).train(history);
        for (const auto& c : options.callbacks) c->on_train_end(history, model);
        return history;
    }

private:
    // Marks the model as in fit for the scope (add and a nested fit refuse to run), whichever
    // way the scope is left.
    class InFit {
    public:
        explicit InFit(Sequential<S>& model) noexcept : model_(model) { model_.in_fit_ = true; }
        ~InFit() { model_.in_fit_ = false; }
        InFit(const InFit&) = delete;
        InFit& operator=(const InFit&) = delete;

    private:
        Sequential<S>& model_;
    };

    FitLoop(Sequential<S>& model, ConstInputRef<T> x, ConstMatrixRef<S> y, const FitOptions<S>& options, Index n,
            bool checked_distributions)
        : model_(model), x_(x), y_(y), options_(options), n_(n), batch_(std::min(options.batch_size, n)),
          steps_((n + batch_ - 1) / batch_), trainer_(model.trainer_), threads_(thread_count(options.threads, batch_)),
          team_(&trainer_.team(threads_)),
          // Each batch on the team or on this thread alone, whichever is faster at the time:
          // the weights are the same either way where every row of every product is computed
          // the same way whatever block of rows it is in (lamina's float kernels).
          choice_(team_->size() > 1 && gemm_rows_independent<S>()), own_rng_(options.seed.value_or(0)),
          shuffle_rng_(options.seed ? own_rng_ : model.rng_), random_(model.stack_.random_in_training()),
          checked_distributions_(checked_distributions),
          records_learning_rate_(std::any_of(options.callbacks.begin(), options.callbacks.end(),
                                             [](const auto& c) { return c->logs_learning_rate(); })) {
        resume();  // also after on_train_begin's callbacks
    }

    // Takes up training again after callbacks, which may have used the model: compiled it
    // anew (another optimizer and loss), trained a batch (train_on_batch: another team, the
    // guard disarmed, another seed), computed a gradient or evaluated it. The team, the
    // buffers, the guard and the seed are made this fit's again, and the targets are checked
    // against a new loss. Costs nothing when nothing changed; allocates only what changed.
    void resume() {
        team_ = &trainer_.team(threads_);
        trainer_.prepare(model_.stack_, batch_);
        trainer_.guard().arm(options_.terminate_on_nan, model_.stack_.params().size(), *model_.optimizer_);
        if (random_) trainer_.set_seed(epoch_seed_);
        if (model_.compilations_ != compilations_ && model_.targets_are_distributions() && !checked_distributions_) {
            const char* fn = "fit (after a callback's compile)";
            check_values<S, T>(fn, true, x_, y_);
            const auto& val = options_.validation_data;
            if (val.x) check_values<S, S>(fn, true, *val.x, *val.y);
            if (val.bytes) check_values<S, std::uint8_t>(fn, true, *val.bytes, *val.y);
            checked_distributions_ = true;
        }
        compilations_ = model_.compilations_;
    }

    // Every epoch from initial_epoch, until the last, a callback's stop or a divergence.
    void train(History& history) {
        // With a seed, first the draws that the epochs before initial_epoch made in a fit from
        // epoch 0 (in step with those at the start of every epoch below), so that a resumed
        // fit goes on as one fit would have.
        if (options_.seed)
            for (Index e = 0; e < options_.initial_epoch; ++e) {
                if (options_.shuffle) own_rng_.permutation(order_, n_);
                if (random_) static_cast<void>(own_rng_.bits());
            }
        Progress progress(options_.verbose, options_.epochs, steps_, !model_.metrics_.empty());
        progress.unoptimized_notice();
        const auto fit_start = std::chrono::steady_clock::now();
        for (Index epoch = options_.initial_epoch; epoch < options_.epochs; ++epoch) {
            const auto epoch_start = std::chrono::steady_clock::now();
            for (const auto& c : options_.callbacks) c->on_epoch_begin(int(epoch), model_);
            if (!options_.callbacks.empty()) resume();
            progress.epoch_begin(epoch);
            const auto logs = train_epoch(epoch, progress);
            if (!logs) break;  // diverged: the History keeps the completed epochs
            history.epoch.push_back(int(epoch));
            history.loss.push_back(logs->loss);
            history.accuracy.push_back(logs->accuracy);
            if (records_learning_rate_) history.learning_rate.push_back(model_.optimizer_->learning_rate());
            if (logs->val_loss) {
                history.val_loss.push_back(*logs->val_loss);
                history.val_accuracy.push_back(*logs->val_accuracy);
            }
            const auto now = std::chrono::steady_clock::now();
            history.seconds.push_back(std::chrono::duration<double>(now - epoch_start).count());
            history.alone.push_back(alone_share_);
            // Progress's ETA takes the time so far as that of epochs 0..epoch: scale it to that.
            const double elapsed = std::chrono::duration<double>(now - fit_start).count();
            progress.epoch_end(*logs, elapsed * double(epoch + 1) / double(epoch + 1 - options_.initial_epoch));
            for (const auto& c : options_.callbacks) c->on_epoch_end(int(epoch), history, model_);
            if (model_.stop_training_.get()) break;
            if (!options_.callbacks.empty()) resume();
        }
    }

    // One epoch's batches, then its validation score; nothing when a batch diverged and a
    // callback (TerminateOnNaN) ended training there.
    std::optional<EpochLogs> train_epoch(Index epoch, Progress& progress) {
        if (options_.shuffle) shuffle_rng_.permutation(order_, n_);
        if (random_) trainer_.set_seed(epoch_seed_ = shuffle_rng_.bits());  // this epoch's dropout masks
        auto& guard = trainer_.guard();
        if (guard.armed()) guard.checkpoint(model_.stack_.params(), *model_.optimizer_);
        double loss_sum = 0;
        Index correct = 0, alone = 0;
        for (Index step = 0; step < steps_; ++step) {
            const Index start = step * batch_, rows = std::min(batch_, n_ - start);
            alone += choice_.alone_kept();
            const auto batch_start = std::chrono::steady_clock::now();
            const auto [l, c] = run_batch(step);
            if (rows == batch_)
                choice_.record(std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count());
            if (guard.armed() && (!std::isfinite(l) || guard.diverged())) {
                try {  // the weights of before this batch
                    guard.restore_and_throw(model_.stack_.params(), *model_.optimizer_, epoch, step, steps_, l,
                                            [&](Index s) { return run_batch(s); });
                } catch (const training_error&) {
                    if (!stop_quietly(epoch, step, l)) throw;
                }
                return std::nullopt;
            }
            if (!guard.armed() && !options_.callbacks.empty() && !std::isfinite(l) && stop_quietly(epoch, step, l))
                return std::nullopt;  // Keras's TerminateOnNaN: stop after the batch, weights as they are
            loss_sum += l;
            correct += c;
            progress.batch_end(step + 1, loss_sum / double(start + rows), double(correct) / double(start + rows));
        }
        alone_share_ = double(alone) / double(steps_);
        EpochLogs logs{loss_sum / double(n_), double(correct) / double(n_)};
        if (options_.validation_data || n_ < x_.rows()) {  // validation_data or the held-out rows
            const auto score = score_validation();
            logs.val_loss = score.loss;
            logs.val_accuracy = score.accuracy;
        }
        return logs;
    }

    // Batch `step` of the running epoch: its summed loss and correct predictions.
    std::pair<double, Index> run_batch(Index step) {
        const Index start = step * batch_;
        const StepModel<S> m{model_.stack_, *model_.loss_, model_.fused_softmax_, *model_.optimizer_};
        return trainer_.template run<T>(m, *team_, x_.topRows(n_), y_.topRows(n_),
                                        order_.empty() ? nullptr : order_.data() + start, start,
                                        std::min(batch_, n_ - start), true, choice_.alone());
    }

    // Batch `step` of `epoch` made the loss or a weight NaN or infinite: whether a callback
    // (TerminateOnNaN) ends training there without an exception. Every callback hears of it.
    bool stop_quietly(Index epoch, Index step, double loss) {
        const std::string what = DivergenceGuard<S>::what(loss);
        bool stop = false;
        for (const auto& c : options_.callbacks)
            stop = c->on_divergence(int(epoch), int(step), what.c_str(), model_) || stop;
        resume();  // the epoch may go on
        return stop;
    }

    // The validation score after an epoch: of validation_data, or of the rows from n on.
    Score score_validation() {
        const auto& val = options_.validation_data;
        const Index batch_size = PredictOptions{}.batch_size;
        const auto evaluate = [&]<class U>(ConstInputRef<U> vx, ConstMatrixRef<S> vy) {
            return Inference<S>::template evaluate<U>(model_.stack_, *model_.loss_, model_.fused_softmax_, *team_, vx,
                                                      vy, batch_size);
        };
        if (val.x) return evaluate.template operator()<S>(*val.x, *val.y);
        if (val.bytes) return evaluate.template operator()<std::uint8_t>(*val.bytes, *val.y);
        return evaluate.template operator()<T>(x_.bottomRows(x_.rows() - n_), y_.bottomRows(y_.rows() - n_));
    }

    // Checks fit's arguments and returns how many of the samples it trains on: all of them,
    // or Keras's split_at = floor(samples * (1 - validation_split)), the rest held out
    // before any shuffling.
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
        if (options.epochs > std::numeric_limits<int>::max())
            throw std::invalid_argument("Sequential.fit: epochs must be at most 2147483647 (callbacks and History "
                                        "number epochs as int), found " +
                                        std::to_string(options.epochs));
        check_values<S, T>("fit", distributions, x, y);
        const auto& val = options.validation_data;
        if (val.x && val.bytes)
            throw std::invalid_argument("Sequential.fit: validation_data has both x (as S) and bytes; give one");
        if ((val.x || val.bytes) && !val.y)
            throw std::invalid_argument("Sequential.fit: validation_data has x but no y (null)");
        if (!(val.x || val.bytes) && val.y)
            throw std::invalid_argument("Sequential.fit: validation_data has y but no x (null)");
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

    Sequential<S>& model_;
    ConstInputRef<T> x_;
    ConstMatrixRef<S> y_;
    const FitOptions<S>& options_;   // run's copy
    const Index n_, batch_, steps_;  // training samples (before a validation split), batch size, batches
    TrainingStep<S>& trainer_;
    const int threads_;  // the team's size
    Team* team_;         // the trainer's team of threads_ (a callback's train_on_batch may replace it)
    TeamChoice choice_;
    Random own_rng_;                    // the shuffling's own stream, with a fit seed
    Random& shuffle_rng_;               // own_rng_, or the model's
    const bool random_;                 // a layer draws at random in training
    std::vector<Index> order_;          // this epoch's order of the samples (empty: in order)
    double alone_share_ = 0;            // the share of the last epoch's batches that ran on one thread
    std::uint64_t epoch_seed_ = 0;      // the seed of the running epoch's random draws (Dropout)
    std::uint64_t compilations_ = 0;    // the model's compile count when resume last looked
    bool checked_distributions_;        // the targets were checked as one-hot rows
    const bool records_learning_rate_;  // a callback wants History::learning_rate
};

}  // namespace lamina::detail
