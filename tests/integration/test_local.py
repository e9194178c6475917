"""Local mode: `rdzvbench run` with no launcher starts its own ranks over an embedded store."""

import harness


class LocalMode(harness.TestCase):
    def test_default_sweep_small_sizes(self):
        out = self.path("r.json")
        r = harness.run(["run", "--sizes", "1:64K", "--iterations", "50", "-o", out])
        self.assertExit(r, 0)
        self.assertIn("# tcp latency", r.stdout)
        self.assertIn("# tcp bw", r.stdout)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")],
                                   [2**i for i in range(17)])
        self.assertEqual(report["launcher"], "local")
        self.assertEqual(report["size"], 2)
        self.assertEqual([x["rank"] for x in report["ranks"]], [0, 1])
        self.assertEqual(report["series"][0]["rows"][0]["iterations"], 50)

    def test_check_across_sizes_and_benchmarks(self):
        out = self.path("r.json")
        sizes = [1, 7, 192, 193, 4095, 65536, 65537, 1 << 20, 3 * (1 << 20) + 5]
        r = harness.run(["run", "--check", "-b", "latency,bw,bibw", "--sizes",
                         ",".join(map(str, sizes)), "--iterations", "5", "--window", "8",
                         "-o", out])
        self.assertExit(r, 0)
        self.assertReport(out, [("tcp", "latency"), ("tcp", "bw"), ("tcp", "bibw")], sizes)

    def test_epoll_progress(self):
        out = self.path("r.json")
        r = harness.run(["run", "--progress", "epoll", "--check", "--sizes", "8,64K,1M",
                         "--iterations", "10", "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 65536, 1 << 20])
        self.assertEqual(report["series"][0]["details"]["progress"], "epoll")

    def test_four_ranks_pairs(self):
        out = self.path("r.json")
        r = harness.run(["run", "--np", "4", "--pairs", "--check", "-b", "latency,bw",
                         "--sizes", "8,4K,256K", "--iterations", "20", "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 4096, 262144])
        for s in report["series"]:
            for row in s["rows"]:
                self.assertEqual(row["pairs"], 2)
        # 4 ranks on 2 cores: the transport must know to yield.
        self.assertTrue(report["series"][0]["details"]["yield_when_idle"])

    def test_sixteen_ranks_full_mesh(self):
        out = self.path("r.json")
        r = harness.run(["run", "--np", "16", "--pairs", "-b", "latency", "--sizes", "8",
                         "--iterations", "10", "-o", out], timeout=180)
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency")], [8])
        self.assertEqual(report["size"], 16)
        self.assertEqual(report["series"][0]["rows"][0]["pairs"], 8)
        self.assertEqual(len(report["ranks"]), 16)

    def test_min_time_raises_iterations(self):
        out = self.path("r.json")
        r = harness.run(["run", "-b", "latency", "--sizes", "8", "--iterations", "10",
                         "--min-time", "0.2", "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency")], [8])
        self.assertGreater(report["series"][0]["rows"][0]["iterations"], 10)

    def test_ipv6_loopback(self):
        out = self.path("r.json")
        r = harness.run(["run", "--addr", "::1", "--check", "--sizes", "8,64K",
                         "--iterations", "10", "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 65536])
        self.assertTrue(report["series"][0]["details"]["listen"].startswith("[::1]:"))


if __name__ == "__main__":
    harness.main()
