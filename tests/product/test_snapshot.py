"""Operator data in (issue 15): the snapshot format round-trips the demo book, every malformed input is an error
naming the file, the row and the field (CLI exit 2, nothing written), and the committed example proves end to end."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from zkmargin.api import InputError, MissingExtra, evaluate_margin, load_snapshot, write_snapshot
from zkmargin.cli import main
from zkmargin.prover.operator.exchange import ExchangeSpec, demo_accounts, demo_engine
from zkmargin.prover.operator.snapshot import SnapshotError
from zkmargin.prover.operator.snapshot import load_snapshot as load_raw
from zkmargin.verifier import bundle as fmt

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "snapshot-small"
NOW = 1_764_000_000
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


@pytest.fixture(scope="module")
def demo_book() -> tuple[object, list[object]]:
    engine = demo_engine(now=NOW)
    return engine, demo_accounts(engine, 400)  # 400: includes the unrepresentable accounts and the stressed ones


@pytest.fixture
def snap(tmp_path: Path, demo_book: tuple[object, list[object]]) -> Path:
    engine, accounts = demo_book
    return write_snapshot(tmp_path / "snap", engine, accounts[:20])  # type: ignore[arg-type]


def test_round_trip_csv_equals_the_demo_book(tmp_path: Path, demo_book: tuple[object, list[object]]) -> None:
    engine, accounts = demo_book
    d = write_snapshot(tmp_path / "s", engine, accounts)  # type: ignore[arg-type]
    engine2, accounts2 = load_snapshot(d)
    assert type(engine2) is type(engine) and engine2 == engine  # instruments, parameters, prices, risk arrays
    assert accounts2 == accounts and all(type(a) is type(b) for a, b in zip(accounts, accounts2, strict=True))
    assert evaluate_margin(accounts2, engine2) == evaluate_margin(accounts, engine)  # type: ignore[arg-type]
    assert sorted(p.name for p in d.iterdir()) == sorted(
        [
            "manifest.json",
            *(f"{t}.csv" for t in ("accounts", "balances", "instruments", "positions", "prices", "vol_surfaces")),
        ]
    )


@pytest.mark.skipif(not HAS_PYARROW, reason="the parquet extra (pyarrow) is not installed")
def test_round_trip_parquet(tmp_path: Path, demo_book: tuple[object, list[object]]) -> None:
    engine, accounts = demo_book
    d = write_snapshot(tmp_path / "s", engine, accounts, fmt="parquet")  # type: ignore[arg-type]
    assert (d / "positions.parquet").is_file() and not (d / "positions.csv").exists()
    assert load_snapshot(d) == (engine, accounts)


def test_parquet_without_pyarrow_names_the_extra(
    snap: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (snap / "prices.csv").unlink()
    (snap / "prices.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingExtra, match=r"zkmargin\[parquet\]"):
        load_snapshot(snap)
    out = snap.parent / "bundle"
    assert main(["epoch", "--snapshot", str(snap), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "zkmargin[parquet]" in err and "prices.parquet" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.skipif(not HAS_PYARROW, reason="the parquet extra (pyarrow) is not installed")
def test_malformed_parquet_names_file_row_field(tmp_path: Path, demo_book: tuple[object, list[object]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    engine, accounts = demo_book
    d = write_snapshot(tmp_path / "s", engine, accounts[:10], fmt="parquet")  # type: ignore[arg-type]
    rows = pq.read_table(d / "positions.parquet").to_pylist()
    rows[2]["quantity"] = 1.5  # a float where the format takes a fixed-point integer
    pq.write_table(pa.Table.from_pylist(rows), d / "positions.parquet")
    with pytest.raises(SnapshotError) as ei:
        load_raw(d)
    assert (ei.value.file, ei.value.row, ei.value.field) == ("positions.parquet", 3, "quantity")
    assert "not an integer" in ei.value.reason
    (d / "accounts.csv").write_text("account_id,margin_mode,realised_pnl\n")
    with pytest.raises(SnapshotError, match=r"both accounts\.csv and accounts\.parquet"):
        load_raw(d)


def _edit(path: Path, fn: Callable[[list[list[str]]], None]) -> None:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    fn(rows)
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def _col(rows: list[list[str]], name: str) -> int:
    return rows[0].index(name)


def _set(file: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        _edit(d / file, lambda rows: rows[row].__setitem__(_col(rows, column), value))

    return apply


def _drop_column(file: str, column: str) -> Callable[[Path], None]:
    def apply(d: Path) -> None:
        def fn(rows: list[list[str]]) -> None:
            j = _col(rows, column)
            for r in rows:
                del r[j]

        _edit(d / file, fn)

    return apply


def _first_row(file: str, column: str, pred: Callable[[str], bool]) -> Callable[[Path], int]:
    def find(d: Path) -> int:
        with (d / file).open(newline="") as f:
            rows = list(csv.reader(f))
        return next(i for i, r in enumerate(rows) if i and pred(r[_col(rows, column)]))

    return find


def _duplicate_id(d: Path) -> None:
    _edit(d / "accounts.csv", lambda rows: rows[3].__setitem__(0, rows[1][0]))


def _option_in_cross(d: Path) -> None:
    def fn(rows: list[list[str]]) -> None:
        rows.append(["user-00000", "BTC-30D-36000-C", "1000000", "", ""])

    _edit(d / "positions.csv", fn)


# (mutation, file, row, field, words in the reason)
MALFORMED = [
    pytest.param(
        lambda d: (d / "positions.csv").unlink(), "positions.csv", None, None, "missing file", id="missing-file"
    ),
    pytest.param(
        lambda d: (d / "manifest.json").unlink(), "manifest.json", None, None, "missing file", id="no-manifest"
    ),
    pytest.param(
        _drop_column("positions.csv", "quantity"),
        "positions.csv",
        None,
        "quantity",
        "missing column",
        id="missing-column",
    ),
    pytest.param(
        _set("positions.csv", 2, "quantity", "1.5e3"), "positions.csv", 2, "quantity", "not an integer", id="bad-number"
    ),
    pytest.param(
        _set("balances.csv", 1, "amount", "lots"), "balances.csv", 1, "amount", "not an integer", id="bad-balance"
    ),
    pytest.param(_set("prices.csv", 1, "value", "-5"), "prices.csv", 1, "value", "greater than 0", id="negative-price"),
    pytest.param(
        _set("positions.csv", 1, "entry_price", "-100"),
        "positions.csv",
        1,
        "entry_price",
        "greater than 0",
        id="negative-entry-price",
    ),
    pytest.param(
        _set("instruments.csv", 1, "contract_size", "-1"),
        "instruments.csv",
        1,
        "contract_size",
        "greater than 0",
        id="negative-contract-size",
    ),
    pytest.param(
        _set("accounts.csv", 2, "margin_mode", "yolo"), "accounts.csv", 2, "margin_mode", "cross", id="bad-margin-mode"
    ),
    pytest.param(
        _set("positions.csv", 1, "instrument", "FOO-PERP"),
        "positions.csv",
        1,
        "instrument",
        "unknown instrument",
        id="unknown-instrument",
    ),
    pytest.param(
        _set("balances.csv", 1, "asset", "DOGECOIN"), "balances.csv", 1, "asset", "unknown asset", id="unknown-asset"
    ),
    pytest.param(_duplicate_id, "accounts.csv", 3, "account_id", "duplicate account id", id="duplicate-account"),
    pytest.param(
        _set("balances.csv", 1, "account_id", "nobody"),
        "balances.csv",
        1,
        "account_id",
        "unknown account",
        id="balance-of-unknown-account",
    ),
    pytest.param(_option_in_cross, "positions.csv", -1, "instrument", "portfolio", id="option-in-cross-account"),
]


@pytest.mark.parametrize(("mutate", "file", "row", "field", "words"), MALFORMED)
def test_malformed_snapshot_names_file_row_field(
    snap: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: Callable[[Path], None],
    file: str,
    row: int | None,
    field: str | None,
    words: str,
) -> None:
    mutate(snap)
    if row == -1:  # the appended last row
        with (snap / file).open() as f:
            row = sum(1 for _ in f) - 1
    with pytest.raises(SnapshotError) as ei:
        load_raw(snap)
    e = ei.value
    assert (e.file, e.row, e.field) == (file, row, field), str(e)
    assert words in e.reason, str(e)
    with pytest.raises(InputError, match="snapshot"):
        load_snapshot(snap)
    out = tmp_path / "bundle"
    assert main(["epoch", "--snapshot", str(snap), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(e) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing written


def test_cli_snapshot_not_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["epoch", "--snapshot", str(tmp_path / "none"), "--out", str(tmp_path / "b")]) == 2
    assert "--snapshot" in capsys.readouterr().err and not (tmp_path / "b").exists()


def test_generator_is_a_realistic_venue(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import gen_snapshot
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert gen_snapshot.main(["--out", str(tmp_path / "v"), "--accounts", "600", "--seed", "3"]) == 0
    engine, accounts = load_snapshot(tmp_path / "v")
    held = Counter(len({p.instrument for p in a.positions}) for a in accounts)
    assert sum(held[k] for k in (1, 2, 3)) >= 0.75 * len(accounts)  # most accounts hold 1-3 instruments
    assert sum(n for k, n in held.items() if k >= 6) >= 0.03 * len(accounts)  # a long tail holds many
    sizes = sorted(r.equity for r in evaluate_margin(accounts, engine))
    assert sizes[-1] > 20 * sizes[len(sizes) // 2]  # heavy-tailed account sizes
    idx = engine.snapshot.index_prices
    strikes = [engine.instruments[p.instrument] for a in accounts for p in a.positions]
    moneyness = [abs(i.strike / idx[i.underlying] - 1) for i in strikes if i.kind == "option" and i.strike]
    assert moneyness and sum(m < 0.01 for m in moneyness) > len(moneyness) / 2  # options around the index


def test_example_snapshot_proves_an_epoch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = tmp_path / "snapshot-small"
    shutil.copytree(EXAMPLE, snap)
    engine, accounts = load_snapshot(snap)
    assert 40 <= len(accounts) <= 60
    out = tmp_path / "bundle"
    assert main(["-q", "epoch", "--snapshot", str(snap), "--out", str(out), "--batch", "8"]) == 0
    assert "bundle:" in capsys.readouterr().out
    (row,) = fmt.list_epochs(out)
    assert row["epoch"] == 1
    totals = json.loads((out / fmt.epoch_dirname(1) / fmt.MANIFEST).read_text())["totals"]
    slots = set(ExchangeSpec().instruments)
    in_slots = sum(all(p.instrument in slots for p in a.positions) for a in accounts)
    assert totals["accounts_declared"] == len(accounts)
    assert totals["accounts_covered"] == in_slots > 0  # every account the slots hold is proven
    assert totals["accounts_unrepresented"] == len(accounts) - in_slots  # the rest are counts, as for the demo
    assert engine.snapshot.timestamp == json.loads((snap / "manifest.json").read_text())["timestamp"]
    # a second epoch goes to the next number; an epoch number not after the latest is exit 2, nothing written
    assert main(["-q", "epoch", "--snapshot", str(snap), "--out", str(out), "--batch", "8", "--epoch", "1"]) == 0
    before = sorted(p.name for p in out.iterdir())
    (out / fmt.epoch_dirname(1)).rename(out / "moved")
    assert main(["epoch", "--snapshot", str(snap), "--out", str(out), "--batch", "8", "--epoch", "1"]) == 2
    assert "--epoch: 1 is not after the latest published epoch 1" in capsys.readouterr().err
    assert len(before) == len(list(out.iterdir()))
