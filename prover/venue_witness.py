"""Witness inputs for the venue circuit (issue 15), built from the margin engine's objects and the instrument table.

Every account is laid out over as many linked leaves as it needs (:func:`split_account`): positions sorted by
instrument id, balances by asset id, at most P positions and A balances per leaf, and in portfolio mode at most one
risk-array underlying per leaf (the group carries over to the next leaf when it continues). So no account of the
venue is excluded for representation; the only refusals name the account and the reason (an instrument not in the
table, an inverse contract, correlation offsets, values beyond the circuit's ranges). Public signals are computed
natively so that a witness satisfying the circuit is a bit-exact replay of ``MarginEngine.evaluate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from zkmargin.circuits.field import R
from zkmargin.circuits.rules.instrument_table import InstrumentTable, venue_params
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.solvency.leaf import account_id_commitment, derive_user_secret, epoch_salt
from zkmargin.circuits.solvency.shape import CASH_BITS, FIXED_PUBLIC_NAMES, QTY_BITS, USD_UNITS_PER_MICRO
from zkmargin.circuits.solvency.venue_leaf import VenueLeaf
from zkmargin.circuits.solvency.venue_params import VenueParams, risk_limbs
from zkmargin.circuits.solvency.venue_shape import PART_BITS, VenueShape, venue_public_names
from zkmargin.circuits.solvency.venue_tree import VenueTree

from .engine.margin import AccountResult, MarginEngine
from .engine.price_box import VenueBoxAccount, venue_box_state
from .solvency_witness import AccountNotProvable, batch_public_signals


@dataclass(frozen=True)
class LeafPlan:
    """One leaf of an account before hashing: its slots, cash, group and links."""

    positions: tuple[tuple[int, int], ...]
    balances: tuple[tuple[int, int], ...]
    cash: int
    group: int
    cont: int
    gcont: int


def split_account(engine: MarginEngine, acct: Account, table: InstrumentTable, shape: VenueShape) -> list[LeafPlan]:
    """The leaves of one account (module docstring); raises AccountNotProvable naming what the circuit cannot hold."""
    aid = acct.account_id
    by_sym = table.by_symbol()
    if acct.margin_mode == "portfolio" and engine.params.offsets_enabled:
        raise AccountNotProvable(aid, "correlation offsets are not supported in-circuit (uncorrelated sum only)")
    usd = acct.realised_pnl
    cost = 0
    pos: dict[int, int] = {}
    for p in acct.positions:
        row = by_sym.get(p.instrument)
        if row is None:
            raise AccountNotProvable(aid, f"position in {p.instrument!r}, which is not in the instrument table")
        if row.settlement != "linear":
            raise AccountNotProvable(aid, f"{p.instrument!r} is an inverse contract: not yet supported in the circuit")
        if row.id in pos:
            raise AccountNotProvable(aid, f"two positions in {p.instrument!r}: net them before proving")
        pos[row.id] = p.quantity
        usd += p.isolated_margin or 0
        cost += p.entry_value
    bals: dict[int, int] = {}
    for asset, b in acct.balances.items():
        if asset not in table.assets or (shape.usd_asset and table.asset_id(asset) == shape.usd_asset):
            raise AccountNotProvable(aid, f"balance in {asset!r}, which is not a collateral asset of the table")
        if b:
            bals[table.asset_id(asset)] = b
    if shape.usd_asset:
        if usd:
            bals[shape.usd_asset] = usd * USD_UNITS_PER_MICRO
        cash = -cost
    else:
        cash = usd - cost
    if any(not -(1 << QTY_BITS) < b < 1 << QTY_BITS for b in bals.values()):
        raise AccountNotProvable(aid, "a balance (or USD cash) beyond 2^53 units")
    if not -(1 << CASH_BITS) <= cash < 1 << CASH_BITS:
        raise AccountNotProvable(aid, "cash (realised PnL + isolated margin - entry values) beyond 2^63 micro-USD")
    portfolio = acct.margin_mode == "portfolio"
    group_of = {r.id: (table.asset_id(r.underlying) if r.risk_row else 0) for r in table.instruments}
    # positions into leaves: P per leaf, and in portfolio mode one risk-array underlying per leaf
    chunks: list[list[tuple[int, int]]] = [[]]
    groups = [0]
    for iid in sorted(pos):
        g = group_of[iid] if portfolio else 0
        cur = chunks[-1]
        if len(cur) == shape.positions or (g and groups[-1] and g != groups[-1]):
            chunks.append([])
            groups.append(0)
        chunks[-1].append((iid, pos[iid]))
        if g:
            groups[-1] = g
    # leaves without a risk-array position take the previous leaf's group, so a group carries through them
    for k in range(1, len(groups)):
        if not groups[k]:
            groups[k] = groups[k - 1]
    bal_items = sorted(bals.items())
    n = max(len(chunks), -(-len(bal_items) // shape.balances), 1)
    if n > 1 << PART_BITS:
        raise AccountNotProvable(aid, f"needs {n} leaves, more than {1 << PART_BITS}")
    chunks += [[] for _ in range(n - len(chunks))]
    groups += [groups[-1]] * (n - len(groups))
    out = []
    for k in range(n):
        ps = chunks[k] + [(0, 0)] * (shape.positions - len(chunks[k]))
        bs = bal_items[k * shape.balances : (k + 1) * shape.balances]
        bs += [(0, 0)] * (shape.balances - len(bs))
        out.append(
            LeafPlan(
                positions=tuple(ps),
                balances=tuple(bs),
                cash=cash if k == 0 else 0,
                group=groups[k],
                cont=1 if k else 0,
                gcont=1 if k and groups[k] == groups[k - 1] else 0,
            )
        )
    return out


@dataclass
class VenueBatch:
    """Everything one venue batch proof needs: witness inputs, expected public signals, per-account results."""

    shape: VenueShape
    table: InstrumentTable
    params: VenueParams
    epoch: int
    accounts: list[Account]  # sorted by id_hash (leaf order)
    leaves: list[VenueLeaf]
    plans: list[LeafPlan]
    results: list[AccountResult]
    public: list[int]
    inputs: dict[str, int] = field(default_factory=dict)
    box: list[VenueBoxAccount] = field(default_factory=list)  # per account, the worst-corner state (box shapes)

    def public_named(self) -> dict[str, int]:
        return dict(zip(venue_public_names(self.shape.assets), self.public, strict=True))


def leaves_needed(engine: MarginEngine, acct: Account, table: InstrumentTable, shape: VenueShape) -> int:
    return len(split_account(engine, acct, table, shape))


def build_venue_batch(
    engine: MarginEngine,
    accounts: Sequence[Account],
    table: InstrumentTable,
    shape: VenueShape,
    epoch: int,
    user_secrets: Mapping[str, int] | None = None,
    secret: bytes | None = None,
    params: VenueParams | None = None,
) -> VenueBatch:
    """Lay the accounts out over linked leaves in id-hash order, evaluate them with the engine, compute the public
    signals and the witness inputs. ``params`` may be passed when many batches share one epoch's tables."""
    if user_secrets is None and secret is None:
        raise ValueError("give the users' secrets or a seed to derive them")
    vp = params or venue_params(table, engine.params, engine.snapshot, shape, engine.risk_arrays)
    rows = []
    for acct in accounts:
        aid = acct.account_id
        us = user_secrets[aid] if user_secrets is not None else derive_user_secret(secret or b"", aid)
        split = split_account(engine, acct, table, shape)
        rows.append((account_id_commitment(aid, us), epoch_salt(us, epoch), acct, split, engine.evaluate(acct)))
    rows.sort(key=lambda r: r[0])
    for r1, r2 in pairwise(rows):
        if r1[0] == r2[0]:
            raise AccountNotProvable(r2[2].account_id, f"id_hash equal to that of {r1[2].account_id!r}")
    pf = {id(r[2]): 1 if r[2].margin_mode == "portfolio" else 0 for r in rows}
    leaves: list[VenueLeaf] = []
    plans: list[LeafPlan] = []
    for idh, salt, acct, ps, _ in rows:
        for k, p in enumerate(ps):
            last = 1 if k == len(ps) - 1 else 0
            leaves.append(VenueLeaf(idh, salt, pf[id(acct)], p.cash, k, p.positions, p.balances, last))
            plans.append(p)
    if len(leaves) > shape.accounts:
        raise ValueError(f"{len(rows)} accounts need {len(leaves)} leaves, more than the batch's {shape.accounts}")
    root = VenueTree([lf.leaf() for lf in leaves], shape.depth).root
    prices = [engine.snapshot.spot_prices[a] for a in table.assets]
    liab = [0] * shape.assets
    for lf in leaves:
        for asset_id, amount in lf.balances:
            if asset_id:
                liab[asset_id - 1] += max(amount, 0)
    public = batch_public_signals(
        epoch,
        root,
        (vp.commitment(shape), vp.market_commitment(shape)),
        [lf.id_hash for lf in leaves],
        [r[4] for r in rows],
        prices,
        liab,
    )
    box: list[VenueBoxAccount] = []
    if shape.box:
        # under-MM count, shortfall and bad debt at each account's worst corner of the governed box
        box = venue_box_state(shape, vp, prices, leaves, [p.gcont for p in plans])
        at = {n: i for i, n in enumerate(FIXED_PUBLIC_NAMES)}
        public[at["under_mm_count"]] = sum(x.under_mm for x in box)
        public[at["total_shortfall"]] = sum(x.shortfall for x in box)
        public[at["total_bad_debt"]] = sum(x.bad_debt for x in box)
    batch = VenueBatch(shape, table, vp, epoch, [r[2] for r in rows], leaves, plans, [r[4] for r in rows], public)
    batch.box = box
    batch.inputs = venue_witness_inputs(shape, vp, leaves, plans, public)
    return batch


def venue_witness_inputs(
    sh: VenueShape, vp: VenueParams, leaves: Sequence[VenueLeaf], plans: Sequence[LeafPlan], public: Sequence[int]
) -> dict[str, int]:
    """Name -> value map for :meth:`VenueCircuit.witness` (signed values reduced mod r)."""
    ins: dict[str, int] = dict(zip(venue_public_names(sh.assets), public, strict=True))
    ins["params.version"] = vp.version
    ins["params.mm_ratio"] = vp.mm_ratio
    ins["params.short_option_min_ppm"] = vp.short_option_min_ppm
    ins["params.box_ppm"] = vp.box_ppm
    if sh.box:
        ins["params.box_node_lo"], ins["params.box_node_hi"] = vp.box_nodes
        for a, f in enumerate(vp.box_flags(sh), 1):
            ins[f"params.box_flag[{a}]"] = f
    for lid in range(1, sh.ladders):
        for k in range(sh.brackets):
            ins[f"params.ladder[{lid}][{k}].floor"] = vp.ladder_floor[lid - 1][k]
            ins[f"params.ladder[{lid}][{k}].mmr"] = vp.ladder_mmr[lid - 1][k]
            ins[f"params.ladder[{lid}][{k}].cum"] = vp.ladder_cum[lid - 1][k]
    for a in range(1, sh.assets + 1):
        for t in range(sh.tiers):
            ins[f"params.haircut[{a}][{t}].floor"] = vp.haircut_floor[a - 1][t]
            ins[f"params.haircut[{a}][{t}].rate"] = vp.haircut_rate[a - 1][t]
    for t in range(1, sh.risk_rows):
        for s in range(sh.scenarios):
            for k, limb in enumerate(risk_limbs(vp.risk_long[t - 1][s])):
                ins[f"params.risk[{t}].long[{s}].limb[{k}]"] = limb
    for r in range(1, sh.instruments):
        row = vp.instruments[r - 1]
        p = f"params.inst[{r}]."
        ins[p + "mark"] = row.mark
        ins[p + "ladder"] = row.ladder
        ins[p + "is_option"] = row.is_option
        ins[p + "has_risk_array"] = row.has_risk_array
        ins[p + "asset"] = row.asset
        ins[p + "basis_cap_bps"] = row.basis_cap_bps
        ins[p + "risk_row"] = row.risk_row
    for i in range(sh.accounts):
        lf = leaves[i] if i < len(leaves) else None
        pl = plans[i] if i < len(plans) else None
        p = f"acct[{i}]."
        ins[p + "cont"] = pl.cont if pl else 0
        ins[p + "gcont"] = pl.gcont if pl else 0
        ins[p + "active"] = 1 if lf else 0
        ins[p + "id_hash"] = lf.id_hash if lf else 0
        ins[p + "salt"] = lf.salt if lf else 0
        ins[p + "portfolio"] = lf.portfolio if lf else 0
        ins[p + "cash"] = lf.cash % R if lf else 0
        ins[p + "group"] = pl.group if pl else 0
        for j in range(sh.positions):
            k, q = lf.positions[j] if lf else (0, 0)
            ins[p + f"pos[{j}].id"] = k
            ins[p + f"pos[{j}].qty"] = q % R
        for a in range(sh.balances):
            k, b = lf.balances[a] if lf else (0, 0)
            ins[p + f"bal[{a}].id"] = k
            ins[p + f"bal[{a}].amount"] = b % R
    return ins
