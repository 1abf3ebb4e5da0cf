"""The C witness loop (circuits/_native/witness.c) against the Python loop, the reference (issue 17).

Both paths must give the same witness bit for bit: on every circuit kind (the solvency circuit plain and in lookup
mode, the venue circuit), on hand-built systems with the edge values of the field (0, r - 1, negative and huge
coefficients, hints returning negative or unreduced values), with a cheating prover's hint swapped in, and for the
LogUp batch inversion. ``ZKMARGIN_PURE_PYTHON=1`` must force the Python loop.
"""

from __future__ import annotations

from typing import Any

import pytest
from witness_paths import fixed_commit, small_venue, witness_with

from zkmargin.circuits import lookup, witness_native
from zkmargin.circuits.field import R
from zkmargin.circuits.r1cs import (
    LC,
    BitSplit,
    ConstraintSystem,
    FieldInverse,
    PythonWitness,
    SignBit,
    ZeroFlag,
    _product,
)
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.prover.solvency_witness import SolvencyBatch

pytestmark = pytest.mark.skipif(witness_native._witness is None, reason="the C witness loop is not built")


def both(cs: ConstraintSystem, inputs: dict[str, int]) -> tuple[list[int], list[int]]:
    py = witness_with(cs, inputs, pure=True, commit=fixed_commit)
    c = witness_with(cs, inputs, pure=False, commit=fixed_commit)
    return py, c


def test_solvency_both_modes(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    py, c = both(circuit.cs, batch.inputs)
    assert c == py
    circuit.r1cs.check(c)


def test_venue() -> None:
    circuit, batch = small_venue()
    py, c = both(circuit.cs, batch.inputs)
    assert c == py
    circuit.r1cs.check(c)


def test_pure_python_env_forces_the_python_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZKMARGIN_PURE_PYTHON", "1")
    assert not witness_native.available()
    assert witness_native.logup_fractions(3, [1, 1]) is None
    monkeypatch.delenv("ZKMARGIN_PURE_PYTHON")
    assert witness_native.available()


def edge_system() -> tuple[ConstraintSystem, dict[str, int]]:
    """Inputs at 0, 1, r - 1 and r - 2; LCs with negative, zero-sum and huge coefficients; products of constants and
    of LCs with themselves; hints returning negative, unreduced and sequence values; outputs and public copies."""
    cs = ConstraintSystem()
    a, b, c, d = (cs.input(n) for n in "abcd")
    p = cs.input("p", public=True)
    big = R - 12345
    lcs: list[LC] = [
        a * -1,
        b * -3 + c * 5 - 7,
        a * big + b * (R - 1) + c * (1 << 200) + d,
        (a + b) - (a + b) + c,  # a and b cancel: only c remains
        p * 2 + 1,
    ]
    outs: list[LC] = []
    for i, x in enumerate(lcs):
        for j, y in enumerate(lcs):
            outs.append(cs.mul(x, y, f"m{i}{j}"))
    sq = cs.mul(lcs[2], lcs[2], "square")
    cube = cs.mul(sq, lcs[2], "cube")
    neg = cs.hint1("neg", lambda v: -v - 1, lcs[1])  # a negative value, reduced mod r
    unreduced = cs.hint("unreduced", lambda v, w: [v + R, w + 5 * R, -R], lcs[0], lcs[2], count=3)
    gen = cs.hint("gen", lambda v: (x * v for x in range(3)), cube, count=3)  # a generator: list() of it
    cs.output("o1", outs[7] + neg - cube)
    cs.public("pub2", sum(unreduced, LC()) + gen[2])
    cs.mul(neg, unreduced[2], "last")
    cs.constrain(cs.one, cs.one, cs.one, "one")
    cs.compile()
    return cs, {"a": 0, "b": 1, "c": R - 1, "d": R - 2, "p": R - 1}


@pytest.mark.parametrize("values", [(0, 1, R - 1, R - 2, R - 1), (R - 1, R - 1, R - 1, R - 1, 0), (0, 0, 0, 0, 0)])
def test_edge_values(values: tuple[int, ...]) -> None:
    cs, _ = edge_system()
    inputs = dict(zip("abcdp", values, strict=True))
    py, c = both(cs, inputs)
    assert c == py
    assert all(0 <= v < R for v in c)
    # the Python loop itself against a plain evaluation of every step (LC.evaluate, the hint called as written)
    vals = [0] * len(cs._kinds)
    vals[0] = 1
    for name, sid in cs._inputs.items():
        vals[sid] = inputs[name]
    for step in cs._steps:
        res = step.fn(*[lc.evaluate(vals) for lc in step.inputs])
        for sid, v in zip(step.outputs, [res] if isinstance(res, int) else list(res), strict=True):
            vals[sid] = int(v) % R
    assert py == [vals[s] for s in cs._order()]


def test_a_swapped_product_hint_is_called(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    """A cheating prover's function on a product step (encoded as a product for the C loop): the C loop must call it,
    as the Python loop does, and the constraints must refuse the result."""
    cs = circuit.cs
    step = next(st for st, _ in cs._compiled() if "acct[1]" in cs._names[st.outputs[0]] and st.fn is _product)
    honest = step.fn
    step.fn = lambda x, y: (x * y + 1) % R
    try:
        py, c = both(cs, batch.inputs)
    finally:
        step.fn = honest
    assert c == py
    assert not circuit.r1cs.is_satisfied(c)
    assert c != witness_with(cs, batch.inputs, pure=False, commit=fixed_commit)


def test_a_hint_of_the_wrong_length_fails_alike() -> None:
    cs = ConstraintSystem()
    x = cs.input("x")
    cs.hint("two", lambda v: [v], x, count=2)
    cs.compile()
    for pure in (True, False):
        with pytest.raises(ValueError, match="returned 1 values"):
            witness_with(cs, {"x": 3}, pure=pure)


def test_a_hint_error_propagates() -> None:
    cs = ConstraintSystem()
    x = cs.input("x")
    cs.mul(x, x)
    cs.hint1("boom", lambda v: 1 // (v - v), x)
    cs.compile()
    with pytest.raises(ZeroDivisionError):
        witness_with(cs, {"x": 3}, pure=False)


@pytest.mark.parametrize(
    "x,pairs",
    [
        (5, [5, 1, 6, 1, 4, 2]),  # x = f: 0
        (0, [0, 0, R - 1, R - 1, 1, 0]),  # m = 0, f = r - 1
        (R - 1, [R - 1, 3, 0, R - 1, R - 2, 1]),
        (12, [12 + R, 1, 3 + 2 * R, 5 + R]),  # unreduced values in [r, 2^256)
        (3, []),
    ],
)
def test_logup_fractions_against_the_reference(x: int, pairs: list[int]) -> None:
    got = witness_native.logup_fractions(x, pairs)
    ref = [m * lookup._inv_hint(x, f) % R for f, m in zip(pairs[0::2], pairs[1::2], strict=True)]
    assert got == ref


def test_logup_fractions_outside_the_native_range_fall_back() -> None:
    assert witness_native.logup_fractions(3, [-1, 1]) is None
    assert witness_native.logup_fractions(3, [1 << 300, 1]) is None
    assert lookup._logup_fractions(3, -1, 1) == [pow(4, R - 2, R)]


def test_python_witness_interface() -> None:
    """get/put round trip on both value stores (the parallel runner moves values with them)."""
    cs, _ = edge_system()
    for store in (PythonWitness(cs), witness_native.NativeWitness(cs)):
        sids = [1, 2, 3]
        store.put(sids, [0, R - 1, 5])
        assert store.get(sids) == [0, R - 1, 5]
    stats: dict[str, Any] = witness_native.program_stats(cs)
    assert stats["steps"] == len(cs._compiled()) and stats["terms"] > stats["steps"]


def split_system() -> ConstraintSystem:
    cs = ConstraintSystem()
    x = cs.input("x")
    cs.hint("bits", BitSplit(1, 254), x, count=254)
    cs.hint("wide", BitSplit(16, 17), x * 3 + 1, count=17)  # 272 bits: the top field is past bit 255
    cs.hint("limbs", lookup.LimbSplit(70, 16), x, count=5)
    cs.hint("one", BitSplit(256, 1), x * -1, count=1)
    for i, y in enumerate((x, x * -1, x - 1, x + (1 << 64))):  # is_zero's hints and sign bits, on either side of 0
        cs.hint1(f"inv{i}", FieldInverse(), y)
        cs.hint1(f"zero{i}", ZeroFlag(), y)
        for n in (0, 1, 64, 200, 252):
            cs.hint1(f"sign{i}.{n}", SignBit(n), y)
    cs.compile()
    return cs


@pytest.mark.parametrize("x", [0, 1, 2, R - 1, R - 2, (1 << 200) + 12345, (1 << 70) - 1, R - (1 << 64), (1 << 252) - 1])
def test_hint_classes_in_c(x: int) -> None:
    """Bit and limb splits, inverses, zero flags and sign bits computed by the C loop, against their Python calls."""
    py, c = both(split_system(), {"x": x})
    assert c == py


def test_a_swapped_limb_helper_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    """lookup._limbs swapped for a cheating prover's: the C loop must not split the value itself."""
    cs = split_system()
    honest = witness_with(cs, {"x": (1 << 40) + 5}, pure=False)
    monkeypatch.setattr(lookup, "_limbs", lambda v, bits, b: [v] + [0] * (-(-bits // b) - 1))
    py, c = both(cs, {"x": (1 << 40) + 5})
    assert c == py != honest


@pytest.mark.parametrize(
    "helper,cheat",
    [
        ("_multiplicities", lambda values, size: [1] + [0] * (size - 1)),
        ("_logup_fractions", lambda x, *v: [1] * (len(v) // 2)),
    ],
)
def test_swapped_lookup_helpers_are_called(
    circuit: SolvencyCircuit, batch: SolvencyBatch, monkeypatch: pytest.MonkeyPatch, helper: str, cheat: Any
) -> None:
    """The range multiplicities and the LogUp fractions run in C; a cheating prover's helper swapped into the lookup
    module must be called instead, on both loops alike, and the constraints must refuse its witness."""
    if not circuit.lookups:
        pytest.skip("the plain circuit has no lookups")
    honest = witness_with(circuit.cs, batch.inputs, pure=False, commit=fixed_commit)
    monkeypatch.setattr(lookup, helper, cheat)
    py, c = both(circuit.cs, batch.inputs)
    assert c == py != honest
    assert not circuit.r1cs.is_satisfied(c)
