"""The CLI on a circom-compiled circuit, checked by snarkjs: our setup + our prover -> snarkjs verify;
our .ptau import; the auditor's setup check; refusal to publish a proof for a bad witness."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zkmargin.circuits.formats import read_wtns, write_wtns
from zkmargin.cli import main as cli

pytestmark = pytest.mark.snarkjs

CIRCUIT = """pragma circom 2.0.0;
template Cover() {
    signal input balance;
    signal input requirement;
    signal input k;
    signal output scaled;
    signal sq;
    sq <== balance * balance;
    scaled <== sq * k + requirement;
}
component main {public [requirement]} = Cover();
"""


def _ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, run_tool: Callable[..., Any]) -> Path:
    d = tmp_path_factory.mktemp("cli")
    (d / "cover.circom").write_text(CIRCUIT)
    _ok(run_tool("circom2", "cover.circom", "--r1cs", "--wasm", "-o", ".", cwd=d))
    (d / "input.json").write_text(json.dumps({"balance": "12", "requirement": "100", "k": "3"}))
    _ok(run_tool("snarkjs", "wtns", "calculate", "cover_js/cover.wasm", "input.json", "w.wtns", cwd=d))
    return d


def _snarkjs_verify(run_tool: Callable[..., Any], vk: Path, public: Path, proof: Path) -> bool:
    res = run_tool("snarkjs", "groth16", "verify", vk, public, proof)
    return res.returncode == 0 and "OK" in res.stdout


def test_setup_prove_and_snarkjs_verifies(compiled: Path, run_tool: Callable[..., Any], tmp_path: Path) -> None:
    d = compiled
    keys, out = tmp_path / "keys", tmp_path / "proof"
    assert cli(["setup", "--r1cs", str(d / "cover.r1cs"), "--out", str(keys), "--contributions", "2"]) == 0
    assert {p.name for p in keys.iterdir()} == {"circuit.zkey", "verification_key.json", "transcript"}
    assert cli(["prove", "--zkey", str(keys), "--wtns", str(d / "w.wtns"), "--out", str(out)]) == 0
    public = json.loads((out / "public.json").read_text())
    assert public == [str(12 * 12 * 3 + 100), "100"]
    vk = keys / "verification_key.json"
    assert _snarkjs_verify(run_tool, vk, out / "public.json", out / "proof.json")
    verify = ["verify", "--vk", str(vk), "--proof"]
    assert cli([*verify, str(out / "proof.json"), "--public", str(out / "public.json")]) == 0
    # a changed public signal: snarkjs and we both reject
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps([public[0], "99"]))
    assert not _snarkjs_verify(run_tool, vk, forged, out / "proof.json")
    assert cli([*verify, str(out / "proof.json"), "--public", str(forged)]) == 1
    # snarkjs proves with our key as well (the zkey is the interchange format)
    p, q = tmp_path / "p.json", tmp_path / "q.json"
    _ok(run_tool("snarkjs", "groth16", "prove", keys / "circuit.zkey", d / "w.wtns", p, q))
    assert cli([*verify, str(p), "--public", str(q)]) == 0
    # the auditor's check of the ceremony, against the circuit and the published key
    transcript = keys / "transcript"
    assert cli(["verify-setup", "--transcript", str(transcript), "--r1cs", str(d / "cover.r1cs"), "--vk", str(vk)]) == 0


def test_setup_from_snarkjs_ptau(compiled: Path, run_tool: Callable[..., Any], tmp_path: Path) -> None:
    d = compiled
    _ok(run_tool("snarkjs", "powersoftau", "new", "bn128", "4", "p0.ptau", cwd=tmp_path))
    _ok(run_tool("snarkjs", "powersoftau", "contribute", "p0.ptau", "p1.ptau", "-e=public ceremony", cwd=tmp_path))
    _ok(run_tool("snarkjs", "powersoftau", "prepare", "phase2", "p1.ptau", "final.ptau", cwd=tmp_path))
    keys, out = tmp_path / "keys", tmp_path / "proof"
    args = ["setup", "--r1cs", str(d / "cover.r1cs"), "--out", str(keys), "--ptau", str(tmp_path / "final.ptau")]
    assert cli(args) == 0
    assert cli(["prove", "--zkey", str(keys), "--wtns", str(d / "w.wtns"), "--out", str(out)]) == 0
    assert _snarkjs_verify(run_tool, keys / "verification_key.json", out / "public.json", out / "proof.json")


def test_bad_witness_is_refused_and_nothing_written(compiled: Path, tmp_path: Path) -> None:
    d = compiled
    keys = tmp_path / "keys"
    assert cli(["setup", "--r1cs", str(d / "cover.r1cs"), "--out", str(keys), "--dev"]) == 0
    w = read_wtns(d / "w.wtns")
    w[1] += 1  # claim a different public output
    write_wtns(w, tmp_path / "bad.wtns")
    out = tmp_path / "proof"
    assert cli(["prove", "--zkey", str(keys), "--wtns", str(tmp_path / "bad.wtns"), "--out", str(out)]) == 1
    assert not out.exists()
    write_wtns(w[:-1], tmp_path / "short.wtns")
    assert cli(["prove", "--zkey", str(keys), "--wtns", str(tmp_path / "short.wtns"), "--out", str(out)]) == 2
    (tmp_path / "junk.wtns").write_bytes(b"wtns\x02\x00")
    assert cli(["prove", "--zkey", str(keys), "--wtns", str(tmp_path / "junk.wtns"), "--out", str(out)]) == 2
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".proof")]


def test_setup_rejects_bad_r1cs(tmp_path: Path) -> None:
    (tmp_path / "x.r1cs").write_bytes(b"not an r1cs")
    assert cli(["setup", "--r1cs", str(tmp_path / "x.r1cs"), "--out", str(tmp_path / "k")]) == 2
    assert not (tmp_path / "k").exists()


def test_dev_prepared_ptau_matches_snarkjs_prepare(
    compiled: Path, run_tool: Callable[..., Any], tmp_path: Path
) -> None:
    """The benchmark's shortcut ptau must equal what snarkjs's own `prepare phase2` computes."""
    from zkmargin.prover.ptau import write_dev_prepared_ptau

    write_dev_prepared_ptau(tmp_path / "dev.ptau", 4, tau=123456789, alpha=987, beta=654321)
    # strip sections 12-15, let snarkjs prepare them, compare byte for byte
    from zkmargin.circuits.formats.binfile import build_binfile, read_binfile

    bf = read_binfile(tmp_path / "dev.ptau", b"ptau", 1)
    raw = [(t, bytes(bf.section(t, str(t)).data)) for t in range(1, 8)]
    (tmp_path / "raw.ptau").write_bytes(build_binfile(b"ptau", 1, raw))
    _ok(run_tool("snarkjs", "powersoftau", "prepare", "phase2", "raw.ptau", "prep.ptau", cwd=tmp_path))
    theirs = read_binfile(tmp_path / "prep.ptau", b"ptau", 1)
    for t in (12, 13, 14, 15):
        assert bytes(theirs.section(t, str(t)).data) == bytes(bf.section(t, str(t)).data), f"section {t}"
    # and snarkjs sets up, proves and verifies with it
    d = compiled
    _ok(run_tool("snarkjs", "groth16", "setup", d / "cover.r1cs", tmp_path / "dev.ptau", tmp_path / "c.zkey"))
    _ok(run_tool("snarkjs", "zkey", "export", "verificationkey", tmp_path / "c.zkey", tmp_path / "vk.json"))
    p, q = tmp_path / "p.json", tmp_path / "q.json"
    _ok(run_tool("snarkjs", "groth16", "prove", tmp_path / "c.zkey", d / "w.wtns", p, q))
    assert _snarkjs_verify(run_tool, tmp_path / "vk.json", q, p)
