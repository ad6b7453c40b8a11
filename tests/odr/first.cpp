// SPDX-License-Identifier: MIT
// lamina tests: the headers in a first translation unit (linked with second.cpp: no duplicate symbols).
#include <lamina/lamina.hpp>
#include <lamina/viz/weight_grid.hpp>

lamina::Index first_params() {
    lamina::Sequential<float> model{lamina::Dense(3, {.input_dim = 2}), lamina::Activation("relu")};
    return model.count_params() + lamina::weight_grid_layout(4, {.tile_height = 1, .tile_width = 1}).units;
}
