"""The governed price box (issue 16): how wide it is and which assets it moves, read from the governed document.

This is the one place both sides read it from: the venue circuit's parameters (the box width and the per-asset box
flags are committed inside ``params_commitment``), the registry's governed copy (``boxPpm`` and the ``boxAssets``
bit mask it stores with the parameter commitment, compared by the audit) and the live view (``isSolvent()`` is true
only while every boxed asset's feed median stays inside its attested box).

Document field (optional; absent means a point-price attestation)::

    "price_box": {"box_ppm": 100000, "boxed_assets": [2, 3, 5]}

* ``box_ppm``: the half-width b of the box in parts per million of the attested index price; every boxed asset's
  price may move to anywhere in [p (1 - b), p (1 + b)] and the proof still holds. 0 means a point-price
  attestation (no box: the live view then needs the feed median to equal the attested price, within the
  registry's price band at submission only). At most :data:`MAX_BOX_PPM`.
* ``boxed_assets``: the asset ids (1-based, the venue circuit's ids: public signal ``prices[a-1]`` is asset id a)
  whose prices the box moves; strictly increasing. The others (USD cash, pegged stablecoins a venue chooses to hold
  at their point price) stay at the attested price; the live view ignores them. With ``box_ppm`` 0 the list must
  be empty.

The registry's mask has bit (a - 1) set for every boxed asset id a, so it fits the registry's at most 64 assets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from zkmargin.circuits.solvency.params import ParamsError

PRICE_BOX_KEY = "price_box"
DEFAULT_BOX_PPM = 100_000  # 10 %: the box the operator's documents carry unless told otherwise
MAX_BOX_PPM = 500_000  # a wider box would let corner prices reach half the index: no venue margins for that
MAX_BOXED_ASSETS = 64  # the registry's asset count bound (one mask bit per asset)


@dataclass(frozen=True)
class GovernedBox:
    """The governed box: half-width in ppm and the boxed asset ids (empty and 0 for a point-price attestation)."""

    box_ppm: int = 0
    boxed_assets: tuple[int, ...] = ()

    @property
    def is_point(self) -> bool:
        return self.box_ppm == 0

    @property
    def mask(self) -> int:
        """The registry's ``boxAssets`` word: bit (a - 1) for every boxed asset id a."""
        m = 0
        for a in self.boxed_assets:
            m |= 1 << (a - 1)
        return m

    def is_boxed(self, asset_id: int) -> bool:
        return asset_id in self.boxed_assets

    def document_field(self) -> dict[str, Any]:
        """The document's ``price_box`` value (canonical: ids sorted)."""
        return {"box_ppm": self.box_ppm, "boxed_assets": list(self.boxed_assets)}


def validate_box(box_ppm: int, boxed_assets: tuple[int, ...], assets: int | None = None) -> GovernedBox:
    """A checked :class:`GovernedBox`; ``assets`` (the shape's asset count) bounds the ids when given."""
    if isinstance(box_ppm, bool) or not isinstance(box_ppm, int) or not 0 <= box_ppm <= MAX_BOX_PPM:
        raise ParamsError(f"governed document: price_box.box_ppm must be an integer in [0, {MAX_BOX_PPM}]")
    ids = tuple(boxed_assets)
    for a in ids:
        if isinstance(a, bool) or not isinstance(a, int) or a < 1:
            raise ParamsError("governed document: price_box.boxed_assets must be asset ids >= 1")
    if any(b <= a for a, b in pairwise(ids)):
        raise ParamsError("governed document: price_box.boxed_assets must be strictly increasing")
    top = MAX_BOXED_ASSETS if assets is None else min(assets, MAX_BOXED_ASSETS)
    if ids and ids[-1] > top:
        raise ParamsError(f"governed document: price_box.boxed_assets: asset id {ids[-1]} > {top}")
    if box_ppm == 0 and ids:
        raise ParamsError("governed document: price_box.boxed_assets must be empty when box_ppm is 0 (point prices)")
    return GovernedBox(box_ppm, ids)


def governed_box(document: Mapping[str, Any], assets: int | None = None) -> GovernedBox:
    """The box a governed document declares (a point-price box when it has no ``price_box``)."""
    raw = document.get(PRICE_BOX_KEY)
    if raw is None:
        return GovernedBox()
    if not isinstance(raw, Mapping) or set(raw) != {"box_ppm", "boxed_assets"}:
        raise ParamsError("governed document: price_box must be an object with exactly box_ppm and boxed_assets")
    boxed = raw["boxed_assets"]
    if not isinstance(boxed, list):
        raise ParamsError("governed document: price_box.boxed_assets must be a list of asset ids")
    return validate_box(raw["box_ppm"], tuple(boxed), assets)
