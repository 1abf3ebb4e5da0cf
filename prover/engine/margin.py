"""The exact per-account path: Python integers, every floor/ceil where fixedpoint says. This is the reference the
circuits reproduce and that the vectorised path is tested against."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from zkmargin.circuits.rules.black76 import black76
from zkmargin.circuits.rules.fixedpoint import (
    ACCOUNT_LIMIT,
    PRICE_SCALE,
    QTY_SCALE,
    RATE_SCALE,
    USD_SCALE,
    WIDE_DIVISOR,
    ceil_div,
)
from zkmargin.circuits.rules.models import SECONDS_PER_YEAR, Account, Instrument, MarketSnapshot, Position
from zkmargin.circuits.rules.params import HaircutTier, LeverageBracket, RiskParameters
from zkmargin.circuits.rules.risk_arrays import RiskArrays

if TYPE_CHECKING:
    from .liquidation import LiquidationConvention

Status = Literal["healthy", "margin_call", "liquidation"]


def bracket_index(brackets: list[LeverageBracket], notional: int) -> int:
    """Index k with floor_k <= notional < cap_k (a boundary notional belongs to the upper bracket)."""
    k = 0
    while k + 1 < len(brackets) and notional >= brackets[k + 1].notional_floor:
        k += 1
    return k


def tiered_requirements(brackets: list[LeverageBracket], notional: int) -> tuple[int, int]:
    """(IM numerator, MM numerator) at 1e12 scale for one position: N x imr and N x mmr - cum x 1e6."""
    b = brackets[bracket_index(brackets, notional)]
    return notional * b.imr, notional * b.mmr - b.cum * RATE_SCALE


def haircut_numerator(value: int, tiers: list[HaircutTier] | None) -> int:
    """Collateral value at 1e12 scale: value-ratio tiers on positive values; negatives (borrowings) count in full."""
    if value <= 0:
        return value * RATE_SCALE
    if not tiers:
        return 0  # not accepted as collateral
    total = 0
    for k, t in enumerate(tiers):
        top = tiers[k + 1].value_floor if k + 1 < len(tiers) else value
        total += t.rate * max(0, min(value, top) - t.value_floor)
    return total


def position_value(q: int, price: int) -> tuple[int, int]:
    """(V, N): value floor(q p / 1e10) and notional ceil(|q| p / 1e10), from one division."""
    v, r = divmod(q * price, WIDE_DIVISOR)
    return v, (v + (r != 0)) if q >= 0 else -v


def ceil_sqrt(x: int) -> int:
    s = math.isqrt(x)
    return s if s * s == x else s + 1


@dataclass
class AccountResult:
    account_id: str
    collateral: int
    upnl: int
    option_value: int
    equity: int
    im: int
    mm: int
    status: Status
    shortfall: int
    per_underlying_im: dict[str, int] = field(default_factory=dict)

    @property
    def margin_ratio(self) -> float:
        """equity / MM (inf when MM = 0): a display number, not a proof input."""
        return math.inf if self.mm == 0 else self.equity / self.mm


def classify(equity: int, im: int, mm: int) -> tuple[Status, int]:
    if equity < mm:
        return "liquidation", mm - equity
    if equity < im:
        return "margin_call", im - equity
    return "healthy", 0


@dataclass
class MarginEngine:
    instruments: dict[str, Instrument]
    params: RiskParameters
    snapshot: MarketSnapshot
    risk_arrays: RiskArrays | None = None

    def collateral(self, acct: Account) -> int:
        num = 0
        for asset, bal in acct.balances.items():
            v = (bal * self.snapshot.spot_prices[asset]) // WIDE_DIVISOR
            num += haircut_numerator(v, self.params.haircuts.get(asset))
        return num // RATE_SCALE

    def _linear(self, p: Position) -> tuple[int, int]:
        return position_value(p.quantity, self.snapshot.marks[p.instrument])

    def magnitude(self, acct: Account) -> float:
        """Float64 bound on every intermediate of this account (see fixedpoint: must be < ACCOUNT_LIMIT)."""
        snap, ra = self.snapshot, self.risk_arrays
        m = float(abs(acct.realised_pnl))
        for asset, bal in acct.balances.items():
            m += abs(float(bal)) * float(snap.spot_prices[asset]) / WIDE_DIVISOR
        for p in acct.positions:
            q = abs(float(p.quantity))
            m += q * float(snap.marks[p.instrument]) / WIDE_DIVISOR + abs(float(p.entry_value))
            if ra is not None and acct.margin_mode == "portfolio" and p.instrument in ra.long:
                worst = max(max(abs(x) for x in ra.long[p.instrument]), max(abs(x) for x in ra.short[p.instrument]))
                m += q * float(worst + ra.short_option_min.get(p.instrument, 0)) / QTY_SCALE
        return m

    def evaluate(self, acct: Account) -> AccountResult:
        if not self.magnitude(acct) < ACCOUNT_LIMIT:
            raise ValueError(f"account {acct.account_id}: magnitude beyond the supported range (2^56 micro-USD)")
        coll = self.collateral(acct) + acct.realised_pnl
        upnl = opt_val = 0
        im_num = mm_num = 0
        worst_isolated: tuple[Status, int] = ("healthy", 0)
        per_u: dict[str, int] = {}
        for p in acct.positions:
            inst = self.instruments[p.instrument]
            v, n = self._linear(p)
            if inst.kind == "option":
                opt_val += v
                continue
            upnl += v - p.entry_value
            if acct.margin_mode == "portfolio" and self.risk_arrays and p.instrument in self.risk_arrays.long:
                continue
            i_n, m_n = tiered_requirements(self.params.brackets[p.instrument], n)
            if acct.margin_mode == "isolated":
                assert p.isolated_margin is not None
                st = classify(
                    p.isolated_margin + v - p.entry_value, ceil_div(i_n, RATE_SCALE), ceil_div(m_n, RATE_SCALE)
                )
                order = {"healthy": 0, "margin_call": 1, "liquidation": 2}
                if order[st[0]] > order[worst_isolated[0]] or (
                    st[0] == worst_isolated[0] and st[1] > worst_isolated[1]
                ):
                    worst_isolated = st
            im_num += i_n
            mm_num += m_n
        im, mm = ceil_div(im_num, RATE_SCALE), ceil_div(mm_num, RATE_SCALE)
        if acct.margin_mode == "portfolio":
            per_u = self.portfolio_im(acct)
            pim = self.aggregate_im(per_u)
            im += pim
            mm += ceil_div(pim * self.params.mm_ratio, RATE_SCALE)
        if acct.margin_mode == "isolated":
            iso_total = sum(p.isolated_margin or 0 for p in acct.positions)
            equity = coll + iso_total + upnl + opt_val
            status, shortfall = worst_isolated
            if status == "healthy":
                status, shortfall = classify(equity, im, mm)
        else:
            equity = coll + upnl + opt_val
            status, shortfall = classify(equity, im, mm)
        return AccountResult(acct.account_id, coll, upnl, opt_val, equity, im, mm, status, shortfall, per_u)

    # ------------------------------------------------------------ portfolio margin

    def portfolio_im(self, acct: Account) -> dict[str, int]:
        """Per-underlying IM = max(0, worst scenario loss, short-option minimum), from the published arrays."""
        ra = self.risk_arrays
        if ra is None:
            raise ValueError("portfolio accounts need published risk arrays")
        sums: dict[str, list[int]] = {}
        somc: dict[str, int] = {}
        for p in acct.positions:
            if p.instrument not in ra.long:
                continue
            u = self.instruments[p.instrument].underlying
            arr = ra.long[p.instrument] if p.quantity > 0 else ra.short[p.instrument]
            acc = sums.setdefault(u, [0] * len(arr))
            for s, r in enumerate(arr):
                acc[s] += p.quantity * r
            if p.quantity < 0 and p.instrument in ra.short_option_min:
                somc[u] = somc.get(u, 0) + (-p.quantity) * ra.short_option_min[p.instrument]
        out: dict[str, int] = {}
        for u, acc in sums.items():
            worst = max(ceil_div(-x, QTY_SCALE) for x in acc)
            out[u] = max(0, worst, ceil_div(somc.get(u, 0), QTY_SCALE))
        return out

    def aggregate_im(self, per_u: dict[str, int]) -> int:
        """Uncorrelated sum (default, conservative) or ceil(sqrt(L^T rho L)) when offsets are enabled."""
        if not self.params.offsets_enabled or len(per_u) < 2:
            return sum(per_u.values())
        keys = sorted(per_u)
        rho = self.params.correlations
        x = 0
        for a in keys:
            for b in keys:
                r = RATE_SCALE if a == b else rho.get(a, {}).get(b, rho.get(b, {}).get(a, RATE_SCALE))
                x += r * per_u[a] * per_u[b]
        return max(max(per_u.values()), ceil_sqrt(ceil_div(max(x, 0), RATE_SCALE)))

    # ------------------------------------------------------------ greeks, liquidation price, VM, funding

    def greeks(self, acct: Account) -> dict[str, dict[str, float]]:
        """Delta (units of underlying), gamma, vega (USD per vol point), theta (USD per day) per underlying."""
        out: dict[str, dict[str, float]] = {}
        snap = self.snapshot
        for p in acct.positions:
            inst = self.instruments[p.instrument]
            g = out.setdefault(inst.underlying, {"delta": 0.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0})
            q = p.quantity / QTY_SCALE
            if inst.kind != "option":
                g["delta"] += q
                continue
            assert inst.strike is not None and inst.expiry is not None
            f = snap.index_prices[inst.underlying] / PRICE_SCALE
            t = max(inst.expiry - snap.timestamp, 0) / SECONDS_PER_YEAR
            vol = snap.vol_surfaces[inst.underlying].vol(inst.strike, inst.expiry, snap.timestamp)
            gr = black76(f, inst.strike / PRICE_SCALE, t, vol, inst.option_type == "call")
            g["delta"] += q * gr.delta
            g["gamma"] += q * gr.gamma
            g["vega"] += q * gr.vega / 100
            g["theta"] += q * gr.theta / 365
        return out

    def liquidation_price(self, acct: Account, convention: LiquidationConvention | None = None) -> Fraction | None:
        """Mark price at which a single-position cross account hits MM (Binance USDⓈ-M one-way formula).

        LP = (WB + cum - side x |q| x EP) / (|q| x mmr - side x |q|), recomputed with the bracket of the notional
        at LP until consistent. Display value (exact rational, USD); None if the account cannot be liquidated.
        `convention` (default: this formula, MM at the liquidation mark) selects another venue's convention, e.g.
        `LiquidationConvention.MM_AT_ENTRY_VALUE` (Bybit isolated); multi-position accounts: see
        `prover/engine/liquidation.py` (`position_liquidation_price`).
        """
        from .liquidation import LiquidationConvention as _LC
        from .liquidation import position_liquidation_price

        if convention is not None and _LC(convention) is not _LC.MM_AT_LIQUIDATION_MARK:
            if len(acct.positions) != 1:
                raise ValueError("liquidation price is defined here for single-position accounts")
            return position_liquidation_price(self, acct, 0, _LC(convention))
        lin = [p for p in acct.positions if self.instruments[p.instrument].kind != "option"]
        if len(lin) != 1 or len(acct.positions) != 1:
            raise ValueError("liquidation price is defined here for single-position accounts")
        p = lin[0]
        assert p.entry_price is not None
        wb = Fraction(self.collateral(acct) + acct.realised_pnl + (p.isolated_margin or 0), USD_SCALE)
        side = 1 if p.quantity > 0 else -1
        qty = Fraction(abs(p.quantity), QTY_SCALE)
        ep = Fraction(p.entry_price, PRICE_SCALE)
        brackets = self.params.brackets[p.instrument]
        for b in brackets:
            mmr = Fraction(b.mmr, RATE_SCALE)
            den = qty * mmr - side * qty
            if den == 0:
                continue
            lp = (wb + Fraction(b.cum, USD_SCALE) - side * qty * ep) / den
            if lp <= 0:
                continue
            notional = qty * lp * USD_SCALE
            if b.notional_floor <= notional < b.notional_cap:
                return lp
        return None

    def variation_margin(self, acct: Account, later: MarketSnapshot) -> int:
        """Change in position value between this snapshot and a later one (micro-USD, each end floored)."""
        total = 0
        for p in acct.positions:
            total += position_value(p.quantity, later.marks[p.instrument])[0]
            total -= position_value(p.quantity, self.snapshot.marks[p.instrument])[0]
        return total

    def funding_payment(self, acct: Account) -> int:
        """Funding credited for one interval at this snapshot: -q x mark x rate, floored (a payment rounds up)."""
        total = 0
        for p in acct.positions:
            if self.instruments[p.instrument].kind != "perpetual":
                continue
            rate = self.snapshot.funding_rates.get(p.instrument, 0)
            total += -p.quantity * self.snapshot.marks[p.instrument] * rate
        return total // (WIDE_DIVISOR * RATE_SCALE)
