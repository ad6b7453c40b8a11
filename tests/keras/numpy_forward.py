#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# lamina: a NumPy forward pass of a Sequential Keras model file (.keras or legacy .h5) over the
# weights h5py reads from it, in float64, for tests/test_keras.cpp to compare with lamina's
# predictions. Layers: InputLayer, Dense, Conv2D, MaxPooling2D, AveragePooling2D,
# GlobalAveragePooling2D, BatchNormalization (inference: the moving averages), Flatten,
# Dropout, Activation (channels last; Keras's "same" padding puts the odd row or column at the
# bottom and right, and average pooling counts only the input under the window).
# Usage: /usr/bin/python3 numpy_forward.py MODEL INPUTS.txt OUT.txt   (INPUTS: one sample a row,
# flattened as the model's input shape; OUT: one prediction a row).
import io
import json
import sys
import zipfile

import h5py
import numpy as np


def snake(name):
    out = ""
    for i, c in enumerate(name):
        if c.isupper() and i > 0 and ((i + 1 < len(name) and name[i + 1].islower()) or name[i - 1].islower()):
            out += "_"
        out += c.lower()
    return out


def load(path):
    """The layer configs and, per layer, its weight arrays in Keras's order."""
    if zipfile.is_zipfile(path):
        z = zipfile.ZipFile(path)
        config = json.loads(z.read("config.json"))
        f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        layers = [l for l in config["config"]["layers"]]
        counts, weights = {}, []
        for l in layers:
            if l["class_name"] == "InputLayer":
                weights.append([])
                continue
            base = snake(l["class_name"])
            k = counts.get(base, 0)
            counts[base] = k + 1
            v = f[f"layers/{base if k == 0 else f'{base}_{k}'}/vars"]
            weights.append([v[str(i)][()] for i in range(len(v))])
        return layers, weights
    f = h5py.File(path, "r")
    config = json.loads(f.attrs["model_config"])
    layers = config["config"]["layers"] if isinstance(config["config"], dict) else config["config"]
    g = f["model_weights"]
    weights = []
    for l in layers:
        name = l["config"]["name"]
        names = [n.decode() if isinstance(n, bytes) else n for n in g[name].attrs["weight_names"]] if name in g else []
        weights.append([g[name][n][()] for n in names])
    return layers, weights


def pads(size, window, stride, padding):
    if padding == "valid":
        return (size - window) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + window - size, 0) // 2


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def windows(x, size, strides, padding):
    """(i, j, rows, cols, r0, c0) for each output position (i, j): the input rows and columns
    under its window, and the window's first row and column (negative over the padding)."""
    _, h, w, _ = x.shape
    oh, top = pads(h, size[0], strides[0], padding)
    ow, left = pads(w, size[1], strides[1], padding)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * strides[0] - top, j * strides[1] - left
            yield i, j, range(max(r0, 0), min(r0 + size[0], h)), range(max(c0, 0), min(c0 + size[1], w)), r0, c0


def activate(x, name):
    if name in (None, "linear"):
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(name)


def forward(layers, weights, x):
    for l, w in zip(layers, weights):
        cls, c = l["class_name"], l["config"]
        if cls == "InputLayer" or cls == "Dropout":
            continue
        if cls == "Dense":
            x = activate(x @ w[0].astype(np.float64) + (w[1] if len(w) > 1 else 0), c["activation"])
        elif cls == "Conv2D":
            k = w[0].astype(np.float64)
            kh, kw, _, filters = k.shape
            strides, padding = pair(c["strides"]), c["padding"].lower()
            oh, _ = pads(x.shape[1], kh, strides[0], padding)
            ow, _ = pads(x.shape[2], kw, strides[1], padding)
            y = np.zeros((x.shape[0], oh, ow, filters))
            for i, j, rows, cols, r0, c0 in windows(x, (kh, kw), strides, padding):
                part = k[rows.start - r0:rows.stop - r0, cols.start - c0:cols.stop - c0]
                y[:, i, j, :] = np.einsum("nhwc,hwcf->nf", x[:, rows.start:rows.stop, cols.start:cols.stop, :], part)
            if c.get("use_bias", True):
                y = y + w[1]
            x = activate(y, c["activation"])
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            size = pair(c["pool_size"])
            strides = pair(c["strides"] or c["pool_size"])
            padding = c["padding"].lower()
            oh, _ = pads(x.shape[1], size[0], strides[0], padding)
            ow, _ = pads(x.shape[2], size[1], strides[1], padding)
            y = np.zeros((x.shape[0], oh, ow, x.shape[3]))
            for i, j, rows, cols, _, _ in windows(x, size, strides, padding):
                block = x[:, rows.start:rows.stop, cols.start:cols.stop, :]
                y[:, i, j, :] = block.max(axis=(1, 2)) if cls == "MaxPooling2D" else block.mean(axis=(1, 2))
            x = y
        elif cls == "BatchNormalization":
            # Inference: the moving averages. Weights: gamma (scale), beta (center), mean, variance.
            w = list(w)
            gamma = w.pop(0).astype(np.float64) if c.get("scale", True) else 1.0
            beta = w.pop(0).astype(np.float64) if c.get("center", True) else 0.0
            mean, variance = w[0].astype(np.float64), w[1].astype(np.float64)
            x = gamma * (x - mean) / np.sqrt(variance + c.get("epsilon", 1e-3)) + beta
        elif cls == "GlobalAveragePooling2D":
            x = x.mean(axis=(1, 2), keepdims=bool(c.get("keepdims", False)))
        elif cls == "Flatten":
            x = x.reshape(x.shape[0], -1)
        elif cls == "Activation":
            x = activate(x, c["activation"])
        else:
            raise ValueError(cls)
    return x


layers, weights = load(sys.argv[1])
x = np.loadtxt(sys.argv[2], ndmin=2).astype(np.float32).astype(np.float64)
for l in layers:
    shape = l["config"].get("batch_shape") or l["config"].get("batch_input_shape")
    if shape:
        x = x.reshape((x.shape[0], *shape[1:]))
        break
np.savetxt(sys.argv[3], forward(layers, weights, x).reshape(x.shape[0], -1), fmt="%.17g")
