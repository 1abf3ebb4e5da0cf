"""Gadget soundness: honest witnesses satisfy, tampered or out-of-range ones are rejected by the
constraint checker itself (not by Python-side validation)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkmargin.circuits import gadgets as g
from zkmargin.circuits.field import R
from zkmargin.circuits.r1cs import LC, R1CS, ConstraintSystem


def build(fn: Callable[[ConstraintSystem, LC], LC | None], *, n_inputs: int = 1) -> tuple[ConstraintSystem, R1CS]:
    cs = ConstraintSystem()
    xs = [cs.input(f"x{i}") for i in range(n_inputs)]
    out = fn(cs, *xs)  # type: ignore[call-arg]
    if out is not None:
        cs.output("out", out)
    return cs, cs.compile()


def forced_witness(cs: ConstraintSystem, r1cs: R1CS, inputs: dict[str, int], overrides: dict[str, int]) -> list[int]:
    """A witness computed honestly, then with chosen signals overwritten: what a cheating prover does."""
    w = cs.witness(inputs)
    for name, v in overrides.items():
        w[r1cs.signal_index(name)] = v % R
    return w


def test_boolean_rejects_two() -> None:
    cs, r = build(lambda cs, x: g.assert_boolean(cs, x))
    assert r.is_satisfied(cs.witness({"x0": 1}))
    assert r.is_satisfied(cs.witness({"x0": 0}))
    assert not r.is_satisfied(cs.witness({"x0": 2}))


@given(st.integers(min_value=0, max_value=(1 << 16) - 1))
@settings(max_examples=30, deadline=None)
def test_range_check_accepts_in_range(v: int) -> None:
    cs, r = build(lambda cs, x: g.range_check(cs, x, 16))
    r.check(cs.witness({"x0": v}))


@pytest.mark.parametrize("v", [1 << 16, (1 << 16) + 5, R - 1, R - (1 << 15)])
def test_range_check_rejects_out_of_range_and_negative(v: int) -> None:
    cs, r = build(lambda cs, x: g.range_check(cs, x, 16))
    # the honest hint produces wrong bits; also try every way a cheater could set the bits: the
    # sum constraint pins them, so no assignment of 16 booleans reaches v
    assert not r.is_satisfied(cs.witness({"x0": v}))


def test_range_check_bits_cannot_be_swapped() -> None:
    cs, r = build(lambda cs, x: g.range_check(cs, x, 8, "rc"))
    w = forced_witness(cs, r, {"x0": 6}, {"rc[1]": 0, "rc[0]": 2})  # 2*1 + 0*2 + 1*4 = 6 with a non-bit
    assert not r.is_satisfied(w)


def test_range_width_limit() -> None:
    cs = ConstraintSystem()
    with pytest.raises(ValueError, match="bit width"):
        g.range_check(cs, cs.input("x"), 253)


@given(st.integers(0, 1000), st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_less_than_matches_python(a: int, b: int) -> None:
    cs, r = build(lambda cs, x, y: g.less_than(cs, x, y, 10), n_inputs=2)
    w = cs.witness({"x0": a, "x1": b})
    r.check(w)
    assert w[r.signal_index("out")] == int(a < b)


def test_less_than_cannot_flip_result() -> None:
    cs, r = build(lambda cs, x, y: g.less_than(cs, x, y, 10, "lt"), n_inputs=2)
    # 5 < 9: claim false by setting the top bit
    w = forced_witness(cs, r, {"x0": 5, "x1": 9}, {"lt[10]": 1, "out": 0})
    assert not r.is_satisfied(w)


@pytest.mark.parametrize(("a", "b", "want"), [(3, 3, 1), (3, 4, 1), (4, 3, 0), (0, 0, 1), (1023, 1023, 1)])
def test_less_equal_boundaries(a: int, b: int, want: int) -> None:
    cs, r = build(lambda cs, x, y: g.less_equal(cs, x, y, 10), n_inputs=2)
    w = cs.witness({"x0": a, "x1": b})
    r.check(w)
    assert w[r.signal_index("out")] == want


def test_assert_leq_rejects_greater_and_wrapped() -> None:
    cs, r = build(lambda cs, x, y: g.assert_leq(cs, x, y, 32), n_inputs=2)
    assert r.is_satisfied(cs.witness({"x0": 7, "x1": 7}))
    assert not r.is_satisfied(cs.witness({"x0": 8, "x1": 7}))
    # b - a would be r - 1: a "negative" difference
    assert not r.is_satisfied(cs.witness({"x0": 1, "x1": 0}))


@pytest.mark.parametrize("v", [0, 1, 12345, R - 1])
def test_is_zero(v: int) -> None:
    cs, r = build(lambda cs, x: g.is_zero(cs, x, "iz"))
    w = cs.witness({"x0": v})
    r.check(w)
    assert w[r.signal_index("out")] == int(v == 0)


def test_is_zero_cannot_lie() -> None:
    cs, r = build(lambda cs, x: g.is_zero(cs, x, "iz"))
    # nonzero input claimed zero: out = 1 forces x*1 = 0
    for inv in (0, 1, 5):
        w = forced_witness(cs, r, {"x0": 7}, {"iz.out": 1, "iz.inv": inv, "out": 1})
        assert not r.is_satisfied(w)
    # zero input claimed nonzero: 0 * inv = 1 - 0 is impossible
    w = forced_witness(cs, r, {"x0": 0}, {"iz.out": 0, "iz.inv": 3, "out": 0})
    assert not r.is_satisfied(w)


def test_select() -> None:
    def f(cs: ConstraintSystem, c: LC, a: LC, b: LC) -> LC:
        g.assert_boolean(cs, c)
        return g.select(cs, c, a, b, "sel")

    cs, r = build(f, n_inputs=3)  # type: ignore[arg-type]
    for c, want in ((1, 11), (0, 22)):
        w = cs.witness({"x0": c, "x1": 11, "x2": 22})
        r.check(w)
        assert w[r.signal_index("out")] == want
    w = forced_witness(cs, r, {"x0": 1, "x1": 11, "x2": 22}, {"out": 22, "sel": 0})
    assert not r.is_satisfied(w)


@pytest.mark.parametrize("v", [0, 1, -1, 1000, -1000, (1 << 20) - 1, -(1 << 20)])
def test_signed_decompose(v: int) -> None:
    def f(cs: ConstraintSystem, x: LC) -> LC:
        absx, neg = g.signed_decompose(cs, x, 20, "sd")
        cs.output("neg", neg)
        return absx

    cs, r = build(f)
    w = cs.witness({"x0": v % R})
    r.check(w)
    assert w[r.signal_index("neg")] == int(v < 0)
    assert w[r.signal_index("out")] == abs(v)


@pytest.mark.parametrize("v", [1 << 20, -(1 << 20) - 1, R // 2, 1 << 200])
def test_signed_range_rejects(v: int) -> None:
    cs, r = build(lambda cs, x: g.signed_range_check(cs, x, 20))
    assert not r.is_satisfied(cs.witness({"x0": v % R}))


def test_signed_abs_sign_is_unique() -> None:
    cs, r = build(lambda cs, x: g.signed_decompose(cs, x, 20, "sd")[0])
    # claim |-5| = -5 (i.e. flip the sign bit): the range constraint breaks
    w = forced_witness(cs, r, {"x0": R - 5}, {"sd[20]": 1, "sd.abs": R - 5, "out": R - 5})
    assert not r.is_satisfied(w)


def test_bounded_sum_and_overflow_guard() -> None:
    def f(cs: ConstraintSystem, *xs: LC) -> LC:
        return g.bounded_sum(cs, list(xs), 64)

    cs, r = build(f, n_inputs=4)  # type: ignore[arg-type]
    vals = {"x0": 2**64 - 1, "x1": 5, "x2": 0, "x3": 2**63}
    w = cs.witness(vals)
    r.check(w)
    assert w[r.signal_index("out")] == sum(vals.values())
    # a negative summand (r - 10) would lower the sum: rejected
    assert not r.is_satisfied(cs.witness({**vals, "x1": R - 10}))
    with pytest.raises(ValueError, match="wrap"):
        g.bounded_sum(ConstraintSystem(), [LC.const(0)] * 4, 251)


def test_max_of() -> None:
    def f(cs: ConstraintSystem, *xs: LC) -> LC:
        return g.max_of(cs, list(xs), 16)

    cs, r = build(f, n_inputs=4)  # type: ignore[arg-type]
    w = cs.witness({"x0": 5, "x1": 900, "x2": 3, "x3": 900})
    r.check(w)
    assert w[r.signal_index("out")] == 900
    w[r.signal_index("out")] = 5
    assert not r.is_satisfied(w)


def test_witness_rejects_noncanonical_input() -> None:
    cs = ConstraintSystem()
    cs.input("x")
    with pytest.raises(ValueError, match="field element"):
        cs.witness({"x": R})
    with pytest.raises(ValueError, match="field element"):
        cs.witness({"x": -1})
