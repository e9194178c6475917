#!/usr/bin/env bash
# Speed check (a benchmark, not a test): measures rdzvbench's tcp transport beside OpenMPI's
# TCP path and a raw busy-polling socket (sockperf), interleaved over several rounds, and
# prints median ratios against the targets. Usage: scripts/perf-check.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/src/cli/rdzvbench ] || scripts/build.sh --target rdzvbench
exec /usr/bin/python3 scripts/perf_check.py --binary build/src/cli/rdzvbench "$@"
