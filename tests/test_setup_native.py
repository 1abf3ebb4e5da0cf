"""The C kernel's dev setup (circuits/_native/setup.c) against the pure-Python reference.

Each native step is compared with the Python function it replaces on the same inputs (Lagrange basis,
sparse column evaluation, fixed-base multiplication), then whole keys: dev_setup and
dev_setup_committed with the same secrets must give identical keys on both paths, including the
edge cases (no constraints, a signal in no constraint, n_public 0, coefficients that are 0, r - 1,
negative or wider than r), and a proof made with the native key must verify.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from zkmargin.circuits import msm_native
from zkmargin.circuits.curve import G1_GEN, G2_GEN, FixedBaseG1, FixedBaseG2, g1_mul, g2_mul
from zkmargin.circuits.field import R, root_of_unity
from zkmargin.circuits.formats import read_r1cs
from zkmargin.circuits.r1cs import R1CS, Constraint, ConstraintSystem
from zkmargin.prover.committed import dev_setup_committed, prove_committed
from zkmargin.prover.groth16 import prove
from zkmargin.prover.keys import ProvingKey
from zkmargin.prover.qap import evaluate_columns, lagrange_at, qap_from_r1cs
from zkmargin.prover.setup import SetupSecrets, dev_setup
from zkmargin.prover.setup.dev import write_dev_zkey
from zkmargin.prover.zkey import read_zkey, write_zkey, zkey_to_bytes
from zkmargin.verifier.committed import verify_committed
from zkmargin.verifier.groth16 import verify

pytestmark = pytest.mark.skipif(not msm_native.available(), reason="the C kernel is not built")

from zkmargin.circuits import setup_native as sn  # noqa: E402  (imports the kernel)

REPO = Path(__file__).resolve().parent.parent
SECRETS = SetupSecrets(tau=1234567891011, alpha=R - 2, beta=3, gamma=987654321, delta=R - 77)


def _ints(b: bytes) -> list[int]:
    return sn.unpack_scalars(b)


def _pack(xs: list[int]) -> bytes:
    return b"".join((x % R).to_bytes(32, "little") for x in xs)


@pytest.mark.parametrize("log_n", [0, 1, 2, 3, 7, 11])
def test_lagrange_matches_python(log_n: int) -> None:
    rng = random.Random(log_n)
    for x in (rng.randrange(R), R - 1, 2):
        if pow(x, 1 << log_n, R) == 1:
            continue
        ref = lagrange_at(x, log_n)
        assert _ints(sn.lagrange_packed(x, log_n)) == ref
        if log_n:
            assert _ints(sn.lagrange_packed(x, log_n, odd=True)) == ref[1::2]


def test_lagrange_split_over_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above par_min the basis is computed in per-thread ranges with their own start power and inversion."""
    kernel = sn._kernel()
    old = kernel.set_par_min(4)
    try:
        x = 0xABCDEF
        assert _ints(sn.lagrange_packed(x, 9)) == lagrange_at(x, 9)
        assert _ints(sn.lagrange_packed(x, 9, odd=True)) == lagrange_at(x, 9)[1::2]
    finally:
        kernel.set_par_min(old)


@pytest.mark.parametrize("log_n", [1, 4])
def test_lagrange_rejects_domain_points(log_n: int) -> None:
    w = root_of_unity(log_n)
    for j in (0, 1, (1 << log_n) - 1):
        x = pow(w, j, R)
        with pytest.raises(ValueError, match="lies in the domain"):
            sn.lagrange_packed(x, log_n)
        with pytest.raises(ValueError, match="lies in the domain"):
            lagrange_at(x, log_n)
    # a point of the doubled domain outside the domain: the odd basis of the doubled domain refuses it too
    x = root_of_unity(log_n + 1)
    with pytest.raises(ValueError, match="lies in the domain"):
        sn.lagrange_packed(x, log_n + 1, odd=True)


def test_columns_match_python() -> None:
    rng = random.Random(7)
    lag = lagrange_at(99, 6)
    coeffs = [0, 1, R - 1, -5, 3 * R + 7, 1 << 300, -(1 << 300)]
    entries = [(rng.randrange(64), rng.randrange(10), rng.choice([*coeffs, rng.randrange(R)])) for _ in range(400)]
    entries.append((63, 11, 5))  # signal 11 appears once, at the last row; signals 10 and 12 never
    got = _ints(sn.eval_columns_packed(entries, _pack(lag), 13))
    assert got == evaluate_columns(entries, lag, 13)
    assert got[10] == got[12] == 0
    assert _ints(sn.eval_columns_packed([], _pack(lag), 3)) == [0, 0, 0]


def test_columns_reject_bad_entries() -> None:
    lag = _pack(lagrange_at(99, 3))
    with pytest.raises(ValueError, match="row 8 outside the domain of size 8"):
        sn.eval_columns_packed([(8, 0, 1)], lag, 4)
    with pytest.raises(ValueError, match=r"signal 4 out of range \[0, 4\)"):
        sn.eval_columns_packed([(0, 4, 1)], lag, 4)
    with pytest.raises(ValueError, match="entry 1 is not a"):
        sn.eval_columns_packed([(0, 0, 1), (0, 0)], lag, 4)
    with pytest.raises(TypeError, match="coefficient is not an int"):
        sn.eval_columns_packed([(0, 0, 1.5)], lag, 4)  # type: ignore[list-item]


def test_mix_and_scale() -> None:
    rng = random.Random(3)
    u, v, w = ([rng.randrange(R) for _ in range(9)] for _ in range(3))
    a, b, gi, di = (rng.randrange(R) for _ in range(4))
    for n_pub in (0, 2, 8, 20):
        got = _ints(sn.mix_columns_packed(_pack(u), _pack(v), _pack(w), a, b, n_pub, gi, di))
        assert got == [(b * u[k] + a * v[k] + w[k]) * (gi if k <= n_pub else di) % R for k in range(9)]
    assert _ints(sn.scale_packed(_pack(u), di)) == [x * di % R for x in u]
    with pytest.raises(ValueError, match="not a canonical scalar"):
        sn.scale_packed(R.to_bytes(32, "little"), 2)


EDGE_SCALARS = [0, 1, 2, 3, R - 1, R - 2, (R - 1) // 2, 1 << 253, (1 << 10) - 1, 1 << 10, (1 << 20) + 1]


@pytest.mark.parametrize("window", [1, 4, 8, 10, 13, 16])
def test_fixed_base_matches_python(window: int) -> None:
    rng = random.Random(window)
    sc = EDGE_SCALARS + [rng.randrange(R) for _ in range(40)]
    g1 = sn.unpack_g1_fast(sn.fixed_g1_packed(_pack(sc), window=window))
    assert g1 == FixedBaseG1(G1_GEN).mul_many(sc)
    assert g1[0] is None and g1[1] == G1_GEN
    g2 = sn.unpack_g2_fast(sn.fixed_g2_packed(_pack(sc[:16]), window=window))
    assert g2 == FixedBaseG2(G2_GEN).mul_many(sc[:16])


def test_fixed_base_other_base_and_threads() -> None:
    """A base other than the generator; more than one chunk per thread (chunks of 1024)."""
    rng = random.Random(11)
    base1, base2 = g1_mul(G1_GEN, 12345), g2_mul(G2_GEN, 777)
    sc = [rng.randrange(R) for _ in range(2500)] + EDGE_SCALARS
    assert sn.unpack_g1_fast(sn.fixed_g1_packed(_pack(sc), base1)) == FixedBaseG1(base1).mul_many(sc)
    assert sn.unpack_g2_fast(sn.fixed_g2_packed(_pack(sc[:30]), base2)) == FixedBaseG2(base2).mul_many(sc[:30])
    assert sn.fixed_g1_packed(b"") == b""
    with pytest.raises(ValueError, match="point at infinity"):
        sn.fixed_g1_packed(_pack([1]), None)
    with pytest.raises(ValueError, match="not a canonical scalar"):
        sn.fixed_g1_packed(R.to_bytes(32, "little"))


# ---------------------------------------------------------------- whole keys


def _key_fields(pk: ProvingKey) -> dict[str, object]:
    names = ("n_vars", "n_public", "domain_size", "alpha1", "beta1", "beta2", "gamma2", "delta1", "delta2")
    names += ("ic", "a_g1", "b_g1", "b_g2", "c_g1", "h_g1", "a_coeffs", "b_coeffs")
    return {k: getattr(pk, k) for k in names}


def _both(monkeypatch: pytest.MonkeyPatch, r1cs: R1CS) -> tuple[ProvingKey, ProvingKey]:
    native = dev_setup(r1cs, secrets=SECRETS)
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    try:
        pure = dev_setup(r1cs, secrets=SECRETS)
    finally:
        monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")
    assert not pure.packed  # the reference path really ran
    return native, pure


def _chain() -> tuple[ConstraintSystem, R1CS]:
    cs = ConstraintSystem()
    x = cs.input("x", public=True)
    y = cs.input("y")
    cs.input("unused")  # a signal in no constraint: all its points are infinity
    t = cs.mul(x, y, "xy")
    for i in range(20):
        t = cs.mul(t, t + i, f"s{i}") * (R - 1) + 3
    cs.output("out", t)
    return cs, cs.compile()


def test_dev_key_identical_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    cs, r1cs = _chain()
    native, pure = _both(monkeypatch, r1cs)
    assert _key_fields(native) == _key_fields(pure)
    unused = r1cs.signal_index("unused")
    assert native.a_g1[unused] is None and native.b_g2[unused] is None
    # the packed lists the native path hands the prover are those of the key's points
    assert native.packed["a_g1"] == msm_native.pack_g1(native.a_g1)
    assert native.packed["b_g2"] == msm_native.pack_g2(native.b_g2)
    assert native.packed["h_g1"] == msm_native.pack_g1(native.h_g1)
    w = cs.witness({"x": 5, "y": 9, "unused": 4})
    proof, public = prove(native, w)
    assert verify(native.verifying_key(), proof, public)
    public[0] = (public[0] + 1) % R
    assert not verify(native.verifying_key(), proof, public)


def test_dev_key_edge_circuits(monkeypatch: pytest.MonkeyPatch) -> None:
    # no constraints at all, no public signal: the QAP has only the constant-one row
    empty = R1CS(n_vars=3, n_pub_out=0, n_pub_in=0, n_prv_in=2, constraints=[])
    native, pure = _both(monkeypatch, empty)
    assert _key_fields(native) == _key_fields(pure)
    assert native.b_g1 == [None, None, None] and native.a_g1[1] is None
    # n_public 0 with constraints; a column with a zero coefficient, one with r - 1
    c = [
        Constraint({1: 1}, {2: R - 1}, {3: 1}, "c0"),
        Constraint({3: 0, 1: 2}, {0: 1}, {2: 5}, "c1"),
    ]
    r1cs = R1CS(n_vars=5, n_pub_out=0, n_pub_in=0, n_prv_in=4, constraints=c)
    native, pure = _both(monkeypatch, r1cs)
    assert _key_fields(native) == _key_fields(pure)
    assert len(native.ic) == 1 and native.c_g1[3] is None  # signal 4: in no constraint


def test_committed_key_identical_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    from committed_circuits import square_plus_y

    cs = square_plus_y()
    r1cs = cs.compile()
    native = dev_setup_committed(r1cs, secrets=SECRETS, eta=5, k=7)
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    try:
        pure = dev_setup_committed(r1cs, secrets=SECRETS, eta=5, k=7)
    finally:
        monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")
    assert _key_fields(native.base) == _key_fields(pure.base)
    assert native.commitment == pure.commitment and native.vk == pure.vk
    assert native.committed_wires == pure.committed_wires
    # the removed C points are infinity in the packed list the prover uses too
    if "c_g1" in native.base.packed:
        assert native.base.packed["c_g1"] == msm_native.pack_g1(native.base.c_g1)
    proof, public = prove_committed(native, cs, {"x": 3, "y": 4})
    assert verify_committed(native.vk, proof, public)
    assert not verify_committed(native.vk, proof, [(public[0] + 1) % R, *public[1:]])


def test_zkey_bytes_identical_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """write_zkey takes a native key's packed point lists and the kernel's coefficient section: the
    file is byte-identical to the one the Python path encodes from the decoded key."""
    _, r1cs = _chain()
    native = dev_setup(r1cs, secrets=SECRETS)
    fast = zkey_to_bytes(native)
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    try:
        pure = dev_setup(r1cs, secrets=SECRETS)
        slow = zkey_to_bytes(pure)
    finally:
        monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")
    assert fast == slow
    # B entries interleaved with A's row by row, both lists out of row order: the same stable order
    native.a_coeffs.reverse()
    native.b_coeffs.reverse()
    pure.a_coeffs.reverse()
    pure.b_coeffs.reverse()
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    try:
        slow = zkey_to_bytes(pure)
    finally:
        monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")
    assert zkey_to_bytes(native) == slow


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ((32, 0, 1), "coefficient row 32 outside the domain of size 32"),
        ((-1, 0, 1), "coefficient row -1 outside the domain of size 32"),
        ((0, 99, 1), r"coefficient signal 99 out of range \[0, 26\)"),
        ((3, 2, R), r"coefficient \(3, 2\) is not a canonical field element"),
        ((3, 2, -1), r"coefficient \(3, 2\) is not a canonical field element"),
    ],
)
def test_zkey_coefficient_errors_match_python(
    monkeypatch: pytest.MonkeyPatch, entry: tuple[int, int, int], message: str
) -> None:
    _, r1cs = _chain()
    pk = dev_setup(r1cs, secrets=SECRETS)
    assert (pk.n_vars, pk.domain_size) == (26, 32)
    pk.b_coeffs.append(entry)
    with pytest.raises(ValueError, match=message):
        zkey_to_bytes(pk)
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    try:
        with pytest.raises(ValueError, match=message):
            zkey_to_bytes(pk)
    finally:
        monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")


def test_lean_chain_and_dev_zkey(tmp_path: Path) -> None:
    """bench_prover's lean path (2^21 and up): the chain circuit written without circuit objects and its key
    written without decoding its points give the same files as the ConstraintSystem / dev_setup path."""
    spec = importlib.util.spec_from_file_location("bench_prover", REPO / "scripts" / "bench_prover.py")
    assert spec is not None and spec.loader is not None
    bp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bp)
    (tmp_path / "ref").mkdir()
    (tmp_path / "lean").mkdir()
    bp.build_circuit(6, tmp_path / "ref")
    _, n_vars, _, qap = bp.chain_lean(6, tmp_path / "lean")
    for name in ("circuit.r1cs", "witness.wtns"):
        assert (tmp_path / "ref" / name).read_bytes() == (tmp_path / "lean" / name).read_bytes()
    r1cs = read_r1cs(tmp_path / "ref" / "circuit.r1cs")
    ref = qap_from_r1cs(r1cs)
    assert (qap.a, qap.b, qap.c, qap.domain_size) == (ref.a, ref.b, ref.c, ref.domain_size)
    vk = write_dev_zkey(qap, n_vars, r1cs.n_public, tmp_path / "lean.zkey", secrets=SECRETS)
    write_zkey(dev_setup(r1cs, secrets=SECRETS), tmp_path / "ref.zkey")
    assert (tmp_path / "lean.zkey").read_bytes() == (tmp_path / "ref.zkey").read_bytes()
    assert vk == read_zkey(tmp_path / "ref.zkey", packed_only=True).verifying_key()
