#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina: installs what is missing, fetches MNIST, builds the seed example and trains it.
# Usage: examples/run_mnist.sh [mnist_mlp options, see --help]; writes neuron_images.png.
#        examples/run_mnist.sh --cnn [mnist_cnn options]: Keras's convnet instead
#        (examples/mnist_cnn.cpp); writes conv_filters.png and feature_maps.png.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --help needs nothing installed, fetched or built: the text is the example's own, read from
# its source. With --data DIR the files come from DIR, so data/mnist is not fetched.
program=mnist_mlp
if [ "${1:-}" = "--cnn" ]; then
    program=mnist_cnn
    shift
fi
fetch=1
for arg in "$@"; do
    case "$arg" in
        -h | --help)
            sed -n '/usage_text = R"(/,/^)";/p' "$root/examples/$program.cpp" |
                sed -e "1s|.*R\"(Usage: $program|Usage: examples/run_mnist.sh$([ $program = mnist_cnn ] && echo ' --cnn')|" -e '$d'
            echo "examples/run_mnist.sh first installs what is missing, fetches MNIST (unless --data is"
            echo "given) and builds $program, then runs it with these options; --cnn first runs"
            echo "Keras's convnet (mnist_cnn) instead of the seed network (mnist_mlp)."
            exit 0
            ;;
        --data) fetch=0 ;;
    esac
done

"$root/.ci/install-deps.sh"
if ((fetch)); then "$root/data/fetch_mnist.sh"; fi
build="${LAMINA_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target "$program" --parallel "$(nproc)"
exec "$build/examples/$program" "$@"
