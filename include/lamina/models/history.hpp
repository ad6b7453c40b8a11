// SPDX-License-Identifier: MIT
// lamina: what fit returns: per-epoch loss and metrics, as Keras's History.
#pragma once

#include <array>
#include <string_view>
#include <vector>

namespace lamina {

/// The figures of every epoch of a `fit`, as Keras's `History.history`. Validation vectors
/// are empty when no validation data was given.
///
/// \code
/// auto history = model.fit(x, y, {.epochs = 10, .validation_split = 0.2});
/// if (const auto* val_loss = history.get("val_loss")) std::cout << val_loss->back();
/// \endcode
struct History {
    std::vector<int> epoch;            ///< 0-based epoch numbers (from fit's initial_epoch)
    std::vector<double> loss;          ///< mean training loss over the epoch's batches
    std::vector<double> accuracy;      ///< training accuracy over the epoch
    std::vector<double> val_loss;      ///< loss on the validation data after the epoch
    std::vector<double> val_accuracy;  ///< accuracy on the validation data after the epoch
    std::vector<double> seconds;       ///< wall time of the epoch (training and validation)
    /// The fraction of the epoch's batches that fit gave the calling thread alone because it
    /// had found that faster than its team of threads (0 on one thread; not counting the
    /// trials of 8 batches every 512 that find it out; see FitOptions::threads).
    std::vector<double> alone;
    /// The optimizer's learning rate during each epoch, as Keras's logs["learning_rate"]:
    /// recorded only when a callback asks for it (`Callback::logs_learning_rate`), as
    /// LearningRateScheduler and ReduceLROnPlateau do; empty otherwise.
    std::vector<double> learning_rate;

    /// The figures recorded under `name`, as Keras's `history.history[name]`.
    /// \param name "loss", "accuracy", "val_loss", "val_accuracy" or "learning_rate".
    /// \returns the vector of that name (empty for val_* when fit had no validation data),
    ///          or nullptr for any other name.
    [[nodiscard]] const std::vector<double>* get(std::string_view name) const noexcept {
        if (name == "loss") return &loss;
        if (name == "accuracy") return &accuracy;
        if (name == "val_loss") return &val_loss;
        if (name == "val_accuracy") return &val_accuracy;
        if (name == "learning_rate") return &learning_rate;
        return nullptr;
    }

    /// The names `get` knows whose vectors hold figures, in Keras's order (loss, accuracy,
    /// val_loss, val_accuracy, learning_rate), as Keras's `history.history.keys()`.
    [[nodiscard]] std::vector<std::string_view> keys() const {
        std::vector<std::string_view> names;
        for (const std::string_view name : metric_names())
            if (!get(name)->empty()) names.push_back(name);
        if (!learning_rate.empty()) names.push_back("learning_rate");
        return names;
    }

    /// The figures of the model's performance that callbacks may monitor, whether or not
    /// they hold figures (`get` also knows "learning_rate").
    [[nodiscard]] static constexpr std::array<std::string_view, 4> metric_names() noexcept {
        return {"loss", "accuracy", "val_loss", "val_accuracy"};
    }
};

/// What `evaluate` returns: the loss and the accuracy over the given samples.
struct Score {
    double loss = 0;
    double accuracy = 0;
};

}  // namespace lamina
