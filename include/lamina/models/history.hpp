// SPDX-License-Identifier: MIT
// lamina: what fit returns: per-epoch loss and metrics, as Keras's History.
#pragma once

#include <vector>

namespace lamina {

/// The figures of every epoch of a `fit`, as Keras's `History.history`. Validation vectors
/// are empty when no validation data was given.
struct History {
    std::vector<int> epoch;            ///< 0-based epoch numbers
    std::vector<double> loss;          ///< mean training loss over the epoch's batches
    std::vector<double> accuracy;      ///< training accuracy over the epoch
    std::vector<double> val_loss;      ///< loss on the validation data after the epoch
    std::vector<double> val_accuracy;  ///< accuracy on the validation data after the epoch
    std::vector<double> seconds;       ///< wall time of the epoch (training and validation)
};

/// What `evaluate` returns: the loss and the accuracy over the given samples.
struct Score {
    double loss = 0;
    double accuracy = 0;
};

}  // namespace lamina
