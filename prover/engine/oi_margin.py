"""Open-interest-scaled initial margin (dYdX v4 "OIMF"), exact integers and a bit-identical numpy path.

dYdX's published formula (help.dydx.trade/en/articles/228341-open-interest-initial-margin-fraction and
docs.dydx.exchange "Margin", section "Open-Interest-Based IMF")::

    open_notional  = open_interest * oracle_price
    scaling_factor = (open_notional - lower_cap) / (upper_cap - lower_cap)
    IMF_increase   = scaling_factor * (1 - base_IMF)
    effective_IMF  = min(base_IMF + max(IMF_increase, 0), 100%)

(no increase when lower_cap = upper_cap = 0; the maintenance fraction does not move with open interest). The
reference implementation is dydxprotocol/v4-chain `LiquidityTier.GetInitialMarginQuoteQuantums`
(protocol/x/perpetuals/types/liquidity_tier.go), whose test vectors `tests/engine/test_engine_coverage_oimf.py`
reproduces.

Fixed point, rounding against the account. Everything is an integer: notional and caps in micro-USD, rates in ppm.
The initial margin of a position of notional N is ONE rational rounded up::

    IM = ceil(N * (base * (hi - lo) + (1e6 - base) * clamp(on - lo, 0, hi - lo)) / (1e6 * (hi - lo)))

which is exactly what dYdX computes for the quote quantums (its rational IMF times the notional, rounded up).
`effective_imf_ppm` is the IMF as a display / governance number and is rounded UP to a whole ppm (dYdX's
`GetAdjustedInitialMarginPpm` rounds it down: one ppm in the account's favour, which a proof must not take).
The division is by a public constant of the tier (hi - lo), not a power of ten: in a circuit it is a quotient and
remainder hint with a range check on the remainder, like the powers of ten.
"""

from __future__ import annotations

import math

import numpy as np

from zkmargin.circuits.rules.fixedpoint import MAX_VALUE, RATE_SCALE, IntArray, ceil_div, floor_div_prod
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.rules.params import OILiquidityTier  # governed: RiskParameters.oi_tiers

from .margin import MarginEngine, tiered_requirements


def imf_rational(tier: OILiquidityTier, open_notional: int) -> tuple[int, int]:
    """(numerator, denominator) of the effective IMF as a fraction of 1 (exact)."""
    if open_notional < 0:
        raise ValueError("open_notional: must be >= 0")
    if not tier.scaled:
        return tier.base_imf, RATE_SCALE
    span = tier.open_notional_upper_cap - tier.open_notional_lower_cap
    over = min(max(open_notional - tier.open_notional_lower_cap, 0), span)
    return tier.base_imf * span + (RATE_SCALE - tier.base_imf) * over, RATE_SCALE * span


def effective_imf_ppm(tier: OILiquidityTier, open_notional: int) -> int:
    """Effective IMF in ppm, rounded up (never below the rational value; at most 1e6)."""
    num, den = imf_rational(tier, open_notional)
    return ceil_div(num * RATE_SCALE, den)


def oi_initial_margin(tier: OILiquidityTier, notional: int, open_notional: int) -> int:
    """IM (micro-USD) of a position of `notional` micro-USD at the market's open notional, rounded up."""
    if notional < 0:
        raise ValueError("notional: must be >= 0")
    num, den = imf_rational(tier, open_notional)
    return ceil_div(notional * num, den)


def oi_maintenance_margin(tier: OILiquidityTier, notional: int) -> int:
    """MM = notional x MMF (does not scale with open interest), rounded up."""
    return ceil_div(notional * tier.base_imf * tier.maintenance_fraction, RATE_SCALE * RATE_SCALE)


def reduced_imf(tier: OILiquidityTier, open_notional: int) -> tuple[int, int]:
    """The IMF rational in lowest terms."""
    num, den = imf_rational(tier, open_notional)
    g = math.gcd(num, den)
    return num // g, den // g


def int64_path_ok(num: int, den: int, top: int) -> bool:
    """Whether floor_div_prod's contract holds (divisor <= 2^60, products <= 2^110) for notionals up to `top`."""
    return den <= 2**60 and top * num <= 2**110


def oi_initial_margin_np(tier: OILiquidityTier, notional: IntArray, open_notional: int) -> IntArray:
    """Vectorised `oi_initial_margin` over an int64 array of notionals (micro-USD, each in [0, 2^62)): bit-identical.

    The IMF is one rational num/den for the whole market (same open notional), reduced by its gcd. When
    den <= 2^60 and max(notional) x num <= 2^110 (floor_div_prod's contract: float estimate corrected by the exact
    residue modulo 2^64) the int64 path runs; otherwise the same formula runs on Python ints (object arrays), so the
    result is exact either way. ceil(x) = -floor(-x).
    """
    num, den = reduced_imf(tier, open_notional)
    n = np.asarray(notional, dtype=np.int64)
    if n.size and (int(n.min()) < 0 or int(n.max()) >= MAX_VALUE):
        raise ValueError("notional: outside [0, 2^62)")
    top = int(n.max()) if n.size else 0
    if int64_path_ok(num, den, top):
        q, _ = floor_div_prod(-n, np.full_like(n, num), den)
        return -q
    exact = [-((-int(x) * num) // den) for x in n.ravel()]
    return np.array(exact, dtype=np.int64).reshape(n.shape)


def oi_account_requirements(
    engine: MarginEngine,
    acct: Account,
    tiers: dict[str, OILiquidityTier] | None,
    open_notional: dict[str, int],
) -> tuple[int, int]:
    """(IM, MM) of a cross account (micro-USD) where the instruments in `tiers` (None: the governed
    ``engine.params.oi_tiers``) are margined dYdX-style.

    For a symbol with a tier: IM_i = ceil(N_i x IMF(open notional of the symbol)), MM_i = ceil(N_i x MMF), each
    rounded up on its own; every other linear position keeps its leverage brackets (one ceil over their sum, as
    `MarginEngine.evaluate`). N_i is the engine's notional ceil(|q| mark / 1e10). Options / portfolio accounts are
    refused (their IM comes from risk arrays)."""
    if acct.margin_mode != "cross":
        raise ValueError("OI-scaled margin is defined here for cross accounts")
    if tiers is None:
        tiers = engine.params.oi_tiers
    im = mm = im_num = mm_num = 0
    for p in acct.positions:
        if engine.instruments[p.instrument].kind == "option":
            raise ValueError("OI-scaled margin: options are margined by risk arrays")
        n = engine._linear(p)[1]
        t = tiers.get(p.instrument)
        if t is not None:
            im += oi_initial_margin(t, n, open_notional.get(p.instrument, 0))
            mm += oi_maintenance_margin(t, n)
        else:
            i_n, m_n = tiered_requirements(engine.params.brackets[p.instrument], n)
            im_num += i_n
            mm_num += m_n
    return im + ceil_div(im_num, RATE_SCALE), mm + ceil_div(mm_num, RATE_SCALE)
