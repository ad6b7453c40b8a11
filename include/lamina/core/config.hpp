// SPDX-License-Identifier: MIT
// lamina: a layer's configuration as named, typed fields (Keras's `get_config()`), and a checked reader of it.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <lamina/core/types.hpp>

namespace lamina {

/// One field's value: a boolean, an integer, a real number, a text, or a list of integers
/// (a shape) or of reals (a regularizer's factors). These are the JSON values Keras's configs
/// use, less nesting.
using ConfigValue = std::variant<bool, Index, double, std::string, std::vector<Index>, std::vector<double>>;

namespace detail {

/// `value` as the shortest text that reads back as it ("0.001", "1e-07", "inf", "nan").
inline std::string number_text(double value) {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

/// The name of what a ConfigValue alternative holds, for error messages.
inline constexpr std::string_view config_type_names[] = {"a boolean", "an integer",         "a number",
                                                         "a text",    "a list of integers", "a list of numbers"};

}  // namespace detail

/// A configuration as Keras's `layer.get_config()` gives one: fields in order, each a name
/// (Keras's: "units", "activation", "rate") and a value. Listed once per layer, it feeds
/// the model file, the registry that rebuilds the layer, and `summary()`'s text.
class Config {
public:
    using Field = std::pair<std::string, ConfigValue>;

    Config() = default;
    Config(std::initializer_list<Field> fields) : fields_(fields) {}

    /// Sets `name` to `value`, replacing an earlier value of that name.
    Config& set(std::string name, ConfigValue value) {
        for (auto& [n, v] : fields_)
            if (n == name) {
                v = std::move(value);
                return *this;
            }
        fields_.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    /// The value of `name`, or null when there is none.
    [[nodiscard]] const ConfigValue* find(std::string_view name) const noexcept {
        for (const auto& [n, v] : fields_)
            if (n == name) return &v;
        return nullptr;
    }
    [[nodiscard]] const std::vector<Field>& fields() const noexcept { return fields_; }
    [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }

    /// One line for `summary()`: "units: 100, activation: relu".
    [[nodiscard]] std::string text() const {
        std::string s;
        for (const auto& [n, v] : fields_) s += (s.empty() ? "" : ", ") + n + ": " + value_text(v);
        return s;
    }
    /// A value as `text` shows it: true, 100, 0.5, relu, (28, 28, 1), (0, 0.01).
    [[nodiscard]] static std::string value_text(const ConfigValue& v) {
        return std::visit(
            [](const auto& x) -> std::string {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
                else if constexpr (std::is_same_v<T, Index>) return std::to_string(x);
                else if constexpr (std::is_same_v<T, double>) return detail::number_text(x);
                else if constexpr (std::is_same_v<T, std::string>) return x;
                else {
                    std::string s = "(";
                    for (std::size_t i = 0; i < x.size(); ++i) {
                        if (i > 0) s += ", ";
                        if constexpr (std::is_same_v<T, std::vector<Index>>) s += std::to_string(x[i]);
                        else s += detail::number_text(x[i]);
                    }
                    return s + ")";
                }
            },
            v);
    }

    friend bool operator==(const Config&, const Config&) = default;

private:
    std::vector<Field> fields_;
};

/// Reads a layer's fields out of a Config, as a layer's `from_config` does: each field of
/// the expected type, a default where it is missing, and at the end (`finish`) a refusal of
/// any field that was not read, so that nothing in a file is silently ignored.
///
/// \code
/// ConfigReader r(config, "Dense");
/// const Index units = r.get<Index>("units");
/// const double rate = r.get<double>("rate", 0.0);
/// r.finish();
/// \endcode
class ConfigReader {
public:
    /// \param where what error messages name: the layer kind, e.g. "Dense".
    ConfigReader(const Config& config, std::string where)
        : config_(config), where_(std::move(where)), read_(config.fields().size(), false) {}

    /// The value of `name`, of type T (an integer is taken as a number too).
    /// \throws std::invalid_argument when it is missing or of another type.
    template <class T>
    [[nodiscard]] T get(std::string_view name) {
        const ConfigValue* v = take(name);
        if (v == nullptr) throw std::invalid_argument(where_ + ": the config lacks '" + std::string(name) + "'");
        return as<T>(name, *v);
    }
    /// The value of `name`, or `fallback` when the config has none.
    template <class T>
    [[nodiscard]] T get(std::string_view name, T fallback) {
        const ConfigValue* v = take(name);
        return v == nullptr ? fallback : as<T>(name, *v);
    }
    /// \throws std::invalid_argument naming the first field that no `get` read.
    void finish() const {
        for (std::size_t i = 0; i < read_.size(); ++i)
            if (!read_[i])
                throw std::invalid_argument(where_ + ": unknown config field '" + config_.fields()[i].first + "'");
    }

private:
    const ConfigValue* take(std::string_view name) {
        const auto& fields = config_.fields();
        for (std::size_t i = 0; i < fields.size(); ++i)
            if (fields[i].first == name) {
                read_[i] = true;
                return &fields[i].second;
            }
        return nullptr;
    }
    template <class T>
    T as(std::string_view name, const ConfigValue& v) const {
        if (const T* x = std::get_if<T>(&v)) return *x;
        if constexpr (std::is_same_v<T, double>)
            if (const Index* i = std::get_if<Index>(&v)) return double(*i);
        throw std::invalid_argument(where_ + ": config field '" + std::string(name) + "' is " +
                                    std::string(detail::config_type_names[v.index()]) + ", expected " +
                                    std::string(detail::config_type_names[ConfigValue(T{}).index()]));
    }

    const Config& config_;
    std::string where_;
    std::vector<bool> read_;
};

}  // namespace lamina
