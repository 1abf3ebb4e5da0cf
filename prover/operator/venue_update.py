"""Update epochs of the venue circuit (issue 16): re-prove only the slots whose accounts changed, at the latest
attestation's box centre, and carry the other slots' statements and proofs forward.

When an update is possible (:func:`update_blocker` says why not, and the operator then runs a full epoch and says
so): there is an attested venue epoch with the operator's slot record; the shape and verifying key are the ones that
epoch used; the parameters and market rebuilt at that epoch's snapshot give the same commitments (so the same box
centre: same prices, marks, risk arrays, governed document); and every current price the box covers is inside it
(``chain_live.box_bounds``, the live view's own rounding). Then every new batch is proven with the shared inputs
(new epoch, same params, same market, same prices), a carried statement stays true because it was proven for every
price in the same box, and the registry accepts the ops only while its feeds are in the box (contract half).

The operator's private slot record (``<root>/private/tree/epoch-N.json``, :class:`venue_slots.TreeState`) holds each
slot's members and their fingerprints: what decides which slots changed. The bundle of an update holds every slot
(new or carried) with its leaf preimage and proof, so the bundle alone rebuilds the root (``verifier/venue_tree``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_write_json
from zkmargin.circuits.rules.instrument_table import InstrumentTable
from zkmargin.circuits.rules.models import MarketSnapshot
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.circuits.solvency.venue_params import VenueParams
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.batch_tree import DEPTH, BatchTree, SlotLeaf, TreeError
from zkmargin.verifier.chain_live import box_bounds

from ..engine.margin import MarginEngine
from .pipeline import EpochResult
from .venue_slots import PlannedOp, TreeState

TREE_DIR = "tree"


def state_path(root: Path, epoch: int) -> Path:
    return root / inclusion.PRIVATE_DIR / TREE_DIR / f"{fmt.epoch_dirname(epoch)}.json"


def save_state(root: Path, state: TreeState) -> None:
    """Atomically, 0600 under the private directory (it names accounts)."""
    path = state_path(root, state.epoch)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_json(path, state.to_json())
    path.chmod(0o600)


def load_state(root: Path, epoch: int) -> TreeState | None:
    path = state_path(root, epoch)
    if not path.exists():
        return None
    return TreeState.from_json(fmt.load_json_file(path, str(path)))


@dataclass
class VenueUpdateResult:
    """An update epoch's outcome (or the full epoch it fell back to, with the reason)."""

    result: EpochResult
    mode: str  # "update" or "full"
    reason: str = ""  # why a full epoch ran instead of an update
    reproved: list[int] = field(default_factory=list)  # slots proven at this epoch
    carried: list[int] = field(default_factory=list)  # slots whose statement and proof were carried
    splits: int = 0
    proofs: int = 0  # batch proofs made (the empty batch of a split chain counts once)


def centre_engine(engine: MarginEngine, snapshot: MarketSnapshot) -> MarginEngine:
    """The engine at the latest attestation's box centre: today's instruments and parameters over that epoch's
    snapshot (marks, index prices, vol surfaces) and the risk arrays it implies; the caller compares the rebuilt
    commitments with the attested ones, so a listing or parameter change is detected, never proven under."""
    ra = build_risk_arrays(engine.instruments, snapshot, engine.params.scenario_grids, engine.params.short_option_min)
    return MarginEngine(engine.instruments, engine.params, snapshot, ra)


def outside_box(
    centre: Mapping[str, int], current: Mapping[str, int], assets: Sequence[str], vp: VenueParams
) -> list[str]:
    """The assets whose current price lies outside the attested box (every asset of a point attestation whose price
    moved at all): the live view would be false, and an update may not carry statements there."""
    out = []
    for i, a in enumerate(assets):
        c, p = int(centre[a]), int(current.get(a, -1))
        if vp.box_ppm and (i + 1) not in vp.boxed_assets:
            continue  # not a boxed asset (USD, stablecoins): its price is a constant of the box
        lo, hi = box_bounds(c, vp.box_ppm) if vp.box_ppm else (c, c)
        if not lo <= p <= hi:
            out.append(f"{a} {p} outside [{lo}, {hi}]")
    return out


def tree_of_manifest(manifest: Mapping[str, Any]) -> BatchTree:
    """The tree a published venue epoch recorded: every batch entry is a slot (lo, hi, proof epoch, statement)."""
    slots = []
    for i, e in enumerate(manifest["batches"]):
        if "lo" not in e:
            raise TreeError(f"epoch {manifest['epoch']}: batches[{i}] has no slot range (not a tree epoch)")
        be = fmt.BatchEntry.from_json(e, i)
        slots.append(SlotLeaf.from_statement(be.statement(), int(e["lo"]), int(e["hi"]), int(e["proof_epoch"])))
    return BatchTree(slots)


def tree_json(
    kind: str, epoch: int, base_epoch: int, tree: BatchTree, ops: Sequence[PlannedOp], reproved: Sequence[int]
) -> dict[str, Any]:
    """The manifest's ``tree`` section (format: ``verifier/venue_tree.py``)."""
    return {
        "kind": kind,
        "depth": DEPTH,
        "base_epoch": base_epoch,
        "previous_epoch": None if kind == "full" else epoch - 1,
        "root": "0x" + tree.root().hex(),
        "slot_count": len(tree.slots),
        "reproved": list(reproved),
        "ops": [
            {"op": "split", "slot": op.slot, "mid": str(op.mid)} if op.is_split else {"op": "replace", "slot": op.slot}
            for op in ops
        ],
    }


def table_assets(table: InstrumentTable) -> list[str]:
    return list(table.assets)
