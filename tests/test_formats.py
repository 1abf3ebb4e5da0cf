"""Binary formats (.r1cs, .wtns, .zkey): round trips, corruption handling, and interop with circom/snarkjs."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from zkmargin.atomic import atomic_write_bytes
from zkmargin.circuits.curve import G1_GEN, G2_GEN, g1_mul, g2_mul
from zkmargin.circuits.field import P, R
from zkmargin.circuits.formats import (
    BinFileError,
    read_r1cs,
    read_wtns,
    write_r1cs,
    write_sym,
    write_wtns,
)
from zkmargin.circuits.formats.binfile import parse_binfile
from zkmargin.circuits.formats.r1cs_file import r1cs_to_bytes
from zkmargin.circuits.formats.wtns_file import wtns_to_bytes
from zkmargin.circuits.r1cs import R1CS, ConstraintSystem
from zkmargin.prover.keys import ProvingKey
from zkmargin.prover.qap import qap_from_r1cs
from zkmargin.prover.zkey import MpcParams, read_zkey, read_zkey_mpc, write_zkey, zkey_to_bytes

Run = Callable[..., subprocess.CompletedProcess[str]]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _out(p: subprocess.CompletedProcess[str]) -> str:
    return _ANSI.sub("", p.stdout + p.stderr)


def _ok(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 0, _out(p)
    return _out(p)


def _small_cs() -> ConstraintSystem:
    """out = x*y*(x + 3k) + 5 with k public: outputs, public and private inputs and internal signals."""
    cs = ConstraintSystem()
    x = cs.input("x")
    y = cs.input("y")
    k = cs.input("k", public=True)
    with cs.scope("body"):
        t = cs.mul(x, y, "xy")
        u = cs.mul(t, x + 3 * k - 1, "u")
    cs.output("out", u + 5)
    return cs


_INPUTS = {"x": 3, "y": 5, "k": 7}


def _structure(r: R1CS) -> tuple[object, ...]:
    """Everything the .r1cs format stores (names live in the .sym file)."""
    return (
        r.n_vars,
        r.n_pub_out,
        r.n_pub_in,
        r.n_prv_in,
        [(c.a, c.b, c.c) for c in r.constraints],
    )


def _tampered(w: list[int], idx: int) -> list[int]:
    bad = list(w)
    bad[idx] = (bad[idx] + 1) % R
    return bad


# ---------------------------------------------------------------- pure-Python round trips


def test_r1cs_round_trip(tmp_path: Path) -> None:
    r1cs = _small_cs().compile()
    write_r1cs(r1cs, tmp_path / "c.r1cs")
    write_sym(r1cs, tmp_path / "c.sym")
    back = read_r1cs(tmp_path / "c.r1cs")
    assert _structure(back) == _structure(r1cs)
    assert [list(c.a) for c in back.constraints] == [list(c.a) for c in r1cs.constraints]  # term order kept
    assert back.signal_names == []
    named = read_r1cs(tmp_path / "c.r1cs", sym_path=tmp_path / "c.sym")
    assert named.signal_names == r1cs.signal_names
    # Bytes are a pure function of the R1CS: re-serialising what we read gives the same file.
    assert r1cs_to_bytes(back) == (tmp_path / "c.r1cs").read_bytes()


def test_r1cs_header_layout(tmp_path: Path) -> None:
    r1cs = _small_cs().compile()
    bf = parse_binfile(r1cs_to_bytes(r1cs), "mem", b"r1cs", 1)
    h = bf.section(1)
    assert h.u32() == 32 and h.integer(32) == R
    counts = [h.u32() for _ in range(4)]
    assert counts == [r1cs.n_vars, r1cs.n_pub_out, r1cs.n_pub_in, r1cs.n_prv_in]
    assert h.u64() == r1cs.n_vars and h.u32() == r1cs.n_constraints
    h.end()


def test_wtns_round_trip(tmp_path: Path) -> None:
    w = _small_cs().witness(_INPUTS)
    vals = [*w, 0, R - 1]
    write_wtns(vals, tmp_path / "w.wtns")
    assert read_wtns(tmp_path / "w.wtns") == vals
    assert (tmp_path / "w.wtns").stat().st_mode & 0o077 == 0  # witnesses hold private inputs
    # Values are canonical little-endian, not Montgomery: 1 is 01 00 .. 00.
    data = (tmp_path / "w.wtns").read_bytes()
    bf = parse_binfile(data, "w", b"wtns", 2)
    assert bf.version == 2
    assert bf.raw_section(2)[:32] == (1).to_bytes(32, "little")


def _point_g1(k: int) -> tuple[int, int] | None:
    return g1_mul(G1_GEN, k)


def _synthetic_pk() -> ProvingKey:
    g2 = [g2_mul(G2_GEN, k) for k in (2, 3, 5, 7)]
    return ProvingKey(
        n_vars=4,
        n_public=1,
        domain_size=4,
        alpha1=_point_g1(11),
        beta1=_point_g1(13),
        beta2=g2[0],
        gamma2=G2_GEN,
        delta1=_point_g1(17),
        delta2=g2[1],
        ic=[_point_g1(19), None],
        a_g1=[_point_g1(23), _point_g1(29), None, _point_g1(31)],
        b_g1=[None, _point_g1(37), _point_g1(41), _point_g1(43)],
        b_g2=[g2[2], None, g2[3], G2_GEN],
        c_g1=[_point_g1(47), None],
        h_g1=[_point_g1(53), _point_g1(59), None, _point_g1(61)],
        a_coeffs=[(0, 2, 1), (0, 3, R - 1), (2, 0, 1), (3, 1, 1)],
        b_coeffs=[(0, 0, 5), (1, 3, 12345678901234567890)],
    )


def test_zkey_round_trip_synthetic(tmp_path: Path) -> None:
    pk = _synthetic_pk()
    mpc = MpcParams(bytes(range(64)), [])
    write_zkey(pk, tmp_path / "k.zkey", mpc)
    assert read_zkey(tmp_path / "k.zkey") == pk
    assert read_zkey_mpc(tmp_path / "k.zkey") == mpc
    assert zkey_to_bytes(read_zkey(tmp_path / "k.zkey"), mpc) == (tmp_path / "k.zkey").read_bytes()


def test_zkey_encodings() -> None:
    """Montgomery forms as ffjavascript stores them: points x*2^256 mod q, coefficients c*2^512 mod r."""
    pk = _synthetic_pk()
    pk.alpha1 = G1_GEN
    bf = parse_binfile(zkey_to_bytes(pk), "mem", b"zkey", 1)
    assert list(bf.sections) == list(range(1, 11))
    g = bf.section(2)
    g.raw(4 + 32 + 4 + 32 + 12)
    x, y = g.integer(32), g.integer(32)
    mont = (1 << 256) % P
    assert (x, y) == (mont, 2 * mont % P)
    c = bf.section(4)
    assert c.u32() == 6
    # sorted by row, A (matrix 0) before B (matrix 1) within a row
    first = [(*struct.unpack("<III", c.raw(12)), c.integer(32)) for _ in range(6)]
    assert [f[:3] for f in first] == [(0, 0, 2), (0, 0, 3), (1, 0, 0), (1, 1, 3), (0, 2, 0), (0, 3, 1)]
    assert first[0][3] == pow(2, 512, R)  # coefficient 1 -> R^2 mod r
    assert bf.raw_section(3)[64:] == bytes(64)  # infinity = all-zero bytes


# ---------------------------------------------------------------- robustness


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_truncated_files_are_rejected(tmp_path: Path) -> None:
    r1cs = _small_cs().compile()
    full = {
        "c.r1cs": r1cs_to_bytes(r1cs),
        "w.wtns": wtns_to_bytes(_small_cs().witness(_INPUTS)),
        "k.zkey": zkey_to_bytes(_synthetic_pk()),
    }
    readers = {"c.r1cs": read_r1cs, "w.wtns": read_wtns, "k.zkey": read_zkey}
    for name, data in full.items():
        for cut in (0, 5, 11, 30, len(data) // 2, len(data) - 1):
            p = tmp_path / name
            p.write_bytes(data[:cut])
            with pytest.raises(ValueError, match=re.escape(str(p))) as ei:
                readers[name](p)  # type: ignore[operator]
            assert "truncated" in str(ei.value) or "magic" in str(ei.value), str(ei.value)
        p.write_bytes(data + b"\0")
        with pytest.raises(BinFileError, match="trailing"):
            readers[name](p)  # type: ignore[operator]


def test_bad_magic_and_version(tmp_path: Path) -> None:
    data = bytearray(wtns_to_bytes([1, 2]))
    p = tmp_path / "w.wtns"
    p.write_bytes(b"r1cs" + data[4:])
    with pytest.raises(BinFileError, match="not a wtns file"):
        read_wtns(p)
    data[4:8] = struct.pack("<I", 3)
    p.write_bytes(bytes(data))
    with pytest.raises(BinFileError, match="unsupported wtns version 3"):
        read_wtns(p)


def test_non_canonical_field_elements_are_rejected(tmp_path: Path) -> None:
    p = tmp_path / "w.wtns"
    data = bytearray(wtns_to_bytes([1, 2, 3]))
    data[-32:] = R.to_bytes(32, "little")
    p.write_bytes(bytes(data))
    with pytest.raises(BinFileError, match=r"section 2 \(values\): witness\[2\] is not a canonical"):
        read_wtns(p)

    r1cs = _small_cs().compile()
    data = bytearray(r1cs_to_bytes(r1cs))
    one = (1).to_bytes(32, "little")
    i = data.index(struct.pack("<I", 1) + one)  # the first coefficient-1 term of some constraint
    data[i + 4 : i + 36] = (R + 1).to_bytes(32, "little")
    p = tmp_path / "c.r1cs"
    p.write_bytes(bytes(data))
    with pytest.raises(BinFileError, match=r"section 2 \(constraints\).*not a canonical"):
        read_r1cs(p)

    with pytest.raises(ValueError, match="canonical"):
        wtns_to_bytes([R])


def test_corrupt_zkey_points_are_rejected(tmp_path: Path) -> None:
    data = zkey_to_bytes(_synthetic_pk())
    bf = parse_binfile(data, "k", b"zkey", 1)
    off, _ = bf.sections[5][0]  # A points
    p = tmp_path / "k.zkey"

    bad = bytearray(data)
    bad[off] ^= 1
    p.write_bytes(bytes(bad))
    with pytest.raises(BinFileError, match=r"section 5 \(A\): A\[0\] is not on the BN254 G1 curve"):
        read_zkey(p)
    read_zkey(p, check_points=False)  # the check is what caught it

    bad = bytearray(data)
    bad[off : off + 32] = b"\xff" * 32
    p.write_bytes(bytes(bad))
    with pytest.raises(BinFileError, match="not a canonical field element"):
        read_zkey(p)

    bad = bytearray(data)
    off1, _ = bf.sections[1][0]
    bad[off1 : off1 + 4] = struct.pack("<I", 2)
    p.write_bytes(bytes(bad))
    with pytest.raises(BinFileError, match="PLONK"):
        read_zkey(p)


def test_r1cs_custom_gates_rejected(tmp_path: Path) -> None:
    data = r1cs_to_bytes(_small_cs().compile())
    n = struct.unpack_from("<I", data, 8)[0]
    extra = struct.pack("<IQ", 4, 4) + struct.pack("<I", 0) + struct.pack("<IQ", 5, 4) + struct.pack("<I", 0)
    p = tmp_path / "c.r1cs"
    p.write_bytes(data[:8] + struct.pack("<I", n + 2) + data[12:] + extra)
    with pytest.raises(BinFileError, match="custom gates"):
        read_r1cs(p)


# ---------------------------------------------------------------- interop with snarkjs / circom


@pytest.mark.snarkjs
def test_snarkjs_reads_our_r1cs_and_wtns(tmp_path: Path, run_tool: Run) -> None:
    cs = _small_cs()
    r1cs = cs.compile()
    write_r1cs(r1cs, tmp_path / "c.r1cs")
    info = _ok(run_tool("snarkjs", "r1cs", "info", tmp_path / "c.r1cs"))
    for label, value in [
        ("Wires", r1cs.n_vars),
        ("Constraints", r1cs.n_constraints),
        ("Private Inputs", r1cs.n_prv_in),
        ("Public Inputs", r1cs.n_pub_in),
        ("Outputs", r1cs.n_pub_out),
        ("Labels", r1cs.n_vars),
    ]:
        assert re.search(rf"# of {label}: {value}\b", info), (label, info)

    w = cs.witness(_INPUTS)
    write_wtns(w, tmp_path / "good.wtns")
    assert "WITNESS IS CORRECT" in _ok(
        run_tool("snarkjs", "wtns", "check", tmp_path / "c.r1cs", tmp_path / "good.wtns")
    )
    for idx in (1, len(w) - 1):  # a public output and the last internal signal
        write_wtns(_tampered(w, idx), tmp_path / "bad.wtns")
        p = run_tool("snarkjs", "wtns", "check", tmp_path / "c.r1cs", tmp_path / "bad.wtns")
        assert p.returncode != 0 and "WITNESS IS NOT CORRECT" in _out(p), _out(p)


_CIRCOM = """pragma circom 2.0.0;
template Mul() {
    signal input a;
    signal input b;
    signal input k;
    signal output c;
    signal t;
    t <== a * b;
    c <== t * (a + 3 * k) - 2;
}
component main {public [k]} = Mul();
"""


@pytest.mark.snarkjs
def test_we_read_circom_r1cs_and_snarkjs_wtns(tmp_path: Path, run_tool: Run) -> None:
    (tmp_path / "circuit.circom").write_text(_CIRCOM)
    _ok(run_tool("circom2", "circuit.circom", "--r1cs", "--wasm", "--sym", "-o", tmp_path, cwd=tmp_path))
    r1cs = read_r1cs(tmp_path / "circuit.r1cs", sym_path=tmp_path / "circuit.sym")
    assert (r1cs.n_pub_out, r1cs.n_pub_in, r1cs.n_prv_in, r1cs.n_constraints) == (1, 1, 2, 2)
    assert r1cs.signal_names[:5] == ["one", "main.c", "main.k", "main.a", "main.b"]

    (tmp_path / "input.json").write_text(json.dumps({"a": "3", "b": "5", "k": "7"}))
    wasm = tmp_path / "circuit_js" / "circuit.wasm"
    _ok(run_tool("snarkjs", "wtns", "calculate", wasm, tmp_path / "input.json", tmp_path / "w.wtns"))
    w = read_wtns(tmp_path / "w.wtns")
    assert len(w) == r1cs.n_vars
    assert r1cs.public_signals(w) == [3 * 5 * (3 + 21) - 2, 7]
    r1cs.check(w)
    for idx in range(1, len(w)):
        assert not r1cs.is_satisfied(_tampered(w, idx)), idx
    # And our writers reproduce circom's / snarkjs's content exactly (section order aside).
    write_wtns(w, tmp_path / "ours.wtns")
    assert (tmp_path / "ours.wtns").read_bytes() == (tmp_path / "w.wtns").read_bytes()
    theirs = parse_binfile((tmp_path / "circuit.r1cs").read_bytes(), "c", b"r1cs", 1)
    ours = parse_binfile(r1cs_to_bytes(r1cs), "o", b"r1cs", 1)
    assert theirs.raw_section(2) == ours.raw_section(2)


@pytest.fixture(scope="module")
def ptau(tmp_path_factory: pytest.TempPathFactory, run_tool: Run) -> Path:
    """A prepared 2^8 powers-of-tau file (one deterministic contribution)."""
    d = tmp_path_factory.mktemp("ptau")
    _ok(run_tool("snarkjs", "powersoftau", "new", "bn128", "8", d / "pot0.ptau"))
    _ok(run_tool("snarkjs", "powersoftau", "contribute", d / "pot0.ptau", d / "pot1.ptau", "-e=zkmargin test entropy"))
    _ok(run_tool("snarkjs", "powersoftau", "prepare", "phase2", d / "pot1.ptau", d / "pot_final.ptau"))
    return d / "pot_final.ptau"


@pytest.fixture(scope="module")
def snarkjs_keys(tmp_path_factory: pytest.TempPathFactory, run_tool: Run, ptau: Path) -> Path:
    """snarkjs zkeys for our test circuit: c0 (fresh setup) and c1 (after one contribution)."""
    d = tmp_path_factory.mktemp("zkey")
    cs = _small_cs()
    write_r1cs(cs.compile(), d / "c.r1cs")
    write_wtns(cs.witness(_INPUTS), d / "w.wtns")
    _ok(run_tool("snarkjs", "groth16", "setup", d / "c.r1cs", ptau, d / "c0.zkey"))
    _ok(run_tool("snarkjs", "zkey", "contribute", d / "c0.zkey", d / "c1.zkey", "-e=more entropy", "-n=alice"))
    _ok(run_tool("snarkjs", "zkey", "export", "verificationkey", d / "c1.zkey", d / "vk.json"))
    return d


def _g1_json(p: tuple[int, int] | None) -> list[str]:
    return ["0", "1", "0"] if p is None else [str(p[0]), str(p[1]), "1"]


def _g2_json(p: tuple[tuple[int, int], tuple[int, int]] | None) -> list[list[str]]:
    if p is None:
        return [["0", "0"], ["1", "0"], ["0", "0"]]
    return [[str(p[0][0]), str(p[0][1])], [str(p[1][0]), str(p[1][1])], ["1", "0"]]


@pytest.mark.snarkjs
def test_zkey_read_write_is_byte_exact(snarkjs_keys: Path, tmp_path: Path) -> None:
    # Contributed key: sections 1..10 in order, so the whole file must come back identical.
    c1 = snarkjs_keys / "c1.zkey"
    mpc = read_zkey_mpc(c1)
    assert [c.name for c in mpc.contributions] == ["alice"]
    write_zkey(read_zkey(c1), tmp_path / "c1.zkey", mpc)
    assert (tmp_path / "c1.zkey").read_bytes() == c1.read_bytes()

    # Fresh setup: snarkjs writes sections out of order (1 2 4 3 9 8 5 6 7 10); compare per section.
    c0 = snarkjs_keys / "c0.zkey"
    ours = parse_binfile(zkey_to_bytes(read_zkey(c0), read_zkey_mpc(c0)), "ours", b"zkey", 1)
    theirs = parse_binfile(c0.read_bytes(), str(c0), b"zkey", 1)
    assert sorted(theirs.sections) == list(range(1, 11))
    for sec in theirs.sections:
        assert ours.raw_section(sec) == theirs.raw_section(sec), f"section {sec} differs"


@pytest.mark.snarkjs
def test_zkey_matches_verification_key_and_our_qap(snarkjs_keys: Path) -> None:
    pk = read_zkey(snarkjs_keys / "c1.zkey")
    vk = json.loads((snarkjs_keys / "vk.json").read_text())
    assert vk["nPublic"] == pk.n_public
    assert vk["vk_alpha_1"] == _g1_json(pk.alpha1)
    assert vk["vk_beta_2"] == _g2_json(pk.beta2)
    assert vk["vk_gamma_2"] == _g2_json(pk.gamma2)
    assert vk["vk_delta_2"] == _g2_json(pk.delta2)
    assert vk["IC"] == [_g1_json(p) for p in pk.ic]

    # The QAP conventions of prover/qap.py (extra public rows, domain size, entry order) are snarkjs's.
    r1cs = _small_cs().compile()
    qap = qap_from_r1cs(r1cs)
    assert pk.domain_size == qap.domain_size
    assert pk.a_coeffs == qap.a
    assert pk.b_coeffs == qap.b


@pytest.mark.snarkjs
def test_snarkjs_proves_with_rewritten_zkey(snarkjs_keys: Path, tmp_path: Path, run_tool: Run) -> None:
    """A zkey written by us (read back with its contribution records) is a working snarkjs proving key."""
    d = tmp_path
    write_zkey(read_zkey(snarkjs_keys / "c1.zkey"), d / "ours.zkey")
    _ok(run_tool("snarkjs", "zkey", "export", "verificationkey", d / "ours.zkey", d / "vk.json"))
    assert json.loads((d / "vk.json").read_text()) == json.loads((snarkjs_keys / "vk.json").read_text())
    w = snarkjs_keys / "w.wtns"
    _ok(run_tool("snarkjs", "groth16", "prove", d / "ours.zkey", w, d / "proof.json", d / "public.json"))
    assert json.loads((d / "public.json").read_text()) == [
        str(v) for v in _small_cs().compile().public_signals(read_wtns(w))
    ]
    out = _ok(run_tool("snarkjs", "groth16", "verify", d / "vk.json", d / "public.json", d / "proof.json"))
    assert "OK" in out
    # ... and the verifier really checks: a proof for different public signals is rejected.
    pub = json.loads((d / "public.json").read_text())
    pub[0] = str(int(pub[0]) + 1)
    (d / "public_bad.json").write_text(json.dumps(pub))
    p = run_tool("snarkjs", "groth16", "verify", d / "vk.json", d / "public_bad.json", d / "proof.json")
    assert p.returncode != 0 and "Invalid proof" in _out(p), _out(p)


@pytest.mark.snarkjs
def test_our_prover_with_snarkjs_zkey(snarkjs_keys: Path, tmp_path: Path, run_tool: Run) -> None:
    """End to end across implementations: snarkjs key -> read_zkey -> our prover -> snarkjs verify."""
    groth16 = pytest.importorskip("zkmargin.prover.groth16")
    pk = read_zkey(snarkjs_keys / "c1.zkey")
    w = _small_cs().witness(_INPUTS)
    proof, public = groth16.prove(pk, w)
    (tmp_path / "proof.json").write_text(
        json.dumps(
            {
                "pi_a": _g1_json(proof.a),
                "pi_b": _g2_json(proof.b),
                "pi_c": _g1_json(proof.c),
                "protocol": "groth16",
                "curve": "bn128",
            }
        )
    )
    (tmp_path / "public.json").write_text(json.dumps([str(v) for v in public]))
    _ok(
        run_tool(
            "snarkjs", "groth16", "verify", snarkjs_keys / "vk.json", tmp_path / "public.json", tmp_path / "proof.json"
        )
    )
