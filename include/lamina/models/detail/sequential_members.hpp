// SPDX-License-Identifier: MIT
// lamina: the Sequential model's members that run it and read and write its files (see sequential.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/core/types.hpp>
#include <lamina/detail/fp_env.hpp>
#include <lamina/detail/team.hpp>
#include <lamina/io/file.hpp>
#include <lamina/io/model_file.hpp>
#include <lamina/io/npz.hpp>
#include <lamina/layers/registry.hpp>
#include <lamina/models/detail/fit_loop.hpp>
#include <lamina/models/detail/input_checks.hpp>
#include <lamina/models/detail/model_mapping.hpp>
#include <lamina/models/sequential.hpp>
#include <lamina/optimizers/from_config.hpp>

namespace lamina {

template <Scalar S>
Sequential<S>::Sequential(std::initializer_list<LayerSpec<S>> layers) {
    std::vector<std::unique_ptr<Layer<S>>> built;
    Shape shape;
    for (const auto& spec : layers) {
        built.push_back(build(spec, shape, Index(built.size())));
        shape = built.back()->output_shape();
    }
    stack_.append(std::move(built), rng_);
}

template <Scalar S>
void Sequential<S>::add(const LayerSpec<S>& spec) {
    if (in_fit_)
        throw error("Sequential.add: the model is being trained by fit (a callback called add); add layers "
                    "before or after fit");
    std::vector<std::unique_ptr<Layer<S>>> built;
    built.push_back(build(spec, stack_.output_shape(), size()));
    stack_.append(std::move(built), rng_);
    trainer_.layers_changed();
    compiled_ = false;  // the optimizer's slots no longer fit
}

template <Scalar S>
History Sequential<S>::fit(ConstMatrixRef<S> x, ConstMatrixRef<S> y, const FitOptions<S>& options) {
    return detail::FitLoop<S, S>::run(*this, x, y, options);
}

template <Scalar S>
History Sequential<S>::fit(ConstByteMatrixRef x, ConstMatrixRef<S> y, const FitOptions<S>& options) {
    return detail::FitLoop<S, std::uint8_t>::run(*this, x, y, options);
}

template <Scalar S>
Score Sequential<S>::evaluate(ConstMatrixRef<S> x, ConstMatrixRef<S> y, const PredictOptions& options) const {
    return evaluate_inputs<S>(x, y, options);
}

template <Scalar S>
Score Sequential<S>::evaluate(ConstByteMatrixRef x, ConstMatrixRef<S> y, const PredictOptions& options) const {
    return evaluate_inputs<std::uint8_t>(x, y, options);
}

template <Scalar S>
void Sequential<S>::predict(ConstMatrixRef<S> x, MatrixRef<S> out, const PredictOptions& options) const {
    predict_inputs<S>(x, out, options);
}

template <Scalar S>
void Sequential<S>::predict(ConstByteMatrixRef x, MatrixRef<S> out, const PredictOptions& options) const {
    predict_inputs<std::uint8_t>(x, out, options);
}

template <Scalar S>
Score Sequential<S>::train_on_batch(ConstMatrixRef<S> x, ConstMatrixRef<S> y, int threads) {
    return train_on_batch_inputs<S>(x, y, threads);
}

template <Scalar S>
Score Sequential<S>::train_on_batch(ConstByteMatrixRef x, ConstMatrixRef<S> y, int threads) {
    return train_on_batch_inputs<std::uint8_t>(x, y, threads);
}

template <Scalar S>
S Sequential<S>::loss_and_gradient(ConstMatrixRef<S> x, ConstMatrixRef<S> y) {
    require_compiled("loss_and_gradient");
    detail::check_xy<S, S>("loss_and_gradient", stack_, x, y);
    detail::Team team(1);  // starts no thread, and leaves the team of a running fit (a callback's call) as it is
    trainer_.prepare(stack_, x.rows());
    trainer_.guard().arm(false, 0, *optimizer_);
    trainer_.set_seed(0);
    return S(trainer_.template run<S>(step_model(), team, x, y, nullptr, 0, x.rows(), false).first / double(x.rows()));
}

template <Scalar S>
void Sequential<S>::save(const std::filesystem::path& path) const {
    io::write_file_atomically(path, to_bytes(), "Sequential.save");
}

template <Scalar S>
std::vector<std::byte> Sequential<S>::to_bytes() const {
    return io::encode_model<S>(detail::ModelMapping<S>::to_record(*this));
}

template <Scalar S>
Sequential<S> Sequential<S>::from_bytes(std::span<const std::byte> bytes, std::string_view name) {
    return detail::ModelMapping<S>::from_record(io::decode_model<S>(bytes, name), name);
}

template <Scalar S>
void Sequential<S>::save_weights(const std::filesystem::path& path) const {
    io::write_npz(path, detail::ModelMapping<S>::npz_entries(*this), "Sequential.save_weights");
}

template <Scalar S>
void Sequential<S>::load_weights(const std::filesystem::path& path) {
    // No more bytes than the model holds (io::npz_limits_for), checked before inflating.
    auto entries = io::read_npz(path, io::npz_limits_for(std::uint64_t(parameters().size())));
    detail::ModelMapping<S>::load_weights(*this, std::move(entries), path.string());
}

// train_on_batch on inputs of element type T.
template <Scalar S>
template <class T>
Score Sequential<S>::train_on_batch_inputs(ConstInputRef<T> x, ConstMatrixRef<S> y, int threads) {
    require_compiled("train_on_batch");
    detail::check_xy<S, T>("train_on_batch", stack_, x, y);
    detail::check_values<S, T>("train_on_batch", targets_are_distributions(), x, y);
    detail::FlushSubnormals flush;
    detail::Team& team = trainer_.team(detail::thread_count(threads, x.rows()));
    trainer_.prepare(stack_, x.rows());
    trainer_.guard().arm(false, 0, *optimizer_);
    if (stack_.random_in_training()) trainer_.set_seed(rng_.bits());
    const auto [loss, correct] = trainer_.template run<T>(step_model(), team, x, y, nullptr, 0, x.rows(), true);
    return {loss / double(x.rows()), double(correct) / double(x.rows())};
}

// evaluate on inputs of element type T.
template <Scalar S>
template <class T>
Score Sequential<S>::evaluate_inputs(ConstInputRef<T> x, ConstMatrixRef<S> y, const PredictOptions& options) const {
    require_compiled("evaluate");
    detail::check_xy<S, T>("evaluate", stack_, x, y);
    detail::check_values<S, T>("evaluate", targets_are_distributions(), x, y);
    detail::check_batch_size("evaluate", options.batch_size);
    detail::FlushSubnormals flush;
    return inference_.with_team(detail::thread_count(options.threads, x.rows() / 64), [&](detail::Team& team) {
        return detail::Inference<S>::template evaluate<T>(stack_, *loss_, fused_softmax_, team, x, y,
                                                          options.batch_size);
    });
}

// predict into `out` on inputs of element type T.
template <Scalar S>
template <class T>
void Sequential<S>::predict_inputs(ConstInputRef<T> x, MatrixRef<S> out, const PredictOptions& options) const {
    detail::check_x<S, T>("predict", stack_, x);
    if constexpr (std::is_same_v<T, S>) detail::check_finite<S>("predict", "x", x);
    detail::check_batch_size("predict", options.batch_size);
    if (out.rows() != x.rows() || out.cols() != output_dim())
        throw shape_error("Sequential.predict: out is " + detail::shape_text(out) + ", expected " +
                          std::to_string(x.rows()) + "x" + std::to_string(output_dim()));
    detail::FlushSubnormals flush;
    inference_.template predict<T>(stack_, x, out, options.batch_size,
                                   detail::thread_count(options.threads, x.rows() / 64));
}

template <Scalar S>
Sequential<S> load_model(const std::filesystem::path& path) {
    const std::vector<std::byte> bytes = io::read_file(path, "lamina::load_model");
    return Sequential<S>::from_bytes(bytes, path.string());
}

template <Scalar S>
Sequential<S> load_model(std::span<const std::byte> bytes, std::string_view name) {
    return Sequential<S>::from_bytes(bytes, name);
}

}  // namespace lamina
