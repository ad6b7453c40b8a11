// SPDX-License-Identifier: MIT
// lamina: the interface of an optimizer's per-model state, updating the flat parameter buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <lamina/core/types.hpp>

namespace lamina {

/// An optimizer's settings as plain data, as Keras's `optimizer.get_config()`: its class
/// name and its hyperparameters by name (booleans as 0 or 1). Enough to build the same
/// optimizer again (`optimizer_from_config`); saved in model files.
struct OptimizerConfig {
    /// The class name, e.g. "SGD".
    std::string name;
    /// Every hyperparameter, e.g. {{"learning_rate", 0.01}, {"momentum", 0}, ...}.
    std::vector<std::pair<std::string, double>> hyperparameters;
};

/// What an optimizer has learned while training, as plain data: the number of steps taken
/// and its per-parameter slots, so that training can stop, be saved, and go on exactly
/// where it was.
template <Scalar S>
struct OptimizerState {
    /// Steps taken so far (Keras `optimizer.iterations`).
    std::int64_t iterations = 0;
    /// Named per-parameter vectors, each laid out as the model's flat parameter buffer,
    /// e.g. {"momentum", velocity} for SGD with momentum; empty when there are none.
    std::vector<std::pair<std::string, Vector<S>>> slots;
};

/// The state of an optimizer for one model: hyperparameters, step count, slots such as
/// momentum. Built by an optimizer spec (`SGD{...}`) when a model is compiled.
///
/// Per batch the model calls `begin_step()` once, then `update` over disjoint ranges of
/// the flat buffers, possibly from several threads at once. Saving and loading go through
/// `get_config`, `get_state` and `set_state`, once per model, never per parameter.
template <Scalar S>
class Optimizer {
public:
    virtual ~Optimizer() = default;
    /// Sizes the slots for `n` parameters (all zero).
    virtual void build(Index n) = 0;
    /// Advances the step count; called once per batch before any `update`.
    virtual void begin_step() = 0;
    /// Updates w[offset, offset + size) from g[offset, offset + size).
    virtual void update(S* w, const S* g, Index offset, Index size) = 0;
    /// The per-parameter state that `update` changes (momentum), laid out as the parameters,
    /// or null when there is none; the model saves and restores it with the weights when a
    /// step diverges.
    [[nodiscard]] virtual Vector<S>* slots() noexcept { return nullptr; }
    /// A one-line description, e.g. "SGD(learning_rate=0.01)".
    [[nodiscard]] virtual std::string config() const = 0;

    /// The class name and hyperparameters: `optimizer_from_config(get_config())` builds an
    /// optimizer that takes the same steps.
    [[nodiscard]] virtual OptimizerConfig get_config() const = 0;
    /// A copy of the step count and the slots.
    [[nodiscard]] virtual OptimizerState<S> get_state() const = 0;
    /// Replaces the step count and the slots with `state` (after `build`), as they were
    /// when `get_state` copied them out.
    /// \throws std::invalid_argument if `state` has a negative step count, or slots that
    ///         differ in name, number or length from what `build` made; nothing changes then.
    virtual void set_state(const OptimizerState<S>& state) = 0;
};

}  // namespace lamina
