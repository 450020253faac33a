#!/usr/bin/env bash
# Fails when services/common/src/gen is not what proto/ generates (someone
# edited a .proto without running `npm run gen`, or edited generated code).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a services/common/src/gen "$tmp/before"
bash scripts/gen-proto.sh >/dev/null
if ! diff -r "$tmp/before" services/common/src/gen >"$tmp/diff"; then
  echo "generated proto code is stale: run 'npm run gen' and commit" >&2
  head -40 "$tmp/diff" >&2
  exit 1
fi
echo "generated proto code is current"
