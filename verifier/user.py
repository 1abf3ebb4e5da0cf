"""``zkmargin user verify``: an account holder checks that *their* account is covered by the epoch's proof.

Needs only ``zkmargin.circuits`` and ``zkmargin.verifier`` (tested by importing this module with ``zkmargin.prover``
blocked). From the user's id and salt and their inclusion file it recomputes the leaf (the id hash from the id, the
Poseidon leaf from the salt and the committed balances and quantities, shown in plain units so the user can compare
them with their own statement), checks the Merkle path to the batch root, verifies the batch's Groth16 proof (which
states that every account in the batch has equity >= maintenance margin), and, given a registry, that this root
is attested on-chain for the epoch with the same parameters and prices.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zkmargin.circuits.field import R
from zkmargin.circuits.merkle import verify_path
from zkmargin.circuits.solvency.leaf import LeafData, account_id_hash

from . import bundle as fmt
from .groth16 import MalformedInput, verify
from .registry_key import check_registry_key
from .report import Report
from .snarkjs_json import proof_from_json, public_from_json, vk_from_json

if TYPE_CHECKING:
    from .chain import SolvencyRegistryClient


def _units(x: int, scale: int = 10**8) -> str:
    return f"{x / scale:,.8f}".rstrip("0").rstrip(".")


def verify_account(
    bundle_path: str | Path,
    account_id: str,
    salt: int,
    registry: SolvencyRegistryClient | None = None,
    epoch: int | None = None,
) -> Report:
    """Every check of one account's inclusion; ``report.exit_code`` is 0 covered, 1 not covered, 2 malformed."""
    rep = Report(f"account {account_id!r}")
    try:
        b = fmt.open_epoch(bundle_path, epoch)
        rep.title = f"account {account_id!r}, epoch {b.epoch} ({b.path})"
        _check(rep, b, account_id, salt, registry)
    except (fmt.BundleError, MalformedInput, KeyError, TypeError, ValueError) as e:
        rep.malformed = f"{type(e).__name__}: {e}"
    return rep


def _check(
    rep: Report, b: fmt.EpochBundle, account_id: str, salt: int, registry: SolvencyRegistryClient | None
) -> None:
    id_hash = account_id_hash(account_id)
    rel = fmt.account_filename(id_hash)
    path = b.path / rel
    if not path.exists():
        excluded = b.json(fmt.EXCLUDED) if (b.path / fmt.EXCLUDED).exists() else []
        n = sum(int(e.get("count", 0)) for e in excluded if isinstance(e, dict))
        detail = (
            "no inclusion data for this account in the bundle: ask the exchange for your inclusion file; if it "
            f"says your account is not representable, it is one of the {n} the epoch counts as such"
        )
        rep.add("account in this epoch's proof", False, detail)
        return
    d = b.json(rel, "your inclusion file")
    rep.add("inclusion file names your account", d["account_id"] == account_id and int(d["id_hash"]) == id_hash)
    rep.add("inclusion file is for this epoch", int(d["epoch"]) == b.epoch, f"file says {d['epoch']}")
    if not 0 <= salt < R:
        rep.add("salt is a field element", False, "must be in [0, r)")
        return
    lf = d["leaf"]
    leaf = LeafData(
        id_hash=id_hash,
        salt=salt,
        portfolio=int(lf["portfolio"]),
        cash=int(lf["cash"]),
        balances=tuple(int(lf["balances"][a]) for a in b.assets),
        quantities=tuple(int(lf["quantities"][s]) for s in b.instruments),
    ).leaf()
    shown = ", ".join(f"{a} {_units(v)}" for a, v in lf["balances"].items() if v) or "none"
    pos = ", ".join(f"{s} {_units(v)}" for s, v in lf["quantities"].items() if v) or "none"
    rep.add(
        "committed data",
        True,
        f"balances: {shown}; positions: {pos}; cash {_units(int(lf['cash']), 10**6)} USD; "
        f"{'portfolio' if lf['portfolio'] else 'cross'} margin (compare with your own statement)",
    )
    batches = b.batches()
    i = int(d["batch"])
    if not 0 <= i < len(batches):
        rep.add("batch exists", False, f"batch {i} of {len(batches)}")
        return
    be = batches[i]
    slot = int(d["slot"])
    siblings = [int(s) for s in d["merkle_siblings"]]
    in_tree = verify_path(leaf, siblings, slot, be.root) and len(siblings) == b.shape.depth
    rep.add(
        "Merkle path: your leaf is in the batch root",
        in_tree,
        f"batch {i}, slot {slot}"
        if in_tree
        else "the leaf built from YOUR id, salt and data does not hash to the batch root (wrong salt, or the "
        "exchange committed different data)",
    )
    rep.add("slot among the batch's active accounts", 0 <= slot < be.count, f"slot {slot}, count {be.count}")
    rep.add("id inside the batch's id range", be.first_id_hash <= id_hash <= be.last_id_hash)
    vk = vk_from_json(b.json(fmt.VK))
    proof = proof_from_json(b.json(be.proof))
    public = public_from_json(b.json(be.public))
    expected = be.statement().public_signals(
        b.epoch, b.params_commitment, b.prices, market_commitment=b.market_commitment
    )
    rep.add("public signals match the manifest", public == expected)
    ok = verify(vk, proof, public)
    rep.add(
        "batch proof verifies (every account's margin state, under-MM ones counted, as published)",
        ok,
        f"{be.count} accounts, {be.under_mm_count} under MM" if ok else "Groth16 verification failed",
    )
    if registry is None:
        rep.warn("on-chain attestation", "not checked (give --rpc and --registry)")
        return
    from .chain import ChainRevert

    try:
        onchain = registry.attestation_of(b.epoch)
    except ChainRevert as e:
        rep.add("epoch attested on-chain", False, e.reason)
        return
    rep.add(
        "epoch attested on-chain with these parameters, market data and prices",
        onchain.params_commitment == b.params_commitment
        and onchain.market_commitment == b.market_commitment
        and onchain.prices == b.prices
        and not onchain.revoked,
        f"registry {registry.address}, covers {onchain.account_count} accounts"
        + (" (REVOKED by governance)" if onchain.revoked else ""),
    )
    check_registry_key(rep, registry, vk)
    ev = next((e for e in registry.batch_events() if e.epoch == b.epoch and e.index == i), None)
    rep.add(
        "your batch root is attested on-chain",
        ev is not None and ev.batch_root == be.root and ev.first_id_hash <= id_hash <= ev.last_id_hash,
        f"BatchAttested(epoch {b.epoch}, index {i}) in block {ev.block_number}" if ev else "no such event",
    )
