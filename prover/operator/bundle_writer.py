"""Writing one epoch's proof bundle (format: ``zkmargin.verifier.bundle``) and its index row.

The public epoch directory and the private per-user deliveries are written in staging directories; the deliveries
are complete before the epoch directory is renamed into place, so a crash leaves neither or both. Public signals are
read through the ``PUB_*`` layout of ``circuits/solvency/shape.py`` and ``split_public_signals``, never by position.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_directory
from zkmargin.circuits.rules.circuit_inputs import document_hash, governed_document
from zkmargin.circuits.rules.methodology import Methodology
from zkmargin.circuits.solvency.shape import PUB_MARKET_COMMITMENT, PUB_PARAMS_COMMITMENT, pub_price
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.attestation import split_public_signals
from zkmargin.verifier.bundle_proofs import AnyProof, proof_to_bundle_json, vk_to_bundle_json
from zkmargin.verifier.snarkjs_json import public_to_json

from ..engine.margin import AccountResult, MarginEngine
from ..solvency_witness import BatchLayout, SolvencyBatch, solvency_params
from .classify import Exclusion, exclusions_to_json
from .deliveries import write_deliveries
from .setups import Setup


@dataclass
class EpochContent:
    """Everything an epoch publishes, gathered by the pipeline's steps."""

    epoch: int
    engine: MarginEngine
    layout: BatchLayout
    setup: Setup
    batches: list[SolvencyBatch]
    proofs: list[AnyProof]
    excluded: list[Exclusion]
    results: dict[str, AccountResult]
    chain: dict[str, Any] | None
    declared: int
    methodology: Methodology | None
    secrets: dict[str, int]


def _batch_entry(i: int, batch: SolvencyBatch, assets: int) -> dict[str, Any]:
    st = split_public_signals(batch.public, assets)[1]
    pf, pb = fmt.batch_files(i)
    return {
        "index": i,
        "root": str(st.batch_root),
        "first_id_hash": str(st.first_id_hash),
        "last_id_hash": str(st.last_id_hash),
        "count": st.account_count,
        "total_equity": str(st.total_equity),
        "total_mm": str(st.total_mm),
        "under_mm_count": st.under_mm_count,
        "total_shortfall": str(st.total_shortfall),
        "total_bad_debt": str(st.total_bad_debt),
        "liabilities": [str(x) for x in st.liabilities],
        "proof": pf,
        "public": pb,
    }


def _setup_json(setup: Setup, final: Path, shape_id: str) -> dict[str, Any]:
    def rel(name: str) -> str | None:
        return os.path.relpath(setup.path / name, final) if (setup.path / name).exists() else None

    return {
        "kind": setup.kind,
        "proof_system": setup.proof_system,
        "shape_id": shape_id,
        "label": setup.label(),
        "transcript": rel("transcript"),
        # the ceremony key (snarkjs contribution records) and, for a public phase 1, its .ptau
        "zkey": os.path.relpath(setup.zkey, final),
        # a public phase 1, or a committed local ceremony's own (which the audit fails unless in development mode)
        "ptau": rel("phase1.ptau") or (rel(setup.local_ptau.name) if setup.local_ptau is not None else None),
        # committed keys: the commitment key (the audit re-checks it against the ceremony's transcript)
        **({"commitment_key": rel("commitment_key.json")} if setup.proof_system == "committed" else {}),
    }


def _totals(c: EpochContent, entries: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(r.status for r in c.results.values())

    def total(key: str) -> str:
        return str(sum(int(e[key]) for e in entries))

    return {
        "accounts_covered": sum(len(b.accounts) for b in c.batches),
        "accounts_excluded": len(c.excluded),
        "accounts_declared": c.declared,
        "accounts_unrepresented": len(c.excluded),
        "under_mm_count": sum(int(e["under_mm_count"]) for e in entries),
        "total_shortfall": total("total_shortfall"),
        "total_bad_debt": total("total_bad_debt"),
        "accounts_evaluated": len(c.results) + sum(e.kind == "invalid" for e in c.excluded),
        "margin_call": counts.get("margin_call", 0),
        "liquidation": counts.get("liquidation", 0),
        "total_equity": total("total_equity"),
        "total_mm": total("total_mm"),
    }


def write_bundle(root: Path, c: EpochContent) -> tuple[Path, Path]:
    """Write ``<root>/epoch-N/`` and the private deliveries atomically; returns (epoch dir, deliveries dir)."""
    final = root / fmt.epoch_dirname(c.epoch)
    sh = c.layout.shape
    recipe = None if c.methodology is None else c.methodology.recipe_hash()
    governed = governed_document(c.engine.params, c.engine.instruments, c.layout, recipe)
    layout_json = {"instruments": list(c.layout.instruments), "assets": list(c.layout.assets)}
    first = c.batches[0].public
    with atomic_directory(final) as stage:
        params = {
            "governed_document": governed,
            "solvency_params": fmt.solvency_params_to_json(solvency_params(c.engine, c.layout)),
            "shape": fmt.shape_to_json(sh),
            "layout": layout_json,
        }
        (stage / fmt.PARAMS).write_bytes(fmt.dumps(params))
        (stage / fmt.MARKET).write_bytes(fmt.dumps(c.engine.snapshot.model_dump(mode="json")))
        if c.methodology is not None:  # dynamic parameters: the audit re-derives them from this
            (stage / fmt.METHODOLOGY).write_bytes(fmt.dumps(json.loads(c.methodology.canonical_json())))
        (stage / fmt.VK).write_bytes(fmt.dumps(vk_to_bundle_json(c.setup.vk)))
        entries = []
        for i, (b, proof) in enumerate(zip(c.batches, c.proofs, strict=True)):
            pf, pb = fmt.batch_files(i)
            (stage / pf).parent.mkdir(parents=True, exist_ok=True)
            (stage / pf).write_bytes(fmt.dumps(proof_to_bundle_json(proof)))
            (stage / pb).write_bytes(fmt.dumps(public_to_json(b.public)))
            entries.append(_batch_entry(i, b, sh.assets))
        (stage / fmt.EXCLUDED).write_bytes(fmt.dumps(exclusions_to_json(c.excluded)))
        manifest = {
            "format": fmt.FORMAT,
            "version": fmt.VERSION,
            "epoch": c.epoch,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "parameter_version": document_hash(governed),
            "params_commitment": str(first[PUB_PARAMS_COMMITMENT]),
            "market_commitment": str(first[PUB_MARKET_COMMITMENT]),
            "prices": {a: first[pub_price(k)] for k, a in enumerate(c.layout.assets)},
            "shape": fmt.shape_to_json(sh),
            "layout": layout_json,
            "proof_system": c.setup.proof_system,
            "setup": _setup_json(c.setup, final, fmt.shape_id(sh)),
            "batches": entries,
            "totals": _totals(c, entries),
            "chain": c.chain,
            "files": {rel: fmt.sha256_file(stage / rel) for rel in fmt.iter_files(stage)},
        }
        (stage / fmt.MANIFEST).write_bytes(fmt.dumps(manifest))
        # private half, complete before the public epoch directory appears (a crash leaves neither or both)
        deliveries = write_deliveries(
            root, c.epoch, c.layout, c.batches, c.secrets, fmt.sha256_file(stage / fmt.MANIFEST)
        )
    return final, deliveries


def index_row(epoch: int, final: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The SQLite index row of a published epoch directory."""
    chain = manifest.get("chain") or {}
    return {
        "epoch": epoch,
        "dir": final.name,
        "created": manifest["created"],
        "parameter_version": manifest["parameter_version"],
        "params_commitment": manifest["params_commitment"],
        "accounts_covered": manifest["totals"]["accounts_covered"],
        "accounts_excluded": manifest["totals"]["accounts_excluded"],
        "batches": len(manifest["batches"]),
        "manifest_sha256": fmt.sha256_file(final / fmt.MANIFEST),
        "registry": chain.get("registry"),
        "tx_hash": chain.get("tx_hash"),
    }


def published_exclusions(final: Path) -> list[Exclusion]:
    """The exclusions of a published epoch as far as it tells (counts only: the ids stay with the operator)."""
    return [
        Exclusion("(not published)", e["kind"], e["reason"])
        for e in json.loads((final / fmt.EXCLUDED).read_text())
        for _ in range(int(e["count"]))
    ]


def batch_statements(batches: Sequence[SolvencyBatch], assets: int) -> list[Any]:
    """Each batch's statement (root, ids, totals) from its public signals, in batch order."""
    return [split_public_signals(b.public, assets)[1] for b in batches]
