"""Where every rank ran, in the report: host, local id, CPUs and NUMA nodes per rank, the Slurm
job and step of the run, and which pairs measured point-to-point benchmarks (on one node or
across nodes, --pairs intra|inter). Nodes are made with UTS namespaces (`unshare --uts`, root)
so that ranks on this host carry different host names."""

import json
import os
import shutil
import subprocess

import harness

QUICK = ["-b", "latency", "--sizes", "8", "--iterations", "20", "-q"]


def check_placement(test, report, launcher_local_ids=True):
    test.assertEqual(len(report["ranks"]), report["size"])
    for r in report["ranks"]:
        test.assertRegex(r["cpus"], r"^\d+(-\d+)?(,\d+(-\d+)?)*$", r)
        test.assertGreaterEqual(r["cpu_count"], 1, r)
        test.assertIn("local_id", r)
        test.assertNotIn("node_id", r)  # srun only
        if os.path.isdir("/sys/devices/system/node/node0"):
            test.assertIn("numa_nodes", r)
    # All on this host: local ids are 0..n-1 in rank order.
    test.assertEqual([r["local_id"] for r in report["ranks"]], list(range(report["size"])))


class Placement(harness.TestCase):
    def test_local_mode(self):
        out = self.path("r.json")
        r = harness.run(["run", "--np", "3", *QUICK, "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency")])
        check_placement(self, report)
        self.assertNotIn("slurm", report)
        series = report["series"][0]
        self.assertEqual(series["measured_pairs"], [[0, 1]])
        self.assertEqual(series["pair_locality"], "intra")
        self.assertEqual(series["params"]["pairs"], "0-1")

    def test_mpirun(self):
        out = self.path("r.json")
        r = harness.run(["run", "--addr", "127.0.0.1", *QUICK, "-o", out],
                        prefix=harness.MPIRUN + ["-np", "2"], timeout=120)
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency")])
        self.assertEqual(report["launcher"], "mpirun")
        check_placement(self, report)  # OMPI_COMM_WORLD_LOCAL_RANK

    def test_slurm_job_fields_and_time_left_warning(self):
        """Ranks started by hand inside a (synthetic) Slurm job: the run records the job, and a
        squeue that says 1 second is left makes rank 0 warn with both figures."""
        bin_dir = self.path("bin")
        os.makedirs(bin_dir)
        with open(os.path.join(bin_dir, "squeue"), "w") as f:
            f.write("#!/bin/sh\n[ \"$*\" = \"-h -j 4242 -o %L\" ] || exit 1\necho 0:01\n")
        os.chmod(os.path.join(bin_dir, "squeue"), 0o755)
        env = {"SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "7",
               "SLURM_STEP_NODELIST": "nid[001-002]", "SLURM_JOB_NODELIST": "nid[001-004]",
               "SLURM_STEP_TASKS_PER_NODE": "1(x2)", "SLURM_JOB_PARTITION": "debug",
               "PATH": bin_dir + ":" + os.environ["PATH"]}
        port = harness.free_port()
        out = self.path("r.json")
        common = ["run", "--size", "2", "--store", f"tcp://127.0.0.1:{port}", "--run-id", "pl",
                  "--addr", "127.0.0.1", "-b", "latency", "--sizes", "8", "--min-time", "1.5",
                  "-q", "-o", out]
        p1 = harness.spawn(common + ["--rank", "1"], env=env)
        p0 = harness.spawn(common + ["--rank", "0"], env=env)
        _, err0 = p0.communicate(timeout=120)
        p1.communicate(timeout=60)
        self.assertEqual((p0.returncode, p1.returncode), (0, 0), err0)
        report = self.assertReport(out, [("tcp", "latency")])
        self.assertEqual(report["slurm"], {"job_id": "4242", "step_id": "7",
                                           "nodelist": "nid[001-002]", "tasks_per_node": "1(x2)",
                                           "partition": "debug"})
        warning = [l for l in err0.splitlines() if "warning" in l]
        self.assertEqual(len(warning), 1, err0)
        self.assertIn("rough estimate", warning[0])
        self.assertIn("job 4242 has 1 s left (squeue)", warning[0])
        self.assertRegex(warning[0], r"may take about \d+ s")

    def test_no_warning_when_squeue_fails(self):
        """squeue missing or failing (no such job here): no word about it."""
        out = self.path("r.json")
        r = harness.run(["run", "--np", "2", *QUICK, "-o", out],
                        env={"SLURM_JOB_ID": "999999999"})
        self.assertExit(r, 0)
        self.assertNotIn("warning", r.stderr)
        self.assertEqual(harness.validate_report(out)["slurm"], {"job_id": "999999999"})


class Pairs(harness.TestCase):
    def test_plain_pairs_on_one_node(self):
        out = self.path("r.json")
        r = harness.run(["run", "--np", "4", "--pairs", *QUICK, "-o", out])
        self.assertExit(r, 0)
        series = self.assertReport(out, [("tcp", "latency")])["series"][0]
        self.assertEqual(series["measured_pairs"], [[0, 2], [1, 3]])
        self.assertEqual(series["pair_locality"], "intra")
        self.assertEqual(series["params"]["pairs"], "all")
        self.assertEqual(series["rows"][0]["pairs"], 2)

    def test_intra_on_one_node(self):
        out = self.path("r.json")
        r = harness.run(["run", "--np", "4", "--pairs", "intra", *QUICK, "-o", out])
        self.assertExit(r, 0)
        series = self.assertReport(out, [("tcp", "latency")])["series"][0]
        self.assertEqual(series["measured_pairs"], [[0, 2], [1, 3]])
        self.assertEqual(series["params"]["pairs"], "intra")

    def test_inter_on_one_node_is_refused(self):
        self.check_usage(["run", "--np", "4", "--pairs", "inter"],
                         "--pairs inter needs ranks on 2 or more nodes")

    def test_inter_under_mpirun_on_one_node_is_refused(self):
        r = harness.run(["run", "--addr", "127.0.0.1", "--pairs", "inter", *QUICK,
                         "-o", self.path("r.json")],
                        prefix=harness.MPIRUN + ["-np", "2"], timeout=120)
        self.assertExit(r, 2)
        self.assertIn("--pairs inter needs ranks on 2 or more nodes; all 2 ranks run on",
                      r.stderr)

    def test_bad_value_is_refused(self):
        self.check_usage(["run", "--pairs", "diagonal"], 'invalid --pairs "diagonal"')

    def test_sweep_file_pairs_true(self):
        config = self.path("c.json")
        with open(config, "w") as f:
            json.dump({"pairs": True}, f)
        out = self.path("r.json")
        r = harness.run(["run", "--np", "4", "--config", config, *QUICK, "-o", out])
        self.assertExit(r, 0)
        self.assertEqual(harness.validate_report(out)["series"][0]["params"]["pairs"], "all")


class TwoNodes(harness.TestCase):
    """4 ranks on two host names, placed cyclically (0 and 2 on nodea, 1 and 3 on nodeb)."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare to give ranks their own host names")
        probe = subprocess.run(["unshare", "--uts", "hostname", "probe"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest(f"unshare --uts fails here: {probe.stderr.decode().strip()}")

    def job(self, pairs):
        port = harness.free_port()
        out = self.path("r.json")
        procs = []
        for rank in (1, 2, 3, 0):
            node = "nodea" if rank % 2 == 0 else "nodeb"
            args = [harness.BINARY, "run", "--rank", str(rank), "--size", "4", "--store",
                    f"tcp://127.0.0.1:{port}", "--run-id", "two", "--addr", "127.0.0.1",
                    *pairs, *QUICK, "-o", out]
            procs.append(subprocess.Popen(
                ["unshare", "--uts", "sh", "-c", f'hostname {node} && exec "$@"', "sh", *args],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        results = [p.communicate(timeout=120) for p in procs]
        return [p.returncode for p in procs], results, out

    def test_plain_pairs_cross_nodes(self):
        codes, results, out = self.job(["--pairs"])
        self.assertEqual(codes, [0, 0, 0, 0], results)
        report = self.assertReport(out, [("tcp", "latency")])
        self.assertEqual([r["host"] for r in report["ranks"]], ["nodea", "nodeb"] * 2)
        self.assertEqual([r["local_id"] for r in report["ranks"]], [0, 0, 1, 1])
        series = report["series"][0]
        self.assertEqual(series["measured_pairs"], [[0, 1], [2, 3]])
        self.assertEqual(series["pair_locality"], "inter")

    def test_intra_pairs_stay_on_their_node(self):
        codes, results, out = self.job(["--pairs", "intra"])
        self.assertEqual(codes, [0, 0, 0, 0], results)
        series = self.assertReport(out, [("tcp", "latency")])["series"][0]
        self.assertEqual(series["measured_pairs"], [[0, 2], [1, 3]])
        self.assertEqual(series["pair_locality"], "intra")

    def test_without_pairs_ranks_0_and_1_are_across_nodes(self):
        codes, results, out = self.job([])
        self.assertEqual(codes, [0, 0, 0, 0], results)
        series = self.assertReport(out, [("tcp", "latency")])["series"][0]
        self.assertEqual(series["measured_pairs"], [[0, 1]])
        self.assertEqual(series["pair_locality"], "inter")


if __name__ == "__main__":
    harness.main()
