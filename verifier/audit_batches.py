"""Audit checks of an epoch's batches: every proof against the manifest's statement (and public.json against
it), id ranges ascending and disjoint, totals the sums of the batches, the exclusion counts, and the operator's
inclusion-file self-check.

Split from ``audit.py`` (which runs every check in order) so that each area of the audit reads on its own; the
file and methodology checks are in ``audit_files_params.py``, the setup and chain checks in
``audit_setup_chain.py``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from zkmargin.circuits.merkle import verify_path
from zkmargin.circuits.solvency.leaf import LeafData, account_id_commitment, epoch_salt

from . import bundle as fmt
from .attestation import signal_names
from .bundle_proofs import COMMITTED, AnyKey, AnyProof, check_any_key, key_proof_system, proof_from_bundle_json
from .bundle_proofs import verify_any as verify
from .groth16 import MalformedInput
from .inclusion import InclusionError, load_inclusion
from .report import Report
from .snarkjs_json import public_from_json

# One name for both proof systems (the "verifying key: the manifest's proof system" check says which one ran); the
# detail of a committed bundle says the challenge was derived from each proof's commitment.
PROOFS_CHECK = "batches: every Groth16 proof verifies"


def check_batch_proofs(rep: Report, b: fmt.EpochBundle, vk: AnyKey, batches: list[fmt.BatchEntry]) -> None:
    """Each batch's proof is verified against the statement the *manifest* makes (the proof decides what is true),
    and its public.json is compared with that statement. When they differ, the proof says which file holds the
    edit: a proof that verifies the public.json signals but not the manifest's convicts the manifest entry, one that
    verifies the manifest's convicts public.json, so an innocent file is never the one named."""
    check_any_key(vk)  # once, up front: a batch that fails early must not skip the key's validation
    names = signal_names(len(b.assets))  # one price per asset: the solvency shape's slots or the venue's ids
    bad_public: list[str] = []
    bad_proofs: list[str] = []
    for i, be in enumerate(batches):
        signals = be.statement().public_signals(
            b.epoch, b.params_commitment, b.prices, market_commitment=b.market_commitment
        )
        if be.index != i:
            bad_public.append(f"manifest batches[{i}] has index {be.index}")
        proof: AnyProof | None
        try:
            proof = proof_from_bundle_json(b.json(be.proof), vk)
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
    committed = key_proof_system(vk) == COMMITTED
    rep.add(
        PROOFS_CHECK,
        not bad_proofs,
        "; ".join(bad_proofs[:5]) + (f" (and {len(bad_proofs) - 5} more)" if len(bad_proofs) > 5 else "")
        if bad_proofs
        else f"{len(batches)} proofs verify the manifest's statements"
        + (" (committed: challenge derived from each D, proof of knowledge folded in)" if committed else ""),
    )


def check_batch_order(rep: Report, batches: list[fmt.BatchEntry], size: int) -> None:
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


def check_totals(rep: Report, t: Any, batches: list[fmt.BatchEntry]) -> None:
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


def check_excluded(rep: Report, excluded: Any, unrepresented: int) -> None:
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


def check_deliveries(rep: Report, b: fmt.EpochBundle, batches: list[fmt.BatchEntry], deliveries: Path | None) -> None:
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
