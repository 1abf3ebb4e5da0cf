"""``zkmargin run``: the real-time loop.

Per tick: new BTC/ETH prices (replay of ``circuits/rules/data/btc_eth_daily_close.csv`` or a seeded synthetic stream) ->
calibration (EWMA / HS+FHS ES with the anti-procyclical floor and capped decreases, ``circuits/rules/calibration.py``;
each change is a new ``ParameterVersion``), stepped through the ``DynamicReplay`` of the run's published
``Methodology`` (``circuits/rules/methodology.py``): the same code path the audit's ``derive_dynamic_params``
replays; the methodology as of each epoch is written to ``methodology/epoch-NNNN.json`` -> the vectorised engine
revalues every account -> status transitions are emitted as events (margin call, liquidation trigger, cured). Every
``epoch_every`` ticks the epoch is proven and attested through ``Operator.run_epoch`` (in-process or on Dask) and
audited. A PNG report and ``run.json`` are written next to the bundle.

The parameters are rebuilt from the base set each tick (``params_from_rates``: not stacked, since ``apply_rates``
only raises rates and stacking would ratchet margins up forever) and the BTC scan grid keeps its number of scenarios
so the circuit shape, hence the setup, stays the same across versions. Liquidation triggers are reported, not
executed: the account stays on the book and the epoch excludes it (below MM) until its margin recovers.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zkmargin.circuits.rules.calibration import DATA, load_history
from zkmargin.circuits.rules.methodology import (
    DrivenUnderlying,
    DynamicReplay,
    EstimatorSettings,
    HistorySource,
    InlineHistory,
    Methodology,
    PriceHistory,
)
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.verifier import bundle as fmt

from ..engine import demo
from ..engine.margin import MarginEngine
from ..engine.vectorised import STATUS_NAMES, Book, VectorEngine
from .exchange import ExchangeSpec, demo_engine

RUN_SPEC = ExchangeSpec(
    instruments=("BTC-PERP", "ETH-PERP"), assets=("USDT", "BTC", "ETH", "USD"), accounts_per_batch=4
)
UNDERLYINGS = {"BTC": ["BTC-PERP", "BTC-FUT-90D"], "ETH": ["ETH-PERP"]}
HISTORY_DAYS = 400  # synthetic prefix: the calibration needs a year of returns before the first tick
WINDOW = 365
RATIO_CAP = 6.0  # the report's margin-ratio axis (equity/MM above it is comfortably safe, below 0 is bankrupt)


class RunError(ValueError):
    """A bad option or input (the CLI exits 2 with this message)."""


@dataclass(frozen=True)
class RunConfig:
    out: Path
    ticks: int = 30
    epoch_every: int = 10
    accounts: int = 12
    source: str = "replay"  # "replay" | "synthetic"
    start: str = "2020-02-25"  # replay: first tick's date (the March 2020 crash follows)
    seed: int = 7
    batch: int = 4
    workers: int = 0  # 0: prove in-process; n >= 1: a Dask LocalCluster of n processes
    scheduler: str | None = None  # a Dask scheduler address instead of a local cluster

    def validate(self) -> None:
        """Refuse options that cannot give a run, with the reason (before anything is built)."""
        if self.ticks < 1:
            raise RunError("--ticks must be >= 1")
        if self.epoch_every < 1:
            raise RunError("--epoch-every must be >= 1")
        if self.epoch_every > self.ticks:
            raise RunError(f"--epoch-every {self.epoch_every} > --ticks {self.ticks}: the run would prove no epoch")
        if self.accounts < 1:
            raise RunError("--accounts must be >= 1")
        if self.batch < 1:
            raise RunError("--batch must be >= 1")
        if self.workers < 0:
            raise RunError("--workers must be >= 0 (0 proves in-process)")
        if self.scheduler is not None and not self.scheduler.startswith(("tcp://", "tls://", "inproc://")):
            raise RunError(f"--scheduler {self.scheduler!r}: expected an address such as tcp://host:8786")
        if self.scheduler is not None and self.workers:
            raise RunError("give --workers (local cluster) or --scheduler (existing cluster), not both")
        if self.source not in ("replay", "synthetic"):
            raise RunError("--source is 'replay' or 'synthetic'")


# ---------------------------------------------------------------------- price streams
@dataclass
class Stream:
    """Dates and prices: ``history`` rows precede the first tick (calibration input), then one row per tick."""

    dates: list[str]
    prices: dict[str, np.ndarray]
    first: int  # index of the first tick

    def ticks(self, n: int) -> Iterator[tuple[int, str, dict[str, float]]]:
        for i in range(self.first, self.first + n):
            yield i, self.dates[i], {a: float(p[i]) for a, p in self.prices.items()}


def replay_stream(cfg: RunConfig, path: Path = DATA) -> Stream:
    dates, prices = load_history(path)
    if cfg.start not in dates:
        raise RunError(f"--start {cfg.start}: not a date of {path.name} ({dates[0]} .. {dates[-1]})")
    first = dates.index(cfg.start)
    if first < WINDOW + 2:
        raise RunError(f"--start {cfg.start}: the calibration needs {WINDOW + 2} days of history before it")
    if first + cfg.ticks > len(dates):
        raise RunError(f"--ticks {cfg.ticks} from {cfg.start} runs past the end of the history ({dates[-1]})")
    return Stream(dates, prices, first)


def synthetic_stream(cfg: RunConfig) -> Stream:
    """Correlated GBM with a volatility regime switch halfway (so the calibration has something to react to)."""
    rng = np.random.default_rng(cfg.seed)
    n = HISTORY_DAYS + cfg.ticks
    vol = np.where(np.arange(n) < HISTORY_DAYS + cfg.ticks // 2, 0.03, 0.07)
    z1 = rng.standard_normal(n)
    z2 = 0.8 * z1 + 0.6 * rng.standard_normal(n)
    btc = 30_000.0 * np.exp(np.cumsum(vol * z1 - vol**2 / 2))
    eth = 2_000.0 * np.exp(np.cumsum(1.2 * vol * z2 - (1.2 * vol) ** 2 / 2))
    return Stream([f"t{i:05d}" for i in range(n)], {"BTC": btc, "ETH": eth}, HISTORY_DAYS)


# ---------------------------------------------------------------------- book and engines
def run_accounts(btc: float, eth: float, n: int, seed: int) -> list[Account]:
    """Cross accounts within RUN_SPEC's slots: USDT (and some BTC) collateral, BTC/ETH perpetuals; 60% at 0.3-1.5x
    leverage, 40% at 1.5-4x (calibrated crypto IM rates are 25-35%: these meet margin calls when the market moves)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        cash = float(np.exp(rng.normal(8.5, 0.8)))
        lev = float(rng.uniform(0.3, 1.5) if rng.random() < 0.6 else rng.uniform(1.5, 4.0))
        bal = {"USDT": demo.qt(round(cash, 2))}
        if rng.random() < 0.3:
            bal["BTC"] = demo.qt(round(cash * 0.2 / btc, 6))
        pos: list[Position] = []
        for sym, mark, p_hold in (("BTC-PERP", btc, 0.85), ("ETH-PERP", eth, 0.5)):
            if rng.random() < p_hold or (sym == "ETH-PERP" and not pos):
                size = round(cash * lev / mark * (1 if rng.random() < 0.55 else -1), 3) or 0.001
                pos.append(Position(instrument=sym, quantity=demo.qt(size), entry_price=demo.px(mark)))
        out.append(Account(account_id=f"acct-{i:04d}", balances=bal, positions=pos))
    return out


def make_engine(params: RiskParameters, btc: float, eth: float) -> MarginEngine:
    """The exact engine at these prices and parameters (risk arrays repriced)."""
    insts = demo.instruments()
    snap = demo.snapshot(btc, eth)
    ra = build_risk_arrays(insts, snap, params.scenario_grids, params.short_option_min)
    return MarginEngine(insts, params, snap, ra)


def run_methodology(cfg: RunConfig, stream: Stream, base: RiskParameters) -> tuple[Methodology, PriceHistory]:
    """The published methodology of this run (as of its last tick) and the history it pins: the committed CSV for a
    replay, the synthetic closes inline otherwise (so an auditor can recompute either)."""
    if cfg.source == "replay":
        history = PriceHistory.from_csv(DATA)
        columns = {"BTC": "btc_usd", "ETH": "eth_usd"}
        source = HistorySource(sha256=history.sha256, path="circuits/rules/data/" + DATA.name)
    else:
        inline = InlineHistory(dates=stream.dates, closes={u: p.tolist() for u, p in stream.prices.items()})
        history = PriceHistory.from_inline(inline)
        columns = {u: u for u in UNDERLYINGS}
        source = HistorySource(sha256=history.sha256, inline=inline)
    settings = EstimatorSettings(window=WINDOW, mpor=2)
    method = Methodology(
        base=base,
        underlyings={
            u: DrivenUnderlying(symbols=s, column=columns[u], estimator=settings) for u, s in UNDERLYINGS.items()
        },
        history=source,
        start=stream.dates[stream.first],
        asof=stream.dates[stream.first + cfg.ticks - 1],
    )
    return method, history


# ---------------------------------------------------------------------- the loop
@dataclass
class TickRecord:
    tick: int
    date: str
    prices: dict[str, float]
    ratio_pct: list[float]  # equity/MM percentiles 5, 25, 50, 75, 95 over accounts with MM > 0
    counts: dict[str, int]
    events: int


@dataclass
class EpochRecord:
    epoch: int
    tick: int
    date: str
    seconds: float
    prove_wall_seconds: float
    batches: int
    covered: int
    excluded: int
    parameter_version: str
    audit_ok: bool
    vector_exact_mismatches: int
    path: str
    methodology_hash: str = ""  # of methodology/epoch-NNNN.json: derive_dynamic_params on it gives the parameters


@dataclass
class RunResult:
    ticks: list[TickRecord] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    event_counts: Counter[str] = field(default_factory=Counter)
    report: Path | None = None
    prover: str = "in-process"


def run_realtime(cfg: RunConfig, console: Any | None = None) -> RunResult:
    """Run the loop; raises RunError for bad options or inputs (nothing is written then)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from zkmargin.circuits.rules.tightening import tightening_violations
    from zkmargin.verifier.audit import audit_bundle

    from .chain_ops import govern_params
    from .pipeline import DEV_LABEL, Operator, governed_registration

    cfg.validate()
    stream = replay_stream(cfg) if cfg.source == "replay" else synthetic_stream(cfg)
    con: Console = console or Console()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = ExchangeSpec(RUN_SPEC.instruments, RUN_SPEC.assets, cfg.batch)
    base = demo_engine(n_brackets=2, tiers=1).params
    p0 = {a: float(p[stream.first]) for a, p in stream.prices.items()}
    book_accounts = run_accounts(p0["BTC"], p0["ETH"], cfg.accounts, cfg.seed)
    method, history = run_methodology(cfg, stream, base)
    replay = DynamicReplay(method, history)
    res = RunResult()
    status: dict[str, str] = {a.account_id: "healthy" for a in book_accounts}
    events_f = (out / "events.jsonl").open("a")
    next_epoch = max((r["epoch"] for r in fmt.list_epochs(out)), default=0) + 1

    dask = None
    if cfg.workers or cfg.scheduler:
        from .distributed import DaskProver

        dask = DaskProver(workers=cfg.workers or 1, scheduler=cfg.scheduler)
        res.prover = dask.describe()
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), console=con,
        ) as bar:  # fmt: skip
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"  {stage}", total=total)
                bar.update(tasks[stage], completed=done, total=total)

            op = Operator(out, spec, progress=progress, prover=dask)
            tick_task = bar.add_task("ticks", total=cfg.ticks)
            engine = make_engine(base, p0["BTC"], p0["ETH"])
            layout = op.layout(engine)
            setup = op.setup(layout)
            for stage in [s for s in tasks if s.startswith("setup")]:
                progress(stage, 1, 1)
            if setup.kind == "development":
                con.print(f"[bold red]{DEV_LABEL}[/]")
            chain = op.deploy_chain(engine)
            governed_prev: RiskParameters | None = None
            con.print(f"prover: {res.prover}; bundle root {out}")
            vbook: Book | None = None
            for n_tick, (_i, date, prices) in enumerate(stream.ticks(cfg.ticks), start=1):
                changed = replay.step(date)
                for u, v in changed.items():
                    res.versions.append(
                        {"tick": n_tick, "date": date, "underlying": u, "version": v.version,
                         "im_rate": v.rates.im_rate, "mm_rate": v.rates.mm_rate, "hash": v.version_hash(),
                         "cap": v.explanation.get("cap")}
                    )  # fmt: skip
                params = replay.params()
                engine = make_engine(params, prices["BTC"], prices["ETH"])
                ve = VectorEngine(engine.instruments, params, engine.snapshot, list(spec.assets), engine.risk_arrays)
                if vbook is None:
                    vbook = Book.from_accounts(book_accounts, ve.symbols, list(spec.assets))
                r = ve.revalue(vbook)
                n_ev = 0
                for k, aid in enumerate(vbook.account_ids):
                    new = STATUS_NAMES[int(r.status[k])]
                    old = status[aid]
                    if new == old:
                        continue
                    status[aid] = new
                    kind = {"margin_call": "margin_call", "liquidation": "liquidation_trigger"}.get(new, "cured")
                    ev = {"tick": n_tick, "date": date, "event": kind, "account": aid, "from": old,
                          "equity": int(r.equity[k]), "im": int(r.im[k]), "mm": int(r.mm[k]),
                          "shortfall": int(r.shortfall[k])}  # fmt: skip
                    events_f.write(json.dumps(ev) + "\n")
                    res.event_counts[kind] += 1
                    n_ev += 1
                    if n_ev <= 8:
                        colour = {"margin_call": "yellow", "liquidation_trigger": "red"}.get(kind, "green")
                        con.print(
                            f"[{colour}]{date} {kind:<20}[/] {aid}  equity {r.equity[k] / 1e6:,.0f} USD  "
                            f"IM {r.im[k] / 1e6:,.0f}  MM {r.mm[k] / 1e6:,.0f}"
                        )
                if n_ev > 8:
                    con.print(f"  ... and {n_ev - 8} more events at {date}")
                has_mm = r.mm > 0
                ratio = r.equity[has_mm] / r.mm[has_mm]
                pct = [float(x) for x in np.percentile(ratio, [5, 25, 50, 75, 95])] if ratio.size else [0.0] * 5
                counts = Counter(STATUS_NAMES[int(s)] for s in r.status)
                res.ticks.append(TickRecord(n_tick, date, prices, pct, dict(counts), n_ev))
                for u, v in changed.items():
                    con.print(f"[cyan]{date} parameters[/] {u} v{v.version}: IM {v.rates.im_rate / 1e4:.1f}%, "
                              f"MM {v.rates.mm_rate / 1e4:.1f}% ({v.explanation.get('cap')})")  # fmt: skip
                bar.update(
                    tick_task,
                    completed=n_tick,
                    description=f"ticks ({date}: "
                    f"{counts.get('margin_call', 0)} margin call, {counts.get('liquidation', 0)} liquidation)",
                )

                if n_tick % cfg.epoch_every == 0:
                    t0 = time.perf_counter()
                    at_epoch = method.model_copy(update={"asof": date})
                    # governance registers the epoch's parameters (timelocked; the replay fast-forwards the clock)
                    gov = governed_registration(engine, layout, at_epoch)
                    tightening = governed_prev is not None and not tightening_violations(governed_prev, params)
                    govern_params(chain, gov.commitment, gov.document, tightening, simulate_delay=True)
                    governed_prev = params
                    er = op.run_epoch(next_epoch, engine, book_accounts, methodology=at_epoch)
                    seconds = time.perf_counter() - t0
                    exact = {a.account_id: engine.evaluate(a).status for a in book_accounts}
                    mism = sum(exact[aid] != STATUS_NAMES[int(r.status[k])] for k, aid in enumerate(vbook.account_ids))
                    rep = audit_bundle(er.path, registry=chain.registry)
                    (out / "methodology").mkdir(exist_ok=True)
                    (out / "methodology" / f"epoch-{next_epoch:04d}.json").write_text(at_epoch.canonical_json())
                    res.epochs.append(
                        EpochRecord(next_epoch, n_tick, date, seconds, er.prove_wall_seconds, er.batches, er.covered,
                                    len(er.excluded), er.manifest["parameter_version"], rep.ok, mism, str(er.path),
                                    at_epoch.version_hash())
                    )  # fmt: skip
                    con.print(
                        f"[bold]epoch {next_epoch}[/] at {date}: {er.covered} accounts in {er.batches} batches, "
                        f"{len(er.excluded)} excluded, proved+attested in {seconds:.1f} s, "
                        f"audit {'PASS' if rep.ok else 'FAIL'}"
                    )
                    next_epoch += 1
    finally:
        events_f.close()
        if dask is not None:
            dask.close()
    res.report = write_report(res, out / "run_report.png", cfg)
    summary = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "prover": res.prover,
        "events": dict(res.event_counts),
        "versions": res.versions,
        "epochs": [asdict(e) for e in res.epochs],
        "ticks": [asdict(t) for t in res.ticks],
        "report": str(res.report),
    }
    (out / "run.json").write_text(json.dumps(summary, indent=1))
    return res


def write_report(res: RunResult, path: Path, cfg: RunConfig) -> Path:
    """Four panels: prices; equity/MM distribution with status counts; calibrated IM rates; time per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    t = [r.tick for r in res.ticks]
    fig, ax = plt.subplots(4, 1, figsize=(11, 14), gridspec_kw={"height_ratios": [1, 1.5, 1, 1]})
    fig.suptitle(
        f"zkmargin run: {cfg.source} {res.ticks[0].date} .. {res.ticks[-1].date}, {cfg.accounts} accounts, "
        f"epoch every {cfg.epoch_every} ticks\nprover: {res.prover}",
        fontsize=12,
    )
    a0 = ax[0]
    a0.plot(t, [r.prices["BTC"] for r in res.ticks], color="tab:orange", label="BTC (left)")
    a0.set_ylabel("BTC USD")
    a0b = a0.twinx()
    a0b.plot(t, [r.prices["ETH"] for r in res.ticks], color="tab:blue", label="ETH (right)")
    a0b.set_ylabel("ETH USD")
    a0.set_title("prices")
    a0.legend(handles=a0.get_lines() + a0b.get_lines(), loc="best", fontsize=9)

    a1 = ax[1]
    pct = np.array([r.ratio_pct for r in res.ticks])
    pct = np.clip(pct, 0.0, RATIO_CAP)
    a1.fill_between(t, pct[:, 0], pct[:, 4], color="tab:green", alpha=0.18, label="5-95th percentile")
    a1.fill_between(t, pct[:, 1], pct[:, 3], color="tab:green", alpha=0.35, label="25-75th percentile")
    a1.plot(t, pct[:, 2], color="darkgreen", label="median")
    a1.axhline(1.0, color="red", ls="--", lw=1, label="equity = MM (liquidation)")
    a1.set_ylim(0, RATIO_CAP)
    a1.set_ylabel(f"equity / MM (clipped to 0..{RATIO_CAP:g})")
    a1.set_title("margin-ratio distribution over time (accounts with positions)")
    a1b = a1.twinx()
    a1b.step(t, [r.counts.get("margin_call", 0) for r in res.ticks], where="mid", color="goldenrod",
             label="# margin call")  # fmt: skip
    a1b.step(t, [r.counts.get("liquidation", 0) for r in res.ticks], where="mid", color="crimson",
             label="# below MM")  # fmt: skip
    a1b.set_ylabel("accounts")
    a1b.set_ylim(bottom=0)
    a1b.yaxis.set_major_locator(MaxNLocator(integer=True))
    a1.legend(handles=a1.get_legend_handles_labels()[0] + a1b.get_lines(), loc="upper center", fontsize=8, ncol=3,
               bbox_to_anchor=(0.5, -0.08), framealpha=0.9)  # fmt: skip

    a2 = ax[2]
    for u, colour, style, lw in (("BTC", "tab:orange", "-", 3.0), ("ETH", "tab:blue", "--", 1.6)):
        vs = [v for v in res.versions if v["underlying"] == u]
        if not vs:
            continue
        xs = [v["tick"] for v in vs] + [t[-1]]
        ys = [v["im_rate"] / 1e4 for v in vs]
        label = f"{u} IM rate ({len(vs)} versions)"
        a2.step(xs, [*ys, ys[-1]], where="post", color=colour, ls=style, lw=lw, label=label)
        a2.scatter([v["tick"] for v in vs], ys, color=colour, s=18, zorder=3)
    a2.set_ylabel("IM rate floor (%)")
    a2.set_title("calibrated parameters (each dot = a new parameter version; MM = half of IM)")
    a2.legend(loc="best", fontsize=9)

    a3 = ax[3]
    ep = res.epochs
    x = [e.tick for e in ep]
    w = max(0.8, cfg.epoch_every * 0.35)
    a3.bar([xi - w / 2 for xi in x], [e.seconds for e in ep], width=w, color="slategray",
           label="epoch total (prove + attest + bundle)")  # fmt: skip
    a3.bar([xi + w / 2 for xi in x], [e.prove_wall_seconds for e in ep], width=w, color="tab:purple",
           label="proving (wall)")  # fmt: skip
    for e in ep:
        a3.annotate(f"epoch {e.epoch}: {e.batches} batches\n{e.covered} covered, {e.excluded} excl.",
                    (e.tick, e.seconds), ha="center", va="bottom", fontsize=8)  # fmt: skip
    a3.set_ylabel("seconds")
    a3.set_ylim(0, max([e.seconds for e in ep], default=1) * 1.8)
    a3.set_title("prove time per epoch")
    a3.legend(loc="upper left", fontsize=8, ncol=2)
    for a in ax:
        a.set_xlim(0.5, max(t) + 0.5 + (w if ep else 0))
        a.grid(alpha=0.3)
    ax[3].set_xlabel("tick")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
