"""The ofi transport in native mode over Debian's libfabric providers, with --check, under
local mode and mpirun; and a clear refusal of providers this libfabric does not have."""

import os

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

    def test_libfabric_is_loaded_only_when_used(self):
        # A command that needs no libfabric never maps it (its psm libraries' constructors
        # sleep ~0.2 s); the ofi transport does, from the file RDZV_LIBFABRIC names.
        r = harness.run(["--version"], env={"LD_DEBUG": "files"})
        self.assertExit(r, 0)
        self.assertNotIn("libfabric", r.stderr)
        real = self.run_ofi("tcp")["series"][0]["details"]["library"]
        self.assertTrue(os.path.isfile(real), real)
        out = self.path("chosen.json")
        r = harness.run(["run", "-t", "ofi", "--provider", "tcp", "--np", "2", "-b", "latency",
                         "-s", "8", "-q", "-o", out],
                        env={"RDZV_LIBFABRIC": real, "FI_TCP_IFACE": "lo"}, timeout=120)
        self.assertExit(r, 0)
        self.assertEqual(harness.validate_report(out)["series"][0]["details"]["library"], real)

    def test_a_libfabric_that_cannot_be_loaded_is_named(self):
        env = {"RDZV_LIBFABRIC": self.path("missing/libfabric.so.1")}
        r = harness.run(["run", "-t", "ofi", "--np", "2", "-s", "8"], env=env, timeout=60)
        self.assertExit(r, 3)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r)
        self.assertIn("cannot load libfabric: " + env["RDZV_LIBFABRIC"], lines[0])
        self.assertIn("set RDZV_LIBFABRIC", lines[0])
        r = harness.run(["info"], env=env, timeout=60)
        self.assertIn("libfabric cannot be loaded: " + env["RDZV_LIBFABRIC"], r.stdout)
        r = harness.run(["doctor"], env=env, timeout=60)
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"warning +E1 +libfabric +libfabric could not be loaded")

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

    def test_engine_mode_every_boundary_both_protocols(self):
        sizes = [1, 192, 193, 18433, 18434, 1 << 20]
        for provider in ("tcp", "shm"):
            for np in (2, 4):
                with self.subTest(provider=provider, np=np):
                    out = self.path("r.json")
                    r = harness.run(["run", "-t", "ofi", "--ofi-mode", "engine", "--provider",
                                     provider, "--np", str(np), "--pairs", "--check", "-b",
                                     "latency,bw,bibw", "--sizes", ",".join(map(str, sizes)),
                                     "--rdzv-proto", "default,alt_read", "--iterations", "6",
                                     "--window", "8", "-q", "-o", out], timeout=300,
                                    env={"FI_TCP_IFACE": "lo"})
                    self.assertExit(r, 0)
                    report = harness.validate_report(out)
                    self.assertEqual(len(report["series"]), 6)
                    for s in report["series"]:
                        self.assertTrue(s["complete"])
                        self.assertEqual(s["details"]["ofi_mode"], "engine")
                        c = s["details"]["counters"]
                        self.assertGreater(c["rendezvous_sent"], 0)
                        self.assertEqual(c["gets"], c["rendezvous_sent"])
                        alt = s["params"]["rdzv_proto"] == "alt_read"
                        self.assertEqual(c["done_sent"], c["rendezvous_sent"] if alt else 0)

    def test_cxi_settings_and_telemetry_are_recorded(self):
        # No cxi here: the FI_CXI_* values are still recomputed with the provider's rules, and a
        # fixture NIC tree stands in for /sys so the telemetry before/after each series is real.
        from test_doctor import make_nic
        make_nic(self.dir)
        counter = os.path.join(self.dir, "devices", "pci0000:00", "0000:20:00.0", "telemetry",
                               "ixe_rx_ptl_restricted_pkt")
        out = self.path("r.json")
        proc = harness.spawn(["run", "-t", "ofi", "--provider", "tcp", "--sysfs-root", self.dir,
                              "-b", "latency", "--sizes", "8,16,32,64,128", "--iterations", "3000",
                              "-o", out],
                             env={"FI_TCP_IFACE": "lo", "FI_CXI_RDZV_THRESHOLD": "0",
                                  "FI_CXI_OFLOW_BUF_SIZE": "12M"})
        # Once the first row is out the series is under way: the NIC "sees" 500 packets.
        line = proc.stdout.readline()
        while line and not line.startswith("   "):
            line = proc.stdout.readline()
        with open(counter, "w") as f:
            f.write("500@1700000005.000000000\n")
        proc.stdout.read()
        self.assertEqual(proc.wait(timeout=120), 0, proc.stderr.read())
        d = harness.validate_report(out)["series"][0]["details"]
        delta = d["cxi_telemetry"]["delta"]["cxi0"]["ixe_rx_ptl_restricted_pkt"]
        self.assertEqual(delta["count"], 500)
        self.assertEqual(delta["seconds"], 5)
        # The provider's real chain, as the cxi provider would apply it: "12M" is read as 12
        # bytes, so the threshold (raised from 0 to 192) exceeds the overflow buffer and is
        # reset to the compiled default (2048 under this libfabric's rules).
        eff = d["cxi_effective"]
        self.assertEqual(eff["effective"]["oflow_buf_size"], 12)
        self.assertEqual(eff["effective"]["rdzv_threshold"], 2048)
        messages = " ".join(f["message"] for f in eff["findings"])
        self.assertIn("effective 192", messages)
        self.assertIn("12", messages)

    def test_engine_mode_counts_like_the_tcp_transport(self):
        # The same decisions on both: the counters of one size list must agree exactly.
        counts = {}
        for transport in ("tcp", "ofi"):
            out = self.path(f"{transport}.json")
            r = harness.run(["run", "-t", transport, "--ofi-mode", "engine", "--provider", "tcp",
                             "-b", "latency", "--sizes", "100,5000,20000,1M", "--iterations",
                             "10", "--warmup", "2", "-q", "-o", out], timeout=120,
                            env={"FI_TCP_IFACE": "lo"})
            self.assertExit(r, 0)
            c = harness.validate_report(out)["series"][0]["details"]["counters"]
            counts[transport] = (c["inline_sent"], c["eager_sent"], c["rendezvous_sent"],
                                 c["gets"])
        self.assertEqual(counts["tcp"], counts["ofi"])

    def test_engine_mode_under_mpirun(self):
        report = self.run_ofi("tcp", ["--bootstrap", "mpi", "--ofi-mode", "engine"],
                              prefix=harness.MPIRUN + ["-np", "2", "-x", "FI_TCP_IFACE"])
        self.assertEqual(report["series"][0]["details"]["ofi_mode"], "engine")


if __name__ == "__main__":
    harness.main()
