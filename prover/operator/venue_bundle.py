"""Writing one venue epoch's proof bundle (the solvency bundle's layout, ``verifier/bundle.py``, plus what
``verifier/venue_format.py`` adds) and its private per-user inclusion files, one per account with **every** linked
part of it.

Public: ``manifest.json`` (``"circuit": "venue"``, the venue shape, ``layout.assets`` = the table's assets in id
order, per batch its statement and number of leaves), ``params.json`` (the venue governed document: risk parameters
and the whole instrument table), ``instrument_table.json``, ``market.json``, the key, proofs, public signals and
``excluded.json`` (counts per reason). Private: ``private/epoch-N/<id commitment>.json`` per proven account. Both
halves are complete before the epoch directory is renamed into place (a crash leaves neither or both).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_directory
from zkmargin.circuits.rules.circuit_inputs import document_hash
from zkmargin.circuits.rules.instrument_table import InstrumentTable, venue_governed_document
from zkmargin.circuits.rules.price_box_document import GovernedBox
from zkmargin.circuits.solvency.shape import PUB_MARKET_COMMITMENT, PUB_PARAMS_COMMITMENT, pub_price
from zkmargin.circuits.solvency.venue_params import VenueParams
from zkmargin.circuits.solvency.venue_shape import VenueShape
from zkmargin.circuits.solvency.venue_tree import VenueTree
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.bundle_proofs import AnyProof, proof_to_bundle_json, vk_to_bundle_json
from zkmargin.verifier.snarkjs_json import public_to_json
from zkmargin.verifier.venue_format import INCLUSION_FORMAT, TABLE_FILE, VENUE, venue_shape_id, venue_shape_to_json

from ..engine.margin import AccountResult, MarginEngine
from ..venue_witness import VenueBatch
from .bundle_writer import _batch_entry, _setup_json
from .classify import Exclusion, exclusions_to_json
from .deliveries import statement_of
from .setups import Setup


@dataclass
class CarriedSlot:
    """A slot an update epoch carries (issue 16): its batch is not rebuilt. The bundle copies the previous epoch's
    proof and public-signal files of the slot byte for byte, and each member's inclusion file is the previous
    epoch's with only the epoch and manifest hash it names changed (the leaves, paths, proof epoch and engine figures
    are those of the epoch that proved the slot, as before). So the operator's work for a carried slot is file copies,
    no engine evaluation and no witness."""

    public: list[int]  # the slot's public signals (from the previous bundle)
    proof_file: Path  # the previous bundle's proof file of the slot
    public_file: Path
    leaves: int
    count: int
    inclusion_files: list[Path]  # the previous epoch's inclusion file of every member

    @property
    def accounts(self) -> range:
        return range(self.count)


@dataclass
class VenueEpochContent:
    """Everything a venue epoch publishes."""

    epoch: int
    engine: MarginEngine
    table: InstrumentTable
    shape: VenueShape
    params: VenueParams
    setup: Setup
    batches: Sequence[VenueBatch | CarriedSlot]
    proofs: Sequence[AnyProof | None]  # None for a carried slot (its proof file is copied)
    excluded: list[Exclusion]
    results: dict[str, AccountResult]
    chain: dict[str, Any] | None
    declared: int
    secrets: dict[str, int]
    tree: dict[str, Any] | None = None  # the manifest's "tree" (kind, base epoch, root, ops): venue_format
    slots: list[tuple[int, int, int]] | None = None  # per batch (= slot): lo, hi, proof epoch (a tree epoch)


def _leaves(b: VenueBatch | CarriedSlot) -> int:
    return b.leaves if isinstance(b, CarriedSlot) else len(b.leaves)


def _totals(c: VenueEpochContent, entries: list[dict[str, Any]], carried: Counter[str]) -> dict[str, Any]:
    """``carried``: the engine status of every member of a carried slot (from its inclusion file), so the counts
    cover the whole book as when every account was evaluated again."""
    counts = Counter(r.status for r in c.results.values()) + carried

    def total(key: str) -> str:
        return str(sum(int(e[key]) for e in entries))

    return {
        "accounts_covered": sum(len(b.accounts) for b in c.batches),
        "accounts_excluded": len(c.excluded),
        "accounts_declared": c.declared,
        "accounts_unrepresented": len(c.excluded),
        "leaves": sum(_leaves(b) for b in c.batches),
        "under_mm_count": sum(int(e["under_mm_count"]) for e in entries),
        "total_shortfall": total("total_shortfall"),
        "total_bad_debt": total("total_bad_debt"),
        "accounts_evaluated": len(c.results) + carried.total() + sum(e.kind == "invalid" for e in c.excluded),
        "margin_call": counts.get("margin_call", 0),
        "liquidation": counts.get("liquidation", 0),
        "total_equity": total("total_equity"),
        "total_mm": total("total_mm"),
    }


def write_venue_bundle(root: Path, c: VenueEpochContent) -> tuple[Path, Path]:
    """Write ``<root>/epoch-N/`` and the private deliveries atomically; returns (epoch dir, deliveries dir)."""
    final = root / fmt.epoch_dirname(c.epoch)
    sh = c.shape
    governed = venue_governed_document(c.engine.params, c.table, GovernedBox(c.params.box_ppm, c.params.boxed_assets))
    shape_json = venue_shape_to_json(sh)
    layout_json = {"assets": list(c.table.assets), "instruments": []}  # instruments: by id in the table
    first = c.batches[0].public
    with atomic_directory(final) as stage:
        (stage / fmt.PARAMS).write_bytes(
            fmt.dumps({"governed_document": governed, "shape": shape_json, "layout": layout_json})
        )
        (stage / TABLE_FILE).write_bytes(fmt.dumps(c.table.model_dump(mode="json")))
        (stage / fmt.MARKET).write_bytes(fmt.dumps(c.engine.snapshot.model_dump(mode="json")))
        (stage / fmt.VK).write_bytes(fmt.dumps(vk_to_bundle_json(c.setup.vk)))
        entries = []
        for i, (b, proof) in enumerate(zip(c.batches, c.proofs, strict=True)):
            pf, pb = fmt.batch_files(i)
            (stage / pf).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(b, CarriedSlot):
                shutil.copyfile(b.proof_file, stage / pf)
                shutil.copyfile(b.public_file, stage / pb)
            else:
                assert proof is not None, f"batch {i}: a new batch without its proof"
                (stage / pf).write_bytes(fmt.dumps(proof_to_bundle_json(proof)))
                (stage / pb).write_bytes(fmt.dumps(public_to_json(b.public)))
            entry = {**_batch_entry(i, b, sh.assets), "leaves": _leaves(b)}  # type: ignore[arg-type]
            if c.slots is not None:  # the slot's leaf preimage: range, proof epoch, and the statement above
                lo, hi, pe = c.slots[i]
                entry |= {"lo": str(lo), "hi": str(hi), "proof_epoch": pe}
            entries.append(entry)
        (stage / fmt.EXCLUDED).write_bytes(fmt.dumps(exclusions_to_json(c.excluded)))
        carried = carried_statuses(c.batches)
        manifest = {
            "format": fmt.FORMAT,
            "version": fmt.VERSION,
            "circuit": VENUE,
            "epoch": c.epoch,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "parameter_version": document_hash(governed),
            "params_commitment": str(first[PUB_PARAMS_COMMITMENT]),
            "market_commitment": str(first[PUB_MARKET_COMMITMENT]),
            "prices": {a: first[pub_price(k)] for k, a in enumerate(c.table.assets)},
            "shape": shape_json,
            "layout": layout_json,
            "instrument_table": {
                "file": TABLE_FILE,
                "version": c.table.version,
                "instruments": len(c.table.instruments),
            },
            "proof_system": c.setup.proof_system,
            "setup": _setup_json(c.setup, final, venue_shape_id(sh)),
            "batches": entries,
            "totals": _totals(c, entries, carried),
            "chain": c.chain,
            **({"tree": c.tree} if c.tree is not None else {}),
            "files": {rel: fmt.sha256_file(stage / rel) for rel in fmt.iter_files(stage)},
        }
        (stage / fmt.MANIFEST).write_bytes(fmt.dumps(manifest))
        deliveries = write_venue_deliveries(
            root,
            c.epoch,
            sh,
            c.table,
            c.batches,
            c.secrets,
            fmt.sha256_file(stage / fmt.MANIFEST),
            None if c.slots is None else [pe for _, _, pe in c.slots],
        )
    return final, deliveries


_EPOCH = re.compile(rb'\n "epoch": [0-9]+,\n')
_MANIFEST = re.compile(rb'\n "manifest_sha256": "[0-9a-f]{64}",\n')
_BATCH = re.compile(rb'\n "batch": ([0-9]+),\n')
_STATUS = re.compile(rb'\n "engine": \{\n(?:  "[a-z]+": -?[0-9]+,\n)*  "status": "([a-z_]+)"\n \},\n')


def retarget_inclusion(raw: bytes, batch: int, epoch: int, manifest_sha256: str, src: Path) -> bytes:
    """A carried member's inclusion file for epoch ``epoch``: the previous one with only its top-level ``epoch`` and
    ``manifest_sha256`` replaced. The files are ``fmt.dumps`` output (indent 1, sorted keys), so a top-level key is
    the one line starting with exactly one space: a byte substitution gives what parsing and dumping again would,
    at a tenth of the cost (a million carried files per update). Anything else is parsed, checked and dumped."""
    m = _BATCH.search(raw)
    if m is not None and int(m.group(1)) == batch:
        out, n1 = _EPOCH.subn(f'\n "epoch": {epoch},\n'.encode(), raw, count=1)
        out, n2 = _MANIFEST.subn(f'\n "manifest_sha256": "{manifest_sha256}",\n'.encode(), out, count=1)
        if n1 == n2 == 1:
            return out
    doc = json.loads(raw)
    if doc.get("batch") != batch:
        raise ValueError(f"{src}: the carried inclusion file is for batch {doc.get('batch')}, not {batch}")
    return fmt.dumps(doc | {"epoch": epoch, "manifest_sha256": manifest_sha256})


def carried_statuses(batches: Sequence[VenueBatch | CarriedSlot]) -> Counter[str]:
    """The engine status of every member of the carried slots, as their inclusion files record it."""
    out: Counter[str] = Counter()
    for b in batches:
        if isinstance(b, CarriedSlot):
            for f in b.inclusion_files:
                raw = f.read_bytes()
                m = _STATUS.search(raw)
                out[m.group(1).decode() if m else str(json.loads(raw)["engine"]["status"])] += 1
    return out


def inclusion_doc(
    epoch: int,
    manifest_sha256: str,
    batch_index: int,
    b: VenueBatch,
    k: int,
    tree: VenueTree,
    secret: int,
    table: InstrumentTable,
    proof_epoch: int | None = None,
) -> dict[str, Any]:
    """The inclusion file of the k-th account of batch ``b``: every one of its linked leaves (parts). In a tree
    epoch (issue 16) ``batch_index`` is the slot and ``proof_epoch`` the epoch the slot's batch was proven at (its
    leaves' salts are that epoch's), which the user sees: a carried slot is data as of that epoch."""
    acct = b.accounts[k]
    starts = [i for i, lf in enumerate(b.leaves) if lf.part == 0]
    first = starts[k]
    end = starts[k + 1] if k + 1 < len(starts) else len(b.leaves)
    parts = []
    for slot in range(first, end):
        lf = b.leaves[slot]
        siblings = tree.path(slot)
        parts.append(
            {
                "part": lf.part,
                "slot": slot,
                "portfolio": lf.portfolio,
                "cash": lf.cash,
                "positions": [list(x) for x in lf.positions],
                "balances": [list(x) for x in lf.balances],
                "merkle_siblings": [str(s) for s in siblings],
            }
        )
    res = b.results[k]
    statement = statement_of(acct)
    statement["balances"] = {a: v for a, v in acct.balances.items() if v}
    return {
        "format": INCLUSION_FORMAT,
        "epoch": epoch,
        "manifest_sha256": manifest_sha256,
        "account_id": acct.account_id,
        "user_secret": format(secret, "064x"),
        "id_hash": str(b.leaves[first].id_hash),
        "batch": batch_index,
        **({"proof_epoch": proof_epoch} if proof_epoch is not None else {}),
        "instrument_table_version": table.version,
        "parts": parts,
        "statement": statement,
        "engine": {"equity": res.equity, "im": res.im, "mm": res.mm, "status": res.status},
    }


def write_venue_deliveries(
    root: Path,
    epoch: int,
    shape: VenueShape,
    table: InstrumentTable,
    batches: Sequence[VenueBatch | CarriedSlot],
    secrets: dict[str, int],
    manifest_sha256: str,
    proof_epochs: Sequence[int] | None = None,
) -> Path:
    """Every proven account's inclusion file (all its parts), atomically; returns the directory. ``proof_epochs``
    (a tree epoch): per batch, the epoch it was proven at (a carried slot's files are rebuilt identical but for the
    epoch, the manifest hash and the proof epoch they name)."""
    out = root / inclusion.PRIVATE_DIR / fmt.epoch_dirname(epoch)
    with atomic_directory(out, mode=0o700) as stage:
        for i, b in enumerate(batches):
            if isinstance(b, CarriedSlot):
                for src in b.inclusion_files:
                    path = stage / src.name
                    path.write_bytes(retarget_inclusion(src.read_bytes(), i, epoch, manifest_sha256, src))
                    path.chmod(0o600)
                continue
            tree = VenueTree([lf.leaf() for lf in b.leaves], shape.depth)
            for k, acct in enumerate(b.accounts):
                pe = proof_epochs[i] if proof_epochs is not None else None
                doc = inclusion_doc(epoch, manifest_sha256, i, b, k, tree, secrets[acct.account_id], table, pe)
                path = stage / inclusion.filename(int(doc["id_hash"]))
                path.write_bytes(fmt.dumps(doc))
                path.chmod(0o600)
    return out
