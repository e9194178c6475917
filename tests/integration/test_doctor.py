"""`rdzvbench doctor` as a user runs it: on this node for real (no cxi here: it says so, exit 0
with warnings), and on fixture sysfs trees with environments that hold an error (alt_read while
the NIC still issues rendezvous Gets, a "12M" size) -> exit 1 and the message; a fixture NIC's
health, identity and resource files and a stand-in squeue show the node/NIC lines (N3, N4, N7,
N8, N12) end to end. Every --json output is validated against results-schema/doctor.schema.json."""

import json
import os
import subprocess
import time

import harness

SCHEMA = os.path.join(harness.SOURCE_DIR, "results-schema", "doctor.schema.json")


def doctor(args, env=None, timeout=60):
    """Runs `rdzvbench doctor` with the test's environment minus every FI_*, SLURM_* and
    SLINGSHOT_* variable (so the host's settings cannot change the verdict), plus `env`."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("FI_", "SLURM_", "SLINGSHOT_", "fi_"))}
    full_env.update(env or {})
    start = time.monotonic()
    proc = subprocess.run([harness.BINARY, "doctor"] + args, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    return harness.Result(proc, time.monotonic() - start)


def validate(text):
    import jsonschema
    with open(SCHEMA) as f:
        schema = json.load(f)
    report = json.loads(text)
    jsonschema.Draft202012Validator(schema).validate(report)
    return report


def write_files(base, files):
    """Writes {relative path: content} under `base`, making the directories."""
    for rel, content in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)


def make_nic(root, index=0, rdzv_get_en=1, link="up", slot=None):
    """One Cassini 2 NIC laid out as the driver shows it under /sys."""
    slot = slot or f"0000:2{index}:00.0"
    pci = os.path.join(root, "devices", "pci0000:00", slot)
    files = {
        "uevent": f"DRIVER=cxi_ss1\nPCI_SLOT_NAME={slot}\n",
        "numa_node": "0\n",
        "local_cpulist": "0-1\n",
        "properties/cassini_version": "2.0\n",
        "properties/rdzv_get_en": f"{rdzv_get_en}\n",
        "port/0/link/state": f"{link}\n",
        "port/0/link/speed": "CK_400G\n",
        "port/0/media/type": "AOC\n",
        "telemetry/ixe_rx_ptl_restricted_pkt": "0@1700000000.000000000\n",
        "telemetry/ixe_rx_ptl_unrestricted_pkt": "12@1700000000.000000000\n",
    }
    write_files(pci, files)
    cls = os.path.join(root, "class", "cxi", f"cxi{index}")
    os.makedirs(cls, exist_ok=True)
    os.symlink(pci, os.path.join(cls, "device"))
    net = os.path.join(root, "class", "net", f"hsn{index}")
    os.makedirs(net, exist_ok=True)
    os.symlink(pci, os.path.join(net, "device"))
    return os.path.join(cls, "device", "properties", "rdzv_get_en")


class ThisNode(harness.TestCase):
    def test_real_node_has_no_cxi_and_says_so(self):
        r = doctor([])
        self.assertExit(r, 0)
        if "libfabric not built in" not in r.stdout:
            self.assertIn("cxi provider not available", r.stdout)
        lines = r.stdout.splitlines()
        self.assertTrue(any(l.strip().startswith("warning") for l in lines), r)
        self.assertFalse(any(l.strip().startswith("error") for l in lines), r)
        self.assertIn("no CXI NIC under /sys/class/cxi", r.stdout)
        self.assertRegex(r.stdout, r"\d+ ok, \d+ warnings?, 0 errors")

    def test_real_node_json(self):
        r = doctor(["--json"])
        self.assertExit(r, 0)
        report = validate(r.stdout)
        self.assertEqual(report["exit_code"], 0)
        self.assertEqual(report["summary"]["errors"], 0)
        self.assertGreater(report["summary"]["warnings"], 0)
        self.assertEqual(report["sysfs_root"], "/sys")
        self.assertEqual(report["cxi_sysfs"]["nics"], [])
        lf = report["libfabric"]
        if lf["built"]:
            # Debian 12: libfabric 1.17 predates the cxi provider; fi_getinfo says -38.
            self.assertTrue(lf["probed"])
            self.assertFalse(lf["cxi"]["available"])
            self.assertIn(lf["cxi"]["rc"], (-38, -61))
            cxi = [c for c in report["checks"] if c["subject"] == "cxi provider"]
            self.assertEqual(len(cxi), 1)
            self.assertEqual(cxi[0]["status"], "warning")
            self.assertIn("cxi provider not available", cxi[0]["message"])
            self.assertEqual(report["cxi_env"]["libfabric_version"], lf["version"])
        else:
            self.assertIn("not built", json.dumps(report["checks"]))

    def test_fi_provider_cxi_without_cxi_is_an_error(self):
        r = doctor([], env={"FI_PROVIDER": "cxi"})
        self.assertExit(r, 1)
        self.assertIn("FI_PROVIDER", r.stdout)


class Fixtures(harness.TestCase):
    def test_alt_read_with_rendezvous_get_enabled_fails(self):
        prop = make_nic(self.dir, rdzv_get_en=1)
        env = {"FI_CXI_RDZV_PROTO": "alt_read"}
        r = doctor(["--sysfs-root", self.dir], env=env)
        self.assertExit(r, 1)
        self.assertIn(f"alt_read requested but {prop}=1 (run with srun "
                      "--network=disable_rdzv_get; note: no effect on single-node steps without "
                      "a VNI)", r.stdout)
        self.assertIn("fix the errors above", r.stdout)
        j = doctor(["--sysfs-root", self.dir, "--json"], env=env)
        self.assertExit(j, 1)
        report = validate(j.stdout)
        self.assertEqual(report["exit_code"], 1)
        self.assertEqual(report["cxi_env"]["effective"]["rdzv_proto"], "alt_read")
        self.assertEqual(report["cxi_sysfs"]["nics"][0]["rdzv_get_en"], True)
        self.assertEqual(report["cxi_sysfs"]["nics"][0]["netdev"], "hsn0")
        errors = [c for c in report["checks"] if c["status"] == "error"]
        self.assertEqual([(c["id"], c["subject"]) for c in errors], [("E9", "cxi0 rdzv_get_en")])

    def test_alt_read_with_rendezvous_get_disabled_passes(self):
        make_nic(self.dir, rdzv_get_en=0)
        r = doctor(["--sysfs-root", self.dir, "--json"],
                   env={"FI_CXI_RDZV_PROTO": "alt-read", "SLURM_JOB_ID": "7",
                        "SLURM_NETWORK": "disable_rdzv_get"})
        self.assertExit(r, 0)
        report = validate(r.stdout)
        e9 = {c["subject"]: c["status"] for c in report["checks"] if c["id"] == "E9"}
        self.assertEqual(e9, {"cxi0 rdzv_get_en": "ok", "SLURM_NETWORK": "ok"})

    def test_link_down_and_number_traps(self):
        make_nic(self.dir, link="down")
        r = doctor(["--sysfs-root", self.dir, "--libfabric-version", "2.4.0"],
                   env={"FI_CXI_OFLOW_BUF_SIZE": "12M", "FI_CXI_RDZV_THRESHOLD": "016384",
                        "FI_CXI_EAGER_SIZE": "0"})
        self.assertExit(r, 1)
        self.assertIn('FI_CXI_OFLOW_BUF_SIZE="12M" is parsed by libfabric as 12', r.stdout)
        self.assertIn("write 12582912", r.stdout)
        self.assertIn('FI_CXI_RDZV_THRESHOLD="016384" is parsed by libfabric as 115', r.stdout)
        self.assertIn("did you mean FI_CXI_RDZV_EAGER_SIZE?", r.stdout)
        self.assertIn("cxi0 link down", r.stdout)

    def test_version_and_config_file_flags(self):
        make_nic(self.dir, rdzv_get_en=1)
        conf = self.path("libfabric.conf")
        with open(conf, "w") as f:
            f.write("# site defaults\nFI_CXI_RDZV_THRESHOLD=65536\nFI_CXI_OFLOW_BUF_SIZE=16777216\n")
        for version, eager in (("2.1.0", 2048), ("2.3.1", 16384), ("2.4.0", 2048)):
            with self.subTest(version=version):
                r = doctor(["--sysfs-root", self.dir, "--json", "--libfabric-version", version,
                            "--libfabric-conf", conf])
                self.assertExit(r, 0)
                report = validate(r.stdout)
                env = report["cxi_env"]
                self.assertEqual(env["libfabric_version"], version)
                self.assertEqual(env["effective"]["rdzv_threshold"], 65536)
                self.assertEqual(env["rdzv_eager_size"], eager)
                self.assertEqual(env["eager_max"], 65536 + 2049)
                self.assertEqual(env["requested"]["FI_CXI_RDZV_THRESHOLD"],
                                 {"value": "65536", "source": "libfabric.conf"})
                self.assertEqual(report["config_file"], conf)

    def test_nic_health_identity_resources_and_other_jobs(self):
        make_nic(self.dir, rdzv_get_en=1)
        dev = os.path.join(self.dir, "class", "cxi", "cxi0", "device")
        now = int(time.time())
        files = {f"link_restarts/time_{i}": "0\n" for i in range(10)}
        files.update({
            "link_restarts/time_3": f"{now - 120}\n",
            "properties/pcie_corr_err": "4\n",
            "properties/pcie_uncorr_err": "0\n",
            "aer_dev_nonfatal": "DLP 0\nMalfTLP 0\nTOTAL_ERR_NONFATAL 0\n",
            "properties/nic_addr": "0x12\n",
            "properties/nid": "0x12\n",
            "uc/version": "1.5.41\n",
            "properties/num_ptes": "2048\n",
            "properties/rgids_avail": "0\n",
        })
        write_files(dev, files)
        # squeue as Slurm would answer for this node: this job (7) and another (8).
        bindir = self.path("bin")
        os.makedirs(bindir)
        squeue = os.path.join(bindir, "squeue")
        with open(squeue, "w") as f:
            f.write("#!/bin/sh\necho \"$@\" > \"$0.args\"\nprintf '7\\n8\\n'\n")
        os.chmod(squeue, 0o755)
        env = {"SLURM_JOB_ID": "7", "SLURMD_NODENAME": "nid007", "SLINGSHOT_VNIS": "1024",
               "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
        r = doctor(["--sysfs-root", self.dir, "--json"], env=env)
        self.assertExit(r, 0)
        report = validate(r.stdout)
        with open(squeue + ".args") as f:
            self.assertEqual(f.read().strip(), "-h -w nid007 -o %i")
        checks = {(c["id"], c["subject"]): c for c in report["checks"]}
        expect = {
            ("N3", "cxi0 link restarts"): ("warning", "cxi0 link restarted 1× in last hour"),
            ("N3", "cxi0 PCIe errors"): ("ok", "no uncorrectable error; 4 correctable"),
            ("N4", "cxi0 identity"): ("ok", "nic_addr 0x12, nid 0x12, firmware 1.5.41"),
            ("N7", "cxi0 resources"): ("warning", "rgids_avail is 0"),
            ("N8", "Slingshot VNI"): ("ok", "SLINGSHOT_VNIS=1024"),
            ("N12", "shared node"): ("warning", "rdzv_get_en is node-global; another job (8)"),
        }
        for key, (status, text) in expect.items():
            with self.subTest(check=key):
                self.assertIn(key, checks, r.stdout)
                self.assertEqual(checks[key]["status"], status, checks[key])
                self.assertIn(text, checks[key]["message"])
        # The fixture's NICs are not this node's: no retry-handler unit is asked about.
        self.assertFalse([c for c in report["checks"] if c["id"] == "N6"])
        nic = report["cxi_sysfs"]["nics"][0]
        self.assertEqual(nic["link_restarts"], [now - 120])
        self.assertEqual(nic["resources"], {"num_ptes": 2048, "rgids_avail": 0})
        self.assertEqual(nic["aer"], {"nonfatal": 0})
        self.assertEqual(nic["firmware"], "1.5.41")

        # Outside a job, no VNI: no N12 line, and N8 warns.
        del env["SLURM_JOB_ID"], env["SLINGSHOT_VNIS"]
        t = doctor(["--sysfs-root", self.dir], env=env)
        self.assertExit(t, 0)
        self.assertIn("no SLINGSHOT_VNIS: provider will use a default service/VNI 10", t.stdout)
        self.assertNotIn("shared node", t.stdout)

    def test_bad_flags_are_usage_errors(self):
        for args, needle in ((["--libfabric-version", "two"], "--libfabric-version"),
                             (["--sysfs-root", self.path("nope")], "--sysfs-root")):
            with self.subTest(args=args):
                r = doctor(args)
                self.assertExit(r, 2)
                lines = [l for l in r.stderr.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, r)
                self.assertIn(needle, lines[0])


def spawn_doctor(args, env=None):
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("FI_", "SLURM_", "fi_"))}
    full_env.update(env or {})
    return subprocess.Popen([harness.BINARY, "doctor"] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env)


class AcrossRanks(harness.TestCase):
    """Doctor as the ranks of a job: every rank checks its node, rank 0 compares (E15) and
    prints one verdict, and every rank exits with the job's code."""

    def ranks_by_store(self, per_rank, common=()):
        """Starts len(per_rank) doctor ranks on a tcp store, rank r with (args, env) =
        per_rank[r]; returns their (exit code, stdout, stderr), rank by rank."""
        port = harness.free_port()
        size = len(per_rank)
        procs = [spawn_doctor(["--rank", str(r), "--size", str(size), "--store",
                               f"tcp://127.0.0.1:{port}", "--timeout", "20"]
                              + list(common) + list(args), env=env)
                 for r, (args, env) in enumerate(per_rank)]
        outputs = [p.communicate(timeout=60) for p in procs]
        return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs)]

    def test_local_ranks_agree(self):
        r = doctor(["--np", "3"])
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.count("rdzvbench doctor:"), 1, r)  # rank 0 alone prints
        self.assertIn("across 3 ranks on 1 node (local)", r.stdout)
        self.assertRegex(r.stdout, r"ok +E15 +same settings +3 ranks on 1 node agree on \d+ "
                                   r"settings \(libfabric ")
        j = doctor(["--np", "2", "--json"])
        self.assertExit(j, 0)
        report = validate(j.stdout)
        self.assertEqual(report["across_ranks"]["size"], 2)
        self.assertEqual([c["id"] for c in report["across_ranks"]["checks"]], ["E15"])

    def test_a_rank_with_other_settings_is_named(self):
        results = self.ranks_by_store([
            ([], {}),
            ([], {"FI_CXI_RDZV_THRESHOLD": "16384"}),
            ([], {"FI_CXI_RDZV_THRESHOLD": "0x4000", "FI_CXI_RX_MATCH_MODE": "software"}),
        ])
        self.assertEqual([code for code, _, _ in results], [1, 1, 1], results)
        out = results[0][1]
        # 16384 and 0x4000 are the same value to libfabric: one line for both ranks.
        self.assertRegex(out, r"error +E15 +FI_CXI_RDZV_THRESHOLD +ranks 1-2 \(\S+\) have "
                              r"16384; rank 0 \(\S+\) has 2048")
        self.assertRegex(out, r"error +E15 +FI_CXI_RX_MATCH_MODE +rank 2 \(\S+\) has software; "
                              r"rank 0 \(\S+\) has hardware")
        self.assertNotRegex(out, r"E15 +same settings")
        self.assertEqual(results[1][1] + results[2][1], "")  # only rank 0 prints
        # The same as JSON.
        results = self.ranks_by_store([([], {}), ([], {"FI_CXI_RDZV_GET_MIN": "0"})],
                                      common=["--json"])
        self.assertEqual([code for code, _, _ in results], [1, 1], results)
        report = validate(results[0][1])
        across = report["across_ranks"]
        self.assertEqual((across["size"], across["launcher"], across["exit_code"]),
                         (2, "manual", 1))
        self.assertEqual([(c["subject"], c["ranks"]) for c in across["checks"]],
                         [("FI_CXI_RDZV_GET_MIN", [1])])
        self.assertEqual(report["exit_code"], 1)

    def test_a_problem_only_another_rank_has_is_listed_with_its_ranks(self):
        # Rank 1 sees a NIC whose link is down (its own --sysfs-root); rank 0 sees none.
        make_nic(self.dir, link="down")
        results = self.ranks_by_store([([], {}), (["--sysfs-root", self.dir], {})])
        self.assertEqual([code for code, _, _ in results], [1, 1], results)
        out = results[0][1]
        self.assertRegex(out, r"error +N2 +cxi0 link +rank 1 \(\S+\): cxi0 link down")
        # The NIC's rdzv_get_en exists on rank 1 only: a setting that differs.
        self.assertRegex(out, r"E15 +cxi0 rdzv_get_en +rank 1 \(\S+\) has 1; rank 0 \(\S+\) "
                              r"has \(unset\)")

    def test_a_missing_rank_is_named_within_the_timeout(self):
        port = harness.free_port()
        p = spawn_doctor(["--rank", "0", "--size", "2", "--store", f"tcp://127.0.0.1:{port}",
                          "--timeout", "2"])
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 3, err)
        self.assertIn("rank 1", err)
        self.assertEqual(len([l for l in err.splitlines() if l.startswith("rdzvbench: error")]),
                         1, err)

    def test_mpirun_ranks_with_different_settings(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FI_", "SLURM_"))}
        cmd = (harness.MPIRUN + ["-np", "1", harness.BINARY, "doctor", ":", "-np", "1",
                                 "-x", "FI_CXI_RDZV_PROTO=alt_read", harness.BINARY, "doctor"])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertIn("across 2 ranks on 1 node (mpirun)", p.stdout, p.stderr)
        self.assertRegex(p.stdout, r"E15 +FI_CXI_RDZV_PROTO +rank 1 \(\S+\) has alt_read")
        # The environment before and after MPI_Init compared (OpenMPI sets no FI_* here).
        self.assertRegex(p.stdout, r"ok +E14 +MPI_Init +MPI_Init set, changed or removed no FI_")


if __name__ == "__main__":
    harness.main()
