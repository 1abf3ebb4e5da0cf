"""Basic R1CS gadgets: booleans, bit decomposition and range checks, comparisons, is-zero, select,
signed values with absolute value, and bounded sums.

Every gadget constrains all the signals it hints. Bit widths are capped at 252 so that a sum of
bits can never wrap the field (2^252 < r), which is what makes a decomposition unique; comparisons
take explicit bit bounds because "a < b" only means something for values known to be small.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .r1cs import LC, BitSplit, ConstraintSystem, FieldInverse, SignBit, Value, ZeroFlag, as_lc

MAX_BITS = 252  # 2^252 < r: decompositions of up to 252 bits are unique

# A range-check strategy: ``rc(cs, x, n, name)`` proves 0 <= x < 2^n. Gadgets that range-check take one so that a
# circuit can route every check through bit decomposition (the default, plain R1CS, snarkjs-verifiable) or through
# LogUp lookups (``circuits.lookup.range_check_lookup``: ~n/b constraints, needs the Groth16 commitment).
RangeCheck = Callable[[ConstraintSystem, Value, int, str], None]


def _check_bits(n: int) -> None:
    if not 1 <= n <= MAX_BITS:
        raise ValueError(f"bit width must be in [1, {MAX_BITS}], got {n}")


def assert_boolean(cs: ConstraintSystem, x: Value, name: str = "bool") -> None:
    """x * (x - 1) = 0."""
    lx = as_lc(x)
    cs.constrain(lx, lx - 1, LC(), name)


def to_bits(cs: ConstraintSystem, x: Value, n: int, name: str = "bits") -> list[LC]:
    """Little-endian bits of x, proving 0 <= x < 2^n (n boolean constraints + one sum)."""
    _check_bits(n)
    lx = as_lc(x)
    bits = cs.hint(name, BitSplit(1, n), lx, count=n)
    total = LC()
    for i, b in enumerate(bits):
        assert_boolean(cs, b, f"{name}[{i}].bool")
        total = total + b * (1 << i)
    cs.assert_equal(total, lx, f"{name}.sum")
    return bits


def range_check(cs: ConstraintSystem, x: Value, n: int, name: str = "range") -> None:
    """0 <= x < 2^n as integers (so a 'negative' x = r - k fails)."""
    to_bits(cs, x, n, name)


def from_bits(bits: Sequence[LC]) -> LC:
    total = LC()
    for i, b in enumerate(bits):
        total = total + b * (1 << i)
    return total


def assert_leq(cs: ConstraintSystem, a: Value, b: Value, n: int, name: str = "leq") -> None:
    """a <= b for a, b already known to lie in [0, 2^n): b - a must fit in n bits."""
    range_check(cs, as_lc(b) - as_lc(a), n, name)


def less_than(cs: ConstraintSystem, a: Value, b: Value, n: int, name: str = "lt") -> LC:
    """Boolean (a < b) for a, b in [0, 2^n) (the caller range-checks them).

    a + 2^n - b lies in [1, 2^(n+1)); its bit n is set exactly when a >= b.
    """
    _check_bits(n + 1)
    bits = to_bits(cs, as_lc(a) + (1 << n) - as_lc(b), n + 1, name)
    return 1 - bits[n]


def greater_equal(cs: ConstraintSystem, a: Value, b: Value, n: int, name: str = "ge") -> LC:
    return 1 - less_than(cs, a, b, n, name)


def less_equal(cs: ConstraintSystem, a: Value, b: Value, n: int, name: str = "le") -> LC:
    """Boolean (a <= b) for a, b in [0, 2^n): a < b + 1 with one more bit of room."""
    return less_than(cs, a, as_lc(b) + 1, n + 1, name)


def is_zero(cs: ConstraintSystem, x: Value, name: str = "is_zero") -> LC:
    """Boolean (x == 0): out = 1 - x * inv, and x * out = 0 (2 constraints)."""
    lx = as_lc(x)
    inv = cs.hint1(f"{name}.inv", FieldInverse(), lx)
    out = cs.hint1(f"{name}.out", ZeroFlag(), lx)
    cs.constrain(lx, inv, 1 - out, f"{name}.inv")
    cs.constrain(lx, out, LC(), f"{name}.zero")
    return out


def is_equal(cs: ConstraintSystem, a: Value, b: Value, name: str = "is_eq") -> LC:
    return is_zero(cs, as_lc(a) - as_lc(b), name)


def select(cs: ConstraintSystem, cond: Value, a: Value, b: Value, name: str = "select") -> LC:
    """cond ? a : b for a boolean cond (the caller guarantees cond is constrained boolean)."""
    la, lb = as_lc(a), as_lc(b)
    t = cs.mul(cond, la - lb, name)
    return lb + t


def _sign_bit(cs: ConstraintSystem, x: LC, n: int, name: str, rc: RangeCheck | None) -> LC:
    """The top bit of x + 2^n in [0, 2^(n+1)), i.e. (x >= 0), proving that range.

    Without a strategy: the n+1 bits. With one: a hinted boolean s and rc(x + 2^n - s 2^n, n), which pins s as
    the top bit (the remainder must lie in [0, 2^n)): 1 + cost(rc, n) instead of n + 2 constraints.
    """
    _check_bits(n + 1)
    if rc is None:
        return to_bits(cs, x + (1 << n), n + 1, name)[n]
    s = cs.hint1(f"{name}.top", SignBit(n), x)
    assert_boolean(cs, s, f"{name}.top.bool")
    rc(cs, x + (1 << n) - s * (1 << n), n, name)
    return s


def signed_decompose(
    cs: ConstraintSystem, x: Value, n: int, name: str = "signed", rc: RangeCheck | None = None
) -> tuple[LC, LC]:
    """For a signed x in [-2^n, 2^n) (negatives encoded as r - |x|), return (|x|, is_negative).

    x + 2^n is range-checked to n+1 bits, so a huge field element posing as a balance fails here;
    the top bit is the (unique) sign, and |x| = x * (2 * nonneg - 1) costs one constraint. ``rc``: the
    range-check strategy (None = bit decomposition).
    """
    lx = as_lc(x)
    nonneg = _sign_bit(cs, lx, n, name, rc)
    absx = cs.mul(lx, 2 * nonneg - 1, f"{name}.abs")
    return absx, 1 - nonneg


def signed_range_check(
    cs: ConstraintSystem, x: Value, n: int, name: str = "srange", rc: RangeCheck | None = None
) -> LC:
    """Prove x in [-2^n, 2^n); returns the boolean is_negative."""
    return 1 - _sign_bit(cs, as_lc(x), n, name, rc)


def bounded_sum(cs: ConstraintSystem, values: Sequence[Value], n: int, name: str = "sum") -> LC:
    """Sum of values each range-checked to n bits; refuses shapes whose total could reach r."""
    if not values:
        return LC()
    total_bits = n + max(1, (len(values) - 1).bit_length())
    if total_bits > MAX_BITS:
        raise ValueError(f"{len(values)} values of {n} bits could wrap the field")
    total = LC()
    for i, v in enumerate(values):
        range_check(cs, v, n, f"{name}[{i}]")
        total = total + as_lc(v)
    return total


def max_of(cs: ConstraintSystem, values: Sequence[Value], n: int, name: str = "max") -> LC:
    """max(values) for values in [0, 2^n), with the result proven >= each value and equal to one."""
    if not values:
        raise ValueError("max of an empty list")
    cur = as_lc(values[0])
    for i, v in enumerate(values[1:], 1):
        lt = less_than(cs, cur, v, n, f"{name}[{i}].lt")
        cur = select(cs, lt, v, cur, f"{name}[{i}].sel")
    return cur
