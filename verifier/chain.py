"""web3.py client for the on-chain side: deploy, submit attestations, read views, follow events.

The chain is whatever the caller configures: ``connect()`` with no URL gives the embedded py-evm
(EthereumTesterProvider, no network at all); ``connect(url)`` talks JSON-RPC to any node (anvil in
tests, a real chain in production). Nothing here hard-codes an endpoint.

Gas: the registry and verifier revert on every failure, so ``eth_estimateGas`` is honest on real
nodes and is used there. On py-evm, eth-tester's estimate is a binary search that re-runs the pairings
a dozen times, so transactions get an explicit gas ceiling instead and failures are replayed as a call
to recover the revert reason.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import TxParams

from zkmargin.circuits.curve import G1Affine, G2Affine

from .attestation import BatchStatement, EpochAttestation
from .types import Proof, VerifyingKey

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "contracts" / "artifacts"
TESTER_GAS = 29_000_000  # under eth-tester's ~30M block gas limit
GAS_MARGIN = 1.2


try:  # eth-tester raises its own exception type for reverted calls
    from eth_tester.exceptions import TransactionFailed as _TesterFailed
except ImportError:  # pragma: no cover - eth-tester is optional (only the embedded chain needs it)

    class _TesterFailed(Exception):  # type: ignore[no-redef]
        pass


_REVERTS = (ContractLogicError, _TesterFailed)


class ChainRevert(RuntimeError):
    """A call or transaction reverted; ``reason`` is the contract's revert string (or raw data)."""

    def __init__(self, reason: str, receipt: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.receipt = receipt


# ----------------------------------------------------------------------------- encodings


def g1_words(p: G1Affine) -> list[int]:
    """EVM encoding of a G1 point; infinity is (0, 0) for the precompiles."""
    return [0, 0] if p is None else [int(p[0]), int(p[1])]


def g2_words(p: G2Affine) -> list[int]:
    """EVM encoding of a G2 point: x1 (imaginary part) first, then x0; same for y (EIP-197)."""
    if p is None:
        return [0, 0, 0, 0]
    (x0, x1), (y0, y1) = p
    return [int(x1), int(x0), int(y1), int(y0)]


def proof_to_evm(proof: Proof) -> list[int]:
    """Proof as the registry's uint256[8]: A.x A.y B.x1 B.x0 B.y1 B.y0 C.x C.y."""
    return [*g1_words(proof.a), *g2_words(proof.b), *g1_words(proof.c)]


def vk_to_words(vk: VerifyingKey) -> list[int]:
    return [
        *g1_words(vk.alpha1),
        *g2_words(vk.beta2),
        *g2_words(vk.gamma2),
        *g2_words(vk.delta2),
        *(w for p in vk.ic for w in g1_words(p)),
    ]


def vk_to_bytes(vk: VerifyingKey) -> bytes:
    """Key blob for Groth16Verifier / SolvencyRegistry.setVerifyingKey (layout in contracts/Groth16.sol)."""
    return b"".join(w.to_bytes(32, "big") for w in vk_to_words(vk))


def verifying_key_hash(vk: VerifyingKey | bytes) -> bytes:
    """keccak256 of the key blob, exactly what ``SolvencyRegistry.verifyingKeyHash()`` returns for ``vk``.

    User and audit code compare a bundle's key with the registry's pinned key through this hash.
    """
    return keccak(vk if isinstance(vk, bytes) else vk_to_bytes(vk))


def batch_roots_hash(roots: Sequence[int]) -> bytes:
    """keccak256 of the batch roots as 32-byte big-endian words, as the registry stores it."""
    return keccak(b"".join(r.to_bytes(32, "big") for r in roots))


def batch_to_abi(bt: BatchStatement, proof: Proof | Sequence[int]) -> tuple[Any, ...]:
    """The registry's Batch struct: root, first, last, count, equity, MM, under-MM count, shortfall,
    bad debt, liabilities[A], proof[8]."""
    words = proof_to_evm(proof) if isinstance(proof, Proof) else list(proof)
    return (
        bt.batch_root,
        bt.first_id_hash,
        bt.last_id_hash,
        bt.account_count,
        bt.total_equity,
        bt.total_mm,
        bt.under_mm_count,
        bt.total_shortfall,
        bt.total_bad_debt,
        list(bt.liabilities),
        words,
    )


def attestation_to_abi(att: EpochAttestation) -> tuple[Any, ...]:
    """The registry's Submission struct: epoch, params commitment, market commitment, prices[A],
    declared accounts, unrepresented accounts, batches[]."""
    if att.market_commitment is None:
        raise ValueError("market_commitment is required")
    declared, unrepresented = att.coverage()
    return (
        att.epoch,
        att.params_commitment,
        att.market_commitment,
        list(att.prices),
        declared,
        unrepresented,
        [batch_to_abi(b, p) for b, p in att.batches],
    )


def params_doc_hash(document: bytes) -> bytes:
    """sha256 of the published parameter document (the registry's ``paramsDocHash``)."""
    return hashlib.sha256(document).digest()


# ----------------------------------------------------------------------------- connection


def connect(rpc_url: str | None = None, timeout: float = 60.0) -> Web3:
    """py-evm in-process when ``rpc_url`` is None, else an HTTP JSON-RPC node at that URL."""
    if rpc_url is None:
        return Web3(EthereumTesterProvider())
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    if not w3.is_connected():
        raise ConnectionError(f"no JSON-RPC node answering at {rpc_url}")
    return w3


def load_artifact(name: str, artifacts_dir: Path | None = None) -> dict[str, Any]:
    path = (artifacts_dir or ARTIFACTS_DIR) / f"{name}.json"
    with open(path, encoding="utf-8") as f:
        art: dict[str, Any] = json.load(f)
    return art


def _reason(e: Exception) -> str:
    msg = getattr(e, "message", None) or (str(e.args[0]) if e.args else str(e))
    for prefix in ("execution reverted: ", "execution reverted:", "revert: "):
        if msg.startswith(prefix):
            return msg[len(prefix) :].strip()
    return msg


class Chain:
    """A web3 connection plus the account that signs: an unlocked node account (py-evm, anvil) or a
    local private key (real chains)."""

    def __init__(self, w3: Web3, sender: str | None = None, private_key: str | None = None) -> None:
        self.w3 = w3
        self.private_key = private_key
        if private_key is not None:
            acct = w3.eth.account.from_key(private_key)
            self.sender = acct.address
        else:
            self.sender = Web3.to_checksum_address(sender or w3.eth.accounts[0])
        self.is_tester = isinstance(w3.provider, EthereumTesterProvider)

    def contract(self, name: str, address: str, artifacts_dir: Path | None = None) -> Contract:
        art = load_artifact(name, artifacts_dir)
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=art["abi"])

    def deploy(self, name: str, *args: Any, artifacts_dir: Path | None = None, sender: str | None = None) -> Contract:
        art = load_artifact(name, artifacts_dir)
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = self.transact(factory.constructor(*args), sender=sender)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])

    def call(self, fn: Any, sender: str | None = None) -> Any:
        try:
            return fn.call({"from": sender or self.sender})
        except _REVERTS as e:
            raise ChainRevert(_reason(e)) from e

    def transact(self, fn: Any, sender: str | None = None, gas: int | None = None) -> Any:
        """Send a contract call (or constructor), wait for the receipt and return it; raise ChainRevert
        with the revert reason on failure."""
        tx: dict[str, Any] = {"from": Web3.to_checksum_address(sender) if sender else self.sender}
        try:
            if gas is None:
                gas = TESTER_GAS if self.is_tester else int(fn.estimate_gas(tx) * GAS_MARGIN) + 30_000
            tx["gas"] = gas
            if self.private_key is not None and sender is None:
                tx_hash = self._send_signed(fn.build_transaction({**tx, "nonce": self._nonce()}))
            else:
                tx_hash = fn.transact(tx)
        except _REVERTS as e:
            raise ChainRevert(_reason(e)) from e
        def replay(block: Any) -> Any:
            if hasattr(fn, "call"):
                return fn.call({"from": tx["from"], "gas": gas}, block_identifier=block)
            data = fn.build_transaction({"from": tx["from"], "gas": gas})["data"]  # a constructor: its init code
            return self.w3.eth.call({"from": tx["from"], "gas": gas, "data": data}, block)

        return self._receipt(tx_hash, replay)

    def send(self, tx: dict[str, Any]) -> Any:
        """Send a raw transaction dict (e.g. a deployment with hand-built init code) and return the receipt."""
        tx = {"from": self.sender, **tx}
        params = cast(TxParams, tx)
        try:
            if "gas" not in tx:
                est = TESTER_GAS if self.is_tester else int(self.w3.eth.estimate_gas(params) * GAS_MARGIN) + 30_000
                tx["gas"] = est
            if self.private_key is not None and tx["from"] == self.sender:
                full = {**tx, "nonce": self._nonce(), "chainId": self.w3.eth.chain_id}
                full.setdefault("gasPrice", self.w3.eth.gas_price)
                tx_hash = self._send_signed(full)
            else:
                tx_hash = self.w3.eth.send_transaction(params)
        except _REVERTS as e:
            raise ChainRevert(_reason(e)) from e
        return self._receipt(tx_hash, lambda block: self.w3.eth.call(params, block_identifier=block))

    def _nonce(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.sender, "pending"))

    def _send_signed(self, tx: dict[str, Any]) -> Any:
        signed = self.w3.eth.account.sign_transaction(tx, self.private_key)
        return self.w3.eth.send_raw_transaction(signed.raw_transaction)

    def _receipt(self, tx_hash: Any, replay: Callable[[int], Any]) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            reason = "transaction failed"
            try:  # replay on the parent state to recover the reason string
                replay(receipt["blockNumber"] - 1)
            except _REVERTS as e:
                reason = _reason(e)
            except Web3RPCError as e:  # e.g. anvil's "EVM error OutOfGas" for a gas-starved replay
                reason = str(getattr(e, "user_message", None) or e.message or e)
            raise ChainRevert(reason, receipt)
        return receipt


# ----------------------------------------------------------------------------- stand-alone verifier

OWN_KEY_MAGIC = 0x7A6B6D617267696E2D67313621  # contracts/Groth16.sol OWN_KEY_MAGIC ("zkmargin-g16!")


def verifier_init_code(vk: VerifyingKey, artifacts_dir: Path | None = None) -> bytes:
    """Init code that deploys Groth16Verifier's runtime with ``vk`` appended (runtime ++ key ++ tag).

    The 12-byte loader copies the rest of the init code to memory and returns it as the runtime code.
    """
    runtime = bytes.fromhex(load_artifact("Groth16Verifier", artifacts_dir)["deployedBytecode"][2:])
    key = vk_to_bytes(vk)
    body = runtime + key + ((OWN_KEY_MAGIC << 32) | len(key)).to_bytes(32, "big")
    if len(body) > 24_576:
        raise ValueError(f"verifier code would be {len(body)} bytes, above the EIP-170 limit")
    return b"\x61" + len(body).to_bytes(2, "big") + bytes.fromhex("80600c6000396000f3") + body


def deploy_verifier(chain: Chain, vk: VerifyingKey, artifacts_dir: Path | None = None) -> Contract:
    """Deploy a Groth16Verifier for ``vk`` and have the contract validate its key on-chain."""
    receipt = chain.send({"data": "0x" + verifier_init_code(vk, artifacts_dir).hex()})
    c = chain.contract("Groth16Verifier", receipt["contractAddress"], artifacts_dir)
    n = chain.call(c.functions.checkKey())
    if n != vk.n_public:
        raise ChainRevert(f"deployed verifier reports {n} public inputs, key has {vk.n_public}")
    return c


# ----------------------------------------------------------------------------- registry client

# Timelock delays used when a deployment does not choose its own (the contract's bounds: tighten >= 1 h,
# loosen >= 1 day, tighten <= loosen <= 90 days).
DEFAULT_TIGHTEN_DELAY = 6 * 3600
DEFAULT_LOOSEN_DELAY = 3 * 86400


@dataclass(frozen=True)
class OnChainAttestation:
    """An attestation as the registry returns it (``SolvencyRegistry.Attestation``)."""

    epoch: int
    timestamp: int
    account_count: int
    batch_count: int
    revoked: bool
    declared_accounts: int
    unrepresented_accounts: int
    under_mm_count: int
    batch_roots_hash: bytes
    params_commitment: int
    market_commitment: int
    total_equity: int
    total_mm: int
    total_shortfall: int
    total_bad_debt: int
    prices: tuple[int, ...]
    liabilities: tuple[int, ...]

    @staticmethod
    def from_abi(t: Any) -> OnChainAttestation:
        return OnChainAttestation(
            epoch=int(t[0]),
            timestamp=int(t[1]),
            account_count=int(t[2]),
            batch_count=int(t[3]),
            revoked=bool(t[4]),
            declared_accounts=int(t[5]),
            unrepresented_accounts=int(t[6]),
            under_mm_count=int(t[7]),
            batch_roots_hash=bytes(t[8]),
            params_commitment=int(t[9]),
            market_commitment=int(t[10]),
            total_equity=int(t[11]),
            total_mm=int(t[12]),
            total_shortfall=int(t[13]),
            total_bad_debt=int(t[14]),
            prices=tuple(int(x) for x in t[15]),
            liabilities=tuple(int(x) for x in t[16]),
        )

    def matches(self, att: EpochAttestation) -> bool:
        """True iff this record is exactly what ``att`` should have produced (revocation aside)."""
        return (
            self.epoch == att.epoch
            and self.account_count == att.account_count
            and self.batch_count == len(att.batches)
            and self.declared_accounts == att.declared_accounts
            and self.unrepresented_accounts == att.unrepresented_accounts
            and self.under_mm_count == att.under_mm_count
            and self.batch_roots_hash == batch_roots_hash(att.batch_roots)
            and self.params_commitment == att.params_commitment
            and self.market_commitment == att.market_commitment
            and self.total_equity == att.total_equity
            and self.total_mm == att.total_mm
            and self.total_shortfall == att.total_shortfall
            and self.total_bad_debt == att.total_bad_debt
            and self.prices == tuple(att.prices)
            and self.liabilities == att.liabilities
        )


@dataclass(frozen=True)
class SolvencyStatus:
    """``SolvencyRegistry.solvencyStatus()``: the latest attestation's figures plus the insurance fund now."""

    has_attestation: bool
    epoch: int
    timestamp: int
    account_count: int
    declared_accounts: int
    unrepresented_accounts: int
    under_mm_count: int
    total_shortfall: int
    total_bad_debt: int
    insurance_fund_value: int  # micro-USD
    revoked: bool
    development_mode: bool
    max_unrepresented_ppm: int  # the governed tolerance isSolvent() applies

    @staticmethod
    def from_abi(t: Any) -> SolvencyStatus:
        return SolvencyStatus(
            bool(t[0]), int(t[1]), int(t[2]), int(t[3]), int(t[4]), int(t[5]), int(t[6]), int(t[7]), int(t[8]),
            int(t[9]), bool(t[10]), bool(t[11]), int(t[12]),
        )  # fmt: skip


@dataclass(frozen=True)
class GovernedParams:
    """The active parameter set (``paramsCommitment``, ``paramsVersion``, ``paramsDocHash``)."""

    commitment: int
    version: int
    doc_hash: bytes


@dataclass(frozen=True)
class PendingParams:
    commitment: int
    version: int
    doc_hash: bytes
    tightening: bool
    activates_at: int  # 0: nothing pending


@dataclass(frozen=True)
class BatchEvent:
    epoch: int
    index: int
    batch_root: int
    first_id_hash: int
    last_id_hash: int
    account_count: int
    total_equity: int
    total_mm: int
    under_mm_count: int
    total_shortfall: int
    total_bad_debt: int
    block_number: int


class SolvencyRegistryClient:
    """Typed wrapper around a deployed SolvencyRegistry: views, events and (for the accounts that hold the
    roles) the governance and operator transactions. ``sender`` defaults to the chain's account."""

    def __init__(self, chain: Chain, contract: Contract) -> None:
        self.chain = chain
        self.contract = contract

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @classmethod
    def at(cls, chain: Chain, address: str) -> SolvencyRegistryClient:
        return cls(chain, chain.contract("SolvencyRegistry", address))

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        vk: VerifyingKey | None,
        n_assets: int,
        price_decimals: int,
        tolerance_bps: int,
        max_feed_age: int,
        operators: Sequence[str] = (),
        feeds: Sequence[Sequence[str]] = (),
        *,
        governance: str | None = None,
        params: tuple[int, int, bytes] | None = None,
        tighten_delay: int = DEFAULT_TIGHTEN_DELAY,
        loosen_delay: int = DEFAULT_LOOSEN_DELAY,
        development_mode: bool = False,
        insurance_fund: tuple[str, str] | None = None,
        first_epoch: int = 1,
        max_unrepresented_ppm: int = 0,
    ) -> SolvencyRegistryClient:
        """Deploy from the chain's account with ``governance`` (default: that account) as governance, then,
        as governance and before any attestation (so without delay): the initial key, the initial
        parameters ``params`` = (commitment, version, doc_hash), the feeds per asset, the insurance fund
        (token, holder) and the operators."""
        gov = Web3.to_checksum_address(governance or chain.sender)
        c = chain.deploy(
            "SolvencyRegistry",
            n_assets,
            price_decimals,
            tolerance_bps,
            max_feed_age,
            tighten_delay,
            loosen_delay,
            development_mode,
            gov,
            first_epoch,
        )
        reg = cls(chain, c)
        s = None if gov == chain.sender else gov  # None: the chain's own (possibly private-key) account
        if vk is not None:
            reg.set_initial_verifying_key(vk, sender=s)
        if params is not None:
            reg.set_initial_params(*params, sender=s)
        for asset, fs in enumerate(feeds):
            reg.set_price_feeds(asset, fs, sender=s)
        if insurance_fund is not None:
            reg.set_insurance_fund(*insurance_fund, sender=s)
        if max_unrepresented_ppm:
            reg.set_max_unrepresented_ppm(max_unrepresented_ppm, sender=s)
        for op in operators:
            reg.set_operator(op, True, sender=s)
        return reg

    def _tx(self, fn: Any, sender: str | None) -> Any:
        return self.chain.transact(fn, sender=sender)

    # ---- governance: roles
    def propose_governance(self, new_governance: str, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.proposeGovernance(Web3.to_checksum_address(new_governance)), sender)

    def accept_governance(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.acceptGovernance(), sender)

    def set_operator(self, operator: str, enabled: bool, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.setOperator(Web3.to_checksum_address(operator), enabled), sender)

    def pause(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.pause(), sender)

    def unpause(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.unpause(), sender)

    def revoke_attestation(self, epoch: int, reason: str, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.revokeAttestation(epoch, reason), sender)

    # ---- governance: key and parameters (timelocked once anything is attested)
    def set_initial_verifying_key(self, vk: VerifyingKey | bytes, sender: str | None = None) -> Any:
        blob = vk if isinstance(vk, bytes) else vk_to_bytes(vk)
        return self._tx(self.contract.functions.setInitialVerifyingKey(blob), sender)

    def propose_verifying_key(self, vk: VerifyingKey | bytes, sender: str | None = None) -> Any:
        blob = vk if isinstance(vk, bytes) else vk_to_bytes(vk)
        return self._tx(self.contract.functions.proposeVerifyingKey(blob), sender)

    def activate_verifying_key(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.activateVerifyingKey(), sender)

    def cancel_verifying_key(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.cancelVerifyingKey(), sender)

    def set_initial_params(self, commitment: int, version: int, doc_hash: bytes, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.setInitialParams(commitment, version, doc_hash), sender)

    def propose_params(
        self, commitment: int, version: int, doc_hash: bytes, tightening: bool, sender: str | None = None
    ) -> Any:
        return self._tx(self.contract.functions.proposeParams(commitment, version, doc_hash, tightening), sender)

    def activate_params(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.activateParams(), sender)

    def cancel_params(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.cancelParams(), sender)

    # ---- governance: feeds, band, insurance fund
    def set_price_feeds(self, asset: int, feeds: Sequence[str], sender: str | None = None) -> Any:
        fs = [Web3.to_checksum_address(f) for f in feeds]
        return self._tx(self.contract.functions.setPriceFeeds(asset, fs), sender)

    def set_price_band(self, tolerance_bps: int, max_feed_age: int, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.setPriceBand(tolerance_bps, max_feed_age), sender)

    def set_max_unrepresented_ppm(self, ppm: int, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.setMaxUnrepresentedPpm(ppm), sender)

    def set_insurance_fund(self, token: str, holder: str, sender: str | None = None) -> Any:
        fn = self.contract.functions.setInsuranceFund(Web3.to_checksum_address(token), Web3.to_checksum_address(holder))
        return self._tx(fn, sender)

    # ---- operator
    def submit(self, att: EpochAttestation | tuple[Any, ...], sender: str | None = None, gas: int | None = None) -> Any:
        """Submit an epoch attestation (or an already ABI-shaped tuple, for adversarial tests)."""
        payload = attestation_to_abi(att) if isinstance(att, EpochAttestation) else att
        return self.chain.transact(self.contract.functions.submitAttestation(payload), sender=sender, gas=gas)

    # ---- views
    def max_feed_age(self) -> int:
        """Seconds a feed answer (and, by the audit's rule, the epoch's market snapshot) may lag the chain."""
        return int(self._view("maxFeedAge"))

    def _view(self, name: str, *args: Any) -> Any:
        return self.chain.call(getattr(self.contract.functions, name)(*args))

    def latest(self) -> OnChainAttestation:
        return OnChainAttestation.from_abi(self._view("latestAttestation"))

    def attestation_of(self, epoch: int) -> OnChainAttestation:
        return OnChainAttestation.from_abi(self._view("attestationOf", epoch))

    def is_solvent(self) -> tuple[bool, int, int, bool]:
        """(solvent, epoch, accounts covered by proofs, development mode)."""
        solvent, epoch, accounts, dev = self._view("isSolvent")
        return bool(solvent), int(epoch), int(accounts), bool(dev)

    def solvency_status(self) -> SolvencyStatus:
        return SolvencyStatus.from_abi(self._view("solvencyStatus"))

    def is_fresh(self, max_age: int) -> bool:
        return bool(self._view("isFresh", max_age))

    def is_solvent_and_fresh(self, max_age: int) -> bool:
        return bool(self._view("isSolventAndFresh", max_age))

    def insurance_fund_value(self) -> int:
        return int(self._view("insuranceFundValue"))

    def governance(self) -> str:
        return str(self._view("governance"))

    def pending_governance(self) -> str:
        return str(self._view("pendingGovernance"))

    def is_operator(self, address: str) -> bool:
        return bool(self._view("isOperator", Web3.to_checksum_address(address)))

    def development_mode(self) -> bool:
        return bool(self._view("developmentMode"))

    def paused(self) -> bool:
        return bool(self._view("paused"))

    def delays(self) -> tuple[int, int]:
        """(tightenDelay, loosenDelay) in seconds."""
        return int(self._view("tightenDelay")), int(self._view("loosenDelay"))

    def verifying_key_hash(self) -> bytes:
        """The pinned key's keccak256; compare with :func:`verifying_key_hash` of a bundle's key."""
        return bytes(self._view("verifyingKeyHash"))

    def pending_verifying_key(self) -> tuple[str, bytes, int]:
        """(key data contract, keccak256 of the key, activation time); activation time 0: none pending."""
        ptr, h, at = self._view("pendingVerifyingKey")
        return str(ptr), bytes(h), int(at)

    def params(self) -> GovernedParams:
        return GovernedParams(
            int(self._view("paramsCommitment")), int(self._view("paramsVersion")), bytes(self._view("paramsDocHash"))
        )

    def pending_params(self) -> PendingParams:
        c, v, d, t, at = self._view("pendingParams")
        return PendingParams(int(c), int(v), bytes(d), bool(t), int(at))

    def latest_epoch(self) -> int | None:
        if not self._view("hasAttestation"):
            return None
        return int(self._view("latestEpoch"))

    # ---- events
    def attestation_events(self, from_block: int = 0, to_block: int | str = "latest") -> list[Any]:
        return list(self.contract.events.AttestationSubmitted().get_logs(from_block=from_block, to_block=to_block))

    def verifying_key_hashes(self, from_block: int = 0, to_block: int | str = "latest") -> list[bytes]:
        """Every key hash the registry ever activated, oldest first (a bundle proven before a timelocked key
        rotation still names a key the registry really held)."""
        evs = self.contract.events.VerifyingKeyChanged().get_logs(from_block=from_block, to_block=to_block)
        return [bytes(e["args"]["keyHash"]) for e in evs]

    def revocation_events(self, from_block: int = 0, to_block: int | str = "latest") -> list[Any]:
        return list(self.contract.events.AttestationRevoked().get_logs(from_block=from_block, to_block=to_block))

    def batch_events(self, from_block: int = 0, to_block: int | str = "latest") -> list[BatchEvent]:
        out = []
        for ev in self.contract.events.BatchAttested().get_logs(from_block=from_block, to_block=to_block):
            a = ev["args"]
            t = [int(x) for x in a["totals"]]
            out.append(
                BatchEvent(
                    int(a["epoch"]),
                    int(a["index"]),
                    int(a["batchRoot"]),
                    int(a["firstIdHash"]),
                    int(a["lastIdHash"]),
                    t[0],
                    t[1],
                    t[2],
                    t[3],
                    t[4],
                    t[5],
                    int(ev["blockNumber"]),
                )
            )
        return out

    def batch_covering(self, id_hash: int, epoch: int, from_block: int = 0) -> BatchEvent | None:
        """The batch of ``epoch`` whose id range covers ``id_hash`` (where a user finds their root)."""
        for b in self.batch_events(from_block):
            if b.epoch == epoch and b.first_id_hash <= id_hash <= b.last_id_hash:
                return b
        return None

    def follow(
        self,
        from_block: int = 0,
        poll_interval: float = 2.0,
        stop: Callable[[], bool] | None = None,
    ) -> Iterator[Any]:
        """Yield AttestationSubmitted events as blocks arrive (polling; works on any JSON-RPC node)."""
        nxt = from_block
        while True:
            head = self.chain.w3.eth.block_number
            if head >= nxt:
                yield from self.attestation_events(nxt, head)
                nxt = head + 1
            if stop is not None and stop():
                return
            time.sleep(poll_interval)
