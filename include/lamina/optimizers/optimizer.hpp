// SPDX-License-Identifier: MIT
// lamina: the interface of an optimizer's per-model state, updating the flat parameter buffer.
#pragma once

#include <memory>
#include <string>

#include <lamina/core/types.hpp>

namespace lamina {

/// The state of an optimizer for one model: hyperparameters, step count, slots such as
/// momentum. Built by an optimizer spec (`SGD{...}`) when a model is compiled.
///
/// Per batch the model calls `begin_step()` once, then `update` over disjoint ranges of
/// the flat buffers, possibly from several threads at once.
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
};

}  // namespace lamina
