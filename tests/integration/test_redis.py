"""The redis store and concurrent runs: jobs sharing one Redis, one file-store directory or one
host never mix; a successful run leaves no keys; a stopped, restarted or misconfigured Redis is a
clear error or a completed run, never a hang."""

import os
import time
import unittest

import harness
import stores

# Small runs: many ranks share two cores here.
SMALL = ["--addr", "127.0.0.1", "-b", "latency,bw", "--sizes", "8,4K", "--iterations", "20",
         "--pairs", "--check", "-q"]


class RedisTestCase(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.url = stores.fixture_url()
        if self.url is None:
            self.skipTest("no redis fixture (RDZV_TEST_REDIS_URL_FILE): run through ctest")
        self.jobs = []

    def tearDown(self):
        for job in self.jobs:
            job.kill()
        super().tearDown()

    def job(self, *args, **kwargs):
        job = stores.Job(*args, **kwargs)
        self.jobs.append(job)
        return job

    def assertJob(self, job, code, timeout=120):
        results = job.finish(timeout)
        for rank, (c, _, err, _) in results.items():
            self.assertEqual(c, code, f"rank {rank}\n{job.describe()}")
        return results


class SharedRedis(RedisTestCase):
    def check_two_jobs(self, jobs, outs, run_ids, pattern_of):
        for job in jobs:
            self.assertJob(job, 0)
        for out, run_id, job in zip(outs, run_ids, jobs):
            report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 4096])
            self.assertEqual(report["run_id"], run_id)
            self.assertEqual(report["size"], 4)
            # Each report names exactly its own job's processes.
            self.assertEqual(sorted(r["pid"] for r in report["ranks"]),
                             sorted(p.pid for p in job.procs.values()))
            self.assertEqual(report["series"][0]["rows"][0]["pairs"], 2)
            for phase in ("store", "ranks", "mesh/tcp"):
                self.assertIn(phase, report["phase_seconds"])
            self.assertEqual(pattern_of(run_id), [], "keys left after a successful run")

    def test_two_concurrent_four_rank_runs_with_run_ids(self):
        outs = [self.path("a.json"), self.path("b.json")]
        jobs = [self.job(4, self.url, SMALL + ["-o", out], run_id=rid)
                for out, rid in zip(outs, ["it-a", "it-b"])]
        self.check_two_jobs(jobs, outs, ["it-a", "it-b"],
                            lambda rid: stores.redis_keys(self.url, f"rdzv/{rid}/*"))

    def test_two_concurrent_slurm_steps_take_their_ids_from_slurm(self):
        def slurm(job_id):
            return lambda rank: {"SLURM_JOB_ID": job_id, "SLURM_STEP_ID": "0",
                                 "SLURM_PROCID": str(rank), "SLURM_NTASKS": "4"}
        outs = [self.path("a.json"), self.path("b.json")]
        jobs = []
        for out, job_id in zip(outs, ["7101", "7102"]):
            job = self.job(4, self.url, SMALL + ["-o", out], env_for_rank=slurm(job_id))
            jobs.append(job)
        self.check_two_jobs(jobs, outs, ["7101.0", "7102.0"],
                            lambda rid: stores.redis_keys(self.url, f"rdzv/{rid}/*"))

    def test_failed_run_keys_expire(self):
        store = self.url + "?prefix=it-ttl&ttl=3"
        job = self.job(3, store, ["--addr", "127.0.0.1", "--timeout", "2", "-q",
                                  "-o", self.path("r.json")], run_id="ttl", ranks=[0, 1])
        results = self.assertJob(job, 3)
        self.assertIn("rank 2", results[0][2])
        self.assertNotEqual(stores.redis_keys(self.url, "it-ttl/rdzv/ttl/*"), [])
        deadline = time.monotonic() + 10
        while stores.redis_keys(self.url, "it-ttl/rdzv/ttl/*") and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(stores.redis_keys(self.url, "it-ttl/rdzv/ttl/*"), [])

    def test_collision_without_run_id_fails_rather_than_mixing(self):
        # Job A's rank 0 waits for its rank 1; job B's rank 0, also started by hand without
        # --run-id, lands in the same scope ("default").
        store = self.url + f"?prefix=it-collide-{os.getpid()}"
        a = self.job(2, store, ["--addr", "127.0.0.1", "--timeout", "10", "-q",
                                "-o", self.path("a.json")], ranks=[0])
        time.sleep(1.0)
        b = self.job(2, store, ["--addr", "127.0.0.1", "--timeout", "10", "-q",
                                "-o", self.path("b.json")], ranks=[0])
        code, _, err, took = b.finish(30)[0]
        self.assertEqual(code, 2, err)
        self.assertIn("already taken", err)
        self.assertIn("--run-id", err)
        self.assertLess(took, 5)
        # Job A learns it too and stops instead of pairing with job B's ranks.
        code, _, err, took = a.finish(30)[0]
        self.assertEqual(code, 3, err)
        self.assertIn("already taken", err)
        self.assertLess(took, 15)
        stores.redis_cli(self.url, "EVAL",
                         "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
                         "redis.call('DEL', k) end", "0", f"it-collide-{os.getpid()}/*")

    def test_info_lists_redis_as_built(self):
        r = harness.run(["info"])
        self.assertExit(r, 0)
        self.assertRegex(r.stdout, r"redis://\s+built")


class OwnRedis(RedisTestCase):
    """Tests that stop, restart or configure a redis-server of their own."""

    def test_redis_stopped_before_rendezvous(self):
        server = stores.redis_server.RedisServer(self.path("redis")).start()
        url = server.url
        server.stop()
        job = self.job(2, url, ["--addr", "127.0.0.1", "--timeout", "3", "-q"])
        for rank, (code, _, err, took) in job.finish(30).items():
            self.assertEqual(code, 3, err)
            self.assertIn(f"store {url} unreachable", err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertLess(took, 3 + 3)

    def test_redis_restarted_in_the_middle_of_rendezvous(self):
        with stores.redis_server.RedisServer(self.path("redis")) as server:
            out = self.path("r.json")
            args = SMALL + ["--timeout", "30", "-o", out]
            job = self.job(4, server.url, args, run_id="restart", ranks=[0, 1, 2])
            time.sleep(1.5)  # ranks 0-2 have published their keys and wait for rank 3
            self.assertNotEqual(stores.redis_keys(server.url, "rdzv/restart/*"), [])
            # No persistence: every key is gone, and the waiting ranks write theirs again as
            # soon as they reconnect (within milliseconds, so that is not observable here).
            server.restart()
            time.sleep(0.5)
            job.add(self.job(4, server.url, args, run_id="restart", ranks=[3]))
            self.assertJob(job, 0, timeout=60)
            report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 4096])
            self.assertEqual(report["size"], 4)
            self.assertEqual(stores.redis_keys(server.url, "rdzv/restart/*"), [])

    def test_wrong_or_missing_password_is_a_usage_error(self):
        with stores.redis_server.RedisServer(self.path("redis"),
                                             extra=["--requirepass", "s3cret"]) as server:
            port = server.port
            for store, needle in ((f"redis://127.0.0.1:{port}", "requires a password"),
                                  (f"redis://:nope@127.0.0.1:{port}", "authentication failed")):
                r = harness.run(["run", "--rank", "0", "--size", "2", "--store", store,
                                 "--timeout", "5"], timeout=30)
                self.assertExit(r, 2)
                self.assertIn(needle, r.stderr)
                self.assertNotIn("nope", r.stderr)
            out = self.path("r.json")
            job = self.job(2, f"redis://:s3cret@127.0.0.1:{port}", SMALL + ["-o", out])
            self.assertJob(job, 0)
            report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 4096])
            self.assertNotIn("s3cret", report["store"])
            self.assertNotIn("s3cret", " ".join(report["command_line"]))


class OtherSharedStores(harness.TestCase):
    def test_two_jobs_in_one_file_store_directory(self):
        store = "file://" + self.path("store")
        outs = [self.path("a.json"), self.path("b.json")]
        jobs = [stores.Job(4, store, SMALL + ["-o", out], run_id=rid)
                for out, rid in zip(outs, ["fa", "fb"])]
        try:
            for job in jobs:
                for rank, (code, _, err, _) in job.finish(120).items():
                    self.assertEqual(code, 0, job.describe())
        finally:
            for job in jobs:
                job.kill()
        for out, rid in zip(outs, ["fa", "fb"]):
            self.assertEqual(self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")])["run_id"],
                             rid)
        self.assertEqual(os.listdir(self.path("store")), [], "files left after successful runs")

    def test_two_local_runs_on_one_host(self):
        outs = [self.path("a.json"), self.path("b.json")]
        procs = [harness.spawn(["run", "--np", "2", "--sizes", "8,4K", "--iterations", "20",
                                "--check", "-q", "-o", out]) for out in outs]
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        ids = {self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")])["run_id"]
               for out in outs}
        self.assertEqual(len(ids), 2)


if __name__ == "__main__":
    harness.main()
