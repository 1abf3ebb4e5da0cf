"""Audit checks of who could forge and what the chain says: the setup (its transcript re-checked, who holds the
toxic waste), and the on-chain record (attestation, snapshot clock, pinned key, governed parameters, batch
events) against the bundle.

Split from ``audit.py`` (which runs every check in order) so that each area of the audit reads on its own; the
file and methodology checks are in ``audit_files_params.py``, the batch checks in ``audit_batches.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from zkmargin.circuits.rules.price_box_document import governed_box
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.circuits.solvency.params import ParamsError

from . import bundle as fmt
from .attestation import EpochAttestation
from .bundle_proofs import AnyKey, proof_from_bundle_json, vk_from_bundle_json
from .committed import CommittedVerifyingKey
from .registry_key import check_registry_key
from .report import Report
from .setup_audit import audit_setup
from .types import VerifyingKey

if TYPE_CHECKING:
    from .chain import SolvencyRegistryClient


BOX_CHECK = "chain: registry's price box for the params commitment = the governed document's price_box"
FEED_MEDIAN_CHECK = "registry's FeedMedian = the audited FeedMedian bytecode"
BATCH_TREE_CHECK = "registry's BatchTree = the audited BatchTree bytecode"


def check_live_view(
    rep: Report, registry: SolvencyRegistryClient, params_commitment: int, governed_document: Any, n_assets: int
) -> None:
    """What the registry's live view (isSolvent() at call time) rests on: the box it applies to the epoch's params
    commitment is the governed document's (``governed_box``, the reader the circuit's params use too), so the chain
    never calls "solvent" a price the proof did not cover; and every feed median it reads (at submission and live)
    goes through the audited FeedMedian (immutable in the registry: one check suffices); and the BatchTree whose
    answer an update epoch records (root, slots, totals) is the audited one."""
    code_ok = registry.feed_median_matches_artifact()
    rep.add(FEED_MEDIAN_CHECK, code_ok, registry.feed_median() if code_ok else "its code differs from the artifact")
    tree_ok = registry.batch_tree_matches_artifact()  # update epochs' root and totals come from it, unchecked
    rep.add(BATCH_TREE_CHECK, tree_ok, registry.batch_tree() if tree_ok else "its code differs from the artifact")
    try:
        if not isinstance(governed_document, dict):
            raise ParamsError("governed document: not an object")
        want = governed_box(governed_document, assets=n_assets)
    except ParamsError as e:
        rep.add(BOX_CHECK, False, str(e))
        return
    got = registry.box_of(params_commitment)
    same = (got.box_ppm, got.mask) == (want.box_ppm, want.mask)
    detail = f"box {want.box_ppm} ppm, asset ids {list(want.boxed_assets)}"
    rep.add(BOX_CHECK, same, detail if same else f"registry {got.box_ppm} ppm {list(got.boxed_assets)}, document "
                                                  f"{want.box_ppm} ppm {list(want.boxed_assets)}")  # fmt: skip


def check_snapshot_clock(rep: Report, b: fmt.EpochBundle, attested_at: int, max_age: int) -> None:
    """Option marks and risk arrays depend on the snapshot's clock (time to expiry): a snapshot dated a minute
    before expiry makes a short option worth nothing. Its time must be the attestation's, within the feeds' age
    bound. Linear instruments do not depend on it, so layouts without option slots skip the check."""
    from .venue_format import is_venue_manifest

    if not is_venue_manifest(b.manifest) and not b.shape.option_slots():
        return  # (a venue's instrument table lists options whatever its accounts hold: always checked)
    ts = int(b.json(fmt.MARKET, "market.json")["timestamp"])
    rep.add(
        "market: snapshot time = the on-chain attestation time (within the feeds' max age)",
        attested_at - max_age <= ts <= attested_at,
        f"snapshot {ts}, attested {attested_at}, max age {max_age} s",
    )


def pin_registry_key(rep: Report, registry: SolvencyRegistryClient, vk: AnyKey) -> bool:
    """The bundle's key, plain or committed, against the registry's (``registry_key.check_registry_key``)."""
    return check_registry_key(rep, registry, vk)


def check_setup(rep: Report, b: fmt.EpochBundle, vk: AnyKey, registry: SolvencyRegistryClient | None,
           check_transcript: bool) -> None:  # fmt: skip
    """Who could forge under this key (verifier/setup_audit.py), plus the local ceremony's own transcript."""
    setup = b.manifest.get("setup") or {}
    governance = registry.governance() if registry is not None else None
    dev_mode = registry.development_mode() if registry is not None else None
    committed = isinstance(vk, CommittedVerifyingKey)
    # a committed key's ceremony transcript is re-checked by audit_setup (verifier/committed_ceremony.py)
    if setup.get("kind") == "ceremony" and check_transcript and setup.get("transcript") and not committed:
        # setup files live in the bundle root's setups/, so the path may go up from the epoch directory, but not
        # out of the root
        path = (b.path / str(setup["transcript"])).resolve()
        root = b.path.resolve().parent
        if root not in path.parents:
            raise fmt.BundleError(f"manifest.json setup.transcript: {setup['transcript']!r} resolves outside {root}")
        from .setup_transcript import verify_transcript

        assert isinstance(vk, VerifyingKey)  # committed keys returned above
        tr = verify_transcript(path, SolvencyCircuit(b.shape).r1cs, vk, limits=b.limits)
        if tr.malformed is not None:
            raise fmt.BundleError(f"setup transcript {setup['transcript']}: {tr.malformed}")
        failed = f", failed: {', '.join(tr.failed()[:5])}" if not tr.ok else ""
        rep.add("setup: ceremony transcript re-checked against the circuit and the key", tr.ok,
                f"{len(tr.checks)} checks{failed}")  # fmt: skip
    audit_setup(rep, setup, b.path, lambda: SolvencyCircuit(b.shape, lookups=committed).r1cs, vk, governance,
                dev_mode)  # fmt: skip


def check_chain(
    rep: Report, b: fmt.EpochBundle, batches: list[fmt.BatchEntry], registry: SolvencyRegistryClient
) -> None:
    from .chain import ChainRevert, batch_tree_root

    info = b.manifest.get("chain") or {}
    if info.get("registry"):
        rep.add("chain: registry address = manifest's", info["registry"].lower() == registry.address.lower())
    try:
        onchain = registry.attestation_of(b.epoch)
    except ChainRevert as e:
        rep.add("chain: epoch attested", False, e.reason)
        return
    t = b.manifest["totals"]
    vk = vk_from_bundle_json(b.json(fmt.VK))
    proofs = [proof_from_bundle_json(b.json(be.proof), vk) for be in batches]
    att = EpochAttestation(
        b.epoch,
        b.params_commitment,
        b.prices,
        cast(Any, tuple(zip((be.statement() for be in batches), proofs, strict=True))),  # proofs are not compared
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
    check_snapshot_clock(rep, b, onchain.timestamp, registry.max_feed_age())
    pin_registry_key(rep, registry, vk)
    governed = b.json(fmt.PARAMS, "params.json").get("governed_document")
    check_live_view(rep, registry, b.params_commitment, governed, len(b.prices))
    gov = registry.params()
    if gov.commitment == b.params_commitment:
        rep.add(
            "chain: governed parameter document hash = sha256 of the bundle's governed document",
            gov.doc_hash.hex() == b.manifest["parameter_version"],
        )
    else:
        rep.warn("chain: governed parameters", "changed since this epoch (timelock); its record still binds them")
    statements = [be.statement() for be in batches]
    rep.add(
        "chain: batchTreeRoot = batch tree over the manifest batches (roots, id ranges, totals, in order)",
        onchain.batch_tree_root == batch_tree_root(statements, b.epoch) and onchain.batch_count == len(statements),
        f"{onchain.batch_count} batches on-chain",
    )
