"""Auditor-side check of a snarkjs ``.zkey``'s phase-2 ceremony, without node: what
``snarkjs zkey verify circuit.r1cs phase1.ptau circuit.zkey`` checks, plus a little more.

Why each check matters (a Groth16 key is forgeable by whoever knows delta's discrete log):

* the untouched sections (alpha, beta, gamma, IC, coefficients, A, B1, B2) equal the key derived
  from the circuit and the public phase 1 (:mod:`zkmargin.verifier.zkey_init`), so the key is for
  this circuit and this tau;
* every contribution proves knowledge of its secret x: ``e(g1_s, g2_spx) = e(g1_sx, g2_sp)`` with
  ``g2_sp = hash_to_g2(transcript)``, and the transcript chains the circuit hash and every earlier
  record, so a record cannot be copied from another key or reordered;
* ``deltaAfter`` of each contribution is the previous delta times that same x
  (``e(prev, g2_spx) = e(deltaAfter, g2_sp)``) and the key's delta is the last ``deltaAfter``: delta is
  then the product of the contributors' secrets, unknown unless all of them colluded;
* C and H are the initial ones divided by delta (random linear combinations, one pairing each);
* a beacon's secret is recomputed from its public beacon hash and iteration count.

Beyond snarkjs: the .ptau's Lagrange sections are checked against its powers, delta2 is checked
to lie in G2's subgroup, each ``g2_spx`` too, and a key with no contribution (delta = 1, i.e. a
development key: anyone can forge with it) fails ``mpc.has_contributions`` where snarkjs says OK.
The .ptau's own phase-1 contributions are not checked here: run ``snarkjs powersoftau verify`` on
it, or use a public ceremony's published file (compare its hash).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    G1Affine,
    G2Affine,
    g1_mul,
    g1_neg,
    g2_in_subgroup,
    pairing_product_is_one,
)
from zkmargin.circuits.field import P, R, root_of_unity
from zkmargin.circuits.formats import read_r1cs
from zkmargin.circuits.formats.binfile import BinFileError, read_binfile
from zkmargin.circuits.formats.points import decode_g1_lem, decode_g2_lem, encode_g1_lem, encode_g2_lem
from zkmargin.circuits.ntt import ntt
from zkmargin.circuits.r1cs import R1CS

from .report import Report
from .snarkjs_rng import MIN_BEACON_EXP, fr_from_rng, g1_from_rng, hash_to_g2, rng_from_beacon
from .zkey_init import (
    CircuitHashUnavailable,
    InitialKey,
    check_lagrange_against_powers,
    circuit_log_domain,
    derive_initial_key,
    initial_circuit_hash,
    msm_g1_any,
    read_ptau_for_domain,
)
from .zkey_mpc import TYPE_BEACON, TYPE_CONTRIBUTION, Contribution, MpcParams, decode_mpc_section, transcript_for

# Recomputing a beacon costs 2^exp SHA-256 calls (about 1 us each here): 2^26 is about a minute.
MAX_RECOMPUTED_BEACON_EXP = 26


@dataclass
class ZkeyForAudit:
    """A Groth16 .zkey as the auditor needs it: header points, raw sections 3-9, C, H, contributions."""

    n_vars: int
    n_public: int
    domain_size: int
    alpha1: G1Affine
    beta1: G1Affine
    beta2: G2Affine
    gamma2: G2Affine
    delta1: G1Affine
    delta2: G2Affine
    sections: dict[int, bytes]
    c: list[G1Affine]
    h: list[G1Affine]
    mpc: MpcParams


def read_zkey_for_audit(path: str | os.PathLike[str]) -> ZkeyForAudit:
    """Parse (and curve-check) a Groth16 zkey; BinFileError (a ValueError) names file and section."""
    bf = read_binfile(path, b"zkey", 1)
    hr = bf.section(1, "header")
    if hr.u32("protocol") != 1:
        raise hr.fail("not a Groth16 key (protocol id != 1)")
    g = bf.section(2, "groth16 header")
    if g.u32("n8q") != 32 or g.integer(32, "q") != P or g.u32("n8r") != 32 or g.integer(32, "r") != R:
        raise g.fail("not a BN254 (bn128) key")
    n_vars, n_public, domain = g.u32("nVars"), g.u32("nPublic"), g.u32("domainSize")
    if domain == 0 or domain & (domain - 1) or n_public + 1 > n_vars:
        raise g.fail(f"inconsistent sizes nVars={n_vars} nPublic={n_public} domainSize={domain}")
    alpha1, beta1 = decode_g1_lem(g, 2, "alpha1/beta1")
    beta2, gamma2 = decode_g2_lem(g, 2, "beta2/gamma2")
    (delta1,) = decode_g1_lem(g, 1, "delta1")
    (delta2,) = decode_g2_lem(g, 1, "delta2")
    g.end()
    sections = {s: bf.raw_section(s) if bf.has(s) else b"" for s in range(3, 10)}
    for s in range(3, 10):
        bf.section(s, f"section {s}")  # missing or duplicated: error
    c_r = bf.section(8, "C")
    if c_r.remaining != 64 * (n_vars - n_public - 1):
        raise c_r.fail(f"expected {n_vars - n_public - 1} points, the section has {c_r.remaining} bytes")
    c = decode_g1_lem(c_r, n_vars - n_public - 1, "C")
    h_r = bf.section(9, "H")
    if h_r.remaining != 64 * domain:
        raise h_r.fail(f"expected {domain} points, the section has {h_r.remaining} bytes")
    h = decode_g1_lem(h_r, domain, "H")
    mpc = decode_mpc_section(bf.section(10, "contributions"))
    return ZkeyForAudit(n_vars, n_public, domain, alpha1, beta1, beta2, gamma2, delta1, delta2, sections, c, h, mpc)


def same_ratio(a1: G1Affine, b1: G1Affine, a2: G2Affine, b2: G2Affine) -> bool:
    """snarkjs ``misc.sameRatio``: e(a1, b2) == e(b1, a2), false if any point is zero."""
    if a1 is None or b1 is None or a2 is None or b2 is None:
        return False
    return pairing_product_is_one([(a1, b2), (g1_neg(b1), a2)])


def has_contributions(zkey: str | os.PathLike[str] | MpcParams | ZkeyForAudit) -> bool:
    """False for a key nobody contributed to (delta = 1: a development / single-party key)."""
    if isinstance(zkey, ZkeyForAudit):
        return bool(zkey.mpc.contributions)
    if isinstance(zkey, MpcParams):
        return bool(zkey.contributions)
    bf = read_binfile(zkey, b"zkey", 1)
    return bool(decode_mpc_section(bf.section(10, "contributions")).contributions)


def expected_beacon_key(beacon_hash: bytes, iterations_exp: int) -> tuple[int, G1Affine, G1Affine]:
    """(secret, g1_s, g1_sx) a beacon contribution must carry (``zkey_beacon.js``)."""
    rng = rng_from_beacon(beacon_hash, iterations_exp)
    x = fr_from_rng(rng)
    g1_s = g1_from_rng(rng)
    return x, g1_s, g1_mul(g1_s, x)


def check_contribution_chain(mpc: MpcParams, rep: Report, max_beacon_exp: int = MAX_RECOMPUTED_BEACON_EXP) -> G1Affine:
    """snarkjs's loop over section 10; returns the delta the chain ends at (G1 generator if empty)."""
    cur: G1Affine = G1_GEN
    for i, c in enumerate(mpc.contributions):
        pre = f"contribution[{i + 1}]"
        label = f"{c.name or '(no name)'}, hash {c.contribution_hash().hex()[:16]}..."
        rep.add(f"{pre}.type", c.type in (TYPE_CONTRIBUTION, TYPE_BEACON), f"{label}, type {c.type}")
        ok_t = transcript_for(mpc.cs_hash, mpc.contributions[:i], c.g1_s, c.g1_sx) == c.transcript
        rep.add(f"{pre}.transcript", ok_t, "" if ok_t else "does not hash the circuit and the earlier contributions")
        g2_sp = hash_to_g2(c.transcript)
        rep.add(f"{pre}.g2_spx_subgroup", c.g2_spx is not None and g2_in_subgroup(c.g2_spx))
        rep.add(f"{pre}.proof_of_knowledge", same_ratio(c.g1_s, c.g1_sx, g2_sp, c.g2_spx))
        rep.add(f"{pre}.delta_follows", same_ratio(cur, c.delta_after, g2_sp, c.g2_spx))
        if c.type == TYPE_BEACON:
            _check_beacon(c, rep, pre, max_beacon_exp)
        cur = c.delta_after
    return cur


def _check_beacon(c: Contribution, rep: Report, pre: str, max_exp: int) -> None:
    bh, exp = c.beacon_hash, c.iterations_exp
    if not bh or exp is None:
        rep.add(f"{pre}.beacon", False, "beacon record without beacon hash or iteration count")
        return
    if not MIN_BEACON_EXP <= exp <= max_exp:
        rep.add(f"{pre}.beacon", False, f"2^{exp} iterations: outside [{MIN_BEACON_EXP}, {max_exp}], not recomputed")
        return
    _, g1_s, g1_sx = expected_beacon_key(bh, exp)
    ok = (g1_s, g1_sx) == (c.g1_s, c.g1_sx)
    rep.add(f"{pre}.beacon", ok, f"beacon {bh.hex()}, 2^{exp} iterations" + ("" if ok else ": key does not match"))


def _rand_scalars(n: int) -> list[int]:
    return [secrets.randbits(128) | 1 for _ in range(n)]


def scaled_by_delta(
    init: list[G1Affine], final: list[G1Affine], delta2: G2Affine, delta2_init: G2Affine = G2_GEN
) -> bool:
    """final = init * delta_init / delta, pointwise, by one random linear combination:
    e(sum r_i final_i, delta2) == e(sum r_i init_i, delta2_init). snarkjs uses 32-bit r_i; 128 here."""
    if len(init) != len(final):
        return False
    if not init:
        return True
    if [p is None for p in init] != [p is None for p in final]:
        return False
    rho = _rand_scalars(len(init))
    lhs, rhs = msm_g1_any(final, rho), msm_g1_any(init, rho)
    if lhs is None or rhs is None:
        return lhs is None and rhs is None
    return same_ratio(rhs, lhs, delta2, delta2_init)


def h_matches_powers(h: list[G1Affine], tau_g1: list[G1Affine], delta2: G2Affine, log_d: int) -> bool:
    """snarkjs's H check (``sameRatioH``), against the plain powers: with random r_0..r_{D-2} (r_{D-1} =
    0) the polynomial q(x) = (x^D - 1) sum r_i x^i has degree <= 2D - 2 and vanishes on the D-th roots,
    so q = sum_i s_i L^{2D}_{2i+1} with s_i = q(w^(2i+1)) = -2 r(w^(2i+1)) (w a 2D-th root of unity):
    e(sum s_i H_i, delta2) must equal e(sum r_i (tau^(D+i) - tau^i) G1, G2).

    Like snarkjs this never uses tau^(2D-1): both the exact odd Lagrange points and those of a .ptau
    that lacks the top power (taken as zero, as snarkjs prepares them) pass, and both prove correctly
    since A*B - C has degree <= 2D - 2."""
    d = 1 << log_d
    if len(h) != d or len(tau_g1) < 2 * d - 1:
        return False
    r = [*_rand_scalars(d - 1), 0]
    w = root_of_unity(log_d + 1)
    twisted = [ri * pow(w, i, R) % R for i, ri in enumerate(r)]
    s_coeffs = [(-2 * int(v)) % R for v in ntt(twisted, log_d)]
    r1 = msm_g1_any(tau_g1[d : 2 * d - 1] + tau_g1[: d - 1], r[: d - 1] + [(R - x) % R for x in r[: d - 1]])
    r2 = msm_g1_any(h, s_coeffs)
    if r1 is None or r2 is None:
        return False
    return same_ratio(r1, r2, delta2, G2_GEN)


def check_fixed_sections(rep: Report, key: ZkeyForAudit, init: InitialKey) -> None:
    """The key's parts no phase-2 contribution may change (alpha, beta, gamma = 1, IC, coefficients, A, B1, B2)
    equal the initial key derived from the circuit and phase 1: one list for plain and committed ceremonies."""
    rep.add("key.alpha1", key.alpha1 == init.alpha1)
    rep.add("key.beta1", key.beta1 == init.beta1)
    rep.add("key.beta2", key.beta2 == init.beta2)
    rep.add("key.gamma2", key.gamma2 == G2_GEN)
    rep.add("key.ic", key.sections[3] == encode_g1_lem(init.ic))
    rep.add("key.coefficients", key.sections[4] == init.coeffs)
    rep.add("key.a", key.sections[5] == encode_g1_lem(init.a))
    rep.add("key.b1", key.sections[6] == encode_g1_lem(init.b1))
    rep.add("key.b2", key.sections[7] == encode_g2_lem(init.b2))


def verify_zkey_ceremony(
    zkey: str | os.PathLike[str],
    r1cs: R1CS | str | os.PathLike[str],
    ptau: str | os.PathLike[str],
    max_beacon_exp: int = MAX_RECOMPUTED_BEACON_EXP,
) -> Report:
    """Every check of ``snarkjs zkey verify`` (and the extra ones in the module docstring), by name.
    ``report.exit_code``: 0 all passed, 1 a check failed, 2 an input could not be read."""
    rep = Report(f"zkey ceremony: {Path(zkey).name}")
    try:
        circuit = r1cs if isinstance(r1cs, R1CS) else read_r1cs(r1cs)
    except (BinFileError, OSError) as e:
        rep.malformed = f"--r1cs: {e}"
        return rep
    try:
        key = read_zkey_for_audit(zkey)
    except (BinFileError, OSError) as e:
        rep.malformed = f"--zkey: {e}"
        return rep
    log_d = circuit_log_domain(circuit)
    try:
        pt = read_ptau_for_domain(ptau, log_d)
    except (BinFileError, OSError) as e:
        rep.malformed = f"--ptau: {e}"
        return rep
    shape = (key.n_vars, key.n_public, key.domain_size) == (circuit.n_vars, circuit.n_public, 1 << log_d)
    if not rep.add("circuit.shape", shape, f"key nVars={key.n_vars} nPublic={key.n_public} domain={key.domain_size}; "
                   f"circuit {circuit.n_vars}, {circuit.n_public}, {1 << log_d}"):  # fmt: skip
        return rep
    for name, ok in check_lagrange_against_powers(pt):
        rep.add(name, ok)
    init = derive_initial_key(circuit, pt)
    check_fixed_sections(rep, key, init)
    try:
        same = initial_circuit_hash(init, pt.tau_g1) == key.mpc.cs_hash
        rep.add("mpc.circuit_hash", same, "" if same else "csHash is not this circuit's (on this ptau)")
    except CircuitHashUnavailable as e:
        rep.add("mpc.circuit_hash", False, str(e))
    last = check_contribution_chain(key.mpc, rep, max_beacon_exp)
    n = len(key.mpc.contributions)
    rep.add(
        "mpc.has_contributions",
        n > 0,
        f"{n} contribution(s)" if n else "no contribution: delta = 1, a development key anyone can forge with",
    )
    rep.add("key.delta1_is_last_contribution", key.delta1 == last)
    rep.add("key.delta2_subgroup", key.delta2 is not None and g2_in_subgroup(key.delta2))
    rep.add("key.delta2_matches_delta1", same_ratio(G1_GEN, last, G2_GEN, key.delta2))
    rep.add("key.c_scaled_by_delta", scaled_by_delta(init.c, key.c, key.delta2))
    rep.add("key.h_scaled_by_delta", h_matches_powers(key.h, pt.tau_g1, key.delta2, log_d), "against the powers of tau")
    return rep


__all__ = [
    "MAX_RECOMPUTED_BEACON_EXP",
    "ZkeyForAudit",
    "check_contribution_chain",
    "expected_beacon_key",
    "h_matches_powers",
    "has_contributions",
    "read_zkey_for_audit",
    "same_ratio",
    "scaled_by_delta",
    "verify_zkey_ceremony",
]
