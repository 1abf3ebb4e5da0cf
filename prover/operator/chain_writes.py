"""Every transaction the operator side sends: signing, contract deployment, the registry's governance and operator
transactions.

Why apart from ``zkmargin.verifier.chain``: users and auditors only read the chain. Keeping signing, deployment and
the state-changing registry calls here means the verifier side has no code path that changes chain state, and an
audit never needs a key.

Gas: the registry and verifier revert on every failure, so ``eth_estimateGas`` is honest on real nodes and is used
there. On py-evm, eth-tester's estimate is a binary search that re-runs the pairings a dozen times, so transactions
get an explicit gas ceiling instead and failures are replayed as a call to recover the revert reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3RPCError
from web3.types import TxParams

from zkmargin.circuits.rules.price_box_document import GovernedBox
from zkmargin.verifier.attestation import BatchStatement, EpochAttestation
from zkmargin.verifier.chain import (
    REVERTS,
    Chain,
    ChainRevert,
    SolvencyRegistryClient,
    attestation_commitments,
    attestation_to_abi,
    batch_words,
    is_committed_attestation,
    key_blob,
    load_artifact,
    revert_reason,
    submission_calls,
    vk_to_bytes,
)
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey
from zkmargin.verifier.types import Proof, VerifyingKey

TESTER_GAS = 29_000_000  # under eth-tester's ~30M block gas limit
GAS_MARGIN = 1.2
# Timelock delays used when a deployment does not choose its own (the contract's bounds: tighten >= 1 h,
# loosen >= 1 day, tighten <= loosen <= 90 days).
DEFAULT_TIGHTEN_DELAY = 6 * 3600
DEFAULT_LOOSEN_DELAY = 3 * 86400
OWN_KEY_MAGIC = 0x7A6B6D617267696E2D67313621  # contracts/Groth16.sol OWN_KEY_MAGIC ("zkmargin-g16!")


class SigningChain(Chain):
    """A chain connection that signs: an unlocked node account (py-evm, anvil) or a local private key (real
    chains)."""

    def __init__(self, w3: Web3, sender: str | None = None, private_key: str | None = None) -> None:
        self.private_key = private_key
        if private_key is not None:
            sender = w3.eth.account.from_key(private_key).address
        super().__init__(w3, sender)

    def deploy(self, name: str, *args: Any, artifacts_dir: Path | None = None, sender: str | None = None) -> Contract:
        art = load_artifact(name, artifacts_dir)
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = self.transact(factory.constructor(*args), sender=sender)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])

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
        except REVERTS as e:
            raise ChainRevert(revert_reason(e)) from e

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
        except REVERTS as e:
            raise ChainRevert(revert_reason(e)) from e
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
            except REVERTS as e:
                reason = revert_reason(e)
            except Web3RPCError as e:  # e.g. anvil's "EVM error OutOfGas" for a gas-starved replay
                reason = str(getattr(e, "user_message", None) or e.message or e)
            raise ChainRevert(reason, receipt)
        return receipt


# ----------------------------------------------------------------------------- stand-alone verifier


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


def deploy_verifier(chain: SigningChain, vk: VerifyingKey, artifacts_dir: Path | None = None) -> Contract:
    """Deploy a Groth16Verifier for ``vk`` and have the contract validate its key on-chain."""
    receipt = chain.send({"data": "0x" + verifier_init_code(vk, artifacts_dir).hex()})
    c = chain.contract("Groth16Verifier", receipt["contractAddress"], artifacts_dir)
    n = chain.call(c.functions.checkKey())
    if n != vk.n_public:
        raise ChainRevert(f"deployed verifier reports {n} public inputs, key has {vk.n_public}")
    return c


def deploy_batch_verifier(chain: SigningChain, artifacts_dir: Path | None = None) -> Contract:
    """Deploy the stateless Groth16BatchVerifier a registry verifies every proof through (one per chain suffices:
    it holds no key and no state)."""
    return chain.deploy("Groth16BatchVerifier", artifacts_dir=artifacts_dir)


def deploy_feed_median(chain: SigningChain, artifacts_dir: Path | None = None) -> Contract:
    """Deploy the stateless FeedMedian a registry reads every feed median through (at submission and in its live
    view); like the batch verifier it holds no state, so one per chain suffices."""
    return chain.deploy("FeedMedian", artifacts_dir=artifacts_dir)


def deploy_batch_tree(chain: SigningChain, artifacts_dir: Path | None = None) -> Contract:
    """Deploy the stateless, pure BatchTree a registry applies update epochs' ops through (incremental epochs); like
    the batch verifier it holds no state, so one per chain suffices."""
    return chain.deploy("BatchTree", artifacts_dir=artifacts_dir)


# ----------------------------------------------------------------------------- registry transactions


class SolvencyRegistryWriter(SolvencyRegistryClient):
    """The registry client plus the transactions of the roles the caller holds (governance, operator).
    ``sender`` defaults to the chain's account."""

    chain: SigningChain

    def __init__(self, chain: SigningChain, contract: Contract) -> None:
        super().__init__(chain, contract)

    @classmethod
    def at(cls, chain: Chain, address: str) -> SolvencyRegistryWriter:
        if not isinstance(chain, SigningChain):
            raise TypeError("chain: a SigningChain is needed to send transactions (use SolvencyRegistryClient)")
        return cls(chain, chain.contract("SolvencyRegistry", address))

    @classmethod
    def deploy(
        cls,
        chain: SigningChain,
        vk: VerifyingKey | CommittedVerifyingKey | None,
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
        batch_verifier: str | None = None,
        box: GovernedBox | None = None,
        feed_median: str | None = None,
        max_attestation_age: int | None = None,
        batch_tree: str | None = None,
    ) -> SolvencyRegistryWriter:
        """Deploy from the chain's account with ``governance`` (default: that account) as governance, then,
        as governance and before any attestation (so without delay): the initial key (plain, or committed: the
        registry then takes committed proofs only), the initial parameters ``params`` = (commitment, version,
        doc_hash), the feeds per asset, the insurance fund (token, holder) and the operators.

        ``batch_verifier`` / ``feed_median`` / ``batch_tree``: the addresses of a deployed Groth16BatchVerifier /
        FeedMedian / BatchTree (immutable in the registry); None deploys a new one. ``box``: the price box declared
        with ``params`` (read from the governed document with ``governed_box``; None: a point attestation).
        ``max_attestation_age``: the live view's governed maximum age (None: the registry's default, 1 day)."""
        gov = Web3.to_checksum_address(governance or chain.sender)
        bv = batch_verifier or str(deploy_batch_verifier(chain).address)
        fm = feed_median or str(deploy_feed_median(chain).address)
        bt = batch_tree or str(deploy_batch_tree(chain).address)
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
            Web3.to_checksum_address(bv),
            Web3.to_checksum_address(fm),
            Web3.to_checksum_address(bt),
        )
        reg = cls(chain, c)
        s = None if gov == chain.sender else gov  # None: the chain's own (possibly private-key) account
        if vk is not None:
            reg.set_initial_verifying_key(vk, sender=s)
        if params is not None:
            reg.set_initial_params(*params, sender=s, box=box)
        for asset, fs in enumerate(feeds):
            reg.set_price_feeds(asset, fs, sender=s)
        if insurance_fund is not None:
            reg.set_insurance_fund(*insurance_fund, sender=s)
        if max_unrepresented_ppm:
            reg.set_max_unrepresented_ppm(max_unrepresented_ppm, sender=s)
        if max_attestation_age is not None:
            reg.set_max_attestation_age(max_attestation_age, sender=s)
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
    def set_initial_verifying_key(
        self, vk: VerifyingKey | CommittedVerifyingKey | bytes, sender: str | None = None
    ) -> Any:
        return self._tx(self.contract.functions.setInitialVerifyingKey(key_blob(vk)), sender)

    def propose_verifying_key(self, vk: VerifyingKey | CommittedVerifyingKey | bytes, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.proposeVerifyingKey(key_blob(vk)), sender)

    def activate_verifying_key(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.activateVerifyingKey(), sender)

    def cancel_verifying_key(self, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.cancelVerifyingKey(), sender)

    def set_initial_params(
        self,
        commitment: int,
        version: int,
        doc_hash: bytes,
        sender: str | None = None,
        *,
        box: GovernedBox | None = None,
        box_words: tuple[int, int] | None = None,
    ) -> Any:
        """``setInitialParams`` with the commitment's price box: ``box`` (``governed_box`` of the governed document,
        the single source; None: a point attestation) or, for adversarial tests, the raw (boxPpm, boxAssets)."""
        ppm, mask = _box_words(box, box_words)
        return self._tx(self.contract.functions.setInitialParams(commitment, version, doc_hash, ppm, mask), sender)

    def propose_params(
        self,
        commitment: int,
        version: int,
        doc_hash: bytes,
        tightening: bool,
        sender: str | None = None,
        *,
        box: GovernedBox | None = None,
        box_words: tuple[int, int] | None = None,
    ) -> Any:
        """``proposeParams`` with the commitment's price box (as :meth:`set_initial_params`)."""
        ppm, mask = _box_words(box, box_words)
        fn = self.contract.functions.proposeParams(commitment, version, doc_hash, ppm, mask, tightening)
        return self._tx(fn, sender)

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

    def set_max_attestation_age(self, seconds: int, sender: str | None = None) -> Any:
        return self._tx(self.contract.functions.setMaxAttestationAge(seconds), sender)

    def set_insurance_fund(self, token: str, holder: str, sender: str | None = None) -> Any:
        fn = self.contract.functions.setInsuranceFund(Web3.to_checksum_address(token), Web3.to_checksum_address(holder))
        return self._tx(fn, sender)

    # ---- operator
    def submit(
        self,
        att: EpochAttestation | tuple[Any, ...],
        sender: str | None = None,
        gas: int | None = None,
        commitments: Sequence[Sequence[int]] | None = None,
        committed: bool | None = None,
    ) -> Any:
        """Submit a whole epoch in one transaction (``submitAttestation``: open, add every batch, finalize).

        ``att`` is an attestation or an already ABI-shaped tuple (:func:`attestation_to_abi`'s, for adversarial
        tests). An attestation whose batch proofs are CommittedProofs is sent as committed with each batch's D;
        ``commitments`` (tests) gives the D words explicitly and ``committed`` overrides the stated kind."""
        header, words, kind = self._encode(att, commitments, committed)
        fn = self.contract.functions.submitAttestation(header, kind, words)
        return self.chain.transact(fn, sender=sender, gas=gas)

    def open_epoch(
        self, att: EpochAttestation | tuple[Any, ...], sender: str | None = None, batch_count: int | None = None
    ) -> Any:
        """``openEpoch`` with ``att``'s header (epoch, commitments, prices, coverage, batch count)."""
        payload = attestation_to_abi(att) if isinstance(att, EpochAttestation) else att
        header, _ = submission_calls(payload, None, batch_count)
        return self.chain.transact(self.contract.functions.openEpoch(header), sender=sender)

    def add_batches(
        self,
        att: EpochAttestation | tuple[Any, ...],
        start: int,
        stop: int,
        sender: str | None = None,
        gas: int | None = None,
        commitments: Sequence[Sequence[int]] | None = None,
        committed: bool | None = None,
        epoch: int | None = None,
    ) -> Any:
        """``addBatches`` with batches ``start .. stop - 1`` of ``att`` (``epoch`` overrides the target epoch)."""
        header, words, kind = self._encode(att, commitments, committed, (start, stop))
        ep = header[0] if epoch is None else epoch
        return self.chain.transact(self.contract.functions.addBatches(ep, kind, words), sender=sender, gas=gas)

    def finalize_epoch(self, epoch: int, sender: str | None = None) -> Any:
        return self.chain.transact(self.contract.functions.finalizeEpoch(epoch), sender=sender)

    def abandon_epoch(self, epoch: int, sender: str | None = None) -> Any:
        return self.chain.transact(self.contract.functions.abandonEpoch(epoch), sender=sender)

    def submit_update(
        self,
        epoch: int,
        batches: Sequence[tuple[BatchStatement, Proof | CommittedProof]],
        ops_words: Sequence[int],
        declared_accounts: int,
        unrepresented_accounts: int = 0,
        sender: str | None = None,
        gas: int | None = None,
        committed: bool | None = None,
        words: Sequence[int] | None = None,
    ) -> Any:
        """``submitUpdate``: an update epoch (latest + 1) whose new ``batches`` (proven at the latest attestation's
        box centre, in op order: one per REPLACE, left then right per SPLIT) replace or split the slots that
        ``ops_words`` name (``batch_tree.encode_ops``); every other slot is carried forward. ``words`` (tests)
        overrides the encoded batch words, ``committed`` the stated kind."""
        enc, kind = batch_words(batches)
        fn = self.contract.functions.submitUpdate(
            epoch,
            declared_accounts,
            unrepresented_accounts,
            kind if committed is None else committed,
            list(enc if words is None else words),
            [int(w) for w in ops_words],
        )
        return self.chain.transact(fn, sender=sender, gas=gas)

    def submit_in_parts(
        self, att: EpochAttestation, batches_per_tx: int, sender: str | None = None, gas: int | None = None
    ) -> list[Any]:
        """Open, add ``batches_per_tx`` batches per transaction, finalize: for epochs too large for one transaction
        (a block's gas limit). Returns every receipt, the finalizing one last."""
        if batches_per_tx < 1:
            raise ValueError(f"batches_per_tx: {batches_per_tx}, must be >= 1")
        receipts = [self.open_epoch(att, sender=sender)]
        n = len(att.batches)
        for start in range(0, n, batches_per_tx):
            receipts.append(self.add_batches(att, start, min(n, start + batches_per_tx), sender=sender, gas=gas))
        receipts.append(self.finalize_epoch(att.epoch, sender=sender))
        return receipts

    @staticmethod
    def _encode(
        att: EpochAttestation | tuple[Any, ...],
        commitments: Sequence[Sequence[int]] | None,
        committed: bool | None,
        span: tuple[int, int] | None = None,
    ) -> tuple[tuple[Any, ...], list[int], bool]:
        payload = attestation_to_abi(att) if isinstance(att, EpochAttestation) else att
        if commitments is None and isinstance(att, EpochAttestation) and is_committed_attestation(att):
            commitments = attestation_commitments(att)
        n = len(payload[6])
        if span is not None:
            payload = (*payload[:6], list(payload[6])[span[0] : span[1]])
            if commitments is not None:
                commitments = list(commitments)[span[0] : span[1]]
        header, words = submission_calls(payload, commitments, n)
        kind = commitments is not None if committed is None else committed
        return header, words, kind


def _box_words(box: GovernedBox | None, words: tuple[int, int] | None) -> tuple[int, int]:
    """The registry's (boxPpm, boxAssets) words of a governed box (a point box when neither is given)."""
    if box is not None and words is not None:
        raise ValueError("box and box_words: give one")
    if words is not None:
        return words
    b = box if box is not None else GovernedBox()
    return b.box_ppm, b.mask
