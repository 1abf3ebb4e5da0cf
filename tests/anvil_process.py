"""Run anvil (from node_modules) for a test: one starter for every anvil fixture (session-wide in tests/chain, per
test where a test needs a fresh chain). Importable from any test module: pytest puts tests/ on sys.path."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def running_anvil(exe: Path) -> Iterator[str]:
    """Run anvil ``exe`` on a free loopback port for the block; yields its URL. One starter for every anvil fixture
    (session-wide for tests/chain, per test where a test needs a fresh chain)."""
    from web3 import Web3

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [str(exe), "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"anvil exited early: {err[:500]}")
            try:
                if Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).is_connected():
                    break
            except Exception:
                pass
            if time.monotonic() > deadline:
                pytest.fail("anvil did not start within 30 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
