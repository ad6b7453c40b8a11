// SPDX-License-Identifier: MIT
// lamina tests: the headers in a first translation unit, built for x86-64's baseline where the second is built for this
// CPU.
#include "train.hpp"

std::string first_result();
const void* first_kernels();
long first_params();

std::string first_result() { return train_and_describe(); }
const void* first_kernels() { return &lamina::detail::float_kernels(); }

long first_params() {
    lamina::Sequential<float> model{lamina::Dense(3, {.input_dim = 2}), lamina::Activation("relu")};
    return model.count_params() + lamina::weight_grid_layout(4, {.tile_height = 1, .tile_width = 1}).units;
}
