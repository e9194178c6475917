"""Interleaved measurement of the eager/rendezvous switch (see scripts/engine-check.sh)."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

T, G = 16384, 2049
BELOW, ABOVE = T + G, T + G + 1


def run(binary, tmp, proto):
    out = os.path.join(tmp, "r.json")
    subprocess.run([binary, "run", "-q", "-b", "latency,bw", "--sizes", f"{BELOW},{ABOVE}",
                    "--rdzv-proto", proto, "--iterations", "2000", "-o", out],
                   check=True, capture_output=True, timeout=300)
    with open(out) as f:
        report = json.load(f)
    values = {}
    for s in report["series"]:
        for row in s["rows"]:
            side = "below" if row["size"] == BELOW else "above"
            if s["benchmark"] == "latency":
                values[f"lat_{side}"] = row["latency_us"]["p50"]
            else:
                values[f"bw_{side}"] = row["bandwidth_mbps"]
    return values


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    samples = {"default": [], "alt_read": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            order = ["default", "alt_read"] if i % 2 == 0 else ["alt_read", "default"]
            for proto in order:
                samples[proto].append(run(args.binary, tmp, proto))
            print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)

    def med(proto, key):
        return statistics.median(s[key] for s in samples[proto])

    print(f"tcp transport, T={T} G={G}: eager up to {BELOW} B, rendezvous from {ABOVE} B; "
          f"medians over {args.rounds} interleaved rounds\n")
    print(f"{'protocol':<10} {'lat p50 ' + str(BELOW):>16} {'lat p50 ' + str(ABOVE):>16} "
          f"{'jump':>7} {'bw ' + str(BELOW):>14} {'bw ' + str(ABOVE):>14}")
    for proto in ("default", "alt_read"):
        lb, la = med(proto, "lat_below"), med(proto, "lat_above")
        print(f"{proto:<10} {lb:13.2f} us {la:13.2f} us {la / lb:6.2f}x "
              f"{med(proto, 'bw_below'):9.0f} MB/s {med(proto, 'bw_above'):9.0f} MB/s")
    cost = med("alt_read", "lat_above") / med("default", "lat_above")
    bw_cost = med("alt_read", "bw_above") / med("default", "bw_above")
    print(f"\nalt_read's extra 'done' message: rendezvous latency {cost:.2f}x default's, "
          f"bandwidth {bw_cost:.2f}x default's")
    print(f"rerun: scripts/engine-check.sh --rounds {args.rounds}")


if __name__ == "__main__":
    main()
