// SPDX-License-Identifier: MIT
// lamina tests: central-difference gradient checks for layers, losses and whole models.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include <lamina/core/types.hpp>

namespace lamina::test {

/// |a - b| / max(|a| + |b|, tiny): 0 for equal values, about 1 for unrelated ones.
inline double relative_error(double a, double b) {
    return std::abs(a - b) / std::max(std::abs(a) + std::abs(b), 1e-12);
}

/// The largest relative error between `analytic` and the central difference
/// (f(v + h e_i) - f(v - h e_i)) / 2h over every coordinate i of `v`. `v` is restored.
/// Coordinates where both gradients are below `floor` in magnitude are compared absolutely
/// (relative error is meaningless at 0).
inline double max_gradient_error(double* v, Index n, const double* analytic, const std::function<double()>& f,
                                 double h = 1e-5, double floor = 1e-9) {
    double worst = 0;
    for (Index i = 0; i < n; ++i) {
        const double saved = v[i];
        v[i] = saved + h;
        const double up = f();
        v[i] = saved - h;
        const double down = f();
        v[i] = saved;
        const double numeric = (up - down) / (2 * h);
        const double err = (std::abs(numeric) < floor && std::abs(analytic[i]) < floor)
                               ? std::abs(numeric - analytic[i])
                               : relative_error(numeric, analytic[i]);
        if (std::getenv("LAMINA_GRADCHECK_DEBUG") && err > 1e-7)
            std::fprintf(stderr, "i=%ld numeric=%.12g analytic=%.12g err=%.3g\n", long(i), numeric, analytic[i], err);
        worst = std::max(worst, err);
    }
    return worst;
}

/// The largest relative error between a model's `loss_and_gradient` gradient for (x, y)
/// and central differences of its loss over every parameter (any `Sequential<double>`).
template <class Model, class M>
double model_gradient_error(Model& model, const M& x, const M& y) {
    model.loss_and_gradient(x, y);
    const auto analytic = model.gradients().eval();
    auto params = model.parameters();
    return max_gradient_error(params.data(), params.size(), analytic.data(),
                              [&] { return double(model.loss_and_gradient(x, y)); });
}

}  // namespace lamina::test
