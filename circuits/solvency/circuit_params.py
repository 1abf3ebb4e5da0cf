"""Batch-level part of the solvency circuit: the private copy of the governed parameters and market data, their two
Poseidon commitments, the hard floors no parameter set can go under, and the linear marks' basis band.

Paid once per batch (so it amortises with the batch size); split from ``circuit.py`` so that the per-account part
(``circuit_account.py``) reads on its own. Every range check goes through the circuit's strategy ``c.rc`` (bits in
the plain circuit, lookups in lookup mode): the statement is the same in both modes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zkmargin.circuits.constants import BPS_SCALE, SMIN_DIVISOR
from zkmargin.circuits.poseidon import poseidon_gadget
from zkmargin.circuits.r1cs import LC, ConstraintSystem

from .gadgets import divmod_const
from .params import CHUNK, MARKET_TAG, PARAMS_TAG
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
)

if TYPE_CHECKING:
    from .circuit import SolvencyCircuit


@dataclass
class ParamSignals:
    """The batch's parameter signals (private inputs under ``params.``, bound by the public commitments)."""

    version: LC
    mm_ratio: LC
    smin_ppm: LC
    basis_cap: list[LC]
    marks: list[LC]
    b_floor: list[list[LC]]
    b_mmr: list[list[LC]]
    b_cum: list[list[LC]]
    h_floor: list[list[LC]]
    h_rate: list[list[LC]]
    h_cum: list[list[LC]]  # value numerator (1e12 scale) accumulated below tier t
    r_long: dict[int, list[LC]]
    smin: dict[int, LC]  # short-option minimum per unit, derived from the public index (option slots)


def build_params(c: SolvencyCircuit, pub: dict[str, LC], prices: list[LC]) -> ParamSignals:
    cs, sh, rc = c.cs, c.shape, c.rc
    with c.part("params commitment"), cs.scope("params"):
        # Groth16 binds a public input only through constraints that use it; the range check binds the epoch.
        rc(cs, pub["epoch"], EPOCH_BITS, "epoch.range")
        for a, p in enumerate(prices):
            rc(cs, p - 1, PRICE_BITS, f"price[{a}].nonzero_range")  # 0 < price < 2^53 + 1
        if sh.usd_slot >= 0:  # USD cash is worth exactly 1 USD, whatever a feed band would tolerate
            cs.assert_equal(prices[sh.usd_slot], USD_PRICE, "usd_price")
        version = cs.input("version")
        mm_ratio = cs.input("mm_ratio")
        smin_ppm = cs.input("short_option_min_ppm")
        basis_cap = [cs.input(f"basis_cap_bps[{j}]") for j in range(sh.positions)]
        marks = [cs.input(f"mark[{j}]") for j in range(sh.positions)]
        for j, m in enumerate(marks):
            rc(cs, m, PRICE_BITS, f"mark[{j}].range")
        b_floor, b_mmr, b_cum = [], [], []
        for j in range(sh.positions):
            b_floor.append([cs.input(f"bracket[{j}][{k}].floor") for k in range(sh.brackets)])
            b_mmr.append([cs.input(f"bracket[{j}][{k}].mmr") for k in range(sh.brackets)])
            b_cum.append([cs.input(f"bracket[{j}][{k}].cum") for k in range(sh.brackets)])
        h_floor, h_rate, h_cum = [], [], []
        for a in range(sh.assets):
            fl = [cs.input(f"haircut[{a}][{t}].floor") for t in range(sh.tiers)]
            rt = [cs.input(f"haircut[{a}][{t}].rate") for t in range(sh.tiers)]
            # value numerator (1e12 scale) accumulated below tier t: sum_{x<t} rate_x (floor_{x+1} - floor_x)
            cum = [LC()]
            for t in range(1, sh.tiers):
                cum.append(cum[-1] + cs.mul(rt[t - 1], fl[t] - fl[t - 1], f"haircut[{a}][{t}].cum"))
            h_floor.append(fl)
            h_rate.append(rt)
            h_cum.append(cum)
        ra = sh.ra_slots()
        r_long = {j: [cs.input(f"risk[{j}].long[{s}]") for s in range(sh.scenarios)] for j in ra}
        head = (PARAMS_TAG, sh.assets, sh.positions, sh.brackets, sh.tiers, sh.scenarios, sh.underlyings)
        gov: list[LC] = [LC.const(x) for x in head]
        for j in range(sh.positions):
            gov += [LC.const(x) for x in (sh.slot_underlying[j] + 1, sh.slot_price[j], sh.slot_kind[j])]
        gov.append(LC.const(sh.usd_slot + 1))
        gov += [version, mm_ratio, smin_ppm, *basis_cap]
        for j in range(sh.positions):
            for k in range(sh.brackets):
                gov += [b_floor[j][k], b_mmr[j][k], b_cum[j][k]]
        for a in range(sh.assets):
            for t in range(sh.tiers):
                gov += [h_floor[a][t], h_rate[a][t]]
        cs.assert_equal(sponge_gadget(cs, gov, "sponge"), pub["params_commitment"], "commitment")
        market: list[LC] = [LC.const(MARKET_TAG), LC.const(sh.positions), LC.const(sh.scenarios), *marks]
        for j in ra:
            market += r_long[j]
        cs.assert_equal(sponge_gadget(cs, market, "market_sponge"), pub["market_commitment"], "market_commitment")

    with c.part("hard floors + marks"), cs.scope("floors"):
        # No parameter set, governed or not, goes under these (shape.py); each is one range check per batch.
        for j in sh.linear_slots():
            for k in range(sh.brackets):
                rc(cs, b_mmr[j][k] - MIN_MMR_PPM, RATE_BITS, f"bracket[{j}][{k}].mmr_floor")
        for a in range(sh.assets):
            for t in range(sh.tiers):
                rc(cs, h_rate[a][t], RATE_BITS, f"haircut[{a}][{t}].rate_range")
                rc(cs, MAX_HAIRCUT_RATE_PPM - h_rate[a][t], RATE_BITS, f"haircut[{a}][{t}].rate_cap")
        rc(cs, mm_ratio - MIN_MM_RATIO_PPM, RATE_BITS, "mm_ratio_floor")
        rc(cs, smin_ppm - MIN_SHORT_OPTION_PPM, RATE_BITS, "short_option_min_floor")
        for j in sh.linear_slots():
            rc(cs, basis_cap[j], BASIS_BITS, f"basis_cap[{j}].range")
            rc(cs, MAX_BASIS_CAP_BPS - basis_cap[j], BASIS_BITS, f"basis_cap[{j}].cap")
        # linear marks within the governed basis cap of the public oracle index: |mark - idx| * 1e4 <= cap * idx
        for j in sh.linear_slots():
            idx = prices[sh.slot_price[j]]
            band = cs.mul(basis_cap[j], idx, f"mark[{j}].band")
            dev = (marks[j] - idx) * BPS_SCALE
            rc(cs, band - dev, MARK_BAND_BITS, f"mark[{j}].max")
            rc(cs, band + dev, MARK_BAND_BITS, f"mark[{j}].min")
        # short-option minimum per unit from the public index: ceil(idx * ppm / 1e8), as rules/risk_arrays.py
        smin: dict[int, LC] = {}
        for j in sh.option_slots():
            smin[j], _ = divmod_const(
                cs,
                prices[sh.slot_price[j]],
                smin_ppm,
                SMIN_DIVISOR,
                f"smin[{j}]",
                add=SMIN_DIVISOR - 1,
                quotient_bits=PRICE_BITS,
                rc=rc,
            )
    return ParamSignals(
        version, mm_ratio, smin_ppm, basis_cap, marks, b_floor, b_mmr, b_cum, h_floor, h_rate, h_cum, r_long, smin
    )


def sponge_gadget(cs: ConstraintSystem, flat: Sequence[LC], name: str) -> LC:
    """In-circuit twin of :func:`params.sponge` (length prefix, chunks of 15)."""
    acc = LC.const(len(flat))
    for i in range(0, len(flat), CHUNK):
        acc = poseidon_gadget(cs, [acc, *flat[i : i + CHUNK]], f"{name}[{i // CHUNK}]")
    return acc
