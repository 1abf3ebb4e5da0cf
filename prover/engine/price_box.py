"""Price boxes (issue 16, engine part): an account's margin state at the worst price inside a published box.

A box gives every underlying u a band [index_u x (1 - b), index_u x (1 + b)] (b in ppm, the repo's rate scale, the
same unit as the scenario grids' price moves). A move of u by the ratio (1 + x), |x| <= b, moves every price linked
to u by that ratio: u's index, the marks of its perpetuals and futures, and the spot price of every collateral asset
mapped to u (by default the asset of the same name: BTC balances move with BTC). Stablecoins are not moved unless
given their own box. Option marks are not moved: options are revalued from the published risk arrays instead.

Why corners suffice (docs/statement.md, "Price boxes"): without rounding, equity - MM of an account without options
is a sum of one-price terms, each concave: a position's value q x mark is linear, the haircut value of a balance is
concave in its spot when the tier rates do not increase, and the tiered MM max_k(N x mmr_k - cum_k) is convex in the
notional when the mmr do not decrease (so -MM is concave). Along a box move the prices are affine in x, so equity -
MM is concave in x and its minimum over the box [-b, b]^k is at one of the 2^k corners. Because every term depends on
one underlying only, the function is *separable*: the minimum over the corners is the sum of per-underlying minima,
found with 2k + 1 evaluations (centre, and each underlying alone at -b and +b) instead of 2^k.

Rounding. The engine rounds against the account; that rounding is at most D = rounding_bound(account) micro-USD
(module function, counted term by term), so an integer price vector inside the box is never more than D below the
worst corner. The separable sum is exact up to the two account-level roundings (floor of collateral, ceil of MM) per
evaluation: it is within 2k - 1 of the true worst corner. Both are subtracted in `BoxState.margin_lb`, a sound lower
bound of equity - MM over the whole box.

What breaks the argument (each refused with an error naming the field, or flagged `sound=False`):

* options: their value is convex or concave in the underlying depending on the sign, so an interior price can be
  worse than every corner (tests/engine/test_price_box.py shows one). Their accounts use the scenario method: the
  published risk arrays' zero-vol-shock scenarios at the grid's price moves inside the box, which must include -b and
  +b (`scenario_grid_spans_box`). Between grid nodes it is not a proof (`sound=False`).
* a haircut ladder whose rate rises with value (convex collateral) or a bracket ladder whose mmr falls (concave MM):
  `concavity_problems(params)`.
* cross-underlying terms: a haircut tier over the total collateral value, or portfolio IM recomputed at the moved
  prices with correlation offsets sqrt(L^T rho L). Neither exists here: haircuts are per asset, and the risk arrays
  (hence portfolio IM) are the published ones, fixed for the attestation, so portfolio IM does not move in the box.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from zkmargin.circuits.constants import SMIN_DIVISOR
from zkmargin.circuits.rules.fixedpoint import MAX_PRICE, QTY_SCALE, RATE_SCALE, WIDE_DIVISOR, ceil_div
from zkmargin.circuits.rules.models import Account, Instrument, MarketSnapshot
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.rules.risk_arrays import RiskArrays
from zkmargin.circuits.solvency.venue_leaf import VenueLeaf
from zkmargin.circuits.solvency.venue_params import VenueParams, corner_price
from zkmargin.circuits.solvency.venue_shape import VenueShape

from .margin import AccountResult, MarginEngine, classify
from .vectorised import Book, Results, VectorEngine

Method = Literal["all-corners", "separable", "scenario"]
MAX_ENUMERATED_UNDERLYINGS = 12  # 4,096 corners: beyond it only the separable bound is offered
BPS_TO_PPM = 100


def box_ppm_from_bps(bps: int) -> int:
    """A box half-width given in basis points, in the ppm the engine and the scenario grids use."""
    if not isinstance(bps, int) or not 0 < bps < 10_000:
        raise ValueError(f"box_bps: {bps!r} must be an integer in 1..9999 basis points")
    return bps * BPS_TO_PPM


def check_box(b_ppm: int) -> int:
    """Validate a box half-width in ppm: 0 < b < 100% (a lower edge at or below zero price is meaningless)."""
    if not isinstance(b_ppm, int) or isinstance(b_ppm, bool) or not 0 < b_ppm < RATE_SCALE:
        raise ValueError(f"box_ppm: {b_ppm!r} must be an integer in 1..999999 ppm")
    return b_ppm


def moved_price(price: int, move_ppm: int) -> int:
    """price x (1 + move), rounded outwards (down for a fall, up for a rise): the integer box holds the real one."""
    num = price * (RATE_SCALE + move_ppm)
    return num // RATE_SCALE if move_ppm < 0 else ceil_div(num, RATE_SCALE)


# ---------------------------------------------------------------- which prices an underlying moves


def default_asset_underlying(snapshot: MarketSnapshot) -> dict[str, str]:
    """Collateral asset -> underlying: every asset that is also an indexed underlying moves with it (BTC with BTC)."""
    return {a: a for a in snapshot.spot_prices if a in snapshot.index_prices}


def move_snapshot(
    snapshot: MarketSnapshot,
    instruments: Mapping[str, Instrument],
    moves: Mapping[str, int],
    asset_underlying: Mapping[str, str] | None = None,
) -> MarketSnapshot:
    """The snapshot with every price linked to each underlying u moved by moves[u] ppm (option marks kept)."""
    amap = default_asset_underlying(snapshot) if asset_underlying is None else asset_underlying
    live = {u: x for u, x in moves.items() if x}
    if not live:
        return snapshot
    marks = dict(snapshot.marks)
    for sym, inst in instruments.items():
        x = live.get(inst.underlying)
        if x and inst.kind != "option" and sym in marks:
            marks[sym] = moved_price(marks[sym], x)
    index = {u: moved_price(p, live[u]) if u in live else p for u, p in snapshot.index_prices.items()}
    spot = dict(snapshot.spot_prices)
    for a, u in amap.items():
        if u in live and a in spot:
            spot[a] = moved_price(spot[a], live[u])
    # model_copy skips validation: a move > -100% keeps every price positive; only the upper bound needs a check
    for name, table in (("marks", marks), ("index_prices", index), ("spot_prices", spot)):
        for k, p in table.items():
            if p >= MAX_PRICE:
                raise ValueError(f"{name}.{k}: {p} beyond the price range once moved by the box")
    return snapshot.model_copy(update={"marks": marks, "index_prices": index, "spot_prices": spot})


def held_underlyings(
    acct: Account, instruments: Mapping[str, Instrument], asset_underlying: Mapping[str, str]
) -> list[str]:
    """The underlyings whose moves change this account's equity or MM (linear positions, mapped balances)."""
    out = {instruments[p.instrument].underlying for p in acct.positions if p.quantity}
    out |= {asset_underlying[a] for a, b in acct.balances.items() if b and a in asset_underlying}
    return sorted(out)


# ---------------------------------------------------------------- preconditions of the corner argument


def concavity_problems(params: RiskParameters, instruments: Iterable[str] | None = None) -> list[str]:
    """Every parameter that breaks concavity of equity - MM in the prices (empty: the corner argument holds).

    Bracket ladders must have non-decreasing mmr (MM = max_k(N mmr_k - cum_k) is then convex in the notional);
    haircut ladders non-increasing rates (the collateral value is then concave in the spot price).
    """
    wanted = None if instruments is None else set(instruments)
    out: list[str] = []
    for sym, br in sorted(params.brackets.items()):
        if wanted is not None and sym not in wanted:
            continue
        for k in range(1, len(br)):
            if br[k].mmr < br[k - 1].mmr:
                out.append(f"brackets.{sym}.{k}.mmr: {br[k].mmr} below the previous {br[k - 1].mmr} (MM not convex)")
    for asset, tiers in sorted(params.haircuts.items()):
        if wanted is not None and asset not in wanted:
            continue
        for k in range(1, len(tiers)):
            if tiers[k].rate > tiers[k - 1].rate:
                out.append(
                    f"haircuts.{asset}.{k}.rate: {tiers[k].rate} above the previous {tiers[k - 1].rate} "
                    "(collateral value not concave)"
                )
    return out


def scenario_grid_problems(params: RiskParameters, b_ppm: int, underlyings: Iterable[str] | None = None) -> list[str]:
    """Why the scenario grids do not span the box (empty: they do), per underlying.

    Options are revalued only at the grid's nodes, so each grid needs a zero vol shock (the box moves prices, not
    vols) and price moves exactly at -b and +b (the box's edges), plus 0 (the centre).
    """
    check_box(b_ppm)
    names = sorted(params.scenario_grids) if underlyings is None else sorted(set(underlyings))
    out: list[str] = []
    for u in names:
        grid = params.scenario_grids.get(u)
        if grid is None:
            out.append(f"scenario_grids.{u}: missing (options on {u} cannot be revalued in the box)")
            continue
        if 0 not in grid.vol_shocks:
            out.append(f"scenario_grids.{u}.vol_shocks: no zero shock (the box is a price-only move)")
        for need in (-b_ppm, 0, b_ppm):
            if need not in grid.price_moves:
                out.append(f"scenario_grids.{u}.price_moves: {need} ppm missing (the box needs -b, 0 and +b)")
    return out


def scenario_grid_spans_box(params: RiskParameters, b_ppm: int, underlyings: Iterable[str] | None = None) -> bool:
    """True when every (given) underlying's grid has price moves -b, 0, +b at a zero vol shock: the audit's check."""
    return not scenario_grid_problems(params, b_ppm, underlyings)


# ---------------------------------------------------------------- rounding bound


def rounding_bound(acct: Account, moved_assets: Collection[str] | None = None) -> int:
    """Micro-USD by which an integer price vector inside the box can sit below the worst corner (engine rounding).

    2 for the account-level floor of collateral and ceil of MM; per position 1 (floor of its value) + 1 (ceil of its
    notional, times mmr <= 1); per balance 1 (floor of its value, haircut rate <= 1); and twice the effect of moving
    every price by less than one unit (1e-8 USD), once for the outward rounding of the corners and once for the
    sampled price: a mark moves equity - MM by at most 2|q| / 1e10 micro-USD per unit, a spot by |b| / 1e10 (only
    the balances of `moved_assets`, default all, count here: a stablecoin's spot does not move with the box).
    """
    qsum = sum(abs(p.quantity) for p in acct.positions)
    bsum = sum(abs(b) for a, b in acct.balances.items() if moved_assets is None or a in moved_assets)
    n_pos = sum(1 for p in acct.positions if p.quantity)
    n_bal = sum(1 for b in acct.balances.values() if b)
    return 2 + 2 * n_pos + n_bal + ceil_div(2 * (2 * qsum + bsum), WIDE_DIVISOR)


def rounding_bound_rows(book: Book, moved: np.ndarray | None = None) -> np.ndarray:
    """`rounding_bound` for every row of a book; `moved` marks the asset columns whose spot moves (default all)."""
    q = np.abs(book.qty)
    b = np.abs(book.bal) if moved is None else np.abs(book.bal) * moved
    # |q|, |b| < 2^53 and at most a few dozen slots per row: the sums stay far below 2^63
    num = 2 * (2 * q.sum(axis=1) + b.sum(axis=1))
    price_term = -((-num) // WIDE_DIVISOR)
    return 2 + 2 * (q != 0).sum(axis=1) + (book.bal != 0).sum(axis=1) + price_term


# ---------------------------------------------------------------- one account (exact path)


@dataclass
class BoxState:
    """An account's margin state over the box: at the point price, and at the worst corner found."""

    account_id: str
    method: Method
    point: AccountResult
    corner: dict[str, int]  # underlying -> move in ppm at the worst corner (or grid node for the scenario method)
    at_corner: AccountResult  # the engine's exact state there (scenario method: option P&L from the arrays)
    margin_lb: int  # lower bound of equity - MM over the box (micro-USD); sound when `sound`
    rounding: int  # rounding_bound(account), included in margin_lb
    evaluations: int
    sound: bool = True
    corner_states: dict[tuple[int, ...], int] = field(default_factory=dict)  # all-corners: equity - MM per corner

    @property
    def point_margin(self) -> int:
        return self.point.equity - self.point.mm

    @property
    def corner_margin(self) -> int:
        return self.at_corner.equity - self.at_corner.mm

    @property
    def passes_point(self) -> bool:
        return self.point.status != "liquidation"

    @property
    def passes_box(self) -> bool:
        """No corner below MM (the engine's exact state at the worst corner; the separable method settles the
        accounts its bound cannot decide by enumerating their corners)."""
        return self.at_corner.status != "liquidation"

    @property
    def passes_box_strict(self) -> bool:
        """Every integer price inside the box meets MM: the worst corner clears the rounding bound too."""
        return self.passes_box and self.margin_lb >= 0


@dataclass
class PriceBoxEngine:
    """Worst-corner margin states for one attested snapshot and box half-width b (ppm)."""

    instruments: dict[str, Instrument]
    params: RiskParameters
    snapshot: MarketSnapshot
    b_ppm: int
    risk_arrays: RiskArrays | None = None
    asset_underlying: dict[str, str] | None = None
    _engines: dict[tuple[tuple[str, int], ...], MarginEngine] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        check_box(self.b_ppm)
        if self.asset_underlying is None:
            self.asset_underlying = default_asset_underlying(self.snapshot)

    @property
    def amap(self) -> dict[str, str]:
        assert self.asset_underlying is not None
        return self.asset_underlying

    def engine_at(self, moves: Mapping[str, int]) -> MarginEngine:
        """The exact engine at the snapshot moved by `moves` (cached per distinct move)."""
        key = tuple(sorted((u, x) for u, x in moves.items() if x))
        eng = self._engines.get(key)
        if eng is None:
            snap = move_snapshot(self.snapshot, self.instruments, dict(key), self.amap)
            eng = MarginEngine(self.instruments, self.params, snap, self.risk_arrays)
            self._engines[key] = eng
        return eng

    def _has_options(self, acct: Account) -> bool:
        return any(self.instruments[p.instrument].kind == "option" and p.quantity for p in acct.positions)

    def _check_concave(self, acct: Account) -> None:
        names = [p.instrument for p in acct.positions if p.quantity] + [a for a, b in acct.balances.items() if b]
        problems = concavity_problems(self.params, names)
        if problems:
            raise ValueError(f"account {acct.account_id}: the corner bound does not hold: {'; '.join(problems)}")

    def evaluate(self, acct: Account, method: Method | None = None) -> BoxState:
        """Worst-corner state. Default method: scenario for option holders, all-corners for isolated accounts,
        separable otherwise."""
        if method is None:
            if self._has_options(acct):
                method = "scenario"
            elif acct.margin_mode == "isolated":
                method = "all-corners"
            else:
                method = "separable"
        if method == "scenario":
            return self._scenario(acct)
        if self._has_options(acct):
            raise ValueError(f"account {acct.account_id}: holds options; corners are not sound for them (scenario)")
        self._check_concave(acct)
        if method == "all-corners":
            return self._all_corners(acct)
        if acct.margin_mode == "isolated":
            raise ValueError(f"account {acct.account_id}: isolated accounts are judged per position: all-corners")
        return self._separable(acct)

    def _margin(self, acct: Account, moves: Mapping[str, int]) -> tuple[int, AccountResult]:
        r = self.engine_at(moves).evaluate(acct)
        return r.equity - r.mm, r

    def _all_corners(self, acct: Account) -> BoxState:
        unds = held_underlyings(acct, self.instruments, self.amap)
        if len(unds) > MAX_ENUMERATED_UNDERLYINGS:
            raise ValueError(f"account {acct.account_id}: {len(unds)} underlyings, too many corners to enumerate")
        point = self.engine_at({}).evaluate(acct)
        b = self.b_ppm
        best: tuple[int, int, tuple[int, ...], AccountResult] | None = None
        states: dict[tuple[int, ...], int] = {}
        for signs in itertools.product((-1, 1), repeat=len(unds)):
            f, r = self._margin(acct, {u: s * b for u, s in zip(unds, signs, strict=True)})
            states[signs] = f
            # isolated accounts: a liquidated position anywhere makes the corner fail, whatever the account sum
            key = (0 if r.status == "liquidation" else 1, f)
            if best is None or key < best[:2]:
                best = (key[0], key[1], signs, r)
        assert best is not None
        _, _, signs, r = best
        rb = rounding_bound(acct, self.amap)
        return BoxState(
            acct.account_id,
            "all-corners",
            point,
            {u: s * b for u, s in zip(unds, signs, strict=True)},
            r,
            min(states.values()) - rb,
            rb,
            len(states) + 1,
            corner_states=states,
        )

    def _separable(self, acct: Account) -> BoxState:
        unds = held_underlyings(acct, self.instruments, self.amap)
        f0, point = self._margin(acct, {})
        b = self.b_ppm
        est = f0
        corner: dict[str, int] = {}
        for u in unds:
            lo, _ = self._margin(acct, {u: -b})
            hi, _ = self._margin(acct, {u: b})
            corner[u] = -b if lo <= hi else b
            est += min(lo, hi) - f0
        k = len(unds)
        _, at = self._margin(acct, corner)
        rb = rounding_bound(acct, self.amap)
        sep_err = max(2 * k - 1, 0)  # account-level floor/ceil per evaluation (module docstring)
        if est - sep_err < 0 <= at.equity - at.mm and k <= MAX_ENUMERATED_UNDERLYINGS:
            # the chosen corner passes but another one might not (within 4k - 2 micro-USD): settle it exactly
            full = self._all_corners(acct)
            full.evaluations += 2 * k + 2
            return full
        lb = min(est - sep_err, at.equity - at.mm) - rb
        return BoxState(acct.account_id, "separable", point, corner, at, lb, rb, 2 * k + 2)

    def _scenario(self, acct: Account) -> BoxState:
        """Option holders: per underlying, the minimum over the grid's in-box nodes of (option P&L from the arrays
        at zero vol shock) + (everything else revalued by the engine with option marks held). Not sound between
        nodes (options are not concave); the grid must span the box."""
        ra = self.risk_arrays
        if ra is None:
            raise ValueError(f"account {acct.account_id}: options in the box need the published risk arrays")
        unds = held_underlyings(acct, self.instruments, self.amap)
        opt_unds = {
            self.instruments[p.instrument].underlying
            for p in acct.positions
            if p.quantity and self._is_opt(p.instrument)
        }
        problems = scenario_grid_problems(self.params, self.b_ppm, opt_unds)
        if problems:
            raise ValueError(f"account {acct.account_id}: the scenario grid does not span the box: {problems}")
        self._check_concave(acct)
        f0, point = self._margin(acct, {})
        est = f0
        choice: dict[str, int] = {}
        opt_total = 0
        evals = 1
        for u in unds:
            nodes = self._nodes(u)
            best: tuple[int, int, int] | None = None
            for x in nodes:
                f, _ = self._margin(acct, {u: x}) if x else (f0, point)
                evals += 1 if x else 0
                opt = self._option_pnl(acct, u, x)
                delta = f - f0 + opt
                if best is None or delta < best[0]:
                    best = (delta, x, opt)
            assert best is not None
            est += best[0]
            choice[u] = best[1]
            opt_total += best[2]
        base = self.engine_at(choice).evaluate(acct)
        equity = base.equity + opt_total
        status, shortfall = classify(equity, base.im, base.mm)
        at = AccountResult(
            base.account_id,
            base.collateral,
            base.upnl,
            base.option_value + opt_total,
            equity,
            base.im,
            base.mm,
            status,
            shortfall,
            base.per_underlying_im,
        )
        rb = rounding_bound(acct, self.amap)
        lb = min(est - max(2 * len(unds) - 1, 0), equity - base.mm) - rb
        return BoxState(acct.account_id, "scenario", point, choice, at, lb, rb, evals + 1, sound=False)

    def _is_opt(self, sym: str) -> bool:
        return self.instruments[sym].kind == "option"

    def _nodes(self, u: str) -> list[int]:
        grid = self.params.scenario_grids.get(u)
        if grid is None:  # no options on u (checked): its linear part is concave, the edges suffice
            return [-self.b_ppm, self.b_ppm]
        return sorted({m for m in grid.price_moves if abs(m) <= self.b_ppm} | {-self.b_ppm, self.b_ppm})

    def _option_pnl(self, acct: Account, u: str, x: int) -> int:
        """floor(sum q x R[s] / 1e8) over the account's options on u at scenario (x, zero vol shock, full cover)."""
        ra = self.risk_arrays
        assert ra is not None
        opts = [p for p in acct.positions if p.quantity and self._is_opt(p.instrument)]
        opts = [p for p in opts if self.instruments[p.instrument].underlying == u]
        if not opts:
            return 0
        try:
            s = ra.scenarios[u].index((x, 0, RATE_SCALE))
        except ValueError:
            raise ValueError(f"scenario_grids.{u}: no scenario ({x} ppm, zero vol shock) in the arrays") from None
        total = 0
        for p in opts:
            if p.instrument not in ra.long:
                raise ValueError(f"risk_arrays.{p.instrument}: missing (options in the box need their array)")
            arr = ra.long[p.instrument] if p.quantity > 0 else ra.short[p.instrument]
            total += p.quantity * arr[s]
        return total // QTY_SCALE


# ---------------------------------------------------------------- coverage at the worst corner


@dataclass(frozen=True)
class BoxCoverage:
    """The coverage figures of the attestation, taken at each account's worst corner (and at the point price)."""

    accounts: int
    under_mm_point: int
    under_mm_box: int
    fail_box_pass_point: int  # the margin cost of the box: pass at the index, fail somewhere in the box
    shortfall_box: int  # sum of MM - equity at the worst corner over accounts under MM there (micro-USD)
    bad_debt_box: int  # sum of max(0, -equity) at the worst corner
    unsound: int  # scenario-method states (options): nodes only


def box_coverage(states: Sequence[BoxState]) -> BoxCoverage:
    under_p = sum(1 for s in states if not s.passes_point)
    under_b = sum(1 for s in states if not s.passes_box)
    cost = sum(1 for s in states if s.passes_point and not s.passes_box)
    short = sum(s.at_corner.mm - s.at_corner.equity for s in states if s.at_corner.equity < s.at_corner.mm)
    bad = sum(max(0, -s.at_corner.equity) for s in states)
    return BoxCoverage(len(states), under_p, under_b, cost, short, bad, sum(1 for s in states if not s.sound))


# ---------------------------------------------------------------- a whole book (vectorised path)


@dataclass
class BookBoxState:
    """Per-row results of `book_box_states`: point and worst-corner Results, the corner's moves, the lower bound."""

    underlyings: list[str]
    point: Results
    at_corner: Results
    corner: np.ndarray  # (N, U) int8 signs (-1, +1; 0 when the row does not hold that underlying)
    margin_lb: np.ndarray  # (N,) int64
    evaluations: int

    @property
    def passes_point(self) -> np.ndarray:
        return np.asarray(self.point.equity >= self.point.mm)

    @property
    def passes_box(self) -> np.ndarray:
        return np.asarray(self.at_corner.equity >= self.at_corner.mm)


def book_box_states(
    instruments: dict[str, Instrument],
    params: RiskParameters,
    snapshot: MarketSnapshot,
    assets: list[str],
    book: Book,
    b_ppm: int,
    risk_arrays: RiskArrays | None = None,
    asset_underlying: dict[str, str] | None = None,
) -> BookBoxState:
    """Separable worst corner of every row of a book: 2U + 1 full revaluations (U = underlyings in the venue), then
    one exact revaluation per distinct worst-corner pattern. Rows holding options are refused (exact path:
    `PriceBoxEngine`, scenario method)."""
    check_box(b_ppm)
    amap = default_asset_underlying(snapshot) if asset_underlying is None else asset_underlying
    symbols = sorted(instruments)
    opt = np.array([instruments[s].kind == "option" for s in symbols])
    held = book.qty != 0
    if (opt[book.inst] & held).any():
        rows = np.flatnonzero((opt[book.inst] & held).any(axis=1))[:3]
        raise ValueError(f"accounts {[book.account_ids[r] for r in rows]}: hold options; use the exact scenario path")
    used = {symbols[i] for i in np.unique(book.inst[held])} | {a for i, a in enumerate(assets) if book.bal[:, i].any()}
    problems = concavity_problems(params, used)
    if problems:
        raise ValueError(f"book: the corner bound does not hold: {'; '.join(problems)}")
    und_of_sym = np.array([instruments[s].underlying for s in symbols])
    unds = sorted({str(u) for u in und_of_sym[np.unique(book.inst[held])]} | {amap[a] for a in used if a in amap})
    n = len(book.account_ids)
    # which rows hold which underlying (positions or mapped balances)
    hold = np.zeros((n, len(unds)), bool)
    for j, u in enumerate(unds):
        hold[:, j] = ((und_of_sym[book.inst] == u) & held).any(axis=1)
        for i, a in enumerate(assets):
            if amap.get(a) == u:
                hold[:, j] |= book.bal[:, i] != 0

    def revalue(moves: Mapping[str, int], rows: np.ndarray | None = None) -> Results:
        snap = move_snapshot(snapshot, instruments, moves, amap)
        return VectorEngine(instruments, params, snap, assets, risk_arrays).revalue(book, rows)

    point = revalue({})
    f0 = point.equity - point.mm
    est = f0.copy()
    signs = np.zeros((n, len(unds)), np.int8)
    for j, u in enumerate(unds):
        lo = revalue({u: -b_ppm})
        hi = revalue({u: b_ppm})
        flo, fhi = lo.equity - lo.mm, hi.equity - hi.mm
        signs[:, j] = np.where(hold[:, j], np.where(flo <= fhi, -1, 1), 0)
        est += np.minimum(flo, fhi) - f0
    evals = 1 + 2 * len(unds)
    at = revalue({}) if n == 0 else None
    fields = list(Results.__dataclass_fields__)
    if n:
        # a row unaffected by u does not care where u is: group it with the -b side (at most 2^U patterns)
        patterns, inverse = np.unique(np.where(signs == 0, -1, signs), axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        parts: dict[str, np.ndarray] = {name: np.zeros_like(getattr(point, name)) for name in fields}
        for p_idx, pat in enumerate(patterns):
            rows = np.flatnonzero(inverse == p_idx)
            res = revalue({u: int(s) * b_ppm for u, s in zip(unds, pat, strict=True)}, rows)
            for name in fields:
                parts[name][rows] = getattr(res, name)
            evals += 1
        at = Results(**parts)
    assert at is not None
    k = hold.sum(axis=1)
    sep_err = np.maximum(2 * k - 1, 0)
    moved = np.array([a in amap for a in assets], np.int64)
    lb = np.minimum(est - sep_err, at.equity - at.mm) - rounding_bound_rows(book, moved)
    return BookBoxState(unds, point, at, signs, lb, evals)


# ---------------------------------------------------------------- the venue circuit's box (bit-exact)


@dataclass(frozen=True)
class VenueBoxAccount:
    """One account's worst-corner state exactly as the venue box circuit computes it (micro-USD):
    ``margin`` = floor(sum of per-underlying minima of equity - tiered MM, 1e8 scale) + cash - D - 2 - portfolio MM,
    ``equity`` likewise with the minima of equity; D = the rounding slack (2 per used position slot, 1 per used
    balance slot). Both are lower bounds over every integer price inside the box (docs/statement.md)."""

    margin: int
    equity: int
    slack: int

    @property
    def under_mm(self) -> int:
        return 1 if self.margin < 0 else 0

    @property
    def shortfall(self) -> int:
        return max(0, -self.margin)

    @property
    def bad_debt(self) -> int:
        return max(0, -self.equity)


def _interval(floors: Sequence[int], x: int) -> int:
    """The k with floors[k] <= x < floors[k + 1] (the last interval open to VALUE_TOP), as the circuit's tables."""
    k = 0
    for i, f in enumerate(floors):
        if f <= x and (i + 1 == len(floors) or x < floors[i + 1]):
            k = i
    return k


def _venue_position_at(vp: VenueParams, lid: int, q: int, mark: int) -> tuple[int, int]:
    """(value micro-USD, tiered MM numerator 1e12 scale) of q units at ``mark`` on ladder ``lid`` (0: none)."""
    w, rem = divmod(abs(q) * mark, WIDE_DIVISOR)
    notional = w + (1 if rem else 0)
    val = w if q >= 0 else -notional
    if lid == 0:
        return val, 0
    fl, mmr, cum = vp.ladder_floor[lid - 1], vp.ladder_mmr[lid - 1], vp.ladder_cum[lid - 1]
    k = _interval(fl, notional)
    return val, notional * mmr[k] - cum[k] * RATE_SCALE


def _venue_balance_at(vp: VenueParams, aid: int, b: int, price: int) -> int:
    """The haircut numerator (1e12 scale) of a balance at ``price``: tiered haircut if >= 0, in full if borrowed."""
    w, rem = divmod(abs(b) * price, WIDE_DIVISOR)
    if b < 0:
        return -(w + (1 if rem else 0)) * RATE_SCALE
    if aid == 0:
        return 0
    fl, rt = vp.haircut_floor[aid - 1], vp.haircut_rate[aid - 1]
    k = _interval(fl, w)
    cum = sum(rt[t] * (fl[t + 1] - fl[t]) for t in range(k))
    return cum + rt[k] * (w - fl[k])


def venue_box_state(
    shape: VenueShape,
    vp: VenueParams,
    prices: Sequence[int],
    leaves: Sequence[VenueLeaf],
    gconts: Sequence[int],
) -> list[VenueBoxAccount]:
    """Every account's worst-corner margin and equity as the venue box circuit computes them, from the same
    integers (``leaves`` in batch order, accounts delimited by ``part`` = 0; ``gconts`` the leaves' group links).
    Per leaf the slots are grouped by underlying (as the circuit's entries), each group taking its worse corner for
    the margin and, separately, for the equity. Portfolio MM: the published arrays' worst loss, or the short-option
    minimum at the high corner when larger."""
    b = vp.box_ppm
    flags = vp.box_flags(shape)

    def corner(p: int, boxed: int) -> tuple[int, int]:
        return (corner_price(p, b, False), corner_price(p, b, True)) if boxed else (p, p)

    pcorner = [corner(p, f) for p, f in zip(prices, flags, strict=True)]
    rows = vp.instruments
    scale = QTY_SCALE // RATE_SCALE
    smin = [ceil_div(p * vp.short_option_min_ppm, SMIN_DIVISOR) for p in prices]
    smin_hi = [ceil_div(hi * vp.short_option_min_ppm, SMIN_DIVISOR) for _, hi in pcorner]
    out: list[VenueBoxAccount] = []
    starts = [i for i, lf in enumerate(leaves) if lf.part == 0] + [len(leaves)]
    for s0, s1 in itertools.pairwise(starts):
        bm = be = slack = bim = 0
        pf = leaves[s0].portfolio
        sums = [0] * shape.scenarios
        somc = somc_hi = 0
        for i in range(s0, s1):
            lf = leaves[i]
            if not gconts[i]:
                sums, somc, somc_hi = [0] * shape.scenarios, 0, 0
            groups: dict[int, list[int]] = {}
            for aid, amount in lf.balances:
                lo, hi = pcorner[aid - 1] if aid else (0, 0)
                e = [_venue_balance_at(vp, aid, amount, p) * scale for p in (lo, hi)]
                g = groups.setdefault(aid, [0, 0, 0, 0])
                for k, v in enumerate((*e, *e)):
                    g[k] += v
                slack += 1 if aid else 0
            for iid, q in lf.positions:
                if not iid:
                    continue
                r = rows[iid - 1]
                mode = pf * r.has_risk_array
                arr = vp.risk_long[r.risk_row - 1] if r.risk_row else (0,) * shape.scenarios
                qneg = min(q, 0)
                sums = [x + q * e + (qneg if r.has_risk_array else 0) for x, e in zip(sums, arr, strict=True)]
                if r.is_option:
                    somc -= qneg * smin[r.asset - 1]
                    somc_hi -= qneg * smin_hi[r.asset - 1]
                moves = flags[r.asset - 1] and not r.is_option
                marks = corner(r.mark, 1) if moves else (r.mark, r.mark)
                ra = vp.risk_long[r.risk_row - 1] if r.is_option and r.risk_row else None
                eqs, mgs = [], []
                for side, m in enumerate(marks):
                    val, mn = _venue_position_at(vp, r.ladder, q, m)
                    pnl = q * ra[vp.box_nodes[side]] + min(q, 0) if ra is not None else 0
                    eq = val * QTY_SCALE + pnl
                    eqs.append(eq)
                    mgs.append(eq - mn * (1 - mode) * scale)
                g = groups.setdefault(r.asset, [0, 0, 0, 0])
                for k, v in enumerate((*eqs, *mgs)):
                    g[k] += v
                slack += 2
            for eq_lo, eq_hi, mg_lo, mg_hi in groups.values():
                bm += min(mg_lo, mg_hi)
                be += min(eq_lo, eq_hi)
            bm += lf.cash * QTY_SCALE
            be += lf.cash * QTY_SCALE
            if i + 1 == s1 or not gconts[i + 1]:  # the group ends here: its IM counts
                y = max(0, *(-x for x in sums), somc, somc_hi)
                bim += ceil_div(y, QTY_SCALE)
        pmm = ceil_div(bim * vp.mm_ratio, RATE_SCALE) if pf else 0
        margin = bm // QTY_SCALE - slack - 2 - pmm
        equity = be // QTY_SCALE - slack - 2
        out.append(VenueBoxAccount(margin, equity, slack + 2))
    return out
