"""``zkmargin run --circuit venue``: the real-time loop on the venue circuit with the price box and incremental
epochs (issue 16, "The real-time loop").

Per tick: the feed's prices (the replayed BTC/ETH history through ``StreamFeed``, or a live ``PriceFeed`` adapter)
-> the tick's account changes (``account_stream.ChangeStream``: seeded deposits, withdrawals, opened and closed
positions, new and closed accounts) -> every account revalued at the tick's prices (status events, as the slots run)
-> the registry's mock feeds moved to the tick's prices and its live view read (``liveStatus()``): false when a feed
left the attested box -> an epoch when one is due (tick 1, every ``epoch_every`` ticks with changes) or when the
live view is false because a feed left the box or the attestation aged: an UPDATE epoch
(``VenueOperator.run_update``: only the slots whose accounts changed are re-proven, at the latest box centre; the
other slots' statements are carried) while the feeds are inside the box and the parameters
and key are unchanged, else a FULL epoch re-centred at the tick's prices (the operator's reason is recorded) ->
the bundle audited -> the live view read again (it must be true again after the epoch).

Why the live view is read every tick: the chain's answer changes with the feeds, not with proofs; the run records
when it is false and why, and the epoch that made it true again. Why an epoch when it is false for those reasons:
that is the only thing that makes it true again, so waiting for the next scheduled epoch would leave the chain view
false (other reasons, e.g. bad debt above the insurance fund, no epoch cures: they are recorded, not chased).

Latency per epoch: wall seconds from the oldest account change it covers to its attestation (the brief's "account
change -> attested update"). The governed parameters stay those of the deployment (the slots run's calibration is
not replayed here: a parameter change forces a full epoch by the operator's own check, and governance of a new venue
document is the demo's business, not the loop's).

Submitting updates: ``VenueOperator._attest_update`` -> ``SolvencyRegistryWriter.submit_update`` -> the registry's
``submitUpdate`` (which itself refuses an update while a feed is outside the latest box, or under another key).
A venue run does not resume.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.rules.params import ScenarioGrid
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.chain_live import LIVE_REASONS, OUTSIDE_BOX, TOO_OLD, LiveStatus

from ..engine.margin import MarginEngine
from .account_stream import AccountChange, ChangeStream
from .chain_ops import MAX_FEED_AGE, ChainDeployment, update_feeds
from .exchange import demo_engine
from .price_stream import PriceDataError, PriceFeed, checked_prices
from .realtime import EpochRecord, RunConfig, RunError, RunObserver, RunResult, TickRecord, run_accounts
from .realtime_loop import EVENT_KIND, ratio_percentiles
from .run_state import EventLog, RunState
from .venue_epoch import VenueOperator, VenueSpec
from .venue_slots import fingerprint
from .venue_update import load_state

log = logging.getLogger(__name__)

UNDERLYINGS = ("BTC", "ETH")
CHANGES = "changes.jsonl"
# the registry's insurance fund (the venue demo's): a crash day leaves a few accounts with bad debt at the box's worst
# corner, which the live view accepts only up to the fund (the reason is recorded when it does not)
INSURANCE_FUND = 1_000_000 * 10**6
FEED_HEARTBEAT = MAX_FEED_AGE // 2  # seconds: an unchanged feed is set again after this long


def venue_engine(prices: dict[str, float], now: int, box_ppm: int) -> MarginEngine:
    """The demo venue at the tick's BTC/ETH prices, with a BTC scenario grid whose nodes include the box edges (an
    option is proven over a box only when its edges are grid nodes). ``now`` is the run's fixed listing clock: the
    instrument table, hence the governed parameters, stay the same across ticks."""
    e = demo_engine(btc=prices["BTC"], eth=prices["ETH"], now=now)
    moves = sorted({-150_000, -box_ppm, 0, box_ppm, 150_000})
    grid = ScenarioGrid(price_moves=moves, vol_shocks=[-250_000, 0, 250_000])
    params = e.params.model_copy(update={"scenario_grids": {"BTC": grid}})
    ra = build_risk_arrays(e.instruments, e.snapshot, params.scenario_grids, params.short_option_min)
    return MarginEngine(e.instruments, params, e.snapshot, ra)


def venue_spec(cfg: RunConfig) -> VenueSpec:
    """``--batch`` leaves per batch, two positions and two balances per leaf (the venue tests' small shape)."""
    return VenueSpec(leaves=cfg.batch, positions=2, balances=2, box_ppm=cfg.resolved_box_ppm())


def book_unchanged(op: VenueOperator, book: list[Account]) -> bool:
    """True when the book is exactly the latest epoch's slot record (same accounts, same fingerprints): the changes
    since cancelled out (an account opened and closed again), an update would have no op, and the registry refuses
    an empty update, so no epoch is due."""
    state = load_state(op.root, op.latest_epoch())
    if state is None:
        return False
    proven = {(m, f) for s in state.slots for m, f in zip(s.members, s.fingerprints, strict=True)}
    return proven == {(a.account_id, fingerprint(a)) for a in book}


class JsonLines(EventLog):
    """A durable JSON-lines file next to the bundle (``changes.jsonl``): ``EventLog``'s writer under another name."""

    def __init__(self, out: Path, name: str) -> None:
        super().__init__(out)
        self.path = Path(out) / name


class VenueRunLoop:
    """One venue run over ``cfg.out`` (a new run: ``run_realtime`` refuses an ``--out`` holding one)."""

    def __init__(self, cfg: RunConfig, feed: PriceFeed, observer: RunObserver) -> None:
        self.cfg = cfg
        self.feed = feed
        self.observer = observer
        self.out = Path(cfg.out)
        self.events = EventLog(self.out)
        self.changes = JsonLines(self.out, CHANGES)
        self.state: RunState | None = None
        self.prover_name = "in-process"
        self._feeds_chain: ChainDeployment | None = None
        self._feed_set: dict[int, tuple[int, float]] = {}  # feed index -> (answer, monotonic time set)

    def close(self) -> None:
        self.events.close()
        self.changes.close()
        self.observer.close()

    def result(self) -> RunResult:
        if self.state is None:
            raise RunError("the venue run stopped before its first tick")
        return RunResult.from_state(self.state, self.prover_name)

    def _next(self, tick: int) -> tuple[str, dict[str, float]]:
        try:
            label, prices = self.feed.next_tick()
            return str(label), checked_prices(str(label), dict(prices), UNDERLYINGS)
        except PriceDataError as e:
            raise RunError(f"tick {tick}: {e}") from e

    # ------------------------------------------------------------------ the loop
    def run(self) -> None:
        cfg = self.cfg
        box = cfg.resolved_box_ppm()
        date, prices = self._next(1)
        self.out.mkdir(parents=True, exist_ok=True)
        now = int(time.time())  # the listing clock (module docstring); the embedded chain's clock is the wall clock
        engine = venue_engine(prices, now, box)
        book = run_accounts(prices["BTC"], prices["ETH"], cfg.accounts, cfg.seed)
        stream = ChangeStream(cfg.seed, cfg.resolved_changes(), first_new=cfg.accounts)
        op = VenueOperator(self.out, venue_spec(cfg), progress=self.observer.progress)
        state = self.state = RunState(cfg.identity(), base_epoch=op.latest_epoch(),
                                      status={a.account_id: "healthy" for a in book})  # fmt: skip
        state.save(self.out)
        self.observer.start(cfg, self.prover_name, 0)
        table = op.table(engine)
        setup = op.setup(op.shape(engine, table))
        self.observer.setup_ready(setup.kind, setup.label())
        chain = op.deploy_chain(engine, insurance_fund_micro_usd=INSURANCE_FUND)
        assets = list(table.assets)
        pending: list[tuple[float, AccountChange]] = []  # changes no epoch covers yet, with their wall time
        centre: dict[str, float] = {}
        live_prev: tuple[bool, str] = (False, "no attestation")
        false_since = 0
        for n in range(1, cfg.ticks + 1):
            if n > 1:
                date, prices = self._next(n)
                engine = venue_engine(prices, now, box)
                book, chs = stream.step(n, book, engine.snapshot.marks, prices)
                t_applied = time.perf_counter()
                for ch in chs:
                    pending.append((t_applied, ch))
                    self.changes.append(asdict(ch) | {"date": date})
            else:
                chs = []
            evs = self._revalue(engine, book, n, date)
            chain = op.chain or chain
            self._move_feeds(chain, [engine.snapshot.spot_prices[a] for a in assets])
            before = self._live(chain, n)
            if before[0] != live_prev[0] and n > 1:  # before the first epoch there is nothing to be true about
                self.observer.live(n, date, before[0], before[1], "feeds at the tick's prices")
                false_since = 0 if before[0] else n
            live_prev = before
            # an epoch cures a feed outside the box or an old attestation (not, e.g., uncovered bad debt: that one
            # is recorded every tick, and forcing an epoch per tick would not change it)
            stale = not before[0] and before[1].startswith((LIVE_REASONS[OUTSIDE_BOX], LIVE_REASONS[TOO_OLD]))
            due = n == 1 or n % cfg.epoch_every == 0 or stale
            epoch_rec = None
            if due and pending and not stale and book_unchanged(op, book):
                pending = []  # the changes cancelled out: nothing to prove (book_unchanged)
            if due and (n == 1 or pending or stale):
                epoch_rec = self._epoch(op, engine, book, pending, n, date)
                pending = []
                if epoch_rec.mode == "full":
                    centre = {u: prices[u] for u in UNDERLYINGS}
            after = self._live(op.chain or chain, n) if epoch_rec is not None else before
            if epoch_rec is not None and after[0] != live_prev[0] and n > 1:
                self.observer.live(n, date, after[0], after[1], f"after epoch {epoch_rec.epoch}")
                if after[0] and false_since:
                    epoch_rec.note = (f"{epoch_rec.note}; " if epoch_rec.note else "") + (
                        f"live view true again (false since tick {false_since}: {before[1]})"
                    )
            live_prev = after
            box_now = {u: [c * (1 - box / 1e6), c * (1 + box / 1e6)] for u, c in centre.items()}
            counts = Counter(state.status[a.account_id] for a in book)
            rec = TickRecord(n, date, prices, self._ratios, dict(counts), len(evs), len(chs),
                             {"before": list(before), "after": list(after)}, box_now or None)  # fmt: skip
            state.record_tick(self.out, n, rec, evs, epoch_rec)
            self.observer.tick(rec, [], cfg.ticks)
            if epoch_rec is not None:
                self.observer.epoch(epoch_rec)

    def _move_feeds(self, chain: ChainDeployment, prices: list[int]) -> None:
        """Set each mock feed whose price changed, and every feed at least every ``FEED_HEARTBEAT`` seconds (a feed
        older than the registry's maxFeedAge reads as stale, as a real oracle's heartbeat prevents). Why not all
        feeds every tick: each answer is a transaction, and the embedded chain's log scans (``chain_record``) grow
        with every block."""
        now = time.monotonic()
        if self._feeds_chain is not chain:  # a new deployment: its feeds were set at deployment
            self._feeds_chain, self._feed_set = chain, {}
        stale = [i for i, p in enumerate(prices) if self._feed_set.get(i, (None, -1e18))[0] != p
                 or now - self._feed_set[i][1] > FEED_HEARTBEAT]  # fmt: skip
        if len(stale) == len(prices):
            update_feeds(chain, prices)
        else:
            for i in stale:
                chain.chain.transact(chain.feeds[i].functions.setAnswer(prices[i]), sender=chain.feed_owner)
        self._feed_set |= {i: (prices[i], now) for i in stale}

    def _live(self, chain: ChainDeployment, tick: int) -> tuple[bool, str]:
        """The registry's live view now: (solvent, reason) ('no attestation' before the first epoch)."""
        if chain.registry.latest_epoch() is None:
            return False, "no attestation"
        live: LiveStatus = chain.registry.live_status()
        return bool(live.solvent), live.reason_text

    def _revalue(self, engine: MarginEngine, book: list[Account], tick: int, date: str) -> list[dict[str, Any]]:
        """Every account at the tick's prices; status changes are events (as in the slots run)."""
        assert self.state is not None
        status = self.state.status
        live_ids = {a.account_id for a in book}
        for gone in [a for a in status if a not in live_ids]:
            del status[gone]
        evs: list[dict[str, Any]] = []
        eq, mm = [], []
        for acct in book:
            r = engine.evaluate(acct)
            eq.append(r.equity)
            mm.append(r.mm)
            old = status.get(acct.account_id, "healthy")
            if r.status != old:
                status[acct.account_id] = r.status
                ev = {"tick": tick, "date": date, "event": EVENT_KIND.get(r.status, "cured"),
                      "account": acct.account_id, "from": old, "equity": r.equity, "im": r.im, "mm": r.mm,
                      "shortfall": r.shortfall}  # fmt: skip
                self.events.append(ev)
                self.observer.event(ev, len(evs) + 1)
                evs.append(ev)
            else:
                status.setdefault(acct.account_id, r.status)
        self._ratios = ratio_percentiles(np.array(eq, dtype=float), np.array(mm, dtype=float))
        return evs

    def _epoch(
        self,
        op: VenueOperator,
        engine: MarginEngine,
        book: list[Account],
        pending: list[tuple[float, AccountChange]],
        tick: int,
        date: str,
    ) -> EpochRecord:
        """An update epoch when the operator can make one (``run_update``: the changed slots re-proven at the latest
        box centre, submitted with ``submitUpdate``), else a full re-centred epoch with the operator's reason; then
        the audit against the registry."""
        t0 = time.perf_counter()
        epoch = op.latest_epoch() + 1
        chain = op.chain
        assert chain is not None
        op.timings = {}
        u = op.run_update(epoch, engine, book)
        res = u.result
        seconds = time.perf_counter() - t0
        latency = time.perf_counter() - min(t for t, _ in pending) if pending else 0.0
        t0 = time.perf_counter()
        rep = audit_bundle(res.path, registry=chain.registry)
        audit_s = time.perf_counter() - t0
        failed = sorted({c.name for c in rep.checks if not c.ok})
        log.info("venue run epoch %d (%s): %d of %d slots proven, audit %s", epoch, u.mode, len(u.reproved),
                 res.batches, rep.ok)  # fmt: skip
        return EpochRecord(
            epoch, tick, date, seconds, res.prove_wall_seconds, res.batches, res.covered, len(res.excluded),
            str(res.manifest.get("parameter_version", "")), rep.ok, 0, str(res.path), mode=u.mode,
            reason=u.reason, reproved_slots=list(u.reproved), slots=res.batches, proofs=u.proofs,
            changes=len(pending), latency_s=latency, audit_failed=failed, stages=dict(op.timings),
            audit_seconds=audit_s,
        )  # fmt: skip
