"""Single-party Groth16 setup, for development and tests ONLY.

Whoever runs this sees tau, alpha, beta, gamma and delta (the "toxic waste"); with them anyone can
forge proofs of false statements. We drop them as soon as the key is built, but nothing can prove
that to a third party. Production keys must come from a multi-party ceremony (``phase1`` +
``phase2``, or a public snarkjs .ptau via ``zkmargin.prover.ptau.setup_from_ptau``), where one
honest participant suffices.

Because the secrets are known, every key point is ``scalar * generator``: the scalars come from
field arithmetic (one batch inversion for all Lagrange denominators) and the points from fixed-base
tables, about ten times cheaper than the variable-base work a ceremony must do.

With the C kernel (``circuits/_native/setup.c``) every step runs natively on both cores: the
Lagrange basis at tau, the QAP columns over the sparse R1CS, the mixed scalars and the fixed-base
multiplications (a 2^20-constraint key in about a minute instead of hours; docs/performance.md).
The pure-Python path below is the reference (``ZKMARGIN_PURE_PYTHON=1``); both give identical keys
for the same secrets (tests/test_setup_native.py).
"""

from __future__ import annotations

import logging
import os
import secrets as _secrets
from dataclasses import dataclass
from types import ModuleType

from zkmargin.circuits import msm_native as native
from zkmargin.circuits import setup_native as sn
from zkmargin.circuits.curve import G1Affine
from zkmargin.circuits.field import R, inv
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.types import VerifyingKey

from ..keys import ProvingKey
from ..qap import Qap, evaluate_columns, lagrange_at, qap_from_r1cs
from ..zkey import write_zkey
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


def dev_setup(
    r1cs: R1CS, rng: ModuleType = _secrets, secrets: SetupSecrets | None = None, qap: Qap | None = None
) -> ProvingKey:
    """Build a proving key from locally sampled secrets. DEVELOPMENT ONLY (see module docstring). ``qap``: the
    R1CS's QAP when the caller has it already (``dev_setup_committed`` needs it too: built once, not twice)."""
    log.warning(
        "dev_setup: SINGLE-PARTY trusted setup - whoever ran it could forge proofs. "
        "Use it for development and tests only; production keys need a multi-party ceremony."
    )
    s = secrets if secrets is not None else SetupSecrets.random(rng)
    if qap is None:
        qap = qap_from_r1cs(r1cs)
    if native.available():
        return _dev_setup_native(r1cs, qap, s)
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


@dataclass(frozen=True)
class KeyScalars:
    """Every scalar of a dev key, packed (32-byte little-endian canonical): what the points are made of."""

    u: bytes  # u_k(tau), k < n_vars (the A points)
    v: bytes  # v_k(tau) (B1 and B2)
    mixed: bytes  # (beta u_k + alpha v_k + w_k) / gamma for k <= n_public (IC), / delta after (C)
    h: bytes  # L^{2n}_{2i+1}(tau) / delta, i < n (H)


def key_scalars_native(qap: Qap, n_vars: int, n_public: int, s: SetupSecrets) -> KeyScalars:
    """The C kernel's version of the scalar half of :func:`dev_setup` (same formulas, same errors: a tau
    inside the doubled domain raises ValueError)."""
    lag = sn.lagrange_packed(s.tau, qap.log_domain)
    odd = sn.lagrange_packed(s.tau, qap.log_domain + 1, odd=True)
    u = sn.eval_columns_packed(qap.a, lag, n_vars)
    v = sn.eval_columns_packed(qap.b, lag, n_vars)
    w = sn.eval_columns_packed(qap.c, lag, n_vars)
    d_inv = inv(s.delta)
    mixed = sn.mix_columns_packed(u, v, w, s.alpha, s.beta, n_public, inv(s.gamma), d_inv)
    return KeyScalars(u, v, mixed, sn.scale_packed(odd, d_inv))


def _b(x: int) -> bytes:
    return (x % R).to_bytes(32, "little")


def _native_key(
    qap: Qap, nv: int, n_pub: int, s: SetupSecrets, decode: bool = True, ks: KeyScalars | None = None
) -> ProvingKey:
    """dev_setup on the C kernel: the same key as the Python path, with its packed point lists (the
    kernel's layout, what the prover and the .zkey writer use) filled in as a by-product. With
    ``decode`` False the large lists (A, B1, B2, C, H) are left as placeholders of the right length
    (None): only for :func:`write_dev_zkey`, which writes them from the packed copy. ``ks``: the key's scalars
    when the caller computed them already (``dev_setup_committed`` derives its commitment bases from them)."""
    n = qap.domain_size
    if ks is None:
        ks = key_scalars_native(qap, nv, n_pub, s)
    ic_len = 32 * (n_pub + 1)
    g1_scalars = b"".join(
        [_b(s.alpha), _b(s.beta), _b(s.delta), ks.mixed[:ic_len], ks.u, ks.v, ks.mixed[ic_len:], ks.h]
    )
    g2_scalars = b"".join([_b(s.beta), _b(s.gamma), _b(s.delta), ks.v])
    del s, ks  # drop the toxic waste promptly (the packed scalars reveal it)
    g1 = sn.fixed_g1_packed(g1_scalars)
    del g1_scalars
    g2 = sn.fixed_g2_packed(g2_scalars)
    del g2_scalars
    sections: dict[str, bytes] = {}
    pos = 3 * 64
    for name, count in (("ic", n_pub + 1), ("a_g1", nv), ("b_g1", nv), ("c_g1", nv - n_pub - 1), ("h_g1", n)):
        sections[name] = g1[pos : pos + 64 * count]
        pos += 64 * count
    head1 = sn.unpack_g1_fast(g1[: 3 * 64])
    del g1
    head2 = sn.unpack_g2_fast(g2[: 3 * 128])
    sections["b_g2"] = g2[3 * 128 :]
    del g2

    def g1s(name: str) -> list[G1Affine]:
        return sn.unpack_g1_fast(sections[name]) if decode else [None] * (len(sections[name]) // 64)

    pk = ProvingKey(
        n_vars=nv,
        n_public=n_pub,
        domain_size=n,
        alpha1=head1[0],
        beta1=head1[1],
        beta2=head2[0],
        gamma2=head2[1],
        delta1=head1[2],
        delta2=head2[2],
        ic=sn.unpack_g1_fast(sections["ic"]),
        a_g1=g1s("a_g1"),
        b_g1=g1s("b_g1"),
        b_g2=sn.unpack_g2_fast(sections["b_g2"]) if decode else [None] * nv,
        c_g1=g1s("c_g1"),
        h_g1=g1s("h_g1"),
        a_coeffs=list(qap.a),
        b_coeffs=list(qap.b),
    )
    pk.packed.update({name: sections[name] for name in ("a_g1", "b_g1", "b_g2", "c_g1", "h_g1")})
    return pk


def _dev_setup_native(r1cs: R1CS, qap: Qap, s: SetupSecrets) -> ProvingKey:
    return _native_key(qap, r1cs.n_vars, r1cs.n_public, s)


def dev_setup_native_from(r1cs: R1CS, qap: Qap, s: SetupSecrets, ks: KeyScalars, decode: bool = True) -> ProvingKey:
    """:func:`dev_setup` on the C kernel from the QAP and the key's scalars (``key_scalars_native(qap, ..., s)``)
    that the caller already has: ``dev_setup_committed`` needs both for its commitment bases. DEVELOPMENT ONLY.
    ``decode``: as :func:`_native_key` (False: the large point lists only packed)."""
    log.warning(
        "dev_setup: SINGLE-PARTY trusted setup - whoever ran it could forge proofs. "
        "Use it for development and tests only; production keys need a multi-party ceremony."
    )
    return _native_key(qap, r1cs.n_vars, r1cs.n_public, s, decode=decode, ks=ks)


def write_dev_zkey(
    qap: Qap, n_vars: int, n_public: int, path: str | os.PathLike[str], secrets: SetupSecrets | None = None
) -> VerifyingKey:
    """A dev key written straight to a .zkey from its QAP, its large point lists never decoded into Python
    ints: for circuits too large for :func:`dev_setup`'s ProvingKey (2^22 constraints: ~5 GB of tuples; the
    prover reads the file memory-mapped anyway). DEVELOPMENT ONLY, like dev_setup; needs the C kernel.
    The file is byte-identical to ``write_zkey(dev_setup(r1cs, secrets=secrets))`` (tested)."""
    if not native.available():
        raise RuntimeError("write_dev_zkey needs the C kernel (zkmargin.circuits._bn254)")
    log.warning("write_dev_zkey: SINGLE-PARTY trusted setup, development only (see dev_setup)")
    s = secrets if secrets is not None else SetupSecrets.random()
    pk = _native_key(qap, n_vars, n_public, s, decode=False)
    del s
    write_zkey(pk, path)  # every large section from pk.packed (prover/zkey.py: _point_section)
    return pk.verifying_key()
