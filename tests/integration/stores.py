"""Helpers for the tests of shared stores: the Redis fixture, keys left in a store, and jobs of
ranks started by hand (each rank a process, as `--rank R --size N` on several hosts would be)."""

import os
import subprocess
import sys
import time

import harness

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import redis_server  # noqa: E402  (tests/redis_server.py)


def fixture_url():
    """The URL of the CTest fixture's redis-server, or None outside CTest."""
    path = os.environ.get("RDZV_TEST_REDIS_URL_FILE")
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read().strip()


def redis_cli(url, *args, prefix=None):
    host, port = url[len("redis://"):].rsplit(":", 1)
    out = subprocess.run((prefix or []) + ["redis-cli", "-h", host, "-p", port] + list(args),
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout


def redis_keys(url, pattern, prefix=None):
    """Every key matching `pattern` (SCAN, so a busy shared server is not blocked)."""
    out = redis_cli(url, "--scan", "--pattern", pattern, prefix=prefix)
    return sorted(k for k in out.splitlines() if k)


class Job:
    """`size` rank processes of one run, started at once."""

    def __init__(self, size, store, args, run_id=None, env_for_rank=None, prefix_for_rank=None,
                 ranks=None, command="run"):
        self.procs = {}
        for rank in ranks if ranks is not None else range(size):
            cmd = [command, "--rank", str(rank), "--size", str(size), "--store", store] + args
            if run_id is not None:
                cmd += ["--run-id", run_id]
            env = dict(os.environ)
            env.update(env_for_rank(rank) if env_for_rank else {})
            prefix = prefix_for_rank(rank) if prefix_for_rank else []
            self.procs[rank] = subprocess.Popen(prefix + [harness.BINARY] + cmd,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                text=True, env=env)
        self.start = time.monotonic()
        self.results = {}

    def add(self, other):
        self.procs.update(other.procs)
        return self

    def finish(self, timeout=120):
        """Waits for every rank; returns {rank: (exit code, stdout, stderr, seconds)}."""
        for rank, p in self.procs.items():
            try:
                out, err = p.communicate(timeout=max(1, timeout - (time.monotonic() - self.start)))
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
                err += "\n<killed by the test: no exit within its timeout>"
            self.results[rank] = (p.returncode, out, err, time.monotonic() - self.start)
        return self.results

    def kill(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()

    def describe(self):
        return "\n".join(f"--- rank {r}: exit {c} after {t:.1f}s\n{e}"
                         for r, (c, _, e, t) in sorted(self.results.items()))
