"""The console face of ``zkmargin run``: rich progress bars (ticks, each epoch's stages) and one line per event,
parameter version and epoch. The loop (``realtime_loop.py``) never prints; this observer is the only thing that does.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from .realtime import EpochRecord, RunConfig, RunObserver, TickRecord

MAX_EVENTS_SHOWN = 8  # per tick: a crash day can move most of the book at once
COLOUR = {"margin_call": "yellow", "liquidation_trigger": "red"}


class RichRenderer(RunObserver):
    def __init__(self, console: Console | None = None) -> None:
        self.con = console or Console()
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), console=self.con,
        )  # fmt: skip
        self.tasks: dict[str, TaskID] = {}
        self.tick_task: TaskID | None = None
        self.last_date = ""
        self.hidden = 0

    def start(self, cfg: RunConfig, prover: str, resumed_after: int) -> None:
        self.bar.start()
        self.tick_task = self.bar.add_task("ticks", total=cfg.ticks, completed=resumed_after)
        if resumed_after:
            self.con.print(f"continuing the run in {cfg.out} after tick {resumed_after}")
        self.con.print(f"prover: {prover}; bundle root {cfg.out}")

    def progress(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(f"  {stage}", total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def setup_ready(self, kind: str, label: str) -> None:
        for stage in [s for s in self.tasks if s.startswith("setup")]:
            self.progress(stage, 1, 1)
        if kind == "development":
            self.con.print(f"[bold red]{label}[/]")

    def event(self, event: dict[str, Any], shown: int) -> None:
        if shown > MAX_EVENTS_SHOWN:
            self.hidden += 1
            return
        colour = COLOUR.get(event["event"], "green")
        usd = {k: f"{event[k] / 1e6:,.0f}" for k in ("equity", "im", "mm")}
        self.con.print(
            f"[{colour}]{event['date']} {event['event']:<20}[/] {event['account']}  equity {usd['equity']} USD  "
            f"IM {usd['im']}  MM {usd['mm']}"
        )

    def tick(self, record: TickRecord, changed: list[dict[str, Any]], ticks: int) -> None:
        if self.hidden:
            self.con.print(f"  ... and {self.hidden} more events at {record.date}")
            self.hidden = 0
        for v in changed:
            self.con.print(f"[cyan]{record.date} parameters[/] {v['underlying']} v{v['version']}: "
                           f"IM {v['im_rate'] / 1e4:.1f}%, MM {v['mm_rate'] / 1e4:.1f}% ({v['cap']})")  # fmt: skip
        if self.tick_task is not None:
            c = record.counts
            text = f"{c.get('margin_call', 0)} margin call, {c.get('liquidation', 0)} liquidation"
            self.bar.update(self.tick_task, completed=record.tick, description=f"ticks ({record.date}: {text})")

    def epoch(self, record: EpochRecord) -> None:
        audit = f"audit {'PASS' if record.audit_ok else 'FAIL'}" + (f" ({record.note})" if record.note else "")
        if record.slots and record.mode == "update":  # a venue run's incremental epoch
            self.con.print(
                f"[bold]epoch {record.epoch}[/] at {record.date}: [green]update[/], {len(record.reproved_slots)} of "
                f"{record.slots} slots re-proven ({record.changes} account changes), {record.covered} accounts; "
                f"{record.seconds:.1f} s, latency {record.latency_s:.1f} s; {audit}"
            )
            return
        if record.slots:  # a venue run's full epoch
            self.con.print(
                f"[bold]epoch {record.epoch}[/] at {record.date}: [magenta]full[/] ({record.reason}), "
                f"{record.covered} accounts in {record.slots} slots; {record.seconds:.1f} s"
                + (f", latency {record.latency_s:.1f} s" if record.changes else "")
                + f"; {audit}"
            )
            return
        self.con.print(
            f"[bold]epoch {record.epoch}[/] at {record.date}: {record.covered} accounts in {record.batches} batches, "
            f"{record.excluded} excluded, proved+attested in {record.seconds:.1f} s, {audit}"
        )

    def live(self, tick: int, date: str, solvent: bool, reason: str, when: str) -> None:
        colour = "green" if solvent else "bold red"
        self.con.print(f"[{colour}]{date} live view: isSolvent() = {solvent}[/] ({reason}; {when})")

    def close(self) -> None:
        self.bar.stop()
