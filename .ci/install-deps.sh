#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina: installs the Debian packages lamina's build, tests and examples need, when missing.
# Usage: .ci/install-deps.sh [extra-package ...]
#   e.g. .ci/run adds what its sanitizer, clang, format and aarch64 steps use:
#   .ci/install-deps.sh clang-14 libclang-rt-14-dev clang-format-14 python3-numpy \
#     g++-aarch64-linux-gnu qemu-user
set -euo pipefail

# curl: the data script's fallback where npm is missing; pkg-config: the package test's Makefile
# consumer (tests/package/make/).
packages=(build-essential cmake libeigen3-dev catch2 libstb-dev zlib1g-dev libbenchmark-dev
          nlohmann-json3-dev pkg-config curl ca-certificates "$@")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "lamina: installing missing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "lamina: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "lamina: installed ${missing[*]}"
