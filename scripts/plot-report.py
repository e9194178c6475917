#!/usr/bin/python3
"""Plots rdzvbench reports: latency and bandwidth against message size on log axes.

usage: scripts/plot-report.py REPORT.json [REPORT.json ...] -o DIR [--tolerance PCT]

Writes into DIR:
  latency.png    latency p50 (us) against size, one line per series (of every report)
  bandwidth.png  bandwidth (MB/s) against size, one line per series
  busbw.png      bus bandwidth (GB/s), when collective rows carry busbw_gbps
  compare.png    with exactly two reports: the change of NEW (second) against BASE (first),
                 per series found in both, with the +-tolerance band

Rows measured with `run --repeat N` get error bars spanning their trials. A series whose
details hold `switch_point` (bytes where eager turns into rendezvous, T+G) gets a dashed
vertical line there. Uses Debian's python3-matplotlib with the Agg backend (no display).
Exit codes as rdzvbench: 0 written, 2 unusable input.
"""

import argparse
import json
import os
import sys

SCHEMA_VERSION = 1


def fail(message, hint=None):
    print(f"plot-report: error: {message}" + (f" ({hint})" if hint else ""), file=sys.stderr)
    sys.exit(2)


def load(path):
    try:
        with open(path) as f:
            report = json.load(f)
    except OSError as e:
        fail(f'cannot read report "{path}": {e.strerror}', "pass a report written by rdzvbench")
    except json.JSONDecodeError as e:
        fail(f'malformed JSON in report "{path}" at line {e.lineno}, column {e.colno}: {e.msg}')
    if not isinstance(report, dict) or report.get("schema_version") != SCHEMA_VERSION:
        found = report.get("schema_version") if isinstance(report, dict) else None
        fail(f'report "{path}" has schema_version {found!r}, this script reads {SCHEMA_VERSION}')
    if not isinstance(report.get("series"), list):
        fail(f'report "{path}" has no series list', "pass a report written by rdzvbench")
    return report


def series_key(s):
    return (s.get("transport", ""), s.get("benchmark", ""), s.get("algorithm", ""),
            tuple(sorted(s.get("params", {}).items())), tuple(sorted(s.get("env", {}).items())))


def series_label(s):
    """The same label rdzvbench compare prints: "tcp latency pairs=0-1 FI_X=1"."""
    parts = [s.get("transport", ""), s.get("benchmark", "")]
    if s.get("algorithm"):
        parts.append(s["algorithm"])
    parts += [f"{k}={v}" for k, v in sorted(s.get("params", {}).items())]
    parts += [f"{k}={v}" for k, v in sorted(s.get("env", {}).items())]
    return " ".join(parts)


def format_size(n, _pos=None):
    n = int(round(n))
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def switch_point(s):
    value = (s.get("details") or {}).get("switch_point")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


# What each plot shows: how to read a row's value, and its trial values when repeated.
METRICS = {
    "latency": ("latency p50 (us)", lambda r: r["latency_us"]["p50"], "latency_p50_us"),
    "bandwidth": ("bandwidth (MB/s, 10^6 B/s)", lambda r: r["bandwidth_mbps"], "bandwidth_mbps"),
    "busbw": ("bus bandwidth (GB/s)", lambda r: r.get("busbw_gbps", 0), "busbw_gbps"),
}


def value_of(row, metric):
    try:
        v = float(METRICS[metric][1](row))
    except (KeyError, TypeError, ValueError):
        return None
    return v if v > 0 else None


def size_axis(ax, plt):
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(format_size))
    ax.set_xlabel("message size (bytes)")
    ax.grid(True, which="major", alpha=0.3)


def plot_metric(plt, reports, metric, out_dir):
    label, _, trial_key = METRICS[metric]
    fig, ax = plt.subplots(figsize=(10, 6))
    lines = 0
    for name, report in reports:
        for s in report["series"]:
            points = [(r["size"], value_of(r, metric), r.get("trials")) for r in s.get("rows", [])]
            points = [p for p in points if p[1] is not None]
            if not points:
                continue
            sizes = [p[0] for p in points]
            values = [p[1] for p in points]
            line_label = series_label(s) if len(reports) == 1 else f"{name}: {series_label(s)}"
            line, = ax.plot(sizes, values, marker="o", markersize=3, label=line_label)
            lines += 1
            # Trials: a bar from the lowest to the highest trial, around the median.
            low, high = [], []
            for _, v, trials in points:
                tv = [t.get(trial_key) for t in (trials or []) if t.get(trial_key)]
                low.append(v - min(tv) if tv else 0)
                high.append(max(tv) - v if tv else 0)
            if any(low) or any(high):
                ax.errorbar(sizes, values, yerr=[low, high], fmt="none", ecolor=line.get_color(),
                            capsize=2, alpha=0.7)
            sp = switch_point(s)
            if sp:
                ax.axvline(sp, color=line.get_color(), linestyle="--", alpha=0.8,
                           label=f"eager/rendezvous switch {format_size(sp)} ({series_label(s)})")
    if lines == 0:
        plt.close(fig)
        return None
    size_axis(ax, plt)
    ax.set_yscale("log")
    ax.set_ylabel(label)
    ax.set_title(f"rdzvbench: {label} against message size")
    ax.legend(fontsize="small")
    path = os.path.join(out_dir, f"{metric}.png")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_comparison(plt, base, new, tolerance, out_dir):
    (base_name, base_report), (new_name, new_report) = base, new
    base_series = {series_key(s): s for s in base_report["series"]}
    fig, axes = plt.subplots(2, 1, figsize=(10, 9), sharex=True)
    lines = 0
    for s in new_report["series"]:
        b = base_series.get(series_key(s))
        if b is None:
            continue
        base_rows = {r["size"]: r for r in b.get("rows", [])}
        for ax, metric in zip(axes, ("latency", "bandwidth")):
            sizes, changes = [], []
            for r in s.get("rows", []):
                old = base_rows.get(r["size"])
                v_new = value_of(r, metric)
                v_old = value_of(old, metric) if old else None
                if v_new is None or v_old is None:
                    continue
                sizes.append(r["size"])
                changes.append((v_new - v_old) / v_old * 100)
            if sizes:
                ax.plot(sizes, changes, marker="o", markersize=3, label=series_label(s))
                lines += 1
    if lines == 0:
        plt.close(fig)
        fail(f'"{base_name}" and "{new_name}" have no series and size in common to compare')
    for ax, metric, worse in zip(axes, ("latency", "bandwidth"), ("up", "down")):
        size_axis(ax, plt)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axhspan(-tolerance, tolerance, color="green", alpha=0.1,
                   label=f"tolerance +-{tolerance:g}%")
        ax.set_ylabel(f"{METRICS[metric][0]}: change (%)")
        ax.set_title(f"{metric} change, NEW against BASE (worse is {worse})")
        ax.legend(fontsize="small")
    fig.suptitle(f"BASE {base_name}  vs  NEW {new_name}")
    path = os.path.join(out_dir, "compare.png")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reports", nargs="+", metavar="REPORT.json")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="directory for the PNG files (created when missing)")
    parser.add_argument("--tolerance", type=float, default=5.0, metavar="PCT",
                        help="band drawn on compare.png, in percent (default 5)")
    args = parser.parse_args()

    reports = [(os.path.basename(p), load(p)) for p in args.reports]
    try:
        import matplotlib
    except ImportError:
        fail("matplotlib is not installed", "apt-get install python3-matplotlib")
    matplotlib.use("Agg")  # no display on CI machines
    import matplotlib.pyplot as plt

    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as e:
        fail(f'cannot create output directory "{args.output}": {e.strerror}')
    written = [plot_metric(plt, reports, m, args.output) for m in METRICS]
    if len(reports) == 2:
        written.append(plot_comparison(plt, reports[0], reports[1], args.tolerance, args.output))
    written = [p for p in written if p]
    if not written:
        fail("the reports hold no rows to plot")
    for p in written:
        print(p)


if __name__ == "__main__":
    main()
