#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina benchmark: the seed recipe in lamina and in PyTorch, back to back, at equal threads.
# Needs Debian's python3-torch; OpenBLAS's OpenMP build (libopenblas0-openmp) gives PyTorch
# its fast kernels, picked for this CPU through OPENBLAS_CORETYPE.
# Usage: benchmarks/compare_pytorch.sh [threads ...]   (default: 1 2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/benchmarks/pytorch_env.sh"
build_benchmark train_benchmark

echo "$torch_description"
echo
echo "inputs: bytes = pixels 0-255 as uint8, converted batch by batch; raw = 0-255 as float32; scaled = 0-1 as float32"
echo
echo "| input | threads | lamina s/epoch | PyTorch s/epoch | PyTorch / lamina |"
echo "|---|---|---|---|---|"
threads_list=("$@")
[ ${#threads_list[@]} -gt 0 ] || threads_list=(1 2)
for threads in "${threads_list[@]}"; do
  for input in bytes raw scaled; do
    lamina=$("$build/benchmarks/train_benchmark" --no-naive --only-threads "$threads" --only-input "$input" \
             | awk -F'|' '/^\| lamina/ {gsub(/ /, "", $5); print $5}')
    torch=$(OPENBLAS_CORETYPE=$coretype OMP_NUM_THREADS=$threads "$python" "$root/benchmarks/pytorch_seed.py" \
             --data "$data" --threads "$threads" --input "$input" | awk '{print $4}')
    ratio=$(awk -v a="$torch" -v b="$lamina" 'BEGIN { printf "%.1fx", a / b }')
    echo "| $input | $threads | $lamina | $torch | $ratio |"
  done
done
