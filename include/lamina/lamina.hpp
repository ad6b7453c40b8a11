// SPDX-License-Identifier: MIT
// lamina: the umbrella header: everything but lamina/viz (which needs stb), the MNIST loader and the
// file formats' own headers (lamina/io/: a model's save, load, save_weights and load_weights need
// none of them; include lamina/io/npz.hpp and the like to call io:: yourself).
#pragma once

#include <lamina/core/error.hpp>
#include <lamina/core/isa.hpp>
#include <lamina/core/random.hpp>
#include <lamina/core/to_categorical.hpp>
#include <lamina/core/types.hpp>
#include <lamina/layers/activation.hpp>
#include <lamina/layers/batch_normalization.hpp>
#include <lamina/layers/conv2d.hpp>
#include <lamina/layers/dense.hpp>
#include <lamina/layers/dropout.hpp>
#include <lamina/layers/flatten.hpp>
#include <lamina/layers/initializers.hpp>
#include <lamina/layers/layer.hpp>
#include <lamina/layers/pooling.hpp>
#include <lamina/layers/registry.hpp>
#include <lamina/layers/regularizers.hpp>
#include <lamina/layers/reshape.hpp>
#include <lamina/losses/categorical_crossentropy.hpp>
#include <lamina/losses/loss.hpp>
#include <lamina/losses/mean_squared_error.hpp>
#include <lamina/metrics/accuracy.hpp>
#include <lamina/metrics/metric.hpp>
#include <lamina/models/callbacks.hpp>
#include <lamina/models/history.hpp>
#include <lamina/models/options.hpp>
#include <lamina/models/progress.hpp>
#include <lamina/models/sequential.hpp>
#include <lamina/optimizers/adagrad.hpp>
#include <lamina/optimizers/adam.hpp>
#include <lamina/optimizers/from_config.hpp>
#include <lamina/optimizers/optimizer.hpp>
#include <lamina/optimizers/rmsprop.hpp>
#include <lamina/optimizers/sgd.hpp>
