"""The protocol engine end to end: every boundary checked byte for byte under both
rendezvous protocols, counters that agree with the decision rules, sweeps of parameter sets,
sweep files, and refusals of what the CXI provider would silently change."""

import os

import harness

BOUNDARY_SIZES = [1, 192, 193, 4096, 4097, 4098, 18433, 18434, 65536, 1 << 20]


def expected_path(size, inject=192, T=16384, G=2049):
    if size <= inject:
        return "inline"
    if size <= T + G:
        return "eager"
    return "rendezvous"


class Engine(harness.TestCase):
    def run_ok(self, args, timeout=300):
        out = self.path("r.json")
        r = harness.run(["run"] + args + ["-o", out], timeout=timeout)
        self.assertExit(r, 0)
        return harness.validate_report(out), r

    def test_check_every_boundary_both_protocols_both_directions(self):
        for ranks in (2, 4):
            with self.subTest(ranks=ranks):
                report, _ = self.run_ok([
                    "--np", str(ranks), "--pairs", "--check", "-b", "latency,bw,bibw",
                    "--sizes", ",".join(map(str, BOUNDARY_SIZES)), "--rdzv-threshold", "2K,16K",
                    "--rdzv-proto", "default,alt_read", "--iterations", "6", "--window", "8"])
                self.assertEqual(len(report["series"]), 3 * 2 * 2)
                for s in report["series"]:
                    self.assertTrue(s["complete"])
                    self.assertEqual([r["size"] for r in s["rows"]], BOUNDARY_SIZES)
                    c = s["details"]["counters"]
                    T = 2048 if s["params"]["rdzv_threshold"] == "2K" else 16384
                    self.assertEqual(s["details"]["switch_point"], T + 2049)
                    if s["params"]["rdzv_proto"] == "alt_read":
                        self.assertEqual(c["done_sent"], c["rendezvous_sent"])
                    else:
                        self.assertEqual(c["done_sent"], 0)
                    self.assertEqual(c["gets"], c["rendezvous_sent"])

    def test_counters_agree_with_the_decision_rules(self):
        iterations, warmup = 10, 3
        sizes = [0, 1, 192, 193, 18433, 18434, 100000]
        sizes = [s for s in sizes if s > 0]  # sizes start at 1
        report, _ = self.run_ok(["-b", "latency", "--sizes", ",".join(map(str, sizes)),
                                 "--iterations", str(iterations), "--warmup", str(warmup),
                                 "--rdzv-proto", "alt_read"])
        c = report["series"][0]["details"]["counters"]
        expected = {"inline": 0, "eager": 0, "rendezvous": 0}
        for size in sizes:
            # Each ping-pong round moves one message each way; the initiator also sends one
            # 8-byte control message per size to agree on the iteration count.
            expected[expected_path(size)] += 2 * (iterations + warmup)
            expected["inline"] += 1
        self.assertEqual(c["inline_sent"], expected["inline"])
        self.assertEqual(c["eager_sent"], expected["eager"])
        self.assertEqual(c["rendezvous_sent"], expected["rendezvous"])
        self.assertEqual(c["gets"], expected["rendezvous"])
        self.assertEqual(c["done_sent"], expected["rendezvous"])
        # An unexpected rendezvous holds only its E bytes in overflow space; an eager one all.
        self.assertLessEqual(c["peak_overflow_bytes"], 18433)

    def test_sweep_file_and_flag_override(self):
        cfg = self.path("sweep.json")
        with open(cfg, "w") as f:
            f.write("""// a comment
            {"benchmark": ["latency"], "sizes": "around:18433", /* inline comment */
             "rdzv-proto": ["default", "alt_read"], "iterations": 500, "check": true}""")
        report, _ = self.run_ok(["--config", cfg, "--iterations", "5"])
        self.assertEqual(len(report["series"]), 2)
        self.assertEqual(report["series"][0]["params"]["check"], "on")
        rows = report["series"][0]["rows"]
        self.assertEqual([r["size"] for r in rows],
                         [18369, 18417, 18429, 18432, 18433, 18434, 18437, 18449, 18497])
        self.assertEqual(rows[0]["iterations"], 5)  # the flag won over the file

    def test_shipped_configs_are_valid(self):
        import json, jsonschema, re
        with open(os.path.join(harness.SOURCE_DIR, "results-schema", "sweep.schema.json")) as f:
            schema = json.load(f)
        configs = os.path.join(harness.SOURCE_DIR, "configs")
        for name in sorted(os.listdir(configs)):
            if not name.endswith(".json"):
                continue
            with self.subTest(config=name):
                with open(os.path.join(configs, name)) as f:
                    text = f.read()
                # The same comment rules as the tool: strip // and /* */ outside strings.
                text = re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/',
                              lambda m: m.group(1) or "", text, flags=re.S)
                jsonschema.Draft202012Validator(schema).validate(json.loads(text))

    def test_quick_config_runs(self):
        report, r = self.run_ok(["--config", os.path.join(harness.SOURCE_DIR, "configs",
                                                          "quick.json"),
                                 "--sizes", "8,1M", "--iterations", "5"])
        self.assertIn("switch point 18433 B", r.stdout)

    def test_invalid_combinations_exit_2_saying_what_the_provider_would_do(self):
        cases = [
            (["--rdzv-threshold", "100"], "raise it to 192"),
            (["--rdzv-eager-size", "32K"], "clamp the eager size"),
            (["--rdzv-threshold", "16M"], "reset the threshold"),
            (["--rdzv-threshold", "12M"], "rdzv_get_min to 0"),
            (["--rdzv-proto", "alt_write"], "alt_write"),
            (["--oflow-buf-count", "0"], "--oflow-buf-count 0"),
            (["--rdzv-threshold", "16K,1K"], "--rdzv-threshold 1024"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                r = harness.run(["run"] + args, timeout=30)
                self.assertExit(r, 2)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r)
                self.assertIn(needle, r.stderr)

    def test_bad_sweep_files(self):
        bad = self.path("bad.json")
        for text, needle in [('{"sizes": ', "malformed sweep file"),
                             ('{"colour": "red"}', 'unknown key "colour"'),
                             ('{"sizes": {"a": 1}}', "wrong type"),
                             ("[1, 2]", "not a JSON object")]:
            with self.subTest(text=text):
                with open(bad, "w") as f:
                    f.write(text)
                r = harness.run(["run", "--config", bad], timeout=30)
                self.assertExit(r, 2)
                self.assertIn(needle, r.stderr)
        r = harness.run(["run", "--config", self.path("missing.json")], timeout=30)
        self.assertExit(r, 2)
        self.assertIn("missing.json", r.stderr)


if __name__ == "__main__":
    harness.main()
