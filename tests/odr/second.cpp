// SPDX-License-Identifier: MIT
// lamina tests: the headers in a second translation unit, built with other -m flags than the first.
#include "train.hpp"

std::string second_result();
const void* second_kernels();
long second_params();

std::string second_result() { return train_and_describe(); }
const void* second_kernels() { return &lamina::detail::float_kernels(); }

long second_params() {
    lamina::Sequential<double> model{lamina::Dense(3, {.input_dim = 2}), lamina::Activation("relu")};
    return model.count_params() + lamina::weight_grid_layout(4, {.tile_height = 1, .tile_width = 1}).units;
}
