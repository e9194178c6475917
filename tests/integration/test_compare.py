"""`rdzvbench compare BASE NEW` on crafted reports (exit codes, messages, output files), and
`run --repeat N`, whose trials give compare its noise estimate."""

import copy
import json
import os
import statistics
import xml.etree.ElementTree as ET

import harness


def row(size, p50, bandwidth, trials=None):
    r = {
        "size": size, "iterations": 100,
        "latency_us": {"min": p50, "mean": p50, "p50": p50, "p90": p50, "p99": p50, "max": p50,
                       "count": 100},
        "bandwidth_mbps": bandwidth, "message_rate": 1.0, "pairs": 1,
    }
    if trials:
        r["trials"] = [{"latency_p50_us": t, "bandwidth_mbps": b} for t, b in trials]
    return r


def series(benchmark, rows, env=None):
    return {"transport": "tcp", "benchmark": benchmark, "algorithm": "",
            "params": {"pairs": "0-1"}, "env": env or {}, "rows": rows, "complete": True,
            "details": {}}


def report(all_series, start="2026-01-01T00:00:00.000Z"):
    return {
        "schema_version": 1, "tool_version": "0.1.0", "git_revision": "abc1234",
        "command_line": ["rdzvbench", "run"], "start_time": start, "end_time": start,
        "launcher": "local", "bootstrap": "store", "store": "tcp://127.0.0.1:1", "run_id": "x",
        "size": 2, "ranks": [{"rank": 0, "host": "h", "pid": 1}, {"rank": 1, "host": "h", "pid": 2}],
        "host": {"hostname": "h", "cpu_model": "cpu", "kernel": "6.1", "cpus": 2, "numa_nodes": 1},
        "environment": {}, "series": all_series, "complete": True, "error": "",
    }


BASE = report([
    series("latency", [row(8, 10.0, 0.8), row(4096, 20.0, 200.0), row(65536, 40.0, 1600.0)]),
    series("bw", [row(8, 1.0, 8.0), row(65536, 10.0, 6000.0)]),
])


class Compare(harness.TestCase):
    def write(self, name, document):
        path = self.path(name)
        with open(path, "w") as f:
            json.dump(document, f)
        harness.validate_report(path)  # the crafted reports are real reports
        return path

    def compare(self, base, new, *extra):
        outputs = {k: self.path(f"out.{k}") for k in ("xml", "md", "json")}
        r = harness.run(["compare", base, new, "--junit", outputs["xml"], "--markdown",
                         outputs["md"], "--json", outputs["json"], *extra], timeout=30)
        return r, outputs

    def check_outputs(self, outputs, result):
        doc = harness.validate_json(outputs["json"], "compare.schema.json")
        self.assertEqual(doc["result"], result)
        suites = ET.parse(outputs["xml"]).getroot()
        self.assertEqual(suites.tag, "testsuites")
        with open(outputs["md"]) as f:
            markdown = f.read()
        self.assertTrue(markdown.startswith("### rdzvbench compare: "), markdown)
        return doc, suites, markdown

    def one_error_line(self, r):
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r)
        return lines[0]

    def test_against_itself_passes(self):
        base = self.write("base.json", BASE)
        r, out = self.compare(base, base)
        self.assertExit(r, 0)
        doc, suites, markdown = self.check_outputs(out, "pass")
        self.assertEqual(doc["counts"]["compared"], 10)
        self.assertEqual(doc["counts"]["same"], 10)
        self.assertEqual(len(list(suites.iter("testcase"))), 5)  # one per series and size
        self.assertIn("no regression", markdown)
        self.assertIn("compare: 0 regressed", r.stdout)

    def test_regression_exits_1_and_fails_its_test_case(self):
        new = copy.deepcopy(BASE)
        new["series"][0]["rows"][1]["latency_us"]["p50"] = 23.0   # +15% latency at 4K
        new["series"][1]["rows"][1]["bandwidth_mbps"] = 5000.0     # -16.7% bandwidth at 64K
        r, out = self.compare(self.write("base.json", BASE), self.write("new.json", new))
        self.assertExit(r, 1)
        line = self.one_error_line(r)
        self.assertIn("2 of 10 comparisons regressed", line)
        self.assertIn("tcp latency pairs=0-1 size 4K: latency_p50_us +15.0%", line)
        self.assertIn("REGRESSED", r.stdout)
        doc, suites, markdown = self.check_outputs(out, "regressed")
        self.assertEqual(doc["counts"]["regressed"], 2)
        self.assertEqual(suites.attrib["failures"], "2")
        failed = [c.attrib["name"] for c in suites.iter("testcase") if c.find("failure") is not None]
        self.assertEqual(failed, ["size 4K", "size 64K"])
        self.assertIn("2 regressions", markdown)
        self.assertIn("| tcp latency pairs=0-1 | 4K | latency p50 (us) | 20.00 | 23.00 | +15.0% |",
                      markdown)

    def test_per_metric_tolerance(self):
        new = copy.deepcopy(BASE)
        new["series"][0]["rows"][1]["latency_us"]["p50"] = 23.0   # +15%
        base, new = self.write("base.json", BASE), self.write("new.json", new)
        r, _ = self.compare(base, new, "--tolerance", "latency=20%,bw=5%")
        self.assertExit(r, 0)
        r, _ = self.compare(base, new, "--tolerance", "latency=10%")
        self.assertExit(r, 1)
        r, _ = self.compare(base, new, "--tolerance", "latency=lots")
        self.assertExit(r, 2)
        self.assertIn("latency=lots", self.one_error_line(r))

    def test_improvement_passes(self):
        new = copy.deepcopy(BASE)
        new["series"][0]["rows"][0]["latency_us"]["p50"] = 5.0
        new["series"][1]["rows"][0]["bandwidth_mbps"] = 16.0
        r, out = self.compare(self.write("base.json", BASE), self.write("new.json", new))
        self.assertExit(r, 0)
        doc, _, markdown = self.check_outputs(out, "pass")
        self.assertEqual(doc["counts"]["improved"], 2)
        self.assertIn("| improved |", markdown)

    def test_change_within_the_trials_spread_is_noise(self):
        base = copy.deepcopy(BASE)
        base["series"][0]["rows"][0] = row(8, 10.0, 0.8, [(9.0, 0.8), (10.0, 0.8), (12.5, 0.8)])
        new = copy.deepcopy(BASE)
        new["series"][0]["rows"][0] = row(8, 12.0, 0.8, [(12.0, 0.8), (11.5, 0.8), (12.2, 0.8)])
        r, out = self.compare(self.write("base.json", base), self.write("new.json", new))
        self.assertExit(r, 0)
        doc, _, _ = self.check_outputs(out, "pass")
        metric = doc["series"][0]["rows"][0]["metrics"][0]
        self.assertEqual(metric["verdict"], "noise")
        self.assertAlmostEqual(metric["change_pct"], 20.0)
        # 3 median absolute deviations of the trials' logarithms: 3 * ln(10 / 9).
        self.assertAlmostEqual(metric["noise_pct"], ((10 / 9) ** 3 - 1) * 100)
        self.assertEqual(metric["base_trials"], 3)
        # The same +20% with tight trials is a regression.
        new["series"][0]["rows"][0] = row(8, 12.0, 0.8, [(12.0, 0.8), (11.9, 0.8), (12.1, 0.8)])
        base["series"][0]["rows"][0] = row(8, 10.0, 0.8, [(10.0, 0.8), (9.9, 0.8), (10.1, 0.8)])
        r, _ = self.compare(self.write("base.json", base), self.write("new.json", new))
        self.assertExit(r, 1)

    def test_missing_series_and_sizes_are_listed_not_failed(self):
        new = copy.deepcopy(BASE)
        del new["series"][1]                       # bw only in BASE
        del new["series"][0]["rows"][2]            # 64K only in BASE
        new["series"].append(series("bibw", [row(8, 1.0, 16.0)]))
        r, out = self.compare(self.write("base.json", BASE), self.write("new.json", new))
        self.assertExit(r, 0)
        self.assertIn("series only in BASE: tcp bw pairs=0-1", r.stdout)
        self.assertIn("series only in NEW: tcp bibw pairs=0-1", r.stdout)
        self.assertIn("sizes only in BASE: 64K", r.stdout)
        doc, suites, markdown = self.check_outputs(out, "pass")
        self.assertEqual([s["label"] for s in doc["series_only_in_base"]], ["tcp bw pairs=0-1"])
        self.assertEqual(doc["series_only_in_base"][0]["sizes"], [8, 65536])
        self.assertEqual(doc["series"][0]["sizes_only_in_base"], [65536])
        self.assertEqual(suites.attrib["skipped"], "4")  # 64K, bw 8 and 64K, bibw 8
        self.assertIn("series only in NEW: tcp bibw pairs=0-1", markdown)

    def test_nothing_in_common_is_usage_naming_both_sides(self):
        other = report([series("latency", [row(8, 1.0, 1.0)], env={"FI_CXI_RDZV_PROTO": "alt_read"})])
        base, new = self.write("base.json", BASE), self.write("new.json", other)
        r, out = self.compare(base, new)
        self.assertExit(r, 2)
        line = self.one_error_line(r)
        self.assertIn("no series in common", line)
        self.assertIn("BASE has tcp latency pairs=0-1 (8,4K,64K); tcp bw pairs=0-1 (8,64K)", line)
        self.assertIn("NEW has tcp latency pairs=0-1 FI_CXI_RDZV_PROTO=alt_read (8)", line)
        self.assertFalse(os.path.exists(out["json"]))
        sizes = report([series("latency", [row(1 << 20, 1.0, 1.0)])])
        r, _ = self.compare(base, self.write("sizes.json", sizes))
        self.assertExit(r, 2)
        self.assertIn("sizes 8,4K,64K in BASE and 1M in NEW", self.one_error_line(r))

    def test_unusable_input_is_usage_naming_the_file(self):
        base = self.write("base.json", BASE)
        v2 = copy.deepcopy(BASE)
        v2["schema_version"] = 2
        with open(self.path("v2.json"), "w") as f:
            json.dump(v2, f)
        r, _ = self.compare(base, self.path("v2.json"))
        self.assertExit(r, 2)
        line = self.one_error_line(r)
        self.assertIn("v2.json", line)
        self.assertIn("schema_version 2", line)

        with open(self.path("bad.json"), "w") as f:
            f.write('{"schema_version": 1,\n "series": [}')
        r, _ = self.compare(self.path("bad.json"), base)
        self.assertExit(r, 2)
        line = self.one_error_line(r)
        self.assertIn("malformed JSON", line)
        self.assertIn("bad.json", line)
        self.assertIn("at byte 35", line)

        r, _ = self.compare(base, self.path("absent.json"))
        self.assertExit(r, 2)
        self.assertIn("absent.json", self.one_error_line(r))
        r = harness.run(["compare", base], timeout=30)
        self.assertExit(r, 2)

    def test_base_directory_uses_the_newest_report(self):
        os.mkdir(self.path("baselines"))
        slow = copy.deepcopy(BASE)
        slow["series"][0]["rows"][0]["latency_us"]["p50"] = 100.0
        old = report(slow["series"], start="2026-01-01T00:00:00.000Z")
        newest = report(BASE["series"], start="2026-02-01T00:00:00.000Z")
        with open(self.path("baselines/z-old.json"), "w") as f:
            json.dump(old, f)
        with open(self.path("baselines/a-newest.json"), "w") as f:
            json.dump(newest, f)
        r, out = self.compare(self.path("baselines"), self.write("new.json", BASE))
        self.assertExit(r, 0)
        doc, _, _ = self.check_outputs(out, "pass")
        self.assertEqual(doc["base"]["path"], self.path("baselines/a-newest.json"))
        self.assertEqual(doc["counts"]["same"], 10)


class Repeat(harness.TestCase):
    def test_repeat_3_writes_trials_and_their_medians(self):
        out = self.path("r.json")
        r = harness.run(["run", "--repeat", "3", "-b", "latency,bw", "--sizes", "8,4K",
                         "--iterations", "50", "-o", out])
        self.assertExit(r, 0)
        report_ = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 4096])
        for s in report_["series"]:
            for rw in s["rows"]:
                self.assertEqual(len(rw["trials"]), 3, rw)
                p50s = [t["latency_p50_us"] for t in rw["trials"]]
                bws = [t["bandwidth_mbps"] for t in rw["trials"]]
                self.assertAlmostEqual(rw["latency_us"]["p50"], statistics.median(p50s))
                self.assertAlmostEqual(rw["bandwidth_mbps"], statistics.median(bws))
        # Compared with itself, every metric is the same, and the noise comes from the trials.
        r = harness.run(["compare", out, out, "--json", self.path("c.json")], timeout=30)
        self.assertExit(r, 0)
        doc = harness.validate_json(self.path("c.json"), "compare.schema.json")
        self.assertEqual(doc["counts"]["same"], 8)
        self.assertEqual(doc["series"][0]["rows"][0]["metrics"][0]["base_trials"], 3)

    def test_single_trial_rows_have_no_trials(self):
        out = self.path("r.json")
        r = harness.run(["run", "-b", "latency", "--sizes", "8", "--iterations", "20", "-o", out])
        self.assertExit(r, 0)
        report_ = self.assertReport(out, [("tcp", "latency")], [8])
        self.assertNotIn("trials", report_["series"][0]["rows"][0])

    def test_invalid_repeat_is_usage(self):
        for bad in ("0", "-2", "1001"):
            r = harness.run(["run", "--repeat", bad], timeout=30)
            self.assertExit(r, 2)
            self.assertIn(f"--repeat {bad}", r.stderr)


if __name__ == "__main__":
    harness.main()
