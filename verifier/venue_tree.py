"""The batch tree of a venue bundle (issue 16, docs/statement.md "Incremental epochs"): the manifest's ``tree``
section, and the audit's and the user's checks over it.

Format. A venue epoch with a tree lists **every slot** in ``manifest.batches`` (index = slot), each entry being the
slot's whole leaf preimage: ``lo``, ``hi`` (the id-hash range it owns), ``proof_epoch`` (the epoch its proof was
made and verified at) and the batch statement (root, first/last id hash, count, totals, liabilities), with the
proof and the public signals it was proven with (those of its proof epoch). ``manifest.tree``::

    {"kind": "full" | "update", "depth": 16, "base_epoch": e0, "previous_epoch": e - 1 | null,
     "root": "0x..", "slot_count": n, "reproved": [slots proven at this epoch], "ops": [{"op", "slot", "mid"?}]}

A full epoch is a tree whose slots are its batches (``batch_tree.slot_ranges``); an update carries the slots it
does not re-prove. The bundle alone rebuilds the root (``batch_tree.BatchTree``, the registry's mirror).

Why these checks are the argument (the contract half is in docs/contracts.md):

* **root**: the root rebuilt from every slot's leaf preimage = the manifest's (and, with a registry, the root the
  registry recorded for the epoch): so the bundle's slots ARE the attested ones, nothing added or dropped;
* **partition**: the ranges tile [0, R) exactly, so an id hash lies in exactly one slot;
* **ranges**: every batch's first and last id hash lie inside its slot's range (the circuit makes ids strictly
  increase inside a batch), so no account is counted in two slots and no account sits in a slot a user would not
  look in;
* **proofs**: every slot's proof verifies with ITS proof epoch's shared inputs (proof epoch, and the tree's params,
  market commitment and prices, which an update keeps), carried ones included, and every proof epoch lies between
  the tree's base epoch and this one (the re-proven slots at this one);
* **totals**: the manifest's totals = the sums over the leaves (and = the registry's).

A user finds the ONE slot whose range holds their id hash, checks its leaf is on the root, sees its proof epoch
(a carried slot is data as of that epoch: stale data is visible), and checks their account in the batch as in a full
epoch (``venue_user``).

Never imports ``zkmargin.prover``.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

from . import bundle as fmt
from .attestation import signal_names
from .batch_tree import DEPTH, BatchTree, SlotLeaf, TreeError, slot_ranges, verify_path
from .bundle_proofs import AnyKey, check_any_key, proof_from_bundle_json, verify_any
from .groth16 import MalformedInput
from .report import Report
from .snarkjs_json import public_from_json

if TYPE_CHECKING:
    from .chain import SolvencyRegistryClient

TREE_ROOT_CHECK = "tree: root rebuilt from every slot's leaf (range, proof epoch, statement) = the manifest's root"
TREE_PARTITION_CHECK = "tree: slot ranges partition [0, R) (every id hash in exactly one slot)"
TREE_RANGE_CHECK = "tree: every batch's ids inside its slot's range (no account in a slot it does not belong to)"
TREE_PROOFS_CHECK = "tree: every slot's proof verifies at its own proof epoch (carried slots too)"
TREE_EPOCHS_CHECK = "tree: proof epochs between the tree's base epoch and this epoch (re-proven slots at this one)"
TREE_CHAIN_CHECK = "chain: the registry's tree root and slot count for this epoch = the bundle's"
USER_SLOT_CHECK = "tree: your id hash lies in exactly one slot's range, the slot your file names"
USER_LEAF_CHECK = "tree: your slot's leaf (range, proof epoch, batch statement) is on the attested root"
USER_FRESH_CHECK = "tree: your file is the one for your slot's proof epoch"


def has_tree(b: fmt.EpochBundle) -> bool:
    return isinstance(b.manifest.get("tree"), dict)


def tree_meta(b: fmt.EpochBundle) -> dict[str, Any]:
    t = b.manifest["tree"]
    try:
        kind = str(t["kind"])
        if kind not in ("full", "update") or int(t["depth"]) != DEPTH:
            raise ValueError(f"kind {kind!r}, depth {t['depth']}")
        return {
            "kind": kind,
            "base_epoch": int(t["base_epoch"]),
            "root": bytes.fromhex(str(t["root"]).removeprefix("0x")),
            "reproved": [int(k) for k in t["reproved"]],
        }
    except (KeyError, TypeError, ValueError) as e:
        raise fmt.BundleError(f"manifest.json tree: {e}") from e


def slot_leaves(b: fmt.EpochBundle) -> list[SlotLeaf]:
    """Every slot's leaf preimage as the manifest lists it (entry i = slot i)."""
    out = []
    for i, (e, be) in enumerate(zip(b.manifest["batches"], b.batches(), strict=True)):
        try:
            lo, hi, pe = int(e["lo"]), int(e["hi"]), int(e["proof_epoch"])
        except (KeyError, TypeError, ValueError) as err:
            raise fmt.BundleError(f"manifest.json batches[{i}]: slot field {err}") from err
        if not (0 <= lo < 1 << 256 and 0 <= hi < 1 << 256 and 0 <= pe < 1 << 64):
            raise fmt.BundleError(f"manifest.json batches[{i}]: lo, hi or proof_epoch out of range")
        out.append(SlotLeaf.from_statement(be.statement(), lo, hi, pe))
    return out


def bundle_tree(b: fmt.EpochBundle) -> BatchTree:
    return BatchTree(slot_leaves(b))


def partition_problem(slots: list[SlotLeaf]) -> str:
    """'' when the ranges tile [0, R) exactly, else the first gap or overlap found."""
    tree = BatchTree(slots)
    if tree.is_partition():
        return ""
    rs = sorted((s.lo, s.hi, k) for k, s in enumerate(slots))
    if not rs or rs[0][0] != 0:
        return "no slot starts at 0"
    for (lo1, hi1, k1), (lo2, _, k2) in pairwise(rs):
        if not lo1 < hi1:
            return f"slot {k1} has an empty or inverted range"
        if hi1 > lo2:
            return f"slots {k1} and {k2} overlap"
        if hi1 < lo2:
            return f"a gap between slots {k1} and {k2}"
    return "the last slot does not end at R"


def check_tree(
    rep: Report,
    b: fmt.EpochBundle,
    vk: AnyKey,
    batches: list[fmt.BatchEntry],
    registry: SolvencyRegistryClient | None,
) -> None:
    """Every tree check of one epoch (module docstring), by name."""
    meta = tree_meta(b)
    slots = slot_leaves(b)
    tree = BatchTree(slots)
    root = tree.root()
    rep.add(
        TREE_ROOT_CHECK,
        root == meta["root"],
        f"0x{root.hex()[:16]}.., {len(slots)} slots" if root == meta["root"] else f"rebuilt 0x{root.hex()[:16]}..",
    )
    problem = partition_problem(slots)
    rep.add(TREE_PARTITION_CHECK, not problem, problem)
    outside = [k for k, s in enumerate(slots) if s.account_count and not (s.lo <= s.words[1] and s.words[2] < s.hi)]
    rep.add(TREE_RANGE_CHECK, not outside, f"outside: slots {outside[:5]}" if outside else "")
    base, e = meta["base_epoch"], b.epoch
    wrong = [k for k, s in enumerate(slots) if not base <= s.proof_epoch <= e]
    reproved = set(meta["reproved"])
    mislabelled = [k for k, s in enumerate(slots) if (s.proof_epoch == e) != (k in reproved)]
    if meta["kind"] == "full":  # a full epoch proves every batch now, in the registry's id order
        wrong += [k for k, s in enumerate(slots) if s.proof_epoch != e]
        try:
            if [(s.lo, s.hi) for s in slots] != slot_ranges([s.words[1] for s in slots]):
                problem = problem or "ranges are not the full epoch's"
                wrong.append(-1)
        except TreeError as err:
            wrong.append(-1)
            problem = str(err)
    rep.add(
        TREE_EPOCHS_CHECK,
        not wrong and not mislabelled and base <= e,
        f"base epoch {base}, {len(reproved)} slot(s) proven at {e}, {len(slots) - len(reproved)} carried"
        if not wrong and not mislabelled
        else f"slots {sorted(set(wrong + mislabelled))[:5]} {problem}",
    )
    check_tree_proofs(rep, b, vk, batches, slots)
    if registry is not None:
        check_tree_chain(rep, b, registry, root, len(slots))


def check_tree_proofs(
    rep: Report, b: fmt.EpochBundle, vk: AnyKey, batches: list[fmt.BatchEntry], slots: list[SlotLeaf]
) -> None:
    """Each slot's proof against the statement the manifest makes, with the shared inputs of ITS proof epoch (the
    tree's params, market commitment and prices); its public.json must be that signal vector."""
    check_any_key(vk)
    names = signal_names(len(b.assets))
    bad: list[str] = []
    for i, (be, s) in enumerate(zip(batches, slots, strict=True)):
        signals = be.statement().public_signals(
            s.proof_epoch, b.params_commitment, b.prices, market_commitment=b.market_commitment
        )
        try:
            proof = proof_from_bundle_json(b.json(be.proof), vk)
            if not verify_any(vk, proof, signals, validate_key=False):
                bad.append(f"slot {i}: {be.proof} does not verify the slot's statement at epoch {s.proof_epoch}")
                continue
            shipped = public_from_json(b.json(be.public))
        except fmt.MissingFile as err:
            bad.append(f"slot {i}: {err}")
            continue
        except MalformedInput as err:
            bad.append(f"slot {i}: malformed ({err})")
            continue
        if shipped != signals:
            diff = [names[k] for k, (x, y) in enumerate(zip(shipped, signals, strict=False)) if x != y]
            bad.append(f"slot {i}: {be.public} differs from the proven signals in {', '.join(diff) or 'length'}")
    carried = sum(1 for s in slots if s.proof_epoch != b.epoch)
    rep.add(
        TREE_PROOFS_CHECK,
        not bad,
        "; ".join(bad[:5]) if bad else f"{len(slots)} proofs verify ({carried} carried from earlier epochs)",
    )


def onchain_tree(registry: SolvencyRegistryClient, epoch: int) -> tuple[bytes, int] | None:
    """(root, slot count) the registry recorded for ``epoch`` (its ``batchTreeRoot`` and ``batchCount``), or None
    when the epoch is not attested."""
    from .chain import ChainRevert

    try:
        att = registry.attestation_of(epoch)
    except ChainRevert:
        return None
    return bytes(att.batch_tree_root), int(att.batch_count)


def check_tree_chain(
    rep: Report, b: fmt.EpochBundle, registry: SolvencyRegistryClient, root: bytes, count: int
) -> None:
    got = onchain_tree(registry, b.epoch)
    if got is None:
        rep.add(TREE_CHAIN_CHECK, False, f"epoch {b.epoch} is not attested on this registry")
        return
    rep.add(
        TREE_CHAIN_CHECK,
        got == (root, count),
        f"{count} slots" if got == (root, count) else f"registry: 0x{got[0].hex()[:16]}.., {got[1]} slots",
    )


def check_user_slot(
    rep: Report,
    b: fmt.EpochBundle,
    id_hash: int,
    file_batch: int,
    file_proof_epoch: int,
    registry: SolvencyRegistryClient | None,
) -> int | None:
    """The user's side: the ONE slot holding ``id_hash``, its leaf on the attested root (the registry's when given,
    else the manifest's), its proof epoch shown; returns the slot, or None when the checks cannot go on."""
    slots = slot_leaves(b)
    hits = [k for k, s in enumerate(slots) if s.holds(id_hash)]
    if not rep.add(
        USER_SLOT_CHECK,
        len(hits) == 1 and hits[0] == file_batch,
        f"slot {hits[0]}" if len(hits) == 1 and hits[0] == file_batch
        else f"your id hash is in slots {hits}; your file names slot {file_batch}",
    ):  # fmt: skip
        return None
    k = hits[0]
    tree = BatchTree(slots)
    attested: bytes | None = tree_meta(b)["root"]
    where = "the manifest's root"
    if registry is not None:
        got = onchain_tree(registry, b.epoch)
        attested, where = (None if got is None else got[0]), "the registry's root for this epoch"
    ok = attested is not None and verify_path(attested, k, slots[k].hash(), tree.path(k))
    rep.add(USER_LEAF_CHECK, ok, f"slot {k} on {where}" if ok else f"slot {k} is not on {where}")
    pe = slots[k].proof_epoch
    stale = pe < b.epoch
    rep.add(
        USER_FRESH_CHECK,
        file_proof_epoch == pe,
        (f"your slot was proven at epoch {pe}" + (f", carried to epoch {b.epoch}: your data as of epoch {pe}"
                                                    if stale else ""))
        if file_proof_epoch == pe
        else f"your slot was proven at epoch {pe}, your file is for epoch {file_proof_epoch} (ask for the new one)",
    )  # fmt: skip
    if stale:
        rep.warn("tree: carried slot", f"your data is as of epoch {pe}: compare it with your account at that epoch")
    return k if ok and file_proof_epoch == pe else None


TREE_RECORD_CHECK = "chain: update record = bundle (params, market, prices, totals = sum of the leaves, counts)"


def check_update_chain(rep: Report, b: fmt.EpochBundle, registry: SolvencyRegistryClient) -> None:
    """An update epoch's on-chain record: same box centre (params, market commitment, prices) and the totals the
    leaves sum to (the registry computes them as the previous totals - old leaves + new leaves)."""
    from .chain import ChainRevert

    try:
        onchain = registry.attestation_of(b.epoch)
    except ChainRevert as e:
        rep.add("chain: epoch attested", False, e.reason)
        return
    sums, liab = bundle_tree(b).totals()
    t = b.manifest["totals"]
    want = (
        b.params_commitment, b.market_commitment, tuple(b.prices), sums[0], sums[1], sums[2], sums[3], sums[4],
        sums[5], tuple(liab), int(t["accounts_declared"]), int(t["accounts_unrepresented"]),
    )  # fmt: skip
    got = (
        onchain.params_commitment, onchain.market_commitment, tuple(onchain.prices), onchain.account_count,
        onchain.total_equity, onchain.total_mm, onchain.under_mm_count, onchain.total_shortfall,
        onchain.total_bad_debt, tuple(onchain.liabilities), onchain.declared_accounts, onchain.unrepresented_accounts,
    )  # fmt: skip
    rep.add(TREE_RECORD_CHECK, got == want, f"covers {onchain.account_count} of {onchain.declared_accounts} declared")
    rep.add("chain: attestation not revoked by governance", not onchain.revoked)
