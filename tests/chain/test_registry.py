"""SolvencyRegistry and Groth16Verifier on py-evm and on anvil: the happy path, every rejection with
its revert reason, and agreement with the Python verifier on each case."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chain_env import MAX_FEED_AGE, PRICES, Deployment
from layout_circuit import build_layout_circuit

from zkmargin.circuits.curve import g1_add_aff, g1_mul, twist_point_outside_subgroup
from zkmargin.circuits.field import P, R
from zkmargin.verifier.attestation import BatchStatement, EpochAttestation, check_attestation
from zkmargin.verifier.chain import (
    ChainRevert,
    attestation_to_abi,
    batch_roots_hash,
    proof_to_evm,
    vk_to_bytes,
)
from zkmargin.verifier.groth16 import MalformedInput, verify
from zkmargin.verifier.types import Proof


def _reverts(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(ChainRevert) as ei:
        fn(*args, **kw)
    return ei.value.reason


def _python_rejects(env: Deployment, att: EpochAttestation) -> bool:
    try:
        check_attestation(env.circuit.vk, att)
    except (MalformedInput, ValueError):
        return True
    return False


def _with_proof(att: EpochAttestation, i: int, proof: Proof) -> EpochAttestation:
    batches = list(att.batches)
    batches[i] = (batches[i][0], proof)
    return dataclasses.replace(att, batches=tuple(batches))


def _with_batch(att: EpochAttestation, i: int, **changes: Any) -> EpochAttestation:
    batches = list(att.batches)
    batches[i] = (dataclasses.replace(batches[i][0], **changes), batches[i][1])
    return dataclasses.replace(att, batches=tuple(batches))


# --------------------------------------------------------------------------- happy path


def test_attestation_read_back_exactly(env: Deployment) -> None:
    att = env.attestation(epoch=7, n_batches=2)
    check_attestation(env.circuit.vk, att)
    start = env.w3.eth.block_number
    receipt = env.submit(att)
    assert receipt["status"] == 1
    for rec in (env.registry.latest(), env.registry.attestation_of(7)):
        assert rec.matches(att)
        assert rec.batch_roots_hash == batch_roots_hash(att.batch_roots)
        assert rec.timestamp == env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert env.registry.is_solvent() == (True, 7, att.account_count)
    assert env.registry.totals() == (7, att.total_equity, att.total_mm, att.account_count)
    assert env.registry.is_fresh(MAX_FEED_AGE)
    assert env.registry.is_solvent_and_fresh(MAX_FEED_AGE)
    evs = env.registry.attestation_events(start)
    assert len(evs) == 1 and evs[0]["args"]["epoch"] == 7
    assert list(evs[0]["args"]["prices"]) == list(att.prices)
    assert tuple(evs[0]["args"]["liabilities"]) == att.liabilities
    batches = env.registry.batch_events(start)
    got = [
        BatchStatement(b.batch_root, b.first_id_hash, b.last_id_hash, b.account_count, b.total_equity, b.total_mm, ())
        for b in batches
    ]
    assert got == [dataclasses.replace(bt, liabilities=()) for bt, _ in att.batches]
    second = att.batches[1][0]
    found = env.registry.batch_covering(second.first_id_hash + 5, 7, start)
    assert found is not None and found.index == 1 and found.batch_root == second.batch_root
    assert _reverts(env.registry.attestation_of, 8) == "Registry: epoch not attested"


def test_epochs_increase_with_gaps_and_views_follow(env: Deployment) -> None:
    assert env.registry.is_solvent() == (False, 0, 0)
    assert _reverts(env.registry.latest) == "Registry: no attestation yet"
    env.submit(env.attestation(1))
    env.submit(env.attestation(3))
    assert env.registry.latest().epoch == 3
    assert env.registry.attestation_of(1).epoch == 1


def test_standalone_verifier_accepts_valid_proof(env: Deployment) -> None:
    att = env.attestation(epoch=2)
    _, proof = att.batches[0]
    public = att.public_signals(0)
    assert verify(env.circuit.vk, proof, public)
    assert env.chain.call(env.verifier.functions.verifyProof(proof_to_evm(proof), public)) is True
    assert env.chain.call(env.verifier.functions.nPublic()) == len(public)


# --------------------------------------------------------------------------- proofs


def test_invalid_proof_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    _, proof = att.batches[0]
    bad = Proof(proof.a, proof.b, g1_add_aff(proof.c, g1_mul((1, 2), 5)))  # a valid point, wrong proof
    public = att.public_signals(0)
    assert not verify(env.circuit.vk, bad, public)
    assert _reverts(env.submit, _with_proof(att, 0, bad)) == "Groth16: invalid proof"
    fn = env.verifier.functions.verifyProof(proof_to_evm(bad), public)
    assert _reverts(env.chain.call, fn) == "Groth16: invalid proof"
    assert env.registry.latest_epoch() is None  # nothing written


def test_proof_for_other_public_inputs_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1, n_batches=2)
    inflated = _with_batch(att, 1, total_equity=att.batches[1][0].total_equity + 1)
    assert _python_rejects(env, inflated)
    assert _reverts(env.submit, inflated) == "Groth16: invalid proof"
    # the other epoch's proof, same batches: the epoch is a public input too
    other = env.attestation(epoch=2)
    swapped = dataclasses.replace(other, epoch=1)
    assert _python_rejects(env, swapped)
    assert _reverts(env.submit, swapped) == "Groth16: invalid proof"


def test_public_input_at_or_above_r_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    bt = att.batches[0][0]
    # total_equity + r is the same field element: without the range check the proof would verify
    aliased = _with_batch(att, 0, total_equity=bt.total_equity + R)
    with pytest.raises(MalformedInput):
        check_attestation(env.circuit.vk, aliased)
    assert _reverts(env.submit, aliased) == "Groth16: public input >= r"
    public = att.public_signals(0)
    public[6] += R
    fn = env.verifier.functions.verifyProof(proof_to_evm(att.batches[0][1]), public)
    assert _reverts(env.chain.call, fn) == "Groth16: public input >= r"
    # shared signals too (params commitment)
    shared = dataclasses.replace(att, params_commitment=att.params_commitment + R)
    assert _reverts(env.submit, shared) == "Groth16: public input >= r"


def test_malformed_points_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    _, proof = att.batches[0]
    public = att.public_signals(0)
    cases = [
        (Proof((1, 1), proof.b, proof.c), "Groth16: proof point not on curve"),
        (Proof(proof.a, proof.b, (proof.c[0], proof.c[1] ^ 1)), "Groth16: proof point not on curve"),
        (Proof((proof.a[0] + P, proof.a[1]), proof.b, proof.c), "Groth16: proof coordinate >= p"),
        (Proof(proof.a, ((1, 2), (3, 4)), proof.c), "Groth16: malformed proof point"),  # B off the twist
        (Proof(proof.a, twist_point_outside_subgroup(), proof.c), "Groth16: malformed proof point"),
        (Proof(proof.a, None, proof.c), "Groth16: proof point at infinity"),
    ]
    for bad, reason in cases:
        with pytest.raises(MalformedInput):
            verify(env.circuit.vk, bad, public)
        fn = env.verifier.functions.verifyProof(proof_to_evm(bad), public)
        assert _reverts(env.chain.call, fn) == reason, reason
    # through the registry (one representative; the library code path is shared)
    assert _reverts(env.submit, _with_proof(att, 0, cases[0][0])) == "Groth16: proof point not on curve"


def test_gas_starved_verification_reverts_not_false(env: Deployment) -> None:
    """The estimate_gas trap: with too little gas for the pairing, the call must fail, never return."""
    att = env.attestation(epoch=1)
    fn = env.verifier.functions.verifyProof(proof_to_evm(att.batches[0][1]), att.public_signals(0))
    with pytest.raises(ChainRevert):
        env.chain.transact(fn, gas=150_000)
    with pytest.raises(ChainRevert):
        env.registry.submit(att, sender=env.operator, gas=300_000)
    assert env.registry.latest_epoch() is None


# --------------------------------------------------------------------------- epochs, roles


def test_replayed_and_older_epochs_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=5)
    env.submit(att)
    assert _reverts(env.submit, att) == "Registry: epoch must increase"
    assert _reverts(env.submit, env.attestation(epoch=4)) == "Registry: epoch must increase"
    assert env.registry.latest().matches(att)


def test_only_operator_submits(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    assert _reverts(env.submit, att, sender=env.stranger) == "Registry: caller is not an operator"
    assert _reverts(env.submit, att, sender=env.owner) == "Registry: caller is not an operator"
    env.registry.set_operator(env.operator, False)
    assert _reverts(env.submit, att) == "Registry: caller is not an operator"


def test_configuration_is_owner_only(env: Deployment) -> None:
    reg, s = env.registry, env.stranger
    reason = "Registry: caller is not the owner"
    assert _reverts(reg.set_verifying_key, env.circuit.vk, sender=s) == reason
    assert _reverts(reg.set_operator, s, True, sender=s) == reason
    assert _reverts(reg.set_price_feeds, 0, [env.feeds[1].address], sender=s) == reason
    assert _reverts(reg.set_price_band, 10_000, 10**9, sender=s) == reason
    assert _reverts(reg.transfer_ownership, s, sender=s) == reason
    # ownership moves, and with it the right to configure
    rc = reg.transfer_ownership(s)
    assert reg.owner() == s
    assert _reverts(reg.set_operator, s, True) == reason
    ev = reg.contract.events.OwnershipTransferred().get_logs(from_block=rc["blockNumber"], to_block=rc["blockNumber"])
    assert ev[-1]["args"]["newOwner"] == s


def test_key_change_by_owner(env: Deployment) -> None:
    start = env.w3.eth.block_number
    other = build_layout_circuit(4)  # a second dev key with the same shape
    env.registry.set_verifying_key(other.vk)
    ev = env.registry.contract.events.VerifyingKeyChanged().get_logs(from_block=start)
    assert len(ev) == 1 and ev[0]["args"]["nPublic"] == 16
    assert _reverts(env.submit, env.attestation(epoch=1)) == "Groth16: invalid proof"  # old key's proofs
    env.submit(_prove_with(other, 1))
    assert env.registry.latest_epoch() == 1
    # malformed keys never get in
    blob = bytearray(vk_to_bytes(other.vk))
    blob[63] ^= 1  # alpha.y
    assert _reverts(env.registry.set_verifying_key, bytes(blob)) == "Groth16: key G1 point not on curve"
    short = vk_to_bytes(other.vk)[:-64]
    assert _reverts(env.registry.set_verifying_key, short) == "Registry: key has wrong public input count"
    assert _reverts(env.registry.set_verifying_key, b"\x01" * 100) == "Groth16: bad key length"


def _prove_with(circuit: Any, epoch: int) -> EpochAttestation:
    from layout_circuit import make_attestation

    return make_attestation(circuit, epoch, PRICES, 1)


# --------------------------------------------------------------------------- batches


def test_overlapping_batches_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1, n_batches=2)
    b0, b1 = att.batches[0][0], att.batches[1][0]
    # re-prove batch 1 with a first id inside batch 0's range: valid proof, overlapping ranges
    overlapping = dataclasses.replace(b1, first_id_hash=b0.last_id_hash)
    proof = env.circuit.prove(overlapping.public_signals(att.epoch, att.params_commitment, att.prices))
    bad = dataclasses.replace(att, batches=(att.batches[0], (overlapping, proof)))
    assert _python_rejects(env, bad)
    assert _reverts(env.submit, bad) == "Registry: batch id ranges overlap"
    # the same batch twice
    twice = dataclasses.replace(att, batches=(att.batches[0], att.batches[0]))
    assert _reverts(env.submit, twice) == "Registry: batch id ranges overlap"
    assert _reverts(env.submit, dataclasses.replace(att, batches=())) == "Registry: no batches"


# --------------------------------------------------------------------------- prices


def test_price_outside_band_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    env.chain.transact(env.feeds[0].functions.setAnswer(PRICES[0] * 105 // 100))  # feed moved 5%, band is 1%
    assert _reverts(env.submit, att) == "Registry: price outside oracle band"
    env.chain.transact(env.feeds[0].functions.setAnswer(PRICES[0] * 1005 // 1000))  # 0.5%: inside
    env.submit(att)
    assert env.registry.latest().prices == PRICES


def test_stale_feed_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    old = env.now() - 2 * MAX_FEED_AGE
    env.chain.transact(env.feeds[2].functions.setAnswerAt(PRICES[2], old))
    assert _reverts(env.submit, att) == "Registry: stale price feed"
    env.chain.transact(env.feeds[2].functions.setAnswerAt(-1, env.now()))
    assert _reverts(env.submit, att) == "Registry: bad price feed answer"


def test_quorum_band_uses_min_and_max_of_feeds(env: Deployment) -> None:
    """StarkEx-style: with two feeds for an asset, any price within [min, max] +- tolerance passes."""
    second = env.chain.deploy("MockAggregatorV3", 18, "asset0 / USD (18 dec)", PRICES[0] * 110 // 100 * 10**10)
    env.registry.set_price_feeds(0, [env.feeds[0].address, second.address])
    assert env.registry.contract.functions.priceFeeds(0).call() == [env.feeds[0].address, second.address]
    high = tuple([PRICES[0] * 108 // 100, *PRICES[1:]])  # between the two feeds
    env.submit(env.attestation(epoch=1, prices=high))
    too_high = tuple([PRICES[0] * 112 // 100, *PRICES[1:]])
    assert _reverts(env.submit, env.attestation(epoch=2, prices=too_high)) == "Registry: price outside oracle band"


def test_abi_shape_checks(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    epoch, params, prices, batches = attestation_to_abi(att)
    assert _reverts(env.submit, (epoch, params, prices[:3], batches)) == "Registry: wrong number of prices"
    b = list(batches[0])
    b[6] = b[6][:3]
    assert _reverts(env.submit, (epoch, params, prices, [tuple(b)])) == "Registry: wrong number of liabilities"
