// SPDX-License-Identifier: MIT
// lamina compile-time probe: the reference translation unit, Eigen's dense module and a product of two matrices.
#include <Eigen/Dense>

int main(int argc, char**) {
    const Eigen::MatrixXf a = Eigen::MatrixXf::Random(64 * argc, 64), b = Eigen::MatrixXf::Random(64, 32);
    const Eigen::MatrixXf c = a * b;
    return c(0, 0) > 1.0f;
}
