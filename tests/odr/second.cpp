// SPDX-License-Identifier: MIT
// lamina tests: the headers in a second translation unit, and the program's main.
#include <lamina/lamina.hpp>
#include <lamina/viz/weight_grid.hpp>

#include <cstdio>

lamina::Index first_params();

int main() {
    lamina::Sequential<double> model{lamina::Dense(3, {.input_dim = 2}), lamina::Activation("relu")};
    const auto total = first_params() + model.count_params() +
                       lamina::weight_grid_layout(4, {.tile_height = 1, .tile_width = 1}).units;
    std::printf("%ld\n", long(total));
    return total == 2 * (9 + 4) ? 0 : 1;
}
