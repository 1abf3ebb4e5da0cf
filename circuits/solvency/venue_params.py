"""The venue circuit's private copy of the governed tables and the epoch's market data, and their commitments.

Governed (``params_commitment``, what the registry approves): the instrument table's static columns (underlying
asset, bracket ladder, option flag, risk-array flag, risk-array row, basis cap) through ``table_commitment``, the
bracket ladders, the haircut tiers, ``mm_ratio``, the short-option minimum rate and the version (the governed
document's sha256 >> 8). Market (``market_commitment``, rebuilt by the audit from the published snapshot): every
instrument's mark and every risk array (long; short = long + 1 as in the plain circuit).

Flattening (every value mod r; sponge = :func:`.params.sponge`, length-prefixed Poseidon chunks of 15):

* table: ``TABLE_TAG, I`` then the instrument rows r = 1..I-1 packed four per element (54 bits each), a row being
  ``asset + 2^8 ladder + 2^24 risk_row + 2^40 basis_cap + 2^52 is_option + 2^53 has_risk_array``;
* governed: ``VENUE_PARAMS_TAG, AS, I, L, K, T, S, RI, usd_asset, version, mm_ratio, short_option_min_ppm,
  table_commitment``, then per ladder l = 1..L-1, per bracket k: floor, mmr, cum; per asset a = 1..AS, per tier t:
  floor, rate; then ``box_ppm`` (0 in a point shape) and, in a box shape, the box's two scenario nodes (the risk
  arrays' indices of the -b and +b price moves at zero vol shock) and one box flag per asset a = 1..AS;
* market: ``VENUE_MARKET_TAG, I, S, RI``, the marks of rows 1..I-1 packed four per element (54 bits each), then the
  risk arrays of rows 1..RI-1 as (entry + 2^40) packed six per element (41 bits each).

Packing keeps the table's hash cost per row low (a quarter element for the static columns, a quarter for the mark,
S/6 for a risk array); every packed piece is range-checked in-circuit, so the packing is injective.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkmargin.circuits.constants import BPS_SCALE, RATE_SCALE
from zkmargin.circuits.field import R

from .params import ParamsError, sponge
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
)
from .venue_shape import ASSET_ID_BITS, LADDER_BITS, RISK_BITS, RISK_ROW_BITS, VenueShape

MAX_BOX_PPM = 500_000  # = circuits.rules.price_box_document.MAX_BOX_PPM (a test keeps them equal)
TABLE_TAG = int.from_bytes(b"zkmargin/instrument-table/v2", "big")  # v2: four rows per element
VENUE_PARAMS_TAG = int.from_bytes(b"zkmargin/venue-params/v1", "big")
VENUE_MARKET_TAG = int.from_bytes(b"zkmargin/venue-market/v1", "big")
MARKS_PER_PACK = 4
MARK_WIDTH = PRICE_BITS + 1  # marks are in [1, 2^53]: 54-bit pieces keep the packing injective at 2^53 too
RISK_PER_PACK = 6
RISK_WIDTH = RISK_BITS + 1
# in-circuit, a risk entry's piece (entry + 2^40, 41 bits) is three limbs of these widths, each one range-table query
# (the 13-bit top limb two: itself and shifted); the entry is their linear combination, so no recomposition
RISK_LIMB_WIDTHS = (14, 14, 13)
VENUE_LIMB_BITS = 14  # the venue circuit's range-table limb size (the risk limbs above are sized for it)

# offsets of the packed static columns of one instrument row
OFF_LADDER = ASSET_ID_BITS
OFF_RISK_ROW = OFF_LADDER + LADDER_BITS
OFF_CAP = OFF_RISK_ROW + RISK_ROW_BITS
OFF_OPTION = OFF_CAP + 12
OFF_HAS_RA = OFF_OPTION + 1
ROW_WIDTH = OFF_HAS_RA + 1  # 54 bits per packed static row
ROWS_PER_PACK = 4  # 216 bits per element


@dataclass(frozen=True)
class InstrumentRow:
    """One instrument row as the circuit sees it (id = its row number; the symbol lives in the governed table)."""

    mark: int  # 1e8, market data
    ladder: int  # bracket ladder id (0 for options)
    is_option: int
    has_risk_array: int  # portfolio margin replaces its tiered MM in portfolio mode
    asset: int  # asset id of the underlying: its public price is the index
    basis_cap_bps: int  # linear mark within cap * index / 1e4 of the index (0 for options)
    risk_row: int  # risk array row (0: none)

    def packed(self) -> int:
        return (
            self.asset
            + (self.ladder << OFF_LADDER)
            + (self.risk_row << OFF_RISK_ROW)
            + (self.basis_cap_bps << OFF_CAP)
            + (self.is_option << OFF_OPTION)
            + (self.has_risk_array << OFF_HAS_RA)
        )


@dataclass(frozen=True)
class VenueParams:
    instruments: tuple[InstrumentRow, ...]  # rows 1..I-1 (index r - 1)
    ladder_floor: tuple[tuple[int, ...], ...]  # ladders 1..L-1, K each (padding VALUE_TOP)
    ladder_mmr: tuple[tuple[int, ...], ...]
    ladder_cum: tuple[tuple[int, ...], ...]
    haircut_floor: tuple[tuple[int, ...], ...]  # assets 1..AS, T each (padding VALUE_TOP)
    haircut_rate: tuple[tuple[int, ...], ...]
    risk_long: tuple[tuple[int, ...], ...]  # risk rows 1..RI-1, S each
    mm_ratio: int
    short_option_min_ppm: int
    version: int
    # the governed price box (circuits/rules/price_box_document.py): half-width in ppm, boxed asset ids (1-based),
    # and the scenario indices of the -b and +b price moves at zero vol shock (options are valued at these nodes)
    box_ppm: int = 0
    boxed_assets: tuple[int, ...] = ()
    box_nodes: tuple[int, int] = (0, 0)

    def box_flags(self, shape: VenueShape) -> list[int]:
        """One 0/1 flag per asset id 1..AS: does the box move this asset's price (and its instruments' marks)?"""
        return [1 if a in self.boxed_assets else 0 for a in range(1, shape.assets + 1)]

    # ------------------------------------------------------------------ commitments

    def table_flat(self, shape: VenueShape) -> list[int]:
        return [TABLE_TAG, shape.instruments, *pack([r.packed() for r in self.instruments], ROW_WIDTH, ROWS_PER_PACK)]

    def table_commitment(self, shape: VenueShape) -> int:
        return sponge([x % R for x in self.table_flat(shape)])

    def governed_flat(self, shape: VenueShape) -> list[int]:
        sh = shape
        out = [VENUE_PARAMS_TAG, sh.assets, sh.instruments, sh.ladders, sh.brackets, sh.tiers, sh.scenarios]
        out += [sh.risk_rows, sh.usd_asset, self.version, self.mm_ratio, self.short_option_min_ppm]
        out.append(self.table_commitment(sh))
        for fl, mm, cu in zip(self.ladder_floor, self.ladder_mmr, self.ladder_cum, strict=True):
            for k in range(sh.brackets):
                out += [fl[k], mm[k], cu[k]]
        for fl, rt in zip(self.haircut_floor, self.haircut_rate, strict=True):
            for t in range(sh.tiers):
                out += [fl[t], rt[t]]
        out.append(self.box_ppm)
        if sh.box:
            out += [*self.box_nodes, *self.box_flags(sh)]
        return [x % R for x in out]

    def market_flat(self, shape: VenueShape) -> list[int]:
        out = [VENUE_MARKET_TAG, shape.instruments, shape.scenarios, shape.risk_rows]
        marks = [r.mark for r in self.instruments]
        out += pack(marks, MARK_WIDTH, MARKS_PER_PACK)
        entries = [x + (1 << RISK_BITS) for row in self.risk_long for x in row]
        out += pack(entries, RISK_WIDTH, RISK_PER_PACK)
        return [x % R for x in out]

    def commitment(self, shape: VenueShape) -> int:
        return sponge(self.governed_flat(shape))

    def market_commitment(self, shape: VenueShape) -> int:
        return sponge(self.market_flat(shape))

    # ------------------------------------------------------------------ checks

    def validate(self, shape: VenueShape, prices: Sequence[int] | None = None) -> None:
        """What the circuit enforces, checked natively first so that a bad table fails naming the field."""
        sh = shape
        if len(self.instruments) != sh.instruments - 1:
            raise ParamsError(f"instruments: {sh.instruments - 1} rows (ids 1..{sh.instruments - 1})")
        for i, r in enumerate(self.instruments, 1):
            where = f"instruments[{i}]"
            if not 0 < r.mark < 1 << PRICE_BITS:
                raise ParamsError(f"{where}.mark: in (0, 2^53)")
            if not 1 <= r.asset <= sh.assets:
                raise ParamsError(f"{where}.asset: an asset id in [1, {sh.assets}]")
            if r.is_option not in (0, 1) or r.has_risk_array not in (0, 1):
                raise ParamsError(f"{where}: is_option and has_risk_array are 0 or 1")
            if r.is_option and (r.ladder != 0 or not r.has_risk_array):
                raise ParamsError(f"{where}: an option has ladder 0 and a risk array")
            if not r.is_option and not 1 <= r.ladder < sh.ladders:
                raise ParamsError(f"{where}.ladder: a linear instrument needs a ladder in [1, {sh.ladders})")
            if not 0 <= r.risk_row < sh.risk_rows or (r.risk_row and not r.has_risk_array):
                raise ParamsError(f"{where}.risk_row: in [0, {sh.risk_rows}), 0 without a risk array")
            if not 0 <= r.basis_cap_bps <= MAX_BASIS_CAP_BPS:
                raise ParamsError(f"{where}.basis_cap_bps: in [0, {MAX_BASIS_CAP_BPS}]")
            if prices is not None and not r.is_option:
                idx = prices[r.asset - 1]
                if abs(r.mark - idx) * BPS_SCALE > r.basis_cap_bps * idx:
                    raise ParamsError(f"{where}.mark: {r.mark} is more than {r.basis_cap_bps} bps from index {idx}")
        if len(self.ladder_floor) != sh.ladders - 1:
            raise ParamsError(f"ladders: {sh.ladders - 1} ladders (ids 1..{sh.ladders - 1})")
        for lid, (fl, mm, cu) in enumerate(zip(self.ladder_floor, self.ladder_mmr, self.ladder_cum, strict=True), 1):
            if len(fl) != sh.brackets or len(mm) != sh.brackets or len(cu) != sh.brackets or fl[0] != 0:
                raise ParamsError(f"ladders[{lid}]: K brackets starting at floor 0")
            if any(not fl[i] <= fl[i + 1] <= VALUE_TOP for i in range(sh.brackets - 1)):
                raise ParamsError(f"ladders[{lid}]: floors ascend and stay <= 2^62")
            if any(not MIN_MMR_PPM <= m <= RATE_SCALE for m in mm):
                raise ParamsError(f"ladders[{lid}].mmr: in [{MIN_MMR_PPM}, 1e6] (hard floor)")
            if any(not 0 <= c < VALUE_TOP for c in cu):
                raise ParamsError(f"ladders[{lid}].cum: in [0, 2^62)")
        if len(self.haircut_floor) != sh.assets:
            raise ParamsError(f"haircuts: one tier list per asset id 1..{sh.assets}")
        for a, (fl, rt) in enumerate(zip(self.haircut_floor, self.haircut_rate, strict=True), 1):
            if len(fl) != sh.tiers or len(rt) != sh.tiers or fl[0] != 0:
                raise ParamsError(f"haircuts[{a}]: T tiers starting at 0")
            if any(not fl[x] <= fl[x + 1] <= VALUE_TOP for x in range(sh.tiers - 1)):
                raise ParamsError(f"haircuts[{a}]: ascending floors <= 2^62")
            if any(not 0 <= x <= MAX_HAIRCUT_RATE_PPM for x in rt):
                raise ParamsError(f"haircuts[{a}].rate: in [0, {MAX_HAIRCUT_RATE_PPM}]")
        if sh.usd_asset and any(x != MAX_HAIRCUT_RATE_PPM for x in self.haircut_rate[sh.usd_asset - 1]):
            raise ParamsError(f"haircuts[{sh.usd_asset}] (USD cash): every tier at 100%")
        if len(self.risk_long) != sh.risk_rows - 1 or any(len(x) != sh.scenarios for x in self.risk_long):
            raise ParamsError(f"risk arrays: {sh.risk_rows - 1} rows of {sh.scenarios}")
        if any(abs(x) >= 1 << RISK_BITS for row in self.risk_long for x in row):
            raise ParamsError("risk arrays: |entry| < 2^40")
        if not MIN_MM_RATIO_PPM <= self.mm_ratio < MIN_MM_RATIO_PPM + (1 << RATE_BITS):
            raise ParamsError(f"mm_ratio: at least the hard floor {MIN_MM_RATIO_PPM} ppm")
        if not MIN_SHORT_OPTION_PPM <= self.short_option_min_ppm <= RATE_SCALE:
            raise ParamsError(f"short_option_min_ppm: in [{MIN_SHORT_OPTION_PPM}, 1e6]")
        if not 0 <= self.version < 1 << 248:
            raise ParamsError("version: < 2^248")
        self._validate_box(sh)
        if prices is not None:
            if len(prices) != sh.assets or any(not 0 < x < 1 << PRICE_BITS for x in prices):
                raise ParamsError("prices: one per asset id, in (0, 2^53)")
            if sh.usd_asset and prices[sh.usd_asset - 1] != USD_PRICE:
                raise ParamsError(f"prices[{sh.usd_asset - 1}] (USD cash): exactly {USD_PRICE}")

    def _validate_box(self, sh: VenueShape) -> None:
        """The governed box and the concavity preconditions of the corner argument (docs/statement.md, "Price
        boxes"); the box circuit enforces each of them by a constraint too."""
        if isinstance(self.box_ppm, bool) or not 0 <= self.box_ppm <= MAX_BOX_PPM:
            raise ParamsError(f"box_ppm: an integer in [0, {MAX_BOX_PPM}]")
        if any(not 1 <= a <= sh.assets for a in self.boxed_assets) or list(self.boxed_assets) != sorted(
            set(self.boxed_assets)
        ):
            raise ParamsError(f"boxed_assets: strictly increasing asset ids in [1, {sh.assets}]")
        if not sh.box:
            if self.box_ppm or self.boxed_assets:
                raise ParamsError("box_ppm: must be 0 (and no boxed assets) in a point-price shape (box 0)")
            return
        if any(not 0 <= x < sh.scenarios for x in self.box_nodes) or len(self.box_nodes) != 2:
            raise ParamsError(f"box_nodes: two scenario indices in [0, {sh.scenarios})")
        for lid, (fl, mm, cu) in enumerate(zip(self.ladder_floor, self.ladder_mmr, self.ladder_cum, strict=True), 1):
            for k in range(1, sh.brackets):
                if mm[k] < mm[k - 1]:
                    raise ParamsError(f"ladders[{lid}][{k}].mmr: below the previous bracket's (MM not convex)")
                if fl[k] * (mm[k] - mm[k - 1]) != (cu[k] - cu[k - 1]) * RATE_SCALE:
                    raise ParamsError(f"ladders[{lid}][{k}].cum: breaks continuity (MM not convex)")
        for a, rt in enumerate(self.haircut_rate, 1):
            if any(rt[t] > rt[t - 1] for t in range(1, sh.tiers)):
                raise ParamsError(f"haircuts[{a}].rate: rises with value (collateral value not concave)")


def corner_price(price: int, box_ppm: int, high: bool) -> int:
    """price x (1 -+ b), rounded outwards (down for the low corner, up for the high one): the circuit's corner."""
    num = price * (RATE_SCALE + box_ppm if high else RATE_SCALE - box_ppm)
    return -(-num // RATE_SCALE) if high else num // RATE_SCALE


def risk_limbs(entry: int) -> tuple[int, ...]:
    """The in-circuit limbs of a risk entry: entry + 2^40 split into RISK_LIMB_WIDTHS, lowest first."""
    if not -(1 << RISK_BITS) <= entry < 1 << RISK_BITS:
        raise ParamsError(f"risk array entry {entry}: |entry| < 2^{RISK_BITS}")
    v = entry + (1 << RISK_BITS)
    out = []
    for w in RISK_LIMB_WIDTHS:
        out.append(v & ((1 << w) - 1))
        v >>= w
    return tuple(out)


def pack(values: Sequence[int], width: int, per: int) -> list[int]:
    """Pack non-negative pieces below 2^width, ``per`` to an element, lowest first."""
    out = []
    for i in range(0, len(values), per):
        acc = 0
        for k, v in enumerate(values[i : i + per]):
            if not 0 <= v < 1 << width:
                raise ParamsError(f"packed value {v} outside [0, 2^{width})")
            acc += v << (width * k)
        out.append(acc)
    return out
