"""A local development chain for ``zkmargin demo --devnet``: anvil from the npm package ``@foundry-rs/anvil``.

The embedded py-evm chain stays the zero-dependency default; anvil is a real JSON-RPC node that outlives the demo,
so that ``zkmargin audit --rpc`` and ``zkmargin user verify --rpc`` can be run against it afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("zkmargin.devnet")

NPM_HINT = "npm install @foundry-rs/anvil (in a checkout: scripts/bootstrap --with-npm-tools)"


class DevnetError(RuntimeError):
    """anvil could not be found or started."""


@dataclass(frozen=True)
class Devnet:
    url: str
    pid: int
    log_file: Path


def find_anvil(cwd: Path | None = None) -> list[str] | None:
    """The command that runs anvil: ``$ZKMARGIN_ANVIL``, ``node_modules/.bin/anvil`` in the working directory or
    the checkout zkmargin runs from, ``anvil`` on PATH, else ``npx --no-install anvil`` when npx is there."""
    env = os.environ.get("ZKMARGIN_ANVIL")
    if env:
        return [env]
    here = Path(__file__).resolve().parent.parent  # the checkout root in an editable install
    for root in (cwd or Path.cwd(), here):
        exe = root / "node_modules" / ".bin" / "anvil"
        if exe.exists():
            return [str(exe)]
    on_path = shutil.which("anvil")
    if on_path:
        return [on_path]
    npx = shutil.which("npx")
    if npx and shutil.which("node"):
        probe = subprocess.run([npx, "--no-install", "anvil", "--version"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return [npx, "--no-install", "anvil"]
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    from web3 import Web3

    try:
        return bool(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).is_connected())
    except Exception:
        return False


def start_anvil(log_dir: Path, port: int | None = None, timeout: float = 60.0) -> Devnet:
    """Start anvil on a free loopback port, detached (it keeps running after this process): stop it with
    ``kill <pid>``. Its output goes to ``log_dir/anvil.log``."""
    cmd = find_anvil()
    if cmd is None:
        raise DevnetError(f"anvil not found: {NPM_HINT}")
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "anvil.log"
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [*cmd, "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the demo's terminal
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not _answers(url):
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace")[-400:]
            raise DevnetError(f"anvil exited with code {proc.returncode}: {tail.strip()}")
        if time.monotonic() > deadline:
            proc.terminate()
            raise DevnetError(f"anvil did not answer at {url} within {timeout:.0f} s")
        time.sleep(0.2)
    log.info("anvil running at %s (pid %d)", url, proc.pid)
    return Devnet(url, proc.pid, log_file)
