"""Ending a run early: SIGTERM, SIGINT and SIGUSR1 (scancel, a Slurm time limit, Ctrl-C,
srun --signal=USR1@N) stop every rank at the next size. The report keeps the finished rows and
says which signal ended the run, and the run exits 128 + the signal's number, every process
gone within 5 s of the signal. Local mode and mpirun; the real srun/scancel tests use the same
behaviour."""

import os
import re
import signal
import subprocess
import threading
import time

import harness

# A table row: size, iterations, then numbers.
ROW = re.compile(r"^\s*\d+[KMG]?\s+\d+\s+\d")
# Long enough that the signal always lands mid-sweep (4 MiB rows take about a second).
SWEEP = ["-b", "latency,bw", "--sizes", "1:4M"]
STOP_SECONDS = 5


def descendants(pid):
    """Every process below `pid`, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Interrupted(harness.TestCase):
    def start(self, args, prefix=None):
        """Starts a run in its own session (so a whole-group signal reaches only it) and
        collects its stdout lines as they come."""
        out = self.path("r.json")
        cmd = (prefix or []) + [harness.BINARY, "run"] + args + SWEEP + ["-o", out]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),
                                  daemon=True)
        reader.start()
        return proc, lines, reader, out

    def interrupt(self, proc, lines, reader, out, sig, send, rows_first=3):
        """Once `rows_first` rows are printed, calls send(proc, sig); checks that every process
        of the run is gone within STOP_SECONDS and returns (exit code, stderr, report)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(bool(ROW.match(l)) for l in lines) < rows_first:
            time.sleep(0.02)
        printed_before = sum(bool(ROW.match(l)) for l in lines)
        self.assertGreaterEqual(printed_before, rows_first, f"no rows printed: {lines}")
        tree = [proc.pid] + descendants(proc.pid)
        start = time.monotonic()
        send(proc, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.fail(f"the run was still going 30 s after {sig.name}")
        took = time.monotonic() - start
        reader.join(timeout=10)
        stderr = proc.stderr.read()
        self.assertLess(took, STOP_SECONDS, f"the run took {took:.1f} s to end after {sig.name}")
        self.assertAllGone(tree, start, sig)
        report = harness.validate_report(out)
        self.assertFalse(report["complete"])
        rows = sum(len(s["rows"]) for s in report["series"])
        printed = sum(bool(ROW.match(l)) for l in lines)
        # The report keeps every row finished before the stop, exactly the rows printed.
        self.assertGreaterEqual(rows, printed_before)
        self.assertEqual(rows, printed, stderr)
        self.assertFalse(report["series"][-1]["complete"])
        return proc.returncode, stderr, report

    def assertAllGone(self, tree, start, sig):
        """Every process of `tree` ends within STOP_SECONDS of `start` (a launcher may exit
        before its ranks do)."""
        while time.monotonic() < start + STOP_SECONDS and any(alive(p) for p in tree):
            time.sleep(0.05)
        left = [p for p in tree if alive(p)]
        self.assertEqual(left, [], f"processes left {STOP_SECONDS} s after {sig.name}: {left}")

    def assertInterruptedBy(self, report, sig):
        self.assertFalse(report["complete"])
        self.assertEqual(report["interrupted"], {"signal": int(sig), "name": sig.name})
        self.assertIn(f"interrupted by {sig.name}", report["error"])


def to_process(proc, sig):
    os.kill(proc.pid, sig)


def to_group(proc, sig):
    """As Ctrl-C does: the run and every rank get it."""
    os.killpg(proc.pid, sig)


def to_ranks(proc, sig):
    """As srun and scancel do: every rank gets it, the launcher does not."""
    ranks = [p for p in descendants(proc.pid) if "run" in open(f"/proc/{p}/cmdline").read()]
    for p in ranks:
        os.kill(p, sig)


class LocalMode(Interrupted):
    def run_local(self, sig, send, np=2, extra=()):
        proc, lines, reader, out = self.start(["--np", str(np), "-q", *extra])
        return self.interrupt(proc, lines, reader, out, sig, send)

    def test_sigterm_to_the_run(self):
        code, stderr, report = self.run_local(signal.SIGTERM, to_process)
        self.assertEqual(code, 128 + signal.SIGTERM, stderr)
        self.assertInterruptedBy(report, signal.SIGTERM)
        self.assertIn("interrupted by SIGTERM (signal 15)", stderr)

    def test_sigint_to_the_process_group(self):
        code, stderr, report = self.run_local(signal.SIGINT, to_group)
        self.assertEqual(code, 128 + signal.SIGINT, stderr)
        self.assertInterruptedBy(report, signal.SIGINT)

    def test_sigusr1_to_the_run(self):
        code, stderr, report = self.run_local(signal.SIGUSR1, to_process)
        self.assertEqual(code, 128 + signal.SIGUSR1, stderr)
        self.assertInterruptedBy(report, signal.SIGUSR1)

    def test_one_rank_signalled_stops_every_rank(self):
        """Only rank 1 gets it: the ranks agree at the next size, none waits for the other."""
        def rank1(proc, sig):
            pid = harness.child_rank_pid(proc.pid, 1)
            self.assertIsNotNone(pid)
            os.kill(pid, sig)
        # Three ranks with --pairs: rank 2 measures nothing and must stop too.
        code, stderr, report = self.run_local(signal.SIGTERM, rank1, np=3, extra=["--pairs"])
        self.assertEqual(code, 128 + signal.SIGTERM, stderr)
        self.assertInterruptedBy(report, signal.SIGTERM)

    def test_sigkill_of_rank_0_keeps_the_rows_written(self):
        """Nothing can be done on SIGKILL (`scancel JOB.STEP`): the report on disk is the one
        rank 0 rewrote after its last row."""
        proc, lines, reader, out = self.start(["--np", "2", "-q"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(bool(ROW.match(l)) for l in lines) < 3:
            time.sleep(0.02)
        rank0 = harness.child_rank_pid(proc.pid, 0)
        self.assertIsNotNone(rank0)
        os.kill(rank0, signal.SIGKILL)
        start = time.monotonic()
        proc.wait(timeout=30)
        took = time.monotonic() - start
        reader.join(timeout=10)
        stderr = proc.stderr.read()
        self.assertEqual(proc.returncode, 3, stderr)
        # The parent publishes the death, so a rank waiting in the store ends now, naming it.
        self.assertLess(took, STOP_SECONDS, stderr)
        self.assertIn("rank 0 was killed by signal 9", stderr)
        printed = sum(bool(ROW.match(l)) for l in lines)
        report = harness.validate_report(out)
        self.assertFalse(report["complete"])
        self.assertIn("unfinished", report["error"])
        self.assertNotIn("interrupted", report)
        self.assertGreaterEqual(printed, 3)
        # Every printed row, and at most the one being printed when the kill came.
        rows = sum(len(s["rows"]) for s in report["series"])
        self.assertIn(rows, (printed, printed + 1), stderr)

    def test_a_long_size_is_not_waited_out(self):
        """The size takes a minute or more (3 million round trips): the ranks give up the size
        under way shortly after the signal rather than finish it, and the report says so."""
        out = self.path("r.json")
        proc = harness.spawn(["run", "--np", "2", "-q", "-b", "latency", "--sizes", "8",
                              "--iterations", "3000000", "--warmup", "10", "-o", out])
        time.sleep(2)  # past start-up, inside the size
        tree = [proc.pid] + descendants(proc.pid)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - start
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM, stderr)
        self.assertLess(took, STOP_SECONDS, stderr)
        self.assertAllGone(tree, start, signal.SIGTERM)
        report = harness.validate_report(out)
        self.assertInterruptedBy(report, signal.SIGTERM)
        self.assertEqual(report["series"][0]["rows"], [])
        self.assertIn("interrupted by SIGTERM before the size under way finished", stderr)


class Mpirun(Interrupted):
    def run_mpi(self, sig, send, mca=()):
        proc, lines, reader, out = self.start(
            ["--addr", "127.0.0.1", "-q"], prefix=harness.MPIRUN + list(mca) + ["-np", "2"])
        return self.interrupt(proc, lines, reader, out, sig, send)

    def test_signals_to_every_rank(self):
        """What srun does on scancel, a time limit or --signal: each rank gets the signal, and
        mpirun passes on the ranks' exit code."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            with self.subTest(sig.name):
                code, stderr, report = self.run_mpi(sig, to_ranks)
                self.assertEqual(code, 128 + sig, stderr)
                self.assertInterruptedBy(report, sig)

    def test_sigusr1_to_mpirun_is_forwarded(self):
        code, stderr, report = self.run_mpi(signal.SIGUSR1, to_process)
        self.assertEqual(code, 128 + signal.SIGUSR1, stderr)
        self.assertInterruptedBy(report, signal.SIGUSR1)

    def test_sigterm_and_sigint_to_mpirun(self):
        """OpenMPI 4.1's mpirun answers both by sending every rank SIGTERM (a second later),
        then SIGKILL odls_base_sigkill_timeout (1 s) after that, and exits with its own code
        (1), not the ranks'. Under mpirun the ranks give up the size under way 0.3 s after the
        signal, so the report is written before the SIGKILL; it says SIGTERM."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig.name):
                code, stderr, report = self.run_mpi(sig, to_process)
                self.assertNotEqual(code, 0, stderr)
                self.assertInterruptedBy(report, signal.SIGTERM)


if __name__ == "__main__":
    harness.main()
