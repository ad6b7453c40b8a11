#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# lamina benchmark: Keras's MNIST convnet in PyTorch (Conv2d 32 3x3 relu, max-pool 2, Conv2d 64
# 3x3 relu, max-pool 2, flatten, dropout 0.5, linear 10; Adam 1e-3, batch 128, pixels scaled to
# [0, 1]), timed per epoch after a warm-up of a few batches, and its inference of the 10,000 test
# images. Prints "pytorch <threads> <s/epoch> <predict s> <train accuracy>".
import argparse
import os
import time

import numpy as np
import torch

from pytorch_seed import load_images, load_labels  # beside this script


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1, help="timed epochs, after a warm-up of 10 batches")
    p.add_argument("--samples", type=int, default=60000)
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = torch.from_numpy(load_images(os.path.join(a.data, "train-images-idx3-ubyte")).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    y = torch.from_numpy(load_labels(os.path.join(a.data, "train-labels-idx1-ubyte")).astype(np.int64))
    x, y = x[:a.samples], y[:a.samples]
    x_test = torch.from_numpy(load_images(os.path.join(a.data, "t10k-images-idx3-ubyte")).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    x, x_test = x.contiguous(memory_format=fmt), x_test.contiguous(memory_format=fmt)

    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(1600, 10))
    for layer in (model[0], model[3], model[8]):  # Keras's defaults: glorot-uniform kernel, zero bias
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    model = model.to(memory_format=fmt)
    loss_fn = torch.nn.CrossEntropyLoss()  # softmax fused with cross-entropy
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    def epoch(limit):
        order = torch.randperm(x.shape[0])[:limit]
        correct = 0
        for s in range(0, order.shape[0], 128):
            idx = order[s:s + 128]
            xb, yb = x[idx], y[idx]
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct += (out.argmax(1) == yb).sum().item()
        return correct / order.shape[0]

    model.train()
    epoch(1280)  # warm-up
    start = time.perf_counter()
    accuracy = 0.0
    for _ in range(a.epochs):
        accuracy = epoch(x.shape[0])
    per_epoch = (time.perf_counter() - start) / a.epochs
    model.eval()
    with torch.no_grad():
        model(x_test[:256])
        start = time.perf_counter()
        for s in range(0, x_test.shape[0], 256):
            model(x_test[s:s + 256])
        predict = time.perf_counter() - start
    print(f"pytorch {a.threads} {per_epoch:.4f} {predict:.4f} {accuracy:.4f}")


if __name__ == "__main__":
    main()
