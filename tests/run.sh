#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina: installs what is missing, builds the unit tests in build/ and runs them with CTest.
# Usage: tests/run.sh [extra cmake arguments]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/.ci/install-deps.sh"
build="${LAMINA_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc)"
ctest --test-dir "$build" --output-on-failure --parallel "$(nproc)"
