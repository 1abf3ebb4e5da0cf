"""The state machine of ``zkmargin run``: ticks, events, epochs, and the run state that lets a rerun continue.

Order within a tick, chosen so that an interruption anywhere is recoverable: calibration step -> revaluation ->
each event appended durably -> the epoch (when due) proven, attested, published and audited -> the tick's records
saved atomically in ``run_state.json`` -> the observer told. A rerun replays the calibration silently up to the last
saved tick, drops the event lines of an unsaved tick, and redoes that tick; its epoch number is fixed by the tick
(``base_epoch + tick // epoch_every``), so an epoch published just before the interruption is found published and
never published again under another number.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from zkmargin.atomic import atomic_write_text
from zkmargin.circuits.rules.methodology import DynamicReplay, Methodology
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.rules.tightening import tightening_violations
from zkmargin.verifier.audit import audit_bundle

from ..engine.margin import MarginEngine
from ..engine.vectorised import STATUS_NAMES, Book, VectorEngine
from ..solvency_witness import BatchLayout
from .chain_ops import ChainDeployment, govern_params
from .exchange import ExchangeSpec, demo_engine
from .pipeline import Operator, governed_registration
from .price_stream import Stream
from .realtime import (
    RUN_SPEC,
    EpochRecord,
    RunConfig,
    RunObserver,
    RunResult,
    TickRecord,
    make_engine,
    run_accounts,
    run_methodology,
)
from .run_state import EventLog, RunState

log = logging.getLogger(__name__)

EVENT_KIND = {"margin_call": "margin_call", "liquidation": "liquidation_trigger"}  # new status -> event; else cured
RELOADED_NOTE = (
    "published before an interruption; the registry that attested it (the interrupted process's embedded chain) "
    "is gone, so it was audited without a registry"
)


def ratio_percentiles(equity: np.ndarray, mm: np.ndarray) -> list[float]:
    """Equity/MM percentiles 5-25-50-75-95 over accounts with MM > 0 (zeros when none has a position)."""
    has_mm = mm > 0
    ratio = equity[has_mm] / mm[has_mm]
    return [float(x) for x in np.percentile(ratio, [5, 25, 50, 75, 95])] if ratio.size else [0.0] * 5


def status_events(tick: int, date: str, ids: list[str], r: Any, status: dict[str, str]) -> list[dict[str, Any]]:
    """The tick's status changes as events (``status`` is updated to the new statuses)."""
    out = []
    for k, aid in enumerate(ids):
        new, old = STATUS_NAMES[int(r.status[k])], status[aid]
        if new == old:
            continue
        status[aid] = new
        out.append({"tick": tick, "date": date, "event": EVENT_KIND.get(new, "cured"), "account": aid, "from": old,
                    "equity": int(r.equity[k]), "im": int(r.im[k]), "mm": int(r.mm[k]),
                    "shortfall": int(r.shortfall[k])})  # fmt: skip
    return out


class RunLoop:
    """One invocation of ``zkmargin run`` over ``cfg.out`` (a new run, or the continuation of ``state``)."""

    def __init__(self, cfg: RunConfig, stream: Stream, state: RunState | None, observer: RunObserver) -> None:
        self.cfg = cfg
        self.stream = stream
        self.state = state
        self.observer = observer
        self.out = Path(cfg.out)
        self.resumed_after = state.last_tick if state is not None else 0
        self.events = EventLog(self.out)
        self.prover_name = "in-process"
        self._dask: Any = None

    def close(self) -> None:
        self.events.close()
        if self._dask is not None:
            self._dask.close()
        self.observer.close()

    def result(self) -> RunResult:
        assert self.state is not None, "run() creates the state"
        res = RunResult.from_state(self.state, self.prover_name)
        res.resumed_after = self.resumed_after
        return res

    def run(self) -> None:
        cfg, stream = self.cfg, self.stream
        if self.state is not None and self.state.last_tick >= cfg.ticks:
            log.info("%s: the run already finished tick %d; nothing to do", self.out, self.state.last_tick)
            return
        self.out.mkdir(parents=True, exist_ok=True)
        base = demo_engine(n_brackets=2, tiers=1).params
        p0 = stream.ticks(1)[0][1]
        book = run_accounts(p0["BTC"], p0["ETH"], cfg.accounts, cfg.seed)
        method, history = run_methodology(cfg, stream, base)
        replay = DynamicReplay(method, history)
        prover = None
        if cfg.workers or cfg.scheduler:
            from .distributed import DaskProver

            prover = self._dask = DaskProver(workers=cfg.workers or 1, scheduler=cfg.scheduler)
            self.prover_name = prover.describe()
        spec = ExchangeSpec(RUN_SPEC.instruments, RUN_SPEC.assets, cfg.batch)
        op = Operator(self.out, spec, progress=self.observer.progress, prover=prover,
                      proof_system=cfg.resolved_proof_system())  # fmt: skip
        if self.state is None:
            status = {a.account_id: "healthy" for a in book}
            self.state = RunState(cfg.identity(), base_epoch=op.latest_epoch(), status=status)
            self.state.save(self.out)
        else:
            self.events.keep_through(self.state.last_tick)
            log.info("%s: continuing after tick %d", self.out, self.state.last_tick)
        state = self.state
        self.observer.start(cfg, self.prover_name, self.resumed_after)
        engine = make_engine(base, p0["BTC"], p0["ETH"])
        layout = op.layout(engine)
        setup = op.setup(layout)
        self.observer.setup_ready(setup.kind, setup.label())
        chain = op.deploy_chain(engine)
        governed_prev: RiskParameters | None = None
        for n, (date, prices) in enumerate(stream.ticks(cfg.ticks), start=1):
            changed = replay.step(date)
            params = replay.params()
            if n <= state.last_tick:  # finished by an earlier run: only the calibration state is rebuilt
                if n % cfg.epoch_every == 0:
                    governed_prev = params
                continue
            versions = [
                {"tick": n, "date": date, "underlying": u, "version": v.version, "im_rate": v.rates.im_rate,
                 "mm_rate": v.rates.mm_rate, "hash": v.version_hash(), "cap": v.explanation.get("cap")}
                for u, v in changed.items()
            ]  # fmt: skip
            engine = make_engine(params, prices["BTC"], prices["ETH"])
            ve = VectorEngine(engine.instruments, params, engine.snapshot, list(spec.assets), engine.risk_arrays)
            vbook = Book.from_accounts(book, ve.symbols, list(spec.assets))
            r = ve.revalue(vbook)
            evs = status_events(n, date, list(vbook.account_ids), r, state.status)
            for k, ev in enumerate(evs, start=1):
                self.events.append(ev)
                self.observer.event(ev, k)
            counts = Counter(STATUS_NAMES[int(s)] for s in r.status)
            rec = TickRecord(n, date, prices, ratio_percentiles(r.equity, r.mm), dict(counts), len(evs))
            epoch_rec = None
            if n % cfg.epoch_every == 0:
                vector = {aid: STATUS_NAMES[int(r.status[k])] for k, aid in enumerate(vbook.account_ids)}
                epoch_rec = self._epoch(op, chain, engine, layout, method, params, governed_prev, n, date, book,
                                        vector)  # fmt: skip
                governed_prev = params
            state.record_tick(self.out, n, rec, evs, epoch_rec, versions)
            self.observer.tick(rec, versions, cfg.ticks)
            if epoch_rec is not None:
                self.observer.epoch(epoch_rec)

    def _epoch(
        self,
        op: Operator,
        chain: ChainDeployment,
        engine: MarginEngine,
        layout: BatchLayout,
        method: Methodology,
        params: RiskParameters,
        governed_prev: RiskParameters | None,
        tick: int,
        date: str,
        book: list[Account],
        vector_status: dict[str, str],
    ) -> EpochRecord:
        """Governance registers the tick's parameters (timelocked; the replay fast-forwards the clock), the epoch
        is proven, attested and published under the tick's fixed number, then audited."""
        assert self.state is not None
        t0 = time.perf_counter()
        at_epoch = method.model_copy(update={"asof": date})
        gov = governed_registration(engine, layout, at_epoch)
        tightening = governed_prev is not None and not tightening_violations(governed_prev, params)
        govern_params(chain, gov.commitment, gov.document, tightening, simulate_delay=True)
        epoch = self.state.base_epoch + tick // self.cfg.epoch_every
        er = op.run_epoch(epoch, engine, book, methodology=at_epoch)
        seconds = time.perf_counter() - t0
        mism = sum(engine.evaluate(a).status != vector_status[a.account_id] for a in book)
        if er.reloaded:
            rep, note = audit_bundle(er.path), RELOADED_NOTE
        else:
            rep, note = audit_bundle(er.path, registry=chain.registry), ""
        atomic_write_text(self.out / "methodology" / f"epoch-{epoch:04d}.json", at_epoch.canonical_json())
        log.info("epoch %d at %s: %d accounts in %d batches, audit %s", epoch, date, er.covered, er.batches, rep.ok)
        return EpochRecord(epoch, tick, date, seconds, er.prove_wall_seconds, er.batches, er.covered,
                           len(er.excluded), er.manifest["parameter_version"], rep.ok, mism, str(er.path),
                           at_epoch.version_hash(), note)  # fmt: skip
