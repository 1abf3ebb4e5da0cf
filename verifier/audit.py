"""``zkmargin audit``: re-check a whole epoch bundle (and, given a registry, the chain) without the prover.

Checks: every file against the manifest's sha256 (and no unlisted file); the published parameters (well formed,
version hash = sha256 of the engine's canonical JSON, params_commitment recomputed); every batch's public signals
against the manifest and every proof; batch id ranges ascending and disjoint; counts and totals; every account
inclusion file present against its batch root; the exclusion list; the setup transcript when the setup had one
(a development setup is reported as a warning); and on-chain: the epoch's attestation record and every
batchTreeRoot (Merkle root over every batch statement, verifier/batch_tree.py) equal to the bundle's.

Where the split is: this module opens the bundle, runs every check in order and reports (one epoch, or a range
with its summary); the checks live by area in ``audit_files_params.py`` (files, methodology), ``audit_batches.py``
(proofs, order, totals, exclusions, deliveries) and ``audit_setup_chain.py`` (setup, on-chain record).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import bundle as fmt
from .attestation import n_public
from .audit_batches import check_batch_order, check_batch_proofs, check_deliveries, check_excluded, check_totals
from .audit_files_params import check_files, check_methodology
from .audit_setup_chain import check_chain, check_setup, check_snapshot_clock
from .bundle_proofs import COMMITTED, PROOF_SYSTEMS, key_proof_system, vk_from_bundle_json
from .groth16 import MalformedInput
from .params_audit import audit_parameters
from .report import Report
from .safe_io import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from .chain import SolvencyRegistryClient

__all__ = ["audit_bundle", "audit_range", "range_summary"]

# the names these two checks had before the split (the red-team tests call them one at a time)
_dynamic = check_methodology
_snapshot_clock = check_snapshot_clock


def audit_bundle(
    bundle_path: str | Path,
    registry: SolvencyRegistryClient | None = None,
    epoch: int | None = None,
    check_transcript: bool = True,
    deliveries: str | Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Every check of one epoch; ``deliveries`` (the operator's private inclusion files) adds their self-check.
    A bundle that cannot be read (unsafe path or file, missing field, wrong epoch) sets ``report.malformed``."""
    rep = Report("audit" if epoch is None else f"audit of epoch {epoch}", epoch=epoch)
    try:
        b = fmt.open_epoch(bundle_path, epoch, limits)
        rep.epoch = b.epoch
        rep.title = f"audit of epoch {b.epoch} ({b.path})"
        _audit(rep, b, registry, check_transcript, None if deliveries is None else Path(deliveries))
    except (fmt.BundleError, MalformedInput, KeyError, TypeError, ValueError, AttributeError, OSError) as e:
        rep.malformed = _reason(e)
    return rep


def audit_range(
    bundle_root: str | Path,
    first: int,
    last: int,
    registry: SolvencyRegistryClient | None = None,
    check_transcript: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Report]:
    """One full audit per epoch ``first..last`` (inclusive) of a bundle root, in order. An epoch absent from the
    index, or whose row points elsewhere, gets a malformed report of its own (a gap is never skipped silently).
    The transcript of a setup shared by several epochs is re-checked once, for the first epoch that uses it.
    Raises ValueError when ``first > last`` or either is negative (a usage error, exit 2)."""
    if first < 0 or last < first:
        raise ValueError(f"epoch range {first}..{last}: need 0 <= first <= last")
    reports: list[Report] = []
    checked_transcripts: set[str] = set()
    for epoch in range(first, last + 1):
        transcript = _transcript_key(bundle_root, epoch, limits)
        again = check_transcript and transcript not in checked_transcripts
        if transcript is not None:
            checked_transcripts.add(transcript)
        reports.append(audit_bundle(bundle_root, registry, epoch, again, limits=limits))
    return reports


def _transcript_key(bundle_root: str | Path, epoch: int, limits: Limits) -> str | None:
    try:
        setup = fmt.open_epoch(bundle_root, epoch, limits).manifest.get("setup") or {}
        return str(setup.get("transcript")) if isinstance(setup, dict) and setup.get("transcript") else None
    except (fmt.BundleError, ValueError, OSError):
        return None  # the epoch's own audit reports why it cannot be opened


def range_summary(reports: list[Report]) -> Report:
    """One report over a range: a check per epoch (passed, failed with its failed checks named, or malformed with
    its reason). Its exit code is 2 if any epoch is malformed, else 1 if any failed, else 0."""
    epochs = [r.epoch for r in reports if r.epoch is not None]
    title = f"audit of epochs {min(epochs)}..{max(epochs)}" if epochs else "audit of an empty range"
    summary = Report(title)
    for r in reports:
        label = f"epoch {r.epoch}"
        if r.malformed is not None:
            summary.add(label, False, f"MALFORMED: {r.malformed}")
        elif r.ok:
            summary.add(label, True, f"{len(r.checks)} checks pass")
        else:
            summary.add(label, False, "failed: " + "; ".join(c.name for c in r.failed()[:5]))
    malformed = [r.epoch for r in reports if r.malformed is not None]
    if malformed:
        summary.malformed = f"epochs {malformed} could not be read"
    return summary


def _reason(e: Exception) -> str:
    """A malformed-bundle reason: our own errors already name the file or field; others get their type named."""
    if isinstance(e, fmt.BundleError | MalformedInput):
        return str(e)
    if isinstance(e, KeyError):
        return f"missing field {e}"
    return f"{type(e).__name__}: {e}"


def _audit(
    rep: Report,
    b: fmt.EpochBundle,
    registry: SolvencyRegistryClient | None,
    check_transcript: bool,
    deliveries: Path | None,
) -> None:
    from .venue_format import is_venue_manifest

    if is_venue_manifest(b.manifest):  # the venue circuit (issue 15): its own parameter and deliveries checks
        from .venue_audit import audit_venue

        audit_venue(rep, b, registry, deliveries)
        return
    check_files(rep, b)
    sh = b.shape
    pub = b.json(fmt.PARAMS, "params.json")
    rep.add(
        "params: shape and layout equal the manifest's",
        pub["shape"] == b.manifest["shape"] and pub["layout"] == b.manifest["layout"],
    )
    governed = pub["governed_document"]
    rebuilt = audit_parameters(
        rep, governed, b.json(fmt.MARKET, "market.json"), sh, b.prices, b.params_commitment, b.market_commitment
    )
    same_version = rebuilt.document_sha256 == b.manifest["parameter_version"]
    rep.add(
        "params: manifest's parameter version = sha256 of the governed document",
        same_version,
        rebuilt.document_sha256[:16]
        if same_version
        else f"document {rebuilt.document_sha256[:16]}, manifest {str(b.manifest['parameter_version'])[:16]}",
    )
    check_methodology(rep, b, governed, rebuilt.risk_parameters)
    vk = vk_from_bundle_json(b.json(fmt.VK))
    system = key_proof_system(vk)
    declared = b.manifest.get("proof_system", "plain")  # manifests before the committed default were plain
    rep.add(
        "verifying key: the manifest's proof system (committed Groth16 on lookups, or plain Groth16)",
        declared in PROOF_SYSTEMS and declared == system,
        f"{system}" + ("" if declared == system else f"; the manifest says {str(declared)[:20]!r}")
        + (": challenge derived from each proof's commitment, never read from the bundle" if system == COMMITTED
           else ""),
    )  # fmt: skip
    want = n_public(sh.assets)
    rep.add("verifying key: layout of the shape", vk.n_public == want,
            f"{vk.n_public} public signals" + ("" if vk.n_public == want else f", the shape needs {want}"))  # fmt: skip

    batches = b.batches()
    rep.add("batches: at least one", bool(batches), f"{len(batches)} batches")
    check_batch_proofs(rep, b, vk, batches)
    check_batch_order(rep, batches, sh.accounts)
    check_totals(rep, b.manifest["totals"], batches)
    check_deliveries(rep, b, batches, deliveries)
    check_excluded(rep, b.json(fmt.EXCLUDED), int(b.manifest["totals"]["accounts_unrepresented"]))
    check_setup(rep, b, vk, registry, check_transcript)
    if registry is not None:
        check_chain(rep, b, batches, registry)
    elif b.manifest.get("chain"):
        rep.warn("chain", f"not checked (give --rpc and --registry {b.manifest['chain'].get('registry')})")
