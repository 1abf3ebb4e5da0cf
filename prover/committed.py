"""Groth16 with one commitment slot: the commitment key, its development setup, and the prover.

Opt-in: only a circuit that called ``ConstraintSystem.commit`` gets here; plain circuits keep
``prover/groth16.py`` and the snarkjs formats unchanged. Construction and soundness argument:
``docs/lookups.md`` and ``zkmargin.verifier.committed``.

Key layout (relative to a plain key for the same R1CS):

* the committed wires' L-terms [(beta*u_i + alpha*v_i + w_i)/delta]_1 are removed from the private
  C part (set to the point at infinity in ``base.c_g1``) and become the Pedersen bases
  [(beta*u_i + alpha*v_i + w_i)/eta]_1 for a trapdoor eta that no other key element divides by, so
  the committed values enter the pairing check only through D, paired with [eta]_2 (the verifying
  key's extra G2 point); leaving them in C as well would let a prover change committed values after
  seeing the challenge;
* one more base [k/eta]_1 carries the hiding mask, and [k/delta]_1 lets the prover cancel that
  mask in C (e(m k/eta, eta) * e(-m k/delta, delta) = 1), so the mask changes D and nothing
  else: without it two proofs committing to the same small value would show the same D, and a
  value of a few bits could be found by enumerating commitments (gnark CVE-2024-45040).
  k must stay secret: with k known, [1/delta]_1 = [k/delta]_1 / k and Groth16 is forgeable.
"""

from __future__ import annotations

import logging
import secrets as _secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zkmargin.circuits.curve import G1Affine, g1_add, g1_mul_jac, g1_neg_jac, g1_to_affine, g1_to_jac
from zkmargin.circuits.field import R, inv
from zkmargin.circuits.msm_native import available as native_available
from zkmargin.circuits.msm_native import msm_g1_auto, pack_g1, pack_scalars
from zkmargin.circuits.r1cs import R1CS, ConstraintSystem
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey, derive_challenge
from zkmargin.verifier.snarkjs_json import g1_from_json, g1_to_json
from zkmargin.verifier.types import Proof

from .groth16 import ProveStats, prove
from .keys import ProvingKey
from .qap import evaluate_columns, lagrange_at, qap_from_r1cs
from .setup._util import g1_fixed_many, g2_fixed_many
from .setup.dev import KeyScalars, SetupSecrets, dev_setup, dev_setup_native_from, key_scalars_native

log = logging.getLogger(__name__)


@dataclass
class CommitmentKey:
    """Commitment bases [L_i/eta]_1 (committed wires in commitment order, then the mask base
    [k/eta]_1) and [k/delta]_1 that cancels the mask inside C."""

    bases: list[G1Affine]
    mask_delta: G1Affine
    # the bases in the C kernel's layout, packed at the first proof (like ProvingKey.packed; clear it after editing
    # the bases): packing (committed wires + 1) points in Python otherwise costs every proof ~2 us per point
    packed: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def pack(self) -> None:
        """Pack the bases for the C kernel now (the first proof does it otherwise); a no-op without the kernel."""
        if native_available() and not self.packed:
            self.packed["bases"] = pack_g1(self.bases)

    def to_json(self) -> dict[str, Any]:
        return {
            "bases": [g1_to_json(p) for p in self.bases],
            "mask_delta": g1_to_json(self.mask_delta),
        }

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> CommitmentKey:
        return CommitmentKey(
            [g1_from_json(p, f"commitment_key.bases[{i}]") for i, p in enumerate(d["bases"])],
            g1_from_json(d["mask_delta"], "commitment_key.mask_delta"),
        )


@dataclass
class CommittedProvingKey:
    """A plain proving key with the committed wires' C points removed, plus the commitment key."""

    base: ProvingKey
    commitment: CommitmentKey
    vk: CommittedVerifyingKey
    committed_wires: tuple[int, ...] = field(default_factory=tuple)


def dev_setup_committed(
    r1cs: R1CS,
    secrets: SetupSecrets | None = None,
    eta: int | None = None,
    k: int | None = None,
    decode: bool = True,
) -> CommittedProvingKey:
    """Single-party setup for a circuit with a commitment. DEVELOPMENT ONLY: whoever runs it knows
    tau..delta, eta and k and can forge proofs (see ``prover/setup/dev.py``).

    ``decode=False`` (C kernel only; ignored without it): the large point lists stay in the kernel's packed layout
    only (placeholders of the right length in the key's lists), which is all the prover and ``save_committed_key``
    read; decoding them into Python tuples costs seconds and gigabytes at the venue demo's 2^20 domain.

    The multi-party ceremony for committed keys (delta, eta and k contributed, each with a proof of
    knowledge) is ``prover/setup/committed_ceremony.run_committed_ceremony``; its checker is
    ``verifier/committed_ceremony.py`` (docs/lookups.md, "Setup").
    """
    info = r1cs.commitment
    if info is None:
        raise ValueError("this R1CS declares no commitment: use dev_setup")
    s = secrets if secrets is not None else SetupSecrets.random()
    et = (eta if eta is not None else _secrets.randbelow(R - 1) + 1) % R
    kk = (k if k is not None else _secrets.randbelow(R - 1) + 1) % R
    if et == 0 or kk == 0:
        raise ValueError("eta and k must be non-zero")
    qap = qap_from_r1cs(r1cs)  # once: the key and the commitment bases both need it (~10 s at the demo's 2^20)
    e_inv, d_inv = inv(et), inv(s.delta)
    if native_available():
        # the C kernel's scalars, computed once: a private signal's mixed scalar is (beta u + alpha v + w) / delta,
        # so its commitment base scalar (beta u + alpha v + w) / eta is that times delta / eta (committed wires are
        # private: commit() refuses public ones). The same values as evaluating the columns again with 1/eta
        # (tests/test_dev_committed_file.py compares the keys byte for byte with the lean writer's, which does this).
        ks = key_scalars_native(qap, r1cs.n_vars, r1cs.n_public, s)
        de = s.delta * e_inv % R
        first_private = r1cs.n_public + 1
        if any(i < first_private for i in info.private):
            raise ValueError("a committed wire is not a private signal of this circuit")
        ells = [int.from_bytes(ks.mixed[32 * i : 32 * i + 32], "little") * de % R for i in info.private]
        # the committed wires' C points are set to infinity below: a zero scalar makes them so at no cost (the
        # kernel skips zero digits; ~0.6 M of the demo's 1.7 M C points)
        mixed = bytearray(ks.mixed)
        for i in info.private:
            mixed[32 * i : 32 * i + 32] = bytes(32)
        ks = KeyScalars(ks.u, ks.v, bytes(mixed), ks.h)
        del mixed
        pk = dev_setup_native_from(r1cs, qap, s, ks, decode=decode)
        del ks, de
    else:
        pk = dev_setup(r1cs, secrets=s, qap=qap)
        lag = lagrange_at(s.tau, qap.log_domain)
        u = evaluate_columns(qap.a, lag, r1cs.n_vars)
        v = evaluate_columns(qap.b, lag, r1cs.n_vars)
        w = evaluate_columns(qap.c, lag, r1cs.n_vars)
        ells = [(s.beta * u[i] + s.alpha * v[i] + w[i]) * e_inv % R for i in info.private]
        del lag, u, v, w
    ells.append(kk * e_inv % R)
    pts = g1_fixed_many([*ells, kk * d_inv % R])
    n = len(ells)
    (g2_eta,) = g2_fixed_many([et])
    del s, ells, et, kk
    first_private = r1cs.n_public + 1
    packed_c = bytearray(pk.packed["c_g1"]) if "c_g1" in pk.packed else None
    for i in info.private:
        pk.c_g1[i - first_private] = None  # the committed L-terms live in the Pedersen bases only
        if packed_c is not None:
            j = 64 * (i - first_private)
            packed_c[j : j + 64] = bytes(64)  # infinity in the kernel's layout
    if packed_c is not None:
        pk.packed["c_g1"] = bytes(packed_c)
    else:
        pk.packed.clear()
    ck = CommitmentKey(pts[:n], pts[n])
    vk = CommittedVerifyingKey(pk.verifying_key(), g2_eta)
    return CommittedProvingKey(pk, ck, vk, info.private)


def prove_committed(
    key: CommittedProvingKey,
    cs: ConstraintSystem,
    inputs: Mapping[str, Any],
    mask: int | None = None,
    r: int | None = None,
    s: int | None = None,
    stats: ProveStats | None = None,
) -> tuple[CommittedProof, list[int]]:
    """Run the witness program (the challenge computed from D on the way), then prove.

    Returns the proof and the SUPPLIED public signals (the challenge, last public signal, is left out:
    the verifier derives it). ``mask`` is for tests; None draws it from the OS.
    """
    m = (mask if mask is not None else _secrets.randbelow(R)) % R
    ck = key.commitment
    state: dict[str, Any] = {}

    st = stats if stats is not None else ProveStats()

    def commit(values: list[int], public: list[int]) -> int:
        t = time.perf_counter()
        if len(values) + 1 != len(ck.bases):
            raise ValueError(f"{len(values)} committed values, the key has {len(ck.bases) - 1} bases")
        scalars: list[int] | bytes = [*values, m]
        if native_available():
            ck.pack()
            scalars = pack_scalars(scalars)
        d = msm_g1_auto(ck.bases, scalars, ck.packed.get("bases"))
        if d is None:
            raise ValueError("commitment is the point at infinity (mask 0 over zero values): redraw the mask")
        state["d"] = d
        state["commit_s"] = time.perf_counter() - t
        return derive_challenge(d, public)

    t0 = time.perf_counter()
    witness = cs.witness(dict(inputs), commit=commit)
    st.phases["witness"] = st.phases.get("witness", 0.0) + time.perf_counter() - t0 - state.get("commit_s", 0.0)
    st.phases["commitment"] = st.phases.get("commitment", 0.0) + state.get("commit_s", 0.0)
    proof, public = prove(key.base, witness, r=r, s=s, stats=st)
    c = g1_add(g1_to_jac(proof.c), g1_neg_jac(g1_mul_jac(g1_to_jac(ck.mask_delta), m)))
    out = CommittedProof(Proof(proof.a, proof.b, g1_to_affine(c)), state["d"])
    return out, public[:-1]
