"""Liquidation price of one position of a (multi-position) account, under a selectable venue convention.

The liquidation price of position j is the mark P of j's instrument at which the account's equity meets its
maintenance margin, everything else held fixed (other marks, balances, realised PnL, the other positions' MM):

    equity(P) = A + q·P                      A = collateral + realised + Σ_{i≠j}(V_i − C_i) + options − C_j
    MM(P)     = MM_o + MM_j(P)               MM_o = Σ_{i≠j} (N_i·mmr_i − cum_i) (the engine's integers, unrounded)

Conventions (`LiquidationConvention`, default `MM_AT_LIQUIDATION_MARK`, the engine's previous behaviour):

* ``MM_AT_LIQUIDATION_MARK`` (Binance USDⓈ-M, "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"):
  MM_j(P) = |q|·P·mmr_k − cum_k with the bracket k of the notional AT the liquidation price. Tiered MM is solved
  per bracket: for each k, P_k = (A + cum_k − MM_o) / (|q|·mmr_k − q), accepted when floor_k ≤ |q|·P_k < cap_k.
  equity − MM is strictly monotone in P (slope q − |q|·mmr_k, mmr_k < 1), so exactly one bracket's root is
  consistent (an edge root is the same P in both brackets: MM is continuous). With no other position this is
  Binance's LP = (WB − TMM1 + UPNL1 + cum − side·|q|·EP) / (|q|·MMR − side·|q|).
* ``MM_AT_ENTRY_VALUE`` (Bybit isolated, "Liquidation Price (USDT Contract)"): MM_j is fixed at the entry value,
  MM_j = |C_j|·mmr_k − cum_k with the bracket of |C_j|, so P = (MM_o + MM_j − A) / q, i.e. for an isolated
  position LP = EP − (IM − MM)/size (long), EP + (IM − MM)/size (short), IM = the isolated margin.

The result is a display value: an exact `Fraction` of USD per unit (no rounding; no proof consumes it), or None when
no positive price liquidates (e.g. a long backed by more than its notional). Portfolio accounts are refused (their
MM comes from risk arrays, not a price-linear formula).
"""

from __future__ import annotations

from enum import StrEnum
from fractions import Fraction

from zkmargin.circuits.rules.fixedpoint import QTY_SCALE, RATE_SCALE, USD_SCALE
from zkmargin.circuits.rules.models import Account

from .margin import MarginEngine, bracket_index, tiered_requirements

MICRO_PER_PPM = USD_SCALE * RATE_SCALE  # MM numerators are micro-USD x ppm


class LiquidationConvention(StrEnum):
    """Which notional the position's maintenance margin is taken at when solving for the liquidation price."""

    MM_AT_LIQUIDATION_MARK = "binance"  # bracket and MM at the notional at the liquidation price (default)
    MM_AT_ENTRY_VALUE = "bybit_isolated"  # bracket and MM at the entry value (Bybit's isolated formula)


def _split(engine: MarginEngine, acct: Account, j: int) -> tuple[Fraction, Fraction]:
    """(A, MM_o) in USD: equity without position j's mark value, and the other positions' MM (unrounded)."""
    if acct.margin_mode == "portfolio":
        raise ValueError("liquidation price: portfolio accounts are margined by risk arrays")
    pj = acct.positions[j]
    if engine.instruments[pj.instrument].kind == "option" or pj.entry_price is None:
        raise ValueError(f"positions.{j}: liquidation price is defined for perpetuals and futures")
    if acct.margin_mode == "isolated":
        assert pj.isolated_margin is not None
        return Fraction(pj.isolated_margin - pj.entry_value, USD_SCALE), Fraction(0)
    a = engine.collateral(acct) + acct.realised_pnl - pj.entry_value
    mm_o = 0
    for i, p in enumerate(acct.positions):
        if i == j:
            continue
        v, n = engine._linear(p)
        if engine.instruments[p.instrument].kind == "option":
            a += v
            continue
        a += v - p.entry_value
        mm_o += tiered_requirements(engine.params.brackets[p.instrument], n)[1]
    return Fraction(a, USD_SCALE), Fraction(mm_o, MICRO_PER_PPM)


def position_liquidation_price(
    engine: MarginEngine,
    acct: Account,
    position: int | str,
    convention: LiquidationConvention = LiquidationConvention.MM_AT_LIQUIDATION_MARK,
) -> Fraction | None:
    """Mark of the position's instrument (USD per unit, exact) at which the account's equity meets its MM.

    `position` is an index into acct.positions or an instrument symbol (unique in the account)."""
    if isinstance(position, str):
        idx = [i for i, p in enumerate(acct.positions) if p.instrument == position]
        if len(idx) != 1:
            raise ValueError(f"position {position!r}: held {len(idx)} times in account {acct.account_id}")
        j = idx[0]
    else:
        j = position
    p = acct.positions[j]
    if p.quantity == 0:
        return None
    a, mm_o = _split(engine, acct, j)
    q = Fraction(p.quantity, QTY_SCALE)
    brackets = engine.params.brackets[p.instrument]
    if convention is LiquidationConvention.MM_AT_ENTRY_VALUE:
        b = brackets[bracket_index(brackets, abs(p.entry_value))]
        mm_j = Fraction(abs(p.entry_value) * b.mmr - b.cum * RATE_SCALE, MICRO_PER_PPM)
        lp = (mm_o + mm_j - a) / q
        return lp if lp > 0 else None
    for b in brackets:
        den = abs(q) * Fraction(b.mmr, RATE_SCALE) - q
        if den == 0:
            continue
        lp = (a + Fraction(b.cum, USD_SCALE) - mm_o) / den
        if lp <= 0:
            continue
        notional = abs(q) * lp * USD_SCALE
        if b.notional_floor <= notional < b.notional_cap:
            return lp
    return None
