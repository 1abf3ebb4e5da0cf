"""Groth16 prover with snarkjs's conventions (same key layout, same public-signal order).

Deterministic apart from the blinding factors r and s, which come from ``secrets`` unless a test
injects them. The phases are timed so the benchmark can say where the time goes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from gmpy2 import mpz

from zkmargin.circuits.curve import (
    g1_add,
    g1_batch_to_affine,
    g1_mul_jac,
    g1_neg_jac,
    g1_to_jac,
    g2_add,
    g2_mul_jac,
    g2_to_affine,
    g2_to_jac,
)
from zkmargin.circuits.field import R, root_of_unity
from zkmargin.circuits.msm_native import available as native_available
from zkmargin.circuits.msm_native import (
    first_noncanonical,
    msm_g1_auto,
    msm_g2_auto,
    pack_g1,
    pack_g2,
    pack_scalars,
    qap_h_coeffs_native,
    qap_h_native,
    shared_digits,
)
from zkmargin.circuits.ntt import coset_ntt, intt
from zkmargin.verifier.types import Proof

from .keys import ProvingKey
from .zkey import qap_coeffs

_R = mpz(R)


@dataclass
class ProveStats:
    """Wall time per phase (seconds), for profiling and the benchmark's breakdown, and the process's CPU
    time (all threads) over the same phase: cpu / wall is how many cores the phase kept busy."""

    phases: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    _cpu0: float = field(default_factory=time.process_time, repr=False)

    def add(self, name: str, t0: float) -> float:
        now, c = time.perf_counter(), time.process_time()
        self.phases[name] = self.phases.get(name, 0.0) + now - t0
        self.cpu[name] = self.cpu.get(name, 0.0) + c - self._cpu0
        self._cpu0 = c
        return now

    def start(self) -> float:
        """Begin timing the next phase now (returns the wall clock for :meth:`add`)."""
        self._cpu0 = time.process_time()
        return time.perf_counter()

    def cores(self) -> dict[str, float]:
        """Average busy cores per phase (CPU seconds / wall seconds)."""
        return {k: self.cpu.get(k, 0.0) / v for k, v in self.phases.items() if v > 0 and k in self.cpu}


def h_evaluations(pk: ProvingKey, witness: Sequence[int] | bytes) -> list[mpz] | bytes:
    """(A*B - C) on the odd points of the doubled domain: the scalars for the H points.

    C's evaluations are A*B row by row (valid because the witness satisfies every row), exactly as
    snarkjs computes them, so the keys are interchangeable. ``witness`` may be packed (32-byte
    little-endian canonical scalars, :func:`~zkmargin.circuits.msm_native.pack_scalars`).
    """
    n = pk.domain_size
    log_n = n.bit_length() - 1
    raw = pk.packed.get("coeffs")
    if raw is not None and native_available():
        # packed-only key: the kernel reads the coefficient section straight from the mapped file
        return qap_h_coeffs_native(raw, witness, log_n)
    a_coeffs, b_coeffs = qap_coeffs(pk)
    if isinstance(witness, bytes):
        w = [mpz(int.from_bytes(witness[i : i + 32], "little")) for i in range(0, len(witness), 32)]
    else:
        w = [mpz(x) for x in witness]
    a_ev = [mpz(0)] * n
    b_ev = [mpz(0)] * n
    for row, sig, v in a_coeffs:
        a_ev[row] += v * w[sig]
    for row, sig, v in b_coeffs:
        b_ev[row] += v * w[sig]
    a_ev = [x % _R for x in a_ev]
    b_ev = [x % _R for x in b_ev]
    if native_available():
        return qap_h_native(a_ev, b_ev, log_n)
    c_ev = [x * y % _R for x, y in zip(a_ev, b_ev, strict=True)]
    shift = root_of_unity(log_n + 1)
    a_odd = coset_ntt(intt(a_ev, log_n), log_n, shift)
    b_odd = coset_ntt(intt(b_ev, log_n), log_n, shift)
    c_odd = coset_ntt(intt(c_ev, log_n), log_n, shift)
    return [(x * y - z) % _R for x, y, z in zip(a_odd, b_odd, c_odd, strict=True)]


def prove(
    pk: ProvingKey,
    witness: Sequence[int] | bytes,
    r: int | None = None,
    s: int | None = None,
    stats: ProveStats | None = None,
) -> tuple[Proof, list[int]]:
    """Return (proof, public signals). The witness must satisfy the circuit; an unsatisfying one yields
    a proof that fails verification (the caller should check constraints first for a clear error).

    ``witness`` may be packed (32-byte little-endian canonical scalars, e.g.
    :func:`~zkmargin.circuits.formats.wtns_file.read_wtns_packed`): then no Python integer is made per
    value, and with the kernel the checks below run in C."""
    if isinstance(witness, bytes | bytearray | memoryview):
        packed_in = bytes(witness)
        if len(packed_in) % 32:
            raise ValueError("a packed witness is a whole number of 32-byte values")
        n_in = len(packed_in) // 32
        if n_in != pk.n_vars:
            raise ValueError(f"witness has {n_in} values, the key expects {pk.n_vars}")
        if first_noncanonical(packed_in) >= 0:
            raise ValueError("witness values must be canonical field elements in [0, R)")
        if int.from_bytes(packed_in[:32], "little") != 1:
            raise ValueError("witness[0] must be 1")
        if not native_available():
            witness = [int.from_bytes(packed_in[i : i + 32], "little") for i in range(0, len(packed_in), 32)]
        else:
            witness = packed_in
    else:
        if len(witness) != pk.n_vars:
            raise ValueError(f"witness has {len(witness)} values, the key expects {pk.n_vars}")
        if any(not 0 <= x < R for x in witness):
            raise ValueError("witness values must be canonical field elements in [0, R)")
        if witness[0] != 1:
            raise ValueError("witness[0] must be 1")
    st = stats if stats is not None else ProveStats()
    r = secrets.randbelow(R) if r is None else r % R
    s = secrets.randbelow(R) if s is None else s % R

    t = st.start()
    native = native_available()
    if not native and pk.packed and not pk.a_g1:
        raise ValueError("this key was loaded packed-only, which needs the C kernel (zkmargin.circuits._bn254)")
    # packed once for the kernel (QAP step and every MSM), not once per call
    wit: Sequence[int] | bytes = witness if isinstance(witness, bytes) or not native else pack_scalars(witness)
    private = wit[32 * (pk.n_public + 1) :] if isinstance(wit, bytes) else wit[pk.n_public + 1 :]
    if native:
        t = st.add("pack_witness", t)
    h = h_evaluations(pk, wit)
    t = st.add("qap_ntt", t)

    if native and not pk.packed:
        for name in ("a_g1", "b_g1", "c_g1", "h_g1"):
            pk.packed[name] = pack_g1(getattr(pk, name))
        pk.packed["b_g2"] = pack_g2(pk.b_g2)
        t = st.add("pack_key", t)
    # A, B1, B2 and C all take the witness (C its private part): its GLV split and window digits are
    # made once for the four (None without the kernel or with ZKMARGIN_MSM_PLAIN: each MSM splits its own)
    dg = shared_digits(wit) if isinstance(wit, bytes) else None
    t = st.add("digits", t)
    a_acc = g1_to_jac(msm_g1_auto(pk.a_g1, wit, pk.packed.get("a_g1"), dg))
    t = st.add("msm_a", t)
    b1_acc = g1_to_jac(msm_g1_auto(pk.b_g1, wit, pk.packed.get("b_g1"), dg))
    t = st.add("msm_b1", t)
    b2_acc = g2_to_jac(msm_g2_auto(pk.b_g2, wit, pk.packed.get("b_g2"), dg))
    t = st.add("msm_b2", t)
    c_acc = g1_to_jac(msm_g1_auto(pk.c_g1, private, pk.packed.get("c_g1"), dg, pk.n_public + 1))
    del dg  # before H's MSM makes digits of its own
    t = st.add("msm_c", t)
    h_acc = g1_to_jac(msm_g1_auto(pk.h_g1, h, pk.packed.get("h_g1")))
    t = st.add("msm_h", t)

    delta1 = g1_to_jac(pk.delta1)
    # A = alpha + sum w_i A_i + r delta ; B = beta + sum w_i B_i + s delta
    a_pt = g1_add(g1_add(g1_to_jac(pk.alpha1), a_acc), g1_mul_jac(delta1, r))
    b1_pt = g1_add(g1_add(g1_to_jac(pk.beta1), b1_acc), g1_mul_jac(delta1, s))
    b2_pt = g2_add(g2_add(g2_to_jac(pk.beta2), b2_acc), g2_mul_jac(g2_to_jac(pk.delta2), s))
    # C = sum_priv w_i C_i + H + s A + r B1 - r s delta
    c_pt = g1_add(c_acc, h_acc)
    c_pt = g1_add(c_pt, g1_mul_jac(a_pt, s))
    c_pt = g1_add(c_pt, g1_mul_jac(b1_pt, r))
    c_pt = g1_add(c_pt, g1_neg_jac(g1_mul_jac(delta1, r * s % R)))
    a_aff, c_aff = g1_batch_to_affine([a_pt, c_pt])
    proof = Proof(a_aff, g2_to_affine(b2_pt), c_aff)
    st.add("finalize", t)
    if isinstance(witness, bytes):
        public = [int.from_bytes(witness[32 * i : 32 * i + 32], "little") for i in range(1, pk.n_public + 1)]
    else:
        public = [int(x) for x in witness[1 : pk.n_public + 1]]
    return proof, public
