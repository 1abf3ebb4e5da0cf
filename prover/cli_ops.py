"""What ``zkmargin setup`` and ``zkmargin prove`` do, for any circom-compiled circuit.

A setup directory holds ``circuit.zkey`` (snarkjs's format: snarkjs can prove with it too),
``verification_key.json`` and ``transcript/`` (the ceremony an auditor re-checks with
``zkmargin verify-setup``). Outputs are staged and renamed into place, so an interrupted run never
leaves a half-written key or proof.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from zkmargin.atomic import atomic_directory, atomic_write_json
from zkmargin.circuits.formats import BinFileError, read_r1cs, read_wtns
from zkmargin.verifier.groth16 import verify
from zkmargin.verifier.snarkjs_json import proof_to_json, public_to_json, vk_to_json

from .groth16 import ProveStats, prove
from .keys import ProvingKey
from .zkey import read_zkey, write_zkey

ZKEY_NAME = "circuit.zkey"
VK_NAME = "verification_key.json"
TRANSCRIPT_NAME = "transcript"


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def run_setup(r1cs_path: Path, out: Path, contributions: int, ptau: str | None, dev: bool = False) -> int:
    if contributions < 1:
        return _err("--contributions must be at least 1")
    try:
        r1cs = read_r1cs(r1cs_path)
    except (BinFileError, OSError) as e:
        return _err(f"--r1cs: {e}")
    t0 = time.perf_counter()
    with atomic_directory(out) as stage:
        if dev:
            from .setup import dev_setup

            pk = dev_setup(r1cs)
            print("WARNING: single-party development setup: whoever ran it can forge proofs", file=sys.stderr)
        elif ptau is not None:
            from .ptau import setup_from_ptau

            pk, _ = setup_from_ptau(r1cs, ptau, contributions, transcript_dir=stage / TRANSCRIPT_NAME)
        else:
            from .setup import run_ceremony

            pk = run_ceremony(r1cs, stage / TRANSCRIPT_NAME, phase2_contributions=contributions)
        write_zkey(pk, stage / ZKEY_NAME)
        atomic_write_json(stage / VK_NAME, vk_to_json(pk.verifying_key()))
    print(
        f"setup: {r1cs.n_constraints} constraints, {pk.n_public} public signals, domain 2^"
        f"{pk.domain_size.bit_length() - 1}, {time.perf_counter() - t0:.1f} s -> {out}"
    )
    return 0


def load_proving_key(path: Path) -> ProvingKey:
    """With the C kernel, keep the key's points in the file's encoding (no decoding, ~1 s saved at 2^16)."""
    from zkmargin.circuits.msm_native import available

    return read_zkey(path / ZKEY_NAME if path.is_dir() else path, packed_only=available())


def run_prove(zkey: Path, wtns: Path, out: Path) -> int:
    try:
        pk = load_proving_key(zkey)
    except (BinFileError, OSError) as e:
        return _err(f"--zkey: {e}")
    try:
        witness = read_wtns(wtns)
    except (BinFileError, OSError) as e:
        return _err(f"--wtns: {e}")
    if len(witness) != pk.n_vars:
        return _err(f"--wtns: witness has {len(witness)} values but the key expects {pk.n_vars} signals")
    stats = ProveStats()
    t0 = time.perf_counter()
    proof, public = prove(pk, witness, stats=stats)
    dt = time.perf_counter() - t0
    # A witness that breaks a constraint yields a proof that does not verify: refuse to publish it.
    if not verify(pk.verifying_key(), proof, public, validate_key=False):
        print("error: the witness does not satisfy the circuit (the proof does not verify)", file=sys.stderr)
        return 1
    with atomic_directory(out) as stage:
        atomic_write_json(stage / "proof.json", proof_to_json(proof))
        atomic_write_json(stage / "public.json", public_to_json(public))
    phases = ", ".join(f"{k} {v:.2f}s" for k, v in stats.phases.items())
    print(f"prove: {dt:.2f} s ({phases}) -> {out}")
    return 0
