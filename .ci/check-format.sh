#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina: checks that the C++ sources match .clang-format (clang-format-14); exits non-zero on any difference.
# Usage: .ci/check-format.sh        (reformat with: clang-format-14 -i <file>...)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
format="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$format" >/dev/null; then
  echo "lamina: $format not found (install the clang-format-14 package)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
  'include/*.hpp' 'include/*.cpp' 'tests/*.hpp' 'tests/*.cpp' \
  'examples/*.hpp' 'examples/*.cpp' 'benchmarks/*.hpp' 'benchmarks/*.cpp' 'src/*.cpp')
if [ ${#files[@]} -eq 0 ]; then
  echo "lamina: no sources found" >&2
  exit 2
fi
if "$format" --dry-run --Werror "${files[@]}"; then
  echo "lamina: ${#files[@]} files match .clang-format"
else
  echo "lamina: the files above differ from .clang-format; run: $format -i <file>..." >&2
  exit 1
fi
