"""The product end to end on a tiny shape: bundle, user and auditor verification, CLI paths, corruption, resume."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import product_helpers as ph
import pytest
from fault_hooks import FailAfterBatches, InjectedFault

from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.cli import main
from zkmargin.prover.operator import EpochResult, Operator
from zkmargin.prover.operator.chain_ops import ChainDeployment
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.audit_batches import PROOFS_CHECK
from zkmargin.verifier.user import verify_account

HERE = Path(__file__).parent
Published = tuple[EpochResult, ChainDeployment]


def inclusion_of(res: EpochResult, aid: str) -> Path:
    """The private inclusion file the operator delivers to ``aid``."""
    assert res.deliveries is not None
    return res.deliveries / inclusion.filename(account_id_commitment(aid, res.user_secrets[aid]))


def failed_names(rep: object) -> list[str]:
    return [c.name for c in rep.failed()]  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- operator output


SETUP_GATE = "setup: not a development (single-party) setup"


def only_setup_gate_fails(rep: object) -> bool:
    """Without a registry the audit cannot tell a development-mode registry: everything but that gate passes."""
    return failed_names(rep) == [SETUP_GATE] and rep.exit_code == 1  # type: ignore[attr-defined]


def test_epoch_proves_under_mm_and_counts_the_rest(published: Published) -> None:
    res, dep = published
    assert {e.account_id: e.kind for e in res.excluded} == {"zed": "not_representable"}
    assert res.covered == 6 and res.batches == 3  # mallory (below MM) is proven and counted
    m = res.manifest
    t = m["totals"]
    assert (t["accounts_covered"], t["accounts_unrepresented"], t["accounts_declared"]) == (6, 1, 7)
    eng = ph.engine()
    mallory = eng.evaluate(next(a for a in ph.accounts(1) if a.account_id == "mallory"))
    assert mallory.equity < 0 <= mallory.mm
    assert t["under_mm_count"] == 1
    assert int(t["total_shortfall"]) == mallory.mm - mallory.equity  # the only account under MM
    assert int(t["total_bad_debt"]) == -mallory.equity
    assert m["chain"]["covers_accounts"] == 6 and dep.registry.is_solvent() == (True, 1, 6, True)
    status = dep.registry.solvency_status()
    assert (status.under_mm_count, status.declared_accounts, status.unrepresented_accounts) == (1, 7, 1)
    assert (status.total_shortfall, status.total_bad_debt) == (int(t["total_shortfall"]), -mallory.equity)
    assert status.insurance_fund_value == ph.INSURANCE_FUND >= status.total_bad_debt  # hence solvent
    ids = [int(b["first_id_hash"]) for b in m["batches"]]
    assert ids == sorted(ids)
    excluded = json.loads((res.path / fmt.EXCLUDED).read_text())
    assert excluded == [{"kind": "not_representable", "reason": excluded[0]["reason"], "count": 1}]
    text = (res.path / fmt.EXCLUDED).read_text()
    assert "zed" not in text and not any(ch.isdigit() for e in excluded for ch in e["reason"])  # counts only
    rows = fmt.list_epochs(res.path.parent)
    assert [r["epoch"] for r in rows] == [1] and rows[0]["accounts_covered"] == 6


def test_audit_and_user_with_chain(published: Published) -> None:
    res, dep = published
    rep = audit_bundle(res.path, registry=dep.registry, deliveries=res.deliveries)
    assert rep.ok, rep.render()
    assert any(c.name.startswith("deliveries: one inclusion file per proven account") for c in rep.checks)
    assert any(c.name.startswith("chain: attestation record") for c in rep.checks)
    u = verify_account(res.path, inclusion_of(res, "alice"), "alice", res.user_secrets["alice"], registry=dep.registry)
    assert u.ok and u.exit_code == 0, u.render()
    assert any(c.name == "your batch root is attested on-chain" and c.ok for c in u.checks)


def test_cli_user_and_audit(published: Published, capsys: pytest.CaptureFixture[str]) -> None:
    res, _ = published
    root = str(res.path.parent)
    bob = str(inclusion_of(res, "bob"))
    secret = format(res.user_secrets["bob"], "x")
    assert main(["user", "verify", "--bundle", root, "--inclusion", bob, "--account", "bob", "--secret", secret]) == 0
    assert "VERIFIED" in capsys.readouterr().out
    # a secret other than the one in the file, or another user's file
    assert main(["user", "verify", "--bundle", root, "--inclusion", bob, "--account", "bob", "--secret", "1234"]) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED" in out and "inclusion file is yours" in out
    assert main(["user", "verify", "--bundle", root, "--inclusion", bob, "--account", "alice"]) == 1
    assert "the file names account 'bob'" in capsys.readouterr().out
    # an account below MM is proven like any other
    assert main(["user", "verify", "--bundle", root, "--inclusion", str(inclusion_of(res, "mallory"))]) == 0
    # usage errors and malformed input
    assert main(["user", "verify", "--bundle", root, "--inclusion", "/nonexistent.json"]) == 2
    assert main(["user", "verify", "--bundle", root, "--inclusion", bob, "--secret", "zz"]) == 2
    assert main(["user", "verify", "--bundle", root, "--inclusion", bob, "--rpc", "x"]) == 2
    assert main(["user", "verify", "--bundle", "/nonexistent", "--inclusion", bob]) == 2
    capsys.readouterr()
    # a development setup fails the audit unless a registry in development mode says otherwise
    assert main(["audit", "--bundle", root]) == 1
    out = capsys.readouterr().out
    assert "AUDIT FAILED" in out and SETUP_GATE in out
    assert main(["audit", "--bundle", root, "--epoch", "7"]) == 2


def test_verifier_side_imports_no_prover(published: Published) -> None:
    """The user's and auditor's code run with zkmargin.prover unimportable."""
    res, _ = published
    code = f"""
import sys
sys.modules["zkmargin.prover"] = None
from zkmargin.verifier.user import verify_account
from zkmargin.verifier.audit import audit_bundle
assert verify_account({str(res.path)!r}, {str(inclusion_of(res, "carol"))!r}).exit_code == 0
rep = audit_bundle({str(res.path)!r})
assert [c.name for c in rep.failed()] == [{SETUP_GATE!r}], rep.render()
assert not any(m.startswith("zkmargin.prover") and sys.modules[m] is not None for m in sys.modules)
print("ok")
"""
    code = code.replace("{SETUP_GATE!r}", repr(SETUP_GATE))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


# ----------------------------------------------------------------------------- corruption


def _rehash(d: Path, rel: str) -> None:
    """Update the manifest's hash of ``rel``: a forger who also rewrites the manifest."""
    m = json.loads((d / fmt.MANIFEST).read_text())
    m["files"][rel] = fmt.sha256_file(d / rel)
    (d / fmt.MANIFEST).write_text(json.dumps(m))


def _edit_json(d: Path, rel: str, fn: Callable[[object], object], rehash: bool = True) -> None:
    obj = json.loads((d / rel).read_text())
    (d / rel).write_text(json.dumps(fn(obj)))
    if rehash and rel != fmt.MANIFEST:
        _rehash(d, rel)


def _swap_proof_a(p: dict) -> dict:  # type: ignore[type-arg]
    p["pi_a"], p["pi_c"] = p["pi_c"], p["pi_a"]
    return p


def _bump_equity(pub: list[str]) -> list[str]:
    pub[7] = str(int(pub[7]) + 1)  # total_equity
    return pub


def _bump_mm_ratio(p: dict) -> dict:  # type: ignore[type-arg]
    p["governed_document"]["risk_parameters"]["mm_ratio"] += 1
    return p


def _bump_mark(m: dict) -> dict:  # type: ignore[type-arg]
    m["marks"]["BTC-PERP"] += 1
    return m


def _overlap(m: dict) -> dict:  # type: ignore[type-arg]
    m["batches"][1]["first_id_hash"] = m["batches"][0]["last_id_hash"]
    return m


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "file edited, manifest hash stale": (
        lambda d: _edit_json(d, fmt.batch_files(0)[0], _swap_proof_a, rehash=False),
        "files: sha256 of every file matches the manifest",
    ),
    "proof swapped (hash rewritten)": (
        lambda d: _edit_json(d, fmt.batch_files(0)[0], _swap_proof_a),
        PROOFS_CHECK,
    ),
    "public signal changed": (
        lambda d: _edit_json(d, fmt.batch_files(1)[1], _bump_equity),
        "batches: public signals = manifest (epoch, root, params, market, ids, count, totals, prices, liabilities)",
    ),
    "published parameter changed": (
        lambda d: _edit_json(d, fmt.PARAMS, _bump_mm_ratio),
        "params: params_commitment rebuilt from the governed document = the proven one",
    ),
    "published mark changed": (
        lambda d: _edit_json(d, fmt.MARKET, _bump_mark),
        "market: market_commitment rebuilt from the snapshot (marks, risk arrays) = the proven one",
    ),
    "overlapping batch ranges": (
        lambda d: _edit_json(d, fmt.MANIFEST, _overlap),
        "batches: id ranges ascending and disjoint (no account counted twice)",
    ),
    "proof file deleted": (
        lambda d: (d / fmt.batch_files(2)[0]).unlink(),
        PROOFS_CHECK,
    ),
    "unlisted file": (
        lambda d: (d / "batches" / "extra.json").write_text("{}"),
        "files: no file outside the manifest",
    ),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_is_detected(name: str, bundle_copy: Callable[[], Path]) -> None:
    d = bundle_copy()
    corrupt, expected = CORRUPTIONS[name]
    corrupt(d)
    rep = audit_bundle(d)
    assert rep.exit_code == 1, rep.render()
    assert expected in failed_names(rep), rep.render()


def test_malformed_manifest_exits_2(bundle_copy: Callable[[], Path]) -> None:
    d = bundle_copy()
    (d / fmt.MANIFEST).write_text("{not json")
    assert audit_bundle(d).exit_code == 2


def test_user_detects_tampered_proof(published: Published, bundle_copy: Callable[[], Path]) -> None:
    res, _ = published
    d = bundle_copy()
    inc = inclusion_of(res, "erin")
    i = json.loads(inc.read_text())["batch"]
    _edit_json(d, fmt.batch_files(i)[0], _swap_proof_a)
    rep = verify_account(d, inc)
    assert rep.exit_code == 1
    assert failed_names(rep) == [
        "batch proof verifies (every account's margin state, under-MM ones counted, as published)"
    ]


def test_user_detects_a_leaf_other_than_the_committed_one(published: Published, tmp_path: Path) -> None:
    """The exchange delivers data other than what it committed (a balance edited): the leaf rebuilt from the
    user's id and secret is not on the batch root."""
    res, _ = published
    doc = json.loads(inclusion_of(res, "dave").read_text())
    doc["leaf"]["balances"]["USDT"] += 10**8
    f = tmp_path / "dave.json"
    f.write_text(json.dumps(doc))
    rep = verify_account(res.path, f)
    assert failed_names(rep) == ["Merkle path: your leaf is in the batch root"]


# ----------------------------------------------------------------------------- crash and resume


def _tree_digest(d: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(d.rglob("*")):
        if f.is_file():
            h.update(f.relative_to(d).as_posix().encode() + f.read_bytes())
    return h.hexdigest()


def test_injected_crash_then_resume(tmp_path: Path, setup_dir: Path) -> None:
    eng = ph.engine()
    op = Operator(tmp_path, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir)
    op.run_epoch(1, eng, ph.accounts(1))
    before = _tree_digest(tmp_path / fmt.epoch_dirname(1))
    with pytest.raises(InjectedFault):
        Operator(
            tmp_path, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir, hooks=FailAfterBatches(2)
        ).run_epoch(2, eng, ph.accounts(2))
    assert _tree_digest(tmp_path / fmt.epoch_dirname(1)) == before
    assert not (tmp_path / fmt.epoch_dirname(2)).exists()
    assert [r["epoch"] for r in fmt.list_epochs(tmp_path)] == [1]
    assert len(list((tmp_path / ".work" / fmt.epoch_dirname(2)).glob("batch-*.json"))) == 2
    res = Operator(tmp_path, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir).run_epoch(
        2, eng, ph.accounts(2)
    )
    assert res.reused_batches == 2 and res.batches == 3
    assert [r["epoch"] for r in fmt.list_epochs(tmp_path)] == [1, 2]
    assert not (tmp_path / ".work" / fmt.epoch_dirname(2)).exists()
    assert only_setup_gate_fails(audit_bundle(tmp_path))  # the root opens the latest epoch
    assert only_setup_gate_fails(audit_bundle(tmp_path, epoch=1))
    with pytest.raises(ValueError, match="not after"):
        op.run_epoch(0, eng, ph.accounts(2))
    assert op.run_epoch(2, eng, ph.accounts(2)).epoch == 2  # idempotent once published


def test_killed_subprocess_then_resume(tmp_path: Path, setup_dir: Path) -> None:
    cmd = [sys.executable, str(HERE / "product_helpers.py"), str(tmp_path), "1", str(setup_dir)]
    subprocess.run([*cmd, "0"], check=True, timeout=300)
    before = _tree_digest(tmp_path / fmt.epoch_dirname(1))
    cmd[3] = "2"
    proc = subprocess.Popen([*cmd, "5"])
    work = tmp_path / ".work" / fmt.epoch_dirname(2)
    deadline = time.time() + 120
    while not list(work.glob("batch-*.json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _tree_digest(tmp_path / fmt.epoch_dirname(1)) == before
    assert not (tmp_path / fmt.epoch_dirname(2)).exists()
    assert [r["epoch"] for r in fmt.list_epochs(tmp_path)] == [1]
    res = Operator(tmp_path, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir).run_epoch(
        2, ph.engine(), ph.accounts(2)
    )
    assert res.reused_batches >= 1
    assert only_setup_gate_fails(audit_bundle(tmp_path / fmt.epoch_dirname(2)))


@pytest.mark.slow
def test_cli_demo_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`zkmargin demo` end to end at a small size; a rerun reuses the setup and publishes the next epoch."""
    out = tmp_path / "demo"
    assert main(["demo", "--circuit", "slots", "--out", str(out), "--accounts", "24", "--batch", "4"]) == 0
    text = capsys.readouterr().out
    assert "DEVELOPMENT" in text and "ALL PASS" in text and "VERIFIED" in text and "isSolvent() = True" in text
    # the live flip: a feed outside the attested (point) box turns the view false with its reason, back inside true
    flip = [line for line in text.splitlines() if line.startswith("live view:")]
    assert len(flip) == 2 and "isSolvent() = False" in flip[0] and "outside the attested box" in flip[0]
    assert "feed back inside the box: isSolvent() = True" in flip[1]
    assert (
        main(["demo", "--circuit", "slots", "--out", str(out), "--accounts", "24", "--batch", "4", "--seed", "8",
              "--live-flip-epoch"]) == 0
    )  # fmt: skip
    # the flip back by the next epoch: attested at the moved price (epochs 2 and 3)
    assert [r["epoch"] for r in fmt.list_epochs(out)] == [1, 2, 3]
    flip = [line for line in capsys.readouterr().out.splitlines() if line.startswith("live view:")]
    assert "isSolvent() = False" in flip[0] and "epoch 3 attested at the new prices" in flip[1]
    assert flip[1].endswith("isSolvent() = True (solvent now)")
