"""Our verifier against proofs made by snarkjs for a circom circuit, plus malformed-input handling
(points off the curve or outside the subgroup, coordinates >= p, public inputs >= r, wrong counts)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zkmargin.circuits.curve import G2_GEN, g1_mul, g2_is_on_curve, g2_mul, twist_point_outside_subgroup
from zkmargin.circuits.field import P, R
from zkmargin.cli import main as cli_main
from zkmargin.verifier.groth16 import MalformedInput, verify
from zkmargin.verifier.snarkjs_json import proof_from_json, public_from_json, vk_from_json
from zkmargin.verifier.types import Proof

pytestmark = pytest.mark.snarkjs

CIRCUIT = """pragma circom 2.0.0;
template Demo() {
    signal input a;
    signal input b;
    signal input c;
    signal output out;
    signal t;
    t <== a * b;
    out <== t * c + a;
}
component main {public [c]} = Demo();
"""


@pytest.fixture(scope="module")
def snarkjs_proof(tmp_path_factory: pytest.TempPathFactory, run_tool: Callable[..., Any]) -> Path:
    """A circom circuit proven end to end by snarkjs alone (nothing of ours involved)."""
    d = tmp_path_factory.mktemp("snarkjs")
    (d / "demo.circom").write_text(CIRCUIT)

    def ok(res: subprocess.CompletedProcess[str]) -> None:
        assert res.returncode == 0, res.stdout + res.stderr

    ok(run_tool("circom2", "demo.circom", "--r1cs", "--wasm", "-o", ".", cwd=d))
    ok(run_tool("snarkjs", "powersoftau", "new", "bn128", "6", "pot0.ptau", cwd=d))
    ok(run_tool("snarkjs", "powersoftau", "contribute", "pot0.ptau", "pot1.ptau", "-e=zkmargin test", cwd=d))
    ok(run_tool("snarkjs", "powersoftau", "prepare", "phase2", "pot1.ptau", "pot.ptau", cwd=d))
    ok(run_tool("snarkjs", "groth16", "setup", "demo.r1cs", "pot.ptau", "demo.zkey", cwd=d))
    ok(run_tool("snarkjs", "zkey", "export", "verificationkey", "demo.zkey", "verification_key.json", cwd=d))
    (d / "input.json").write_text(json.dumps({"a": "3", "b": "11", "c": "7"}))
    ok(run_tool("snarkjs", "wtns", "calculate", "demo_js/demo.wasm", "input.json", "demo.wtns", cwd=d))
    ok(run_tool("snarkjs", "groth16", "prove", "demo.zkey", "demo.wtns", "proof.json", "public.json", cwd=d))
    return d


def _load(d: Path) -> tuple[Any, Any, Any]:
    return (
        json.loads((d / "verification_key.json").read_text()),
        json.loads((d / "proof.json").read_text()),
        json.loads((d / "public.json").read_text()),
    )


def test_snarkjs_proof_verifies(snarkjs_proof: Path) -> None:
    vk, proof, public = _load(snarkjs_proof)
    assert public == [str(3 * 11 * 7 + 3), "7"]  # out, then the public input c
    assert verify(vk_from_json(vk), proof_from_json(proof), public_from_json(public))


@pytest.mark.parametrize("index", [0, 1])
def test_changed_public_signal_rejected(snarkjs_proof: Path, index: int) -> None:
    vk, proof, public = _load(snarkjs_proof)
    public[index] = str(int(public[index]) + 1)
    assert not verify(vk_from_json(vk), proof_from_json(proof), public_from_json(public))


def test_public_input_aliasing_rejected(snarkjs_proof: Path) -> None:
    """x + r is the same field element as x: a verifier that reduces would accept it."""
    vk, proof, public = _load(snarkjs_proof)
    public[1] = str(int(public[1]) + R)
    with pytest.raises(MalformedInput, match=r"public\[1\]"):
        verify(vk_from_json(vk), proof_from_json(proof), public_from_json(public))


def test_wrong_public_count_rejected(snarkjs_proof: Path) -> None:
    vk, proof, public = _load(snarkjs_proof)
    with pytest.raises(MalformedInput, match="expected 2 public signals"):
        verify(vk_from_json(vk), proof_from_json(proof), public_from_json([*public, "1"]))


def test_swapped_or_negated_proof_rejected(snarkjs_proof: Path) -> None:
    vk, proof, public = _load(snarkjs_proof)
    p = proof_from_json(proof)
    v = vk_from_json(vk)
    pub = public_from_json(public)
    assert not verify(v, Proof(p.c, p.b, p.a), pub)
    assert p.a is not None
    assert not verify(v, Proof((p.a[0], P - p.a[1]), p.b, p.c), pub)


def test_point_off_curve_rejected(snarkjs_proof: Path) -> None:
    vk, proof, public = _load(snarkjs_proof)
    proof["pi_a"][1] = str((int(proof["pi_a"][1]) + 1) % P)
    with pytest.raises(MalformedInput, match=r"pi_a.*not on the BN254 G1 curve"):
        verify(vk_from_json(vk), proof_from_json(proof), public_from_json(public))


def test_coordinate_above_base_field_rejected(snarkjs_proof: Path) -> None:
    _, proof, _ = _load(snarkjs_proof)
    proof["pi_c"][0] = str(int(proof["pi_c"][0]) + P)
    with pytest.raises(MalformedInput, match="pi_c"):
        proof_from_json(proof)


def test_g2_point_outside_subgroup_rejected(snarkjs_proof: Path) -> None:
    """An on-curve twist point of the wrong order passes a curve check; EIP-197 requires r*P = O."""
    vk, proof, public = _load(snarkjs_proof)
    bad = twist_point_outside_subgroup()
    assert g2_is_on_curve(bad)
    proof["pi_b"] = [[str(bad[0][0]), str(bad[0][1])], [str(bad[1][0]), str(bad[1][1])], ["1", "0"]]
    with pytest.raises(MalformedInput, match="subgroup"):
        verify(vk_from_json(vk), proof_from_json(proof), public_from_json(public))


def test_vk_with_foreign_points_rejected(snarkjs_proof: Path) -> None:
    vk, proof, public = _load(snarkjs_proof)
    vk["vk_alpha_1"] = [str(1), str(3), "1"]  # not on the curve
    with pytest.raises(MalformedInput, match=r"vk\.alpha1"):
        verify(vk_from_json(vk), proof_from_json(proof), public_from_json(public))


def test_forged_proof_from_known_points_rejected(snarkjs_proof: Path) -> None:
    """Well-formed points that are not a proof (e.g. made from known scalars) must fail the pairing."""
    vk, _, public = _load(snarkjs_proof)
    forged = Proof(g1_mul((1, 2), 5), g2_mul(G2_GEN, 7), g1_mul((1, 2), 11))
    assert not verify(vk_from_json(vk), forged, public_from_json(public))


def test_cli_exit_codes(snarkjs_proof: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = snarkjs_proof
    args = ["verify", "--vk", str(d / "verification_key.json"), "--proof", str(d / "proof.json")]
    assert cli_main([*args, "--public", str(d / "public.json")]) == 0
    public = json.loads((d / "public.json").read_text())
    bad = tmp_path / "public.json"
    bad.write_text(json.dumps([public[0], str(int(public[1]) + 1)]))
    assert cli_main([*args, "--public", str(bad)]) == 1
    bad.write_text(json.dumps([public[0], str(int(public[1]) + R)]))
    assert cli_main([*args, "--public", str(bad)]) == 2
    assert "public[1]" in capsys.readouterr().err
    bad.write_text("{not json")
    assert cli_main([*args, "--public", str(bad)]) == 2
    assert cli_main([*args, "--public", str(tmp_path / "missing.json")]) == 2
