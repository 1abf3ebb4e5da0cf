"""Witness inputs for the solvency circuit, built from the margin engine's objects.

The builder takes the batch layout (which instrument each position slot holds, which asset each collateral slot
holds), the engine (instruments, parameters, snapshot, risk arrays) and the accounts; it refuses, naming the
account, anything the circuit cannot represent. Accounts below maintenance margin are proven and counted. Public
signals are computed natively (engine totals, Merkle root, parameter and market commitments) so that a witness that
satisfies the circuit is, by construction, a bit-exact replay of :meth:`MarginEngine.evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from zkmargin.circuits.field import R
from zkmargin.circuits.merkle import MerkleTree
from zkmargin.circuits.rules.circuit_inputs import BatchLayout
from zkmargin.circuits.rules.circuit_inputs import make_layout as rules_layout
from zkmargin.circuits.rules.circuit_inputs import solvency_params as rules_params
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.solvency.leaf import LeafData, account_id_commitment, derive_user_secret, epoch_salt
from zkmargin.circuits.solvency.params import SolvencyParams
from zkmargin.circuits.solvency.shape import (
    CASH_BITS,
    QTY_BITS,
    USD_UNITS_PER_MICRO,
    SolvencyShape,
    public_signal_names,
)

from .engine.margin import AccountResult, MarginEngine


class AccountNotProvable(ValueError):
    """An account the circuit must not (or cannot) prove; the message names it."""

    def __init__(self, account_id: str, reason: str) -> None:
        super().__init__(f"account {account_id!r}: {reason}")
        self.account_id = account_id
        self.reason = reason


def make_layout(
    engine: MarginEngine,
    instruments: Sequence[str],
    assets: Sequence[str],
    accounts: int,
    brackets: int | None = None,
    tiers: int | None = None,
) -> BatchLayout:
    """The batch layout of the engine's instrument table and parameters (see ``rules.circuit_inputs``)."""
    return rules_layout(engine.instruments, engine.params, instruments, assets, accounts, brackets, tiers)


def solvency_params(engine: MarginEngine, layout: BatchLayout) -> SolvencyParams:
    """The circuit's parameter copy from the engine's public inputs: the function auditors rerun."""
    return rules_params(engine.instruments, engine.params, engine.snapshot, layout, engine.risk_arrays)


def leaf_data(engine: MarginEngine, acct: Account, layout: BatchLayout, user_secret: int, epoch: int) -> LeafData:
    """What the account commits to; raises AccountNotProvable for anything the slots cannot hold exactly.

    With a USD slot (``shape.usd_slot``) the account's cash (realised PnL + isolated margins, micro-USD) is its USD
    balance (x100: 1e8 units per USD) and the leaf's ``cash`` is minus its positions' entry values, so positive
    cash is a published liability. Equity is unchanged: collateral at haircut (USD at 100%) + cash + position values.
    """
    aid = acct.account_id
    usd_slot = layout.shape.usd_slot
    for asset in acct.balances:
        if asset not in layout.assets or layout.assets.index(asset) == usd_slot:
            raise AccountNotProvable(aid, f"balance in {asset!r}, which is not a collateral slot of this batch")
    qty = [0] * len(layout.instruments)
    seen: set[str] = set()
    usd = acct.realised_pnl
    cost = 0
    for p in acct.positions:
        if p.instrument not in layout.instruments:
            raise AccountNotProvable(aid, f"position in {p.instrument!r}, which is not a slot of this batch")
        if p.instrument in seen:
            # the engine floors each position separately; one slot per instrument cannot reproduce two floors
            raise AccountNotProvable(aid, f"two positions in {p.instrument!r}: net them before proving")
        seen.add(p.instrument)
        qty[layout.instruments.index(p.instrument)] = p.quantity
        usd += p.isolated_margin or 0
        cost += p.entry_value
    balances = [acct.balances.get(a, 0) for a in layout.assets]
    if usd_slot >= 0:
        balances[usd_slot] = usd * USD_UNITS_PER_MICRO
        cash = -cost
        if not -(1 << QTY_BITS) < balances[usd_slot] < 1 << QTY_BITS:
            raise AccountNotProvable(aid, "USD cash (realised PnL + isolated margins) beyond 2^53 balance units")
    else:
        cash = usd - cost
    if not -(1 << CASH_BITS) <= cash < 1 << CASH_BITS:
        raise AccountNotProvable(aid, "cash (realised PnL + isolated margin - entry values) beyond 2^63 micro-USD")
    if acct.margin_mode == "portfolio" and engine.params.offsets_enabled:
        raise AccountNotProvable(aid, "correlation offsets are not supported in-circuit (uncorrelated sum only)")
    return LeafData(
        id_hash=account_id_commitment(aid, user_secret),
        salt=epoch_salt(user_secret, epoch),
        portfolio=1 if acct.margin_mode == "portfolio" else 0,
        cash=cash,
        balances=tuple(balances),
        quantities=tuple(qty),
    )


@dataclass
class SolvencyBatch:
    """Everything one batch proof needs: witness inputs, expected public signals, per-account engine results."""

    layout: BatchLayout
    params: SolvencyParams
    epoch: int
    accounts: list[Account]  # sorted by id_hash (slot order)
    leaves: list[LeafData]
    results: list[AccountResult]
    public: list[int]
    inputs: dict[str, int] = field(default_factory=dict)

    def prices(self) -> list[int]:
        """The public oracle prices of the asset slots."""
        n = len(self.public) - 2 * self.layout.shape.assets
        return self.public[n : n + self.layout.shape.assets]

    def public_named(self) -> dict[str, int]:
        return dict(zip(public_signal_names(self.layout.shape.assets), self.public, strict=True))


def build_batch(
    engine: MarginEngine,
    accounts: Sequence[Account],
    layout: BatchLayout,
    epoch: int,
    user_secrets: Mapping[str, int] | None = None,
    secret: bytes | None = None,
) -> SolvencyBatch:
    """Sort the accounts by their salted id commitment, evaluate them with the engine, lay out the witness inputs.

    Every account is proven, including those below maintenance margin: the batch counts them and publishes their
    shortfall and bad debt. Each user's secret comes from ``user_secrets`` (account id -> field element, what the
    operator's store holds) or, for tests and reproducible demos, is derived from ``secret``.
    """
    sh = layout.shape
    if len(accounts) > sh.accounts:
        raise ValueError(f"{len(accounts)} accounts do not fit a batch of {sh.accounts}")
    if user_secrets is None and secret is None:
        raise ValueError("give the users' secrets or a seed to derive them")
    params = solvency_params(engine, layout)
    rows = []
    for acct in accounts:
        aid = acct.account_id
        us = user_secrets[aid] if user_secrets is not None else derive_user_secret(secret or b"", aid)
        ld = leaf_data(engine, acct, layout, us, epoch)
        res = engine.evaluate(acct)
        rows.append((ld.id_hash, acct, ld, res))
    rows.sort(key=lambda r: r[0])
    for (h1, a1, _, _), (h2, a2, _, _) in pairwise(rows):
        if h1 == h2:
            raise AccountNotProvable(a2.account_id, f"id_hash equal to that of {a1.account_id!r} (duplicate account)")
    leaves = [r[2] for r in rows]
    root = MerkleTree([ld.leaf() for ld in leaves], sh.depth).root
    prices = [engine.snapshot.spot_prices[a] for a in layout.assets]
    liab = [sum(max(ld.balances[a], 0) for ld in leaves) for a in range(sh.assets)]
    public = batch_public_signals(
        epoch,
        root,
        (params.commitment(sh), params.market_commitment(sh)),
        [ld.id_hash for ld in leaves],
        [r[3] for r in rows],
        prices,
        liab,
    )
    batch = SolvencyBatch(layout, params, epoch, [r[1] for r in rows], leaves, [r[3] for r in rows], public)
    batch.inputs = witness_inputs(sh, params, leaves, public)
    return batch


def batch_public_signals(
    epoch: int,
    root: int,
    commitments: tuple[int, int],
    id_hashes: Sequence[int],
    results: Sequence[AccountResult],
    prices: Sequence[int],
    liabilities: Sequence[int],
) -> list[int]:
    """A batch's public signals in the registry's layout (AttestationLayout): epoch, root, params and market
    commitments, first and last id hash, account count, equity (positive part), MM, under-MM count, shortfall,
    bad debt, prices, liabilities. One builder for the solvency and the venue batch, which share the layout."""
    eq = [r.equity for r in results]
    mm = [r.mm for r in results]
    return [
        epoch,
        root,
        *commitments,
        id_hashes[0] if id_hashes else 0,
        id_hashes[-1] if id_hashes else 0,
        len(results),
        sum(max(e, 0) for e in eq),
        sum(mm),
        sum(1 for e, m in zip(eq, mm, strict=True) if e < m),
        sum(max(0, m - e) for e, m in zip(eq, mm, strict=True)),
        sum(max(0, -e) for e in eq),
        *prices,
        *liabilities,
    ]


def witness_inputs(
    sh: SolvencyShape, params: SolvencyParams, leaves: Sequence[LeafData], public: Sequence[int]
) -> dict[str, int]:
    """Name -> value map for :meth:`ConstraintSystem.witness` (signed values reduced mod r)."""
    ins: dict[str, int] = dict(zip(public_signal_names(sh.assets), public, strict=True))
    ins["params.version"] = params.version
    ins["params.mm_ratio"] = params.mm_ratio
    ins["params.short_option_min_ppm"] = params.short_option_min_ppm
    for j, cap in enumerate(params.basis_cap_bps):
        ins[f"params.basis_cap_bps[{j}]"] = cap
    for j in range(sh.positions):
        ins[f"params.mark[{j}]"] = params.marks[j]
        for k in range(sh.brackets):
            ins[f"params.bracket[{j}][{k}].floor"] = params.bracket_floor[j][k]
            ins[f"params.bracket[{j}][{k}].mmr"] = params.bracket_mmr[j][k]
            ins[f"params.bracket[{j}][{k}].cum"] = params.bracket_cum[j][k]
    for a in range(sh.assets):
        for t in range(sh.tiers):
            ins[f"params.haircut[{a}][{t}].floor"] = params.haircut_floor[a][t]
            ins[f"params.haircut[{a}][{t}].rate"] = params.haircut_rate[a][t]
    for j in sh.ra_slots():
        for s in range(sh.scenarios):
            ins[f"params.risk[{j}].long[{s}]"] = params.risk_long[j][s] % R
    for i in range(sh.accounts):
        ld = leaves[i] if i < len(leaves) else None
        p = f"acct[{i}]."
        ins[p + "active"] = 1 if ld else 0
        ins[p + "id_hash"] = ld.id_hash if ld else 0
        ins[p + "salt"] = ld.salt if ld else 0
        ins[p + "portfolio"] = ld.portfolio if ld else 0
        ins[p + "cash"] = ld.cash % R if ld else 0
        for a in range(sh.assets):
            ins[p + f"bal[{a}]"] = ld.balances[a] % R if ld else 0
        for j in range(sh.positions):
            ins[p + f"qty[{j}]"] = ld.quantities[j] % R if ld else 0
    return ins
