"""A bundle is untrusted input: every hostile layout is reported as malformed (exit 2) with its reason, never a
pass, a hang, a read outside the bundle or a traceback; audit lines say what failed; epochs audited as a range."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.prover.operator import EpochResult
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle, audit_range, range_summary
from zkmargin.verifier.report import Report
from zkmargin.verifier.safe_io import Limits, json_depth
from zkmargin.verifier.user import verify_account

Epochs = tuple[Path, list[EpochResult]]
SETUP_GATE = "setup: not a development (single-party) setup"
PUBLIC_CHECK = (
    "batches: public signals = manifest (epoch, root, params, market, ids, count, totals, prices, liabilities)"
)
PROOF_CHECK = "batches: every Groth16 proof verifies"


def inclusion_of(res: EpochResult, aid: str) -> Path:
    assert res.deliveries is not None
    return res.deliveries / inclusion.filename(account_id_commitment(aid, res.user_secrets[aid]))


def edit_manifest(d: Path, fn: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    m = json.loads((d / fmt.MANIFEST).read_text())
    fn(m)
    (d / fmt.MANIFEST).write_text(json.dumps(m))


def rehash(d: Path, rel: str) -> None:
    """A forger who also rewrites the manifest's hash of ``rel``."""
    edit_manifest(d, lambda m: m["files"].__setitem__(rel, fmt.sha256_file(d / rel)))


def set_row(root: Path, epoch: int, **cols: object) -> None:
    with sqlite3.connect(root / fmt.INDEX) as con:
        for k, v in cols.items():
            con.execute(f"UPDATE epochs SET {k} = ? WHERE epoch = ?", (v, epoch))


def malformed(rep: Report, *words: str) -> None:
    assert rep.exit_code == 2, rep.render()
    assert rep.malformed is not None and all(w in rep.malformed for w in words), rep.malformed


# ----------------------------------------------------------------------------- the epoch opened is the one asked


def test_index_row_pointing_at_another_epoch(two_epochs: Epochs, root_copy: Callable[[], Path]) -> None:
    """Row 2 edited to epoch 1's directory and manifest hash: ``user verify --epoch 2`` must not check epoch 1 and
    say VERIFIED (alice's epoch-1 file would verify there)."""
    _, results = two_epochs
    root = root_copy()
    row1 = next(r for r in fmt.list_epochs(root) if r["epoch"] == 1)
    set_row(root, 2, dir=row1["dir"], manifest_sha256=row1["manifest_sha256"])
    alice1 = inclusion_of(results[0], "alice")
    assert verify_account(root, alice1).exit_code == 0  # epoch 1 itself is fine
    rep = verify_account(root, alice1, epoch=2)
    malformed(rep, "epoch 1", "epoch 2")
    assert rep.epoch == 2 and "[epoch 2]" in rep.verdict("VERIFIED", "NOT VERIFIED", "MALFORMED")
    malformed(audit_bundle(root, epoch=2), "epoch 2")


def test_index_row_whose_manifest_hash_differs(root_copy: Callable[[], Path]) -> None:
    root = root_copy()
    set_row(root, 2, manifest_sha256="00" * 32)
    malformed(audit_bundle(root, epoch=2), "manifest_sha256")


@pytest.mark.parametrize("where", ["absolute", "dotdot", "symlinked dir"])
def test_index_row_pointing_outside_the_root(where: str, root_copy: Callable[[], Path], tmp_path: Path) -> None:
    root = root_copy()
    outside = tmp_path / "outside" / fmt.epoch_dirname(2)
    outside.parent.mkdir()
    os.rename(root / fmt.epoch_dirname(2), outside)  # a complete epoch that would otherwise open fine
    target = {"absolute": str(outside), "dotdot": f"../outside/{outside.name}", "symlinked dir": "link"}[where]
    if where == "symlinked dir":
        (root / "link").symlink_to(outside)
    elif where == "dotdot":
        os.rename(tmp_path / "outside", root.parent / "outside")
    set_row(root, 2, dir=target)
    malformed(audit_bundle(root, epoch=2), "index.sqlite")


# ----------------------------------------------------------------------------- paths the manifest names


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("proof", "/etc/passwd"),
        ("proof", "../epoch-000001/batches/0000/proof.json"),
        ("public", "batches/../../epoch-000001/batches/0000/public.json"),
        ("proof", "batches/0000/unlisted.json"),
    ],
)
def test_manifest_batch_paths_are_confined_and_listed(
    field: str, value: str, two_epochs: Epochs, root_copy: Callable[[], Path]
) -> None:
    d = root_copy() / fmt.epoch_dirname(2)
    edit_manifest(d, lambda m: m["batches"][0].__setitem__(field, value))
    reason = "not listed" if value.endswith("unlisted.json") else f"batches[0].{field}"
    malformed(audit_bundle(d), reason)
    malformed(verify_account(d, inclusion_of(two_epochs[1][1], "alice")), "manifest.json")


@pytest.mark.parametrize("key", ["/etc/passwd", "../epoch-000001/params.json"])
def test_manifest_files_keys_are_confined(key: str, root_copy: Callable[[], Path]) -> None:
    d = root_copy() / fmt.epoch_dirname(2)
    edit_manifest(d, lambda m: m["files"].__setitem__(key, "00" * 32))
    malformed(audit_bundle(d), "manifest.json files")


# ----------------------------------------------------------------------------- files that must not be read


def test_symlink_to_dev_zero(two_epochs: Epochs, root_copy: Callable[[], Path]) -> None:
    d = root_copy() / fmt.epoch_dirname(2)
    proof = d / fmt.batch_files(0)[0]
    proof.unlink()
    proof.symlink_to("/dev/zero")
    malformed(audit_bundle(d), "symlink")
    malformed(verify_account(d, inclusion_of(two_epochs[1][1], "alice")), "symlink")


def test_fifo_does_not_hang(two_epochs: Epochs, root_copy: Callable[[], Path]) -> None:
    """A FIFO where the verifying key should be: both checks end (exit 2) instead of blocking on the open."""
    d = root_copy() / fmt.epoch_dirname(2)
    (d / fmt.VK).unlink()
    os.mkfifo(d / fmt.VK)
    alice = inclusion_of(two_epochs[1][1], "alice")
    code = (
        "from zkmargin.verifier.audit import audit_bundle\n"
        "from zkmargin.verifier.user import verify_account\n"
        f"a = audit_bundle({str(d)!r}); u = verify_account({str(d)!r}, {str(alice)!r})\n"
        "print(a.exit_code, u.exit_code); print(a.malformed); print(u.malformed)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[0] == "2 2", r.stdout + r.stderr
    assert "FIFO" in lines[1] and "FIFO" in lines[2]


def test_100000_deep_json(two_epochs: Epochs, root_copy: Callable[[], Path], tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert json_depth(deep.encode()) == 100_000
    d = root_copy() / fmt.epoch_dirname(2)
    (d / fmt.MARKET).write_text(deep)
    rehash(d, fmt.MARKET)
    malformed(audit_bundle(d), "market.json", "nested 100000 deep")
    (d / fmt.MANIFEST).write_text(deep)
    malformed(audit_bundle(d), "manifest.json", "nested")
    f = tmp_path / "deep-inclusion.json"
    f.write_text('{"format": ' + deep + "}")
    malformed(verify_account(two_epochs[0], f), "nested")


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'{"a": "[[[[[[[[", "b": [1, {"c": "\\"]]]"}]}') == 3


def test_size_cap_is_configurable(root_copy: Callable[[], Path]) -> None:
    d = root_copy() / fmt.epoch_dirname(2)
    malformed(audit_bundle(d, limits=Limits(max_json_bytes=64)), "manifest.json", "limit")


def test_directory_where_a_file_is_expected(root_copy: Callable[[], Path]) -> None:
    d = root_copy() / fmt.epoch_dirname(2)
    (d / fmt.PARAMS).unlink()
    (d / fmt.PARAMS).mkdir()
    malformed(audit_bundle(d), "params.json", "a directory")


def test_non_utf8_file(root_copy: Callable[[], Path]) -> None:
    d = root_copy() / fmt.epoch_dirname(2)
    (d / fmt.EXCLUDED).write_bytes(b'[{"kind": "\xff\xfe"}]')
    rehash(d, fmt.EXCLUDED)
    malformed(audit_bundle(d), "excluded.json", "not UTF-8")


def test_unreadable_index_is_malformed(root_copy: Callable[[], Path]) -> None:
    root = root_copy()
    (root / fmt.INDEX).write_bytes(b"not a database" * 100)
    malformed(audit_bundle(root), "index.sqlite")


# ----------------------------------------------------------------------------- audit lines say what failed


def test_tampered_public_file_flags_that_file_only(root_copy: Callable[[], Path]) -> None:
    """public.json edited (hash rewritten): its check names it and the field; the proof, which verifies the
    manifest's statement, is not flagged."""
    d = root_copy() / fmt.epoch_dirname(2)
    rel = fmt.batch_files(1)[1]
    pub = json.loads((d / rel).read_text())
    pub[7] = str(int(pub[7]) + 1)  # total_equity
    (d / rel).write_text(json.dumps(pub))
    rehash(d, rel)
    rep = audit_bundle(d)
    failed = {c.name: c.detail for c in rep.failed()}
    assert set(failed) == {PUBLIC_CHECK, SETUP_GATE}, rep.render()
    assert rel in failed[PUBLIC_CHECK] and "total_equity" in failed[PUBLIC_CHECK]
    assert "differs from the manifest" in failed[PUBLIC_CHECK]


def test_tampered_manifest_entry_flags_the_manifest(root_copy: Callable[[], Path]) -> None:
    """The manifest's batch total edited (and its totals, to stay consistent): the proof verifies public.json, so
    the manifest entry is named, and the proof line says it does not verify the manifest's statement."""
    d = root_copy() / fmt.epoch_dirname(2)

    def bump(m: dict) -> None:  # type: ignore[type-arg]
        m["batches"][1]["total_equity"] = str(int(m["batches"][1]["total_equity"]) + 1)
        m["totals"]["total_equity"] = str(int(m["totals"]["total_equity"]) + 1)

    edit_manifest(d, bump)
    rep = audit_bundle(d)
    failed = {c.name: c.detail for c in rep.failed()}
    assert set(failed) == {PUBLIC_CHECK, PROOF_CHECK, SETUP_GATE}, rep.render()
    assert (
        "the manifest's entry differs from the proven batches/0001/public.json in total_equity" in failed[PUBLIC_CHECK]
    )
    assert failed[PROOF_CHECK] == "batch 1: batches/0001/proof.json does not verify the manifest's statement"


def test_failed_checks_never_read_like_a_pass(root_copy: Callable[[], Path]) -> None:
    """Every failed line of a badly corrupted bundle has a detail, and none is the success text."""
    d = root_copy() / fmt.epoch_dirname(2)

    def wreck(m: dict) -> None:  # type: ignore[type-arg]
        m["batches"][0]["count"] = 99
        m["batches"][1]["first_id_hash"] = m["batches"][0]["last_id_hash"]
        m["totals"]["accounts_declared"] = 1

    edit_manifest(d, wreck)
    (d / fmt.batch_files(2)[0]).unlink()
    rep = audit_bundle(d)
    for c in rep.failed():
        assert c.detail, f"{c.name} failed without saying why"
        assert "proofs verify" not in c.detail and "checks pass" not in c.detail, c.detail
    failed = {c.name: c.detail for c in rep.failed()}
    assert "batches/0002/proof.json missing" in failed[PROOF_CHECK]
    assert "batch 0: 99" in failed["batches: counts within the batch size"]
    assert "batches 0 and 1" in failed["batches: id ranges ascending and disjoint (no account counted twice)"]
    assert "!= 1 declared" in failed["totals: covered + unrepresented = declared accounts"]


# ----------------------------------------------------------------------------- a range of epochs


def test_audit_range(two_epochs: Epochs) -> None:
    root, _ = two_epochs
    reports = audit_range(root, 1, 2)
    assert [r.epoch for r in reports] == [1, 2]
    assert all([c.name for c in r.failed()] == [SETUP_GATE] for r in reports), [r.render() for r in reports]
    summary = range_summary(reports)
    assert summary.exit_code == 1 and [c.name for c in summary.checks] == ["epoch 1", "epoch 2"]
    assert summary.title == "audit of epochs 1..2"
    with_gap = audit_range(root, 2, 3)
    assert with_gap[1].exit_code == 2 and "epoch 3 is not in the index" in (with_gap[1].malformed or "")
    assert range_summary(with_gap).exit_code == 2
    with pytest.raises(ValueError, match="first <= last"):
        audit_range(root, 2, 1)
