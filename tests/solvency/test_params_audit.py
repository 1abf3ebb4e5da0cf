"""The audit rebuilds every circuit parameter from the published documents (issue 11, holes 1 and 3): an operator
that moves an option mark, loosens a rate behind governance's back, publishes a price other than the oracle's or
pushes the vol surface under the governed floor fails a named check, even when its proof is valid."""

from __future__ import annotations

from typing import Any

import pytest

from zkmargin.circuits.rules.circuit_inputs import document_hash, governed_document
from zkmargin.circuits.solvency.shape import PUB_MARKET_COMMITMENT, PUB_PARAMS_COMMITMENT
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import BatchLayout, SolvencyBatch
from zkmargin.verifier.params_audit import audit_parameters
from zkmargin.verifier.report import Report


def run(
    engine: MarginEngine,
    layout: BatchLayout,
    batch: SolvencyBatch,
    governed: dict[str, Any] | None = None,
    market: Any = None,
    prices: list[int] | None = None,
    market_commitment: int | None = None,
) -> Report:
    rep = Report("params")
    audit_parameters(
        rep,
        governed if governed is not None else governed_document(engine.params, engine.instruments, layout),
        market if market is not None else engine.snapshot.model_dump(mode="json"),
        layout.shape,
        prices if prices is not None else batch.prices(),
        batch.public[PUB_PARAMS_COMMITMENT],
        market_commitment if market_commitment is not None else batch.public[PUB_MARKET_COMMITMENT],
    )
    return rep


def failed(rep: Report) -> list[str]:
    return [c.name for c in rep.failed()]


def test_honest_documents_pass(engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch) -> None:
    rep = run(engine, layout, batch)
    assert rep.ok, rep.render()
    assert len(rep.checks) >= 8


def test_option_mark_moved_12_percent(engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch) -> None:
    snap = engine.snapshot.model_dump(mode="json")
    snap["marks"]["BTC-7D-36000-C"] = round(snap["marks"]["BTC-7D-36000-C"] * 1.12)
    assert "market: option marks = Black-76 on the published vol surface at the attested index" in failed(
        run(engine, layout, batch, market=snap)
    )


def test_proof_with_another_market_than_the_published_one(
    engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch
) -> None:
    # honest snapshot published, but the proof committed to other marks / risk arrays
    rep = run(engine, layout, batch, market_commitment=batch.public[PUB_MARKET_COMMITMENT] + 1)
    assert failed(rep) == ["market: market_commitment rebuilt from the snapshot (marks, risk arrays) = the proven one"]


def test_rate_loosened_behind_governance(engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch) -> None:
    # the operator publishes a looser (still valid) parameter set than the one it proved with
    loose = engine.params.model_copy(update={"mm_ratio": engine.params.mm_ratio - 1})
    doc = governed_document(loose, engine.instruments, layout)
    assert document_hash(doc) != document_hash(governed_document(engine.params, engine.instruments, layout))
    assert "params: params_commitment rebuilt from the governed document = the proven one" in failed(
        run(engine, layout, batch, governed=doc)
    )


def test_zero_rates_document_is_refused(engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch) -> None:
    doc = governed_document(engine.params, engine.instruments, layout)
    doc["risk_parameters"]["mm_ratio"] = 0
    assert failed(run(engine, layout, batch, governed=doc)) == [
        "params: governed document and market snapshot well formed"
    ]


def test_price_other_than_the_oracle(engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch) -> None:
    prices = batch.prices()
    prices[0] += 1
    assert "market: index = spot = attested oracle price for every slot and asset" in failed(
        run(engine, layout, batch, prices=prices)
    )
    snap = engine.snapshot.model_dump(mode="json")
    snap["index_prices"]["BTC"] += 10**8  # index and spot disagree
    assert "market: index = spot = attested oracle price for every slot and asset" in failed(
        run(engine, layout, batch, market=snap)
    )


@pytest.mark.parametrize("vol", [0.01, 0.099])
def test_vol_surface_under_the_governed_floor(
    engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch, vol: float
) -> None:
    snap = engine.snapshot.model_dump(mode="json")
    snap["vol_surfaces"]["BTC"]["vols"][0][0] = vol
    assert any("implied vols" in n for n in failed(run(engine, layout, batch, market=snap)))
