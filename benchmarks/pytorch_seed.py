#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# lamina benchmark: the seed recipe in PyTorch (784-100-10 sigmoid/softmax, SGD 0.01, batch 100),
# timed per epoch. Prints "pytorch <threads> <input> <median s/epoch> <train accuracy>".
# Inputs: raw pixels as float32 (the Keras original's astype('float32')), scaled to [0, 1],
# or kept as uint8 and converted batch by batch (as lamina's fit does with bytes).
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch


def load_images(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x00\x00\x08\x03":
        sys.exit(f"{path}: not an IDX image file")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(-1, 784)


def load_labels(path):
    with open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=8)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=5, help="timed epochs, after one warm-up epoch")
    p.add_argument("--input", choices=["raw", "scaled", "bytes"], default="raw",
                   help="raw: float32 0-255; scaled: float32 0-1; bytes: uint8, converted per batch")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    pixels = load_images(os.path.join(a.data, "train-images-idx3-ubyte"))
    x = torch.from_numpy(pixels.copy() if a.input == "bytes" else pixels.astype(np.float32))
    if a.input == "scaled":
        x /= 255.0
    y = torch.from_numpy(load_labels(os.path.join(a.data, "train-labels-idx1-ubyte")).astype(np.int64))

    model = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.Sigmoid(), torch.nn.Linear(100, 10))
    for layer in (model[0], model[2]):  # Keras's defaults: glorot-uniform kernel, zero bias
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax fused with cross-entropy
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    times, accuracy = [], 0.0
    for epoch in range(a.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(x.shape[0])
        correct = 0
        for s in range(0, x.shape[0], 100):
            idx = order[s:s + 100]
            xb, yb = x[idx], y[idx]
            if a.input == "bytes":
                xb = xb.float()
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += (out.argmax(1) == yb).sum().item()
        if epoch > 0:
            times.append(time.perf_counter() - start)
        accuracy = correct / x.shape[0]
    print(f"pytorch {a.threads} {a.input} {statistics.median(times):.4f} {accuracy:.4f}")


if __name__ == "__main__":
    main()
