"""Committed artifacts recompile byte for byte with the pinned solc; a proof made by snarkjs (from our
key and witness files) verifies on-chain and in Python alike."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from chain_env import PRICES, Deployment
from layout_circuit import PARAMS_COMMITMENT, LayoutCircuit, make_batch

from zkmargin.circuits.formats import write_wtns
from zkmargin.prover.zkey import write_zkey
from zkmargin.verifier.attestation import EpochAttestation, signal_names, split_public_signals
from zkmargin.verifier.chain import ARTIFACTS_DIR, proof_to_evm
from zkmargin.verifier.groth16 import verify
from zkmargin.verifier.snarkjs_json import proof_from_json, public_from_json
from zkmargin.verifier.types import Proof

REPO = Path(__file__).resolve().parents[2]


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_contracts", REPO / "scripts" / "build_contracts.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_artifacts_reproduce_byte_for_byte(npm_tool: Callable[[str], Path], node_exe: str) -> None:
    npm_tool("solcjs")  # skip locally / fail in CI when the npm tools are missing
    built = _build_module().build_artifacts()
    committed = {p.name: p.read_text(encoding="utf-8") for p in ARTIFACTS_DIR.glob("*.json")}
    assert set(built) == set(committed)
    for name, text in built.items():
        assert text == committed[name], f"contracts/artifacts/{name} is stale: run scripts/build_contracts.py"
        art = json.loads(text)
        assert art["compiler"]["version"] == "0.8.28" and len(art["deployedBytecode"]) > 2


@pytest.fixture(scope="session")
def snarkjs_proof(
    circuit: LayoutCircuit, run_tool: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Proof, list[int]]:
    """`snarkjs groth16 prove` on our .zkey and .wtns for a layout statement."""
    d = tmp_path_factory.mktemp("snarkjs_chain")
    bt = make_batch(0, circuit.n_assets)
    signals = bt.public_signals(1, PARAMS_COMMITMENT, PRICES, market_commitment=0xABCDEF)
    w = circuit.cs.witness({**dict(zip(signal_names(circuit.n_assets), signals, strict=True)), "salt": 99})
    write_zkey(circuit.pk, d / "k.zkey")
    write_wtns(w, d / "w.wtns")
    res = run_tool("snarkjs", "groth16", "prove", d / "k.zkey", d / "w.wtns", d / "proof.json", d / "public.json")
    assert res.returncode == 0, res.stdout + res.stderr
    proof = proof_from_json(json.loads((d / "proof.json").read_text()))
    public = public_from_json(json.loads((d / "public.json").read_text()))
    assert public == signals
    return proof, public


def test_snarkjs_proof_verifies_on_chain(env: Deployment, snarkjs_proof: tuple[Proof, list[int]]) -> None:
    proof, public = snarkjs_proof
    assert verify(env.circuit.vk, proof, public)
    assert env.chain.call(env.verifier.functions.verifyProof(proof_to_evm(proof), public)) is True
    ep, bt = split_public_signals(public)
    att = EpochAttestation(
        ep.epoch,
        ep.params_commitment,
        ep.prices,
        ((bt, proof),),
        market_commitment=ep.market_commitment,
        declared_accounts=bt.account_count,
        unrepresented_accounts=0,
    )
    env.submit(att)
    assert env.registry.latest().matches(att)
    # and a snarkjs proof is bound to its statement like ours
    other = dataclasses.replace(att, epoch=10)
    assert not verify(env.circuit.vk, proof, other.public_signals(0))
    other = dataclasses.replace(att, market_commitment=ep.market_commitment + 1)
    assert not verify(env.circuit.vk, proof, other.public_signals(0))
