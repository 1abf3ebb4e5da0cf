"""Auditor-side check of a multi-party phase 2 for a committed (commitment-slot) Groth16 key, without the prover.

A committed key (``docs/lookups.md``, ``zkmargin.verifier.committed``) has three trapdoors in phase 2: delta (as every
Groth16 key), eta (the commitment slot: the Pedersen bases ``[L_i/eta]_1`` of the committed wires, the mask base
``[k/eta]_1`` and the verifying key's ``[eta]_2``) and k (the mask: the mask base and ``[k/delta]_1``). Whoever knows
eta can divide it out of the bases (eta = 1 makes them ``[L_i]_1``, public from phase 1), put IC points into D and
forge public inputs (tests/test_committed.py::test_eta_equal_to_gamma_lets_d_forge_public_inputs); whoever knows k
gets ``[1/delta]_1 = [k/delta]_1 / k`` and forges Groth16 itself. So each is the product of every contributor's
secret, like delta, and one honest contributor keeps all three unknown.

The ceremony (``zkmargin.prover.setup.committed_ceremony`` writes it):

* **initial key**: snarkjs's initial key (``zkey_init.derive_initial_key``: delta = gamma = 1) with the committed
  wires' C points set to infinity; eta = k = 1, i.e. the wires' bases are the removed C points ``[L_i]_1`` (fixed by
  phase 1 and the circuit), the mask base ``[k/eta]_1 = G1``, ``[k/delta]_1 = G1``, ``[eta]_2 = G2``. Its hash
  (:func:`committed_circuit_hash`) is snarkjs's circuit hash of that key (committed C at infinity) hashed again with
  a domain tag and the committed wire list, so a plain key's records cannot be replayed here, nor these on a plain
  key;
* **contribution j** with secrets (x, s, t): delta *= x (delta1, delta2, and C, H divided by x, as snarkjs),
  eta *= s (the wires' bases divided by s, ``[eta]_2`` times s), k *= t; so the mask base moves by t/s and
  ``[k/delta]_1`` by t/x. The record holds:

  - the **delta record**, exactly snarkjs's section-10 record (``zkey_mpc.Contribution``), chained by snarkjs's
    transcript from the committed circuit hash: the final ``circuit.zkey`` carries these records, so
    ``zkey_ceremony.check_contribution_chain`` and the contributor signatures (``contributor_identity``) work on it
    unchanged;
  - one snarkjs-style key per extra secret, ``(g1_s, g1_sx = s*g1_s, g2_spx = s*hash_to_g2(T || tag))`` for eta and
    k, with ``T`` = :func:`extra_transcript` (the committed circuit hash, every earlier full record, and this
    contribution's two G1 pairs): a proof of knowledge bound to everything before it, so a record cannot be
    replayed at another place of the chain;
  - ``k_step`` = t * the previous mask base = ``[k_new/eta_prev]_1``: k's move checked on its own, before eta's
    (the mask base moves by t/s, and one pairing cannot separate the two secrets). It shows ``[k_new]_1`` to a
    coalition of every earlier contributor (they know eta_prev): harmless, since forging needs k itself
    (``[1/delta]_1 = [k/delta]_1 / k``), and BSB22's mask base was ``[k]_1`` in the clear;
  - the **state** after it: delta1, delta2, the mask base ``[k/eta]_1``, ``[k/delta]_1``, ``[eta]_2``: exactly the
    key's points other than the wires' bases. Those are ``[L_i/eta]_1`` with ``L_i`` fixed by phase 1: a function
    of the final eta, checked once on the final key (``commitment.bases_follow_eta``: the chain of per-contribution
    relations e(bases_j, eta_j) = e(bases_{j-1}, eta_{j-1}) telescopes to it), so the transcript does not grow with
    the number of committed wires.

  The delta record's ``g1_s`` (random in snarkjs) is ``hash_to_g1`` of :func:`binding_hash` (T, both extra keys,
  ``k_step``, the state), so snarkjs's contribution hash of the delta record, which a contributor signs, covers the
  eta and k keys and the whole state: nobody can keep a governance-signed delta record and swap in their own eta or
  k. A beacon's three secrets and G1 points all come from the beacon's ChaCha stream (x and ``g1_s`` first, as
  ``snarkjs zkey beacon`` draws them, then s, eta's ``g1_s``, t, k's ``g1_s``) and are recomputed here.

* **the final key**: its eta must not be a value anyone can name (``key.eta_is_own_trapdoor``: not +-1, +-gamma,
  +-delta, +-beta, ``verifier.committed.check_committed_key``): a ceremony whose contributors all skipped eta (each
  proving knowledge of s = 1) passes every per-contribution check and ends with the public bases ``[L_i]_1``.

**snarkjs cannot contribute to a committed key**: ``snarkjs zkey contribute`` updates delta, C and H but not
``[k/delta]_1``, eta or k, and its ``g1_s`` is not the binding point; such a record fails ``contribution[j].binding``
(and the key's ``mask_delta`` no longer matches). ``snarkjs zkey verify`` rejects the final key too (its C section
lacks the committed points). Use ``zkmargin setup contribute --zkey SETUP_DIR``.

Every check is named (``contribution[2].mask_delta_follows``, ``key.committed_c_removed``, ...). Never imports
``prover/``.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from zkmargin.circuits.curve import (
    G1_GEN,
    G2_GEN,
    G1Affine,
    G2Affine,
    g2_in_subgroup,
    g2_mul,
)
from zkmargin.circuits.field import R
from zkmargin.circuits.formats import read_r1cs
from zkmargin.circuits.formats.binfile import BinFileError
from zkmargin.circuits.formats.points import encode_g1_lem
from zkmargin.circuits.r1cs import R1CS

from .committed import CommittedVerifyingKey, committed_vk_from_json
from .committed import check_committed_key as check_committed_vk
from .groth16 import MalformedInput, check_g1
from .report import Report
from .safe_io import load_json
from .snarkjs_json import g1_from_json, g1_to_json, g2_from_json, g2_to_json
from .snarkjs_rng import ChaCha, fr_from_rng, g1_from_rng, hash_to_g2, rng_from_beacon
from .types import VerifyingKey
from .zkey_ceremony import (
    MAX_RECOMPUTED_BEACON_EXP,
    ZkeyForAudit,
    check_contribution_chain,
    check_fixed_sections,
    h_matches_powers,
    read_zkey_for_audit,
    same_ratio,
    scaled_by_delta,
)
from .zkey_init import (
    InitialKey,
    PtauForDomain,
    check_lagrange_against_powers,
    circuit_hash,
    circuit_log_domain,
    derive_initial_key,
    read_ptau_for_domain,
)
from .zkey_mpc import TYPE_BEACON, TYPE_CONTRIBUTION, Contribution, MpcParams, u_g1, u_g2

FORMAT_NAME = "zkmargin-committed-ceremony"
FORMAT_VERSION = 2
TRANSCRIPT_FILE = "committed_ceremony.json"
ZKEY_FILE, COMMITMENT_KEY_FILE, VK_FILE, TRANSCRIPT_DIR = (
    "circuit.zkey",
    "commitment_key.json",
    "verification_key.json",
    "transcript",
)
_DOMAIN = b"zkmargin committed-slot phase2 v2"


# ====================================================================== records


@dataclass(frozen=True)
class SecretKey:
    """The public key of one extra secret s, in snarkjs's style: ``g1_sx = s*g1_s``, ``g2_spx = s*g2_sp``."""

    g1_s: G1Affine
    g1_sx: G1Affine
    g2_spx: G2Affine

    def to_bytes(self) -> bytes:
        return u_g1(self.g1_s) + u_g1(self.g1_sx) + u_g2(self.g2_spx)

    def to_json(self) -> dict[str, Any]:
        return {"g1_s": g1_to_json(self.g1_s), "g1_sx": g1_to_json(self.g1_sx), "g2_spx": g2_to_json(self.g2_spx)}

    @staticmethod
    def from_json(d: Any, where: str) -> SecretKey:
        return SecretKey(
            _g1(d["g1_s"], f"{where}.g1_s"), _g1(d["g1_sx"], f"{where}.g1_sx"), g2_from_json(d["g2_spx"], where)
        )


@dataclass(frozen=True)
class CommittedState:
    """What a contribution changes besides C, H and the wires' bases: delta, the mask base [k/eta]_1, [k/delta]_1 and
    [eta]_2. (The wires' bases [L_i/eta]_1 are fixed points divided by eta: a function of the final eta, checked once
    on the final key, so the transcript stays small for circuits with many committed wires.)"""

    delta1: G1Affine
    delta2: G2Affine
    mask_base: G1Affine
    mask_delta: G1Affine
    g2_eta: G2Affine

    def to_bytes(self) -> bytes:
        return u_g1(self.delta1) + u_g2(self.delta2) + u_g1(self.mask_base) + u_g1(self.mask_delta) + u_g2(self.g2_eta)

    def to_json(self) -> dict[str, Any]:
        return {
            "delta1": g1_to_json(self.delta1),
            "delta2": g2_to_json(self.delta2),
            "mask_base": g1_to_json(self.mask_base),
            "mask_delta": g1_to_json(self.mask_delta),
            "g2_eta": g2_to_json(self.g2_eta),
        }

    @staticmethod
    def from_json(d: Any, where: str) -> CommittedState:
        return CommittedState(
            _g1(d["delta1"], f"{where}.delta1"),
            g2_from_json(d["delta2"], f"{where}.delta2"),
            _g1(d["mask_base"], f"{where}.mask_base"),
            _g1(d["mask_delta"], f"{where}.mask_delta"),
            g2_from_json(d["g2_eta"], f"{where}.g2_eta"),
        )


@dataclass(frozen=True)
class CommittedContribution:
    """One contribution: snarkjs's delta record, the eta and k keys, k's step ([k_new/eta_prev]_1), the state."""

    delta: Contribution
    eta: SecretKey
    k: SecretKey
    k_step: G1Affine
    state: CommittedState

    @property
    def name(self) -> str | None:
        return self.delta.name

    def pubkey_bytes(self) -> bytes:
        return (
            self.delta.pubkey_bytes() + self.eta.to_bytes() + self.k.to_bytes() + u_g1(self.k_step)
            + self.state.to_bytes()
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        d = self.delta
        return {
            "name": d.name,
            "delta": {
                "delta_after": g1_to_json(d.delta_after),
                "g1_s": g1_to_json(d.g1_s),
                "g1_sx": g1_to_json(d.g1_sx),
                "g2_spx": g2_to_json(d.g2_spx),
                "transcript": d.transcript.hex(),
                "type": d.type,
                "params": d.params.hex(),
            },
            "eta": self.eta.to_json(),
            "k": self.k.to_json(),
            "k_step": g1_to_json(self.k_step),
            "state": self.state.to_json(),
        }

    @staticmethod
    def from_json(d: Any, where: str) -> CommittedContribution:
        r = d["delta"]
        delta = Contribution(
            _g1(r["delta_after"], f"{where}.delta.delta_after"),
            _g1(r["g1_s"], f"{where}.delta.g1_s"),
            _g1(r["g1_sx"], f"{where}.delta.g1_sx"),
            g2_from_json(r["g2_spx"], f"{where}.delta.g2_spx"),
            bytes.fromhex(r["transcript"]),
            int(r["type"]),
            bytes.fromhex(r["params"]),
        )
        return CommittedContribution(
            delta,
            SecretKey.from_json(d["eta"], f"{where}.eta"),
            SecretKey.from_json(d["k"], f"{where}.k"),
            _g1(d["k_step"], f"{where}.k_step"),
            CommittedState.from_json(d["state"], f"{where}.state"),
        )


def _g1(v: Any, name: str) -> G1Affine:
    p = g1_from_json(v, name)
    if p is not None:
        check_g1(p, name)
    return p


# ====================================================================== hashes


def committed_circuit_hash(
    alpha1: G1Affine,
    beta1: G1Affine,
    beta2: G2Affine,
    ic: Sequence[G1Affine],
    c_removed: Sequence[G1Affine],
    a: Sequence[G1Affine],
    b1: Sequence[G1Affine],
    b2: Sequence[G2Affine],
    tau_g1: Sequence[G1Affine],
    domain_size: int,
    committed_wires: Sequence[int],
) -> bytes:
    """The root every committed contribution chains from (``cs_hash`` of the key's section 10): snarkjs's circuit
    hash of the initial key whose committed C points are at infinity, hashed with a domain tag and the wires."""
    base = circuit_hash(alpha1, beta1, beta2, ic, c_removed, a, b1, b2, tau_g1, domain_size)
    wires = struct.pack(f">I{len(committed_wires)}I", len(committed_wires), *committed_wires)
    return hashlib.blake2b(_DOMAIN + b" circuit" + base + wires, digest_size=64).digest()


def extra_transcript(
    cs_hash: bytes, previous: Sequence[CommittedContribution], eta_pair: tuple[G1Affine, G1Affine],
    k_pair: tuple[G1Affine, G1Affine],
) -> bytes:  # fmt: skip
    """T for the eta and k keys of the contribution after ``previous``: chains the circuit and every earlier
    full record (delta record, extra keys, k step, state), like snarkjs's transcript does for delta."""
    h = hashlib.blake2b(digest_size=64)
    h.update(_DOMAIN + b" transcript")
    h.update(cs_hash)
    for c in previous:
        h.update(c.pubkey_bytes())
    h.update(u_g1(eta_pair[0]) + u_g1(eta_pair[1]) + u_g1(k_pair[0]) + u_g1(k_pair[1]))
    return h.digest()


def eta_challenge(t: bytes) -> G2Affine:
    """The G2 point eta's key is checked on: nobody chooses it."""
    return hash_to_g2(hashlib.blake2b(t + b"eta", digest_size=64).digest())


def k_challenge(t: bytes) -> G2Affine:
    return hash_to_g2(hashlib.blake2b(t + b"k", digest_size=64).digest())


def binding_hash(t: bytes, eta: SecretKey, k: SecretKey, k_step: G1Affine, state: CommittedState) -> bytes:
    """What the delta record's g1_s is derived from: the rest of the contribution, so signing the delta record signs
    all of it."""
    return hashlib.blake2b(
        _DOMAIN + b" binding" + t + eta.to_bytes() + k.to_bytes() + u_g1(k_step) + state.to_bytes(), digest_size=64
    ).digest()


def hash_to_g1(h: bytes) -> G1Affine:
    """A G1 point nobody knows the discrete log of, from a hash (snarkjs's ``G1.fromRng`` on its ChaCha)."""
    return g1_from_rng(ChaCha.from_hash(h))


@dataclass(frozen=True)
class BeaconDraw:
    """Everything a beacon contribution draws from its beacon's ChaCha stream, in order."""

    x: int
    g1_s: G1Affine
    s: int
    eta_g1_s: G1Affine
    t: int
    k_g1_s: G1Affine


def draw_secrets(rng: ChaCha) -> BeaconDraw:
    """x and delta's g1_s exactly as ``snarkjs zkey beacon`` draws them, then eta's and k's."""
    x = fr_from_rng(rng)
    g1_s = g1_from_rng(rng)
    s = fr_from_rng(rng)
    eg = g1_from_rng(rng)
    t = fr_from_rng(rng)
    kg = g1_from_rng(rng)
    return BeaconDraw(x, g1_s, s, eg, t, kg)


@lru_cache(maxsize=8)
def expected_beacon(beacon_hash: bytes, iterations_exp: int) -> BeaconDraw:
    """Cached: 2^exp SHA-256 iterations (about a minute at 2^26)."""
    return draw_secrets(rng_from_beacon(beacon_hash, iterations_exp))


# ====================================================================== the initial key


def remove_committed(c: Sequence[G1Affine], n_public: int, committed: Sequence[int]) -> list[G1Affine]:
    """The C list with the committed wires' points at infinity."""
    out = list(c)
    for w in committed:
        out[w - n_public - 1] = None
    return out


def wire_bases(init_c: Sequence[G1Affine], n_public: int, committed: Sequence[int]) -> list[G1Affine]:
    """The committed wires' Pedersen bases before any contribution, [L_i/eta]_1 with eta = 1: the initial key's C
    points (snarkjs's initial delta is 1 too)."""
    return [init_c[w - n_public - 1] for w in committed]


def initial_state() -> CommittedState:
    """eta = k = delta = 1."""
    return CommittedState(G1_GEN, G2_GEN, G1_GEN, G1_GEN, G2_GEN)


def check_committed_wires(n_vars: int, n_public: int, committed: Sequence[int]) -> str | None:
    """Why a committed wire list is unusable (None if fine): private, distinct, at least one."""
    if not committed:
        return "no committed wire"
    if len(set(committed)) != len(committed):
        return "a wire is listed twice"
    bad = [w for w in committed if not n_public < w < n_vars]
    return f"not private wires: {bad[:5]}" if bad else None


# ====================================================================== checks


def bases_follow_eta(
    new: Sequence[G1Affine], old: Sequence[G1Affine], g2_eta: G2Affine, g2_eta_old: G2Affine = G2_GEN
) -> bool:
    """new_i = old_i * eta_old / eta for every i, by one random linear combination (128-bit weights):
    e(sum r_i new_i, [eta]_2) = e(sum r_i old_i, [eta_old]_2). With the defaults, old = the initial bases [L_i]_1:
    the final key's wire bases are [L_i/eta]_1 for the eta of ``g2_eta``."""
    return bool(new) and scaled_by_delta(list(old), list(new), g2_eta, g2_eta_old)


def named_eta(vk: CommittedVerifyingKey) -> str | None:
    """Why ``vk``'s eta is not its own trapdoor (+-1, +-gamma, +-delta, +-beta: ``verifier.committed``), or None."""
    try:
        check_committed_vk(vk)
    except MalformedInput as e:
        return str(e)
    return None


def check_contribution_states(
    cs_hash: bytes,
    records: Sequence[CommittedContribution],
    rep: Report,
    max_beacon_exp: int = MAX_RECOMPUTED_BEACON_EXP,
) -> CommittedState:
    """Every contribution, by name: snarkjs's delta checks on the delta records (transcript chain, proof of
    knowledge, delta_follows, beacon), then the binding of the delta record to the rest, the eta and k proofs of
    knowledge, and that eta, k and delta moved by exactly the proven secrets:

    * ``eta_follows``: e(g1_s, [eta]_new) = e(s g1_s, [eta]_prev), s from eta's key;
    * ``k_follows``: e(mask_prev, t H_k) = e(k_step, H_k), t from k's key: k_step = t mask_prev = [k_new/eta_prev]_1;
    * ``mask_base_follows_eta``: e(mask_new, [eta]_new) = e(k_step, [eta]_prev): mask_new = [k_new/eta_new]_1;
    * ``mask_delta_follows``: e([k/delta]_1, [delta]_2) = e(mask_new, [eta]_new) (both [k_new]_T).

    Returns the last state."""
    check_contribution_chain(MpcParams(cs_hash, [c.delta for c in records]), rep, max_beacon_exp)
    prev = initial_state()
    for i, c in enumerate(records):
        pre = f"contribution[{i + 1}]"
        st = c.state
        t = extra_transcript(cs_hash, records[:i], (c.eta.g1_s, c.eta.g1_sx), (c.k.g1_s, c.k.g1_sx))
        if c.delta.type == TYPE_BEACON:
            bh, exp = c.delta.beacon_hash, c.delta.iterations_exp
            if bh and exp is not None and exp <= max_beacon_exp:
                e = expected_beacon(bh, exp)
                ok = (c.eta.g1_s, c.k.g1_s) == (e.eta_g1_s, e.k_g1_s)
                ok = ok and same_ratio(c.eta.g1_s, c.eta.g1_sx, G2_GEN, _g2_mul_gen(e.s))
                ok = ok and same_ratio(c.k.g1_s, c.k.g1_sx, G2_GEN, _g2_mul_gen(e.t))
                rep.add(f"{pre}.beacon_eta_k", ok, "" if ok else "eta/k keys are not the beacon's")
            else:
                rep.add(f"{pre}.beacon_eta_k", False, "beacon parameters missing or not recomputed")
        else:
            ok = c.delta.type == TYPE_CONTRIBUTION and c.delta.g1_s == hash_to_g1(
                binding_hash(t, c.eta, c.k, c.k_step, st)
            )
            rep.add(f"{pre}.binding", ok, "" if ok else "delta record's g1_s does not hash the eta/k keys and "
                    "state (not a committed-key contribution, e.g. snarkjs's, or the parts were swapped)")  # fmt: skip
        g2e, g2k = eta_challenge(t), k_challenge(t)
        subgroup = all(p is not None and g2_in_subgroup(p) for p in (c.eta.g2_spx, c.k.g2_spx, st.delta2, st.g2_eta))
        rep.add(f"{pre}.g2_subgroup", subgroup)
        rep.add(f"{pre}.eta_proof_of_knowledge", same_ratio(c.eta.g1_s, c.eta.g1_sx, g2e, c.eta.g2_spx))
        rep.add(f"{pre}.k_proof_of_knowledge", same_ratio(c.k.g1_s, c.k.g1_sx, g2k, c.k.g2_spx))
        rep.add(f"{pre}.delta1_is_record", st.delta1 == c.delta.delta_after)
        rep.add(f"{pre}.delta2_follows", same_ratio(G1_GEN, st.delta1, G2_GEN, st.delta2))
        rep.add(f"{pre}.eta_follows", same_ratio(c.eta.g1_s, c.eta.g1_sx, prev.g2_eta, st.g2_eta))
        rep.add(f"{pre}.k_follows", same_ratio(prev.mask_base, c.k_step, g2k, c.k.g2_spx))
        rep.add(f"{pre}.mask_base_follows_eta", same_ratio(st.mask_base, c.k_step, prev.g2_eta, st.g2_eta))
        rep.add(f"{pre}.mask_delta_follows", same_ratio(st.mask_delta, st.mask_base, st.g2_eta, st.delta2))
        prev = st
    return prev


def _g2_mul_gen(k: int) -> G2Affine:
    return g2_mul(G2_GEN, k % R)


# ====================================================================== transcript file


def transcript_to_json(
    cs_hash: bytes, circuit: Mapping[str, Any], phase1: Mapping[str, Any], records: Sequence[CommittedContribution]
) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "circuit": dict(circuit),
        "phase1": dict(phase1),
        "cs_hash": cs_hash.hex(),
        "contributions": [{"index": i + 1, **c.to_json()} for i, c in enumerate(records)],
    }


@dataclass
class CommittedTranscript:
    meta: dict[str, Any]
    cs_hash: bytes
    records: list[CommittedContribution]

    @property
    def committed_wires(self) -> list[int]:
        return [int(w) for w in self.meta["circuit"]["committed_wires"]]


def parse_transcript(d: Any) -> CommittedTranscript:
    """Raises MalformedInput / KeyError / ValueError / TypeError on a malformed document."""
    if not isinstance(d, dict) or d.get("format") != FORMAT_NAME or d.get("version") != FORMAT_VERSION:
        raise MalformedInput("transcript.format", f"expected {FORMAT_NAME} version {FORMAT_VERSION}")
    recs = [CommittedContribution.from_json(c, f"contributions[{i}]") for i, c in enumerate(d["contributions"])]
    return CommittedTranscript(d, bytes.fromhex(d["cs_hash"]), recs)


def read_transcript(path: str | os.PathLike[str]) -> CommittedTranscript:
    p = Path(path)
    if p.is_dir():
        p = p / TRANSCRIPT_FILE
    return parse_transcript(load_json(p, f"committed transcript {p.name}"))


@dataclass(frozen=True)
class CommitmentKeyPoints:
    """``commitment_key.json`` as the auditor reads it (the prover's ``CommitmentKey``, without importing it)."""

    bases: tuple[G1Affine, ...]
    mask_delta: G1Affine

    @staticmethod
    def from_json(d: Any) -> CommitmentKeyPoints:
        if not isinstance(d, dict) or not isinstance(d.get("bases"), list) or "mask_delta" not in d:
            raise MalformedInput("commitment_key", "expected an object with bases (a list) and mask_delta")
        extra = sorted(set(d) - {"bases", "mask_delta"})
        if extra:
            raise MalformedInput(f"commitment_key.{extra[0]}", "unknown field (a key of the retired PoK format?)")
        return CommitmentKeyPoints(
            tuple(_g1(p, f"commitment_key.bases[{i}]") for i, p in enumerate(d["bases"])),
            _g1(d["mask_delta"], "commitment_key.mask_delta"),
        )


# ====================================================================== the whole check


def check_committed_key(
    rep: Report,
    tr: CommittedTranscript,
    key: ZkeyForAudit,
    ck: CommitmentKeyPoints,
    circuit: R1CS,
    pt: PtauForDomain,
    committed: Sequence[int],
    vk: CommittedVerifyingKey | None = None,
    max_beacon_exp: int = MAX_RECOMPUTED_BEACON_EXP,
) -> None:
    """Every check of a committed ceremony against phase 1 and the circuit (see the module docstring)."""
    log_d = circuit_log_domain(circuit)
    npub = circuit.n_public
    shape = (key.n_vars, key.n_public, key.domain_size) == (circuit.n_vars, npub, 1 << log_d)
    if not rep.add("circuit.shape", shape, f"key nVars={key.n_vars} nPublic={key.n_public} domain={key.domain_size}"):
        return
    why = check_committed_wires(circuit.n_vars, npub, committed)
    if not rep.add("circuit.committed_wires", why is None, why or f"{len(committed)} committed wires"):
        return
    for name, ok in check_lagrange_against_powers(pt):
        rep.add(name, ok)
    init: InitialKey = derive_initial_key(circuit, pt)
    c0 = remove_committed(init.c, npub, committed)
    bases = wire_bases(init.c, npub, committed)
    cs = committed_circuit_hash(init.alpha1, init.beta1, init.beta2, init.ic, c0, init.a, init.b1, init.b2,
                                pt.tau_g1, init.domain_size, committed)  # fmt: skip
    rep.add("transcript.circuit_hash", tr.cs_hash == cs, "" if tr.cs_hash == cs else "not this circuit's, phase 1's "
            "and committed wires' initial key")  # fmt: skip
    rep.add("key.circuit_hash", key.mpc.cs_hash == cs)
    last = check_contribution_states(cs, tr.records, rep, max_beacon_exp)
    n_contrib = sum(c.delta.type == TYPE_CONTRIBUTION for c in tr.records)
    rep.add("mpc.has_contributions", n_contrib > 0, f"{n_contrib} contribution(s)" if n_contrib else
            "no contribution: delta = eta = k = 1 (or a beacon's), anyone can forge")  # fmt: skip
    same_records = [c.pubkey_bytes() + c.params for c in key.mpc.contributions] == [
        r.delta.pubkey_bytes() + r.delta.params for r in tr.records
    ]
    rep.add("key.records_are_transcript", same_records, "the zkey's section 10 vs the transcript's delta records")
    # the final key is the transcript's last state
    check_fixed_sections(rep, key, init)
    rep.add("key.delta_is_last_state", (key.delta1, key.delta2) == (last.delta1, last.delta2))
    removed = all(key.c[w - npub - 1] is None for w in committed)
    rep.add("key.committed_c_removed", removed, "" if removed else "a committed wire keeps its C point: the prover "
            "could change its value after seeing the challenge")  # fmt: skip
    rep.add("key.c_scaled_by_delta", scaled_by_delta(c0, key.c, key.delta2))
    rep.add("key.h_scaled_by_delta", h_matches_powers(key.h, pt.tau_g1, key.delta2, log_d))
    n_ok = len(ck.bases) == len(bases) + 1
    rep.add("commitment.n_bases", n_ok, f"{len(ck.bases)} bases for {len(bases)} committed wires and the mask")
    rep.add("commitment.mask_base", n_ok and ck.bases[-1] == last.mask_base, "the last state's [k/eta]_1")
    follow = n_ok and bases_follow_eta(ck.bases[:-1], bases, last.g2_eta)
    rep.add("commitment.bases_follow_eta", follow, "" if follow else "the wires' bases are not [L_i/eta]_1 for the "
            "transcript's final eta (L_i from phase 1 and the circuit)")  # fmt: skip
    rep.add("commitment.mask_delta", ck.mask_delta == last.mask_delta)
    why_eta = named_eta(CommittedVerifyingKey(VerifyingKey(key.alpha1, key.beta2, key.gamma2, key.delta2,
                                                           tuple(init.ic)), last.g2_eta))  # fmt: skip
    rep.add("key.eta_is_own_trapdoor", why_eta is None, why_eta or "")
    if vk is not None:
        b = vk.base
        same = (b.alpha1, b.beta2, b.gamma2, b.delta2) == (key.alpha1, key.beta2, key.gamma2, key.delta2)
        rep.add("vk.matches_key", same and encode_g1_lem(list(b.ic)) == key.sections[3])
        rep.add("vk.g2_eta", vk.g2_eta == last.g2_eta, "the verifying key's [eta]_2 vs the transcript's final one")


def verify_committed_ceremony(
    transcript: str | os.PathLike[str] | CommittedTranscript,
    zkey: str | os.PathLike[str],
    commitment_key: str | os.PathLike[str] | Mapping[str, Any],
    r1cs: R1CS | str | os.PathLike[str],
    ptau: str | os.PathLike[str],
    vk: CommittedVerifyingKey | str | os.PathLike[str] | None = None,
    committed_wires: Sequence[int] | None = None,
    max_beacon_exp: int = MAX_RECOMPUTED_BEACON_EXP,
) -> Report:
    """Re-check a committed key's ceremony from phase 1 (a prepared .ptau) and the circuit; ``report.exit_code``
    0 passed, 1 a named check failed, 2 an input could not be read.

    The committed wires come from ``committed_wires``, else the circuit (``r1cs.commitment``). A circom ``.r1cs``
    file cannot record them: then the transcript's list is used and ``circuit.committed_wires_source`` says so
    (a warning: which wires a circuit commits is part of the circuit, check it against its source)."""
    rep = Report("committed-key ceremony")
    try:
        circuit = r1cs if isinstance(r1cs, R1CS) else read_r1cs(r1cs)
    except (BinFileError, OSError) as e:
        rep.malformed = f"--r1cs: {e}"
        return rep
    try:
        tr = transcript if isinstance(transcript, CommittedTranscript) else read_transcript(transcript)
    except (MalformedInput, OSError, KeyError, ValueError, TypeError, IndexError) as e:
        rep.malformed = f"transcript: {type(e).__name__}: {e}"
        return rep
    try:
        key = read_zkey_for_audit(zkey)
        ck_raw = (
            commitment_key if isinstance(commitment_key, Mapping) else load_json(Path(commitment_key), "commitment key")
        )
        ck = CommitmentKeyPoints.from_json(ck_raw)
        if vk is not None and not isinstance(vk, CommittedVerifyingKey):
            vk = committed_vk_from_json(load_json(Path(vk), "verification key"))
    except (BinFileError, MalformedInput, OSError, KeyError, ValueError, TypeError) as e:
        rep.malformed = f"key: {type(e).__name__}: {e}"
        return rep
    try:
        pt = read_ptau_for_domain(ptau, circuit_log_domain(circuit))
    except (BinFileError, OSError) as e:
        rep.malformed = f"--ptau: {e}"
        return rep
    if committed_wires is not None:
        committed = [int(w) for w in committed_wires]
    elif circuit.commitment is not None:
        committed = list(circuit.commitment.private)
    else:
        committed = tr.committed_wires
        rep.warn("circuit.committed_wires_source", "taken from the transcript: the .r1cs format does not record "
                 "which wires a circuit commits; compare them with the circuit's source")  # fmt: skip
    if circuit.commitment is not None or committed_wires is not None:
        rep.add("transcript.committed_wires", tr.committed_wires == committed, "the transcript's list vs the circuit's")
    check_committed_key(rep, tr, key, ck, circuit, pt, committed, vk, max_beacon_exp)
    return rep


def is_committed_setup(directory: str | os.PathLike[str]) -> bool:
    """A committed setup directory: ``circuit.zkey`` beside ``commitment_key.json``."""
    d = Path(directory)
    return d.is_dir() and (d / COMMITMENT_KEY_FILE).is_file()


def verify_committed_setup(
    directory: str | os.PathLike[str],
    r1cs: R1CS | str | os.PathLike[str],
    ptau: str | os.PathLike[str],
    committed_wires: Sequence[int] | None = None,
    max_beacon_exp: int = MAX_RECOMPUTED_BEACON_EXP,
) -> Report:
    """:func:`verify_committed_ceremony` on a setup directory (``circuit.zkey``, ``commitment_key.json``,
    ``verification_key.json`` if present, ``transcript/committed_ceremony.json``)."""
    d = Path(directory)
    vk = d / VK_FILE
    return verify_committed_ceremony(d / TRANSCRIPT_DIR, d / ZKEY_FILE, d / COMMITMENT_KEY_FILE, r1cs, ptau,
                                     vk if vk.is_file() else None, committed_wires, max_beacon_exp)  # fmt: skip


__all__ = [
    "COMMITMENT_KEY_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "TRANSCRIPT_DIR",
    "TRANSCRIPT_FILE",
    "VK_FILE",
    "ZKEY_FILE",
    "BeaconDraw",
    "CommitmentKeyPoints",
    "CommittedContribution",
    "CommittedState",
    "CommittedTranscript",
    "SecretKey",
    "bases_follow_eta",
    "binding_hash",
    "check_committed_key",
    "check_committed_wires",
    "check_contribution_states",
    "committed_circuit_hash",
    "draw_secrets",
    "eta_challenge",
    "expected_beacon",
    "extra_transcript",
    "hash_to_g1",
    "initial_state",
    "is_committed_setup",
    "k_challenge",
    "named_eta",
    "parse_transcript",
    "read_transcript",
    "remove_committed",
    "transcript_to_json",
    "verify_committed_ceremony",
    "verify_committed_setup",
    "wire_bases",
]
