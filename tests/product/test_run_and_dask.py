"""Distributed proving on Dask and ``zkmargin run`` (tiny shape, the session's setup)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import product_helpers as ph
import pytest

from zkmargin.cli import main
from zkmargin.prover.operator import EpochResult, Operator
from zkmargin.prover.operator.chain_ops import ChainDeployment
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.bundle_proofs import proof_from_bundle_json, verify_any, vk_from_bundle_json
from zkmargin.verifier.snarkjs_json import load_json

Published = tuple[EpochResult, ChainDeployment]


def test_dask_epoch_passes_audit(tmp_path: Path, setup_dir: Path, published: Published) -> None:
    """Same batches as the in-process epoch (same secret): same public signals, proofs that verify, audit passes."""
    from zkmargin.prover.operator.distributed import DaskProver

    local = published[0]
    root = tmp_path / "dask"
    root.mkdir()
    shutil.copy(local.path.parent / "user_secrets.json", root / "user_secrets.json")  # same secrets, same batches
    with DaskProver(workers=1) as dp:
        kernel = dp.client.run(lambda: __import__("zkmargin.circuits.msm_native", fromlist=["x"]).THREADS)
        assert set(kernel.values()) == {1}, "each worker's C kernel runs single-threaded (ZKMARGIN_THREADS=1)"
        res = Operator(root, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir, prover=dp).run_epoch(
            1, ph.engine(), ph.accounts(1)
        )
    assert res.batches == local.batches and res.covered == local.covered
    vk = vk_from_bundle_json(load_json(res.path / fmt.VK, "vk"))
    for i in range(res.batches):
        pf, pb = fmt.batch_files(i)
        public = [int(x) for x in json.loads((res.path / pb).read_text())]
        assert public == [int(x) for x in json.loads((local.path / pb).read_text())]
        assert verify_any(vk, proof_from_bundle_json(json.loads((res.path / pf).read_text()), vk), public)
    # without a registry only the development-setup gate fails (the in-process registry is gone with its chain)
    assert main(["audit", "--bundle", str(root)]) == 1


def test_operator_refuses_unknown_prover(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prover"):
        Operator(tmp_path, ph.SPEC, prover="gpu")


def test_run_two_epochs(tmp_path: Path, setup_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Four replayed ticks over the March 2020 crash, an epoch every two: bundles, events, report."""
    out = tmp_path / "run"
    layout = Operator(tmp_path / "scratch", ph.SPEC).layout(ph.engine())
    # the run's shape at --batch 2
    shutil.copytree(setup_dir, out / "setups" / fmt.setup_dirname(layout.shape, ph.PROOF_SYSTEM))
    argv = ["run", "--out", str(out), "--ticks", "4", "--epoch-every", "2", "--accounts", "5", "--batch", "2"]
    assert main([*argv, "--start", "2020-03-10"]) == 0
    text = capsys.readouterr().out
    assert [r["epoch"] for r in fmt.list_epochs(out)] == [1, 2]
    summary = json.loads((out / "run.json").read_text())
    assert len(summary["ticks"]) == 4 and all(e["audit_ok"] for e in summary["epochs"])
    assert all(e["vector_exact_mismatches"] == 0 for e in summary["epochs"])
    assert summary["versions"], "the calibration publishes at least the first parameter version"
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert events and {e["event"] for e in events} <= {"margin_call", "liquidation_trigger", "cured"}
    assert sum(summary["events"].values()) == len(events)
    png = out / "run_report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "report:" in text and "epoch 2" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ticks", "0"], "--ticks must be >= 1"),
        (["--ticks", "5", "--epoch-every", "6"], "would prove no epoch"),
        (["--accounts", "0"], "--accounts must be >= 1"),
        (["--workers", "-1"], "--workers must be >= 0"),
        (["--scheduler", "localhost"], "expected an address"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not both"),
        (["--start", "1999-01-01"], "not a date of"),
        (["--start", "2022-12-01", "--ticks", "60"], "past the end"),
        (["--ticks", "many"], "invalid int value"),
    ],
)
def test_run_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["run", "--out", str(tmp_path / "r"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
