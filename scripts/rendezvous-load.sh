#!/usr/bin/env bash
# Load benchmark of the rendezvous: N rank processes (64 by default) on this host meet through
# each store (redis, file, tcp) and connect a full tcp mesh; prints, per store, the median over
# ROUNDS rounds (interleaved, as absolute times drift between invocations) of:
#   joined  seconds from rank 0's start until every rank had arrived (report phase "ranks")
#   mesh    seconds from rank 0's start until the full mesh was connected ("mesh/tcp")
#   wall    seconds from launching the first rank until the last one exited
# Rank 0 starts first, so both rank-0 times include starting the other N-1 processes. Each run
# measures only one tiny latency (8 B, 10 iterations, ranks 0 and 1) and uses epoll progress, so
# that N ranks on a few cores do not busy-poll. Not a timed test: numbers vary with the machine.
#
#   scripts/rendezvous-load.sh                 # 64 ranks, 3 rounds
#   N=16 ROUNDS=1 STORES="redis tcp" scripts/rendezvous-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-64}
ROUNDS=${ROUNDS:-3}
STORES=${STORES:-"redis file tcp"}
TIMEOUT=${TIMEOUT:-120}
BIN=${RDZV_BINARY:-build/src/cli/rdzvbench}
[ -x "$BIN" ] || { echo "rendezvous-load: $BIN not built (scripts/build.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/rdzv-load-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  python3 tests/redis_server.py stop "$work/redis" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 4096 2>/dev/null || true

if [[ " $STORES " == *" redis "* ]]; then
  python3 tests/redis_server.py start "$work/redis" >/dev/null
  redis_url=$(cat "$work/redis/redis.url")
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_once STORE ROUND: one N-rank run; appends "store joined mesh wall" to $work/results.
run_once() {
  local store=$1 round=$2 uri
  case $store in
    redis) uri=$redis_url ;;
    file) uri="file://$work/files" ;;
    tcp) uri="tcp://127.0.0.1:$(free_port)" ;;
  esac
  local out="$work/$store-$round.json" start end failed=0
  pids=()
  start=$(date +%s.%N)
  for ((r = 0; r < N; r++)); do
    "$BIN" run --rank "$r" --size "$N" --store "$uri" --run-id "load-$store-$round-$$" \
      --addr 127.0.0.1 --progress epoll -b latency --sizes 8 --iterations 10 \
      --timeout "$TIMEOUT" -q -o "$out" >"$work/$store-$round-$r.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  end=$(date +%s.%N)
  pids=()
  if [ $failed -ne 0 ]; then
    echo "rendezvous-load: a rank failed with the $store store:" >&2
    grep -h "error" "$work/$store-$round-"*.log | head -5 >&2
    exit 3
  fi
  python3 - "$out" "$store" "$start" "$end" >>"$work/results" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
p = report["phase_seconds"]
print(sys.argv[2], p["ranks"], p["mesh/tcp"], float(sys.argv[4]) - float(sys.argv[3]))
EOF
}

echo "rendezvous-load: $N ranks on $(nproc) cores, $ROUNDS round(s) of: $STORES"
for ((round = 1; round <= ROUNDS; round++)); do
  for store in $STORES; do
    run_once "$store" "$round"
    echo "  round $round $store: $(tail -1 "$work/results" | cut -d' ' -f2-)"
  done
done
python3 - "$work/results" "$N" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    store, *values = line.split()
    rows.setdefault(store, []).append([float(v) for v in values])
print(f"\nmedians over rounds, {sys.argv[2]} ranks (seconds):")
print(f"{'store':<8}{'joined':>10}{'mesh':>10}{'wall':>10}")
for store, runs in rows.items():
    med = [statistics.median(col) for col in zip(*runs)]
    print(f"{store:<8}{med[0]:>10.2f}{med[1]:>10.2f}{med[2]:>10.2f}")
EOF
