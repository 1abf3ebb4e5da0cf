"""Phase 2 (circuit-specific): the initial key from prepared phase-1 points, and delta contributions.

The initial key has gamma = delta = 1, as in snarkjs: gamma never changes (IC is then fixed by phase
1 alone) and each participant multiplies delta by a fresh d, scaling delta1, delta2 by d and the C
and H points by 1/d. Knowledge of d is proved against the digest of the state it updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    JAC1_INF,
    JAC2_INF,
    G1Affine,
    G2Affine,
    g1_add,
    g1_batch_to_affine,
    g1_neg_jac,
    g1_to_jac,
    g2_add,
    g2_batch_to_affine,
    g2_mul_jac,
    g2_neg_jac,
    g2_to_jac,
)
from zkmargin.circuits.field import R, inv
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.setup_transcript import PHASE2_LABEL, DeltaState, KnowledgeProof, key_delta_state
from zkmargin.verifier.zkey_mpc import MpcParams

from ..keys import ProvingKey, QapEntry
from ..qap import qap_from_r1cs
from ._util import HALF_R, g1_mul_each, g2_mul_each, knowledge_proof, random_scalar, short_scalar
from .phase1 import PreparedPhase1

Column = list[tuple[int, tuple[int, int]]]  # per signal: (which base set, (row, coeff))


def _scaled_terms(columns: list[Column], bases: list[list[Any]]) -> tuple[list[Any], list[int]]:
    """The (base, coefficient) pairs that need a scalar multiplication (coefficient != 1), in column order, so
    they go to the C kernel in one call: per-term Python multiplications made the initial key of even a small
    circuit take minutes."""
    points: list[Any] = []
    scalars: list[int] = []
    for terms in columns:
        for which, (row, v) in terms:
            p = bases[which][row]
            if p is not None and v != 1:
                points.append(p)
                scalars.append(short_scalar(v))
    return points, scalars


def _sum_columns(
    columns: list[Column], bases: list[list[Any]], products: list[Any], add: Any, neg: Any, to_jac: Any, inf: Any
) -> list[Any]:
    """out[k] = sum over column k's terms of its base (coefficient 1) or its precomputed product (negated where
    the coefficient was above r/2 and was multiplied as r - v)."""
    it = iter(products)
    out: list[Any] = []
    for terms in columns:
        acc = inf
        for which, (row, v) in terms:
            p = bases[which][row]
            if p is None:
                continue
            q = p if v == 1 else next(it)
            if q is not None:
                acc = add(acc, neg(to_jac(q)) if v > HALF_R else to_jac(q))
        out.append(acc)
    return out


def _combine_g1(columns: list[Column], bases: list[list[G1Affine]]) -> list[G1Affine]:
    """out[k] = sum of coeff * bases[which][row] over the column's terms: sparse, so direct sums."""
    points, scalars = _scaled_terms(columns, bases)
    products = g1_mul_each(points, scalars) if points else []
    return g1_batch_to_affine(_sum_columns(columns, bases, products, g1_add, g1_neg_jac, g1_to_jac, JAC1_INF))


def _combine_g2(columns: list[Column], bases: list[list[G2Affine]]) -> list[G2Affine]:
    """The G2 twin of _combine_g1 (B's G2 points)."""
    points, scalars = _scaled_terms(columns, bases)
    products = g2_mul_each(points, scalars) if points else []
    return g2_batch_to_affine(_sum_columns(columns, bases, products, g2_add, g2_neg_jac, g2_to_jac, JAC2_INF))


def _columns(entries: list[QapEntry], n_vars: int, which: int, into: list[Column] | None = None) -> list[Column]:
    cols: list[Column] = into if into is not None else [[] for _ in range(n_vars)]
    for row, sig, v in entries:
        cols[sig].append((which, (row, v)))
    return cols


def initial_key(r1cs: R1CS, prep: PreparedPhase1) -> ProvingKey:
    """The QAP evaluated at the ceremony's tau, with delta = gamma = 1 (before any contribution)."""
    qap = qap_from_r1cs(r1cs)
    if qap.log_domain != prep.log_n:
        raise ValueError(f"prepared phase 1 is for 2^{prep.log_n}, the circuit needs 2^{qap.log_domain}")
    nv, n_pub = r1cs.n_vars, r1cs.n_public
    a_g1 = _combine_g1(_columns(qap.a, nv, 0), [prep.lag_g1])
    b_g1 = _combine_g1(_columns(qap.b, nv, 0), [prep.lag_g1])
    # beta*A + alpha*B + C, per signal, from the three prepared Lagrange sets.
    mixed_cols = _columns(qap.a, nv, 0)
    _columns(qap.b, nv, 1, mixed_cols)
    _columns(qap.c, nv, 2, mixed_cols)
    mixed = _combine_g1(mixed_cols, [prep.lag_beta_g1, prep.lag_alpha_g1, prep.lag_g1])
    b_g2 = _combine_g2(_columns(qap.b, nv, 0), [prep.lag_g2])
    return ProvingKey(
        n_vars=nv,
        n_public=n_pub,
        domain_size=qap.domain_size,
        alpha1=prep.alpha_g1,
        beta1=prep.beta_g1,
        beta2=prep.beta_g2,
        gamma2=G2_GEN,
        delta1=G1_GEN,
        delta2=G2_GEN,
        ic=mixed[: n_pub + 1],
        a_g1=a_g1,
        b_g1=b_g1,
        b_g2=b_g2,
        c_g1=mixed[n_pub + 1 :],
        h_g1=list(prep.h_g1),
        a_coeffs=list(qap.a),
        b_coeffs=list(qap.b),
    )


@dataclass
class Phase2Contribution:
    key: ProvingKey
    proof: KnowledgeProof
    name: str = ""

    @property
    def state(self) -> DeltaState:
        return key_delta_state(self.key)


def contribute(
    pk: ProvingKey, prev_digest: bytes | None = None, secret: int | None = None, name: str = ""
) -> Phase2Contribution:
    """delta <- delta*d for a fresh d; C and H points scaled by 1/d. ``secret`` is for tests only."""
    pk.require_decoded("a phase-2 contribution")
    d = (secret if secret is not None else random_scalar()) % R
    if d == 0:
        raise ValueError("phase-2 secret must be non-zero")
    digest = prev_digest if prev_digest is not None else key_delta_state(pk).digest()
    new = apply_delta(pk, d)
    proof = knowledge_proof(d, PHASE2_LABEL, digest)
    del d
    return Phase2Contribution(new, proof, name)


def apply_delta(pk: ProvingKey, d: int, mpc: MpcParams | None = None) -> ProvingKey:
    """The key with delta multiplied by d: delta1, delta2 times d, C and H times 1/d (the rest shared
    with ``pk``). ``mpc`` is the new key's contribution record (the old one no longer matches)."""
    pk.require_decoded("a phase-2 contribution")
    d %= R
    if d == 0:
        raise ValueError("phase-2 secret must be non-zero")
    d_inv = inv(d)
    n_c = len(pk.c_g1)
    scaled = g1_mul_each([*pk.c_g1, *pk.h_g1, pk.delta1], [d_inv] * (n_c + len(pk.h_g1)) + [d])
    (delta2,) = g2_batch_to_affine([g2_mul_jac(g2_to_jac(pk.delta2), d)])
    del d, d_inv
    return ProvingKey(
        n_vars=pk.n_vars,
        n_public=pk.n_public,
        domain_size=pk.domain_size,
        alpha1=pk.alpha1,
        beta1=pk.beta1,
        beta2=pk.beta2,
        gamma2=pk.gamma2,
        delta1=scaled[-1],
        delta2=delta2,
        ic=list(pk.ic),
        a_g1=list(pk.a_g1),
        b_g1=list(pk.b_g1),
        b_g2=list(pk.b_g2),
        c_g1=scaled[:n_c],
        h_g1=scaled[n_c:-1],
        a_coeffs=list(pk.a_coeffs),
        b_coeffs=list(pk.b_coeffs),
        mpc=mpc,
    )
