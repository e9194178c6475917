"""Starts and stops a throw-away redis-server on a free loopback port.

As a program it is the CTest fixture of the tests that need Redis:
    redis_server.py start DIR   starts one, writes DIR/redis.url (redis://127.0.0.1:PORT)
    redis_server.py stop DIR    stops the one DIR/redis.pid names
As a module, integration tests start their own servers with RedisServer (to stop, restart or
configure them without disturbing the shared one).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ping(host, port, timeout=0.5):
    """True when a Redis server answers PING at host:port (speaking RESP by hand, so that the
    tests need no Redis client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class RedisServer:
    """One redis-server process, without persistence, bound to `host`. `prefix` (a command list
    such as ["ip", "netns", "exec", "ns1"]) runs it elsewhere; then `ping` is not possible from
    here and start() waits for its log line instead."""

    def __init__(self, directory, host="127.0.0.1", port=None, extra=None, prefix=None):
        self.directory = directory
        self.host = host
        self.port = port or free_port()
        self.extra = extra or []
        self.prefix = prefix or []
        self.proc = None
        os.makedirs(directory, exist_ok=True)
        self.log = os.path.join(directory, f"redis-{self.port}.log")

    @property
    def url(self):
        return f"redis://{self.host}:{self.port}"

    def start(self, timeout=15):
        cmd = self.prefix + [
            shutil.which("redis-server") or "redis-server", "--port", str(self.port),
            "--bind", self.host, "--save", "", "--appendonly", "no", "--dir", self.directory,
            "--logfile", self.log, "--protected-mode", "no",
        ] + self.extra
        # Its own session, so that a signal meant for the test runner does not reach it.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.log}")
            if self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {timeout}s; see {self.log}")

    def ready(self):
        if not self.prefix:
            return ping(self.host, self.port)
        try:
            with open(self.log) as f:
                return "Ready to accept connections" in f.read()
        except OSError:
            return False

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        # The next start() must wait for a fresh "Ready" line, not find the old one.
        try:
            os.unlink(self.log)
        except OSError:
            pass

    def restart(self):
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def alive(pid):
    """True while `pid` runs; a zombie (exited, not yet reaped by a container's init) is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def fixture_start(directory):
    os.makedirs(directory, exist_ok=True)
    for attempt in range(5):
        server = RedisServer(directory)
        try:
            server.start()
        except RuntimeError as e:
            # Another process may have taken the free port in between: pick another.
            print(f"redis fixture: attempt {attempt + 1}: {e}", file=sys.stderr)
            continue
        with open(os.path.join(directory, "redis.pid"), "w") as f:
            f.write(str(server.proc.pid))
        with open(os.path.join(directory, "redis.url"), "w") as f:
            f.write(server.url)
        print(f"redis fixture: {server.url} (pid {server.proc.pid})")
        return 0
    return 1


def fixture_stop(directory):
    try:
        with open(os.path.join(directory, "redis.pid")) as f:
            pid = int(f.read())
    except (OSError, ValueError):
        print("redis fixture: nothing to stop")
        return 0
    for name in ("redis.pid", "redis.url"):
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not alive(pid):
            print(f"redis fixture: stopped pid {pid}")
            return 0
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: redis_server.py start|stop DIR")
    sys.exit(fixture_start(sys.argv[2]) if sys.argv[1] == "start" else fixture_stop(sys.argv[2]))
