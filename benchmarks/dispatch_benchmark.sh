#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina benchmark: the seed recipe in a build with CMake's default Release flags (no -march, as a
# user's project builds lamina) beside the -march=native build, for each instruction set the
# run-time choice can take there (LAMINA_MAX_ISA), at 1 and 2 threads.
#
# Builds train_benchmark twice (build-native/ and build-portable/, or under $LAMINA_BENCH_DIR),
# then runs the configurations in turn, round after round, so that a drift of the machine's speed
# spreads over all of them; each cell is the median over the rounds of train_benchmark's median
# seconds per epoch (raw bytes, as the example feeds them). Then the same for inference.
# Nothing else should run meanwhile.
# Usage: benchmarks/dispatch_benchmark.sh [rounds (default 3)] [timed epochs per run (default 3)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
epochs="${2:-3}"
dir="${LAMINA_BENCH_DIR:-$root}"
"$root/data/fetch_mnist.sh" >/dev/null

for kind in native portable; do
  native=$([ "$kind" = native ] && echo ON || echo OFF)
  cmake -S "$root" -B "$dir/build-$kind" -DCMAKE_BUILD_TYPE=Release -DLAMINA_NATIVE="$native" \
        -DLAMINA_BUILD_TESTS=OFF -DLAMINA_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$dir/build-$kind" --target train_benchmark --parallel "$(nproc)" >/dev/null
done

cpu_best=$(LAMINA_MAX_ISA= "$dir/build-native/benchmarks/train_benchmark" --isa)
# Configurations: "build isa" pairs, the native build at the CPU's best first (the reference).
configs=("native $cpu_best" "portable $cpu_best")
case "$cpu_best" in
  avx512) configs+=("portable avx2" "portable baseline") ;;
  avx2) configs+=("portable baseline") ;;
esac

declare -A train infer
for ((round = 0; round < rounds; ++round)); do
  for config in "${configs[@]}"; do
    read -r kind isa <<<"$config"
    for threads in 1 2; do
      out=$(LAMINA_MAX_ISA=$isa "$dir/build-$kind/benchmarks/train_benchmark" --no-naive --epochs "$epochs" \
            --only-threads "$threads" --only-input bytes)
      train["$config $threads"]+="$(awk -F'|' '/^\| lamina/ {gsub(/ /, "", $5); print $5}' <<<"$out") "
      infer["$config $threads"]+="$(awk -F'|' '/^\| predict, 10000 uint8/ {gsub(/ |ms/, "", $3); print $3}' <<<"$out") "
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "Seed recipe (784-100-10, sigmoid, SGD, batch 100), raw bytes; median of $rounds rounds of $epochs timed epochs"
echo "native: CMake Release + -march=native; portable: CMake Release, no -march (a user's default build)"
echo
echo "| build | kernels (LAMINA_MAX_ISA) | threads | s/epoch | vs native | predict 10000 (ms) | vs native |"
echo "|---|---|---|---|---|---|---|"
for threads in 1 2; do
  ref_train=$(median <<<"${train["native $cpu_best $threads"]}")
  ref_infer=$(median <<<"${infer["native $cpu_best $threads"]}")
  for config in "${configs[@]}"; do
    read -r kind isa <<<"$config"
    t=$(median <<<"${train["$config $threads"]}")
    p=$(median <<<"${infer["$config $threads"]}")
    awk -v k="$kind" -v i="$isa" -v n="$threads" -v t="$t" -v rt="$ref_train" -v p="$p" -v rp="$ref_infer" \
      'BEGIN { printf "| %s | %s | %d | %.3f | %.2fx | %.1f | %.2fx |\n", k, i, n, t, t / rt, p, p / rp }'
  done
done
