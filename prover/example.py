"""``zkmargin example``: the proof system end to end on one small account-solvency circuit.

The circuit proves "the account committed to by Poseidon(balance, salt) holds at least the public
requirement" without revealing the balance: Poseidon commitment, 64-bit range checks, a
comparison. It runs a local multi-party ceremony, proves, verifies, re-checks the ceremony
transcript as an auditor would, and shows that a forged public input is rejected.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from zkmargin.atomic import atomic_directory, atomic_write_json
from zkmargin.circuits.field import R
from zkmargin.circuits.formats import write_r1cs, write_wtns
from zkmargin.circuits.gadgets import assert_leq, range_check
from zkmargin.circuits.poseidon import poseidon, poseidon_gadget
from zkmargin.circuits.r1cs import R1CS, ConstraintSystem
from zkmargin.verifier.groth16 import verify
from zkmargin.verifier.setup_transcript import verify_transcript
from zkmargin.verifier.snarkjs_json import proof_to_json, public_to_json, vk_to_json

from .groth16 import ProveStats, prove
from .setup import run_ceremony
from .zkey import write_zkey

BALANCE_BITS = 64


def account_circuit() -> ConstraintSystem:
    """Public: commitment, requirement. Private: balance, salt."""
    cs = ConstraintSystem()
    commitment = cs.input("commitment", public=True)
    requirement = cs.input("requirement", public=True)
    balance = cs.input("balance")
    salt = cs.input("salt")
    range_check(cs, balance, BALANCE_BITS, "balance_range")
    range_check(cs, requirement, BALANCE_BITS, "requirement_range")
    assert_leq(cs, requirement, balance, BALANCE_BITS, "covered")
    cs.assert_equal(poseidon_gadget(cs, [balance, salt], "commit"), commitment, "commitment")
    return cs


def run_example(out: Path, contributions: int = 2) -> int:
    console = Console()
    rows: list[tuple[str, str]] = []
    balance, requirement, salt = 1_250_000_000, 1_000_000_000, secrets.randbelow(R)
    inputs = {
        "commitment": poseidon([balance, salt]),
        "requirement": requirement,
        "balance": balance,
        "salt": salt,
    }
    cs = account_circuit()
    r1cs: R1CS = cs.compile()
    witness = cs.witness(inputs)
    r1cs.check(witness)
    rows.append(("circuit", f"{r1cs.n_constraints} constraints, {r1cs.n_public} public signals"))

    with atomic_directory(out) as stage:
        write_r1cs(r1cs, stage / "circuit.r1cs")
        write_wtns(witness, stage / "witness.wtns")
        with console.status(f"trusted setup: 2 phase-1 and {contributions} phase-2 contributions..."):
            t0 = time.perf_counter()
            pk = run_ceremony(r1cs, stage / "transcript", phase1_contributions=2, phase2_contributions=contributions)
            rows.append(("setup (local ceremony)", f"{time.perf_counter() - t0:.1f} s"))
        write_zkey(pk, stage / "circuit.zkey")
        vk = pk.verifying_key()
        atomic_write_json(stage / "verification_key.json", vk_to_json(vk))

        stats = ProveStats()
        t0 = time.perf_counter()
        proof, public = prove(pk, witness, stats=stats)
        rows.append(("prove", f"{time.perf_counter() - t0:.2f} s"))
        atomic_write_json(stage / "proof.json", proof_to_json(proof))
        atomic_write_json(stage / "public.json", public_to_json(public))

        t0 = time.perf_counter()
        ok = verify(vk, proof, public)
        rows.append(("verify", f"{'valid' if ok else 'INVALID'} ({time.perf_counter() - t0:.2f} s)"))
        forged = [public[0], public[1] - 1]  # claim a lower requirement
        rejected = not verify(vk, proof, forged)
        rows.append(("forged public input", "rejected" if rejected else "ACCEPTED (bug)"))
        with console.status("auditor: re-checking the setup transcript..."):
            report = verify_transcript(stage / "transcript", r1cs, vk)
        rows.append(("setup transcript", f"{len(report.checks)} checks, {'all pass' if report.ok else 'FAILED'}"))

    table = Table(title="zkmargin example: one committed account covers its requirement")
    table.add_column("step")
    table.add_column("result")
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    console.print(
        f"artifacts in {out}/ (snarkjs-compatible): circuit.r1cs, witness.wtns, circuit.zkey, "
        "verification_key.json, proof.json, public.json, transcript/"
    )
    console.print(
        f"check with snarkjs:  snarkjs groth16 verify {out}/verification_key.json {out}/public.json {out}/proof.json"
    )
    return 0 if ok and rejected and report.ok else 1
