#!/usr/bin/env bash
# What the protocol engine's switch costs on this host (a benchmark, not a test): latency and
# bandwidth just below and just above the eager/rendezvous switch point T+G, for both
# rendezvous protocols, over the tcp transport. Runs alternate default and alt_read (A, B,
# A, B ...) and medians are reported. Usage: scripts/engine-check.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/src/cli/rdzvbench ] || scripts/build.sh --target rdzvbench
exec /usr/bin/python3 scripts/engine_check.py --binary build/src/cli/rdzvbench "$@"
