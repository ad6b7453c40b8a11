// SPDX-License-Identifier: MIT
// lamina: the set of losses a model can be compiled with, by value or by Keras's name.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include <lamina/losses/categorical_crossentropy.hpp>
#include <lamina/losses/mean_squared_error.hpp>

namespace lamina {

/// A loss for `Sequential::compile`: `loss::categorical_crossentropy`,
/// `loss::mean_squared_error`, or either's Keras name as a string.
class Loss {
public:
    using Kind = std::variant<loss::CategoricalCrossentropy, loss::MeanSquaredError>;

    Loss(loss::CategoricalCrossentropy l) : kind_(l) {}  // NOLINT: implicit by design
    Loss(loss::MeanSquaredError l) : kind_(l) {}         // NOLINT
    /// \throws std::invalid_argument for an unknown name (the message lists the known ones).
    Loss(std::string_view name) : kind_(from_name(name)) {}   // NOLINT
    Loss(const char* name) : Loss(std::string_view(name)) {}  // NOLINT

    [[nodiscard]] const Kind& kind() const noexcept { return kind_; }
    [[nodiscard]] std::string_view name() const {
        return std::visit([](const auto& l) { return l.name; }, kind_);
    }

private:
    static Kind from_name(std::string_view name) {
        if (name == loss::CategoricalCrossentropy::name) return loss::categorical_crossentropy;
        if (name == loss::MeanSquaredError::name || name == "mse") return loss::mean_squared_error;
        throw std::invalid_argument("compile: unknown loss '" + std::string(name) +
                                    "'; known: categorical_crossentropy, mean_squared_error (mse)");
    }

    Kind kind_;
};

}  // namespace lamina
