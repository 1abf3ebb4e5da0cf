"""The demo exchange the operator proves: engine configuration, circuit slots and a realistic account book.

The proving shape is deliberately smaller than the benchmark shape of docs/circuit.md so that a 1,000-account epoch
(setup included) fits the demo budget on 2 cores: 4 collateral assets (USDT, USDC, BTC, ETH; 2 haircut tiers),
4 position slots (BTC and ETH perpetuals, a BTC call and a BTC put; 3 leverage brackets, the first three of
Binance's BTCUSDT ladder, the last kept above its cap), a 6-scenario BTC portfolio grid (price -15/0/+15% x vol
-25/+25%). Accounts outside those slots are what the operator reports as "not representable".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zkmargin.circuits.rules.fixedpoint import PRICE_SCALE, RATE_SCALE
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import HaircutTier, ScenarioGrid, make_brackets
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays

from ..engine import demo
from ..engine.margin import MarginEngine

SLOTS = ("BTC-PERP", "ETH-PERP", "BTC-30D-36000-C", "BTC-30D-36000-P")
ASSETS = ("USDT", "USDC", "BTC", "ETH", "USD")  # USD: each account's cash (realised PnL, isolated margins)
HAIRCUTS = {"USDT": 1.0, "USDC": 1.0, "BTC": 0.95, "ETH": 0.90}
DEMO_BATCH = 16  # accounts per batch: 68,906 constraints, a 2^17 domain (docs/product.md)


@dataclass(frozen=True)
class ExchangeSpec:
    """Which instruments and assets the circuit's slots hold, and the batch size (together: the shape)."""

    instruments: tuple[str, ...] = SLOTS
    assets: tuple[str, ...] = ASSETS
    accounts_per_batch: int = DEMO_BATCH


def demo_engine(
    btc: float = 36_000.0, eth: float = 2_000.0, n_brackets: int = 3, tiers: int = 2, now: int = demo.NOW
) -> MarginEngine:
    """Demo instruments and snapshot at the given index prices and time, with the trimmed parameter set above.
    A venue values options at the time it attests: pass the chain's clock as ``now`` (the audit checks it)."""
    insts = demo.instruments(now)
    snap = demo.snapshot(btc, eth, now)
    ladder = demo.BINANCE_BTCUSDT[:n_brackets]
    btc_br = make_brackets([(float(f), float(c), i, m) for f, c, i, m in ladder])
    alt_br = make_brackets([(f, c, min(1.0, i * 1.25), m * 1.25) for f, c, i, m in ladder])
    grid = ScenarioGrid(price_moves=[-150_000, 0, 150_000], vol_shocks=[-250_000, 250_000])
    params = demo.params().model_copy(
        update={
            "brackets": {"BTC-PERP": btc_br, "BTC-FUT-90D": btc_br, "ETH-PERP": alt_br}
            | {f"{u}-PERP": alt_br for u in demo.ALTS},
            "haircuts": {a: demo.haircut_tiers(r)[:tiers] for a, r in HAIRCUTS.items()}
            | {"USD": [HaircutTier(value_floor=0, rate=RATE_SCALE)]},
            "scenario_grids": {"BTC": grid},
        }
    )
    ra = build_risk_arrays(insts, snap, params.scenario_grids, params.short_option_min)
    return MarginEngine(insts, params, snap, ra)


def _usdt_units(micro_usd: int) -> int:
    """USDT balance (1e8 units at price 1.0) worth ``micro_usd``: value = floor(b * 1e8 / 1e10) = b / 100."""
    return micro_usd * 100


def demo_accounts(engine: MarginEngine, n: int, seed: int = 7, stressed: float = 0.04) -> list[Account]:
    """A realistic book: multi-asset collateral; cross accounts with perpetuals; portfolio accounts with BTC options
    hedged by perpetuals; a share ``stressed`` moved near maintenance margin (half of them below it); and a few
    accounts the circuit cannot represent (an alt perpetual outside the slots, two positions in one instrument)."""
    rng = np.random.default_rng(seed)
    snap = engine.snapshot
    out: list[Account] = []
    for i in range(n):
        aid = f"user-{i:05d}"
        portfolio = rng.random() < 0.3
        cash = float(np.exp(rng.normal(8.5, 1.2)))
        bal = {"USDT": demo.qt(round(cash, 2))}
        if rng.random() < 0.25:
            bal["USDC"] = demo.qt(round(float(rng.uniform(100, 5_000)), 2))
        if rng.random() < 0.3:
            bal["BTC"] = demo.qt(round(float(rng.uniform(-0.05, 0.5)), 4))
        if rng.random() < 0.2:
            bal["ETH"] = demo.qt(round(float(rng.uniform(0, 5)), 3))
        pos: list[Position] = []
        for sym in ("BTC-PERP", "ETH-PERP"):
            if rng.random() < (0.8 if sym == "BTC-PERP" else 0.45):
                mark = snap.marks[sym] / PRICE_SCALE
                size = round(cash * float(rng.uniform(0.3, 8)) / mark * (1 if rng.random() < 0.55 else -1), 3)
                entry = demo.px(mark * float(rng.normal(1.0, 0.02)))
                pos.append(Position(instrument=sym, quantity=demo.qt(size) or demo.qt(0.001), entry_price=entry))
        if portfolio:
            for sym in SLOTS[2:]:
                if rng.random() < 0.6:
                    pos.append(Position(instrument=sym, quantity=demo.qt(round(float(rng.uniform(-1, 1)), 2) or 0.01)))
        out.append(
            Account(account_id=aid, margin_mode="portfolio" if portfolio else "cross", balances=bal, positions=pos)
        )
    # move a share of the book next to maintenance margin: equity = MM * factor via the USDT balance
    k = max(2, int(n * stressed))
    for j, i in enumerate(rng.choice(n, size=min(k, n), replace=False)):
        a = out[int(i)]
        if not a.positions:
            continue
        r = engine.evaluate(a)
        if r.mm == 0:
            continue
        factor = 0.9 if j % 2 else 1.02  # below MM (cannot be proven) or just above it (margin call)
        bal = dict(a.balances)
        bal["USDT"] = bal["USDT"] + _usdt_units(int(r.mm * factor) - r.equity)
        out[int(i)] = a.model_copy(update={"balances": bal})
    # accounts outside the circuit's slots (reported, never silently dropped)
    for i in range(min(3, n // 300)):  # ~0.3% of the book, under the demo registry's 0.5% tolerance
        a = out[-1 - i]
        extra = (
            [Position(instrument="SOL-PERP", quantity=demo.qt(10), entry_price=snap.marks["SOL-PERP"])]
            if i < 2
            else [Position(instrument="BTC-PERP", quantity=demo.qt(0.01), entry_price=snap.marks["BTC-PERP"])] * 2
        )
        bal = {**a.balances, "USDT": a.balances["USDT"] + demo.qt(5_000)}
        out[-1 - i] = a.model_copy(update={"positions": [*a.positions, *extra], "balances": bal})
    return out
