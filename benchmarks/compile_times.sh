#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina benchmark: what including each public header costs to compile, beside reference translation units.
#
# Prints a Markdown table (the README's "Compile times"): for each public header (each file
# under include/lamina/ but the detail/ internals), the time to compile a translation unit
# that only includes it; then the reference units:
#   (a) <Eigen/Dense> and a product of two MatrixXf (benchmarks/compile_probe_eigen.cpp),
#   (b) the README's API example: build a Sequential, compile, fit, evaluate
#       (benchmarks/compile_probe_api.cpp), header-only and with -DLAMINA_COMPILED (plus
#       -DLAMINA_COMPILED_KERAS where nlohmann/json is found, as lamina::compiled gives then; the
#       compiled mode's extern templates: the library's instantiations are then not compiled
#       here but linked from lamina::compiled; this script only compiles, it links nothing),
#   (c) examples/mnist_mlp.cpp (needs stb_image_write.h), likewise both ways,
#   (d) src/lamina.cpp, lamina::compiled's one source file, which a program that links it
#       compiles once.
# Each figure is the median of several runs of the compiler's CPU time (user + system, so that
# other programs on a busy machine inflate it less than wall time); the runs of every unit are
# interleaved round by round, so that a slow spell of the machine spreads over all of them, and
# the ratio to (a) is the figure to compare across machines. With --syntax-only a second column
# gives the time of -fsyntax-only (parsing and template instantiation, no code generation).
#
# Flags are those of a user's CMake Release build: -std=c++20 -O2 and Eigen's and lamina's
# include folders, no -march (CXXFLAGS adds more, e.g. lamina::lamina's definitions
# -DLAMINA_HAVE_ZLIB=1 -DEIGEN_MAX_ALIGN_BYTES=64, which change little). Where nlohmann/json is
# found (its pkg-config flags, else the compiler's own folders), the units also get
# -DLAMINA_HAVE_NLOHMANN_JSON=1, as lamina::lamina gives its users when CMake finds it: then
# (c) includes lamina/io/keras.hpp as the example's CMake build does. Without it, the headers
# that need it (lamina/io/keras.hpp) are left out, with a line on stderr, and (c) is the
# example without Keras files. Units are compiled to object files (-c), one at a time;
# nothing is linked.
#
# Usage: benchmarks/compile_times.sh [--runs N] [--syntax-only] [--refs-only] [--only REGEX]
#   --runs N        runs of each unit (default 5)
#   --syntax-only   also time -fsyntax-only
#   --refs-only     only the reference units (a) to (d), not every header
#   --only REGEX    only the headers whose path (e.g. models/sequential.hpp) matches REGEX
# Environment: CXX (default g++; e.g. CXX=clang++-14), EIGEN_INCLUDE (default: pkg-config's
# eigen3, else /usr/include/eigen3), CXXFLAGS (added after the flags above).
# Where the time goes: add `-ftime-trace` (clang) or `-ftime-report` (GCC) to CXXFLAGS and
# compile one unit by hand, e.g.
#   clang++-14 -std=c++20 -O2 -I/usr/include/eigen3 -Iinclude -ftime-trace -c benchmarks/compile_probe_api.cpp
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

runs=5 syntax=0 refs_only=0 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --syntax-only) syntax=1; shift ;;
    --refs-only) refs_only=1; shift ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compile_times.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

cxx="${CXX:-g++}"
eigen="${EIGEN_INCLUDE:-$(pkg-config --cflags-only-I eigen3 2>/dev/null | sed 's/^ *-I//; s/ *$//')}"
eigen="${eigen:-/usr/include/eigen3}"
[ -f "$eigen/Eigen/Dense" ] || { echo "compile_times.sh: no Eigen in '$eigen' (set EIGEN_INCLUDE)" >&2; exit 1; }
flags=(-std=c++20 -O2 -I"$eigen" -I"$root/include")
# shellcheck disable=SC2206  # CXXFLAGS is a list of words
flags+=(${CXXFLAGS:-})
have_stb=0
echo '#include <stb/stb_image_write.h>' | "$cxx" -x c++ -fsyntax-only - 2>/dev/null && have_stb=1
# shellcheck disable=SC2207  # pkg-config prints a list of words
json_flags=($(pkg-config --cflags nlohmann_json 2>/dev/null || true))
have_json=0
echo '#include <nlohmann/json.hpp>' | "$cxx" -x c++ -std=c++20 "${json_flags[@]}" -fsyntax-only - 2>/dev/null && have_json=1
if [ "$have_json" = 1 ]; then
  flags+=("${json_flags[@]}" -DLAMINA_HAVE_NLOHMANN_JSON=1)
else
  echo "compile_times.sh: no <nlohmann/json.hpp>: lamina/io/keras.hpp is left out, and (c) is built without Keras files" >&2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The compiled mode's definitions, as lamina::compiled gives them to the units that link it
# (with nlohmann/json the library holds Keras's files too).
compiled="-DLAMINA_COMPILED"
[ "$have_json" = 1 ] && compiled+=" -DLAMINA_COMPILED_KERAS"

# The units: label, source file, extra flags (words separated by spaces, or none).
labels=() sources=() extras=()
unit() {
  [ -f "$2" ] || { echo "compile_times.sh: no $2, left out" >&2; return 0; }
  labels+=("$1"); sources+=("$2"); extras+=("${3:-}")
}
unit "(a) \`<Eigen/Dense>\` + a MatrixXf product" "$root/benchmarks/compile_probe_eigen.cpp"
unit "(b) the README's API example" "$root/benchmarks/compile_probe_api.cpp"
unit "(b) the same, \`LAMINA_COMPILED\`" "$root/benchmarks/compile_probe_api.cpp" "$compiled"
if [ "$have_stb" = 1 ]; then
  unit "(c) \`examples/mnist_mlp.cpp\`" "$root/examples/mnist_mlp.cpp"
  unit "(c) the same, \`LAMINA_COMPILED\`" "$root/examples/mnist_mlp.cpp" "$compiled"
fi
unit "(d) \`src/lamina.cpp\` (\`lamina::compiled\`, once)" "$root/src/lamina.cpp" "$compiled"
if [ "$refs_only" = 0 ]; then
  while IFS= read -r header; do
    [ -n "$only" ] && ! [[ "$header" =~ $only ]] && continue
    [ "$header" = viz/weight_grid.hpp ] && [ "$have_stb" = 0 ] && continue
    [ "$have_json" = 0 ] && grep -qE '^#include <(nlohmann/|lamina/io/keras\.hpp>|lamina/detail/keras_definitions\.hpp>)' "$root/include/lamina/$header" && continue
    tu="$work/include_$(echo "$header" | tr '/.' '__').cpp"
    printf '#include <lamina/%s>\n' "$header" >"$tu"
    unit "\`lamina/$header\`" "$tu"
  done < <(cd "$root/include/lamina" && find . -name '*.hpp' -not -path '*/detail/*' | sed 's|^\./||' | LC_ALL=C sort)
fi

# time_one FILE MODE EXTRA: CPU seconds (user + system) of one compilation; MODE is -c or -fsyntax-only.
time_one() {
  local out times extra=()
  [ -n "$3" ] && read -ra extra <<<"$3"
  out=("-o" "$work/unit.o")
  [ "$2" = -fsyntax-only ] && out=()
  local TIMEFORMAT='%3U %3S'
  times=$({ time "$cxx" "${flags[@]}" "${extra[@]}" "$2" "$1" "${out[@]}" >/dev/null 2>"$work/errors"; } 2>&1) || {
    echo "compile_times.sh: $cxx failed on $1:" >&2
    cat "$work/errors" >&2
    exit 1
  }
  awk -v t="$times" 'BEGIN { split(t, a, " "); printf "%.3f\n", a[1] + a[2] }'
}

modes=(-c)
[ "$syntax" = 1 ] && modes+=(-fsyntax-only)
declare -A samples
for ((r = 1; r <= runs; ++r)); do
  echo "run $r of $runs ..." >&2
  for i in "${!labels[@]}"; do
    for m in "${modes[@]}"; do
      samples[$i,$m]+="$(time_one "${sources[$i]}" "$m" "${extras[$i]}") "
    done
  done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

ref=$(median "${samples[0,-c]}")
echo
echo "$("$cxx" --version | head -1); flags: ${flags[*]//$root\//}; median of $runs runs, CPU seconds"
echo
if [ "$syntax" = 1 ]; then
  echo "| translation unit | -O2 -c | ratio to (a) | -fsyntax-only |"
  echo "|---|---|---|---|"
else
  echo "| translation unit | -O2 -c | ratio to (a) |"
  echo "|---|---|---|"
fi
for i in "${!labels[@]}"; do
  t=$(median "${samples[$i,-c]}")
  row="| ${labels[$i]} | $(printf '%.2f' "$t") s | $(awk -v t="$t" -v r="$ref" 'BEGIN { printf "%.2fx", t / r }') |"
  [ "$syntax" = 1 ] && row+=" $(printf '%.2f' "$(median "${samples[$i,-fsyntax-only]}")") s |"
  echo "$row"
done
