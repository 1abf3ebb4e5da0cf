"""Vectorised revaluation of a whole exchange with numpy int64, bit-identical to the exact path (margin.py).

Accounts are rows of fixed-width position slots (empty slot: quantity 0, which contributes exactly 0 everywhere
because the first bracket has cum = 0). Products that exceed int64 go through fixedpoint.floor_div_dot, so no
intermediate silently wraps into a wrong result. Isolated accounts and correlation offsets are left to the exact
path (they are rare and per-position); everything else is here.

When the C kernel is built (kernel.py, circuits/_native/engine.c) ``revalue`` runs it over ``Book.flat_view()`` and
``revalue_flat`` over a sparse ``FlatBook`` (flat.py); the numpy passes here (``revalue_numpy``) and flat.py's
``revalue_numpy`` are the fallbacks. All of them give the exact path's integers; the tests compare them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zkmargin.circuits.rules.fixedpoint import (
    ACCOUNT_LIMIT,
    MAX_VALUE,
    QTY_SCALE,
    RATE_SCALE,
    WIDE_DIVISOR,
    IntArray,
    floor_div_dot,
    floor_div_prod,
    rowsum,
)
from zkmargin.circuits.rules.models import Account, Instrument, MarketSnapshot
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.rules.risk_arrays import RiskArrays

from . import kernel
from .flat import FlatBook, bracket_index, revalue_numpy

STATUS_NAMES = ("healthy", "margin_call", "liquidation")
_BIG = np.int64(MAX_VALUE)


@dataclass
class Book:
    """Struct-of-arrays form of many accounts."""

    account_ids: list[str]
    inst: IntArray  # (N, P) instrument index
    qty: IntArray  # (N, P)
    cost: IntArray  # (N, P) entry values (micro-USD), 0 for options
    bal: IntArray  # (N, A) balances per asset
    realised: IntArray  # (N,)
    portfolio: np.ndarray  # (N,) bool
    _static: np.ndarray | None = None

    def static_magnitude(self) -> np.ndarray:
        """sum |entry value| + |realised| per account in float64 (price-independent part of the magnitude bound)."""
        if self._static is None or self._static.shape[0] != self.qty.shape[0]:
            self._static = rowsum(np.abs(self.cost.astype(np.float64))) + np.abs(self.realised.astype(np.float64))
        return self._static

    def invalidate(self) -> None:
        """Call after changing cost or realised in place."""
        self._static = None

    def flat_view(self) -> FlatBook:
        """The same accounts as a FlatBook over this book's arrays (views when they are C-contiguous): every slot
        is a position (an empty slot adds exactly 0, as in revalue) and every asset column a balance."""
        n, width = self.qty.shape
        n_assets = self.bal.shape[1]
        cached = self.__dict__.get("_flat_offsets")
        if cached is None or cached[0] != (n, width, n_assets):
            start = np.arange(n + 1, dtype=np.int64) * width
            b_start = np.arange(n + 1, dtype=np.int64) * n_assets
            cached = ((n, width, n_assets), start, b_start, np.tile(np.arange(n_assets, dtype=np.int64), n))
            self.__dict__["_flat_offsets"] = cached
        _, start, b_start, b_asset = cached
        flat = (self.inst.reshape(-1), self.qty.reshape(-1), self.cost.reshape(-1))
        return FlatBook(
            self.account_ids, start, *flat, b_start, b_asset, self.bal.reshape(-1), self.realised, self.portfolio
        )

    @classmethod
    def from_accounts(
        cls, accounts: list[Account], symbols: list[str], assets: list[str], slots: int | None = None
    ) -> Book:
        sidx = {s: i for i, s in enumerate(symbols)}
        aidx = {a: i for i, a in enumerate(assets)}
        width = slots or max((len(a.positions) for a in accounts), default=1)
        n = len(accounts)
        inst = np.zeros((n, width), np.int64)
        qty = np.zeros((n, width), np.int64)
        cost = np.zeros((n, width), np.int64)
        bal = np.zeros((n, len(assets)), np.int64)
        realised = np.zeros(n, np.int64)
        portfolio = np.zeros(n, bool)
        for r, a in enumerate(accounts):
            if a.margin_mode == "isolated":
                raise ValueError(f"account {a.account_id}: isolated accounts use the exact path")
            for j, p in enumerate(a.positions):
                inst[r, j], qty[r, j], cost[r, j] = sidx[p.instrument], p.quantity, p.entry_value
            for asset, b in a.balances.items():
                bal[r, aidx[asset]] = b
            realised[r] = a.realised_pnl
            portfolio[r] = a.margin_mode == "portfolio"
        return cls([a.account_id for a in accounts], inst, qty, cost, bal, realised, portfolio)


@dataclass
class Results:
    collateral: IntArray
    upnl: IntArray
    option_value: IntArray
    equity: IntArray
    im: IntArray
    mm: IntArray
    status: np.ndarray  # int8 codes into STATUS_NAMES
    shortfall: IntArray


@dataclass
class VectorEngine:
    instruments: dict[str, Instrument]
    params: RiskParameters
    snapshot: MarketSnapshot
    assets: list[str]
    risk_arrays: RiskArrays | None = None
    symbols: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.symbols = sorted(self.instruments)
        if self.params.offsets_enabled:
            raise ValueError("correlation offsets are computed on the exact path")
        syms = self.symbols
        self.marks = np.array([self.snapshot.marks.get(s, 1) for s in syms], np.int64)
        self.is_option = np.array([self.instruments[s].kind == "option" for s in syms])
        k = max((len(self.params.brackets.get(s, [])) for s in syms), default=1) or 1
        self.floors = np.full((len(syms), k), _BIG, np.int64)
        self.imr = np.zeros((len(syms), k), np.int64)
        self.mmr = np.zeros((len(syms), k), np.int64)
        self.cum = np.zeros((len(syms), k), np.int64)
        for i, s in enumerate(syms):
            for j, b in enumerate(self.params.brackets.get(s, [])):
                self.floors[i, j], self.imr[i, j], self.mmr[i, j], self.cum[i, j] = (
                    b.notional_floor,
                    b.imr,
                    b.mmr,
                    b.cum,
                )
        self.floors[:, 0] = 0
        self.spot = np.array([self.snapshot.spot_prices[a] for a in self.assets], np.int64)
        t = max((len(self.params.haircuts.get(a, [])) for a in self.assets), default=1) or 1
        self.h_floor = np.full((len(self.assets), t), _BIG, np.int64)
        self.h_width = np.zeros((len(self.assets), t), np.int64)
        self.h_rate = np.zeros((len(self.assets), t), np.int64)
        for i, a in enumerate(self.assets):
            tiers = self.params.haircuts.get(a, [])
            for j, tier in enumerate(tiers):
                top = tiers[j + 1].value_floor if j + 1 < len(tiers) else MAX_VALUE
                self.h_floor[i, j], self.h_width[i, j], self.h_rate[i, j] = (
                    tier.value_floor,
                    top - tier.value_floor,
                    tier.rate,
                )
        self._build_risk_tables()

    def _build_risk_tables(self) -> None:
        ra = self.risk_arrays
        syms = self.symbols
        self.has_array = np.array([ra is not None and s in ra.long for s in syms])
        unds = sorted({self.instruments[s].underlying for s in syms})
        self.und_index = np.array([unds.index(self.instruments[s].underlying) for s in syms], np.int64)
        self.n_und = len(unds)
        smax = max((len(v) for v in ra.long.values()), default=1) if ra else 1
        self.r_long = np.zeros((len(syms), smax), np.int64)
        self.r_short = np.zeros((len(syms), smax), np.int64)
        self.smin = np.zeros(len(syms), np.int64)
        if ra:
            for i, s in enumerate(syms):
                if s in ra.long:
                    self.r_long[i, : len(ra.long[s])] = ra.long[s]
                    self.r_short[i, : len(ra.short[s])] = ra.short[s]
                self.smin[i] = ra.short_option_min.get(s, 0)

    def revalue_flat(self, book: FlatBook, rows: IntArray | None = None, out: Results | None = None) -> Results:
        """Revalue a sparse book (all accounts, or ``rows``): the C kernel when built (writing into ``out``'s
        arrays when they fit, as a tick loop would), else numpy segment sums."""
        if kernel.available():
            return kernel.revalue(self, book, rows, out)
        return revalue_numpy(self, book if rows is None else book.take(rows))

    def update_mark_flat(
        self, book: FlatBook, results: Results, holders: list[IntArray], symbol: str, price: int
    ) -> int:
        """One mark change on a sparse book: recompute only the accounts holding ``symbol`` (``holders`` from
        flat.holders, built once per book) into ``results``; returns the number of accounts touched."""
        i = self.symbols.index(symbol)
        self.marks[i] = price
        rows = holders[i]
        if rows.size * 2 > len(book.account_ids):
            full = self.revalue_flat(book, out=results)  # most accounts hold it: one pass beats a gather
            if full is not results:  # the numpy fallback returns fresh arrays
                for name in Results.__dataclass_fields__:
                    setattr(results, name, getattr(full, name))
        elif rows.size:
            part = self.revalue_flat(book, rows)
            for name in Results.__dataclass_fields__:
                getattr(results, name)[rows] = getattr(part, name)
        return int(rows.size)

    def set_mark(self, symbol: str, price: int) -> None:
        self.marks[self.symbols.index(symbol)] = price

    # ------------------------------------------------------------------ revaluation

    def revalue(self, book: Book, rows: IntArray | slice | None = None) -> Results:
        """Revalue the dense book (or its ``rows``): the C kernel over book.flat_view() when it is built, else the
        numpy passes below (both exact; the tests compare them)."""
        if kernel.available():
            sub = None if rows is None else np.arange(len(book.account_ids), dtype=np.int64)[rows]
            return kernel.revalue(self, book.flat_view(), sub)
        return self.revalue_numpy(book, rows)

    def revalue_numpy(self, book: Book, rows: IntArray | slice | None = None) -> Results:
        sel = slice(None) if rows is None else rows
        inst, qty, cost = book.inst[sel], book.qty[sel], book.cost[sel]
        port = book.portfolio[sel]
        mark = self.marks[inst]
        v_est = qty.astype(np.float64) * mark.astype(np.float64) / WIDE_DIVISOR
        self._check_magnitude(book, sel, inst, qty, v_est, port)
        v, r = floor_div_prod(qty, mark, WIDE_DIVISOR, v_est)
        notional = np.abs(v) + ((r != 0) & (qty > 0))  # = ceil(|q| mark / 1e10) from the one division
        opt = self.is_option[inst]
        any_opt, any_port = bool(opt.any()), bool(port.any())
        in_arrays = self.has_array[inst] & port[:, None] if any_port else np.zeros(inst.shape, bool)
        # fast paths below are exact: they skip masks that select everything (or nothing)
        if any_opt:
            upnl = rowsum(np.where(opt, 0, v - cost))
            opt_val = rowsum(np.where(opt, v, 0))
        else:
            upnl, opt_val = rowsum(v - cost), np.zeros(inst.shape[0], np.int64)
        tiered = ~opt & ~in_arrays
        all_tiered = not (any_opt or in_arrays.any())
        n_t = notional if all_tiered else np.where(tiered, notional, 0)
        flat = inst * self.floors.shape[1] + bracket_index(self.floors, inst, n_t)
        imr, mmr = self.imr.ravel()[flat], self.mmr.ravel()[flat]
        cum_k = self.cum.ravel()[flat]
        cum_sum = rowsum(cum_k if all_tiered else np.where(tiered, cum_k, 0))
        # ceil((sum N mmr - sum cum x 1e6) / 1e6) = ceil(sum N mmr / 1e6) - sum cum, exactly.
        im = -floor_div_dot(-n_t, imr, RATE_SCALE)[0]
        mm = -floor_div_dot(-n_t, mmr, RATE_SCALE)[0] - cum_sum
        if any_port:
            pim = self._portfolio_im(inst, qty, in_arrays)
            pim = np.where(port, pim, 0)
            im = im + pim
            mm = mm - floor_div_prod(-pim, np.full_like(pim, self.params.mm_ratio), RATE_SCALE)[0]
        coll = self._collateral(book.bal[sel]) + book.realised[sel]
        equity = coll + upnl + opt_val
        status = np.where(equity < mm, 2, np.where(equity < im, 1, 0)).astype(np.int8)
        shortfall = np.where(status == 2, mm - equity, np.where(status == 1, im - equity, 0))
        return Results(coll, upnl, opt_val, equity, im, mm, status, shortfall)

    def _check_magnitude(
        self, book: Book, sel: IntArray | slice, inst: IntArray, qty: IntArray, v_est: np.ndarray, port: np.ndarray
    ) -> None:
        """Reject accounts whose magnitude (fixedpoint docstring) reaches ACCOUNT_LIMIT, so no int64 sum can wrap."""
        m = rowsum(np.abs(v_est)) + book.static_magnitude()[sel]
        m += rowsum(np.abs(book.bal[sel].astype(np.float64)) * self.spot / WIDE_DIVISOR)
        if port.any():
            worst = np.maximum(np.abs(self.r_long).max(axis=1), np.abs(self.r_short).max(axis=1)) + self.smin
            qf = np.abs(qty.astype(np.float64))
            m += np.where(port, rowsum(qf * np.where(self.has_array[inst], worst[inst], 0) / QTY_SCALE), 0.0)
        bad = np.flatnonzero(~(m < ACCOUNT_LIMIT))
        if bad.size:
            ids = np.arange(len(book.account_ids))[sel][bad[:3]]
            raise ValueError(f"accounts {[book.account_ids[i] for i in ids]}: magnitude beyond 2^56 micro-USD")

    def _collateral(self, bal: IntArray) -> IntArray:
        val, _ = floor_div_prod(bal, np.broadcast_to(self.spot, bal.shape), WIDE_DIVISOR)
        pos = np.maximum(val, 0)
        top = pos.max(axis=0, initial=0)
        cols: list[IntArray] = []
        rates: list[IntArray] = []
        for t in range(self.h_floor.shape[1]):
            used = np.flatnonzero(top > self.h_floor[:, t])  # tiers no balance reaches contribute exactly 0
            if used.size:
                cols.append(np.minimum(np.maximum(pos[:, used] - self.h_floor[used, t], 0), self.h_width[used, t]))
                rates.append(self.h_rate[used, t])
        neg = rowsum(np.minimum(val, 0))
        if not cols:
            return neg
        a = np.concatenate(cols, axis=1)
        b = np.broadcast_to(np.concatenate(rates), a.shape)
        # floor((sum_pos rate x slice + sum_neg val x 1e6) / 1e6) = floor(sum_pos / 1e6) + sum_neg, exactly.
        return floor_div_dot(a, b, RATE_SCALE)[0] + neg

    def _portfolio_im(self, inst: IntArray, qty: IntArray, in_arrays: np.ndarray) -> IntArray:
        q = np.where(in_arrays, qty, 0)
        arr = np.where((q > 0)[:, :, None], self.r_long[inst], self.r_short[inst])  # (N, P, S)
        und = self.und_index[inst]
        smin = self.smin[inst]
        total = np.zeros(inst.shape[0], np.int64)
        for u in range(self.n_und):
            qu = np.where(und == u, q, 0)
            if not qu.any():
                continue
            pnl_floor = floor_div_dot(
                np.broadcast_to(qu[:, None, :], (qu.shape[0], arr.shape[2], qu.shape[1])).copy(),
                np.ascontiguousarray(arr.transpose(0, 2, 1)),
                QTY_SCALE,
            )[0]  # (N, S): floor(sum q R / 1e8), so the loss ceil(-x/1e8) = -floor(x/1e8)
            worst = (-pnl_floor).max(axis=1)
            short_q = np.where(qu < 0, -qu, 0)
            somc = -floor_div_dot(-short_q, smin, QTY_SCALE)[0]
            total += np.maximum(np.maximum(worst, 0), somc)
        return total

    # ------------------------------------------------------------------ incremental

    def holders(self, book: Book) -> dict[int, IntArray]:
        """Rows holding each instrument (precomputed once per book), for incremental updates."""
        out: dict[int, IntArray] = {}
        nz = book.qty != 0
        for i in range(len(self.symbols)):
            out[i] = np.flatnonzero(((book.inst == i) & nz).any(axis=1))
        return out

    def update_mark(self, book: Book, results: Results, holders: dict[int, IntArray], symbol: str, price: int) -> int:
        """Apply one mark change and recompute only the accounts holding that instrument; returns rows touched."""
        i = self.symbols.index(symbol)
        self.marks[i] = price
        rows = holders[i]
        if rows.size * 2 > len(book.account_ids):
            part = self.revalue(book)  # most accounts hold it: contiguous full pass beats gathering rows
            for name in Results.__dataclass_fields__:
                setattr(results, name, getattr(part, name))
        elif rows.size:
            part = self.revalue(book, rows)
            for name in Results.__dataclass_fields__:
                getattr(results, name)[rows] = getattr(part, name)
        return int(rows.size)
