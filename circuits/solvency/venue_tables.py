"""Batch part of the venue circuit: the governed tables and market data as committed lookup tables, their per-row
checks and their commitments (paid once per proof, so it amortises with the batch size).

Tables (each a :func:`~zkmargin.circuits.lookup.committed_table`; the key column is a constant per row, so a query
with key k can only match a row of k):

* instruments ``(id, mark, ladder, is_option, has_risk_array, group, smin, risk_row)``: ``group`` = the underlying's
  asset id for risk-array instruments, 0 otherwise; ``smin`` = the short-option minimum per unit (options only),
  derived in-circuit from the underlying's public price. Row 0 is the empty instrument (all zero);
* ladders ``(ladder, floor, next floor, mmr, cum)``, ladder 0 = one zero row (options, empty slots);
* assets ``(asset, floor, next floor, rate, cum, price)`` per haircut tier, price = the asset's public price;
  asset 0 = one zero row (empty slots);
* risk arrays ``(row, long[0..S-1])``, row 0 = zeros;
* prices ``(asset, price, smin)`` (only the instrument rows query it: binds each row's index and minimum).

Per instrument row the circuit proves (hard floors like the plain circuit, docs/statement.md): mark in (0, 2^53)
and, for a linear row, within the row's basis cap (<= 5%) of its underlying's public price; an option has ladder 0
and a risk array; a linear row has a ladder >= 1 (whose mmr >= 0.1% is range-checked per ladder row); a row without a
risk array has risk_row 0. Then the packed static columns feed ``table_commitment``, which feeds the governed
``params_commitment``; marks and risk arrays feed ``market_commitment`` (:mod:`.venue_params`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zkmargin.circuits.constants import BPS_SCALE, RATE_SCALE, SMIN_DIVISOR
from zkmargin.circuits.gadgets import assert_boolean
from zkmargin.circuits.lookup import FixedTable, committed_table
from zkmargin.circuits.r1cs import LC, Value

from .circuit_params import sponge_gadget
from .gadgets import divmod_const, interval_rows, signed
from .shape import (
    BASIS_BITS,
    EPOCH_BITS,
    MARK_BAND_BITS,
    MAX_BASIS_CAP_BPS,
    MAX_HAIRCUT_RATE_PPM,
    MIN_MM_RATIO_PPM,
    MIN_MMR_PPM,
    MIN_SHORT_OPTION_PPM,
    PRICE_BITS,
    RATE_BITS,
    USD_PRICE,
    VALUE_TOP,
)
from .venue_params import (
    MARK_WIDTH,
    MARKS_PER_PACK,
    MAX_BOX_PPM,
    OFF_CAP,
    OFF_HAS_RA,
    OFF_LADDER,
    OFF_OPTION,
    OFF_RISK_ROW,
    RISK_LIMB_WIDTHS,
    RISK_PER_PACK,
    RISK_WIDTH,
    ROW_WIDTH,
    ROWS_PER_PACK,
    TABLE_TAG,
    VENUE_MARKET_TAG,
    VENUE_PARAMS_TAG,
)
from .venue_shape import LADDER_BITS, RISK_BITS, RISK_ROW_BITS

if TYPE_CHECKING:
    from .venue_circuit import VenueCircuit

Row = tuple[Value, ...]


@dataclass
class VenueTables:
    """The batch's lookup tables and what the per-leaf part needs from the parameters."""

    instruments: FixedTable
    ladders: FixedTable
    assets: FixedTable
    risk: FixedTable
    mm_ratio: LC
    box_ppm: LC = field(default_factory=LC)
    # native copies of the rows, filled by one witness step, for the per-slot hints (a hint that named every row as
    # a dependency would read the whole table once per slot)
    index: dict[str, dict[int, list[tuple[int, ...]]]] = field(default_factory=dict)


def _packed(values: list[LC], width: int, per: int) -> list[LC]:
    out = []
    for i in range(0, len(values), per):
        acc = LC()
        for k, v in enumerate(values[i : i + per]):
            acc = acc + v * (1 << (width * k))
        out.append(acc)
    return out


def build_tables(c: VenueCircuit, pub: dict[str, LC], prices: list[LC]) -> VenueTables:
    cs, sh, rc = c.cs, c.shape, c.rc
    with c.part("params commitment"), cs.scope("params"):
        rc(cs, pub["epoch"], EPOCH_BITS, "epoch.range")
        for a, p in enumerate(prices):
            rc(cs, p - 1, PRICE_BITS, f"price[{a}].nonzero_range")
        if sh.usd_asset:
            cs.assert_equal(prices[sh.usd_asset - 1], USD_PRICE, "usd_price")
        version = cs.input("version")
        mm_ratio = cs.input("mm_ratio")
        smin_ppm = cs.input("short_option_min_ppm")
        box_ppm = cs.input("box_ppm")
        box_nodes: list[LC] = []
        box_flags: list[LC] = []
        if sh.box:
            box_nodes = [cs.input("box_node_lo"), cs.input("box_node_hi")]
            box_flags = [cs.input(f"box_flag[{a}]") for a in range(1, sh.assets + 1)]
        else:
            cs.assert_equal(box_ppm, 0, "box_ppm.point_shape")  # a point shape proves no box: b is 0
    with c.part("hard floors + marks"), cs.scope("params"):
        rc(cs, mm_ratio - MIN_MM_RATIO_PPM, RATE_BITS, "mm_ratio_floor")
        rc(cs, smin_ppm - MIN_SHORT_OPTION_PPM, RATE_BITS, "short_option_min_floor")
        # ---- prices table: (asset, price, smin = ceil(price * ppm / 1e8))
        price_rows: list[Row] = []
        corners: list[tuple[LC, LC]] = _box_params(c, box_ppm, box_flags, prices) if sh.box else []
        for a in range(1, sh.assets + 1):
            smin_a, _ = divmod_const(
                cs,
                prices[a - 1],
                smin_ppm,
                SMIN_DIVISOR,
                f"smin[{a}]",
                add=SMIN_DIVISOR - 1,
                quotient_bits=PRICE_BITS,
                rc=rc,
            )
            extra: tuple[LC, ...] = ()
            if sh.box:
                # the short-option minimum rises with the price: in the box, the high corner's bounds it
                smin_hi, _ = divmod_const(
                    cs, corners[a - 1][1], smin_ppm, SMIN_DIVISOR, f"smin_hi[{a}]", add=SMIN_DIVISOR - 1,
                    quotient_bits=PRICE_BITS + 1, rc=rc,
                )  # fmt: skip
                extra = (box_flags[a - 1], smin_hi)
            price_rows.append((a, prices[a - 1], smin_a, *extra))
        price_table = committed_table(cs, price_rows, "prices")
        index: dict[str, dict[int, list[tuple[int, ...]]]] = {}
        _index_step(c, index, [("prices", price_rows)], "prices_index")
        # ---- ladders
        ladder_rows: list[Row] = [(0, 0, VALUE_TOP, 0, 0)]
        gov_ladders: list[LC] = []
        for lid in range(1, sh.ladders):
            fl = [cs.input(f"ladder[{lid}][{k}].floor") for k in range(sh.brackets)]
            mm = [cs.input(f"ladder[{lid}][{k}].mmr") for k in range(sh.brackets)]
            cu = [cs.input(f"ladder[{lid}][{k}].cum") for k in range(sh.brackets)]
            for k in range(sh.brackets):
                rc(cs, mm[k] - MIN_MMR_PPM, RATE_BITS, f"ladder[{lid}][{k}].mmr_floor")
                gov_ladders += [fl[k], mm[k], cu[k]]
                if sh.box and k:
                    # the corner argument's precondition: MM convex in the notional (mmr non-decreasing, and cum
                    # by the continuity rule, so no step at a bracket floor)
                    rc(cs, mm[k] - mm[k - 1], RATE_BITS, f"ladder[{lid}][{k}].mmr_nondecreasing")
                    step = (cu[k] - cu[k - 1]) * RATE_SCALE
                    cs.constrain(fl[k], mm[k] - mm[k - 1], step, f"ladder[{lid}][{k}].cum_continuity")
            ladder_rows += interval_rows(lid, fl, VALUE_TOP, [mm, cu])
        # ---- assets: haircut tiers with the public price
        asset_rows: list[Row] = [(0, 0, VALUE_TOP, 0, 0, 0, *((0, 0) if sh.box else ()))]
        gov_tiers: list[LC] = []
        for a in range(1, sh.assets + 1):
            fl = [cs.input(f"haircut[{a}][{t}].floor") for t in range(sh.tiers)]
            rt = [cs.input(f"haircut[{a}][{t}].rate") for t in range(sh.tiers)]
            cum = [LC()]
            for t in range(1, sh.tiers):
                cum.append(cum[-1] + cs.mul(rt[t - 1], fl[t] - fl[t - 1], f"haircut[{a}][{t}].cum"))
            for t in range(sh.tiers):
                rc(cs, rt[t], RATE_BITS, f"haircut[{a}][{t}].rate_range")
                rc(cs, MAX_HAIRCUT_RATE_PPM - rt[t], RATE_BITS, f"haircut[{a}][{t}].rate_cap")
                gov_tiers += [fl[t], rt[t]]
                if sh.box and t:  # collateral value concave in the price: tier rates do not rise with value
                    rc(cs, rt[t - 1] - rt[t], RATE_BITS, f"haircut[{a}][{t}].rate_nonincreasing")
            extra = corners[a - 1] if sh.box else ()
            asset_rows += [(*r, prices[a - 1], *extra) for r in interval_rows(a, fl, VALUE_TOP, [rt, cum])]
        # ---- risk arrays
        zero_risk: Row = (0,) * (1 + sh.scenarios)
        risk_rows: list[Row] = [zero_risk]
        risk_pieces: list[LC] = []
        for t in range(1, sh.risk_rows):
            arr = []
            for s in range(sh.scenarios):
                # the piece entry + 2^40 is built from its limbs (one range-table query each, no recomposition)
                limbs = [cs.input(f"risk[{t}].long[{s}].limb[{k}]") for k in range(len(RISK_LIMB_WIDTHS))]
                piece, shift = LC(), 0
                for k, (lb, w) in enumerate(zip(limbs, RISK_LIMB_WIDTHS, strict=True)):
                    c.limb(cs, lb, w, f"risk[{t}].long[{s}].limb[{k}].range")
                    piece, shift = piece + lb * (1 << shift), shift + w
                assert shift == RISK_WIDTH
                risk_pieces.append(piece)
                arr.append(piece - (1 << RISK_BITS))
            risk_rows.append((t, *arr))
        riskbox = _risk_box_table(c, index, box_nodes, risk_rows) if sh.box else None
        # ---- instruments
        inst_rows: list[Row] = [(0,) * (14 if sh.box else 8)]
        table_rows: list[LC] = []
        marks: list[LC] = []
        for r in range(1, sh.instruments):
            with cs.scope(f"inst[{r}]"):
                mark = cs.input("mark")
                ladder = cs.input("ladder")
                opt = cs.input("is_option")
                has_ra = cs.input("has_risk_array")
                asset = cs.input("asset")
                cap = cs.input("basis_cap_bps")
                rrow = cs.input("risk_row")
                rc(cs, mark - 1, PRICE_BITS, "mark.range")
                assert_boolean(cs, opt, "is_option.bool")
                assert_boolean(cs, has_ra, "has_risk_array.bool")
                cs.constrain(opt, ladder, LC(), "option_ladder_zero")
                rc(cs, ladder + opt - 1, LADDER_BITS - 1, "linear_ladder")  # linear: 1 <= ladder <= 2^15
                cs.constrain(opt, 1 - has_ra, LC(), "option_needs_risk_array")
                cs.constrain(1 - has_ra, rrow, LC(), "risk_row_zero")
                rc(cs, rrow, RISK_ROW_BITS, "risk_row.range")
                rc(cs, cap, BASIS_BITS, "basis_cap.range")
                rc(cs, MAX_BASIS_CAP_BPS - cap, BASIS_BITS, "basis_cap.cap")
                # the underlying's public price and short-option minimum: the asset is a key of the price table
                width = 4 if sh.box else 2
                got = cs.hint(
                    "index", lambda av, w=width: list(index["prices"].get(av, [(0,) * 5])[0][1 : 1 + w]), asset,
                    count=width,
                )  # fmt: skip
                idx, smin_a = got[0], got[1]
                price_table.lookup([asset, *got])
                band = cs.mul(cap, idx, "band")
                dev = cs.mul(mark - idx, 1 - opt, "deviation") * BPS_SCALE  # options: no band (audited marks)
                rc(cs, band - dev, MARK_BAND_BITS, "mark.max")
                rc(cs, band + dev, MARK_BAND_BITS, "mark.min")
                group = cs.mul(has_ra, asset, "group")
                smin = cs.mul(opt, smin_a, "smin")
                box_cols: tuple[LC, ...] = ()
                if riskbox is not None:
                    box_cols = _instrument_box(c, riskbox, index, box_ppm, got[2], asset, mark, opt, rrow)
                    box_cols += (cs.mul(opt, got[3], "box.smin_hi"),)
                inst_rows.append((r, mark, ladder, opt, has_ra, group, smin, rrow, *box_cols))
                table_rows.append(
                    asset
                    + ladder * (1 << OFF_LADDER)
                    + rrow * (1 << OFF_RISK_ROW)
                    + cap * (1 << OFF_CAP)
                    + opt * (1 << OFF_OPTION)
                    + has_ra * (1 << OFF_HAS_RA)
                )
                marks.append(mark)
    with c.part("params commitment"), cs.scope("params"):
        table_flat = [LC.const(TABLE_TAG), LC.const(sh.instruments), *_packed(table_rows, ROW_WIDTH, ROWS_PER_PACK)]
        table_c = sponge_gadget(cs, table_flat, "table_sponge")
        head = (VENUE_PARAMS_TAG, sh.assets, sh.instruments, sh.ladders, sh.brackets, sh.tiers, sh.scenarios)
        gov: list[LC] = [LC.const(x) for x in (*head, sh.risk_rows, sh.usd_asset)]
        gov += [version, mm_ratio, smin_ppm, table_c, *gov_ladders, *gov_tiers, box_ppm, *box_nodes, *box_flags]
        cs.assert_equal(sponge_gadget(cs, gov, "sponge"), pub["params_commitment"], "commitment")
        market: list[LC] = [LC.const(x) for x in (VENUE_MARKET_TAG, sh.instruments, sh.scenarios, sh.risk_rows)]
        market += _packed(marks, MARK_WIDTH, MARKS_PER_PACK)
        market += _packed(risk_pieces, RISK_WIDTH, RISK_PER_PACK)
        cs.assert_equal(sponge_gadget(cs, market, "market_sponge"), pub["market_commitment"], "market_commitment")
        tables = VenueTables(
            instruments=committed_table(cs, inst_rows, "instruments"),
            ladders=committed_table(cs, ladder_rows, "ladders"),
            assets=committed_table(cs, asset_rows, "assets"),
            risk=committed_table(cs, risk_rows, "risk"),
            mm_ratio=mm_ratio,
            box_ppm=box_ppm,
        )
        _index_step(
            c,
            index,
            [("instruments", inst_rows), ("ladders", ladder_rows), ("assets", asset_rows), ("risk", risk_rows)],
            "index",
        )
        tables.index = index
    return tables


def _index_step(
    c: VenueCircuit, index: dict[str, dict[int, list[tuple[int, ...]]]], tables: list[tuple[str, list[Row]]], name: str
) -> None:
    """One witness step copying these tables' rows into the native ``index`` the per-slot hints read (a hint naming
    every row as a dependency would read the whole table once per slot). Its output is pinned to 0."""
    cs = c.cs
    shapes = [(n, len(rows), len(rows[0])) for n, rows in tables]
    flat = [v for _, rows in tables for row in rows for v in row]
    done = cs.hint1(name, lambda *v: _fill_index(index, shapes, v), *flat)
    cs.assert_equal(done, 0, f"{name}.zero")


def _fill_index(
    index: dict[str, dict[int, list[tuple[int, ...]]]], shapes: list[tuple[str, int, int]], v: tuple[int, ...]
) -> int:
    """Group the rows of every table by key (the rows' values as signed integers), for the slot hints."""
    pos = 0
    for name, n, arity in shapes:
        tab: dict[int, list[tuple[int, ...]]] = {}
        for _ in range(n):
            row = tuple(signed(x) for x in v[pos : pos + arity])
            tab.setdefault(row[0], []).append(row)
            pos += arity
        index[name] = tab
    return 0


# ---------------------------------------------------------------- price box (docs/statement.md, "Price boxes")


def _box_params(c: VenueCircuit, box_ppm: LC, flags: list[LC], prices: list[LC]) -> list[tuple[LC, LC]]:
    """The governed box: 0 <= b <= MAX_BOX_PPM, boolean per-asset flags, and every asset's corner prices
    (p (1 - b f), p (1 + b f)) rounded outwards (low down, high up), so the proven box holds the governed one."""
    cs, rc = c.cs, c.rc
    rc(cs, box_ppm, RATE_BITS, "box_ppm.range")
    rc(cs, MAX_BOX_PPM - box_ppm, RATE_BITS, "box_ppm.max")
    out = []
    for a, (f, p) in enumerate(zip(flags, prices, strict=True), 1):
        assert_boolean(cs, f, f"box_flag[{a}].bool")
        out.append(_corners(c, p, cs.mul(box_ppm, f, f"box[{a}].b"), f"box[{a}]"))
    return out


def _corners(c: VenueCircuit, p: LC, b: LC, name: str) -> tuple[LC, LC]:
    """floor(p (1e6 - b) / 1e6) and ceil(p (1e6 + b) / 1e6), both range-checked to 54 bits."""
    cs, rc = c.cs, c.rc
    lo_num = cs.mul(p, RATE_SCALE - b, f"{name}.lo_num")
    lo, _ = divmod_const(cs, lo_num, None, RATE_SCALE, f"{name}.lo", quotient_bits=PRICE_BITS + 1, rc=rc)
    hi_num = p * (2 * RATE_SCALE) - lo_num
    hi, _ = divmod_const(
        cs, hi_num, None, RATE_SCALE, f"{name}.hi", add=RATE_SCALE - 1, quotient_bits=PRICE_BITS + 1, rc=rc
    )
    return lo, hi


def _risk_box_table(
    c: VenueCircuit, index: dict[str, dict[int, list[tuple[int, ...]]]], nodes: list[LC], risk_rows: list[Row]
) -> FixedTable:
    """The two box columns of every risk array: its entries at the governed scenario nodes of the -b and +b price
    moves (zero vol shock), selected by one-hot vectors whose positions are the committed node indices. Table
    ``riskbox`` (row, entry at -b, entry at +b); row 0 is zero."""
    cs, sh = c.cs, c.shape
    sels = []
    for side, node in zip(("lo", "hi"), nodes, strict=True):
        sel = cs.hint(
            f"box_node_{side}.sel", lambda v: [1 if s == v else 0 for s in range(sh.scenarios)], node,
            count=sh.scenarios,
        )  # fmt: skip
        for s, x in enumerate(sel):
            assert_boolean(cs, x, f"box_node_{side}.sel[{s}].bool")
        cs.assert_equal(sum(sel, LC()), 1, f"box_node_{side}.one_hot")
        cs.assert_equal(sum((x * s for s, x in enumerate(sel)), LC()), node, f"box_node_{side}.index")
        sels.append(sel)
    rows: list[Row] = [(0, 0, 0)]
    for row in risk_rows[1:]:
        t, arr = row[0], row[1:]
        picked = [
            sum((cs.mul(x, e, f"riskbox[{t}].{side}[{s}]") for s, (x, e) in enumerate(zip(sel, arr, strict=True))),
                LC())
            for side, sel in zip(("lo", "hi"), sels, strict=True)
        ]  # fmt: skip
        rows.append((t, *picked))
    _index_step(c, index, [("riskbox", rows)], "riskbox_index")
    return committed_table(cs, rows, "riskbox")


def _instrument_box(
    c: VenueCircuit,
    riskbox: FixedTable,
    index: dict[str, dict[int, list[tuple[int, ...]]]],
    box_ppm: LC,
    flag: LC,
    asset: LC,
    mark: LC,
    opt: LC,
    rrow: LC,
) -> tuple[LC, ...]:
    """An instrument row's box columns: (asset, corner marks, option box P&L per unit at -b and +b). A linear row
    on a boxed underlying moves its mark with the box (outward rounding); an option keeps its mark and takes its
    risk array's box columns instead; other rows have corner marks = mark and zero option columns."""
    cs = c.cs
    moves = cs.mul(flag, 1 - opt, "box.moves")
    lo, hi = _corners(c, mark, cs.mul(box_ppm, moves, "box.b"), "box.mark")
    rlo, rhi = cs.hint("box.risk", lambda k: list(index.get("riskbox", {}).get(k, [(0, 0, 0)])[0][1:]), rrow, count=2)
    riskbox.lookup([rrow, rlo, rhi])
    return (asset, lo, hi, cs.mul(opt, rlo, "box.opt_lo"), cs.mul(opt, rhi, "box.opt_hi"))
