"""Auditor-side verification of a Groth16 trusted-setup ceremony transcript.

This module is self-contained on purpose: an auditor must be able to check a ceremony without
trusting (or importing) the code that ran it, so it only depends on ``zkmargin.circuits`` and
``zkmargin.verifier``. The prover's ceremony code (``zkmargin.prover.setup``) reuses the data types
and the codec defined here, so there is exactly one definition of the on-disk format.

On-disk format (a directory)::

    ceremony.json                     metadata, contribution records and their proofs (see below)
    phase1/accumulator_0000.bin       only for an imported phase 1 (e.g. from a snarkjs .ptau)
    phase1/accumulator_NNNN.bin       the powers-of-tau accumulator after contribution NNNN
    phase2/initial_key.bin            phase-2 key derived from the last phase-1 accumulator
    phase2/delta_NNNN.bin             delta1, delta2, c_g1, h_g1 after phase-2 contribution NNNN
    phase2/final_key.bin              the key handed to provers

Every ``.bin`` file is an *array container*: ``b"ZKMSETUP"``, u32 version (1), u32 entry count,
then per entry: u16 name length, UTF-8 name, u8 kind, u64 element count, payload. Kinds:
0 = u64 integers, 1 = G1 points (64 bytes: x || y, 32-byte big-endian each), 2 = G2 points
(128 bytes: x0 || x1 || y0 || y1), 3 = QAP entries (u32 row, u32 signal, 32-byte coefficient).
All integers are little-endian except field elements (big-endian, as in Ethereum's precompiles).
The point at infinity is all zero bytes ((0, 0) is on neither curve, so this is unambiguous).

``ceremony.json`` records the SHA-256 of every ``.bin`` file, and every contribution carries a
proof of knowledge of its secret: ``x*G1``, ``x*G2`` (tied together by a pairing) and a Schnorr
proof ``(R = k*G1, z = k + c*x)`` whose challenge ``c`` hashes the digest of the *previous* state,
so a proof cannot be replayed on another chain. Phase 1 proves knowledge of (tau, alpha, beta)
multipliers, phase 2 of each delta multiplier.

:func:`verify_transcript` re-checks everything and reports each check by name. The code is split in
``setup_format`` (codec, data types, the typed key protocol), ``setup_proofs`` (proofs of knowledge, group helpers)
and ``setup_checks`` (the report and every check); this module keeps the verifier and re-exports the public names
so ``zkmargin.verifier.setup_transcript`` stays the one import path of the format (the prover's ceremony code uses it).
Every path in ``ceremony.json`` is relative to the transcript directory and must stay inside it; every file is a
regular file within :class:`~zkmargin.verifier.safe_io.Limits`; a malformed file sets ``report.malformed``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from zkmargin.circuits.r1cs import R1CS

from .safe_io import DEFAULT_LIMITS, Limits, UnsafeInput, confined, parse_json, read_bytes
from .setup_checks import (
    Check,
    TranscriptReport,
    check_accumulator_powers,
    check_initial_key,
    check_phase1_step,
    check_phase2_step,
    qap_matrices,
)
from .setup_format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    KEY_G1_LISTS,
    KEY_G1_SINGLE,
    KEY_G2_SINGLE,
    KIND_G1,
    KIND_G2,
    KIND_QAP,
    KIND_U64,
    MAGIC,
    ContainerError,
    DeltaState,
    KeyFields,
    Phase1Accumulator,
    ProvingKeyLike,
    QapEntry,
    dec_g1,
    dec_g2,
    decode_container,
    decode_key,
    enc_g1,
    enc_g2,
    encode_container,
    encode_key,
    key_delta_state,
    sha256_hex,
)
from .setup_proofs import (
    PHASE1_LABELS,
    PHASE2_LABEL,
    KnowledgeProof,
    check_knowledge_proof,
    g1_sum,
    g2_batch_in_subgroup,
    g2_sum,
    intt,
    same_ratio,
    schnorr_challenge,
)
from .types import VerifyingKey

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "KEY_G1_LISTS",
    "KEY_G1_SINGLE",
    "KEY_G2_SINGLE",
    "KIND_G1",
    "KIND_G2",
    "KIND_QAP",
    "KIND_U64",
    "MAGIC",
    "PHASE1_LABELS",
    "PHASE2_LABEL",
    "Check",
    "ContainerError",
    "DeltaState",
    "KeyFields",
    "KnowledgeProof",
    "Phase1Accumulator",
    "ProvingKeyLike",
    "QapEntry",
    "TranscriptReport",
    "check_accumulator_powers",
    "check_initial_key",
    "check_knowledge_proof",
    "check_phase1_step",
    "check_phase2_step",
    "dec_g1",
    "dec_g2",
    "decode_container",
    "decode_key",
    "enc_g1",
    "enc_g2",
    "encode_container",
    "encode_key",
    "g1_sum",
    "g2_batch_in_subgroup",
    "g2_sum",
    "intt",
    "key_delta_state",
    "qap_matrices",
    "same_ratio",
    "schnorr_challenge",
    "sha256_hex",
    "verify_transcript",
]


class _Malformed(Exception):
    """Internal: stop the re-check, the transcript cannot be read as the format."""


def _load_bin(base: Path, rec: Any, key: str, rep: TranscriptReport, name: str, limits: Limits) -> bytes | None:
    """A container file named by ``rec[key]`` (relative to the transcript, inside it), checked against
    ``rec["sha256"]``; None (a failed check) when missing or its hash differs."""
    if not isinstance(rec, dict):
        raise _Malformed(f"{name}: expected an object with {key!r} and 'sha256'")
    try:
        path = confined(base, rec.get(key), f"ceremony.json {name}.{key}")
        data = read_bytes(path, f"transcript file {rec[key]}", limits.max_binary_bytes)
    except UnsafeInput as e:
        raise _Malformed(str(e)) from e
    except OSError as e:
        rep.add(name, False, f"{rec[key]}: {e.strerror or e}")
        return None
    ok = sha256_hex(data) == rec.get("sha256")
    rep.add(name, ok, "" if ok else f"sha256 mismatch for {rec[key]}")
    return data if ok else None


def verify_transcript(
    directory: str | Path,
    r1cs: R1CS,
    vk: VerifyingKey | None = None,
    final_key: ProvingKeyLike | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> TranscriptReport:
    """Re-check a whole ceremony; returns a report naming every check (``report.ok`` for the verdict).

    Checks: file hashes; each phase-1 contribution's proofs of knowledge and that it multiplies the
    previous accumulator (pairings on the first elements), and that every accumulator holds
    consecutive powers (randomised pairing checks); the phase-2 initial key is the circuit's QAP at
    the last accumulator's tau (randomised MSMs); each phase-2 contribution's proof, delta update
    and C/H rescaling; the final key equals initial key + last delta state, and matches ``vk`` and
    ``final_key`` when given. A file that cannot be read as the format (truncated container, bad JSON, a
    path leaving the directory, a symlink or FIFO) sets ``report.malformed`` and fails ``transcript.well_formed``.
    """
    base = Path(directory)
    rep = TranscriptReport()
    try:
        meta = parse_json(
            read_bytes(base / "ceremony.json", "ceremony.json", limits.max_json_bytes),
            "ceremony.json",
            limits.max_json_depth,
        )
    except FileNotFoundError as e:
        rep.add("metadata.readable", False, f"missing: {e.filename}")
        return rep
    except (UnsafeInput, OSError) as e:
        rep.malformed = str(e)
        rep.add("metadata.readable", False, str(e))
        return rep
    if not isinstance(meta, dict):
        rep.malformed = "ceremony.json: expected a JSON object"
        rep.add("metadata.readable", False, rep.malformed)
        return rep
    rep.add("metadata.format", meta.get("format") == FORMAT_NAME and meta.get("version") == FORMAT_VERSION)
    try:
        _verify(base, meta, r1cs, vk, final_key, rep, limits)
    except (_Malformed, ContainerError, KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
        rep.malformed = str(e) if isinstance(e, _Malformed | ContainerError) else f"{type(e).__name__}: {e}"
        rep.add("transcript.well_formed", False, rep.malformed)
    return rep


def _verify(
    base: Path,
    meta: dict[str, Any],
    r1cs: R1CS,
    vk: VerifyingKey | None,
    final_key: ProvingKeyLike | None,
    rep: TranscriptReport,
    limits: Limits,
) -> None:
    p1 = meta["phase1"]
    src = p1["source"]
    if src["kind"] == "local":
        log_n = int(p1["log_n"])
        if not 1 <= log_n <= 28:  # BN254's two-adicity; a larger value would only exhaust memory
            raise _Malformed(f"ceremony.json phase1.log_n: {log_n} outside [1, 28]")
        acc = Phase1Accumulator.initial(log_n)
        rep.add("phase1.source", True, "local ceremony from the generators")
    else:
        data = _load_bin(base, src, "accumulator", rep, "phase1.imported.file_hash", limits)
        if data is None:
            return
        acc = Phase1Accumulator.from_bytes(data)
        rep.add(
            "phase1.source",
            True,
            f"imported from {src['kind']} sha256={src.get('file_sha256', '?')}; "
            "its own contributions must be verified with its own tool (snarkjs powersoftau verify)",
        )
        check_accumulator_powers(acc, rep, "phase1.imported")
    digest = acc.digest()
    if src["kind"] == "local" and not p1["contributions"]:
        rep.add("phase1.has_contributions", False, "a local phase 1 without contributions has tau = 1")
    for c in p1["contributions"]:
        pre = f"phase1.contribution[{c['index']}]"
        data = _load_bin(base, c, "accumulator", rep, f"{pre}.file_hash", limits)
        if data is None:
            return
        new = Phase1Accumulator.from_bytes(data)
        proofs = [KnowledgeProof.from_json(c["proof"][k]) for k in ("tau", "alpha", "beta")]
        check_phase1_step(acc, new, proofs, digest, rep, pre)
        check_accumulator_powers(new, rep, pre)
        acc, digest = new, hashlib.sha256(data).digest()

    p2 = meta["phase2"]
    circ = p2["circuit"]
    rep.add(
        "phase2.circuit_matches_r1cs",
        (circ["n_vars"], circ["n_public"], circ["n_constraints"]) == (r1cs.n_vars, r1cs.n_public, r1cs.n_constraints),
    )
    data = _load_bin(base, p2["initial_key"], "file", rep, "phase2.initial.file_hash", limits)
    if data is None:
        return
    key = decode_key(data)
    check_initial_key(key, acc, r1cs, rep)
    state = key_delta_state(key)
    digest = state.digest()
    for c in p2["contributions"]:
        pre = f"phase2.contribution[{c['index']}]"
        data = _load_bin(base, c, "file", rep, f"{pre}.file_hash", limits)
        if data is None:
            return
        nxt = DeltaState.from_bytes(data)
        check_phase2_step(state, nxt, KnowledgeProof.from_json(c["proof"]), digest, rep, pre)
        state, digest = nxt, hashlib.sha256(data).digest()
    if not p2["contributions"]:
        rep.add(
            "phase2.has_contributions", False, "delta = 1 is public: zero-knowledge and soundness need a contribution"
        )

    data = _load_bin(base, p2["final_key"], "file", rep, "phase2.final.file_hash", limits)
    if data is None:
        return
    final = decode_key(data)
    expect: KeyFields = {**key, "delta1": state.delta1, "delta2": state.delta2, "c_g1": state.c_g1, "h_g1": state.h_g1}
    rep.add("phase2.final.is_initial_plus_last_delta", final == expect)
    derived_vk = VerifyingKey(final["alpha1"], final["beta2"], final["gamma2"], final["delta2"], tuple(final["ic"]))
    if vk is not None:
        rep.add("phase2.final.verifying_key_matches", vk == derived_vk)
    if final_key is not None:
        mine = {k: getattr(final_key, k) for k in final}  # every KeyFields name is a ProvingKeyLike property
        same = all((list(mine[k]) if isinstance(v, list) else mine[k]) == v for k, v in final.items())
        rep.add("phase2.final.proving_key_matches", same)
