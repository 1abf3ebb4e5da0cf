"""Exchange-wide stress: historical and hypothetical shocks, and a liquidation cascade with price impact.

The cascade works on the vectorised book (cross-margin linear positions): each round, every account below MM is
closed at the current marks (a liquidation fee of liquidation_fee x notional is charged), the net liquidated
notional per underlying moves that underlying's prices by impact = -net_sold / depth (a linear book-depth model:
selling `depth` USD of an underlying moves it by 100%... in practice depth is set so that, e.g., 1 billion USD
moves the price 10%), and the next round re-evaluates everyone at the new prices. Losses beyond an account's
equity are bad debt (covered by the insurance fund or socialised).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zkmargin.circuits.rules.fixedpoint import PRICE_SCALE, RATE_SCALE, WIDE_DIVISOR, floor_div_prod

from .vectorised import Book, Results, VectorEngine


def shocked_marks(engine: VectorEngine, base_marks: np.ndarray, moves: dict[str, float]) -> np.ndarray:
    """Linear instruments' marks moved by the underlying's relative move (integers, floored)."""
    out = base_marks.copy()
    for i, sym in enumerate(engine.symbols):
        inst = engine.instruments[sym]
        if inst.kind != "option" and inst.underlying in moves:
            out[i] = max(1, int(base_marks[i] * (1 + moves[inst.underlying])))
    return out


def shock_spots(engine: VectorEngine, base_spot: np.ndarray, moves: dict[str, float]) -> np.ndarray:
    out = base_spot.copy()
    for i, a in enumerate(engine.assets):
        if a in moves:
            out[i] = max(1, int(base_spot[i] * (1 + moves[a])))
    return out


@dataclass
class ShockSummary:
    moves: dict[str, float]
    liquidations: int
    margin_calls: int
    shortfall_usd: float
    negative_equity_usd: float


def apply_shock(engine: VectorEngine, book: Book, moves: dict[str, float]) -> tuple[Results, ShockSummary]:
    """Revalue the whole exchange with all prices of each underlying moved; engine prices are restored after."""
    marks, spot = engine.marks.copy(), engine.spot.copy()
    try:
        engine.marks = shocked_marks(engine, marks, moves)
        engine.spot = shock_spots(engine, spot, moves)
        res = engine.revalue(book)
    finally:
        engine.marks, engine.spot = marks, spot
    summ = ShockSummary(
        moves,
        int((res.status == 2).sum()),
        int((res.status == 1).sum()),
        float(res.shortfall[res.status == 2].sum()) / 1e6,
        float(-res.equity[res.equity < 0].sum()) / 1e6,
    )
    return res, summ


def grid_stress(engine: VectorEngine, book: Book, btc_moves: list[float], eth_moves: list[float]) -> list[ShockSummary]:
    return [apply_shock(engine, book, {"BTC": b, "ETH": e})[1] for b in btc_moves for e in eth_moves]


@dataclass
class CascadeRound:
    round: int
    prices: dict[str, float]  # underlying -> index level relative to the start (1.0 = unchanged)
    liquidated: int
    liquidated_notional_usd: float
    bad_debt_usd: float


@dataclass
class CascadeReport:
    rounds: list[CascadeRound] = field(default_factory=list)

    @property
    def total_liquidated(self) -> int:
        return sum(r.liquidated for r in self.rounds)

    @property
    def bad_debt_usd(self) -> float:
        return sum(r.bad_debt_usd for r in self.rounds)


def cascade(
    engine: VectorEngine,
    book: Book,
    initial_moves: dict[str, float],
    depth_usd: dict[str, float],
    max_rounds: int = 20,
) -> CascadeReport:
    """Liquidation cascade after an initial shock; the book and engine are copied, not modified."""
    book = Book(
        book.account_ids,
        book.inst,
        book.qty.copy(),
        book.cost.copy(),
        book.bal,
        book.realised.copy(),
        book.portfolio,
    )
    marks0, spot0 = engine.marks.copy(), engine.spot.copy()
    level = {u: 1.0 + m for u, m in initial_moves.items()}
    und_of = np.array([engine.instruments[s].underlying for s in engine.symbols])
    report = CascadeReport()
    done = np.zeros(len(book.account_ids), bool)
    try:
        for rnd in range(max_rounds):
            moves = {u: lv - 1.0 for u, lv in level.items()}
            engine.marks = shocked_marks(engine, marks0, moves)
            engine.spot = shock_spots(engine, spot0, moves)
            res = engine.revalue(book)
            liq = (res.status == 2) & ~done & (book.qty != 0).any(axis=1)
            rows = np.flatnonzero(liq)
            if rows.size == 0:
                report.rounds.append(CascadeRound(rnd, dict(level), 0, 0.0, 0.0))
                break
            q, inst = book.qty[rows], book.inst[rows]
            mark = engine.marks[inst]
            v, r = floor_div_prod(q, mark, WIDE_DIVISOR)
            notional = np.abs(v) + ((r != 0) & (q > 0))
            fee = -floor_div_prod(-notional, np.full_like(notional, engine.params.liquidation_fee), RATE_SCALE)[0]
            # close: realise PnL, pay the fee; whatever equity is left below zero is bad debt
            book.realised[rows] += (v - book.cost[rows] - fee).sum(axis=1)
            book.qty[rows] = 0
            book.cost[rows] = 0
            book.invalidate()
            done[rows] = True
            after = engine.revalue(book, rows)
            bad = float(-after.equity[after.equity < 0].sum()) / 1e6
            sold: dict[str, float] = {}
            signed_usd = (v.astype(np.float64)) / 1e6  # long closed -> sold
            for u in level:
                sold[u] = float(signed_usd[und_of[inst] == u].sum())
            for u in level:
                level[u] = max(0.01, level[u] * (1 - sold[u] / depth_usd.get(u, float("inf"))))
            report.rounds.append(CascadeRound(rnd, dict(level), int(rows.size), float(np.abs(v).sum()) / 1e6, bad))
    finally:
        engine.marks, engine.spot = marks0, spot0
    return report


def margin_ratios(res: Results) -> np.ndarray:
    """equity / MM for accounts with MM > 0 (display only)."""
    ok = res.mm > 0
    return res.equity[ok] / res.mm[ok]


__all__ = ["PRICE_SCALE", "CascadeReport", "apply_shock", "cascade", "grid_stress", "margin_ratios"]
