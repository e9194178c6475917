#!/usr/bin/env python3
"""Draws an `rdzvbench survey` report: the latency and bandwidth matrices as heat maps and a
histogram of every pair's values, nodes in placement order (the report's matrix order).

    scripts/plot_survey.py survey.json -o survey.png

Verdicts (slow nodes and links) are framed in red on the heat maps.
"""

import argparse
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"plot_survey.py: error: cannot read {path}: {e}")
    if report.get("kind") != "survey":
        sys.exit(f"plot_survey.py: error: {path} is not a survey report (rdzvbench survey -o)")
    return report


def labels(report):
    """One label per matrix row: the node name, with the rank when a node has several."""
    node_of = {}
    for node in report["nodes"]:
        for r in node["surveyed"]:
            node_of[r] = node
    out = []
    for r in report["matrix_ranks"]:
        node = node_of[r]
        out.append(node["name"] if len(node["surveyed"]) == 1 else f"{node['name']}:{r}")
    return out


def heat(ax, matrix, names, title, unit, cmap, marks):
    values = [[math.nan if v is None else v for v in row] for row in matrix]
    im = ax.imshow(values, cmap=cmap)
    ax.set_title(title)
    ax.set_xticks(range(len(names)))
    ax.set_yticks(range(len(names)))
    small = len(names) <= 32
    ax.set_xticklabels(names if small else [], rotation=90, fontsize=7)
    ax.set_yticklabels(names if small else [], fontsize=7)
    ax.figure.colorbar(im, ax=ax, label=unit, shrink=0.8)
    for i, j in marks:
        for a, b in ((i, j), (j, i)):
            ax.add_patch(plt.Rectangle((b - 0.5, a - 0.5), 1, 1, fill=False, edgecolor="red",
                                       linewidth=1.5))


def pairs_of(report, metric):
    """Matrix cells that belong to a verdict of `metric`."""
    index = {r: i for i, r in enumerate(report["matrix_ranks"])}
    cells = set()
    for v in report["verdicts"]:
        if v["metric"] != metric:
            continue
        ranks = [r for r in v["ranks"] if r in index]
        if v["kind"] == "slow_node":
            for r in ranks:
                cells.update((index[r], j) for j in range(len(index)) if j != index[r])
        else:
            cells.update((index[a], index[b]) for a in ranks for b in ranks if a != b)
    return sorted(cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report")
    parser.add_argument("-o", "--output", default="survey.png", help="image file (PNG, SVG, PDF)")
    args = parser.parse_args()
    report = load(args.report)
    names = labels(report)
    params = report["params"]
    fig, axes = plt.subplots(1, 3, figsize=(18, 6))
    heat(axes[0], report["latency_us"]["median"], names,
         f"latency, {params['latency_size']} B", "µs", "viridis_r", pairs_of(report, "latency"))
    heat(axes[1], report["bandwidth_mbps"]["median"], names,
         f"bandwidth, {params['bandwidth_size']} B (row sends)", "MB/s", "viridis",
         pairs_of(report, "bandwidth"))
    lat = [v for row in report["latency_us"]["median"] for v in row if v is not None]
    bw = [v for row in report["bandwidth_mbps"]["median"] for v in row if v is not None]
    ax = axes[2]
    ax.hist(lat, bins=30, color="tab:blue")
    ax.set_xlabel("latency (µs)", color="tab:blue")
    ax.set_ylabel("pairs")
    top = ax.twiny()
    top.hist(bw, bins=30, color="tab:orange", alpha=0.6)
    top.set_xlabel("bandwidth (MB/s)", color="tab:orange")
    verdicts = ", ".join(f"{v['kind'].replace('_', ' ')} {'-'.join(v['node_names'])} "
                         f"({v['metric']})" for v in report["verdicts"]) or "no slow node or link"
    fig.suptitle(f"rdzvbench survey: {len(names)} ranks, {len(report['nodes'])} nodes, "
                 f"{params['transport']} — {verdicts}")
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"plot: {args.output}")


if __name__ == "__main__":
    main()
