"""Launch paths: mpirun with the MPI bootstrap, with a file store and with a tcp store served
by rank 0; ranks started by hand; tcp and mpi measured in one run."""

import harness


class Mpirun(harness.TestCase):
    def mpirun(self, np, args, timeout=180):
        return harness.run(args, prefix=harness.MPIRUN + ["-np", str(np)], timeout=timeout)

    def test_mpi_bootstrap_tcp_and_mpi(self):
        out = self.path("r.json")
        r = self.mpirun(2, ["run", "--bootstrap", "mpi", "--addr", "127.0.0.1", "-t", "tcp,mpi",
                            "--check", "--sizes", "8,64K,1M", "--iterations", "20", "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw"), ("mpi", "latency"),
                                         ("mpi", "bw")], [8, 65536, 1 << 20])
        self.assertEqual(report["launcher"], "mpirun")
        self.assertEqual(report["bootstrap"], "mpi")
        self.assertIn("library", report["series"][2]["details"])

    def test_auto_bootstrap_under_mpirun_is_mpi(self):
        out = self.path("r.json")
        r = self.mpirun(2, ["run", "--addr", "127.0.0.1", "--sizes", "8", "-b", "latency",
                            "--iterations", "20", "-o", out])
        self.assertExit(r, 0)
        self.assertEqual(self.assertReport(out, [("tcp", "latency")])["bootstrap"], "mpi")

    def test_file_store(self):
        out = self.path("r.json")
        r = self.mpirun(2, ["run", "--store", f"file://{self.path('store')}", "--addr",
                            "127.0.0.1", "--check", "--sizes", "8,1M", "--iterations", "20",
                            "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 1 << 20])
        self.assertEqual(report["bootstrap"], "store")
        self.assertTrue(report["store"].startswith("file://"))

    def test_tcp_store_served_by_rank0(self):
        out = self.path("r.json")
        port = harness.free_port()
        r = self.mpirun(4, ["run", "--store", f"tcp://127.0.0.1:{port}", "--addr", "127.0.0.1",
                            "--pairs", "--check", "--sizes", "8,64K", "--iterations", "20",
                            "-t", "tcp,mpi", "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw"), ("mpi", "latency"),
                                         ("mpi", "bw")], [8, 65536])
        self.assertEqual(report["size"], 4)
        self.assertEqual(report["series"][0]["rows"][0]["pairs"], 2)


class ByHand(harness.TestCase):
    def test_two_processes_with_tcp_store(self):
        port = harness.free_port()
        out = self.path("r.json")
        common = ["run", "--size", "2", "--store", f"tcp://127.0.0.1:{port}", "--addr",
                  "127.0.0.1", "--check", "--sizes", "8,1M", "--iterations", "20", "-o", out]
        # Rank 1 first: it must wait for rank 0's store to come up.
        p1 = harness.spawn(common + ["--rank", "1"])
        p0 = harness.spawn(common + ["--rank", "0"])
        for p in (p0, p1):
            stdout, stderr = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, stderr)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 1 << 20])
        self.assertEqual(report["launcher"], "manual")
        self.assertEqual(report["bootstrap"], "store")


if __name__ == "__main__":
    harness.main()
