#!/usr/bin/env bash
# How long a 2-rank run takes from the launch command to the written report, under each way of
# starting it on this host: srun (one-node Slurm, zero-configuration store), srun --mpi=pmix
# with the MPI bootstrap, mpirun, and local mode. Rounds are interleaved (A, B, C, D, A, ...)
# and the medians printed with their ratio to mpirun's, as absolute times drift between
# invocations. Not a timed test.
#
#   scripts/launch-time.sh                       # 5 rounds of the default sweep (1 B .. 4 MiB)
#   ROUNDS=3 SIZES=8,64K scripts/launch-time.sh  # start-up dominates with few sizes
#
# Needs the cluster of scripts/slurm-local.sh (started when it is not running, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
SIZES=${SIZES:-1:4M}
BIN=$(realpath "${RDZV_BINARY:-build/src/cli/rdzvbench}")
[ -x "$BIN" ] || { echo "launch-time: $BIN not built (scripts/build.sh)" >&2; exit 2; }
scripts/slurm-local.sh status >/dev/null || scripts/slurm-local.sh start
work=$(mktemp -d /tmp/rdzv-launch-XXXXXX)
trap 'rm -rf "$work"' EXIT
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca btl_tcp_if_include lo
  --mca oob_tcp_if_include lo -np 2)
declare -A how=(
  [srun]="srun -n 2 $BIN run"
  [srun-pmix]="srun --mpi=pmix -n 2 $BIN run --bootstrap mpi"
  [mpirun]="${MPIRUN[*]} $BIN run --bootstrap mpi"
  [local]="$BIN run --np 2"
)
order=(srun srun-pmix mpirun local)
for round in $(seq "$ROUNDS"); do
  for name in "${order[@]}"; do
    start=$EPOCHREALTIME
    # shellcheck disable=SC2086
    ${how[$name]} -q -s "$SIZES" -o "$work/$name-$round.json" >"$work/$name.log" 2>&1 ||
      { echo "launch-time: $name failed:"; tail -5 "$work/$name.log"; exit 3; } >&2
    [ -s "$work/$name-$round.json" ] || { echo "launch-time: $name wrote no report" >&2; exit 3; }
    echo "$name $start $EPOCHREALTIME" >>"$work/times"
  done
done
python3 - "$work/times" "$ROUNDS" "$SIZES" "${order[@]}" <<'PY'
import statistics, sys
path, rounds, sizes, order = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
times = {}
for line in open(path):
    name, start, end = line.split()
    times.setdefault(name, []).append(float(end) - float(start))
base = statistics.median(times["mpirun"])
print(f"launch to report, 2 ranks, sizes {sizes}, median of {rounds} interleaved rounds")
for name in order:
    m = statistics.median(times[name])
    print(f"  {name:10s} {m:7.2f} s   x{m / base:.2f} of mpirun   "
          f"(all: {' '.join(f'{t:.2f}' for t in times[name])})")
PY
