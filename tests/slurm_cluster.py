"""The CTest fixture of the Slurm tests: a one-node Slurm cluster (scripts/slurm-local.sh).

    slurm_cluster.py start DIR   starts it unless it is up already; when it cannot be started
                                 (not root, no slurm-wlm), writes the reason to
                                 DIR/unavailable and still succeeds, so that the tests needing
                                 it skip with that reason instead of failing
    slurm_cluster.py stop DIR    stops it, only if start started it

A cluster that was up before the tests is left running after them.
"""

import os
import shutil
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "slurm-local.sh")


def why_impossible():
    if os.geteuid() != 0:
        return "not root (slurm-local.sh starts munged, slurmctld and slurmd)"
    for tool in ("slurmctld", "slurmd", "munged", "srun", "sbatch"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
    return None


def main():
    action, directory = sys.argv[1], sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    started = os.path.join(directory, "started")
    unavailable = os.path.join(directory, "unavailable")
    if action == "start":
        for f in (started, unavailable):
            if os.path.exists(f):
                os.remove(f)
        reason = why_impossible()
        if reason is None:
            if subprocess.run([SCRIPT, "status"], capture_output=True).returncode == 0:
                return 0
            r = subprocess.run([SCRIPT, "start"], capture_output=True, text=True)
            if r.returncode == 0:
                open(started, "w").close()
                return 0
            reason = "scripts/slurm-local.sh start failed: " + (r.stderr.strip() or r.stdout.strip())
        with open(unavailable, "w") as f:
            f.write(reason + "\n")
        print(f"slurm fixture: {reason}; the Slurm tests will skip")
        return 0
    if action == "stop":
        if os.path.exists(started):
            os.remove(started)
            return subprocess.run([SCRIPT, "stop"]).returncode
        return 0
    print(f"usage: {sys.argv[0]} start|stop DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
