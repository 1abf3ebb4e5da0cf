"""A multi-party phase 2 for committed (commitment-slot) keys: delta, eta and k each contributed, over a public
phase 1.

The construction, the record format and every check: ``zkmargin.verifier.committed_ceremony`` (the auditor's side,
which this module imports so the two cannot disagree). In short, contribution j draws (x, s, t) and multiplies
delta by x (delta1, delta2; C and H by 1/x, exactly as ``snarkjs zkey contribute``), eta by s (the wires' bases
[L_i/eta]_1 by 1/s, ``[eta]_2`` by s), k by t (so the mask base [k/eta]_1 moves by t/s, ``[k/delta]_1`` by t/x),
and publishes a snarkjs-style key for each secret, k's step (t times the previous mask base) and the new state.
The delta record is snarkjs's (it goes into the ``.zkey``'s section 10, where contributor signatures live as for
plain keys); its ``g1_s`` hashes the eta/k keys, k's step and the state, so a signature over it covers the whole
contribution.

snarkjs cannot contribute to these keys (it would leave ``[k/delta]_1``, eta and k alone): use
:func:`contribute_committed` (``zkmargin setup contribute --zkey SETUP_DIR``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_write_bytes
from zkmargin.circuits.curve import G1Affine, g1_mul, g2_mul
from zkmargin.circuits.field import R, inv
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.committed import CommittedVerifyingKey, committed_vk_from_json, committed_vk_to_json
from zkmargin.verifier.committed_ceremony import (
    COMMITMENT_KEY_FILE,
    TRANSCRIPT_DIR,
    TRANSCRIPT_FILE,
    VK_FILE,
    ZKEY_FILE,
    BeaconDraw,
    CommittedContribution,
    CommittedState,
    CommittedTranscript,
    SecretKey,
    bases_follow_eta,
    binding_hash,
    check_committed_wires,
    check_contribution_states,
    committed_circuit_hash,
    draw_secrets,
    eta_challenge,
    extra_transcript,
    hash_to_g1,
    initial_state,
    k_challenge,
    named_eta,
    read_transcript,
    remove_committed,
    transcript_to_json,
    wire_bases,
)
from zkmargin.verifier.contributor_identity import encode_signed_name
from zkmargin.verifier.public_phase1 import blake2b_file
from zkmargin.verifier.report import Report
from zkmargin.verifier.snarkjs_rng import (
    MAX_BEACON_EXP,
    MIN_BEACON_EXP,
    hash_to_g2,
    rng_from_beacon,
    rng_from_entropy,
)
from zkmargin.verifier.zkey_mpc import TYPE_BEACON, TYPE_CONTRIBUTION, Contribution, MpcParams, build_params, check_name
from zkmargin.verifier.zkey_mpc import transcript_for as delta_transcript

from ..committed import CommitmentKey, CommittedProvingKey
from ..keys import ProvingKey
from ..ptau import prepared_from_ptau, read_ptau
from ..qap import qap_from_r1cs
from ..zkey import read_zkey, write_zkey
from ._util import g1_mul_each
from .phase2 import apply_delta, initial_key
from .zkey_phase2 import sign_contribution

log = logging.getLogger(__name__)

__all__ = [
    "CommittedCeremony",
    "Step",
    "append_contribution",
    "beacon_committed",
    "contribute_committed",
    "initial_committed_key",
    "load_committed_setup",
    "make_record",
    "next_state",
    "run_cli_step",
    "run_committed_ceremony",
    "save_committed_setup",
    "self_check",
    "write_transcript",
]


@dataclass
class CommittedCeremony:
    """A committed key part-way through its ceremony: the current key and the transcript that produced it."""

    key: CommittedProvingKey
    transcript: CommittedTranscript

    @property
    def records(self) -> list[CommittedContribution]:
        return self.transcript.records

    @property
    def state(self) -> CommittedState:
        k = self.key
        return CommittedState(
            k.base.delta1, k.base.delta2, k.commitment.bases[-1], k.commitment.mask_delta, k.vk.g2_eta
        )


def initial_committed_key(r1cs: R1CS, phase1: str | Path) -> CommittedCeremony:
    """The committed key before any contribution (delta = eta = k = 1), from a prepared .ptau and the circuit:
    deterministic, so the auditor re-derives it (``verifier.committed_ceremony.check_committed_key``)."""
    info = r1cs.commitment
    if info is None:
        raise ValueError("this R1CS declares no commitment: use the plain ceremony (setup_from_ptau)")
    why = check_committed_wires(r1cs.n_vars, r1cs.n_public, info.private)
    if why:
        raise ValueError(f"committed wires: {why}")
    log_n = qap_from_r1cs(r1cs).log_domain
    acc, pinfo, bf = read_ptau(phase1, log_n)
    pk = initial_key(r1cs, prepared_from_ptau(bf, acc, log_n))
    npub = r1cs.n_public
    bases = wire_bases(pk.c_g1, npub, info.private)
    pk.c_g1 = remove_committed(pk.c_g1, npub, info.private)
    cs = committed_circuit_hash(pk.alpha1, pk.beta1, pk.beta2, pk.ic, pk.c_g1, pk.a_g1, pk.b_g1, pk.b_g2,
                                acc.tau_g1, pk.domain_size, info.private)  # fmt: skip
    pk.mpc = MpcParams(cs, [])
    st = initial_state()
    key = CommittedProvingKey(
        pk,
        CommitmentKey([*bases, st.mask_base], st.mask_delta),
        CommittedVerifyingKey(pk.verifying_key(), st.g2_eta),
        tuple(info.private),
    )
    meta = {
        "circuit": {
            "n_vars": r1cs.n_vars,
            "n_public": npub,
            "n_constraints": r1cs.n_constraints,
            "domain_size": pk.domain_size,
            "committed_wires": list(info.private),
        },
        "phase1": {"file_name": Path(phase1).name, "blake2b": blake2b_file(phase1), "power": pinfo.power},
    }
    return CommittedCeremony(key, CommittedTranscript(meta, cs, []))


@dataclass
class Step:
    """An update's results before it is recorded: the base key (delta, C, H), the wires' bases (without the mask
    base, which is ``state.mask_base``), k's step t * mask_prev, and the state."""

    base: ProvingKey
    bases: list[G1Affine]
    k_step: G1Affine
    state: CommittedState


def next_state(cer: CommittedCeremony, x: int, s: int, t: int) -> Step:
    """The honest update by (x, s, t): delta *= x, eta *= s, k *= t."""
    x, s, t = x % R, s % R, t % R
    if 0 in (x, s, t):
        raise ValueError("secrets must be non-zero")
    prev = cer.state
    base = apply_delta(cer.key.base, x)
    s_inv = inv(s)
    old = cer.key.commitment.bases
    k_step = g1_mul(prev.mask_base, t)
    moved = g1_mul_each([*old[:-1], k_step], [s_inv] * len(old))
    state = CommittedState(
        base.delta1,
        base.delta2,
        moved[-1],
        g1_mul(prev.mask_delta, t * inv(x) % R),
        g2_mul(prev.g2_eta, s),
    )
    return Step(base, moved[:-1], k_step, state)


def make_record(
    cer: CommittedCeremony,
    step: Step,
    x: int,
    s: int,
    t: int,
    draw: BeaconDraw,
    ctype: int = TYPE_CONTRIBUTION,
    name: str | None = None,
    signer_key: str | None = None,
    beacon: tuple[bytes, int] | None = None,
) -> CommittedContribution:
    """The record of a contribution that moved the key by ``step`` with secrets (x, s, t): the eta and k keys on
    their transcript challenges, the delta record (its g1_s binding the rest unless a beacon), the signature."""
    cs, prev = cer.transcript.cs_hash, cer.records
    eta_sx, k_sx = g1_mul(draw.eta_g1_s, s), g1_mul(draw.k_g1_s, t)
    tr = extra_transcript(cs, prev, (draw.eta_g1_s, eta_sx), (draw.k_g1_s, k_sx))
    eta = SecretKey(draw.eta_g1_s, eta_sx, g2_mul(eta_challenge(tr), s))
    k = SecretKey(draw.k_g1_s, k_sx, g2_mul(k_challenge(tr), t))
    state = step.state
    g1_s: G1Affine = draw.g1_s if ctype == TYPE_BEACON else hash_to_g1(binding_hash(tr, eta, k, step.k_step, state))
    g1_sx = g1_mul(g1_s, x)
    dt = delta_transcript(cs, [r.delta for r in prev], g1_s, g1_sx)
    rec = Contribution(state.delta1, g1_s, g1_sx, g2_mul(hash_to_g2(dt), x), dt, ctype, b"")
    if signer_key is not None:
        address, sig = sign_contribution(rec.contribution_hash(), signer_key)
        name = encode_signed_name(name or "", address, sig)
    rec.params = build_params(name, beacon)
    return CommittedContribution(rec, eta, k, step.k_step, state)


def append_contribution(cer: CommittedCeremony, step: Step, rec: CommittedContribution) -> CommittedCeremony:
    """The ceremony after ``rec``: the base key's records gain its delta record, the commitment key takes
    ``step``'s wire bases and the state's mask points, the verifying key the state's [eta]_2."""
    st = rec.state
    old = cer.key
    base = step.base
    assert old.base.mpc is not None
    base.mpc = MpcParams(cer.transcript.cs_hash, [*old.base.mpc.contributions, rec.delta])
    base.packed.clear()
    key = CommittedProvingKey(
        base,
        CommitmentKey([*step.bases, st.mask_base], st.mask_delta),
        CommittedVerifyingKey(base.verifying_key(), st.g2_eta),
        old.committed_wires,
    )
    tr = CommittedTranscript(cer.transcript.meta, cer.transcript.cs_hash, [*cer.records, rec])
    return CommittedCeremony(key, tr)


def _contribute(
    cer: CommittedCeremony,
    draw: BeaconDraw,
    ctype: int,
    name: str | None,
    signer_key: str | None = None,
    beacon: tuple[bytes, int] | None = None,
) -> CommittedCeremony:
    if draw.x == 0 or draw.s == 0 or draw.t == 0:  # probability 2^-252
        raise ValueError("drew a zero secret")
    step = next_state(cer, draw.x, draw.s, draw.t)
    rec = make_record(cer, step, draw.x, draw.s, draw.t, draw, ctype, name, signer_key, beacon)
    return append_contribution(cer, step, rec)


def contribute_committed(
    cer: CommittedCeremony,
    entropy: str = "",
    name: str | None = None,
    signer_key: str | None = None,
    secrets: tuple[int, int, int] | None = None,
) -> CommittedCeremony:
    """One contribution: fresh (x, s, t) from OS randomness mixed with ``entropy``, optionally signed by an
    Ethereum key (``signer_key``, hex; the signature sits in the delta record's name, as for plain keys).
    ``secrets`` replaces the drawn (x, s, t): tests only."""
    if name:
        check_name(name)
    draw = draw_secrets(rng_from_entropy(entropy))
    if secrets is not None:
        x, s, t = (v % R for v in secrets)
        draw = BeaconDraw(x, draw.g1_s, s, draw.eta_g1_s, t, draw.k_g1_s)
    out = _contribute(cer, draw, TYPE_CONTRIBUTION, name, signer_key)
    del draw
    return out


def beacon_committed(
    cer: CommittedCeremony, beacon_hash: bytes, iterations_exp: int, name: str | None = None
) -> CommittedCeremony:
    """The final contribution from a public random beacon: x, s, t and the G1 points all from its ChaCha stream
    (x and delta's g1_s as ``snarkjs zkey beacon``), so anyone recomputes them."""
    if not 0 < len(beacon_hash) < 256:
        raise ValueError("beacon hash must be 1..255 bytes")
    if not MIN_BEACON_EXP <= iterations_exp <= MAX_BEACON_EXP:
        raise ValueError(f"iterations exponent must be in [{MIN_BEACON_EXP}, {MAX_BEACON_EXP}]")
    if name:
        check_name(name)
    draw = draw_secrets(rng_from_beacon(beacon_hash, iterations_exp))
    return _contribute(cer, draw, TYPE_BEACON, name, None, (beacon_hash, iterations_exp))


def self_check(cer: CommittedCeremony, prev: CommittedCeremony | None = None) -> Report:
    """A contributor's check before publishing: every record of the chain (their own included) verifies, the key
    is the last state, its eta is not a named value, and (given the key ``prev`` it started from) the wires' bases
    moved with eta: e(bases_new_i, [eta]_new) = e(bases_prev_i, [eta]_prev), batched. (The auditor checks the final
    bases against phase 1 instead, which a contributor would have to download.)"""
    rep = Report("committed contribution self-check")
    last = check_contribution_states(cer.transcript.cs_hash, cer.records, rep)
    rep.add("key.is_last_state", last == cer.state)
    why = named_eta(cer.key.vk)
    rep.add("key.eta_is_own_trapdoor", why is None, why or "")
    if prev is not None:
        new, old = cer.key.commitment.bases, prev.key.commitment.bases
        ok = len(new) == len(old) and bases_follow_eta(new[:-1], old[:-1], cer.state.g2_eta, prev.state.g2_eta)
        rep.add("key.bases_follow_eta", ok)
    return rep


# ---------------------------------------------------------------- files


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1) + "\n").encode()


def write_transcript(cer: CommittedCeremony, directory: str | Path) -> Path:
    """``directory/committed_ceremony.json`` (atomically)."""
    t = cer.transcript
    path = Path(directory) / TRANSCRIPT_FILE
    atomic_write_bytes(path, _dumps(transcript_to_json(t.cs_hash, t.meta["circuit"], t.meta["phase1"], t.records)))
    return path


def save_committed_setup(cer: CommittedCeremony, directory: str | Path) -> None:
    """A committed setup directory: ``circuit.zkey`` (base key, committed C at infinity, the delta records in
    section 10), ``commitment_key.json``, ``verification_key.json``, ``transcript/committed_ceremony.json``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    write_zkey(cer.key.base, d / ZKEY_FILE)
    atomic_write_bytes(d / COMMITMENT_KEY_FILE, _dumps(cer.key.commitment.to_json()))
    atomic_write_bytes(d / VK_FILE, _dumps(committed_vk_to_json(cer.key.vk)))
    write_transcript(cer, d / TRANSCRIPT_DIR)


def load_committed_setup(directory: str | Path) -> CommittedCeremony:
    """Read a directory written by :func:`save_committed_setup` (ValueError / OSError if unusable)."""
    d = Path(directory)
    tr = read_transcript(d / TRANSCRIPT_DIR)
    base = read_zkey(d / ZKEY_FILE)
    if base.mpc is None or base.mpc.cs_hash != tr.cs_hash:
        raise ValueError(f"{d / ZKEY_FILE}: its records do not chain from the transcript's circuit hash")
    ck = CommitmentKey.from_json(json.loads((d / COMMITMENT_KEY_FILE).read_bytes()))
    vk = committed_vk_from_json(json.loads((d / VK_FILE).read_bytes()))
    cer = CommittedCeremony(CommittedProvingKey(base, ck, vk, tuple(tr.committed_wires)), tr)
    st = tr.records[-1].state if tr.records else None
    if st is not None and st != cer.state:
        raise ValueError(f"{d}: the key is not the transcript's last state")
    return cer


def run_committed_ceremony(
    r1cs: R1CS,
    transcript_dir: str | Path,
    phase1: str | Path,
    contributions: int = 2,
    beacon: tuple[bytes, int] | None = None,
    names: Sequence[str] | None = None,
    signer_keys: Sequence[str | None] | None = None,
    secrets: Sequence[tuple[int, int, int]] | None = None,
) -> CommittedProvingKey:
    """A local multi-party ceremony for a committed key over the prepared phase-1 file ``phase1`` (a public
    powers-of-tau file in production): ``contributions`` contributions (named ``names[i]``, signed by
    ``signer_keys[i]`` when given), then the ``beacon`` (hash, iterations exponent) if given. The transcript goes
    to ``transcript_dir/committed_ceremony.json`` after every step; the returned key's ``base.mpc`` holds the delta
    records, so writing ``base`` as ``circuit.zkey`` keeps them (signatures included). ``secrets``: tests only."""
    if contributions < 1:
        raise ValueError("a committed ceremony needs at least one contribution")
    cer = initial_committed_key(r1cs, phase1)
    out = Path(transcript_dir)
    write_transcript(cer, out)
    for i in range(contributions):
        name = names[i] if names else f"participant {i + 1}"
        signer = signer_keys[i] if signer_keys else None
        cer = contribute_committed(cer, name, name, signer, secrets[i] if secrets else None)
        write_transcript(cer, out)
    if beacon is not None:
        cer = beacon_committed(cer, beacon[0], beacon[1], "final beacon")
        write_transcript(cer, out)
    return cer.key


# ---------------------------------------------------------------- command line


def run_cli_step(
    src: Path,
    out: Path,
    name: str | None,
    entropy: str | None = None,
    signer_key: str | None = None,
    beacon: tuple[bytes, int] | None = None,
) -> int:
    """``zkmargin setup contribute|beacon --zkey SETUP_DIR --out OUT_DIR`` on a committed setup directory: one
    contribution (or the beacon), self-checked, written as a new setup directory (staged, renamed into place).
    ``signer_key`` is the hex key itself (the caller resolves ``@FILE``). Exit codes as the CLI's."""
    import sys

    from zkmargin.atomic import atomic_directory
    from zkmargin.verifier.contributor_identity import contribution_signer, split_signed_name
    from zkmargin.verifier.zkey_mpc import format_hash

    try:
        cer = load_committed_setup(src)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"error: --zkey: {src}: not a readable committed setup ({e})", file=sys.stderr)
        return 2
    try:
        if beacon is not None:
            new = beacon_committed(cer, beacon[0], beacon[1], name)
        else:
            new = contribute_committed(cer, entropy or "", name, signer_key)
    except ValueError as e:
        print(f"error: --name: {e}", file=sys.stderr)
        return 2
    rep = self_check(new, cer)
    if not rep.ok:
        print(rep.render(), file=sys.stderr)
        print(f"error: the contribution does not verify ({', '.join(c.name for c in rep.failed())}); nothing written",
              file=sys.stderr)  # fmt: skip
        return 1
    with atomic_directory(out) as stage:
        save_committed_setup(new, stage)
    rec = new.records[-1].delta
    print(format_hash(new.transcript.cs_hash, "Circuit Hash: "))
    print(format_hash(rec.contribution_hash(), "Contribution Hash: "))
    signed = split_signed_name(rec.name)
    label = signed[0] if signed else rec.name
    signer = contribution_signer(rec)
    what = "beacon" if beacon is not None else "committed-key contribution"
    print(f"{what} #{len(new.records)} ({label or 'no name'}) verified" + (f", signed by {signer}" if signer else "")
          + f" -> {out}")  # fmt: skip
    return 0
