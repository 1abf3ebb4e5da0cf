"""Sparse (flat) books: every account's positions and balances as one contiguous run, revalued bit-identically to
the exact path (margin.py).

A real venue's book is sparse: most accounts hold 1-3 of hundreds of instruments and 1-2 of dozens of assets, a
long tail holds dozens. The dense ``Book`` pads every account to the widest one, so a book whose widest account
holds 29 positions does 12x the work of its 2.4 real positions per account. ``FlatBook`` stores positions (and
balances) in account order with offsets, CSR style: account ``a`` owns positions ``start[a]:start[a + 1]``.

Two implementations revalue it, both exact (fixedpoint.py's rounding rules, the same magnitude check):

* the C kernel (circuits/_native/engine.c, one pass per account in 128-bit integers), when it is built;
* :func:`revalue_numpy`, segment sums with ``np.add.reduceat`` and int64 arithmetic whose bounds are proved
  below, as the fallback (and the cross-check the tests run against the kernel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zkmargin.circuits.rules.fixedpoint import (
    ACCOUNT_LIMIT,
    QTY_SCALE,
    RATE_SCALE,
    WIDE_DIVISOR,
    IntArray,
    floor_div_prod,
)
from zkmargin.circuits.rules.models import Account

if TYPE_CHECKING:
    from .vectorised import Book, Results, VectorEngine


@dataclass
class FlatBook:
    """Struct-of-arrays book with variable positions and balances per account (CSR offsets)."""

    account_ids: list[str]
    start: IntArray  # (N + 1,) account a's positions are start[a]:start[a + 1]
    inst: IntArray  # (M,) instrument index into VectorEngine.symbols
    qty: IntArray  # (M,)
    cost: IntArray  # (M,) entry values (micro-USD), 0 for options
    bal_start: IntArray  # (N + 1,) account a's balances are bal_start[a]:bal_start[a + 1]
    bal_asset: IntArray  # (B,) asset index into VectorEngine.assets
    bal_amount: IntArray  # (B,)
    realised: IntArray  # (N,)
    portfolio: np.ndarray  # (N,) bool

    def __post_init__(self) -> None:
        n = len(self.account_ids)
        for name in ("start", "bal_start"):
            off = getattr(self, name)
            if off.shape != (n + 1,) or off[0] != 0 or (n and np.any(np.diff(off) < 0)):
                raise ValueError(f"FlatBook.{name}: must be {n + 1} non-decreasing offsets from 0")
        for name, size in (("inst", self.start[-1]), ("qty", self.start[-1]), ("cost", self.start[-1])):
            if getattr(self, name).shape != (size,):
                raise ValueError(f"FlatBook.{name}: length must be start[-1] = {size}")
        for name in ("bal_asset", "bal_amount"):
            if getattr(self, name).shape != (self.bal_start[-1],):
                raise ValueError(f"FlatBook.{name}: length must be bal_start[-1] = {self.bal_start[-1]}")
        for name in ("realised", "portfolio"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"FlatBook.{name}: length must be the account count {n}")

    @property
    def positions(self) -> int:
        return int(self.start[-1])

    def owner(self) -> IntArray:
        """Account index of every position (cached: positions change far less often than prices)."""
        cached = self.__dict__.get("_owner")
        if cached is None or cached.shape != self.inst.shape:
            cached = np.repeat(np.arange(len(self.account_ids), dtype=np.int64), np.diff(self.start))
            self.__dict__["_owner"] = cached
        return cached

    @classmethod
    def from_accounts(cls, accounts: list[Account], symbols: list[str], assets: list[str]) -> FlatBook:
        """Cross and portfolio accounts (isolated ones stay on the exact path), positions in the given order."""
        sidx = {s: i for i, s in enumerate(symbols)}
        aidx = {a: i for i, a in enumerate(assets)}
        inst: list[int] = []
        qty: list[int] = []
        cost: list[int] = []
        start = [0]
        b_asset: list[int] = []
        b_amt: list[int] = []
        b_start = [0]
        for a in accounts:
            if a.margin_mode == "isolated":
                raise ValueError(f"account {a.account_id}: isolated accounts use the exact path")
            for p in a.positions:
                inst.append(sidx[p.instrument])
                qty.append(p.quantity)
                cost.append(p.entry_value)
            start.append(len(inst))
            for asset, b in a.balances.items():
                b_asset.append(aidx[asset])
                b_amt.append(b)
            b_start.append(len(b_asset))

        def arr(x: list[int]) -> IntArray:
            return np.array(x, np.int64)

        return cls(
            [a.account_id for a in accounts],
            arr(start),
            arr(inst),
            arr(qty),
            arr(cost),
            arr(b_start),
            arr(b_asset),
            arr(b_amt),
            arr([a.realised_pnl for a in accounts]),
            np.array([a.margin_mode == "portfolio" for a in accounts], bool),
        )

    @classmethod
    def from_book(cls, book: Book) -> FlatBook:
        """The dense book's non-empty slots (quantity or cost non-zero) and non-zero balances, in slot order."""
        n = book.qty.shape[0]
        keep = (book.qty != 0) | (book.cost != 0)
        start = np.zeros(n + 1, np.int64)
        np.cumsum(keep.sum(axis=1), out=start[1:])
        bkeep = book.bal != 0
        b_start = np.zeros(n + 1, np.int64)
        np.cumsum(bkeep.sum(axis=1), out=b_start[1:])
        assets = np.broadcast_to(np.arange(book.bal.shape[1], dtype=np.int64), book.bal.shape)
        return cls(
            list(book.account_ids),
            start,
            book.inst[keep].astype(np.int64),
            book.qty[keep].astype(np.int64),
            book.cost[keep].astype(np.int64),
            b_start,
            assets[bkeep].astype(np.int64),
            book.bal[bkeep].astype(np.int64),
            book.realised.astype(np.int64),
            book.portfolio.astype(bool),
        )

    def take(self, rows: IntArray) -> FlatBook:
        """The sub-book of the given accounts (in that order)."""
        rows = np.asarray(rows, np.int64)

        def gather(off: IntArray, *cols: IntArray) -> tuple[IntArray, ...]:
            lo, hi = off[rows], off[rows + 1]
            cnt = hi - lo
            new = np.zeros(rows.size + 1, np.int64)
            np.cumsum(cnt, out=new[1:])
            idx = np.repeat(lo - new[:-1], cnt) + np.arange(int(new[-1]), dtype=np.int64)
            return (new, *(c[idx] for c in cols))

        start, inst, qty, cost = gather(self.start, self.inst, self.qty, self.cost)
        b_start, b_asset, b_amt = gather(self.bal_start, self.bal_asset, self.bal_amount)
        ids = [self.account_ids[int(r)] for r in rows]
        return FlatBook(ids, start, inst, qty, cost, b_start, b_asset, b_amt, self.realised[rows], self.portfolio[rows])


def holders(book: FlatBook, n_instruments: int) -> list[IntArray]:
    """Accounts holding each instrument (a non-zero quantity), built once per book for incremental updates."""
    nz = book.qty != 0
    inst, owner = book.inst[nz], book.owner()[nz]
    order = np.lexsort((owner, inst))
    inst, owner = inst[order], owner[order]
    keep = np.r_[True, (inst[1:] != inst[:-1]) | (owner[1:] != owner[:-1])]  # one row per (instrument, account)
    inst, owner = inst[keep], owner[keep]
    bounds = np.searchsorted(inst, np.arange(n_instruments + 1))
    return [owner[bounds[i] : bounds[i + 1]] for i in range(n_instruments)]


def segsum(x: np.ndarray, start: IntArray) -> np.ndarray:
    """Per-segment sums of ``x`` (segment a = start[a]:start[a + 1]), 0 for empty segments.

    ``np.add.reduceat`` returns x[start[a]] for an empty segment, and rejects an index equal to len(x) (trailing
    empty segments): the first are zeroed, the second left out of the call (they are a suffix, since start is
    non-decreasing, and the segment before them correctly runs to the end of x). int64 sums are exact whenever
    the true segment sum fits (the callers' bounds guarantee it)."""
    n = start.shape[0] - 1
    out = np.zeros((n, *x.shape[1:]), x.dtype)
    k = int(np.searchsorted(start[:-1], x.shape[0], side="left"))  # segments starting inside x
    if k:
        out[:k] = np.add.reduceat(x, start[:k], axis=0)
        empty = start[1 : k + 1] == start[:k]
        if empty.any():
            out[:k][empty] = 0
    return out


def bracket_index(floors: IntArray, inst: IntArray, notional: IntArray) -> IntArray:
    """Each position's leverage bracket: how many of its instrument's bracket floors above the first it reaches.

    ``floors`` is (instruments x brackets), ascending per row, first column 0. The loop runs over bracket levels, not
    positions, and stops at the first level no instrument's floor lets any position reach, so a book of small positions
    pays for one or two levels. Shared by the flat (CSR) and the dense vectorised paths so both pick the same row.
    """
    k = np.zeros(inst.shape, np.int64)
    top = notional.max(initial=0)
    for j in range(1, floors.shape[1]):
        if floors[:, j].min() > top:
            break  # no position reaches this bracket level for any instrument
        k += notional >= floors[:, j][inst]
    return k


def _split_dot_ceil(n: IntArray, rate: IntArray, start: IntArray) -> IntArray:
    """Per segment ceil(sum n x rate / 1e6) in int64, exactly, for 0 <= n < 2^62 and 0 <= rate <= 1e6.

    n x rate reaches 2^82, so split n = h x 1e6 + l: sum n rate / 1e6 = sum h rate + sum l rate / 1e6, where
    h rate <= n < 2^62 per term (sums bounded by the account's magnitude < 2^56) and l rate < 1e12 per term, so
    the second sum stays below 2^63 for any segment under 9 million terms. Only the second part is divided."""
    h, low = np.divmod(n, RATE_SCALE)
    return segsum(h * rate, start) - (segsum(-low * rate, start) // RATE_SCALE)


def revalue_numpy(ve: VectorEngine, book: FlatBook) -> Results:
    """Exact revaluation of a flat book with numpy (the fallback when the C kernel is not built)."""
    from .vectorised import Results

    start, inst, qty, cost = book.start, book.inst, book.qty, book.cost
    n = len(book.account_ids)
    for idx, size in ((inst, len(ve.symbols)), (book.bal_asset, len(ve.assets))):
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):  # numpy would wrap a negative index
            raise ValueError("book: an offset, instrument or asset index is out of range")
    port_pos = book.portfolio[book.owner()]
    in_arrays = ve.has_array[inst] & port_pos
    mark = ve.marks[inst]
    qf = qty.astype(np.float64)
    v_est = qf * mark / WIDE_DIVISOR
    _check_magnitude(ve, book, inst, qf, v_est, in_arrays)
    v, r = floor_div_prod(qty, mark, WIDE_DIVISOR, v_est)
    notional = np.abs(v) + ((r != 0) & (qty > 0))  # ceil(|q| mark / 1e10) from the one division
    opt = ve.is_option[inst]
    upnl = segsum(np.where(opt, 0, v - cost), start)
    opt_val = segsum(np.where(opt, v, 0), start)
    tiered = ~opt & ~in_arrays
    n_t = np.where(tiered, notional, 0)
    flat = inst * ve.floors.shape[1] + bracket_index(ve.floors, inst, n_t)
    im = _split_dot_ceil(n_t, ve.imr.ravel()[flat], start)
    # ceil((sum N mmr - sum cum x 1e6) / 1e6) = ceil(sum N mmr / 1e6) - sum cum, exactly.
    mm = _split_dot_ceil(n_t, ve.mmr.ravel()[flat], start) - segsum(np.where(tiered, ve.cum.ravel()[flat], 0), start)
    if in_arrays.any():
        pim = _portfolio_im(ve, book, in_arrays, n)
        im = im + pim
        mm = mm - floor_div_prod(-pim, np.full_like(pim, ve.params.mm_ratio), RATE_SCALE)[0]
    coll = _collateral(ve, book) + book.realised
    equity = coll + upnl + opt_val
    status = np.where(equity < mm, 2, np.where(equity < im, 1, 0)).astype(np.int8)
    shortfall = np.where(status == 2, mm - equity, np.where(status == 1, im - equity, 0))
    return Results(coll, upnl, opt_val, equity, im, mm, status, shortfall)


def _check_magnitude(
    ve: VectorEngine, book: FlatBook, inst: IntArray, qf: np.ndarray, v_est: np.ndarray, in_arrays: np.ndarray
) -> None:
    """The exact path's magnitude bound (fixedpoint docstring) per account; refuse the book if any reaches it."""
    per_pos = np.abs(v_est) + np.abs(book.cost.astype(np.float64))
    if in_arrays.any():
        worst = np.maximum(np.abs(ve.r_long).max(axis=1), np.abs(ve.r_short).max(axis=1)) + ve.smin
        per_pos += np.where(in_arrays, np.abs(qf) * worst[inst] / QTY_SCALE, 0.0)
    m = segsum(per_pos, book.start) + np.abs(book.realised.astype(np.float64))
    bal_f = np.abs(book.bal_amount.astype(np.float64)) * np.abs(ve.spot[book.bal_asset]) / WIDE_DIVISOR
    m += segsum(bal_f, book.bal_start)
    bad = np.flatnonzero(~(m < ACCOUNT_LIMIT))
    if bad.size:
        raise ValueError(f"accounts {[book.account_ids[i] for i in bad[:3]]}: magnitude beyond 2^56 micro-USD")


def _collateral(ve: VectorEngine, book: FlatBook) -> IntArray:
    """floor(sum over positive balances of sum_t rate_t x slice_t / 1e6) + sum of negative balance values.

    rate x slice reaches 2^82; split slice = h x 1e6 + l as in _split_dot_ceil (h x rate <= slice < 2^62)."""
    a = book.bal_asset
    val = floor_div_prod(book.bal_amount, ve.spot[a], WIDE_DIVISOR)[0]
    pos = np.maximum(val, 0)
    hi = np.zeros(val.shape, np.int64)
    lo = np.zeros(val.shape, np.int64)
    for t in range(ve.h_floor.shape[1]):
        s = np.minimum(np.maximum(pos - ve.h_floor[a, t], 0), ve.h_width[a, t])
        h, low = np.divmod(s, RATE_SCALE)
        rate = ve.h_rate[a, t]
        hi += h * rate
        lo += low * rate
    neg = segsum(np.minimum(val, 0), book.bal_start)
    return segsum(hi, book.bal_start) + segsum(lo, book.bal_start) // RATE_SCALE + neg


def _portfolio_im(ve: VectorEngine, book: FlatBook, in_arrays: np.ndarray, n: int) -> IntArray:
    """Sum over the underlyings an account holds of max(0, worst scenario loss, short-option minimum).

    Positions with published arrays in portfolio accounts are grouped by (account, underlying); each group's
    scenario sum floor(sum q R / 1e8) uses floor_div_prod's float estimate + wrapped residue per segment."""
    sel = np.flatnonzero(in_arrays)
    owner = book.owner()[sel]
    inst, q = book.inst[sel], book.qty[sel]
    und = ve.und_index[inst]
    order = np.lexsort((und, owner))
    owner, inst, q, und = owner[order], inst[order], q[order], und[order]
    key = owner * ve.n_und + und
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    gstart = np.r_[first, key.size].astype(np.int64)
    arr = np.where((q > 0)[:, None], ve.r_long[inst], ve.r_short[inst])  # (Mp, S)
    with np.errstate(over="ignore"):
        est = segsum(q.astype(np.float64)[:, None] * arr, gstart) / QTY_SCALE
        q0 = np.floor(est).astype(np.int64)
        resid = segsum(q[:, None] * arr, gstart) - q0 * np.int64(QTY_SCALE)  # wraps; the true residue is small
    pnl_floor = q0 + resid // QTY_SCALE  # floor(sum q R / 1e8) per group and scenario
    worst = (-pnl_floor).max(axis=1)  # ceil(-x / 1e8) = -floor(x / 1e8)
    short_q = np.where(q < 0, -q, 0)
    # ceil(sum short_q x smin / 1e8) per group, exactly: smin x short_q reaches 2^87, so estimate + residue again.
    with np.errstate(over="ignore"):
        s_est = segsum(short_q.astype(np.float64) * ve.smin[inst], gstart) / QTY_SCALE
        s0 = np.floor(s_est).astype(np.int64)
        s_res = segsum(short_q * ve.smin[inst], gstart) - s0 * np.int64(QTY_SCALE)
    s_floor = s0 + s_res // QTY_SCALE
    s_ceil = s_floor + (s_res % QTY_SCALE != 0)
    per_group = np.maximum(np.maximum(worst, 0), s_ceil)
    return segsum(per_group, np.searchsorted(owner[first], np.arange(n + 1)).astype(np.int64))
