// SPDX-License-Identifier: MIT
// lamina: the set of losses a model can be compiled with, by value or by Keras's name.
#pragma once

#include <cassert>
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <lamina/core/types.hpp>
#include <lamina/losses/categorical_crossentropy.hpp>
#include <lamina/losses/mean_squared_error.hpp>

namespace lamina {

/// A loss for `Sequential::compile`: `loss::categorical_crossentropy`,
/// `loss::CategoricalCrossentropy{.from_logits = true}`, `loss::mean_squared_error`, or a
/// Keras name as a string (which gives the loss with its default options).
class Loss {
public:
    using Kind = std::variant<loss::CategoricalCrossentropy, loss::MeanSquaredError>;
    /// A loss's options by their Keras names; booleans are stored as 0 or 1.
    using Options = std::vector<std::pair<std::string, double>>;

    Loss(loss::CategoricalCrossentropy l) : kind_(l) {}  // NOLINT: implicit by design
    Loss(loss::MeanSquaredError l) : kind_(l) {}         // NOLINT
    /// \throws std::invalid_argument for an unknown name (the message lists the known ones).
    Loss(std::string_view name) : kind_(from_name("compile", name)) {}  // NOLINT
    Loss(const char* name) : Loss(std::string_view(name)) {}            // NOLINT

    [[nodiscard]] const Kind& kind() const noexcept { return kind_; }
    [[nodiscard]] std::string_view name() const {
        return std::visit([](const auto& l) { return l.name; }, kind_);
    }

    /// Whether the model should hand this loss the logits before its final softmax (the
    /// fused path) when it ends in one: true for categorical cross-entropy on probabilities
    /// (from_logits == false), false otherwise.
    [[nodiscard]] bool fuses_softmax() const noexcept {
        const auto* cce = std::get_if<loss::CategoricalCrossentropy>(&kind_);
        return cce && !cce->from_logits;
    }

    /// The summed loss of the rows of `out` against `y`, with one dispatch on the loss: for
    /// categorical cross-entropy `logits_loss` when `softmax_fused` or `from_logits`, else
    /// `probabilities_loss`; for mean squared error `evaluate`. When `grad` is not null, the
    /// gradient of the batch mean into `*grad`; when `row_losses` is not null, each row's
    /// loss into row_losses[row].
    /// Shapes: out, y and grad (rows x outputs); `batch` is the whole batch's size (the
    /// mean's divisor), which may exceed `rows` when the batch is split across threads.
    /// \param softmax_fused `out` holds the logits before the model's final softmax; only
    ///        allowed when `fuses_softmax()`.
    template <Scalar S>
    S compute(ConstMatrixRef<S> out, ConstMatrixRef<S> y, MatrixRef<S>* grad, Index batch, S* row_losses,
              bool softmax_fused) const {
        assert(!softmax_fused || fuses_softmax());
        return std::visit(
            [&](const auto& l) -> S {
                using L = std::decay_t<decltype(l)>;
                if constexpr (std::is_same_v<L, loss::CategoricalCrossentropy>) {
                    if (softmax_fused || l.from_logits)
                        return L::template logits_loss<S>(out, y, grad, batch, row_losses);
                    return L::template probabilities_loss<S>(out, y, grad, batch, row_losses);
                } else {
                    return L::template evaluate<S>(out, y, grad, batch, row_losses);
                }
            },
            kind_);
    }

    /// The loss's options by their Keras names, for a model file: {{"from_logits", 0 or 1}}
    /// for categorical cross-entropy, none for mean squared error.
    [[nodiscard]] Options get_config() const {
        return std::visit(
            [](const auto& l) {
                Options config;
                for (const auto& [field, member] : l.options()) config.emplace_back(field, l.*member ? 1.0 : 0.0);
                return config;
            },
            kind_);
    }

    /// The loss named `name` (a Keras name, as `Loss(name)` takes) with the options in
    /// `config`, as `get_config` writes them; an option left out keeps its default.
    /// \throws std::invalid_argument for an unknown loss name, a field the loss does not
    ///         have, a field given twice, or a boolean that is not 0 or 1.
    static Loss from_config(std::string_view name, const Options& config) {
        Kind kind = from_name("Loss.from_config", name);
        std::visit(
            [&](auto& l) {
                const auto options = l.options();
                std::vector<bool> seen(options.size(), false);
                for (const auto& [field, value] : config) {
                    std::size_t k = 0;
                    while (k < options.size() && options[k].first != field) ++k;
                    if (k == options.size()) {
                        std::string known;
                        for (const auto& option : options)
                            known += (known.empty() ? "" : ", ") + std::string(option.first);
                        throw std::invalid_argument("Loss.from_config: " + std::string(l.name) + " has no option '" +
                                                    field + "'; known: " + (known.empty() ? "none" : known));
                    }
                    if (seen[k])
                        throw std::invalid_argument("Loss.from_config: " + std::string(l.name) + "'s option '" + field +
                                                    "' is given twice");
                    seen[k] = true;
                    if (value != 0.0 && value != 1.0) {
                        std::ostringstream found;
                        found.precision(17);
                        found << value;
                        throw std::invalid_argument("Loss.from_config: " + std::string(l.name) + "'s option '" + field +
                                                    "' is a boolean, expected 0 or 1; found " + found.str());
                    }
                    l.*(options[k].second) = value == 1.0;
                }
            },
            kind);
        return Loss(std::move(kind));
    }

private:
    explicit Loss(Kind kind) : kind_(std::move(kind)) {}

    static Kind from_name(std::string_view fn, std::string_view name) {
        if (name == loss::CategoricalCrossentropy::name) return loss::categorical_crossentropy;
        if (name == loss::MeanSquaredError::name || name == "mse") return loss::mean_squared_error;
        throw std::invalid_argument(std::string(fn) + ": unknown loss '" + std::string(name) +
                                    "'; known: categorical_crossentropy, mean_squared_error (mse)");
    }

    Kind kind_;
};

}  // namespace lamina
