"""``zkmargin run`` that resumes (issue 13): interrupted runs continue from their last tick without republishing a
date, events are durable and not duplicated, bad price rows are refused at load naming file, row and field."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import product_helpers as ph
import pytest

from zkmargin.circuits.rules.calibration import DATA
from zkmargin.prover.operator import Operator
from zkmargin.prover.operator.price_stream import load_price_csv
from zkmargin.prover.operator.realtime import EpochRecord, RunConfig, RunError, RunObserver, run_realtime
from zkmargin.prover.operator.run_state import EventLog
from zkmargin.verifier import bundle as fmt

ARGS: dict[str, Any] = {"ticks": 4, "epoch_every": 2, "accounts": 5, "batch": 2, "start": "2020-03-10", "report": False}


class Interrupt(KeyboardInterrupt):
    """What Ctrl-C would raise in the loop."""


class StopAfterEpoch(RunObserver):
    """Interrupts once epoch ``n`` is published, audited and saved in the run state."""

    def __init__(self, n: int) -> None:
        self.n = n

    def epoch(self, record: EpochRecord) -> None:
        if record.epoch == self.n:
            raise Interrupt


class StopAfterBundle(RunObserver):
    """Interrupts right after the first epoch's bundle is written and indexed, before the tick is saved."""

    def progress(self, stage: str, done: int, total: int) -> None:
        if stage == "write bundle" and done == total:
            raise Interrupt


def _root_with_setup(tmp_path: Path, setup_dir: Path) -> Path:
    out = tmp_path / "run"
    layout = Operator(tmp_path / "scratch", ph.SPEC).layout(ph.engine())
    shutil.copytree(setup_dir, out / "setups" / fmt.setup_dirname(layout.shape, ph.PROOF_SYSTEM))
    return out


def _events(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, setup_dir: Path) -> dict[str, Any]:
    """An uninterrupted run of the same options: what an interrupted one must end up equal to."""
    out = _root_with_setup(tmp_path_factory.mktemp("baseline"), setup_dir)
    run_realtime(RunConfig(out=out, **ARGS), RunObserver())
    return {"events": _events(out), "summary": json.loads((out / "run.json").read_text())}


def _check_continued(out: Path, baseline: dict[str, Any]) -> dict[str, Any]:
    summary = json.loads((out / "run.json").read_text())
    assert [r["epoch"] for r in fmt.list_epochs(out)] == [1, 2]
    dates = [e["date"] for e in summary["epochs"]]
    assert len(set(dates)) == len(dates) == 2 and dates == [e["date"] for e in baseline["summary"]["epochs"]]
    assert [t["tick"] for t in summary["ticks"]] == [1, 2, 3, 4]
    assert _events(out) == baseline["events"], "events lost or duplicated by the interruption"
    assert summary["events"] == baseline["summary"]["events"]
    return summary


def test_interrupted_after_first_epoch_continues(tmp_path: Path, setup_dir: Path, baseline: dict[str, Any]) -> None:
    out = _root_with_setup(tmp_path, setup_dir)
    with pytest.raises(Interrupt):
        run_realtime(RunConfig(out=out, **ARGS), StopAfterEpoch(1))
    assert [r["epoch"] for r in fmt.list_epochs(out)] == [1]
    manifest_1 = (out / fmt.epoch_dirname(1) / fmt.MANIFEST).read_bytes()
    res = run_realtime(RunConfig(out=out, **ARGS), RunObserver())
    assert res.resumed_after == 2
    summary = _check_continued(out, baseline)
    assert all(e["audit_ok"] for e in summary["epochs"])
    assert (out / fmt.epoch_dirname(1) / fmt.MANIFEST).read_bytes() == manifest_1  # epoch 1 untouched
    # a third invocation has nothing left to do and publishes nothing
    run_realtime(RunConfig(out=out, **ARGS), RunObserver())
    assert [r["epoch"] for r in fmt.list_epochs(out)] == [1, 2]
    # more ticks continue the same run: the next epoch is the next date
    more = run_realtime(RunConfig(out=out, **{**ARGS, "ticks": 6}), RunObserver())
    assert [r["epoch"] for r in fmt.list_epochs(out)] == [1, 2, 3]
    dates = [e.date for e in more.epochs]
    assert len(set(dates)) == 3 and dates == sorted(dates)


def test_interrupted_between_publish_and_tick_save(tmp_path: Path, setup_dir: Path, baseline: dict[str, Any]) -> None:
    """The epoch is published and indexed, the tick not saved: the rerun redoes the tick, finds the epoch published
    under the same number (no second epoch for that date) and drops the tick's event lines before rewriting them."""
    out = _root_with_setup(tmp_path, setup_dir)
    with pytest.raises(Interrupt):
        run_realtime(RunConfig(out=out, **ARGS), StopAfterBundle())
    assert [r["epoch"] for r in fmt.list_epochs(out)] == [1]
    assert json.loads((out / "run_state.json").read_text())["last_tick"] == 1
    manifest_1 = (out / fmt.epoch_dirname(1) / fmt.MANIFEST).read_bytes()
    res = run_realtime(RunConfig(out=out, **ARGS), RunObserver())
    assert res.resumed_after == 1
    summary = _check_continued(out, baseline)
    assert (out / fmt.epoch_dirname(1) / fmt.MANIFEST).read_bytes() == manifest_1
    assert summary["epochs"][0]["note"] and summary["epochs"][1]["audit_ok"]


def test_rerun_with_other_options_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "run_state.json").write_text(
        json.dumps(
            {
                "format": "zkmargin-run-state/1",
                "identity": {**RunConfig(out=out, **ARGS).identity()},
                "base_epoch": 0,
                "last_tick": 2,
            }
        )
    )
    with pytest.raises(RunError, match="seed 7, this one has 8"):
        run_realtime(RunConfig(out=out, **{**ARGS, "seed": 8}), RunObserver())
    assert sorted(p.name for p in out.iterdir()) == ["run_state.json"]


def test_event_log_drops_unfinished_ticks_and_a_torn_line(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    for t in (1, 2, 2, 3):
        log.append({"tick": t, "event": "margin_call"})
    log.close()
    with (tmp_path / "events.jsonl").open("a") as f:
        f.write('{"tick": 3, "ev')  # a crash mid-write
    assert log.keep_through(2) == 2  # the tick-3 event and the torn line
    assert [json.loads(x)["tick"] for x in (tmp_path / "events.jsonl").read_text().splitlines()] == [1, 2, 2]
    (tmp_path / "events.jsonl").write_text('{"tick": 1}\nnot json\n{"tick": 2}\n')
    with pytest.raises(ValueError, match="line 2: not an event"):
        log.keep_through(5)


# ----------------------------------------------------------------------------- price rows


def _bad_csv(tmp_path: Path, edit: Any) -> tuple[Path, int]:
    """A copy of the committed CSV with one row edited; returns the file and the edited line number."""
    lines = DATA.read_text().splitlines()
    n = 400  # a history row (before the default start): validation covers every row, not only the ticks
    lines[n - 1] = edit(lines[n - 1])
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, n


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        ("NaN", lambda r: r.split(",")[0] + ",nan," + r.split(",")[2], "field btc_usd: 'nan' is not a finite number"),
        ("zero", lambda r: r.split(",")[0] + ",0," + r.split(",")[2], "field btc_usd: '0' is not a positive price"),
        ("negative", lambda r: ",".join(r.split(",")[:2]) + ",-3.5", "field eth_usd: '-3.5' is not a positive price"),
        ("missing field", lambda r: ",".join(r.split(",")[:2]), "field eth_usd: missing"),
        ("empty field", lambda r: r.split(",")[0] + ",," + r.split(",")[2], "field btc_usd: missing"),
        ("non-numeric", lambda r: r.split(",")[0] + ",12k," + r.split(",")[2], "field btc_usd: '12k' is not a number"),
        ("missing date", lambda r: "," + ",".join(r.split(",")[1:]), "field date: missing"),
    ],
)
def test_bad_price_row_refused_at_load(tmp_path: Path, name: str, edit: Any, message: str) -> None:
    path, line = _bad_csv(tmp_path, edit)
    out = tmp_path / "out"
    with pytest.raises(RunError) as ei:
        run_realtime(RunConfig(out=out, prices=path, **ARGS), RunObserver())
    assert str(ei.value) == f"{path}: row {line}: {message}", name
    assert not out.exists(), "nothing may be written before the prices are known good"


def test_price_header_and_order_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("date,btc_usd,eth_usd\n2020-01-01,7200.5,130.1\n2020-01-02,7300,131\n")
    dates, prices = load_price_csv(good)
    assert dates == ["2020-01-01", "2020-01-02"] and list(prices["ETH"]) == [130.1, 131.0]
    bad = tmp_path / "bad.csv"
    bad.write_text("date,btc,eth_usd\n2020-01-01,1,2\n")
    with pytest.raises(ValueError, match=r"bad.csv: row 1: field btc_usd: missing from the header"):
        load_price_csv(bad)
    bad.write_text("date,btc_usd,eth_usd\n2020-01-02,1,2\n2020-01-01,1,2\n")
    with pytest.raises(ValueError, match=r"row 3: field date: '2020-01-01' does not follow '2020-01-02'"):
        load_price_csv(bad)


def test_missing_extras_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(RunError, match=r"pip install zkmargin\[report\]"):
        RunConfig(out=tmp_path / "r").validate()
    RunConfig(out=tmp_path / "r", report=False).validate()  # the loop itself needs no matplotlib
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(RunError, match=r"pip install zkmargin\[distributed\]"):
        RunConfig(out=tmp_path / "r", report=False, workers=2).validate()
    assert not (tmp_path / "r").exists()
