#!/usr/bin/env bash
# Builds every workspace (tsc -b, incremental) and native/conmon.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -b
if [ -f native/conmon/Makefile ]; then
  make -s -C native/conmon
fi
