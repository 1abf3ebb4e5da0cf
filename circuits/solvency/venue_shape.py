"""Shape of a venue batch circuit (issue 15): sparse slots over a governed instrument table.

The plain :class:`~.shape.SolvencyShape` fixes which instrument each position slot holds; a venue shape fixes only
how many slots a leaf has. Each leaf (one account, or one part of an account split over linked leaves) holds

* up to ``positions`` (P) positions as (instrument id, quantity) and up to ``balances`` (A) balances as
  (asset id, amount), sparse: used slots first with strictly increasing ids, empty slots id 0 with 0 forced;
* at most one portfolio-margin underlying group (the risk-array instruments of one underlying; a group may continue
  over the account's next leaf, see docs/circuit.md "Instrument table").

The tables are sized by the shape (the verifying key): ``instruments`` rows (row 0 is the empty instrument, ids are
row numbers), ``assets`` collateral assets (ids 1..assets, one public price and one public liability each),
``ladders`` bracket ladders of ``brackets`` rows (ladder 0 is the zero ladder of options and empty slots),
``tiers`` haircut tiers per asset, ``risk_rows`` risk arrays of ``scenarios`` entries (row 0 is the zero array).
``box`` = 1 (the default) proves every account at the worst corner of the governed price box (docs/statement.md,
"Price boxes"); ``box`` = 0 is the point-price circuit (the governed box must then be 0).
Everything in the tables is a signal bound by the parameter and market commitments, so a new listing changes the
governed parameters, not the key, as long as the table fits the shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from .shape import FIXED_PUBLIC_NAMES, PUB_PRICES
from .venue_tree import tree_depth

# widths of the governed columns packed into one field element per instrument row (each range-checked in-circuit)
ASSET_ID_BITS = 8  # at most 255 collateral assets
LADDER_BITS = 16
RISK_ROW_BITS = 16
INSTRUMENT_ID_BITS = 20  # at most 2^20 instrument rows
PART_BITS = 8  # at most 256 linked leaves per account
RISK_BITS = 40  # |risk array entry| < 2^40 micro-USD per unit (as SolvencyParams.validate_market)


@dataclass(frozen=True)
class VenueShape:
    """Dimensions of a venue batch: slots per leaf and table sizes (all fixed by the verifying key)."""

    accounts: int  # N leaves per batch
    positions: int  # P position slots per leaf
    balances: int  # A balance slots per leaf
    instruments: int  # rows of the instrument table, row 0 (the empty instrument) included
    assets: int  # collateral assets, ids 1..assets
    ladders: int  # bracket ladders, ladder 0 (zero margin: options, empty slots) included
    brackets: int  # K rows per ladder (shorter ladders padded with unreachable rows)
    tiers: int  # T haircut tiers per asset
    scenarios: int  # S entries per risk array
    risk_rows: int  # risk arrays, row 0 (the zero array) included
    usd_asset: int = 0  # the asset id of USD cash (price exactly 1e8), 0 if none
    box: int = 1  # 1: price-box proof (every account at the worst corner of the governed box); 0: point prices

    def __post_init__(self) -> None:
        for name in ("accounts", "positions", "balances", "assets", "brackets", "tiers", "scenarios"):
            if getattr(self, name) < 1:
                raise ValueError(f"venue shape.{name} must be >= 1")
        for name, top in (
            ("instruments", 1 << INSTRUMENT_ID_BITS),
            ("ladders", 1 << (LADDER_BITS - 1)),
            ("risk_rows", 1 << RISK_ROW_BITS),
        ):
            if not 1 <= getattr(self, name) <= top:
                raise ValueError(f"venue shape.{name} must be in [1, {top}] (row 0 included)")
        if self.assets >= 1 << ASSET_ID_BITS:
            raise ValueError(f"venue shape.assets must be < {1 << ASSET_ID_BITS}")
        if not 0 <= self.usd_asset <= self.assets:
            raise ValueError("venue shape.usd_asset: 0 or an asset id")
        if self.box not in (0, 1):
            raise ValueError("venue shape.box: 1 (price box) or 0 (point prices)")
        if self.accounts > 1 << 16:
            raise ValueError("at most 2^16 leaves per batch (totals stay far below the field size)")

    @property
    def depth(self) -> int:
        """Levels of the batch's 16-ary leaf tree (:mod:`.venue_tree`): ceil(log16 N)."""
        return tree_depth(self.accounts)


def venue_public_names(assets: int) -> list[str]:
    """Public signals: the plain layout (docs/statement.md) with one price and one liability per asset id 1..assets
    (``prices[a-1]`` is asset id a); ``account_count`` counts accounts, not leaves."""
    return [
        *FIXED_PUBLIC_NAMES,
        *(f"prices[{a}]" for a in range(assets)),
        *(f"liabilities[{a}]" for a in range(assets)),
    ]


assert PUB_PRICES == len(FIXED_PUBLIC_NAMES)
