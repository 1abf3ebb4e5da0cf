"""``zkmargin user verify`` for a venue bundle (issue 15): the account holder checks **every part** of their account
(an account needing more slots than a leaf holds spans linked leaves) and sees their instruments by name.

From the user's id and secret the check recomputes the id commitment and the epoch's salt, rebuilds each part's leaf
(part number, slots, cash) and checks its Merkle path to the batch root; the parts must be numbered 0..n-1 at
consecutive slots. The slots' ids are resolved to symbols and asset names in the instrument table the proven
``params_commitment`` binds (rebuilt here from the bundle's governed document and snapshot), and the union of the
parts must be exactly the user's own statement (positions, balances, cash = realised PnL + isolated margins - entry
values). So a part left out of the file (or of the proof) is a missing position, and a file pointing at another
account's leaves fails the path (the leaf is rebuilt from *this* user's id and secret).

A part the operator appended after the user's last one (a position in an instrument the user does not hold, with a
higher id) cannot hide either: the circuit marks an account's final leaf (``last`` in the leaf head, forced to 1 - the
next leaf's continuation flag), and this check rebuilds the user's last part with ``last = 1``, so an appended part
makes that leaf miss the root (``tests/product/test_venue_pipeline.py::test_part_appended_after_the_users_last``).

Needs only ``zkmargin.circuits`` and ``zkmargin.verifier``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from zkmargin.circuits.rules.instrument_table import InstrumentTable, leaf_view, rebuild_venue_params
from zkmargin.circuits.rules.models import MarketSnapshot
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.circuits.solvency.params import ParamsError
from zkmargin.circuits.solvency.shape import USD_UNITS_PER_MICRO
from zkmargin.circuits.solvency.venue_tree import verify_venue_path

from . import bundle as fmt
from .bundle_proofs import AnyKey, key_proof_system, proof_from_bundle_json, verify_any, vk_from_bundle_json
from .inclusion import InclusionError
from .report import Report
from .snarkjs_json import public_from_json
from .venue_audit import part_leaf, parts_problem, venue_shape
from .venue_format import VenueInclusion, is_venue_manifest
from .venue_tree import check_user_slot, has_tree, tree_meta

if TYPE_CHECKING:
    from .chain import SolvencyRegistryClient

PATHS_CHECK = "Merkle paths: every part of your account is in the batch root"
STATEMENT_CHECK = "committed positions and balances (all parts, by name) = your statement"


def _units(x: int, scale: int = 10**8) -> str:
    return f"{x / scale:,.8f}".rstrip("0").rstrip(".")


def check_venue_account(
    rep: Report,
    b: fmt.EpochBundle,
    inc: VenueInclusion,
    account_id: str | None,
    user_secret: int | None,
    registry: SolvencyRegistryClient | None,
) -> None:
    if not is_venue_manifest(b.manifest):
        raise InclusionError("a venue inclusion file for a bundle that is not a venue bundle")
    aid = account_id if account_id is not None else inc.account_id
    secret = user_secret if user_secret is not None else inc.user_secret
    tree = has_tree(b)
    # a tree epoch carries slots: a file of an earlier epoch still checks a slot carried since (its proof epoch)
    same = inc.epoch == b.epoch or (tree and inc.epoch < b.epoch)
    if not rep.add(
        "inclusion file is for this epoch",
        same,
        f"epoch {b.epoch}" if inc.epoch == b.epoch else f"your file is for epoch {inc.epoch}",
    ):
        return
    mine = inc.account_id == aid and inc.user_secret == secret
    other = "" if inc.account_id == aid else f"the file names account {inc.account_id!r}"
    if not rep.add("inclusion file is yours (account id and secret)", mine, other):
        return
    id_hash = account_id_commitment(aid, secret)
    rep.add("id commitment recomputed from your id and secret", id_hash == inc.id_hash)
    sh = venue_shape(b)
    table = _governed_table(rep, b, sh)
    if table is None:
        return
    problem = parts_problem(inc, sh)
    rep.add(
        "parts: numbered 0..n-1 at consecutive slots of one batch", not problem, problem or f"{len(inc.parts)} part(s)"
    )
    _statement(rep, inc, table, sh.usd_asset)
    batches = b.batches()
    i = inc.batch
    if not rep.add("batch exists", 0 <= i < len(batches), f"batch {i} of {len(batches)}"):
        return
    leaf_epoch = b.epoch
    if tree:  # the ONE slot whose range holds the id hash, its leaf on the root, its proof epoch (venue_tree);
        # the checks below still run on the file's batch, so every failure is named
        check_user_slot(rep, b, id_hash, i, inc.leaf_epoch, registry)
        leaf_epoch = inc.leaf_epoch
    be = batches[i]
    off = [
        k
        for k, p in enumerate(inc.parts)
        if len(p.siblings) != 15 * sh.depth
        or not verify_venue_path(part_leaf(inc, k, leaf_epoch), list(p.siblings), p.slot, be.root)
    ]
    rep.add(
        PATHS_CHECK,
        not off,
        f"batch {i}, slots {inc.parts[0].slot}..{inc.parts[-1].slot}"
        if not off
        else f"part(s) {off}: the leaf built from YOUR id, secret and data does not hash to the batch root (wrong "
        "secret, another account's part, or the exchange committed different data)",
    )
    rep.add("id inside the batch's id range", be.first_id_hash <= id_hash <= be.last_id_hash)
    vk = vk_from_bundle_json(b.json(fmt.VK))
    proof = proof_from_bundle_json(b.json(be.proof), vk)
    public = public_from_json(b.json(be.public))
    expected = be.statement().public_signals(
        leaf_epoch, b.params_commitment, b.prices, market_commitment=b.market_commitment
    )
    rep.add("public signals match the manifest", public == expected)
    ok = verify_any(vk, proof, public)
    rep.add(
        "batch proof verifies (every account's margin state, linked parts summed, under-MM ones counted)",
        ok,
        f"{be.count} accounts, {be.under_mm_count} under MM ({key_proof_system(vk)} Groth16)",
    )
    if registry is None:
        rep.warn("on-chain attestation", "not checked (give --rpc and --registry)")
        return
    if tree and tree_meta(b)["kind"] == "update":  # the slot's leaf was checked on the registry's root above
        _onchain_tree(rep, b, vk, registry)
        return
    from .user import _onchain

    _onchain(rep, b, i, id_hash, vk, registry)


def _onchain_tree(rep: Report, b: fmt.EpochBundle, vk: AnyKey, registry: SolvencyRegistryClient) -> None:
    """An update epoch: the record's parameters, market data and prices and the pinned key (the slot's leaf was
    checked on the registry's root before)."""
    from .user import attested_epoch

    attested_epoch(rep, b, vk, registry)


def _governed_table(rep: Report, b: fmt.EpochBundle, sh: object) -> InstrumentTable | None:
    """The instrument table of the bundle's governed document, checked to be the one the proven params_commitment
    binds (so the names shown are the committed instruments')."""
    from zkmargin.circuits.solvency.venue_shape import VenueShape

    assert isinstance(sh, VenueShape)
    try:
        governed = b.json(fmt.PARAMS, "params.json")["governed_document"]
        snap = MarketSnapshot.model_validate(b.json(fmt.MARKET, "market.json"))
        _, table, vp = rebuild_venue_params(governed, snap, sh)
    except (ParamsError, ValidationError, KeyError, TypeError) as e:
        rep.add("instrument table = the one the proven params_commitment binds", False, str(e).splitlines()[0])
        return None
    ok = vp.commitment(sh) == b.params_commitment and vp.market_commitment(sh) == b.market_commitment
    rep.add(
        "instrument table = the one the proven params_commitment binds",
        ok,
        f"version {table.version}, {len(table.instruments)} instruments" if ok else "rebuilt commitments differ",
    )
    return table if ok else None


def _merge(views: Sequence[dict[str, dict[str, int]]], key: str) -> tuple[dict[str, int], list[str]]:
    out: dict[str, int] = {}
    dup: list[str] = []
    for v in views:
        for name, x in v[key].items():
            if name in out:
                dup.append(name)
            out[name] = x
    return out, dup


def _statement(rep: Report, inc: VenueInclusion, table: InstrumentTable, usd_asset: int) -> None:
    try:
        views = [leaf_view(table, p.positions, p.balances) for p in inc.parts]
    except ParamsError as e:
        rep.add(STATEMENT_CHECK, False, str(e))
        return
    pos, dup_p = _merge(views, "positions")
    bal, dup_b = _merge(views, "balances")
    usd = inc.realised_pnl + sum(p.isolated_margin or 0 for p in inc.positions)
    cost = sum(p.entry_value for p in inc.positions)
    want_bal = {a: v for a, v in inc.balances.items() if v}
    if usd_asset and usd:
        want_bal[table.assets[usd_asset - 1]] = usd * USD_UNITS_PER_MICRO
    want_pos = {p.instrument: p.quantity for p in inc.positions}
    shown = "; ".join(
        f"part {k}: "
        + (", ".join(f"{s} {_units(q)}" for s, q in v["positions"].items()) or "-")
        + " | "
        + (", ".join(f"{a} {_units(x)}" for a, x in v["balances"].items()) or "-")
        for k, v in enumerate(views)
    )
    rep.add("committed data by name (compare with your own statement)", True, shown)
    ok = pos == want_pos and bal == want_bal and not dup_p and not dup_b
    missing = sorted(set(want_pos) - set(pos)) + sorted(set(want_bal) - set(bal))
    extra = sorted(set(pos) - set(want_pos)) + sorted(set(bal) - set(want_bal))
    rep.add(
        STATEMENT_CHECK,
        ok,
        f"{len(pos)} positions, {len(bal)} balances over {len(inc.parts)} part(s)"
        if ok
        else f"missing {missing[:5]}, not yours {extra[:5]}, twice {(dup_p + dup_b)[:5]}, or amounts differ",
    )
    cash = sum(p.cash for p in inc.parts)
    want_cash = -cost if usd_asset else usd - cost
    rep.add(
        "committed cash = realised PnL + isolated margins - entry values of your positions",
        cash == want_cash and all(p.cash == 0 for p in inc.parts[1:]),
        f"{_units(cash, 10**6)} USD",
    )
    modes = {p.portfolio for p in inc.parts}
    rep.add(
        "margin mode proven = your account's mode (every part)",
        modes == {1 if inc.margin_mode == "portfolio" else 0},
        f"your account: {inc.margin_mode}",
    )
