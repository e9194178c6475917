"""scripts/plot-report.py: PNG plots from reports rdzvbench produced."""

import json
import os
import subprocess

import harness

SCRIPT = os.path.join(harness.SOURCE_DIR, "scripts", "plot-report.py")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def plot(args):
    return subprocess.run(["/usr/bin/python3", SCRIPT] + args, capture_output=True, text=True,
                          timeout=120)


class Plot(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.report = self.path("r.json")
        r = harness.run(["run", "--repeat", "2", "-b", "latency,bw", "--sizes", "8,1K,64K",
                         "--iterations", "30", "-o", self.report])
        self.assertExit(r, 0)

    def assertPng(self, path):
        self.assertTrue(os.path.isfile(path), path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), PNG_MAGIC, path)
        # An empty 1000x600 canvas is a few kB; axes, lines and labels make it much larger.
        self.assertGreater(os.path.getsize(path), 20000, path)

    def test_one_report_gives_latency_and_bandwidth(self):
        out = self.path("plots")
        p = plot([self.report, "-o", out])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertPng(os.path.join(out, "latency.png"))
        self.assertPng(os.path.join(out, "bandwidth.png"))
        self.assertFalse(os.path.exists(os.path.join(out, "compare.png")))
        self.assertFalse(os.path.exists(os.path.join(out, "busbw.png")))
        self.assertEqual(sorted(p.stdout.split()), sorted(
            os.path.join(out, n) for n in ("latency.png", "bandwidth.png")))

    def test_two_reports_with_switch_points_and_busbw_give_a_comparison(self):
        with open(self.report) as f:
            report = json.load(f)
        # What protocol-engine series and collectives will carry: a switch point (T+G) and
        # busbw; the plots must draw them when present.
        report["series"][0]["details"]["switch_point"] = 16384 + 4096
        for row in report["series"][1]["rows"]:
            row["busbw_gbps"] = row["bandwidth_mbps"] / 1000
        other = self.path("other.json")
        with open(other, "w") as f:
            json.dump(report, f)
        out = self.path("plots")
        p = plot([self.report, other, "-o", out, "--tolerance", "10"])
        self.assertEqual(p.returncode, 0, p.stderr)
        for name in ("latency.png", "bandwidth.png", "busbw.png", "compare.png"):
            self.assertPng(os.path.join(out, name))

    def test_unusable_input_exits_2_naming_the_file(self):
        bad = self.path("bad.json")
        with open(bad, "w") as f:
            f.write('{"schema_version": 1, "series": [')
        p = plot([bad, "-o", self.path("plots")])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("bad.json", p.stderr)
        self.assertIn("line 1", p.stderr)
        p = plot([self.path("absent.json"), "-o", self.path("plots")])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("absent.json", p.stderr)


if __name__ == "__main__":
    harness.main()
