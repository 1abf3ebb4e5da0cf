"""Incremental venue epochs on the embedded chain (issue 16): the operator's update (``submitUpdate``, the tree-chain
half) after a full epoch, then a split; the registry's root and totals equal the bundle's, the audit with the
registry passes every tree check, each user finds their slot's leaf on the registry's root. An operator whose bundle
differs from what the registry recorded (a carried leaf edited, root recomputed) fails the audit's chain check and
the user's leaf check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_venue_update import SPEC, _acct, _book, _rehash, box_engine, check, inclusion_file

from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.prover.operator.venue_epoch import VenueOperator
from zkmargin.prover.operator.venue_update import load_state
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.user import verify_account
from zkmargin.verifier.venue_tree import (
    TREE_CHAIN_CHECK,
    TREE_PROOFS_CHECK,
    TREE_RECORD_CHECK,
    TREE_ROOT_CHECK,
    USER_LEAF_CHECK,
    bundle_tree,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("venue-tree-chain")
    engine = box_engine()
    op = VenueOperator(root, SPEC)
    chain = op.deploy_chain(engine, insurance_fund_micro_usd=100_000 * 10**6, max_unrepresented_ppm=0)
    book = _book(engine)
    out: dict[str, Any] = {"op": op, "chain": chain, "engine": engine, 1: op.run_epoch(1, engine, book)}
    book2 = [a if a.account_id != "alice" else _acct(engine, "alice", 25_000) for a in book]
    out[2] = op.run_update(2, box_engine(btc=36_000 * 1.04, now=int(engine.snapshot.timestamp)), book2)
    state = load_state(root, 2)
    assert state is not None
    full = max(range(len(state.slots)), key=lambda k: len(state.slots[k].members))
    lo, hi = state.slots[full].lo, state.slots[full].hi
    cands = [f"new{i}" for i in range(60)]
    secrets = op.user_secrets.for_accounts(cands)
    inside = [c for c in cands if lo <= account_id_commitment(c, secrets[c]) < hi][:6]
    out["book3"] = [*book2, *(_acct(engine, c, 5_000) for c in inside)]
    out[3] = op.run_update(3, engine, out["book3"])
    return out


def test_updates_attested_on_chain(chained: dict[str, Any]) -> None:
    reg = chained["chain"].registry
    for e in (2, 3):
        u = chained[e]
        assert u.mode == "update", u.reason
        att = reg.attestation_of(e)
        tree = bundle_tree(fmt.open_epoch(u.result.path))
        assert att.batch_tree_root == tree.root() and att.batch_count == len(tree.slots)
        assert att.account_count == u.result.manifest["totals"]["accounts_covered"]
        assert (
            u.result.manifest["chain"]["covers_accounts"] == att.account_count
            and u.result.manifest["chain"]["gas_used"] > 0
        )
    assert chained[3].splits >= 1 and reg.latest_epoch() == 3
    solvent, *_ = reg.is_solvent()
    assert solvent
    for e in (1, 2, 3):
        res = chained[e] if e == 1 else chained[e].result
        rep = audit_bundle(res.path, registry=reg, deliveries=res.deliveries)
        assert rep.malformed is None and rep.ok, rep.render()
        assert check(rep, TREE_ROOT_CHECK)
    rep = audit_bundle(chained[3].result.path, registry=reg)
    assert check(rep, TREE_CHAIN_CHECK) and check(rep, TREE_RECORD_CHECK) and check(rep, TREE_PROOFS_CHECK)


def test_users_check_their_slot_on_the_registry_root(chained: dict[str, Any]) -> None:
    op, reg = chained["op"], chained["chain"].registry
    for a in chained["book3"]:
        s = op.user_secrets.for_accounts([a.account_id])[a.account_id]
        rep = verify_account(op.root, inclusion_file(op.root, 3, a.account_id, s), a.account_id, s, reg, epoch=3)
        assert rep.malformed is None and rep.ok, (a.account_id, rep.render())
        assert "registry's root" in next(c.detail for c in rep.checks if c.name == USER_LEAF_CHECK)


def test_bundle_that_is_not_what_the_registry_recorded(chained: dict[str, Any], tmp_path: Path) -> None:
    """A carried slot's leaf changed in the bundle (its range shrunk, root recomputed: every bundle-internal check
    but the partition holds): the registry's root says otherwise, and so does the user's leaf check."""
    op, reg = chained["op"], chained["chain"].registry
    u = chained[3]
    d = tmp_path / u.result.path.name
    shutil.copytree(u.result.path, d)
    shutil.copytree(op.root / "setups", tmp_path / "setups")
    m = json.loads((d / fmt.MANIFEST).read_text())
    k = u.carried[0]
    m["batches"][k]["proof_epoch"] = 3  # claimed fresh: re-proven at this epoch
    _rehash(d, m, reroot=True)
    rep = audit_bundle(d, registry=reg)
    assert rep.malformed is None and check(rep, TREE_ROOT_CHECK) and not check(rep, TREE_CHAIN_CHECK)
    name = next(
        a.account_id
        for a in chained["book3"]
        if bundle_tree(fmt.open_epoch(d)).slot_of(
            account_id_commitment(a.account_id, op.user_secrets.for_accounts([a.account_id])[a.account_id])
        )
        == k
    )
    s = op.user_secrets.for_accounts([name])[name]
    rep = verify_account(tmp_path, inclusion_file(op.root, 3, name, s), name, s, reg, epoch=3)
    assert not check(rep, USER_LEAF_CHECK)
