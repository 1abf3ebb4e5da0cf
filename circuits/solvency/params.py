"""The batch's private copy of the risk parameters and market data, and their two Poseidon commitments.

Two commitments, because two different authorities bind them:

* ``params_commitment`` (public signal 2) covers the **governed** parameters: brackets, haircut tiers, mm_ratio,
  the short-option minimum rate, the linear basis cap and the parameter-version identity. They change only through
  the registry's timelocked governance; the registry rejects a submission whose commitment is not the approved one,
  and the audit rebuilds them from the published parameter document.
* ``market_commitment`` (public signal 3) covers the **per-epoch market data** the circuit cannot derive itself:
  every slot's mark and the long risk arrays. Linear marks are additionally bound in-circuit to the public oracle
  index (within the governed basis cap); option marks and all risk arrays are recomputed by the audit from the
  published snapshot (vol surface, index = the attested oracle prices) with the public rules in
  ``zkmargin.circuits.rules``.

Both are recomputed in-circuit once per batch. Hard floors (:mod:`.shape`) are range-checked in-circuit, so no
parameter set, governed or not, can go under them. The short-option minimum per unit is not committed: the
circuit derives it from the public index, ``smin_j = ceil(index_j * short_option_min_ppm / 1e8)``, exactly as the
engine (``rules/risk_arrays.py``).

Flattening order (every value reduced mod r, so a signed value x < 0 is r - |x|):

governed: ``PARAMS_TAG``, the shape (A, P, K, T, S, U, then per slot: slot_underlying + 1, slot_price, slot_kind,
then usd_slot + 1), ``version``, ``mm_ratio``, ``short_option_min_ppm``, ``basis_cap_bps[j]`` per slot; for every
slot j, for every bracket k: floor, mmr, cum; for every asset a, for every tier t: floor, rate.

market: ``MARKET_TAG``, P, S; marks[j] for every slot; for every risk-array slot j (ascending): long[j][0..S-1].
The short array is not committed: it is long + 1 by construction (:meth:`SolvencyParams.validate`), and the circuit
uses it in that form.

Sponge: ``acc = len(flat)``; then for each chunk of 15 elements ``acc = Poseidon(acc, *chunk)``. The length
prefix stops a truncated list (a commitment that "drops its last element") from colliding with the full one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# smin (micro-USD per 1.0 unit) = ceil(index * ppm / SMIN_DIVISOR), as rules/risk_arrays.py
from zkmargin.circuits.constants import BPS_SCALE, RATE_SCALE, SMIN_DIVISOR
from zkmargin.circuits.field import R
from zkmargin.circuits.poseidon import poseidon

from .shape import (
    MAX_BASIS_CAP_BPS,
    MAX_HAIRCUT_RATE_PPM,
    MIN_MM_RATIO_PPM,
    MIN_MMR_PPM,
    MIN_SHORT_OPTION_PPM,
    PRICE_BITS,
    RATE_BITS,
    USD_PRICE,
    VALUE_TOP,
    SolvencyShape,
)

PARAMS_TAG = int.from_bytes(b"zkmargin/solvency-params/v2", "big")
MARKET_TAG = int.from_bytes(b"zkmargin/solvency-market/v1", "big")
CHUNK = 15


class ParamsError(ValueError):
    """A parameter set the circuit would reject or that breaks a published rule; the message names the field."""


@dataclass(frozen=True)
class SolvencyParams:
    marks: tuple[int, ...]  # P, 1e8 (market)
    bracket_floor: tuple[tuple[int, ...], ...]  # P x K, micro-USD (padding: VALUE_TOP)
    bracket_mmr: tuple[tuple[int, ...], ...]  # P x K, ppm
    bracket_cum: tuple[tuple[int, ...], ...]  # P x K, micro-USD
    haircut_floor: tuple[tuple[int, ...], ...]  # A x T, micro-USD (padding: VALUE_TOP)
    haircut_rate: tuple[tuple[int, ...], ...]  # A x T, ppm
    mm_ratio: int  # ppm
    short_option_min_ppm: int  # ppm of the underlying index per unit short option
    basis_cap_bps: tuple[int, ...]  # P: |linear mark - index| <= cap_j * index / 1e4 (0 for option slots)
    risk_long: tuple[tuple[int, ...], ...]  # P x S (zeros for slots without a risk array) (market)
    risk_short: tuple[tuple[int, ...], ...]  # = long + 1 (market, derived)
    version: int  # parameter-version identity (sha256 of the published parameter document, >> 8)

    # ------------------------------------------------------------------ commitments

    def governed_flat(self, shape: SolvencyShape) -> list[int]:
        out = [
            PARAMS_TAG,
            shape.assets,
            shape.positions,
            shape.brackets,
            shape.tiers,
            shape.scenarios,
            shape.underlyings,
        ]
        for j in range(shape.positions):
            out += [shape.slot_underlying[j] + 1, shape.slot_price[j], shape.slot_kind[j]]
        out.append(shape.usd_slot + 1)
        out += [self.version, self.mm_ratio, self.short_option_min_ppm, *self.basis_cap_bps]
        for j in range(shape.positions):
            for k in range(shape.brackets):
                out += [self.bracket_floor[j][k], self.bracket_mmr[j][k], self.bracket_cum[j][k]]
        for a in range(shape.assets):
            for t in range(shape.tiers):
                out += [self.haircut_floor[a][t], self.haircut_rate[a][t]]
        return [x % R for x in out]

    def market_flat(self, shape: SolvencyShape) -> list[int]:
        out = [MARKET_TAG, shape.positions, shape.scenarios, *self.marks]
        for j in shape.ra_slots():
            out += list(self.risk_long[j])
        return [x % R for x in out]

    def commitment(self, shape: SolvencyShape) -> int:
        """params_commitment: the governed part (what the registry approves)."""
        return sponge(self.governed_flat(shape))

    def market_commitment(self, shape: SolvencyShape) -> int:
        return sponge(self.market_flat(shape))

    def short_option_min(self, shape: SolvencyShape, prices: Sequence[int]) -> tuple[int, ...]:
        """Per-slot short-option minimum (micro-USD per 1.0 unit short), as the circuit derives it."""
        opt = set(shape.option_slots())
        ppm = self.short_option_min_ppm
        return tuple(
            -(-prices[shape.slot_price[j]] * ppm // SMIN_DIVISOR) if j in opt else 0 for j in range(shape.positions)
        )

    # ------------------------------------------------------------------ checks

    def validate(self, shape: SolvencyShape, prices: Sequence[int] | None = None) -> None:
        """Everything the circuit assumes of published parameters, plus the hard floors it enforces (so a bad set
        fails here, naming the field, before any proving). With ``prices`` (the public oracle prices), the linear
        marks are checked against the basis cap as the circuit will."""
        self.validate_governed(shape)
        self.validate_market(shape, prices)

    def validate_governed(self, shape: SolvencyShape) -> None:
        p, k, a, t = shape.positions, shape.brackets, shape.assets, shape.tiers
        for j in range(p):
            fl, mm, cu = self.bracket_floor[j], self.bracket_mmr[j], self.bracket_cum[j]
            if len(fl) != k or len(mm) != k or len(cu) != k or fl[0] != 0:
                raise ParamsError(f"brackets[{j}]: K entries starting at floor 0")
            if any(not fl[i] <= fl[i + 1] <= VALUE_TOP for i in range(k - 1)):
                raise ParamsError(f"brackets[{j}]: floors must ascend and stay <= 2^62")
            if any(not 0 <= m <= RATE_SCALE for m in mm) or any(not 0 <= c < VALUE_TOP for c in cu):
                raise ParamsError(f"brackets[{j}]: mmr in [0, 1e6], cum in [0, 2^62)")
            if j in shape.linear_slots():
                if any(m < MIN_MMR_PPM for m in mm):
                    raise ParamsError(f"brackets[{j}].mmr: below the hard floor {MIN_MMR_PPM} ppm")
                reach = [i for i in range(k) if fl[i] < VALUE_TOP]
                for i in reach[1:]:
                    want = cu[i - 1] + fl[i] * (mm[i] - mm[i - 1]) // RATE_SCALE
                    if fl[i] * (mm[i] - mm[i - 1]) % RATE_SCALE or cu[i] != want:
                        raise ParamsError(f"brackets[{j}][{i}].cum: {cu[i]} breaks continuity, expected {want}")
                if cu[0] != 0:
                    raise ParamsError(f"brackets[{j}][0].cum: must be 0")
        for i in range(a):
            fl, rt = self.haircut_floor[i], self.haircut_rate[i]
            if len(fl) != t or len(rt) != t or fl[0] != 0:
                raise ParamsError(f"haircuts[{i}]: T tiers starting at 0")
            if any(not fl[x] <= fl[x + 1] <= VALUE_TOP for x in range(t - 1)):
                raise ParamsError(f"haircuts[{i}]: ascending floors <= 2^62")
            if any(not 0 <= r <= MAX_HAIRCUT_RATE_PPM for r in rt):
                raise ParamsError(f"haircuts[{i}].rate: in [0, {MAX_HAIRCUT_RATE_PPM}] ppm")
        if shape.usd_slot >= 0 and any(r != MAX_HAIRCUT_RATE_PPM for r in self.haircut_rate[shape.usd_slot]):
            raise ParamsError(f"haircuts[{shape.usd_slot}] (USD cash): every tier at 100%, cash is cash")
        if not MIN_MM_RATIO_PPM <= self.mm_ratio < MIN_MM_RATIO_PPM + (1 << RATE_BITS):
            raise ParamsError(f"mm_ratio: at least the hard floor {MIN_MM_RATIO_PPM} ppm")
        if not MIN_SHORT_OPTION_PPM <= self.short_option_min_ppm <= RATE_SCALE:
            raise ParamsError(f"short_option_min_ppm: in [{MIN_SHORT_OPTION_PPM}, 1e6]")
        if len(self.basis_cap_bps) != p or any(not 0 <= c <= MAX_BASIS_CAP_BPS for c in self.basis_cap_bps):
            raise ParamsError(f"basis_cap_bps: one per slot, in [0, {MAX_BASIS_CAP_BPS}]")
        if not 0 <= self.version < 1 << 248:
            raise ParamsError("version: < 2^248")

    def validate_market(self, shape: SolvencyShape, prices: Sequence[int] | None = None) -> None:
        p, s = shape.positions, shape.scenarios
        if len(self.marks) != p or any(not 0 < m < 1 << PRICE_BITS for m in self.marks):
            raise ParamsError("marks: one per slot, in (0, 2^53)")
        for j in shape.ra_slots():
            if len(self.risk_long[j]) != s or len(self.risk_short[j]) != s:
                raise ParamsError(f"risk arrays[{j}]: S entries")
            if any(abs(x) >= 1 << 40 for x in (*self.risk_long[j], *self.risk_short[j])):
                raise ParamsError(f"risk arrays[{j}]: |entry| < 2^40")
            if any(b != a + 1 for a, b in zip(self.risk_long[j], self.risk_short[j], strict=True)):
                raise ParamsError(f"risk arrays[{j}]: short[s] must be long[s] + 1 (the circuit commits long only)")
        if prices is not None:
            if len(prices) != shape.assets or any(not 0 < x < 1 << PRICE_BITS for x in prices):
                raise ParamsError("prices: one per asset slot, in (0, 2^53)")
            if shape.usd_slot >= 0 and prices[shape.usd_slot] != USD_PRICE:
                raise ParamsError(f"prices[{shape.usd_slot}] (USD cash): exactly {USD_PRICE}")
            for j in shape.linear_slots():
                idx = prices[shape.slot_price[j]]
                if abs(self.marks[j] - idx) * BPS_SCALE > self.basis_cap_bps[j] * idx:
                    raise ParamsError(
                        f"marks[{j}]: {self.marks[j]} is more than {self.basis_cap_bps[j]} bps from its index {idx}"
                    )


def sponge(flat: list[int]) -> int:
    """The length-prefixed Poseidon chain of the module docstring."""
    acc = len(flat)
    for i in range(0, len(flat), CHUNK):
        acc = poseidon([acc, *flat[i : i + CHUNK]])
    return acc
