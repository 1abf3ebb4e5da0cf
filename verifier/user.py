"""``zkmargin user verify``: an account holder checks that *their* account is in the epoch's proof, as they know it.

Needs only ``zkmargin.circuits`` and ``zkmargin.verifier`` (tested with ``zkmargin.prover`` blocked). Inputs: the
published bundle and the user's own inclusion file (delivered privately by the exchange), optionally with the id
and secret the user knows, which must match the file. From the id and secret the check recomputes the salted id
commitment and this epoch's leaf salt, rebuilds the leaf from the committed data (shown in the terms of the user's
statement: balances, positions with entry prices, realised PnL, isolated margins, the margin mode proven, and the
proof that they add up to the committed cash), checks the Merkle path to the batch root, the batch's public
signals and Groth16 proof, and, given a registry, that the epoch is attested with these commitments, that the
bundle's key is the registry's, and that the batch root is on-chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zkmargin.circuits.merkle import verify_path
from zkmargin.circuits.rules.circuit_inputs import USD_ASSET
from zkmargin.circuits.solvency.leaf import LeafData, account_id_commitment, epoch_salt
from zkmargin.circuits.solvency.shape import USD_UNITS_PER_MICRO

from . import bundle as fmt
from .audit_setup_chain import pin_registry_key
from .bundle_proofs import AnyKey, key_proof_system, proof_from_bundle_json, verify_any, vk_from_bundle_json
from .groth16 import MalformedInput
from .inclusion import Inclusion, InclusionError, load_inclusion
from .report import Report
from .safe_io import DEFAULT_LIMITS, Limits
from .snarkjs_json import public_from_json

if TYPE_CHECKING:
    from .chain import OnChainAttestation, SolvencyRegistryClient


def _units(x: int, scale: int = 10**8) -> str:
    return f"{x / scale:,.8f}".rstrip("0").rstrip(".")


def verify_account(
    bundle_path: str | Path,
    inclusion_path: str | Path,
    account_id: str | None = None,
    user_secret: int | None = None,
    registry: SolvencyRegistryClient | None = None,
    epoch: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Report:
    """Every check of one account's inclusion; ``report.exit_code`` is 0 covered, 1 not covered, 2 malformed.
    The epoch checked is ``epoch``, else the inclusion file's; the bundle must open at exactly that epoch (index row,
    manifest), and ``report.epoch`` carries it for the verdict line."""
    rep = Report(f"account {account_id or '?'}", epoch=epoch)
    from .venue_format import is_venue_inclusion

    if is_venue_inclusion(inclusion_path):  # an account of the venue circuit: every linked part (venue_user.py)
        return _verify_venue(rep, bundle_path, inclusion_path, account_id, user_secret, registry, epoch, limits)
    try:
        inc = load_inclusion(inclusion_path)
        rep.title = f"account {account_id or inc.account_id!r}"
        wanted = inc.epoch if epoch is None else epoch
        rep.epoch = wanted
        b = fmt.open_epoch(bundle_path, wanted, limits)  # the manifest's epoch must be `wanted` (else malformed)
        rep.title += f", epoch {b.epoch} ({b.path})"
        _check(rep, b, inc, account_id, user_secret, registry)
    except (InclusionError, fmt.BundleError, MalformedInput, KeyError, TypeError, ValueError, OSError) as e:
        rep.malformed = (
            str(e)
            if isinstance(e, InclusionError | fmt.BundleError | MalformedInput)
            else (f"missing field {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}")
        )
    return rep


def _verify_venue(
    rep: Report,
    bundle_path: str | Path,
    inclusion_path: str | Path,
    account_id: str | None,
    user_secret: int | None,
    registry: SolvencyRegistryClient | None,
    epoch: int | None,
    limits: Limits,
) -> Report:
    from .venue_format import load_venue_inclusion
    from .venue_user import check_venue_account

    try:
        inc = load_venue_inclusion(inclusion_path)
        rep.title = f"account {account_id or inc.account_id!r}"
        rep.epoch = inc.epoch if epoch is None else epoch
        b = fmt.open_epoch(bundle_path, rep.epoch, limits)
        rep.title += f", epoch {b.epoch} ({b.path})"
        check_venue_account(rep, b, inc, account_id, user_secret, registry)
    except (InclusionError, fmt.BundleError, MalformedInput, KeyError, TypeError, ValueError, OSError) as e:
        rep.malformed = (
            str(e)
            if isinstance(e, InclusionError | fmt.BundleError | MalformedInput)
            else (f"missing field {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}")
        )
    return rep


def _statement(rep: Report, inc: Inclusion, b: fmt.EpochBundle) -> None:
    shown = ", ".join(f"{a} {_units(v)}" for a, v in inc.balances.items() if v) or "none"
    pos = "; ".join(
        f"{p.instrument} {_units(p.quantity)}"
        + (f" @ {_units(p.entry_price)} (entry value {_units(p.entry_value, 10**6)} USD)" if p.entry_price else "")
        + (f", isolated margin {_units(p.isolated_margin, 10**6)} USD" if p.isolated_margin is not None else "")
        for p in inc.positions
    )
    mode = {"portfolio": "portfolio margin", "cross": "cross margin"}.get(
        inc.margin_mode, f"{inc.margin_mode} margin, proven in its cross view (account equity vs account MM)"
    )
    proven = "portfolio" if inc.portfolio else "tiered (cross)"
    rep.add(
        "committed data (compare with your own statement)",
        True,
        f"balances: {shown}; positions: {pos or 'none'}; realised PnL {_units(inc.realised_pnl, 10**6)} USD; "
        f"mode: {mode}; the proof used {proven} margin",
    )
    rep.add(
        "margin mode proven = your account's mode",
        (inc.portfolio == 1) == (inc.margin_mode == "portfolio"),
        f"proof: {proven}, your account: {inc.margin_mode}",
    )
    usd, cost = inc.usd_from_statement(), inc.cost_from_statement()
    if USD_ASSET in inc.balances:  # cash has its own slot: a published liability like any balance
        ok = inc.balances[USD_ASSET] == usd * USD_UNITS_PER_MICRO and inc.cash == -cost
        detail = f"USD cash {_units(usd, 10**6)} (realised PnL + isolated margins), entry values {_units(cost, 10**6)}"
    else:
        ok, detail = inc.cash == usd - cost, f"{_units(inc.cash, 10**6)} USD"
    rep.add("committed cash = realised PnL + isolated margins - entry values of your positions", ok, detail)
    stmt_q = {p.instrument: p.quantity for p in inc.positions}
    rep.add(
        "committed quantities = your positions",
        all(inc.quantities.get(s, 0) == q for s, q in stmt_q.items())
        and all(q == stmt_q.get(s, 0) for s, q in inc.quantities.items()),
    )
    if set(inc.balances) != set(b.assets) or set(inc.quantities) != set(b.instruments):
        raise InclusionError("leaf: balances/quantities must name exactly the bundle's assets and instruments")


def _check(
    rep: Report,
    b: fmt.EpochBundle,
    inc: Inclusion,
    account_id: str | None,
    user_secret: int | None,
    registry: SolvencyRegistryClient | None,
) -> None:
    aid = account_id if account_id is not None else inc.account_id
    secret = user_secret if user_secret is not None else inc.user_secret
    if inc.epoch != b.epoch:
        rep.add(
            "inclusion file is for this epoch", False, f"your file is for epoch {inc.epoch}, the bundle is {b.epoch}"
        )
        return
    rep.add("inclusion file is for this epoch", True, f"epoch {b.epoch}")
    mine = inc.account_id == aid and inc.user_secret == secret
    other = "" if inc.account_id == aid else f"the file names account {inc.account_id!r}"
    if not rep.add("inclusion file is yours (account id and secret)", mine, other):
        return
    id_hash = account_id_commitment(aid, secret)
    rep.add("id commitment recomputed from your id and secret", id_hash == inc.id_hash)
    _statement(rep, inc, b)
    leaf = LeafData(
        id_hash=id_hash,
        salt=epoch_salt(secret, b.epoch),
        portfolio=inc.portfolio,
        cash=inc.cash,
        balances=tuple(inc.balances[a] for a in b.assets),
        quantities=tuple(inc.quantities[s] for s in b.instruments),
    ).leaf()
    batches = b.batches()
    i = inc.batch
    if not rep.add("batch exists", 0 <= i < len(batches), f"batch {i} of {len(batches)}"):
        return
    be = batches[i]
    in_tree = verify_path(leaf, list(inc.siblings), inc.slot, be.root) and len(inc.siblings) == b.shape.depth
    rep.add(
        "Merkle path: your leaf is in the batch root",
        in_tree,
        f"batch {i}, slot {inc.slot}"
        if in_tree
        else "the leaf built from YOUR id, secret and data does not hash to the batch root (wrong secret, another "
        "epoch's file, or the exchange committed different data)",
    )
    rep.add("slot among the batch's active accounts", 0 <= inc.slot < be.count, f"slot {inc.slot}, count {be.count}")
    rep.add("id inside the batch's id range", be.first_id_hash <= id_hash <= be.last_id_hash)
    vk = vk_from_bundle_json(b.json(fmt.VK))
    proof = proof_from_bundle_json(b.json(be.proof), vk)
    public = public_from_json(b.json(be.public))
    expected = be.statement().public_signals(
        b.epoch, b.params_commitment, b.prices, market_commitment=b.market_commitment
    )
    rep.add("public signals match the manifest", public == expected)
    ok = verify_any(vk, proof, public)
    system = key_proof_system(vk)
    rep.add(
        "batch proof verifies (every account's margin state, under-MM ones counted, as published)",
        ok,
        (f"{be.count} accounts, {be.under_mm_count} under MM ({system} Groth16"
         + (", challenge derived from the proof's commitment)" if system == "committed" else ")"))
        if ok else f"{system} Groth16 verification failed",
    )  # fmt: skip
    if registry is None:
        rep.warn("on-chain attestation", "not checked (give --rpc and --registry)")
        return
    _onchain(rep, b, i, id_hash, vk, registry)


def attested_epoch(
    rep: Report, b: fmt.EpochBundle, vk: AnyKey, registry: SolvencyRegistryClient
) -> OnChainAttestation | None:
    """The registry's record of the bundle's epoch, checked against the bundle's parameters, market data and prices
    (and not revoked), and the registry's key pinned to the bundle's; None (a failed check) when it was never
    attested. Shared by the fixed-slot and the venue user checks."""
    from .chain import ChainRevert

    try:
        onchain = registry.attestation_of(b.epoch)
    except ChainRevert as e:
        rep.add("epoch attested on-chain", False, e.reason)
        return None
    rep.add(
        "epoch attested on-chain with these parameters, market data and prices",
        onchain.params_commitment == b.params_commitment
        and onchain.market_commitment == b.market_commitment
        and onchain.prices == b.prices
        and not onchain.revoked,
        f"registry {registry.address}, covers {onchain.account_count} accounts"
        + (" (REVOKED by governance)" if onchain.revoked else ""),
    )
    pin_registry_key(rep, registry, vk)
    return onchain


def _onchain(
    rep: Report, b: fmt.EpochBundle, i: int, id_hash: int, vk: AnyKey, registry: SolvencyRegistryClient
) -> None:
    from .chain import batch_tree_root

    onchain = attested_epoch(rep, b, vk, registry)
    if onchain is None:
        return
    # the registry keeps the root of a Merkle tree over every batch statement of the epoch (verifier/batch_tree.py):
    # recomputed from the bundle's batch list, it equals the chain's only if every batch (yours at index i, with its
    # root and id range) is exactly what the registry verified
    statements = [be.statement() for be in b.batches()]
    rep.add(
        "your batch root is attested on-chain",
        onchain.batch_tree_root == batch_tree_root(statements, b.epoch)
        and statements[i].batch_root == b.batches()[i].root
        and statements[i].first_id_hash <= id_hash <= statements[i].last_id_hash,
        f"registry batchTreeRoot = the bundle's {len(statements)} batches (yours: index {i})",
    )
