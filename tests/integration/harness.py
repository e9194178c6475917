"""Shared helpers for rdzvbench's integration tests: real processes, real sockets.

Every test gets the binary and the source tree from the environment CTest sets
(RDZV_BINARY, RDZV_SOURCE_DIR), runs rdzvbench as a user would, and checks exit codes,
messages and reports. Every report a test produces is validated against the schema.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BINARY = os.environ.get("RDZV_BINARY", "build/src/cli/rdzvbench")
SOURCE_DIR = os.environ.get("RDZV_SOURCE_DIR", os.getcwd())
SCHEMA = os.path.join(SOURCE_DIR, "results-schema", "report.schema.json")

# OpenMPI on this kind of machine: root, more ranks than cores, loopback only.
MPIRUN = [
    "mpirun", "--allow-run-as-root", "--oversubscribe",
    "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def validate_report(path):
    """Loads a report and validates it against results-schema/report.schema.json."""
    return validate_json(path, "report.schema.json")


def validate_json(path, schema_name):
    """Loads a file rdzvbench wrote and validates it against results-schema/`schema_name`."""
    import jsonschema
    with open(os.path.join(SOURCE_DIR, "results-schema", schema_name)) as f:
        schema = json.load(f)
    with open(path) as f:
        document = json.load(f)
    jsonschema.Draft202012Validator(schema).validate(document)
    return document


class Result:
    def __init__(self, proc, elapsed):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    def __repr__(self):
        return f"exit {self.code} after {self.elapsed:.1f}s\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run(args, timeout=120, env=None, prefix=None):
    """Runs rdzvbench (optionally behind a launcher `prefix`) and captures everything."""
    cmd = (prefix or []) + [BINARY] + args
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    return Result(proc, time.monotonic() - start)


def spawn(args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen([BINARY] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env)


def child_rank_pid(parent, rank):
    """The pid of the local-mode child of `parent` that runs `rank`, or None."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline") as f:
                cmd = f.read().split("\0")
            with open(f"/proc/{pid}/stat") as f:
                ppid = f.read().split()[3]
        except OSError:
            continue
        if ppid == str(parent) and "--rank" in cmd and cmd[cmd.index("--rank") + 1] == str(rank):
            return int(pid)
    return None


def kill_rank_when(proc, rank, ready, settle=0.0, timeout=60, watch="stdout"):
    """Reads a local-mode run's `watch` stream as it is printed (its table on stdout, or its
    progress on stderr); once `ready(lines)` holds (and after `settle` more seconds), kills
    rank `rank` with SIGKILL. Waits for the run to end and returns (stderr, seconds from the
    kill to the end). Raises AssertionError when the run never got ready or the rank was not
    running."""
    lines = []
    stream = getattr(proc, watch)
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, "")),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not ready(lines) and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        reader.join(timeout=1)  # it ended early: all it printed, for the message below
    if not ready(lines):
        raise AssertionError(f"the run never printed what the test waits for: {lines}")
    time.sleep(settle)
    victim = child_rank_pid(proc.pid, rank)
    if victim is None:
        raise AssertionError(f"rank {rank} is not running")
    os.kill(victim, signal.SIGKILL)
    start = time.monotonic()
    other = proc.stderr.read() if watch == "stdout" else proc.stdout.read()
    proc.wait(timeout=timeout)
    reader.join(timeout=10)
    return (other if watch == "stdout" else "".join(lines)), time.monotonic() - start


class TestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="rdzv-it-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def assertExit(self, result, code):
        self.assertEqual(result.code, code, repr(result))

    def check_usage(self, args, *needles):
        """Runs rdzvbench with bad `args`: exit 2 and one line of stderr holding `needles`."""
        r = run(args, timeout=30)
        self.assertExit(r, 2)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r)
        for n in needles:
            self.assertIn(n, lines[0])

    def assertRankLost(self, proc, stderr, elapsed, out, dead, survivors):
        """After rank `dead` was killed: the run exits 3 within 15 s, each of the `survivors`
        ranks prints one error naming it, and rank 0's report (returned) is marked incomplete,
        naming it, its last series unfinished."""
        self.assertEqual(proc.returncode, 3, stderr)
        self.assertLess(elapsed, 15)
        errors = [l for l in stderr.splitlines() if l.startswith("rdzvbench: error:")]
        self.assertEqual(len(errors), survivors, stderr)
        for line in errors:
            self.assertIn(f"rank {dead}", line)
        report = validate_report(out)
        self.assertFalse(report["complete"])
        self.assertIn(f"rank {dead}", report["error"])
        self.assertFalse(report["series"][-1]["complete"])
        return report

    def assertReport(self, path, series, sizes=None):
        """Validates the report and checks it holds `series` (transport, benchmark) pairs,
        complete, each with rows for `sizes`."""
        report = validate_report(path)
        found = [(s["transport"], s["benchmark"]) for s in report["series"]]
        self.assertEqual(found, series)
        for s in report["series"]:
            self.assertTrue(s["complete"], s)
            if sizes is not None:
                self.assertEqual([r["size"] for r in s["rows"]], sizes)
            for r in s["rows"]:
                self.assertGreater(r["latency_us"]["min"], 0)
                self.assertGreater(r["bandwidth_mbps"], 0)
                self.assertGreaterEqual(r["pairs"], 1)
        self.assertTrue(report["complete"])
        return report


def main():
    unittest.main(argv=[sys.argv[0]] + sys.argv[1:], verbosity=2)
