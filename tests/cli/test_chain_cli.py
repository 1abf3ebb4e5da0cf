"""`zkmargin chain deploy` and `zkmargin demo --registry / --devnet` against anvil; the printed follow-up commands
work afterwards."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from anvil_process import running_anvil

from zkmargin.cli import main


@pytest.fixture
def anvil_url(npm_tool: Callable[[str], Path]) -> Iterator[str]:
    with running_anvil(npm_tool("anvil")) as url:
        yield url


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
    # chain status prints the live view (the demo's live flip left the feed back inside the box)
    status = capsys.readouterr().out
    assert "liveStatus(): SOLVENT NOW (solvent now); point attestation" in status
    assert status.count(" inside") >= 1 and "OUTSIDE" not in status
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
