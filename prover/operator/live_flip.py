"""The demo's live flip (issue 16): the registry's ``isSolvent()`` is read at call time against the feeds, so moving
one mock feed outside the attested box turns it false (with the reason), and it turns true again when the feed
comes back inside the box, or after the next epoch is attested at the new prices.

Why the demo shows it: an attestation used to stay "solvent" however far the market moved; the live view is the
chain's answer to "is the proof still about today's prices?". The flip back by a new epoch re-proves every batch
(about two minutes at 1,000 accounts), so ``zkmargin demo`` does it only with ``--live-flip-epoch``; by default the
feed is moved back inside the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkmargin.verifier.chain_live import PPM, box_bounds, checked_indices

from .chain_ops import ChainDeployment

OUTSIDE_PPM = 20_000  # the moved feed lands 2% of the attested price beyond the box's upper edge


@dataclass(frozen=True)
class FlipStep:
    """One reading of the live view during the flip."""

    label: str
    solvent: bool
    reason: str
    feed_price: int  # the moved asset's feed answer at this step (price decimals)
    box_hi: int  # the box's upper edge for that asset (the attested price for a point attestation)


def pick_asset(dep: ChainDeployment, names: Sequence[str], prefer: Sequence[str] = ("BTC", "ETH")) -> int:
    """The price index to move: the first of ``prefer`` the live view checks, else the first checked asset."""
    att = dep.registry.latest()
    box = dep.registry.box_of(att.params_commitment)
    checked = checked_indices(box.box_ppm, box.mask, len(att.prices))
    if not checked:
        raise ValueError("the latest attestation's box checks no asset: nothing to flip")
    for name in prefer:
        if name in names and names.index(name) in checked:
            return names.index(name)
    return checked[0]


def outside_price(price: int, box_ppm: int, unit: int) -> int:
    """A feed answer just outside the box: 2% of ``price`` above its upper edge, rounded up to a whole ``unit``."""
    _, hi = box_bounds(price, box_ppm)
    target = hi + price * OUTSIDE_PPM // PPM
    return -(-target // unit) * unit


def observe(dep: ChainDeployment, label: str, index: int) -> FlipStep:
    reg = dep.registry
    live = reg.live_status()
    att = reg.latest()
    _, hi = box_bounds(att.prices[index], live.box_ppm)
    answer = int(dep.feeds[index].functions.latestRoundData().call()[1])
    return FlipStep(label, live.solvent, live.reason_text, answer, hi)


def set_feed(dep: ChainDeployment, index: int, answer: int) -> None:
    dep.chain.transact(dep.feeds[index].functions.setAnswer(answer), sender=dep.feed_owner)


def flip_out(dep: ChainDeployment, index: int, unit: int) -> tuple[list[FlipStep], int]:
    """Read the live view, move feed ``index`` outside the box, read it again; returns the steps and the moved price."""
    att = dep.registry.latest()
    live = dep.registry.live_status()
    steps = [observe(dep, f"epoch {att.epoch} attested, feeds at the attested prices", index)]
    moved = outside_price(att.prices[index], live.box_ppm, unit)
    set_feed(dep, index, moved)
    steps.append(observe(dep, "one feed moved outside the box", index))
    return steps, moved


def flip_back(dep: ChainDeployment, index: int) -> FlipStep:
    """Move feed ``index`` back to its attested price (inside the box) and read the live view."""
    set_feed(dep, index, dep.registry.latest().prices[index])
    return observe(dep, "feed back inside the box", index)


def flipped_as_expected(steps: Sequence[FlipStep]) -> bool:
    """true, then false (outside the box), then true again: what the demo promises."""
    return (
        len(steps) >= 3
        and steps[0].solvent
        and not steps[1].solvent
        and "outside" in steps[1].reason
        and steps[-1].solvent
    )
