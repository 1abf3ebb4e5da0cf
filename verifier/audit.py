"""``zkmargin audit``: re-check a whole epoch bundle (and, given a registry, the chain) without the prover.

Checks: every file against the manifest's sha256 (and no unlisted file); the published parameters (well formed,
version hash = sha256 of the engine's canonical JSON, params_commitment recomputed); every batch's public signals
against the manifest and every proof; batch id ranges ascending and disjoint; counts and totals; every account
inclusion file present against its batch root; the exclusion list; the setup transcript when the setup had one
(a development setup is reported as a warning); and on-chain: the epoch's attestation record and every
BatchAttested event equal to the bundle.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from zkmargin.circuits.merkle import verify_path
from zkmargin.circuits.rules.methodology import Methodology, MethodologyError
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.circuits.solvency.leaf import LeafData, account_id_commitment, epoch_salt

from . import bundle as fmt
from .attestation import EpochAttestation, n_public, signal_names
from .dynamic_params import check_dynamic_params, method_history
from .groth16 import MalformedInput, check_verifying_key, verify
from .inclusion import InclusionError, load_inclusion
from .params_audit import audit_parameters
from .registry_key import check_registry_key
from .report import Report
from .safe_io import DEFAULT_LIMITS, Limits
from .setup_audit import audit_setup
from .snarkjs_json import proof_from_json, public_from_json, vk_from_json
from .types import VerifyingKey

if TYPE_CHECKING:
    from .chain import SolvencyRegistryClient


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


def _files(rep: Report, b: fmt.EpochBundle) -> None:
    """Every listed file hashes to its manifest entry; nothing unlisted is shipped. Walking the directory raises
    (malformed) on a symlink, FIFO or device, and every file is read under the bundle's size cap."""
    listed = b.listed
    present = set(fmt.iter_files(b.path))
    # inclusion files may have been delivered and stripped from a published copy: absent ones are not an error
    missing = sorted(rel for rel in listed if rel not in present)
    differ = sorted(rel for rel, h in listed.items() if rel in present and fmt.sha256_checked(b.file(rel), rel) != h)
    extra = sorted(present - set(listed))
    problems = [f"sha256 differs: {', '.join(differ[:5])}"] if differ else []
    problems += [f"missing: {', '.join(missing[:5])}"] if missing else []
    rep.add(
        "files: sha256 of every file matches the manifest",
        not differ and not missing,
        "; ".join(problems) if problems else f"{len(listed)} files",
    )
    rep.add("files: no file outside the manifest", not extra, f"unlisted: {', '.join(extra[:5])}" if extra else "")


def _audit(
    rep: Report,
    b: fmt.EpochBundle,
    registry: SolvencyRegistryClient | None,
    check_transcript: bool,
    deliveries: Path | None,
) -> None:
    _files(rep, b)
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
    _dynamic(rep, b, governed, rebuilt.risk_parameters)
    vk = vk_from_json(b.json(fmt.VK))
    want = n_public(sh.assets)
    rep.add("verifying key: layout of the shape", vk.n_public == want,
            f"{vk.n_public} public signals" + ("" if vk.n_public == want else f", the shape needs {want}"))  # fmt: skip

    batches = b.batches()
    rep.add("batches: at least one", bool(batches), f"{len(batches)} batches")
    _batch_proofs(rep, b, vk, batches)
    _batch_order(rep, batches, sh.accounts)
    _totals(rep, b.manifest["totals"], batches)
    _deliveries(rep, b, batches, deliveries)
    _excluded(rep, b.json(fmt.EXCLUDED), int(b.manifest["totals"]["accounts_unrepresented"]))
    _setup(rep, b, vk, registry, check_transcript)
    if registry is not None:
        _chain(rep, b, batches, registry)
    elif b.manifest.get("chain"):
        rep.warn("chain", f"not checked (give --rpc and --registry {b.manifest['chain'].get('registry')})")


def _batch_proofs(rep: Report, b: fmt.EpochBundle, vk: VerifyingKey, batches: list[fmt.BatchEntry]) -> None:
    """Each batch's proof is verified against the statement the *manifest* makes (the proof decides what is true),
    and its public.json is compared with that statement. When they differ, the proof says which file holds the
    edit: a proof that verifies the public.json signals but not the manifest's convicts the manifest entry, one that
    verifies the manifest's convicts public.json, so an innocent file is never the one named."""
    check_verifying_key(vk)  # once, up front: a batch that fails early must not skip the key's validation
    names = signal_names(b.shape.assets)
    bad_public: list[str] = []
    bad_proofs: list[str] = []
    for i, be in enumerate(batches):
        signals = be.statement().public_signals(
            b.epoch, b.params_commitment, b.prices, market_commitment=b.market_commitment
        )
        if be.index != i:
            bad_public.append(f"manifest batches[{i}] has index {be.index}")
        try:
            proof = proof_from_json(b.json(be.proof))
            proven = verify(vk, proof, signals, validate_key=False)
        except fmt.MissingFile:
            bad_proofs.append(f"batch {i}: {be.proof} missing")
            proof, proven = None, False
        except MalformedInput as e:
            bad_proofs.append(f"batch {i}: {be.proof} malformed ({e})")
            proof, proven = None, False
        if not proven and proof is not None:
            bad_proofs.append(f"batch {i}: {be.proof} does not verify the manifest's statement")
        try:
            shipped = public_from_json(b.json(be.public))
        except fmt.MissingFile:
            bad_public.append(f"batch {i}: {be.public} missing")
            continue
        if shipped == signals:
            continue
        if len(shipped) != len(signals):
            bad_public.append(f"batch {i}: {be.public} has {len(shipped)} signals, expected {len(signals)}")
            continue
        fields = ", ".join(names[k] for k, (x, y) in enumerate(zip(shipped, signals, strict=True)) if x != y)
        try:
            file_proven = proof is not None and not proven and verify(vk, proof, shipped, validate_key=False)
        except MalformedInput:
            file_proven = False
        if file_proven:
            bad_public.append(f"batch {i}: the manifest's entry differs from the proven {be.public} in {fields}")
        else:
            bad_public.append(f"batch {i}: {be.public} differs from the manifest in {fields}")
    rep.add(
        "batches: public signals = manifest (epoch, root, params, market, ids, count, totals, prices, liabilities)",
        not bad_public,
        "; ".join(bad_public[:5]) if bad_public else f"{len(batches)} batches",
    )
    rep.add(
        "batches: every Groth16 proof verifies",
        not bad_proofs,
        "; ".join(bad_proofs[:5]) + (f" (and {len(bad_proofs) - 5} more)" if len(bad_proofs) > 5 else "")
        if bad_proofs
        else f"{len(batches)} proofs verify the manifest's statements",
    )


def _batch_order(rep: Report, batches: list[fmt.BatchEntry], size: int) -> None:
    """Id ranges ascending and disjoint (no account in two batches); each batch's count within the circuit's N."""
    inverted = [be.index for be in batches if be.first_id_hash > be.last_id_hash]
    overlaps = [(x.index, y.index) for x, y in itertools.pairwise(batches) if x.last_id_hash >= y.first_id_hash]
    detail = ", ".join([*(f"batch {i} first > last" for i in inverted), *(f"batches {x} and {y}" for x, y in overlaps)])
    rep.add(
        "batches: id ranges ascending and disjoint (no account counted twice)",
        not inverted and not overlaps,
        f"overlap or out of order: {detail}" if detail else "",
    )
    bad = [f"batch {be.index}: {be.count}" for be in batches if not 1 <= be.count <= size]
    rep.add(
        "batches: counts within the batch size", not bad, f"outside [1, {size}]: {', '.join(bad[:5])}" if bad else ""
    )


_TOTALS = (
    ("accounts_covered", "count"),
    ("total_equity", "total_equity"),
    ("total_mm", "total_mm"),
    ("under_mm_count", "under_mm_count"),
    ("total_shortfall", "total_shortfall"),
    ("total_bad_debt", "total_bad_debt"),
)


def _totals(rep: Report, t: Any, batches: list[fmt.BatchEntry]) -> None:
    """The manifest's totals are the sums of its batches, and covered + unrepresented = declared."""
    if not isinstance(t, dict):
        raise fmt.BundleError("manifest.json totals: expected an object")
    wrong = [f"{k} {t[k]} != {sum(getattr(be, f) for be in batches)}" for k, f in _TOTALS
             if int(t[k]) != sum(getattr(be, f) for be in batches)]  # fmt: skip
    rep.add(
        "totals: manifest totals = sum over batches",
        not wrong,
        "; ".join(wrong) if wrong else f"{t['accounts_covered']} accounts covered, {t['under_mm_count']} under MM",
    )
    cov, unr, dec = int(t["accounts_covered"]), int(t["accounts_unrepresented"]), int(t["accounts_declared"])
    rep.add(
        "totals: covered + unrepresented = declared accounts",
        cov + unr == dec,
        f"{dec} declared, {unr} not representable" if cov + unr == dec else f"{cov} + {unr} != {dec} declared",
    )


def _excluded(rep: Report, excluded: Any, unrepresented: int) -> None:
    """excluded.json holds counts per reason only (no id, no id hash, no number) summing to the on-chain count."""
    name = "excluded: counts per reason only (no id, no id hash, no numbers), summing to the unrepresented count"
    if not isinstance(excluded, list) or not all(isinstance(e, dict) for e in excluded):
        rep.add(name, False, "excluded.json is not a list of {kind, reason, count}")
        return
    extra = sorted({k for e in excluded for k in e} - {"kind", "reason", "count"})
    total = sum(int(e.get("count", 0)) for e in excluded)
    if extra or not all(set(e) == {"kind", "reason", "count"} for e in excluded):
        rep.add(name, False, f"entries with other fields: {', '.join(extra) or 'missing kind/reason/count'}")
    elif total != unrepresented:
        rep.add(name, False, f"{total} counted, the manifest declares {unrepresented} unrepresented")
    else:
        rep.add(name, True, f"{total} not representable")


def _snapshot_clock(rep: Report, b: fmt.EpochBundle, attested_at: int, max_age: int) -> None:
    """Option marks and risk arrays depend on the snapshot's clock (time to expiry): a snapshot dated a minute
    before expiry makes a short option worth nothing. Its time must be the attestation's, within the feeds' age
    bound. Linear instruments do not depend on it, so layouts without option slots skip the check."""
    if not b.shape.option_slots():
        return
    ts = int(b.json(fmt.MARKET, "market.json")["timestamp"])
    rep.add(
        "market: snapshot time = the on-chain attestation time (within the feeds' max age)",
        attested_at - max_age <= ts <= attested_at,
        f"snapshot {ts}, attested {attested_at}, max age {max_age} s",
    )


def _dynamic(rep: Report, b: fmt.EpochBundle, governed: dict[str, Any], registered: RiskParameters | None) -> None:
    """Dynamic margin: the governed rates must be at least as strict as what the methodology the governed document
    pins yields on its public price history, as of this epoch. The bundle's methodology file is untrusted: its
    recipe (base set, drivers, estimators, history) must hash to the governed one, and its as-of date is bound to
    the epoch by its history's close on that date being the attested oracle price of every driven underlying (an
    earlier as-of date, before a crash, would yield looser rates)."""
    pinned = governed.get("methodology_recipe_sha256")
    shipped = b.has(fmt.METHODOLOGY)
    if pinned is None and not shipped:
        return
    name = "dynamic parameters: the governed methodology, as of this epoch, yields rates no looser than the governed"
    if not shipped:
        rep.add(name, False, "the governed document pins a methodology but the epoch ships none")
        return
    if registered is None:
        rep.add(name, False, "no readable risk parameters")
        return
    try:
        method = Methodology.model_validate(b.json(fmt.METHODOLOGY))
        history = method_history(method)
    except (ValidationError, MethodologyError, OSError) as e:
        rep.add(name, False, f"methodology or its price history unreadable: {str(e).splitlines()[0]}")
        return
    if pinned is not None and method.recipe_hash() != pinned:
        rep.add(name, False, f"methodology recipe {method.recipe_hash()[:16]} is not the governed {str(pinned)[:16]}")
        return
    stale = []
    i = history.dates.index(method.asof)
    for u, drv in method.underlyings.items():
        close = round(float(history.columns[drv.column][i]) * 10**8)
        if u not in b.assets or b.prices[b.assets.index(u)] != close:
            stale.append(f"{u}: close {close} on {method.asof}")
    if stale:
        rep.add(name, False, "as-of date is not this epoch's (history close != attested price): " + ", ".join(stale))
        return
    bad = check_dynamic_params(registered, method, history)
    rep.add(name, not bad, f"as of {method.asof}" if not bad else "; ".join(bad[:3]))


def _deliveries(rep: Report, b: fmt.EpochBundle, batches: list[fmt.BatchEntry], deliveries: Path | None) -> None:
    """The operator's self-check of the private half: every proven account has an inclusion file whose leaf,
    rebuilt from the id and secret in it, is on its batch's path, and no two files share a slot. Auditors of the
    published bundle do not have these files (users check their own)."""
    if deliveries is None:
        return
    files = sorted(deliveries.glob("*.json")) if deliveries.is_dir() else []
    bad: list[str] = []
    seen: set[tuple[int, int]] = set()
    for f in files:
        try:
            inc = load_inclusion(f)
        except InclusionError:
            bad.append(f.name)
            continue
        leaf = LeafData(
            account_id_commitment(inc.account_id, inc.user_secret),
            epoch_salt(inc.user_secret, b.epoch),
            inc.portfolio,
            inc.cash,
            tuple(inc.balances.get(a, 0) for a in b.assets),
            tuple(inc.quantities.get(s, 0) for s in b.instruments),
        ).leaf()
        ok = (
            inc.epoch == b.epoch
            and 0 <= inc.batch < len(batches)
            and 0 <= inc.slot < batches[inc.batch].count
            and (inc.batch, inc.slot) not in seen
            and verify_path(leaf, list(inc.siblings), inc.slot, batches[inc.batch].root)
        )
        seen.add((inc.batch, inc.slot))
        if not ok:
            bad.append(f.name)
    covered = sum(be.count for be in batches)
    rep.add(
        "deliveries: one inclusion file per proven account, each on its batch root",
        not bad and len(files) == covered,
        f"{len(files)} files for {covered} accounts" + (f"; bad: {', '.join(bad[:5])}" if bad else ""),
    )


def _setup(rep: Report, b: fmt.EpochBundle, vk: VerifyingKey, registry: SolvencyRegistryClient | None,
           check_transcript: bool) -> None:  # fmt: skip
    """Who could forge under this key (verifier/setup_audit.py), plus the local ceremony's own transcript."""
    setup = b.manifest.get("setup") or {}
    governance = registry.governance() if registry is not None else None
    dev_mode = registry.development_mode() if registry is not None else None
    if setup.get("kind") == "ceremony" and check_transcript and setup.get("transcript"):
        # setup files live in the bundle root's setups/, so the path may go up from the epoch directory, but not
        # out of the root
        path = (b.path / str(setup["transcript"])).resolve()
        root = b.path.resolve().parent
        if root not in path.parents:
            raise fmt.BundleError(f"manifest.json setup.transcript: {setup['transcript']!r} resolves outside {root}")
        from .setup_transcript import verify_transcript

        tr = verify_transcript(path, SolvencyCircuit(b.shape).r1cs, vk, limits=b.limits)
        if tr.malformed is not None:
            raise fmt.BundleError(f"setup transcript {setup['transcript']}: {tr.malformed}")
        failed = f", failed: {', '.join(tr.failed()[:5])}" if not tr.ok else ""
        rep.add("setup: ceremony transcript re-checked against the circuit and the key", tr.ok,
                f"{len(tr.checks)} checks{failed}")  # fmt: skip
    audit_setup(rep, setup, b.path, lambda: SolvencyCircuit(b.shape).r1cs, vk, governance, dev_mode)


def _chain(rep: Report, b: fmt.EpochBundle, batches: list[fmt.BatchEntry], registry: SolvencyRegistryClient) -> None:
    from .chain import ChainRevert

    info = b.manifest.get("chain") or {}
    if info.get("registry"):
        rep.add("chain: registry address = manifest's", info["registry"].lower() == registry.address.lower())
    try:
        onchain = registry.attestation_of(b.epoch)
    except ChainRevert as e:
        rep.add("chain: epoch attested", False, e.reason)
        return
    t = b.manifest["totals"]
    att = EpochAttestation(
        b.epoch,
        b.params_commitment,
        b.prices,
        tuple((be.statement(), proof_from_json(b.json(be.proof))) for be in batches),
        market_commitment=b.market_commitment,
        declared_accounts=int(t["accounts_declared"]),
        unrepresented_accounts=int(t["accounts_unrepresented"]),
    )
    rep.add(
        "chain: attestation record = bundle (roots, params and market commitments, prices, totals, counts)",
        onchain.matches(att),
        f"covers {onchain.account_count} of {onchain.declared_accounts} declared accounts",
    )
    rep.add("chain: attestation not revoked by governance", not onchain.revoked)
    _snapshot_clock(rep, b, onchain.timestamp, registry.max_feed_age())
    check_registry_key(rep, registry, vk_from_json(b.json(fmt.VK)))
    gov = registry.params()
    if gov.commitment == b.params_commitment:
        rep.add(
            "chain: governed parameter document hash = sha256 of the bundle's governed document",
            gov.doc_hash.hex() == b.manifest["parameter_version"],
        )
    else:
        rep.warn("chain: governed parameters", "changed since this epoch (timelock); its record still binds them")
    events = sorted((e for e in registry.batch_events() if e.epoch == b.epoch), key=lambda e: e.index)
    same = len(events) == len(batches) and all(
        (e.batch_root, e.first_id_hash, e.last_id_hash, e.account_count, e.total_equity, e.total_mm,
         e.under_mm_count, e.total_shortfall, e.total_bad_debt)
        == (be.root, be.first_id_hash, be.last_id_hash, be.count, be.total_equity, be.total_mm,
            be.under_mm_count, be.total_shortfall, be.total_bad_debt)
        for e, be in zip(events, batches, strict=False)
    )  # fmt: skip
    rep.add("chain: BatchAttested events = manifest batches", same, f"{len(events)} events")
