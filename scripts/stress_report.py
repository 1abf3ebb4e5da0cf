#!/usr/bin/env python3
"""Stress report: the 2020-03-12 day move (from the committed history) and a hypothetical grid applied to a
synthetic exchange, plus a liquidation cascade with price impact. Writes docs/stress_report.png."""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from zkmargin.circuits.rules.calibration import load_history
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.stress import apply_shock, cascade, grid_stress, margin_ratios
from zkmargin.prover.engine.vectorised import Book, VectorEngine

OUT = Path(__file__).resolve().parent.parent / "docs" / "stress_report.png"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    dates, px = load_history()
    i = dates.index("2020-03-12")
    day = {u: float(px[u][i] / px[u][i - 1] - 1) for u in ("BTC", "ETH")}
    print(f"2020-03-12 close-to-close: BTC {day['BTC']:+.1%}, ETH {day['ETH']:+.1%}")

    ve = VectorEngine(demo.instruments(), demo.params(), demo.snapshot(), demo.ASSETS)
    full, _ = demo.synthetic_book(args.accounts, 8, ve.symbols, demo.ASSETS)
    base_all = ve.revalue(full)
    keep = np.flatnonzero(base_all.status == 0)  # start from accounts that are healthy before the shock
    book = Book(
        [full.account_ids[k] for k in keep],
        full.inst[keep],
        full.qty[keep],
        full.cost[keep],
        full.bal[keep],
        full.realised[keep],
        full.portfolio[keep],
    )
    base = ve.revalue(book)
    print(f"{len(keep):,} healthy accounts (of {args.accounts:,}); total MM {base.mm.sum() / 1e6:,.0f} USD")

    shocked, summ = apply_shock(ve, book, day)
    print(
        f"historical shock: {summ.liquidations:,} accounts below MM, {summ.margin_calls:,} margin calls, "
        f"shortfall {summ.shortfall_usd:,.0f} USD, negative equity {summ.negative_equity_usd:,.0f} USD"
    )

    print("hypothetical grid (BTC move x ETH move): accounts below MM")
    moves = [-0.3, -0.2, -0.1, 0.1, 0.2, 0.3]
    table = grid_stress(ve, book, moves, moves)
    print("        " + " ".join(f"{m:>+7.0%}" for m in moves))
    for r, b in enumerate(moves):
        row = table[r * len(moves) : (r + 1) * len(moves)]
        print(f"{b:>+7.0%} " + " ".join(f"{s.liquidations:>7,}" for s in row))

    depth = {"BTC": 1.5e9, "ETH": 7.5e8}  # USD of net selling that would move the price 100% (linear impact)
    start = {u: m / 3 for u, m in day.items()}  # a third of the day's move as the trigger
    rep = cascade(ve, book, start, depth)
    print(f"cascade from {start['BTC']:+.1%} BTC / {start['ETH']:+.1%} ETH with depth {depth}:")
    for r in rep.rounds:
        print(
            f"  round {r.round}: BTC x{r.prices['BTC']:.4f} ETH x{r.prices['ETH']:.4f}, "
            f"{r.liquidated:,} liquidated ({r.liquidated_notional_usd:,.0f} USD), bad debt {r.bad_debt_usd:,.0f} USD"
        )
    print(f"  total liquidated {rep.total_liquidated:,}, bad debt {rep.bad_debt_usd:,.0f} USD")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    bins = np.logspace(-2, 3, 60)
    for res, label, color in ((base, "before", "tab:blue"), (shocked, "after 2020-03-12 move", "tab:red")):
        mr = margin_ratios(res)
        ax1.hist(np.clip(mr, 1e-2, 1e3), bins=bins, alpha=0.6, label=label, color=color)
    ax1.axvline(1.0, color="k", ls="--", lw=1)
    ax1.text(1.05, ax1.get_ylim()[1] * 0.95, "liquidation (equity = MM)", fontsize=8)
    ax1.set_xscale("log")
    ax1.set_xlabel("margin ratio = equity / MM (log; zero or negative equity piled at 0.01)")
    ax1.set_ylabel("accounts")
    ax1.set_title(f"Margin-ratio distribution, {len(keep):,} accounts")
    ax1.legend(loc="upper left", bbox_to_anchor=(0.08, 0.85), fontsize=8)

    rounds = [0, *[r.round + 1 for r in rep.rounds]]
    for u, color in (("BTC", "tab:orange"), ("ETH", "tab:purple")):
        ax2.plot(rounds, [1.0, *[r.prices[u] for r in rep.rounds]], marker="o", color=color, label=f"{u} price level")
    ax2.set_xlabel("cascade round (0 = before the trigger)")
    ax2.set_ylabel("price relative to start")
    ax3 = ax2.twinx()
    ax3.bar(
        rounds[1:],
        np.cumsum([r.liquidated for r in rep.rounds]),
        alpha=0.25,
        color="gray",
        label="liquidated accounts (cumulative)",
    )
    ax3.set_ylabel("liquidated accounts (cumulative)")
    ax2.set_title(f"Liquidation cascade: bad debt {rep.bad_debt_usd / 1e6:,.2f} M USD")
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = ax3.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
