// SPDX-License-Identifier: MIT
// lamina: the definitions of lamina/io/keras.hpp's functions (Keras's own model files), which see.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <lamina/core/config.hpp>
#include <lamina/core/error.hpp>
#include <lamina/core/shape.hpp>
#include <lamina/detail/snake_case.hpp>
#include <lamina/io/file.hpp>
#include <lamina/io/hdf5.hpp>
#include <lamina/io/hdf5_writer.hpp>
#include <lamina/io/keras.hpp>
#include <lamina/io/model_file.hpp>
#include <lamina/io/npz.hpp>
#include <lamina/io/stored_zip.hpp>
#include <lamina/layers/registry.hpp>
#include <lamina/losses/loss.hpp>
#include <lamina/metrics/metric.hpp>
#include <lamina/models/sequential.hpp>
#include <lamina/optimizers/from_config.hpp>

namespace lamina {

namespace detail::keras {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

/// Keras's snake case of a class name ("MaxPooling2D" -> "max_pooling2d"): the one lamina's
/// layer names use, so that a model's names and its Keras weight groups agree.
inline std::string snake_case(std::string_view name) { return lamina::detail::keras_snake_case(name); }

/// Keras class names of lamina's initializers and back: "glorot_uniform" <-> "GlorotUniform".
inline std::string camel_case(std::string_view snake) {
    std::string s;
    bool up = true;
    for (const char c : snake) {
        if (c == '_') {
            up = true;
            continue;
        }
        s += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
        up = false;
    }
    return s;
}

/// Reads one model file: the errors name the file and, inside, the layer.
class Reader {
public:
    Reader(std::string file, std::string where) : file_(std::move(file)), where_(std::move(where)) {}

    template <class... Parts>
    [[noreturn]] void fail(const Parts&... parts) const {
        io::detail::raise_io_error(where_, file_, parts...);
    }

    json parse(std::string_view text, std::string_view what) const {
        try {
            return json::parse(text.begin(), text.end());
        } catch (const json::exception& e) {
            fail(what, " is not valid JSON: ", e.what());
        }
    }

    // A member of an object, or null.
    static const json* member(const json& j, std::string_view key) {
        if (!j.is_object()) return nullptr;
        const auto it = j.find(key);
        return it == j.end() ? nullptr : &*it;
    }
    static bool is_null_or_absent(const json& j, std::string_view key) {
        const json* m = member(j, key);
        return m == nullptr || m->is_null();
    }
    std::string string_of(const json& j, std::string_view key, const std::string& where) const {
        const json* m = member(j, key);
        if (!m || !m->is_string()) fail(where, ": '", key, "' must be a string");
        return m->get<std::string>();
    }
    double number_of(const json& j, std::string_view key, const std::string& where) const {
        const json* m = member(j, key);
        if (!m || !m->is_number()) fail(where, ": '", key, "' must be a number");
        return m->get<double>();
    }
    Index index_of(const json& j, std::string_view key, const std::string& where) const {
        const json* m = member(j, key);
        if (!m || !m->is_number_integer() || m->get<std::int64_t>() < 1 || m->get<std::int64_t>() > (Index(1) << 40))
            fail(where, ": '", key, "' must be a positive integer");
        return static_cast<Index>(m->get<std::int64_t>());
    }
    // A batch shape [null, d1, d2, ...] as the sample's shape (d1, d2, ...).
    Shape batch_shape(const json& j, const std::string& where) const {
        if (!j.is_array() || j.size() < 2 || j.size() > 9) fail(where, ": a batch shape must be [null, d1, ...]");
        std::vector<Index> dims;
        for (std::size_t i = 1; i < j.size(); ++i) {
            if (!j[i].is_number_integer() || j[i].get<std::int64_t>() < 1 ||
                j[i].get<std::int64_t>() > (Index(1) << 40))
                fail(where, ": input dimension ", i, " is ", j[i].dump(), "; lamina needs every dimension known");
            dims.push_back(static_cast<Index>(j[i].get<std::int64_t>()));
        }
        return Shape(std::move(dims));
    }

    // An argument Keras gives as one integer or a pair (kernel_size=3, strides=[2, 1]), as
    // {height, width}; `fallback` when it is absent or null (Keras's None), if one is given.
    std::vector<Index> pair_of(const json& j, std::string_view key, const std::string& where,
                               const std::vector<Index>& fallback = {}) const {
        const json* m = member(j, key);
        if ((!m || m->is_null()) && !fallback.empty()) return fallback;
        const auto positive = [](const json& v) {
            return v.is_number_integer() && v.get<std::int64_t>() >= 1 && v.get<std::int64_t>() <= (Index(1) << 40);
        };
        if (m && positive(*m)) return {m->get<Index>(), m->get<Index>()};
        if (m && m->is_array() && m->size() == 2 && positive((*m)[0]) && positive((*m)[1]))
            return {(*m)[0].get<Index>(), (*m)[1].get<Index>()};
        fail(where, ": '", key, "' must be a positive integer or a pair of them, found ", m ? m->dump() : "nothing");
    }
    // Keras's padding, "valid" (its default) or "same", in any case as Keras accepts it.
    std::string padding_of(const json& j, const std::string& where) const {
        const json* m = member(j, "padding");
        if (!m || m->is_null()) return "valid";
        if (!m->is_string()) fail(where, ": 'padding' must be a string");
        std::string p = m->get<std::string>();
        for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (p != "valid" && p != "same") fail(where, ": padding ", m->dump(), " is not supported (valid or same)");
        return p;
    }
    // lamina's samples are channels last: data_format null (Keras's default) or channels_last.
    void check_channels_last(const json& j, const std::string& where) const {
        const json* f = member(j, "data_format");
        if (f && !f->is_null() && !(f->is_string() && f->get<std::string>() == "channels_last"))
            fail(where, ": data_format ", f->dump(), " is not supported (only channels_last)");
    }

    // A Keras serialized object's class name, refusing custom (registered) objects.
    std::string class_of(const json& j, const std::string& where) const {
        const std::string cls = string_of(j, "class_name", where);
        const json* registered = member(j, "registered_name");
        if (registered && registered->is_string() && registered->get<std::string>() != cls)
            fail(where, ": custom object '", registered->get<std::string>(), "' is not supported");
        const json* module = member(j, "module");
        if (module && module->is_string() && module->get<std::string>().rfind("keras", 0) != 0)
            fail(where, ": custom object from module '", module->get<std::string>(), "' is not supported");
        return cls;
    }

    void check_dtype(const json& config, const std::string& where) const {
        const json* d = member(config, "dtype");
        if (!d || d->is_null()) return;
        std::string name;
        if (d->is_string()) {
            name = d->get<std::string>();
        } else if (d->is_object()) {
            const json* c = member(*d, "config");
            if (c && member(*c, "name") && (*c)["name"].is_string()) name = (*c)["name"].get<std::string>();
        }
        if (name != "float32") fail(where, ": dtype policy ", d->dump(), " is not supported (only float32)");
    }

    const std::string& file() const { return file_; }
    const std::string& where() const { return where_; }

private:
    std::string file_;
    std::string where_;
};

/// The initializer `key` of a layer config when lamina has it ("glorot_uniform", from a name
/// or a serialized object), else "": only a fresh fit draws from initializers, so others are
/// left to lamina's default rather than refused.
inline std::string known_initializer(const json& config, std::string_view key) {
    const json* init = Reader::member(config, key);
    std::string n;
    if (init && init->is_string()) n = init->get<std::string>();
    if (init && init->is_object() && Reader::member(*init, "class_name") && (*init)["class_name"].is_string())
        n = snake_case((*init)["class_name"].get<std::string>());
    static constexpr std::string_view known[] = {"zeros",      "ones",      "glorot_uniform", "glorot_normal",
                                                 "he_uniform", "he_normal", "lecun_uniform",  "lecun_normal"};
    return std::find(std::begin(known), std::end(known), n) != std::end(known) ? n : std::string();
}

/// One Keras layer of the config, as lamina builds it.
struct LayerPlan {
    std::string keras_class;             // "Dense"
    std::string keras_name;              // "dense_1", the config's name (legacy .h5 weights)
    std::vector<LayerFromConfig> specs;  // one, or Dense + Activation
    std::size_t weighted = 0;            // index in specs of the layer with weights
};

/// The model's layers from a Sequential config (Keras 3's or Keras 2's).
template <Scalar S>
std::vector<LayerPlan> plan_layers(const Reader& r, const json& model) {
    const std::string model_class = r.class_of(model, "model config");
    if (model_class != "Sequential")
        r.fail("model class '", model_class, "' is not supported (only Sequential: lamina has no branching models)");
    const json* config = Reader::member(model, "config");
    const json* layers = config && config->is_array() ? config : (config ? Reader::member(*config, "layers") : nullptr);
    if (!layers || !layers->is_array()) r.fail("model config: no list of layers");
    if (config && config->is_object()) r.check_dtype(*config, "Sequential");
    std::vector<LayerPlan> plans;
    Shape input;
    // Whether lamina's `kind` (Dense or Conv2D) takes activation `a` itself (then
    // Dense(activation=a) is one layer, as in Keras), or needs an Activation layer after it.
    const auto fuses = [](const std::string& kind, const std::string& a) {
        try {
            if (kind == "Dense")
                (void)LayerRegistry<S>::instance().create("Dense", Config{{"units", Index(1)}, {"activation", a}},
                                                          Shape{1});
            else
                (void)LayerRegistry<S>::instance().create(
                    kind, Config{{"filters", Index(1)}, {"kernel_size", std::vector<Index>{1, 1}}, {"activation", a}},
                    Shape{1, 1, 1});
            return true;
        } catch (const std::invalid_argument&) {
            return false;
        }
    };
    for (std::size_t i = 0; i < layers->size(); ++i) {
        const json& l = (*layers)[i];
        const std::string cls = r.class_of(l, "layer " + std::to_string(i));
        const json* c = Reader::member(l, "config");
        if (!c || !c->is_object()) r.fail("layer ", i, " (", cls, "): no config");
        const std::string name = Reader::member(*c, "name") && (*c)["name"].is_string()
                                     ? (*c)["name"].get<std::string>()
                                     : snake_case(cls);
        const std::string where = "layer " + std::to_string(i) + " (" + cls + " '" + name + "')";
        r.check_dtype(*c, where);
        if (const json* t = Reader::member(*c, "trainable"); t && t->is_boolean() && !t->get<bool>())
            r.fail(where, ": trainable=False is not supported (lamina trains every layer)");
        if (cls == "InputLayer") {
            if (!plans.empty() || !input.empty()) r.fail(where, ": an InputLayer after the first layer");
            const json* shape = Reader::member(*c, "batch_shape");
            if (!shape || shape->is_null()) shape = Reader::member(*c, "batch_input_shape");
            if (!shape) r.fail(where, ": no batch_shape");
            if (Reader::member(*c, "sparse") && (*c)["sparse"].is_boolean() && (*c)["sparse"].get<bool>())
                r.fail(where, ": sparse inputs are not supported");
            input = r.batch_shape(*shape, where);
            continue;
        }
        if (plans.empty() && input.empty()) {
            // Keras 2.2 files have no InputLayer: the first layer carries the batch shape.
            const json* shape = Reader::member(*c, "batch_input_shape");
            if (!shape || shape->is_null()) shape = Reader::member(*c, "batch_shape");
            if (!shape || shape->is_null()) r.fail(where, ": the model's input shape is not given");
            input = r.batch_shape(*shape, where);
        }
        if (!Reader::is_null_or_absent(*c, "activity_regularizer"))
            r.fail(where, ": activity_regularizer is not supported");
        LayerPlan plan{cls, name, {}, 0};
        const Shape first_input = plans.empty() ? input : Shape{};
        if (cls == "Dense" || cls == "Conv2D") {
            Config cfg;
            if (cls == "Dense") {
                cfg.set("units", r.index_of(*c, "units", where));
                const json* use_bias = Reader::member(*c, "use_bias");
                if (use_bias && !(use_bias->is_boolean() && use_bias->get<bool>()))
                    r.fail(where, ": use_bias=False is not supported");
            } else {
                r.check_channels_last(*c, where);
                if (const json* d = Reader::member(*c, "dilation_rate");
                    d && !d->is_null() && r.pair_of(*c, "dilation_rate", where) != std::vector<Index>{1, 1})
                    r.fail(where, ": dilation_rate ", d->dump(), " is not supported (only 1)");
                if (const json* g = Reader::member(*c, "groups"); g && !g->is_null() && *g != 1)
                    r.fail(where, ": groups ", g->dump(), " is not supported (only 1)");
                cfg.set("filters", r.index_of(*c, "filters", where));
                cfg.set("kernel_size", r.pair_of(*c, "kernel_size", where));
                cfg.set("strides", r.pair_of(*c, "strides", where, {1, 1}));
                cfg.set("padding", r.padding_of(*c, where));
                if (const json* use_bias = Reader::member(*c, "use_bias"); use_bias && !use_bias->is_null()) {
                    if (!use_bias->is_boolean()) r.fail(where, ": 'use_bias' must be true or false");
                    cfg.set("use_bias", use_bias->get<bool>());
                }
            }
            for (const char* key : {"bias_regularizer", "kernel_constraint", "bias_constraint", "lora_rank"})
                if (!Reader::is_null_or_absent(*c, key)) r.fail(where, ": ", key, " is not supported");
            for (const char* key : {"kernel_initializer", "bias_initializer"})
                if (const std::string n = known_initializer(*c, key); !n.empty()) cfg.set(key, n);
            if (const json* reg = Reader::member(*c, "kernel_regularizer"); reg && !reg->is_null()) {
                const std::string rc = reg->is_object() ? r.class_of(*reg, where + " kernel_regularizer") : "";
                const json* rcfg = Reader::member(*reg, "config");
                if ((rc != "L1L2" && rc != "L1" && rc != "L2") || !rcfg)
                    r.fail(where, ": kernel_regularizer ", reg->dump(), " is not supported (only L1, L2, L1L2)");
                const double l1 = Reader::member(*rcfg, "l1") ? r.number_of(*rcfg, "l1", where) : 0.0;
                const double l2 = Reader::member(*rcfg, "l2") ? r.number_of(*rcfg, "l2", where) : 0.0;
                cfg.set("kernel_regularizer", std::vector<double>{l1, l2});
            }
            std::string activation = "linear";
            if (const json* a = Reader::member(*c, "activation"); a && !a->is_null()) {
                if (!a->is_string()) r.fail(where, ": activation ", a->dump(), " is not supported (a custom object)");
                activation = a->get<std::string>();
            }
            const bool fused = activation != "linear" && fuses(cls, activation);
            if (fused) cfg.set("activation", activation);
            plan.specs.push_back({cls, cfg, first_input});
            if (!fused && activation != "linear")
                plan.specs.push_back({"Activation", Config{{"activation", activation}}, Shape{}});
        } else if (cls == "MaxPooling2D" || cls == "AveragePooling2D") {
            r.check_channels_last(*c, where);
            const std::vector<Index> pool = r.pair_of(*c, "pool_size", where, {2, 2});
            plan.specs.push_back({cls,
                                  Config{{"pool_size", pool},
                                         {"strides", r.pair_of(*c, "strides", where, pool)},
                                         {"padding", r.padding_of(*c, where)}},
                                  first_input});
        } else if (cls == "BatchNormalization") {
            // Keras 3 writes axis as an integer, Keras 2 as one or a list of one ([3]).
            const json* axis = Reader::member(*c, "axis");
            const json* a = axis && axis->is_array() && axis->size() == 1 ? &(*axis)[0] : axis;
            Index axis_value = -1;
            if (a && !a->is_null()) {
                if (!a->is_number_integer() || a->get<std::int64_t>() < -1 || a->get<std::int64_t>() > 64)
                    r.fail(where, ": axis ", axis->dump(),
                           " is not supported (lamina normalizes the last axis: -1, or [rank])");
                axis_value = static_cast<Index>(a->get<std::int64_t>());
            }
            Config cfg{{"axis", axis_value}};
            if (Reader::member(*c, "momentum")) cfg.set("momentum", r.number_of(*c, "momentum", where));
            if (Reader::member(*c, "epsilon")) cfg.set("epsilon", r.number_of(*c, "epsilon", where));
            for (const char* key : {"center", "scale"})
                if (const json* b = Reader::member(*c, key); b && !b->is_null()) {
                    if (!b->is_boolean()) r.fail(where, ": '", key, "' must be true or false");
                    cfg.set(key, b->get<bool>());
                }
            for (const char* key : {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
                                    "virtual_batch_size", "adjustment", "renorm_clipping"})
                if (!Reader::is_null_or_absent(*c, key)) r.fail(where, ": ", key, " is not supported");
            for (const char* key : {"synchronized", "renorm"})
                if (const json* b = Reader::member(*c, key); b && !(b->is_boolean() && !b->get<bool>()))
                    r.fail(where, ": ", key, "=", b->dump(), " is not supported");
            for (const char* key :
                 {"beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer"})
                if (const std::string n = known_initializer(*c, key); !n.empty()) cfg.set(key, n);
            plan.specs.push_back({cls, cfg, first_input});
        } else if (cls == "GlobalAveragePooling2D") {
            r.check_channels_last(*c, where);
            bool keepdims = false;
            if (const json* k = Reader::member(*c, "keepdims"); k && !k->is_null()) {
                if (!k->is_boolean()) r.fail(where, ": 'keepdims' must be true or false");
                keepdims = k->get<bool>();
            }
            plan.specs.push_back({cls, Config{{"keepdims", keepdims}}, first_input});
        } else if (cls == "Activation") {
            const json* a = Reader::member(*c, "activation");
            if (!a || !a->is_string()) r.fail(where, ": activation must be a name");
            plan.specs.push_back({"Activation", Config{{"activation", a->get<std::string>()}}, first_input});
        } else if (cls == "Dropout") {
            if (!Reader::is_null_or_absent(*c, "noise_shape")) r.fail(where, ": noise_shape is not supported");
            plan.specs.push_back({"Dropout", Config{{"rate", r.number_of(*c, "rate", where)}}, first_input});
        } else if (cls == "Flatten") {
            r.check_channels_last(*c, where);
            plan.specs.push_back({"Flatten", Config{}, first_input});
        } else if (cls == "Reshape") {
            const json* t = Reader::member(*c, "target_shape");
            if (!t || !t->is_array() || t->empty() || t->size() > 8) r.fail(where, ": target_shape must be a list");
            std::vector<Index> dims;
            for (const json& d : *t) {
                if (!d.is_number_integer() || d.get<std::int64_t>() < 1 || d.get<std::int64_t>() > (Index(1) << 40))
                    r.fail(where, ": target_shape ", t->dump(), " is not supported (every dimension given, no -1)");
                dims.push_back(static_cast<Index>(d.get<std::int64_t>()));
            }
            plan.specs.push_back({"Reshape", Config{{"target_shape", dims}}, first_input});
        } else {
            r.fail(where, ": layer class '", cls,
                   "' is not supported (supported: InputLayer, Dense, Conv2D, MaxPooling2D, AveragePooling2D, "
                   "GlobalAveragePooling2D, BatchNormalization, Activation, Dropout, Flatten, Reshape)");
        }
        plans.push_back(std::move(plan));
    }
    if (plans.empty()) r.fail("the model has no layers");
    return plans;
}

/// The model the plans describe, weights as drawn (set afterwards).
template <Scalar S>
Sequential<S> build(const Reader& r, const std::vector<LayerPlan>& plans, std::vector<Index>& weighted_index) {
    Sequential<S> model;
    for (std::size_t i = 0; i < plans.size(); ++i) {
        for (std::size_t k = 0; k < plans[i].specs.size(); ++k) {
            try {
                model.add(plans[i].specs[k]);
            } catch (const std::invalid_argument& e) {
                r.fail("layer '", plans[i].keras_name, "' (", plans[i].keras_class, "): ", e.what());
            } catch (const shape_error& e) {
                r.fail("layer '", plans[i].keras_name, "' (", plans[i].keras_class, "): ", e.what());
            }
            if (k == plans[i].weighted) weighted_index.push_back(model.size() - 1);
        }
    }
    return model;
}

/// Sets one layer's weights from arrays read from the file, checking count, dtype and shapes.
template <Scalar S>
void set_layer_weights(const Reader& r, Layer<S>& layer, const std::vector<const io::hdf5::Object*>& arrays,
                       const std::string& where) {
    const auto& specs = layer.weight_specs();
    if (arrays.size() != specs.size())
        r.fail(where, ": the file holds ", arrays.size(), " weight arrays, but ", layer.where(), " has ", specs.size());
    Weights<S> weights = layer.get_weights();
    for (std::size_t k = 0; k < specs.size(); ++k) {
        const io::hdf5::Array& a = arrays[k]->data;
        if (arrays[k]->is_group || a.kind != io::hdf5::Kind::floating ||
            (a.item_size != 4 && !(a.item_size == 8 && sizeof(S) == 8)))
            r.fail(where, ": ", arrays[k]->path, " is not a float32 array");
        std::vector<Index> shape;
        for (const std::uint64_t d : a.shape) shape.push_back(static_cast<Index>(d));
        if (shape != specs[k].shape.dims())
            r.fail(where, ": ", arrays[k]->path, " has shape ", io::detail::python_tuple(a.shape), ", but ",
                   layer.where(), " expects ", specs[k].name, " of shape ", specs[k].shape.text());
        const std::vector<S> v = a.values<S>();
        std::copy(v.begin(), v.end(), weights[k].data());
    }
    layer.set_weights(weights);
}

/// Keras 3's weights layout: one group per layer, named by class and counter, `vars/<i>`.
template <Scalar S>
void load_keras3_weights(const Reader& r, const io::hdf5::Object& root, Sequential<S>& model,
                         const std::vector<std::string>& classes, const std::vector<Index>& weighted_index) {
    const io::hdf5::Object* base = root.member("layers");
    if (!base) base = root.member("_layer_checkpoint_dependencies");
    if (!base || !base->is_group) r.fail("the weights have no 'layers' group");
    std::map<std::string, int> used;
    for (std::size_t i = 0; i < classes.size(); ++i) {
        std::string group = snake_case(classes[i]);
        const auto [it, fresh] = used.try_emplace(group, 0);
        if (!fresh) {
            // Appended, not "_" + std::to_string(...): GCC 12 warns falsely (-Wrestrict) at -O3.
            group += '_';
            group += std::to_string(++it->second);
        }
        Layer<S>& layer = model.layer(weighted_index[i]);
        const io::hdf5::Object* vars = base->find(group + "/vars");
        const std::string where = "weights of layer " + std::to_string(i) + " (" + classes[i] + ", group " +
                                  base->path + "/" + group + ")";
        if (!vars || !vars->is_group) {
            if (layer.weight_specs().empty()) continue;
            r.fail(where, ": no such group in the weights file");
        }
        // vars/0, vars/1, ... by number (h5py lists vars/10 before vars/2).
        std::vector<const io::hdf5::Object*> arrays(vars->members.size(), nullptr);
        for (const io::hdf5::Object& m : vars->members) {
            const std::string& n = m.name;
            if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos ||
                (n.size() > 1 && n[0] == '0'))
                r.fail(where, ": unexpected member '", n, "' in vars");
            const auto k = static_cast<std::size_t>(std::stoul(n));
            if (k >= arrays.size()) r.fail(where, ": vars/", n, " without vars/", arrays.size() - 1);
            arrays[k] = &m;
        }
        set_layer_weights(r, layer, arrays, where);
    }
}

/// The strings of an attribute that Keras may have cut into `name0`, `name1`, ... (its
/// HDF5 object header limit); an empty float64 array is an empty list.
inline std::vector<std::string> string_list(const Reader& r, const io::hdf5::Object& g, const std::string& name) {
    std::vector<std::string> out;
    const auto add = [&](const io::hdf5::Array& a) {
        if (a.kind != io::hdf5::Kind::string) {
            if (a.element_count() != 0) r.fail(g.path, ": attribute '", name, "' is not a list of names");
            return;
        }
        out.insert(out.end(), a.strings.begin(), a.strings.end());
    };
    if (const io::hdf5::Array* a = g.attribute(name)) {
        add(*a);
        return out;
    }
    for (std::size_t chunk = 0;; ++chunk) {
        const io::hdf5::Array* a = g.attribute(name + std::to_string(chunk));
        if (!a) break;
        add(*a);
    }
    return out;
}

/// Legacy .h5 weights: `<group>/<layer name>` with `weight_names` listing its datasets.
template <Scalar S>
void load_legacy_weights(const Reader& r, const io::hdf5::Object& group, Sequential<S>& model,
                         const std::vector<std::string>& names, const std::vector<Index>& weighted_index) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        Layer<S>& layer = model.layer(weighted_index[i]);
        const std::string where = "weights of layer '" + names[i] + "'";
        const io::hdf5::Object* g = group.member(names[i]);
        if (!g || !g->is_group) {
            if (layer.weight_specs().empty()) continue;
            r.fail(where, ": no group ", group.path, "/", names[i]);
        }
        std::vector<const io::hdf5::Object*> arrays;
        for (const std::string& w : string_list(r, *g, "weight_names")) {
            const io::hdf5::Object* a = g->find(w);
            if (!a) r.fail(where, ": weight '", w, "' listed in weight_names is not in ", g->path);
            arrays.push_back(a);
        }
        set_layer_weights(r, layer, arrays, where);
    }
}

/// Compiles `model` as a Keras compile config says (Keras 3's compile_config, or legacy
/// training_config with its optimizer_config).
template <Scalar S>
void compile_from(const Reader& r, Sequential<S>& model, const json& loss, const json* optimizer, const json* metrics,
                  const json& whole) {
    for (const char* key : {"loss_weights", "weighted_metrics", "sample_weight_mode"})
        if (const json* m = Reader::member(whole, key); m && !m->is_null() && !(m->is_array() && m->empty()))
            r.fail("compile config: ", key, " is not supported");
    // The loss.
    std::string loss_name;
    Loss::Options loss_options;
    if (loss.is_string()) {
        loss_name = loss.get<std::string>();
    } else if (loss.is_object()) {
        const std::string cls = r.class_of(loss, "compile config loss");
        loss_name = snake_case(cls);
        const json* c = Reader::member(loss, "config");
        if (c && c->is_object()) {
            for (const auto& item : c->items()) {
                const std::string& k = item.key();
                const json& v = item.value();
                if (k == "from_logits" && v.is_boolean()) {
                    loss_options.emplace_back("from_logits", v.get<bool>() ? 1.0 : 0.0);
                } else if (k == "name" || k == "dtype" ||
                           (k == "reduction" && v.is_string() && (v == "sum_over_batch_size" || v == "auto")) ||
                           (k == "axis" && v == -1) ||
                           (k == "label_smoothing" && v.is_number() && v.get<double>() == 0)) {
                    continue;
                } else {
                    r.fail("compile config: loss ", cls, " option '", k, "' = ", v.dump(), " is not supported");
                }
            }
        }
    } else {
        r.fail("compile config: loss ", loss.dump(), " is not supported");
    }
    if (loss_name == "mse") loss_name = "mean_squared_error";
    // The metrics.
    std::vector<Metric> lamina_metrics;
    const auto add_metric = [&](const json& m) {
        std::string n = m.is_string()   ? m.get<std::string>()
                        : m.is_object() ? snake_case(r.class_of(m, "compile config metric"))
                                        : m.dump();
        if (n == "acc" || n == "accuracy" || n == "categorical_accuracy")
            lamina_metrics.emplace_back(std::string_view("accuracy"));
        else r.fail("compile config: metric '", n, "' is not supported (only accuracy)");
    };
    if (metrics && !metrics->is_null()) {
        if (metrics->is_array()) {
            for (const json& m : *metrics) {
                if (m.is_array())
                    for (const json& inner : m) add_metric(inner);
                else add_metric(m);
            }
        } else {
            add_metric(*metrics);
        }
    }
    // The optimizer.
    OptimizerConfig opt;
    if (!optimizer || optimizer->is_null()) r.fail("compile config: no optimizer");
    const json* ocfg = nullptr;
    std::string cls;
    if (optimizer->is_string()) {
        cls = optimizer->get<std::string>();
    } else {
        cls = r.class_of(*optimizer, "compile config optimizer");
        if (cls.rfind("Custom>", 0) == 0) cls = cls.substr(7);  // tf.keras 2.11+'s new optimizers
        ocfg = Reader::member(*optimizer, "config");
    }
    std::string lower = cls;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    static const std::map<std::string, std::string> optimizers{{"sgd", "SGD"},
                                                               {"adam", "Adam"},
                                                               {"rmsprop", "RMSprop"},
                                                               {"adagrad", "Adagrad"}};
    const auto known = optimizers.find(lower);
    if (known == optimizers.end())
        r.fail("compile config: optimizer '", cls, "' is not supported (SGD, Adam, RMSprop, Adagrad)");
    opt.name = known->second;
    if (ocfg && ocfg->is_object()) {
        static const std::map<std::string, std::vector<std::string>> lamina_names{
            {"SGD", {"learning_rate", "momentum", "nesterov", "decay"}},
            {"Adam", {"learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"}},
            {"RMSprop", {"learning_rate", "rho", "momentum", "epsilon", "centered"}},
            {"Adagrad", {"learning_rate", "initial_accumulator_value", "epsilon"}}};
        const auto& names = lamina_names.at(opt.name);
        for (const auto& item : ocfg->items()) {
            const std::string k = item.key() == "lr" ? "learning_rate" : item.key();
            const json& v = item.value();
            if (std::find(names.begin(), names.end(), k) != names.end()) {
                if (v.is_boolean()) opt.hyperparameters.emplace_back(k, v.get<bool>() ? 1.0 : 0.0);
                else if (v.is_number()) opt.hyperparameters.emplace_back(k, v.get<double>());
                else
                    r.fail("compile config: optimizer ", cls, " ", k, " = ", v.dump(),
                           " is not supported (a learning-rate schedule or a custom object)");
                continue;
            }
            const bool harmless = k == "name" || k == "jit_compile" || k == "is_legacy_optimizer" ||
                                  k == "ema_momentum" || k == "ema_overwrite_frequency" || v.is_null() ||
                                  (k == "use_ema" && v == false) ||
                                  ((k == "decay" || k == "weight_decay") && v.is_number() && v.get<double>() == 0);
            if (!harmless)
                r.fail("compile config: optimizer ", cls, " option '", k, "' = ", v.dump(), " is not supported");
        }
    }
    try {
        model.compile(Loss::from_config(loss_name, loss_options), detail::OptimizerFromConfig{opt},
                      std::move(lamina_metrics));
    } catch (const std::invalid_argument& e) {
        r.fail("compile config: ", e.what());
    }
}

inline std::string text_of(std::span<const std::byte> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// The HDF5 file in `bytes`, its errors told as the reader's ("<where>: '<file>': [<entry>: ]...").
inline io::hdf5::File parse_h5(const Reader& r, std::span<const std::byte> bytes, const std::string& entry) {
    try {
        return io::hdf5::File::parse(bytes, entry.empty() ? r.file() : r.file() + ":" + entry);
    } catch (const io_error& e) {
        std::string what = e.what();
        const std::string prefix = std::string(io::hdf5::detail::reader) + ": ";
        if (what.rfind(prefix, 0) == 0) what = what.substr(prefix.size());
        r.fail("HDF5 ", what);
    }
}

template <Scalar S>
Sequential<S> load(std::span<const std::byte> bytes, const std::string& name) {
    const Reader r(name, "lamina::load_keras_model");
    const auto starts = [&](std::string_view sig) {
        return bytes.size() >= sig.size() &&
               std::equal(sig.begin(), sig.end(), reinterpret_cast<const char*>(bytes.data()));
    };
    json config;
    const json* compile = nullptr;
    json training;
    std::vector<LayerPlan> plans;
    std::vector<Index> weighted_index;
    if (starts("PK\x03\x04") || starts("PK\x05\x06")) {
        const auto entries = io::zip::read(bytes, name, r.where());
        const auto find = [&](std::string_view n) -> std::span<const std::byte> {
            for (const auto& e : entries)
                if (e.name == n) return e.data;
            r.fail("the .keras archive has no ", n);
        };
        config = r.parse(text_of(find("config.json")), "config.json");
        plans = plan_layers<S>(r, config);
        Sequential<S> model = build<S>(r, plans, weighted_index);
        const io::hdf5::File weights = parse_h5(r, find("model.weights.h5"), "model.weights.h5");
        std::vector<std::string> classes;
        for (const auto& p : plans) classes.push_back(p.keras_class);
        load_keras3_weights(r, weights.root(), model, classes, weighted_index);
        compile = Reader::member(config, "compile_config");
        if (compile && !compile->is_null()) {
            const json* loss = Reader::member(*compile, "loss");
            if (loss && !loss->is_null())
                compile_from(r, model, *loss, Reader::member(*compile, "optimizer"),
                             Reader::member(*compile, "metrics"), *compile);
        }
        return model;
    }
    if (!starts("\x89HDF\r\n\x1a\n")) r.fail("neither a .keras archive (zip) nor an HDF5 file");
    const io::hdf5::File file = parse_h5(r, bytes, "");
    const io::hdf5::Array* mc = file.root().attribute("model_config");
    if (!mc || mc->strings.size() != 1)
        r.fail("no model_config attribute: a weights-only file? (load it with load_keras_weights)");
    config = r.parse(mc->strings[0], "model_config");
    plans = plan_layers<S>(r, config);
    Sequential<S> model = build<S>(r, plans, weighted_index);
    const io::hdf5::Object* mw = file.root().member("model_weights");
    if (!mw) r.fail("no model_weights group");
    std::vector<std::string> names;
    for (const auto& p : plans) names.push_back(p.keras_name);
    load_legacy_weights(r, *mw, model, names, weighted_index);
    if (const io::hdf5::Array* tc = file.root().attribute("training_config"); tc && tc->strings.size() == 1) {
        training = r.parse(tc->strings[0], "training_config");
        const json* loss = Reader::member(training, "loss");
        if (loss && !loss->is_null())
            compile_from(r, model, *loss, Reader::member(training, "optimizer_config"),
                         Reader::member(training, "metrics"), training);
    }
    return model;
}

// ---- writing ------------------------------------------------------------------------------

inline ordered_json policy() {
    return {{"module", "keras"},
            {"class_name", "DTypePolicy"},
            {"config", {{"name", "float32"}}},
            {"registered_name", nullptr}};
}

inline ordered_json shape_json(const Shape& s) {
    ordered_json j = ordered_json::array({nullptr});
    for (const Index d : s) j.push_back(d);
    return j;
}

inline ordered_json initializer(const ConfigValue* v, const char* fallback) {
    const std::string n = v && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : fallback;
    ordered_json config = ordered_json::object();
    if (n != "zeros" && n != "ones") config["seed"] = nullptr;
    return {{"module", "keras.initializers"},
            {"class_name", camel_case(n)},
            {"config", config},
            {"registered_name", nullptr}};
}

[[noreturn]] inline void refuse_write(const std::string& what) { throw io_error("lamina::save_keras: " + what); }

/// The Keras 3 layer object (serialize_keras_object's schema) of one lamina layer.
template <Scalar S>
ordered_json layer_json(const Layer<S>& layer) {
    const std::string kind = layer.kind();
    const Config config = layer.get_config();
    ordered_json c;
    c["name"] = layer.name();
    c["trainable"] = true;
    c["dtype"] = policy();
    const auto field = [&](const char* n) { return config.find(n); };
    // Keras's get_config keys of Dense and Conv2D after their own: activation, bias,
    // initializers, regularizers and constraints (Conv2D's activity_regularizer among them).
    const auto weighted = [&](bool activity_regularizer) {
        const ConfigValue* a = field("activation");
        c["activation"] = a ? std::get<std::string>(*a) : std::string("linear");
        const ConfigValue* use_bias = field("use_bias");
        c["use_bias"] = use_bias ? std::get<bool>(*use_bias) : true;
        c["kernel_initializer"] = initializer(field("kernel_initializer"), "glorot_uniform");
        c["bias_initializer"] = initializer(field("bias_initializer"), "zeros");
        const ConfigValue* reg = field("kernel_regularizer");
        const auto factors = reg ? std::get<std::vector<double>>(*reg) : std::vector<double>{0, 0};
        if (factors.size() == 2 && (factors[0] != 0 || factors[1] != 0))
            c["kernel_regularizer"] = {{"module", "keras.regularizers"},
                                       {"class_name", "L1L2"},
                                       {"config", {{"l1", factors[0]}, {"l2", factors[1]}}},
                                       {"registered_name", nullptr}};
        else c["kernel_regularizer"] = nullptr;
        c["bias_regularizer"] = nullptr;
        if (activity_regularizer) c["activity_regularizer"] = nullptr;
        c["kernel_constraint"] = nullptr;
        c["bias_constraint"] = nullptr;
    };
    const auto pair = [&](const char* n) { return std::get<std::vector<Index>>(*field(n)); };
    if (kind == "Dense") {
        c["units"] = std::get<Index>(*field("units"));
        weighted(false);
    } else if (kind == "Conv2D") {
        // base_conv.py's get_config, in its order.
        c["filters"] = std::get<Index>(*field("filters"));
        c["kernel_size"] = pair("kernel_size");
        c["strides"] = pair("strides");
        c["padding"] = std::get<std::string>(*field("padding"));
        c["data_format"] = "channels_last";
        c["dilation_rate"] = {1, 1};
        c["groups"] = 1;
        weighted(true);
    } else if (kind == "MaxPooling2D" || kind == "AveragePooling2D") {
        // base_pooling.py's get_config.
        c["pool_size"] = pair("pool_size");
        c["padding"] = std::get<std::string>(*field("padding"));
        c["strides"] = pair("strides");
        c["data_format"] = "channels_last";
    } else if (kind == "BatchNormalization") {
        // batch_normalization.py's get_config, in its order.
        c["axis"] = std::get<Index>(*field("axis"));
        c["momentum"] = std::get<double>(*field("momentum"));
        c["epsilon"] = std::get<double>(*field("epsilon"));
        c["center"] = std::get<bool>(*field("center"));
        c["scale"] = std::get<bool>(*field("scale"));
        c["beta_initializer"] = initializer(field("beta_initializer"), "zeros");
        c["gamma_initializer"] = initializer(field("gamma_initializer"), "ones");
        c["moving_mean_initializer"] = initializer(field("moving_mean_initializer"), "zeros");
        c["moving_variance_initializer"] = initializer(field("moving_variance_initializer"), "ones");
        for (const char* k : {"beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"})
            c[k] = nullptr;
        c["synchronized"] = false;
    } else if (kind == "GlobalAveragePooling2D") {
        // base_global_pooling.py's get_config.
        c["data_format"] = "channels_last";
        c["keepdims"] = std::get<bool>(*field("keepdims"));
    } else if (kind == "Activation") {
        c["activation"] = std::get<std::string>(*field("activation"));
    } else if (kind == "Dropout") {
        c["rate"] = std::get<double>(*field("rate"));
        c["seed"] = nullptr;
        c["noise_shape"] = nullptr;
    } else if (kind == "Flatten") {
        c["data_format"] = "channels_last";
    } else if (kind == "Reshape") {
        c["target_shape"] = std::get<std::vector<Index>>(*field("target_shape"));
    } else {
        refuse_write(layer.where() +
                     ": its Keras form is not written yet (Dense, Conv2D, MaxPooling2D, AveragePooling2D, "
                     "GlobalAveragePooling2D, BatchNormalization, Activation, Dropout, Flatten, Reshape)");
    }
    for (const auto& [n, v] : config.fields())
        if (!c.contains(n)) refuse_write(layer.where() + ": option '" + n + "' has no Keras form here");
    return {{"module", "keras.layers"},
            {"class_name", kind},
            {"config", c},
            {"registered_name", nullptr},
            {"build_config", {{"input_shape", shape_json(layer.input_shape())}}}};
}

/// Keras 3's compile_config from a lamina model record.
template <Scalar S>
ordered_json compile_json(const io::ModelRecord<S>& record) {
    if (!record.compiled) return nullptr;
    ordered_json loss = record.loss;
    for (const auto& [k, v] : record.loss_config)
        if (k == "from_logits" && v != 0)
            loss = {{"module", "keras.losses"},
                    {"class_name", "CategoricalCrossentropy"},
                    {"config",
                     {{"name", "categorical_crossentropy"},
                      {"reduction", "sum_over_batch_size"},
                      {"from_logits", true},
                      {"label_smoothing", 0.0},
                      {"axis", -1}}},
                    {"registered_name", nullptr}};
    const OptimizerConfig& o = record.optimizer;
    std::string lower = o.name;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    ordered_json oc;
    oc["name"] = lower;
    oc["learning_rate"] = 0.001;
    for (const char* k : {"weight_decay", "clipnorm", "global_clipnorm", "clipvalue"}) oc[k] = nullptr;
    oc["use_ema"] = false;
    oc["ema_momentum"] = 0.99;
    oc["ema_overwrite_frequency"] = nullptr;
    oc["loss_scale_factor"] = nullptr;
    oc["gradient_accumulation_steps"] = nullptr;
    for (const auto& [k, v] : o.hyperparameters) {
        if (k == "decay") {
            if (v != 0) refuse_write("SGD decay " + std::to_string(v) + " has no Keras 3 form");
            continue;
        }
        if (k == "nesterov" || k == "amsgrad" || k == "centered") oc[k] = v != 0;
        else oc[k] = v;
    }
    ordered_json metrics = ordered_json::array();
    for (const auto& m : record.metrics) metrics.push_back(m);
    return {{"optimizer",
             {{"module", "keras.optimizers"}, {"class_name", o.name}, {"config", oc}, {"registered_name", nullptr}}},
            {"loss", loss},
            {"loss_weights", nullptr},
            {"metrics", metrics.empty() ? ordered_json(nullptr) : metrics},
            {"weighted_metrics", nullptr},
            {"run_eagerly", false},
            {"steps_per_execution", 1},
            {"jit_compile", false}};
}

/// The weights file of a .keras archive (and of save_keras_weights): Keras 3's layout.
template <Scalar S>
std::vector<std::byte> weights_h5(const Sequential<S>& model) {
    std::vector<io::hdf5::Object> layers;
    std::map<std::string, int> used;
    for (Index i = 0; i < model.size(); ++i) {
        const Layer<S>& layer = model.layer(i);
        std::string group = snake_case(layer.kind());
        const auto [it, fresh] = used.try_emplace(group, 0);
        if (!fresh) {
            // Appended, not "_" + std::to_string(...): GCC 12 warns falsely (-Wrestrict) at -O3.
            group += '_';
            group += std::to_string(++it->second);
        }
        std::vector<io::hdf5::Object> vars;
        const auto weights = layer.get_weights();
        const auto& specs = layer.weight_specs();
        for (std::size_t k = 0; k < specs.size(); ++k) {
            std::vector<std::uint64_t> shape;
            for (const Index d : specs[k].shape) shape.push_back(static_cast<std::uint64_t>(d));
            vars.push_back(io::hdf5::dataset<S>(std::to_string(k), shape, weights[k].data(),
                                                static_cast<std::size_t>(weights[k].size())));
        }
        layers.push_back(io::hdf5::group(group, {io::hdf5::group("vars", std::move(vars))}));
    }
    return io::hdf5::write(
        io::hdf5::group("", {io::hdf5::group("layers", std::move(layers)), io::hdf5::group("vars")}));
}

}  // namespace detail::keras

template <Scalar S>
Sequential<S> load_keras_model(std::span<const std::byte> bytes, const std::string& name) {
    return detail::keras::load<S>(bytes, name);
}

template <Scalar S>
Sequential<S> load_keras_model(const std::filesystem::path& path) {
    const std::vector<std::byte> bytes = io::read_file(path, "lamina::load_keras_model");
    return detail::keras::load<S>(bytes, path.string());
}

template <Scalar S>
std::vector<std::byte> to_keras_bytes(const Sequential<S>& model) {
    namespace k = detail::keras;
    if (model.size() == 0) k::refuse_write("the model has no layers");
    const std::vector<std::byte> file = model.to_bytes();
    const io::ModelRecord<S> record = io::decode_model<S>(file, "the model");
    k::ordered_json layers = k::ordered_json::array();
    layers.push_back({{"module", "keras.layers"},
                      {"class_name", "InputLayer"},
                      {"config",
                       {{"batch_shape", k::shape_json(model.input_shape())},
                        {"dtype", "float32"},
                        {"sparse", false},
                        {"name", "input_layer"}}},
                      {"registered_name", nullptr}});
    for (Index i = 0; i < model.size(); ++i) layers.push_back(k::layer_json(model.layer(i)));
    k::ordered_json config = {{"module", "keras"},
                              {"class_name", "Sequential"},
                              {"config",
                               {{"name", "sequential"},
                                {"trainable", true},
                                {"dtype", k::policy()},
                                {"layers", layers},
                                {"build_input_shape", k::shape_json(model.input_shape())}}},
                              {"registered_name", nullptr},
                              {"build_config", {{"input_shape", k::shape_json(model.input_shape())}}}};
    if (record.compiled) config["compile_config"] = k::compile_json(record);
    const std::string config_text = config.dump();
    const std::string metadata = k::ordered_json{{"keras_version", "3.3.3"}, {"date_saved", "lamina"}}.dump();
    const std::vector<std::byte> weights = k::weights_h5(model);
    return io::zip::write({{"metadata.json", std::as_bytes(std::span(metadata))},
                           {"config.json", std::as_bytes(std::span(config_text))},
                           {"model.weights.h5", weights}});
}

template <Scalar S>
void save_keras(const Sequential<S>& model, const std::filesystem::path& path) {
    io::write_file_atomically(path, to_keras_bytes(model), "lamina::save_keras");
}

template <Scalar S>
void save_keras_weights(const Sequential<S>& model, const std::filesystem::path& path) {
    io::write_file_atomically(path, detail::keras::weights_h5(model), "lamina::save_keras_weights");
}

template <Scalar S>
void load_keras_weights(Sequential<S>& model, const std::filesystem::path& path) {
    namespace k = detail::keras;
    const k::Reader r(path.string(), "lamina::load_keras_weights");
    const std::vector<std::byte> bytes = io::read_file(path, r.where());
    const io::hdf5::File file = io::hdf5::File::parse(bytes, path.string());
    const std::vector<S> before(model.parameters().data(), model.parameters().data() + model.count_params());
    try {
        if (file.root().member("layers") || file.root().member("_layer_checkpoint_dependencies")) {
            std::vector<std::string> classes;
            std::vector<Index> index;
            for (Index i = 0; i < model.size(); ++i) {
                classes.push_back(model.layer(i).kind());
                index.push_back(i);
            }
            k::load_keras3_weights(r, file.root(), model, classes, index);
        } else {
            const io::hdf5::Object* g = file.root().member("model_weights");
            if (!g) g = &file.root();
            std::vector<std::string> names;
            for (const std::string& n : k::string_list(r, *g, "layer_names")) {
                const io::hdf5::Object* lg = g->member(n);
                if (lg && !k::string_list(r, *lg, "weight_names").empty()) names.push_back(n);
            }
            std::vector<Index> index;
            for (Index i = 0; i < model.size(); ++i)
                if (!model.layer(i).weight_specs().empty()) index.push_back(i);
            if (names.size() != index.size())
                r.fail("the file has ", names.size(), " layers with weights, the model ", index.size());
            k::load_legacy_weights(r, *g, model, names, index);
        }
    } catch (...) {
        std::copy(before.begin(), before.end(), model.parameters().data());
        throw;
    }
}

}  // namespace lamina
