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
from typing import TYPE_CHECKING

from zkmargin.atomic import atomic_directory, atomic_write_json
from zkmargin.circuits.formats import BinFileError, read_r1cs
from zkmargin.circuits.formats.wtns_file import read_wtns_packed
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.groth16 import verify
from zkmargin.verifier.snarkjs_json import proof_to_json, public_to_json, vk_to_json
from zkmargin.verifier.zkey_init import CircuitHashUnavailable

from .groth16 import ProveStats, prove
from .keys import ProvingKey
from .zkey import read_zkey, write_zkey

if TYPE_CHECKING:  # the setup side (and numpy with it) loads only for setup commands, not for every prove
    from .setup.zkey_phase2 import ZkeyStep

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
    if ptau is not None and not Path(ptau).is_file():
        return _err(f"--ptau: {ptau}: no such file")
    from .ptau import PtauError

    t0 = time.perf_counter()
    try:
        pk = _build_key(r1cs, out, contributions, ptau, dev)
    except (BinFileError, CircuitHashUnavailable, PtauError) as e:
        return _err(f"--ptau: {e}")
    print(
        f"setup: {r1cs.n_constraints} constraints, {pk.n_public} public signals, domain 2^"
        f"{pk.domain_size.bit_length() - 1}, {time.perf_counter() - t0:.1f} s -> {out}"
    )
    return 0


def _build_key(r1cs: R1CS, out: Path, contributions: int, ptau: str | None, dev: bool) -> ProvingKey:
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
    return pk


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
        witness = read_wtns_packed(wtns)  # 32 bytes per value as stored: no Python integer per value
    except (BinFileError, OSError) as e:
        return _err(f"--wtns: {e}")
    if len(witness) // 32 != pk.n_vars:
        return _err(f"--wtns: witness has {len(witness) // 32} values but the key expects {pk.n_vars} signals")
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


# ---------------------------------------------------------------- phase-2 contributions on a .zkey


def _read_ceremony_key(path: Path) -> ProvingKey:
    """The input of ``setup contribute``/``beacon``: a decoded key with a circuit hash to chain from."""
    pk = read_zkey(path)
    if pk.mpc is None or not any(pk.mpc.cs_hash):
        raise ValueError(
            "the key has no circuit hash in its section 10 (a development key or one written without "
            "ceremony records): contributions to it could not be verified; make it with `zkmargin setup "
            "--ptau` or `snarkjs groth16 setup`"
        )
    return pk


def _signer_key(arg: str) -> str:
    """``--signer-key`` is the hex key, or ``@FILE`` to keep it off the command line (other local
    users can read a process's arguments)."""
    if arg.startswith("@"):
        return Path(arg[1:]).read_text().strip()
    return arg.strip()


def _finish_step(before: ProvingKey, step: ZkeyStep, out: Path, what: str) -> int:
    from zkmargin.verifier.zkey_mpc import format_hash

    from .setup.zkey_phase2 import verify_step

    rep = verify_step(before, step.key)
    if not rep.ok:
        print(rep.render(), file=sys.stderr)
        failed = ", ".join(c.name for c in rep.failed())
        print(f"error: the {what} does not verify ({failed}); nothing written", file=sys.stderr)
        return 1
    write_zkey(step.key, out)
    assert step.key.mpc is not None
    print(format_hash(step.key.mpc.cs_hash, "Circuit Hash: "))
    print(format_hash(step.contribution_hash, "Contribution Hash: "))
    from zkmargin.verifier.contributor_identity import contribution_signer, split_signed_name

    n = len(step.key.mpc.contributions)
    signed = split_signed_name(step.record.name)
    label = signed[0] if signed else step.record.name
    signer = contribution_signer(step.record)
    print(f"{what} #{n} ({label or 'no name'}) verified" + (f", signed by {signer}" if signer else "") + f" -> {out}")
    return 0


def run_contribute(zkey: Path, out: Path, name: str | None, entropy: str | None, signer_key: str | None) -> int:
    """``zkmargin setup contribute``: one snarkjs-format contribution, self-checked, written atomically."""
    from .setup.zkey_phase2 import contribute

    try:
        pk = _read_ceremony_key(zkey)
    except (BinFileError, OSError, ValueError) as e:
        return _err(f"--zkey: {e}")
    key = None
    if signer_key is not None:
        try:
            key = _signer_key(signer_key)
            from eth_account import Account

            Account.from_key(key)
        except Exception:
            return _err("--signer-key: not a readable Ethereum private key (32 bytes hex, or @FILE holding one)")
    try:
        from zkmargin.verifier.zkey_mpc import check_name

        if name:
            check_name(name)
        step = contribute(pk, entropy or "", name, key)
    except ValueError as e:
        return _err(f"--name: {e}")
    return _finish_step(pk, step, out, "contribution")


def run_beacon(zkey: Path, out: Path, beacon_hex: str, iterations: int, name: str | None) -> int:
    """``zkmargin setup beacon``: the final contribution from a public beacon, as snarkjs makes it."""
    from zkmargin.verifier.snarkjs_rng import MAX_BEACON_EXP, MIN_BEACON_EXP

    from .setup.zkey_phase2 import beacon

    try:
        bh = bytes.fromhex(beacon_hex.removeprefix("0x"))
    except ValueError:
        return _err("--beacon: not a hexadecimal string")
    if not 0 < len(bh) < 256:
        return _err("--beacon: must be 1..255 bytes")
    if not MIN_BEACON_EXP <= iterations <= MAX_BEACON_EXP:
        return _err(f"--iterations: must be in [{MIN_BEACON_EXP}, {MAX_BEACON_EXP}] (2^N hash iterations)")
    try:
        pk = _read_ceremony_key(zkey)
    except (BinFileError, OSError, ValueError) as e:
        return _err(f"--zkey: {e}")
    try:
        step = beacon(pk, bh, iterations, name)
    except ValueError as e:
        return _err(f"--name: {e}")
    return _finish_step(pk, step, out, "beacon")
