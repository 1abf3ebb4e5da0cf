"""The public-signal layout of a batch proof and the epoch attestation built from batches.

This module is the single source of truth for the layout; the solvency circuit implements it and
``contracts/AttestationLayout.sol`` mirrors it. With A assets (a circuit-shape parameter):

====================  ======================================================================
index                 signal
====================  ======================================================================
0                     epoch (uint64)
1                     batch_root: Poseidon Merkle root of the batch's account leaves
2                     params_commitment: Poseidon commitment to the risk parameters (not prices)
3, 4                  first_id_hash, last_id_hash (ids strictly increasing inside a batch)
5                     account_count
6, 7                  total_equity, total_mm (fixed-point, non-negative)
8 .. 8+A-1            prices[A]: spot prices (1e8) of the collateral assets, checked against oracle feeds
8+A .. 8+2A-1         liabilities[A]: sum of user balances per asset
====================  ======================================================================

Epoch, params commitment and prices are shared by every batch of an epoch; the registry
computes their share of the verifier's linear combination once per attestation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkmargin.circuits.field import R
from zkmargin.circuits.solvency.shape import (
    FIXED_PUBLIC_NAMES,
    PUB_ACCOUNT_COUNT,
    PUB_BATCH_ROOT,
    PUB_EPOCH,
    PUB_FIRST_ID_HASH,
    PUB_LAST_ID_HASH,
    PUB_PARAMS_COMMITMENT,
    PUB_PRICES,
    PUB_TOTAL_EQUITY,
    PUB_TOTAL_MM,
)

from .groth16 import MalformedInput, verify
from .types import Proof, VerifyingKey

DEFAULT_ASSETS = 4
PRICE_DECIMALS_TEST = 8  # decimals of the test feeds; production decimals are the engine's

# The layout is defined once, beside the circuit that produces it.
SIGNAL_NAMES_FIXED = FIXED_PUBLIC_NAMES
EPOCH = PUB_EPOCH
BATCH_ROOT = PUB_BATCH_ROOT
PARAMS_COMMITMENT = PUB_PARAMS_COMMITMENT
FIRST_ID_HASH = PUB_FIRST_ID_HASH
LAST_ID_HASH = PUB_LAST_ID_HASH
ACCOUNT_COUNT = PUB_ACCOUNT_COUNT
TOTAL_EQUITY = PUB_TOTAL_EQUITY
TOTAL_MM = PUB_TOTAL_MM
PRICES = PUB_PRICES

UINT64_MAX = (1 << 64) - 1


def liabilities_start(n_assets: int) -> int:
    return PRICES + n_assets


def n_public(n_assets: int = DEFAULT_ASSETS) -> int:
    return PRICES + 2 * n_assets


def signal_names(n_assets: int = DEFAULT_ASSETS) -> list[str]:
    """Names of the public signals in layout order (for circuits and error messages)."""
    return [
        *SIGNAL_NAMES_FIXED,
        *(f"prices[{i}]" for i in range(n_assets)),
        *(f"liabilities[{i}]" for i in range(n_assets)),
    ]


def shared_indices(n_assets: int = DEFAULT_ASSETS) -> list[int]:
    """Signals equal across all batches of an epoch."""
    return [EPOCH, PARAMS_COMMITMENT, *range(PRICES, PRICES + n_assets)]


@dataclass(frozen=True)
class BatchStatement:
    """What one batch proof states, minus the epoch-wide signals."""

    batch_root: int
    first_id_hash: int
    last_id_hash: int
    account_count: int
    total_equity: int
    total_mm: int
    liabilities: tuple[int, ...]

    def public_signals(self, epoch: int, params_commitment: int, prices: Sequence[int]) -> list[int]:
        if len(prices) != len(self.liabilities):
            raise ValueError(f"{len(prices)} prices but {len(self.liabilities)} liabilities")
        return [
            epoch,
            self.batch_root,
            params_commitment,
            self.first_id_hash,
            self.last_id_hash,
            self.account_count,
            self.total_equity,
            self.total_mm,
            *prices,
            *self.liabilities,
        ]


@dataclass(frozen=True)
class EpochStatement:
    """The epoch-wide signals: one value for every batch of the epoch."""

    epoch: int
    params_commitment: int
    prices: tuple[int, ...]


def split_public_signals(
    signals: Sequence[int], n_assets: int = DEFAULT_ASSETS
) -> tuple[EpochStatement, BatchStatement]:
    """Inverse of :meth:`BatchStatement.public_signals`."""
    if len(signals) != n_public(n_assets):
        raise MalformedInput("public", f"expected {n_public(n_assets)} signals for {n_assets} assets")
    s = list(signals)
    lo = liabilities_start(n_assets)
    ep = EpochStatement(s[EPOCH], s[PARAMS_COMMITMENT], tuple(s[PRICES:lo]))
    bt = BatchStatement(
        s[BATCH_ROOT], s[FIRST_ID_HASH], s[LAST_ID_HASH], s[ACCOUNT_COUNT], s[TOTAL_EQUITY], s[TOTAL_MM], tuple(s[lo:])
    )
    return ep, bt


@dataclass(frozen=True)
class EpochAttestation:
    """An epoch's attestation as submitted on-chain: shared signals plus (statement, proof) per batch."""

    epoch: int
    params_commitment: int
    prices: tuple[int, ...]
    batches: tuple[tuple[BatchStatement, Proof], ...]

    @property
    def n_assets(self) -> int:
        return len(self.prices)

    def public_signals(self, i: int) -> list[int]:
        return self.batches[i][0].public_signals(self.epoch, self.params_commitment, self.prices)

    @property
    def total_equity(self) -> int:
        return sum(b.total_equity for b, _ in self.batches)

    @property
    def total_mm(self) -> int:
        return sum(b.total_mm for b, _ in self.batches)

    @property
    def account_count(self) -> int:
        return sum(b.account_count for b, _ in self.batches)

    @property
    def liabilities(self) -> tuple[int, ...]:
        return tuple(sum(b.liabilities[i] for b, _ in self.batches) for i in range(self.n_assets))

    @property
    def batch_roots(self) -> list[int]:
        return [b.batch_root for b, _ in self.batches]


def check_attestation(vk: VerifyingKey, att: EpochAttestation) -> None:
    """Off-chain mirror of the registry's checks (all but the price feeds and epoch ordering).

    Raises MalformedInput for malformed values and ValueError (with the registry's wording) for a
    statement the registry would reject; returns None when the registry would accept it.
    """
    if not att.batches:
        raise ValueError("no batches")
    if not 0 <= att.epoch <= UINT64_MAX:
        raise MalformedInput("epoch", "must be a uint64")
    if vk.n_public != n_public(att.n_assets):
        raise MalformedInput("vk", f"expects {vk.n_public} public signals, layout has {n_public(att.n_assets)}")
    prev_last: int | None = None
    for i, (bt, proof) in enumerate(att.batches):
        if len(bt.liabilities) != att.n_assets:
            raise MalformedInput(f"batches[{i}].liabilities", f"expected {att.n_assets} values")
        if prev_last is not None and not prev_last < bt.first_id_hash:
            raise ValueError("batch id ranges overlap")
        if bt.first_id_hash > bt.last_id_hash:
            raise ValueError("batch id range reversed")
        signals = att.public_signals(i)
        for j, x in enumerate(signals):
            if not 0 <= x < R:
                raise MalformedInput(f"batches[{i}].{signal_names(att.n_assets)[j]}", "must be in [0, r)")
        if not verify(vk, proof, signals, validate_key=i == 0):
            raise ValueError(f"invalid proof in batch {i}")
        prev_last = bt.last_id_hash
