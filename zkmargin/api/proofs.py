"""The API of the proof system: read snarkjs JSON, verify a Groth16 proof, run a setup, prove a circom witness.

Split out of the API (``zkmargin.api`` re-exports every name) because these work on any circom circuit and know
nothing of exchanges, bundles or chains; verifying needs only ``zkmargin.verifier``, the prover is imported by
``setup`` and ``prove`` alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.verifier.types import Proof, VerifyingKey

from .errors import MAX_JSON_BYTES, CheckFailed, InputError, PathLike

log = logging.getLogger("zkmargin")


# ----------------------------------------------------------------------------- snarkjs JSON


@dataclass(frozen=True)
class SnarkjsFiles:
    """A verifying key, a proof and its public signals, as read from snarkjs JSON."""

    vk: VerifyingKey
    proof: Proof
    public: list[int]


def read_json_file(path: PathLike, field: str) -> Any:
    """Parse a JSON file; every failure (missing, a directory, not UTF-8, not JSON, too large) is an
    :class:`InputError` naming ``field``."""
    p = Path(path)
    if not p.exists():
        raise InputError(field, f"file not found: {p}")
    if not p.is_file():
        raise InputError(field, f"not a regular file: {p}")
    try:
        size = p.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InputError(field, f"{p}: {size} bytes, more than the {MAX_JSON_BYTES} accepted")
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(field, f"cannot read {p}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(field, f"{p} is not UTF-8 text (byte {e.start}); expected snarkjs JSON") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(field, f"{p} is not valid JSON ({e.msg} at line {e.lineno})") from e
    except RecursionError as e:
        raise InputError(field, f"{p}: JSON nested too deeply") from e


def _convert(field: str, fn: Callable[[Any], Any], data: Any, kind: type) -> Any:
    from zkmargin.verifier.groth16 import MalformedInput

    if not isinstance(data, kind):
        raise InputError(field, f"expected a JSON {'object' if kind is dict else 'list'}, got {type(data).__name__}")
    try:
        return fn(data)
    except MalformedInput as e:
        raise InputError(field, str(e)) from e
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise InputError(field, f"not a snarkjs file of this kind ({type(e).__name__}: {e})") from e


def load_verifying_key(source: PathLike | dict[str, Any], field: str = "vk") -> VerifyingKey:
    """A snarkjs ``verification_key.json`` (path or parsed JSON) -> :class:`VerifyingKey`."""
    from zkmargin.verifier.snarkjs_json import vk_from_json

    data = source if isinstance(source, dict) else read_json_file(source, field)
    vk: VerifyingKey = _convert(field, vk_from_json, data, dict)
    return vk


def load_proof(source: PathLike | dict[str, Any], field: str = "proof") -> Proof:
    """A snarkjs ``proof.json`` (path or parsed JSON) -> :class:`Proof`."""
    from zkmargin.verifier.snarkjs_json import proof_from_json

    data = source if isinstance(source, dict) else read_json_file(source, field)
    proof: Proof = _convert(field, proof_from_json, data, dict)
    return proof


def load_public(source: PathLike | list[Any], field: str = "public") -> list[int]:
    """A snarkjs ``public.json`` (path or parsed JSON) -> the public signals as integers (never reduced)."""
    from zkmargin.verifier.snarkjs_json import public_from_json

    data = source if isinstance(source, list) else read_json_file(source, field)
    public: list[int] = _convert(field, public_from_json, data, list)
    return public


def load_snarkjs(vk: PathLike, proof: PathLike, public: PathLike) -> SnarkjsFiles:
    """Read the three snarkjs files of a proof (``zkmargin verify --vk --proof --public``)."""
    return SnarkjsFiles(load_verifying_key(vk), load_proof(proof), load_public(public))


def verify_proof(vk: VerifyingKey | PathLike, proof: Proof | PathLike, public: Sequence[int] | PathLike) -> bool:
    """True iff ``proof`` is a valid Groth16 proof for ``public`` under ``vk`` (objects or snarkjs JSON paths).

    Malformed input (a point off the curve or outside the G2 subgroup, a coordinate >= p, a public input >= r,
    a wrong count) raises :class:`InputError` naming the field: it is never just 'invalid'."""
    from zkmargin.verifier.groth16 import MalformedInput, verify

    k = vk if isinstance(vk, VerifyingKey) else load_verifying_key(vk)
    p = proof if isinstance(proof, Proof) else load_proof(proof)
    pub = list(public) if isinstance(public, Sequence) and not isinstance(public, str) else load_public(public)
    try:
        ok = verify(k, p, pub)
    except MalformedInput as e:
        where = "vk" if e.field.startswith(("vk", "IC", "alpha", "beta", "gamma", "delta")) else (
            "public" if e.field.startswith("public") else "proof")  # fmt: skip
        raise InputError(where, str(e)) from e
    log.info("groth16 proof %s (%d public signals)", "valid" if ok else "INVALID", len(pub))
    return ok


# ----------------------------------------------------------------------------- setup and prove


@dataclass(frozen=True)
class SetupResult:
    """``setup``'s output directory: ``circuit.zkey`` (snarkjs format), ``verification_key.json``, ``transcript/``."""

    path: Path
    zkey: Path
    verification_key: Path
    kind: str  # "development" | "ptau ceremony" | "local ceremony"
    constraints: int
    n_public: int
    domain_size: int
    seconds: float


def setup(
    r1cs: PathLike, out: PathLike, *, contributions: int = 1, ptau: PathLike | None = None, dev: bool = False
) -> SetupResult:
    """Groth16 setup for a circom ``.r1cs``: phase 1 from ``ptau`` (or a local one), then ``contributions``
    phase-2 contributions; ``dev`` is a single-party setup (DEVELOPMENT ONLY: forgeable). Written atomically."""
    from zkmargin.atomic import atomic_directory, atomic_write_json
    from zkmargin.circuits.formats import BinFileError, read_r1cs
    from zkmargin.prover.cli_ops import TRANSCRIPT_NAME, VK_NAME, ZKEY_NAME
    from zkmargin.prover.ptau import PtauError
    from zkmargin.prover.zkey import write_zkey
    from zkmargin.verifier.snarkjs_json import vk_to_json
    from zkmargin.verifier.zkey_init import CircuitHashUnavailable

    if contributions < 1:
        raise InputError("contributions", "must be at least 1")
    if ptau is not None and dev:
        raise InputError("dev", "give either --ptau or --dev, not both")
    if ptau is not None and not Path(ptau).is_file():
        raise InputError("ptau", f"{ptau}: no such file")
    if not Path(r1cs).is_file():
        raise InputError("r1cs", f"{r1cs}: no such file")
    try:
        cs = read_r1cs(r1cs)
    except (BinFileError, OSError) as e:
        raise InputError("r1cs", str(e)) from e
    t0 = time.perf_counter()
    try:
        with atomic_directory(out) as stage:
            if dev:
                from zkmargin.prover.setup import dev_setup

                pk, kind = dev_setup(cs), "development"
            elif ptau is not None:
                from zkmargin.prover.ptau import setup_from_ptau

                pk, _ = setup_from_ptau(cs, ptau, contributions, transcript_dir=stage / TRANSCRIPT_NAME)
                kind = "ptau ceremony"
            else:
                from zkmargin.prover.setup import run_ceremony

                pk = run_ceremony(cs, stage / TRANSCRIPT_NAME, phase2_contributions=contributions)
                kind = "local ceremony"
            write_zkey(pk, stage / ZKEY_NAME)
            atomic_write_json(stage / VK_NAME, vk_to_json(pk.verifying_key()))
    except (BinFileError, CircuitHashUnavailable, PtauError) as e:
        raise InputError("ptau", str(e)) from e
    out = Path(out)
    res = SetupResult(
        out, out / ZKEY_NAME, out / VK_NAME, kind, cs.n_constraints, pk.n_public, pk.domain_size,
        time.perf_counter() - t0,
    )  # fmt: skip
    log.info("setup: %d constraints, %d public signals -> %s", res.constraints, res.n_public, out)
    return res


@dataclass(frozen=True)
class ProveResult:
    proof: Proof
    public: list[int]
    seconds: float
    out: Path | None  # directory holding proof.json and public.json, when written


def prove(zkey: PathLike, wtns: PathLike, out: PathLike | None = None) -> ProveResult:
    """Prove a circom witness (``.wtns``) with a setup directory or ``.zkey``; the proof is verified before it is
    returned or written (``out``/proof.json, ``out``/public.json, atomically). A witness that does not satisfy
    the circuit raises :class:`CheckFailed`."""
    from zkmargin.atomic import atomic_directory, atomic_write_json
    from zkmargin.circuits.formats import BinFileError, read_wtns
    from zkmargin.prover.cli_ops import load_proving_key
    from zkmargin.prover.groth16 import prove as g16_prove
    from zkmargin.verifier.groth16 import verify
    from zkmargin.verifier.snarkjs_json import proof_to_json, public_to_json

    if not Path(zkey).exists():
        raise InputError("zkey", f"{zkey}: no such file or directory")
    if not Path(wtns).is_file():
        raise InputError("wtns", f"{wtns}: no such file")
    try:
        pk = load_proving_key(Path(zkey))
    except (BinFileError, OSError) as e:
        raise InputError("zkey", str(e)) from e
    try:
        witness = read_wtns(wtns)
    except (BinFileError, OSError) as e:
        raise InputError("wtns", str(e)) from e
    if len(witness) != pk.n_vars:
        raise InputError("wtns", f"witness has {len(witness)} values but the key expects {pk.n_vars} signals")
    t0 = time.perf_counter()
    proof, public = g16_prove(pk, witness)
    dt = time.perf_counter() - t0
    if not verify(pk.verifying_key(), proof, public, validate_key=False):
        raise CheckFailed("the witness does not satisfy the circuit (the proof does not verify); nothing written")
    if out is not None:
        with atomic_directory(out) as stage:
            atomic_write_json(stage / "proof.json", proof_to_json(proof))
            atomic_write_json(stage / "public.json", public_to_json(public))
    return ProveResult(proof, public, dt, None if out is None else Path(out))
