"""A free loopback port for the Python scripts (scripts/chaos.py, scripts/scaled/), through scripts/free-port.sh."""

import subprocess
from pathlib import Path

FREE_PORT = Path(__file__).resolve().parent / "free-port.sh"


def free_port(taken):
    """A port nothing listens on and not in `taken` (which it joins)."""
    for _ in range(50):
        port = int(subprocess.run([str(FREE_PORT)], capture_output=True, text=True, timeout=10, check=True).stdout)
        if port not in taken:
            taken.add(port)
            return port
    raise RuntimeError("no free port")
