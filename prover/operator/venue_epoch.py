"""The operator's epoch on the venue circuit (issue 15): every account of the governed instrument table proven,
whole, over as many linked leaves as it needs.

Steps (the fixed-slot pipeline's, ``pipeline.py``, with the venue's circuit and batcher):

1. **table**: the governed instrument table of the engine's instruments (``build_instrument_table``: every
   instrument with brackets or, for options, a scenario grid) over the venue's collateral assets, and the shape
   (P positions and A balances per leaf, N leaves per batch, tables sized by the table);
2. **classify**: the engine evaluates every account; :func:`split_account` lays each out over linked leaves. Only
   what the circuit cannot state at all is refused, by name (an instrument not in the table, an inverse contract,
   values beyond the ranges, more leaves than a batch holds); nothing is left out for lack of slots;
3. **batch**: accounts in id-commitment order, packed **whole** into batches of at most N leaves (an account is
   never split over two batches: the registry needs ascending, disjoint id ranges);
4. **prove** each batch with the committed Groth16 key of the shape (``prove_batch``: witness checked, proof
   verified before it leaves);
5. **attest** on the registry (same public layout as the solvency batch: ``batch_public_signals``);
6. **bundle**: ``venue_bundle.write_venue_bundle`` (instrument table, governed document, per-part inclusion files).

Crash safety: each proof goes to ``<root>/.work/epoch-N/`` as it is made (``BatchCache``: reused on a rerun only if it
verifies; the users' secrets are persisted, so the rebuilt batches are identical); the bundle is written atomically.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.circuits.rules.circuit_inputs import document_bytes
from zkmargin.circuits.rules.instrument_table import (
    InstrumentTable,
    box_nodes,
    build_instrument_table,
    default_box,
    venue_governed_document,
    venue_params,
    venue_shape,
)
from zkmargin.circuits.rules.models import Account, Instrument, MarketSnapshot
from zkmargin.circuits.rules.price_box_document import DEFAULT_BOX_PPM, GovernedBox
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.circuits.solvency.params import ParamsError
from zkmargin.circuits.solvency.venue_params import VenueParams
from zkmargin.circuits.solvency.venue_shape import VenueShape
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.attestation import split_public_signals
from zkmargin.verifier.batch_tree import BatchTree, Replace, Split, TreeError, encode_ops, statement_words
from zkmargin.verifier.bundle_proofs import vk_to_bundle_json
from zkmargin.verifier.snarkjs_json import public_from_json
from zkmargin.verifier.venue_format import venue_setup_dirname, venue_shape_to_json

from ..engine.margin import MarginEngine
from ..solvency_witness import AccountNotProvable
from ..venue_witness import VenueBatch, build_venue_batch, split_account
from .batch_cache import BatchCache
from .chain_ops import ChainDeployment, attest, chain_record, deploy, update_feeds
from .classify import Classification, Exclusion
from .pipeline import EpochResult
from .proving import BatchJob, prove_batch
from .setups import Setup
from .user_secrets import FILENAME as USER_SECRETS
from .user_secrets import UserSecretStore
from .venue_bundle import CarriedSlot, VenueEpochContent, write_venue_bundle
from .venue_setup import load_or_create_venue, venue_circuit
from .venue_slots import TreeState, UpdatePlan, apply_plan, fingerprint, full_epoch_state, plan_update
from .venue_update import (
    VenueUpdateResult,
    centre_engine,
    load_state,
    outside_box,
    save_state,
    tree_json,
    tree_of_manifest,
)

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class VenueSpec:
    """The venue circuit's shape choices: leaves per batch, slots per leaf (P = 4, A = 3 chosen on the synthetic
    book, docs/circuit.md), the collateral assets in id order (None: every asset with a spot price, USD first) and
    spare instrument rows (listings that fit without a new key), and the price box's half-width (ppm; 0: the
    point-price shape, no box; None: ``DEFAULT_BOX_PPM`` when the governed scenario grids have its nodes, else the
    point shape, logged: options can only be proven in a box whose edges are grid nodes)."""

    leaves: int = 64
    positions: int = 4
    balances: int = 3
    assets: tuple[str, ...] | None = None
    spare_instruments: int = 0
    box_ppm: int | None = None


def governable(engine: MarginEngine) -> dict[str, Instrument]:
    """The instruments the governed parameters can margin in-circuit: linear ones with a bracket ladder, options on an
    underlying with a scenario grid. (An account holding another is refused by name, never dropped silently.)"""
    p = engine.params
    return {
        s: i
        for s, i in engine.instruments.items()
        if (i.kind != "option" and s in p.brackets) or (i.kind == "option" and i.underlying in p.scenario_grids)
    }


def venue_assets(engine: MarginEngine, spec: VenueSpec) -> tuple[str, ...]:
    if spec.assets is not None:
        return spec.assets
    spot = list(engine.snapshot.spot_prices)
    return tuple(["USD", *(a for a in spot if a != "USD")] if "USD" in spot else spot)


def venue_table(engine: MarginEngine, spec: VenueSpec) -> InstrumentTable:
    return build_instrument_table(governable(engine), engine.params, venue_assets(engine, spec))


def shape_of(engine: MarginEngine, table: InstrumentTable, spec: VenueSpec) -> VenueShape:
    return venue_shape(
        table,
        engine.params,
        spec.leaves,
        spec.positions,
        spec.balances,
        instruments=len(table.instruments) + 1 + spec.spare_instruments,
        box=1 if box_ppm_of(engine, table, spec) else 0,
    )


def box_ppm_of(engine: MarginEngine, table: InstrumentTable, spec: VenueSpec) -> int:
    """The spec's box half-width (VenueSpec docstring); an explicit one whose nodes the grids lack is an error."""
    if spec.box_ppm is not None:
        return spec.box_ppm
    try:
        box_nodes(engine.params, table, DEFAULT_BOX_PPM)
    except ParamsError as e:
        log.warning("venue: point-price shape (no box): %s", e)
        return 0
    return DEFAULT_BOX_PPM


def governed_box_of(engine: MarginEngine, table: InstrumentTable, spec: VenueSpec) -> GovernedBox:
    """The box the operator's governed document carries: ``default_box`` (every instrument underlying and volatile
    collateral asset moves, USD and stablecoins stay) at the spec's half-width."""
    return default_box(table, box_ppm_of(engine, table, spec))


def pack_batches(
    engine: MarginEngine,
    table: InstrumentTable,
    shape: VenueShape,
    accounts: Sequence[Account],
    secrets: dict[str, int],
) -> list[list[Account]]:
    """Accounts in id-commitment order, packed whole into batches of at most ``shape.accounts`` leaves (the order
    keeps every batch's id range above the previous one's, as the registry requires)."""
    order = sorted(accounts, key=lambda a: account_id_commitment(a.account_id, secrets[a.account_id]))
    batches: list[list[Account]] = []
    used = shape.accounts
    for acct in order:
        k = len(split_account(engine, acct, table, shape))
        if used + k > shape.accounts:
            batches.append([])
            used = 0
        batches[-1].append(acct)
        used += k
    return batches


def classify_venue(
    engine: MarginEngine, table: InstrumentTable, shape: VenueShape, accounts: Sequence[Account]
) -> Classification:
    """Engine evaluation and leaf layout of every account; refusals name the reason (module docstring)."""
    out = Classification([], [], {})
    seen: set[str] = set()
    for acct in accounts:
        aid = acct.account_id
        try:
            res = engine.evaluate(acct)
        except (ValueError, KeyError) as e:
            out.excluded.append(Exclusion(aid, "invalid", f"engine refused the account: {e}"))
            continue
        out.results[aid] = res
        if aid in seen:
            out.excluded.append(Exclusion(aid, "invalid", "duplicate account id"))
            continue
        try:
            k = len(split_account(engine, acct, table, shape))
        except AccountNotProvable as e:
            out.excluded.append(Exclusion(aid, "not_representable", e.reason, res.equity, res.mm))
            continue
        if k > shape.accounts:
            out.excluded.append(
                Exclusion(
                    aid,
                    "not_representable",
                    f"needs more leaves than a batch holds: {k} > {shape.accounts} (a larger batch is a new key)",
                    res.equity,
                    res.mm,
                )
            )
            continue
        seen.add(aid)
        out.provable.append(acct)
    return out


class VenueOperator:
    """Runs venue epochs into a bundle root (``<root>/setups/venue-<shape id>-committed`` holds the key)."""

    def __init__(
        self,
        root: str | Path,
        spec: VenueSpec | None = None,
        setup_kind: str = "development",
        chain: ChainDeployment | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.spec = spec or VenueSpec()
        self.setup_kind = setup_kind
        self.chain = chain
        self.progress = progress or (lambda stage, done, total: None)
        self.user_secrets = UserSecretStore(self.root / USER_SECRETS)
        self._setup: Setup | None = None
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}  # CPU seconds of the same stages, every thread of the process

    def table(self, engine: MarginEngine) -> InstrumentTable:
        return venue_table(engine, self.spec)

    def shape(self, engine: MarginEngine, table: InstrumentTable | None = None) -> VenueShape:
        return shape_of(engine, table or self.table(engine), self.spec)

    def setup(self, shape: VenueShape) -> Setup:
        path = self.root / "setups" / venue_setup_dirname(shape)
        if self._setup is None or self._setup.path != path:
            self._setup = load_or_create_venue(path, shape, self.setup_kind, self.progress)
        return self._setup

    def params(self, engine: MarginEngine, table: InstrumentTable, shape: VenueShape) -> VenueParams:
        return venue_params(
            table, engine.params, engine.snapshot, shape, engine.risk_arrays, governed_box_of(engine, table, self.spec)
        )

    def deploy_chain(
        self,
        engine: MarginEngine,
        rpc_url: str | None = None,
        insurance_fund_micro_usd: int = 0,
        max_unrepresented_ppm: int = 0,
    ) -> ChainDeployment:
        """Governance deploys the registry with the venue's approved parameters (the governed document with the
        instrument table; its commitment) and this shape's key; one mock feed per table asset."""
        table = self.table(engine)
        shape = self.shape(engine, table)
        setup = self.setup(shape)
        vp = self.params(engine, table, shape)
        doc = venue_governed_document(engine.params, table, governed_box_of(engine, table, self.spec))
        self.chain = deploy(
            setup.vk,
            table.assets,
            [engine.snapshot.spot_prices[a] for a in table.assets],
            rpc_url,
            params_commitment=vp.commitment(shape),
            params_version=1,
            params_document=document_bytes(doc),
            development_mode=not setup.is_public(),
            insurance_fund_micro_usd=insurance_fund_micro_usd,
            first_epoch=self.latest_epoch() + 1,
            max_unrepresented_ppm=max_unrepresented_ppm,
        )
        return self.chain

    def _stage(self, name: str, t0: float, c0: float) -> float:
        """Record a stage's wall and CPU seconds since (t0, c0); returns the wall seconds. Why CPU too: on a shared
        machine the wall clock measures the neighbours as much as this code."""
        wall = self.timings[name] = time.perf_counter() - t0
        self.cpu[name] = time.process_time() - c0
        return wall

    def latest_epoch(self) -> int:
        return max((int(r["epoch"]) for r in fmt.list_epochs(self.root)), default=0)

    def run_epoch(self, epoch: int, engine: MarginEngine, accounts: Sequence[Account]) -> EpochResult:
        """Prove, attest and publish one venue epoch."""
        final = self.root / fmt.epoch_dirname(epoch)
        if (final / fmt.MANIFEST).exists() and epoch in [r["epoch"] for r in fmt.list_epochs(self.root)]:
            return self._reload(epoch, final)
        if epoch <= self.latest_epoch():
            raise ValueError(f"epoch {epoch} is not after the latest published epoch {self.latest_epoch()}")
        t0, c0 = time.perf_counter(), time.process_time()
        table = self.table(engine)
        shape = self.shape(engine, table)
        vp = self.params(engine, table, shape)
        self._stage("table + parameters", t0, c0)
        setup = self.setup(shape)
        t0, c0 = time.perf_counter(), time.process_time()
        cls = classify_venue(engine, table, shape, accounts)
        if not cls.provable:
            raise ValueError(f"epoch {epoch}: no provable account")
        secrets = self.user_secrets.for_accounts(a.account_id for a in cls.provable)
        chunks = pack_batches(engine, table, shape, cls.provable, secrets)
        self._stage("classify + batch", t0, c0)
        batches, proofs, prove_s, witness_s, wall = self._prove(epoch, engine, table, shape, vp, setup, chunks, secrets)
        t0, c0 = time.perf_counter(), time.process_time()
        chain_info = self._attest(
            epoch, shape, batches, proofs, declared=len(accounts), unrepresented=len(cls.excluded)
        )
        self._stage("attest", t0, c0)
        t0, c0 = time.perf_counter(), time.process_time()
        self.progress("write bundle", 0, 1)
        tree = BatchTree.full_epoch([split_public_signals(b.public, shape.assets)[1] for b in batches], epoch)
        content = VenueEpochContent(
            epoch,
            engine,
            table,
            shape,
            vp,
            setup,
            batches,
            proofs,
            cls.excluded,
            cls.results,
            chain_info,
            len(accounts),
            secrets,
            tree=tree_json("full", epoch, epoch, tree, [], range(len(batches))),
            slots=[(s.lo, s.hi, s.proof_epoch) for s in tree.slots],
        )
        final, deliveries = write_venue_bundle(self.root, content)
        ids = {a.account_id: account_id_commitment(a.account_id, secrets[a.account_id]) for a in cls.provable}
        fps = {a.account_id: fingerprint(a, secrets[a.account_id]) for a in cls.provable}
        save_state(self.root, full_epoch_state(epoch, [[a.account_id for a in b.accounts] for b in batches], ids, fps))
        manifest = fmt.load_json_file(final / fmt.MANIFEST, "manifest.json")
        from .bundle_writer import index_row

        fmt.index_epoch(self.root, index_row(epoch, final, manifest))
        BatchCache.discard(self.root, epoch)
        self.progress("write bundle", 1, 1)
        self._stage("write bundle", t0, c0)
        circuit = venue_circuit(shape)
        return EpochResult(
            epoch,
            final,
            manifest,
            sum(len(b.accounts) for b in batches),
            cls.excluded,
            dict(Counter(r.status for r in cls.results.values())),
            len(batches),
            0,
            circuit.r1cs.n_constraints,
            prove_s,
            witness_s,
            chain_info,
            {a.account_id: secrets[a.account_id] for b in batches for a in b.accounts},
            deliveries,
            wall,
        )

    # ------------------------------------------------------------------ update epochs (issue 16)

    def update_blocker(self, engine: MarginEngine) -> tuple[str, dict[str, Any]]:
        """'' and the update's context when an update epoch may follow the latest one, else why not
        (``venue_update`` module docstring): the operator then runs a full epoch and says so."""
        latest = self.latest_epoch()
        if latest == 0:
            return "no attested epoch yet", {}
        state = load_state(self.root, latest)
        if state is None:
            return f"no slot record of epoch {latest} (a full epoch starts the tree)", {}
        prev = fmt.open_epoch(self.root, latest)
        if "tree" not in prev.manifest:
            return f"epoch {latest} has no batch tree", {}
        table = self.table(engine)
        shape = self.shape(engine, table)
        if venue_shape_to_json(shape) != prev.manifest["shape"]:
            return "the circuit shape changed (a new key)", {}
        setup = self.setup(shape)
        if vk_to_bundle_json(setup.vk) != prev.json(fmt.VK):
            return "the verifying key changed", {}
        if self.chain is not None:
            # every epoch of the tree shares its centre and carried leaves: the registry ends the tree on any
            # revocation (red team, session 7), so a revoked epoch from the base on means a full epoch
            base = int(prev.manifest["tree"].get("base_epoch", latest))
            revoked = [e for e in range(base, latest + 1) if self.chain.registry.attestation_of(e).revoked]
            if revoked:
                return f"epoch {revoked[0]} of the tree (base {base}) was revoked", {}
            # an update keeps the centre's timestamp (red team, session 7): past maxAttestationAge only a full
            # epoch (every price checked against the feeds) makes the live view true again
            reg = self.chain.registry
            now = int(reg.chain.w3.eth.get_block("latest")["timestamp"])
            if now - reg.attestation_of(latest).timestamp >= reg.max_attestation_age():
                return "the box centre is older than maxAttestationAge (an update keeps its timestamp)", {}
        centre = centre_engine(engine, MarketSnapshot.model_validate(prev.json(fmt.MARKET, "market.json")))
        vp = self.params(centre, table, shape)
        if vp.commitment(shape) != prev.params_commitment:
            return "the governed parameters or instrument table changed (params_commitment)", {}
        if vp.market_commitment(shape) != prev.market_commitment:
            return "the market at the box centre does not rebuild (market_commitment)", {}
        out = outside_box(centre.snapshot.spot_prices, engine.snapshot.spot_prices, table.assets, vp)
        if out:
            return "the feeds left the box: " + "; ".join(out), {}
        current = [engine.snapshot.spot_prices[a] for a in table.assets]
        ctx = {"state": state, "prev": prev, "centre": centre, "table": table, "shape": shape, "vp": vp}
        return "", ctx | {"setup": setup, "current": current}

    def run_update(self, epoch: int, engine: MarginEngine, accounts: Sequence[Account]) -> VenueUpdateResult:
        """An update epoch after the latest one: re-prove only the changed slots at the box centre and carry the
        rest (``venue_slots``); a full epoch when an update is not possible (the result says why)."""
        final = self.root / fmt.epoch_dirname(epoch)
        if (final / fmt.MANIFEST).exists() and epoch in [r["epoch"] for r in fmt.list_epochs(self.root)]:
            res = self._reload(epoch, final)
            return VenueUpdateResult(res, str((res.manifest.get("tree") or {}).get("kind", "full")))
        self.timings = {}
        reason, ctx = self.update_blocker(engine)
        if reason:
            log.warning("venue epoch %d: full epoch instead of an update: %s", epoch, reason)
            res = self.run_epoch(epoch, engine, accounts)
            return VenueUpdateResult(res, "full", reason, reproved=list(range(res.batches)), proofs=res.batches)
        if epoch != self.latest_epoch() + 1:
            raise ValueError(f"an update epoch follows the latest one: {self.latest_epoch() + 1}, not {epoch}")
        return self._update(epoch, accounts, **ctx)

    def _update(
        self,
        epoch: int,
        accounts: Sequence[Account],
        *,
        state: TreeState,
        prev: fmt.EpochBundle,
        centre: MarginEngine,
        table: InstrumentTable,
        shape: VenueShape,
        vp: VenueParams,
        setup: Setup,
        current: list[int],
    ) -> VenueUpdateResult:
        t0 = time.perf_counter()
        cls, by_id, kept, ids, fps, secrets = self._fresh(state, centre, table, shape, accounts)
        leaves = {a: len(split_account(centre, acct, table, shape)) for a, acct in by_id.items()}
        plan = plan_update(state, epoch, ids, leaves, fps, shape.accounts)
        self.timings["classify + plan"] = time.perf_counter() - t0
        chunks = plan.chunks()
        made, made_proofs, prove_s, witness_s, wall = self._prove(
            epoch, centre, table, shape, vp, setup, [[by_id[a] for a in c] for c in chunks], secrets
        )
        proven = {c: (b, p) for c, b, p in zip(chunks, made, made_proofs, strict=True)}
        prev_tree = tree_of_manifest(prev.manifest)
        ops_words, tree = encode_ops(prev_tree, self._tree_ops(plan, proven, shape), epoch)
        t0 = time.perf_counter()
        batches, proofs = self._slots(epoch, plan, proven, prev, self.root)
        for k, (b, s) in enumerate(zip(batches, tree.slots, strict=True)):
            if tuple(statement_words(split_public_signals(b.public, shape.assets)[1])) != s.words:
                raise TreeError(f"slot {k}: the batch does not rebuild the tree's leaf")
        self.timings["carry"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        chain_info = self._attest_update(
            epoch, tree, ops_words, plan, proven, shape, current, declared=len(accounts),
            unrepresented=len(cls.excluded),
        )  # fmt: skip
        self.timings["attest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        content = VenueEpochContent(
            epoch, centre, table, shape, vp, setup, batches, proofs, cls.excluded, cls.results, chain_info,
            len(accounts), secrets,
            tree=tree_json("update", epoch, state.base_epoch, tree, plan.ops, sorted(
                k for k, s in enumerate(plan.slots) if s.proof_epoch == epoch)),
            slots=[(s.lo, s.hi, s.proof_epoch) for s in tree.slots],
        )  # fmt: skip
        final, deliveries = write_venue_bundle(self.root, content)
        save_state(self.root, apply_plan(state, plan, epoch))
        manifest = fmt.load_json_file(final / fmt.MANIFEST, "manifest.json")
        from .bundle_writer import index_row

        fmt.index_epoch(self.root, index_row(epoch, final, manifest))
        BatchCache.discard(self.root, epoch)
        self.timings["write bundle"] = time.perf_counter() - t0
        reproved = manifest["tree"]["reproved"]
        log.info(
            "venue epoch %d: update, %d slot(s) re-proven, %d carried, %d split(s)",
            epoch, len(reproved), len(batches) - len(reproved), plan.splits,
        )  # fmt: skip
        t = manifest["totals"]
        res = EpochResult(
            epoch, final, manifest, t["accounts_covered"], cls.excluded,
            {"margin_call": t["margin_call"], "liquidation": t["liquidation"]}, len(batches),
            len(batches) - len(reproved), venue_circuit(shape).r1cs.n_constraints, prove_s, witness_s, chain_info,
            {a: secrets[a] for a in [*by_id, *kept]}, deliveries, wall,
        )  # fmt: skip
        carried = [k for k in range(len(batches)) if k not in reproved]
        return VenueUpdateResult(res, "update", "", reproved, carried, plan.splits, len(chunks))

    @staticmethod
    def _tree_ops(
        plan: UpdatePlan, proven: dict[tuple[str, ...], tuple[VenueBatch, Any]], shape: VenueShape
    ) -> list[Replace | Split]:
        def st(c: tuple[str, ...]) -> Any:
            return split_public_signals(proven[c][0].public, shape.assets)[1]

        return [
            Split(op.slot, op.mid, st(op.left), st(op.right)) if op.right is not None else Replace(op.slot, st(op.left))
            for op in plan.ops
        ]

    def _fresh(
        self,
        state: TreeState,
        centre: MarginEngine,
        table: InstrumentTable,
        shape: VenueShape,
        accounts: Sequence[Account],
    ) -> tuple[Classification, dict[str, Account], set[str], dict[str, int], dict[str, str], dict[str, int]]:
        """Which accounts this update evaluates: those not recorded in the tree with the same fingerprint (new,
        changed, secret rotated, duplicated ids) and the unchanged members of the slots they change (the slot's new
        batch holds them). Every other account is KEPT: its fingerprint (account data and secret) equals the one
        its slot was proven with, at the same box centre, so the engine and the witness would give the same leaves;
        its id hash comes from the record. Returns (classification of the evaluated accounts, the provable ones
        by id, the kept ids, id hash and fingerprint of every provable account, every account's secret)."""
        secrets = self.user_secrets.for_accounts(a.account_id for a in accounts)
        recorded = {
            m: (f, h) for s in state.slots for m, f, h in zip(s.members, s.fingerprints, s.id_hashes, strict=False)
        }  # an old record without id hashes keeps nothing (every slot is re-proven)
        seen = Counter(a.account_id for a in accounts)
        fps = {a.account_id: fingerprint(a, secrets[a.account_id]) for a in accounts if seen[a.account_id] == 1}
        kept = {
            a.account_id: a
            for a in accounts
            if a.account_id in fps and recorded.get(a.account_id, ("",))[0] == fps[a.account_id]
        }
        cls = classify_venue(centre, table, shape, [a for a in accounts if a.account_id not in kept])
        ids = {a.account_id: account_id_commitment(a.account_id, secrets[a.account_id]) for a in cls.provable}
        prev = state.members()
        slot_of = state.slot_finder()
        changed = {slot_of(h) for h in ids.values()} | {k for m, k in prev.items() if m not in kept}
        extra = [kept.pop(m) for k in sorted(changed) for m in state.slots[k].members if m in kept]
        more = classify_venue(centre, table, shape, extra)
        cls.provable += more.provable
        cls.excluded += more.excluded
        cls.results |= more.results
        ids |= {a.account_id: account_id_commitment(a.account_id, secrets[a.account_id]) for a in more.provable}
        by_id = {a.account_id: a for a in cls.provable}
        ids |= {m: recorded[m][1] for m in kept}
        fps = {a: fps.get(a) or fingerprint(by_id[a], secrets[a]) for a in ids}
        return cls, by_id, set(kept), ids, fps, secrets

    @staticmethod
    def _slots(
        epoch: int,
        plan: UpdatePlan,
        proven: dict[tuple[str, ...], tuple[VenueBatch, Any]],
        prev: fmt.EpochBundle,
        root: Path,
    ) -> tuple[list[VenueBatch | CarriedSlot], list[Any]]:
        """Every slot's batch and proof after the update: the new ones as proven, a carried one as the previous
        bundle's files of that slot (:class:`CarriedSlot`: no engine, no witness). The carried slot keeps its index
        (a split appends), so entry k of the previous manifest is the slot; its statement is checked against the
        tree's leaf by the caller and its members' inclusion files must all exist."""
        entries = prev.batches()
        pdeliv = root / inclusion.PRIVATE_DIR / fmt.epoch_dirname(prev.epoch)
        batches: list[VenueBatch | CarriedSlot] = []
        proofs: list[Any] = []
        for k, s in enumerate(plan.slots):
            if s.proof_epoch == epoch:
                b, p = proven[s.members]
                batches.append(b)
                proofs.append(p)
                continue
            be = entries[k]
            if not s.id_hashes:
                raise TreeError(f"carried slot {k}: the slot record has no id hashes (run a full epoch)")
            files = [pdeliv / inclusion.filename(h) for h in s.id_hashes]
            missing = [f.name for f in files if not f.exists()]
            if missing or be.count != len(s.members):
                raise TreeError(f"carried slot {k}: epoch {prev.epoch}'s inclusion files are incomplete {missing[:3]}")
            leaves = int(prev.manifest["batches"][k]["leaves"])
            public = public_from_json(prev.json(be.public))
            batches.append(CarriedSlot(public, prev.path / be.proof, prev.path / be.public, leaves, be.count, files))
            proofs.append(None)
        return batches, proofs

    def _attest_update(
        self,
        epoch: int,
        tree: BatchTree,
        ops_words: list[int],
        plan: UpdatePlan,
        proven: dict[tuple[str, ...], tuple[VenueBatch, Any]],
        shape: VenueShape,
        current_prices: list[int],
        *,
        declared: int,
        unrepresented: int,
    ) -> dict[str, Any] | None:
        """``submitUpdate``: the ops and the new batches in op order (one per REPLACE, left then right per SPLIT) with
        their proofs; the registry re-applies the ops to its root and verifies every proof in one multi-pairing. The
        mock feeds move to the current prices first (inside the box, which the registry checks). A rerun after a
        crash finds the epoch on-chain and takes its record only if the registry's root is this tree's."""
        if self.chain is None:
            return None
        dep = self.chain
        latest = dep.registry.latest_epoch()
        if latest is not None and latest >= epoch:
            if dep.registry.attestation_of(epoch).batch_tree_root != tree.root():
                raise RuntimeError(f"epoch {epoch} is already attested on-chain with another batch tree")
            return chain_record(dep, epoch)
        self.progress("attest on-chain", 0, 1)
        statements = []
        for op in plan.ops:
            for c in (op.left,) if op.right is None else (op.left, op.right):
                b, p = proven[c]
                statements.append((split_public_signals(b.public, shape.assets)[1], p))
        update_feeds(dep, current_prices)
        dep.registry.submit_update(
            epoch, statements, ops_words, declared, unrepresented_accounts=unrepresented, sender=dep.operator
        )
        self.progress("attest on-chain", 1, 1)
        return chain_record(dep, epoch)

    def _reload(self, epoch: int, final: Path) -> EpochResult:
        """An epoch already published: its result as the manifest records it (nothing proven again)."""
        from .bundle_writer import published_exclusions

        manifest = fmt.load_json_file(final / fmt.MANIFEST, "manifest.json")
        t = manifest["totals"]
        return EpochResult(
            epoch, final, manifest, t["accounts_covered"], published_exclusions(final),
            {"margin_call": t["margin_call"], "liquidation": t["liquidation"]}, len(manifest["batches"]),
            len(manifest["batches"]), 0, 0.0, 0.0, manifest.get("chain"), reloaded=True,
        )  # fmt: skip

    def _prove(
        self,
        epoch: int,
        engine: MarginEngine,
        table: InstrumentTable,
        shape: VenueShape,
        vp: VenueParams,
        setup: Setup,
        chunks: list[list[Account]],
        secrets: dict[str, int],
    ) -> tuple[list[VenueBatch], list[Any], float, float, float]:
        circuit = venue_circuit(shape)
        cache = BatchCache(self.root, epoch, setup.vk)  # a rerun after a crash reuses every proof that verifies
        batches: list[VenueBatch] = []
        proofs: list[Any] = []
        prove_s = witness_s = 0.0
        t_wall, c0 = time.perf_counter(), time.process_time()
        self.progress("prove batches", 0, len(chunks))
        for i, chunk in enumerate(chunks):
            t0 = time.perf_counter()
            b = build_venue_batch(engine, chunk, table, shape, epoch, user_secrets=secrets, params=vp)
            witness_s += time.perf_counter() - t0
            cached = cache.proof(i, b.public)
            if cached is None:
                bp = prove_batch(setup.key, setup.vk, circuit, BatchJob(i, b.inputs, b.public))
                cache.put(i, bp.proof, bp.public)
                proofs.append(bp.proof)
                prove_s += bp.prove_seconds
                witness_s += bp.witness_seconds
            else:
                proofs.append(cached)
            b.inputs = {}  # the witness inputs are large; the bundle needs the leaves and public signals only
            batches.append(b)
            self.progress("prove batches", i + 1, len(chunks))
        wall = self._stage("prove batches", t_wall, c0)
        return batches, proofs, prove_s, witness_s, wall

    def _attest(
        self,
        epoch: int,
        shape: VenueShape,
        batches: list[VenueBatch],
        proofs: list[Any],
        *,
        declared: int,
        unrepresented: int,
    ) -> dict[str, Any] | None:
        if self.chain is None:
            return None
        self.progress("attest on-chain", 0, 1)
        shared = split_public_signals(batches[0].public, shape.assets)[0]
        statements = [
            (split_public_signals(b.public, shape.assets)[1], p) for b, p in zip(batches, proofs, strict=True)
        ]
        update_feeds(self.chain, shared.prices)
        record = attest(
            self.chain,
            epoch,
            shared.params_commitment,
            shared.prices,
            statements,
            market_commitment=shared.market_commitment,
            declared_accounts=declared,
            unrepresented_accounts=unrepresented,
        )
        self.progress("attest on-chain", 1, 1)
        return record
