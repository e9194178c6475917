"""Collectives: every algorithm with --check on 2, 3, 4, 5 and 8 local ranks, over ofi, and under
mpirun (tcp and the MPI library's own calls), every element type and operator, any root,
a corrupted result caught by --check, bad flags, and a rank killed in the middle of an
allreduce."""

import os

import harness

COLLECTIVES = ["allreduce", "broadcast", "allgather", "reduce_scatter", "alltoall", "barrier"]
BUILTIN = {
    "allreduce": ["ring", "ring_chunked", "halving_doubling", "bcube"],
    "broadcast": ["binomial", "ring_chunked"],
    "allgather": ["ring", "bcube"],
    "reduce_scatter": ["ring", "bcube"],
    "alltoall": ["pairwise"],
    "barrier": ["dissemination"],
}
ELEMENT = {"float32": 4, "float64": 8, "int32": 4, "int64": 8}
FACTOR = {
    "allreduce": lambda n: 2 * (n - 1) / n,
    "allgather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
    "alltoall": lambda n: (n - 1) / n,
    "broadcast": lambda n: 1.0,
}


def measured_sizes(benchmark, sizes, ranks, dtype="float32"):
    """The sizes a collective reports for the requested ones (whole elements and blocks, at
    least one element per block, each size once)."""
    if benchmark == "barrier":
        return [0]
    e = ELEMENT[dtype]
    out = []
    for s in sizes:
        if benchmark in ("allreduce", "broadcast"):
            b = max(1, s // e) * e
        else:
            b = max(1, s // e // ranks) * e * ranks
        if b not in out:
            out.append(b)
    return out


class Collectives(harness.TestCase):
    def check_report(self, path, expected, sizes, ranks, dtype="float32"):
        """`expected`: (transport, benchmark, algorithm) of each series, in order."""
        report = harness.validate_report(path)
        found = [(s["transport"], s["benchmark"], s["algorithm"]) for s in report["series"]]
        self.assertEqual(found, expected)
        self.assertTrue(report["complete"])
        self.assertEqual(report["size"], ranks)
        for s in report["series"]:
            self.assertTrue(s["complete"], s)
            want = measured_sizes(s["benchmark"], sizes, ranks, dtype)
            self.assertEqual([r["size"] for r in s["rows"]], want, s["benchmark"])
            for r in s["rows"]:
                self.assertEqual(r["pairs"], ranks)
                t = r["rank_time_us"]
                self.assertGreater(t["min"], 0)
                self.assertLessEqual(t["min"], t["mean"])
                self.assertLessEqual(t["mean"], t["max"])
                if s["benchmark"] == "barrier":
                    self.assertNotIn("busbw_gbps", r)
                    continue
                self.assertGreater(r["algbw_gbps"], 0)
                self.assertAlmostEqual(r["busbw_gbps"] / r["algbw_gbps"],
                                       FACTOR[s["benchmark"]](ranks), places=9)
                self.assertAlmostEqual(r["algbw_gbps"], r["size"] / t["mean"] / 1e3, places=6)
        return report

    def test_every_algorithm_checked_on_2_3_4_5_8_ranks(self):
        # 3 MiB + 12 B: uneven blocks, and pipelines of several segments on few ranks.
        sizes = [4, 100, 65536, 3 * (1 << 20) + 12]
        expected = [("tcp", b, a) for b in COLLECTIVES for a in BUILTIN[b]]
        for np in (2, 3, 4, 5, 8):
            with self.subTest(np=np):
                out = self.path(f"r{np}.json")
                r = harness.run(["run", "--np", str(np), "-b", ",".join(COLLECTIVES),
                                 "-a", "all", "--check", "--sizes", ",".join(map(str, sizes)),
                                 "--iterations", "3", "--warmup", "1", "-o", out], timeout=300)
                self.assertExit(r, 0)
                self.assertIn("# tcp allreduce ring_chunked", r.stdout)
                self.assertIn("busbw(GB/s)", r.stdout)
                report = self.check_report(out, expected, sizes, np)
                self.assertEqual(report["series"][0]["params"]["check"], "on")
                self.assertEqual(report["series"][0]["params"]["op"], "sum")

    def test_every_element_type_and_operator(self):
        sizes = [8, 1000, 262144]
        for dtype in ("float32", "float64", "int32", "int64"):
            for op in ("sum", "min", "max"):
                # Data movers do not reduce: one operator is enough for them.
                benchmarks = COLLECTIVES if op == "sum" else ["allreduce", "reduce_scatter"]
                with self.subTest(dtype=dtype, op=op):
                    out = self.path("r.json")
                    r = harness.run(["run", "--np", "3", "-b", ",".join(benchmarks), "-a", "all",
                                     "--dtype", dtype, "--op", op, "--check", "--sizes",
                                     ",".join(map(str, sizes)), "--iterations", "2", "-q",
                                     "-o", out])
                    self.assertExit(r, 0)
                    expected = [("tcp", b, a) for b in benchmarks for a in BUILTIN[b]]
                    report = self.check_report(out, expected, sizes, 3, dtype)
                    self.assertEqual(report["series"][0]["params"]["dtype"], dtype)
                    self.assertEqual(report["series"][0]["params"]["op"], op)

    def test_broadcast_from_other_roots(self):
        for np, root in ((2, 1), (5, 3)):
            with self.subTest(np=np, root=root):
                out = self.path("r.json")
                r = harness.run(["run", "--np", str(np), "-b", "broadcast", "--root", str(root),
                                 "--check", "--sizes", "8,4097,2M", "--iterations", "2", "-q",
                                 "-o", out])
                self.assertExit(r, 0)
                report = self.check_report(out, [("tcp", "broadcast", a)
                                                 for a in BUILTIN["broadcast"]],
                                           [8, 4097, 2 << 20], np)
                self.assertEqual(report["series"][0]["params"]["root"], str(root))

    def test_mpirun_tcp_and_mpi_native(self):
        out = self.path("r.json")
        sizes = [8, 100, 65536, 1 << 20]
        r = harness.run(["run", "--bootstrap", "mpi", "--addr", "127.0.0.1", "-t", "tcp,mpi",
                         "-b", ",".join(COLLECTIVES), "-a", "all", "--check", "--sizes",
                         ",".join(map(str, sizes)), "--iterations", "3", "--warmup", "1",
                         "-o", out], prefix=harness.MPIRUN + ["-np", "4"], timeout=300)
        self.assertExit(r, 0)
        expected = [("tcp", b, a) for b in COLLECTIVES for a in BUILTIN[b]]
        expected += [("mpi", b, "native") for b in COLLECTIVES]
        report = self.check_report(out, expected, sizes, 4)
        self.assertEqual(report["launcher"], "mpirun")
        self.assertIn("# mpi allreduce native", r.stdout)

    def test_every_algorithm_over_ofi(self):
        info = harness.run(["info"], timeout=30)
        if not any(l.split()[:2] == ["ofi", "built"] for l in info.stdout.splitlines()):
            self.skipTest("the ofi transport is not built")
        sizes = [4, 100, 65536, 3 * (1 << 20) + 12]
        out = self.path("r.json")
        r = harness.run(["run", "--np", "3", "-t", "ofi", "--provider", "tcp",
                         "-b", ",".join(COLLECTIVES), "-a", "all", "--check", "--sizes",
                         ",".join(map(str, sizes)), "--iterations", "2", "--warmup", "1", "-q",
                         "-o", out], timeout=300, env={"FI_TCP_IFACE": "lo"})
        self.assertExit(r, 0)
        self.check_report(out, [("ofi", b, a) for b in COLLECTIVES for a in BUILTIN[b]], sizes, 3)

    def test_mixed_with_point_to_point(self):
        out = self.path("r.json")
        r = harness.run(["run", "-b", "latency,allreduce", "-a", "ring_chunked", "--check",
                         "--sizes", "8,64K", "--iterations", "5", "-q", "-o", out])
        self.assertExit(r, 0)
        report = harness.validate_report(out)
        self.assertEqual([(s["benchmark"], s["algorithm"]) for s in report["series"]],
                         [("latency", ""), ("allreduce", "ring_chunked")])
        self.assertNotIn("busbw_gbps", report["series"][0]["rows"][0])
        self.assertIn("busbw_gbps", report["series"][1]["rows"][0])

    def test_repeated_trials(self):
        out = self.path("r.json")
        r = harness.run(["run", "-b", "allreduce,barrier", "-a", "ring_chunked,dissemination",
                         "--repeat", "3", "--sizes", "4K", "--iterations", "5", "-q", "-o", out])
        self.assertExit(r, 0)
        report = self.check_report(out, [("tcp", "allreduce", "ring_chunked"),
                                         ("tcp", "barrier", "dissemination")], [4096], 2)
        for s in report["series"]:
            self.assertEqual(len(s["rows"][0]["trials"]), 3)

    def test_sweep_file(self):
        # The file asks for tcp and mpi over 8 B .. 64 MiB; the command line narrows it down.
        out = self.path("r.json")
        config = os.path.join(harness.SOURCE_DIR, "configs", "collectives.json")
        r = harness.run(["run", "--config", config, "-t", "tcp", "--np", "3", "--sizes",
                         "8,64K", "--iterations", "2", "--warmup", "1", "-q", "-o", out])
        self.assertExit(r, 0)
        expected = [("tcp", b, a) for b in COLLECTIVES for a in BUILTIN[b]]
        self.check_report(out, expected, [8, 65536], 3)


class CorruptionAndErrors(harness.TestCase):
    def test_corrupted_result_fails_check_naming_rank_size_element(self):
        for algorithm in ("ring_chunked", "halving_doubling"):
            with self.subTest(algorithm=algorithm):
                r = harness.run(["run", "--np", "4", "-b", "allreduce", "-a", algorithm,
                                 "--check", "--sizes", "4K", "--iterations", "3",
                                 "--inject-corruption", "2", "-q", "-o", self.path("r.json")],
                                timeout=60)
                self.assertExit(r, 1)
                lines = [l for l in r.stderr.splitlines() if "rank 2: --check failed" in l]
                self.assertTrue(lines, r)
                self.assertIn(f"allreduce {algorithm} of size 4096", lines[0])
                self.assertIn("first bad element is 512", lines[0])
                report = harness.validate_report(self.path("r.json"))
                self.assertFalse(report["complete"])
                self.assertIn("--check failed", report["error"])

    def test_corrupted_native_result_under_mpirun(self):
        r = harness.run(["run", "--bootstrap", "mpi", "-t", "mpi", "-b", "alltoall", "--check",
                         "--sizes", "4K", "--iterations", "3", "--inject-corruption", "1", "-q",
                         "-o", self.path("r.json")],
                        prefix=harness.MPIRUN + ["-np", "4"], timeout=120)
        self.assertExit(r, 1)
        self.assertIn("rank 1: --check failed: alltoall native of size 4096", r.stderr + r.stdout)
        self.assertIn("first bad element is 512", r.stderr + r.stdout)

    def test_without_check_corruption_goes_unnoticed(self):
        r = harness.run(["run", "--np", "2", "-b", "allreduce", "-a", "ring", "--sizes", "4K",
                         "--iterations", "2", "--inject-corruption", "1", "-q",
                         "-o", self.path("r.json")], timeout=60)
        self.assertExit(r, 0)

    def test_test_hook_is_hidden(self):
        r = harness.run(["run", "--help"], timeout=30)
        self.assertExit(r, 0)
        self.assertNotIn("inject-corruption", r.stdout)
        self.assertIn("--algorithm", r.stdout)
        self.assertIn("--dtype", r.stdout)

    def test_bad_flags(self):
        self.check_usage(["run", "-b", "allreduce", "-a", "fastest"], "fastest", "ring_chunked")
        self.check_usage(["run", "-b", "broadcast", "-a", "halving_doubling"],
                         "halving_doubling", "broadcast", "binomial")
        self.check_usage(["run", "-b", "latency", "-a", "ring"], "ring", "latency")
        self.check_usage(["run", "-b", "allreduce", "--dtype", "float16"], "float16", "float32")
        self.check_usage(["run", "-b", "allreduce", "--op", "prod"], "prod", "sum")
        self.check_usage(["run", "-b", "broadcast", "--np", "4", "--root", "4"], "--root 4")
        self.check_usage(["run", "-b", "broadcast", "--root", "-1"], "--root -1")

    def test_killed_rank_during_allreduce_names_it(self):
        out = self.path("r.json")
        # The 1 KiB calls take well under a second; the 64 MiB ones many seconds.
        proc = harness.spawn(["run", "--np", "4", "-b", "allreduce", "-a", "ring_chunked",
                              "--sizes", "1K,64M", "--iterations", "300", "--warmup", "1",
                              "--timeout", "10", "-o", out])
        # Kill rank 2 once the 1 KiB row is out, in the middle of the 64 MiB allreduces.
        stderr, elapsed = harness.kill_rank_when(
            proc, 2, lambda lines: any(l.split()[:1] == ["1K"] for l in lines), settle=0.5)
        report = self.assertRankLost(proc, stderr, elapsed, out, dead=2, survivors=3)
        self.assertEqual([r["size"] for r in report["series"][0]["rows"]], [1024])


if __name__ == "__main__":
    harness.main()
