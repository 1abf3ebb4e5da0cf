"""Red team: attacks on Groth16 with a commitment slot by an operator that controls the witness, the proof, the bundle,
its own keys and its own ceremony contributions. Each test performs the attack and asserts where it is stopped (a
failed pairing, a named MalformedInput, a named ceremony check); controls show the attack code is otherwise right.
The full list of attempts and results: /work/coord/status-redteam.md (on-chain ones:
tests/chain/test_committed_redteam_chain.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from committed_ceremony_helpers import check as _check
from committed_ceremony_helpers import failed as _failed
from committed_ceremony_helpers import handmade_record as _record
from committed_circuits import challenge_only, square_plus_y

from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    G1Affine,
    g1_add_aff,
    g1_mul,
    g1_neg,
    g1_to_affine,
    g1_to_jac,
    g2_mul,
    g2_neg,
    pairing_product_is_one,
)
from zkmargin.circuits.curve_g2 import g2_add_aff
from zkmargin.circuits.field import P, R, inv
from zkmargin.circuits.msm_native import msm_g1_auto
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.ptau import write_dev_prepared_ptau
from zkmargin.prover.setup.committed_ceremony import (
    append_contribution,
    contribute_committed,
    initial_committed_key,
    next_state,
)
from zkmargin.prover.setup.dev import SetupSecrets
from zkmargin.verifier.chain_encoding import committed_vk_to_bytes, verifying_key_hash, vk_to_bytes
from zkmargin.verifier.committed import (
    CommittedProof,
    committed_proof_from_json,
    committed_proof_to_json,
    committed_vk_from_json,
    committed_vk_to_json,
    derive_challenge,
    verify_committed,
)
from zkmargin.verifier.groth16 import MalformedInput, verify
from zkmargin.verifier.types import Proof, VerifyingKey

GOV_KEY = "0x" + "4f" * 32
OPERATOR_KEY = "0x" + "a1" * 32
SECRETS = (0x1111, 0x2222, 0x3333)  # the attacker's (x, s, t) for delta, eta, k
INPUTS = {"x": 5, "y": 7}


_circuit = square_plus_y


@pytest.fixture(scope="module")
def dev() -> tuple[ConstraintSystem, CommittedProvingKey, SetupSecrets]:
    cs = _circuit()
    s = SetupSecrets.random()
    return cs, dev_setup_committed(cs.compile(), secrets=s), s


def _prove_other_values_after_the_challenge(pk: CommittedProvingKey, cs: ConstraintSystem, c_factor: int) -> Any:
    """Commit to x = 5 (D), take the challenge of D and out = 43 (x = 6's), prove x = 6, and patch the committed
    difference (1, 11) into C as c_factor * (G_0 + 11 G_1): [L_i/delta]_1 exactly when eta = c_factor * delta."""
    ck, mask = pk.commitment, 99
    d = msm_g1_auto(ck.bases, [5, 25, mask])
    public = [6 * 6 + 7, 7]
    ch = derive_challenge(d, public)
    p, _ = prove(pk.base, cs.witness({"x": 6, "y": 7}, commit=lambda v, pub: ch))
    c = g1_add_aff(p.c, g1_mul(ck.mask_delta, (-mask) % R))
    c = g1_add_aff(c, g1_mul(msm_g1_auto(ck.bases, [1, 11, 0]), c_factor))
    return CommittedProof(Proof(p.a, p.b, c), d), public


# ====================================================================== proof-level attacks (dev keys)


def test_b_eta_degree_of_freedom_is_bound_by_the_challenge(dev: Any) -> None:
    """B' = B + b [eta]_2 and D' = D + b A keep the pairing product unchanged (e(-A, b eta) e(b A, eta) = 1): a third
    party can re-randomise the slot this way. It fails only because the verifier re-derives the challenge from D';
    the control shows the product still balances with the OLD challenge."""
    cs, pk, _ = dev
    proof, public = prove_committed(pk, cs, INPUTS)
    b = 0xB0B
    a, bb, c = proof.proof.a, proof.proof.b, proof.proof.c
    b2 = g2_add_aff(bb, g2_mul(pk.vk.g2_eta, b))
    d2 = g1_add_aff(proof.commitment, g1_mul(a, b))
    moved = CommittedProof(Proof(a, b2, c), d2)
    assert not verify_committed(pk.vk, moved, public)
    # control: with the challenge of the ORIGINAL D, the moved proof satisfies the 5-pair equation
    vk = pk.vk.base
    full = [*public, derive_challenge(proof.commitment, public)]
    acc = g1_to_jac(vk.ic[0])
    for x, pt in zip(full, vk.ic[1:], strict=True):
        acc = g1_to_jac(g1_add_aff(g1_to_affine(acc), g1_mul(pt, x)))
    pairs = [(g1_neg(a), b2), (vk.alpha1, vk.beta2), (g1_to_affine(acc), vk.gamma2), (d2, pk.vk.g2_eta), (c, vk.delta2)]
    assert pairing_product_is_one(pairs)


def test_d_from_another_key_of_the_same_circuit(dev: Any) -> None:
    """Two keys sharing every trapdoor but eta and k (same phase 1 and delta): a proof under key 2, key 2's D with key
    1's A B C, and a D over key 2's bases whose challenge the key-1 witness used all fail under key 1."""
    cs, pk, s = dev
    other = dev_setup_committed(cs.compile(), secrets=s)
    assert other.vk.base == pk.vk.base and other.vk.g2_eta != pk.vk.g2_eta
    p2, public = prove_committed(other, cs, INPUTS)
    assert verify_committed(other.vk, p2, public)
    assert not verify_committed(pk.vk, p2, public)
    p1, _ = prove_committed(pk, cs, INPUTS)
    assert not verify_committed(pk.vk, CommittedProof(p1.proof, p2.commitment), public)
    # hybrid: D over key 2's bases, its challenge in the witness, A B C under key 1 with key 1's mask cancelled
    mask = 7
    d = msm_g1_auto(other.commitment.bases, [5, 25, mask])
    ch = derive_challenge(d, public)
    p, _ = prove(pk.base, cs.witness(INPUTS, commit=lambda v, pub: ch))
    c = g1_add_aff(p.c, g1_mul(pk.commitment.mask_delta, (-mask) % R))
    assert not verify_committed(pk.vk, CommittedProof(Proof(p.a, p.b, c), d), public)
    # control: the same hybrid code over key 1's own bases is an honest proof
    d1 = msm_g1_auto(pk.commitment.bases, [5, 25, mask])
    ch1 = derive_challenge(d1, public)
    p, _ = prove(pk.base, cs.witness(INPUTS, commit=lambda v, pub: ch1))
    c = g1_add_aff(p.c, g1_mul(pk.commitment.mask_delta, (-mask) % R))
    assert verify_committed(pk.vk, CommittedProof(Proof(p.a, p.b, c), d1), public)


def test_eta_a_known_multiple_of_delta_is_the_ceremonys_job(dev: Any) -> None:
    """Why the ceremony must stop eta = c * delta for a c the operator knows: with such a key, C carries committed
    values chosen AFTER the challenge (x = 5 committed, x = 6 proved) and check_committed_key passes it (c = 2 is not
    a named value). The same forgery fails under the honest key and under eta = -delta (named). The ceremony attack
    that would produce such a key is test_last_contributor_sets_eta_to_a_multiple_of_delta."""
    cs, pk, s = dev
    r1cs = cs.compile()
    bad = dev_setup_committed(r1cs, secrets=s, eta=2 * s.delta % R)
    forged, public = _prove_other_values_after_the_challenge(bad, cs, 2)
    assert verify_committed(bad.vk, forged, public)  # documented limit of the key rule: the ceremony is the defence
    honest_try, public = _prove_other_values_after_the_challenge(pk, cs, 2)
    assert not verify_committed(pk.vk, honest_try, public)
    named = dev_setup_committed(r1cs, secrets=s, eta=(R - s.delta) % R)
    try_named, public = _prove_other_values_after_the_challenge(named, cs, R - 1)
    assert verify_committed(named.vk, try_named, public, validate_key=False)
    with pytest.raises(MalformedInput, match=r"vk\.commitment_key\.vk_eta_2.*delta"):
        verify_committed(named.vk, try_named, public)


def test_named_eta_survives_no_json_round_trip(dev: Any) -> None:
    """The +-gamma/delta/beta/generator rule compares points: a key read back from JSON (negated y, or the generator
    written with a projective z = 1) is still refused by name."""
    cs, pk, _ = dev
    proof, public = prove_committed(pk, cs, INPUTS)
    for name, q in (("gamma", pk.vk.base.gamma2), ("delta", pk.vk.base.delta2), ("beta", pk.vk.base.beta2)):
        for point in (q, g2_neg(q)):
            d = committed_vk_to_json(dataclasses.replace(pk.vk, g2_eta=point))
            with pytest.raises(MalformedInput, match=rf"vk_eta_2.*{name}"):
                verify_committed(committed_vk_from_json(d), proof, public)
    d = committed_vk_to_json(dataclasses.replace(pk.vk, g2_eta=G2_GEN))
    with pytest.raises(MalformedInput, match=r"vk_eta_2.*generator"):
        verify_committed(committed_vk_from_json(d), proof, public)


def test_commitment_preimage_not_ambiguous(dev: Any) -> None:
    """The challenge hashes D's coordinates: a D written with x + p, y + p, as infinity, or as the negated point
    (a different point: its own challenge) never verifies; every malformed form is named proof.commitment."""
    cs, pk, _ = dev
    proof, public = prove_committed(pk, cs, INPUTS)
    good = committed_proof_to_json(proof)
    assert proof.commitment is not None
    dx, dy = proof.commitment
    for words in ([dx + P, dy, 1], [dx, dy + P, 1], [0, 1, 0], [0, 0, 0], [dx, dy, 2]):
        bad = {**good, "commitment": [str(w) for w in words]}
        with pytest.raises(MalformedInput, match=r"proof\.commitment"):
            verify_committed(pk.vk, committed_proof_from_json(bad), public)
    assert not verify_committed(pk.vk, CommittedProof(proof.proof, g1_neg(proof.commitment)), public)
    with pytest.raises(MalformedInput):
        verify_committed(pk.vk, proof, [public[0] + R, public[1]])  # public input aliasing
    with pytest.raises(MalformedInput):
        verify_committed(pk.vk, proof, [*public, derive_challenge(proof.commitment, public)])  # challenge supplied
    assert verify_committed(pk.vk, committed_proof_from_json(good), public)  # control


def test_public_signals_in_another_order(dev: Any) -> None:
    """A verifier (or registry) that hashes the signals in another order than it accumulates them would open a gap;
    here both use one list: presenting the signals swapped fails, with D and A B C unchanged."""
    cs, pk, _ = dev
    proof, public = prove_committed(pk, cs, INPUTS)
    assert not verify_committed(pk.vk, proof, public[::-1])


# ====================================================================== ceremony attacks


@pytest.fixture(scope="module")
def cer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("redteam_ceremony")
    cs = _circuit()
    r1cs = cs.compile()
    write_dev_prepared_ptau(d / "public.ptau", 4, tau=0x5151, alpha=0x77, beta=0x99)
    c0 = initial_committed_key(r1cs, d / "public.ptau")
    c1 = contribute_committed(c0, "operator entropy", "operator", OPERATOR_KEY)
    c2 = contribute_committed(c1, "governance entropy", "governance", GOV_KEY)
    return {"dir": d, "cs": cs, "r1cs": r1cs, "ptau": d / "public.ptau", "chain": [c0, c1, c2]}


def test_redteam_ceremony_control(cer: dict[str, Any]) -> None:
    """Control: the ceremony used below verifies, and the hand-made record code with honest keys does too."""
    assert _check(cer, cer["chain"][2], "control").ok
    prev = cer["chain"][2]
    x, s, t = SECRETS
    step = next_state(prev, x, s, t)
    rec = _record(prev, step, x, (G1_GEN, g1_mul(G1_GEN, s), s), (G1_GEN, g1_mul(G1_GEN, t), t))
    assert _check(cer, append_contribution(prev, step, rec), "control_record").ok


def test_last_contributor_sets_eta_to_a_multiple_of_delta(cer: dict[str, Any]) -> None:
    """After governance, the operator wants eta = 2 delta (then C carries committed values after the challenge,
    test_eta_a_known_multiple_of_delta_is_the_ceremonys_job). It cannot know the ratio s = 2 x delta_prev/eta_prev,
    yet it builds a G1 pair with that ratio from the state's own points, ([k/delta_prev]_1, 2x [k/eta_prev]_1), and
    a mask base coherent with it ((t / 2x) [k/delta_prev]_1): eta_follows, k_follows, mask_base_follows_eta and
    mask_delta_follows all hold. Only the G2 half of eta's proof of knowledge and the wires' bases (it has no
    [L_i/delta]_1: they were removed) give it away."""
    prev = cer["chain"][2]
    x, s, t = SECRETS
    c = 2
    honest = next_state(prev, x, s, t)
    ps = prev.state
    st = dataclasses.replace(
        honest.state,
        g2_eta=g2_mul(honest.state.delta2, c),
        mask_base=g1_mul(ps.mask_delta, t * inv(c * x) % R),
    )
    step = dataclasses.replace(honest, bases=list(prev.key.commitment.bases[:-1]), state=st)
    eta = (ps.mask_delta, g1_mul(ps.mask_base, c * x % R), s)  # G2 half: its best guess
    rec = _record(prev, step, x, eta, (G1_GEN, g1_mul(G1_GEN, t), t))
    result = append_contribution(prev, step, rec)
    assert result.key.vk.g2_eta == g2_mul(result.key.base.delta2, 2)  # the attack reached its target key
    assert _failed(_check(cer, result, "eta_2delta")) == [
        "contribution[3].eta_proof_of_knowledge",
        "commitment.bases_follow_eta",
    ]


@pytest.mark.parametrize("which", ["eta", "k"])
def test_identity_points_in_a_secret_key(cer: dict[str, Any], which: str) -> None:
    """A key (infinity, infinity, 0): every pairing with infinity is 1, so a same-ratio check that accepted it would
    let eta move to a known value (42) or k to 0. same_ratio refuses zero points by name."""
    prev = cer["chain"][2]
    x, s, t = SECRETS
    honest = next_state(prev, x, s, t)
    zero: tuple[G1Affine, G1Affine, int] = (None, None, 0)
    if which == "eta":
        st = dataclasses.replace(honest.state, g2_eta=g2_mul(G2_GEN, 42))
        step = dataclasses.replace(honest, state=st)
        rec = _record(prev, step, x, zero, (G1_GEN, g1_mul(G1_GEN, t), t))
        # eta = 42 is also incoherent with the bases and the mask base; the zero key is refused by its own checks
        want = {"contribution[3].eta_proof_of_knowledge", "contribution[3].eta_follows", "contribution[3].g2_subgroup",
                "contribution[3].mask_base_follows_eta", "contribution[3].mask_delta_follows",
                "commitment.bases_follow_eta"}  # fmt: skip
    else:
        st = dataclasses.replace(honest.state, mask_base=None, mask_delta=None)
        step = dataclasses.replace(honest, k_step=None, state=st)
        rec = _record(prev, step, x, (G1_GEN, g1_mul(G1_GEN, s), s), zero)
        want = {"contribution[3].k_proof_of_knowledge", "contribution[3].k_follows", "contribution[3].g2_subgroup",
                "contribution[3].mask_base_follows_eta", "contribution[3].mask_delta_follows"}  # fmt: skip
    got = set(_failed(_check(cer, append_contribution(prev, step, rec), f"zero_{which}")))
    assert got == want


def test_operator_reuses_s_for_eta_and_delta_before_governance(cer: dict[str, Any], tmp_path: Path) -> None:
    """The operator's first contribution sets eta = delta (s = x: both still 1 before it). Refused when nothing
    follows (key.eta_is_own_trapdoor); after governance's contribution the ratio eta/delta is governance's s/x,
    which nobody knows: the ceremony passes and the final eta is not delta."""
    c0 = cer["chain"][0]
    x, _, t = SECRETS
    c1 = contribute_committed(c0, name="operator", signer_key=OPERATOR_KEY, secrets=(x, x, t))
    assert c1.key.vk.g2_eta == c1.key.base.delta2
    assert _failed(_check(cer, c1, "reuse_alone")) == ["key.eta_is_own_trapdoor"]
    c2 = contribute_committed(c1, "governance entropy 2", "governance", GOV_KEY)
    assert _check(cer, c2, "reuse_then_gov").ok
    assert c2.key.vk.g2_eta not in (c2.key.base.delta2, g2_neg(c2.key.base.delta2))
    # and a last operator contribution that again reuses s = x cannot restore eta = delta
    c3 = contribute_committed(c2, name="operator", signer_key=OPERATOR_KEY, secrets=(x, x, t))
    assert _check(cer, c3, "reuse_after_gov").ok
    assert c3.key.vk.g2_eta != c3.key.base.delta2


def test_forked_ceremony_key_gives_no_forgery(cer: dict[str, Any]) -> None:
    """The operator forks after governance into two keys (its own secrets differ): it knows their eta ratio, so key
    B's bases are known multiples of key A's, which it could compute anyway. A proof under B, or B's D under A,
    fails under A."""
    g = cer["chain"][2]
    a = contribute_committed(g, name="operator", secrets=SECRETS)
    b = contribute_committed(g, name="operator", secrets=(0x5, 0x6, 0x7))
    cs = cer["cs"]
    pb, public = prove_committed(b.key, cs, INPUTS)
    assert verify_committed(b.key.vk, pb, public)
    assert not verify_committed(a.key.vk, pb, public)
    pa, _ = prove_committed(a.key, cs, INPUTS)
    assert verify_committed(a.key.vk, pa, public)
    assert not verify_committed(a.key.vk, CommittedProof(pa.proof, pb.commitment), public)


# ====================================================================== kind confusion: a committed key read as plain


_challenge_only_circuit = challenge_only


def test_plain_reading_of_a_committed_key_blob_is_refused() -> None:
    """A committed key for n inputs has the blob of a PLAIN key for n + 3 inputs (its IC, then [eta]_2's words read
    as two more 'IC points'): same bytes, same keccak, so the registry-pin comparison (verifier/registry_key.py)
    cannot tell them apart. Under that plain reading the challenge is an ordinary input: a bundle could prove
    out = 5 for y = 2 with the prover's challenge 0 and x = 0. What stops it in Python: the key check names the
    bogus IC points (not on G1); the control shows the false proof verifies when that check is skipped. (On-chain the
    same confusion through Groth16BatchVerifier.verifyBatches is NOT stopped: tests/chain/
    test_committed_redteam_chain.py::test_batch_verifier_kind_confusion_rejected.)"""
    cs = _challenge_only_circuit()
    pk = dev_setup_committed(cs.compile())
    assert pk.vk.g2_eta is not None
    (x1, x0), (y1, y0) = pk.vk.g2_eta[0][::-1], pk.vk.g2_eta[1][::-1]
    b = pk.vk.base
    plain = VerifyingKey(b.alpha1, b.beta2, b.gamma2, b.delta2, (*b.ic, (x1, x0), (y1, y0)))
    assert plain.n_public == pk.vk.n_public + 3
    assert vk_to_bytes(plain) == committed_vk_to_bytes(pk.vk)  # [eta]_2's blob words x1 x0 y1 y0 = two G1 "points"
    assert verifying_key_hash(plain) == verifying_key_hash(pk.vk)
    w = cs.witness({"y": 2, "out": 5, "x": 0}, commit=lambda v, p: 0)
    cs.compile().check(w)
    proof, public = prove(pk.base, w)
    signals = [*public, 0, 0]  # y, out = 5 (false), the chosen challenge 0, zeros on [eta]_2's words
    assert verify(plain, proof, signals, validate_key=False)  # control: the plain reading accepts the false proof
    with pytest.raises(MalformedInput, match=rf"vk\.IC\[{len(b.ic)}\]"):
        verify(plain, proof, signals)
    d = pk.commitment.bases[-1]
    c = g1_add_aff(proof.c, g1_neg(pk.commitment.mask_delta))
    assert not verify_committed(pk.vk, CommittedProof(Proof(proof.a, proof.b, c), d), public[:2])
