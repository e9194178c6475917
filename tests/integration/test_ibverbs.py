"""The ibverbs transport. On a host without an RDMA device (the build machines) it must be
refused early and clearly: exit 3, one line saying "ibverbs: built, no RDMA device found",
before any rank starts, any store is opened or any report is written. In a build without
libibverbs it is "not built" (exit 2). Where a device exists, the same file runs it for real
(--check over inline, eager, multi-frame and rendezvous messages, both rendezvous protocols,
poll and epoll progress); those tests skip here."""

import json
import os
import unittest

import harness

NO_DEVICE = "ibverbs: built, no RDMA device found"


def info_lines():
    """The ibverbs line of `rdzvbench info` and the note under it ("" when there is none)."""
    lines = harness.run(["info"], timeout=30).stdout.splitlines()
    for i, line in enumerate(lines):
        if line.split()[:1] == ["ibverbs"]:
            note = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("    ") else ""
            return line.strip(), note.strip()
    return "", ""


INFO, NOTE = info_lines()
BUILT = INFO == "ibverbs  built"
HAS_DEVICE = BUILT and NOTE.startswith("RDMA devices:")


@unittest.skipIf(BUILT, "ibverbs is built into this rdzvbench")
class NotBuilt(harness.TestCase):
    def test_asking_for_it_is_a_usage_error(self):
        r = harness.run(["run", "-t", "ibverbs"], timeout=30)
        self.assertExit(r, 2)
        self.assertIn("not built", r.stderr)
        self.assertIn("not built", INFO)


@unittest.skipUnless(BUILT and not HAS_DEVICE, "needs an ibverbs build on a host without RDMA")
class NoDevice(harness.TestCase):
    def assertNoDevice(self, r, max_seconds=10):
        self.assertExit(r, 3)
        lines = [l for l in r.stderr.splitlines() if l.startswith("rdzvbench")]
        self.assertGreaterEqual(len(lines), 1, r)
        for line in lines:
            self.assertTrue(line.startswith("rdzvbench: error: " + NO_DEVICE), r)
            self.assertIn("ibv_get_device_list", line)
            self.assertIn("-t tcp", line)  # what to do instead
        self.assertLess(r.elapsed, max_seconds, r)

    def test_info_says_so(self):
        self.assertEqual(INFO, "ibverbs  built")
        self.assertEqual(NOTE, "no RDMA device found")

    def test_run_exits_3_with_one_line_before_anything_starts(self):
        variants = [
            [],
            ["--np", "4", "--pairs"],
            ["-t", "tcp,ibverbs"],  # refused before tcp measures anything
            ["--ib-device", "mlx5_0", "--ib-port", "2", "--gid-index", "3"],
            ["--progress", "epoll", "--rdzv-proto", "alt_read,default"],
        ]
        for extra in variants:
            with self.subTest(extra=extra):
                out = self.path("r.json")
                args = ["run", "-t", "ibverbs"] + extra + ["-o", out]
                if "-t" in extra:
                    args = ["run"] + extra + ["-o", out]
                r = harness.run(args, timeout=30)
                self.assertNoDevice(r)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r)
                self.assertEqual(r.stdout, "")
                self.assertFalse(os.path.exists(out))

    def test_ranks_started_by_hand_fail_before_the_store(self):
        # Not a store timeout: the device check comes before the store is even opened.
        port = harness.free_port()
        r = harness.run(["run", "-t", "ibverbs", "--rank", "1", "--size", "2", "--store",
                         f"tcp://127.0.0.1:{port}", "--timeout", "30"], timeout=60)
        self.assertNoDevice(r, max_seconds=5)

    def test_under_mpirun(self):
        r = harness.run(["run", "-t", "ibverbs", "--bootstrap", "mpi"],
                        prefix=harness.MPIRUN + ["-np", "2"], timeout=60)
        self.assertNoDevice(r, max_seconds=30)

    def test_sweep_file_keys(self):
        config = self.path("ib.json")
        with open(config, "w") as f:
            json.dump({"transport": "ibverbs", "ib-device": "mlx5_0", "gid-index": 3}, f)
        self.assertNoDevice(harness.run(["run", "--config", config], timeout=30))


@unittest.skipUnless(BUILT, "ibverbs is not built into this rdzvbench")
class Flags(harness.TestCase):
    def test_bad_values_are_usage_errors(self):
        self.check_usage(["run", "-t", "ibverbs", "--ib-port", "0"], "--ib-port 0")
        self.check_usage(["run", "-t", "ibverbs", "--ib-port", "256"], "--ib-port 256")
        self.check_usage(["run", "-t", "ibverbs", "--gid-index", "-2"], "--gid-index -2")
        self.check_usage(["run", "-t", "ibverbs", "--gid-index", "256"], "--gid-index 256")
        self.check_usage(["run", "-t", "ibverbs", "--ib-port", "one"], "--ib-port")

    def test_help_lists_them(self):
        r = harness.run(["run", "--help"], timeout=30)
        self.assertExit(r, 0)
        for flag in ("--ib-device", "--ib-port", "--gid-index", "ibverbs"):
            self.assertIn(flag, r.stdout)


SIZES = [0, 8, 192, 193, 4096, 18433, 18434, 65536, 1 << 20]


@unittest.skipUnless(HAS_DEVICE, "no RDMA device on this host")
class WithDevice(harness.TestCase):
    def run_ib(self, extra=(), np=2, sizes=SIZES):
        out = self.path("r.json")
        args = ["run", "-t", "ibverbs", "--check", "-b", "latency,bw,bibw",
                "--sizes", ",".join(map(str, sizes)), "--iterations", "20", "--window", "16",
                "--np", str(np), "-q", "-o", out] + list(extra)
        r = harness.run(args, timeout=300)
        self.assertExit(r, 0)
        return harness.validate_report(out)

    def counters(self, report):
        return [s["details"]["counters"] for s in report["series"]]

    def test_every_path_with_both_protocols(self):
        report = self.run_ib(["--rdzv-proto", "default,alt_read"])
        self.assertEqual(len(report["series"]), 6)
        for s in report["series"]:
            self.assertTrue(s["complete"])
            c = s["details"]["counters"]
            self.assertGreater(c["inline_sent"], 0)
            self.assertGreater(c["eager_sent"], 0)
            self.assertGreater(c["rendezvous_sent"], 0)
            self.assertEqual(c["gets"], c["rendezvous_sent"])
            if s["params"]["rdzv_proto"] == "alt_read":
                self.assertEqual(c["done_sent"], c["rendezvous_sent"])
            else:
                self.assertEqual(c["done_sent"], 0)
            self.assertEqual(s["details"]["qp_type"], "RC")

    def test_epoll_progress(self):
        report = self.run_ib(["--progress", "epoll"], sizes=[8, 65536])
        self.assertEqual(report["series"][0]["details"]["progress"], "epoll")

    def test_first_parts_larger_than_a_slot(self):
        # Eager messages up to 1 MiB and E = 64 KiB: several frames per first part.
        self.run_ib(["--rdzv-threshold", "1M", "--rdzv-get-min", "0", "--rdzv-eager-size",
                     "64K"], sizes=[100000, 1 << 20, 4 << 20])

    def test_four_ranks_all_pairs(self):
        self.run_ib(["--pairs"], np=4, sizes=[8, 65536])


if __name__ == "__main__":
    harness.main()
