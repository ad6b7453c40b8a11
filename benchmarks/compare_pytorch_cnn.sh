#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina benchmark: Keras's MNIST convnet in lamina (cnn_benchmark) and in PyTorch
# (pytorch_cnn.py), back to back, at equal threads: seconds per training epoch over the 60,000
# training images and seconds to predict the 10,000 test images. PyTorch runs in its default
# memory format (NCHW) and in channels-last (NHWC); the faster counts.
# Needs Debian's python3-torch (see pytorch_env.sh).
# Usage: benchmarks/compare_pytorch_cnn.sh [threads ...]   (default: 1 2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/pytorch_env.sh"
build_benchmark cnn_benchmark

echo "$torch_description"
echo
echo "| threads | lamina s/epoch | PyTorch s/epoch (NCHW / NHWC) | PyTorch / lamina | lamina predict (s) | PyTorch predict (s) | PyTorch / lamina |"
echo "|---|---|---|---|---|---|---|"
threads_list=("$@")
[ ${#threads_list[@]} -gt 0 ] || threads_list=(1 2)
for threads in "${threads_list[@]}"; do
  row=$("$build/benchmarks/cnn_benchmark" --data "$data" --threads "$threads" | grep "^| $threads |")
  lamina_epoch=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
  lamina_predict=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $7); print $7}')
  nchw=$(OPENBLAS_CORETYPE=$coretype OMP_NUM_THREADS=$threads "$python" "$root/benchmarks/pytorch_cnn.py" \
           --data "$data" --threads "$threads")
  nhwc=$(OPENBLAS_CORETYPE=$coretype OMP_NUM_THREADS=$threads "$python" "$root/benchmarks/pytorch_cnn.py" \
           --data "$data" --threads "$threads" --channels-last)
  torch_epoch=$(printf '%s\n%s\n' "$nchw" "$nhwc" | awk 'NR == 1 || $3 < best { best = $3 } END { print best }')
  torch_predict=$(printf '%s\n%s\n' "$nchw" "$nhwc" | awk 'NR == 1 || $4 < best { best = $4 } END { print best }')
  echo "| $threads | $lamina_epoch | $(echo "$nchw" | awk '{print $3}') / $(echo "$nhwc" | awk '{print $3}') |" \
       "$(awk -v a="$torch_epoch" -v b="$lamina_epoch" 'BEGIN { printf "%.1fx", a / b }') |" \
       "$lamina_predict | $torch_predict | $(awk -v a="$torch_predict" -v b="$lamina_predict" 'BEGIN { printf "%.1fx", a / b }') |"
done
