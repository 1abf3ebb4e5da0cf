"""Helpers for the witness-path tests: a witness under a given loop (C or Python) and worker count, a small venue
circuit and its batch, and a deterministic commitment callback (a proof derives the challenge from D; any fixed
function of the committed values serves to compare two witness paths)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from solvency_helpers import account, small_engine

from zkmargin.circuits import witness_parallel
from zkmargin.circuits.field import R
from zkmargin.circuits.r1cs import CommitFn, ConstraintSystem
from zkmargin.circuits.rules.instrument_table import build_instrument_table, venue_shape
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.prover.venue_witness import VenueBatch, build_venue_batch

VENUE_ASSETS = ["USDT", "BTC", "ETH", "USD", "USDC"]


def fixed_commit(values: list[int], public: list[int]) -> int:
    """A challenge that depends on every committed and public value (so a wrong value anywhere changes it)."""
    acc = 7
    for v in (*values, *public):
        acc = (acc * 1_000_003 + v) % R
    return acc


@contextmanager
def witness_env(pure: bool, workers: int, min_cost: int | None = None) -> Iterator[None]:
    """ZKMARGIN_PURE_PYTHON / ZKMARGIN_WITNESS_WORKERS set for the block (and the parallel thresholds lowered to
    ``min_cost`` so that a small test circuit takes the parallel path)."""
    saved = {k: os.environ.get(k) for k in ("ZKMARGIN_PURE_PYTHON", "ZKMARGIN_WITNESS_WORKERS")}
    costs = (witness_parallel.MIN_FORK_COST, witness_parallel.MIN_THREAD_COST, witness_parallel.GIL_COST)
    if pure:
        os.environ["ZKMARGIN_PURE_PYTHON"] = "1"
    else:
        os.environ.pop("ZKMARGIN_PURE_PYTHON", None)
    os.environ["ZKMARGIN_WITNESS_WORKERS"] = str(workers)
    if min_cost is not None:
        witness_parallel.MIN_FORK_COST = witness_parallel.MIN_THREAD_COST = witness_parallel.GIL_COST = min_cost
    try:
        yield
    finally:
        witness_parallel.MIN_FORK_COST, witness_parallel.MIN_THREAD_COST, witness_parallel.GIL_COST = costs
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def witness_with(
    cs: ConstraintSystem,
    inputs: Mapping[str, int],
    pure: bool,
    workers: int = 1,
    commit: CommitFn | None = None,
    min_cost: int | None = None,
) -> list[int]:
    with witness_env(pure, workers, min_cost):
        return cs.witness(dict(inputs), commit=commit if cs.has_commitment else None)


def small_venue() -> tuple[VenueCircuit, VenueBatch]:
    """A 2 x 2 venue circuit of 8 leaves over the small exchange, with accounts spanning linked leaves (the carry
    from one leaf to the next is what makes the venue's units depend on each other)."""
    engine = small_engine()
    insts = {
        s: i
        for s, i in engine.instruments.items()
        if s in engine.params.brackets or (i.kind == "option" and i.underlying in engine.params.scenario_grids)
    }
    table = build_instrument_table(insts, engine.params, VENUE_ASSETS)
    shape = venue_shape(
        table, engine.params, 8, 2, 2, instruments=len(table.instruments) + 3, ladders=len(table.ladders) + 2
    )
    book = [
        account("cross", btc_perp=0.5, eth_perp=-2, btc=0.1),
        account("portfolio", option=-1, btc_perp=0.2, mode="portfolio", btc=0.2, realised=5_000_000),
        account("under-mm", usdt=100, btc_perp=1.0),
        account("borrower", usdt=20_000, btc=-0.05, eth_perp=3),
    ]
    batch = build_venue_batch(engine, book, table, shape, epoch=7, secret=b"venue")
    return VenueCircuit(shape), batch


Hint = Callable[..., int | list[int]]
