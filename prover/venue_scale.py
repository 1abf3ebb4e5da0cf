"""The demo venue at venue scale (issue 15): 50 underlyings, 200 perpetuals, 11 dated futures, 504 options, 53 priced
assets of which 20 are accepted as collateral, and its synthetic book (heavy-tailed, most accounts holding 1-3
instruments, a long tail holding dozens, option chains around the index).

Why a module beside ``venue_universe.py``: that one is the benchmark's fixed 1,000-instrument table (docs/circuit.md
quotes its figures); this one is what ``zkmargin demo --circuit venue`` proves, sized to the issue's floor for a
demo (>= 200 perpetuals over >= 50 underlyings, >= 500 options, >= 20 collateral assets) so that the table, which
every batch pays for, stays as small as the floor allows.

* perpetuals: four linear listings per underlying (USDT- and USDC-quoted, standard and mini contract size);
  Binance-style ladders (BTC's, ETH's x 1.25, the rest x 1.5);
* futures: BTC and ETH at 30/90/180/270 days, SOL at 30/90/180 (basis cap 3%);
* options: BTC (21 strikes), ETH (14), SOL (7) x 6 expiries x call/put within +-40% of the index, marked by
  Black-76 on a smile; portfolio margin on BTC, ETH and SOL with a 10-scenario grid (5 price moves x 2 vol shocks);
* assets: USD (each account's cash), USDT, USDC and the 50 underlyings (each underlying's oracle price is public);
  collateral: the three stables at 100% and the 17 largest coins with 3 haircut tiers; the other 33 coins are priced
  (their perpetuals' index) but not accepted as collateral (rate 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from zkmargin.circuits.rules.fixedpoint import MAX_QTY, PRICE_SCALE, QTY_SCALE, RATE_SCALE
from zkmargin.circuits.rules.models import Account, Instrument, Position
from zkmargin.circuits.rules.params import HaircutTier, ScenarioGrid, make_brackets
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays

from .engine import demo
from .engine.margin import MarginEngine
from .venue_universe import option_chains, priced_snapshot, smile_surface

DAY = demo.DAY
MAJOR = {
    "BTC": 36_000.0, "ETH": 2_000.0, "SOL": 60.0, "BNB": 230.0, "XRP": 0.6, "ADA": 0.38, "DOGE": 0.08,
    "AVAX": 20.0, "DOT": 5.0, "LINK": 14.0, "LTC": 70.0, "TRX": 0.1, "MATIC": 0.8, "ATOM": 9.0, "NEAR": 2.0,
    "APT": 7.0, "ARB": 1.1,
}  # fmt: skip
MINOR = {
    "FIL": 4.0, "ETC": 18.0, "XLM": 0.12, "ICP": 4.5, "HBAR": 0.06, "VET": 0.02, "INJ": 15.0, "OP": 1.6, "SUI": 0.5,
    "SEI": 0.15, "TIA": 5.0, "RNDR": 3.0, "IMX": 0.9, "STX": 0.6, "AAVE": 90.0, "UNI": 5.0, "MKR": 1_400.0,
    "GRT": 0.12, "ALGO": 0.11, "EGLD": 35.0, "SAND": 0.4, "MANA": 0.4, "AXS": 6.0, "FTM": 0.3, "RUNE": 4.0,
    "KAS": 0.1, "LDO": 2.2, "CRV": 0.5, "SNX": 2.8, "DYDX": 2.5, "JUP": 0.5, "PYTH": 0.3, "ORDI": 20.0,
}  # fmt: skip
COINS = MAJOR | MINOR  # 50 underlyings
STABLES = ("USD", "USDT", "USDC")
ASSETS = (*STABLES, *COINS)  # 53 priced assets, asset id = position + 1
COLLATERAL = (*STABLES, *MAJOR)  # 20 accepted as collateral
CHAINS = {"BTC": 21, "ETH": 14, "SOL": 7}  # strikes per expiry
FUTURES = {"BTC": (30, 90, 180, 270), "ETH": (30, 90, 180, 270), "SOL": (30, 90, 180)}
PERP_LISTINGS = (("PERP", 1.0), ("USDC-PERP", 1.0), ("MINI-PERP", 0.1), ("USDC-MINI-PERP", 0.1))


def perp_symbols(u: str) -> list[str]:
    return [f"{u}-{suffix}" for suffix, _ in PERP_LISTINGS]


def universe(now: int = demo.NOW) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    for u in COINS:
        for suffix, size in PERP_LISTINGS:
            sym = f"{u}-{suffix}"
            out[sym] = Instrument(symbol=sym, kind="perpetual", underlying=u, contract_size=demo.qt(0.001 * size))
    for u, days in FUTURES.items():
        for d in days:
            sym = f"{u}-FUT-{d}D"
            out[sym] = Instrument(symbol=sym, kind="future", underlying=u, expiry=now + d * DAY,
                                  contract_size=demo.qt(0.001))  # fmt: skip
    out.update(option_chains(CHAINS, COINS, now))
    return out


def scale_engine(now: int = demo.NOW, index_prices: Mapping[str, int] | None = None) -> MarginEngine:
    """The venue-scale demo venue valued at ``now`` (module docstring); ``index_prices`` overrides some underlyings'
    index prices (1e8 scale; the demo's live flip attests the next epoch at a moved price)."""
    insts = universe(now)
    index = {u: demo.px(p) for u, p in COINS.items()} | dict(index_prices or {})
    surfaces = {u: smile_surface(COINS[u], 0.5 + 0.1 * i, now) for i, u in enumerate(CHAINS)}
    snap = priced_snapshot(insts, index, surfaces, now)
    btc = make_brackets(list(demo.BINANCE_BTCUSDT))
    eth = make_brackets([(f, c, min(1.0, i * 1.25), m * 1.25) for f, c, i, m in demo.BINANCE_BTCUSDT])
    alt = make_brackets([(f, c, min(1.0, i * 1.5), m * 1.5) for f, c, i, m in demo.BINANCE_BTCUSDT])
    brackets = {
        sym: btc if inst.underlying == "BTC" else eth if inst.underlying == "ETH" else alt
        for sym, inst in insts.items()
        if inst.kind != "option"
    }
    haircuts = {s: [HaircutTier(value_floor=0, rate=RATE_SCALE)] for s in STABLES}
    haircuts |= {u: demo.haircut_tiers(0.95 if u == "BTC" else 0.9 if u == "ETH" else 0.8) for u in MAJOR}
    # nodes at +-10 % with a zero vol shock: the operator's default price box (issue 16) values options there
    grid = ScenarioGrid(price_moves=[-150_000, -100_000, 0, 100_000, 150_000], vol_shocks=[-250_000, 0, 250_000])
    params = demo.params().model_copy(
        update={
            "brackets": brackets,
            "haircuts": haircuts,
            "scenario_grids": {u: grid for u in CHAINS},
            "basis_caps": {s: 300 for s, i in insts.items() if i.kind == "future"},
        }
    )
    ra = build_risk_arrays(insts, snap, params.scenario_grids, params.short_option_min)
    return MarginEngine(insts, params, snap, ra)


# ----------------------------------------------------------------------------- the synthetic book


def _lots(x: float, lot: int) -> int:
    """``x`` base units as a non-zero whole number of lots within |quantity| < 2^53."""
    n = round(x * QTY_SCALE / lot)
    n = max(-((MAX_QTY - 1) // lot), min((MAX_QTY - 1) // lot, n))
    return (n or (1 if x >= 0 else -1)) * lot


def instrument_count(rng: np.random.Generator, universe_size: int) -> int:
    """1-3 instruments for ~85% of accounts (1 most often); the rest a Zipf tail (dozens for a few)."""
    if rng.random() < 0.85:
        return int(rng.choice([1, 2, 3], p=[0.55, 0.30, 0.15]))
    return int(min(universe_size, 3 + rng.zipf(1.6)))


def synthetic_book(engine: MarginEngine, n: int, seed: int = 15, stressed: float = 0.03,
                   max_instruments: int = 60) -> list[Account]:  # fmt: skip
    """``n`` accounts: heavy-tailed sizes (log-normal equity, 3% whales with a Pareto factor), instruments by
    popularity (Zipf over the perpetuals, majors first), portfolio accounts (30%) holding options weighted to the
    money, collateral over the 20 collateral assets (mostly USDT), a share ``stressed`` next to maintenance margin
    (half just below). ``max_instruments`` caps the tail (at P = 4 a 60-instrument account needs 15 leaves)."""
    rng = np.random.default_rng(seed)
    snap, insts = engine.snapshot, engine.instruments
    linear = [s for u in COINS for s in perp_symbols(u) if s in insts]
    linear += [s for s, i in insts.items() if i.kind == "future"]
    lin_w = 1.0 / np.arange(1, len(linear) + 1) ** 1.1
    lin_w /= lin_w.sum()
    options = sorted(s for s, i in insts.items() if i.kind == "option")
    opt_w = np.array([
        math.exp(-abs(math.log((insts[s].strike or 1) / snap.index_prices[insts[s].underlying])) / 0.08)
        for s in options
    ])  # fmt: skip
    opt_w /= opt_w.sum()
    coins = [a for a in COLLATERAL if a not in STABLES]
    out: list[Account] = []
    for i in range(n):
        equity = float(np.exp(rng.normal(8.0, 1.4)))
        if rng.random() < 0.03:
            equity *= 1.0 + float(rng.pareto(1.2)) * 10
        equity = min(equity, 5e7)
        portfolio = rng.random() < 0.3
        k = min(max_instruments, instrument_count(rng, len(linear) + (len(options) if portfolio else 0)))
        n_opt = min(int(rng.binomial(k, 0.5)) if portfolio else 0, len(options))
        n_lin = min(max(k - n_opt, 0 if n_opt else 1), len(linear))
        positions: list[Position] = []
        for sym in rng.choice(linear, size=n_lin, replace=False, p=lin_w) if n_lin else []:
            sym = str(sym)
            mark = snap.marks[sym] / PRICE_SCALE
            lev = float(rng.lognormal(math.log(3.0), 0.7))
            size = equity * min(lev, 20.0) / max(n_lin, 1) / mark * (1 if rng.random() < 0.55 else -1)
            entry = demo.px(mark * float(rng.normal(1.0, 0.02)))
            positions.append(
                Position(instrument=sym, quantity=_lots(size, insts[sym].contract_size), entry_price=entry)
            )
        for sym in rng.choice(options, size=n_opt, replace=False, p=opt_w) if n_opt else []:
            size = float(rng.uniform(-1, 1)) * max(1.0, equity / 50_000)
            positions.append(Position(instrument=str(sym), quantity=_lots(size, insts[str(sym)].contract_size)))
        balances = {"USDT": demo.qt(round(equity, 2))}
        if rng.random() < 0.25:
            balances["USDC"] = demo.qt(round(float(rng.uniform(100, 5_000)), 2))
        for _ in range(int(rng.poisson(0.6))):
            coin = coins[min(int(rng.zipf(1.5)) - 1, len(coins) - 1)]
            value = float(rng.uniform(0.02, 0.3)) * equity
            borrow = rng.random() < 0.05
            balances[coin] = demo.qt(round((-0.1 if borrow else 1.0) * value / COINS[coin], 6)) or demo.qt(0.001)
        out.append(Account(account_id=f"acct-{i:06d}", margin_mode="portfolio" if portfolio else "cross",
                           balances=balances, positions=positions))  # fmt: skip
    for j, idx in enumerate(rng.choice(n, size=min(n, max(1, int(n * stressed))), replace=False)):
        a = out[int(idx)]
        r = engine.evaluate(a)
        if not a.positions or r.mm == 0:
            continue
        factor = 0.9 if j % 2 else 1.05
        bal = {**a.balances, "USDT": a.balances["USDT"] + (int(r.mm * factor) - r.equity) * 100}
        out[int(idx)] = a.model_copy(update={"balances": bal})
    return out
