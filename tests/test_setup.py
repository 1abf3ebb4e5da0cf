"""Trusted setup: dev setup vs independent evaluation, ceremony vs dev setup, transcript verification
(honest and tampered), and snarkjs .ptau interoperability."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zkmargin.circuits.curve import G1_GEN, G2_GEN, g1_add_aff, g1_mul, g1_neg, g2_mul, pairing_product_is_one
from zkmargin.circuits.field import R, inv, root_of_unity
from zkmargin.circuits.r1cs import R1CS, ConstraintSystem
from zkmargin.prover.keys import ProvingKey
from zkmargin.prover.ptau import read_ptau, setup_from_ptau, write_ptau
from zkmargin.prover.qap import qap_from_r1cs
from zkmargin.prover.setup import Phase1Secrets, SetupSecrets, dev_setup, load_key, run_ceremony
from zkmargin.prover.setup.phase1 import prepare_phase2, run_local_ceremony
from zkmargin.verifier.setup_transcript import (
    DeltaState,
    Phase1Accumulator,
    TranscriptReport,
    check_accumulator_powers,
    decode_key,
    encode_key,
    sha256_hex,
    verify_transcript,
)

P1_SECRETS = [Phase1Secrets(1234567, 7654321, 999331), Phase1Secrets(R - 5, 31337, 424242)]
P2_SECRETS = [271828, R - 314159]


def _circuit() -> tuple[ConstraintSystem, R1CS]:
    cs = ConstraintSystem()
    x = cs.input("x")
    y = cs.input("y")
    xy = cs.mul(x, y, "xy")
    z = cs.mul(xy, x + 3, "z")
    cs.output("out", z)
    cs.public("y_pub", y)
    return cs, cs.compile()


@pytest.fixture(scope="module")
def circuit() -> tuple[ConstraintSystem, R1CS]:
    return _circuit()


@pytest.fixture(scope="module")
def ceremony(
    circuit: tuple[ConstraintSystem, R1CS], tmp_path_factory: pytest.TempPathFactory
) -> tuple[ProvingKey, Path]:
    d = tmp_path_factory.mktemp("ceremony")
    pk = run_ceremony(circuit[1], d, 2, 2, P1_SECRETS, P2_SECRETS)
    return pk, d


def _combined_secrets() -> SetupSecrets:
    tau = alpha = beta = delta = 1
    for s in P1_SECRETS:
        tau, alpha, beta = tau * s.tau % R, alpha * s.alpha % R, beta * s.beta % R
    for d in P2_SECRETS:
        delta = delta * d % R
    return SetupSecrets(tau, alpha, beta, 1, delta)


# ---------------------------------------------------------------- independent evaluation


def _naive_lagrange(x: int, n: int, j: int) -> int:
    """prod_{m != j} (x - w^m) / (w^j - w^m): a different formula from qap.lagrange_at."""
    w = root_of_unity(n.bit_length() - 1)
    pts = [pow(w, m, R) for m in range(n)]
    num = den = 1
    for m, pm in enumerate(pts):
        if m != j:
            num = num * (x - pm) % R
            den = den * (pts[j] - pm) % R
    return num * inv(den) % R


def test_dev_setup_matches_naive_evaluation(circuit: tuple[ConstraintSystem, R1CS]) -> None:
    r1cs = circuit[1]
    s = SetupSecrets(tau=987654321, alpha=11, beta=13, gamma=17, delta=19)
    pk = dev_setup(r1cs, secrets=s)
    qap = qap_from_r1cs(r1cs)
    n = qap.domain_size
    lag = [_naive_lagrange(s.tau, n, j) for j in range(n)]

    def col(entries: list[tuple[int, int, int]]) -> list[int]:
        out = [0] * r1cs.n_vars
        for row, sig, v in entries:
            out[sig] = (out[sig] + v * lag[row]) % R
        return out

    u, v, w = col(qap.a), col(qap.b), col(qap.c)
    g1 = lambda k: g1_mul(G1_GEN, k)  # noqa: E731
    assert pk.alpha1 == g1(s.alpha) and pk.delta2 == g2_mul(G2_GEN, s.delta) and pk.gamma2 == g2_mul(G2_GEN, s.gamma)
    assert pk.a_g1 == [g1(x) for x in u]
    assert pk.b_g2 == [g2_mul(G2_GEN, x) for x in v]
    mixed = [(s.beta * u[k] + s.alpha * v[k] + w[k]) % R for k in range(r1cs.n_vars)]
    assert pk.ic == [g1(m * inv(s.gamma)) for m in mixed[: r1cs.n_public + 1]]
    assert pk.c_g1 == [g1(m * inv(s.delta)) for m in mixed[r1cs.n_public + 1 :]]
    assert pk.h_g1 == [g1(_naive_lagrange(s.tau, 2 * n, 2 * i + 1) * inv(s.delta)) for i in range(n)]
    # Signals absent from B have the zero polynomial: their points must be infinity, not garbage.
    zero_b = [k for k in range(r1cs.n_vars) if v[k] == 0]
    assert zero_b and all(pk.b_g1[k] is None and pk.b_g2[k] is None for k in zero_b)


def _groth16_identity_holds(pk: ProvingKey, r1cs: R1CS, witness: list[int]) -> bool:
    """e(A, B) = e(alpha, beta) e(IC, gamma) e(C, delta) with r = s = 0: needs no knowledge of tau."""
    qap = qap_from_r1cs(r1cs)
    n, log_n = qap.domain_size, qap.log_domain

    def rows(entries: list[tuple[int, int, int]]) -> list[int]:
        ev = [0] * n
        for row, sig, v in entries:
            ev[row] = (ev[row] + v * witness[sig]) % R
        return ev

    a, b, c = rows(qap.a), rows(qap.b), rows(qap.c)
    ww = root_of_unity(log_n + 1)

    def at(ev: list[int], x: int) -> int:  # evaluate the interpolant of ev at x (naively)
        return sum(e * _naive_lagrange(x, n, j) for j, e in enumerate(ev)) % R

    odd = [pow(ww, 2 * i + 1, R) for i in range(n)]
    hs = [(at(a, x) * at(b, x) - at(c, x)) % R for x in odd]

    def msm(pts: list[Any], ks: list[int], add: Callable[[Any, Any], Any], mul: Callable[[Any, int], Any]) -> Any:
        acc = None
        for p, k in zip(pts, ks, strict=True):
            acc = add(acc, mul(p, k)) if p is not None else acc
        return acc

    from zkmargin.circuits.curve import g2_add_aff

    A = g1_add_aff(pk.alpha1, msm(pk.a_g1, witness, g1_add_aff, g1_mul))
    B = g2_add_aff(pk.beta2, msm(pk.b_g2, witness, g2_add_aff, g2_mul))
    IC = msm(pk.ic, witness[: r1cs.n_public + 1], g1_add_aff, g1_mul)
    C = g1_add_aff(msm(pk.c_g1, witness[r1cs.n_public + 1 :], g1_add_aff, g1_mul), msm(pk.h_g1, hs, g1_add_aff, g1_mul))
    return pairing_product_is_one([(g1_neg(A), B), (pk.alpha1, pk.beta2), (IC, pk.gamma2), (C, pk.delta2)])


def test_dev_key_satisfies_groth16_identity(circuit: tuple[ConstraintSystem, R1CS]) -> None:
    cs, r1cs = circuit
    pk = dev_setup(r1cs)
    wit = cs.witness({"x": 5, "y": 7})
    assert _groth16_identity_holds(pk, r1cs, wit)
    bad = list(wit)
    bad[-1] = (bad[-1] + 1) % R  # violates a constraint
    assert not _groth16_identity_holds(pk, r1cs, bad)


# ---------------------------------------------------------------- ceremony


def test_ceremony_key_equals_dev_key_with_same_secrets(ceremony: tuple[ProvingKey, Path], circuit: Any) -> None:
    pk, _ = ceremony
    assert pk == dev_setup(circuit[1], secrets=_combined_secrets())
    assert pk != dev_setup(circuit[1], secrets=SetupSecrets(5, 6, 7, 1, 8))


def test_ceremony_key_file_roundtrip(ceremony: tuple[ProvingKey, Path]) -> None:
    pk, d = ceremony
    assert load_key(d / "phase2" / "final_key.bin") == pk


def test_honest_transcript_verifies(ceremony: tuple[ProvingKey, Path], circuit: Any) -> None:
    pk, d = ceremony
    rep = verify_transcript(d, circuit[1], vk=pk.verifying_key(), final_key=pk)
    assert rep.ok, str(rep)
    names = {c.name for c in rep.checks}
    assert {
        "phase1.contribution[2].tau_g1_powers",
        "phase2.initial.h_g1",
        "phase2.contribution[2].c_h_rescaled",
    } <= names


def test_transcript_rejects_wrong_vk(ceremony: tuple[ProvingKey, Path], circuit: Any) -> None:
    _, d = ceremony
    other = dev_setup(circuit[1]).verifying_key()
    rep = verify_transcript(d, circuit[1], vk=other)
    assert rep.failed() == ["phase2.final.verifying_key_matches"]


def _tampered_copy(src: Path, dst: Path, rel: str, mutate: Callable[[bytes], bytes]) -> Path:
    """Copy a transcript, rewrite one file and update its recorded hash (as a cheater would)."""
    shutil.copytree(src, dst)
    old = (dst / rel).read_bytes()
    new = mutate(old)
    assert new != old
    (dst / rel).write_bytes(new)
    meta = (dst / "ceremony.json").read_text().replace(sha256_hex(old), sha256_hex(new))
    (dst / "ceremony.json").write_text(meta)
    return dst


def _mut_acc(f: Callable[[Phase1Accumulator], None]) -> Callable[[bytes], bytes]:
    def m(b: bytes) -> bytes:
        acc = Phase1Accumulator.from_bytes(b)
        f(acc)
        return acc.to_bytes()

    return m


def _mut_delta(f: Callable[[DeltaState], None]) -> Callable[[bytes], bytes]:
    def m(b: bytes) -> bytes:
        st = DeltaState.from_bytes(b)
        f(st)
        return st.to_bytes()

    return m


def _mut_key(f: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def m(b: bytes) -> bytes:
        k = decode_key(b)
        f(k)
        return encode_key(ProvingKey(**k))

    return m


def _non_consecutive(acc: Phase1Accumulator) -> None:
    acc.tau_g1[3] = g1_mul(acc.tau_g1[3], 2)


def _delta1_only(st: DeltaState) -> None:
    # A contribution that moved delta1 (and rescaled nothing else) but left delta2 alone.
    st.delta1 = g1_mul(st.delta1, 5)


def _swap_h(st: DeltaState) -> None:
    st.h_g1[0], st.h_g1[1] = st.h_g1[1], st.h_g1[0]


def _swap_a(k: dict[str, Any]) -> None:
    k["a_g1"][1], k["a_g1"][2] = k["a_g1"][2], k["a_g1"][1]


def _tamper_h(k: dict[str, Any]) -> None:
    k["h_g1"][2] = g1_add_aff(k["h_g1"][2], G1_GEN)


@pytest.mark.parametrize(
    ("rel", "mutate", "expected"),
    [
        ("phase1/accumulator_0001.bin", _mut_acc(_non_consecutive), "phase1.contribution[1].tau_g1_powers"),
        ("phase2/delta_0001.bin", _mut_delta(_delta1_only), "phase2.contribution[1].delta1_delta2_match"),
        ("phase2/delta_0002.bin", _mut_delta(_swap_h), "phase2.contribution[2].c_h_rescaled"),
        ("phase2/initial_key.bin", _mut_key(_swap_a), "phase2.initial.a_g1"),
        ("phase2/initial_key.bin", _mut_key(_tamper_h), "phase2.initial.h_g1"),
    ],
    ids=["non-consecutive-powers", "delta1-without-delta2", "swapped-h-points", "swapped-a-points", "tampered-h-point"],
)
def test_tampered_transcript_fails(
    ceremony: tuple[ProvingKey, Path], circuit: Any, tmp_path: Path, rel: str, mutate: Any, expected: str
) -> None:
    _, d = ceremony
    bad = _tampered_copy(d, tmp_path / "t", rel, mutate)
    rep = verify_transcript(bad, circuit[1])
    assert not rep.ok
    assert expected in rep.failed(), str(rep)


def test_tampered_file_without_hash_update_fails(
    ceremony: tuple[ProvingKey, Path], circuit: Any, tmp_path: Path
) -> None:
    _, d = ceremony
    shutil.copytree(d, tmp_path / "t")
    f = tmp_path / "t" / "phase2" / "final_key.bin"
    k = decode_key(f.read_bytes())
    _tamper_h(k)
    f.write_bytes(encode_key(ProvingKey(**k)))
    assert "phase2.final.file_hash" in verify_transcript(tmp_path / "t", circuit[1]).failed()


def test_transcript_for_other_circuit_fails(ceremony: tuple[ProvingKey, Path]) -> None:
    _, d = ceremony
    cs = ConstraintSystem()
    a = cs.input("a")
    cs.output("o", cs.mul(a, a))
    rep = verify_transcript(d, cs.compile())
    assert "phase2.circuit_matches_r1cs" in rep.failed()


def test_forged_knowledge_proof_fails(ceremony: tuple[ProvingKey, Path], circuit: Any, tmp_path: Path) -> None:
    _, d = ceremony
    shutil.copytree(d, tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "ceremony.json").read_text())
    meta["phase2"]["contributions"][0]["proof"]["z"] = str(12345)
    (tmp_path / "t" / "ceremony.json").write_text(json.dumps(meta))
    assert "phase2.contribution[1].pok_delta" in verify_transcript(tmp_path / "t", circuit[1]).failed()


def test_prepare_phase2_matches_scalar_lagrange() -> None:
    (c,) = run_local_ceremony(2, 1, [Phase1Secrets(77, 3, 5)])
    prep = prepare_phase2(c.accumulator, 2)
    assert prep.lag_g1 == [g1_mul(G1_GEN, _naive_lagrange(77, 4, j)) for j in range(4)]
    assert prep.lag_g2 == [g2_mul(G2_GEN, _naive_lagrange(77, 4, j)) for j in range(4)]
    assert prep.lag_alpha_g1 == [g1_mul(G1_GEN, 3 * _naive_lagrange(77, 4, j)) for j in range(4)]
    assert prep.h_g1 == [g1_mul(G1_GEN, _naive_lagrange(77, 8, 2 * i + 1)) for i in range(4)]


# ---------------------------------------------------------------- snarkjs .ptau


@pytest.fixture(scope="module")
def snarkjs_ptau(run_tool: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("ptau")
    steps = [
        ("powersoftau", "new", "bn128", "3", d / "p0.ptau"),
        ("powersoftau", "contribute", d / "p0.ptau", d / "p1.ptau", "-e=zkmargin test entropy", "--name=t"),
        ("powersoftau", "prepare", "phase2", d / "p1.ptau", d / "final.ptau"),
    ]
    for args in steps:
        res = run_tool("snarkjs", *args)
        assert res.returncode == 0, res.stdout + res.stderr
    return d / "p1.ptau", d / "final.ptau"


@pytest.mark.snarkjs
def test_ptau_powers_satisfy_pairing_relations(snarkjs_ptau: tuple[Path, Path]) -> None:
    acc, info, _ = read_ptau(snarkjs_ptau[1])
    assert (info.power, info.n_contributions, info.prepared) == (3, 1, True)
    assert len(acc.tau_g1) == 15 and len(acc.tau_g2) == 8
    rep = TranscriptReport()
    check_accumulator_powers(acc, rep, "ptau")
    assert rep.ok, str(rep)
    # Spot-check individual powers directly: e(tau^i G1, G2) == e(tau^(i-1) G1, tau G2).
    for i in (1, 7, 14):
        assert pairing_product_is_one([(acc.tau_g1[i], G2_GEN), (g1_neg(acc.tau_g1[i - 1]), acc.tau_g2[1])])
    assert acc.tau_g1[1] != G1_GEN  # a contribution happened


@pytest.mark.snarkjs
def test_setup_from_ptau_is_consistent(snarkjs_ptau: tuple[Path, Path], circuit: Any, tmp_path: Path) -> None:
    r1cs = circuit[1]
    for src in snarkjs_ptau:  # unprepared (our FFT) and prepared (snarkjs's Lagrange sections)
        pk, d = setup_from_ptau(r1cs, src, contributions=1, transcript_dir=tmp_path / src.stem)
        rep = verify_transcript(d, r1cs, vk=pk.verifying_key(), final_key=pk)
        assert rep.ok, str(rep)
        assert pk.alpha1 == read_ptau(src)[0].alpha_g1[0]
    # Our group FFT reproduces snarkjs's prepared Lagrange points exactly.
    acc, _, bf = read_ptau(snarkjs_ptau[1], 3)
    from zkmargin.prover.ptau import prepared_from_ptau

    assert prepared_from_ptau(bf, acc, 3) == prepare_phase2(acc, 3)


@pytest.mark.snarkjs
def test_written_ptau_is_read_back_by_snarkjs(run_tool: Callable[..., Any], tmp_path: Path) -> None:
    (c,) = run_local_ceremony(3, 1)
    write_ptau(tmp_path / "ours.ptau", c.accumulator)
    acc, info, _ = read_ptau(tmp_path / "ours.ptau")
    assert info.power == 3 and acc.tau_g1 == c.accumulator.tau_g1[:15] and acc.tau_g2 == c.accumulator.tau_g2
    res = run_tool("snarkjs", "powersoftau", "prepare", "phase2", tmp_path / "ours.ptau", tmp_path / "prep.ptau")
    assert res.returncode == 0, res.stdout + res.stderr
    acc2, info2, bf = read_ptau(tmp_path / "prep.ptau", 2)
    from zkmargin.prover.ptau import prepared_from_ptau

    # snarkjs's Lagrange points computed from our file equal ours: it parsed every point as we meant.
    assert info2.prepared and prepared_from_ptau(bf, acc2, 2) == prepare_phase2(c.accumulator, 2)


# ---------------------------------------------------------------- end to end


def test_prove_and_verify_with_ceremony_key(ceremony: tuple[ProvingKey, Path], circuit: Any) -> None:
    groth16 = pytest.importorskip("zkmargin.prover.groth16")
    from zkmargin.verifier.groth16 import verify

    cs, _ = circuit
    pk, _ = ceremony
    wit = cs.witness({"x": 3, "y": 4})
    proof, public = groth16.prove(pk, wit)
    assert verify(pk.verifying_key(), proof, public)
    assert not verify(pk.verifying_key(), proof, [(public[0] + 1) % R, *public[1:]])
