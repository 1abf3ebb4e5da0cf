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
from .attestation import EpochAttestation, n_public
from .dynamic_params import check_dynamic_params, method_history
from .groth16 import MalformedInput, verify
from .inclusion import InclusionError, load_inclusion
from .params_audit import audit_parameters
from .registry_key import check_registry_key
from .report import Report
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
) -> Report:
    """Every check of one epoch; ``deliveries`` (the operator's private inclusion files) adds their self-check."""
    rep = Report("audit")
    try:
        b = fmt.open_epoch(bundle_path, epoch)
        rep.title = f"audit of epoch {b.epoch} ({b.path})"
        _audit(rep, b, registry, check_transcript, None if deliveries is None else Path(deliveries))
    except (fmt.BundleError, MalformedInput, KeyError, TypeError, ValueError) as e:
        rep.malformed = f"{type(e).__name__}: {e}"
    return rep


def _files(rep: Report, b: fmt.EpochBundle) -> None:
    listed: dict[str, str] = b.manifest["files"]
    present = set(fmt.iter_files(b.path))
    # inclusion files may have been delivered and stripped from a published copy: absent ones are not an error
    missing = [rel for rel in listed if rel not in present]
    bad = [rel for rel, h in listed.items() if rel in present and fmt.sha256_file(b.path / rel) != h] + missing
    extra = sorted(present - set(listed))
    rep.add(
        "files: sha256 of every file matches the manifest",
        not bad,
        f"{len(listed)} files"
        if not bad
        else f"mismatch or missing: {', '.join(sorted(bad)[:5])}"
        + (f" (missing: {', '.join(missing[:5])})" if missing else ""),
    )
    rep.add("files: no file outside the manifest", not extra, ", ".join(extra[:5]))


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
    rep.add(
        "params: manifest's parameter version = sha256 of the governed document",
        rebuilt.document_sha256 == b.manifest["parameter_version"],
        rebuilt.document_sha256[:16],
    )
    _dynamic(rep, b, governed, rebuilt.risk_parameters)
    vk = vk_from_json(b.json(fmt.VK))
    rep.add("verifying key: layout of the shape", vk.n_public == n_public(sh.assets), f"{vk.n_public} public signals")

    batches = b.batches()
    rep.add("batches: at least one", bool(batches), f"{len(batches)} batches")
    bad_proofs, bad_public = [], []
    for i, be in enumerate(batches):
        signals = be.statement().public_signals(
            b.epoch, b.params_commitment, b.prices, market_commitment=b.market_commitment
        )
        try:
            if be.index != i or public_from_json(b.json(be.public)) != signals:
                bad_public.append(i)
                continue
            if not verify(vk, proof_from_json(b.json(be.proof)), signals, validate_key=i == 0):
                bad_proofs.append(i)
        except (fmt.BundleError, MalformedInput):  # missing or malformed proof/public file: this batch fails
            bad_proofs.append(i)
    rep.add(
        "batches: public signals = manifest (epoch, root, params, market, ids, count, totals, prices, liabilities)",
        not bad_public,
        f"differs in batches {bad_public[:10]}" if bad_public else "",
    )
    rep.add("batches: every Groth16 proof verifies", not bad_proofs and not bad_public,
            f"invalid: {bad_proofs[:10]}" if bad_proofs else f"{len(batches)} proofs")  # fmt: skip
    order_ok = all(be.first_id_hash <= be.last_id_hash for be in batches) and all(
        x.last_id_hash < y.first_id_hash for x, y in itertools.pairwise(batches)
    )
    rep.add("batches: id ranges ascending and disjoint (no account counted twice)", order_ok)
    rep.add("batches: counts within the batch size", all(1 <= be.count <= sh.accounts for be in batches))
    t = b.manifest["totals"]
    rep.add(
        "totals: manifest totals = sum over batches",
        int(t["accounts_covered"]) == sum(be.count for be in batches)
        and int(t["total_equity"]) == sum(be.total_equity for be in batches)
        and int(t["total_mm"]) == sum(be.total_mm for be in batches)
        and int(t["under_mm_count"]) == sum(be.under_mm_count for be in batches)
        and int(t["total_shortfall"]) == sum(be.total_shortfall for be in batches)
        and int(t["total_bad_debt"]) == sum(be.total_bad_debt for be in batches),
        f"{t['accounts_covered']} accounts covered, {t['under_mm_count']} under MM",
    )
    rep.add(
        "totals: covered + unrepresented = declared accounts",
        int(t["accounts_covered"]) + int(t["accounts_unrepresented"]) == int(t["accounts_declared"]),
        f"{t['accounts_declared']} declared, {t['accounts_unrepresented']} not representable",
    )
    _deliveries(rep, b, batches, deliveries)
    excluded = b.json(fmt.EXCLUDED)
    rep.add(
        "excluded: counts per reason only (no id, no id hash, no numbers), summing to the unrepresented count",
        isinstance(excluded, list)
        and all(set(e) == {"kind", "reason", "count"} for e in excluded)
        and sum(int(e["count"]) for e in excluded) == int(t["accounts_unrepresented"]),
        f"{sum(int(e.get('count', 0)) for e in excluded) if isinstance(excluded, list) else '?'} not representable",
    )
    _setup(rep, b, vk, registry, check_transcript)
    if registry is not None:
        _chain(rep, b, batches, registry)
    elif b.manifest.get("chain"):
        rep.warn("chain", f"not checked (give --rpc and --registry {b.manifest['chain'].get('registry')})")


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
    shipped = (b.path / fmt.METHODOLOGY).exists()
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
        path = (b.path / setup["transcript"]).resolve()
        from .setup_transcript import verify_transcript

        tr = verify_transcript(path, SolvencyCircuit(b.shape).r1cs, vk)
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
