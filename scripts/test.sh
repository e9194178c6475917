#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit and integration).
# Idempotent. Pass ctest arguments to narrow it, e.g. scripts/test.sh -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
# Integration tests are RUN_SERIAL (they busy-poll cores); unit tests share the two cores.
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
