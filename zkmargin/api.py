"""zkmargin's Python API: what every ``zkmargin`` command does, as functions with typed results.

The command line (``zkmargin.cli``) is a thin layer over these functions: it parses options, calls one of them,
renders the result and maps exceptions to exit codes (:class:`InputError` 2, a failed check 1). Examples in
``docs/api.md`` (a test runs them).

Imports are lazy: ``verify_proof`` and the audit need only ``zkmargin.circuits`` and ``zkmargin.verifier``; the
prover side is imported by the functions that prove. Library code reports through :mod:`logging` (logger
``zkmargin``); it never prints.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zkmargin.verifier.report import Report
from zkmargin.verifier.types import Proof, VerifyingKey

if TYPE_CHECKING:
    from zkmargin.circuits.rules.models import Account
    from zkmargin.prover.engine.margin import AccountResult, MarginEngine
    from zkmargin.prover.operator.chain_ops import ChainDeployment
    from zkmargin.prover.operator.pipeline import EpochResult
    from zkmargin.verifier.chain import SolvencyRegistryClient, SolvencyStatus

log = logging.getLogger("zkmargin")

PathLike = str | Path
MAX_JSON_BYTES = 64 * 1024 * 1024  # a verifying key for 10^6 public inputs is ~150 MB; ours are a few KB


# ----------------------------------------------------------------------------- exceptions


class ZkmarginError(Exception):
    """Base of every error the API raises on purpose."""


class InputError(ZkmarginError, ValueError):
    """Bad input (a missing, unreadable or malformed file, an out-of-range option): ``field`` names it.
    The CLI exits 2 and writes nothing."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RegistryNotFound(InputError):
    """The address holds no contract code on that chain (a wrong address, or the wrong chain)."""


class ChainUnavailable(InputError):
    """No JSON-RPC node answers at the URL."""


class CheckFailed(ZkmarginError):
    """A check did not pass (e.g. ``prove``: the witness does not satisfy the circuit). The CLI exits 1."""


class MissingExtra(ZkmarginError, ImportError):
    """An optional feature whose dependencies are not installed: ``extra`` names the pip extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(f"{feature} needs the optional dependency {module!r}: pip install 'zkmargin[{extra}]'")
        self.feature, self.extra, self.module = feature, extra, module


# ----------------------------------------------------------------------------- snarkjs JSON


@dataclass(frozen=True)
class SnarkjsFiles:
    """A verifying key, a proof and its public signals, as read from snarkjs JSON."""

    vk: VerifyingKey
    proof: Proof
    public: list[int]


def read_json_file(path: PathLike, field: str) -> Any:
    """Parse a JSON file; every failure (missing, a directory, not UTF-8, not JSON, too large) is an
    :class:`InputError` naming ``field``."""
    p = Path(path)
    if not p.exists():
        raise InputError(field, f"file not found: {p}")
    if not p.is_file():
        raise InputError(field, f"not a regular file: {p}")
    try:
        size = p.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InputError(field, f"{p}: {size} bytes, more than the {MAX_JSON_BYTES} accepted")
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(field, f"cannot read {p}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(field, f"{p} is not UTF-8 text (byte {e.start}); expected snarkjs JSON") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(field, f"{p} is not valid JSON ({e.msg} at line {e.lineno})") from e
    except RecursionError as e:
        raise InputError(field, f"{p}: JSON nested too deeply") from e


def _convert(field: str, fn: Callable[[Any], Any], data: Any, kind: type) -> Any:
    from zkmargin.verifier.groth16 import MalformedInput

    if not isinstance(data, kind):
        raise InputError(field, f"expected a JSON {'object' if kind is dict else 'list'}, got {type(data).__name__}")
    try:
        return fn(data)
    except MalformedInput as e:
        raise InputError(field, str(e)) from e
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise InputError(field, f"not a snarkjs file of this kind ({type(e).__name__}: {e})") from e


def load_verifying_key(source: PathLike | dict[str, Any], field: str = "vk") -> VerifyingKey:
    """A snarkjs ``verification_key.json`` (path or parsed JSON) -> :class:`VerifyingKey`."""
    from zkmargin.verifier.snarkjs_json import vk_from_json

    data = source if isinstance(source, dict) else read_json_file(source, field)
    vk: VerifyingKey = _convert(field, vk_from_json, data, dict)
    return vk


def load_proof(source: PathLike | dict[str, Any], field: str = "proof") -> Proof:
    """A snarkjs ``proof.json`` (path or parsed JSON) -> :class:`Proof`."""
    from zkmargin.verifier.snarkjs_json import proof_from_json

    data = source if isinstance(source, dict) else read_json_file(source, field)
    proof: Proof = _convert(field, proof_from_json, data, dict)
    return proof


def load_public(source: PathLike | list[Any], field: str = "public") -> list[int]:
    """A snarkjs ``public.json`` (path or parsed JSON) -> the public signals as integers (never reduced)."""
    from zkmargin.verifier.snarkjs_json import public_from_json

    data = source if isinstance(source, list) else read_json_file(source, field)
    public: list[int] = _convert(field, public_from_json, data, list)
    return public


def load_snarkjs(vk: PathLike, proof: PathLike, public: PathLike) -> SnarkjsFiles:
    """Read the three snarkjs files of a proof (``zkmargin verify --vk --proof --public``)."""
    return SnarkjsFiles(load_verifying_key(vk), load_proof(proof), load_public(public))


def verify_proof(vk: VerifyingKey | PathLike, proof: Proof | PathLike, public: Sequence[int] | PathLike) -> bool:
    """True iff ``proof`` is a valid Groth16 proof for ``public`` under ``vk`` (objects or snarkjs JSON paths).

    Malformed input (a point off the curve or outside the G2 subgroup, a coordinate >= p, a public input >= r,
    a wrong count) raises :class:`InputError` naming the field: it is never just 'invalid'."""
    from zkmargin.verifier.groth16 import MalformedInput, verify

    k = vk if isinstance(vk, VerifyingKey) else load_verifying_key(vk)
    p = proof if isinstance(proof, Proof) else load_proof(proof)
    pub = list(public) if isinstance(public, Sequence) and not isinstance(public, str) else load_public(public)
    try:
        ok = verify(k, p, pub)
    except MalformedInput as e:
        where = "vk" if e.field.startswith(("vk", "IC", "alpha", "beta", "gamma", "delta")) else (
            "public" if e.field.startswith("public") else "proof")  # fmt: skip
        raise InputError(where, str(e)) from e
    log.info("groth16 proof %s (%d public signals)", "valid" if ok else "INVALID", len(pub))
    return ok


# ----------------------------------------------------------------------------- setup and prove


@dataclass(frozen=True)
class SetupResult:
    """``setup``'s output directory: ``circuit.zkey`` (snarkjs format), ``verification_key.json``, ``transcript/``."""

    path: Path
    zkey: Path
    verification_key: Path
    kind: str  # "development" | "ptau ceremony" | "local ceremony"
    constraints: int
    n_public: int
    domain_size: int
    seconds: float


def setup(
    r1cs: PathLike, out: PathLike, *, contributions: int = 1, ptau: PathLike | None = None, dev: bool = False
) -> SetupResult:
    """Groth16 setup for a circom ``.r1cs``: phase 1 from ``ptau`` (or a local one), then ``contributions``
    phase-2 contributions; ``dev`` is a single-party setup (DEVELOPMENT ONLY: forgeable). Written atomically."""
    from zkmargin.atomic import atomic_directory, atomic_write_json
    from zkmargin.circuits.formats import BinFileError, read_r1cs
    from zkmargin.prover.cli_ops import TRANSCRIPT_NAME, VK_NAME, ZKEY_NAME
    from zkmargin.prover.ptau import PtauError
    from zkmargin.prover.zkey import write_zkey
    from zkmargin.verifier.snarkjs_json import vk_to_json
    from zkmargin.verifier.zkey_init import CircuitHashUnavailable

    if contributions < 1:
        raise InputError("contributions", "must be at least 1")
    if ptau is not None and dev:
        raise InputError("dev", "give either --ptau or --dev, not both")
    if ptau is not None and not Path(ptau).is_file():
        raise InputError("ptau", f"{ptau}: no such file")
    if not Path(r1cs).is_file():
        raise InputError("r1cs", f"{r1cs}: no such file")
    try:
        cs = read_r1cs(r1cs)
    except (BinFileError, OSError) as e:
        raise InputError("r1cs", str(e)) from e
    t0 = time.perf_counter()
    try:
        with atomic_directory(out) as stage:
            if dev:
                from zkmargin.prover.setup import dev_setup

                pk, kind = dev_setup(cs), "development"
            elif ptau is not None:
                from zkmargin.prover.ptau import setup_from_ptau

                pk, _ = setup_from_ptau(cs, ptau, contributions, transcript_dir=stage / TRANSCRIPT_NAME)
                kind = "ptau ceremony"
            else:
                from zkmargin.prover.setup import run_ceremony

                pk = run_ceremony(cs, stage / TRANSCRIPT_NAME, phase2_contributions=contributions)
                kind = "local ceremony"
            write_zkey(pk, stage / ZKEY_NAME)
            atomic_write_json(stage / VK_NAME, vk_to_json(pk.verifying_key()))
    except (BinFileError, CircuitHashUnavailable, PtauError) as e:
        raise InputError("ptau", str(e)) from e
    out = Path(out)
    res = SetupResult(
        out, out / ZKEY_NAME, out / VK_NAME, kind, cs.n_constraints, pk.n_public, pk.domain_size,
        time.perf_counter() - t0,
    )  # fmt: skip
    log.info("setup: %d constraints, %d public signals -> %s", res.constraints, res.n_public, out)
    return res


@dataclass(frozen=True)
class ProveResult:
    proof: Proof
    public: list[int]
    seconds: float
    out: Path | None  # directory holding proof.json and public.json, when written


def prove(zkey: PathLike, wtns: PathLike, out: PathLike | None = None) -> ProveResult:
    """Prove a circom witness (``.wtns``) with a setup directory or ``.zkey``; the proof is verified before it is
    returned or written (``out``/proof.json, ``out``/public.json, atomically). A witness that does not satisfy
    the circuit raises :class:`CheckFailed`."""
    from zkmargin.atomic import atomic_directory, atomic_write_json
    from zkmargin.circuits.formats import BinFileError, read_wtns
    from zkmargin.prover.cli_ops import load_proving_key
    from zkmargin.prover.groth16 import prove as g16_prove
    from zkmargin.verifier.groth16 import verify
    from zkmargin.verifier.snarkjs_json import proof_to_json, public_to_json

    if not Path(zkey).exists():
        raise InputError("zkey", f"{zkey}: no such file or directory")
    if not Path(wtns).is_file():
        raise InputError("wtns", f"{wtns}: no such file")
    try:
        pk = load_proving_key(Path(zkey))
    except (BinFileError, OSError) as e:
        raise InputError("zkey", str(e)) from e
    try:
        witness = read_wtns(wtns)
    except (BinFileError, OSError) as e:
        raise InputError("wtns", str(e)) from e
    if len(witness) != pk.n_vars:
        raise InputError("wtns", f"witness has {len(witness)} values but the key expects {pk.n_vars} signals")
    t0 = time.perf_counter()
    proof, public = g16_prove(pk, witness)
    dt = time.perf_counter() - t0
    if not verify(pk.verifying_key(), proof, public, validate_key=False):
        raise CheckFailed("the witness does not satisfy the circuit (the proof does not verify); nothing written")
    if out is not None:
        with atomic_directory(out) as stage:
            atomic_write_json(stage / "proof.json", proof_to_json(proof))
            atomic_write_json(stage / "public.json", public_to_json(public))
    return ProveResult(proof, public, dt, None if out is None else Path(out))


# ----------------------------------------------------------------------------- margin engine


def demo_exchange(accounts: int = 1000, seed: int = 7, now: int | None = None) -> tuple[MarginEngine, list[Account]]:
    """The demo venue: its margin engine (valued at ``now``, default the wall clock) and ``accounts`` accounts."""
    from zkmargin.prover.operator.exchange import demo_accounts, demo_engine

    if accounts < 1:
        raise InputError("accounts", f"must be at least 1, got {accounts}")
    engine = demo_engine(now=int(time.time()) if now is None else now)
    return engine, demo_accounts(engine, accounts, seed=seed)


def evaluate_margin(accounts: Sequence[Account], engine: MarginEngine | None = None) -> list[AccountResult]:
    """Exact margin state of each account (equity, IM, MM, status, shortfall) under ``engine`` (default: the demo
    venue's). An account the engine refuses raises :class:`InputError` naming it."""
    if engine is None:
        engine = demo_exchange(1)[0]
    out = []
    for a in accounts:
        try:
            out.append(engine.evaluate(a))
        except (ValueError, KeyError) as e:
            raise InputError(f"account {a.account_id}", str(e)) from e
    return out


# ----------------------------------------------------------------------------- chain


@dataclass(frozen=True)
class RegistryState:
    """What a SolvencyRegistry states now (``isSolvent()`` and ``solvencyStatus()``)."""

    address: str
    chain_id: int
    solvent: bool
    epoch: int
    accounts_proven: int
    development_mode: bool
    status: SolvencyStatus
    governance: str


def connect_chain(rpc: str | None) -> Any:
    """A web3 connection: ``None`` is the embedded py-evm chain, else a JSON-RPC URL (:class:`ChainUnavailable`
    when nothing answers there)."""
    from zkmargin.verifier.chain import connect

    if rpc is not None and not rpc.startswith(("http://", "https://")):
        raise InputError("rpc", f"expected an http:// or https:// JSON-RPC URL, got {rpc!r}")
    try:
        return connect(rpc, timeout=30)
    except (ConnectionError, OSError) as e:
        raise ChainUnavailable("rpc", f"no JSON-RPC node answering at {rpc}") from e


def _checked_address(w3: Any, address: str, field: str = "registry") -> str:
    from web3 import Web3

    if not isinstance(address, str) or not Web3.is_address(address):
        raise InputError(field, f"not an Ethereum address: {address!r}")
    addr = str(Web3.to_checksum_address(address))
    if len(w3.eth.get_code(addr)) == 0:
        raise RegistryNotFound(field, f"no contract code at {addr} on chain {int(w3.eth.chain_id)} (wrong address "
                                      "or wrong chain?)")  # fmt: skip
    return addr


def open_registry(rpc: str, address: str) -> SolvencyRegistryClient:
    """A read-only client of the SolvencyRegistry at ``address`` (never signs). Raises :class:`RegistryNotFound`
    when no contract is there, :class:`ChainUnavailable` when the node does not answer."""
    from zkmargin.verifier.chain import Chain, SolvencyRegistryClient

    w3 = connect_chain(rpc)
    addr = _checked_address(w3, address)
    reg = SolvencyRegistryClient.at(Chain(w3, sender="0x" + "00" * 20), addr)
    try:
        reg.contract.functions.numAssets().call()
    except Exception as e:  # code, but not a registry (web3's own exception types vary by node)
        raise RegistryNotFound("registry", f"the contract at {addr} is not a SolvencyRegistry") from e
    return reg


def read_registry(rpc: str, address: str) -> RegistryState:
    """The registry's current statement: solvent, epoch, proven accounts, development mode, counts and totals."""
    reg = open_registry(rpc, address)
    solvent, epoch, covered, dev = reg.is_solvent()
    return RegistryState(
        reg.address, int(reg.chain.w3.eth.chain_id), solvent, epoch, covered, dev, reg.solvency_status(),
        reg.governance(),
    )  # fmt: skip


@dataclass(frozen=True)
class Deployment:
    """Addresses of a deployed registry and its roles (``zkmargin chain deploy --out FILE`` writes this as JSON)."""

    rpc: str
    chain_id: int
    registry: str
    feeds: list[str]
    insurance_token: str
    insurance_holder: str
    governance: str
    operator: str
    feed_owner: str
    development_mode: bool
    setup_dir: str  # the proving key's directory (the registry pins its verifying key)
    batch: int  # accounts per batch: the circuit shape
    listing_time: int  # the venue's instrument listing clock (dated instruments expire relative to it)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(d: Any, field_name: str = "deployment") -> Deployment:
        try:
            return Deployment(**d)
        except TypeError as e:
            raise InputError(field_name, f"not a zkmargin deployment record ({e})") from e


def deploy_registry(
    rpc: str | None,
    root: PathLike,
    *,
    batch: int = 16,
    setup_kind: str = "development",
    insurance_fund_micro_usd: int = 1_000_000 * 10**6,
    max_unrepresented_ppm: int = 5_000,
    listing_time: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[Deployment, ChainDeployment]:
    """Deploy the demo venue's registry on ``rpc`` (None: the embedded chain) as governance would: the approved
    parameters and the verifying key of the bundle root ``root``'s setup (created there if missing), mock feeds
    (feed-owner account), a mock-stablecoin insurance fund, the operator role. Node accounts 0..3 hold governance,
    operator, feed owner and insurance holder (anvil's unlocked accounts)."""
    from zkmargin.prover.operator.exchange import ExchangeSpec
    from zkmargin.prover.operator.pipeline import Operator

    if batch < 1:
        raise InputError("batch", f"must be at least 1, got {batch}")
    w3 = connect_chain(rpc) if rpc is not None else None
    if w3 is not None and len(w3.eth.accounts) < 4:
        raise InputError("rpc", f"the node at {rpc} has {len(w3.eth.accounts)} unlocked accounts; the demo roles "
                                "need 4 (use anvil or another development node)")  # fmt: skip
    t = int(time.time()) if listing_time is None else listing_time
    engine, _ = demo_exchange(1, now=t)
    op = Operator(root, ExchangeSpec(accounts_per_batch=batch), setup_kind=setup_kind, progress=progress)
    dep = op.deploy_chain(
        engine, rpc_url=rpc, insurance_fund_micro_usd=insurance_fund_micro_usd,
        max_unrepresented_ppm=max_unrepresented_ppm,
    )  # fmt: skip
    info = dep.info()
    setup_path = op.setup(op.layout(engine)).path
    rec = Deployment(
        rpc or "embedded py-evm", int(info["chain_id"]), dep.registry.address, list(info["feeds"]),
        str(info["insurance_token"]), str(info["insurance_holder"]), dep.governance, dep.operator, dep.feed_owner,
        dep.registry.development_mode(), str(Path(setup_path).resolve()), batch, t,
    )  # fmt: skip
    log.info("registry deployed at %s (chain %d)", rec.registry, rec.chain_id)
    return rec, dep


def attach_registry(rpc: str, address: str) -> ChainDeployment:
    """The roles of an existing demo registry on a development node (feeds, feed owner, governance, insurance fund,
    an operator among the node's unlocked accounts), to attest there. Raises :class:`InputError` when the node
    does not hold them."""
    from web3 import Web3

    from zkmargin.prover.operator.chain_ops import ChainDeployment
    from zkmargin.prover.operator.chain_writes import SigningChain, SolvencyRegistryWriter

    w3 = connect_chain(rpc)
    addr = _checked_address(w3, address)
    accounts = [str(a) for a in w3.eth.accounts]
    gov_chain = SigningChain(w3, sender=accounts[0] if accounts else "0x" + "00" * 20)
    reg = SolvencyRegistryWriter.at(gov_chain, addr)
    try:
        n = int(reg.contract.functions.numAssets().call())
        governance = reg.governance()
        feeds = [gov_chain.contract("MockAggregatorV3", reg.contract.functions.priceFeeds(i).call()[0])
                 for i in range(n)]  # fmt: skip
        feed_owner = str(feeds[0].functions.owner().call()) if feeds else governance
        token = gov_chain.contract("MockERC20", reg.contract.functions.insuranceToken().call())
        holder = str(reg.contract.functions.insuranceHolder().call())
    except Exception as e:
        raise RegistryNotFound("registry", f"the contract at {addr} is not a SolvencyRegistry with mock feeds") from e
    operator = next((a for a in accounts if reg.is_operator(a)), None)
    missing = [r for r, a in (("governance", governance), ("feed owner", feed_owner)) if a not in accounts]
    if operator is None:
        missing.append("operator")
    if missing or operator is None:
        raise InputError("registry", f"the node at {rpc} does not hold the registry's {', '.join(missing)} account(s)")
    gov_chain.sender = Web3.to_checksum_address(governance)
    return ChainDeployment(gov_chain, reg, feeds, governance, operator, feed_owner, token, holder, rpc)


# ----------------------------------------------------------------------------- operator: epochs and bundles


def run_epoch(
    root: PathLike,
    engine: MarginEngine,
    accounts: Sequence[Account],
    *,
    epoch: int | None = None,
    batch: int = 16,
    setup_kind: str = "development",
    setup_dir: PathLike | None = None,
    chain: ChainDeployment | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> EpochResult:
    """Prove, attest (when ``chain`` is given) and publish one epoch into the bundle root ``root``: every account
    the circuit's slots hold is proven in batches of ``batch``, the rest counted by reason. ``epoch`` defaults to
    the root's next one. Resumes after a crash; idempotent once published."""
    from zkmargin.prover.operator.exchange import ExchangeSpec
    from zkmargin.prover.operator.pipeline import Operator
    from zkmargin.verifier import bundle as fmt

    if batch < 1:
        raise InputError("batch", f"must be at least 1, got {batch}")
    if setup_kind not in ("development", "ceremony"):
        raise InputError("setup_kind", "is 'development' or 'ceremony'")
    if epoch is None:
        epoch = max((r["epoch"] for r in fmt.list_epochs(root)), default=0) + 1
    op = Operator(root, ExchangeSpec(accounts_per_batch=batch), setup_kind=setup_kind, setup_dir=setup_dir,
                  chain=chain, progress=progress)  # fmt: skip
    return op.run_epoch(epoch, engine, accounts)


def publish_bundle(bundle: PathLike, out: PathLike) -> Path:
    """Write the publishable copy of an operator's bundle root (no account id, secret or inclusion file)."""
    from zkmargin.prover.operator.publish import PublishError, publish

    try:
        return publish(bundle, out)
    except PublishError as e:
        raise InputError("bundle", str(e)) from e
    except OSError as e:
        raise InputError("out", f"{out}: {e.strerror or e}") from e


def _registry_arg(rpc: str | None, registry: str | None) -> SolvencyRegistryClient | None:
    if bool(rpc) != bool(registry):
        raise InputError("registry" if rpc else "rpc", "give both --rpc and --registry, or neither")
    return None if rpc is None or registry is None else open_registry(rpc, registry)


def audit_bundle(
    bundle: PathLike,
    *,
    epoch: int | None = None,
    rpc: str | None = None,
    registry: str | SolvencyRegistryClient | None = None,
    check_transcript: bool = True,
) -> Report:
    """Every auditor's check of one epoch bundle (and, with a registry, of the chain). ``report.ok``;
    ``report.exit_code`` 0 pass, 1 failed checks, 2 malformed bundle."""
    from zkmargin.verifier.audit import audit_bundle as _audit

    if not Path(bundle).exists():
        raise InputError("bundle", f"{bundle}: no such directory")
    reg = registry if registry is None or not isinstance(registry, str) else None
    if reg is None:
        reg = _registry_arg(rpc, registry if isinstance(registry, str) else None)
    return _audit(bundle, reg, epoch, check_transcript)


def audit_epochs(
    bundle: PathLike,
    first: int,
    last: int,
    *,
    rpc: str | None = None,
    registry: str | SolvencyRegistryClient | None = None,
    check_transcript: bool = True,
) -> tuple[list[Report], Report]:
    """Audit every epoch from ``first`` to ``last`` of a bundle root: one report per epoch and a summary whose
    ``exit_code`` is 2 if any epoch is malformed, else 1 if any failed."""
    from zkmargin.verifier.audit import audit_range, range_summary

    if not Path(bundle).exists():
        raise InputError("bundle", f"{bundle}: no such directory")
    if first > last:
        raise InputError("first", f"{first} is after --last {last}")
    reg = registry if registry is None or not isinstance(registry, str) else None
    if reg is None:
        reg = _registry_arg(rpc, registry if isinstance(registry, str) else None)
    reports = audit_range(bundle, first, last, reg, check_transcript)
    return reports, range_summary(reports)


def verify_account(
    bundle: PathLike,
    inclusion: PathLike,
    *,
    account: str | None = None,
    secret: int | str | None = None,
    epoch: int | None = None,
    rpc: str | None = None,
    registry: str | SolvencyRegistryClient | None = None,
) -> Report:
    """One account holder's check: their inclusion file is in a valid batch proof of the epoch (and, with a
    registry, attested on-chain). ``secret`` is an int or hex string."""
    from zkmargin.verifier.user import verify_account as _verify

    if not Path(bundle).exists():
        raise InputError("bundle", f"{bundle}: no such directory")
    if not Path(inclusion).is_file():
        raise InputError("inclusion", f"{inclusion}: no such file")
    if isinstance(secret, str):
        try:
            secret = int(secret.removeprefix("0x"), 16)
        except ValueError as e:
            raise InputError("secret", "expected a hexadecimal number") from e
    reg = registry if registry is None or not isinstance(registry, str) else None
    if reg is None:
        reg = _registry_arg(rpc, registry if isinstance(registry, str) else None)
    return _verify(bundle, inclusion, account, secret, reg, epoch)


__all__ = [
    "ChainUnavailable",
    "CheckFailed",
    "Deployment",
    "InputError",
    "MissingExtra",
    "ProveResult",
    "RegistryNotFound",
    "RegistryState",
    "Report",
    "SetupResult",
    "SnarkjsFiles",
    "ZkmarginError",
    "attach_registry",
    "audit_bundle",
    "connect_chain",
    "demo_exchange",
    "deploy_registry",
    "evaluate_margin",
    "load_proof",
    "load_public",
    "load_snarkjs",
    "load_verifying_key",
    "open_registry",
    "prove",
    "publish_bundle",
    "read_json_file",
    "read_registry",
    "run_epoch",
    "setup",
    "verify_account",
    "verify_proof",
]
