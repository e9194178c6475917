#!/usr/bin/env bash
# The CI regression check: runs a configured sweep, compares it with a stored baseline, writes
# JUnit XML and a Markdown summary, and exits non-zero when a metric regressed. Copy it into a
# CI job as it is (README.md, "Regression checks in CI").
#
# usage: scripts/ci-regression.sh [options] [-- more `rdzvbench run` flags]
#   --baseline PATH   baseline report, or a directory of them whose newest is used
#                     (default: $RDZV_BASELINE, else baselines/ci-regression)
#   --config FILE     sweep file (default: configs/ci-regression.json)
#   --out DIR         where report.json, junit.xml, summary.md and compare.json go
#                     (default: ci-regression-out)
#   --tolerance SPEC  for rdzvbench compare, e.g. 10% or latency=10%,bw=5% (default: 5%)
#   --report FILE     compare this report instead of running the sweep
#   --save-baseline   keep the new report as a baseline when it passes (or when there is no
#                     baseline yet: the first run records one and compares it with itself)
#   --plots           also draw PNG plots into DIR/plots (scripts/plot-report.py)
#   --binary PATH     rdzvbench to use (default: $RDZVBENCH, else build/src/cli/rdzvbench,
#                     built when missing)
#   --launcher CMD    what starts the ranks, e.g. "srun -N2 -n2" or "mpirun -np 2"
#                     (default: local mode, 2 ranks on this host)
# Exit codes are rdzvbench's: 0 no regression, 1 regression, 2 bad usage or input, 3 failure.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
baseline="${RDZV_BASELINE:-baselines/ci-regression}"
config="$root/configs/ci-regression.json"
out="ci-regression-out"
tolerance=""
report=""
save=0
plots=0
binary="${RDZVBENCH:-}"
launcher=()
run_flags=()

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  echo "ci-regression: error: $1" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline="${2:?--baseline needs a path}"; shift 2 ;;
    --config) config="${2:?--config needs a file}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --tolerance) tolerance="${2:?--tolerance needs a value}"; shift 2 ;;
    --report) report="${2:?--report needs a file}"; shift 2 ;;
    --save-baseline) save=1; shift ;;
    --plots) plots=1; shift ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --launcher) read -r -a launcher <<<"${2:?--launcher needs a command}"; shift 2 ;;
    --) shift; run_flags=("$@"); break ;;
    -h|--help) usage ;;
    *) die "unknown argument \"$1\" (see $0 --help)" ;;
  esac
done

if [ -z "$binary" ]; then
  binary="$root/build/src/cli/rdzvbench"
  [ -x "$binary" ] || "$root/scripts/build.sh" --target rdzvbench
fi
[ -x "$binary" ] || die "no rdzvbench at \"$binary\" (build it, or pass --binary)"
mkdir -p "$out" || die "cannot create output directory \"$out\""

# 1. The new measurement.
if [ -z "$report" ]; then
  [ -r "$config" ] || die "cannot read sweep file \"$config\""
  report="$out/report.json"
  echo "ci-regression: running the sweep in $config" >&2
  "${launcher[@]}" "$binary" run --config "$config" --output "$report" "${run_flags[@]}"
fi

# 2. The baseline; a first run with --save-baseline records one.
if [ ! -e "$baseline" ]; then
  if [ "$save" -eq 0 ]; then
    die "no baseline at \"$baseline\" (record one with --save-baseline on a trusted build, or pass --baseline)"
  fi
  mkdir -p "$baseline"
fi
if [ -d "$baseline" ] && ! compgen -G "$baseline/*.json" >/dev/null; then
  [ "$save" -eq 1 ] || die "baseline directory \"$baseline\" holds no reports (record one with --save-baseline)"
  cp "$report" "$baseline/$(date -u +%Y%m%dT%H%M%SZ).json"
  echo "ci-regression: recorded the first baseline in $baseline" >&2
  save=0
fi

# 3. The comparison; its exit code is the script's.
compare_flags=(--junit "$out/junit.xml" --markdown "$out/summary.md" --json "$out/compare.json")
[ -z "$tolerance" ] || compare_flags+=(--tolerance "$tolerance")
set +e
"$binary" compare "$baseline" "$report" "${compare_flags[@]}"
code=$?
set -e

if [ "$plots" -eq 1 ] && [ -f "$out/compare.json" ]; then
  base_file="$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["base"]["path"])' "$out/compare.json")"
  /usr/bin/python3 "$root/scripts/plot-report.py" "$base_file" "$report" -o "$out/plots" >/dev/null ||
    echo "ci-regression: plots failed (the check itself is unaffected)" >&2
fi

# 4. A passing report becomes the newest baseline when asked.
if [ "$code" -eq 0 ] && [ "$save" -eq 1 ]; then
  if [ -d "$baseline" ]; then
    cp "$report" "$baseline/$(date -u +%Y%m%dT%H%M%SZ).json"
  else
    cp "$report" "$baseline"
  fi
  echo "ci-regression: saved the new report as a baseline in $baseline" >&2
fi

case "$code" in
  0) echo "ci-regression: no regression (summary: $out/summary.md, JUnit: $out/junit.xml)" >&2 ;;
  1) echo "ci-regression: REGRESSION (summary: $out/summary.md, JUnit: $out/junit.xml)" >&2 ;;
esac
exit "$code"
