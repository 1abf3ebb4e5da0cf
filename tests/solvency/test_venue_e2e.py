"""The venue circuit end to end with the committed proof system: engine accounts over the instrument table ->
witness (challenge derived from D) -> dev setup of a committed key -> prove_committed -> verify_committed; altered
published signals (the account count, totals, a liability, the parameter commitment) each fail verification."""

from __future__ import annotations

import pytest
from solvency_helpers import account, small_engine

from zkmargin.circuits.field import R
from zkmargin.circuits.rules.instrument_table import build_instrument_table, venue_shape
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.circuits.solvency.venue_shape import venue_public_names
from zkmargin.prover.committed import dev_setup_committed, prove_committed
from zkmargin.prover.venue_witness import build_venue_batch
from zkmargin.verifier.committed import verify_committed


@pytest.mark.slow
def test_venue_batch_proves_and_verifies() -> None:
    engine = small_engine()
    insts = {
        s: i
        for s, i in engine.instruments.items()
        if s in engine.params.brackets or (i.kind == "option" and i.underlying in engine.params.scenario_grids)
    }
    table = build_instrument_table(insts, engine.params, ["USDT", "BTC", "ETH", "USD"])
    shape = venue_shape(table, engine.params, 4, 1, 1)
    accts = [account("e2e-1", 10_000, 0.5, btc_perp=0.3), account("e2e-2", 5_000, option=-1, mode="portfolio")]
    batch = build_venue_batch(engine, accts, table, shape, epoch=3, secret=b"venue-e2e")
    assert len(batch.leaves) == 3  # e2e-1 (one position, two balances) spans two linked leaves
    circuit = VenueCircuit(shape)
    key = dev_setup_committed(circuit.r1cs)
    proof, public = prove_committed(key, circuit.cs, batch.inputs)
    assert public == batch.public
    assert verify_committed(key.vk, proof, public)
    names = venue_public_names(shape.assets)
    for name in ("account_count", "total_equity", "total_mm", "liabilities[0]", "params_commitment"):
        alt = list(public)
        i = names.index(name)
        alt[i] = (alt[i] + 1) % R
        assert not verify_committed(key.vk, proof, alt), name
