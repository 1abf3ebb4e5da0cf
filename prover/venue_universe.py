"""A venue-scale instrument universe for the venue circuit's benchmark and tests (issue 15): 20 collateral assets,
17 perpetuals, 11 dated futures and 972 options (BTC, ETH, SOL chains: 6 expiries x strikes within +-40% of the
index, calls and puts): 1,000 instruments. Portfolio margin (16 scenarios: 7 price moves x 2 vol shocks + 2
partially covered extremes) on BTC, ETH and SOL, whose every instrument carries a risk array (986 rows).

The names follow the demo venue (``BTC-PERP``, ``BTC-FUT-90D``, ``BTC-30D-36000-C``), so the synthetic book of
``scripts/gen_snapshot.py`` trades it unchanged.
"""

from __future__ import annotations

from zkmargin.circuits.rules.black76 import black76
from zkmargin.circuits.rules.fixedpoint import PRICE_SCALE, RATE_SCALE
from zkmargin.circuits.rules.models import SECONDS_PER_YEAR, Instrument, MarketSnapshot, VolSurface
from zkmargin.circuits.rules.params import HaircutTier, ScenarioGrid, make_brackets
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine

DAY = demo.DAY
COINS = {
    "BTC": 36_000.0, "ETH": 2_000.0, "SOL": 60.0, "BNB": 230.0, "XRP": 0.6, "ADA": 0.38, "DOGE": 0.08,
    "AVAX": 20.0, "DOT": 5.0, "LINK": 14.0, "LTC": 70.0, "TRX": 0.1, "MATIC": 0.8, "ATOM": 9.0, "NEAR": 2.0,
    "APT": 7.0, "ARB": 1.1,
}  # fmt: skip
STABLES = ("USD", "USDT", "USDC")
ASSETS = (*STABLES, *COINS)  # 20
CHAINS = {"BTC": 40, "ETH": 27, "SOL": 14}  # strikes per expiry
EXPIRIES = (7, 14, 30, 60, 90, 180)
FUTURES = {"BTC": (30, 90, 180, 270), "ETH": (30, 90, 180, 270), "SOL": (30, 90, 180)}


def universe(now: int = demo.NOW) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    lot = demo.qt(0.001)
    for u in COINS:
        out[f"{u}-PERP"] = Instrument(symbol=f"{u}-PERP", kind="perpetual", underlying=u, contract_size=lot)
    for u, days in FUTURES.items():
        for d in days:
            sym = f"{u}-FUT-{d}D"
            out[sym] = Instrument(symbol=sym, kind="future", underlying=u, expiry=now + d * DAY, contract_size=lot)
    out.update(option_chains(CHAINS, COINS, now))
    return out


def option_chains(chains: dict[str, int], coins: dict[str, float], now: int) -> dict[str, Instrument]:
    """Calls and puts of each chained underlying: per expiry of EXPIRIES, ``chains[u]`` strikes evenly over
    60%-140% of the spot (4 significant digits). Shared with the venue-scale demo venue (``venue_scale``)."""
    out: dict[str, Instrument] = {}
    for u, n in chains.items():
        spot = coins[u]
        for d in EXPIRIES:
            for i in range(n):
                k = spot * (0.6 + 0.8 * i / (n - 1))
                strike = demo.px(float(f"{k:.4g}"))
                for typ in ("call", "put"):
                    sym = f"{u}-{d}D-{strike / PRICE_SCALE:g}-{typ[0].upper()}"
                    out[sym] = Instrument(
                        symbol=sym, kind="option", underlying=u, expiry=now + d * DAY, strike=strike,
                        option_type=typ, contract_size=demo.qt(0.01),
                    )  # fmt: skip
    return out


def smile_surface(spot: float, base: float, now: int) -> VolSurface:
    """A smile over 50%-150% of the spot with a small term premium (shared with ``venue_scale``)."""
    strikes = [demo.px(spot * m) for m in (0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5)]
    smile = (0.25, 0.08, 0.03, 0.0, 0.02, 0.05, 0.15)
    return VolSurface(
        strikes=strikes,
        expiries=[now + d * DAY for d in EXPIRIES],
        vols=[[base + s + 0.04 * (len(EXPIRIES) - 1 - i) / len(EXPIRIES) for s in smile] for i in range(len(EXPIRIES))],
    )


def priced_snapshot(
    insts: dict[str, Instrument], index: dict[str, int], surfaces: dict[str, VolSurface], now: int
) -> MarketSnapshot:
    """The synthetic venues' market: perpetual marks at the index, futures with a 2%/year basis, options by Black-76
    on the underlying's surface; USD, USDT and USDC spot near 1. Shared by this venue and ``venue_scale``'s."""
    marks: dict[str, int] = {}
    for sym, inst in insts.items():
        f = index[inst.underlying] / PRICE_SCALE
        if inst.kind == "perpetual":
            marks[sym] = index[inst.underlying]
        elif inst.kind == "future":
            assert inst.expiry is not None
            marks[sym] = demo.px(f * (1 + 0.02 * (inst.expiry - now) / SECONDS_PER_YEAR))
        else:
            assert inst.strike is not None and inst.expiry is not None
            t = (inst.expiry - now) / SECONDS_PER_YEAR
            vol = surfaces[inst.underlying].vol(inst.strike, inst.expiry, now)
            price = black76(f, inst.strike / PRICE_SCALE, t, vol, inst.option_type == "call").price
            marks[sym] = max(1, round(price * PRICE_SCALE))
    snap = MarketSnapshot(
        timestamp=now,
        marks=marks,
        index_prices=index,
        spot_prices={"USD": demo.px(1.0), "USDT": demo.px(1.0), "USDC": demo.px(0.9999)} | index,
        vol_surfaces=surfaces,
    )
    return snap


def venue_engine(now: int = demo.NOW) -> MarginEngine:
    """The 1,000-instrument, 20-asset venue: marks by Black-76 on the surfaces, linear marks at the index (futures
    with a small basis), Binance-style ladders (10 brackets for BTC, scaled for the rest), 3 haircut tiers."""
    insts = universe(now)
    index = {u: demo.px(p) for u, p in COINS.items()}
    surfaces = {u: smile_surface(COINS[u], 0.5 + 0.1 * i, now) for i, u in enumerate(CHAINS)}
    snap = priced_snapshot(insts, index, surfaces, now)
    btc = make_brackets(list(demo.BINANCE_BTCUSDT))
    eth = make_brackets([(f, c, min(1.0, i * 1.25), m * 1.25) for f, c, i, m in demo.BINANCE_BTCUSDT])
    alt = make_brackets([(f, c, min(1.0, i * 1.5), m * 1.5) for f, c, i, m in demo.BINANCE_BTCUSDT])
    brackets = {}
    for sym, inst in insts.items():
        if inst.kind != "option":
            brackets[sym] = btc if inst.underlying == "BTC" else eth if inst.underlying == "ETH" else alt
    haircuts = {s: [HaircutTier(value_floor=0, rate=RATE_SCALE)] for s in STABLES}
    haircuts |= {u: demo.haircut_tiers(0.95 if u == "BTC" else 0.9 if u == "ETH" else 0.8) for u in COINS}
    grid = ScenarioGrid(
        price_moves=[-150_000, -100_000, -50_000, 0, 50_000, 100_000, 150_000],
        vol_shocks=[-250_000, 250_000],
        extreme_moves=[-330_000, 330_000],
        extreme_coverage=350_000,
    )
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
