"""Inverse (coin-margined) contracts: value, PnL and margin in the coin; USD at the index for the account's equity.

An inverse contract is quoted in USD and settled in its coin (Binance COIN-M, Bybit inverse, BitMEX XBTUSD). A
position of c contracts of S USD each, entered at EP, marked at P, has (published formulas, e.g. Binance
"How to Calculate Profit and Loss for Futures Contracts", COIN-M; Bybit "P&L calculations (Inverse Contracts)")

    value in coin   c·S / P                 PnL in coin   c·S·(1/EP − 1/P)        (long c > 0, short c < 0)
    notional (coin) |c|·S / P                MM (coin)     notional·mmr_k − cum_k (Binance COIN-M brackets in coin)

Fixed point (rounding always against the account). Coin amounts are integers at QTY_SCALE (1e-8 coin), contract
size S at USD_SCALE (micro-USD per contract), prices at PRICE_SCALE, so c·S/P coin = c·S·1e10/P units:

* entry value   E = floor(c·S·1e10 / EP)        fixed when booked (an edge input), like the linear entry value
* mark value    M = ceil(c·S·1e10 / P)          one division per position per tick
* PnL           E − M                            both roundings lower it, for either sign of c
* notional      N = ceil(|c|·S·1e10 / P)        (= |M| for c < 0, M for c > 0: the same division)
* MM, IM        ceil(Σ N·mmr_k / 1e6) − Σ cum_k, ceil(Σ N·imr_k / 1e6)   per account, bracket at N (coin ladder)
* equity (coin) balance + realised + Σ PnL
* in USD at the coin's index I: equity floor(eq·I/1e10), MM / IM / shortfall ceil(x·I/1e10)

The division by P is by a public price, not a power of ten (a quotient / remainder hint with the remainder range
checked against P in a circuit); the numpy path divides exactly the same way (`floor_div_by`).

Bounds: 0 < S ≤ 500 USD (S·1e10 < 2^63), |c| < 2^47, so c·S·1e10 < 2^110 (the exact int64 division's contract);
|coin results| < 2^62 is checked in float before the integer work (validation error naming the account).

Liquidation price of position j (everything else fixed; A = balance + realised + Σ_{i≠j} PnL_i + E_j in coin,
MM_o the other positions' MM, Q = c·S in USD):

* MM at the liquidation mark (Binance COIN-M, "How to Calculate Liquidation Price of COIN-M Futures Contracts"):
  per bracket k, LP_k = (Q + |Q|·mmr_k) / (A + cum_k − MM_o), accepted when |Q|/LP_k is in bracket k.
* MM at the entry value (Bybit inverse isolated): MM_e = |E_j|·mmr − cum at the entry bracket,
  LP = Q / (A − MM_o − MM_e); for an isolated long, Bybit's LP = Qty / (PV + IM − MM) with PV = Qty / EP.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from pydantic import Field

from zkmargin.circuits.rules.fixedpoint import (
    MAX_VALUE,
    QTY_SCALE,
    RATE_SCALE,
    USD_SCALE,
    WIDE_DIVISOR,
    IntArray,
    ceil_div,
    floor_div_dot,
)
from zkmargin.circuits.rules.models import Frozen, Price, Qty
from zkmargin.circuits.rules.params import LeverageBracket, cum_amounts

from .liquidation import LiquidationConvention
from .margin import Status, bracket_index, classify, tiered_requirements

MAX_CONTRACT_SIZE = 500 * USD_SCALE
MAX_CONTRACTS = 2**47
COIN_DIVISOR = WIDE_DIVISOR  # c·S (micro-USD) x 1e10 / P (1e8) -> 1e-8 coin


class InverseInstrument(Frozen):
    """A coin-margined perpetual or future; its bracket ladder (floors, caps, cum) is in 1e-8 coin."""

    symbol: str = Field(min_length=1, max_length=64)
    coin: str = Field(min_length=1, max_length=16)
    kind: Literal["perpetual", "future"] = "perpetual"
    contract_size: int = Field(gt=0, le=MAX_CONTRACT_SIZE, strict=True)  # micro-USD per contract
    brackets: list[LeverageBracket] = Field(min_length=1)


class InversePosition(Frozen):
    instrument: str
    contracts: int = Field(gt=-MAX_CONTRACTS, lt=MAX_CONTRACTS, strict=True)
    entry_price: Price


class InverseAccount(Frozen):
    """A coin-margined cross account: one settlement coin, balance and realised PnL in 1e-8 coin."""

    account_id: str = Field(min_length=1, max_length=128)
    coin: str
    balance: Qty = 0
    realised_pnl: Qty = 0
    positions: list[InversePosition] = Field(default_factory=list)


def make_coin_brackets(rows: list[tuple[float, float, float, float]]) -> list[LeverageBracket]:
    """Brackets from (floor coin, cap coin, imr, mmr) rows, cum derived by the continuity rule (in 1e-8 coin)."""
    floors = [round(r[0] * QTY_SCALE) for r in rows]
    mmrs = [round(r[3] * RATE_SCALE) for r in rows]
    cums = cum_amounts(floors, mmrs)
    return [
        LeverageBracket(
            notional_floor=f, notional_cap=round(r[1] * QTY_SCALE), imr=round(r[2] * RATE_SCALE), mmr=m, cum=c
        )
        for f, r, m, c in zip(floors, rows, mmrs, cums, strict=True)
    ]


def coin_value(contracts: int, size: int, price: int) -> tuple[int, int]:
    """(floor, ceil) of c·S·1e10 / P: the coin value (1e-8 coin) of c contracts of S micro-USD at price P."""
    q, r = divmod(contracts * size * COIN_DIVISOR, price)
    return q, q + (r != 0)


@dataclass
class InverseResult:
    account_id: str
    equity_coin: int
    im_coin: int
    mm_coin: int
    status: Status
    shortfall_coin: int
    equity_usd: int
    im_usd: int
    mm_usd: int
    shortfall_usd: int


@dataclass
class InverseEngine:
    """Exact path. `marks` per instrument symbol and `index` per coin, both at PRICE_SCALE."""

    instruments: dict[str, InverseInstrument]
    marks: dict[str, int]
    index: dict[str, int]

    def entry_coin(self, p: InversePosition) -> int:
        return coin_value(p.contracts, self.instruments[p.instrument].contract_size, p.entry_price)[0]

    def mark_coin(self, p: InversePosition, mark: int | None = None) -> int:
        m = self.marks[p.instrument] if mark is None else mark
        return coin_value(p.contracts, self.instruments[p.instrument].contract_size, m)[1]

    def pnl_coin(self, p: InversePosition) -> int:
        """c·S·(1/EP − 1/P) in 1e-8 coin, rounded down."""
        return self.entry_coin(p) - self.mark_coin(p)

    def notional_coin(self, p: InversePosition) -> int:
        return coin_value(abs(p.contracts), self.instruments[p.instrument].contract_size, self.marks[p.instrument])[1]

    def check(self, acct: InverseAccount) -> None:
        m = float(abs(acct.balance)) + float(abs(acct.realised_pnl))
        for i, p in enumerate(acct.positions):
            inst = self.instruments[p.instrument]
            if inst.coin != acct.coin:
                raise ValueError(f"positions.{i}.instrument: settles in {inst.coin}, account is in {acct.coin}")
            q = abs(float(p.contracts)) * inst.contract_size * COIN_DIVISOR
            m += 2 * q / self.marks[p.instrument] + q / p.entry_price
        if not m < 2**56:
            raise ValueError(f"account {acct.account_id}: magnitude beyond the supported range (2^56 coin units)")

    def evaluate(self, acct: InverseAccount) -> InverseResult:
        self.check(acct)
        eq = acct.balance + acct.realised_pnl
        im_num = mm_num = 0
        for p in acct.positions:
            eq += self.pnl_coin(p)
            i_n, m_n = tiered_requirements(self.instruments[p.instrument].brackets, self.notional_coin(p))
            im_num += i_n
            mm_num += m_n
        im, mm = ceil_div(im_num, RATE_SCALE), ceil_div(mm_num, RATE_SCALE)
        status, shortfall = classify(eq, im, mm)
        idx = self.index[acct.coin]
        return InverseResult(
            acct.account_id,
            eq,
            im,
            mm,
            status,
            shortfall,
            (eq * idx) // WIDE_DIVISOR,
            ceil_div(im * idx, WIDE_DIVISOR),
            ceil_div(mm * idx, WIDE_DIVISOR),
            ceil_div(shortfall * idx, WIDE_DIVISOR),
        )

    def liquidation_price(
        self,
        acct: InverseAccount,
        position: int,
        convention: LiquidationConvention = LiquidationConvention.MM_AT_LIQUIDATION_MARK,
    ) -> Fraction | None:
        """USD price of position `position`'s instrument at which the account's coin equity meets its MM (exact)."""
        self.check(acct)
        pj = acct.positions[position]
        if pj.contracts == 0:
            return None
        inst = self.instruments[pj.instrument]
        a = acct.balance + acct.realised_pnl + self.entry_coin(pj)
        mm_o = 0
        for i, p in enumerate(acct.positions):
            if i != position:
                a += self.pnl_coin(p)
                mm_o += tiered_requirements(self.instruments[p.instrument].brackets, self.notional_coin(p))[1]
        a_c = Fraction(a, QTY_SCALE)
        mm_o_c = Fraction(mm_o, QTY_SCALE * RATE_SCALE)
        q_usd = Fraction(pj.contracts * inst.contract_size, USD_SCALE)
        if convention is LiquidationConvention.MM_AT_ENTRY_VALUE:
            e = abs(self.entry_coin(pj))
            b = inst.brackets[bracket_index(inst.brackets, e)]
            mm_e = Fraction(e * b.mmr - b.cum * RATE_SCALE, QTY_SCALE * RATE_SCALE)
            den = a_c - mm_o_c - mm_e
            if den == 0:
                return None
            lp = q_usd / den
            return lp if lp > 0 else None
        for b in inst.brackets:
            den = a_c + Fraction(b.cum, QTY_SCALE) - mm_o_c
            if den == 0:
                continue
            lp = (q_usd + abs(q_usd) * Fraction(b.mmr, RATE_SCALE)) / den
            if lp <= 0:
                continue
            notional = abs(q_usd) / lp * QTY_SCALE
            if b.notional_floor <= notional < b.notional_cap:
                return lp
        return None


# ---------------------------------------------------------------- vectorised (numpy int64, bit-identical)


def floor_div_by(a: IntArray, b: IntArray, d: IntArray) -> tuple[IntArray, IntArray]:
    """Element-wise exact floor(a·b / d) and remainder with a per-element divisor 0 < d ≤ 2^60.

    Same argument as fixedpoint.floor_div_prod: |a·b| ≤ 2^110 and |result| < 2^62, so the float estimate is off by
    less than 2^61 in the residue, which int64 arithmetic modulo 2^64 then yields exactly."""
    with np.errstate(over="ignore"):
        est = a.astype(np.float64) * b.astype(np.float64) / d.astype(np.float64)
        q0 = np.floor(est).astype(np.int64)
        resid = a * b - q0 * d
    corr = resid // d
    return q0 + corr, resid - corr * d


@dataclass
class InverseBook:
    """Accounts x slots: column k holds instrument `symbols[k]` (0 contracts = empty); balances in 1e-8 coin."""

    symbols: list[str]
    contracts: IntArray  # (n, k)
    entry_coin: IntArray  # (n, k), booked floor(c·S·1e10/EP)
    balance: IntArray  # (n,) balance + realised


def evaluate_inverse_book(engine: InverseEngine, book: InverseBook) -> tuple[IntArray, IntArray, IntArray]:
    """(equity_coin, im_coin, mm_coin) per account, bit-identical to InverseEngine.evaluate."""
    insts = [engine.instruments[s] for s in book.symbols]
    size10 = np.array([i.contract_size * COIN_DIVISOR for i in insts], np.int64)
    marks = np.array([engine.marks[s] for s in book.symbols], np.int64)
    c = book.contracts.astype(np.int64)
    if np.any(np.abs(c) >= MAX_CONTRACTS):
        raise ValueError("contracts: beyond 2^47")
    sz, mk = np.broadcast_to(size10, c.shape), np.broadcast_to(marks, c.shape)
    if np.any(np.abs(c.astype(np.float64)) * sz / mk >= 2.0**61):
        raise ValueError("coin value beyond the supported range")
    fl, rem = floor_div_by(c, sz, mk)
    mark_ceil = fl + (rem != 0)
    eq = book.balance.astype(np.int64) + np.einsum("ij->i", book.entry_coin - mark_ceil)
    notional = np.where(c >= 0, mark_ceil, -fl)
    im_rate = np.zeros_like(c)
    mm_rate = np.zeros_like(c)
    cum = np.zeros_like(c)
    for j, inst in enumerate(insts):
        floors = np.array([b.notional_floor for b in inst.brackets], np.int64)
        kk = np.searchsorted(floors, notional[:, j], side="right") - 1
        im_rate[:, j] = np.array([b.imr for b in inst.brackets], np.int64)[kk]
        mm_rate[:, j] = np.array([b.mmr for b in inst.brackets], np.int64)[kk]
        cum[:, j] = np.array([b.cum for b in inst.brackets], np.int64)[kk]
    im = -floor_div_dot(-notional, im_rate, RATE_SCALE)[0]
    mm = -floor_div_dot(-notional, mm_rate, RATE_SCALE)[0] - np.einsum("ij->i", cum)
    if np.any(np.abs(eq) >= MAX_VALUE):
        raise ValueError("equity beyond the supported range")
    return eq, im, mm


def usd_at_index(coin_amount: int, index: int, against: Literal["asset", "liability"]) -> int:
    """Coin amount in micro-USD at the index: assets rounded down, liabilities / requirements rounded up."""
    x = coin_amount * index
    return x // WIDE_DIVISOR if against == "asset" else -((-x) // WIDE_DIVISOR)


__all__ = [
    "InverseAccount",
    "InverseBook",
    "InverseEngine",
    "InverseInstrument",
    "InversePosition",
    "InverseResult",
    "coin_value",
    "evaluate_inverse_book",
    "floor_div_by",
    "make_coin_brackets",
    "usd_at_index",
]
