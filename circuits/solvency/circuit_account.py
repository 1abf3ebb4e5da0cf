"""Per-account part of the solvency circuit: one account's inputs, collateral, positions, brackets, portfolio
scenarios, equity/MM/shortfall/bad debt, padding and leaf. Bit-exact with ``MarginEngine.evaluate`` (docs/circuit.md).

Both modes state the same constraints on the same values; they differ only in how a range or interval is proven:

* plain (default): bit decomposition, and bracket/tier intervals by a proven one-hot over the slot's K entries;
* lookup mode (``SolvencyCircuit(shape, lookups=True)``): every range check by LogUp limbs (``c.rc``), and each
  bracket/tier interval by ONE tuple lookup of its row (floor, next floor, rate, cum) in the batch's committed
  interval table (:func:`gadgets.interval_lookup`), which removes the K booleans and 4K selection products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zkmargin.circuits.constants import QTY_SCALE, RATE_SCALE, WIDE_DIVISOR
from zkmargin.circuits.field import R
from zkmargin.circuits.gadgets import assert_boolean, is_zero, signed_decompose, signed_range_check
from zkmargin.circuits.poseidon import poseidon_gadget
from zkmargin.circuits.r1cs import LC, Value

from .gadgets import divmod_const, interval_lookup, interval_one_hot, max_candidates, select_one_hot
from .leaf import PIECES_PER_PACK
from .shape import (
    CASH_BITS,
    CASH_WIDTH,
    EQUITY_BITS,
    HCOLL_OFFSET_BITS,
    MM_BITS,
    QTY_BITS,
    SCEN_BITS,
    SIGNED_QTY_WIDTH,
    SLACK_BITS,
    VALUE_BITS,
    VALUE_TOP,
)

if TYPE_CHECKING:
    from .circuit import SolvencyCircuit

INV2 = pow(2, R - 2, R)


@dataclass
class AccountSignals:
    """Linear combinations of one account's in-circuit results (read them with :meth:`SolvencyCircuit.value`)."""

    active: LC
    id_hash: LC
    equity: LC
    mm: LC
    positive_equity: LC
    under_mm: LC
    shortfall: LC
    bad_debt: LC
    mm_tiered: LC
    mm_portfolio: LC
    collateral: LC
    position_values: list[LC]
    notionals: list[LC]
    positive_balances: list[LC]
    leaf: LC


def build_account(c: SolvencyCircuit, prices: list[LC]) -> AccountSignals:
    cs, sh, p, rc = c.cs, c.shape, c.params, c.rc
    src = c.rc if c.lookups else None  # signed decompositions: bits (None) or the lookup strategy
    active = cs.input("active")
    idh = cs.input("id_hash")
    salt = cs.input("salt")
    pf = cs.input("portfolio")
    cash = cs.input("cash")
    bal = [cs.input(f"bal[{a}]") for a in range(sh.assets)]
    qty = [cs.input(f"qty[{j}]") for j in range(sh.positions)]

    with c.part("input ranges"):
        assert_boolean(cs, active, "active.bool")
        assert_boolean(cs, pf, "portfolio.bool")
        signed_range_check(cs, cash, CASH_BITS, "cash.range", rc=src)
        b_abs, b_neg = _split([signed_decompose(cs, b, QTY_BITS, f"bal[{a}].range", rc=src) for a, b in enumerate(bal)])
        q_abs, q_neg = _split([signed_decompose(cs, q, QTY_BITS, f"qty[{j}].range", rc=src) for j, q in enumerate(qty)])
        # no free mode bit: an option position exists only in portfolio mode (else it would pay no margin)
        for j in sh.option_slots():
            cs.constrain(1 - pf, qty[j], LC(), f"qty[{j}].option_needs_portfolio")

    # ---- collateral
    hnum = LC()
    pos_bal = []
    for a in range(sh.assets):
        with c.part("divisions"):
            w, rem = divmod_const(cs, b_abs[a], prices[a], WIDE_DIVISOR, f"coll[{a}].value", rc=rc)
            nz = 1 - is_zero(cs, rem, f"coll[{a}].rem_is_zero")
        with c.part("haircut tiers"):
            # the tier check also proves 0 <= w < 2^62, which pins the division's quotient
            rows = None if c.intervals is None else c.tier_rows[a]
            f_sel, rate_sel, cum_sel = _interval(
                c, w, p.h_floor[a], (p.h_rate[a], "rate"), p.h_cum[a], rows, f"coll[{a}].tier"
            )
            g = cum_sel + cs.mul(rate_sel, w - f_sel, f"coll[{a}].haircut")
            neg_val = (w + nz) * (-RATE_SCALE)  # floor(b p / 1e10) * 1e6 for b < 0: borrowings count in full
            hnum = hnum + neg_val + cs.mul(1 - b_neg[a], g - neg_val, f"coll[{a}].sign")
        pos_bal.append((bal[a] + b_abs[a]) * INV2)  # max(b, 0), linear
    with c.part("divisions"):
        off = RATE_SCALE << HCOLL_OFFSET_BITS
        hq, _ = divmod_const(cs, hnum, None, RATE_SCALE, "collateral", add=off, rc=rc)
        collateral = hq - (1 << HCOLL_OFFSET_BITS)  # pinned by the equity range check below

    # ---- positions: values, notionals, brackets
    tiered_plain, tiered_ra = LC(), LC()
    values, notionals = [], []
    ra = set(sh.ra_slots())
    for j in range(sh.positions):
        with c.part("divisions"):
            w, rem = divmod_const(cs, q_abs[j], p.marks[j], WIDE_DIVISOR, f"pos[{j}].value", rc=rc)
            nz = 1 - is_zero(cs, rem, f"pos[{j}].rem_is_zero")
            notional = w + nz  # ceil(|q| mark / 1e10)
            value = -notional + cs.mul(1 - q_neg[j], w + notional, f"pos[{j}].sign")  # q>=0: w; q<0: -N
        with c.part("brackets"):
            rows = None if c.intervals is None else c.bracket_rows[j]
            _, mmr_sel, cum_sel = _interval(
                c, notional, p.b_floor[j], (p.b_mmr[j], "mmr"), p.b_cum[j], rows, f"pos[{j}].bracket"
            )
            mnum = cs.mul(notional, mmr_sel, f"pos[{j}].mm") - cum_sel * RATE_SCALE
        if j in ra:
            tiered_ra = tiered_ra + mnum
        else:
            tiered_plain = tiered_plain + mnum
        values.append(value)
        notionals.append(notional)
    with c.part("tiered MM"):
        tiered = tiered_plain + (cs.mul(1 - pf, tiered_ra, "tiered.mode") if ra else LC())
        mm_t, _ = divmod_const(cs, tiered, None, RATE_SCALE, "tiered", add=RATE_SCALE - 1, quotient_bits=MM_BITS, rc=rc)

    # ---- portfolio margin
    with c.part("scenarios"):
        im_total = LC()
        for u in range(sh.underlyings):
            slots = [j for j in range(sh.positions) if sh.slot_underlying[j] == u]
            qneg = {j: (qty[j] - q_abs[j]) * INV2 for j in slots}  # min(q, 0)
            # published short = long + 1, so sum_j q_j R_j[s] = sum_j q_j long_j[s] + sum_j min(q_j, 0)
            shorts = sum((qneg[j] for j in slots), LC())
            cands: list[LC] = [LC()]
            for s in range(sh.scenarios):
                x = shorts
                for j in slots:
                    x = x + cs.mul(qty[j], p.r_long[j][s], f"u{u}.s{s}[{j}]")
                cands.append(-x)
            somc = LC()
            for j in slots:
                if j in p.smin:
                    somc = somc + cs.mul(-qneg[j], p.smin[j], f"u{u}.smin[{j}]")
            cands.append(somc)
            # Y >= 0 is not range-checked: Y is 0 or a candidate >= all others, and IM_u = ceil(Y / 1e8) is
            # proven in [0, 2^62), so a negative Y can only be in (-1e8, 0], where IM_u = 0 = max(0, ...) too.
            y = max_candidates(cs, cands, SCEN_BITS, f"u{u}.worst", unchecked=(0,), rc=rc)
            im_u, _ = divmod_const(cs, y, None, QTY_SCALE, f"u{u}.im", add=QTY_SCALE - 1, quotient_bits=MM_BITS, rc=rc)
            im_total = im_total + im_u
        if sh.underlyings:
            mm_p, _ = divmod_const(
                cs,
                im_total,
                p.mm_ratio,
                RATE_SCALE,
                "portfolio_mm",
                add=RATE_SCALE - 1,
                quotient_bits=MM_BITS,
                rc=rc,
            )
            mm_p_counted = cs.mul(pf, mm_p, "portfolio_mm.mode")
        else:
            mm_p_counted = LC()

    with c.part("solvency check"):
        # Every account is proven; one below MM is counted with its shortfall instead of failing the batch.
        # The signed decompositions also pin equity to (-2^63, 2^63), which pins the collateral quotient.
        mm = mm_t + mm_p_counted
        equity = collateral + cash + sum(values, LC())
        e_abs, e_neg = signed_decompose(cs, equity, EQUITY_BITS, "equity.sign", rc=src)
        bad_debt = cs.mul(e_neg, e_abs, "bad_debt")  # max(0, -equity)
        s_abs, under = signed_decompose(cs, equity - mm, SLACK_BITS, "slack.sign", rc=src)
        shortfall = cs.mul(under, s_abs, "shortfall")  # max(0, mm - equity)

    with c.part("ordering + padding"):
        for name, sig in (("id_hash", idh), ("salt", salt), ("portfolio", pf), ("cash", cash)):
            cs.constrain(1 - active, sig, LC(), f"pad.{name}_zero")
        for a, b in enumerate(bal):
            cs.constrain(1 - active, b, LC(), f"pad.bal[{a}]_zero")
        for j, q in enumerate(qty):
            cs.constrain(1 - active, q, LC(), f"pad.qty[{j}]_zero")

    with c.part("leaf hash"):
        head = (cash + (1 << CASH_BITS)) + pf * (1 << CASH_WIDTH) + idh * (1 << (CASH_WIDTH + 1))
        elems = [salt, head, *_packs(bal), *_packs(qty)]
        digest = poseidon_gadget(cs, elems, "leaf")
        leaf = cs.mul(active, digest, "leaf.empty_if_inactive")

    return AccountSignals(
        active,
        idh,
        equity,
        mm,
        equity + bad_debt,
        under,
        shortfall,
        bad_debt,
        mm_t,
        mm_p_counted,
        collateral,
        values,
        notionals,
        pos_bal,
        leaf,
    )


def _interval(
    c: SolvencyCircuit,
    x: LC,
    floors: Sequence[LC],
    rates: tuple[Sequence[LC], str],
    cums: Sequence[LC],
    rows: Sequence[Sequence[Value]] | None,
    name: str,
) -> tuple[LC, LC, LC]:
    """(floor, rate, cum) of the interval (haircut tier or leverage bracket) holding ``x``: a proven one-hot over
    the floors in plain mode, one row lookup in the committed parameter table in lookup mode (``rows``).
    ``rates`` is (the rate per interval, its label in constraint names)."""
    cs = c.cs
    if rows is None:
        h, f_sel = interval_one_hot(cs, x, floors, VALUE_TOP, VALUE_BITS, name, rc=c.rc)
        rate_sel = select_one_hot(cs, h, rates[0], f"{name}.{rates[1]}")
        return f_sel, rate_sel, select_one_hot(cs, h, cums, f"{name}.cum")
    assert c.intervals is not None
    f_sel, (rate_sel, cum_sel) = interval_lookup(cs, x, c.intervals, rows, VALUE_BITS, name, c.rc)
    return f_sel, rate_sel, cum_sel


def _split(pairs: Sequence[tuple[LC, LC]]) -> tuple[list[LC], list[LC]]:
    return [x[0] for x in pairs], [x[1] for x in pairs]


def _packs(values: Sequence[LC]) -> list[LC]:
    """Pack range-checked signed pieces (offset by 2^53) four per element, lowest slot in the lowest bits."""
    out = []
    for start in range(0, len(values), PIECES_PER_PACK):
        acc = LC()
        for k, x in enumerate(values[start : start + PIECES_PER_PACK]):
            acc = acc + (x + (1 << QTY_BITS)) * (1 << (SIGNED_QTY_WIDTH * k))
        out.append(acc)
    return out
