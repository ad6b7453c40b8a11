// SPDX-License-Identifier: MIT
// lamina: the metrics a model can report, by value or by Keras's name.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <lamina/metrics/accuracy.hpp>

namespace lamina {

/// A metric for `Sequential::compile`: `metric::accuracy`, or "accuracy" / "acc".
class Metric {
public:
    Metric(metric::Accuracy) {}  // NOLINT: implicit by design
    /// \throws std::invalid_argument for an unknown name (the message lists the known ones).
    Metric(std::string_view name) {  // NOLINT
        if (name != metric::Accuracy::name && name != "acc")
            throw std::invalid_argument("compile: unknown metric '" + std::string(name) + "'; known: accuracy (acc)");
    }
    Metric(const char* name) : Metric(std::string_view(name)) {}  // NOLINT
    [[nodiscard]] std::string_view name() const noexcept { return metric::Accuracy::name; }
};

}  // namespace lamina
