// SPDX-License-Identifier: MIT
// lamina: the interface of an optimizer's per-model state, updating the flat parameter buffer.
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <lamina/core/config.hpp>  // detail::number_text
#include <lamina/core/error.hpp>
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
    /// Sizes the slots for `n` parameters, at their initial values (zero, or e.g. Adagrad's
    /// `initial_accumulator_value`), and sets the step count to 0.
    virtual void build(Index n) = 0;
    /// Advances the step count; called once per batch before any `update`.
    virtual void begin_step() = 0;
    /// Updates w[offset, offset + size) from g[offset, offset + size). Element-wise: each
    /// parameter's step depends only on its own gradient and slots, so ranges may be updated
    /// concurrently and in any order. The same ranges give the same bits every time; other
    /// ranges may differ in the last bit where an optimizer takes a square root (Adam,
    /// RMSprop, Adagrad), as Eigen's vectorised sqrt (rsqrt plus Newton steps on AVX-512
    /// under EIGEN_FAST_MATH, its default) is within a few ulps of the scalar std::sqrt
    /// that a range's unaligned ends use.
    virtual void update(S* w, const S* g, Index offset, Index size) = 0;
    /// Every per-parameter vector that `update` changes (SGD's velocity, Adam's m and v),
    /// each laid out as the parameters; empty when there are none. The model saves and
    /// restores them with the weights when a step diverges, range by range as `update` goes,
    /// so this is called per parameter range per batch: it allocates nothing. The span and
    /// the pointers stay valid until the next `build`.
    [[nodiscard]] virtual std::span<Vector<S>* const> slots() noexcept { return {}; }
    /// A one-line description, e.g. "SGD(learning_rate=0.01)".
    [[nodiscard]] virtual std::string config() const = 0;

    /// The learning rate of the steps to come, as Keras's `optimizer.learning_rate`.
    /// \throws lamina::error for an optimizer without one (none of lamina's).
    [[nodiscard]] virtual double learning_rate() const {
        throw error("Optimizer.learning_rate: " + config() + " has no learning rate");
    }
    /// Sets the learning rate from the next step on, as Keras's `optimizer.learning_rate = lr`
    /// (what LearningRateScheduler and ReduceLROnPlateau do between epochs); the step count
    /// and the slots stay.
    /// \throws std::invalid_argument for a rate the optimizer refuses (lamina's: not positive
    ///         and finite), changing nothing; lamina::error for an optimizer without one.
    virtual void set_learning_rate(double /*rate*/) {
        throw error("Optimizer.set_learning_rate: " + config() + " has no learning rate");
    }

    /// The class name and hyperparameters: `optimizer_from_config(get_config())` builds an
    /// optimizer that takes the same steps.
    [[nodiscard]] virtual OptimizerConfig get_config() const = 0;
    /// A copy of the step count and the slots.
    [[nodiscard]] virtual OptimizerState<S> get_state() const = 0;
    /// Replaces the step count and the slots with `state` (after `build`), as they were
    /// when `get_state` copied them out.
    /// \throws std::invalid_argument if `state` has a step count outside [0, 2^53], or slots that
    ///         differ in name, number or length from what `build` made; nothing changes then.
    virtual void set_state(const OptimizerState<S>& state) = 0;
};

namespace detail {

/// What a numeric hyperparameter must satisfy: the test, and the words of the refusal
/// ("<optimizer>: <field> <must>, found <value>"). `positive`, `non_negative` and
/// `unit_interval` are the ones in use; a new optimizer may define its own.
struct Rule {
    bool (*holds)(double value);
    std::string_view must;
};

inline bool is_positive_and_finite(double value) { return value > 0 && std::isfinite(value); }
inline bool is_non_negative_and_finite(double value) { return value >= 0 && std::isfinite(value); }
inline bool is_in_unit_interval(double value) { return value >= 0 && value < 1; }

/// Learning rates, epsilons: > 0 and finite.
inline constexpr Rule positive{&is_positive_and_finite, "must be positive and finite"};
/// Decays, initial accumulators: >= 0 and finite.
inline constexpr Rule non_negative{&is_non_negative_and_finite, "must be >= 0 and finite"};
/// Momenta, betas, rho: in [0, 1).
inline constexpr Rule unit_interval{&is_in_unit_interval, "must be in [0, 1)"};

/// The rule of a bool hyperparameter: any bool is valid; a config holds it as 0 or 1, and
/// `from_config` refuses any other number.
struct Boolean {};
inline constexpr Boolean boolean{};

/// One entry of an optimizer spec's hyperparameter list: the Keras name, the member, the rule.
template <class Spec, class T, class R>
struct Hyperparameter {
    std::string_view name;
    T Spec::*member;
    R rule;
};

/// An entry of a spec's `hyperparameters` list: a double member with a Rule, or a bool
/// member with `boolean`. Every spec lists its hyperparameters once, in the order that
/// `get_config` (and so the model file) and `config()` give them:
///
/// \code
/// struct SGD {
///     double learning_rate = 0.01;
///     bool nesterov = false;
///     static constexpr std::string_view name = "SGD";
///     static constexpr auto hyperparameters =
///         std::tuple{detail::hyperparameter("learning_rate", &SGD::learning_rate, detail::positive),
///                    detail::hyperparameter("nesterov", &SGD::nesterov, detail::boolean)};
///     void validate() const { detail::validate_hyperparameters(*this); }
///     static SGD from_config(const OptimizerConfig& c) { return detail::spec_from_config<SGD>(c); }
/// };
/// \endcode
///
/// A rule that relates two fields goes into the spec's `validate()`, after
/// `validate_hyperparameters`: `from_config` and `build` both call `validate()`.
template <class Spec, class T, class R>
constexpr Hyperparameter<Spec, T, R> hyperparameter(std::string_view name, T Spec::*member, R rule) {
    static_assert((std::is_same_v<T, double> && std::is_same_v<R, Rule>) ||
                      (std::is_same_v<T, bool> && std::is_same_v<R, Boolean>),
                  "a hyperparameter is a double with a Rule or a bool with detail::boolean");
    return {name, member, rule};
}

/// Calls `f(h)` for every entry h of `Spec::hyperparameters`, in list order.
template <class Spec, class F>
void for_each_hyperparameter(F&& f) {
    std::apply([&](const auto&... h) { (f(h), ...); }, Spec::hyperparameters);
}

/// Checks every double hyperparameter of `spec` against its rule, in list order.
/// \throws std::invalid_argument "<optimizer>: <field> <must>, found <value>" for the first
///         that fails, e.g. "Adam: beta_1 must be in [0, 1), found 1.5".
template <class Spec>
void validate_hyperparameters(const Spec& spec) {
    for_each_hyperparameter<Spec>([&](const auto& h) {
        if constexpr (std::is_same_v<decltype(h.rule), Rule>) {
            const double value = spec.*h.member;
            if (!h.rule.holds(value))
                throw std::invalid_argument(std::string(Spec::name) + ": " + std::string(h.name) + " " +
                                            std::string(h.rule.must) + ", found " + number_text(value));
        }
    });
}

/// The spec that `config` describes (as `config_of` writes it): hyperparameters it lacks
/// keep their defaults; then `Spec::validate()`.
/// \throws std::invalid_argument "<optimizer>.from_config: ..." if `config` is for another
///         optimizer, names a hyperparameter that is not listed or names one twice, or gives
///         a boolean other than 0 or 1; or what `validate()` throws.
template <class Spec>
[[nodiscard]] Spec spec_from_config(const OptimizerConfig& config) {
    const std::string where = std::string(Spec::name) + ".from_config: ";
    if (config.name != Spec::name)
        throw std::invalid_argument(where + "the config is for '" + config.name + "', not '" + std::string(Spec::name) +
                                    "'");
    constexpr auto known =
        std::apply([](const auto&... h) { return std::array<std::string_view, sizeof...(h)>{h.name...}; },
                   Spec::hyperparameters);
    // The given values in list order (empty where not given).
    std::array<std::optional<double>, known.size()> values;
    for (const auto& [name, value] : config.hyperparameters) {
        std::size_t which = 0;
        while (which < known.size() && known[which] != name) ++which;
        if (which == known.size()) {
            std::string list;
            for (const auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            throw std::invalid_argument(where + "unknown hyperparameter '" + name + "'; known: " + list);
        }
        if (values[which]) throw std::invalid_argument(where + "hyperparameter '" + name + "' given twice");
        values[which] = value;
    }
    Spec spec;
    std::size_t i = 0;
    for_each_hyperparameter<Spec>([&](const auto& h) {
        const std::optional<double>& value = values[i++];
        if (!value) return;
        if constexpr (std::is_same_v<decltype(h.rule), Boolean>) {
            if (*value != 0 && *value != 1)
                throw std::invalid_argument(where + std::string(h.name) + " must be 0 or 1, found " +
                                            number_text(*value));
            spec.*h.member = *value == 1;
        } else {
            spec.*h.member = *value;
        }
    });
    spec.validate();
    return spec;
}

/// The name and hyperparameters of `spec` in list order, booleans as 0 or 1.
template <class Spec>
[[nodiscard]] OptimizerConfig config_of(const Spec& spec) {
    OptimizerConfig config{std::string(Spec::name), {}};
    for_each_hyperparameter<Spec>(
        [&](const auto& h) { config.hyperparameters.emplace_back(std::string(h.name), double(spec.*h.member)); });
    return config;
}

/// `spec` in one line, its hyperparameters in list order:
/// "Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07, amsgrad=false)".
template <class Spec>
[[nodiscard]] std::string config_text(const Spec& spec) {
    std::string text;
    for_each_hyperparameter<Spec>([&](const auto& h) {
        text += (text.empty() ? "" : ", ") + std::string(h.name) + "=";
        if constexpr (std::is_same_v<decltype(h.rule), Boolean>) text += spec.*h.member ? "true" : "false";
        else text += number_text(spec.*h.member);
    });
    return std::string(Spec::name) + "(" + text + ")";
}

/// The most steps an optimizer's state may count: 2^53, the last count a double (Adam's bias
/// correction, SGD's decay) tells from the next. No training reaches it; a loaded state
/// above it is refused, so the count never overflows.
inline constexpr std::int64_t max_iterations = std::int64_t(1) << 53;

/// Checks a `set_state` argument against the slots an optimizer built: the step count is
/// in [0, max_iterations], and the slots are, in order, `names` with `size` values each.
/// \throws std::invalid_argument naming the optimizer, the expected and the found slots.
template <Scalar S>
void check_state(std::string_view optimizer, const OptimizerState<S>& state, std::span<const std::string_view> names,
                 Index size) {
    const std::string where = std::string(optimizer) + ".set_state: ";
    if (state.iterations < 0)
        throw std::invalid_argument(where + "iterations must be >= 0, found " + std::to_string(state.iterations));
    if (state.iterations > max_iterations)
        throw std::invalid_argument(where + "iterations must be at most 2^53, found " +
                                    std::to_string(state.iterations));
    std::string list;
    for (const auto n : names) list += (list.empty() ? "" : ", ") + std::string(n);
    if (state.slots.size() != names.size())
        throw std::invalid_argument(where + "expected " + std::to_string(names.size()) + " slots (" + list +
                                    "), found " + std::to_string(state.slots.size()));
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto& [name, values] = state.slots[i];
        if (name != names[i] || values.size() != size)
            throw std::invalid_argument(where + "expected slot " + std::to_string(i) + " to be '" +
                                        std::string(names[i]) + "' of " + std::to_string(size) + " values, found '" +
                                        name + "' of " + std::to_string(values.size()));
    }
}

/// An optimizer's per-parameter vectors in use (of at most N), with their Keras names, in
/// order: what its `slots()`, `get_state` and `set_state` go through. It points at vectors
/// of its owner, so it is neither copied nor moved.
template <Scalar S, std::size_t N>
class NamedSlots {
public:
    NamedSlots() = default;
    NamedSlots(const NamedSlots&) = delete;
    NamedSlots& operator=(const NamedSlots&) = delete;

    /// Puts `slot` in use under `name`, after the slots added before.
    void add(Vector<S>& slot, std::string_view name) noexcept {
        slots_[count_] = &slot;
        names_[count_] = name;
        ++count_;
    }
    /// Makes every slot in use `n` copies of `value`.
    void fill(Index n, S value) {
        for (std::size_t i = 0; i < count_; ++i) *slots_[i] = Vector<S>::Constant(n, value);
        size_ = n;
    }
    /// The slots in use, for `Optimizer::slots()`.
    [[nodiscard]] std::span<Vector<S>* const> span() noexcept { return {slots_.data(), count_}; }
    /// A state of `iterations` steps with a copy of every slot in use.
    [[nodiscard]] OptimizerState<S> state(std::int64_t iterations) const {
        OptimizerState<S> state{iterations, {}};
        for (std::size_t i = 0; i < count_; ++i) state.slots.emplace_back(std::string(names_[i]), *slots_[i]);
        return state;
    }
    /// Copies the slots of `state` in, after `check_state` (nothing changes when it throws).
    void set(std::string_view optimizer, const OptimizerState<S>& state) {
        check_state<S>(optimizer, state, std::span<const std::string_view>(names_.data(), count_), size_);
        for (std::size_t i = 0; i < count_; ++i) *slots_[i] = state.slots[i].second;
    }

private:
    std::array<Vector<S>*, N> slots_{};  // the first count_ are in use, named names_
    std::array<std::string_view, N> names_{};
    std::size_t count_ = 0;
    Index size_ = 0;  // the values of each, as `fill` made them
};

/// The part of an optimizer's state that its spec decides: the spec, and from the spec's
/// hyperparameter list `get_config` and `config`, the same for every optimizer. A state
/// class (SgdState, AdamState, ...) derives from it and adds its slots and its update.
template <Scalar S, class Spec>
class OptimizerOf : public Optimizer<S> {
public:
    [[nodiscard]] OptimizerConfig get_config() const final { return config_of(spec_); }
    [[nodiscard]] std::string config() const final { return config_text(spec_); }
    [[nodiscard]] double learning_rate() const override {
        if constexpr (requires { spec_.learning_rate; }) return spec_.learning_rate;
        else return Optimizer<S>::learning_rate();
    }
    void set_learning_rate(double rate) override {
        if constexpr (requires { spec_.learning_rate; }) {
            Spec changed = spec_;
            changed.learning_rate = rate;
            changed.validate();
            spec_ = changed;
        } else {
            Optimizer<S>::set_learning_rate(rate);
        }
    }

protected:
    explicit OptimizerOf(const Spec& spec) : spec_(spec) {}

    Spec spec_;  // as validated by Spec::build
};

}  // namespace detail

}  // namespace lamina
