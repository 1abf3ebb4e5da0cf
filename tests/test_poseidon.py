"""Poseidon: circomlib-compatible native hash and R1CS gadget.

Expected values come from outside this package: a published circomlib vector, circomlibjs's shipped
constants and its three implementations (run through node), and the textbook schedule.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from zkmargin.circuits import poseidon_constants as pc
from zkmargin.circuits.field import R
from zkmargin.circuits.poseidon import (
    poseidon,
    poseidon2,
    poseidon_constraint_count,
    poseidon_gadget,
    poseidon_reference,
)
from zkmargin.circuits.r1cs import LC, R1CS, ConstraintSystem

REPO = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO / "node_modules"
JS_REF = Path(__file__).resolve().parent / "js" / "poseidon_ref.mjs"

# circomlib's test vector (poseidon.circom / circomlibjs test: Poseidon([1, 2])).
POSEIDON_1_2 = 7853200120776062878684798364095072458815029376092732009249414926327459813530


def _tools_required() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true") or bool(os.environ.get("ZKMARGIN_REQUIRE_NPM_TOOLS"))


def _require_circomlibjs() -> Path:
    p = NODE_MODULES / "circomlibjs"
    if not p.exists():
        if _tools_required():
            pytest.fail(f"{p} missing: run `npm ci`")
        pytest.skip("circomlibjs not installed (run `npm ci`)")
    return p


def test_known_vector() -> None:
    assert poseidon([1, 2]) == POSEIDON_1_2
    assert poseidon2(1, 2) == POSEIDON_1_2
    assert poseidon_reference([1, 2]) == POSEIDON_1_2


def test_constants_match_circomlibjs_tables() -> None:
    """Our Grain-LFSR derivation reproduces the tables circomlibjs ships, for every width."""
    data = json.loads((_require_circomlibjs() / "src" / "poseidon_constants.json").read_text())
    assert len(data["C"]) == len(pc.C) == 16
    for k in range(16):
        t = k + 2
        assert len(pc.C[k]) == (pc.FULL_ROUNDS + pc.PARTIAL_ROUNDS[k]) * t
        assert [int(x, 16) for x in data["C"][k]] == list(pc.C[k]), f"round constants differ for t={t}"
        assert [[int(x, 16) for x in row] for row in data["M"][k]] == [list(r) for r in pc.M[k]], f"MDS t={t}"


def _load_generator() -> ModuleType:
    path = REPO / "scripts" / "gen_poseidon_constants.py"
    spec = importlib.util.spec_from_file_location("gen_poseidon_constants", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("t", [2, 3, 17])
def test_committed_constants_are_reproducible(t: int) -> None:
    """The committed module is what the committed generator outputs (no hand edits)."""
    consts, mds = _load_generator().generate(t)
    assert tuple(consts) == pc.C[t - 2]
    assert tuple(tuple(r) for r in mds) == pc.M[t - 2]


def _vectors() -> list[list[int]]:
    rng = random.Random(20240611)
    cases: list[list[int]] = []
    for n in range(1, 17):
        cases.append(list(range(1, n + 1)))
        cases.append([0] * n)
        cases.append([R - 1] * n)
        cases.append([rng.randrange(R) for _ in range(n)])
        cases.append([rng.randrange(1 << 64) for _ in range(n)])
    return cases


def test_matches_circomlibjs_all_widths(node_exe: str) -> None:
    _require_circomlibjs()
    cases = _vectors()
    proc = subprocess.run(
        [node_exe, str(JS_REF)],
        input=json.dumps([[str(x) for x in c] for c in cases]),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for impl in ("wasm", "reference", "opt"):
        assert len(out[impl]) == len(cases)
        for inputs, expected in zip(cases, out[impl], strict=True):
            assert poseidon(inputs) == int(expected), f"{impl} differs for {len(inputs)} inputs {inputs[:2]}..."


def test_optimized_schedule_equals_textbook() -> None:
    rng = random.Random(7)
    for n in range(1, 17):
        xs = [rng.randrange(R) for _ in range(n)]
        assert poseidon(xs) == poseidon_reference(xs)
    assert poseidon2(5, R - 1) == poseidon_reference([5, R - 1])


@pytest.mark.parametrize("bad", [R, R + 1, -1, 1 << 256])
def test_rejects_non_canonical(bad: int) -> None:
    with pytest.raises(ValueError, match="canonical"):
        poseidon([1, bad])
    with pytest.raises(ValueError, match="canonical"):
        poseidon2(bad, 1)


def test_rejects_bad_arity_and_types() -> None:
    with pytest.raises(ValueError):
        poseidon([])
    with pytest.raises(ValueError):
        poseidon(list(range(17)))
    with pytest.raises(TypeError):
        poseidon([1.0])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        poseidon2(1, "2")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- gadget


def _build(n: int, constants: dict[int, int] | None = None) -> tuple[ConstraintSystem, R1CS, list[str]]:
    """Circuit: inputs x_i (or fixed constants), public output h = Poseidon(x)."""
    constants = constants or {}
    cs = ConstraintSystem()
    names: list[str] = []
    args: list[LC | int] = []
    for i in range(n):
        if i in constants:
            args.append(constants[i])
        else:
            names.append(f"x{i}")
            args.append(cs.input(f"x{i}"))
    cs.output("h", poseidon_gadget(cs, args))
    return cs, cs.compile(), names


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16])
def test_gadget_matches_native(n: int) -> None:
    cs, r1cs, names = _build(n)
    rng = random.Random(n)
    for xs in ([rng.randrange(R) for _ in range(n)], [0] * n, [R - 1] * n):
        w = cs.witness(dict(zip(names, xs, strict=True)))
        r1cs.check(w)
        assert r1cs.public_signals(w) == [poseidon(xs)]


def test_gadget_constraint_count() -> None:
    # circomlib's Poseidon(2) has 240 constraints: 3 per S-box, (8*3 + 57) S-boxes, minus the constant
    # capacity cell of round 0. The +1 is the output equality of the test circuit.
    assert _build(2)[1].n_constraints == 240 + 1
    assert poseidon_constraint_count(2) == 240
    assert _build(16)[1].n_constraints == 3 * (8 * 17 + 68 - 1) + 1


def test_gadget_with_constant_inputs() -> None:
    cs, r1cs, _ = _build(3, constants={1: 12345})
    w = cs.witness({"x0": 7, "x2": R - 2})
    r1cs.check(w)
    assert r1cs.public_signals(w) == [poseidon([7, 12345, R - 2])]
    cs2 = ConstraintSystem()
    out = poseidon_gadget(cs2, [1, 2])
    assert out.is_constant() and out.constant_value() == POSEIDON_1_2
    assert cs2.n_constraints == 0


def test_gadget_wrong_output_rejected() -> None:
    cs, r1cs, _ = _build(2)
    w = cs.witness({"x0": 1, "x1": 2})
    assert w[1] == POSEIDON_1_2
    w[1] = (w[1] + 1) % R
    assert r1cs.first_failure(w) is not None


@pytest.mark.parametrize("n", [1, 2, 4])
def test_gadget_every_internal_signal_is_pinned(n: int) -> None:
    """Tampering any single hinted signal (all S-box intermediates) breaks some constraint."""
    cs, r1cs, names = _build(n)
    rng = random.Random(100 + n)
    w = cs.witness({name: rng.randrange(R) for name in names})
    r1cs.check(w)
    first_internal = 1 + r1cs.n_public + r1cs.n_prv_in
    assert r1cs.n_vars - first_internal == poseidon_constraint_count(n)  # one signal per constraint
    for idx in range(1, r1cs.n_vars):
        if 1 + r1cs.n_public <= idx < first_internal:
            continue  # private inputs are free by design
        bad = list(w)
        bad[idx] = (bad[idx] + 1) % R
        assert r1cs.first_failure(bad) is not None, f"signal {r1cs.signal_names[idx]} is unconstrained"


_CIRCOM_POSEIDON = """pragma circom 2.0.0;
include "poseidon.circom";
template T() {
    signal input a[1];
    signal input b[2];
    signal input c[16];
    signal output out[3];
    component h1 = Poseidon(1);
    component h2 = Poseidon(2);
    component h16 = Poseidon(16);
    h1.inputs[0] <== a[0];
    for (var i = 0; i < 2; i++) h2.inputs[i] <== b[i];
    for (var i = 0; i < 16; i++) h16.inputs[i] <== c[i];
    out[0] <== h1.out;
    out[1] <== h2.out;
    out[2] <== h16.out;
}
component main = T();
"""


@pytest.mark.snarkjs
def test_matches_circomlib_circuit(tmp_path: Path, run_tool: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    """circomlib's poseidon.circom itself, compiled by circom and run by snarkjs, agrees with us."""
    src = NODE_MODULES / "circomlib" / "circuits"
    if not src.exists():
        _require_circomlibjs()  # same skip / CI-fail policy as the other npm-backed tests
        pytest.skip("circomlib not installed")
    for name in ("poseidon.circom", "poseidon_constants.circom"):
        shutil.copy(src / name, tmp_path / name)
    (tmp_path / "h.circom").write_text(_CIRCOM_POSEIDON)

    def ok(proc: subprocess.CompletedProcess[str]) -> str:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    ok(run_tool("circom2", "h.circom", "--wasm", "-o", tmp_path, cwd=tmp_path))
    rng = random.Random(99)
    a, b, c = [rng.randrange(R)], [rng.randrange(R) for _ in range(2)], [rng.randrange(R) for _ in range(16)]
    inputs = {"a": [str(x) for x in a], "b": [str(x) for x in b], "c": [str(x) for x in c]}
    (tmp_path / "in.json").write_text(json.dumps(inputs))
    wasm = tmp_path / "h_js" / "h.wasm"
    ok(run_tool("snarkjs", "wtns", "calculate", wasm, tmp_path / "in.json", tmp_path / "w.wtns"))
    ok(run_tool("snarkjs", "wtns", "export", "json", tmp_path / "w.wtns", tmp_path / "w.json"))
    witness = json.loads((tmp_path / "w.json").read_text())
    assert [int(x) for x in witness[1:4]] == [poseidon(a), poseidon(b), poseidon(c)]
