#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina: installs what is missing, fetches MNIST, builds the seed example and trains it.
# Usage: examples/run_mnist.sh [mnist_mlp options, see --help]; writes neuron_images.png.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/.ci/install-deps.sh"
"$root/data/fetch_mnist.sh"
build="${LAMINA_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target mnist_mlp --parallel "$(nproc)"
exec "$build/examples/mnist_mlp" "$@"
