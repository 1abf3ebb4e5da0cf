"""Incremental epochs of the venue circuit (issue 16), operator and audit side: a full epoch, then update epochs that
re-prove only the slots whose accounts changed (at the same box centre) and carry the others, a slot split when new
accounts overflow it, the bundle that alone rebuilds the tree, the audit's named tree checks and the user's slot
check. docs/statement.md "Incremental epochs" cites these tests.

Attacks, each refused by a named audit check or a user-check failure: a carried leaf whose proof is for other data;
a slot range overlapping another (an account counted twice); accounts in a slot whose range does not hold them; an
account omitted from its slot; a stale carried slot shown to its user.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import ScenarioGrid
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.operator.exchange import demo_engine
from zkmargin.prover.operator.venue_epoch import VenueOperator, VenueSpec
from zkmargin.prover.operator.venue_update import VenueUpdateResult, load_state
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.batch_tree import BatchTree
from zkmargin.verifier.report import Report
from zkmargin.verifier.user import verify_account
from zkmargin.verifier.venue_audit import DELIVERIES_CHECK
from zkmargin.verifier.venue_tree import (
    TREE_EPOCHS_CHECK,
    TREE_PARTITION_CHECK,
    TREE_PROOFS_CHECK,
    TREE_RANGE_CHECK,
    TREE_ROOT_CHECK,
    USER_FRESH_CHECK,
    USER_LEAF_CHECK,
    USER_SLOT_CHECK,
    bundle_tree,
)
from zkmargin.verifier.venue_user import PATHS_CHECK, STATEMENT_CHECK

pytestmark = pytest.mark.slow

SPEC = VenueSpec(leaves=8, positions=2, balances=2, box_ppm=100_000)  # a 10% box
LINEAR = ("BTC-PERP", "ETH-PERP", "SOL-PERP", "XRP-PERP", "DOGE-PERP", "BNB-PERP", "ADA-PERP")


def box_engine(btc: float = 36_000.0, now: int | None = None) -> MarginEngine:
    """The demo engine with a BTC scenario grid whose nodes include +-10% at zero vol shock (so options can be
    proven over the 10% box)."""
    e = demo_engine(btc=btc, now=int(time.time()) if now is None else now)
    grid = ScenarioGrid(price_moves=[-150_000, -100_000, 0, 100_000, 150_000], vol_shocks=[-250_000, 0, 250_000])
    params = e.params.model_copy(update={"scenario_grids": {"BTC": grid}})
    ra = build_risk_arrays(e.instruments, e.snapshot, params.scenario_grids, params.short_option_min)
    return MarginEngine(e.instruments, params, e.snapshot, ra)


def _acct(engine: MarginEngine, name: str, usdt: float, sym: str = "BTC-PERP", q: float = 0.1) -> Account:
    m = engine.snapshot.marks
    return Account(
        account_id=name,
        balances={"USDT": demo.qt(usdt)},
        positions=[Position(instrument=sym, quantity=demo.qt(q), entry_price=m[sym])],
    )


def _book(engine: MarginEngine) -> list[Account]:
    """Ten one-leaf accounts and a whale over four linked leaves: two slots of the 8-leaf batch."""
    m = engine.snapshot.marks
    whale = Account(
        account_id="whale",
        balances={"USDT": demo.qt(2e6), "BTC": demo.qt(3)},
        positions=[
            Position(instrument=s, quantity=demo.qt(q), entry_price=m[s])
            for s, q in zip(LINEAR, (5, -40, 900, 10_000, 90_000, -30, 20_000), strict=True)
        ],
    )
    names = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
    return [whale, *(_acct(engine, n, 10_000 + 1_000 * i, LINEAR[i % 3], 0.1) for i, n in enumerate(names))]


def _slot_of(res: Any, account_id: str, secret: int) -> int:
    return BatchTree.slot_of(bundle_tree(fmt.open_epoch(res.path)), account_id_commitment(account_id, secret))


@pytest.fixture(scope="module")
def epochs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Epoch 1 full; 2 alice's balance changed; 3 new accounts overflowing one slot; 4 bob closed."""
    root = tmp_path_factory.mktemp("venue-tree")
    engine = box_engine()
    op = VenueOperator(root, SPEC)
    book = _book(engine)
    out: dict[str, Any] = {"op": op, "engine": engine, "books": {}}
    out[1] = op.run_epoch(1, engine, book)
    out["books"][1] = list(book)
    book2 = [a if a.account_id != "alice" else _acct(engine, "alice", 25_000) for a in book]
    out[2] = op.run_update(2, engine, book2)
    out["books"][2] = list(book2)
    # new one-leaf accounts whose id hashes land in the fullest slot, until it overflows the batch
    state = load_state(root, 2)
    assert state is not None
    full = max(range(len(state.slots)), key=lambda k: len(state.slots[k].members))
    lo, hi = state.slots[full].lo, state.slots[full].hi
    cands = [f"new{i}" for i in range(60)]
    secrets = op.user_secrets.for_accounts(cands)
    inside = [c for c in cands if lo <= account_id_commitment(c, secrets[c]) < hi][:6]
    book3 = [*book2, *(_acct(engine, c, 5_000) for c in inside)]
    out[3] = op.run_update(3, engine, book3)
    out["books"][3] = book3
    out["split_slot"] = full
    book4 = [a for a in book3 if a.account_id != "bob"]
    out[4] = op.run_update(4, engine, book4)
    out["books"][4] = book4
    return out


def check(rep: Report, name: str) -> bool:
    found = [c for c in rep.checks if c.name == name]
    assert found, f"no check named {name!r}: {[c.name for c in rep.checks]}"
    return all(c.ok for c in found)


def inclusion_file(root: Path, epoch: int, account_id: str, secret: int) -> Path:
    return (
        root
        / inclusion.PRIVATE_DIR
        / fmt.epoch_dirname(epoch)
        / inclusion.filename(account_id_commitment(account_id, secret))
    )


def _rehash(epoch_dir: Path, m: dict[str, Any] | None = None, reroot: bool = False) -> None:
    """A cheating operator's edit made consistent: the tree root recomputed from the edited slots (``reroot``) and
    every file's sha256 listed again."""
    m = m if m is not None else json.loads((epoch_dir / fmt.MANIFEST).read_text())
    (epoch_dir / fmt.MANIFEST).write_bytes(fmt.dumps(m))
    if reroot:
        m["tree"]["root"] = "0x" + bundle_tree(fmt.open_epoch(epoch_dir)).root().hex()
    m["files"] = {rel: fmt.sha256_file(epoch_dir / rel) for rel in fmt.iter_files(epoch_dir)}
    (epoch_dir / fmt.MANIFEST).write_bytes(fmt.dumps(m))


def _copy(res: Any, tmp_path: Path) -> Path:
    d = tmp_path / res.path.name
    shutil.copytree(res.path, d, symlinks=True)
    setups = res.path.parent / "setups"
    if not (tmp_path / "setups").exists():
        shutil.copytree(setups, tmp_path / "setups")
    return d


def test_update_reproves_only_the_changed_slot(epochs: dict[str, Any]) -> None:
    op, r1 = epochs["op"], epochs[1]
    u: VenueUpdateResult = epochs[2]
    alice_slot = _slot_of(u.result, "alice", r1.user_secrets["alice"])
    assert u.mode == "update" and u.reason == "" and r1.manifest["shape"]["box"] == 1  # a price-box shape
    assert u.reproved == [alice_slot] and u.proofs == 1 and len(u.carried) == r1.batches - 1
    m = u.result.manifest
    assert m["tree"]["kind"] == "update" and m["tree"]["base_epoch"] == 1
    assert [e["proof_epoch"] for e in m["batches"]] == [2 if k == alice_slot else 1 for k in range(r1.batches)]
    # carried slots: the same leaves as epoch 1 (statement, range, proof epoch) and the same proof file
    t1, t2 = bundle_tree(fmt.open_epoch(r1.path)), bundle_tree(fmt.open_epoch(u.result.path))
    for k in u.carried:
        assert t1.slots[k] == t2.slots[k]
        pf = fmt.batch_files(k)[0]
        assert json.loads((r1.path / pf).read_text()) == json.loads((u.result.path / pf).read_text())
    assert m["params_commitment"] == r1.manifest["params_commitment"]  # the same box centre
    assert m["market_commitment"] == r1.manifest["market_commitment"] and m["prices"] == r1.manifest["prices"]
    rep = audit_bundle(u.result.path, deliveries=u.result.deliveries)
    assert rep.malformed is None
    failed = [c.name for c in rep.checks if not c.ok]
    assert failed == ["setup: not a development (single-party) setup"] or not failed, rep.render()
    for name in (TREE_ROOT_CHECK, TREE_PARTITION_CHECK, TREE_RANGE_CHECK, TREE_PROOFS_CHECK, TREE_EPOCHS_CHECK,
                 DELIVERIES_CHECK):  # fmt: skip
        assert check(rep, name), rep.render()
    rep1 = audit_bundle(r1.path, deliveries=r1.deliveries)  # a full epoch is a tree too
    for name in (TREE_ROOT_CHECK, TREE_PARTITION_CHECK, TREE_RANGE_CHECK, TREE_PROOFS_CHECK, TREE_EPOCHS_CHECK):
        assert check(rep1, name), rep1.render()
    assert op.latest_epoch() >= 4


def _user(epochs: dict[str, Any], epoch: int, name: str, f: Path | None = None) -> Report:
    op = epochs["op"]
    secret = op.user_secrets.for_accounts([name])[name]
    f = f or inclusion_file(op.root, epoch, name, secret)
    return verify_account(op.root, f, name, secret, epoch=epoch)


def carried_member(epochs: dict[str, Any]) -> str:
    """An account of a slot epoch 2 carried (secrets are random: which slot alice shares is not fixed)."""
    op, u = epochs["op"], epochs[2]
    return next(
        a.account_id
        for a in epochs["books"][2]
        if _slot_of(u.result, a.account_id, _sec(op, a.account_id)) in u.carried
    )


def test_users_of_new_and_carried_slots_check_their_slot(epochs: dict[str, Any]) -> None:
    old = carried_member(epochs)
    for name in ("alice", old, "whale", "bob"):
        rep = _user(epochs, 2, name)
        assert rep.malformed is None
        bad = [c for c in rep.checks if not c.ok and not c.name.startswith("setup")]
        assert not bad, rep.render()
        for n in (USER_SLOT_CHECK, USER_LEAF_CHECK, USER_FRESH_CHECK, PATHS_CHECK, STATEMENT_CHECK):
            assert check(rep, n)
    fresh = next(c.detail for c in _user(epochs, 2, "alice").checks if c.name == USER_FRESH_CHECK)
    carried = _user(epochs, 2, old)
    detail = next(c.detail for c in carried.checks if c.name == USER_FRESH_CHECK)
    assert "proven at epoch 2" in fresh and "carried" not in fresh
    assert "proven at epoch 1, carried to epoch 2" in detail  # stale data is visible
    assert any(c.warning and "as of epoch 1" in c.detail for c in carried.checks)
    # a carried account's epoch-1 file still checks epoch 2 (its slot was carried): no new file needed
    op = epochs["op"]
    rep = _user(epochs, 2, old, inclusion_file(op.root, 1, old, _sec(op, old)))
    assert check(rep, USER_FRESH_CHECK) and check(rep, PATHS_CHECK), rep.render()


def test_overflowing_slot_is_split(epochs: dict[str, Any]) -> None:
    u: VenueUpdateResult = epochs[3]
    k = epochs["split_slot"]
    n2 = len(epochs[2].result.manifest["batches"])
    assert u.mode == "update" and u.splits >= 1
    assert k in u.reproved and all(x in u.reproved for x in range(n2, n2 + u.splits))
    ops = u.result.manifest["tree"]["ops"]
    assert ops[0] == {"op": "split", "slot": k, "mid": ops[0]["mid"]}
    tree = bundle_tree(fmt.open_epoch(u.result.path))
    assert tree.is_partition() and len(tree.slots) == n2 + u.splits
    assert all(s.account_count <= SPEC.leaves for s in tree.slots)
    rep = audit_bundle(u.result.path, deliveries=u.result.deliveries)
    assert all(c.ok for c in rep.checks if not c.name.startswith("setup")), rep.render()
    # every account of the book is in exactly one slot: the one holding its id hash, and its user check passes
    for a in epochs["books"][3]:
        rep = _user(epochs, 3, a.account_id)
        assert all(c.ok for c in rep.checks if not c.name.startswith("setup")), (a.account_id, rep.render())
    covered = sum(s.account_count for s in tree.slots)
    assert covered == len(epochs["books"][3]) == u.result.manifest["totals"]["accounts_covered"]


def test_carried_leaf_whose_proof_is_for_other_data(epochs: dict[str, Any], tmp_path: Path) -> None:
    """The operator ships a carried slot with a better statement (more equity) and the root recomputed over it; the
    slot's proof is for the statement actually proven, so it fails at its proof epoch."""
    u: VenueUpdateResult = epochs[2]
    d = _copy(u.result, tmp_path)
    m = json.loads((d / fmt.MANIFEST).read_text())
    k = u.carried[0]
    m["batches"][k]["total_equity"] = str(int(m["batches"][k]["total_equity"]) + 10**12)
    m["totals"]["total_equity"] = str(sum(int(e["total_equity"]) for e in m["batches"]))
    _rehash(d, m, reroot=True)
    rep = audit_bundle(d)
    assert rep.malformed is None and check(rep, TREE_ROOT_CHECK) and not check(rep, TREE_PROOFS_CHECK)
    # the other slot's proof put under the carried statement: fails the same named check
    d2 = _copy(u.result, tmp_path / "b")
    other = u.reproved[0]
    shutil.copy(d2 / fmt.batch_files(other)[0], d2 / fmt.batch_files(k)[0])
    _rehash(d2)
    rep = audit_bundle(d2)
    assert rep.malformed is None and not check(rep, TREE_PROOFS_CHECK)


def test_slot_range_overlapping_another(epochs: dict[str, Any], tmp_path: Path) -> None:
    """A slot's range stretched over its neighbour's (which would let an account be counted in both): the root is
    recomputed, the proofs still verify (ranges are not in the proof), the partition check refuses it."""
    u: VenueUpdateResult = epochs[3]
    d = _copy(u.result, tmp_path)
    m = json.loads((d / fmt.MANIFEST).read_text())
    slots = sorted(range(len(m["batches"])), key=lambda k: int(m["batches"][k]["lo"]))
    a, b = slots[0], slots[1]
    m["batches"][a]["hi"] = str(int(m["batches"][b]["hi"]))  # slot a now also covers slot b's range
    _rehash(d, m, reroot=True)
    rep = audit_bundle(d)
    assert rep.malformed is None and check(rep, TREE_ROOT_CHECK) and check(rep, TREE_PROOFS_CHECK)
    assert not check(rep, TREE_PARTITION_CHECK)


def test_accounts_in_a_slot_whose_range_does_not_hold_them(epochs: dict[str, Any], tmp_path: Path) -> None:
    """Two slots' ranges swapped: still a partition of [0, R), every proof still verifies, but each batch's
    accounts now sit in a range that does not hold their id hashes (their users would look elsewhere)."""
    u: VenueUpdateResult = epochs[3]
    d = _copy(u.result, tmp_path)
    m = json.loads((d / fmt.MANIFEST).read_text())
    a, b = 0, 1
    for f in ("lo", "hi"):
        m["batches"][a][f], m["batches"][b][f] = m["batches"][b][f], m["batches"][a][f]
    _rehash(d, m, reroot=True)
    rep = audit_bundle(d)
    assert rep.malformed is None and check(rep, TREE_PARTITION_CHECK) and check(rep, TREE_PROOFS_CHECK)
    assert not check(rep, TREE_RANGE_CHECK)
    # the user of such a slot finds another slot holding their id hash
    op = epochs["op"]
    name = next(
        a.account_id for a in epochs["books"][3] if _slot_of(u.result, a.account_id, _sec(op, a.account_id)) == 0
    )
    rep = verify_account(d.parent, inclusion_file(op.root, 3, name, _sec(op, name)), name, _sec(op, name), epoch=3)
    assert not check(rep, USER_SLOT_CHECK)


def _sec(op: VenueOperator, name: str) -> int:
    return op.user_secrets.for_accounts([name])[name]


def test_omitted_account_fails_its_user_check(epochs: dict[str, Any], tmp_path: Path) -> None:
    """Epoch 4 drops bob. Bob's last file (epoch 3) names a slot re-proven at epoch 4, so it is stale by name; a
    file relabelled to epoch 4 has parts that are not in the re-proven batch."""
    op = epochs["op"]
    u: VenueUpdateResult = epochs[4]
    s = _sec(op, "bob")
    assert not inclusion_file(op.root, 4, "bob", s).exists()
    old = inclusion_file(op.root, 3, "bob", s)
    rep = verify_account(op.root, old, "bob", s, epoch=4)
    assert rep.malformed is None and not rep.ok and not check(rep, USER_FRESH_CHECK)
    doc = json.loads(old.read_text())
    doc["epoch"] = doc["proof_epoch"] = 4
    f = tmp_path / "bob.json"
    f.write_text(json.dumps(doc))
    rep = verify_account(op.root, f, "bob", s, epoch=4)
    assert rep.malformed is None and check(rep, USER_FRESH_CHECK) and not check(rep, PATHS_CHECK)
    assert u.result.manifest["totals"]["accounts_covered"] == len(epochs["books"][4])


def test_stale_carried_slot_shown_to_its_user(epochs: dict[str, Any], tmp_path: Path) -> None:
    """An account of a carried slot deposited before epoch 2, but the operator carried its slot (proven at epoch 1)
    instead of re-proving it. The check shows the slot's proof epoch, and the user's current statement differs from
    the carried data."""
    op = epochs["op"]
    name = carried_member(epochs)
    s = _sec(op, name)
    doc = json.loads(inclusion_file(op.root, 2, name, s).read_text())
    doc["statement"]["balances"]["USDT"] += demo.qt(50_000)  # her account now
    f = tmp_path / "stale.json"
    f.write_text(json.dumps(doc))
    rep = verify_account(op.root, f, name, s, epoch=2)
    assert rep.malformed is None and not check(rep, STATEMENT_CHECK)
    assert "carried to epoch 2" in next(c.detail for c in rep.checks if c.name == USER_FRESH_CHECK)


def test_feeds_inside_the_box_update_outside_fall_back_to_a_full_epoch(epochs: dict[str, Any], tmp_path: Path) -> None:
    """BTC 5% up (inside the 10% box): an update, proven at the box centre (the attested prices, not today's). A
    governed parameter changed, or BTC 50% up: the operator runs a full epoch instead, and says why."""
    op, engine = epochs["op"], epochs["engine"]
    root = tmp_path / "root"
    shutil.copytree(op.root, root, symlinks=True)
    op2 = VenueOperator(root, SPEC)
    now = int(engine.snapshot.timestamp)
    book = [a if a.account_id != "carol" else _acct(engine, "carol", 1_234) for a in epochs["books"][4]]
    near = op2.run_update(5, box_engine(btc=36_000 * 1.05, now=now), book)
    assert near.mode == "update" and len(near.reproved) == 1
    assert near.result.manifest["prices"] == epochs[1].manifest["prices"]
    e = box_engine(now=now)
    governed = MarginEngine(e.instruments, e.params.model_copy(update={"short_option_min": 120_000}), e.snapshot)
    assert "params_commitment" in op2.update_blocker(governed)[0]  # a parameter change: a full epoch
    moved = box_engine(btc=36_000 * 1.5, now=now)
    reason, _ = op2.update_blocker(moved)
    assert "left the box" in reason and "BTC" in reason
    far = op2.run_update(6, moved, book)
    assert far.mode == "full" and far.reason == reason
    m = far.result.manifest
    assert m["tree"]["kind"] == "full" and m["tree"]["base_epoch"] == 6 and m["prices"] != epochs[1].manifest["prices"]
    rep = audit_bundle(far.result.path)
    assert all(c.ok for c in rep.checks if not c.name.startswith("setup")), rep.render()
    assert check(rep, TREE_ROOT_CHECK) and check(rep, TREE_EPOCHS_CHECK)


def test_cli_update_epoch_from_a_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``zkmargin epoch --circuit venue --update``: a full epoch of a snapshot, then the next snapshot (one account's
    balance changed) as an update re-proving one slot; ``--update`` on the fixed-slot circuit is a usage error."""
    from zkmargin.cli import main
    from zkmargin.prover.operator.snapshot import write_snapshot
    from zkmargin.prover.venue_scale import scale_engine

    full = scale_engine()
    keep = ["BTC-PERP", "ETH-PERP", "SOL-PERP"]
    snap0 = full.snapshot.model_copy(update={"marks": {s: full.snapshot.marks[s] for s in keep}})
    eng = MarginEngine({s: full.instruments[s] for s in keep}, full.params, snap0, full.risk_arrays)
    book = [_acct(eng, f"u{i}", 20_000 + i, keep[i % 3], 0.01 * (i + 1)) for i in range(6)]
    out = tmp_path / "bundle"
    venue = ["--out", str(out), "--circuit", "venue", "--batch", "4"]
    assert main(["-q", "epoch", "--snapshot", str(write_snapshot(tmp_path / "s1", eng, book)), *venue]) == 0
    book[3] = _acct(eng, "u3", 99_000, keep[0], 0.5)
    s2 = write_snapshot(tmp_path / "s2", eng, book)
    capsys.readouterr()
    assert main(["epoch", "--snapshot", str(s2), *venue, "--update"]) == 0
    assert "epoch 2: update: 1 slot(s) re-proven (1 proofs, 0 split(s))" in capsys.readouterr().out
    rep = audit_bundle(out / fmt.epoch_dirname(2))
    assert all(c.ok for c in rep.checks if not c.name.startswith("setup")), rep.render()
    assert check(rep, TREE_PROOFS_CHECK)
    assert main(["epoch", "--snapshot", str(s2), "--out", str(tmp_path / "x"), "--update"]) == 2
    assert "--update: update epochs are for the venue circuit" in capsys.readouterr().err
    assert main(["demo", "--circuit", "slots", "--update-epoch", "--out", str(tmp_path / "d")]) == 2
    assert "--update-epoch: update epochs are for the venue circuit" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_slot_whose_accounts_all_closed_becomes_an_empty_batch(epochs: dict[str, Any], tmp_path: Path) -> None:
    """Every member of one slot closes: the slot stays (its range still partitions [0, R)) with a proven empty batch
    (count 0, totals 0); the audit passes and a new account in that range would join it later."""
    op = epochs["op"]
    root = tmp_path / "root"
    shutil.copytree(op.root, root, symlinks=True)
    op2 = VenueOperator(root, SPEC)
    state = load_state(root, 4)
    assert state is not None
    k = min(range(len(state.slots)), key=lambda i: len(state.slots[i].members))
    gone = set(state.slots[k].members)
    book = [a for a in epochs["books"][4] if a.account_id not in gone]
    u = op2.run_update(5, epochs["engine"], book)
    assert u.mode == "update" and u.reproved == [k] and u.proofs == 1
    entry = u.result.manifest["batches"][k]
    assert entry["count"] == 0 and entry["total_equity"] == "0" and entry["proof_epoch"] == 5
    rep = audit_bundle(u.result.path, deliveries=u.result.deliveries)
    assert all(c.ok for c in rep.checks if not c.name.startswith("setup")), rep.render()
    assert bundle_tree(fmt.open_epoch(u.result.path)).is_partition()
