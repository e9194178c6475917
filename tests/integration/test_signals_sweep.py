"""Ending `rdzvbench sweep` and `rdzvbench survey` early: SIGTERM, SIGINT and SIGUSR1 stop them
as they stop `run` (test_signals.py). A sweep passes the signal on to the launch under way,
records that combination as interrupted, starts no other, writes the merged report marked
interrupted and exits 128 + the signal; --resume then runs the rest. A survey's ranks agree to
stop after the round under way; the report keeps the pairs measured and names no verdict."""

import glob
import json
import os
import signal
import subprocess
import time

import harness
from test_signals import STOP_SECONDS, Interrupted, descendants, to_group, to_process

# Three combinations of about 1.5 s each (four sizes of at least 0.25 s). The ranks block: spinning
# ones are slowed down 10x and more when something else runs on the two cores.
SWEEP = {"transport": ["tcp"], "benchmark": ["latency"], "sizes": "8,64,512,4K",
         "min-time": 0.25, "progress": "epoll", "env": {"RDZV_TEST_AXIS": ["a", "b", "c"]}}
# Four local ranks on two cores block rather than spin (test_survey.py); three rounds of about
# 1.1 s each (three phases of 0.5 s, the bandwidth ones a little less).
SURVEY = ["survey", "--np", "4", "--progress", "epoll", "--latency-size", "8",
          "--bandwidth-size", "64K", "--min-time", "0.5", "-q"]


class Stopped(Interrupted):
    def spawn(self, args):
        """Starts rdzvbench in its own session, so that a whole-group signal reaches only it."""
        return subprocess.Popen([harness.BINARY] + args, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    def stop(self, proc, sig, send):
        """Sends `sig` with send(proc, sig); checks that every process is gone within
        STOP_SECONDS; returns (exit code, stdout, stderr)."""
        tree = [proc.pid] + descendants(proc.pid)
        start = time.monotonic()
        send(proc, sig)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            self.fail(f"still going 30 s after {sig.name}")
        took = time.monotonic() - start
        self.assertLess(took, STOP_SECONDS, f"took {took:.1f} s to end after {sig.name}: {err}")
        self.assertAllGone(tree, start, sig)
        return proc.returncode, out, err


class SweepStopped(Stopped):
    def test_sigterm_after_the_first_combination_then_resume(self):
        cfg = self.path("s.json")
        with open(cfg, "w") as f:
            json.dump(SWEEP, f)
        out = self.path("merged.json")
        proc = self.spawn(["sweep", "--config", cfg, "-o", out])
        # The merged report is rewritten after each combination: stop once it holds the first.
        deadline = time.monotonic() + 60
        done = []
        while time.monotonic() < deadline and proc.poll() is None and not done:
            try:
                with open(out) as f:
                    done = json.load(f).get("combinations", [])
            except (OSError, ValueError):
                time.sleep(0.02)
        self.assertEqual(len(done), 1, "the first combination never finished")
        time.sleep(0.3)  # the second launch under way
        code, _, err = self.stop(proc, signal.SIGTERM, to_process)
        self.assertEqual(code, 128 + signal.SIGTERM, err)
        self.assertIn("rerun with --resume", err)
        report = harness.validate_report(out)
        self.assertInterruptedBy(report, signal.SIGTERM)
        combos = report["combinations"]
        self.assertEqual([c["status"] for c in combos], ["ok", "interrupted"], err)
        self.assertEqual(combos[1]["env"], {"RDZV_TEST_AXIS": "b"})
        self.assertEqual(combos[1]["exit_code"], 128 + signal.SIGTERM, combos[1]["stderr_tail"])
        # The launch under way got the signal: its own report, when written, says so.
        if os.path.exists(combos[1]["part"]):
            part = harness.validate_report(combos[1]["part"])
            self.assertEqual(part["interrupted"]["name"], "SIGTERM")
        # The third never started.
        parts = os.path.splitext(out)[0] + ".parts"
        self.assertEqual(glob.glob(os.path.join(parts, "combo-002-*")), [])
        self.assertTrue(all(s["env"]["RDZV_TEST_AXIS"] in ("a", "b") for s in report["series"]))

        r = harness.run(["sweep", "--config", cfg, "-o", out, "--resume"], timeout=120)
        self.assertExit(r, 0)
        self.assertIn("kept from the earlier run", r.stderr)
        self.assertEqual(r.stderr.count("kept from the earlier run"), 1, r.stderr)
        report = harness.validate_report(out)
        self.assertTrue(report["complete"])
        self.assertNotIn("interrupted", report)
        self.assertEqual([c["status"] for c in report["combinations"]], ["ok"] * 3)
        self.assertEqual(sorted(s["env"]["RDZV_TEST_AXIS"] for s in report["series"]),
                         ["a", "b", "c"])
        self.assertTrue(all(len(s["rows"]) == 4 for s in report["series"]))


class SurveyStopped(Stopped):
    def survey_stopped(self, sig, send, settle=1.0):
        out = self.path("survey.json")
        proc = self.spawn(SURVEY + ["-o", out])
        # In start-up or the first round (the ranks then stop after it), at the latest in the
        # second: 2 or 4 pairs of 6.
        time.sleep(settle)
        self.assertIsNone(proc.poll(), "the survey ended before the signal")
        code, stdout, stderr = self.stop(proc, sig, send)
        self.assertEqual(code, 128 + sig, stderr)
        report = harness.validate_json(out, "survey.schema.json")
        self.assertInterruptedBy(report, sig)
        # Some pairs measured, not all; the matrix holds exactly those.
        self.assertGreaterEqual(report["pairs"], 2, stderr)
        self.assertLess(report["pairs"], 6, stderr)
        self.assertLess(report["rounds"], 3)
        lat = report["latency_us"]["median"]
        measured = sum(v is not None for i, row in enumerate(lat) for j, v in enumerate(row)
                       if i < j)
        self.assertEqual(measured, report["pairs"])
        bw = report["bandwidth_mbps"]["median"]
        self.assertEqual(sum(v is not None for row in bw for v in row), 2 * report["pairs"])
        # Unfinished rounds: nothing judged, nothing re-tested, no verdict.
        self.assertIsNone(report["judgement"]["latency"]["baseline"])
        self.assertEqual(report["retests"], [])
        self.assertEqual(report["verdicts"], [])
        self.assertIn("partial report written", stderr)
        return report

    def test_sigint_to_the_process_group(self):
        self.survey_stopped(signal.SIGINT, to_group)

    def test_one_rank_signalled_stops_every_rank(self):
        """Only rank 3 gets it: the ranks agree after the round, none waits for it."""
        def rank3(proc, sig):
            pid = harness.child_rank_pid(proc.pid, 3)
            self.assertIsNotNone(pid)
            os.kill(pid, sig)
        self.survey_stopped(signal.SIGUSR1, rank3)


if __name__ == "__main__":
    harness.main()
