"""rdzvbench under a real Slurm: srun steps, concurrent steps, sbatch recipes, ending a step.

Needs the one-node cluster of scripts/slurm-local.sh (CTest fixture "slurm"); skipped, exit 77,
with the fixture's reason when it could not start.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time

import harness

FIXTURE = os.environ.get("RDZV_TEST_SLURM_DIR", "")

# -I: give up when the node cannot take the step within 30 s (a node left down) instead of
# waiting in the queue until the test times out.
SRUN = ["srun", "-I30", "--quiet", "--job-name=rdzv-test"]


def unavailable():
    if not FIXTURE:
        return "RDZV_TEST_SLURM_DIR is not set (run through ctest, which starts the cluster)"
    path = os.path.join(FIXTURE, "unavailable")
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    if subprocess.run([os.path.join(harness.SOURCE_DIR, "scripts", "slurm-local.sh"), "status"],
                      capture_output=True).returncode != 0:
        return "the one-node Slurm cluster is not running (scripts/slurm-local.sh start)"
    return None


RECIPES = os.path.join(harness.SOURCE_DIR, "configs", "slurm")


def sbatch(recipe, cwd, env, args=(), timeout=300):
    """`sbatch --wait` of a recipe on the one node: two tasks there instead of the recipe's two
    nodes with one each. Returns (exit code, the job's log)."""
    full_env = dict(os.environ, RDZV_HOME=harness.SOURCE_DIR, RDZVBENCH=harness.BINARY, **env)
    cmd = ["sbatch", "--wait", "--nodes=1", "--ntasks-per-node=2", *args,
           os.path.join(RECIPES, recipe)]
    r = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True,
                       timeout=timeout)
    logs = sorted(glob.glob(os.path.join(cwd, "*.log")), key=os.path.getmtime)
    log = "(no job log)"
    if logs:
        with open(logs[-1]) as f:
            log = f.read()
    return r.returncode, f"sbatch: {r.stdout}{r.stderr}\n--- job log\n{log}"


class Slurm(harness.TestCase):
    def assertPlacement(self, report, size):
        """The job and step of the srun step, and where each of its ranks ran."""
        slurm = report["slurm"]
        self.assertTrue(slurm["job_id"].isdigit(), slurm)
        self.assertTrue(slurm["step_id"].isdigit(), slurm)
        self.assertEqual(report["run_id"], f"{slurm['job_id']}.{slurm['step_id']}")
        node = os.uname().nodename
        self.assertEqual((slurm["nodelist"], slurm["partition"], slurm["tasks_per_node"]),
                         (node, "debug", str(size)))
        self.assertEqual([r["rank"] for r in report["ranks"]], list(range(size)))
        for r in report["ranks"]:
            self.assertEqual((r["host"], r["node_id"]), (node, 0), r)
            self.assertGreater(r["cpu_count"], 0, r)
            self.assertTrue(r["cpus"], r)
        self.assertEqual(sorted(r["local_id"] for r in report["ranks"]), list(range(size)))

    def srun(self, srun_args, run_args, timeout=120):
        return harness.run(["run", "-q"] + run_args, timeout=timeout, prefix=SRUN + srun_args)

    def test_srun_pmix_with_mpi_bootstrap(self):
        out = self.path("pmix.json")
        r = self.srun(["--mpi=pmix", "-n", "2"],
                      ["--bootstrap", "mpi", "-s", "8,64K", "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 65536])
        self.assertEqual(report["launcher"], "srun")
        self.assertEqual(report["bootstrap"], "mpi")
        self.assertEqual(report["size"], 2)
        self.assertPlacement(report, 2)

    def test_srun_with_no_store(self):
        out = self.path("zero.json")
        r = self.srun(["-n", "2"], ["-s", "8,64K", "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 65536])
        self.assertEqual((report["launcher"], report["bootstrap"]), ("srun", "store"))
        self.assertTrue(report["store"].startswith("tcp://"), report["store"])
        self.assertPlacement(report, 2)

    def test_srun_four_ranks_in_pairs(self):
        out = self.path("pairs.json")
        r = self.srun(["-n", "4"], ["--pairs", "-b", "bw", "-s", "1K,64K", "--progress", "epoll",
                                    "-o", out])
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "bw")], [1024, 65536])
        self.assertEqual(report["size"], 4)
        self.assertTrue(all(row["pairs"] == 2 for row in report["series"][0]["rows"]))
        self.assertPlacement(report, 4)
        # One node: both pairs within it.
        self.assertEqual(report["series"][0]["pair_locality"], "intra")
        self.assertEqual(report["series"][0]["measured_pairs"], [[0, 2], [1, 3]])

    def test_survey_under_srun(self):
        out = self.path("survey.json")
        r = harness.run(["survey", "-q", "-o", out], timeout=120, prefix=SRUN + ["-n", "4"])
        self.assertExit(r, 0)
        report = harness.validate_json(out, "survey.schema.json")
        self.assertEqual((report["launcher"], report["bootstrap"]), ("srun", "store"))
        self.assertEqual((report["size"], report["pairs"], report["rounds"]), (4, 6, 3))
        for row in report["latency_us"]["median"]:
            self.assertEqual(sum(v is not None for v in row), 3)

    def test_doctor_under_srun_compares_the_ranks(self):
        # Several tasks: every rank checks its node and rank 0 alone prints the comparison.
        r = harness.run(["doctor"], timeout=120, prefix=SRUN + ["-n", "3"])
        self.assertExit(r, 0)
        self.assertEqual(r.stdout.count("rdzvbench doctor:"), 1, r)
        self.assertIn("across 3 ranks on 1 node (srun)", r.stdout)
        self.assertRegex(r.stdout, r"ok +E15 +same settings +3 ranks on 1 node agree")
        # One task: the node alone, as before.
        r = harness.run(["doctor"], timeout=120, prefix=SRUN + ["-n", "1"])
        self.assertExit(r, 0)
        self.assertNotIn("across", r.stdout)

    def test_two_steps_at_once_in_one_allocation(self):
        # Each step derives its own store port from the job and step ids, so the two
        # rendezvous never meet. --exact: each step gets its own 2 of the allocation's 4 CPUs
        # (Slurm's CPUs: the node has 2 cores). epoll: 4 busy-polling ranks on 2 cores would
        # take turns by the scheduler's time slice.
        script = " & ".join(
            f"srun --exact -n 2 {harness.BINARY} run -q -s 8,1K,64K --progress epoll "
            f"-o {self.path(f'step{i}.json')}"
            for i in (1, 2)) + " & wait"
        r = subprocess.run(["salloc", "-I30", "-n", "4", "--job-name=rdzv-test", "bash", "-c",
                            script], capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        stores = set()
        for i in (1, 2):
            report = self.assertReport(self.path(f"step{i}.json"),
                                       [("tcp", "latency"), ("tcp", "bw")], [8, 1024, 65536])
            stores.add((report["run_id"], report["store"]))
        self.assertEqual(len(stores), 2, stores)

    def test_recipe_p2p_bandwidth(self):
        code, log = sbatch("p2p-bandwidth.sbatch", self.dir, {"RDZV_SIZES": "8,1M"})
        self.assertEqual(code, 0, log)
        out, = glob.glob(self.path("rdzv-p2p-*.json"))
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw"), ("tcp", "bibw")],
                                   [8, 1 << 20])
        self.assertEqual(report["launcher"], "srun")

    def test_recipe_ci_regression(self):
        baseline = self.path("baseline")
        env = {"RDZV_BASELINE": baseline, "RDZV_SIZES": "8,64K", "RDZV_OUT": self.path("ci1"),
               "RDZV_SAVE_BASELINE": "1"}
        code, log = sbatch("ci-regression.sbatch", self.dir, env)
        self.assertEqual(code, 0, log)
        recorded, = glob.glob(os.path.join(baseline, "*.json"))
        # A baseline no machine could reach: 1000x the bandwidth at a thousandth of the latency.
        with open(recorded) as f:
            base = json.load(f)
        for series in base["series"]:
            for row in series["rows"]:
                for trial in [row] + row.get("trials", []):
                    for key in ("min", "mean", "p50", "p90", "p99", "max"):
                        if key in trial.get("latency_us", {}):
                            trial["latency_us"][key] /= 1000
                    if "latency_p50_us" in trial:
                        trial["latency_p50_us"] /= 1000
                    trial["bandwidth_mbps"] *= 1000
        with open(recorded, "w") as f:
            json.dump(base, f)
        env.update(RDZV_OUT=self.path("ci2"), RDZV_SAVE_BASELINE="0")
        code, log = sbatch("ci-regression.sbatch", self.dir, env)
        self.assertEqual(code, 1, log)
        self.assertIn("REGRESSION", log)
        self.assertTrue(os.path.exists(self.path("ci2/junit.xml")), log)

    def interrupt(self, scancel_args, signum):
        """Starts a 2-rank srun step with sizes that take a while, waits for its first two rows,
        runs `scancel *scancel_args` (JOB is replaced by the job id) and checks the ending:
        every rank gone within 5 s, exit 128 + `signum`, the finished rows kept in a report
        marked interrupted."""
        out = self.path("interrupted.json")
        name = f"rdzv-sig-{os.getpid()}-{signum}"
        proc = subprocess.Popen(
            ["srun", "-I30", "--quiet", f"--job-name={name}", "-n", "2", harness.BINARY, "run",
             "-q", "-b", "latency", "-s", "1:4M", "--min-time", "0.5", "-o", out],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")),
                                  daemon=True)
        reader.start()
        rows = lambda: [l for l in lines if l.split() and l.split()[0].isdigit()]
        deadline = time.monotonic() + 60
        while len(rows()) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        self.assertGreaterEqual(len(rows()), 2, "".join(lines))
        job = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], capture_output=True,
                             text=True).stdout.strip()
        self.assertTrue(job.isdigit(), job)
        printed = len(rows())
        subprocess.run(["scancel"] + [a.replace("JOB", job) for a in scancel_args], check=True)
        start = time.monotonic()
        try:
            proc.wait(timeout=30)
        finally:
            proc.kill()
        elapsed = time.monotonic() - start
        stderr = proc.stderr.read()
        reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
        self.assertLess(elapsed, 5, stderr)
        self.assertEqual(proc.returncode, 128 + signum, stderr)
        report = harness.validate_report(out)
        self.assertEqual(report["interrupted"]["signal"], signum)
        self.assertEqual(report["interrupted"]["name"], signal.Signals(signum).name)
        self.assertFalse(report["complete"])
        self.assertGreaterEqual(len(report["series"][0]["rows"]), printed)
        self.assertEqual(report["slurm"]["job_id"], job)
        self.assertEqual(report["slurm"]["step_id"], "0")
        # No rank outlived srun.
        left = subprocess.run(["pgrep", "-f", out], capture_output=True, text=True).stdout
        self.assertEqual(left, "")

    def test_scancel_of_the_job_ends_the_step_with_sigterm(self):
        self.interrupt(["JOB"], signal.SIGTERM)

    def test_sigterm_to_the_step(self):
        self.interrupt(["--signal=TERM", "JOB.0"], signal.SIGTERM)

    def test_sigint_to_the_step(self):
        self.interrupt(["--signal=INT", "JOB.0"], signal.SIGINT)

    def test_sigusr1_to_the_step(self):
        self.interrupt(["--signal=USR1", "JOB.0"], signal.SIGUSR1)

    def test_recipe_cxi_env_sweep(self):
        # No cxi here: the recipe runs its machinery (doctor, one srun step per FI_CXI_*
        # combination, the merged report) over libfabric's tcp provider instead.
        config = self.path("tcp-env.json")
        with open(config, "w") as f:
            json.dump({"transport": "ofi", "provider": "tcp", "bootstrap": "mpi",
                       "benchmark": ["latency"], "iterations": 50,
                       "env": {"FI_PROVIDER": "tcp", "FI_TCP_IFACE": "lo",
                               "FI_CXI_RDZV_THRESHOLD": ["2K", "16K"]}}, f)
        code, log = sbatch("cxi-env-sweep.sbatch", self.dir,
                           {"RDZV_SWEEP_CONFIG": config, "RDZV_SIZES": "8,1K"})
        self.assertEqual(code, 0, log)
        merged, = glob.glob(self.path("rdzv-cxi-*.json"))
        report = harness.validate_report(merged)
        self.assertEqual([c["status"] for c in report["combinations"]], ["ok", "ok"], log)
        self.assertEqual(sorted(s["env"]["FI_CXI_RDZV_THRESHOLD"] for s in report["series"]),
                         ["16384", "2048"])
        for series in report["series"]:
            self.assertEqual([r["size"] for r in series["rows"]], [8, 1024])
        # The doctor step ran on the node before the sweep.
        self.assertRegex(log, r"\d+ ok, \d+ warnings?, \d+ errors?")


if __name__ == "__main__":
    reason = unavailable()
    if reason:
        print(f"SKIP: {reason}")
        sys.exit(77)
    harness.main()
