"""Zero-configuration runs under srun, without Slurm: N real rdzvbench processes, each given the
environment srun gives a task of one step (SLURM_PROCID, SLURM_NTASKS, SLURM_JOB_ID,
SLURM_STEP_ID, SLURM_LOCALID, SLURM_STEP_NODELIST naming this host). With no --store, rank 0
serves a tcp store on the step's first node at a port derived from the job and step ids, and the
others find it there. The same behaviour under a real srun is tested by the Slurm tests."""

import os
import re
import socket
import time

import harness


def _loopback_name():
    """This host's name when it resolves to a loopback address (tests stay on loopback), else
    "localhost"."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return "localhost"
    first = infos[0][4][0]
    return name if first.startswith("127.") or first == "::1" else "localhost"


NODE = _loopback_name()
# Job ids unique to this test process, so that runs of this file at the same time (or another
# engineer's) do not share a port window.
JOB_BASE = os.getpid() * 100


def step_env(job, step, rank, size, nodelist=NODE):
    return {
        "SLURM_JOB_ID": str(job), "SLURM_JOBID": str(job), "SLURM_STEP_ID": str(step),
        "SLURM_STEPID": str(step), "SLURM_PROCID": str(rank), "SLURM_NTASKS": str(size),
        "SLURM_STEP_NUM_TASKS": str(size), "SLURM_LOCALID": str(rank),
        "SLURM_STEP_NODELIST": nodelist, "SLURM_JOB_NODELIST": nodelist, "SLURM_NODELIST": nodelist,
        "SLURM_STEP_NUM_NODES": "1", "SLURMD_NODENAME": nodelist,
        # Whatever the environment of the test holds must not choose for rdzvbench.
        "RDZV_STORE": "", "RDZV_RUN_ID": "",
    }


class SrunEnv(harness.TestCase):
    def start_step(self, job, step, size, args):
        """Starts one emulated step: `size` processes, rank size-1 first so that the others must
        wait for rank 0's store."""
        procs = []
        for rank in reversed(range(size)):
            procs.append(harness.spawn(args, env=step_env(job, step, rank, size)))
        return procs

    def finish(self, procs, timeout=120):
        for p in procs:
            stdout, stderr = p.communicate(timeout=timeout)
            self.assertEqual(p.returncode, 0, f"exit {p.returncode}\n{stdout}\n{stderr}")

    def derived_uri(self, job, step):
        """The store URI `rdzvbench info` says this step derives."""
        r = harness.run(["info"], env=step_env(job, step, 0, 2), timeout=30)
        self.assertExit(r, 0)
        m = re.search(r"would use: store (tcp://\S+:(\d+)) \(srun without --store or MPI", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        return m.group(1), int(m.group(2))

    def check_report(self, out, job, step, uri, size=2):
        report = self.assertReport(out, [("tcp", "latency")], [8, 1024])
        self.assertEqual(report["launcher"], "srun")
        self.assertEqual(report["bootstrap"], "store")
        self.assertEqual(report["store"], uri)
        self.assertEqual(report["run_id"], f"{job}.{step}")
        self.assertEqual(report["size"], size)
        return report

    def sweep(self, out):
        return ["run", "-b", "latency", "-s", "8,1K", "-i", "50", "-q", "-o", out]

    def test_info_names_the_derived_store(self):
        job = JOB_BASE + 1
        uri, port = self.derived_uri(job, 0)
        self.assertEqual(uri, f"tcp://{NODE}:{port}")
        self.assertTrue(20000 <= port <= 32767 - 7, port)
        self.assertEqual(port % 8, 0)
        # Deterministic, and another step of the job gets another window.
        self.assertEqual(self.derived_uri(job, 0), (uri, port))
        self.assertNotEqual(self.derived_uri(job, 1)[1], port)
        r = harness.run(["info"], env=step_env(job, 0, 0, 2), timeout=30)
        self.assertIn("launched by srun as rank 0 of 2", r.stdout)
        # The mpi transport or --bootstrap mpi is what makes srun use MPI; info shows --store.
        env = step_env(job, 0, 0, 2)
        env["RDZV_STORE"] = "tcp://127.0.0.1:4000"
        r = harness.run(["info"], env=env, timeout=30)
        self.assertIn("would use: store tcp://127.0.0.1:4000 (--store, launched by srun)", r.stdout)

    def test_one_task_stops_at_once_or_starts_np_local_ranks(self):
        job = JOB_BASE + 9
        env = step_env(job, 0, 0, 1)
        # `srun -n 1 rdzvbench run`: a usage error before anything starts, no report written.
        r = harness.run(["run", "-s", "8", "-o", self.path("none.json")], env=env, timeout=30)
        self.check_usage_result(r, "srun started 1 task", "srun -n 2", "--np 2")
        self.assertFalse(os.path.exists(self.path("none.json")))
        r = harness.run(["info"], env=env, timeout=30)
        self.assertIn("would stop: srun started 1 task", r.stdout)
        # `srun -n 1 rdzvbench run --np 3`: the task starts three local ranks.
        out = self.path("r.json")
        r = harness.run(["run", "--np", "3", "-b", "latency", "-s", "8", "-i", "50", "-q", "-o",
                         out], env=env, timeout=60)
        self.assertExit(r, 0)
        report = self.assertReport(out, [("tcp", "latency")], [8])
        self.assertEqual((report["launcher"], report["size"]), ("local", 3))

    def check_usage_result(self, r, *needles):
        self.assertExit(r, 2)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, r)
        for n in needles:
            self.assertIn(n, lines[0])

    def test_two_ranks_rendezvous_with_no_store_flag(self):
        job, step = JOB_BASE + 2, 0
        uri, _ = self.derived_uri(job, step)
        out = self.path("r.json")
        # No --store and no --addr: what `srun -n 2 rdzvbench run` gets (this host's name
        # resolves to loopback; else --addr keeps the test on loopback).
        args = self.sweep(out) + ([] if NODE == socket.gethostname() else ["--addr", "127.0.0.1"])
        self.finish(self.start_step(job, step, 2, args))
        self.check_report(out, job, step, uri)

    def test_four_ranks_pairs(self):
        job, step = JOB_BASE + 3, 0
        uri, _ = self.derived_uri(job, step)
        out = self.path("r.json")
        args = self.sweep(out) + ["--pairs", "--addr", "127.0.0.1", "--progress", "epoll"]
        self.finish(self.start_step(job, step, 4, args))
        self.check_report(out, job, step, uri, size=4)

    def test_two_steps_at_once(self):
        job = JOB_BASE + 4
        outs, procs, uris = {}, [], {}
        for step in (0, 1):
            uris[step], _ = self.derived_uri(job, step)
            outs[step] = self.path(f"step{step}.json")
            args = self.sweep(outs[step]) + ["--addr", "127.0.0.1", "--progress", "epoll"]
            procs += self.start_step(job, step, 2, args)
        self.finish(procs)
        self.assertNotEqual(uris[0], uris[1])
        for step in (0, 1):
            self.check_report(outs[step], job, step, uris[step])

    def test_taken_port_moves_to_the_next(self):
        job, step = JOB_BASE + 5, 0
        uri, port = self.derived_uri(job, step)
        host = uri[len("tcp://"):uri.rindex(":")]
        # Another program holds the derived port, listening and never answering.
        squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            squatter.bind((socket.gethostbyname(host), port))
            squatter.listen(4)
        except OSError as e:
            squatter.close()
            self.skipTest(f"port {port} is in use already ({e})")
        try:
            out = self.path("r.json")
            self.finish(self.start_step(job, step, 2, self.sweep(out) + ["--addr", "127.0.0.1"]))
        finally:
            squatter.close()
        report = harness.validate_report(out)
        used = int(report["store"].rsplit(":", 1)[1])
        self.assertTrue(port < used <= port + 7, report["store"])
        self.check_report(out, job, step, f"tcp://{host}:{used}")

    def test_store_flag_overrides(self):
        job, step = JOB_BASE + 6, 0
        port = harness.free_port()
        out = self.path("r.json")
        args = self.sweep(out) + ["--addr", "127.0.0.1", "--store", f"tcp://127.0.0.1:{port}"]
        self.finish(self.start_step(job, step, 2, args))
        self.check_report(out, job, step, f"tcp://127.0.0.1:{port}")

    def test_no_rank_zero_times_out_naming_the_ports(self):
        job, step = JOB_BASE + 7, 0
        _, port = self.derived_uri(job, step)
        start = time.monotonic()
        p = harness.spawn(["run", "--timeout", "2", "-q", "-o", self.path("r.json")],
                          env=step_env(job, step, 1, 2))
        _, stderr = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 3, stderr)
        self.assertIn(f"no store of Slurm step {job}.{step} on {NODE} ports {port}-{port + 7}",
                      stderr)
        self.assertLess(time.monotonic() - start, 15)

    def test_bad_node_list_is_a_usage_error(self):
        for command in (["run", "-q"], ["info"]):
            env = step_env(JOB_BASE + 8, 0, 0, 2, nodelist="nid[003-001]")
            r = harness.run(command, env=env, timeout=30)
            self.assertExit(r, 2)
            self.assertIn('SLURM_STEP_NODELIST "nid[003-001]" is not a Slurm host list: range '
                          '003-001 is reversed', r.stderr)

    def test_unresolvable_first_node_is_a_usage_error(self):
        # Rank 1 looks up the node to connect to it; a name no resolver knows fails at once.
        env = step_env(JOB_BASE + 9, 0, 1, 2, nodelist="rdzv-no-such-node[1-2]")
        r = harness.run(["run", "-q", "--timeout", "5"], env=env, timeout=30)
        self.assertExit(r, 2)
        self.assertIn("unknown host rdzv-no-such-node1", r.stderr)


if __name__ == "__main__":
    harness.main()
