"""LogUp lookups: range checks by limbs and tuple lookups, against cheating provers.

The witness helpers of ``circuits/lookup.py`` are replaced here by a cheating prover's (an unmasked
high limb, forged multiplicities) to show that the constraints, not the honest hints, reject
out-of-range values, and that the only thing standing between a forged multiplicity and a valid
witness is that the prover cannot choose the challenge X.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence

import pytest

import zkmargin.circuits.lookup as lookup
import zkmargin.circuits.r1cs as r1cs_module
from zkmargin.circuits.field import R
from zkmargin.circuits.gadgets import range_check
from zkmargin.circuits.lookup import fixed_table, lookup_report, range_check_lookup, range_cost, set_limb_bits
from zkmargin.circuits.r1cs import R1CS, ConstraintSystem
from zkmargin.prover.committed import dev_setup_committed, prove_committed
from zkmargin.verifier.committed import verify_committed

WIDTHS = [1, 3, 7, 8, 9, 16, 17, 33, 64, 100]


def _random_x(values: list[int], public: list[int]) -> int:
    """An honestly random challenge: what the verifier's derivation gives a prover who cannot grind it."""
    return secrets.randbelow(R)


def _range_circuit(bits: int, n: int = 1, b: int | None = None) -> tuple[ConstraintSystem, R1CS]:
    cs = ConstraintSystem()
    for i in range(n):
        range_check_lookup(cs, cs.input(f"x{i}"), bits, f"r{i}")
    if b is not None:
        set_limb_bits(cs, b)
    return cs, cs.compile()


def _satisfied(cs: ConstraintSystem, r1cs: R1CS, values: dict[str, int], commit: Callable = _random_x) -> bool:
    return r1cs.is_satisfied(cs.witness(values, commit=commit))


def _cheat_limbs(x: int, bits: int, b: int) -> list[int]:
    """Correct low limbs, and everything else piled into the top limb (recomposition still holds)."""
    n = -(-bits // b)
    low = [(x >> (b * j)) & ((1 << b) - 1) for j in range(n - 1)]
    return [*low, x >> (b * (n - 1))]


@pytest.mark.parametrize("b", [None, 4, 8])
@pytest.mark.parametrize("bits", WIDTHS)
def test_honest_values_pass(bits: int, b: int | None) -> None:
    cs, r1cs = _range_circuit(bits, 3, b)
    vals = {"x0": 0, "x1": (1 << bits) - 1, "x2": secrets.randbelow(1 << bits)}
    assert _satisfied(cs, r1cs, vals)


@pytest.mark.parametrize("cheat", [False, True])
@pytest.mark.parametrize("b", [None, 4, 8])
@pytest.mark.parametrize("bits", WIDTHS)
def test_out_of_range_fails(bits: int, b: int | None, cheat: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """(gnark's b = 16 is exercised by test_high_limb_of_seven_bits_is_constrained: a 2^16-row witness
    takes ~7 s here.)"""
    if cheat:
        monkeypatch.setattr(lookup, "_limbs", _cheat_limbs)
    cs, r1cs = _range_circuit(bits, 1, b)
    for bad in (1 << bits, (1 << bits) + 5, 3 << bits, R - 1):
        assert not _satisfied(cs, r1cs, {"x0": bad}), (bits, b, bad)
    assert _satisfied(cs, r1cs, {"x0": (1 << bits) - 1})  # the same cheating prover, honest value


@pytest.mark.parametrize("b", [8, 16])
def test_high_limb_of_seven_bits_is_constrained(b: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """GHSA-rjjm-x32p-m3f7: a 7-bit check by 8- or 16-bit limbs must not let the one limb use 8 bits.

    The cheating prover's single limb is 128 = 2^7, which IS in the 0..2^b-1 table: only the extra
    lookup of limb * 2^(b-7) rejects it."""
    monkeypatch.setattr(lookup, "_limbs", _cheat_limbs)
    cs, r1cs = _range_circuit(7, 1, b)
    w = cs.witness({"x0": 128}, commit=_random_x)
    assert w[r1cs.signal_index("lookup.r0.limb")] == 128
    assert not r1cs.is_satisfied(w)
    assert lookup_report(cs)["range_queries"] == 2  # the limb and the shifted limb


def _forging_multiplicities(bad_query: int, x_star: int) -> Callable[[Sequence[int], int], list[int]]:
    """Multiplicities that balance one out-of-table query at X = x_star: m_0 += x_star / (x_star - f)."""
    honest = lookup._multiplicities

    def forged(values: Sequence[int], size: int) -> list[int]:
        m = honest(values, size)
        m[0] = (m[0] + x_star * pow((x_star - bad_query) % R, R - 2, R)) % R
        return m

    return forged


def test_forged_multiplicity_needs_a_chosen_challenge(monkeypatch: pytest.MonkeyPatch) -> None:
    """2^7 in a 7-bit check by 8-bit limbs: the shifted query 256 is not in the table. Multiplicities
    forged for a challenge the prover picks satisfy every constraint; at any other challenge they fail.
    So soundness rests on the challenge being derived from the commitment to the multiplicities."""
    monkeypatch.setattr(lookup, "_limbs", _cheat_limbs)
    x_star = secrets.randbelow(R)
    monkeypatch.setattr(lookup, "_multiplicities", _forging_multiplicities(256, x_star))
    cs, r1cs = _range_circuit(7, 1, 8)
    assert _satisfied(cs, r1cs, {"x0": 128}, commit=lambda v, p: x_star)  # prover-chosen X: the attack works
    assert not _satisfied(cs, r1cs, {"x0": 128}, commit=_random_x)  # X it cannot choose: it fails


def test_forged_multiplicity_fails_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same forgery through the real prover: X is the hash of D, which commits to the forged
    multiplicities, so the prover cannot aim them at X; the verifier rejects the proof."""
    cs, r1cs = _range_circuit(7, 2, 4)
    pk = dev_setup_committed(r1cs)
    proof, public = prove_committed(pk, cs, {"x0": 100, "x1": 127})
    assert verify_committed(pk.vk, proof, public)
    monkeypatch.setattr(lookup, "_limbs", _cheat_limbs)
    monkeypatch.setattr(lookup, "_multiplicities", _forging_multiplicities(128 << 1, secrets.randbelow(R)))
    proof, public = prove_committed(pk, cs, {"x0": 128, "x1": 127})
    assert not verify_committed(pk.vk, proof, public)


def test_in_range_forged_multiplicity_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    honest = lookup._multiplicities

    def plus_one(values: Sequence[int], size: int) -> list[int]:
        m = honest(values, size)
        m[3] += 1
        return m

    monkeypatch.setattr(lookup, "_multiplicities", plus_one)
    cs, r1cs = _range_circuit(16, 2, 4)
    assert not _satisfied(cs, r1cs, {"x0": 1234, "x1": 65535})


def test_tuple_lookup() -> None:
    """Rows (id, parameter): a tuple mixing two rows' columns, or a value outside, fails."""
    cs = ConstraintSystem()
    a, p = cs.input("a"), cs.input("p")
    c, q = cs.input("c"), cs.input("q")
    table = fixed_table(cs, [(1, 500), (2, 750), (3, 1000), (4, 1250)], "params")
    table.lookup([a, p])
    table.lookup([c, q])
    r1cs = cs.compile()
    assert _satisfied(cs, r1cs, {"a": 2, "p": 750, "c": 2, "q": 750})
    assert _satisfied(cs, r1cs, {"a": 4, "p": 1250, "c": 1, "q": 500})
    assert not _satisfied(cs, r1cs, {"a": 2, "p": 1000, "c": 1, "q": 500})  # (2, 1000): columns of two rows
    assert not _satisfied(cs, r1cs, {"a": 5, "p": 1250, "c": 1, "q": 500})
    # a "compression collision" (a + X' p) that would hold for some other X does not survive a random X
    assert not _satisfied(cs, r1cs, {"a": 1 + 250, "p": 750 - 1, "c": 1, "q": 500})


def test_tuple_lookup_end_to_end() -> None:
    cs = ConstraintSystem()
    a, p = cs.input("a"), cs.input("p", public=True)
    table = fixed_table(cs, [(1, 500), (2, 750), (3, 1000)], "params")
    table.lookup([a, p])
    range_check_lookup(cs, a, 8)
    pk = dev_setup_committed(cs.compile())
    proof, public = prove_committed(pk, cs, {"a": 3, "p": 1000})
    assert public == [1000] and verify_committed(pk.vk, proof, public)
    proof, public = prove_committed(pk, cs, {"a": 2, "p": 1000})
    assert not verify_committed(pk.vk, proof, public)


def test_constraint_counts_per_64_bit_check() -> None:
    """Measured: the marginal cost of one more 64-bit check and the table, against by-bits checks."""
    per_check = {}
    for b in (8, 16):
        _, two = _range_circuit(64, 2, b)
        per_check[b] = two.n_constraints - range_cost([64], b)
        assert two.n_constraints == range_cost([64, 64], b)
    assert per_check == {8: 9, 16: 5}  # 64/b limbs + 1 recomposition
    cs = ConstraintSystem()
    range_check(cs, cs.input("x"), 64)
    assert cs.n_constraints == 65
    auto_cs, auto = _range_circuit(64, 1000)
    print(
        f"\n64-bit range check: by bits 65; lookups {per_check[8]} at b=8 (+257 once), {per_check[16]} at b=16 "
        f"(+65,537 once); 1,000 checks auto b={lookup_report(auto_cs)['limb_bits']}: {auto.n_constraints} "
        f"constraints vs 65,000 by bits"
    )
    assert auto.n_constraints == range_cost([64] * 1000, 8) == 9257


# ---- the fast witness path (one batch inversion, pre-digested program) against the one-hint-per-signal reference


def _reference_witness(cs: ConstraintSystem, inputs: dict[str, int], x: int) -> list[int]:
    """The witness program run as before the fast path: every LC evaluated term by term, and every LogUp fraction
    computed on its own with one inversion (``m * _inv_hint(X, f)``), never through ``_batch_inv``."""
    cs.finalize()
    vals = [0] * len(cs._kinds)
    vals[0] = 1
    for name, sid in cs._inputs.items():
        vals[sid] = inputs[name] % R
    for step in cs._steps:
        args = [lc.evaluate(vals) for lc in step.inputs]
        names = [cs._names[o] for o in step.outputs]
        if step.fn is r1cs_module._COMMIT_MARKER:
            outs: list[int] = [x]
        elif all(n.startswith("lookup.") and re.search(r"\.inv$|\.row\[\d+\]$", n) for n in names):
            assert len(args) == 1 + 2 * len(names)  # X, then (f, m) per fraction
            outs = [m * lookup._inv_hint(args[0], f) % R for f, m in zip(args[1::2], args[2::2], strict=True)]
        else:
            res = step.fn(*args)
            outs = [res] if isinstance(res, int) else list(res)
        for sid, v in zip(step.outputs, outs, strict=True):
            vals[sid] = int(v) % R
    return [vals[s] for s in cs._order()]


_EDGES = [0, 1, 2, R - 1, R - 2, R, 2 * R - 1, 5, 5, 5, -1, -5, 1 << 200]


def test_batch_inverse_equals_one_inversion_each() -> None:
    values = [*_EDGES, *(secrets.randbelow(R) for _ in range(50)), 0, R - 1]
    assert lookup._batch_inv(values) == [lookup._inv_hint(v, 0) for v in values]
    assert lookup._batch_inv([]) == [] and lookup._batch_inv([0, R]) == [0, 0]
    inv = lookup._batch_inv(values)
    assert all(v % R == 0 or v * i % R == 1 for v, i in zip(values, inv, strict=True))


@pytest.mark.parametrize("x", [0, 5, R - 1, None])
def test_logup_fractions_equal_the_reference(x: int | None) -> None:
    """m / (X - f) per (f, m) pair, including X = f (entry 0), repeated f, m = 0 and m = r - 1."""
    xv = secrets.randbelow(R) if x is None else x
    fs = [*_EDGES, xv, xv, *(secrets.randbelow(R) for _ in range(20))]
    ms = [1, 0, R - 1, 7, *(secrets.randbelow(R) for _ in range(len(fs) - 4))]
    flat = [v for f, m in zip(fs, ms, strict=True) for v in (f % R, m)]
    assert lookup._logup_fractions(xv, *flat) == [m * lookup._inv_hint(xv, f) % R for f, m in zip(fs, ms, strict=True)]


def _mixed_circuit() -> ConstraintSystem:
    """Range checks (a high limb shifted, widths not multiples of b), a fixed and a committed tuple table."""
    cs = ConstraintSystem()
    xs = [cs.input(f"x{i}") for i in range(4)]
    for i, x in enumerate(xs):
        range_check_lookup(cs, x, (7, 16, 33, 64)[i], f"r{i}")
    range_check_lookup(cs, xs[0] * 3 + xs[1] - 2, 20, "lin")  # an LC with coefficients and a constant
    a, p = cs.input("a"), cs.input("p", public=True)
    fixed_table(cs, [(1, 500), (2, 750), (3, 1000)], "fixed").lookup([a, p])
    k0, k1 = cs.input("k0"), cs.input("k1")
    ct = lookup.committed_table(cs, [(1, k0), (2, k1)], "ctab")
    ct.lookup([1, k0])
    ct.lookup([1, k0])  # repeated query
    ct.lookup([2, k1])
    set_limb_bits(cs, 4)
    return cs


_MIXED = {"x0": 0, "x1": 65535, "x2": 5, "x3": (1 << 64) - 1, "a": 2, "p": 750, "k0": 9, "k1": 9}


@pytest.mark.parametrize("x", [None, 0, 3, 5, R - 1])
def test_fast_witness_equals_reference(x: int | None) -> None:
    """Same values signal for signal, with a random X, r - 1, and X equal to a table value: 0 and 5 are queried limbs
    (their fractions are 0 in both paths and the witness fails), 3 is a row nobody queries (multiplicity 0, so its
    fraction 0 satisfies m / (X - 3) * (X - 3) = 0 and the witness holds)."""
    cs = _mixed_circuit()
    r1cs = cs.compile()
    xv = secrets.randbelow(R) if x is None else x
    fast = cs.witness(_MIXED, commit=lambda v, p: xv)
    assert fast == _reference_witness(cs, _MIXED, xv)
    assert r1cs.is_satisfied(fast) == (x not in (0, 5))


def test_fast_witness_equals_reference_solvency_batch() -> None:
    """A 2-account lookup-mode solvency batch of the demo exchange: the whole witness equals the reference."""
    from zkmargin.circuits.solvency import SolvencyCircuit
    from zkmargin.prover.operator import exchange
    from zkmargin.prover.solvency_witness import build_batch, make_layout

    engine = exchange.demo_engine()
    layout = make_layout(engine, exchange.SLOTS, exchange.ASSETS, accounts=2)
    batch = build_batch(engine, exchange.demo_accounts(engine, 2), layout, epoch=1, secret=b"w")
    c = SolvencyCircuit(layout.shape, lookups=True, keep_build_state=True)  # the reference reads the steps' LCs
    xv = secrets.randbelow(R)
    fast = c.witness(batch.inputs, commit=lambda v, p: xv)
    assert fast == _reference_witness(c.cs, dict(batch.inputs), xv)
    c.r1cs.check(fast)


def test_reserved_signals_must_be_filled() -> None:
    cs = ConstraintSystem()
    x = cs.input("x")
    y = cs.reserve("y")
    cs.constrain(y, x, 1, "y_inv")
    with pytest.raises(ValueError, match="never filled"):
        cs.compile()
    with pytest.raises(ValueError, match="not a reserved"):
        cs.fill([x], lambda v: [v], x)
    cs.fill([y], lambda v: [pow(v, -1, R)], x)
    with pytest.raises(ValueError, match="not a reserved"):
        cs.fill([y], lambda v: [v], x)  # filled twice
    r1cs = cs.compile()
    assert r1cs.is_satisfied(cs.witness({"x": 7}))
