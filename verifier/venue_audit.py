"""``zkmargin audit`` of a venue bundle (``"circuit": "venue"``, issue 15): the solvency audit's checks, with the
venue circuit's parameters rebuilt from public data and its linked leaves in the deliveries self-check.

What the venue audit binds, by named check:

* **the instrument table**: ``instrument_table.json`` is the table of the governed document in ``params.json``
  (whose sha256 is the manifest's parameter version and, on-chain, the registry's ``paramsDocHash``); the table's
  assets are the manifest's assets (one attested price each, in id order);
* **params_commitment** rebuilt by the public rules (``rebuild_venue_params``: the table's packed static columns,
  ladders, haircut tiers, mm ratio, short-option minimum, the document's version, the shape) equals the proven one,
  so a row changed anywhere (ladder, risk row, basis cap, underlying, a listing added) fails it;
* **market_commitment** rebuilt from ``market.json`` (marks, option marks recomputed by Black-76 at the attested
  index, risk arrays) equals the proven one; every asset's index = spot = attested price;
* the verifying key's layout is the venue shape's (one price and one liability per asset id);
* batches, totals, exclusions, setup and chain: as for the solvency bundle (``audit_batches``,
  ``audit_setup_chain``);
* with the operator's deliveries: every proven account has one inclusion file listing all its parts, every part
  on its batch root, parts numbered 0..n-1 at consecutive slots, no slot claimed twice, and the parts of each batch
  make up the batch's leaves.

Never imports ``zkmargin.prover`` (an auditor needs ``circuits/`` and ``verifier/`` only).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from zkmargin.circuits.r1cs import R1CS
from zkmargin.circuits.rules.instrument_table import BOX_GRID_CHECK, InstrumentTable, rebuild_venue_params
from zkmargin.circuits.rules.models import MarketSnapshot
from zkmargin.circuits.solvency.leaf import account_id_commitment, epoch_salt
from zkmargin.circuits.solvency.params import ParamsError
from zkmargin.circuits.solvency.venue_leaf import VenueLeaf
from zkmargin.circuits.solvency.venue_shape import VenueShape
from zkmargin.circuits.solvency.venue_tree import verify_venue_path

from . import bundle as fmt
from .attestation import n_public
from .audit_batches import check_batch_order, check_batch_proofs, check_excluded, check_totals
from .audit_files_params import check_files
from .audit_setup_chain import check_chain
from .bundle_proofs import COMMITTED, AnyKey, key_proof_system, vk_from_bundle_json
from .inclusion import InclusionError
from .report import Report
from .setup_audit import audit_setup
from .venue_format import TABLE_FILE, VenueInclusion, load_venue_inclusion, venue_shape_from_json
from .venue_tree import check_tree, check_update_chain, has_tree, slot_leaves, tree_meta

if TYPE_CHECKING:
    from .chain import SolvencyRegistryClient

TABLE_CHECK = "params: instrument_table.json = the governed document's instrument table"
PARAMS_CHECK = "params: params_commitment rebuilt from the governed document (instrument table, ladders, haircuts) = the proven one"  # noqa: E501
MARKET_CHECK = "market: market_commitment rebuilt from the snapshot (marks, risk arrays) = the proven one"
DELIVERIES_CHECK = "deliveries: one inclusion file per proven account, listing every part, each on its batch root"


def venue_shape(b: fmt.EpochBundle) -> VenueShape:
    return venue_shape_from_json(b.manifest["shape"])


def audit_venue(
    rep: Report,
    b: fmt.EpochBundle,
    registry: SolvencyRegistryClient | None,
    deliveries: Path | None,
) -> None:
    """Every check of one venue epoch (module docstring), in order."""
    check_files(rep, b)
    sh = venue_shape(b)
    pub = b.json(fmt.PARAMS, "params.json")
    rep.add(
        "params: shape and layout equal the manifest's",
        pub["shape"] == b.manifest["shape"] and pub["layout"] == b.manifest["layout"],
    )
    governed = pub["governed_document"]
    check_venue_parameters(rep, b, governed, sh)
    vk = vk_from_bundle_json(b.json(fmt.VK))
    system = key_proof_system(vk)
    rep.add(
        "verifying key: committed Groth16 (the venue circuit exists in lookup mode only)",
        system == COMMITTED and b.manifest.get("proof_system") == COMMITTED,
        system,
    )
    want = n_public(sh.assets)
    rep.add(
        "verifying key: layout of the venue shape (a price and a liability per asset id)",
        vk.n_public == want,
        f"{vk.n_public} public signals" + ("" if vk.n_public == want else f", the shape needs {want}"),
    )
    batches = b.batches()
    rep.add("batches: at least one", bool(batches), f"{len(batches)} batches")
    update = has_tree(b) and tree_meta(b)["kind"] == "update"
    if update:  # slots proven at several epochs, ranges by slot (not id) order: the tree checks below cover both
        bad = [f"slot {be.index}: {be.count}" for be in batches if not 0 <= be.count <= sh.accounts]
        rep.add("batches: counts within the batch size (an empty slot counts 0)", not bad, ", ".join(bad[:5]))
    else:
        check_batch_proofs(rep, b, vk, batches)
        check_batch_order(rep, batches, sh.accounts)
    if has_tree(b):
        check_tree(rep, b, vk, batches, registry)
    check_totals(rep, b.manifest["totals"], batches)
    if deliveries is not None:
        check_venue_deliveries(rep, b, sh, batches, deliveries)
    check_excluded(rep, b.json(fmt.EXCLUDED), int(b.manifest["totals"]["accounts_unrepresented"]))
    check_venue_setup(rep, b, sh, vk, registry)
    if registry is not None and not update:
        check_chain(rep, b, batches, registry)
    elif registry is not None:
        check_update_chain(rep, b, registry)
    elif b.manifest.get("chain"):
        rep.warn("chain", f"not checked (give --rpc and --registry {b.manifest['chain'].get('registry')})")


def check_venue_parameters(rep: Report, b: fmt.EpochBundle, governed: object, sh: VenueShape) -> InstrumentTable | None:
    """The table file, the parameter version, both commitments and the attested prices (module docstring)."""
    from zkmargin.circuits.rules.circuit_inputs import document_hash

    if not isinstance(governed, dict):
        rep.add("params: governed document and market snapshot well formed", False, "governed_document: not an object")
        return None
    try:
        snap = MarketSnapshot.model_validate(b.json(fmt.MARKET, "market.json"))
        shipped = InstrumentTable.model_validate(b.json(TABLE_FILE, TABLE_FILE))
    except (ValidationError, fmt.MissingFile) as e:
        rep.add("params: governed document and market snapshot well formed", False, str(e).splitlines()[0])
        return None
    doc_hash = document_hash(governed)
    same_version = doc_hash == b.manifest["parameter_version"]
    rep.add(
        "params: manifest's parameter version = sha256 of the governed document",
        same_version,
        doc_hash[:16]
        if same_version
        else f"document {doc_hash[:16]}, manifest {str(b.manifest['parameter_version'])[:16]}",
    )
    try:
        _, table, vp = rebuild_venue_params(governed, snap, sh)
    except (ParamsError, ValidationError, KeyError, ValueError) as e:
        msg = str(e).splitlines()[0]
        if msg.startswith(BOX_GRID_CHECK):  # the options' box nodes are missing from the governed grids
            rep.add(BOX_GRID_CHECK, False, msg[len(BOX_GRID_CHECK) + 2 :])
        rep.add("params: governed document and market snapshot well formed", False, msg)
        return None
    if vp.box_ppm:
        rep.add(BOX_GRID_CHECK, True, f"b = {vp.box_ppm} ppm, scenario nodes {vp.box_nodes[0]} and {vp.box_nodes[1]}")
    rep.add(
        "params: governed document and market snapshot well formed",
        True,
        f"instrument table v{table.version}: {len(table.instruments)} instruments, {len(table.assets)} assets, "
        f"{table.risk_rows} risk arrays",
    )
    diff = _table_diff(shipped, table)
    rep.add(TABLE_CHECK, not diff, diff)
    rep.add(
        "params: the table's assets = the manifest's assets (one attested price each, in id order)",
        list(table.assets) == b.assets,
    )
    prices = [snap.spot_prices.get(a) for a in table.assets]
    rep.add(
        "market: index = spot = attested oracle price for every asset of the table",
        list(b.prices) == prices,
        "" if list(b.prices) == prices else "the snapshot's spot prices differ",
    )
    rep.add(PARAMS_CHECK, vp.commitment(sh) == b.params_commitment)
    rep.add(MARKET_CHECK, vp.market_commitment(sh) == b.market_commitment)
    return table


def _table_diff(shipped: InstrumentTable, governed: InstrumentTable) -> str:
    """'' when equal, else what differs (version, assets, or the first rows that differ, by id and symbol)."""
    if shipped == governed:
        return ""
    if shipped.version != governed.version:
        return f"version {shipped.version} vs governed {governed.version}"
    if shipped.assets != governed.assets:
        return "assets differ"
    rows = [
        f"id {x.id} ({x.symbol})" for x, y in zip(shipped.instruments, governed.instruments, strict=False) if x != y
    ]
    if len(shipped.instruments) != len(governed.instruments):
        rows.append(f"{len(shipped.instruments)} rows vs governed {len(governed.instruments)}")
    return "differ: " + ", ".join(rows[:5]) if rows else "ladders differ"


def check_venue_setup(
    rep: Report, b: fmt.EpochBundle, sh: VenueShape, vk: AnyKey, registry: SolvencyRegistryClient | None
) -> None:
    """Who could forge under this key (``setup_audit.audit_setup``), with the venue circuit's constraint system for a
    full re-check of a ceremony."""
    setup = b.manifest.get("setup") or {}
    governance = registry.governance() if registry is not None else None
    dev_mode = registry.development_mode() if registry is not None else None

    def r1cs() -> R1CS:
        from zkmargin.circuits.solvency.venue_circuit import VenueCircuit

        return VenueCircuit(sh).r1cs

    audit_setup(rep, setup, b.path, r1cs, vk, governance, dev_mode)


def part_leaf(inc: VenueInclusion, k: int, epoch: int) -> int:
    """The leaf of part ``k`` rebuilt from the file's id and secret (never from the file's id hash). The file's last
    part is rebuilt with ``last = 1`` and every other with 0, so a part the operator appended after the user's last
    one (which the circuit would force to flip that flag) makes the user's last leaf miss the root."""
    p = inc.parts[k]
    return VenueLeaf(
        account_id_commitment(inc.account_id, inc.user_secret),
        epoch_salt(inc.user_secret, epoch),
        p.portfolio,
        p.cash,
        p.part,
        p.positions,
        p.balances,
        int(k == len(inc.parts) - 1),
    ).leaf()


def parts_problem(inc: VenueInclusion, sh: VenueShape) -> str:
    """'' when the parts are well formed: numbered 0..n-1 at consecutive slots, P and A slots each."""
    for k, p in enumerate(inc.parts):
        if p.part != k:
            return f"part {k} is numbered {p.part}"
        if k and p.slot != inc.parts[k - 1].slot + 1:
            return f"part {k} is at slot {p.slot}, not after part {k - 1} (slot {inc.parts[k - 1].slot})"
        if len(p.positions) != sh.positions or len(p.balances) != sh.balances:
            return (
                f"part {k}: {len(p.positions)} position and {len(p.balances)} balance slots, the shape has "
                f"{sh.positions} and {sh.balances}"
            )
    return ""


def check_venue_deliveries(
    rep: Report, b: fmt.EpochBundle, sh: VenueShape, batches: list[fmt.BatchEntry], deliveries: Path
) -> None:
    """The operator's self-check of the private half (module docstring)."""
    files = sorted(deliveries.glob("*.json")) if deliveries.is_dir() else []
    bad: list[str] = []
    seen: set[tuple[int, int]] = set()
    proof_epochs = [s.proof_epoch for s in slot_leaves(b)] if has_tree(b) else [b.epoch] * len(batches)
    leaves_per_batch = [0] * len(batches)
    accounts_per_batch = [0] * len(batches)
    for f in files:
        try:
            inc = load_venue_inclusion(f)
        except InclusionError as e:
            bad.append(f"{f.name} ({e})")
            continue
        why = parts_problem(inc, sh)
        if inc.epoch != b.epoch or not 0 <= inc.batch < len(batches):
            why = why or "another epoch or no such batch"
        elif inc.leaf_epoch != proof_epochs[inc.batch]:
            why = why or f"proof epoch {inc.leaf_epoch}, the slot's is {proof_epochs[inc.batch]}"
        else:
            for k, p in enumerate(inc.parts):
                if (inc.batch, p.slot) in seen:
                    why = why or f"slot {p.slot} claimed twice"
                seen.add((inc.batch, p.slot))
                leaf = part_leaf(inc, k, inc.leaf_epoch)
                if not verify_venue_path(leaf, list(p.siblings), p.slot, batches[inc.batch].root):
                    why = why or f"part {k} is not on the batch root"
            leaves_per_batch[inc.batch] += len(inc.parts)
            accounts_per_batch[inc.batch] += 1
        if why:
            bad.append(f"{f.name} ({why})")
    declared = [int(e.get("leaves", -1)) for e in b.manifest["batches"]]
    short = [
        f"batch {i}: {n} parts delivered, {declared[i]} leaves"
        for i, n in enumerate(leaves_per_batch)
        if n != declared[i]
    ]
    short += [
        f"batch {i}: {n} files for {be.count} accounts"
        for i, (n, be) in enumerate(zip(accounts_per_batch, batches, strict=True))
        if n != be.count
    ]
    covered = sum(be.count for be in batches)
    rep.add(
        DELIVERIES_CHECK,
        not bad and not short and len(files) == covered,
        f"{len(files)} files for {covered} accounts"
        + (f"; bad: {', '.join(bad[:3])}" if bad else "")
        + (f"; {', '.join(short[:3])}" if short else ""),
    )
