"""Running a real server in tests: a free port, and waiting until `vivier serve` answers."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx2
import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(process: subprocess.Popen, base: str, log: Path) -> None:
    """Poll /health, at most 300 times 0.2 s (waiting on the process, so an early exit shows at
    once): readiness, with a bound generous enough for a loaded two-core machine."""
    for _ in range(300):
        try:
            if httpx2.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        try:
            process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"vivier serve exited with {process.returncode}:\n{log.read_text()}")
    pytest.fail(f"vivier serve did not answer /health:\n{log.read_text()}")
