"""An update epoch's operator work grows with the changed slots only (issue 16): a carried slot is not evaluated by
the engine and its witness is not rebuilt; its proof and public-signal files are copied from the previous bundle and
its members' inclusion files are the previous ones naming the new epoch. The bundle is still complete: the audit
rebuilds the root from every leaf and verifies every proof, and every user (of a new or a carried slot) passes.

The counts are the test's teeth: reverting ``VenueOperator._fresh`` to classify the whole book, or ``_slots`` to
rebuild carried batches, makes the engine see carried accounts and the witness builder run once per slot.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import ScenarioGrid
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.operator import venue_epoch
from zkmargin.prover.operator.exchange import demo_engine
from zkmargin.prover.operator.venue_epoch import VenueOperator, VenueSpec
from zkmargin.prover.operator.venue_update import load_state
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.user import verify_account
from zkmargin.verifier.venue_audit import DELIVERIES_CHECK
from zkmargin.verifier.venue_tree import TREE_PROOFS_CHECK, TREE_ROOT_CHECK, USER_FRESH_CHECK

pytestmark = pytest.mark.slow
SPEC = VenueSpec(leaves=8, positions=2, balances=2, box_ppm=100_000)
SYMS = ("BTC-PERP", "ETH-PERP", "SOL-PERP")


def box_engine() -> MarginEngine:
    """The demo engine with a BTC grid whose nodes include +-10% (the box) at zero vol shock."""
    e = demo_engine(btc=36_000.0, now=int(time.time()))
    grid = ScenarioGrid(price_moves=[-150_000, -100_000, 0, 100_000, 150_000], vol_shocks=[-250_000, 0, 250_000])
    params = e.params.model_copy(update={"scenario_grids": {"BTC": grid}})
    ra = build_risk_arrays(e.instruments, e.snapshot, params.scenario_grids, params.short_option_min)
    return MarginEngine(e.instruments, params, e.snapshot, ra)


def _acct(engine: MarginEngine, name: str, usdt: float, sym: str) -> Account:
    return Account(
        account_id=name,
        balances={"USDT": demo.qt(usdt)},
        positions=[Position(instrument=sym, quantity=demo.qt(0.1), entry_price=engine.snapshot.marks[sym])],
    )


def _ok(rep: Any) -> bool:
    return rep.malformed is None and all(c.ok for c in rep.checks if not c.name.startswith("setup"))


def _file(root: Path, epoch: int, name: str, secret: int) -> Path:
    return (
        root
        / inclusion.PRIVATE_DIR
        / fmt.epoch_dirname(epoch)
        / inclusion.filename(account_id_commitment(name, secret))
    )


def test_update_does_not_evaluate_or_rebuild_carried_slots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = box_engine()
    op = VenueOperator(tmp_path, SPEC)
    book = [_acct(engine, f"u{i:02d}", 10_000 + 100 * i, SYMS[i % 3]) for i in range(30)]
    r1 = op.run_epoch(1, engine, book)
    assert r1.batches >= 4

    evaluated: list[str] = []
    built: list[list[str]] = []
    real_eval, real_build = MarginEngine.evaluate, venue_epoch.build_venue_batch

    def count_eval(self: MarginEngine, acct: Account) -> Any:
        evaluated.append(acct.account_id)
        return real_eval(self, acct)

    def count_build(eng: MarginEngine, accts: Any, *a: Any, **k: Any) -> Any:
        built.append([x.account_id for x in accts])
        return real_build(eng, accts, *a, **k)

    monkeypatch.setattr(MarginEngine, "evaluate", count_eval)
    monkeypatch.setattr(venue_epoch, "build_venue_batch", count_build)
    book2 = [a if a.account_id != "u07" else _acct(engine, "u07", 55_000, SYMS[7 % 3]) for a in book]
    u = op.run_update(2, engine, book2)
    assert u.mode == "update" and len(u.reproved) == 1 and len(u.carried) == r1.batches - 1
    state1 = load_state(tmp_path, 1)
    assert state1 is not None
    changed = set(state1.slots[u.reproved[0]].members)
    assert "u07" in changed and set(evaluated) <= changed, sorted(set(evaluated) - changed)  # no carried account
    assert [sorted(b) for b in built] == [sorted(changed)]  # one witness: the changed slot's batch

    # the bundle is complete: the audit rebuilds the root from every leaf, verifies every proof and every file
    rep = audit_bundle(u.result.path, deliveries=u.result.deliveries)
    assert _ok(rep), rep.render()
    names = {c.name for c in rep.checks}
    assert {TREE_ROOT_CHECK, TREE_PROOFS_CHECK, DELIVERIES_CHECK} <= names
    t1, t2 = r1.manifest["totals"], u.result.manifest["totals"]
    for key in ("accounts_covered", "accounts_evaluated", "margin_call", "liquidation", "leaves"):
        assert t1[key] == t2[key], key  # the carried accounts still count, as if evaluated again
    # every user passes; a carried member's file names epoch 2, its slot's proof epoch 1, and epoch 1's leaves
    secrets = op.user_secrets.for_accounts(a.account_id for a in book2)
    for a in book2:
        rep = verify_account(tmp_path, _file(tmp_path, 2, a.account_id, secrets[a.account_id]), a.account_id,
                             secrets[a.account_id], epoch=2)  # fmt: skip
        assert _ok(rep), (a.account_id, rep.render())
    old = sorted(set(state1.members()) - changed)[0]
    d1 = json.loads(_file(tmp_path, 1, old, secrets[old]).read_text())
    d2 = json.loads(_file(tmp_path, 2, old, secrets[old]).read_text())
    assert d2["epoch"] == 2 and d2["proof_epoch"] == 1 and d2["manifest_sha256"] != d1["manifest_sha256"]
    assert {k: v for k, v in d2.items() if k not in ("epoch", "manifest_sha256")} == {
        k: v for k, v in d1.items() if k not in ("epoch", "manifest_sha256")
    }
    rep = verify_account(tmp_path, _file(tmp_path, 2, old, secrets[old]), old, secrets[old], epoch=2)
    assert any("proven at epoch 1, carried to epoch 2" in c.detail for c in rep.checks if c.name == USER_FRESH_CHECK)

    # a rotated secret changes the fingerprint: the account is placed again by its new id hash (never carried
    # under the old one), and both the slot it left and the slot it joins are re-proven
    monkeypatch.undo()
    op.user_secrets.rotate(old)
    u3 = op.run_update(3, engine, book2)
    assert u3.mode == "update" and 1 <= len(u3.reproved) <= 3  # 3: the joined slot was full and split
    new_secret = op.user_secrets.for_accounts([old])[old]
    rep = verify_account(tmp_path, _file(tmp_path, 3, old, new_secret), old, new_secret, epoch=3)
    assert _ok(rep), rep.render()
    assert not _file(tmp_path, 3, old, secrets[old]).exists()
    rep = audit_bundle(u3.result.path, deliveries=u3.result.deliveries)
    assert _ok(rep), rep.render()
    state3 = load_state(tmp_path, 3)
    assert state3 is not None and Counter(m for s in state3.slots for m in s.members) == Counter(
        a.account_id for a in book2
    )
