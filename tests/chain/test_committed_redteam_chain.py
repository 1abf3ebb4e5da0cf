"""Red team, on-chain: attacks on the commitment-slot contracts that tests/chain/test_committed_chain.py and
test_registry_committed.py do not already cover (see /work/coord/status-redteam.md for the whole list).

The circuit is made so that its soundness rests on the challenge ALONE: ``c * (out - y^2) == x`` with x committed.
With x fixed before c (the challenge), only ``out = y^2, x = 0`` passes; a prover free to pick c = 0 proves any
``out``. So a verifier that lets the prover choose the challenge accepts a false ``out``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from committed_circuits import challenge_only

from zkmargin.circuits.curve import G1_GEN, g1_add_aff, g1_neg
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.operator.chain_writes import SigningChain, deploy_batch_verifier
from zkmargin.prover.operator.committed_deploy import committed_verifier_init_code, deploy_committed_verifier
from zkmargin.verifier.chain import ChainRevert, connect
from zkmargin.verifier.chain_encoding import committed_vk_to_bytes
from zkmargin.verifier.committed import CommittedProof, derive_challenge, verify_committed
from zkmargin.verifier.committed_chain import CONTRACT, committed_proof_to_evm
from zkmargin.verifier.types import Proof

_circuit = challenge_only


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    cs = _circuit()
    pk = dev_setup_committed(cs.compile())
    chain = SigningChain(connect())
    blob = committed_vk_to_bytes(pk.vk)
    # a key data contract exactly as SolvencyRegistry._storeKey writes it: a STOP byte, then the blob
    init = b"\x61" + (len(blob) + 1).to_bytes(2, "big") + bytes.fromhex("80600c6000396000f300") + blob
    key_ptr = chain.send({"data": "0x" + init.hex()})["contractAddress"]
    return {
        "cs": cs,
        "pk": pk,
        "chain": chain,
        "single": deploy_committed_verifier(chain, pk.vk),
        "batch": deploy_batch_verifier(chain),
        "key_ptr": key_ptr,
    }


def _false_statement_proof(pk: CommittedProvingKey, cs: ConstraintSystem) -> tuple[Any, list[int]]:
    """out = 5 for y = 2 (false: 4): the witness with x = 0 and the prover's own challenge 0. A, B, C are an honest
    Groth16 proof of that witness under the committed key's base (x = 0: nothing would go into D)."""
    w = cs.witness({"y": 2, "out": 5, "x": 0}, commit=lambda v, p: 0)
    cs.compile().check(w)  # the circuit holds at the prover's challenge
    p, public = prove(pk.base, w)
    return p, public  # public = [y, out, challenge = 0]


def test_honest_control(deployed: dict[str, Any]) -> None:
    """Control: an honest proof of out = y^2 passes every verifier, through the batch verifier with the right count."""
    pk, cs, chain = deployed["pk"], deployed["cs"], deployed["chain"]
    proof, public = prove_committed(pk, cs, {"y": 3, "out": 9, "x": 0})
    assert verify_committed(pk.vk, proof, public)
    p8, d2 = committed_proof_to_evm(proof)
    assert chain.call(deployed["single"].functions.verifyProof(p8, d2, public)) is True
    batch = deployed["batch"].functions.verifyBatches(deployed["key_ptr"], True, 2, 0, [], [*public, *p8, *d2])
    assert chain.call(batch) is True


def test_false_statement_with_chosen_challenge_rejected_by_committed_paths(deployed: dict[str, Any]) -> None:
    """The forged proof (any D: take the honest-looking D of x = 0, the mask base times 1) under the committed
    verifiers: the challenge is derived from D, not 0, so the pairing fails."""
    pk, cs, chain = deployed["pk"], deployed["cs"], deployed["chain"]
    p, public = _false_statement_proof(pk, cs)
    assert public[:2] == [2, 5] and public[2] == 0
    # D = 1 * [k/eta]_1 and C shifted by -[k/delta]_1: a well-formed commitment to x = 0 with mask 1
    d = pk.commitment.bases[-1]
    forged = CommittedProof(Proof(p.a, p.b, g1_add_aff(p.c, g1_neg(pk.commitment.mask_delta))), d)
    assert not verify_committed(pk.vk, forged, public[:2])
    p8, d2 = committed_proof_to_evm(forged)
    with pytest.raises(ChainRevert, match="Groth16C: invalid proof"):
        chain.call(deployed["single"].functions.verifyProof(p8, d2, public[:2]))
    batch = deployed["batch"].functions.verifyBatches(deployed["key_ptr"], True, 2, 0, [], [*public[:2], *p8, *d2])
    with pytest.raises(ChainRevert, match="Groth16C: invalid proof"):
        chain.call(batch)


def test_batch_verifier_kind_confusion_rejected(deployed: dict[str, Any]) -> None:
    """Found by the red team (2026-12-01): verifyBatches inferred the key kind from its length and the caller's
    nPublic, and a committed key for n inputs is exactly as long as a plain key for n + 3. A caller that takes
    nPublic from the submitted inputs (a natural pattern) let the prover pass n + 3 and get the PLAIN check: the
    challenge an input the prover picks, [eta]_2's words two IC points a zero input never touches, D unchecked, and
    this false statement verified. The caller now states the kind, pinned with the key (the registry passes
    ``verifyingKeyCommitted``), and whatever count reaches the verifier, a committed key is only checked as one."""
    pk, cs, chain = deployed["pk"], deployed["cs"], deployed["chain"]
    p, public = _false_statement_proof(pk, cs)
    p8, d2 = committed_proof_to_evm(CommittedProof(p, pk.commitment.bases[-1]))
    inputs = [*public, 0, 0]  # y, out (false), the challenge (chosen: 0), and two zeros for [eta]_2's words
    assert pk.vk.n_public + 3 == len(inputs)
    batch = deployed["batch"].functions
    with pytest.raises(ChainRevert, match="Groth16B: key does not match the kind and input count"):
        chain.call(batch.verifyBatches(deployed["key_ptr"], True, len(inputs), 0, [], [*inputs, *p8]))
    with pytest.raises(ChainRevert, match="Groth16B: key does not match the kind and input count"):
        chain.call(batch.verifyBatches(deployed["key_ptr"], True, len(inputs), 0, [], [*inputs, *p8, *d2]))
    # the attack needed the plain reading; only a caller that declares a committed key plain gets it (misconfigured
    # like one pointing at another key): the kind is part of what a caller pins, as the registry does
    assert chain.call(batch.verifyBatches(deployed["key_ptr"], False, len(inputs), 0, [], [*inputs, *p8])) is True


def test_batch_verifier_plain_key_stated_committed_rejected(deployed: dict[str, Any]) -> None:
    """A committed key stated plain at its own input count is refused by the length rule before any pairing."""
    pk, cs, chain = deployed["pk"], deployed["cs"], deployed["chain"]
    p, public = _false_statement_proof(pk, cs)
    p8, _ = committed_proof_to_evm(CommittedProof(p, pk.commitment.bases[-1]))
    with pytest.raises(ChainRevert, match="Groth16B: key does not match the kind and input count"):
        chain.call(deployed["batch"].functions.verifyBatches(deployed["key_ptr"], False, 2, 0, [], [*public[:2], *p8]))


def test_unchecked_deployment_with_eta_at_infinity(deployed: dict[str, Any]) -> None:
    """A careless deployer skips checkKey with [eta]_2 = (0, 0, 0, 0), the precompile's infinity, under which
    e(D, O) = 1 empties the slot and D binds nothing. Found by the red team: the per-call rule named only
    +-generator/gamma/delta/beta; it now refuses infinity too, on every call, as checkKey does."""
    pk, cs, chain = deployed["pk"], deployed["cs"], deployed["chain"]
    bad = dataclasses.replace(pk.vk, g2_eta=None)
    receipt = chain.send({"data": "0x" + committed_verifier_init_code(bad).hex()})
    v = chain.contract(CONTRACT, receipt["contractAddress"])
    with pytest.raises(ChainRevert, match="Groth16C: key G2 point at infinity"):
        chain.call(v.functions.checkKey())
    ch = derive_challenge(G1_GEN, [3, 9])  # a true statement (out = 9 for y = 3, x = 0) with D = G1, bound to nothing
    w = cs.witness({"y": 3, "out": 9, "x": 0}, commit=lambda vals, pub: ch)
    q, _ = prove(pk.base, w)
    q8, _ = committed_proof_to_evm(CommittedProof(q, G1_GEN))
    with pytest.raises(ChainRevert, match="Groth16C: key G2 point at infinity"):
        chain.call(v.functions.verifyProof(q8, [1, 2], [3, 9]))
