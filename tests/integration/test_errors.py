"""Bad input and failures: a one-line error naming the problem, exit 2 (usage) or 3
(runtime), within the timeout, and the rows measured before a failure kept."""


import harness


class BadInput(harness.TestCase):
    def test_invalid_sizes(self):
        for bad in ["4X", "0", "-8", "1.5K", "8:", "4M:1K", "1:1M:x1", "99999999999G"]:
            with self.subTest(size=bad):
                self.check_usage(["run", "--sizes", bad], bad.split(":")[0] if ":" not in bad else "")

    def test_unknown_names(self):
        self.check_usage(["run", "-t", "carrier-pigeon"], "carrier-pigeon", "tcp")
        self.check_usage(["run", "-b", "pingpong"], "pingpong", "latency")
        self.check_usage(["run", "--progress", "spin"], "spin", "poll")
        self.check_usage(["run", "--bootstrap", "pmi"], "pmi")
        self.check_usage(["run", "--window", "0"], "--window 0")
        self.check_usage(["run", "--timeout", "-1"], "--timeout")
        self.check_usage(["run", "--rank", "0"], "--rank and --size")
        self.check_usage(["run", "--rank", "2", "--size", "2", "--store", "hash:"], "--rank 2")
        self.check_usage(["run", "--store", "gopher://x"], "gopher://x")
        self.check_usage(["run", "--addr", "not-an-ip", "--rank", "0", "--size", "2",
                          "--store", "hash:"], "not-an-ip")
        self.check_usage(["run", "--rank", "0", "--size", "1", "--store", "hash:"], "--size 1")
        self.check_usage(["run", "--np", "1"], "--np 1")
        self.check_usage(["frobnicate"], "frobnicate")

    def test_mpi_transport_needs_launcher(self):
        self.check_usage(["run", "-t", "mpi"], "MPI launcher")

    def test_unbuilt_transport_is_clear(self):
        # ibverbs is the transport a build may lack; test_ibverbs.py covers it when built.
        if "ibverbs  built" in harness.run(["info"], timeout=30).stdout:
            self.skipTest("ibverbs is built into this rdzvbench")
        self.check_usage(["run", "-t", "ibverbs"], "ibverbs", "not built")


class Failures(harness.TestCase):
    def test_unreachable_store(self):
        port = harness.free_port()
        r = harness.run(["run", "--rank", "1", "--size", "2", "--store",
                         f"tcp://127.0.0.1:{port}", "--timeout", "2"], timeout=30)
        self.assertExit(r, 3)
        self.assertIn(f"tcp://127.0.0.1:{port}", r.stderr)
        self.assertLess(r.elapsed, 10)

    def test_rank_never_arrives(self):
        port = harness.free_port()
        common = ["run", "--size", "3", "--store", f"tcp://127.0.0.1:{port}", "--timeout", "3",
                  "--addr", "127.0.0.1", "-o", self.path("r.json")]
        ranks = [harness.spawn(common + ["--rank", str(r)]) for r in (0, 1)]
        for p in ranks:
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 3, err)
            self.assertIn("rank 2", err)
        report = harness.validate_report(self.path("r.json"))
        self.assertFalse(report["complete"])
        self.assertIn("rank 2", report["error"])

    def test_killed_rank_names_it_and_keeps_rows(self):
        out = self.path("r.json")
        proc = harness.spawn(["run", "--np", "4", "--pairs", "-b", "latency,bw",
                              "--sizes", "1:1M", "--iterations", "3000", "--timeout", "10",
                              "-o", out])
        # Kill rank 2 once rows have been measured.
        stderr, elapsed = harness.kill_rank_when(
            proc, 2, lambda lines: sum(l.startswith("   ") for l in lines) >= 3)
        report = self.assertRankLost(proc, stderr, elapsed, out, dead=2, survivors=3)
        self.assertGreater(len(report["series"][0]["rows"]), 0)

    def test_wire_version_mismatch(self):
        port = harness.free_port()
        common = ["run", "--size", "2", "--store", f"tcp://127.0.0.1:{port}", "--timeout", "5",
                  "--addr", "127.0.0.1", "-o", self.path("r.json")]
        p0 = harness.spawn(common + ["--rank", "0"])
        p1 = harness.spawn(common + ["--rank", "1"], env={"RDZV_TEST_WIRE_VERSION": "99"})
        for p, needle in ((p0, "rank 1 speaks tcp wire version 99"), (p1, "this rank speaks 99")):
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 3, err)
            self.assertIn(needle, err)

    def test_runs_with_different_ids_never_meet(self):
        port = harness.free_port()
        common = ["run", "--size", "2", "--store", f"tcp://127.0.0.1:{port}", "--timeout", "3",
                  "--addr", "127.0.0.1", "-o", self.path("r.json")]
        # One store, two run ids: each rank waits in its own scope and names the other.
        p0 = harness.spawn(common + ["--rank", "0", "--run-id", "a"])
        p1 = harness.spawn(common + ["--rank", "1", "--run-id", "b"])
        for p, missing in ((p0, "rank 1"), (p1, "rank 0")):
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 3, err)
            self.assertIn(f"timed out waiting for {missing}", err)


if __name__ == "__main__":
    harness.main()
