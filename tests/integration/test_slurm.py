"""rdzvbench under a real Slurm: srun steps, concurrent steps, sbatch recipes, ending a step.

Needs the one-node cluster of scripts/slurm-local.sh (CTest fixture "slurm"); skipped, exit 77,
with the fixture's reason when it could not start.
"""

import os
import subprocess
import sys
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


class Slurm(harness.TestCase):
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


if __name__ == "__main__":
    reason = unavailable()
    if reason:
        print(f"SKIP: {reason}")
        sys.exit(77)
    harness.main()
