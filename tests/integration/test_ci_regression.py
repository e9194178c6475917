"""scripts/ci-regression.sh: the recipe a CI job copies. It passes against its own baseline and
fails against an impossibly fast one, writing JUnit and Markdown either way."""

import copy
import json
import os
import subprocess
import xml.etree.ElementTree as ET

import harness

SCRIPT = os.path.join(harness.SOURCE_DIR, "scripts", "ci-regression.sh")
# The configured sweep, made smaller still: flags after "--" override the sweep file.
QUICK = ["--", "--sizes", "8,4K", "--repeat", "3", "--iterations", "100"]


def ci(args, cwd):
    proc = subprocess.run(["bash", SCRIPT, "--binary", harness.BINARY] + args, cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    return harness.Result(proc, 0)


def impossibly_fast(report):
    """The same report at 1 ns and 1 PB/s, with trials that agree: every NEW measurement is
    then a regression, however much this machine's own runs vary."""
    fast = copy.deepcopy(report)
    for s in fast["series"]:
        for row in s["rows"]:
            for key in ("min", "mean", "p50", "p90", "p99", "max"):
                row["latency_us"][key] = 0.001
            row["bandwidth_mbps"] = 1e9
            for trial in row.get("trials", []):
                trial["latency_p50_us"] = 0.001
                trial["bandwidth_mbps"] = 1e9
    return fast


class CiRegression(harness.TestCase):
    def test_passes_against_itself_and_fails_against_an_impossibly_fast_baseline(self):
        # First run: no baseline yet; --save-baseline records this run and compares with it.
        r = ci(["--baseline", "baselines", "--save-baseline", "--out", "first"] + QUICK, self.dir)
        self.assertExit(r, 0)
        self.assertIn("recorded the first baseline", r.stderr)
        saved = os.listdir(self.path("baselines"))
        self.assertEqual(len(saved), 1, saved)
        report = self.assertReport(self.path("first/report.json"),
                                   [("tcp", "latency"), ("tcp", "bw")], [8, 4096])
        self.assertEqual(len(report["series"][0]["rows"][0]["trials"]), 3)
        doc = harness.validate_json(self.path("first/compare.json"), "compare.schema.json")
        self.assertEqual(doc["result"], "pass")
        self.assertEqual(doc["counts"]["same"], doc["counts"]["compared"])
        suites = ET.parse(self.path("first/junit.xml")).getroot()
        self.assertEqual(suites.attrib["failures"], "0")
        self.assertEqual(len(list(suites.iter("testcase"))), 4)  # 2 series x 2 sizes
        with open(self.path("first/summary.md")) as f:
            self.assertIn("no regression", f.read())

        # Against an impossibly fast baseline, a fresh sweep regresses everywhere.
        fast = self.path("fast.json")
        with open(fast, "w") as f:
            json.dump(impossibly_fast(report), f)
        harness.validate_report(fast)
        r = ci(["--baseline", fast, "--out", "second", "--plots"] + QUICK, self.dir)
        self.assertExit(r, 1)
        self.assertIn("REGRESSION", r.stderr)
        self.assertIn("regressed beyond the tolerance", r.stderr)
        suites = ET.parse(self.path("second/junit.xml")).getroot()
        self.assertEqual(suites.attrib["failures"], "4")
        with open(self.path("second/summary.md")) as f:
            self.assertIn("8 regressions", f.read())
        doc = harness.validate_json(self.path("second/compare.json"), "compare.schema.json")
        self.assertEqual(doc["result"], "regressed")
        self.assertTrue(os.path.isfile(self.path("second/plots/compare.png")))

        # A failing run is not saved as a baseline, however asked.
        os.mkdir(self.path("fastdir"))
        os.rename(fast, self.path("fastdir/fast.json"))
        r = ci(["--baseline", "fastdir", "--save-baseline", "--out", "third",
                "--report", self.path("second/report.json")], self.dir)
        self.assertExit(r, 1)
        self.assertEqual(os.listdir(self.path("fastdir")), ["fast.json"])

    def test_existing_report_against_itself_passes(self):
        report = self.path("r.json")
        r = harness.run(["run", "-b", "latency", "--sizes", "8", "--iterations", "20",
                         "-o", report])
        self.assertExit(r, 0)
        r = ci(["--baseline", report, "--report", report, "--out", "out"], self.dir)
        self.assertExit(r, 0)
        for name in ("junit.xml", "summary.md", "compare.json"):
            self.assertTrue(os.path.isfile(self.path(f"out/{name}")), name)

    def test_missing_baseline_and_bad_arguments_exit_2(self):
        r = ci(["--baseline", "nowhere", "--report", "r.json"], self.dir)
        self.assertExit(r, 2)
        self.assertIn('no baseline at "nowhere"', r.stderr)
        self.assertIn("--save-baseline", r.stderr)
        os.mkdir(self.path("empty"))
        r = ci(["--baseline", "empty", "--report", "r.json"], self.dir)
        self.assertExit(r, 2)
        self.assertIn("holds no reports", r.stderr)
        r = ci(["--frobnicate"], self.dir)
        self.assertExit(r, 2)
        self.assertIn("--frobnicate", r.stderr)


if __name__ == "__main__":
    harness.main()
