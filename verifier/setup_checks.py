"""The transcript's checks: the report, phase-1 accumulator checks, the phase-2 initial key and delta steps.

Every check is randomised where a deterministic one would cost a pairing or a multiplication per point (random
linear combinations, one MSM per list), so a full ceremony re-checks in seconds; each is added to a
:class:`TranscriptReport` by name, so an auditor sees which property failed, not only that one did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from zkmargin.circuits.curve import G1_GEN, G2_GEN, G1Affine, g1_neg, g2_in_subgroup, pairing_product_is_one
from zkmargin.circuits.field import R
from zkmargin.circuits.msm import msm_g1, msm_g2
from zkmargin.circuits.r1cs import R1CS

from .setup_format import DeltaState, KeyFields, Phase1Accumulator, QapEntry
from .setup_proofs import (
    PHASE1_LABELS,
    PHASE2_LABEL,
    KnowledgeProof,
    check_knowledge_proof,
    g1_sum,
    g2_batch_in_subgroup,
    intt,
    rand_scalar,
    same_ratio,
)

# ====================================================================== reports


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class TranscriptReport:
    """Named checks of one transcript; ``malformed`` is set when a file could not be read as the format (truncated
    container, bad JSON, a path outside the transcript), which callers report as malformed input (exit 2) rather
    than as a failed check."""

    checks: list[Check] = field(default_factory=list)
    malformed: str | None = None

    @property
    def ok(self) -> bool:
        return self.malformed is None and bool(self.checks) and all(c.ok for c in self.checks)

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
        r = [rand_scalar() for _ in range(len(pts) - 1)]
        return msm_g1(pts[:-1], r), msm_g1(pts[1:], r)

    lo, hi = rlc1(acc.tau_g1)
    rep.add(f"{prefix}.tau_g1_powers", same_ratio(lo, hi, G2_GEN, t2))
    r = [rand_scalar() for _ in range(n - 1)]
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


def check_initial_key(key: KeyFields, acc: Phase1Accumulator, r1cs: R1CS, rep: TranscriptReport) -> None:
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
    rho = [rand_scalar() for _ in range(nv)]
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
    rho_h = [rand_scalar() for _ in range(n)]
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
    rho = [rand_scalar() for _ in pts_old]
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
