"""Fixtures: the small exchange, a 4-slot circuit over it (plain and lookup mode), and an honest batch of three
accounts + one empty slot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from solvency_helpers import ASSETS, SLOTS, account, small_engine

from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import BatchLayout, SolvencyBatch, build_batch, make_layout


@pytest.fixture(scope="session")
def engine() -> MarginEngine:
    return small_engine()


@pytest.fixture(scope="session")
def layout(engine: MarginEngine) -> BatchLayout:
    return make_layout(engine, SLOTS, ASSETS, accounts=4)


@pytest.fixture(scope="session", params=["plain", "lookups"])
def circuit(request: pytest.FixtureRequest, layout: BatchLayout) -> SolvencyCircuit:
    """Both modes: every test taking this fixture (the attack suite, the bridge, the binding and red-team checks) runs
    against the plain circuit and against the lookup circuit (same statement, LogUp range checks)."""
    return SolvencyCircuit(layout.shape, lookups=request.param == "lookups")


@pytest.fixture(scope="session")
def batch(engine: MarginEngine, layout: BatchLayout) -> SolvencyBatch:
    accts = [
        account("alice", 10_000, 0.5, btc_perp=0.3, eth_perp=-2),
        account("bob", 5_000, -0.01, btc_perp=-0.2, option=-1, mode="portfolio"),
        account("carol", 2_000, eth_perp=3, entry_shift=1.01),
    ]
    return build_batch(engine, accts, layout, epoch=7, secret=b"test-secret")


@pytest.fixture(scope="session")
def witness(circuit: SolvencyCircuit, batch: SolvencyBatch) -> list[int]:
    return circuit.witness(batch.inputs)
