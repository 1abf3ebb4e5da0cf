"""The registry's live view (issue 16), read side: ``isSolvent()`` is evaluated at call time against the current
feeds, and ``liveStatus()`` says why it is false. Mirrors of the contract's reason codes and FeedMedian's statuses,
the box words <-> :class:`GovernedBox`, and the inward-rounded box bounds (``FeedMedian.boxBounds``).

Why a module of its own: the reason codes are an interface other protocols read (docs/contracts.md, "Live view"), and
the CLI, the demo and the audit all print or compare them; one table keeps them from drifting.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkmargin.circuits.rules.price_box_document import MAX_BOXED_ASSETS, GovernedBox

PPM = 1_000_000

# SolvencyRegistry.liveStatus() reason codes, in the order the registry checks them (the first failing one).
LIVE_OK = 0
NO_ATTESTATION = 1
REVOKED = 2
BAD_DEBT_UNCOVERED = 3
UNREPRESENTED = 4
TOO_OLD = 5
FEED_BROKEN = 6
OUTSIDE_BOX = 7
LIVE_REASONS: dict[int, str] = {
    LIVE_OK: "solvent now",
    NO_ATTESTATION: "no attestation",
    REVOKED: "latest attestation revoked by governance",
    BAD_DEBT_UNCOVERED: "attested bad debt above the insurance fund",
    UNREPRESENTED: "unrepresented accounts above the governed tolerance",
    TOO_OLD: "attestation older than maxAttestationAge",
    FEED_BROKEN: "a checked asset's feed is missing, stale or broken",
    OUTSIDE_BOX: "a checked asset's feed median is outside the attested box",
}

# FeedMedian.liveCheck() statuses.
FEED_STATUSES: dict[int, str] = {
    0: "inside",
    1: "no feed",
    2: "feed call failed",
    3: "bad answer",
    4: "incomplete round",
    5: "stale",
    6: "bad decimals",
    7: "OUTSIDE",
}


@dataclass(frozen=True)
class LiveStatus:
    """``SolvencyRegistry.liveStatus()``: the live view of the latest attestation."""

    solvent: bool
    reason: int  # LIVE_REASONS
    asset: int  # the failing asset index (price index; asset id + 1) for FEED_BROKEN / OUTSIDE_BOX, else 0
    box_ppm: int
    box_assets: int  # mask: bit i = price index i boxed
    age: int  # seconds since the latest attestation

    @property
    def reason_text(self) -> str:
        text = LIVE_REASONS.get(self.reason, f"unknown reason {self.reason}")
        if self.reason in (FEED_BROKEN, OUTSIDE_BOX):
            text += f" (asset index {self.asset})"
        return text

    @property
    def box(self) -> GovernedBox:
        return box_from_words(self.box_ppm, self.box_assets)


@dataclass(frozen=True)
class LiveAsset:
    """One asset of the live view: its attested price, the feeds' median now and the box (FeedMedian.liveCheck)."""

    index: int  # price index (asset id - 1)
    checked: bool  # boxed (or every asset for a point attestation)
    price: int
    median: int  # 0 when the feed failed
    lo: int
    hi: int
    status: int  # FEED_STATUSES

    @property
    def status_text(self) -> str:
        return FEED_STATUSES.get(self.status, f"status {self.status}")


def box_from_words(box_ppm: int, box_assets: int) -> GovernedBox:
    """The registry's (boxPpm, boxAssets) words as a box (asset id a = mask bit a - 1); not re-validated: these are
    the registry's words, compared as they are."""
    ids = tuple(i + 1 for i in range(MAX_BOXED_ASSETS) if (box_assets >> i) & 1)
    return GovernedBox(int(box_ppm), ids)


def box_bounds(price: int, box_ppm: int) -> tuple[int, int]:
    """FeedMedian.boxBounds: [ceil(p (1 - b)), floor(p (1 + b))], rounded inward so the chain never claims a price the
    proof did not cover."""
    down = max(0, PPM - box_ppm)
    return -(-price * down // PPM), price * (PPM + box_ppm) // PPM


def checked_indices(box_ppm: int, box_assets: int, n_assets: int) -> list[int]:
    """The price indices the live view checks: the boxed ones, or every asset for a point attestation (box 0)."""
    return [i for i in range(n_assets) if box_ppm == 0 or (box_assets >> i) & 1]
