#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# lamina: writes the HDF5 and .keras fixtures of tests/test_hdf5.cpp and tests/test_keras.cpp with
# h5py, laid out as Keras 3's saving_lib.py (.keras, .weights.h5), Keras 3's legacy_h5_format.py
# and tf.keras 2's hdf5_format.py (.h5) lay them out. The values are closed forms the tests
# recompute: kernel[i][j] = (i * units + j) / 8 - 0.5 (+ 0.01 * layer), bias[j] = 0.1 * (j + 1).
# Usage: /usr/bin/python3 tests/keras/make_fixtures.py tests/keras   (needs python3-h5py)
import io
import json
import sys
import zipfile

import h5py
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "."


def kernel(n_in, units, layer):
    return (np.arange(n_in * units, dtype=np.float32).reshape(n_in, units) / 8 - 0.5 + 0.01 * layer).astype(np.float32)


def bias(units):
    return (0.1 * (np.arange(units) + 1)).astype(np.float32)


def policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def dense_config(name, units, activation, n_in):
    return {"module": "keras.layers", "class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": policy(), "units": units, "activation": activation,
        "use_bias": True,
        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None}, "registered_name": None},
        "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": None},
        "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None},
        "registered_name": None, "build_config": {"input_shape": [None, n_in]}}


# The model of every Keras fixture: 4 inputs, Dense(3, relu), Dropout(0.5), Dense(5, relu), Dense(2, softmax).
LAYERS = [("dense", 4, 3, "relu"), ("dense_1", 3, 5, "relu"), ("dense_2", 5, 2, "softmax")]

keras3_config = {
    "module": "keras", "class_name": "Sequential",
    "config": {"name": "sequential", "trainable": True, "dtype": policy(), "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, 4], "dtype": "float32", "sparse": False, "name": "input_layer"}, "registered_name": None},
        dense_config("dense", 3, "relu", 4),
        {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "trainable": True, "dtype": policy(),
         "rate": 0.5, "seed": None, "noise_shape": None}, "registered_name": None, "build_config": {"input_shape": [None, 3]}},
        dense_config("dense_1", 5, "relu", 3),
        dense_config("dense_2", 2, "softmax", 5)], "build_input_shape": [None, 4]},
    "registered_name": None, "build_config": {"input_shape": [None, 4]},
    "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {
        "name": "adam", "learning_rate": 0.002, "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
        "clipvalue": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
        "loss_scale_factor": None, "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-07, "amsgrad": False}, "registered_name": None},
        "loss": "categorical_crossentropy", "loss_weights": None, "metrics": ["accuracy"], "weighted_metrics": None,
        "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}}


def keras3_weights(f, root="layers", with_name_attr=False):
    """saving_lib.py: a 'vars' group for the model, one group per layer named by its class in snake
    case and a counter (dense, dropout, dense_1, ...), the optimizer's variables numbered."""
    f.create_group("vars")
    classes = [("dense", LAYERS[0]), ("dropout", None), ("dense_1", LAYERS[1]), ("dense_2", LAYERS[2])]
    for group, layer in classes:
        g = f.create_group(f"{root}/{group}/vars")
        if layer is None:
            continue
        n = LAYERS.index(layer)
        for i, value in enumerate([kernel(layer[1], layer[2], n), bias(layer[2])]):
            g[str(i)] = value
            if with_name_attr:
                g[str(i)].attrs["name"] = ["kernel", "bias"][i]
    opt = f.create_group("optimizer/vars")
    opt["0"] = np.int64(7)                     # iterations
    opt["1"] = np.float32(0.002)               # learning_rate
    i = 2
    for layer in LAYERS:                       # m and v of each variable: 2 + 12 = 14 members (> 8, vars/10 before vars/2)
        for shape in [(layer[1], layer[2]), (layer[2],)]:
            for _ in range(2):
                opt[str(i)] = np.full(shape, 0.001 * i, dtype=np.float32)
                i += 1


def write_keras_zip(path, weights_bytes, config, version="3.3.3"):
    with zipfile.ZipFile(path, "w") as z:   # ZIP_STORED, as saving_lib.py writes it
        z.writestr("metadata.json", json.dumps({"keras_version": version, "date_saved": "2024-05-01@12:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", weights_bytes)


def h5_bytes(fill):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        fill(f)
    return buf.getvalue()


# Keras 3 .weights.h5 and .keras
with h5py.File(f"{out}/keras3.weights.h5", "w") as f:
    keras3_weights(f)
write_keras_zip(f"{out}/keras3.keras", h5_bytes(keras3_weights), keras3_config)
# tf.keras 2.14 .keras: the weights under _layer_checkpoint_dependencies, no attributes.
write_keras_zip(f"{out}/tf_keras_214.keras", h5_bytes(lambda f: keras3_weights(f, "_layer_checkpoint_dependencies")),
                keras3_config, "2.14.0")


def legacy(f, keras2=True, nested=False):
    """hdf5_format.py (tf.keras 2) / legacy_h5_format.py (Keras 3): model_config and training_config
    JSON on the root, model_weights with layer_names, one group per layer with weight_names."""
    layers = [{"class_name": "Dense", "config": {"name": "dense", "trainable": True,
               "batch_input_shape": [None, 4], "dtype": "float32", "units": 3, "activation": "relu", "use_bias": True,
               "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
               "bias_initializer": {"class_name": "Zeros", "config": {}},
               "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
               "kernel_constraint": None, "bias_constraint": None}},
              {"class_name": "Dropout", "config": {"name": "dropout", "trainable": True, "dtype": "float32", "rate": 0.5,
               "noise_shape": None, "seed": None}}]
    for name, n_in, units, act in LAYERS[1:]:
        layers.append({"class_name": "Dense", "config": {"name": name, "trainable": True, "dtype": "float32",
                       "units": units, "activation": act, "use_bias": True}})
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    f.attrs["backend"] = "tensorflow".encode("utf8")
    f.attrs["keras_version"] = ("2.2.4" if keras2 else "3.3.3").encode("utf8")
    f.attrs["model_config"] = json.dumps(config).encode("utf8")
    f.attrs["training_config"] = json.dumps({"loss": "categorical_crossentropy", "metrics": ["accuracy"],
        "optimizer_config": {"class_name": "SGD", "config": {"name": "SGD", "learning_rate": 0.05, "momentum": 0.9,
                             "nesterov": True}}}).encode("utf8")
    g = f.create_group("model_weights")
    names = ["dense", "dropout", "dense_1", "dense_2"]
    g.attrs["layer_names"] = np.asarray([n.encode("utf8") for n in names])
    g.attrs["backend"] = b"tensorflow"
    g.attrs["keras_version"] = b"2.2.4"
    for name in sorted(names):
        lg = g.create_group(name)
        if name == "dropout":
            lg.attrs["weight_names"] = np.asarray([])  # float64, shape (0,)
            continue
        n = [l[0] for l in LAYERS].index(name)
        _, n_in, units, _ = LAYERS[n]
        prefix = f"sequential_4/{name}/" if nested else f"{name}/"
        suffix = ":0" if keras2 else ""
        wn = [f"{prefix}kernel{suffix}", f"{prefix}bias{suffix}"]
        lg.attrs["weight_names"] = np.asarray([w.encode("utf8") for w in wn])
        lg.create_dataset(wn[0], data=kernel(n_in, units, n))
        lg.create_dataset(wn[1], data=bias(units))
    tg = g.create_group("top_level_model_weights")
    tg.attrs["weight_names"] = np.asarray([])
    og = f.create_group("optimizer_weights")
    og.attrs["weight_names"] = np.asarray([b"SGD/iter:0"])
    og.create_dataset("SGD/iter:0", data=np.int64(3))


with h5py.File(f"{out}/legacy_keras2.h5", "w") as f:
    legacy(f)
with h5py.File(f"{out}/legacy_nested.h5", "w") as f:
    legacy(f, keras2=False, nested=True)

# Every type the reader reads, in datasets and attributes.
with h5py.File(f"{out}/types.h5", "w") as f:
    for rank in range(5):
        shape = tuple(range(2, 2 + rank))
        n = int(np.prod(shape)) if rank else 1
        f[f"f32_rank{rank}"] = (np.arange(n, dtype=np.float32) * 0.25 - 1).reshape(shape)
    f["f64"] = np.arange(6, dtype=np.float64).reshape(2, 3) / 3
    f["i64"] = np.array([-5, 0, 1 << 40], dtype=np.int64)
    f["i32"] = np.array([-7, 7], dtype=np.int32)
    f["u8"] = np.array([0, 200, 255], dtype=np.uint8)
    f["empty"] = np.zeros((0, 3), dtype=np.float32)
    f.attrs["vlen"] = "a variable-length string, ünïcode"
    f.attrs["vlen_array"] = np.array(["one", "two", "three"], dtype=h5py.string_dtype())
    f.attrs["fixed"] = np.asarray([b"dense", b"dropout", b"dense_1"])
    f.attrs["ints"] = np.array([1, -2, 3], dtype=np.int64)
    f.attrs["float"] = np.float64(0.5)
    f.attrs["empty_f64"] = np.asarray([])
    f.attrs["null"] = h5py.Empty("f4")
    f["f64"].attrs["unit"] = b"thirds"

# A group of N_BIG members: more symbol table nodes than one B-tree node holds (2K = 32
# children), so the group's B-tree has two levels.
N_BIG = 200
with h5py.File(f"{out}/deep_btree.h5", "w") as f:
    g = f.create_group("vars")
    for i in range(N_BIG):
        g.create_dataset(str(i), data=np.int8(i % 100))

# Chunked datasets as h5py writes them with chunks= and compression="gzip" (deflate, filter 1)
# and shuffle=True (filter 2): edge chunks that stick out of the dataset, ranks 1 to 4, a chunk
# B-tree of two levels (300 chunks, 64 to a node), variable-length strings, no filter at all.
with h5py.File(f"{out}/gzip.h5", "w") as f:
    f.create_dataset("layers/dense/vars/0", data=np.ones((4, 4), np.float32), chunks=(2, 2), compression="gzip")
    f.create_dataset("gzip_f32", data=np.arange(35, dtype=np.float32).reshape(5, 7) / 4 - 3, chunks=(2, 3),
                     compression="gzip", compression_opts=9)
    f.create_dataset("shuffle_gzip_f64", data=np.sin(np.arange(24)).reshape(4, 3, 2), chunks=(3, 2, 2),
                     shuffle=True, compression="gzip")
    f.create_dataset("shuffle_i64", data=np.arange(10, dtype=np.int64) * -123456789, chunks=(4,), shuffle=True)
    f.create_dataset("plain_i32", data=np.arange(24, dtype=np.int32).reshape(6, 4), chunks=(4, 3))
    f.create_dataset("many_chunks", data=np.arange(300, dtype=np.float32) * 0.5, chunks=(1,), compression="gzip")
    f.create_dataset("rank4", data=np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5), chunks=(1, 2, 3, 2),
                     compression="gzip", shuffle=True)
    f.create_dataset("strings", data=np.array(["one", "two", "three", "four", "five"], dtype=h5py.string_dtype()),
                     chunks=(2,), compression="gzip")
    f.create_dataset("zeros", data=np.zeros((64, 64), np.float32), chunks=(64, 64), compression="gzip")
# The small chunked file whose every truncation and flipped byte the unit tests try.
with h5py.File(f"{out}/small_gzip.h5", "w") as f:
    f.create_dataset("x", data=np.array([[1.5, -2.0, 0.25], [4.0, 8.0, -0.5]], np.float32), chunks=(1, 2),
                     shuffle=True, compression="gzip")

# Refused: filters other than deflate and shuffle (fletcher32, lzf), the 'latest' format
# (superblock 2+, new-style groups), a soft link.
with h5py.File(f"{out}/refused_fletcher32.h5", "w") as f:
    f.create_dataset("x", data=np.ones(8, np.float32), chunks=(4,), fletcher32=True)
with h5py.File(f"{out}/refused_lzf.h5", "w") as f:
    f.create_dataset("layers/dense/vars/0", data=np.ones(8, np.float32), chunks=(4,), compression="lzf")
with h5py.File(f"{out}/refused_latest.h5", "w", libver="latest") as f:
    f["x"] = np.ones(3, np.float32)
with h5py.File(f"{out}/refused_softlink.h5", "w") as f:
    f["x"] = np.ones(3, np.float32)
    f["y"] = h5py.SoftLink("/x")

# The small file whose every truncation and flipped byte the unit tests try.
with h5py.File(f"{out}/small.h5", "w") as f:
    f["layers/dense/vars/0"] = np.array([[1.5, -2.0], [0.25, 4.0]], np.float32)
    f["layers/dense/vars/0"].attrs["name"] = "kernel"
    f.attrs["layer_names"] = np.asarray([b"dense", b"dense_1"])
    f.attrs["weight_names"] = np.asarray([])


# Convolutional models. Weights: sin(0.37 k + layer) / 2 over the array's elements in order,
# bias[j] = 0.1 * (j + 1); the tests check the loaded models against a NumPy forward pass over
# the weights h5py reads (numpy_forward.py), not against these formulas.
def conv_weight(shape, layer):
    n = int(np.prod(shape))
    return (np.sin(np.arange(n) * 0.37 + layer) / 2).reshape(shape).astype(np.float32)


def initializers3():
    return {"kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                   "config": {"seed": None}, "registered_name": None},
            "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {},
                                 "registered_name": None}}


def conv3(name, filters, kernel_size, strides, padding, activation, use_bias, input_shape):
    """base_conv.py's get_config: every key, in its order."""
    config = {"name": name, "trainable": True, "dtype": policy(), "filters": filters, "kernel_size": kernel_size,
              "strides": strides, "padding": padding, "data_format": "channels_last", "dilation_rate": [1, 1],
              "groups": 1, "activation": activation, "use_bias": use_bias, **initializers3(),
              "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "bias_constraint": None}
    return {"module": "keras.layers", "class_name": "Conv2D", "config": config, "registered_name": None,
            "build_config": {"input_shape": [None, *input_shape]}}


def pool3(cls, name, pool_size, strides, padding, input_shape):
    """base_pooling.py's get_config."""
    return {"module": "keras.layers", "class_name": cls, "config": {
        "name": name, "trainable": True, "dtype": policy(), "pool_size": pool_size, "padding": padding,
        "strides": strides, "data_format": "channels_last"}, "registered_name": None,
        "build_config": {"input_shape": [None, *input_shape]}}


# Keras 3 .keras: (8, 8, 2) -> Conv2D(4, 3, same, relu) -> MaxPooling2D(2) -> Conv2D(3, (2, 3),
# strides (2, 1), valid, tanh, no bias) -> AveragePooling2D(2, strides 1, same) -> Flatten ->
# Dense(2, softmax).
CONV_WEIGHTS = [("conv2d", [(3, 3, 2, 4), (4,)]), ("max_pooling2d", []), ("conv2d_1", [(2, 3, 4, 3)]),
                ("average_pooling2d", []), ("flatten", []), ("dense", [(12, 2), (2,)])]
conv_keras3_config = {
    "module": "keras", "class_name": "Sequential",
    "config": {"name": "sequential", "trainable": True, "dtype": policy(), "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, 8, 8, 2], "dtype": "float32", "sparse": False, "name": "input_layer"},
         "registered_name": None},
        conv3("conv2d", 4, [3, 3], [1, 1], "same", "relu", True, (8, 8, 2)),
        pool3("MaxPooling2D", "max_pooling2d", [2, 2], [2, 2], "valid", (8, 8, 4)),
        conv3("conv2d_1", 3, [2, 3], [2, 1], "valid", "tanh", False, (4, 4, 4)),
        pool3("AveragePooling2D", "average_pooling2d", [2, 2], [1, 1], "same", (2, 2, 3)),
        {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "flatten", "trainable": True,
         "dtype": policy(), "data_format": "channels_last"}, "registered_name": None,
         "build_config": {"input_shape": [None, 2, 2, 3]}},
        {**dense_config("dense", 2, "softmax", 12)}], "build_input_shape": [None, 8, 8, 2]},
    "registered_name": None, "build_config": {"input_shape": [None, 8, 8, 2]}}


def conv_keras3_weights(f):
    f.create_group("vars")
    for n, (group, shapes) in enumerate(CONV_WEIGHTS):
        g = f.create_group(f"layers/{group}/vars")
        for i, shape in enumerate(shapes):
            g[str(i)] = conv_weight(shape, n) if i == 0 else bias(shape[0])
    f.create_group("optimizer/vars")


write_keras_zip(f"{out}/conv_keras3.keras", h5_bytes(conv_keras3_weights), conv_keras3_config)


# Keras 2.2 legacy .h5, no InputLayer: (6, 5, 1) -> Conv2D(3, 3, valid, relu) ->
# MaxPooling2D(2, strides 1, same) -> Conv2D(2, 2, strides 2, same) -> GlobalAveragePooling2D ->
# Dense(3, softmax), weights named "conv2d_1/kernel:0" (Keras 2's layer names count from 1).
def conv2(name, filters, kernel_size, strides, padding, activation, first=False):
    config = {"name": name, "trainable": True}
    if first:
        config["batch_input_shape"] = [None, 6, 5, 1]
    config.update({"dtype": "float32", "filters": filters, "kernel_size": kernel_size, "strides": strides,
                   "padding": padding, "data_format": "channels_last", "dilation_rate": [1, 1],
                   "activation": activation, "use_bias": True,
                   "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
                                          "distribution": "uniform", "seed": None}},
                   "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
                   "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
                   "bias_constraint": None})
    return {"class_name": "Conv2D", "config": config}


CONV_LEGACY = [("conv2d_1", [(3, 3, 1, 3), (3,)]), ("max_pooling2d_1", []), ("conv2d_2", [(2, 2, 3, 2), (2,)]),
               ("global_average_pooling2d_1", []), ("dense_1", [(2, 3), (3,)])]
conv_legacy_config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
    conv2("conv2d_1", 3, [3, 3], [1, 1], "valid", "relu", first=True),
    {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d_1", "trainable": True, "dtype": "float32",
     "pool_size": [2, 2], "padding": "same", "strides": [1, 1], "data_format": "channels_last"}},
    conv2("conv2d_2", 2, [2, 2], [2, 2], "same", "linear"),
    {"class_name": "GlobalAveragePooling2D", "config": {"name": "global_average_pooling2d_1", "trainable": True,
     "dtype": "float32", "data_format": "channels_last"}},
    {"class_name": "Dense", "config": {"name": "dense_1", "trainable": True, "dtype": "float32", "units": 3,
     "activation": "softmax", "use_bias": True}}]}}
with h5py.File(f"{out}/conv_legacy_keras2.h5", "w") as f:
    f.attrs["backend"] = b"tensorflow"
    f.attrs["keras_version"] = b"2.2.4"
    f.attrs["model_config"] = json.dumps(conv_legacy_config).encode("utf8")
    g = f.create_group("model_weights")
    g.attrs["layer_names"] = np.asarray([name.encode("utf8") for name, _ in CONV_LEGACY])
    g.attrs["backend"] = b"tensorflow"
    g.attrs["keras_version"] = b"2.2.4"
    for n, (name, shapes) in enumerate(CONV_LEGACY):
        lg = g.create_group(name)
        wn = [f"{name}/{w}:0" for w in ["kernel", "bias"][:len(shapes)]]
        lg.attrs["weight_names"] = np.asarray([w.encode("utf8") for w in wn]) if wn else np.asarray([])
        for i, (w, shape) in enumerate(zip(wn, shapes)):
            lg.create_dataset(w, data=conv_weight(shape, n) if i == 0 else bias(shape[0]))


# BatchNormalization: gamma 1 + sin / 4, beta cos / 10, moving_mean sin(2k) / 5, moving_variance
# 0.5 + k / 4 (positive), in Keras's order (gamma, beta, moving_mean, moving_variance; gamma
# only with scale, beta only with center).
def bn_weights(n, scale=True, center=True):
    k = np.arange(n)
    out = []
    if scale:
        out.append((1 + np.sin(k) / 4).astype(np.float32))
    if center:
        out.append((np.cos(k) / 10).astype(np.float32))
    return out + [(np.sin(2 * k) / 5).astype(np.float32), (0.5 + k / 4).astype(np.float32)]


def bn3(name, axis, scale, center, input_shape):
    """batch_normalization.py's get_config: every key, in its order."""
    zeros = {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": None}
    ones = {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": None}
    return {"module": "keras.layers", "class_name": "BatchNormalization", "config": {
        "name": name, "trainable": True, "dtype": policy(), "axis": axis, "momentum": 0.9, "epsilon": 0.01,
        "center": center, "scale": scale, "beta_initializer": zeros, "gamma_initializer": ones,
        "moving_mean_initializer": zeros, "moving_variance_initializer": ones, "beta_regularizer": None,
        "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None, "synchronized": False},
        "registered_name": None, "build_config": {"input_shape": [None, *input_shape]}}


# Keras 3 .keras: (5, 5, 2) -> Conv2D(3, 3, same, relu) -> BatchNormalization -> MaxPooling2D(2)
# -> Flatten -> Dense(4) -> BatchNormalization(scale=False) -> Dense(2, softmax).
BN_WEIGHTS = [("conv2d", [conv_weight((3, 3, 2, 3), 0), bias(3)]), ("batch_normalization", bn_weights(3)),
              ("max_pooling2d", []), ("flatten", []), ("dense", [conv_weight((12, 4), 4), bias(4)]),
              ("batch_normalization_1", bn_weights(4, scale=False)), ("dense_1", [conv_weight((4, 2), 6), bias(2)])]
bn_keras3_config = {
    "module": "keras", "class_name": "Sequential",
    "config": {"name": "sequential", "trainable": True, "dtype": policy(), "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, 5, 5, 2], "dtype": "float32", "sparse": False, "name": "input_layer"},
         "registered_name": None},
        conv3("conv2d", 3, [3, 3], [1, 1], "same", "relu", True, (5, 5, 2)),
        bn3("batch_normalization", -1, True, True, (5, 5, 3)),
        pool3("MaxPooling2D", "max_pooling2d", [2, 2], [2, 2], "valid", (5, 5, 3)),
        {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "flatten", "trainable": True,
         "dtype": policy(), "data_format": "channels_last"}, "registered_name": None,
         "build_config": {"input_shape": [None, 2, 2, 3]}},
        dense_config("dense", 4, "linear", 12),
        bn3("batch_normalization_1", -1, False, True, (4,)),
        dense_config("dense_1", 2, "softmax", 4)], "build_input_shape": [None, 5, 5, 2]},
    "registered_name": None, "build_config": {"input_shape": [None, 5, 5, 2]}}


def bn_keras3_weights(f):
    f.create_group("vars")
    for group, arrays in BN_WEIGHTS:
        g = f.create_group(f"layers/{group}/vars")
        for i, a in enumerate(arrays):
            g[str(i)] = a
    f.create_group("optimizer/vars")


write_keras_zip(f"{out}/bn_keras3.keras", h5_bytes(bn_keras3_weights), bn_keras3_config)

# Keras 2 legacy .h5: (4, 4, 1) -> Conv2D(2, 3) -> BatchNormalization(axis=[3], center=False) ->
# Flatten -> Dense(2, softmax); weights "batch_normalization_1/gamma:0", ...
BN_LEGACY = [("conv2d_1", ["kernel", "bias"], [conv_weight((3, 3, 1, 2), 0), bias(2)]),
             ("batch_normalization_1", ["gamma", "moving_mean", "moving_variance"], bn_weights(2, center=False)),
             ("flatten_1", [], []), ("dense_1", ["kernel", "bias"], [conv_weight((8, 2), 3), bias(2)])]
bn_legacy_config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
    {"class_name": "Conv2D", "config": {"name": "conv2d_1", "trainable": True, "batch_input_shape": [None, 4, 4, 1],
     "dtype": "float32", "filters": 2, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid",
     "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear", "use_bias": True}},
    {"class_name": "BatchNormalization", "config": {"name": "batch_normalization_1", "trainable": True,
     "dtype": "float32", "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": False, "scale": True,
     "beta_initializer": {"class_name": "Zeros", "config": {}}, "gamma_initializer": {"class_name": "Ones",
     "config": {}}, "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
     "moving_variance_initializer": {"class_name": "Ones", "config": {}}, "beta_regularizer": None,
     "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}},
    {"class_name": "Flatten", "config": {"name": "flatten_1", "trainable": True, "dtype": "float32",
     "data_format": "channels_last"}},
    {"class_name": "Dense", "config": {"name": "dense_1", "trainable": True, "dtype": "float32", "units": 2,
     "activation": "softmax", "use_bias": True}}]}}
with h5py.File(f"{out}/bn_legacy_keras2.h5", "w") as f:
    f.attrs["backend"] = b"tensorflow"
    f.attrs["keras_version"] = b"2.3.1"
    f.attrs["model_config"] = json.dumps(bn_legacy_config).encode("utf8")
    g = f.create_group("model_weights")
    g.attrs["layer_names"] = np.asarray([name.encode("utf8") for name, _, _ in BN_LEGACY])
    for name, names, arrays in BN_LEGACY:
        lg = g.create_group(name)
        wn = [f"{name}/{w}:0" for w in names]
        lg.attrs["weight_names"] = np.asarray([w.encode("utf8") for w in wn]) if wn else np.asarray([])
        for w, a in zip(wn, arrays):
            lg.create_dataset(w, data=a)
