"""Multi-host runs and their faults, on hosts made of network namespaces (needs root).

Topology, all private to this test (names carry its pid, so concurrent runs never meet):

    h0: the switch and the Redis host: bridges swmgmt (management, 10.77.1.1/24, redis-server)
        and swdata (data, no address)
    h1..h3: eth0 on swmgmt (10.77.1.1N) and eth1 on swdata (10.77.2.1N), veth pairs to h0

Ranks use the data network for the tcp transport (--iface eth1 or --addr) and reach the store
over the management network, as on clusters with a separate service network. A link is cut by
setting the switch side of a host's data veth down: no reset reaches either end, so the peers
only notice by their --timeout. Every namespace and process is removed after the tests, also on
failure; stale namespaces of a killed earlier run of this file are removed at start.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

import harness
import netns
import stores

HOSTS = netns.HOSTS
REDIS_ADDR = netns.REDIS_ADDR
mgmt = netns.mgmt
data = netns.data
sh = netns.sh
Cluster = netns.Cluster
remove_stale_namespaces = netns.remove_stale_namespaces


WHY_NOT = netns.cannot_make_namespaces()


@unittest.skipIf(WHY_NOT is not None, f"multi-host tests skipped: {WHY_NOT}")
class MultiHost(harness.TestCase):
    @classmethod
    def setUpClass(cls):
        remove_stale_namespaces()
        cls.cluster = Cluster()
        # Registered first, so that a failure halfway through building still removes everything.
        cls.addClassCleanup(cls.cluster.destroy)
        cls.cluster.build()
        cls.redis_dir = os.path.join("/tmp", f"rdzv-mh-redis-{os.getpid()}")
        cls.addClassCleanup(shutil.rmtree, cls.redis_dir, True)
        cls.redis = stores.redis_server.RedisServer(cls.redis_dir, host=REDIS_ADDR, port=6379,
                                                    prefix=cls.cluster.exec_prefix(0))
        cls.addClassCleanup(cls.redis.stop)
        cls.redis.start()

    def setUp(self):
        super().setUp()
        self.jobs = []
        if self.redis.proc is None:  # a test stopped it
            self.redis.start()

    def tearDown(self):
        for job in self.jobs:
            job.kill()
        for i in range(1, HOSTS + 1):
            self.cluster.heal(i)
        super().tearDown()

    def job(self, size, store, args, hosts, run_id, ranks=None, wrap=None):
        """Rank r runs on host hosts[r] with its data address; `wrap(rank)` prefixes a command
        (faketime) inside the namespace."""
        job = stores.Job(
            size, store, args, run_id=run_id, ranks=ranks,
            prefix_for_rank=lambda r: self.cluster.exec_prefix(hosts[r]) + (wrap(r) if wrap else []))
        self.jobs.append(job)
        return job

    def redis_url(self):
        return f"redis://{REDIS_ADDR}:6379"

    def assertJob(self, job, code, timeout=120):
        results = job.finish(timeout)
        for rank, (c, _, err, _) in results.items():
            self.assertEqual(c, code, f"rank {rank}\n{job.describe()}")
        return results

    def redis_keys(self, pattern):
        return stores.redis_keys(self.redis_url(), pattern, prefix=self.cluster.exec_prefix(0))

    def test_redis_store_across_three_hosts(self):
        out = self.path("r.json")
        job = self.job(3, self.redis_url(),
                       ["--iface", "eth1", "--sizes", "8,64K", "--iterations", "20", "--check",
                        "-q", "-o", out], hosts=[1, 2, 3], run_id="mh-redis")
        self.assertJob(job, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 65536])
        self.assertEqual(report["size"], 3)
        # --iface eth1 chose the data network although each host has two interfaces.
        self.assertTrue(report["series"][0]["details"]["listen"].startswith(data(1)),
                        report["series"][0]["details"])
        self.assertEqual(self.redis_keys("rdzv/mh-redis/*"), [])

    def test_tcp_store_across_hosts(self):
        out = self.path("r.json")
        store = f"tcp://{mgmt(1)}:29511"  # rank 0 serves it on host 1's management address
        common = ["--sizes", "8,64K", "--iterations", "20", "--check", "-q", "-o", out]
        # Rank 1 first: it waits for rank 0's store. --addr picks the data network here.
        job = self.job(2, store, common + ["--addr", data(2)], hosts=[1, 2], run_id="mh-tcp",
                       ranks=[1])
        job.add(self.job(2, store, common + ["--addr", data(1)], hosts=[1, 2], run_id="mh-tcp",
                         ranks=[0]))
        self.assertJob(job, 0)
        report = self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 65536])
        self.assertTrue(report["series"][0]["details"]["listen"].startswith(data(1)))

    def test_redis_stopped_before_rendezvous(self):
        self.redis.stop()
        job = self.job(2, self.redis_url(), ["--iface", "eth1", "--timeout", "4", "-q"],
                       hosts=[1, 2], run_id="mh-down")
        for rank, (code, _, err, took) in self.assertJob(job, 3, timeout=60).items():
            self.assertIn(f"store {self.redis_url()} unreachable", err)
            self.assertIn("refused", err)
            self.assertLess(took, 4 + 3, err)

    def test_redis_restarted_in_the_middle_of_rendezvous(self):
        out = self.path("r.json")
        args = ["--iface", "eth1", "--sizes", "8,4K", "--iterations", "20", "--timeout", "30",
                "-q", "-o", out]
        job = self.job(3, self.redis_url(), args, hosts=[1, 2, 3], run_id="mh-restart",
                       ranks=[0, 1])
        time.sleep(1.5)  # ranks 0 and 1 have published their keys and wait for rank 2
        self.redis.restart()
        time.sleep(0.5)
        job.add(self.job(3, self.redis_url(), args, hosts=[1, 2, 3], run_id="mh-restart",
                         ranks=[2]))
        self.assertJob(job, 0, timeout=90)
        self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 4096])

    def test_link_cut_mid_run(self):
        out = self.path("r.json")
        timeout = 5
        job = self.job(2, self.redis_url(),
                       ["--iface", "eth1", "-b", "latency", "--sizes", "1:64K", "--min-time",
                        "0.4", "--timeout", str(timeout), "-o", out],
                       hosts=[1, 2], run_id="mh-cut",
                       wrap=lambda r: ["stdbuf", "-oL"])  # rows as they come, not at exit
        # Wait for rank 0's first rows, then cut host 2 (rank 1) off the data network.
        rank0 = job.procs[0]
        rows = 0
        deadline = time.monotonic() + 60
        while rows < 3 and time.monotonic() < deadline:
            line = rank0.stdout.readline()
            if not line:
                break
            if re.match(r"\s+\d+\s+\d+", line):
                rows += 1
        self.assertEqual(rows, 3, "rank 0 printed no rows")
        self.cluster.cut(2)
        cut_at = time.monotonic()
        results = job.finish(timeout=60)
        for rank, other in ((0, 1), (1, 0)):
            code, _, err, _ = results[rank]
            self.assertEqual(code, 3, job.describe())
            error = [l for l in err.splitlines() if l.startswith("rdzvbench: error:")]
            self.assertEqual(len(error), 1, err)
            self.assertIn(f"rank {other}", error[0])
        self.assertLess(time.monotonic() - cut_at, timeout + 5, job.describe())
        report = harness.validate_report(out)
        self.assertFalse(report["complete"])
        self.assertIn("rank 1", report["error"])
        self.assertGreaterEqual(len(report["series"][0]["rows"]), 3)

    @unittest.skipIf(shutil.which("faketime") is None, "faketime is not installed")
    def test_clock_off_by_an_hour(self):
        # Precondition: faketime really moves the clock inside the namespace.
        r = sh(*self.cluster.exec_prefix(2), "faketime", "-f", "+1h", "date", "+%s")
        self.assertGreater(int(r.stdout) - time.time(), 3500)
        for offset in ("+1h", "-1h"):
            with self.subTest(offset=offset):
                out = self.path(f"r{offset}.json")
                job = self.job(2, self.redis_url(),
                               ["--iface", "eth1", "--sizes", "8,64K", "--iterations", "20",
                                "--check", "--timeout", "20", "-q", "-o", out],
                               hosts=[1, 2], run_id=f"mh-clock{offset}",
                               wrap=lambda r: ["faketime", "-f", offset] if r == 1 else [])
                self.assertJob(job, 0)
                self.assertReport(out, [("tcp", "latency"), ("tcp", "bw")], [8, 65536])
                self.assertEqual(self.redis_keys(f"rdzv/mh-clock{offset}/*"), [])


if __name__ == "__main__":
    if WHY_NOT is not None:
        # CTest shows the test as skipped (SKIP_RETURN_CODE), with this line in its output.
        print(f"SKIP: multi-host tests need network namespaces: {WHY_NOT}")
        raise SystemExit(77)
    harness.main()
