"""Interleaved side-by-side speed check of rdzvbench (see scripts/perf-check.sh).

Absolute times on these machines drift 2-3x between invocations, so every target is a ratio
of two things measured in the same round, and rounds alternate (A, B, A, B ...); the ratio
reported is the median over rounds.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "core",
          "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
          # OpenMPI's TCP path, not shared memory: the fair baseline for a TCP transport.
          "--mca", "pml", "ob1", "--mca", "btl", "self,tcp"]


def rdzvbench_under_mpirun(binary, tmp, benchmark, size, iterations, transports="tcp,mpi"):
    out = os.path.join(tmp, "r.json")
    # ofi runs libfabric's tcp provider (tcp;ofi_rxm) on loopback, in native mode.
    cmd = MPIRUN + ["-np", "2", "-x", "FI_TCP_IFACE=lo", binary, "run", "--bootstrap", "mpi",
                    "--addr", "127.0.0.1", "--provider", "tcp", "-t", transports, "-b", benchmark,
                    "--sizes", size, "--iterations", str(iterations), "-q", "-o", out]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    with open(out) as f:
        report = json.load(f)
    return {s["transport"]: s["rows"][0] for s in report["series"]}


def sockperf_latency(seconds):
    """Median one-way latency (us) of sockperf's busy-polling TCP ping-pong on loopback,
    at its smallest message (14 bytes: sockperf's own header)."""
    port = "12399"
    server = subprocess.Popen(["taskset", "-c", "0", "sockperf", "server", "--tcp", "-i",
                               "127.0.0.1", "-p", port, "--nonblocked"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        r = subprocess.run(["taskset", "-c", "1", "sockperf", "ping-pong", "--tcp", "-i",
                            "127.0.0.1", "-p", port, "-m", "14", "-t", str(seconds),
                            "--nonblocked"], capture_output=True, text=True, timeout=60)
        m = re.search(r"percentile 50\.000 =\s+([0-9.]+)", r.stdout + r.stderr)
        if not m:
            raise RuntimeError("could not read sockperf's median:\n" + r.stdout + r.stderr)
        return float(m.group(1))
    finally:
        server.kill()
        server.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ofi", action="store_true",
                    help="also measure the ofi transport (tcp provider, native mode) in the "
                         "same launches and print its ratios")
    args = ap.parse_args()
    transports = "tcp,ofi,mpi" if args.ofi else "tcp,mpi"

    keys = ["tcp_lat", "mpi_lat", "raw_lat", "tcp_bw", "mpi_bw"]
    if args.ofi:
        keys += ["ofi_lat", "ofi_bw"]
    samples = {k: [] for k in keys}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            # Alternate which side goes first, so drift during a round favours neither.
            steps = ["lat", "raw", "bw"] if i % 2 == 0 else ["bw", "raw", "lat"]
            for step in steps:
                if step == "lat":
                    rows = rdzvbench_under_mpirun(args.binary, tmp, "latency", "8", 20000,
                                                  transports)
                    for t in transports.split(","):
                        samples[f"{t}_lat"].append(rows[t]["latency_us"]["p50"])
                elif step == "raw":
                    samples["raw_lat"].append(sockperf_latency(1))
                else:
                    rows = rdzvbench_under_mpirun(args.binary, tmp, "bw", "4M", 20, transports)
                    for t in transports.split(","):
                        samples[f"{t}_bw"].append(rows[t]["bandwidth_mbps"])
            print(f"round {i + 1}/{args.rounds}: " + ", ".join(
                f"{k}={v[-1]:.2f}" for k, v in samples.items()), file=sys.stderr)

    med = {k: statistics.median(v) for k, v in samples.items()}
    checks = [
        ("tcp 8 B latency / raw socket (sockperf 14 B)", med["tcp_lat"] / med["raw_lat"],
         "<=", 1.15),
        ("tcp 8 B latency / mpi (ob1+tcp) 8 B", med["tcp_lat"] / med["mpi_lat"], "<", 1.0),
        ("tcp 4 MiB bandwidth / mpi (ob1+tcp) 4 MiB", med["tcp_bw"] / med["mpi_bw"], ">=", 1.0),
    ]
    print(f"\nmedians over {args.rounds} interleaved rounds (absolute values drift between "
          "runs; only the ratios are the result):")
    print(f"  tcp 8 B p50 {med['tcp_lat']:.2f} us | mpi 8 B p50 {med['mpi_lat']:.2f} us | "
          f"sockperf 14 B p50 {med['raw_lat']:.2f} us")
    print(f"  tcp 4 MiB {med['tcp_bw']:.0f} MB/s | mpi 4 MiB {med['mpi_bw']:.0f} MB/s")
    if args.ofi:
        print(f"  ofi (tcp;ofi_rxm, native) 8 B p50 {med['ofi_lat']:.2f} us | 4 MiB "
              f"{med['ofi_bw']:.0f} MB/s")
        print(f"  ratios (no target): ofi/tcp latency {med['ofi_lat'] / med['tcp_lat']:.2f}, "
              f"ofi/mpi latency {med['ofi_lat'] / med['mpi_lat']:.2f}, "
              f"ofi/tcp bandwidth {med['ofi_bw'] / med['tcp_bw']:.2f}, "
              f"ofi/mpi bandwidth {med['ofi_bw'] / med['mpi_bw']:.2f}")
    print("\nratio                                              value  target   verdict")
    failed = 0
    for name, value, op, target in checks:
        ok = {"<=": value <= target, "<": value < target, ">=": value >= target}[op]
        failed += not ok
        print(f"  {name:<48} {value:5.2f}  {op} {target:<5} {'met' if ok else 'MISSED'}")
    print(f"\nrerun: scripts/perf-check.sh --rounds {args.rounds}{' --ofi' if args.ofi else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
