"""Single-party Groth16 setup, for development and tests ONLY.

Whoever runs this sees tau, alpha, beta, gamma and delta (the "toxic waste"); with them anyone can
forge proofs of false statements. We drop them as soon as the key is built, but nothing can prove
that to a third party. Production keys must come from a multi-party ceremony (``phase1`` +
``phase2``, or a public snarkjs .ptau via ``zkmargin.prover.ptau.setup_from_ptau``), where one
honest participant suffices.

Because the secrets are known, every key point is ``scalar * generator``: the scalars come from
field arithmetic (one batch inversion for all Lagrange denominators) and the points from fixed-base
tables, about ten times cheaper than the variable-base work a ceremony must do.
"""

from __future__ import annotations

import logging
import secrets as _secrets
from dataclasses import dataclass
from types import ModuleType

from zkmargin.circuits.field import R, inv
from zkmargin.circuits.r1cs import R1CS

from ..keys import ProvingKey
from ..qap import evaluate_columns, lagrange_at, qap_from_r1cs
from ._util import g1_fixed_many, g2_fixed_many

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetupSecrets:
    """The toxic waste; injectable so tests can compare a dev key with a ceremony's key."""

    tau: int
    alpha: int
    beta: int
    gamma: int
    delta: int

    @staticmethod
    def random(rng: ModuleType = _secrets) -> SetupSecrets:
        def draw() -> int:
            return int(rng.randbelow(R - 1)) + 1

        return SetupSecrets(draw(), draw(), draw(), draw(), draw())


def dev_setup(r1cs: R1CS, rng: ModuleType = _secrets, secrets: SetupSecrets | None = None) -> ProvingKey:
    """Build a proving key from locally sampled secrets. DEVELOPMENT ONLY (see module docstring)."""
    log.warning(
        "dev_setup: SINGLE-PARTY trusted setup - whoever ran it could forge proofs. "
        "Use it for development and tests only; production keys need a multi-party ceremony."
    )
    s = secrets if secrets is not None else SetupSecrets.random(rng)
    qap = qap_from_r1cs(r1cs)
    n = qap.domain_size
    n_pub = r1cs.n_public
    nv = r1cs.n_vars
    lag = lagrange_at(s.tau, qap.log_domain)
    u = evaluate_columns(qap.a, lag, nv)
    v = evaluate_columns(qap.b, lag, nv)
    w = evaluate_columns(qap.c, lag, nv)
    lag2 = lagrange_at(s.tau, qap.log_domain + 1)
    g_inv, d_inv = inv(s.gamma), inv(s.delta)
    mixed = [(s.beta * u[k] + s.alpha * v[k] + w[k]) % R for k in range(nv)]
    ic = [m * g_inv % R for m in mixed[: n_pub + 1]]
    c = [m * d_inv % R for m in mixed[n_pub + 1 :]]
    h = [lag2[2 * i + 1] * d_inv % R for i in range(n)]
    g1_scalars = [s.alpha, s.beta, s.delta, *ic, *u, *v, *c, *h]
    g1 = g1_fixed_many(g1_scalars)
    g2 = g2_fixed_many([s.beta, s.gamma, s.delta, *v])
    pos = 3
    out: dict[str, list] = {}
    for name, count in (("ic", n_pub + 1), ("a", nv), ("b", nv), ("c", nv - n_pub - 1), ("h", n)):
        out[name] = g1[pos : pos + count]
        pos += count
    del s, lag, lag2, u, v, w, mixed, ic, c, h, g1_scalars  # drop the toxic waste promptly
    return ProvingKey(
        n_vars=nv,
        n_public=n_pub,
        domain_size=n,
        alpha1=g1[0],
        beta1=g1[1],
        beta2=g2[0],
        gamma2=g2[1],
        delta1=g1[2],
        delta2=g2[2],
        ic=out["ic"],
        a_g1=out["a"],
        b_g1=out["b"],
        b_g2=g2[3:],
        c_g1=out["c"],
        h_g1=out["h"],
        a_coeffs=list(qap.a),
        b_coeffs=list(qap.b),
    )
