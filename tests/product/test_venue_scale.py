"""The venue-scale demo venue (issue 15's floor for the demo) and its synthetic book: no proving, only the table, the
shape and the layout over linked leaves, so it runs in seconds."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.operator.venue_epoch import VenueSpec, classify_venue, pack_batches, shape_of, venue_table
from zkmargin.prover.venue_scale import ASSETS, scale_engine, synthetic_book
from zkmargin.prover.venue_witness import split_account


@pytest.fixture(scope="module")
def engine() -> MarginEngine:
    return scale_engine()


def test_the_demo_venue_meets_the_issue_floor(engine: MarginEngine) -> None:
    table = venue_table(engine, VenueSpec(assets=ASSETS))
    kinds = Counter(r.kind for r in table.instruments)
    perp_underlyings = {r.underlying for r in table.instruments if r.kind == "perpetual"}
    collateral = [a for a in table.assets if any(t.rate > 0 for t in engine.params.haircuts.get(a, []))]
    assert kinds["perpetual"] >= 200 and len(perp_underlyings) >= 50
    assert kinds["option"] >= 500 and len(collateral) >= 20
    assert len(table.instruments) == len(engine.instruments)  # every listed instrument is governed, none dropped
    grids = {r.underlying for r in table.instruments if r.risk_row}
    assert {"BTC", "ETH", "SOL"} <= grids  # portfolio margin beyond BTC: ETH and SOL scenario grids


def test_the_synthetic_book_is_heavy_tailed_and_fully_provable(engine: MarginEngine) -> None:
    spec = VenueSpec(assets=ASSETS)
    table = venue_table(engine, spec)
    shape = shape_of(engine, table, spec)
    book = synthetic_book(engine, 2000, seed=3)
    cls = classify_venue(engine, table, shape, book)
    assert cls.excluded == [] and len(cls.provable) == len(book)  # nothing excluded for representation
    held = [len(a.positions) for a in book]
    assert 0.75 <= sum(1 <= k <= 3 for k in held) / len(book) <= 0.95  # most hold 1-3 instruments
    assert max(held) >= 30  # a long tail holds dozens
    equity = sorted(r.equity for r in cls.results.values())
    assert equity[-1] > 50 * statistics.median(equity)  # heavy-tailed sizes
    assert len({a for x in book for a in x.balances}) >= 15  # collateral spread over many assets
    leaves = [len(split_account(engine, a, table, shape)) for a in book]
    assert statistics.median(leaves) == 1 and max(leaves) > 4  # most in one leaf, the tail over linked leaves
    secrets = {a.account_id: i + 1 for i, a in enumerate(book)}
    batches = pack_batches(engine, table, shape, book, secrets)
    assert sum(len(b) for b in batches) == len(book)  # every account placed, whole
    sizes = [sum(len(split_account(engine, a, table, shape)) for a in b) for b in batches]
    assert max(sizes) <= shape.accounts and sum(sizes) == sum(leaves)


def test_the_venue_audit_and_user_check_never_import_the_prover() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import zkmargin.verifier.venue_user, zkmargin.verifier.venue_audit, zkmargin.verifier.audit\n"
        "bad = [m for m in sys.modules if m.startswith('zkmargin.prover')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
