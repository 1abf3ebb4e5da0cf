"""The venue circuit in the operator pipeline (issue 15), end to end on the embedded chain: whole accounts over
linked leaves, committed Groth16, the atomic bundle with the instrument table, the registry, the audit rebuilding
the venue parameters from public data, and the user check over every part of a split account.

Attacks (each an operator's move after or during publication, each refused by a named check): a part of a split
account left out of the inclusion file, or out of the proof; a bundle whose instrument table is not the committed
one (the table file alone, or the governed document with it); a user file pointing at another account's part; a part
missing from the operator's deliveries.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.operator import EpochResult
from zkmargin.prover.operator.chain_ops import ChainDeployment
from zkmargin.prover.operator.exchange import demo_engine
from zkmargin.prover.operator.venue_epoch import VenueOperator, VenueSpec
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.report import Report
from zkmargin.verifier.user import verify_account
from zkmargin.verifier.venue_audit import DELIVERIES_CHECK, MARKET_CHECK, PARAMS_CHECK, TABLE_CHECK
from zkmargin.verifier.venue_format import TABLE_FILE
from zkmargin.verifier.venue_user import PATHS_CHECK, STATEMENT_CHECK

pytestmark = pytest.mark.slow

SPEC = VenueSpec(leaves=8, positions=2, balances=2)  # small slots: accounts split over linked leaves
LINEAR = ("BTC-PERP", "ETH-PERP", "SOL-PERP", "XRP-PERP", "DOGE-PERP", "BNB-PERP", "ADA-PERP")


def _book(engine: MarginEngine) -> tuple[list[Account], Account]:
    """Accounts needing 1 to 4 leaves of the 2 x 2 shape (a whale with 7 perpetuals and 3 balances), a portfolio
    account with BTC options, one under MM with bad debt; and trudy's true account, of which the operator proves
    all but her last position (the returned book holds the operator's version)."""
    m = engine.snapshot.marks

    def pos(sym: str, q: float) -> Position:
        return Position(instrument=sym, quantity=demo.qt(q), entry_price=m[sym] if "PERP" in sym else None)

    book = [
        Account(account_id="alice", balances={"USDT": demo.qt(10_000)}, positions=[pos("BTC-PERP", 0.2)]),
        Account(
            account_id="whale",
            balances={"USDT": demo.qt(2e6), "BTC": demo.qt(3), "ETH": demo.qt(20)},
            positions=[pos(s, q) for s, q in zip(LINEAR, (5, -40, 900, 10_000, 90_000, -30, 20_000), strict=True)],
            realised_pnl=1_234_000_000,
        ),
        Account(
            account_id="pia",
            margin_mode="portfolio",
            balances={"USDT": demo.qt(50_000)},
            positions=[pos("BTC-PERP", -0.5), pos("BTC-30D-36000-C", 1.0), pos("BTC-7D-32400-P", -2.0)],
        ),
        Account(
            account_id="mallory",
            balances={"USDT": demo.qt(10)},
            positions=[pos("BTC-PERP", 2.0)],
            realised_pnl=-500 * 10**6,
        ),
        Account(account_id="bob", balances={"USDC": demo.qt(900), "BTC": demo.qt(-0.01)}, positions=[]),
    ]
    trudy = Account(
        account_id="trudy",
        balances={"USDT": demo.qt(3_000)},
        positions=[pos("ETH-PERP", 1.0), pos("SOL-PERP", 10), pos("XRP-PERP", -500)],
    )
    cheated = trudy.model_copy(update={"positions": trudy.positions[:2]})  # the short XRP left out of the proof
    return [*book, cheated], trudy


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> tuple[EpochResult, ChainDeployment, MarginEngine, Account]:
    root = tmp_path_factory.mktemp("venue-bundle")
    engine = demo_engine(now=int(time.time()))  # the embedded chain's clock is wall time (snapshot-clock check)
    book, trudy = _book(engine)
    op = VenueOperator(root, SPEC)
    chain = op.deploy_chain(engine, insurance_fund_micro_usd=100_000 * 10**6, max_unrepresented_ppm=0)
    res = op.run_epoch(1, engine, book)
    return res, chain, engine, trudy


def inclusion_file(res: EpochResult, account_id: str) -> Path:
    assert res.deliveries is not None
    return res.deliveries / inclusion.filename(account_id_commitment(account_id, res.user_secrets[account_id]))


def check(rep: Report, name: str) -> bool:
    found = [c for c in rep.checks if c.name == name]
    assert found, f"no check named {name!r}: {[c.name for c in rep.checks]}"
    return all(c.ok for c in found)


def _rehash(epoch_dir: Path) -> None:
    """What a cheating operator does after editing a file: list its new sha256 in the manifest."""
    m = json.loads((epoch_dir / fmt.MANIFEST).read_text())
    m["files"] = {rel: fmt.sha256_file(epoch_dir / rel) for rel in fmt.iter_files(epoch_dir)}
    (epoch_dir / fmt.MANIFEST).write_bytes(fmt.dumps(m))


def test_venue_epoch_end_to_end(venue: Any) -> None:
    res, chain, _, _ = venue
    assert res.excluded == []  # nothing left out for representation
    assert res.covered == 6 and res.batches >= 2  # whole accounts packed into 8-leaf batches
    assert res.manifest["circuit"] == "venue" and res.manifest["totals"]["leaves"] > res.covered
    rep = audit_bundle(res.path, registry=chain.registry, deliveries=res.deliveries)
    assert rep.malformed is None and rep.ok, rep.render()
    for name in (TABLE_CHECK, PARAMS_CHECK, MARKET_CHECK, DELIVERIES_CHECK):
        assert check(rep, name)
    solvent, _, covered, dev = chain.registry.is_solvent()
    assert covered == 6 and dev and solvent


def test_published_copy_has_no_private_data_and_checks(venue: Any, tmp_path: Path) -> None:
    """``zkmargin bundle publish``: no id, secret or inclusion file in the copy; the audit and a user's check run on
    the copy (the user keeps their own file)."""
    from zkmargin.prover.operator.publish import publish

    res, chain, _, _ = venue
    copy = publish(res.path.parent, tmp_path / "public")
    assert not (copy / inclusion.PRIVATE_DIR).exists()
    text = b"".join(f.read_bytes() for f in copy.rglob("*.json"))
    assert b"whale" not in text and format(res.user_secrets["whale"], "064x").encode() not in text
    assert audit_bundle(copy, registry=chain.registry).ok
    assert verify_account(copy, inclusion_file(res, "whale"), "whale", res.user_secrets["whale"], chain.registry).ok


def test_user_checks_every_part_of_a_split_account(venue: Any) -> None:
    res, chain, _, _ = venue
    f = inclusion_file(res, "whale")
    parts = json.loads(f.read_text())["parts"]
    assert len(parts) == 4  # 7 positions, 2 per leaf
    rep = verify_account(res.path, f, "whale", res.user_secrets["whale"], registry=chain.registry)
    assert rep.malformed is None and rep.ok, rep.render()
    shown = next(c.detail for c in rep.checks if c.name.startswith("committed data by name"))
    assert "DOGE-PERP" in shown and "part 3" in shown  # instruments by symbol, every part


def test_part_left_out_of_the_inclusion_file(venue: Any, tmp_path: Path) -> None:
    res, *_ = venue
    doc = json.loads(inclusion_file(res, "whale").read_text())
    doc["parts"] = doc["parts"][:-1]  # the last part (the whale's largest ids) withheld from the user
    f = tmp_path / "whale.json"
    f.write_text(json.dumps(doc))
    rep = verify_account(res.path, f, "whale", res.user_secrets["whale"])
    assert rep.malformed is None and not check(rep, STATEMENT_CHECK)
    doc["parts"] = [doc["parts"][0], doc["parts"][2]]  # a middle part withheld
    f.write_text(json.dumps(doc))
    rep = verify_account(res.path, f, "whale", res.user_secrets["whale"])
    assert not check(rep, "parts: numbered 0..n-1 at consecutive slots of one batch")


def test_part_left_out_of_the_proof(venue: Any, tmp_path: Path) -> None:
    """The operator proved trudy without her short XRP position: the leaves are consistent with one another and
    the audit cannot know, but her statement has the position, so her check fails by name."""
    res, _, _, trudy = venue
    doc = json.loads(inclusion_file(res, "trudy").read_text())
    honest = verify_account(res.path, inclusion_file(res, "trudy"), "trudy", res.user_secrets["trudy"])
    assert honest.ok  # the operator's own file agrees with what it proved
    doc["statement"]["positions"].append(
        {
            "instrument": "XRP-PERP",
            "quantity": trudy.positions[2].quantity,
            "entry_price": trudy.positions[2].entry_price,
            "entry_value": trudy.positions[2].entry_value,
            "isolated_margin": None,
        }
    )
    f = tmp_path / "trudy.json"
    f.write_text(json.dumps(doc))
    rep = verify_account(res.path, f, "trudy", res.user_secrets["trudy"])
    assert rep.malformed is None and not check(rep, STATEMENT_CHECK)


def test_user_file_pointing_at_another_accounts_part(venue: Any, tmp_path: Path) -> None:
    res, *_ = venue
    mine = json.loads(inclusion_file(res, "whale").read_text())
    other = json.loads(inclusion_file(res, "pia").read_text())
    mine["parts"][1] = {**other["parts"][0], "part": 1, "slot": mine["parts"][1]["slot"]}
    f = tmp_path / "whale.json"
    f.write_text(json.dumps(mine))
    rep = verify_account(res.path, f, "whale", res.user_secrets["whale"])
    assert rep.malformed is None and not check(rep, PATHS_CHECK)
    mine["batch"] = other["batch"]  # pointing at pia's batch and slot instead
    mine["parts"] = [{**other["parts"][0]}]
    f.write_text(json.dumps(mine))
    rep = verify_account(res.path, f, "whale", res.user_secrets["whale"])
    assert not rep.ok and not check(rep, PATHS_CHECK)


def test_bundle_whose_instrument_table_is_not_the_committed_one(venue: Any, tmp_path: Path) -> None:
    res, chain, _, _ = venue
    d = tmp_path / res.path.name
    shutil.copytree(res.path, d)
    table = json.loads((d / TABLE_FILE).read_text())
    table["instruments"][0]["basis_cap_bps"] += 100  # looser basis cap shown to readers of the table
    (d / TABLE_FILE).write_bytes(fmt.dumps(table))
    _rehash(d)
    rep = audit_bundle(d, registry=chain.registry)
    assert rep.malformed is None and not check(rep, TABLE_CHECK) and check(rep, PARAMS_CHECK)
    # the same edit in the governed document too: the rebuilt commitment and the registry's document hash differ
    params = json.loads((d / fmt.PARAMS).read_text())
    params["governed_document"]["instrument_table"] = table
    (d / fmt.PARAMS).write_bytes(fmt.dumps(params))
    _rehash(d)
    rep = audit_bundle(d, registry=chain.registry)
    assert not check(rep, PARAMS_CHECK) and check(rep, TABLE_CHECK)
    assert not check(rep, "params: manifest's parameter version = sha256 of the governed document")


def test_audit_finds_a_part_missing_from_the_deliveries(venue: Any, tmp_path: Path) -> None:
    res, *_ = venue
    assert res.deliveries is not None
    d = tmp_path / "deliveries"
    shutil.copytree(res.deliveries, d)
    f = d / inclusion_file(res, "whale").name
    doc = json.loads(f.read_text())
    doc["parts"] = doc["parts"][:-1]
    f.write_text(json.dumps(doc))
    rep = audit_bundle(res.path, deliveries=d)
    assert rep.malformed is None and not check(rep, DELIVERIES_CHECK)


def test_cli_epoch_from_a_snapshot_on_the_venue_circuit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``zkmargin epoch --snapshot DIR --circuit venue``: a snapshot of a slice of the venue-scale demo venue (its
    governed parameters), proven whole over linked leaves; then ``zkmargin audit`` and ``zkmargin user verify`` on
    the bundle, from the command line."""
    from zkmargin.cli import main
    from zkmargin.prover.operator.snapshot import write_snapshot
    from zkmargin.prover.venue_scale import scale_engine

    full = scale_engine()
    keep = ["BTC-PERP", "ETH-PERP", "SOL-PERP", "XRP-USDC-PERP", "BTC-30D-36000-C", "BTC-30D-36000-P"]
    snap0 = full.snapshot.model_copy(update={"marks": {s: full.snapshot.marks[s] for s in keep}})
    eng = MarginEngine({s: full.instruments[s] for s in keep}, full.params, snap0, full.risk_arrays)
    m = eng.snapshot.marks
    book = [
        Account(account_id=f"u{i}", margin_mode="portfolio" if i % 2 else "cross",
                balances={"USDT": demo.qt(20_000 + i), "ETH": demo.qt(0.5)},
                positions=[Position(instrument=s, quantity=demo.qt(0.01 * (i + 1)), entry_price=m[s])
                           for s in keep[: 1 + i % 4]] + ([Position(instrument=keep[4], quantity=demo.qt(-1))]
                                                           if i % 2 else []))
        for i in range(5)
    ]  # fmt: skip
    snap = write_snapshot(tmp_path / "snap", eng, book)
    out = tmp_path / "bundle"
    assert main(["-q", "epoch", "--snapshot", str(snap), "--out", str(out), "--circuit", "venue", "--batch", "4"]) == 0
    assert "bundle:" in capsys.readouterr().out
    manifest = json.loads((out / fmt.epoch_dirname(1) / fmt.MANIFEST).read_text())
    assert manifest["circuit"] == "venue" and manifest["totals"]["accounts_covered"] == 5
    assert manifest["totals"]["accounts_unrepresented"] == 0 and len(manifest["batches"]) >= 2
    assert main(["audit", "--bundle", str(out)]) == 1  # a dev setup without a development-mode registry to tell
    failed = [x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("[FAIL]")]
    assert len(failed) == 1 and "setup: not a development (single-party) setup" in failed[0]
    f = next((out / inclusion.PRIVATE_DIR / fmt.epoch_dirname(1)).glob("*.json"))
    assert main(["user", "verify", "--bundle", str(out), "--inclusion", str(f)]) == 0
    assert "Merkle paths: every part" in capsys.readouterr().out
    assert main(["-q", "epoch", "--snapshot", str(snap), "--out", str(out), "--circuit", "venue", "--epoch", "1",
                 "--batch", "4"]) == 0  # fmt: skip  # already published: reloaded, nothing proven again
    assert main(["demo", "--circuit", "venue", "--proof-system", "plain", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--accounts", "0"], "--accounts: must be at least 1"),
        (["--batch", "0"], "--batch: must be at least 1"),
        (["--devnet"], "--circuit: venue"),
        (["--proof-system", "plain"], "--proof-system: the venue circuit is committed Groth16 only"),
        (["--rpc", "not-a-url"], "--rpc: expected an http"),
    ],
)
def test_venue_demo_bad_options_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    from zkmargin.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--circuit", "venue", "--out", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_crashed_venue_epoch_resumes_from_its_cached_proofs(tmp_path: Path) -> None:
    """A crash after the first batch proof: the rerun reuses that proof (it verifies) and publishes the same epoch."""
    engine = demo_engine()
    book, _ = _book(engine)

    class Crash(RuntimeError):
        pass

    def crash_after_first(stage: str, done: int, total: int) -> None:
        if stage == "prove batches" and done == 1:
            raise Crash

    op = VenueOperator(tmp_path, SPEC, progress=crash_after_first)
    with pytest.raises(Crash):
        op.run_epoch(1, engine, book)
    cached = list((tmp_path / ".work" / fmt.epoch_dirname(1)).glob("batch-*.json"))
    assert [p.name for p in cached] == ["batch-0000.json"] and not (tmp_path / fmt.epoch_dirname(1)).exists()
    first = json.loads(cached[0].read_text())["proof"]
    res = VenueOperator(tmp_path, SPEC).run_epoch(1, engine, book)
    published = json.loads((res.path / fmt.batch_files(0)[0]).read_text())
    assert published == first  # the cached proof, not a new one (a new proof would differ: fresh randomness)
    assert res.covered == len(book) and not (tmp_path / ".work" / fmt.epoch_dirname(1)).exists()
    rep = audit_bundle(res.path, deliveries=res.deliveries)
    assert [c.name for c in rep.failed()] == ["setup: not a development (single-party) setup"]  # no registry


def test_an_epoch_too_large_for_one_attestation_is_refused_before_proving(venue: Any, monkeypatch: Any) -> None:
    """An epoch whose submission transactions would exceed the chain's gas ceiling is refused up front (naming
    --batch), not after minutes of proving. The estimate matches the measured epochs. Since epochs go in parts above
    chain_ops.BATCHES_PER_TX batches, the 10,000-account venue epoch fits; it would not in one transaction."""
    from zkmargin.prover.operator import chain_ops
    from zkmargin.prover.operator.venue_epoch import EpochTooLarge, check_epoch_fits, epoch_gas_estimate

    res, chain, _, _ = venue
    measured = int(res.chain["gas_used"])
    assert abs(epoch_gas_estimate(res.batches, 10) - measured) < 0.1 * measured
    check_epoch_fits(chain, res.batches, 10)
    check_epoch_fits(chain, 215, 53)  # 10,000 accounts of the venue-scale demo at 64 leaves per batch: in parts
    monkeypatch.setattr(chain_ops, "BATCHES_PER_TX", 10_000)  # as if the registry took an epoch in one transaction
    with pytest.raises(EpochTooLarge, match="--batch"):
        check_epoch_fits(chain, 215, 53)
