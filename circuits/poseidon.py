"""Poseidon over the BN254 scalar field, bit-compatible with circomlib's ``Poseidon(nInputs)``.

Parameters (see :mod:`.poseidon_constants`): width t = n_inputs + 1 (2..17), S-box x^5, 8 full
rounds, the per-width partial-round table, initial state ``[0, *inputs]``, output ``state[0]``.

Each round is ``state += C_r; S-box (all cells in full rounds, cell 0 in partial rounds);
state = M * state``. Both the native hash and the gadget run an *equivalent* schedule that is cheaper:

* The dense MDS matrix of every partial round is factored as ``M_r = S_r * P_r`` with ``S_r`` sparse
  (first row, first column and identity) and ``P_r = diag(1, X_r)``. ``P_r`` commutes with a partial
  S-box (it never touches cell 0), so it is pushed back into the previous round's matrix; the last full
  round before the partial rounds absorbs what is left. A partial round then costs 2t-1
  multiplications instead of t^2, and in-circuit its linear combinations stay short.
* Round constants of cells 1..t-1 of partial rounds go straight through the S-box, so they are carried
  forward as one constant vector into the next round; a partial round adds only one constant.

This is the same algebra as the "optimized" Poseidon of the paper's appendix B (and circomlib's
current poseidon.circom); :func:`poseidon_reference` keeps the textbook schedule so tests can check
that both agree.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from gmpy2 import mpz

from .field import R_MPZ, R
from .poseidon_constants import FULL_ROUNDS, PARTIAL_ROUNDS, C, M
from .r1cs import LC, ConstraintSystem, Value, as_lc

MAX_INPUTS = len(PARTIAL_ROUNDS)  # 16
_HALF_FULL = FULL_ROUNDS // 2

Matrix = list[list[int]]


def _check_inputs(inputs: Sequence[object]) -> None:
    n = len(inputs)
    if not 1 <= n <= MAX_INPUTS:
        raise ValueError(f"poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    for i, x in enumerate(inputs):
        if not isinstance(x, int) or isinstance(x, bool):
            raise TypeError(f"poseidon input {i} must be an int, got {type(x).__name__}")
        if not 0 <= x < R:
            # Reducing silently would make x and x + R collide: callers must pass canonical elements.
            raise ValueError(f"poseidon input {i} is not a canonical field element in [0, R): {x}")


# ----------------------------------------------------------------------------- reference


def poseidon_reference(inputs: Sequence[int]) -> int:
    """Textbook schedule (dense MDS every round), exactly as circomlibjs' reference. Slow; for tests."""
    _check_inputs(inputs)
    t = len(inputs) + 1
    rp = PARTIAL_ROUNDS[t - 2]
    consts, mds = C[t - 2], M[t - 2]
    state = [0, *inputs]
    for r in range(FULL_ROUNDS + rp):
        state = [(x + consts[r * t + i]) % R for i, x in enumerate(state)]
        if r < _HALF_FULL or r >= _HALF_FULL + rp:
            state = [pow(x, 5, R) for x in state]
        else:
            state[0] = pow(state[0], 5, R)
        state = [sum(m * x for m, x in zip(row, state, strict=True)) % R for row in mds]
    return state[0]


# ----------------------------------------------------------------------------- optimized schedule


def _solve(a: Matrix, b: list[int]) -> list[int]:
    """Solve a x = b mod R by Gauss-Jordan elimination (a is square and invertible)."""
    n = len(a)
    aug = [[*row, bi] for row, bi in zip(a, b, strict=True)]
    for col in range(n):
        piv = next((r for r in range(col, n) if aug[r][col] % R), None)
        if piv is None:
            raise ZeroDivisionError("singular matrix in Poseidon parameter derivation")
        aug[col], aug[piv] = aug[piv], aug[col]
        inv = pow(aug[col][col], -1, R)
        aug[col] = [v * inv % R for v in aug[col]]
        for r in range(n):
            f = aug[r][col]
            if r != col and f:
                aug[r] = [(v - f * p) % R for v, p in zip(aug[r], aug[col], strict=True)]
    return [row[n] for row in aug]


@dataclass(frozen=True)
class PoseidonParams:
    """Precomputed optimized schedule for one width t.

    full_first / full_last: (round constants, dense matrix) per full round; the last full round keeps
    only row 0 of its matrix because only state[0] is output. partial: (constant for cell 0,
    m00, first-row tail u, first-column tail w) per partial round, i.e. the sparse matrix
    [[m00, u], [w, I]].
    """

    t: int
    full_first: tuple[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]], ...]
    partial: tuple[tuple[int, int, tuple[int, ...], tuple[int, ...]], ...]
    full_last: tuple[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]], ...]


@cache
def params(t: int) -> PoseidonParams:
    """Derive (once per width) the sparse-matrix schedule from circomlib's C and M."""
    if not 2 <= t <= MAX_INPUTS + 1:
        raise ValueError(f"Poseidon width must be in [2, {MAX_INPUTS + 1}], got {t}")
    rp = PARTIAL_ROUNDS[t - 2]
    mds = [list(row) for row in M[t - 2]]
    flat = C[t - 2]
    rc = [list(flat[r * t : (r + 1) * t]) for r in range(FULL_ROUNDS + rp)]
    first_p, last_p = _HALF_FULL, _HALF_FULL + rp - 1

    # Backward pass: L_r = P_{r+1} * M = S_r * P_r with P_r = diag(1, X_r).
    sparse: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = [(0, (), ())] * rp
    shifted: list[list[int]] = [[]] * rp  # P_r * c_r
    x_next: Matrix | None = None  # X_{r+1}; None = identity
    for r in range(last_p, first_p - 1, -1):
        if x_next is None:
            lmat = mds
        else:
            lower = [
                [sum(x_next[i][k] * mds[k + 1][j] for k in range(t - 1)) % R for j in range(t)] for i in range(t - 1)
            ]
            lmat = [mds[0], *lower]
        x_r = [row[1:] for row in lmat[1:]]
        x_r_transposed = [list(col) for col in zip(*x_r, strict=True)]
        u = _solve(x_r_transposed, lmat[0][1:])  # u^T X_r = first-row tail of L_r
        col = [row[0] for row in lmat[1:]]
        sparse[r - first_p] = (lmat[0][0], tuple(u), tuple(col))
        c = rc[r]
        shifted[r - first_p] = [c[0]] + [sum(x_r[i][k] * c[k + 1] for k in range(t - 1)) % R for i in range(t - 1)]
        x_next = x_r
    assert x_next is not None
    pre = [mds[0]] + [
        [sum(x_next[i][k] * mds[k + 1][j] for k in range(t - 1)) % R for j in range(t)] for i in range(t - 1)
    ]

    # Forward pass: carry the constants of cells 1..t-1 through the partial rounds.
    carry = [0] * t
    partial: list[tuple[int, int, tuple[int, ...], tuple[int, ...]]] = []
    for idx in range(rp):
        e = [(a + b) % R for a, b in zip(shifted[idx], carry, strict=True)]
        m00, u_t, w_t = sparse[idx]
        partial.append((e[0], m00, u_t, w_t))
        rest = e[1:]
        carry = [sum(ui * ri for ui, ri in zip(u_t, rest, strict=True)) % R, *rest]

    def frz(m: Matrix) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(row) for row in m)

    full_first = tuple((tuple(rc[r]), frz(pre if r == _HALF_FULL - 1 else mds)) for r in range(_HALF_FULL))
    full_last_list = []
    for k, r in enumerate(range(last_p + 1, FULL_ROUNDS + rp)):
        c_r = [(a + b) % R for a, b in zip(rc[r], carry, strict=True)] if k == 0 else rc[r]
        mat = mds[:1] if r == FULL_ROUNDS + rp - 1 else mds
        full_last_list.append((tuple(c_r), frz(mat)))
    return PoseidonParams(t, full_first, tuple(partial), tuple(full_last_list))


@dataclass(frozen=True)
class _NativeParams:
    """:class:`PoseidonParams` as gmpy2 mpz (about 2x faster than int for 254-bit mulmod)."""

    full_first: tuple[tuple[tuple[Any, ...], tuple[tuple[Any, ...], ...]], ...]
    partial: tuple[tuple[Any, Any, tuple[Any, ...], tuple[Any, ...]], ...]
    full_last: tuple[tuple[tuple[Any, ...], tuple[tuple[Any, ...], ...]], ...]


@cache
def _native(t: int) -> _NativeParams:
    p = params(t)

    def full(rounds: tuple[tuple[tuple[int, ...], tuple[tuple[int, ...], ...]], ...]) -> Any:
        return tuple((tuple(map(mpz, c)), tuple(tuple(map(mpz, row)) for row in m)) for c, m in rounds)

    partial = tuple((mpz(k), mpz(m00), tuple(map(mpz, u)), tuple(map(mpz, w))) for k, m00, u, w in p.partial)
    return _NativeParams(full(p.full_first), partial, full(p.full_last))


def _full_rounds(rounds: Sequence[tuple[Any, Any]], state: list[Any]) -> list[Any]:
    """Constants, x^5 on every cell, MDS: the first and the last four rounds alike."""
    r = R_MPZ
    mul = operator.mul
    for consts, mat in rounds:
        s = []
        for x, c in zip(state, consts, strict=True):
            x = x + c
            x2 = x * x % r
            s.append(x2 * x2 % r * x % r)
        state = [sum(map(mul, row, s)) % r for row in mat]
    return state


def _permute(p: _NativeParams, state: list[Any]) -> int:
    r = R_MPZ
    mul = operator.mul
    state = _full_rounds(p.full_first, state)
    s0 = state[0]
    rest = state[1:]
    for k, m00, u, w in p.partial:
        x = s0 + k
        x2 = x * x % r
        x = x2 * x2 % r * x % r
        s0 = (m00 * x + sum(map(mul, u, rest))) % r
        # cells 1..t-1 only accumulate (ri < rp * R^2): reducing them once after the loop is cheaper
        rest = [ri + wi * x for ri, wi in zip(rest, w, strict=True)]
    state = _full_rounds(p.full_last, [s0, *(ri % r for ri in rest)])
    return int(state[0])


def poseidon(inputs: Sequence[int]) -> int:
    """circomlib Poseidon of 1..16 canonical field elements (ValueError on values outside [0, R))."""
    _check_inputs(inputs)
    return _permute(_native(len(inputs) + 1), [_ZERO, *map(mpz, inputs)])


def poseidon2(left: int, right: int) -> int:
    """Poseidon of two canonical elements (the Merkle node hash), skipping generic dispatch."""
    if type(left) is not int or type(right) is not int or not (0 <= left < R and 0 <= right < R):
        _check_inputs([left, right])
    return _permute(_P3, [_ZERO, mpz(left), mpz(right)])


_P3 = _native(3)
_ZERO = mpz(0)


# ----------------------------------------------------------------------------- gadget


def _sbox(cs: ConstraintSystem, x: LC, name: str) -> LC:
    """x^5 in 3 constraints (x2 = x*x, x4 = x2*x2, x5 = x4*x); free when x is a constant."""
    if x.is_constant():
        return LC.const(pow(x.constant_value(), 5, R))
    x2 = cs.mul(x, x, f"{name}.x2")
    x4 = cs.mul(x2, x2, f"{name}.x4")
    return cs.mul(x4, x, f"{name}.x5")


def _mix(row: Sequence[int], cells: Sequence[LC]) -> LC:
    terms: dict[int, int] = {}
    for m, cell in zip(row, cells, strict=True):
        for s, v in cell.terms.items():
            terms[s] = terms.get(s, 0) + m * v
    return LC(terms)


def _add_scaled(base: LC, k: int, x: LC) -> LC:
    """base + k*x without the intermediate LC objects (linear layers are rebuilt every round)."""
    terms = dict(base.terms)
    for s, v in x.terms.items():
        terms[s] = terms.get(s, 0) + k * v
    return LC(terms)


def poseidon_gadget(cs: ConstraintSystem, inputs: Sequence[Value], name: str = "poseidon") -> LC:
    """In-circuit circomlib Poseidon: returns the hash as a linear combination.

    Only S-boxes cost constraints (3 each): t*8 + R_P of them, minus those whose input is constant
    (the first round's capacity cell), e.g. 240 constraints for 2 inputs. Every new signal is an S-box
    intermediate pinned by its own multiplication constraint, so no hint is left free.
    """
    n = len(inputs)
    if not 1 <= n <= MAX_INPUTS:
        raise ValueError(f"poseidon takes 1..{MAX_INPUTS} inputs, got {n}")
    cells = [as_lc(x) for x in inputs]
    if all(c.is_constant() for c in cells):
        # LC constants are already reduced mod R
        return LC.const(poseidon([c.constant_value() for c in cells]))
    p = params(n + 1)
    state = [LC(), *cells]
    with cs.scope(name):
        for r, (consts, mat) in enumerate(p.full_first):
            s = [_sbox(cs, x + c, f"f{r}[{i}]") for i, (x, c) in enumerate(zip(state, consts, strict=True))]
            state = [_mix(row, s) for row in mat]
        s0, rest = state[0], state[1:]
        for r, (k, m00, u, w) in enumerate(p.partial):
            x = _sbox(cs, s0 + k, f"p{r}")
            s0 = _mix((m00, *u), [x, *rest])
            rest = [_add_scaled(ri, wi, x) for ri, wi in zip(rest, w, strict=True)]
        state = [s0, *rest]
        base = len(p.full_first)
        for r, (consts, mat) in enumerate(p.full_last):
            s = [_sbox(cs, x + c, f"f{base + r}[{i}]") for i, (x, c) in enumerate(zip(state, consts, strict=True))]
            state = [_mix(row, s) for row in mat]
    return state[0]


def poseidon_constraint_count(n_inputs: int) -> int:
    """Constraints of :func:`poseidon_gadget` on n non-constant inputs (for circuit budgeting)."""
    t = n_inputs + 1
    return 3 * (FULL_ROUNDS * t + PARTIAL_ROUNDS[t - 2] - 1)
