"""Auditor-side verification of a Groth16 trusted-setup ceremony transcript.

This module is self-contained on purpose: an auditor must be able to check a ceremony without
trusting (or importing) the code that ran it, so it only depends on ``zkmargin.circuits`` and
``zkmargin.verifier``. The prover's ceremony code (``zkmargin.prover.setup``) reuses the data types
and the codec defined here, so there is exactly one definition of the on-disk format.

On-disk format (a directory)::

    ceremony.json                     metadata, contribution records and their proofs (see below)
    phase1/accumulator_0000.bin       only for an imported phase 1 (e.g. from a snarkjs .ptau)
    phase1/accumulator_NNNN.bin       the powers-of-tau accumulator after contribution NNNN
    phase2/initial_key.bin            phase-2 key derived from the last phase-1 accumulator
    phase2/delta_NNNN.bin             delta1, delta2, c_g1, h_g1 after phase-2 contribution NNNN
    phase2/final_key.bin              the key handed to provers

Every ``.bin`` file is an *array container*: ``b"ZKMSETUP"``, u32 version (1), u32 entry count,
then per entry: u16 name length, UTF-8 name, u8 kind, u64 element count, payload. Kinds:
0 = u64 integers, 1 = G1 points (64 bytes: x || y, 32-byte big-endian each), 2 = G2 points
(128 bytes: x0 || x1 || y0 || y1), 3 = QAP entries (u32 row, u32 signal, 32-byte coefficient).
All integers are little-endian except field elements (big-endian, as in Ethereum's precompiles).
The point at infinity is all zero bytes ((0, 0) is on neither curve, so this is unambiguous).

``ceremony.json`` records the SHA-256 of every ``.bin`` file, and every contribution carries a
proof of knowledge of its secret: ``x*G1``, ``x*G2`` (tied together by a pairing) and a Schnorr
proof ``(R = k*G1, z = k + c*x)`` whose challenge ``c`` hashes the digest of the *previous* state,
so a proof cannot be replayed on another chain. Phase 1 proves knowledge of (tau, alpha, beta)
multipliers, phase 2 of each delta multiplier.

:func:`verify_transcript` re-checks everything and reports each check by name.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    G1Affine,
    G2Affine,
    Jac1,
    g1_add,
    g1_add_aff,
    g1_is_on_curve,
    g1_mul,
    g1_neg,
    g1_to_affine,
    g1_to_jac,
    g2_add_aff,
    g2_in_subgroup,
    g2_is_on_curve,
    g2_neg,
    pairing_product_is_one,
)
from zkmargin.circuits.field import R
from zkmargin.circuits.msm import msm_g1, msm_g2
from zkmargin.circuits.ntt import intt as _intt
from zkmargin.circuits.r1cs import R1CS

from .types import VerifyingKey

FORMAT_NAME = "zkmargin-setup-transcript"
FORMAT_VERSION = 1
MAGIC = b"ZKMSETUP"
KIND_U64, KIND_G1, KIND_G2, KIND_QAP = 0, 1, 2, 3

QapEntry = tuple[int, int, int]

# ====================================================================== point / container codec


def enc_g1(p: G1Affine) -> bytes:
    if p is None:
        return bytes(64)
    return int(p[0]).to_bytes(32, "big") + int(p[1]).to_bytes(32, "big")


def enc_g2(p: G2Affine) -> bytes:
    if p is None:
        return bytes(128)
    (x0, x1), (y0, y1) = p
    return b"".join(int(v).to_bytes(32, "big") for v in (x0, x1, y0, y1))


def dec_g1(b: bytes | memoryview, off: int = 0) -> G1Affine:
    """Decode and validate a G1 point (BN254 G1 has cofactor 1: on-curve implies in-subgroup)."""
    x = int.from_bytes(b[off : off + 32], "big")
    y = int.from_bytes(b[off + 32 : off + 64], "big")
    if x == 0 and y == 0:
        return None
    p = (x, y)
    if not (x < _Q and y < _Q and g1_is_on_curve(p)):
        raise ValueError("G1 point not on the curve")
    return p


def dec_g2(b: bytes | memoryview, off: int = 0) -> G2Affine:
    """Decode a G2 point and check it is on the curve (subgroup membership is checked separately,
    batched, because one check costs a full 254-bit multiplication)."""
    v = [int.from_bytes(b[off + 32 * i : off + 32 * i + 32], "big") for i in range(4)]
    if not any(v):
        return None
    p = ((v[0], v[1]), (v[2], v[3]))
    if not (all(c < _Q for c in v) and g2_is_on_curve(p)):
        raise ValueError("G2 point not on the curve")
    return p


_Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583

ArrayValue = list[int] | list[G1Affine] | list[G2Affine] | list[QapEntry]


def encode_container(entries: Iterable[tuple[str, int, Sequence[Any]]]) -> bytes:
    """Serialise named arrays ``(name, kind, values)`` into the array-container format above."""
    parts: list[bytes] = []
    items = list(entries)
    parts.append(MAGIC + struct.pack("<II", FORMAT_VERSION, len(items)))
    for name, kind, values in items:
        nb = name.encode()
        parts.append(struct.pack("<H", len(nb)) + nb + struct.pack("<BQ", kind, len(values)))
        if kind == KIND_U64:
            parts.append(b"".join(struct.pack("<Q", int(v)) for v in values))
        elif kind == KIND_G1:
            parts.append(b"".join(enc_g1(p) for p in values))
        elif kind == KIND_G2:
            parts.append(b"".join(enc_g2(p) for p in values))
        elif kind == KIND_QAP:
            parts.append(b"".join(struct.pack("<II", r, s) + int(c).to_bytes(32, "big") for r, s, c in values))
        else:
            raise ValueError(f"unknown kind {kind}")
    return b"".join(parts)


_ELEM = {KIND_U64: 8, KIND_G1: 64, KIND_G2: 128, KIND_QAP: 40}


def decode_container(data: bytes) -> dict[str, list[Any]]:
    """Parse an array container, validating every point; raises ValueError on any malformation."""
    mv = memoryview(data)
    if bytes(mv[:8]) != MAGIC:
        raise ValueError("not a zkmargin setup container (bad magic)")
    version, count = struct.unpack_from("<II", mv, 8)
    if version != FORMAT_VERSION:
        raise ValueError(f"unsupported container version {version}")
    pos = 16
    out: dict[str, list[Any]] = {}
    for _ in range(count):
        (nlen,) = struct.unpack_from("<H", mv, pos)
        name = bytes(mv[pos + 2 : pos + 2 + nlen]).decode()
        pos += 2 + nlen
        kind, n = struct.unpack_from("<BQ", mv, pos)
        pos += 9
        size = _ELEM[kind] * n
        if pos + size > len(mv):
            raise ValueError(f"container truncated in {name!r}")
        vals: list[Any]
        if kind == KIND_U64:
            vals = list(struct.unpack_from(f"<{n}Q", mv, pos))
        elif kind == KIND_G1:
            vals = [dec_g1(mv, pos + 64 * i) for i in range(n)]
        elif kind == KIND_G2:
            vals = [dec_g2(mv, pos + 128 * i) for i in range(n)]
        else:
            vals = []
            for i in range(n):
                o = pos + 40 * i
                r, s = struct.unpack_from("<II", mv, o)
                c = int.from_bytes(mv[o + 8 : o + 40], "big")
                if c >= R:
                    raise ValueError("QAP coefficient not canonical")
                vals.append((r, s, c))
        out[name] = vals
        pos += size
    if pos != len(mv):
        raise ValueError("trailing bytes after the last container entry")
    return out


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ====================================================================== ceremony data types


@dataclass
class Phase1Accumulator:
    """Powers of tau, with the counts a circuit of domain size n needs.

    ``tau_g1`` holds tau^i*G1 for i < 2n: the H points are Lagrange polynomials of the *doubled*
    domain, which have degree 2n-1. (A snarkjs .ptau of power p only has 2^(p+1)-1 of them; an
    accumulator imported from one may therefore hold 2n-1, and H then follows snarkjs by treating
    the missing top power as zero, which is harmless because (A*B - C) has degree <= 2n-2.)
    ``tau_g2``, ``alpha_g1`` and ``beta_g1`` need i < n only: A, B, C have degree < n.
    """

    tau_g1: list[G1Affine]
    tau_g2: list[G2Affine]
    alpha_g1: list[G1Affine]
    beta_g1: list[G1Affine]
    beta_g2: G2Affine

    @property
    def size(self) -> int:
        return len(self.tau_g2)

    @property
    def log_n(self) -> int:
        return self.size.bit_length() - 1

    @staticmethod
    def initial(log_n: int) -> Phase1Accumulator:
        n = 1 << log_n
        return Phase1Accumulator([G1_GEN] * (2 * n), [G2_GEN] * n, [G1_GEN] * n, [G1_GEN] * n, G2_GEN)

    def to_bytes(self) -> bytes:
        return encode_container(
            [
                ("tau_g1", KIND_G1, self.tau_g1),
                ("tau_g2", KIND_G2, self.tau_g2),
                ("alpha_g1", KIND_G1, self.alpha_g1),
                ("beta_g1", KIND_G1, self.beta_g1),
                ("beta_g2", KIND_G2, [self.beta_g2]),
            ]
        )

    @staticmethod
    def from_bytes(data: bytes) -> Phase1Accumulator:
        d = decode_container(data)
        return Phase1Accumulator(d["tau_g1"], d["tau_g2"], d["alpha_g1"], d["beta_g1"], d["beta_g2"][0])

    def digest(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()


@dataclass
class DeltaState:
    """The part of a phase-2 key that a delta contribution changes."""

    delta1: G1Affine
    delta2: G2Affine
    c_g1: list[G1Affine]
    h_g1: list[G1Affine]

    def to_bytes(self) -> bytes:
        return encode_container(
            [
                ("delta1", KIND_G1, [self.delta1]),
                ("delta2", KIND_G2, [self.delta2]),
                ("c_g1", KIND_G1, self.c_g1),
                ("h_g1", KIND_G1, self.h_g1),
            ]
        )

    @staticmethod
    def from_bytes(data: bytes) -> DeltaState:
        d = decode_container(data)
        return DeltaState(d["delta1"][0], d["delta2"][0], d["c_g1"], d["h_g1"])

    def digest(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()


KEY_G1_SINGLE = ("alpha1", "beta1", "delta1")
KEY_G2_SINGLE = ("beta2", "gamma2", "delta2")
KEY_G1_LISTS = ("ic", "a_g1", "b_g1", "c_g1", "h_g1")


def encode_key(key: Any) -> bytes:
    """Serialise a ProvingKey (anything with its attributes; duck-typed so this module need not
    import the prover)."""
    if getattr(key, "packed_only", False):
        key.require_decoded("encoding a key for the setup transcript")
    entries: list[tuple[str, int, Sequence[Any]]] = [("header", KIND_U64, [key.n_vars, key.n_public, key.domain_size])]
    entries += [(n, KIND_G1, [getattr(key, n)]) for n in KEY_G1_SINGLE]
    entries += [(n, KIND_G2, [getattr(key, n)]) for n in KEY_G2_SINGLE]
    entries += [(n, KIND_G1, getattr(key, n)) for n in KEY_G1_LISTS]
    entries += [("b_g2", KIND_G2, key.b_g2), ("a_coeffs", KIND_QAP, key.a_coeffs), ("b_coeffs", KIND_QAP, key.b_coeffs)]
    return encode_container(entries)


def decode_key(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_key`: a dict of ProvingKey field values (``ProvingKey(**d)``)."""
    d = decode_container(data)
    n_vars, n_public, domain_size = d["header"]
    out: dict[str, Any] = {"n_vars": n_vars, "n_public": n_public, "domain_size": domain_size}
    for n in (*KEY_G1_SINGLE, *KEY_G2_SINGLE):
        out[n] = d[n][0]
    for n in (*KEY_G1_LISTS, "b_g2", "a_coeffs", "b_coeffs"):
        out[n] = d[n]
    return out


def key_delta_state(key: Any) -> DeltaState:
    return (
        DeltaState(key["delta1"], key["delta2"], key["c_g1"], key["h_g1"])
        if isinstance(key, dict)
        else DeltaState(key.delta1, key.delta2, list(key.c_g1), list(key.h_g1))
    )


@dataclass
class KnowledgeProof:
    """Proof that the contributor knows x: x*G1, x*G2 (same x, by a pairing) and a Schnorr proof
    for x*G1 bound to the previous state's digest."""

    x_g1: G1Affine
    x_g2: G2Affine
    r_g1: G1Affine
    z: int

    def to_json(self) -> dict[str, Any]:
        return {
            "x_g1": enc_g1(self.x_g1).hex(),
            "x_g2": enc_g2(self.x_g2).hex(),
            "r_g1": enc_g1(self.r_g1).hex(),
            "z": str(self.z),
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> KnowledgeProof:
        return KnowledgeProof(
            dec_g1(bytes.fromhex(d["x_g1"])),
            dec_g2(bytes.fromhex(d["x_g2"])),
            dec_g1(bytes.fromhex(d["r_g1"])),
            int(d["z"]),
        )


def schnorr_challenge(label: str, prev_digest: bytes, x_g1: G1Affine, x_g2: G2Affine, r_g1: G1Affine) -> int:
    """Fiat-Shamir challenge; SHA-512 reduced mod r (negligible bias)."""
    h = hashlib.sha512()
    h.update(b"zkmargin/setup/v1/" + label.encode() + b"\x00")
    h.update(prev_digest)
    h.update(enc_g1(x_g1) + enc_g2(x_g2) + enc_g1(r_g1))
    return int.from_bytes(h.digest(), "big") % R


def check_knowledge_proof(p: KnowledgeProof, label: str, prev_digest: bytes) -> bool:
    if p.x_g1 is None or p.x_g2 is None or not g2_in_subgroup(p.x_g2):
        return False
    c = schnorr_challenge(label, prev_digest, p.x_g1, p.x_g2, p.r_g1)
    lhs = g1_mul(G1_GEN, p.z)
    rhs = g1_to_affine(g1_add(_jac1(p.r_g1), _jac1(g1_mul(p.x_g1, c))))
    if lhs != rhs:
        return False
    return pairing_product_is_one([(p.x_g1, g2_neg(G2_GEN)), (G1_GEN, p.x_g2)])


PHASE1_LABELS = ("phase1/tau", "phase1/alpha", "phase1/beta")
PHASE2_LABEL = "phase2/delta"


# ====================================================================== scalar / group helpers


def _jac1(p: G1Affine) -> Jac1:
    return g1_to_jac(p)


def intt(values: Sequence[int], log_n: int) -> list[int]:
    """Coefficients of the polynomial with the given values on the 2^log_n domain (ffjavascript's
    roots), so that sum_j v_j L_j(tau) = sum_i intt(v)_i tau^i."""
    return [int(x) for x in _intt(values, log_n)]


g1_sum = g1_add_aff
g2_sum = g2_add_aff


def _rand(bits: int = 128) -> int:
    return secrets.randbits(bits) | 1


def g2_batch_in_subgroup(points: Sequence[G2Affine], rounds: int = 2) -> bool:
    """Random-combination subgroup check: a point with a cofactor component survives a round only if
    the random coefficients cancel it, probability < 1/10069 (the least prime factor of the G2
    cofactor) per round, at the cost of one MSM instead of one 254-bit multiplication per point."""
    pts = [p for p in points if p is not None]
    if not pts:
        return True
    if len(pts) <= 2:
        return all(g2_in_subgroup(p) for p in pts)
    return all(g2_in_subgroup(msm_g2(pts, [_rand(64) for _ in pts])) for _ in range(rounds))


def same_ratio(a1: G1Affine, b1: G1Affine, a2: G2Affine, b2: G2Affine) -> bool:
    """e(a1, b2) == e(b1, a2), i.e. b1/a1 == b2/a2 in the exponent; false for degenerate inputs."""
    if a1 is None or b1 is None or a2 is None or b2 is None:
        return False
    return pairing_product_is_one([(a1, b2), (g1_neg(b1), a2)])


# ====================================================================== reports


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class TranscriptReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def __str__(self) -> str:
        return "\n".join(
            f"[{'ok' if c.ok else 'FAIL'}] {c.name}{' - ' + c.detail if c.detail else ''}" for c in self.checks
        )


# ====================================================================== phase-1 checks


def check_accumulator_powers(acc: Phase1Accumulator, rep: TranscriptReport, prefix: str) -> None:
    """The accumulator holds consecutive powers of one tau (times alpha / beta), by randomised
    linear combinations: sum r_i P_i and sum r_i P_{i+1} must differ by exactly tau, which one
    pairing per section checks, instead of one pairing per point."""
    n = acc.size
    ok_shape = n >= 2 and n & (n - 1) == 0 and len(acc.tau_g1) in (2 * n - 1, 2 * n)
    ok_shape = ok_shape and len(acc.alpha_g1) == n and len(acc.beta_g1) == n
    if not rep.add(f"{prefix}.shape", ok_shape, f"n={n}, tau_g1={len(acc.tau_g1)}"):
        return
    rep.add(f"{prefix}.generators", acc.tau_g1[0] == G1_GEN and acc.tau_g2[0] == G2_GEN)
    t1, t2 = acc.tau_g1[1], acc.tau_g2[1]
    rep.add(f"{prefix}.nonzero", None not in (t1, t2, acc.alpha_g1[0], acc.beta_g1[0], acc.beta_g2))
    rep.add(f"{prefix}.g2_subgroup", g2_batch_in_subgroup([*acc.tau_g2, acc.beta_g2]))
    rep.add(f"{prefix}.tau_g1_g2_match", same_ratio(G1_GEN, t1, G2_GEN, t2))
    rep.add(f"{prefix}.beta_g1_g2_match", same_ratio(G1_GEN, acc.beta_g1[0], G2_GEN, acc.beta_g2))

    def rlc1(pts: list[G1Affine]) -> tuple[G1Affine, G1Affine]:
        r = [_rand() for _ in range(len(pts) - 1)]
        return msm_g1(pts[:-1], r), msm_g1(pts[1:], r)

    lo, hi = rlc1(acc.tau_g1)
    rep.add(f"{prefix}.tau_g1_powers", same_ratio(lo, hi, G2_GEN, t2))
    r = [_rand() for _ in range(n - 1)]
    lo2, hi2 = msm_g2(acc.tau_g2[:-1], r), msm_g2(acc.tau_g2[1:], r)
    rep.add(f"{prefix}.tau_g2_powers", same_ratio(G1_GEN, t1, lo2, hi2))
    lo, hi = rlc1(acc.alpha_g1)
    rep.add(f"{prefix}.alpha_tau_g1_powers", same_ratio(lo, hi, G2_GEN, t2))
    lo, hi = rlc1(acc.beta_g1)
    rep.add(f"{prefix}.beta_tau_g1_powers", same_ratio(lo, hi, G2_GEN, t2))


def check_phase1_step(
    prev: Phase1Accumulator,
    new: Phase1Accumulator,
    proofs: Sequence[KnowledgeProof],
    prev_digest: bytes,
    rep: TranscriptReport,
    prefix: str,
) -> None:
    """The new accumulator is the previous one multiplied by secrets the contributor knows."""
    rep.add(f"{prefix}.sizes", (len(new.tau_g1), new.size) == (len(prev.tau_g1), prev.size))
    pt, pa, pb = proofs
    for label, p in zip(PHASE1_LABELS, proofs, strict=True):
        rep.add(f"{prefix}.pok_{label.split('/')[1]}", check_knowledge_proof(p, label, prev_digest))
    rep.add(f"{prefix}.tau_g1_update", same_ratio(prev.tau_g1[1], new.tau_g1[1], G2_GEN, pt.x_g2))
    rep.add(f"{prefix}.tau_g2_update", same_ratio(G1_GEN, pt.x_g1, prev.tau_g2[1], new.tau_g2[1]))
    rep.add(f"{prefix}.alpha_update", same_ratio(prev.alpha_g1[0], new.alpha_g1[0], G2_GEN, pa.x_g2))
    rep.add(f"{prefix}.beta_update", same_ratio(prev.beta_g1[0], new.beta_g1[0], G2_GEN, pb.x_g2))
    rep.add(f"{prefix}.beta_g2_update", same_ratio(G1_GEN, pb.x_g1, prev.beta_g2, new.beta_g2))


# ====================================================================== phase-2 checks


def qap_matrices(r1cs: R1CS) -> tuple[int, list[QapEntry], list[QapEntry], list[QapEntry]]:
    """(log domain size, A, B, C) with snarkjs's extra public rows; rebuilt here independently of
    the prover so that the auditor checks the key against the circuit itself."""
    a: list[QapEntry] = []
    b: list[QapEntry] = []
    c: list[QapEntry] = []
    for row, con in enumerate(r1cs.constraints):
        a += [(row, s, v % R) for s, v in con.a.items() if v % R]
        b += [(row, s, v % R) for s, v in con.b.items() if v % R]
        c += [(row, s, v % R) for s, v in con.c.items() if v % R]
    m = r1cs.n_constraints
    a += [(m + i, i, 1) for i in range(r1cs.n_public + 1)]
    rows = m + r1cs.n_public + 1
    return max(1, (rows - 1).bit_length()), a, b, c


def _row_combination(entries: Sequence[QapEntry], rho: Sequence[int], n: int) -> list[int]:
    s = [0] * n
    for row, sig, v in entries:
        s[row] = (s[row] + v * rho[sig]) % R
    return s


def check_initial_key(key: dict[str, Any], acc: Phase1Accumulator, r1cs: R1CS, rep: TranscriptReport) -> None:
    """The phase-2 initial key is the circuit's QAP evaluated at the accumulator's tau.

    For random rho over the signals, sum_k rho_k a_g1[k] = sum_row (A rho)_row [L_row(tau)]_1, and
    sum_row s_row L_row(x) is the polynomial with coefficients intt(s): so each list is checked by
    two MSMs against the powers of tau, with no Lagrange points and no pairings.
    """
    log_n, qa, qb, qc = qap_matrices(r1cs)
    n = 1 << log_n
    n_pub = r1cs.n_public
    nv = r1cs.n_vars
    ok = (key["n_vars"], key["n_public"], key["domain_size"]) == (nv, n_pub, n)
    ok = ok and [len(key[k]) for k in ("ic", "a_g1", "b_g1", "b_g2", "c_g1", "h_g1")] == [
        n_pub + 1,
        nv,
        nv,
        nv,
        nv - n_pub - 1,
        n,
    ]
    if not rep.add("phase2.initial.shape", ok, f"domain={n}, n_vars={nv}, n_public={n_pub}"):
        return
    if not rep.add("phase2.initial.phase1_large_enough", acc.size >= n and len(acc.tau_g1) >= 2 * n - 1):
        return
    rep.add(
        "phase2.initial.qap_coeffs", sorted(key["a_coeffs"]) == sorted(qa) and sorted(key["b_coeffs"]) == sorted(qb)
    )
    rep.add(
        "phase2.initial.fixed_points",
        key["alpha1"] == acc.alpha_g1[0]
        and key["beta1"] == acc.beta_g1[0]
        and key["beta2"] == acc.beta_g2
        and key["gamma2"] == G2_GEN
        and key["delta1"] == G1_GEN
        and key["delta2"] == G2_GEN,
    )
    rep.add("phase2.initial.g2_subgroup", g2_batch_in_subgroup(key["b_g2"]))
    rho = [_rand() for _ in range(nv)]
    ca = intt(_row_combination(qa, rho, n), log_n)
    cb = intt(_row_combination(qb, rho, n), log_n)
    cc = intt(_row_combination(qc, rho, n), log_n)
    tau1, tau2 = acc.tau_g1[:n], acc.tau_g2[:n]
    rep.add("phase2.initial.a_g1", msm_g1(key["a_g1"], rho) == msm_g1(tau1, ca))
    rep.add("phase2.initial.b_g1", msm_g1(key["b_g1"], rho) == msm_g1(tau1, cb))
    rep.add("phase2.initial.b_g2", msm_g2(key["b_g2"], rho) == msm_g2(tau2, cb))
    # ic ++ c_g1 (gamma = delta = 1): (beta*A + alpha*B + C)(tau) per signal.
    lhs = msm_g1(list(key["ic"]) + list(key["c_g1"]), rho)
    rhs = g1_sum(g1_sum(msm_g1(acc.beta_g1[:n], ca), msm_g1(acc.alpha_g1[:n], cb)), msm_g1(tau1, cc))
    rep.add("phase2.initial.ic_and_c_g1", lhs == rhs)
    # h_g1[i] = L^{2n}_{2i+1}(tau): the odd Lagrange points of the doubled domain.
    rho_h = [_rand() for _ in range(n)]
    s = [0] * (2 * n)
    for i, r in enumerate(rho_h):
        s[2 * i + 1] = r
    ch = intt(s, log_n + 1)
    m = min(2 * n, len(acc.tau_g1))  # 2n-1 for a snarkjs ptau of the same power (top power = 0)
    rep.add("phase2.initial.h_g1", msm_g1(key["h_g1"], rho_h) == msm_g1(acc.tau_g1[:m], ch[:m]))


def check_phase2_step(
    prev: DeltaState, new: DeltaState, proof: KnowledgeProof, prev_digest: bytes, rep: TranscriptReport, prefix: str
) -> None:
    """delta is multiplied by the contributor's d and C, H divided by it, consistently."""
    rep.add(f"{prefix}.sizes", (len(new.c_g1), len(new.h_g1)) == (len(prev.c_g1), len(prev.h_g1)))
    rep.add(f"{prefix}.pok_delta", check_knowledge_proof(proof, PHASE2_LABEL, prev_digest))
    rep.add(f"{prefix}.delta2_subgroup", new.delta2 is not None and g2_in_subgroup(new.delta2))
    rep.add(f"{prefix}.delta1_update", same_ratio(prev.delta1, new.delta1, G2_GEN, proof.x_g2))
    rep.add(f"{prefix}.delta1_delta2_match", same_ratio(G1_GEN, new.delta1, G2_GEN, new.delta2))
    # sum rho_i X_new_i * delta_new == sum rho_i X_old_i * delta_old for X = C ++ H.
    pts_old = list(prev.c_g1) + list(prev.h_g1)
    pts_new = list(new.c_g1) + list(new.h_g1)
    if len(pts_old) != len(pts_new):
        rep.add(f"{prefix}.c_h_rescaled", False, "length mismatch")
        return
    rho = [_rand() for _ in pts_old]
    old_c, new_c = msm_g1(pts_old, rho), msm_g1(pts_new, rho)
    same_nulls = [p is None for p in pts_old] == [p is None for p in pts_new]
    ok = same_nulls and (
        (old_c is None and new_c is None)
        or (
            old_c is not None
            and new_c is not None
            and pairing_product_is_one([(new_c, new.delta2), (g1_neg(old_c), prev.delta2)])
        )
    )
    rep.add(f"{prefix}.c_h_rescaled", ok)


# ====================================================================== transcript


def _load_bin(base: Path, rec: dict[str, Any], key: str, rep: TranscriptReport, name: str) -> bytes | None:
    path = base / rec[key]
    try:
        data = path.read_bytes()
    except OSError as e:
        rep.add(name, False, str(e))
        return None
    ok = sha256_hex(data) == rec["sha256"]
    rep.add(name, ok, "" if ok else f"sha256 mismatch for {rec[key]}")
    return data if ok else None


def verify_transcript(
    directory: str | Path,
    r1cs: R1CS,
    vk: VerifyingKey | None = None,
    final_key: Any | None = None,
) -> TranscriptReport:
    """Re-check a whole ceremony; returns a report naming every check (``report.ok`` for the verdict).

    Checks: file hashes; each phase-1 contribution's proofs of knowledge and that it multiplies the
    previous accumulator (pairings on the first elements), and that every accumulator holds
    consecutive powers (randomised pairing checks); the phase-2 initial key is the circuit's QAP at
    the last accumulator's tau (randomised MSMs); each phase-2 contribution's proof, delta update
    and C/H rescaling; the final key equals initial key + last delta state, and matches ``vk`` and
    ``final_key`` (any object with ProvingKey's attributes) when given.
    """
    base = Path(directory)
    rep = TranscriptReport()
    try:
        meta = json.loads((base / "ceremony.json").read_text())
    except (OSError, ValueError) as e:
        rep.add("metadata.readable", False, str(e))
        return rep
    rep.add("metadata.format", meta.get("format") == FORMAT_NAME and meta.get("version") == FORMAT_VERSION)
    try:
        _verify(base, meta, r1cs, vk, final_key, rep)
    except (KeyError, ValueError, TypeError, IndexError) as e:
        rep.add("transcript.well_formed", False, f"{type(e).__name__}: {e}")
    return rep


def _verify(
    base: Path, meta: dict[str, Any], r1cs: R1CS, vk: VerifyingKey | None, final_key: Any | None, rep: TranscriptReport
) -> None:
    p1 = meta["phase1"]
    src = p1["source"]
    if src["kind"] == "local":
        acc = Phase1Accumulator.initial(int(p1["log_n"]))
        rep.add("phase1.source", True, "local ceremony from the generators")
    else:
        data = _load_bin(base, src, "accumulator", rep, "phase1.imported.file_hash")
        if data is None:
            return
        acc = Phase1Accumulator.from_bytes(data)
        rep.add(
            "phase1.source",
            True,
            f"imported from {src['kind']} sha256={src.get('file_sha256', '?')}; "
            "its own contributions must be verified with its own tool (snarkjs powersoftau verify)",
        )
        check_accumulator_powers(acc, rep, "phase1.imported")
    digest = acc.digest()
    if src["kind"] == "local" and not p1["contributions"]:
        rep.add("phase1.has_contributions", False, "a local phase 1 without contributions has tau = 1")
    for c in p1["contributions"]:
        pre = f"phase1.contribution[{c['index']}]"
        data = _load_bin(base, c, "accumulator", rep, f"{pre}.file_hash")
        if data is None:
            return
        new = Phase1Accumulator.from_bytes(data)
        proofs = [KnowledgeProof.from_json(c["proof"][k]) for k in ("tau", "alpha", "beta")]
        check_phase1_step(acc, new, proofs, digest, rep, pre)
        check_accumulator_powers(new, rep, pre)
        acc, digest = new, hashlib.sha256(data).digest()

    p2 = meta["phase2"]
    circ = p2["circuit"]
    rep.add(
        "phase2.circuit_matches_r1cs",
        (circ["n_vars"], circ["n_public"], circ["n_constraints"]) == (r1cs.n_vars, r1cs.n_public, r1cs.n_constraints),
    )
    data = _load_bin(base, p2["initial_key"], "file", rep, "phase2.initial.file_hash")
    if data is None:
        return
    key = decode_key(data)
    check_initial_key(key, acc, r1cs, rep)
    state = key_delta_state(key)
    digest = state.digest()
    for c in p2["contributions"]:
        pre = f"phase2.contribution[{c['index']}]"
        data = _load_bin(base, c, "file", rep, f"{pre}.file_hash")
        if data is None:
            return
        nxt = DeltaState.from_bytes(data)
        check_phase2_step(state, nxt, KnowledgeProof.from_json(c["proof"]), digest, rep, pre)
        state, digest = nxt, hashlib.sha256(data).digest()
    if not p2["contributions"]:
        rep.add(
            "phase2.has_contributions", False, "delta = 1 is public: zero-knowledge and soundness need a contribution"
        )

    data = _load_bin(base, p2["final_key"], "file", rep, "phase2.final.file_hash")
    if data is None:
        return
    final = decode_key(data)
    expect = dict(key, delta1=state.delta1, delta2=state.delta2, c_g1=state.c_g1, h_g1=state.h_g1)
    rep.add("phase2.final.is_initial_plus_last_delta", final == expect)
    derived_vk = VerifyingKey(final["alpha1"], final["beta2"], final["gamma2"], final["delta2"], tuple(final["ic"]))
    if vk is not None:
        rep.add("phase2.final.verifying_key_matches", vk == derived_vk)
    if final_key is not None:
        mine = {k: getattr(final_key, k) for k in final}
        same = all((list(mine[k]) if isinstance(v, list) else mine[k]) == v for k, v in final.items())
        rep.add("phase2.final.proving_key_matches", same)
