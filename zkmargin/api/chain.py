"""The API of the chain: connect to a node, open and read a SolvencyRegistry, deploy the demo venue's registry,
attach to an existing one's roles.

Split out of the API (``zkmargin.api`` re-exports every name) because it is the only part that needs web3 (imported
when a function is called) and a node; reading stays on the verifier side, deploying and attaching use the
operator's signing client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ChainUnavailable, InputError, PathLike, RegistryNotFound
from .operator import demo_exchange

if TYPE_CHECKING:
    from zkmargin.prover.operator.chain_ops import ChainDeployment
    from zkmargin.verifier.chain import LiveAsset, LiveStatus, SolvencyRegistryClient, SolvencyStatus

log = logging.getLogger("zkmargin")


# ----------------------------------------------------------------------------- chain


@dataclass(frozen=True)
class RegistryState:
    """What a SolvencyRegistry states now (``isSolvent()``, ``solvencyStatus()`` and the live view: ``liveStatus()``
    and, per asset, the feeds' median against the attested box)."""

    address: str
    chain_id: int
    solvent: bool
    epoch: int
    accounts_proven: int
    development_mode: bool
    status: SolvencyStatus
    governance: str
    live: LiveStatus | None = None
    live_assets: list[LiveAsset] = field(default_factory=list)
    max_attestation_age: int = 0


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
        reg.governance(), reg.live_status(), reg.live_assets(), reg.max_attestation_age(),
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
    proof_system: str | None = None,
) -> tuple[Deployment, ChainDeployment]:
    """Deploy the demo venue's registry on ``rpc`` (None: the embedded chain) as governance would: the approved
    parameters and the verifying key of the bundle root ``root``'s setup (created there if missing), mock feeds
    (feed-owner account), a mock-stablecoin insurance fund, the operator role. Node accounts 0..3 hold governance,
    operator, feed owner and insurance holder (anvil's unlocked accounts). ``proof_system``: ``"committed"`` or
    ``"plain"``; None is committed (the lookup circuit)."""
    from zkmargin.prover.operator.exchange import ExchangeSpec
    from zkmargin.prover.operator.pipeline import Operator
    from zkmargin.prover.operator.setups import SetupError

    if batch < 1:
        raise InputError("batch", f"must be at least 1, got {batch}")
    if proof_system not in (None, "committed", "plain"):
        raise InputError("proof_system", f"is 'committed' or 'plain', got {proof_system!r}")
    system = proof_system or "committed"
    w3 = connect_chain(rpc) if rpc is not None else None
    if w3 is not None and len(w3.eth.accounts) < 4:
        raise InputError("rpc", f"the node at {rpc} has {len(w3.eth.accounts)} unlocked accounts; the demo roles "
                                "need 4 (use anvil or another development node)")  # fmt: skip
    t = int(time.time()) if listing_time is None else listing_time
    engine, _ = demo_exchange(1, now=t)
    op = Operator(root, ExchangeSpec(accounts_per_batch=batch), setup_kind=setup_kind, progress=progress,
                  proof_system=system)  # fmt: skip
    try:
        op.setup(op.layout(engine))
    except SetupError as e:
        raise InputError("bundle", str(e)) from e
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
