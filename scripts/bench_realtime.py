#!/usr/bin/env python3
"""Benchmark (issue 16, engine part): what a price box costs in re-proofs and in margin, on the shipped history.

1. Re-proofs. Replays the shipped daily BTC/ETH closes (circuits/rules/data/btc_eth_daily_close.csv, 2019-2022, the
   history of the dynamic parameters and of ``zkmargin run``). An attestation holds while every underlying's price
   stays inside its box [c x (1 - b), c x (1 + b)] around the price c it was proven at; the first close outside
   forces a full re-proof, re-centred on that close. Counted per month for each b. Daily closes only: an intraday
   excursion that returns by the close is not seen, so the figure is a lower bound of what a live feed would force.
2. Margin cost. A realistic synthetic venue (scripts/gen_snapshot.py's book: heavy-tailed sizes, Zipf instrument
   popularity, options in portfolio accounts, 3% of accounts next to MM) on the demo's instruments and parameters,
   evaluated by prover/engine/price_box.py: how many accounts pass at the point price but fail somewhere in the box
   (the margin cost of the box), and the extra margin they would need. Option holders use the scenario method, so the
   scenario grids are given nodes at -b, 0, +b with a zero vol shock (what governance must publish for the box,
   `scenario_grid_spans_box`); the demo grid lacks the 20% node. A second, larger book (demo.synthetic_book, linear
   cross accounts) measures the vectorised path's time.
3. Latency (``--latency``): a dev setup of the 256-account lookup circuit (10-15 minutes on 2 shared cores), then the
   time from one account's change to its batch's verified proof: engine, witness, prove_committed, verify. Without
   the flag latency_s_256=na (the setup alone is too long for a routine benchmark run).

Last line: RESULT reproofs_per_month_b5=... reproofs_per_month_b10=... reproofs_per_month_b20=...
box_margin_cost_b10=... latency_s_256=... (box_margin_cost: share of the accounts with positions that pass at the
point price and fail the box). A PNG of prices, boxes and re-proof times is written to --plot.

    python scripts/bench_realtime.py --plot docs/realtime_box.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zkmargin.circuits.rules.calibration import DATA
from zkmargin.circuits.rules.fixedpoint import RATE_SCALE, USD_SCALE
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.engine.price_box import PriceBoxEngine, book_box_states, box_coverage, scenario_grid_problems
from zkmargin.prover.operator.price_stream import load_price_csv

SCRIPTS = Path(__file__).resolve().parent
DAYS_PER_MONTH = 365.25 / 12


@dataclass
class Replay:
    b_ppm: int
    reproofs: list[int]  # indices of the days that forced a re-proof
    triggers: list[str]  # which underlyings left the box on each of those days ("BTC", "ETH", "BTC+ETH")
    centres: np.ndarray  # (days, underlyings) the box centre in force on each day
    months: float

    @property
    def per_month(self) -> float:
        return len(self.reproofs) / self.months


def replay(prices: dict[str, np.ndarray], b_ppm: int) -> Replay:
    """Box around the first close; a close outside any underlying's box forces a re-proof re-centred on it."""
    names = sorted(prices)
    p = np.stack([prices[u] for u in names], axis=1)
    b = b_ppm / RATE_SCALE
    centre = p[0].copy()
    centres = np.empty_like(p)
    events: list[int] = []
    triggers: list[str] = []
    for d in range(len(p)):
        out = (p[d] < centre * (1 - b)) | (p[d] > centre * (1 + b))
        if np.any(out):
            events.append(d)
            triggers.append("+".join(u for u, o in zip(names, out, strict=True) if o))
            centre = p[d].copy()
        centres[d] = centre
    return Replay(b_ppm, events, triggers, centres, (len(p) - 1) / DAYS_PER_MONTH)


def spanning_params(params: RiskParameters, b_ppm: int) -> RiskParameters:
    """The demo parameters with every grid given nodes at -b, 0, +b and a zero vol shock (the box needs them)."""
    grids = {
        u: g.model_copy(
            update={
                "price_moves": sorted(set(g.price_moves) | {-b_ppm, 0, b_ppm}),
                "vol_shocks": sorted(set(g.vol_shocks) | {0}),
            }
        )
        for u, g in params.scenario_grids.items()
    }
    out = params.model_copy(update={"scenario_grids": grids})
    assert not scenario_grid_problems(out, b_ppm)
    return out


def margin_cost(n: int, b_ppm: int, seed: int) -> dict[str, float]:
    """The realistic book through the exact price-box path: counts, extra margin, time."""
    sys.path.insert(0, str(SCRIPTS))
    import gen_snapshot  # the realistic venue generator (scripts/gen_snapshot.py)

    insts, snap = demo.instruments(), demo.snapshot()
    base = demo.params()
    gaps = scenario_grid_problems(base, b_ppm)
    params = spanning_params(base, b_ppm)
    ra = build_risk_arrays(insts, snap, params.scenario_grids, params.short_option_min)
    engine = MarginEngine(insts, params, snap, ra)
    accounts = [a for a in gen_snapshot.synthetic_book(engine, n, seed=seed) if a.positions]
    box = PriceBoxEngine(insts, params, snap, b_ppm, ra)
    t0 = time.perf_counter()
    states = [box.evaluate(a) for a in accounts]
    secs = time.perf_counter() - t0
    cov = box_coverage(states)
    extra = sum(s.at_corner.mm - s.at_corner.equity for s in states if s.passes_point and not s.passes_box)
    point_mm = sum(s.point.mm for s in states)
    return {
        "accounts": cov.accounts,
        "under_mm_point": cov.under_mm_point,
        "under_mm_box": cov.under_mm_box,
        "cost": cov.fail_box_pass_point,
        "share": cov.fail_box_pass_point / max(cov.accounts, 1),
        "extra_usd": extra / USD_SCALE,
        "extra_vs_mm": extra / max(point_mm, 1),
        "shortfall_usd": cov.shortfall_box / USD_SCALE,
        "bad_debt_usd": cov.bad_debt_box / USD_SCALE,
        "scenario": cov.unsound,
        "grid_gaps": len(gaps),
        "seconds": secs,
        "evaluations": sum(s.evaluations for s in states),
    }


def vector_time(n: int, b_ppm: int) -> tuple[float, int, int, float]:
    """The vectorised path on demo.synthetic_book (linear cross accounts, 8 slots): seconds, passes, fails, share."""
    insts, snap, params = demo.instruments(), demo.snapshot(), demo.params()
    symbols = sorted(insts)
    book, _ = demo.synthetic_book(n, 8, symbols, demo.ASSETS)
    t0 = time.perf_counter()
    res = book_box_states(insts, params, snap, demo.ASSETS, book, b_ppm)
    secs = time.perf_counter() - t0
    cost = int((res.passes_point & ~res.passes_box).sum())
    return secs, res.evaluations, cost, cost / n


def latency(n: int) -> float:
    """Dev setup of the n-account lookup circuit (not timed), then one account changes: engine + witness + prove
    + verify of its batch, timed (chain submission excluded). The key is packed by a first proof, as a running
    operator's key is."""
    sys.path.insert(0, str(SCRIPTS))
    import bench_circuit as bc

    from zkmargin.circuits.solvency import SolvencyCircuit
    from zkmargin.prover.committed import dev_setup_committed, prove_committed
    from zkmargin.prover.solvency_witness import build_batch, make_layout
    from zkmargin.verifier.committed import verify_committed

    engine = bc.demo_engine()
    layout = make_layout(engine, bc.SLOTS8, bc.ASSETS4, accounts=n)
    accounts = bc.demo_accounts(engine, n)
    circuit = SolvencyCircuit(layout.shape, lookups=True)
    t0 = time.perf_counter()
    ck = dev_setup_committed(circuit.r1cs)
    print(f"latency: dev setup of the {n}-account lookup circuit {time.perf_counter() - t0:.1f} s (not counted)")
    first = build_batch(engine, accounts, layout, epoch=1, secret=b"bench")
    prove_committed(ck, circuit.cs, dict(first.inputs))  # warm: packs the key once, as a running operator has
    j = min(17, n - 1)
    a = accounts[j]
    p0 = a.positions[0]
    changed = a.model_copy(
        update={"positions": [p0.model_copy(update={"quantity": p0.quantity * 2}), *a.positions[1:]]}
    )
    t1 = time.perf_counter()
    engine.evaluate(changed)  # the engine's view of the change
    batch = build_batch(engine, [*accounts[:j], changed, *accounts[j + 1 :]], layout, epoch=2, secret=b"bench")
    proof, public = prove_committed(ck, circuit.cs, dict(batch.inputs))
    ok = verify_committed(ck.vk, proof, public)
    secs = time.perf_counter() - t1
    if not ok or public != batch.public:
        raise SystemExit("latency: the changed batch's proof did not verify")
    return secs


def plot(path: Path, dates: list[str], prices: dict[str, np.ndarray], runs: dict[int, Replay]) -> None:
    try:
        import matplotlib
    except ImportError:
        print("plot: matplotlib missing (pip install zkmargin[report]); no PNG written")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [dt.date.fromisoformat(d) for d in dates]
    names = sorted(prices)
    fig, ax = plt.subplots(len(names) + 1, 1, figsize=(12, 10), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1]})
    colours = {50_000: "tab:red", 100_000: "tab:green", 200_000: "tab:blue"}
    for i, u in enumerate(names):
        a = ax[i]
        a.plot(t, prices[u], color="black", lw=0.9, label=f"{u} daily close")
        for b, r in runs.items():
            c = colours.get(b, "gray")
            lo, hi = r.centres[:, i] * (1 - b / RATE_SCALE), r.centres[:, i] * (1 + b / RATE_SCALE)
            a.fill_between(t, lo, hi, step="post", color=c, alpha=0.12, label=f"box b = {b / 1e4:g}%")
        a.set_yscale("log")
        a.set_ylabel(f"{u} USD (log)")
        a.legend(loc="upper left", fontsize=8)
    a = ax[-1]
    for k, (b, r) in enumerate(runs.items()):
        a.vlines([t[d] for d in r.reproofs], k + 0.1, k + 0.9, color=colours.get(b, "gray"), lw=0.8)
    a.set_yticks([k + 0.5 for k in range(len(runs))])
    a.set_yticklabels([f"b={b / 1e4:g}%: {r.per_month:.2f}/month" for b, r in runs.items()], fontsize=8)
    a.set_title("re-proofs forced by the box (a close outside it; re-centred there)", fontsize=10)
    fig.suptitle(f"price boxes on the shipped BTC/ETH daily closes {dates[0]} .. {dates[-1]}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"plot: {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boxes", type=float, nargs="+", default=[5, 10, 20], help="box half-widths b in percent")
    ap.add_argument("--accounts", type=int, default=3_000, help="realistic book (exact path, options included)")
    ap.add_argument("--vector-accounts", type=int, default=100_000, help="linear book for the vectorised path's time")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--plot", type=Path, default=Path("realtime_box.png"))
    ap.add_argument("--latency", action="store_true", help="dev setup + timed prove of one batch (--batch accounts)")
    ap.add_argument("--batch", type=int, default=256, help="accounts per batch for --latency")
    args = ap.parse_args()
    for b in args.boxes:
        if not 0 < b < 100 or round(b * 10_000) != b * 10_000:
            print(f"--boxes: {b} must be a percentage in (0, 100) with at most 4 decimals", file=sys.stderr)
            return 2
    if args.accounts < 1 or args.vector_accounts < 0 or args.batch < 1:
        print("--accounts and --batch must be >= 1, --vector-accounts >= 0", file=sys.stderr)
        return 2

    dates, prices = load_price_csv(DATA)
    print(f"history: {DATA.name}, {dates[0]} .. {dates[-1]} ({len(dates)} daily closes, {', '.join(sorted(prices))})")
    runs: dict[int, Replay] = {}
    result: dict[str, str] = {}
    for pct in args.boxes:
        b = round(pct * 10_000)
        r = replay(prices, b)
        runs[b] = r
        gaps = np.diff([0, *r.reproofs, len(dates) - 1])
        print(
            f"b = {pct:g}%: {len(r.reproofs)} re-proofs in {r.months:.1f} months = {r.per_month:.2f} per month; "
            f"attestation life median {np.median(gaps):.0f} days, shortest {gaps.min()} days; left the box: "
            + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r.triggers).items()))
        )
        result[f"reproofs_per_month_b{pct:g}"] = f"{r.per_month:.2f}"
    for pct in args.boxes:
        b = round(pct * 10_000)
        m = margin_cost(args.accounts, b, args.seed)
        print(
            f"b = {pct:g}% margin cost ({int(m['accounts'])} accounts with positions, {int(m['scenario'])} with "
            f"options by the scenario method; demo grid gaps for this box: {int(m['grid_gaps'])}): under MM at the "
            f"point {int(m['under_mm_point'])}, at the worst corner {int(m['under_mm_box'])}; pass the point but fail "
            f"the box {int(m['cost'])} = {100 * m['share']:.2f}%; extra margin they need {m['extra_usd']:,.0f} USD "
            f"= {100 * m['extra_vs_mm']:.2f}% of the venue's MM; at the worst corner shortfall "
            f"{m['shortfall_usd']:,.0f} USD, bad debt {m['bad_debt_usd']:,.0f} USD; "
            f"{m['seconds']:.2f} s, {int(m['evaluations']):,} engine evaluations"
        )
        result[f"box_margin_cost_b{pct:g}"] = f"{m['share']:.4f}"
    if args.vector_accounts:
        b10 = 100_000
        secs, evals, cost, share = vector_time(args.vector_accounts, b10)
        print(
            f"vectorised: {args.vector_accounts:,} linear accounts x 8 slots at b = 10% in {secs:.2f} s "
            f"({evals} revaluations); pass the point but fail the box {cost:,} = {100 * share:.2f}%"
        )
        result[f"box_eval_s_{args.vector_accounts // 1000}k"] = f"{secs:.2f}"
    if args.latency:
        key = f"latency_s_{args.batch}"
        result[key] = f"{latency(args.batch):.2f}"
        print(f"latency: account change -> verified {args.batch}-account batch proof {result[key]} s")
    else:
        result[f"latency_s_{args.batch}"] = "na"
        print("latency: not measured (--latency runs a 10-15 minute dev setup of the 256-account circuit first)")
    plot(args.plot, dates, prices, runs)
    keys = [k for k in result if k.startswith("reproofs")] + ["box_margin_cost_b10", f"latency_s_{args.batch}"]
    keys += [k for k in result if k not in keys]
    print("RESULT " + " ".join(f"{k}={result[k]}" for k in keys if k in result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
