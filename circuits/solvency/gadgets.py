"""Solvency-specific gadgets: exact division by a public constant, interval (bracket/tier) selection by a proven
one-hot hint or by a lookup in a committed table, and the maximum of a candidate list.

All hints here are advice: each hinted signal is pinned by the constraints listed in its docstring. Every gadget
takes a range-check strategy ``rc`` (``circuits.gadgets.RangeCheck``): bit decomposition by default (the plain
circuit), LogUp lookups in the solvency circuit's lookup mode; the constraints they state are the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkmargin.circuits.field import R
from zkmargin.circuits.gadgets import RangeCheck, assert_boolean, range_check
from zkmargin.circuits.lookup import FixedTable
from zkmargin.circuits.r1cs import LC, ConstraintSystem, Value, as_lc


def signed(v: int) -> int:
    """Field element -> the integer in (-r/2, r/2) it encodes (for hints only)."""
    return v - R if v > R // 2 else v


def tight_remainder_bits(d: int) -> int:
    """Constraints spent proving 0 <= rem < d (see :func:`divmod_const`)."""
    e = (d & -d).bit_length() - 1
    m = d >> e
    return e + (2 * (m - 1).bit_length() + 2 if m > 1 else 0) + (1 if e else 0)


def divmod_const(
    cs: ConstraintSystem,
    a: Value,
    b: Value | None,
    d: int,
    name: str,
    add: int = 0,
    quotient_bits: int | None = None,
    rc: RangeCheck = range_check,
) -> tuple[LC, LC]:
    """(quo, rem) with ``a * b + add = d * quo + rem`` (``a + add`` when b is None) and 0 <= rem < d exactly.

    The numerator must be a non-negative integer below ~2^200 for a witness to exist (callers shift signed
    numerators by a multiple of d through ``add``). The remainder check is tight: with d = 2^e * m (m odd),
    rem = lo + 2^e * hi where lo has e bits and both hi and m - 1 - hi have bitlen(m - 1) bits, so hi < m and
    rem < d: e.g. 58 constraints for 1e10 instead of 68 for two 34-bit checks. A loose check (rem < 2^34) would let
    quo drop by one.
    The quotient is unique once it is known to be a small integer: either ``quotient_bits`` range-checks it here,
    or the caller documents which later range check pins it (a non-integer quotient is a huge field element).
    """
    if d < 2:
        raise ValueError("divisor must be >= 2")
    e = (d & -d).bit_length() - 1
    m = d >> e
    la = as_lc(a)
    lb = None if b is None else as_lc(b)

    def split(x: int, y: int = 1) -> list[int]:
        num = signed(x) * (signed(y) if lb is not None else 1) + add
        # hints never raise: an out-of-range numerator yields a witness the constraints reject
        q, r = divmod(num % R, d)
        return [q, r & ((1 << e) - 1), r >> e]

    deps = [la] if lb is None else [la, lb]
    quo, lo, hi = cs.hint(f"{name}.qr", split, *deps, count=3)
    rem = LC()
    if e:
        rc(cs, lo, e, f"{name}.rem_lo")
        rem = rem + lo
    else:
        cs.assert_equal(lo, 0, f"{name}.rem_lo_zero")
    if m > 1:
        nb = (m - 1).bit_length()
        rc(cs, hi, nb, f"{name}.rem_hi")
        rc(cs, (m - 1) - hi, nb, f"{name}.rem_hi_tight")
        rem = rem + hi * (1 << e)
    else:
        cs.assert_equal(hi, 0, f"{name}.rem_hi_zero")
    rhs = quo * d + rem - add
    if lb is None:
        cs.assert_equal(la, rhs, f"{name}.div")
    else:
        cs.constrain(la, lb, rhs, f"{name}.div")
    if quotient_bits is not None:
        rc(cs, quo, quotient_bits, f"{name}.quo")
    return quo, rem


def select_one_hot(cs: ConstraintSystem, h: Sequence[LC], values: Sequence[Value], name: str) -> LC:
    """sum_k h_k * values_k for a proven one-hot h (one product per non-constant value)."""
    out = LC()
    for k, (hk, v) in enumerate(zip(h, values, strict=True)):
        out = out + cs.mul(hk, v, f"{name}[{k}]")
    return out


def interval_one_hot(
    cs: ConstraintSystem,
    x: Value,
    floors: Sequence[Value],
    top: int,
    bits: int,
    name: str,
    rc: RangeCheck = range_check,
) -> tuple[list[LC], LC]:
    """One-hot h with floor_k <= x < floor_{k+1} (floor_K = top) for the selected k; returns (h, floor_k).

    Pinned by: h_k boolean, sum h_k = 1, and range checks of x - floor_sel and floor_next_sel - 1 - x to ``bits``
    bits. A boundary x = floor_{k+1} therefore belongs to bracket k+1 (as the engine), an all-zero or two-hot h
    fails the sum, and an empty bracket (floor_k = floor_{k+1}) can never be chosen. The checks also prove
    0 <= x < top, so x needs no range check of its own.
    """
    lx = as_lc(x)
    fl = [as_lc(f) for f in floors]
    n = len(fl)

    def pick(xv: int, *fv: int) -> list[int]:
        k = 0
        while k + 1 < n and xv >= fv[k + 1]:
            k += 1
        return [1 if i == k else 0 for i in range(n)]

    h = cs.hint(f"{name}.onehot", pick, lx, *fl, count=n)
    total = LC()
    for k, hk in enumerate(h):
        assert_boolean(cs, hk, f"{name}.onehot[{k}].bool")
        total = total + hk
    cs.assert_equal(total, 1, f"{name}.onehot.sum")
    f_sel = select_one_hot(cs, h, fl, f"{name}.floor")
    nxt = select_one_hot(cs, h, [*fl[1:], LC.const(top)], f"{name}.next")
    rc(cs, lx - f_sel, bits, f"{name}.ge_floor")
    rc(cs, nxt - 1 - lx, bits, f"{name}.lt_next")
    return h, f_sel


def interval_rows(
    key: int, floors: Sequence[Value], top: int, values: Sequence[Sequence[Value]]
) -> list[tuple[Value, ...]]:
    """Rows ``(key, floor_k, floor_{k+1}, *values_k)`` (floor_K = top) of an interval table for
    :func:`interval_lookup`; ``values`` holds one list per column (e.g. [mmr, cum]), K entries each."""
    n = len(floors)
    nxt: list[Value] = [*floors[1:], top]
    return [(key, floors[k], nxt[k], *(col[k] for col in values)) for k in range(n)]


def interval_lookup(
    cs: ConstraintSystem,
    x: Value,
    table: FixedTable,
    rows: Sequence[Sequence[Value]],
    bits: int,
    name: str,
    rc: RangeCheck,
) -> tuple[LC, list[LC]]:
    """(floor_k, [values_k...]) for the k with floor_k <= x < floor_{k+1}, by ONE tuple lookup instead of a one-hot.

    ``rows`` are this key's rows of ``table`` (:func:`interval_rows`, already in the table). The prover hints the
    whole row (key, floor, next, values...); pinned by: the tuple lookup (it is one of the table's rows, and the
    constant key makes it a row of this slot), and ``rc`` checks of x - floor and next - 1 - x to ``bits`` bits. So
    a boundary x = floor_{k+1} belongs to row k+1, an empty interval (floor_k = floor_{k+1}) or a padding row
    (floor = next = top) can never be chosen, and 0 <= x < top follows, as with :func:`interval_one_hot`.
    Cost: arity - 1 products and one inverse for the lookup, plus the two range checks; the K booleans and
    4K selection products of the one-hot are gone.
    """
    lx = as_lc(x)
    key = as_lc(rows[0][0])
    if not key.is_constant():
        raise ValueError("interval_lookup: the key column must be a constant (it names the slot)")
    flat = [as_lc(v) for r in rows for v in r[1:]]
    width = len(rows[0]) - 1

    def pick(xv: int, *fv: int) -> list[int]:
        k = 0
        while k + 1 < len(rows) and xv >= fv[(k + 1) * width]:
            k += 1
        return list(fv[k * width : (k + 1) * width])

    hinted = cs.hint(f"{name}.row", pick, lx, *flat, count=width)
    table.lookup([key, *hinted])
    floor, nxt = hinted[0], hinted[1]
    rc(cs, lx - floor, bits, f"{name}.ge_floor")
    rc(cs, nxt - 1 - lx, bits, f"{name}.lt_next")
    return floor, hinted[2:]


def max_candidates(
    cs: ConstraintSystem,
    cands: Sequence[Value],
    bits: int,
    name: str,
    unchecked: Sequence[int] = (),
    rc: RangeCheck = range_check,
) -> LC:
    """M = max(cands) for integer candidates in (-2^(bits-1), 2^(bits-1)); M - c_i is range-checked to ``bits`` bits
    for every i not in ``unchecked`` (M >= all), and prod_i (M - c_i) = 0 (M is one of them): len(cands) * (bits + 1)
    + len - 1 constraints. ``unchecked`` lists candidates whose lower bound the caller proves more cheaply (the
    portfolio IM skips the 0 candidate: its quotient range check already gives ceil(M / 1e8) >= 0)."""
    cl = [as_lc(c) for c in cands]
    m = cs.hint1(f"{name}.max", lambda *v: max(signed(x) for x in v) % R, *cl)
    for i, c in enumerate(cl):
        if i not in unchecked:
            rc(cs, m - c, bits, f"{name}.ge[{i}]")
    prod = m - cl[0]
    for i, c in enumerate(cl[1:], 1):
        if i == len(cl) - 1:
            cs.constrain(prod, m - c, LC(), f"{name}.is_one")
        else:
            prod = cs.mul(prod, m - c, f"{name}.prod[{i}]")
    if len(cl) == 1:
        cs.assert_equal(prod, 0, f"{name}.is_one")
    return m
