"""A small, realistic exchange (instruments, parameters, snapshot, random accounts) for tests, benchmarks and stress.

Brackets are Binance's published BTCUSDT ladder (0.4% to 50% MMR, cum derived by the continuity rule); haircut
tiers follow the field notes (100% up to 100M, 97.5% to 120M ...).
"""

from __future__ import annotations

import numpy as np

from zkmargin.circuits.rules.fixedpoint import PRICE_SCALE, QTY_SCALE, USD_SCALE, WIDE_DIVISOR, floor_div_prod, ppm
from zkmargin.circuits.rules.models import Account, Instrument, MarketSnapshot, Position, VolSurface
from zkmargin.circuits.rules.params import HaircutTier, LeverageBracket, RiskParameters, ScenarioGrid, make_brackets

from .vectorised import Book

NOW = 1_700_000_000  # 2023-11-14, a fixed snapshot time
DAY = 86_400

BINANCE_BTCUSDT = [  # (floor USD, cap USD, imr = 1/initial leverage, mmr)
    (0, 50_000, 1 / 125, 0.004),
    (50_000, 250_000, 1 / 100, 0.005),
    (250_000, 1_000_000, 1 / 50, 0.01),
    (1_000_000, 10_000_000, 1 / 20, 0.025),
    (10_000_000, 20_000_000, 1 / 10, 0.05),
    (20_000_000, 50_000_000, 1 / 5, 0.10),
    (50_000_000, 100_000_000, 1 / 4, 0.125),
    (100_000_000, 200_000_000, 1 / 3, 0.15),
    (200_000_000, 300_000_000, 1 / 2, 0.25),
    (300_000_000, 500_000_000, 1.0, 0.50),
]


def usd(x: float) -> int:
    return round(x * USD_SCALE)


def px(x: float) -> int:
    return round(x * PRICE_SCALE)


def qt(x: float) -> int:
    return round(x * QTY_SCALE)


ALTS = {"SOL": 60.0, "BNB": 230.0, "XRP": 0.6, "ADA": 0.38, "DOGE": 0.08}  # extra perpetuals (index prices)


def instruments(now: int = NOW) -> dict[str, Instrument]:
    """The demo venue's instruments; dated ones expire relative to ``now`` (the snapshot time)."""
    out = {
        "BTC-PERP": Instrument(symbol="BTC-PERP", kind="perpetual", underlying="BTC", contract_size=qt(0.001)),
        "ETH-PERP": Instrument(symbol="ETH-PERP", kind="perpetual", underlying="ETH", contract_size=qt(0.001)),
        "BTC-FUT-90D": Instrument(
            symbol="BTC-FUT-90D", kind="future", underlying="BTC", expiry=now + 90 * DAY, contract_size=qt(0.001)
        ),
    }
    for u in ALTS:
        sym = f"{u}-PERP"
        out[sym] = Instrument(symbol=sym, kind="perpetual", underlying=u, contract_size=qt(0.001))
    for u, spot in (("BTC", 36_000), ("ETH", 2_000)):
        for days in (7, 30):
            for k_rel in (0.9, 1.0, 1.1):
                for typ in ("call", "put"):
                    sym = f"{u}-{days}D-{round(spot * k_rel)}-{typ[0].upper()}"
                    out[sym] = Instrument(
                        symbol=sym,
                        kind="option",
                        underlying=u,
                        expiry=now + days * DAY,
                        strike=px(spot * k_rel),
                        option_type=typ,
                        contract_size=qt(0.01),
                    )
    return out


def surface(spot: float, base_vol: float, now: int = NOW) -> VolSurface:
    strikes = [px(spot * m) for m in (0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5)]
    smile = (0.25, 0.08, 0.03, 0.0, 0.02, 0.05, 0.15)
    expiries = [now + d * DAY for d in (7, 30, 90)]
    vols = [[base_vol + s + 0.05 * (2 - i) for s in smile] for i in range(3)]
    return VolSurface(strikes=strikes, expiries=expiries, vols=vols)


def snapshot(btc: float = 36_000.0, eth: float = 2_000.0, now: int = NOW) -> MarketSnapshot:
    """Marks, index/spot prices and vol surfaces at ``now`` (option marks by the published rule: Black-76)."""
    from zkmargin.circuits.rules.black76 import black76
    from zkmargin.circuits.rules.models import SECONDS_PER_YEAR

    insts = instruments(now)
    index = {"BTC": px(btc), "ETH": px(eth)}
    surfaces = {"BTC": surface(36_000, 0.50, now), "ETH": surface(2_000, 0.60, now)}
    marks = {"BTC-PERP": px(btc * 1.0002), "ETH-PERP": px(eth * 0.9998), "BTC-FUT-90D": px(btc * 1.015)}
    marks |= {f"{u}-PERP": px(p) for u, p in ALTS.items()}
    index |= {u: px(p) for u, p in ALTS.items()}
    for sym, inst in insts.items():
        if inst.kind != "option":
            continue
        assert inst.strike is not None and inst.expiry is not None
        f = index[inst.underlying] / PRICE_SCALE
        t = (inst.expiry - now) / SECONDS_PER_YEAR
        vol = surfaces[inst.underlying].vol(inst.strike, inst.expiry, now)
        marks[sym] = max(
            1, round(black76(f, inst.strike / PRICE_SCALE, t, vol, inst.option_type == "call").price * PRICE_SCALE)
        )
    return MarketSnapshot(
        timestamp=now,
        marks=marks,
        index_prices=index,
        spot_prices={"USD": px(1.0), "USDT": px(1.0), "USDC": px(0.9999), "BTC": px(btc), "ETH": px(eth)}
        | {u: px(p) for u, p in ALTS.items()},  # the oracle prices of the alt perpetuals' underlyings
        vol_surfaces=surfaces,
        funding_rates={"BTC-PERP": 100, "ETH-PERP": -50},
    )


def haircut_tiers(first: float) -> list[HaircutTier]:
    return [
        HaircutTier(value_floor=0, rate=ppm(first)),
        HaircutTier(value_floor=usd(100_000_000), rate=ppm(first - 0.025)),
        HaircutTier(value_floor=usd(120_000_000), rate=ppm(first - 0.10)),
    ]


def grid() -> ScenarioGrid:
    return ScenarioGrid(
        price_moves=[ppm(x) for x in (-0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15)],
        vol_shocks=[ppm(-0.25), 0, ppm(0.25)],
        extreme_moves=[ppm(-0.33), ppm(0.33)],
        extreme_coverage=ppm(0.35),
    )


def params() -> RiskParameters:
    br = make_brackets([(f, c, i, m) for f, c, i, m in BINANCE_BTCUSDT])
    eth: list[LeverageBracket] = make_brackets([(f, c, min(1.0, i * 1.25), m * 1.25) for f, c, i, m in BINANCE_BTCUSDT])
    return RiskParameters(
        brackets={"BTC-PERP": br, "BTC-FUT-90D": br, "ETH-PERP": eth} | {f"{u}-PERP": eth for u in ALTS},
        haircuts={
            "USD": [HaircutTier(value_floor=0, rate=1_000_000)],  # cash slot: always 100%
            "USDT": haircut_tiers(1.0),
            "USDC": haircut_tiers(1.0),
            "BTC": haircut_tiers(0.95),
            "ETH": haircut_tiers(0.90),
        },
        scenario_grids={"BTC": grid(), "ETH": grid()},
        basis_caps={"BTC-FUT-90D": 300},  # a 90-day future's mark carries ~1.5% of term basis
    )


ASSETS = ["BTC", "ETH", "USDC", "USDT"]


def random_accounts(n: int, seed: int = 7, slots: int = 8, portfolio_share: float = 0.0) -> list[Account]:
    """Plausible accounts: USDT collateral, some crypto, up to `slots` positions with realistic leverage."""
    rng = np.random.default_rng(seed)
    insts = instruments()
    linear = ["BTC-PERP", "ETH-PERP", "BTC-FUT-90D"]
    options = [s for s, i in insts.items() if i.kind == "option"]
    snap = snapshot()
    out = []
    for r in range(n):
        portfolio = rng.random() < portfolio_share
        npos = int(rng.integers(1, slots + 1))
        cash = float(np.exp(rng.normal(9.0, 1.5)))
        positions = []
        for _ in range(npos):
            if portfolio and rng.random() < 0.6:
                sym = options[int(rng.integers(len(options)))]
                opt_q = qt(round(float(rng.uniform(-2, 2)), 2)) or qt(0.01)
                positions.append(Position(instrument=sym, quantity=opt_q))
                continue
            sym = linear[int(rng.integers(len(linear)))]
            mark = snap.marks[sym] / PRICE_SCALE
            lev = float(rng.uniform(0.5, 15))
            size = round(cash * lev / npos / mark * (1 if rng.random() < 0.55 else -1), 3) or 0.001
            entry = px(mark * float(rng.normal(1.0, 0.03)))
            positions.append(Position(instrument=sym, quantity=qt(size), entry_price=entry))
        balances = {"USDT": qt(round(cash, 2))}
        if rng.random() < 0.3:
            balances["BTC"] = qt(round(float(rng.uniform(-0.5, 2.0)), 4))
        if rng.random() < 0.2:
            balances["ETH"] = qt(round(float(rng.uniform(0, 20)), 3))
        out.append(
            Account(
                account_id=f"acct-{r}",
                margin_mode="portfolio" if portfolio else "cross",
                balances=balances,
                positions=positions,
            )
        )
    return out


POPULARITY = ["BTC-PERP", "ETH-PERP", "SOL-PERP", "BTC-FUT-90D", "BNB-PERP", "XRP-PERP", "DOGE-PERP", "ADA-PERP"]


def synthetic_book(n: int, slots: int, symbols: list[str], assets: list[str], seed: int = 1) -> tuple[Book, np.ndarray]:
    """Cross-margin accounts with `slots` linear positions each, built directly as arrays (no pydantic cost)."""
    rng = np.random.default_rng(seed)
    snap = snapshot()
    linear = [i for i, s in enumerate(symbols) if not s.split("-")[1][0].isdigit()]
    linear.sort(key=lambda i: POPULARITY.index(symbols[i]) if symbols[i] in POPULARITY else len(POPULARITY))
    weights = 1.0 / np.arange(1, len(linear) + 1) ** 1.5  # Zipf-like: BTC-PERP most held, alts rarely
    inst = rng.choice(np.array(linear), size=(n, slots), p=weights / weights.sum())
    marks = np.array([snap.marks[s] for s in symbols], np.int64)[inst] / PRICE_SCALE
    cash = np.exp(rng.normal(9.0, 1.5, n))
    lev = rng.uniform(0.5, 15, (n, slots))
    size = np.round(cash[:, None] * lev / slots / marks * np.where(rng.random((n, slots)) < 0.55, 1, -1), 3)
    qty = (size * QTY_SCALE).astype(np.int64)
    entry = (marks * rng.normal(1.0, 0.03, (n, slots)) * PRICE_SCALE).astype(np.int64)
    cost = -floor_div_prod(-qty, entry, WIDE_DIVISOR)[0]  # ceil(q * entry / 1e10), exact beyond int64
    bal = np.zeros((n, len(assets)), np.int64)
    bal[:, assets.index("USDT")] = (cash * QTY_SCALE).astype(np.int64)
    bal[:, assets.index("BTC")] = (rng.uniform(-0.2, 1, n) * (rng.random(n) < 0.3) * QTY_SCALE).astype(np.int64)
    book = Book([f"a{i}" for i in range(n)], inst, qty, cost, bal, np.zeros(n, np.int64), np.zeros(n, bool))
    return book, entry
