#!/usr/bin/env python3
"""Write a snapshot directory (docs/product.md, "Snapshot format") of a realistic synthetic venue.

The venue is the demo's instrument table and prices (``exchange.demo_engine``: BTC, ETH and five alt perpetuals, a
90-day BTC future, BTC and ETH options at 7 and 30 days around the index); the book is what a real venue looks like:

- account sizes are heavy-tailed (log-normal equity, the top few per cent times a Pareto factor);
- most accounts hold 1-3 instruments, a long tail holds many (up to every listed instrument);
- instruments are picked by popularity (Zipf over the perpetuals, BTC-PERP first), portfolio-margin accounts hold
  options weighted towards the money (strikes near the index, the 30-day expiry more than the 7-day one);
- collateral is mostly USDT, with USDC, BTC and ETH balances (a few borrowed BTC);
- a share ``--stressed`` of the accounts sits next to maintenance margin (half just below it).

Accounts holding instruments outside the circuit's slots are written like any other: the epoch counts them as
"not representable", as it does for the demo's book.

    python scripts/gen_snapshot.py --out examples/snapshot-small --accounts 50 --seed 15
    python scripts/gen_snapshot.py --out /tmp/venue --accounts 100000 --format parquet
    python scripts/gen_snapshot.py --out /tmp/scale --accounts 1000 --venue scale   # zkmargin epoch --circuit venue
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter

import numpy as np

from zkmargin.circuits.rules.fixedpoint import MAX_QTY, PRICE_SCALE, QTY_SCALE
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.operator.exchange import ExchangeSpec, demo_engine
from zkmargin.prover.operator.snapshot import write_snapshot

LINEAR_POPULARITY = ["BTC-PERP", "ETH-PERP", "SOL-PERP", "BTC-FUT-90D", "BNB-PERP", "XRP-PERP", "DOGE-PERP", "ADA-PERP"]


def _instrument_count(rng: np.random.Generator, universe: int) -> int:
    """1-3 for ~85% of accounts (1 most often); the rest a long tail up to the whole universe."""
    if rng.random() < 0.85:
        return int(rng.choice([1, 2, 3], p=[0.55, 0.30, 0.15]))
    return int(min(universe, 3 + rng.zipf(1.5)))


def _option_weights(engine: MarginEngine, options: list[str]) -> np.ndarray:
    """Near the money and the longer expiry first: exp(-|ln K/F| / 5%) x (2 for 30 days, 1 for 7 days)."""
    snap, now = engine.snapshot, engine.snapshot.timestamp
    w = []
    for sym in options:
        inst = engine.instruments[sym]
        assert inst.strike is not None and inst.expiry is not None
        f = snap.index_prices[inst.underlying]
        days = (inst.expiry - now) / demo.DAY
        w.append(math.exp(-abs(math.log(inst.strike / f)) / 0.05) * (2.0 if days > 10 else 1.0))
    a = np.array(w)
    return a / a.sum()


def _lots(x: float, lot: int) -> int:
    """``x`` base units as a non-zero whole number of lots (``lot`` at QTY_SCALE), within the |quantity| < 2^53
    bound (a whale's leveraged position in a sub-dollar coin would exceed it)."""
    n = round(x * QTY_SCALE / lot)
    n = max(-((MAX_QTY - 1) // lot), min((MAX_QTY - 1) // lot, n))
    return (n or (1 if x >= 0 else -1)) * lot


def synthetic_book(engine: MarginEngine, n: int, seed: int = 15, stressed: float = 0.03) -> list[Account]:
    rng = np.random.default_rng(seed)
    snap, insts = engine.snapshot, engine.instruments
    linear = [s for s in LINEAR_POPULARITY if s in insts]
    lin_w = 1.0 / np.arange(1, len(linear) + 1) ** 1.3
    lin_w /= lin_w.sum()
    options = sorted(s for s, i in insts.items() if i.kind == "option")
    opt_w = _option_weights(engine, options)
    out: list[Account] = []
    for i in range(n):
        equity = float(np.exp(rng.normal(8.0, 1.4)))
        if rng.random() < 0.03:
            equity *= 1.0 + float(rng.pareto(1.2)) * 10  # whales
        equity = min(equity, 5e7)  # a USDT balance stays below 2^53 units (90 M USD), the model bound
        portfolio = bool(options) and rng.random() < 0.3
        k = _instrument_count(rng, len(linear) + (len(options) if portfolio else 0))
        n_opt = int(rng.binomial(k, 0.5)) if portfolio else 0
        n_opt = min(n_opt, len(options))
        n_lin = min(max(k - n_opt, 0 if n_opt else 1), len(linear))
        chosen = list(rng.choice(linear, size=n_lin, replace=False, p=lin_w)) if n_lin else []
        positions: list[Position] = []
        for sym in chosen:
            inst = insts[sym]
            mark = snap.marks[sym] / PRICE_SCALE
            lev = float(rng.lognormal(math.log(3.0), 0.7))
            size = equity * min(lev, 20.0) / max(n_lin, 1) / mark * (1 if rng.random() < 0.55 else -1)
            entry = demo.px(mark * float(rng.normal(1.0, 0.02)))
            positions.append(Position(instrument=sym, quantity=_lots(size, inst.contract_size), entry_price=entry))
        if n_opt:
            for sym in rng.choice(options, size=n_opt, replace=False, p=opt_w):
                size = float(rng.uniform(-1, 1)) * max(1.0, equity / 50_000)
                positions.append(Position(instrument=str(sym), quantity=_lots(size, insts[str(sym)].contract_size)))
        balances = {"USDT": demo.qt(round(equity, 2))}
        if rng.random() < 0.25:
            balances["USDC"] = demo.qt(round(float(rng.uniform(100, 5_000)), 2))
        if rng.random() < 0.3:
            balances["BTC"] = demo.qt(round(float(rng.uniform(-0.05, 0.5)), 4))
        if rng.random() < 0.2:
            balances["ETH"] = demo.qt(round(float(rng.uniform(0, 5)), 3))
        out.append(Account(account_id=f"acct-{i:06d}", margin_mode="portfolio" if portfolio else "cross",
                           balances=balances, positions=positions))  # fmt: skip
    # a share next to maintenance margin: equity = MM x factor through the USDT balance (1e8 units = 1 USD)
    for j, idx in enumerate(rng.choice(n, size=min(n, max(1, int(n * stressed))), replace=False)):
        a = out[int(idx)]
        r = engine.evaluate(a)
        if not a.positions or r.mm == 0:
            continue
        factor = 0.9 if j % 2 else 1.05
        bal = {**a.balances, "USDT": a.balances["USDT"] + (int(r.mm * factor) - r.equity) * 100}
        out[int(idx)] = a.model_copy(update={"balances": bal})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", required=True, help="snapshot directory to write")
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--now", type=int, default=demo.NOW, help="snapshot time, unix seconds (options expire after it)")
    p.add_argument("--btc", type=float, default=36_000.0, help="BTC index price, USD")
    p.add_argument("--eth", type=float, default=2_000.0, help="ETH index price, USD")
    p.add_argument("--stressed", type=float, default=0.03, help="share of accounts moved next to maintenance margin")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument(
        "--venue",
        choices=("demo", "scale"),
        default="demo",
        help="demo: the fixed-slot demo's instruments; scale: the venue-scale demo venue "
        "(prover/venue_scale.py: 715 instruments, 53 assets), for `zkmargin epoch --circuit venue`",
    )
    a = p.parse_args(argv)
    if a.accounts < 1:
        p.error("--accounts: must be at least 1")
    if a.venue == "scale":
        from zkmargin.prover import venue_scale

        engine = venue_scale.scale_engine(now=a.now)
        book = venue_scale.synthetic_book(engine, a.accounts, a.seed, a.stressed)
    else:
        engine = demo_engine(btc=a.btc, eth=a.eth, now=a.now)
        book = synthetic_book(engine, a.accounts, a.seed, a.stressed)
    write_snapshot(a.out, engine, book, a.format)
    held = Counter(min(len({p.instrument for p in acct.positions}), 10) for acct in book)
    slots = set(ExchangeSpec().instruments)
    in_slots = sum(all(p.instrument in slots for p in acct.positions) for acct in book)
    print(f"wrote {a.out}: {len(book)} accounts, {sum(len(x.positions) for x in book)} positions")
    print("instruments held: " + ", ".join(f"{k}{'+' if k == 10 else ''}: {v}" for k, v in sorted(held.items())))
    if a.venue == "demo":
        print(f"accounts within the circuit's slots ({', '.join(sorted(slots))}): {in_slots}")
    else:
        print("every account is provable by the venue circuit (zkmargin epoch --snapshot DIR --circuit venue)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
