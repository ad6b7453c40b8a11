// SPDX-License-Identifier: MIT
// lamina: a model to and from a model-file record and .npz weight archives, through the layers' own descriptions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <lamina/core/error.hpp>
#include <lamina/core/types.hpp>
#include <lamina/io/file.hpp>
#include <lamina/io/model_file.hpp>
#include <lamina/io/npz.hpp>
#include <lamina/layers/registry.hpp>
#include <lamina/losses/loss.hpp>
#include <lamina/metrics/metric.hpp>
#include <lamina/optimizers/from_config.hpp>

namespace lamina {
template <Scalar S>
class Sequential;
}  // namespace lamina

namespace lamina::detail {

/// A model's mapping to its files: the model-file record (`save`, `load_model`) and the
/// `.npz` weight archives (`save_weights`, `load_weights`). It uses only what each layer says
/// of itself (kind, config, weight names and shapes) and the registry; it names no kind.
template <Scalar S>
class ModelMapping {
public:
    /// The model as a model-file record.
    static io::ModelRecord<S> to_record(const Sequential<S>& model) {
        io::ModelRecord<S> record;
        const auto& stack = model.stack_;
        if (!stack.empty()) record.input_shape = stack[0].input_shape();
        for (const auto& layer : stack.layers()) record.layers.push_back({layer->kind(), layer->get_config()});
        record.compiled = model.compiled_;
        if (model.compiled_) {
            record.loss = std::string(model.loss_->name());
            record.loss_config = model.loss_->get_config();
            for (const auto& m : model.metrics_) record.metrics.emplace_back(m.name());
            record.optimizer = model.optimizer_->get_config();
            record.optimizer_state = model.optimizer_->get_state();
        }
        record.random_state = model.rng_.state();
        record.weights = stack.params();
        return record;
    }

    /// The model a checked record describes. The layers come from the registry, one after the
    /// other from the record's input shape; their parameters are counted against the record's
    /// weights before any buffer is made for them. What the record's reader cannot check (the
    /// layers' configs, names of losses, metrics, optimizers; the random state) is checked here.
    /// \throws io_error "lamina::load_model: '<name>': <problem>".
    static Sequential<S> from_record(io::ModelRecord<S>&& record, std::string_view name) {
        const auto fail = [&](const std::string& what) {
            io::detail::raise_io_error("lamina::load_model", name, what);
        };
        std::vector<std::unique_ptr<Layer<S>>> layers;
        layers.reserve(record.layers.size());
        Shape shape = record.input_shape;
        Index params = 0;
        const auto weights = Index(record.weights.size());
        for (std::size_t i = 0; i < record.layers.size(); ++i) {
            const auto& r = record.layers[i];
            const std::string where = "layer " + std::to_string(i) + " (" + r.kind + ")";
            try {
                layers.push_back(LayerRegistry<S>::instance().create(r.kind, r.config, shape));
            } catch (const std::invalid_argument& e) {
                fail(where + ": " + e.what());
            } catch (const shape_error& e) {
                fail(where + ": " + e.what());
            }
            const Index count = layers.back()->parameter_count();
            if (count > weights - params)
                fail(where + " has " + std::to_string(count) + " weights, more than the " + std::to_string(weights) +
                     " the file holds for all its layers");
            params += count;
            shape = layers.back()->output_shape();
        }
        if (params != weights)
            fail("the file holds " + std::to_string(weights) + " weights, but its layers have " +
                 std::to_string(params));
        Sequential<S> model;
        model.stack_.append(std::move(layers), model.rng_);
        model.stack_.params() = record.weights;  // the same size: the layers' views stay valid
        try {
            model.rng_.set_state(record.random_state);
        } catch (const std::invalid_argument& e) {
            if (std::string_view(e.what()).find("all zeros") != std::string_view::npos)
                fail("the random state is all zeros, which no seed gives and from which every draw is 0 (fit "
                     "would never end a shuffle)");
            fail("the random state is not one this C++ standard library wrote (was the file written by a program "
                 "built with another one, e.g. libc++ rather than libstdc++?)");
        }
        if (record.compiled) {
            try {
                std::vector<Metric> metrics;
                for (const auto& m : record.metrics) metrics.emplace_back(std::string_view(m));
                model.compile(Loss::from_config(record.loss, record.loss_config), OptimizerFromConfig{record.optimizer},
                              std::move(metrics));
                model.optimizer_->set_state(record.optimizer_state);
            } catch (const std::invalid_argument& e) {
                fail(std::string("unusable compile settings: ") + e.what());
            }
        }
        return model;
    }

    /// The .npz entries of every layer's weights: "<layer>.<weight>" of the weight's shape.
    static std::vector<io::NpzEntry> npz_entries(const Sequential<S>& model) {
        std::vector<io::NpzEntry> entries;
        for (const auto& layer : model.stack_.layers()) {
            const auto weights = layer->get_weights();
            const auto& specs = layer->weight_specs();
            for (std::size_t k = 0; k < weights.size(); ++k)
                entries.push_back(
                    {layer->name() + "." + specs[k].name,
                     io::make_npy<S>(std::span<const S>(weights[k].data(), std::size_t(weights[k].size())),
                                     npy_shape(specs[k].shape))});
        }
        return entries;
    }

    /// Checks every array of an archive against the layers, then sets them all.
    static void load_weights(Sequential<S>& model, std::vector<io::NpzEntry> entries, const std::string& file) {
        const std::string where = "Sequential.load_weights: " + lamina::detail::quoted(file) + ": ";
        struct Expected {
            std::size_t layer, k;
            std::string name;
            std::vector<std::uint64_t> shape;
        };
        const auto& layers = model.stack_.layers();
        std::vector<Expected> expected;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            const auto& specs = layers[i]->weight_specs();
            for (std::size_t k = 0; k < specs.size(); ++k)
                expected.push_back({i, k, layers[i]->name() + "." + specs[k].name, npy_shape(specs[k].shape)});
        }
        const auto list = [](const auto& items, auto name_of) {
            std::string s;
            for (const auto& item : items) s += (s.empty() ? "" : ", ") + name_of(item);
            return s.empty() ? std::string("nothing") : s;
        };
        const auto is_positional = [](const std::string& n) {
            return n.size() > 4 && n.size() <= 13 && n.compare(0, 4, "arr_") == 0 &&
                   n.find_first_not_of("0123456789", 4) == std::string::npos && (n.size() == 5 || n[4] != '0');
        };
        std::size_t positional = 0;
        for (const auto& e : entries) positional += is_positional(e.name);
        if (positional != 0 && positional != entries.size())
            throw io_error(where + "the archive mixes positional arrays (arr_0, arr_1, ...) with named ones: " +
                           list(entries, [](const io::NpzEntry& e) { return e.name; }));
        if (entries.size() != expected.size())
            throw io_error(where + "the archive holds " + std::to_string(entries.size()) + " arrays (" +
                           list(entries, [](const io::NpzEntry& e) { return e.name; }) + "), but the model has " +
                           std::to_string(expected.size()) + " (" +
                           list(expected, [](const Expected& x) { return x.name; }) + ")");
        // Match each expected weight to its array: "arr_<j>" for the j-th, or by name.
        std::vector<const io::NpzEntry*> match(expected.size(), nullptr);
        for (const auto& e : entries) {
            std::size_t j = expected.size();
            if (positional != 0) {
                j = std::size_t(std::stoull(e.name.substr(4)));  // at most 9 digits: no overflow
            } else {
                for (std::size_t q = 0; q < expected.size(); ++q)
                    if (expected[q].name == e.name) j = q;
            }
            if (j >= expected.size())
                throw io_error(where + "the model has no weight '" + e.name + "'; it expects " +
                               list(expected, [](const Expected& x) { return x.name; }));
            match[j] = &e;
        }
        std::vector<std::vector<S>> values(expected.size());
        for (std::size_t j = 0; j < expected.size(); ++j) {
            const auto& x = expected[j];
            const io::NpzEntry* e = match[j];
            if (e == nullptr)
                throw io_error(
                    where + "the archive lacks " +
                    (positional != 0 ? "arr_" + std::to_string(j) + " (" + x.name + ")" : "'" + x.name + "'"));
            const std::string label = "'" + e->name + "'" + (e->name == x.name ? "" : " (" + x.name + ")");
            if (e->array.shape != x.shape)
                throw shape_error(where + "array " + label + " has shape " + io::detail::python_tuple(e->array.shape) +
                                  ", but " + layers[x.layer]->where() + " expects " +
                                  io::detail::python_tuple(x.shape));
            values[j] = io::npy_values<S>(e->array, file, e->name, "Sequential.load_weights");
        }
        for (std::size_t j = 0; j < expected.size(); ++j) {
            auto weights = layers[expected[j].layer]->get_weights();
            auto& w = weights[expected[j].k];
            std::copy(values[j].begin(), values[j].end(), w.data());
            layers[expected[j].layer]->set_weights(weights);
        }
    }

private:
    static std::vector<std::uint64_t> npy_shape(const Shape& shape) {
        std::vector<std::uint64_t> dims;
        for (const Index d : shape) dims.push_back(std::uint64_t(d));
        return dims;
    }
};

}  // namespace lamina::detail
