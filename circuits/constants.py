"""The fixed-point scales and bit widths shared by the margin engine and the solvency circuit: one definition.

The engine (``circuits/rules/fixedpoint.py``, ``prover/engine``) and the circuit (``circuits/solvency``) must agree
bit for bit: a scale declared twice can drift (a circuit dividing by 1e10 while the engine's products moved to
another scale would still prove, and prove the wrong thing). Every scale is therefore defined here once, each
derived scale is computed from the base ones, and every range-check width of the circuit sits next to the engine
bound it must hold (``tests/test_constants.py`` ties each width to its bound, so changing one without the other
fails a test rather than a proof).

Scales: the integer 1 means

* ``PRICE_SCALE`` 1e8: 1e-8 USD per unit of the base asset (marks, index, spot, strikes, entry prices);
* ``QTY_SCALE`` 1e8: 1e-8 unit of the base asset (quantities and balances, signed);
* ``USD_SCALE`` 1e6: 1e-6 USD, "micro-USD" (values, equity, margin, cash);
* ``RATE_SCALE`` 1e6: parts per million (mmr, imr, haircuts, ratios);
* ``RISK_SCALE`` 1e6: micro-USD of scenario P&L per 1.0 unit held (risk-array entries);
* ``BPS_SCALE`` 1e4: basis points (the linear basis cap).
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- scales

PRICE_SCALE = 10**8
QTY_SCALE = 10**8
USD_SCALE = 10**6
RATE_SCALE = 10**6
RISK_SCALE = 10**6
BPS_SCALE = 10**4
WIDE_DIVISOR = QTY_SCALE * PRICE_SCALE // USD_SCALE  # 1e10: (qty x price) -> micro-USD
SMIN_DIVISOR = PRICE_SCALE * RATE_SCALE // RISK_SCALE  # 1e8: (index x ppm) -> micro-USD per unit (short-option min)
USD_PRICE = PRICE_SCALE  # the USD cash slot's price: exactly 1 USD
USD_UNITS_PER_MICRO = QTY_SCALE // USD_SCALE  # 100: 1e8 balance units per USD / 1e6 micro-USD per USD

# ----------------------------------------------------------------------------- engine bounds (exclusive)

MAX_QTY = 2**53  # |quantity|, |balance|
MAX_PRICE = 2**53  # prices (90 million USD)
MAX_VALUE = 2**62  # |USD value| of a position or balance
ACCOUNT_LIMIT = 2**56  # an account's magnitude (see circuits/rules/fixedpoint.py)
SIGNED_OFFSET = 2**128  # field encoding offset of signed values
FIELD_LIMIT = 2**250  # field-encoded integers stay below this

# ----------------------------------------------------------------------------- circuit range-check widths

QTY_BITS = 53  # |quantity|, |balance| < 2^53 (MAX_QTY)
PRICE_BITS = 53  # 0 <= price < 2^53 (MAX_PRICE)
VALUE_BITS = 62  # position/collateral values and notionals in [0, 2^62) (MAX_VALUE)
CASH_BITS = 63  # |cash| < 2^63 micro-USD
MM_BITS = 62  # each MM part (tiered, portfolio) in [0, 2^62)
SLACK_BITS = 64  # equity - MM in [0, 2^64)
SCEN_BITS = 84  # scenario candidates (1e-8 micro-USD): |sum q * R| < ACCOUNT_LIMIT * QTY_SCALE < 2^82.6
EQUITY_BITS = 63  # |equity| < 2^63 micro-USD (ACCOUNT_LIMIT 2^56 keeps it far below)
RATE_BITS = 20  # rates (ppm) and their distance to a hard floor fit 20 bits (RATE_SCALE < 2^20)
BASIS_BITS = 10  # basis caps (bps) are below 2^10
MARK_BAND_BITS = 68  # |cap x index -+ 1e4 x (mark - index)| < 2^10 * 2^53 + 2^14 * 2^53 < 2^68
HCOLL_OFFSET_BITS = 96  # haircut numerators (1e12 scale) shifted by 1e6 * 2^96 before flooring: |sum| << 2^96
