"""The C revaluation kernel (circuits/_native/engine.c) behind VectorEngine, when the extension is built.

The kernel walks each account's positions once in 128-bit integers (why that is exact: the C file's header), so it
needs no float estimates or residue corrections; flat.revalue_numpy is the fallback and the tests compare the
two, and both against the exact path. ``ZKMARGIN_NO_NATIVE_ENGINE=1`` forces the numpy fallback (benchmarks).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from zkmargin.circuits.rules.fixedpoint import IntArray

if TYPE_CHECKING:
    from .flat import FlatBook
    from .vectorised import Results, VectorEngine


def _load() -> ModuleType | None:
    if os.environ.get("ZKMARGIN_NO_NATIVE_ENGINE"):
        return None
    try:
        from zkmargin.circuits import _engine  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _engine


_NATIVE = _load()


def available() -> bool:
    """True when the C kernel is built (``zkmargin doctor`` style check for the engine)."""
    return _NATIVE is not None


def _i64(x: np.ndarray) -> IntArray:
    return np.ascontiguousarray(x, np.int64)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, np.uint8)


def static_tables(ve: VectorEngine) -> tuple[np.ndarray, ...]:
    """The engine's parameter tables in the kernel's order, except marks and spot (read fresh on every call: stress
    scenarios and ticks replace them). Cached per VectorEngine: its other tables are fixed once it is built."""
    worst = np.maximum(np.abs(ve.r_long).max(axis=1, initial=0), np.abs(ve.r_short).max(axis=1, initial=0))
    if ve.h_floor.shape[1] > 1 and np.any(np.diff(ve.h_floor, axis=1) < 0):
        raise ValueError("VectorEngine.h_floor: haircut tier floors must ascend (the kernel relies on it)")
    if ve.n_und < 1 or (ve.und_index.size and not (0 <= ve.und_index.min() and ve.und_index.max() < ve.n_und)):
        raise ValueError("VectorEngine.und_index: underlying index out of range")
    return (
        _u8(ve.is_option),
        _u8(ve.has_array),
        _i64(ve.und_index),
        _i64(ve.floors),
        _i64(ve.imr),
        _i64(ve.mmr),
        _i64(ve.cum),
        _i64(ve.r_long),
        _i64(ve.r_short),
        _i64(ve.smin),
        _i64(worst),
    )


def default_threads() -> int:
    """``ZKMARGIN_ENGINE_THREADS`` if set, else every core this process may use (accounts split evenly)."""
    env = os.environ.get("ZKMARGIN_ENGINE_THREADS")
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _outputs(out: Results | None, n_out: int) -> tuple[list[IntArray], np.ndarray]:
    """Fresh result arrays, or ``out``'s when they fit (a tick loop reuses them: no page faults per tick)."""
    names = ("collateral", "upnl", "option_value", "equity", "im", "mm", "shortfall")
    if out is not None:
        arrs = [getattr(out, f) for f in names]
        ok = all(a.dtype == np.int64 and a.shape == (n_out,) and a.flags.c_contiguous for a in arrs)
        if ok and out.status.dtype == np.int8 and out.status.shape == (n_out,) and out.status.flags.c_contiguous:
            return arrs, out.status
    return [np.empty(n_out, np.int64) for _ in names], np.empty(n_out, np.int8)


def revalue(
    ve: VectorEngine,
    book: FlatBook,
    rows: IntArray | None = None,
    out: Results | None = None,
    threads: int | None = None,
) -> Results:
    """Revalue the accounts ``rows`` of ``book`` (all of them by default) with the C kernel, into ``out``'s
    arrays when given and of the right shape, on ``threads`` threads (default: default_threads())."""
    from .vectorised import Results

    assert _NATIVE is not None, "the C engine kernel is not built (kernel.available())"
    tabs = ve.__dict__.get("_kernel_tables")
    if tabs is None:
        tabs = static_tables(ve)
        ve.__dict__["_kernel_tables"] = tabs
    n_inst, n_assets = len(ve.symbols), len(ve.assets)
    n_out = len(book.account_ids) if rows is None else int(np.asarray(rows).size)
    rows_arr = np.zeros(0, np.int64) if rows is None else _i64(np.asarray(rows))
    h_floor, h_rate = _i64(ve.h_floor), _i64(ve.h_rate)
    tables = (_i64(ve.marks), *tabs, _i64(ve.spot), h_floor, h_rate)  # marks and spot: read fresh every call
    bk = (book.start, book.inst, book.qty, book.cost, book.bal_start, book.bal_asset, book.bal_amount)
    book_bufs = (*(_i64(x) for x in bk), _i64(book.realised), _u8(book.portfolio), rows_arr)
    arrs, status = _outputs(out, n_out)
    refused = _NATIVE.revalue(
        book_bufs,
        tables,
        (*arrs, status),
        ve.floors.shape[1],
        ve.r_long.shape[1],
        ve.h_floor.shape[1],
        ve.n_und,
        ve.params.mm_ratio,
        n_out,
        int(rows is not None),
        n_inst,
        n_assets,
        default_threads() if threads is None else threads,
    )
    if refused:
        bad = np.flatnonzero(status < 0)[:3]
        ids = [book.account_ids[int(rows_arr[i]) if rows is not None else int(i)] for i in bad]
        raise ValueError(f"accounts {ids}: magnitude beyond 2^56 micro-USD")
    coll, upnl, opt_val, equity, im, mm, shortfall = arrs
    if out is not None and out.status is status:
        return out
    return Results(coll, upnl, opt_val, equity, im, mm, status, shortfall)
