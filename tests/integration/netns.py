"""Hosts made of network namespaces for the integration tests (needs root): a switch
namespace h0 with a management and a data bridge, and hosts h1..hN, each with eth0 on the
management network (10.77.1.1N) and eth1 on the data network (10.77.2.1N). Used by
test_multihost.py and test_survey.py; every name carries a prefix and the test's pid, so
concurrent runs never meet.
"""

import os
import re
import shutil
import signal
import subprocess

HOSTS = 3
REDIS_ADDR = "10.77.1.1"


def mgmt(i):
    return f"10.77.1.{10 + i}"


def data(i):
    return f"10.77.2.{10 + i}"


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def cannot_make_namespaces(prefix="rdzvmh"):
    """Why this machine cannot run the tests, or None."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    probe = f"{prefix}probe{os.getpid()}"
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"ip netns add failed: {r.stderr.strip()}"
    try:
        r = sh("ip", "-n", probe, "link", "add", "br0", "type", "bridge", check=False)
        if r.returncode != 0:
            return f"no bridge support: {r.stderr.strip()}"
        r = sh("ip", "-n", probe, "link", "add", "name", "a", "type", "veth", "peer", "name", "b",
               check=False)
        if r.returncode != 0:
            return f"no veth support: {r.stderr.strip()}"
    finally:
        sh("ip", "netns", "del", probe, check=False)
    return None


def remove_stale_namespaces(prefix="rdzvmh"):
    """Namespaces of an earlier run of a test file that was killed before its cleanup."""
    r = sh("ip", "netns", "list", check=False)
    for line in r.stdout.splitlines():
        m = re.match(rf"({prefix}(\d+)h\d+)\b", line)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            sh("ip", "netns", "pids", m.group(1), check=False)
            for pid in sh("ip", "netns", "pids", m.group(1), check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", m.group(1), check=False)


class Cluster:
    """h0 (switch and Redis) plus `hosts` hosts."""

    def __init__(self, hosts=HOSTS, prefix="rdzvmh"):
        self.hosts = hosts
        self.names = [f"{prefix}{os.getpid()}h{i}" for i in range(hosts + 1)]
        self.made = []

    def ns(self, i):
        return self.names[i]

    def ip(self, i, *args):
        return sh("ip", "-n", self.ns(i), *args)

    def build(self):
        for name in self.names:
            sh("ip", "netns", "add", name)
            self.made.append(name)
            sh("ip", "-n", name, "link", "set", "lo", "up")
        # Always "name"/"dev" before a device name: ip reads some bare words (brd) as keywords.
        self.ip(0, "link", "add", "name", "swmgmt", "type", "bridge")
        self.ip(0, "link", "add", "name", "swdata", "type", "bridge")
        self.ip(0, "addr", "add", f"{REDIS_ADDR}/24", "dev", "swmgmt")
        for br in ("swmgmt", "swdata"):
            self.ip(0, "link", "set", "dev", br, "up")
        for i in range(1, self.hosts + 1):
            for port, dev, br, addr in ((f"m{i}", "eth0", "swmgmt", mgmt(i)),
                                        (f"d{i}", "eth1", "swdata", data(i))):
                self.ip(0, "link", "add", "name", port, "type", "veth", "peer", "name", dev,
                        "netns", self.ns(i))
                self.ip(0, "link", "set", "dev", port, "master", br)
                self.ip(0, "link", "set", "dev", port, "up")
                self.ip(i, "addr", "add", f"{addr}/24", "dev", dev)
                self.ip(i, "link", "set", "dev", dev, "up")

    def cut(self, i):
        """Cuts host i's data link at the switch: packets vanish, no reset is sent."""
        self.ip(0, "link", "set", "dev", f"d{i}", "down")

    def heal(self, i):
        self.ip(0, "link", "set", "dev", f"d{i}", "up")

    def exec_prefix(self, i):
        return ["ip", "netns", "exec", self.ns(i)]

    def destroy(self):
        for name in reversed(self.made):
            for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", name, check=False)
        self.made = []
