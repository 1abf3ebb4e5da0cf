"""The public-signal layout of a batch proof and the epoch attestation built from batches.

The layout is defined beside the circuit (``circuits/solvency/shape.py``); this module mirrors it for the
verifier side and ``contracts/AttestationLayout.sol`` mirrors it on-chain. With A assets:

====================  ======================================================================
index                 signal
====================  ======================================================================
0                     epoch (uint64)
1                     batch_root: Poseidon Merkle root of the batch's account leaves
2                     params_commitment: governed risk parameters (must equal the registry's)
3                     market_commitment: per-epoch marks and risk arrays (recomputed by the audit)
4, 5                  first_id_hash, last_id_hash (ids strictly increasing inside a batch)
6                     account_count
7, 8                  total_equity (sum of max(equity, 0)), total_mm
9                     under_mm_count: accounts with equity < MM
10                    total_shortfall: sum of max(0, MM - equity)
11                    total_bad_debt: sum of max(0, -equity)
12 .. 12+A-1          prices[A]: spot prices (1e8) of the collateral assets, checked against oracle feeds
12+A .. 12+2A-1       liabilities[A]: sum of user balances per asset
====================  ======================================================================

Epoch, params commitment, market commitment and prices are shared by every batch of an epoch; the
registry computes their share of the verifier's linear combination once per attestation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from zkmargin.circuits.field import R
from zkmargin.circuits.solvency.shape import (
    FIXED_PUBLIC_NAMES,
    PUB_ACCOUNT_COUNT,
    PUB_BATCH_ROOT,
    PUB_EPOCH,
    PUB_FIRST_ID_HASH,
    PUB_LAST_ID_HASH,
    PUB_MARKET_COMMITMENT,
    PUB_PARAMS_COMMITMENT,
    PUB_PRICES,
    PUB_TOTAL_BAD_DEBT,
    PUB_TOTAL_EQUITY,
    PUB_TOTAL_MM,
    PUB_TOTAL_SHORTFALL,
    PUB_UNDER_MM_COUNT,
)

from .committed import CommittedProof, CommittedVerifyingKey, verify_committed
from .groth16 import MalformedInput, verify
from .types import Proof, VerifyingKey

DEFAULT_ASSETS = 4
PRICE_DECIMALS_TEST = 8  # decimals of the test feeds; production decimals are the engine's

# The layout is defined once, beside the circuit that produces it.
SIGNAL_NAMES_FIXED = FIXED_PUBLIC_NAMES
EPOCH = PUB_EPOCH
BATCH_ROOT = PUB_BATCH_ROOT
PARAMS_COMMITMENT = PUB_PARAMS_COMMITMENT
MARKET_COMMITMENT = PUB_MARKET_COMMITMENT
FIRST_ID_HASH = PUB_FIRST_ID_HASH
LAST_ID_HASH = PUB_LAST_ID_HASH
ACCOUNT_COUNT = PUB_ACCOUNT_COUNT
TOTAL_EQUITY = PUB_TOTAL_EQUITY
TOTAL_MM = PUB_TOTAL_MM
UNDER_MM_COUNT = PUB_UNDER_MM_COUNT
TOTAL_SHORTFALL = PUB_TOTAL_SHORTFALL
TOTAL_BAD_DEBT = PUB_TOTAL_BAD_DEBT
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
    return [EPOCH, PARAMS_COMMITMENT, MARKET_COMMITMENT, *range(PRICES, PRICES + n_assets)]


@dataclass(frozen=True)
class BatchStatement:
    """What one batch proof states, minus the epoch-wide signals.

    ``under_mm_count``, ``total_shortfall`` and ``total_bad_debt`` are keyword-only and default to 0 (a solvent
    batch); every consumer checks them against a proof, so a wrong value fails verification, it never passes.
    """

    batch_root: int
    first_id_hash: int
    last_id_hash: int
    account_count: int
    total_equity: int
    total_mm: int
    liabilities: tuple[int, ...]
    under_mm_count: int = field(default=0, kw_only=True)
    total_shortfall: int = field(default=0, kw_only=True)
    total_bad_debt: int = field(default=0, kw_only=True)

    def public_signals(
        self, epoch: int, params_commitment: int, prices: Sequence[int], *, market_commitment: int | None = None
    ) -> list[int]:
        """The batch's public signals in layout order. ``market_commitment`` (signal 3) is required; it is
        keyword-only so that callers written for the previous layout fail loudly here."""
        if market_commitment is None:
            raise ValueError("market_commitment is required (public signal 3 of the layout)")
        if len(prices) != len(self.liabilities):
            raise ValueError(f"{len(prices)} prices but {len(self.liabilities)} liabilities")
        return [
            epoch,
            self.batch_root,
            params_commitment,
            market_commitment,
            self.first_id_hash,
            self.last_id_hash,
            self.account_count,
            self.total_equity,
            self.total_mm,
            self.under_mm_count,
            self.total_shortfall,
            self.total_bad_debt,
            *prices,
            *self.liabilities,
        ]


@dataclass(frozen=True)
class EpochStatement:
    """The epoch-wide signals: one value for every batch of the epoch."""

    epoch: int
    params_commitment: int
    market_commitment: int
    prices: tuple[int, ...]


def split_public_signals(
    signals: Sequence[int], n_assets: int = DEFAULT_ASSETS
) -> tuple[EpochStatement, BatchStatement]:
    """Inverse of :meth:`BatchStatement.public_signals`."""
    if len(signals) != n_public(n_assets):
        raise MalformedInput("public", f"expected {n_public(n_assets)} signals for {n_assets} assets")
    s = list(signals)
    lo = liabilities_start(n_assets)
    ep = EpochStatement(s[EPOCH], s[PARAMS_COMMITMENT], s[MARKET_COMMITMENT], tuple(s[PRICES:lo]))
    bt = BatchStatement(
        s[BATCH_ROOT],
        s[FIRST_ID_HASH],
        s[LAST_ID_HASH],
        s[ACCOUNT_COUNT],
        s[TOTAL_EQUITY],
        s[TOTAL_MM],
        tuple(s[lo:]),
        under_mm_count=s[UNDER_MM_COUNT],
        total_shortfall=s[TOTAL_SHORTFALL],
        total_bad_debt=s[TOTAL_BAD_DEBT],
    )
    return ep, bt


@dataclass(frozen=True)
class EpochAttestation:
    """An epoch's attestation as submitted on-chain: shared signals, (statement, proof) per batch, and the
    venue's coverage declaration.

    ``declared_accounts`` is the venue's total account count and ``unrepresented_accounts`` the accounts the
    circuit cannot represent; the registry requires ``account_count + unrepresented_accounts ==
    declared_accounts``. The three fields after ``batches`` are keyword-only; they default to None only so
    that code written for the previous layout still type-checks: anything that builds signals, encodes a
    submission or checks one raises on None, and :meth:`OnChainAttestation.matches` never matches it.
    """

    epoch: int
    params_commitment: int
    prices: tuple[int, ...]
    batches: tuple[tuple[BatchStatement, Proof | CommittedProof], ...]  # all plain or all committed
    market_commitment: int | None = field(default=None, kw_only=True)
    declared_accounts: int | None = field(default=None, kw_only=True)
    unrepresented_accounts: int | None = field(default=None, kw_only=True)

    @property
    def n_assets(self) -> int:
        return len(self.prices)

    def public_signals(self, i: int) -> list[int]:
        bt = self.batches[i][0]
        mc = self.market_commitment
        return bt.public_signals(self.epoch, self.params_commitment, self.prices, market_commitment=mc)

    def coverage(self) -> tuple[int, int]:
        """(declared_accounts, unrepresented_accounts); raises if either was not given."""
        if self.declared_accounts is None or self.unrepresented_accounts is None:
            raise ValueError("declared_accounts and unrepresented_accounts are required (the registry records them)")
        return self.declared_accounts, self.unrepresented_accounts

    @property
    def total_equity(self) -> int:
        return sum(b.total_equity for b, _ in self.batches)

    @property
    def total_mm(self) -> int:
        return sum(b.total_mm for b, _ in self.batches)

    @property
    def account_count(self) -> int:
        """Accounts covered by the batch proofs (declared_accounts - unrepresented_accounts when consistent)."""
        return sum(b.account_count for b, _ in self.batches)

    @property
    def under_mm_count(self) -> int:
        return sum(b.under_mm_count for b, _ in self.batches)

    @property
    def total_shortfall(self) -> int:
        return sum(b.total_shortfall for b, _ in self.batches)

    @property
    def total_bad_debt(self) -> int:
        return sum(b.total_bad_debt for b, _ in self.batches)

    @property
    def liabilities(self) -> tuple[int, ...]:
        return tuple(sum(b.liabilities[i] for b, _ in self.batches) for i in range(self.n_assets))

    @property
    def batch_roots(self) -> list[int]:
        return [b.batch_root for b, _ in self.batches]


def _verify_batch(
    vk: VerifyingKey | CommittedVerifyingKey, proof: Proof | CommittedProof, signals: list[int], first: bool
) -> bool:
    """A plain proof under a plain key, a committed proof under a committed key (the challenge derived here, as
    the registry does); a proof of the other kind is invalid, as on-chain."""
    if isinstance(vk, CommittedVerifyingKey):
        return isinstance(proof, CommittedProof) and verify_committed(vk, proof, signals, validate_key=first)
    return isinstance(proof, Proof) and verify(vk, proof, signals, validate_key=first)


def check_attestation(vk: VerifyingKey | CommittedVerifyingKey, att: EpochAttestation) -> None:
    """Off-chain mirror of the registry's checks on the submission itself (all but the governed params
    commitment, the price feeds and the epoch sequence, which need the registry's state).

    Raises MalformedInput for malformed values and ValueError (with the registry's wording) for a
    statement the registry would reject; returns None when the registry would accept it.
    """
    if not att.batches:
        raise ValueError("no batches")
    if not 0 <= att.epoch <= UINT64_MAX:
        raise MalformedInput("epoch", "must be a uint64")
    if att.market_commitment is None:
        raise MalformedInput("market_commitment", "missing")
    if att.declared_accounts is None or att.unrepresented_accounts is None:
        raise MalformedInput("declared_accounts", "declared and unrepresented account counts are required")
    counts = {"declared_accounts": att.declared_accounts, "unrepresented_accounts": att.unrepresented_accounts}
    for name, v in counts.items():
        if not 0 <= v <= UINT64_MAX:
            raise MalformedInput(name, "must be a uint64")
    if any(p == 0 for p in att.prices):
        raise ValueError("zero price")
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
        if not _verify_batch(vk, proof, signals, i == 0):
            raise ValueError(f"invalid proof in batch {i}")
        prev_last = bt.last_id_hash
    if att.account_count + att.unrepresented_accounts != att.declared_accounts:
        raise ValueError("accounts do not add up to declared")
