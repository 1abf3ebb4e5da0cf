"""`zkmargin chain deploy` and `zkmargin demo --registry / --devnet` against anvil; the printed follow-up commands
work afterwards."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zkmargin.cli import main


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def anvil_url(npm_tool: Callable[[str], Path]) -> Iterator[str]:
    from web3 import Web3

    port = _free_port()
    proc = subprocess.Popen([str(npm_tool("anvil")), "--host", "127.0.0.1", "--port", str(port), "--silent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).is_connected():
            assert proc.poll() is None and time.monotonic() < deadline, "anvil did not start"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_chain_deploy_then_demo_registry(tmp_path: Path, anvil_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "b"
    assert main(["chain", "deploy", "--rpc", anvil_url, "--bundle", str(root), "--batch", "2"]) == 0
    rec = json.loads((root / "deployment.json").read_text())
    assert rec["registry"] in capsys.readouterr().out
    assert len({rec["governance"], rec["operator"], rec["feed_owner"]}) == 3 and rec["batch"] == 2
    none = "0x" + "00" * 19 + "aa"
    assert main(["demo", "--rpc", anvil_url, "--registry", none, "--out", str(tmp_path / "x")]) == 2
    assert "no contract code" in capsys.readouterr().err and not (tmp_path / "x").exists()

    assert main(["demo", "--rpc", anvil_url, "--registry", rec["registry"], "--out", str(root), "--accounts",
                 "6"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "ALL PASS" in out and "VERIFIED" in out and (root / "venue-epoch-1.png").is_file()
    cmds = [line.split(None, 1)[1] for line in out.splitlines() if re.match(r"\s+\S*zkmargin (audit|user|chain)", line)]
    assert len(cmds) == 3 and all(f"--registry {rec['registry']}" in c for c in cmds)
    for c in cmds:  # the printed commands, as a user would paste them
        assert main(c.split()) == 0, c
    assert main(["audit", "--bundle", str(root), "--rpc", anvil_url, "--registry", none]) == 2


@pytest.mark.slow
def test_demo_devnet_keeps_anvil_running(
    tmp_path: Path, npm_tool: Callable[[str], Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZKMARGIN_ANVIL", str(npm_tool("anvil")))
    out_dir = tmp_path / "d"
    assert main(["demo", "--devnet", "--out", str(out_dir), "--accounts", "4", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    pid = int(re.search(r"kill (\d+)", out).group(1))  # type: ignore[union-attr]
    try:
        audit = next(line.strip() for line in out.splitlines() if " audit --bundle" in line)
        assert "--rpc http://127.0.0.1:" in audit
        assert main(audit.split()[1:]) == 0  # the chain outlived the demo
    finally:
        os.kill(pid, signal.SIGTERM)
