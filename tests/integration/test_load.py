"""64 rank processes on this host rendezvous through each store and connect a full mesh
(scripts/rendezvous-load.sh, one round): every rank must succeed. Times are printed, not
checked."""

import os
import shutil
import subprocess
import unittest

import harness


class Load(harness.TestCase):
    @unittest.skipIf(shutil.which("redis-server") is None, "redis-server is not installed")
    def test_64_ranks_through_redis_file_and_tcp(self):
        script = os.path.join(harness.SOURCE_DIR, "scripts", "rendezvous-load.sh")
        env = dict(os.environ, N="64", ROUNDS="1", TIMEOUT="60")
        r = subprocess.run([script], capture_output=True, text=True, timeout=300, env=env)
        print(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for store in ("redis", "file", "tcp"):
            self.assertRegex(r.stdout, rf"\n{store}\s+[\d.]+\s+[\d.]+\s+[\d.]+")


if __name__ == "__main__":
    harness.main()
