"""The optional C kernel against the pure-Python reference it replaces: MSM in G1 and G2 (edge
cases included), the QAP step, and whole proofs made through either path."""

from __future__ import annotations

import random

import pytest

from zkmargin.circuits import msm_native as nat
from zkmargin.circuits.curve import G1_GEN, G2_GEN, FixedBaseG1, FixedBaseG2, g1_neg, g2_neg
from zkmargin.circuits.field import R
from zkmargin.circuits.msm import msm_g1, msm_g2
from zkmargin.circuits.r1cs import LC, ConstraintSystem
from zkmargin.prover.groth16 import h_evaluations, prove
from zkmargin.prover.setup import dev_setup
from zkmargin.verifier.groth16 import verify

pytestmark = [
    pytest.mark.skipif(nat._bn254 is None, reason="C kernel not built (pure-Python fallback in use)"),
    pytest.mark.usefixtures("fp_variant_each"),  # every test once per Fp multiplication variant
]


def _g1_points(n: int, rnd: random.Random) -> list:  # type: ignore[type-arg]
    return FixedBaseG1(G1_GEN).mul_many([rnd.randrange(1, R) for _ in range(n)])


@pytest.mark.parametrize("n", [1, 3, 64, 1000, 5000])
def test_g1_matches_reference(n: int) -> None:
    rnd = random.Random(n)
    pts = _g1_points(n, rnd)
    ks = [rnd.randrange(R) for _ in range(n)]
    if n >= 64:
        pts[1], ks[1] = pts[0], ks[0]  # equal points in one bucket: doubling inside addition
        pts[2] = g1_neg(pts[3])  # P and -P with equal scalars cancel
        ks[2] = ks[3]
        pts[4] = None
        ks[5] = 0
        ks[6] = R - 1
        ks[7] = 1
    want = msm_g1(pts, ks)
    for c in (3, 8, 13):
        assert nat.msm_g1_packed(nat.pack_g1(pts), ks, c) == want


@pytest.mark.parametrize("n", [1, 17, 300])
def test_g2_matches_reference(n: int) -> None:
    rnd = random.Random(1000 + n)
    pts = FixedBaseG2(G2_GEN).mul_many([rnd.randrange(1, R) for _ in range(n)])
    ks = [rnd.randrange(R) for _ in range(n)]
    if n > 10:
        pts[1], ks[1] = pts[0], ks[0]
        pts[2], ks[2] = g2_neg(pts[3]), ks[3]
        pts[4] = None
    want = msm_g2(pts, ks)
    for c in (4, 9):
        assert nat.msm_g2_packed(nat.pack_g2(pts), ks, c) == want


# ---------------------------------------------------------------- GLV and batch-affine paths

LAMBDA = 4407920970296243842393367215006156084916469457145843978461  # GLV eigenvalue (scripts/glv_constants.py)
FLAGS = [nat.MSM_PLAIN, nat.MSM_GLV, nat.MSM_BATCH_AFFINE, nat.MSM_FAST]
EDGE_SCALARS = [
    0,
    1,
    2,
    R - 1,
    R - 2,
    LAMBDA,
    R - LAMBDA,
    LAMBDA * LAMBDA % R,
    (R - 1) // 2,
    (R + 1) // 2,
    1 << 127,
    (1 << 128) - 1,
    1 << 253,
]


def _edge_case_input(n: int, rnd: random.Random, points: list, neg) -> tuple[list, list[int]]:  # type: ignore[type-arg, no-untyped-def]
    """Random points and scalars with every edge case that fits in n: special scalars, points at
    infinity, repeated points with equal scalars (a doubling inside a bucket batch), P and -P."""
    pts = list(points)
    ks = [rnd.randrange(R) for _ in range(n)]
    for i, k in enumerate(EDGE_SCALARS[: max(0, n - 8)]):
        ks[8 + i] = k
    if n >= 2:
        pts[1], ks[1] = pts[0], ks[0]  # same point, same scalar: same bucket in every window
    if n >= 4:
        pts[2], ks[2] = neg(pts[3]), ks[3]  # P and -P with one scalar cancel
    if n >= 6:
        pts[4] = None
        pts[5] = neg(pts[6])  # P and -P with unrelated scalars
    return pts, ks


def _msm_all_paths(msm, pack, pts: list, ks: list[int], windows: tuple[int, ...]) -> set:  # type: ignore[type-arg, no-untyped-def]
    packed = pack(pts)
    got = {msm(packed, ks, c, flags) for c in windows for flags in FLAGS}
    got.add(msm(packed, ks))  # the default choice of window and switches
    return got


@pytest.mark.parametrize("n", [1, 2, 3, 5, 24, 100, 777, 1531])
def test_g1_paths_match_reference(n: int) -> None:
    """Plain, GLV, batch-affine and both: one answer, the pure-Python one, edge cases included."""
    rnd = random.Random(2000 + n)
    pts, ks = _edge_case_input(n, rnd, _g1_points(n, rnd), g1_neg)
    want = msm_g1(pts, ks)
    assert _msm_all_paths(nat.msm_g1_packed, nat.pack_g1, pts, ks, (3, 7, 11)) == {want}


@pytest.mark.parametrize("n", [1, 2, 3, 21, 130])
def test_g2_paths_match_reference(n: int) -> None:
    rnd = random.Random(3000 + n)
    pts, ks = _edge_case_input(n, rnd, FixedBaseG2(G2_GEN).mul_many([rnd.randrange(1, R) for _ in range(n)]), g2_neg)
    want = msm_g2(pts, ks)
    assert _msm_all_paths(nat.msm_g2_packed, nat.pack_g2, pts, ks, (3, 8)) == {want}


def test_edge_scalars_one_point() -> None:
    """n = 1 with each special scalar (0, 1, r-1, lambda, ...), a point at infinity, in G1 and G2."""
    from zkmargin.circuits.curve import g1_mul, g2_mul

    rnd = random.Random(4)
    p = _g1_points(1, rnd)[0]
    q = FixedBaseG2(G2_GEN).mul_many([rnd.randrange(1, R)])[0]
    for k in EDGE_SCALARS:
        assert {nat.msm_g1_packed(nat.pack_g1([p]), [k], c, f) for c in (3, 9) for f in FLAGS} == {g1_mul(p, k)}
        assert {nat.msm_g2_packed(nat.pack_g2([q]), [k], c, f) for c in (3, 9) for f in FLAGS} == {g2_mul(q, k)}
        assert {nat.msm_g1_packed(nat.pack_g1([None, p]), [k, 1], 4, f) for f in FLAGS} == {p}


@pytest.mark.parametrize("c", [3, 9, 13])
def test_repeated_points_overflow_batches(c: int) -> None:
    """Hundreds of copies of a point (one scalar each, and a few scalars shared): every window
    sends them to the same buckets, so batches defer them, double them and overflow to Jacobian."""
    rnd = random.Random(c)
    p, q = _g1_points(2, rnd)
    shared = rnd.randrange(R)
    pts = [p] * 600 + [q] * 300 + [g1_neg(q)] * 300
    ks = [shared] * 400 + [rnd.randrange(R) for _ in range(200)] + [7] * 600
    want = msm_g1(pts, ks)
    packed = nat.pack_g1(pts)
    assert {nat.msm_g1_packed(packed, ks, c, flags) for flags in FLAGS} == {want}
    p2 = FixedBaseG2(G2_GEN).mul_many([rnd.randrange(1, R)])[0]
    ks2 = [shared] * 150 + [rnd.randrange(R) for _ in range(50)]
    want2 = msm_g2([p2] * 200, ks2)
    packed2 = nat.pack_g2([p2] * 200)
    assert {nat.msm_g2_packed(packed2, ks2, c, flags) for flags in FLAGS} == {want2}


def test_unreduced_scalars_equal_reduced() -> None:
    """Scalars in [r, 2^256) given as bytes (no reduction in Python): GLV reduces them first."""
    rnd = random.Random(9)
    pts = _g1_points(40, rnd)
    ks = [rnd.randrange(R) for _ in range(40)]
    ks[0] = R - 1
    raw = b"".join((k + R * rnd.randrange(0, ((1 << 256) - 1 - k) // R + 1)).to_bytes(32, "little") for k in ks)
    want = msm_g1(pts, ks)
    assert {nat.msm_g1_packed(nat.pack_g1(pts), raw, 5, flags) for flags in FLAGS} == {want}


def test_plain_switch_and_default_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert nat.msm_flags(1 << 16) == nat.MSM_FAST and nat.msm_flags(10) == nat.MSM_GLV
    monkeypatch.setenv("ZKMARGIN_MSM_PLAIN", "1")
    assert nat.msm_flags(1 << 16) == nat.MSM_PLAIN
    for n in (1, 100, 1 << 10, 1 << 16, 1 << 22):
        for flags in FLAGS:
            assert 3 <= nat.native_window(n, flags) <= 16
    with pytest.raises(ValueError, match="flags"):
        nat._bn254.msm_g1(bytes(64), bytes(32), 4, 1, 4)


def test_glv_constants_match_derivation() -> None:
    """The constants hard-coded in the kernel are the ones scripts/glv_constants.py derives and checks."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, str(repo / "scripts" / "glv_constants.py")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
    ).stdout
    source = (repo / "circuits" / "_native" / "bn254.c").read_text()
    lines = [ln.split("  /*")[0] for ln in out.splitlines() if ln.startswith(("static const", "#define"))]
    assert len(lines) == 9
    for line in lines:
        assert line in source
    assert f"LAMBDA = {LAMBDA}" in out


@pytest.mark.parametrize("n", [1, 7, 40, 700])
def test_shared_digits_match_reference(n: int) -> None:
    """One scalar vector's digits (made once, as prove() does for A, B1, B2, C) used by MSMs in G1 and G2
    on the whole vector and on suffixes (C's private part), with every edge case: zero scalars, r-1,
    points at infinity (the digits never saw them), repeated points, P and -P."""
    rnd = random.Random(7000 + n)
    pts1, ks = _edge_case_input(n, rnd, _g1_points(n, rnd), g1_neg)
    m = min(n, 40)
    pts2, _ = _edge_case_input(m, rnd, FixedBaseG2(G2_GEN).mul_many([rnd.randrange(1, R) for _ in range(m)]), g2_neg)
    packed_k = nat.pack_scalars(ks)
    for flags in (nat.MSM_GLV, nat.MSM_FAST):
        for c in (3, 8):
            dg = nat.shared_digits(packed_k, c, flags)
            assert dg is not None and (dg.n, dg.c, dg.flags) == (n, c, flags)
            for first in sorted({0, 1, n // 2, n - 1, n}):
                got = nat.msm_g1_packed(nat.pack_g1(pts1[first:]), b"", shared=dg, first=first)
                assert got == msm_g1(pts1[first:], ks[first:]), (flags, c, first)
            for first in sorted({0, m // 3}):
                got2 = nat.msm_g2_packed(nat.pack_g2(pts2[first:]), b"", shared=dg, first=first)
                assert got2 == msm_g2(pts2[first:], ks[first:m]), (flags, c, first)


def test_shared_digits_misuse_rejected() -> None:
    rnd = random.Random(8)
    pts = nat.pack_g1(_g1_points(4, rnd))
    dg = nat.shared_digits(nat.pack_scalars([rnd.randrange(R) for _ in range(4)]), 5, nat.MSM_FAST)
    assert dg is not None
    with pytest.raises(ValueError, match="run past"):
        nat.msm_g1_packed(pts, b"", shared=dg, first=1)
    with pytest.raises(ValueError, match="window size"):
        nat._bn254.msm_g1(pts, b"", 6, 1, nat.MSM_FAST, dg.digits, 0)  # digits made for c = 5
    with pytest.raises(ValueError, match="window size"):
        nat._bn254.msm_g1(pts, b"", 5, 1, nat.MSM_BATCH_AFFINE, dg.digits, 0)  # no GLV split
    with pytest.raises(ValueError, match="window size"):
        nat._bn254.msm_g1(pts, b"", 5, 1, nat.MSM_FAST, dg.digits[:-4], 0)  # truncated
    with pytest.raises(ValueError, match="run past"):
        nat._bn254.msm_g1(pts, b"", 5, 1, nat.MSM_FAST, dg.digits, 1)


def test_all_cancel_gives_infinity() -> None:
    p = _g1_points(1, random.Random(5))[0]
    assert nat.msm_g1_packed(nat.pack_g1([p, p]), [7, R - 7]) is None


def test_mismatched_buffers_rejected() -> None:
    with pytest.raises(ValueError, match="do not match"):
        nat._bn254.msm_g1(bytes(128), bytes(32), 4, 1)


def _circuit() -> tuple[ConstraintSystem, list[int]]:
    cs = ConstraintSystem()
    x = cs.input("x", public=True)
    y = cs.input("y")
    acc = x
    for i in range(200):
        acc = cs.mul(acc, y + i, f"m{i}")
    cs.output("out", acc)
    return cs, cs.witness({"x": 3, "y": 5})


def test_qap_step_and_proofs_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    cs, w = _circuit()
    r1cs = cs.compile()
    pk = dev_setup(r1cs)
    native_h = h_evaluations(pk, w)
    assert isinstance(native_h, bytes)
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    pure_h = h_evaluations(pk, w)
    assert [int.from_bytes(native_h[i : i + 32], "little") for i in range(0, len(native_h), 32)] == [
        int(x) for x in pure_h
    ]
    # same blinding -> identical proofs through both paths
    pure_proof, public = prove(pk, w, r=11, s=22)
    monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")
    native_proof, public2 = prove(pk, w, r=11, s=22)
    assert native_proof == pure_proof and public == public2
    assert verify(pk.verifying_key(), native_proof, public)


def _random_circuit(seed: int) -> tuple[ConstraintSystem, list[int]]:
    """Products of random linear combinations (several signals per A and B row, full-size coefficients,
    constants): dense section-4 entries in both matrices."""
    rnd = random.Random(seed)
    cs = ConstraintSystem()
    sigs = [cs.input(f"p{i}", public=True) for i in range(3)] + [cs.input(f"x{i}") for i in range(5)]

    def lc() -> LC:
        out = LC.const(rnd.randrange(R))
        for s in rnd.sample(sigs, rnd.randint(1, min(6, len(sigs)))):
            out = out + s * rnd.randrange(1, R)
        return out

    for i in range(150):
        sigs.append(cs.mul(lc(), lc(), f"m{i}"))
    cs.output("out", sigs[-1])
    inputs = {f"p{i}": rnd.randrange(R) for i in range(3)} | {f"x{i}": rnd.randrange(R) for i in range(5)}
    return cs, cs.witness(inputs)


def test_packed_only_key_proves_the_same(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from zkmargin.prover.zkey import read_zkey, write_zkey

    cs, w = _circuit()
    pk = dev_setup(cs.compile())
    write_zkey(pk, tmp_path / "k.zkey")
    full = read_zkey(tmp_path / "k.zkey")
    fast = read_zkey(tmp_path / "k.zkey", packed_only=True)
    assert not fast.a_g1 and set(fast.packed) == {"a_g1", "b_g1", "b_g2", "c_g1", "h_g1", "coeffs"}
    assert fast.packed_only and not full.packed_only
    assert not fast.a_coeffs and not fast.b_coeffs  # left in the map: the kernel reads section 4 itself
    # zero-copy views of the mapped file, byte-identical to packing the decoded points
    assert all(isinstance(v, memoryview) for v in fast.packed.values())
    assert bytes(fast.packed["b_g2"]) == nat.pack_g2(full.b_g2) and bytes(fast.packed["h_g1"]) == nat.pack_g1(full.h_g1)
    proof = prove(fast, w, r=5, s=6)
    assert proof == prove(full, w, r=5, s=6)
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")  # full decode, Python QAP step and MSMs
    assert prove(read_zkey(tmp_path / "k.zkey"), w, r=5, s=6) == proof
    with pytest.raises(ValueError, match="needs the C kernel"):
        prove(fast, w, r=5, s=6)
    # what needs decoded points refuses a packed-only key clearly
    monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")
    with pytest.raises(ValueError, match="packed_only=False"):
        write_zkey(fast, tmp_path / "again.zkey")
    assert fast.verifying_key() == full.verifying_key()


@pytest.mark.parametrize("seed", [1, 2])
def test_kernel_qap_from_key_file_matches_python(tmp_path, monkeypatch: pytest.MonkeyPatch, seed: int) -> None:  # type: ignore[no-untyped-def]
    from zkmargin.prover.zkey import qap_coeffs, read_zkey, write_zkey

    cs, w = _random_circuit(seed)
    pk = dev_setup(cs.compile())
    write_zkey(pk, tmp_path / "k.zkey")
    fast = read_zkey(tmp_path / "k.zkey", packed_only=True, check_points=False)
    assert qap_coeffs(fast) == (pk.a_coeffs, pk.b_coeffs)  # the raw section decodes to the key's entries
    from_file = h_evaluations(fast, w)  # C: section 4 straight from the map
    assert isinstance(from_file, bytes) and h_evaluations(fast, nat.pack_scalars(w)) == from_file
    assert h_evaluations(pk, w) == from_file  # C NTTs on Python-evaluated A and B
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    pure = h_evaluations(pk, w)
    as_ints = [int.from_bytes(from_file[i : i + 32], "little") for i in range(0, len(from_file), 32)]
    assert as_ints == [int(x) for x in pure]
    assert h_evaluations(fast, w) == pure  # no kernel: the raw section decoded in Python
    monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")
    proof, public = prove(fast, w, r=7, s=8)
    assert verify(pk.verifying_key(), proof, public)


def _corrupt(path, entry: int, field: str, value: int) -> None:  # type: ignore[no-untyped-def]
    from zkmargin.circuits.formats.binfile import read_binfile

    off = read_binfile(path, b"zkey", 1).sections[4][0][0] + 4 + 44 * entry
    at, size = {"matrix": (0, 4), "row": (4, 4), "signal": (8, 4), "value": (12, 32)}[field]
    data = bytearray(path.read_bytes())
    data[off + at : off + at + size] = value.to_bytes(size, "little")
    path.write_bytes(bytes(data))


def test_corrupt_coefficients_rejected(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from zkmargin.circuits.formats.binfile import BinFileError
    from zkmargin.prover.zkey import read_zkey, write_zkey

    cs, w = _circuit()
    pk = dev_setup(cs.compile())
    write_zkey(pk, tmp_path / "k.zkey")
    good = (tmp_path / "k.zkey").read_bytes()
    log_n = pk.domain_size.bit_length() - 1
    cases = [
        ("matrix", 2, "coefficient 5: matrix id 2"),
        ("row", pk.domain_size, f"coefficient 5: row {pk.domain_size} outside the domain"),
        ("signal", pk.n_vars, f"coefficient 5: signal {pk.n_vars} out of range"),
        ("value", R, "coefficient 5 is not a canonical field element"),  # top limb equal to r's
        ("value", (1 << 256) - 1, "coefficient 5 is not a canonical field element"),
    ]
    for field, value, reason in cases:
        path = tmp_path / f"bad_{field}_{value}.zkey"
        path.write_bytes(good)
        _corrupt(path, 5, field, value)
        # mapped path: the kernel's check_coeffs, or numpy without the kernel; full decode otherwise
        for packed_only, pure in ((True, False), (True, True), (False, False)):
            if pure:
                monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
            with pytest.raises(BinFileError, match=reason) as e:
                read_zkey(path, packed_only=packed_only)
            monkeypatch.delenv("ZKMARGIN_PURE_PYTHON", raising=False)
            assert path.name in str(e.value) and "coefficients" in str(e.value)
        # the kernel checks every entry itself too (a key altered after loading, or a caller skipping read_zkey)
        raw = bytearray(read_zkey(tmp_path / "k.zkey", packed_only=True).packed["coeffs"])
        a, s = {"matrix": (0, 4), "row": (4, 4), "signal": (8, 4), "value": (12, 32)}[field]
        raw[5 * 44 + a : 5 * 44 + a + s] = value.to_bytes(s, "little")
        with pytest.raises(ValueError, match=reason):
            nat.qap_h_coeffs_native(bytes(raw), w, log_n)
    # the first bad entry is reported whichever matrix (kernel thread) it belongs to
    raw = bytearray(read_zkey(tmp_path / "k.zkey", packed_only=True).packed["coeffs"])
    ms = [int.from_bytes(raw[i * 44 : i * 44 + 4], "little") for i in range(len(raw) // 44)]
    first_b, later_a = ms.index(1), len(ms) - 1 - ms[::-1].index(0)
    assert first_b < later_a
    raw[later_a * 44 + 8 : later_a * 44 + 12] = (pk.n_vars).to_bytes(4, "little")
    raw[first_b * 44 + 4 : first_b * 44 + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    with pytest.raises(ValueError, match=f"coefficient {first_b}: row"):
        nat.qap_h_coeffs_native(bytes(raw), w, log_n)
    with pytest.raises(ValueError, match="not whole entries"):
        nat.qap_h_coeffs_native(bytes(raw[:-1]), w, log_n)
    # the load-time check reports the same first bad entry, kernel and numpy alike
    from zkmargin.prover.zkey import check_coeffs

    for pure in (False, True):
        if pure:
            monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
        with pytest.raises(ValueError, match=f"coefficient {first_b}: row"):
            check_coeffs(bytes(raw), pk.n_vars, pk.domain_size)
        check_coeffs(read_zkey(tmp_path / "k.zkey", packed_only=True).packed["coeffs"], pk.n_vars, pk.domain_size)
    monkeypatch.delenv("ZKMARGIN_PURE_PYTHON", raising=False)
    assert nat._bn254 is not None
    with pytest.raises(ValueError, match="whole"):
        nat._bn254.check_coeffs(bytes(raw[:-1]), pk.n_vars, pk.domain_size)


def test_mapped_key_errors_name_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from zkmargin.circuits.formats.binfile import BinFileError
    from zkmargin.prover.zkey import read_zkey, write_zkey

    cs, _ = _circuit()
    write_zkey(dev_setup(cs.compile()), tmp_path / "k.zkey")
    data = (tmp_path / "k.zkey").read_bytes()
    (tmp_path / "cut.zkey").write_bytes(data[: len(data) - 100])
    (tmp_path / "empty.zkey").write_bytes(b"")
    for name, reason in (("cut.zkey", "truncated"), ("empty.zkey", "truncated"), ("missing.zkey", "cannot read")):
        with pytest.raises(BinFileError, match=reason) as e:
            read_zkey(tmp_path / name, packed_only=True)
        assert name in str(e.value)


def test_setup_kernels_match_reference() -> None:
    """Group FFT and per-point multiplication (trusted setup) against the pure-Python versions."""
    from zkmargin.circuits.curve import (
        g1_batch_to_affine,
        g1_mul,
        g1_mul_jac,
        g1_to_jac,
        g2_batch_to_affine,
        g2_mul,
        g2_mul_jac,
        g2_to_jac,
    )
    from zkmargin.circuits.field import root_of_unity
    from zkmargin.prover.setup._util import _fft_jac

    rnd = random.Random(77)
    pts = _g1_points(32, rnd)
    pts[5] = None
    w = root_of_unity(5)
    ref = g1_batch_to_affine([g1_mul_jac(p, 9) for p in _fft_jac([g1_to_jac(p) for p in pts], 5, w, 1)])
    assert nat.fft_g1(pts, 5, w, 9) == ref
    p2 = FixedBaseG2(G2_GEN).mul_many([rnd.randrange(1, R) for _ in range(8)])
    w2 = root_of_unity(3)
    ref2 = g2_batch_to_affine([g2_mul_jac(p, 3) for p in _fft_jac([g2_to_jac(p) for p in p2], 3, w2, 2)])
    assert nat.fft_g2(p2, 3, w2, 3) == ref2
    ks = [rnd.randrange(R) for _ in range(32)]
    ks[0] = 0
    assert nat.mul_each_g1(pts, ks) == [g1_mul(p, k) if p is not None else None for p, k in zip(pts, ks, strict=True)]
    assert nat.mul_each_g2(p2, ks[:8]) == [g2_mul(p, k) for p, k in zip(p2, ks, strict=False)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pairing_check_agrees_with_py_ecc(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bilinear relations hold and near-misses fail, identically in the kernel and in py_ecc."""
    from zkmargin.circuits.curve import g1_mul, g2_mul, pairing_product_is_one

    rnd = random.Random(seed)
    a, b, c = (rnd.randrange(1, R) for _ in range(3))
    cases = [
        [(g1_mul(G1_GEN, a), g2_mul(G2_GEN, b)), (g1_neg(g1_mul(G1_GEN, a * b % R)), G2_GEN)],
        [(g1_mul(G1_GEN, a), g2_mul(G2_GEN, b)), (g1_neg(g1_mul(G1_GEN, a * b % R + 1)), G2_GEN)],
        [
            (g1_mul(G1_GEN, a), g2_mul(G2_GEN, b)),
            (g1_mul(G1_GEN, c), G2_GEN),
            (None, G2_GEN),
            (g1_neg(g1_mul(G1_GEN, (a * b + c) % R)), G2_GEN),
        ],
    ]
    native = [pairing_product_is_one(p) for p in cases]
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    reference = [pairing_product_is_one(p) for p in cases]
    assert native == reference == [True, False, True]


@pytest.mark.parametrize("pure", [False, True])
def test_packed_witness_proves_the_same(tmp_path, monkeypatch: pytest.MonkeyPatch, pure: bool) -> None:  # type: ignore[no-untyped-def]
    """prove() on the .wtns section as stored (read_wtns_packed) equals prove() on the integer list, with the
    kernel and without; the same checks reject a bad packed witness (length, non-canonical, witness[0])."""
    from zkmargin.circuits.formats import read_wtns, write_wtns
    from zkmargin.circuits.formats.binfile import BinFileError
    from zkmargin.circuits.formats.wtns_file import read_wtns_packed

    cs, w = _circuit()
    pk = dev_setup(cs.compile())
    write_wtns(w, tmp_path / "w.wtns")
    if pure:
        monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    packed = read_wtns_packed(tmp_path / "w.wtns")
    assert packed == nat.pack_scalars(read_wtns(tmp_path / "w.wtns"))
    p1, pub1 = prove(pk, packed, r=5, s=7)
    p2, pub2 = prove(pk, w, r=5, s=7)
    assert p1 == p2 and pub1 == pub2 == w[1 : pk.n_public + 1]
    assert verify(pk.verifying_key(), p1, pub1)
    with pytest.raises(ValueError, match="expects"):
        prove(pk, packed[:-32])
    with pytest.raises(ValueError, match="32-byte"):
        prove(pk, packed[:-1])
    for i, v in ((3, R), (len(w) - 1, (1 << 256) - 1)):
        bad = packed[: 32 * i] + v.to_bytes(32, "little") + packed[32 * i + 32 :]
        with pytest.raises(ValueError, match="canonical"):
            prove(pk, bad)
        assert nat.first_noncanonical(bad) == i
        data = bytearray((tmp_path / "w.wtns").read_bytes())
        data[len(data) - len(packed) :] = bad
        (tmp_path / "bad.wtns").write_bytes(bytes(data))
        with pytest.raises(BinFileError, match=rf"witness\[{i}\] is not a canonical"):
            read_wtns_packed(tmp_path / "bad.wtns")
    with pytest.raises(ValueError, match=r"witness\[0\] must be 1"):
        prove(pk, (2).to_bytes(32, "little") + packed[32:])
    assert nat.first_noncanonical(packed) == -1 and nat.first_noncanonical(b"") == -1
