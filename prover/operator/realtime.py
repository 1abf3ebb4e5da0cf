"""``zkmargin run``: the real-time loop (state, ticks, epochs, events); rendering and the PNG report live elsewhere.

Per tick: new BTC/ETH prices (validated replay of ``circuits/rules/data/btc_eth_daily_close.csv`` or a seeded
synthetic stream, ``price_stream.py``) -> calibration (EWMA / HS+FHS ES with the anti-procyclical floor and capped
decreases), stepped through the ``DynamicReplay`` of the run's published ``Methodology``: the same code path the
audit's ``derive_dynamic_params`` replays; the methodology as of each epoch is written to
``methodology/epoch-NNNN.json`` -> the vectorised engine revalues every account -> status transitions are events
(margin call, liquidation trigger, cured), each appended durably to ``events.jsonl``. Every ``epoch_every`` ticks the
epoch is proven and attested through ``Operator.run_epoch`` (in-process or on Dask) and audited.

What it shows goes to a ``RunObserver`` (``realtime_render.RichRenderer`` for the CLI); the library itself only logs.
A rerun of the same ``--out`` continues the run (``run_state.py``). The parameters are rebuilt from the base set each
tick (``params_from_rates``) and the BTC scan grid keeps its number of scenarios so the circuit shape, hence the setup,
stays the same across versions. Liquidation triggers are reported, not executed.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zkmargin.atomic import atomic_write_text
from zkmargin.circuits.rules.calibration import DATA
from zkmargin.circuits.rules.methodology import (
    DrivenUnderlying,
    EstimatorSettings,
    HistorySource,
    InlineHistory,
    Methodology,
    PriceHistory,
)
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays

from ..engine import demo
from ..engine.margin import MarginEngine
from .exchange import ExchangeSpec
from .price_stream import COLUMNS, PriceDataError, PriceFeed, Stream, StreamFeed, replay_stream, synthetic_stream
from .run_state import RunState, RunStateError

log = logging.getLogger(__name__)

RUN_SPEC = ExchangeSpec(
    instruments=("BTC-PERP", "ETH-PERP"), assets=("USDT", "BTC", "ETH", "USD"), accounts_per_batch=4
)
UNDERLYINGS = {"BTC": ["BTC-PERP", "BTC-FUT-90D"], "ETH": ["ETH-PERP"]}
WINDOW = 365
VENUE_CHANGES = 2.0  # venue run: mean account changes per tick
VENUE_BOX_PPM = 100_000  # venue run: a +-10% price box (the replayed daily moves leave it a few times a year)
MAX_CHANGES = 1_000.0
MAX_BOX_PPM = 500_000


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
    batch: int = 4  # accounts per batch (slots) or leaves per batch (venue)
    workers: int = 0  # 0: prove in-process; n >= 1: a Dask LocalCluster of n processes
    scheduler: str | None = None  # a Dask scheduler address instead of a local cluster
    prices: Path | None = None  # replay: the daily-close CSV (default: the committed one)
    report: bool = True  # write run_report.png (needs matplotlib: zkmargin[report])
    # "committed" (the lookup circuit, the default when None) | "plain"
    proof_system: str | None = None
    # "slots": the fixed-slot solvency circuit, a fixed book, every epoch a full re-proof (the calibration changes
    # the parameters); "venue": the venue circuit with the price box, an account-change stream and incremental
    # epochs (``realtime_venue.py``)
    circuit: str = "slots"
    changes_per_tick: float | None = None  # venue: mean account changes per tick (default VENUE_CHANGES)
    box_ppm: int | None = None  # venue: the price box half-width in ppm (default VENUE_BOX_PPM)

    def validate(self) -> None:
        """Refuse options that cannot give a run, with the reason (before anything is built)."""
        if self.ticks < 1:
            raise RunError("--ticks must be >= 1")
        if self.epoch_every < 1:
            raise RunError("--epoch-every must be >= 1")
        if self.circuit not in ("slots", "venue"):
            raise RunError(f"--circuit {self.circuit!r}: expected 'slots' or 'venue'")
        if self.circuit == "venue":
            self._validate_venue()
        elif self.changes_per_tick is not None:
            raise RunError("--changes-per-tick: only with --circuit venue (the slots run's book is fixed)")
        elif self.box_ppm is not None:
            raise RunError("--box-ppm: only with --circuit venue (the slots circuit proves at point prices)")
        if self.circuit == "slots" and self.epoch_every > self.ticks:
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
        if self.proof_system not in (None, "committed", "plain"):
            raise RunError(f"--proof-system {self.proof_system!r}: expected 'committed' or 'plain'")
        if self.report:
            from .realtime_report import require_matplotlib

            _as_run_error(require_matplotlib)
        if self.workers or self.scheduler:
            from .distributed import require_dask

            _as_run_error(require_dask)

    def _validate_venue(self) -> None:
        if self.changes_per_tick is not None and not (0 <= self.changes_per_tick <= MAX_CHANGES):
            raise RunError(f"--changes-per-tick {self.changes_per_tick}: expected 0 .. {MAX_CHANGES}")
        if self.box_ppm is not None and not (1 <= self.box_ppm <= MAX_BOX_PPM):
            raise RunError(f"--box-ppm {self.box_ppm}: expected 1 .. {MAX_BOX_PPM} (a box of up to +-50%)")
        if self.workers or self.scheduler:
            raise RunError("--workers/--scheduler: the venue run proves in-process (one batch per changed slot)")
        if self.proof_system == "plain":
            raise RunError("--proof-system plain: the venue circuit is committed Groth16 only")

    def resolved_proof_system(self) -> str:
        return self.proof_system or "committed"

    def resolved_changes(self) -> float:
        return VENUE_CHANGES if self.changes_per_tick is None else float(self.changes_per_tick)

    def resolved_box_ppm(self) -> int:
        return VENUE_BOX_PPM if self.box_ppm is None else self.box_ppm

    def identity(self) -> dict[str, Any]:
        """The options that fix the run's history and book: a rerun must match them to continue it."""
        prices = str(self.prices) if self.prices is not None else None
        ident = {"source": self.source, "start": self.start, "seed": self.seed, "accounts": self.accounts,
                 "batch": self.batch, "epoch_every": self.epoch_every, "prices": prices}  # fmt: skip
        if self.circuit != "slots":  # absent for a slots run, so the state files of earlier versions still match
            ident |= {"circuit": self.circuit, "changes_per_tick": self.resolved_changes(),
                      "box_ppm": self.resolved_box_ppm()}  # fmt: skip
        return ident


def _as_run_error(check: Any) -> None:
    try:
        check()
    except ImportError as e:
        raise RunError(str(e)) from e


class RunObserver:
    """What the loop shows as it goes; the default shows nothing. ``realtime_render.RichRenderer`` prints."""

    def start(self, cfg: RunConfig, prover: str, resumed_after: int) -> None:
        """The run begins (``resumed_after``: the last tick a previous run finished, 0 for a new run)."""

    def progress(self, stage: str, done: int, total: int) -> None:
        """An epoch stage's progress (the operator's ``progress`` callback)."""

    def setup_ready(self, kind: str, label: str) -> None:
        """The proving setup is loaded or created (``label`` says what a development setup means)."""

    def event(self, event: dict[str, Any], shown: int) -> None:
        """A status change (``shown``: events so far this tick, including this one)."""

    def tick(self, record: TickRecord, changed: list[dict[str, Any]], ticks: int) -> None:
        """A tick finished: its record and the parameter versions it published."""

    def epoch(self, record: EpochRecord) -> None:
        """An epoch was published (or found published) and audited."""

    def live(self, tick: int, date: str, solvent: bool, reason: str, when: str) -> None:
        """Venue run: the registry's live view read at ``tick`` (``when``: 'before the epoch' or 'after epoch N')
        turned false or came back true (only changes are reported)."""

    def close(self) -> None:
        """The run ended (normally or not)."""


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


def load_stream(cfg: RunConfig) -> Stream:
    """The run's prices, every row validated (a bad row: ``RunError`` naming file, row and field)."""
    try:
        if cfg.source == "synthetic":
            return synthetic_stream(cfg.seed, cfg.ticks)
        return replay_stream(cfg.prices or DATA, cfg.start, cfg.ticks, WINDOW)
    except PriceDataError as e:
        raise RunError(str(e)) from e


def run_methodology(cfg: RunConfig, stream: Stream, base: RiskParameters) -> tuple[Methodology, PriceHistory]:
    """The published methodology of this run (as of its last tick) and the history it pins: the committed CSV for a
    default replay, the closes inline otherwise (so an auditor can recompute either)."""
    if cfg.source == "replay" and cfg.prices is None:
        history = PriceHistory.from_csv(DATA)
        columns = dict(COLUMNS)
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


# ---------------------------------------------------------------------- records
@dataclass
class TickRecord:
    tick: int
    date: str
    prices: dict[str, float]
    ratio_pct: list[float]  # equity/MM percentiles 5, 25, 50, 75, 95 over accounts with MM > 0
    counts: dict[str, int]
    events: int
    changes: int = 0  # venue: account changes applied at this tick
    # venue: the live view read after the feeds moved to this tick's prices (before any epoch of the tick) and at the
    # end of the tick: {"before": [solvent, reason], "after": [solvent, reason]}; box: underlying -> [lo, hi] USD of
    # the attested box in force at the end of the tick (the next tick's "before" reading is checked against it)
    live: dict[str, Any] | None = None
    box: dict[str, list[float]] | None = None


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
    note: str = ""  # e.g. why an epoch found published on resume was audited without its registry
    # venue run (issue 16): "full" (every slot proven at a new box centre) or "update" (changed slots only)
    mode: str = "full"
    reason: str = ""  # why a full epoch (the first one, feeds out of the box, parameters changed ...)
    reproved_slots: list[int] = field(default_factory=list)
    slots: int = 0  # slots of the batch tree after the epoch
    proofs: int = 0  # batch proofs made
    changes: int = 0  # account changes this epoch covers (since the previous epoch)
    latency_s: float = 0.0  # oldest covered account change -> epoch attested (wall seconds)
    audit_failed: list[str] = field(default_factory=list)  # names of failed audit checks
    stages: dict[str, float] = field(default_factory=dict)  # venue: the operator's stage timings (seconds)
    audit_seconds: float = 0.0


@dataclass
class RunResult:
    ticks: list[TickRecord] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    event_counts: Counter[str] = field(default_factory=Counter)
    report: Path | None = None
    prover: str = "in-process"
    resumed_after: int = 0  # the last tick an earlier run had finished (0: a new run)

    @staticmethod
    def from_state(state: RunState, prover: str) -> RunResult:
        return RunResult(
            [TickRecord(**t) for t in state.ticks], [EpochRecord(**e) for e in state.epochs], list(state.versions),
            Counter(state.event_counts), None, prover,
        )  # fmt: skip


# ---------------------------------------------------------------------- the loop
def run_realtime(cfg: RunConfig, observer: RunObserver | None = None, feed: PriceFeed | None = None) -> RunResult:
    """Run (or continue) the loop; raises RunError for bad options or inputs (nothing is written then).

    ``observer`` None: the CLI's rich renderer (``realtime_render.RichRenderer``). ``feed``: a live price adapter
    for the venue run (None: the replay or synthetic stream of ``cfg``)."""
    cfg.validate()
    if feed is not None and cfg.circuit != "venue":
        raise RunError("a live price feed drives the venue run only (--circuit venue)")
    stream = load_stream(cfg) if feed is None else None  # every price row checked before any other work
    out = Path(cfg.out)
    try:
        state = RunState.load(out, cfg.identity())
    except RunStateError as e:
        raise RunError(str(e)) from e
    if cfg.circuit == "venue" and state is not None:
        raise RunError(
            f"--out {out} holds a venue run that stopped after tick {state.last_tick}: a venue run does "
            "not resume (its account-change stream and slot record are not replayed); use another --out"
        )
    if observer is None:
        from .realtime_render import RichRenderer

        observer = RichRenderer()
    loop: Any
    if cfg.circuit == "venue":
        from .realtime_venue import VenueRunLoop

        loop = VenueRunLoop(cfg, feed or StreamFeed(stream, cfg.ticks), observer)  # type: ignore[arg-type]
    else:
        from .realtime_loop import RunLoop

        assert stream is not None
        loop = RunLoop(cfg, stream, state, observer)
    try:
        loop.run()
    finally:
        loop.close()
    res = loop.result()
    if cfg.report:
        from .realtime_report import write_report

        res.report = write_report(res, out / "run_report.png", cfg)
    summary = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
        "prover": res.prover,
        "resumed_after_tick": res.resumed_after,
        "events": dict(res.event_counts),
        "versions": res.versions,
        "epochs": [asdict(e) for e in res.epochs],
        "ticks": [asdict(t) for t in res.ticks],
        "report": str(res.report),
    }
    atomic_write_text(out / "run.json", json.dumps(summary, indent=1))
    return res
