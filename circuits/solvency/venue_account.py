"""Per-leaf part of the venue circuit: sparse slots looked up in the governed tables, the margin logic of the plain
circuit (:mod:`.circuit_account`) on the looked-up rows, and the carry that links an account's leaves.

Slots. Position slot j holds (id_j, q_j), balance slot a holds (aid_a, b_a). ``used`` is a hinted boolean with
(1 - used) id = 0 and (1 - used) amount = 0 (an empty slot is id 0 with amount 0); used slots come first; and each
used id is above the previous used id of the account (``used (id - prev - 1)`` range-checked to the id width, prev
= the last used id of this leaf so far, or of the account's previous leaf), so the used ids of an account are
strictly increasing over all its leaves: no instrument or asset twice (two halves of one position would each pay a
lower bracket; two halves of one balance would each sit in a better haircut tier). A wrapped id fails the same
check. Each slot then looks its row up by id (one tuple lookup; id 0 is the all-zero row).

Linking (an account needing more slots than a leaf holds): leaf i with ``cont`` = 1 continues the account of leaf
i-1 (same id hash, same mode). The collateral numerator, the tiered MM numerator, the portfolio IM so far, cash +
position values, and (``gcont`` = 1: the same portfolio underlying) the scenario sums and the short-option minimum
carry over, so the divisions and the solvency check are those of the whole account at its last leaf: bit-exact with
the engine. Only an account's last leaf counts in the totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zkmargin.circuits.constants import QTY_SCALE, RATE_SCALE, WIDE_DIVISOR
from zkmargin.circuits.field import R
from zkmargin.circuits.gadgets import assert_boolean, is_zero, signed_decompose, signed_range_check
from zkmargin.circuits.poseidon import poseidon_gadget
from zkmargin.circuits.r1cs import LC

from .gadgets import divmod_const, max_candidates
from .shape import (
    CASH_BITS,
    EQUITY_BITS,
    HCOLL_OFFSET_BITS,
    MM_BITS,
    QTY_BITS,
    SCEN_BITS,
    SIGNED_QTY_WIDTH,
    SLACK_BITS,
    VALUE_BITS,
)
from .venue_leaf import (
    BAL_PER_PACK,
    BAL_WIDTH,
    OFF_ID,
    OFF_LAST,
    OFF_PART,
    OFF_PORTFOLIO,
    POS_PER_PACK,
    POS_WIDTH,
)
from .venue_shape import ASSET_ID_BITS, INSTRUMENT_ID_BITS, PART_BITS

if TYPE_CHECKING:
    from .venue_circuit import VenueCircuit

INV2 = pow(2, R - 2, R)
BOX_ACTIVE_SHIFT = 136  # price-box keys: u + 2^8 id_hash + 2^136 active (u < 2^8, id_hash < 2^128)
BOX_DIFF_BITS = 120  # |an entry's value at +b - at -b| < 2^120 (1e8-scale numerators: < 2^62 * 2^27 per slot)
BOX_OFFSET_BITS = 120  # box numerators shifted by 1e8 * 2^120 before flooring (|sum| << 2^120 * 1e8)
Index = dict[int, list[tuple[int, ...]]]


@dataclass
class Carry:
    """What a leaf hands to the next leaf of the same account."""

    hnum: LC
    tnum: LC
    im: LC
    eqpart: LC
    sums: list[LC]
    somc: LC
    last_inst: LC
    last_asset: LC
    part: LC
    portfolio: LC
    group: LC
    box_margin: LC = field(default_factory=LC)  # price box: sum of per-underlying minima of equity - MM (1e8 scale)
    box_equity: LC = field(default_factory=LC)  # ... of equity
    box_slack: LC = field(default_factory=LC)  # rounding slack D (micro-USD) so far
    box_somc: LC = field(default_factory=LC)  # short-option minimum of the group at the high corner (1e8 scale)
    box_im: LC = field(default_factory=LC)  # portfolio IM with that minimum, so far


@dataclass
class LeafSignals:
    active: LC
    cont: LC
    id_hash: LC
    equity: LC
    mm: LC
    positive_equity: LC
    under_mm: LC
    shortfall: LC
    bad_debt: LC
    liabilities: list[tuple[LC, LC]]  # (asset id, max(amount, 0)) per balance slot
    leaf: LC
    carry: Carry
    # price box: per slot (key, equity at -b, equity at +b, margin at -b, margin at +b), and the leaf's entries
    box_slots: list[tuple[LC, ...]] = field(default_factory=list)
    box_entries: list[tuple[LC, ...]] = field(default_factory=list)


def _row(index: dict[str, Index], table: str, key: int, width: int) -> list[int]:
    rows = index.get(table, {}).get(key)
    return list(rows[0][1:]) if rows else [0] * width


def _interval_row(index: dict[str, Index], table: str, key: int, x: int, width: int) -> list[int]:
    """The row (floor, next, ...) of ``key`` whose interval holds x (hint; the lookup and two range checks pin it)."""
    rows = index.get(table, {}).get(key)
    if not rows:
        return [0] * width
    best = rows[0]
    for r in rows:
        if r[1] <= x < r[2]:
            best = r
    return list(best[1 : 1 + width])


def build_leaf(c: VenueCircuit, prev: Carry | None, cont: LC, gcont: LC, next_cont: LC, next_gcont: LC) -> LeafSignals:
    """One leaf (in the caller's scope ``acct[i]``): ``prev`` is the previous leaf's carry (None for the first leaf of
    the batch), ``cont``/``gcont`` this leaf's links, ``next_cont``/``next_gcont`` the next leaf's (0 after the
    last)."""
    cs, sh, rc, t = c.cs, c.shape, c.rc, c.tables
    idx = t.index
    active = cs.input("active")
    idh = cs.input("id_hash")
    salt = cs.input("salt")
    pf = cs.input("portfolio")
    cash = cs.input("cash")
    group = cs.input("group")  # the leaf's portfolio underlying (asset id), 0 if none
    pid = [cs.input(f"pos[{j}].id") for j in range(sh.positions)]
    qty = [cs.input(f"pos[{j}].qty") for j in range(sh.positions)]
    aid = [cs.input(f"bal[{a}].id") for a in range(sh.balances)]
    bal = [cs.input(f"bal[{a}].amount") for a in range(sh.balances)]
    zero = LC()

    def carried(x: LC, flag: LC, name: str) -> LC:
        return cs.mul(flag, x, f"carry.{name}") if prev is not None else zero

    with c.part("input ranges"):
        assert_boolean(cs, active, "active.bool")
        assert_boolean(cs, pf, "portfolio.bool")
        signed_range_check(cs, cash, CASH_BITS, "cash.range", rc=rc)
        q_abs, q_neg = [], []
        for j, q in enumerate(qty):
            x, n = signed_decompose(cs, q, QTY_BITS, f"pos[{j}].qty.range", rc=rc)
            q_abs.append(x)
            q_neg.append(n)
        b_abs, b_neg = [], []
        for a, b in enumerate(bal):
            x, n = signed_decompose(cs, b, QTY_BITS, f"bal[{a}].amount.range", rc=rc)
            b_abs.append(x)
            b_neg.append(n)

    with c.part("linking"):
        assert_boolean(cs, cont, "cont.bool")
        assert_boolean(cs, gcont, "gcont.bool")
        cs.constrain(cont, 1 - active, zero, "cont_needs_active")
        cs.constrain(gcont, 1 - cont, zero, "gcont_needs_cont")
        if prev is None:
            cs.assert_equal(cont, 0, "first_leaf_starts_an_account")
            part = zero
        else:
            cs.constrain(cont, pf - prev.portfolio, zero, "same_mode")
            cs.constrain(gcont, group - prev.group, zero, "same_group")
            part = cs.mul(cont, prev.part + 1, "part")
        rc(cs, part, PART_BITS, "part.range")

    with c.part("slots"):
        last_i = carried(prev.last_inst, cont, "last_inst") if prev else zero
        last_i, pused = _slot_chain(c, pid, qty, last_i, INSTRUMENT_ID_BITS, "pos")
        last_a = carried(prev.last_asset, cont, "last_asset") if prev else zero
        last_a, bused = _slot_chain(c, aid, bal, last_a, ASSET_ID_BITS, "bal")
    # price box: the key of an (account, underlying) pair, u + 2^8 id_hash + 2^136 active (id hashes < 2^128)
    akey = idh * (1 << ASSET_ID_BITS) + active * (1 << BOX_ACTIVE_SHIFT)
    box_slots: list[tuple[LC, ...]] = []

    # ---- balances: price and haircut tier by one lookup of the tier row (which carries the public price)
    hnum = LC()
    liabilities = []
    for a in range(sh.balances):
        with c.part("haircut tiers"):
            price = cs.hint1(f"bal[{a}].price", lambda k: _row(idx, "assets", k, 5)[4], aid[a])
            corner = []
            if sh.box:
                corner = cs.hint(f"bal[{a}].corners", lambda k: _row(idx, "assets", k, 7)[5:], aid[a], count=2)
        with c.part("divisions"):
            w, rem = divmod_const(cs, b_abs[a], price, WIDE_DIVISOR, f"bal[{a}].value", rc=rc)
            nz = 1 - is_zero(cs, rem, f"bal[{a}].rem_is_zero")
        with c.part("haircut tiers"):
            fl, nxt, rate, cum = cs.hint(
                f"bal[{a}].tier", lambda k, x: _interval_row(idx, "assets", k, x, 4), aid[a], w, count=4
            )
            c.lookup(t.assets, [aid[a], fl, nxt, rate, cum, price, *corner])
            rc(cs, w - fl, VALUE_BITS, f"bal[{a}].tier.ge_floor")
            rc(cs, nxt - 1 - w, VALUE_BITS, f"bal[{a}].tier.lt_next")
            g = cum + cs.mul(rate, w - fl, f"bal[{a}].haircut")
            neg_val = (w + nz) * (-RATE_SCALE)  # borrowings count in full
            hnum = hnum + neg_val + cs.mul(1 - b_neg[a], g - neg_val, f"bal[{a}].sign")
        liabilities.append((aid[a], (bal[a] + b_abs[a]) * INV2))
        if sh.box:
            with c.part("price box"):
                eqs = [
                    _balance_at(c, a, side, aid[a], b_abs[a], b_neg[a], price, corner, p_c) * (QTY_SCALE // RATE_SCALE)
                    for side, p_c in zip(("lo", "hi"), corner, strict=True)
                ]  # fmt: skip
                box_slots.append((aid[a] + akey, eqs[0], eqs[1], eqs[0], eqs[1]))

    # ---- positions
    values = LC()
    tiered_all, tiered_ra = LC(), LC()
    risk_queries: list[tuple[int, LC]] = []  # (risk-table query, quantity) per position slot
    arrays: list[list[LC]] = []
    shorts, somc, somc_hi = LC(), LC(), LC()
    for j in range(sh.positions):
        with c.part("slots"):
            width = 13 if sh.box else 7
            row = cs.hint(f"pos[{j}].row", lambda k, w=width: _row(idx, "instruments", k, w), pid[j], count=width)
            mark, ladder, opt, has_ra, grp, smin, rrow = row[:7]
            c.lookup(t.instruments, [pid[j], *row])
            # an option exists only in portfolio mode; in portfolio mode a risk-array instrument is in the leaf's group
            cs.constrain(cs.mul(qty[j], opt, f"pos[{j}].option_qty"), 1 - pf, zero, f"pos[{j}].option_needs_portfolio")
            cs.constrain(cs.mul(pf, grp, f"pos[{j}].pf_group"), grp - group, zero, f"pos[{j}].in_group")
        with c.part("divisions"):
            w, rem = divmod_const(cs, q_abs[j], mark, WIDE_DIVISOR, f"pos[{j}].value", rc=rc)
            nz = 1 - is_zero(cs, rem, f"pos[{j}].rem_is_zero")
            notional = w + nz
            values = values + (-notional) + cs.mul(1 - q_neg[j], w + notional, f"pos[{j}].sign")
        with c.part("brackets"):
            fl, nxt, mmr, cum = cs.hint(
                f"pos[{j}].bracket", lambda k, x: _interval_row(idx, "ladders", k, x, 4), ladder, notional, count=4
            )
            c.lookup(t.ladders, [ladder, fl, nxt, mmr, cum])
            rc(cs, notional - fl, VALUE_BITS, f"pos[{j}].bracket.ge_floor")
            rc(cs, nxt - 1 - notional, VALUE_BITS, f"pos[{j}].bracket.lt_next")
            mnum = cs.mul(notional, mmr, f"pos[{j}].mm") - cum * RATE_SCALE
            tiered_all = tiered_all + mnum
            tiered_ra = tiered_ra + cs.mul(has_ra, mnum, f"pos[{j}].mm_ra")
        with c.part("scenarios"):
            arr = cs.hint(f"pos[{j}].risk", lambda k: _row(idx, "risk", k, sh.scenarios), rrow, count=sh.scenarios)
            risk_queries.append((c.lookup(t.risk, [rrow, *arr]), qty[j]))
            arrays.append(arr)
            qneg = (qty[j] - q_abs[j]) * INV2  # min(q, 0)
            # published short = long + 1: sum q R = sum q long + sum min(q, 0), over the risk-array slots
            shorts = shorts + cs.mul(has_ra, qneg, f"pos[{j}].short")
            somc = somc + cs.mul(-qneg, smin, f"pos[{j}].smin")
        if sh.box:
            with c.part("price box"):
                # tiered MM counts unless portfolio mode replaces it (risk-array instruments); options: mark held,
                # P&L q R at the box nodes (short = long + 1: + min(q, 0))
                mode = cs.mul(pf, has_ra, f"pos[{j}].box.mode")
                oq = cs.mul(opt, qneg, f"pos[{j}].box.short")
                somc_hi = somc_hi + cs.mul(-qneg, row[12], f"pos[{j}].box.smin_hi")
                sides = []
                for side, m_c, r_c in (("lo", row[8], row[10]), ("hi", row[9], row[11])):
                    val, mnum = _position_at(c, j, side, q_abs[j], q_neg[j], m_c, ladder)
                    mm_c = mnum - cs.mul(mode, mnum, f"pos[{j}].box.{side}.mode")
                    eq = val * QTY_SCALE + cs.mul(qty[j], r_c, f"pos[{j}].box.{side}.pnl") + oq
                    sides.append((eq, eq - mm_c * (QTY_SCALE // RATE_SCALE)))
                box_slots.append((row[7] + akey, sides[0][0], sides[1][0], sides[0][1], sides[1][1]))

    with c.part("scenarios"):
        # the leaf's scenario sums sum_j q_j R_j[s], hinted and proven by one random combination of the risk lookups'
        # compressed rows (lookup.column_sum_check: S + P + 1 constraints instead of S x P products)
        scen = cs.hint(
            "scen", lambda *v: _scenario_sums(v, sh.positions, sh.scenarios), *qty, *(x for a in arrays for x in a),
            count=sh.scenarios,
        )  # fmt: skip
        c.column_sum(t.risk, risk_queries, scen, "scen")
        sums = [carried(prev.sums[s], gcont, f"s{s}") + scen[s] + shorts if prev else scen[s] + shorts
                for s in range(sh.scenarios)]  # fmt: skip
        somc_tot = carried(prev.somc, gcont, "somc") + somc if prev else somc
        y = max_candidates(cs, [LC(), *(-x for x in sums), somc_tot], SCEN_BITS, "worst", unchecked=(0,), rc=rc)
        im_g, _ = divmod_const(cs, y, None, QTY_SCALE, "im", add=QTY_SCALE - 1, quotient_bits=MM_BITS, rc=rc)
        # a group continuing into the next leaf is counted there, with the carried sums
        im_counted = im_g - cs.mul(next_gcont, im_g, "im.continues")
        im_acc = (carried(prev.im, cont, "im") if prev else zero) + im_counted
        bsomc = bim = zero
        if sh.box:
            # in the box: IM = max(worst scenario loss, short-option minimum at the high corner) >= at any price
            # inside (the arrays are the published ones; the minimum grows with the underlying's price)
            bsomc = (carried(prev.box_somc, gcont, "box_somc") if prev else zero) + somc_hi
            yb = max_candidates(cs, [y, bsomc], SCEN_BITS, "box.worst", rc=rc)
            imb_g, _ = divmod_const(cs, yb, None, QTY_SCALE, "box.im", add=QTY_SCALE - 1, quotient_bits=MM_BITS, rc=rc)
            imb_counted = imb_g - cs.mul(next_gcont, imb_g, "box.im.continues")
            bim = (carried(prev.box_im, cont, "box_im") if prev else zero) + imb_counted

    with c.part("tiered MM"):
        tnum = tiered_all - cs.mul(pf, tiered_ra, "tiered.mode")
        tnum_acc = (carried(prev.tnum, cont, "tnum") if prev else zero) + tnum
        mm_t, _ = divmod_const(
            cs, tnum_acc, None, RATE_SCALE, "tiered", add=RATE_SCALE - 1, quotient_bits=MM_BITS, rc=rc
        )
        mm_p, _ = divmod_const(
            cs, im_acc, t.mm_ratio, RATE_SCALE, "portfolio_mm", add=RATE_SCALE - 1, quotient_bits=MM_BITS, rc=rc
        )
        pmm = cs.mul(pf, mm_p, "portfolio_mm.mode")
        mm = mm_t + pmm

    with c.part("divisions"):
        hnum_acc = (carried(prev.hnum, cont, "hnum") if prev else zero) + hnum
        off = RATE_SCALE << HCOLL_OFFSET_BITS
        hq, _ = divmod_const(cs, hnum_acc, None, RATE_SCALE, "collateral", add=off, rc=rc)
        collateral = hq - (1 << HCOLL_OFFSET_BITS)  # pinned by the equity range check below

    with c.part("solvency check"):
        eqpart = (carried(prev.eqpart, cont, "eqpart") if prev else zero) + cash + values
        equity = collateral + eqpart
        e_abs, e_neg = signed_decompose(cs, equity, EQUITY_BITS, "equity.sign", rc=rc)
        bad_debt = cs.mul(e_neg, e_abs, "bad_debt")
        if not sh.box:
            s_abs, under = signed_decompose(cs, equity - mm, SLACK_BITS, "slack.sign", rc=rc)
            shortfall = cs.mul(under, s_abs, "shortfall")

    box_entries: list[tuple[LC, ...]] = []
    bm = be = bd = zero
    positive_equity = equity + bad_debt
    if sh.box:
        with c.part("price box"):
            box_entries, bm, be = _box_entries(c, box_slots, akey)
            cash_n = cash * QTY_SCALE
            bm = (carried(prev.box_margin, cont, "box_margin") if prev else zero) + bm + cash_n
            be = (carried(prev.box_equity, cont, "box_equity") if prev else zero) + be + cash_n
            # rounding slack: 2 per account (floor of collateral, ceil of MM), 2 per used position slot (its value's
            # floor and its notional's ceil), 1 per used balance slot (its value's floor)
            slack = sum((2 * u for u in pused), LC()) + sum(bused, LC())
            bd = (carried(prev.box_slack, cont, "box_slack") if prev else zero) + slack
            off = QTY_SCALE << BOX_OFFSET_BITS
            mq, _ = divmod_const(cs, bm, None, QTY_SCALE, "box.margin", add=off, rc=rc)
            eq_q, _ = divmod_const(cs, be, None, QTY_SCALE, "box.equity", add=off, rc=rc)
            # both quotients pinned by the signed range checks below
            mm_pb, _ = divmod_const(
                cs, bim, t.mm_ratio, RATE_SCALE, "box.portfolio_mm", add=RATE_SCALE - 1, quotient_bits=MM_BITS, rc=rc
            )
            margin_b = mq - (1 << BOX_OFFSET_BITS) - bd - 2 - cs.mul(pf, mm_pb, "box.portfolio_mm.mode")
            equity_b = eq_q - (1 << BOX_OFFSET_BITS) - bd - 2
            s_abs, under = signed_decompose(cs, margin_b, SLACK_BITS, "box.slack.sign", rc=rc)
            shortfall = cs.mul(under, s_abs, "box.shortfall")
            eb_abs, eb_neg = signed_decompose(cs, equity_b, EQUITY_BITS, "box.equity.sign", rc=rc)
            bad_debt = cs.mul(eb_neg, eb_abs, "box.bad_debt")

    with c.part("ordering + padding"):
        cs.constrain(1 - active, idh, zero, "pad.id_hash_zero")
        # the group is free only where it has no effect (a leaf without a risk-array position and without a group
        # link); a padding leaf has id hash, group and balances 0; its other inputs (salt, cash, positions) are free
        # but worth nothing: it hashes to 0 and no total counts it (tests/solvency/test_venue_circuit_redteam2.py)
        cs.constrain(1 - active, group, zero, "pad.group_zero")
        for a, b in enumerate(bal):
            cs.constrain(1 - active, b, zero, f"pad.bal[{a}]_zero")

    with c.part("leaf hash"):
        # last = 1 on the account's final leaf (active, and the next leaf does not continue it): the user sees
        # that no part follows theirs; an inactive leaf hashes to 0 whatever its head
        last = active - next_cont
        head = (cash + (1 << CASH_BITS)) + pf * (1 << OFF_PORTFOLIO) + part * (1 << OFF_PART) + idh * (1 << OFF_ID)
        head = head + last * (1 << OFF_LAST)
        elems = [salt, head, *_packs(pid, qty, POS_PER_PACK, POS_WIDTH), *_packs(aid, bal, BAL_PER_PACK, BAL_WIDTH)]
        leaf = cs.mul(active, poseidon_gadget(cs, elems, "leaf"), "leaf.empty_if_inactive")

    carry = Carry(
        hnum_acc, tnum_acc, im_acc, eqpart, sums, somc_tot, last_i, last_a, part, pf, group, bm, be, bd, bsomc, bim
    )
    return LeafSignals(
        active, cont, idh, equity, mm, positive_equity, under, shortfall, bad_debt, liabilities, leaf, carry,
        box_slots, box_entries,
    )  # fmt: skip


# ---------------------------------------------------------------- price box (docs/statement.md, "Price boxes")


def _balance_at(
    c: VenueCircuit, a: int, side: str, aid: LC, b_abs: LC, b_neg: LC, price: LC, corner: list[LC], p_c: LC
) -> LC:
    """A balance's haircut numerator (1e12 scale, as ``hnum``) at a corner price: the engine's formula there."""
    cs, rc, idx = c.cs, c.rc, c.tables.index
    name = f"bal[{a}].box.{side}"
    w, rem = divmod_const(cs, b_abs, p_c, WIDE_DIVISOR, f"{name}.value", rc=rc)
    nz = 1 - is_zero(cs, rem, f"{name}.rem_is_zero")
    fl, nxt, rate, cum = cs.hint(f"{name}.tier", lambda k, x: _interval_row(idx, "assets", k, x, 4), aid, w, count=4)
    c.lookup(c.tables.assets, [aid, fl, nxt, rate, cum, price, *corner])
    rc(cs, w - fl, VALUE_BITS, f"{name}.tier.ge_floor")
    rc(cs, nxt - 1 - w, VALUE_BITS, f"{name}.tier.lt_next")
    g = cum + cs.mul(rate, w - fl, f"{name}.haircut")
    neg_val = (w + nz) * (-RATE_SCALE)
    return neg_val + cs.mul(1 - b_neg, g - neg_val, f"{name}.sign")


def _position_at(c: VenueCircuit, j: int, side: str, q_abs: LC, q_neg: LC, mark: LC, ladder: LC) -> tuple[LC, LC]:
    """A position's value (micro-USD) and tiered MM numerator (1e12 scale) at a corner mark: the engine's formulas."""
    cs, rc, idx = c.cs, c.rc, c.tables.index
    name = f"pos[{j}].box.{side}"
    w, rem = divmod_const(cs, q_abs, mark, WIDE_DIVISOR, f"{name}.value", rc=rc)
    nz = 1 - is_zero(cs, rem, f"{name}.rem_is_zero")
    notional = w + nz
    val = -notional + cs.mul(1 - q_neg, w + notional, f"{name}.sign")
    fl, nxt, mmr, cum = cs.hint(
        f"{name}.bracket", lambda k, x: _interval_row(idx, "ladders", k, x, 4), ladder, notional, count=4
    )
    c.lookup(c.tables.ladders, [ladder, fl, nxt, mmr, cum])
    rc(cs, notional - fl, VALUE_BITS, f"{name}.bracket.ge_floor")
    rc(cs, nxt - 1 - notional, VALUE_BITS, f"{name}.bracket.lt_next")
    return val, cs.mul(notional, mmr, f"{name}.mm") - cum * RATE_SCALE


def _box_entries(c: VenueCircuit, slots: list[tuple[LC, ...]], akey: LC) -> tuple[list[tuple[LC, ...]], LC, LC]:
    """The leaf's per-underlying entries (hinted: the slots' columns summed by underlying; the batch's weighted
    log-derivative identities prove that for every key the entries sum what the slots sum) and the sums of their
    minima: per entry, min(at -b, at +b) of the margin and of the equity, chosen by range-checked sign bits.
    Splitting one underlying over several entries only lowers these sums (min(a1, b1) + min(a2, b2) <=
    min(a1 + a2, b1 + b2)); merging two underlyings is impossible (the key holds the underlying, range-checked)."""
    cs, rc = c.cs, c.rc
    n = len(slots)
    flat = [x for sl in slots for x in sl]
    vals = cs.hint("box.entries", lambda *v: _entry_sums(v, n), *flat, count=5 * n)
    entries: list[tuple[LC, ...]] = []
    bm, be = LC(), LC()
    for e in range(n):
        u, eqlo, eqhi, mglo, mghi = vals[5 * e : 5 * e + 5]
        rc(cs, u, ASSET_ID_BITS, f"box.entry[{e}].underlying")
        entries.append((u + akey, eqlo, eqhi, mglo, mghi))
        d_abs, d_neg = signed_decompose(cs, mghi - mglo, BOX_DIFF_BITS, f"box.entry[{e}].margin_side", rc=rc)
        bm = bm + mglo - cs.mul(d_neg, d_abs, f"box.entry[{e}].margin_min")
        q_abs, q_neg = signed_decompose(cs, eqhi - eqlo, BOX_DIFF_BITS, f"box.entry[{e}].equity_side", rc=rc)
        be = be + eqlo - cs.mul(q_neg, q_abs, f"box.entry[{e}].equity_min")
    return entries, bm, be


def _entry_sums(v: tuple[int, ...], n: int) -> list[int]:
    """Group the slots (key, eq lo, eq hi, margin lo, margin hi) by underlying (key mod 2^8), in first-seen order;
    unused entries are (0, 0, 0, 0, 0). The key's account part is the same for every slot of the leaf."""
    groups: dict[int, list[int]] = {}
    for i in range(n):
        key, *cols = v[5 * i : 5 * i + 5]
        g = groups.setdefault(key % (1 << ASSET_ID_BITS), [0, 0, 0, 0])
        for k in range(4):
            g[k] = (g[k] + cols[k]) % R
    out: list[int] = []
    for u, cols in groups.items():
        out += [u, *cols]
    return out + [0] * (5 * n - len(out))


def _scenario_sums(v: tuple[int, ...], positions: int, scenarios: int) -> list[int]:
    """sum_j q_j R_j[s] mod r for each scenario s: v = the P quantities, then the P risk arrays (S entries each)."""
    qs, arrs = v[:positions], v[positions:]
    return [sum(q * arrs[j * scenarios + s] for j, q in enumerate(qs)) % R for s in range(scenarios)]


def _slot_chain(
    c: VenueCircuit, ids: list[LC], amounts: list[LC], last: LC, bits: int, name: str
) -> tuple[LC, list[LC]]:
    """Empty slots (id 0, amount 0) after the used ones; used ids strictly above ``last`` and each other (module
    docstring). Returns the last used id (the next leaf of the account continues from it) and the used flags."""
    cs = c.cs
    used_flags: list[LC] = []
    for j, (k, x) in enumerate(zip(ids, amounts, strict=True)):
        used = cs.hint1(f"{name}[{j}].used", lambda v: 1 if v else 0, k)
        assert_boolean(cs, used, f"{name}[{j}].used.bool")
        cs.constrain(1 - used, k, LC(), f"{name}[{j}].empty_id")
        cs.constrain(1 - used, x, LC(), f"{name}[{j}].empty_amount")
        if used_flags:
            cs.constrain(used, 1 - used_flags[-1], LC(), f"{name}[{j}].used_first")
        gap = cs.mul(used, k - last - 1, f"{name}[{j}].gap")
        c.rc(cs, gap, bits, f"{name}[{j}].ascending")
        last = last + cs.mul(used, k - last, f"{name}[{j}].last")
        used_flags.append(used)
    return last, used_flags


def _packs(ids: list[LC], amounts: list[LC], per: int, width: int) -> list[LC]:
    """Pack (id, amount) pairs as (amount + 2^53) + 2^54 id, ``per`` to an element (:mod:`.venue_leaf`)."""
    out = []
    for i in range(0, len(ids), per):
        acc = LC()
        for k in range(min(per, len(ids) - i)):
            piece = amounts[i + k] + (1 << QTY_BITS) + ids[i + k] * (1 << SIGNED_QTY_WIDTH)
            acc = acc + piece * (1 << (width * k))
        out.append(acc)
    return out
