"""Groth16CommittedVerifier on py-evm: an honest committed proof verifies; a tampered D, PoK, public
input, or a proof whose prover chose the challenge reverts; the contract's challenge is the Python one."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from zkmargin.circuits.curve import G1_GEN, g1_add_aff, g1_mul
from zkmargin.circuits.field import P, R
from zkmargin.circuits.msm_native import msm_g1_auto
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.operator.chain_writes import SigningChain
from zkmargin.prover.operator.committed_deploy import deploy_committed_verifier
from zkmargin.verifier.chain import ChainRevert, connect
from zkmargin.verifier.committed import CommittedProof, derive_challenge, verify_committed
from zkmargin.verifier.committed_chain import committed_proof_to_evm
from zkmargin.verifier.types import Proof

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
    p8, c4 = committed_proof_to_evm(proof)
    return chain.call(v.functions.verifyProof(p8, c4, public))


def test_honest_proof_verifies_on_chain(deployed: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    chain, v, _, pk = deployed
    proof, public = honest
    assert verify_committed(pk.vk, proof, public)
    assert _call(chain, v, proof, public) is True
    d = proof.commitment
    assert d is not None
    assert chain.call(v.functions.challengeOf(d[0], d[1], public)) == derive_challenge(d, public)


@pytest.mark.parametrize("what", ["D", "PoK", "D=PoK", "input"])
def test_tampered_proof_reverts(deployed: Any, honest: tuple[CommittedProof, list[int]], what: str) -> None:
    chain, v, _, _ = deployed
    proof, public = honest
    if what == "D":
        proof = CommittedProof(proof.proof, g1_add_aff(proof.commitment, G1_GEN), proof.pok)
    elif what == "PoK":
        proof = CommittedProof(proof.proof, proof.commitment, g1_add_aff(proof.pok, G1_GEN))
    elif what == "D=PoK":
        proof = CommittedProof(proof.proof, proof.pok, proof.pok)
    else:
        public = [public[0], public[1], public[2] + 1, public[3]]
    with pytest.raises(ChainRevert, match="invalid proof"):
        _call(chain, v, proof, public)


def test_prover_chosen_challenge_reverts(deployed: Any) -> None:
    """D and PoK honest, but the witness's challenge chosen by the prover: the contract derives its own."""
    chain, v, cs, pk = deployed
    ck, mask = pk.commitment, 4242
    st: dict[str, Any] = {}

    def commit(values: list[int], public: list[int]) -> int:
        st["d"] = msm_g1_auto(ck.bases, [*values, mask])
        st["pok"] = msm_g1_auto(ck.pok_bases, [*values, mask])
        st["public"] = public
        return 7

    p, _ = prove(pk.base, cs.witness(INPUTS, commit=commit))
    c = g1_add_aff(p.c, g1_mul(ck.mask_delta, (-mask) % R))
    forged = CommittedProof(Proof(p.a, p.b, c), st["d"], st["pok"])
    with pytest.raises(ChainRevert, match="invalid proof"):
        _call(chain, v, forged, st["public"])


def test_malformed_inputs_revert_with_reason(deployed: Any, honest: tuple[CommittedProof, list[int]]) -> None:
    chain, v, _, _ = deployed
    proof, public = honest
    p8, c4 = committed_proof_to_evm(proof)
    with pytest.raises(ChainRevert, match="commitment not on curve"):
        chain.call(v.functions.verifyProof(p8, [c4[0], (c4[1] + 1) % P, c4[2], c4[3]], public))
    with pytest.raises(ChainRevert, match="PoK not on curve"):
        chain.call(v.functions.verifyProof(p8, [c4[0], c4[1], c4[2], (c4[3] + 1) % P], public))
    with pytest.raises(ChainRevert, match="coordinate >= p"):
        chain.call(v.functions.verifyProof(p8, [c4[0] + P, c4[1], c4[2], c4[3]], public))
    d = proof.commitment
    assert d is not None
    with pytest.raises(ChainRevert, match="wrong number of public inputs"):  # the challenge is never supplied
        chain.call(v.functions.verifyProof(p8, c4, [*public, derive_challenge(d, public)]))
    with pytest.raises(ChainRevert, match="public input >= r"):
        chain.call(v.functions.verifyProof(p8, c4, [public[0] + R, *public[1:]]))


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_committed_gas", REPO / "scripts" / "bench_committed_gas.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gas_against_plain_verifier() -> None:
    """Receipt gas, committed vs plain at the same 20 supplied inputs: one more pairing pair (34k), three
    ecMul (challenge, rho*PoK, rho*D) and the keccaks: ~57k more, 1.17x (docs/lookups.md)."""
    logging.disable(logging.WARNING)
    try:
        r = _bench().measure(20)
    finally:
        logging.disable(logging.NOTSET)
    print(f"\ncommitted verifier gas at 20 public inputs: {r['committed']} vs plain {r['plain']} ({r['ratio']:.3f}x)")
    assert 50_000 < r["committed"] - r["plain"] < 62_000
    assert r["ratio"] < 1.18
