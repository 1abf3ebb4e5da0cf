"""The operator's data in: read a snapshot directory (docs/product.md, "Snapshot format") into the margin engine
and accounts that :func:`zkmargin.api.run_epoch` proves, write one, and prove an epoch from one.

Split out of the API (``zkmargin.api`` re-exports every name) as the operator's side of the venue's own data; the
prover is imported when a function is called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, MissingExtra, PathLike

if TYPE_CHECKING:
    from zkmargin.circuits.rules.models import Account
    from zkmargin.prover.engine.margin import MarginEngine
    from zkmargin.prover.operator.chain_ops import ChainDeployment
    from zkmargin.prover.operator.pipeline import EpochResult
    from zkmargin.prover.operator.venue_update import VenueUpdateResult


def load_snapshot(snapshot: PathLike, circuit: str = "slots") -> tuple[MarginEngine, list[Account]]:
    """Read and validate a snapshot directory: the margin engine (the approved parameters over the snapshot's
    instruments and prices) and the accounts in file order, of the same types as :func:`demo_exchange`'s. A bad
    snapshot raises :class:`InputError` whose reason names the file, the row and the field."""
    from zkmargin.prover.operator.snapshot import ParquetUnavailable, SnapshotError
    from zkmargin.prover.operator.snapshot import load_snapshot as _load

    try:
        return _load(snapshot, circuit=circuit)
    except ParquetUnavailable as e:
        raise MissingExtra(f"reading {e.file}", "parquet", "pyarrow") from e
    except SnapshotError as e:
        raise InputError("snapshot", str(e)) from e


def write_snapshot(snapshot: PathLike, engine: MarginEngine, accounts: Sequence[Account], fmt: str = "csv") -> Path:
    """Write ``engine``'s instruments and prices and ``accounts`` as a snapshot directory (``fmt``: ``"csv"`` or
    ``"parquet"``, which needs the ``parquet`` extra); :func:`load_snapshot` reads it back equal."""
    from zkmargin.prover.operator.snapshot import ParquetUnavailable
    from zkmargin.prover.operator.snapshot import write_snapshot as _write

    if fmt not in ("csv", "parquet"):
        raise InputError("fmt", f"is 'csv' or 'parquet', got {fmt!r}")
    try:
        return _write(snapshot, engine, accounts, fmt)
    except ParquetUnavailable as e:
        raise MissingExtra("writing Parquet", "parquet", "pyarrow") from e


def snapshot_epoch(
    snapshot: PathLike,
    root: PathLike,
    *,
    epoch: int | None = None,
    batch: int = 16,
    setup_kind: str = "development",
    setup_dir: PathLike | None = None,
    chain: ChainDeployment | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    proof_system: str | None = None,
    circuit: str = "slots",
) -> EpochResult:
    """Prove one epoch of the snapshot directory ``snapshot`` into the bundle root ``root``: :func:`load_snapshot`
    then :func:`run_epoch` (same options). The snapshot is fully validated before anything is written.
    ``circuit="venue"``: the venue circuit (``VenueOperator``; ``batch`` is leaves per batch, committed Groth16)."""
    from zkmargin.verifier import bundle as fmt

    from .operator import run_epoch

    if circuit not in ("slots", "venue"):
        raise InputError("circuit", f"is 'slots' or 'venue', got {circuit!r}")
    engine, accounts = load_snapshot(snapshot, circuit)
    if not accounts:
        raise InputError("snapshot", "accounts: no account to prove")
    if epoch is not None and Path(root).is_dir():
        latest = max((int(r["epoch"]) for r in fmt.list_epochs(root)), default=0)
        if epoch <= latest and not (Path(root) / fmt.epoch_dirname(epoch)).is_dir():
            raise InputError("epoch", f"{epoch} is not after the latest published epoch {latest} of {root}")
    if circuit == "venue":  # every account whole over linked leaves; batch = leaves per batch
        from zkmargin.prover.operator.venue_epoch import VenueOperator, VenueSpec

        op = VenueOperator(root, VenueSpec(leaves=batch), setup_kind=setup_kind, chain=chain, progress=progress)
        return op.run_epoch(epoch if epoch is not None else op.latest_epoch() + 1, engine, accounts)
    return run_epoch(root, engine, accounts, epoch=epoch, batch=batch, setup_kind=setup_kind, setup_dir=setup_dir,
                     chain=chain, progress=progress, proof_system=proof_system)  # fmt: skip


def snapshot_update(
    snapshot: PathLike,
    root: PathLike,
    *,
    epoch: int | None = None,
    batch: int = 64,
    chain: ChainDeployment | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> VenueUpdateResult:
    """The next venue epoch of ``root`` from the snapshot directory ``snapshot`` as an **update** (issue 16:
    ``VenueOperator.run_update``: only the slots whose accounts changed are re-proven, at the latest attestation's
    box centre, the rest carried), or a full epoch when an update is not possible (``.mode``, ``.reason``). ``batch``
    is leaves per batch and must be the latest epoch's (else the shape, hence the key, differs: a full epoch)."""
    from zkmargin.prover.operator.venue_epoch import VenueOperator, VenueSpec
    from zkmargin.verifier import bundle as fmt

    engine, accounts = load_snapshot(snapshot, "venue")
    if not accounts:
        raise InputError("snapshot", "accounts: no account to prove")
    op = VenueOperator(root, VenueSpec(leaves=batch), chain=chain, progress=progress)
    nxt = op.latest_epoch() + 1
    if epoch is not None and epoch != nxt and not (Path(root) / fmt.epoch_dirname(epoch)).is_dir():
        raise InputError("epoch", f"an update epoch is the root's next one, {nxt}, not {epoch}")
    return op.run_update(epoch if epoch is not None else nxt, engine, accounts)
