"""Witness inputs for the solvency circuit, built from the margin engine's objects.

The builder takes the batch layout (which instrument each position slot holds, which asset each collateral slot
holds), the engine (instruments, parameters, snapshot, risk arrays) and the accounts; it refuses, naming the
account, anything the circuit cannot represent or that the engine marks below maintenance margin. Public signals
are computed natively (engine totals, Merkle root, parameter commitment) so that a witness that satisfies the
circuit is, by construction, a bit-exact replay of :meth:`MarginEngine.evaluate`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from zkmargin.circuits.field import R
from zkmargin.circuits.merkle import MerkleTree
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.solvency.leaf import LeafData, account_id_hash, derive_salt
from zkmargin.circuits.solvency.params import SolvencyParams
from zkmargin.circuits.solvency.shape import CASH_BITS, VALUE_TOP, SolvencyShape, public_signal_names

from .engine.margin import AccountResult, MarginEngine


class AccountNotProvable(ValueError):
    """An account the circuit must not (or cannot) prove; the message names it."""

    def __init__(self, account_id: str, reason: str) -> None:
        super().__init__(f"account {account_id!r}: {reason}")
        self.account_id = account_id
        self.reason = reason


class BelowMaintenanceMargin(AccountNotProvable):
    """The engine marks this account below maintenance margin: no valid proof can include it."""


@dataclass(frozen=True)
class BatchLayout:
    """Slot j = instrument ``instruments[j]``; collateral slot a = ``assets[a]`` (published with the batch)."""

    instruments: tuple[str, ...]
    assets: tuple[str, ...]
    shape: SolvencyShape


def make_layout(
    engine: MarginEngine,
    instruments: Sequence[str],
    assets: Sequence[str],
    accounts: int,
    brackets: int | None = None,
    tiers: int | None = None,
) -> BatchLayout:
    """Derive the shape (slot underlyings from the risk arrays, K and T from the parameters unless given)."""
    ra = engine.risk_arrays
    unders: list[str] = []
    su = []
    scen = 1
    for sym in instruments:
        if ra is not None and sym in ra.long:
            u = engine.instruments[sym].underlying
            if u not in unders:
                unders.append(u)
            su.append(unders.index(u))
            scen = len(ra.long[sym])
        else:
            su.append(-1)
    k = brackets or max((len(engine.params.brackets.get(s, [])) for s in instruments), default=1) or 1
    t = tiers or max((len(engine.params.haircuts.get(a, [])) for a in assets), default=1) or 1
    shape = SolvencyShape(accounts, len(assets), len(instruments), k, t, scen, tuple(su))
    return BatchLayout(tuple(instruments), tuple(assets), shape)


def solvency_params(engine: MarginEngine, layout: BatchLayout) -> SolvencyParams:
    """The circuit's private parameter copy, padded to the shape (padding entries are unreachable: floor 2^62)."""
    sh, p, snap, ra = layout.shape, engine.params, engine.snapshot, engine.risk_arrays
    fl, mm, cu = [], [], []
    for sym in layout.instruments:
        inst = engine.instruments[sym]
        br = [] if inst.kind == "option" else p.brackets[sym]
        rows = [(b.notional_floor, b.mmr, b.cum) for b in br] or [(0, 0, 0)]  # options pay no tiered MM
        if len(rows) > sh.brackets:
            raise ValueError(f"{sym}: {len(rows)} brackets exceed the shape's {sh.brackets}")
        rows += [(VALUE_TOP, 0, 0)] * (sh.brackets - len(rows))
        fl.append(tuple(r[0] for r in rows))
        mm.append(tuple(r[1] for r in rows))
        cu.append(tuple(r[2] for r in rows))
    hf, hr = [], []
    for asset in layout.assets:
        tiers = [(t.value_floor, t.rate) for t in p.haircuts.get(asset, [])] or [(0, 0)]  # not collateral: rate 0
        if len(tiers) > sh.tiers:
            raise ValueError(f"{asset}: {len(tiers)} haircut tiers exceed the shape's {sh.tiers}")
        tiers += [(VALUE_TOP, 0)] * (sh.tiers - len(tiers))
        hf.append(tuple(t[0] for t in tiers))
        hr.append(tuple(t[1] for t in tiers))
    zero = tuple([0] * sh.scenarios)
    longs, shorts, smin = [], [], []
    for j, sym in enumerate(layout.instruments):
        if sh.slot_underlying[j] >= 0:
            assert ra is not None
            if len(ra.long[sym]) != sh.scenarios:
                raise ValueError(f"{sym}: {len(ra.long[sym])} scenarios, the shape has {sh.scenarios}")
            longs.append(tuple(ra.long[sym]))
            shorts.append(tuple(ra.short[sym]))
            smin.append(ra.short_option_min.get(sym, 0))
        else:
            longs.append(zero)
            shorts.append(zero)
            smin.append(0)
    out = SolvencyParams(
        marks=tuple(snap.marks[s] for s in layout.instruments),
        bracket_floor=tuple(fl),
        bracket_mmr=tuple(mm),
        bracket_cum=tuple(cu),
        haircut_floor=tuple(hf),
        haircut_rate=tuple(hr),
        mm_ratio=p.mm_ratio,
        short_option_min=tuple(smin),
        risk_long=tuple(longs),
        risk_short=tuple(shorts),
        version=int(p.version_hash(), 16) >> 8,
    )
    out.validate(sh)
    return out


def leaf_data(engine: MarginEngine, acct: Account, layout: BatchLayout, salt: int) -> LeafData:
    """What the account commits to; raises AccountNotProvable for anything the slots cannot hold exactly."""
    aid = acct.account_id
    for asset in acct.balances:
        if asset not in layout.assets:
            raise AccountNotProvable(aid, f"balance in {asset!r}, which is not a collateral slot of this batch")
    qty = [0] * len(layout.instruments)
    seen: set[str] = set()
    cash = acct.realised_pnl
    for p in acct.positions:
        if p.instrument not in layout.instruments:
            raise AccountNotProvable(aid, f"position in {p.instrument!r}, which is not a slot of this batch")
        if p.instrument in seen:
            # the engine floors each position separately; one slot per instrument cannot reproduce two floors
            raise AccountNotProvable(aid, f"two positions in {p.instrument!r}: net them before proving")
        seen.add(p.instrument)
        qty[layout.instruments.index(p.instrument)] = p.quantity
        cash += (p.isolated_margin or 0) - p.entry_value
    if not -(1 << CASH_BITS) <= cash < 1 << CASH_BITS:
        raise AccountNotProvable(aid, "cash (realised PnL + isolated margin - entry values) beyond 2^63 micro-USD")
    if acct.margin_mode == "portfolio" and engine.params.offsets_enabled:
        raise AccountNotProvable(aid, "correlation offsets are not supported in-circuit (uncorrelated sum only)")
    return LeafData(
        id_hash=account_id_hash(aid),
        salt=salt,
        portfolio=1 if acct.margin_mode == "portfolio" else 0,
        cash=cash,
        balances=tuple(acct.balances.get(a, 0) for a in layout.assets),
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

    def public_named(self) -> dict[str, int]:
        return dict(zip(public_signal_names(self.layout.shape.assets), self.public, strict=True))


def build_batch(
    engine: MarginEngine,
    accounts: Sequence[Account],
    layout: BatchLayout,
    epoch: int,
    salts: Mapping[str, int] | None = None,
    secret: bytes | None = None,
    check_solvent: bool = True,
) -> SolvencyBatch:
    """Sort the accounts by id_hash, evaluate them with the engine, and lay out the witness inputs.

    Salts come from ``salts`` (account id -> field element) or are derived from ``secret`` and the epoch.
    ``check_solvent=False`` is for tests that must show the *circuit* rejects an insolvent account.
    """
    sh = layout.shape
    if len(accounts) > sh.accounts:
        raise ValueError(f"{len(accounts)} accounts do not fit a batch of {sh.accounts}")
    if salts is None and secret is None:
        raise ValueError("give salts or a secret to derive them")
    params = solvency_params(engine, layout)
    rows = []
    for acct in accounts:
        salt = salts[acct.account_id] if salts is not None else derive_salt(secret or b"", acct.account_id, epoch)
        ld = leaf_data(engine, acct, layout, salt)
        res = engine.evaluate(acct)
        if check_solvent and res.status == "liquidation":
            raise BelowMaintenanceMargin(
                acct.account_id,
                f"equity {res.equity} < maintenance margin {res.mm} (micro-USD), or an isolated "
                "position is under its own MM: it cannot be proven",
            )
        rows.append((ld.id_hash, acct, ld, res))
    rows.sort(key=lambda r: r[0])
    for (h1, a1, _, _), (h2, a2, _, _) in pairwise(rows):
        if h1 == h2:
            raise AccountNotProvable(a2.account_id, f"id_hash equal to that of {a1.account_id!r} (duplicate account)")
    leaves = [r[2] for r in rows]
    root = MerkleTree([ld.leaf() for ld in leaves], sh.depth).root
    prices = [engine.snapshot.spot_prices[a] for a in layout.assets]
    liab = [sum(max(ld.balances[a], 0) for ld in leaves) for a in range(sh.assets)]
    n = len(rows)
    public = [
        epoch,
        root,
        params.commitment(sh),
        leaves[0].id_hash if n else 0,
        leaves[-1].id_hash if n else 0,
        n,
        sum(r[3].equity for r in rows) % R,
        sum(r[3].mm for r in rows),
        *prices,
        *liab,
    ]
    batch = SolvencyBatch(layout, params, epoch, [r[1] for r in rows], leaves, [r[3] for r in rows], public)
    batch.inputs = witness_inputs(sh, params, leaves, public)
    return batch


def witness_inputs(
    sh: SolvencyShape, params: SolvencyParams, leaves: Sequence[LeafData], public: Sequence[int]
) -> dict[str, int]:
    """Name -> value map for :meth:`ConstraintSystem.witness` (signed values reduced mod r)."""
    ins: dict[str, int] = dict(zip(public_signal_names(sh.assets), public, strict=True))
    ins["params.version"] = params.version
    ins["params.mm_ratio"] = params.mm_ratio
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
        ins[f"params.smin[{j}]"] = params.short_option_min[j]
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
