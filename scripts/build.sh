#!/usr/bin/env bash
# Configures and builds rdzvbench into build/ (warnings are errors). Idempotent: a second
# run rebuilds only what changed. Extra arguments go to cmake --build (e.g. --target rdzvbench).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DRDZV_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build build -j "$(nproc)" "$@"
