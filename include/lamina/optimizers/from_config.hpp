// SPDX-License-Identifier: MIT
// lamina: builds an optimizer from its saved config (name and hyperparameters): the one registry of optimizers.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <lamina/core/types.hpp>
#include <lamina/optimizers/adagrad.hpp>
#include <lamina/optimizers/adam.hpp>
#include <lamina/optimizers/optimizer.hpp>
#include <lamina/optimizers/rmsprop.hpp>
#include <lamina/optimizers/sgd.hpp>

namespace lamina {

/// The optimizer that `config` describes (as `Optimizer::get_config()` wrote it), for a
/// model of scalar `S`, with fresh state (call `build`, then `set_state` to resume one).
/// A new optimizer is added here, by its name, to become loadable from model files.
/// \param config the class name and hyperparameters.
/// \throws std::invalid_argument naming the problem for an unknown name, an unknown,
///         repeated or out-of-range hyperparameter.
template <Scalar S>
[[nodiscard]] std::unique_ptr<Optimizer<S>> optimizer_from_config(const OptimizerConfig& config) {
    if (config.name == "SGD") return SGD::from_config(config).template build<S>();
    if (config.name == "Adam") return Adam::from_config(config).template build<S>();
    if (config.name == "RMSprop") return RMSprop::from_config(config).template build<S>();
    if (config.name == "Adagrad") return Adagrad::from_config(config).template build<S>();
    throw std::invalid_argument("optimizer_from_config: unknown optimizer '" + config.name +
                                "'; known: SGD, Adam, RMSprop, Adagrad");
}

namespace detail {

/// An optimizer spec (as `SGD{...}` or `Adam{...}`) made of a config, for `Sequential::compile`.
struct OptimizerFromConfig {
    const OptimizerConfig& config;
    template <Scalar S>
    [[nodiscard]] std::unique_ptr<Optimizer<S>> build() const {
        return optimizer_from_config<S>(config);
    }
};

}  // namespace detail

}  // namespace lamina
