"""Shared by the Python bench scripts (bench-compare.py, lua-profile.py), as scripts/lib.sh is by the
shell ones: free loopback ports below the kernel's ephemeral range, and a throwaway redis-server."""
import os
import random
import socket
import subprocess
import time


def free_port():
    """A free loopback port below the kernel's ephemeral range (as scripts/lib.sh's free_port)."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass


def wait_port(port, seconds=30):
    """Returns once something accepts connections on `port`; exits after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def start_redis(work):
    """A redis-server without persistence on a free port, files in `work`: (process, port)."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", work, "--save", "", "--appendonly", "no",
         "--maxmemory-policy", "noeviction", "--logfile", os.path.join(work, "redis.log")])
    wait_port(port)
    return process, port
