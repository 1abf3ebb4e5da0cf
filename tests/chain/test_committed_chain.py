"""Groth16CommittedVerifier on py-evm: an honest committed proof verifies; a moved D, another proof's D, D at
infinity or off the curve, a tampered public input, or a proof whose prover chose the challenge reverts; a key whose
[eta]_2 is a named point is refused; the contract's challenge is the Python one."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from layout_circuit import cheat_committed_proof

from zkmargin.circuits.curve import G1_GEN, G2_GEN, g1_add_aff, g1_mul, g1_neg, g2_neg, twist_point_outside_subgroup
from zkmargin.circuits.field import P, R
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.operator.chain_writes import SigningChain
from zkmargin.prover.operator.committed_deploy import committed_verifier_init_code, deploy_committed_verifier
from zkmargin.verifier.chain import ChainRevert, connect
from zkmargin.verifier.chain_encoding import g2_words
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey, derive_challenge, verify_committed
from zkmargin.verifier.committed_chain import CONTRACT, committed_proof_to_evm

REPO = Path(__file__).resolve().parents[2]


def _circuit() -> ConstraintSystem:
    cs = ConstraintSystem()
    x = cs.input("x")
    ps = [cs.input(f"p{i}", public=True) for i in range(3)]
    t = cs.mul(x, ps[0], "t")
    cs.output("out", t + ps[1])
    c = cs.commit([x, t])
    cs.mul(c, t, "ct")
    return cs


INPUTS = {"x": 5, "p0": 11, "p1": 13, "p2": 17}


@pytest.fixture(scope="module")
def deployed() -> tuple[SigningChain, Any, ConstraintSystem, CommittedProvingKey]:
    cs = _circuit()
    pk = dev_setup_committed(cs.compile())
    chain = SigningChain(connect())
    return chain, deploy_committed_verifier(chain, pk.vk), cs, pk


@pytest.fixture(scope="module")
def honest(deployed: Any) -> tuple[CommittedProof, list[int]]:
    _, _, cs, pk = deployed
    return prove_committed(pk, cs, INPUTS)


def _call(chain: SigningChain, v: Any, proof: CommittedProof, public: list[int]) -> Any:
    p8, d2 = committed_proof_to_evm(proof)
    return chain.call(v.functions.verifyProof(p8, d2, public))


def _deploy_unchecked(chain: SigningChain, vk: CommittedVerifyingKey) -> Any:
    """Deploy a verifier with ``vk`` in its code WITHOUT the deployer's checkKey (deploy_committed_verifier runs
    it): what a careless or hostile deployer gets on-chain."""
    receipt = chain.send({"data": "0x" + committed_verifier_init_code(vk).hex()})
    return chain.contract(CONTRACT, receipt["contractAddress"])


def test_honest_proof_verifies_on_chain(deployed: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    chain, v, _, pk = deployed
    proof, public = honest
    assert verify_committed(pk.vk, proof, public)
    assert _call(chain, v, proof, public) is True
    d = proof.commitment
    assert chain.call(v.functions.challengeOf(d[0], d[1], public)) == derive_challenge(d, public)


@pytest.mark.parametrize("what", ["D+G", "2D", "-D", "D of another proof", "input"])
def test_tampered_proof_reverts(deployed: Any, honest: tuple[CommittedProof, list[int]], what: str) -> None:
    chain, v, cs, pk = deployed
    proof, public = honest
    d = proof.commitment
    if what == "D+G":
        proof = CommittedProof(proof.proof, g1_add_aff(d, G1_GEN))
    elif what == "2D":
        proof = CommittedProof(proof.proof, g1_mul(d, 2))
    elif what == "-D":
        proof = CommittedProof(proof.proof, g1_neg(d))
    elif what == "D of another proof":  # same statement, another mask: a valid D, not this proof's
        other, _ = prove_committed(pk, cs, INPUTS)
        assert _call(chain, v, other, public) is True and other.commitment != d
        proof = CommittedProof(proof.proof, other.commitment)
    else:
        public = [public[0], public[1], public[2] + 1, public[3]]
    assert not verify_committed(pk.vk, proof, public)
    with pytest.raises(ChainRevert, match="Groth16C: invalid proof"):
        _call(chain, v, proof, public)


def test_remasked_d_reverts(deployed: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    """D + t [k/eta]_1 with C - t [k/delta]_1 keeps the pairing balanced for the OLD challenge; the challenge moves
    with D, so the proof (made for the old one) fails: the keccak over D is what binds the witness to D."""
    chain, v, _, pk = deployed
    proof, public = honest
    t = 99
    moved = g1_add_aff(proof.commitment, g1_mul(pk.commitment.bases[-1], t))
    c = g1_add_aff(proof.proof.c, g1_mul(pk.commitment.mask_delta, R - t))
    forged = CommittedProof(dataclasses.replace(proof.proof, c=c), moved)
    assert not verify_committed(pk.vk, forged, public)
    with pytest.raises(ChainRevert, match="Groth16C: invalid proof"):
        _call(chain, v, forged, public)


def test_prover_chosen_challenge_reverts(deployed: Any) -> None:
    """D honest, but the witness's challenge chosen by the prover: the contract derives its own."""
    chain, v, cs, pk = deployed
    forged, public = cheat_committed_proof(pk, cs, INPUTS, challenge=7)
    with pytest.raises(ChainRevert, match="Groth16C: invalid proof"):
        _call(chain, v, forged, public)
    # control: the same cheating code with the derived challenge is an honest proof
    fair, public = cheat_committed_proof(pk, cs, INPUTS)
    assert _call(chain, v, fair, public) is True


def test_malformed_inputs_revert_with_reason(deployed: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    chain, v, _, _ = deployed
    proof, public = honest
    p8, d2 = committed_proof_to_evm(proof)
    cases = {
        "Groth16C: commitment not on curve": [d2[0], (d2[1] + 1) % P],
        "Groth16C: commitment at infinity": [0, 0],
        "Groth16C: commitment coordinate >= p": [d2[0] + P, d2[1]],
    }
    for reason, words in cases.items():
        with pytest.raises(ChainRevert, match=reason):
            chain.call(v.functions.verifyProof(p8, words, public))
    with pytest.raises(ChainRevert, match="Groth16C: commitment coordinate >= p"):
        chain.call(v.functions.verifyProof(p8, [d2[0], d2[1] + P], public))
    # B on the twist but outside the order-r subgroup: only the pairing precompile can tell, and it fails the call
    bad_b = [*p8[:2], *g2_words(twist_point_outside_subgroup()), *p8[6:]]
    with pytest.raises(ChainRevert, match=r"Groth16C: pairing failed \(B not in G2, or out of gas\)"):
        chain.call(v.functions.verifyProof(bad_b, d2, public))
    with pytest.raises(ChainRevert, match="wrong number of public inputs"):  # the challenge is never supplied
        chain.call(v.functions.verifyProof(p8, d2, [*public, derive_challenge(proof.commitment, public)]))
    with pytest.raises(ChainRevert, match="public input >= r"):
        chain.call(v.functions.verifyProof(p8, d2, [public[0] + R, *public[1:]]))


def test_named_eta_keys_refused(deployed: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    """A verifier whose key has [eta]_2 = +-generator, +-gamma, +-delta or +-beta: checkKey refuses it (and with it
    deploy_committed_verifier), and verifyProof refuses every proof under it, so skipping checkKey at deployment
    does not open the slot."""
    chain, _, _, pk = deployed
    proof, public = honest
    base = pk.vk.base
    named = {"generator": G2_GEN, "gamma": base.gamma2, "delta": base.delta2, "beta": base.beta2}
    for name, q in named.items():
        for point in (q, g2_neg(q)):
            bad = dataclasses.replace(pk.vk, g2_eta=point)
            with pytest.raises(ChainRevert, match=f"Groth16C: key eta is \\+-(the G2 )?{name}"):
                deploy_committed_verifier(chain, bad)
            v = _deploy_unchecked(chain, bad)
            with pytest.raises(ChainRevert, match=f"Groth16C: key eta is \\+-(the G2 )?{name}"):
                _call(chain, v, proof, public)


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_committed_gas", REPO / "scripts" / "bench_committed_gas.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gas_against_plain_verifier() -> None:
    """Receipt gas, committed vs plain at the same 20 supplied inputs: one more pairing pair (34k), one ecMul and
    ecAdd (the challenge's term, 6.15k), the keccak over D and the inputs, and D's two calldata words: ~42k more,
    about 1.13x (docs/lookups.md). The BSB22 design this replaced cost ~57k more (1.175x)."""
    logging.disable(logging.WARNING)
    try:
        r = _bench().measure(20)
    finally:
        logging.disable(logging.NOTSET)
    print(f"\ncommitted verifier gas at 20 public inputs: {r['committed']} vs plain {r['plain']} ({r['ratio']:.3f}x)")
    assert 34_000 + 6_150 < r["committed"] - r["plain"] < 48_000
    assert r["ratio"] < 1.15
