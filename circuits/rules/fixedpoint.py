"""Fixed-point conventions of the margin engine: the integers the circuits will reproduce bit for bit.

Scales (every proof-feeding quantity is a Python/numpy integer at one of these):

=================  ==========  ==========================================================
quantity           scale       meaning of the integer 1
=================  ==========  ==========================================================
price (mark, index,   1e8      1e-8 USD per 1 unit of the base asset (PRICE_SCALE)
spot, strike, entry)
quantity / balance    1e8      1e-8 unit of the base asset (QTY_SCALE); signed
USD value             1e6      1e-6 USD, "micro-USD" (USD_SCALE); signed
rate (mmr, imr,       1e6      parts per million (RATE_SCALE)
haircut, funding,
MM/IM ratio, rho)
risk array entry      1e6      micro-USD of scenario P&L per 1.0 unit (1e8 qty) held
=================  ==========  ==========================================================

A product quantity x price is at 1e16; turning it into USD (1e6) divides by WIDE_DIVISOR = 1e10. Every division
in the engine is by a public constant power of ten, and each one is a quotient/remainder hint plus a range check
in the circuit. Where each floor/ceil happens (rounding always against the account):

* position value at mark  V = floor(q * mark / 1e10)            one division per position; a long's asset is
  rounded down, a short's liability (negative V) is rounded up. Options use the option mark price the same way.
* position notional       N = ceil(|q| * mark / 1e10)           derived from the same division: for q >= 0,
  N = V + (remainder != 0); for q < 0, N = -V. No second division.
* entry value (cost)      C = ceil(q * entry / 1e10)             fixed once when the position is booked (an edge
  input, not recomputed per tick), so unrealised PnL = V - C needs no division.
* collateral value        B = floor(b * spot / 1e10)            one division per asset balance (b signed).
* haircut value           H = floor(sum_k rate_k * slice_k / 1e6) over the value tiers of every positive balance,
  summed over the account's assets first: one division per account. Negative balances count at B (no haircut).
* tiered MM / IM          ceil(sum_i (N_i * mmr_i - cum_i * 1e6) / 1e6) per account (IM: N_i * imr_i, no cum).
* portfolio scenario loss L_s = ceil(-sum_i q_i * R_i[s] / 1e8)   one division per account and scenario.
* MM from IM              ceil(IM * mm_ratio / 1e6).
* funding / VM            floor(-q * mark * rate / 1e16) credited, i.e. a payment rounded up.

Bounds (checked at the edge; a violation is a validation error naming the field):

* |quantity|, |balance| < 2^53;  0 < price < 2^53 (= 90 million USD);  rates in [0, 1e6] (haircut, mmr...).
* |q * price / 1e10| < 2^62 for every position and balance (= 4.6e12 USD).
* per account, the magnitude M = sum |q| mark / 1e10 + sum |entry value| + sum |balance| spot / 1e10 + |realised|
  + sum |q| max_s |R[s]| / 1e8 + sum |q| short_min / 1e8 must stay below ACCOUNT_LIMIT = 2^56 (7.2e10 USD): then
  equity, IM, MM and shortfall are all below 2^62 and no int64 sum can wrap. Both paths compute M in float64 the
  same way and reject the account (ValueError naming it) beyond the limit.

The vectorised numpy path never lets int64 silently wrap into a wrong answer: products that exceed int64
(q * price reaches 2^106) are computed with :func:`floor_div_dot`, which takes a float64 estimate of the quotient and
corrects it with the exact residue computed modulo 2^64. Why that is exact: each float product and the float sum
carry a relative error below n * 2^-51, so with n * max|a_j b_j| <= 2^110, divisor D <= 2^60 and |result| < 2^62
the estimate Q0 = floor(S_float / D) satisfies |S - Q0 * D| < 2^59 + 2D < 2^62. The true residue S - Q0 * D is
therefore representable, so its value modulo 2^64 (what wrapping int64 arithmetic yields) is the value itself, and
Q0 + floor(residue / D) is the exact floor. Hypothesis tests compare this against Python ints on
extreme values.

Field encoding (for Poseidon commitments): every integer is encoded as a non-negative integer < 2^250; signed values
are offset by SIGNED_OFFSET = 2^128 (valid for |x| < 2^128).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from zkmargin.circuits import constants as _c

# The scales and bounds are defined once, for the engine and the circuit alike (circuits/constants.py).
ACCOUNT_LIMIT = _c.ACCOUNT_LIMIT
FIELD_LIMIT = _c.FIELD_LIMIT
MAX_PRICE = _c.MAX_PRICE
MAX_QTY = _c.MAX_QTY
MAX_VALUE = _c.MAX_VALUE
PRICE_SCALE = _c.PRICE_SCALE
QTY_SCALE = _c.QTY_SCALE
RATE_SCALE = _c.RATE_SCALE
RISK_SCALE = _c.RISK_SCALE
SIGNED_OFFSET = _c.SIGNED_OFFSET
USD_SCALE = _c.USD_SCALE
WIDE_DIVISOR = _c.WIDE_DIVISOR

IntArray = npt.NDArray[np.int64]


def floor_div(a: int, d: int) -> int:
    """Exact floor division (Python's // already floors toward -inf); named so call sites say what they mean."""
    return a // d


def ceil_div(a: int, d: int) -> int:
    """Exact ceiling division for a positive divisor."""
    return -((-a) // d)


def value_floor(q: int, price: int) -> int:
    """Signed USD value of q units at price, rounded down (against the holder for both signs)."""
    return (q * price) // WIDE_DIVISOR


def notional_ceil(q: int, price: int) -> int:
    """|q| x price in USD, rounded up (requirements grow with notional)."""
    return ceil_div(abs(q) * price, WIDE_DIVISOR)


def to_field(x: int, signed: bool = False) -> int:
    """Encode an integer as a non-negative field input < 2^250 (signed values offset by 2^128)."""
    v = x + SIGNED_OFFSET if signed else x
    if not 0 <= v < FIELD_LIMIT or (signed and abs(x) >= SIGNED_OFFSET):
        raise ValueError(f"integer {x} outside the field-encodable range")
    return v


def ppm(x: float) -> int:
    """A rate given as a fraction -> parts per million, rounded to nearest (only for configuration literals)."""
    return round(x * RATE_SCALE)


# ---------------------------------------------------------------- vectorised exact arithmetic


def rowsum(x: np.ndarray) -> np.ndarray:
    """Sum over the last axis (np.einsum is ~4x faster than .sum(axis=-1) on narrow rows; int64 wraps like sum)."""
    return np.einsum("...j->...", x)


def floor_div_dot(a: IntArray, b: IntArray, d: int) -> tuple[IntArray, IntArray]:
    """Row-wise exact floor(sum_j a[..., j] * b[..., j] / d) and the residue, for int64 arrays.

    The products may exceed int64 (n * max|a_j b_j| <= 2^110); the result must fit (|result| < 2^62), d <= 2^60.
    Returns (quotient, remainder) with 0 <= remainder < d. See the module docstring for why this is exact.
    """
    if a.shape != b.shape:
        raise ValueError("shape mismatch")
    with np.errstate(over="ignore"):
        est = rowsum(a.astype(np.float64) * b.astype(np.float64)) / float(d)
        q0 = np.floor(est).astype(np.int64)
        exact_mod = rowsum(a * b)  # int64, wraps modulo 2^64: deliberate
        resid = exact_mod - q0 * np.int64(d)  # true residue is small, so the wrapped value is exact
    corr = resid // np.int64(d)
    return q0 + corr, resid - corr * np.int64(d)


def floor_div_prod(
    a: IntArray, b: IntArray, d: int, est: npt.NDArray[np.float64] | None = None
) -> tuple[IntArray, IntArray]:
    """Element-wise exact floor(a * b / d) and remainder for int64 arrays (same contract as floor_div_dot, n = 1).

    `est` may pass a precomputed float64 a * b / d (any estimate within the documented error works: the residue
    correction makes the result exact regardless)."""
    with np.errstate(over="ignore"):
        if est is None:
            est = a.astype(np.float64) * b.astype(np.float64) / float(d)
        q0 = np.floor(est).astype(np.int64)
        resid = a * b - q0 * np.int64(d)  # wraps modulo 2^64 in the products; the true residue is small
    corr = resid // np.int64(d)
    return q0 + corr, resid - corr * np.int64(d)
