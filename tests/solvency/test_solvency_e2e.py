"""End to end: 16 engine accounts -> witness -> dev setup -> prove -> verify (ours and snarkjs); tampering fails."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from solvency_helpers import ASSETS, SLOTS, account, rejects

from zkmargin.circuits.field import R
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.groth16 import prove
from zkmargin.prover.setup.dev import dev_setup
from zkmargin.prover.solvency_witness import build_batch, make_layout
from zkmargin.verifier.groth16 import verify
from zkmargin.verifier.snarkjs_json import proof_to_json, public_to_json, vk_to_json


def sixteen_accounts() -> list:  # type: ignore[type-arg]
    out = []
    for i in range(16):
        mode = "portfolio" if i % 4 == 3 else "cross"
        out.append(
            account(
                f"user-{i:02d}",
                usdt=5_000 + 1_000 * i,
                btc=(i % 3) * 0.1 - 0.05 * (i % 2),
                btc_perp=((-1) ** i) * 0.05 * (i + 1),
                eth_perp=((-1) ** (i // 2)) * 0.5 * (i % 5),
                option=(-0.5 if i % 8 == 3 else 0.3) if mode == "portfolio" else 0.0,
                mode=mode,
                entry_shift=1 + 0.002 * (i % 7 - 3),
            )
        )
    return out


@pytest.mark.slow
def test_prove_and_verify_a_batch_of_16(
    engine: MarginEngine, tmp_path: Path, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    layout = make_layout(engine, SLOTS, ASSETS, accounts=16)
    circuit = SolvencyCircuit(layout.shape)
    batch = build_batch(engine, sixteen_accounts(), layout, epoch=42, secret=b"e2e")
    w = circuit.witness(batch.inputs)
    assert rejects(circuit, w) is None
    for i, res in enumerate(batch.results):
        assert circuit.value(circuit.accounts[i].mm, w) == res.mm
    t0 = time.perf_counter()
    pk = dev_setup(circuit.r1cs)
    t1 = time.perf_counter()
    proof, public = prove(pk, w)
    t2 = time.perf_counter()
    print(f"constraints {circuit.r1cs.n_constraints}: setup {t1 - t0:.1f}s, prove {t2 - t1:.1f}s")
    assert public == batch.public
    vk = pk.verifying_key()
    assert verify(vk, proof, public)

    # tampered batch: a user's balance raised (in the witness, then everything honestly recomputed) gives a root that
    # no longer matches the public one, so the witness fails and the proof for it cannot verify
    bad_inputs = dict(batch.inputs)
    bad_inputs["acct[5].bal[0]"] = (bad_inputs["acct[5].bal[0]"] + 10**8) % R
    bad_w = circuit.witness(bad_inputs)
    assert rejects(circuit, bad_w) is not None
    bad_proof, _ = prove(pk, bad_w)
    assert not verify(vk, bad_proof, public)
    # and the honest proof does not verify for altered totals
    for idx in (6, 7, 8 + len(ASSETS)):
        alt = list(public)
        alt[idx] = (alt[idx] + 1) % R
        assert not verify(vk, proof, alt)

    (tmp_path / "vk.json").write_text(json.dumps(vk_to_json(vk)))
    (tmp_path / "proof.json").write_text(json.dumps(proof_to_json(proof)))
    (tmp_path / "public.json").write_text(json.dumps(public_to_json(public)))
    res = run_tool(
        "snarkjs", "groth16", "verify", tmp_path / "vk.json", tmp_path / "public.json", tmp_path / "proof.json"
    )
    assert res.returncode == 0 and "OK" in res.stdout, res.stdout + res.stderr
    alt = list(public)
    alt[6] = (alt[6] + 1) % R
    (tmp_path / "public_bad.json").write_text(json.dumps(public_to_json(alt)))
    res = run_tool(
        "snarkjs", "groth16", "verify", tmp_path / "vk.json", tmp_path / "public_bad.json", tmp_path / "proof.json"
    )
    assert "OK" not in res.stdout
