"""One multi-pairing per submission (random linear combination, docs/statement.md): the attacks a batch check must
survive. Each proof is valid alone or not; the fold must never let an invalid one through, whatever the others are.

The weights come from keccak256 over every proof, commitment and input of the call (and the key): the
"cancelling errors" attack below is built for the weights of the honest submission, and fails because changing
the proofs changes the weights."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chain_env import Deployment
from eth_utils import keccak

from zkmargin.circuits.curve import G1_GEN, g1_add_aff, g1_mul, g1_neg
from zkmargin.circuits.field import R
from zkmargin.verifier.attestation import EpochAttestation, check_attestation
from zkmargin.verifier.chain import ChainRevert, attestation_to_abi, submission_calls
from zkmargin.verifier.chain_encoding import attestation_commitments, batch_seed, batch_weight
from zkmargin.verifier.committed import CommittedProof
from zkmargin.verifier.types import Proof

SHARED = (0, 2, 3)  # epoch, params commitment, market commitment; then the prices (12 .. 12 + A - 1)


def _reverts(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(ChainRevert) as e:
        fn(*args, **kw)
    return e.value.reason


def _python_rejects(vk: Any, att: EpochAttestation) -> bool:
    try:
        check_attestation(vk, att)
    except Exception:
        return True
    return False


def _with_proofs(att: EpochAttestation, proofs: list[Any]) -> EpochAttestation:
    return dataclasses.replace(att, batches=tuple((bt, p) for (bt, _), p in zip(att.batches, proofs, strict=True)))


def _plain(p: Any) -> Proof:
    assert isinstance(p, Proof)
    return p


def _call_args(env: Deployment, att: EpochAttestation) -> tuple[str, bool, int, int, list[int], list[int]]:
    """The verifyBatches arguments the registry passes for ``att``."""
    n_assets = len(att.prices)
    committed = isinstance(att.batches[0][1], CommittedProof)
    header, words = submission_calls(attestation_to_abi(att), attestation_commitments(att) if committed else None)
    mask = sum(1 << j for j in (*SHARED, *range(12, 12 + n_assets)))
    shared = [att.epoch, att.params_commitment, header[2], *att.prices]
    key_ptr = env.registry._view("verifyingKey")
    return key_ptr, committed, 12 + 2 * n_assets, mask, shared, words


def _seed(env: Deployment, att: EpochAttestation) -> bytes:
    key_ptr, committed, n, mask, shared, words = _call_args(env, att)
    bv = env.chain.contract("Groth16BatchVerifier", env.registry.batch_verifier())
    onchain = bytes(env.chain.call(bv.functions.seedOf(key_ptr, committed, n, mask, shared, words)))
    code_hash = keccak(bytes(env.w3.eth.get_code(key_ptr)))
    assert batch_seed(code_hash, committed, n, mask, shared, words) == onchain  # the Python mirror is exact
    return onchain


def test_one_bad_proof_among_valid_ones_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1, n_batches=5)
    for bad_index in (0, 3):  # the first proof (weight 1) and one with a drawn weight
        proofs: list[Any] = [p for _, p in att.batches]
        p = _plain(proofs[bad_index])
        proofs[bad_index] = Proof(p.a, p.b, g1_add_aff(p.c, G1_GEN))
        bad = _with_proofs(att, proofs)
        assert _python_rejects(env.circuit.vk, bad)
        assert _reverts(env.submit, bad) == "Groth16: invalid proof"
    assert env.registry.latest_epoch() is None
    env.submit(att)  # control: the valid five pass together
    assert env.registry.latest_epoch() == 1


def test_cancelling_errors_rejected_because_weights_depend_on_every_proof(env: Deployment) -> None:
    """C_0 + T and C_1 - T / w: both proofs invalid, but a fold with the fixed weights (1, w) computes exactly the
    honest pairing input. With w = 1 (a plain sum) and with w = the weight the registry drew for the HONEST
    submission, the errors cancel; the registry draws the weights from the altered submission instead, so they don't."""
    att = env.attestation(epoch=1, n_batches=3)
    p0, p1 = _plain(att.batches[0][1]), _plain(att.batches[1][1])
    t = g1_mul(G1_GEN, 0xC0FFEE)
    honest_w1 = batch_weight(_seed(env, att), 1)
    assert 1 < honest_w1 <= 2**128
    for w in (1, honest_w1):
        c0 = g1_add_aff(p0.c, t)
        c1 = g1_add_aff(p1.c, g1_neg(g1_mul(t, pow(w, -1, R))))
        # under weights (1, w) the folded C term is unchanged: r_0 C_0' + w C_1' == r_0 C_0 + w C_1
        assert g1_add_aff(c0, g1_mul(c1, w)) == g1_add_aff(p0.c, g1_mul(p1.c, w))
        forged = _with_proofs(att, [Proof(p0.a, p0.b, c0), Proof(p1.a, p1.b, c1), att.batches[2][1]])
        assert _python_rejects(env.circuit.vk, forged)
        assert batch_weight(_seed(env, forged), 1) != w  # the forged submission draws other weights
        assert _reverts(env.submit, forged) == "Groth16: invalid proof"
    assert env.registry.latest_epoch() is None


def test_reordered_proofs_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1, n_batches=3)
    proofs = [p for _, p in att.batches]
    swapped = _with_proofs(att, [proofs[1], proofs[0], proofs[2]])  # statements in place, proofs swapped
    assert _python_rejects(env.circuit.vk, swapped)
    assert _reverts(env.submit, swapped) == "Groth16: invalid proof"
    # whole batches (statement and its proof) out of id order: every proof valid, the ordering rule refuses
    moved = dataclasses.replace(att, batches=(att.batches[1], att.batches[0], att.batches[2]))
    assert _reverts(env.submit, moved) == "Registry: batch id ranges overlap"


def test_proof_replayed_in_two_slots_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1, n_batches=3)
    # batch 0's proof also in slot 1 (for batch 1's statement): invalid there
    replay = _with_proofs(att, [att.batches[0][1], att.batches[0][1], att.batches[2][1]])
    assert _python_rejects(env.circuit.vk, replay)
    assert _reverts(env.submit, replay) == "Groth16: invalid proof"
    # batch 0 whole (statement and proof) in two slots: both valid, counted twice -> the id order refuses it
    twice = dataclasses.replace(att, batches=(att.batches[0], att.batches[0], att.batches[2]))
    assert _reverts(env.submit, twice) == "Registry: batch id ranges overlap"


def test_committed_batch_with_another_batchs_d_rejected(cenv: Deployment) -> None:
    att = cenv.attestation(epoch=1, n_batches=3)
    proofs = [p for _, p in att.batches]
    assert all(isinstance(p, CommittedProof) for p in proofs)
    p0, p2 = proofs[0], proofs[2]
    assert isinstance(p0, CommittedProof) and isinstance(p2, CommittedProof)
    swapped = _with_proofs(
        att, [CommittedProof(p0.proof, p2.commitment), proofs[1], CommittedProof(p2.proof, p0.commitment)]
    )
    assert _python_rejects(cenv.circuit.vk, swapped)
    assert _reverts(cenv.submit, swapped) == "Groth16C: invalid proof"
    # the same D in two batches (batch 0's D also for batch 1)
    p1 = proofs[1]
    assert isinstance(p1, CommittedProof)
    dup = _with_proofs(att, [p0, CommittedProof(p1.proof, p0.commitment), p2])
    assert _reverts(cenv.submit, dup) == "Groth16C: invalid proof"
    cenv.submit(att)  # control
    assert cenv.registry.latest_epoch() == 1


def test_weights_do_not_depend_on_the_block(env: Deployment) -> None:
    """The same submission gives the same seed at any block: nothing a submitter learns later (or the block
    producer chooses) enters the weights; the seed is a function of the call's data alone."""
    att = env.attestation(epoch=1, n_batches=2)
    first = _seed(env, att)
    env.advance(120)
    assert _seed(env, att) == first
