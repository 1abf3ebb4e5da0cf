"""SolvencyRegistry and Groth16Verifier on py-evm and on anvil: the happy path, every rejection with
its revert reason, and agreement with the Python verifier on each case."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chain_env import (
    LOOSEN_DELAY,
    MAX_FEED_AGE,
    N_ASSETS,
    PRICE_DECIMALS,
    PRICES,
    TIGHTEN_DELAY,
    TOLERANCE_BPS,
    Deployment,
)
from layout_circuit import MARKET_COMMITMENT, PARAMS_COMMITMENT, build_layout_circuit, make_attestation

from zkmargin.circuits.curve import g1_add_aff, g1_mul, twist_point_outside_subgroup
from zkmargin.circuits.field import P, R
from zkmargin.prover.operator.chain_writes import SolvencyRegistryWriter
from zkmargin.verifier.attestation import EpochAttestation, check_attestation
from zkmargin.verifier.batch_tree import leaf_body, statement_words
from zkmargin.verifier.chain import (
    ChainRevert,
    attestation_to_abi,
    batch_tree_root,
    params_doc_hash,
    proof_to_evm,
    verifying_key_hash,
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


GOV = "Registry: caller is not governance"
UINT64_MAX = (1 << 64) - 1


# --------------------------------------------------------------------------- happy path


def test_attestation_read_back_exactly(env: Deployment) -> None:
    att = env.attestation(epoch=1, n_batches=2, unrepresented=3)
    check_attestation(env.circuit.vk, att)
    start = env.w3.eth.block_number
    receipt = env.submit(att)
    assert receipt["status"] == 1
    for rec in (env.registry.latest(), env.registry.attestation_of(1)):
        assert rec.matches(att)
        assert rec.batch_tree_root == batch_tree_root([bt for bt, _ in att.batches], 1)
        assert rec.timestamp == env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        assert (rec.declared_accounts, rec.unrepresented_accounts, rec.account_count) == (35, 3, 32)
        assert rec.market_commitment == MARKET_COMMITMENT and not rec.revoked
    # 3 of 35 accounts in no proof (8.6%): above the default tolerance of 0, so not solvent until governance
    # tolerates that share
    assert env.registry.is_solvent() == (False, 1, att.account_count, True)
    env.registry.set_max_unrepresented_ppm(90_000, sender=env.governance)
    assert env.registry.is_solvent() == (True, 1, att.account_count, True)
    st = env.registry.solvency_status()
    assert (st.has_attestation, st.epoch, st.account_count, st.declared_accounts, st.unrepresented_accounts) == (
        True,
        1,
        32,
        35,
        3,
    )
    assert (st.under_mm_count, st.total_shortfall, st.total_bad_debt, st.revoked, st.development_mode) == (
        0,
        0,
        0,
        False,
        True,
    )
    assert env.registry.is_fresh(MAX_FEED_AGE)
    assert env.registry.is_solvent_and_fresh(MAX_FEED_AGE)
    evs = env.registry.attestation_events(start)
    assert len(evs) == 1 and evs[0]["args"]["epoch"] == 1
    a = evs[0]["args"]
    assert list(a["prices"]) == list(att.prices) and tuple(a["liabilities"]) == att.liabilities
    assert list(a["totals"]) == [32, att.total_equity, att.total_mm, 0, 0, 0]
    assert (a["declaredAccounts"], a["unrepresentedAccounts"], a["marketCommitment"]) == (35, 3, MARKET_COMMITMENT)
    added = env.registry.batches_added_events(1, start)
    last = att.batches[1][0]  # the event names the last added batch's leaf body (lo = its first id hash)
    assert [(e.from_index, e.count, e.leaf_body) for e in added] == [
        (0, 2, leaf_body(last.first_id_hash, 1, statement_words(last)))
    ]
    assert _reverts(env.registry.attestation_of, 2) == "Registry: epoch not attested"


def test_views_before_any_attestation_and_consecutive_epochs(env: Deployment) -> None:
    assert env.registry.is_solvent() == (False, 0, 0, True)
    assert not env.registry.solvency_status().has_attestation
    assert _reverts(env.registry.latest) == "Registry: no attestation yet"
    env.submit(env.attestation(1))
    env.submit(env.attestation(2))
    assert env.registry.latest().epoch == 2
    assert env.registry.attestation_of(1).epoch == 1


def test_standalone_verifier_accepts_valid_proof(env: Deployment) -> None:
    att = env.attestation(epoch=2)
    _, proof = att.batches[0]
    public = att.public_signals(0)
    assert verify(env.circuit.vk, proof, public)
    assert env.chain.call(env.verifier.functions.verifyProof(proof_to_evm(proof), public)) is True
    assert env.chain.call(env.verifier.functions.nPublic()) == len(public) == 20


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
    # hiding bad debt or under-MM accounts: every new total is a public input
    bad = env.attestation(epoch=1, bad_debt=5_000_000)
    for field, value in (("total_bad_debt", 0), ("under_mm_count", 0), ("total_shortfall", 0)):
        hidden = _with_batch(bad, 0, **{field: value})
        assert _python_rejects(env, hidden), field
        assert _reverts(env.submit, hidden) == "Groth16: invalid proof", field
    # another market commitment (shared signal)
    other_market = dataclasses.replace(att, market_commitment=MARKET_COMMITMENT + 1)
    assert _python_rejects(env, other_market)
    assert _reverts(env.submit, other_market) == "Groth16: invalid proof"
    # the other epoch's proof, same batches: the epoch is a public input too
    swapped = dataclasses.replace(env.attestation(epoch=2), epoch=1)
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
    public[7] += R  # total_equity
    fn = env.verifier.functions.verifyProof(proof_to_evm(att.batches[0][1]), public)
    assert _reverts(env.chain.call, fn) == "Groth16: public input >= r"
    # shared signals too (market commitment)
    shared = dataclasses.replace(att, market_commitment=MARKET_COMMITMENT + R)
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


# --------------------------------------------------------------------------- epochs, recovery


def test_epoch_must_be_latest_plus_one(env: Deployment) -> None:
    reason = "Registry: epoch must be latest + 1"
    # 2^64-1 would make every later epoch impossible if it were accepted: it is rejected
    assert _reverts(env.submit, env.attestation(epoch=UINT64_MAX)) == reason
    assert _reverts(env.submit, env.attestation(epoch=0)) == reason
    assert _reverts(env.submit, env.attestation(epoch=2)) == reason
    att = env.attestation(epoch=1)
    env.submit(att)  # honest epochs keep working after rejected submissions
    assert _reverts(env.submit, att) == reason  # replay
    assert _reverts(env.submit, env.attestation(epoch=3)) == reason  # gap
    assert _reverts(env.submit, env.attestation(epoch=UINT64_MAX)) == reason
    env.submit(env.attestation(epoch=2))
    assert env.registry.latest_epoch() == 2 and env.registry.attestation_of(1).matches(att)


def test_first_epoch_is_governed_and_bounded(env: Deployment) -> None:
    """A new registry may continue an operator's numbering (first epoch set at deployment), never from a value
    near the end of the counter: 2^64-1 as a first epoch would brick it as surely as a submitted one."""

    def deploy(first: int) -> SolvencyRegistryWriter:
        return SolvencyRegistryWriter.deploy(
            env.chain, None, N_ASSETS, PRICE_DECIMALS, TOLERANCE_BPS, MAX_FEED_AGE, first_epoch=first
        )

    for bad in (0, UINT64_MAX, (1 << 48) + 1):
        with pytest.raises(ChainRevert, match="Registry: bad first epoch"):
            deploy(bad)
    reg = deploy(5)
    assert reg.latest_epoch() is None and int(reg._view("latestEpoch")) == 4


def test_revoked_attestation_is_not_solvent_but_stays_readable(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    env.submit(att)
    assert env.registry.is_solvent()[0]
    assert _reverts(env.registry.revoke_attestation, 1, "bad data", sender=env.operator) == GOV
    assert _reverts(env.registry.revoke_attestation, 2, "bad data") == "Registry: epoch not attested"
    assert _reverts(env.registry.revoke_attestation, 1, "") == "Registry: revocation needs a reason"
    start = env.w3.eth.block_number
    env.registry.revoke_attestation(1, "engine bug in epoch 1")
    assert env.registry.is_solvent() == (False, 1, att.account_count, True)
    assert not env.registry.is_solvent_and_fresh(MAX_FEED_AGE)
    assert env.registry.solvency_status().revoked
    rec = env.registry.attestation_of(1)
    assert rec.revoked and rec.matches(att)  # the record is still there, unchanged
    ev = env.registry.revocation_events(start)
    assert len(ev) == 1 and ev[0]["args"]["reason"] == "engine bug in epoch 1"
    assert _reverts(env.registry.revoke_attestation, 1, "again") == "Registry: already revoked"
    assert _reverts(env.submit, att) == "Registry: epoch must be latest + 1"  # history is not rewritten
    env.submit(env.attestation(epoch=2))  # recovery: the next epoch
    assert env.registry.is_solvent()[:2] == (True, 2)
    assert env.registry.attestation_of(1).revoked


def test_pause_stops_submissions(env: Deployment) -> None:
    assert _reverts(env.registry.pause, sender=env.operator) == GOV
    env.registry.pause()
    assert env.registry.paused()
    assert _reverts(env.submit, env.attestation(epoch=1)) == "Registry: submissions paused"
    assert _reverts(env.registry.unpause, sender=env.operator) == GOV
    env.registry.unpause()
    env.submit(env.attestation(epoch=1))


# --------------------------------------------------------------------------- roles


def test_only_operator_submits(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    assert _reverts(env.submit, att, sender=env.stranger) == "Registry: caller is not an operator"
    assert _reverts(env.submit, att, sender=env.governance) == "Registry: caller is not an operator"
    env.registry.set_operator(env.operator, False)
    assert _reverts(env.submit, att) == "Registry: caller is not an operator"


def test_configuration_is_governance_only(env: Deployment) -> None:
    reg = env.registry
    for who in (env.operator, env.stranger):
        assert _reverts(reg.propose_verifying_key, env.circuit.vk, sender=who) == GOV
        assert _reverts(reg.set_initial_verifying_key, env.circuit.vk, sender=who) == GOV
        assert _reverts(reg.activate_verifying_key, sender=who) == GOV
        assert _reverts(reg.propose_params, 5, 2, b"\x01" * 32, True, sender=who) == GOV
        assert _reverts(reg.set_initial_params, 5, 2, b"\x01" * 32, sender=who) == GOV
        assert _reverts(reg.activate_params, sender=who) == GOV
        assert _reverts(reg.cancel_params, sender=who) == GOV
        assert _reverts(reg.set_operator, who, True, sender=who) == GOV
        assert _reverts(reg.set_price_feeds, 0, [env.feeds[1].address], sender=who) == GOV
        assert _reverts(reg.set_price_band, 500, 60, sender=who) == GOV
        assert _reverts(reg.set_insurance_fund, env.token.address, who, sender=who) == GOV
        assert _reverts(reg.propose_governance, who, sender=who) == GOV


def test_governance_is_never_an_operator(env: Deployment) -> None:
    reg = env.registry
    reason = "Registry: governance cannot be an operator"
    assert _reverts(reg.set_operator, env.governance, True) == reason
    assert _reverts(reg.propose_governance, env.operator) == reason
    # two-step transfer to the stranger
    reg.propose_governance(env.stranger)
    assert reg.pending_governance() == env.stranger
    assert _reverts(reg.set_operator, env.stranger, True) == reason  # pending governance neither
    assert _reverts(reg.accept_governance, sender=env.operator) == "Registry: caller is not pending governance"
    rc = reg.accept_governance(sender=env.stranger)
    assert reg.governance() == env.stranger
    assert _reverts(reg.set_operator, env.feed_owner, True) == GOV  # the old governance lost its rights
    assert _reverts(reg.set_operator, env.stranger, True, sender=env.stranger) == reason
    ev = reg.contract.events.GovernanceTransferred().get_logs(from_block=rc["blockNumber"], to_block=rc["blockNumber"])
    assert ev[-1]["args"]["current"] == env.stranger
    # an operator appointed between proposal and acceptance cannot accept
    reg.propose_governance(env.feed_owner, sender=env.stranger)
    assert _reverts(reg.set_operator, env.feed_owner, True, sender=env.stranger) == reason


# --------------------------------------------------------------------------- governed parameters


def test_params_commitment_must_be_the_governed_one(env: Deployment) -> None:
    assert env.registry.params().commitment == PARAMS_COMMITMENT
    assert env.registry.params().doc_hash == params_doc_hash(b'{"risk parameters": "test set v1"}')
    # a valid proof for an ungoverned parameter set (e.g. looser margins chosen by the operator)
    att = make_attestation(env.circuit, 1, PRICES, params_commitment=PARAMS_COMMITMENT + 1)
    check_attestation(env.circuit.vk, att)  # the proof itself is fine
    assert _reverts(env.submit, att) == "Registry: params commitment not governed"
    env.submit(env.attestation(epoch=1))


def test_params_change_is_timelocked(env: Deployment) -> None:
    reg = env.registry
    env.submit(env.attestation(epoch=1))  # from now on, no bootstrap
    new, doc = PARAMS_COMMITMENT + 7, params_doc_hash(b"v2")
    assert _reverts(reg.set_initial_params, new, 2, doc) == "Registry: attested, use the timelock"
    assert _reverts(reg.set_initial_verifying_key, env.circuit.vk) == "Registry: attested, use the timelock"
    assert _reverts(reg.propose_params, new, 2, doc, False, sender=env.operator) == GOV
    assert _reverts(reg.activate_params) == "Registry: no pending params"
    assert _reverts(reg.propose_params, new, 1, doc, False) == "Registry: params version must increase"
    assert _reverts(reg.propose_params, 0, 2, doc, False) == "Registry: bad params commitment"
    reg.propose_params(new, 2, doc, False)
    pending = reg.pending_params()
    assert (pending.commitment, pending.version, pending.doc_hash, pending.tightening) == (new, 2, doc, False)
    assert pending.activates_at == env.now() + LOOSEN_DELAY
    assert _reverts(reg.activate_params) == "Registry: timelock not expired"
    env.advance(LOOSEN_DELAY - 60)
    assert _reverts(reg.activate_params) == "Registry: timelock not expired"
    env.submit(env.attestation(epoch=2))  # the old set still governs meanwhile
    env.advance(120)
    assert _reverts(reg.activate_params, sender=env.operator) == GOV
    reg.activate_params()
    assert (reg.params().commitment, reg.params().version) == (new, 2)
    assert reg.pending_params().activates_at == 0
    assert _reverts(env.submit, env.attestation(epoch=3)) == "Registry: params commitment not governed"
    env.submit(make_attestation(env.circuit, 3, PRICES, params_commitment=new))


def test_tightening_uses_the_shorter_delay(env: Deployment) -> None:
    reg = env.registry
    env.submit(env.attestation(epoch=1))
    tight, loose = PARAMS_COMMITMENT + 1, PARAMS_COMMITMENT + 2
    reg.propose_params(tight, 2, params_doc_hash(b"tighter"), True)
    assert reg.pending_params().activates_at == env.now() + TIGHTEN_DELAY
    env.advance(TIGHTEN_DELAY + 1)
    reg.activate_params()
    assert reg.params().commitment == tight
    # the same wait is not enough for a loosening change; and it can be cancelled
    reg.propose_params(loose, 3, params_doc_hash(b"looser"), False)
    env.advance(TIGHTEN_DELAY + 1)
    assert _reverts(reg.activate_params) == "Registry: timelock not expired"
    reg.cancel_params()
    assert _reverts(reg.activate_params) == "Registry: no pending params"
    assert reg.params().commitment == tight


# --------------------------------------------------------------------------- pinned verifying key


def test_verifying_key_hash_matches_python_helper(env: Deployment) -> None:
    assert env.registry.verifying_key_hash() == verifying_key_hash(env.circuit.vk)
    assert verifying_key_hash(env.circuit.vk) == verifying_key_hash(vk_to_bytes(env.circuit.vk))
    assert env.registry.verifying_key_hash() != verifying_key_hash(build_layout_circuit(4).vk)


def test_key_change_is_timelocked(env: Deployment) -> None:
    reg = env.registry
    other = build_layout_circuit(4)  # a second dev key with the same shape
    env.submit(env.attestation(epoch=1))
    assert _reverts(reg.propose_verifying_key, other.vk, sender=env.operator) == GOV
    assert _reverts(reg.activate_verifying_key) == "Registry: no pending verifying key"
    start = env.w3.eth.block_number
    reg.propose_verifying_key(other.vk)
    ptr, h, at = reg.pending_verifying_key()
    assert h == verifying_key_hash(other.vk) and at == env.now() + LOOSEN_DELAY
    assert _reverts(reg.activate_verifying_key) == "Registry: timelock not expired"
    env.advance(TIGHTEN_DELAY + 1)  # the tightening delay does not apply to keys
    assert _reverts(reg.activate_verifying_key) == "Registry: timelock not expired"
    env.submit(env.attestation(epoch=2))  # the pinned key still governs
    env.advance(LOOSEN_DELAY)
    assert _reverts(reg.activate_verifying_key, sender=env.operator) == GOV
    reg.activate_verifying_key()
    assert reg.verifying_key_hash() == verifying_key_hash(other.vk)
    ev = reg.contract.events.VerifyingKeyChanged().get_logs(from_block=start)
    assert len(ev) == 1 and ev[0]["args"]["nPublic"] == 20 and ev[0]["args"]["keyPointer"] == ptr
    assert _reverts(env.submit, env.attestation(epoch=3)) == "Groth16: invalid proof"  # old key's proofs
    env.submit(make_attestation(other, 3, PRICES))
    assert reg.latest_epoch() == 3


def test_malformed_keys_never_get_in(env: Deployment) -> None:
    reg = env.registry
    blob = bytearray(vk_to_bytes(env.circuit.vk))
    blob[63] ^= 1  # alpha.y
    assert _reverts(reg.propose_verifying_key, bytes(blob)) == "Groth16: key G1 point not on curve"
    short = vk_to_bytes(env.circuit.vk)[:-64]
    assert _reverts(reg.propose_verifying_key, short) == "Registry: key has wrong public input count"
    assert _reverts(reg.set_initial_verifying_key, short) == "Registry: key has wrong public input count"
    assert _reverts(reg.propose_verifying_key, b"\x01" * 100) == "Groth16: bad key length"
    assert reg.pending_verifying_key()[2] == 0


def test_bootstrap_key_and_params_before_any_attestation(env: Deployment) -> None:
    reg = env.registry
    other = build_layout_circuit(4)
    reg.set_initial_verifying_key(other.vk)  # nothing attested yet: no delay needed
    reg.set_initial_params(PARAMS_COMMITMENT + 3, 2, params_doc_hash(b"v2"))
    assert reg.verifying_key_hash() == verifying_key_hash(other.vk)
    env.submit(make_attestation(other, 1, PRICES, params_commitment=PARAMS_COMMITMENT + 3))
    assert _reverts(reg.set_initial_verifying_key, env.circuit.vk) == "Registry: attested, use the timelock"


# --------------------------------------------------------------------------- batches, coverage


def test_overlapping_batches_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1, n_batches=2)
    b0, b1 = att.batches[0][0], att.batches[1][0]
    # re-prove batch 1 with a first id inside batch 0's range: valid proof, overlapping ranges
    overlapping = dataclasses.replace(b1, first_id_hash=b0.last_id_hash)
    proof = env.circuit.prove(
        overlapping.public_signals(att.epoch, att.params_commitment, att.prices, market_commitment=MARKET_COMMITMENT)
    )
    bad = dataclasses.replace(att, batches=(att.batches[0], (overlapping, proof)))
    assert _python_rejects(env, bad)
    assert _reverts(env.submit, bad) == "Registry: batch id ranges overlap"
    # the same batch twice
    twice = dataclasses.replace(att, batches=(att.batches[0], att.batches[0]))
    assert _reverts(env.submit, twice) == "Registry: batch id ranges overlap"
    assert _reverts(env.submit, dataclasses.replace(att, batches=())) == "Registry: no batches"


def test_batches_must_add_up_to_declared_accounts(env: Deployment) -> None:
    reason = "Registry: accounts do not add up to declared"
    # an account silently left out of every batch
    missing = env.attestation(epoch=1, n_batches=2, declared=33)
    assert _python_rejects(env, missing)
    assert _reverts(env.submit, missing) == reason
    # claiming fewer unrepresented accounts than are missing, or more
    assert _reverts(env.submit, env.attestation(epoch=1, unrepresented=2, declared=17)) == reason
    assert _reverts(env.submit, env.attestation(epoch=1, unrepresented=2, declared=19)) == reason
    ok = env.attestation(epoch=1, unrepresented=2, declared=18)
    env.submit(ok)
    st = env.registry.solvency_status()
    assert (st.account_count, st.declared_accounts, st.unrepresented_accounts) == (16, 18, 2)


# --------------------------------------------------------------------------- solvency, insurance fund


def test_solvent_iff_bad_debt_covered_by_insurance_fund(env: Deployment) -> None:
    bad_debt = 2_500 * 10**6  # 2,500 USD in micro-USD
    att = env.attestation(epoch=1, bad_debt=bad_debt)
    env.submit(att)
    rec = env.registry.latest()
    assert (rec.total_bad_debt, rec.under_mm_count) == (bad_debt, 1) and rec.total_shortfall > bad_debt
    assert env.registry.insurance_fund_value() == 0
    assert env.registry.is_solvent() == (False, 1, 16, True)
    env.fund_insurance(bad_debt - 1)  # 18-decimal token converted to micro-USD at call time
    assert env.registry.insurance_fund_value() == bad_debt - 1
    assert not env.registry.is_solvent()[0]
    env.fund_insurance(1)
    assert env.registry.is_solvent() == (True, 1, 16, True)
    st = env.registry.solvency_status()
    assert (st.insurance_fund_value, st.total_bad_debt, st.under_mm_count) == (bad_debt, bad_debt, 1)
    # the fund is read live: it leaving the holder flips the answer
    amount = env.chain.call(env.token.functions.balanceOf(env.insurance_holder))
    env.chain.transact(env.token.functions.transfer(env.stranger, amount), sender=env.insurance_holder)
    assert not env.registry.is_solvent()[0]


def test_development_mode_is_reported(env: Deployment) -> None:
    assert env.registry.development_mode() is True
    assert env.registry.is_solvent()[3] is True
    assert env.registry.solvency_status().development_mode is True
    assert env.registry.delays() == (TIGHTEN_DELAY, LOOSEN_DELAY)


# --------------------------------------------------------------------------- prices


def test_price_outside_band_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    env.set_feed(env.feeds[0], PRICES[0] * 105 // 100)  # feed moved 5%, band is 1%
    assert _reverts(env.submit, att) == "FeedMedian: price outside oracle band"
    env.set_feed(env.feeds[0], PRICES[0] * 1005 // 1000)  # 0.5%: inside
    env.submit(att)
    assert env.registry.latest().prices == PRICES


def test_stale_future_and_bad_feeds_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    env.set_feed(env.feeds[2], PRICES[2], env.now() - 2 * MAX_FEED_AGE)
    assert _reverts(env.submit, att) == "FeedMedian: stale price feed"
    env.set_feed(env.feeds[2], PRICES[2], env.now() + 3600)
    assert _reverts(env.submit, att) == "FeedMedian: incomplete price feed round"
    env.set_feed(env.feeds[2], -1)
    assert _reverts(env.submit, att) == "FeedMedian: bad price feed answer"
    env.set_feed(env.feeds[2], 0)
    assert _reverts(env.submit, att) == "FeedMedian: bad price feed answer"
    env.set_feed(env.feeds[2], PRICES[2])
    env.submit(att)


def test_zero_price_rejected(env: Deployment) -> None:
    att = env.attestation(epoch=1, prices=(0, *PRICES[1:]))
    with pytest.raises(ValueError, match="zero price"):
        check_attestation(env.circuit.vk, att)
    assert _reverts(env.submit, att) == "FeedMedian: zero price"


def test_median_of_three_feeds_ignores_a_deviant_feed(env: Deployment) -> None:
    """A deviant feed among three does not move the reference: it is the median, not a [min, max] band."""
    p = PRICES[0]
    deviant = env.chain.deploy(
        "MockAggregatorV3", 18, "asset0 (deviant)", p * 120 // 100 * 10**10, sender=env.feed_owner
    )
    third = env.chain.deploy("MockAggregatorV3", 8, "asset0 (third)", p * 1002 // 1000, sender=env.feed_owner)
    feeds = [env.feeds[0].address, deviant.address, third.address]
    env.registry.set_price_feeds(0, feeds)
    assert env.registry.contract.functions.priceFeeds(0).call() == feeds
    near_deviant = (p * 119 // 100, *PRICES[1:])  # inside the old max(feeds) * (1 + tol) band
    want = "FeedMedian: price outside oracle band"
    assert _reverts(env.submit, env.attestation(epoch=1, prices=near_deviant)) == want
    near_median = (p * 1010 // 1000, *PRICES[1:])  # median is p * 1.002; 0.8% away
    env.submit(env.attestation(epoch=1, prices=near_median))
    assert env.registry.latest().prices[0] == p * 1010 // 1000


def test_price_tolerance_is_capped(env: Deployment) -> None:
    reg = env.registry
    assert _reverts(reg.set_price_band, 501, MAX_FEED_AGE) == "Registry: tolerance above cap"
    assert _reverts(reg.set_price_band, 10_000, MAX_FEED_AGE) == "Registry: tolerance above cap"
    assert _reverts(reg.set_price_band, 100, 0) == "Registry: bad max feed age"
    reg.set_price_band(500, MAX_FEED_AGE)
    env.set_feed(env.feeds[0], PRICES[0] * 1045 // 1000)  # 4.5% away: inside 5%
    env.submit(env.attestation(epoch=1))
    assert _reverts(reg.set_price_feeds, 0, []) == "Registry: bad feed count"


def test_abi_shape_checks(env: Deployment) -> None:
    att = env.attestation(epoch=1)
    epoch, params, market, prices, declared, unrep, batches = attestation_to_abi(att)
    short = (epoch, params, market, prices[:3], declared, unrep, batches)
    assert _reverts(env.submit, short) == "Registry: wrong number of prices"
    b = list(batches[0])
    b[9] = b[9][:3]
    bad = (epoch, params, market, prices, declared, unrep, [tuple(b)])
    # batches are flat words: a batch with 3 liabilities for 4 assets shifts every word after it
    assert _reverts(env.submit, bad) == "Registry: wrong batch word count"
