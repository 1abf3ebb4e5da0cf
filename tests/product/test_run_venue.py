"""``zkmargin run --circuit venue`` (issue 16, "The real-time loop"): a replay over the start of the March 2020 crash
with a seeded account-change stream, on the venue tests' small shape (two positions and two balances per leaf, a 10%
box, four leaves per batch).

What must hold: every update epoch re-proves exactly the slots whose accounts changed (counted here against the
change stream and the operator's slot record of the previous epoch, not against what the loop says); the tick whose
prices leave the box turns the registry's live view false (outside the box) and forces a full re-centred epoch, after
which it is true again; the PNG report and run.json are written; bad options exit 2 naming the option; a venue run's
``--out`` is not resumed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.cli import main
from zkmargin.prover.operator.realtime import RunConfig, RunObserver, RunResult, run_realtime
from zkmargin.prover.operator.user_secrets import FILENAME as USER_SECRETS
from zkmargin.prover.operator.user_secrets import UserSecretStore
from zkmargin.prover.operator.venue_update import load_state
from zkmargin.verifier import bundle as fmt

pytestmark = pytest.mark.slow

# 2020-03-05 .. 03-08: BTC and ETH stay within 10% of the 03-05 close for two days, then fall 11% and 12%. Epochs
# are due at ticks 1 and 3 (the update at 3 covers ticks 2-3's changes); tick 4's is forced by the box alone.
ARGS: dict[str, Any] = dict(ticks=4, epoch_every=3, accounts=14, batch=4, start="2020-03-05", seed=3,
                            circuit="venue", changes_per_tick=1.0)  # fmt: skip


class Recorder(RunObserver):
    def __init__(self) -> None:
        self.live_calls: list[tuple[int, bool, str, str]] = []

    def live(self, tick: int, date: str, solvent: bool, reason: str, when: str) -> None:
        self.live_calls.append((tick, solvent, reason, when))


@pytest.fixture(scope="module")
def venue_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult, Recorder]:
    out = tmp_path_factory.mktemp("venue-run") / "run"
    rec = Recorder()
    res = run_realtime(RunConfig(out=out, **ARGS), rec)
    return out, res, rec


def changes_of(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "changes.jsonl").read_text().splitlines()]


def test_updates_reprove_only_changed_slots(venue_run: tuple[Path, RunResult, Recorder]) -> None:
    out, res, _ = venue_run
    changes = changes_of(out)
    assert sum(t.changes for t in res.ticks) == len(changes) > 0
    secrets = UserSecretStore(out / USER_SECRETS)
    updates = [e for e in res.epochs if e.mode == "update"]
    assert updates, [(e.epoch, e.mode, e.reason) for e in res.epochs]
    prev_tick = {e.epoch: e.tick for e in res.epochs}
    for e in updates:
        prev = load_state(out, e.epoch - 1)
        assert prev is not None
        covered = [c for c in changes if prev_tick[e.epoch - 1] < c["tick"] <= e.tick]
        assert e.changes == len(covered) > 0
        ids = secrets.for_accounts(c["account"] for c in covered)
        expected: set[int] = set()
        for c in covered:
            h = account_id_commitment(c["account"], ids[c["account"]])
            expected |= {k for k, s in enumerate(prev.slots) if s.lo <= h < s.hi}  # the one slot holding the id
        old = [k for k in e.reproved_slots if k < len(prev.slots)]
        assert set(old) == expected, (e.epoch, covered, e.reproved_slots)
        assert len(e.reproved_slots) - len(old) == e.slots - len(prev.slots)  # any other one is a split's new slot
        manifest = fmt.open_epoch(out, e.epoch).manifest
        assert manifest["tree"]["kind"] == "update" and manifest["tree"]["reproved"] == e.reproved_slots
        assert manifest["chain"]["tx_hash"], "the update was submitted to the registry (submitUpdate)"
        assert e.latency_s >= e.seconds > 0
        assert e.audit_ok, e.audit_failed
    assert any(len(e.reproved_slots) < e.slots for e in updates), "some update must carry a slot"


def test_leaving_the_box_forces_a_full_epoch_and_flips_the_live_view(
    venue_run: tuple[Path, RunResult, Recorder],
) -> None:
    _, res, rec = venue_run
    first, last = res.epochs[0], res.epochs[-1]
    assert first.mode == "full" and first.tick == 1 and "no attested epoch" in first.reason
    assert last.tick == 4 and last.mode == "full" and "left the box" in last.reason
    # no epoch at tick 2 (not due); tick 4 is not due either (every 3): the box alone forced its epoch
    assert [e.tick for e in res.epochs] == [1, 3, 4] and 4 % ARGS["epoch_every"] != 0
    assert last.reproved_slots == list(range(last.slots)) and last.audit_ok
    ticks = {t.tick: t for t in res.ticks}
    for n in (2, 3):
        assert ticks[n].live == {"before": [True, "solvent now"], "after": [True, "solvent now"]}
    before, after = ticks[4].live["before"], ticks[4].live["after"]  # type: ignore[index]
    assert before[0] is False and "outside the attested box" in before[1]
    assert after == [True, "solvent now"]
    assert [(t, s) for t, s, _, _ in rec.live_calls] == [(4, False), (4, True)]
    assert "true again" in last.note
    # the box re-centred at tick 4's prices
    assert ticks[4].box is not None and ticks[4].box["BTC"][0] < ticks[4].prices["BTC"] < ticks[4].box["BTC"][1]
    assert not ticks[3].box["BTC"][0] <= ticks[4].prices["BTC"] <= ticks[3].box["BTC"][1]  # type: ignore[index]


def test_report_and_summary_written(venue_run: tuple[Path, RunResult, Recorder]) -> None:
    out, res, _ = venue_run
    assert res.report is not None and res.report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "run.json").read_text())
    assert [e["mode"] for e in summary["epochs"]] == [e.mode for e in res.epochs]
    assert all("latency_s" in e and "reproved_slots" in e for e in summary["epochs"])


def test_venue_run_does_not_resume(
    venue_run: tuple[Path, RunResult, Recorder], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _, _ = venue_run
    argv = ["run", "--out", str(out), "--circuit", "venue", "--ticks", "4", "--epoch-every", "3", "--accounts",
            "14", "--batch", "4", "--start", "2020-03-05", "--seed", "3", "--changes-per-tick", "1",
            "--no-report"]  # fmt: skip
    assert main(argv) == 2
    assert "does not resume" in capsys.readouterr().err
    # nor is a venue run's --out continued as a slots run
    assert main(["run", "--out", str(out), "--ticks", "4", "--epoch-every", "1", "--accounts", "14", "--batch", "4",
                 "--start", "2020-03-05", "--seed", "3", "--no-report"]) == 2  # fmt: skip
    assert "circuit 'venue'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--circuit", "venue", "--changes-per-tick", "-1"], "--changes-per-tick"),
        (["--circuit", "venue", "--box-ppm", "0"], "--box-ppm"),
        (["--circuit", "venue", "--box-ppm", "900000"], "--box-ppm"),
        (["--circuit", "venue", "--workers", "2"], "--workers"),
        (["--circuit", "venue", "--proof-system", "plain"], "--proof-system"),
        (["--changes-per-tick", "2"], "--changes-per-tick"),
        (["--box-ppm", "50000"], "--box-ppm"),
    ],
)
def test_bad_venue_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], named: str
) -> None:
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--ticks", "2", "--epoch-every", "1", "--no-report", *extra]) == 2
    assert named in capsys.readouterr().err
    assert not out.exists()


class OneTick:
    """A live adapter (``PriceFeed``) whose only tick has a bad ETH price."""

    def next_tick(self) -> tuple[str, dict[str, float]]:
        return "2026-12-02T08:00Z", {"BTC": 91_000.0, "ETH": float("nan")}


def test_live_feed_adapter_bad_price_names_the_field(tmp_path: Path) -> None:
    from zkmargin.prover.operator.realtime import RunError

    out = tmp_path / "run"
    with pytest.raises(RunError, match=r"tick 1: .*field ETH"):
        run_realtime(RunConfig(out=out, ticks=1, circuit="venue", report=False), RunObserver(), feed=OneTick())
    assert not out.exists()
    with pytest.raises(RunError, match="venue run only"):
        run_realtime(RunConfig(out=out, ticks=1, epoch_every=1, report=False), RunObserver(), feed=OneTick())


def test_change_stream_is_seeded_and_every_change_changes_its_account() -> None:
    from zkmargin.prover.operator.account_stream import ChangeStream
    from zkmargin.prover.operator.realtime import run_accounts
    from zkmargin.prover.operator.venue_slots import fingerprint

    prices = {"BTC": 9_000.0, "ETH": 230.0}
    marks = {"BTC-PERP": 900_000_000_000, "ETH-PERP": 23_000_000_000}
    runs = []
    for _ in range(2):
        book = run_accounts(prices["BTC"], prices["ETH"], 6, 1)
        stream = ChangeStream(5, 3.0, first_new=6)
        log = []
        for tick in range(2, 12):
            before = {a.account_id: fingerprint(a) for a in book}
            book, chs = stream.step(tick, book, marks, prices)
            after = {a.account_id: fingerprint(a) for a in book}
            for c in chs:
                if c.kind == "new":
                    assert c.account not in before and c.account in after
                elif c.kind == "exit":
                    assert c.account in before and c.account not in after
                elif c.account in after:  # (a later change of the tick may have closed it)
                    assert after[c.account] != before.get(c.account), c
            log.append([(c.kind, c.account, c.detail) for c in chs])
        runs.append(log)
    assert runs[0] == runs[1] and sum(map(len, runs[0])) > 10
    assert {k for tick in runs[0] for k, _, _ in tick} >= {"deposit", "new"}


def test_cancelled_changes_need_no_epoch(tmp_path: Path) -> None:
    """A book equal to the latest slot record (changes that cancelled out) is 'unchanged': the registry refuses an
    update with no op, so the loop must not submit one."""
    from zkmargin.prover.operator.realtime import run_accounts
    from zkmargin.prover.operator.realtime_venue import book_unchanged
    from zkmargin.prover.operator.venue_slots import fingerprint, full_epoch_state
    from zkmargin.prover.operator.venue_update import save_state

    book = run_accounts(9_000.0, 230.0, 4, 2)
    ids = {a.account_id: (i + 1) * 1000 for i, a in enumerate(book)}
    fps = {a.account_id: fingerprint(a) for a in book}
    save_state(tmp_path, full_epoch_state(3, [[a.account_id for a in book]], ids, fps))

    class Op:
        root = tmp_path

        def latest_epoch(self) -> int:
            return 3

    assert book_unchanged(Op(), book)  # type: ignore[arg-type]
    assert not book_unchanged(Op(), book[1:])  # type: ignore[arg-type]
    changed = book[0].model_copy(update={"balances": {"USDT": 1}})
    assert not book_unchanged(Op(), [changed, *book[1:]])  # type: ignore[arg-type]
