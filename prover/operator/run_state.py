"""What makes ``zkmargin run`` resumable: its state file and its durable event log, both next to the bundle.

``run_state.json`` (written atomically after every tick) holds the run's identity (the options that fix its ticks
and book), the epoch numbering base, the last finished tick and everything the summary and report need.
``events.jsonl`` gets one line per event, flushed and fsynced as it is written. A rerun of the same ``--out``
replays the calibration up to the last finished tick (no output), drops any event line of an unfinished tick, and
continues; each tick's epoch number is ``base_epoch + tick // epoch_every``, so a tick whose epoch was published
before the crash finds it published (``Operator.run_epoch`` reloads it) and no date is ever published twice.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from zkmargin.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

STATE = "run_state.json"
EVENTS = "events.jsonl"
FORMAT = "zkmargin-run-state/1"


class RunStateError(ValueError):
    """The output directory holds a run this one cannot continue (other options, unreadable state)."""


@dataclass
class RunState:
    identity: dict[str, Any]  # options that must match for a rerun to continue this run
    base_epoch: int  # epochs of this run are base_epoch + 1, + 2, ...
    last_tick: int = 0
    status: dict[str, str] = field(default_factory=dict)  # account id -> status after last_tick
    ticks: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    event_counts: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def load(out: Path, identity: dict[str, Any]) -> RunState | None:
        """The state of the run in ``out`` (None: no run there yet). Raises ``RunStateError`` naming the option
        when that run was started with other options: continuing it would mix two books in one history."""
        path = Path(out) / STATE
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text())
            if raw.get("format") != FORMAT:
                raise RunStateError(f"{path}: format {raw.get('format')!r}, expected {FORMAT!r}")
            raw.pop("format")
            state = RunState(**raw)
        except (ValueError, TypeError) as e:
            if isinstance(e, RunStateError):
                raise
            raise RunStateError(f"{path}: unreadable run state ({e})") from e
        theirs, ours = state.identity.get("circuit", "slots"), identity.get("circuit", "slots")
        if theirs != ours:  # a slots identity has no "circuit" key: compare it explicitly
            raise RunStateError(f"--out {out} holds a run with circuit {theirs!r}, this one has {ours!r}: "
                                "use another --out")  # fmt: skip
        for key, value in identity.items():
            if state.identity.get(key) != value:
                raise RunStateError(
                    f"--out {out} holds a run with {key} {state.identity.get(key)!r}, this one has {value!r}: "
                    "rerun with the same options to continue it, or use another --out"
                )
        return state

    def record_tick(
        self,
        out: Path,
        n: int,
        tick: Any,
        events: list[dict[str, Any]],
        epoch: Any | None = None,
        versions: list[dict[str, Any]] | None = None,
    ) -> None:
        """Tick ``n`` finished (its record, its events, its epoch if one ran, calibration versions): append, count and
        save durably, so a rerun continues after it. Shared by the fixed-slot and the venue run loops."""
        self.ticks.append(asdict(tick))
        self.versions += versions or []
        for ev in events:
            self.event_counts[ev["event"]] = self.event_counts.get(ev["event"], 0) + 1
        if epoch is not None:
            self.epochs.append(asdict(epoch))
        self.last_tick = n
        self.save(out)

    def save(self, out: Path) -> None:
        atomic_write_bytes(Path(out) / STATE, json.dumps({"format": FORMAT, **asdict(self)}, indent=1).encode())


class EventLog:
    """``events.jsonl``: one JSON object per line, each durable (flushed and fsynced) before the next is written."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / EVENTS
        self._f: IO[str] | None = None

    def keep_through(self, tick: int) -> int:
        """Drop every event after ``tick`` (written by a tick that did not finish) and a torn last line; returns
        how many lines were dropped. Rewrites the file atomically, and only when something is dropped."""
        if not self.path.exists():
            return 0
        lines = self.path.read_text().splitlines()
        kept: list[str] = []
        for n, line in enumerate(lines, start=1):
            try:
                ev = json.loads(line)
                t = int(ev["tick"])
            except (ValueError, KeyError, TypeError) as e:
                if n == len(lines):  # a crash mid-write tears the last line only
                    continue
                raise RunStateError(f"{self.path}: line {n}: not an event ({e})") from e
            if t <= tick:
                kept.append(line)
        dropped = len(lines) - len(kept)
        if dropped:
            log.info("%s: dropping %d event line(s) of unfinished tick(s)", self.path, dropped)
            atomic_write_bytes(self.path, "".join(x + "\n" for x in kept).encode())
        return dropped

    def append(self, event: dict[str, Any]) -> None:
        if self._f is None:
            self._f = self.path.open("a", encoding="utf-8")
        self._f.write(json.dumps(event) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
