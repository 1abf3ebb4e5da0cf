"""The phase-2 *initial* key snarkjs derives from (circuit.r1cs, prepared .ptau), and its circuit hash.

``snarkjs zkey verify`` rebuilds this key (``zkey new``) and requires every section a contribution
must not touch (IC, coefficients, A, B1, B2, alpha, beta, gamma) to be byte-identical to it, and the
contribution chain to start from its ``csHash``. This module does the same derivation independently
of the prover (auditors install only ``circuits/`` and ``verifier/``):

* Lagrange bases come from the .ptau's prepared sections 12-15 (as snarkjs), and
  :func:`check_lagrange_against_powers` additionally checks them against the powers (sections 2-5)
  by a random linear combination, which snarkjs does not do;
* per signal s: A[s] = sum a_rs [L_r(tau)]_1 (plus the public row for s <= nPublic),
  B1/B2 likewise with b in G1/G2, and IC/C[s] = sum a_rs [beta L_r]_1 + b_rs [alpha L_r]_1 + c_rs [L_r]_1;
* H = [L^{2D}_{2i+1}(tau)]_1 from the doubled domain's Lagrange points;
* the circuit hash is blake2b-512 over the uncompressed alpha1, beta1, beta2, gamma2 = G2, delta1 = G1,
  delta2 = G2, then u32be(count) + points for IC, H', C, A, B1, B2, where H' are the differences
  tau^(D+i) G1 - tau^i G1 that ``zkey_new.js`` hashes in place of H (for D - 1 of them; above 2^14 it
  hashes whole chunks of 2^14, i.e. D of them, the last needing tau^(2D-1), which a .ptau of power
  log2(D) does not have: see :class:`CircuitHashUnavailable`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from zkmargin.circuits import msm_native as native
from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    JAC1_INF,
    JAC2_INF,
    G1Affine,
    G2Affine,
    g1_add,
    g1_batch_to_affine,
    g1_mul_jac,
    g1_neg,
    g1_neg_jac,
    g1_to_jac,
    g2_add,
    g2_batch_to_affine,
    g2_mul_jac,
    g2_neg_jac,
    g2_to_jac,
)
from zkmargin.circuits.field import P, R
from zkmargin.circuits.formats.binfile import BinFile, BinFileError, read_binfile
from zkmargin.circuits.formats.points import G1_SIZE, G2_SIZE, decode_g1_lem, decode_g2_lem
from zkmargin.circuits.msm import msm_g1, msm_g2
from zkmargin.circuits.ntt import intt
from zkmargin.circuits.r1cs import R1CS

from .zkey_mpc import u_g1, u_g2

_MONT_R2 = pow(1 << 256, 2, R)
_H_CHUNK = 1 << 14


class CircuitHashUnavailable(ValueError):
    """snarkjs's circuit hash for this domain reads a power the .ptau does not hold."""


# ---------------------------------------------------------------- .ptau


@dataclass
class PtauForDomain:
    """What a domain of size D = 2^log_d needs from a prepared .ptau."""

    power: int
    log_d: int
    tau_g1: list[G1Affine]  # min(2D, 2^(power+1) - 1) powers
    tau_g2: list[G2Affine]  # D
    alpha_g1: list[G1Affine]  # D
    beta_g1: list[G1Affine]  # D
    beta_g2: G2Affine
    lag_g1: list[G1Affine]  # [L_j(tau)]_1, D
    lag_g2: list[G2Affine]
    lag_alpha_g1: list[G1Affine]
    lag_beta_g1: list[G1Affine]
    lag2_g1: list[G1Affine]  # doubled domain, 2D
    sha256: str


def _slice(bf: BinFile, sec: int, name: str, size: int, g2: bool) -> list:
    """Points of the Lagrange section for the domain of ``size`` (which starts at index size - 1)."""
    r = bf.section(sec, name)
    r.raw((size - 1) * (G2_SIZE if g2 else G1_SIZE), f"{name}: the smaller domains")
    return decode_g2_lem(r, size, name) if g2 else decode_g1_lem(r, size, name)


def read_ptau_for_domain(path: str | os.PathLike[str], log_d: int) -> PtauForDomain:
    """Read a snarkjs .ptau; raises BinFileError (a ValueError) naming the file and the section."""
    bf = read_binfile(path, b"ptau", 1)
    h = bf.section(1, "header")
    n8 = h.u32("n8")
    if n8 != 32 or h.integer(n8, "q") != P:
        raise h.fail("not a BN254 (bn128) ptau")
    power = h.u32("power")
    h.u32("ceremonyPower")
    h.end()
    if log_d > power:
        raise BinFileError(f"{bf.path}: power {power} is too small for a circuit domain of 2^{log_d}")
    missing = [s for s in (12, 13, 14, 15) if not bf.has(s)]
    if missing:
        raise BinFileError(f"{bf.path}: not prepared for phase 2 (sections {missing} missing): run "
                           "`snarkjs powersoftau prepare phase2`")  # fmt: skip
    d = 1 << log_d
    n_tau = min(2 * d, (1 << (power + 1)) - 1)
    return PtauForDomain(
        power=power,
        log_d=log_d,
        tau_g1=decode_g1_lem(bf.section(2, "tauG1"), n_tau, "tauG1"),
        tau_g2=decode_g2_lem(bf.section(3, "tauG2"), d, "tauG2"),
        alpha_g1=decode_g1_lem(bf.section(4, "alphaTauG1"), d, "alphaTauG1"),
        beta_g1=decode_g1_lem(bf.section(5, "betaTauG1"), d, "betaTauG1"),
        beta_g2=decode_g2_lem(bf.section(6, "betaG2"), 1, "betaG2")[0],
        lag_g1=_slice(bf, 12, "lagrangeTauG1", d, False),
        lag_g2=_slice(bf, 13, "lagrangeTauG2", d, True),
        lag_alpha_g1=_slice(bf, 14, "lagrangeAlphaTauG1", d, False),
        lag_beta_g1=_slice(bf, 15, "lagrangeBetaTauG1", d, False),
        lag2_g1=_slice(bf, 12, "lagrangeTauG1", 2 * d, False),
        sha256=hashlib.sha256(bf.data).hexdigest(),
    )


def _rand() -> int:
    return secrets.randbits(128) | 1


def msm_g1_any(points: Sequence[G1Affine], scalars: Sequence[int]) -> G1Affine:
    return native.msm_g1_auto(points, scalars) if native.available() else msm_g1(points, scalars)


def msm_g2_any(points: Sequence[G2Affine], scalars: Sequence[int]) -> G2Affine:
    return native.msm_g2_auto(points, scalars) if native.available() else msm_g2(points, scalars)


def check_lagrange_against_powers(pt: PtauForDomain) -> list[tuple[str, bool]]:
    """sum_j rho_j [L_j(tau)] == sum_i intt(rho)_i [tau^i] for each prepared set the key uses: the
    Lagrange sections are a function of the powers, so a .ptau cannot smuggle in other bases.
    (The doubled domain's top power may be absent: snarkjs then takes it as 0, and so does this.)"""
    d = 1 << pt.log_d
    out: list[tuple[str, bool]] = []
    rho = [_rand() for _ in range(d)]
    co = [int(x) for x in intt(rho, pt.log_d)]
    out.append(("ptau.lagrange_tau_g1", msm_g1_any(pt.lag_g1, rho) == msm_g1_any(pt.tau_g1[:d], co)))
    out.append(("ptau.lagrange_tau_g2", msm_g2_any(pt.lag_g2, rho) == msm_g2_any(pt.tau_g2[:d], co)))
    out.append(("ptau.lagrange_alpha_tau_g1", msm_g1_any(pt.lag_alpha_g1, rho) == msm_g1_any(pt.alpha_g1[:d], co)))
    out.append(("ptau.lagrange_beta_tau_g1", msm_g1_any(pt.lag_beta_g1, rho) == msm_g1_any(pt.beta_g1[:d], co)))
    rho2 = [_rand() for _ in range(2 * d)]
    co2 = [int(x) for x in intt(rho2, pt.log_d + 1)]
    m = len(pt.tau_g1)
    out.append(("ptau.lagrange_tau_g1_doubled", msm_g1_any(pt.lag2_g1, rho2) == msm_g1_any(pt.tau_g1[:m], co2[:m])))
    return out


# ---------------------------------------------------------------- the initial key


@dataclass
class InitialKey:
    """The sections of snarkjs's initial key (delta = gamma = 1) that verification compares or hashes."""

    n_vars: int
    n_public: int
    domain_size: int
    alpha1: G1Affine
    beta1: G1Affine
    beta2: G2Affine
    ic: list[G1Affine]
    c: list[G1Affine]
    a: list[G1Affine]
    b1: list[G1Affine]
    b2: list[G2Affine]
    h: list[G1Affine]
    coeffs: bytes  # section 4, as zkey_new.js writes it


def circuit_log_domain(r1cs: R1CS) -> int:
    """zkey_new.js: cirPower = log2(nConstraints + nPublic) + 1 (floor log2), at least 1."""
    return max(1, (r1cs.n_constraints + r1cs.n_public).bit_length())


Term = tuple[int, int, int]  # (signal, row, coefficient)


_HALF_R = R // 2


def _short(c: int) -> int:
    """c or r - c, whichever is shorter (the product is then negated): coefficients are mostly small or small
    negatives, and the kernel's cost grows with the scalar's length."""
    c %= R
    return R - c if c > _HALF_R else c


def _sum_g1(n: int, terms: list[tuple[int, G1Affine, int]]) -> list[G1Affine]:
    """out[s] = sum coef * base over (s, base, coef): one batched scalar multiplication, then sums."""
    scaled = [t for t in terms if t[1] is not None and t[2] % R]
    ks = [_short(t[2]) for t in scaled]
    if native.available() and scaled:
        prods = [g1_to_jac(p) for p in native.mul_each_g1([t[1] for t in scaled], ks)]
    else:
        prods = [g1_mul_jac(g1_to_jac(t[1]), k) for t, k in zip(scaled, ks, strict=True)]
    acc = [JAC1_INF] * n
    for (s, _, c), p in zip(scaled, prods, strict=True):
        acc[s] = g1_add(acc[s], g1_neg_jac(p) if c % R > _HALF_R else p)
    return g1_batch_to_affine(acc)


def _sum_g2(n: int, terms: list[tuple[int, G2Affine, int]]) -> list[G2Affine]:
    scaled = [t for t in terms if t[1] is not None and t[2] % R]
    ks = [_short(t[2]) for t in scaled]
    if native.available() and scaled:
        prods = [g2_to_jac(p) for p in native.mul_each_g2([t[1] for t in scaled], ks)]
    else:
        prods = [g2_mul_jac(g2_to_jac(t[1]), k) for t, k in zip(scaled, ks, strict=True)]
    acc = [JAC2_INF] * n
    for (s, _, c), p in zip(scaled, prods, strict=True):
        acc[s] = g2_add(acc[s], g2_neg_jac(p) if c % R > _HALF_R else p)
    return g2_batch_to_affine(acc)


def derive_initial_key(r1cs: R1CS, pt: PtauForDomain) -> InitialKey:
    """snarkjs's ``zkey new`` for this circuit and .ptau (same points, same coefficient order)."""
    log_d = circuit_log_domain(r1cs)
    if log_d != pt.log_d:
        raise ValueError(f"the ptau slice is for 2^{pt.log_d}, the circuit needs 2^{log_d}")
    nv, npub, m = r1cs.n_vars, r1cs.n_public, r1cs.n_constraints
    a_t: list[tuple[int, G1Affine, int]] = []
    b1_t: list[tuple[int, G1Affine, int]] = []
    b2_t: list[tuple[int, G2Affine, int]] = []
    mixed: list[tuple[int, G1Affine, int]] = []  # IC ++ C, indexed by signal
    coeffs: list[bytes] = []

    def coef(row: int, sig: int, mat: int, v: int) -> None:
        coeffs.append(struct.pack("<III", mat, row, sig) + (v % R * _MONT_R2 % R).to_bytes(32, "little"))

    for row, con in enumerate(r1cs.constraints):
        for s, v in con.a.items():
            a_t.append((s, pt.lag_g1[row], v))
            mixed.append((s, pt.lag_beta_g1[row], v))
            coef(row, s, 0, v)
        for s, v in con.b.items():
            b1_t.append((s, pt.lag_g1[row], v))
            b2_t.append((s, pt.lag_g2[row], v))
            mixed.append((s, pt.lag_alpha_g1[row], v))
            coef(row, s, 1, v)
        for s, v in con.c.items():
            mixed.append((s, pt.lag_g1[row], v))
    for s in range(npub + 1):
        a_t.append((s, pt.lag_g1[m + s], 1))
        mixed.append((s, pt.lag_beta_g1[m + s], 1))
        coef(m + s, s, 0, 1)
    mixed_pts = _sum_g1(nv, mixed)
    return InitialKey(
        n_vars=nv,
        n_public=npub,
        domain_size=1 << log_d,
        alpha1=pt.alpha_g1[0],
        beta1=pt.beta_g1[0],
        beta2=pt.beta_g2,
        ic=mixed_pts[: npub + 1],
        c=mixed_pts[npub + 1 :],
        a=_sum_g1(nv, a_t),
        b1=_sum_g1(nv, b1_t),
        b2=_sum_g2(nv, b2_t),
        h=pt.lag2_g1[1::2],
        coeffs=struct.pack("<I", len(coeffs)) + b"".join(coeffs),
    )


# ---------------------------------------------------------------- circuit hash


def circuit_hash(
    alpha1: G1Affine,
    beta1: G1Affine,
    beta2: G2Affine,
    ic: Sequence[G1Affine],
    c: Sequence[G1Affine],
    a: Sequence[G1Affine],
    b1: Sequence[G1Affine],
    b2: Sequence[G2Affine],
    tau_g1: Sequence[G1Affine],
    domain_size: int,
) -> bytes:
    """``csHash`` exactly as ``zkey_new.js`` computes it (module docstring); ``c`` is the *initial*
    (delta = 1) C section, ``tau_g1`` the plain powers of tau in G1."""
    d = domain_size
    n_h = d - 1 if d - 1 <= _H_CHUNK else -(-(d - 1) // _H_CHUNK) * _H_CHUNK
    if d + n_h - 1 >= len(tau_g1):
        raise CircuitHashUnavailable(
            f"snarkjs's circuit hash for a domain of 2^{d.bit_length() - 1} reads tau^{d + n_h - 1} G1, beyond "
            f"the {len(tau_g1)} powers available: use a .ptau of a higher power"
        )
    h = hashlib.blake2b(digest_size=64)
    for part in (u_g1(alpha1), u_g1(beta1), u_g2(beta2), u_g2(G2_GEN), u_g1(G1_GEN), u_g2(G2_GEN)):
        h.update(part)

    def g1_list(pts: Sequence[G1Affine]) -> None:
        h.update(struct.pack(">I", len(pts)))
        h.update(b"".join(u_g1(p) for p in pts))

    g1_list(ic)
    h.update(struct.pack(">I", d - 1))
    diffs = [g1_add(g1_to_jac(tau_g1[i + d]), g1_to_jac(g1_neg(tau_g1[i]))) for i in range(n_h)]
    h.update(b"".join(u_g1(p) for p in g1_batch_to_affine(diffs)))
    g1_list(c)
    g1_list(a)
    g1_list(b1)
    h.update(struct.pack(">I", len(b2)))
    h.update(b"".join(u_g2(p) for p in b2))
    return h.digest()


def initial_circuit_hash(key: InitialKey, tau_g1: Sequence[G1Affine]) -> bytes:
    return circuit_hash(key.alpha1, key.beta1, key.beta2, key.ic, key.c, key.a, key.b1, key.b2, tau_g1, key.domain_size)


__all__ = [
    "CircuitHashUnavailable",
    "InitialKey",
    "PtauForDomain",
    "check_lagrange_against_powers",
    "circuit_hash",
    "circuit_log_domain",
    "derive_initial_key",
    "initial_circuit_hash",
    "msm_g1_any",
    "msm_g2_any",
    "read_ptau_for_domain",
]
