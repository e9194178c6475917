"""The ofi transport in native mode over Debian's libfabric providers, with --check, under
local mode and mpirun; and a clear refusal of providers this libfabric does not have."""

import harness

SIZES = [1, 64, 8192, 65536, 1 << 20]


class Ofi(harness.TestCase):
    def run_ofi(self, provider, extra=(), prefix=None, np=2, timeout=240):
        out = self.path("r.json")
        args = ["run", "-t", "ofi", "--provider", provider, "--check", "-b", "latency,bw",
                "--sizes", ",".join(map(str, SIZES)), "--iterations", "20", "--window", "16",
                "-q", "-o", out] + list(extra)
        if prefix is None:
            args += ["--np", str(np)]
        r = harness.run(args, prefix=prefix, timeout=timeout,
                        env={"FI_TCP_IFACE": "lo", "FI_SOCKETS_IFACE": "lo"})
        self.assertExit(r, 0)
        return self.assertReport(out, [("ofi", "latency"), ("ofi", "bw")], SIZES)

    def test_tcp_provider(self):
        for np in (2, 4):
            with self.subTest(np=np):
                report = self.run_ofi("tcp", ["--pairs"], np=np)
                d = report["series"][0]["details"]
                self.assertEqual(d["provider"], "tcp;ofi_rxm")
                self.assertEqual(d["endpoint_type"], "FI_EP_RDM")
                self.assertEqual(d["ofi_mode"], "native")
                self.assertTrue(d["libfabric_runtime"].startswith("1."))
                self.assertIn("libfabric", d["library"])
                self.assertEqual(d["fi_environment"]["FI_TCP_IFACE"], "lo")

    def test_shm_provider(self):
        for np in (2, 4):
            with self.subTest(np=np):
                report = self.run_ofi("shm", ["--pairs"], np=np)
                self.assertEqual(report["series"][0]["details"]["provider"], "shm")

    def test_other_providers(self):
        for provider in ("sockets", "udp"):
            with self.subTest(provider=provider):
                self.run_ofi(provider)

    def test_under_mpirun(self):
        for provider in ("tcp", "shm"):
            with self.subTest(provider=provider):
                report = self.run_ofi(provider, ["--bootstrap", "mpi", "--pairs"],
                                      prefix=harness.MPIRUN + ["-np", "4", "-x", "FI_TCP_IFACE"])
                self.assertEqual(report["launcher"], "mpirun")

    def test_missing_provider_is_a_clear_runtime_error(self):
        r = harness.run(["run", "-t", "ofi", "--provider", "cxi"], timeout=30)
        self.assertExit(r, 3)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r)
        self.assertIn("cxi provider not available", lines[0])
        self.assertIn("libfabric 1.", lines[0])
        self.assertIn("tcp;ofi_rxm", lines[0])  # what it does offer

    def test_engine_mode_not_yet(self):
        r = harness.run(["run", "-t", "ofi", "--ofi-mode", "engine"], timeout=30)
        self.assertExit(r, 2)
        self.assertIn("--ofi-mode engine", r.stderr)


if __name__ == "__main__":
    harness.main()
