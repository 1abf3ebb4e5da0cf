"""Black-76 prices and greeks (floats: model revaluation whose outputs are quantised before they feed a proof)."""

from __future__ import annotations

import math
from dataclasses import dataclass


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Greeks:
    price: float
    delta: float  # dV/dF
    gamma: float  # d2V/dF2
    vega: float  # dV/dsigma per 1.00 (100 vol points)
    theta: float  # dV/dt per year (negative for a long option with rates = 0)


def black76(forward: float, strike: float, t: float, vol: float, is_call: bool, rate: float = 0.0) -> Greeks:
    """Price and greeks of a European option on a forward; intrinsic value at (or past) expiry."""
    df = math.exp(-rate * t)
    if t <= 0 or vol <= 0:
        intrinsic = max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)
        d = (1.0 if forward > strike else 0.0) if is_call else (-1.0 if forward < strike else 0.0)
        return Greeks(df * intrinsic, df * d, 0.0, 0.0, 0.0)
    sq = vol * math.sqrt(t)
    d1 = (math.log(forward / strike) + 0.5 * vol * vol * t) / sq
    d2 = d1 - sq
    if is_call:
        price = df * (forward * norm_cdf(d1) - strike * norm_cdf(d2))
        delta = df * norm_cdf(d1)
    else:
        price = df * (strike * norm_cdf(-d2) - forward * norm_cdf(-d1))
        delta = -df * norm_cdf(-d1)
    gamma = df * norm_pdf(d1) / (forward * sq)
    vega = df * forward * norm_pdf(d1) * math.sqrt(t)
    theta = -df * forward * norm_pdf(d1) * vol / (2 * math.sqrt(t)) + rate * price
    return Greeks(price, delta, gamma, vega, theta)
