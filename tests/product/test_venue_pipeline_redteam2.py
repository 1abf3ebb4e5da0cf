"""Red team, second pass (2026-12-01): the venue pipeline's bundle and inclusion files edited by the operator.

Each attack is an edit of a published or delivered file (re-hashed in the manifest where the manifest lists it); it
must be refused by a named audit or user check, or by the file reader naming the field, never pass and never crash.
docs/statement.md "Red team (2026-12-01, second pass)".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_venue_pipeline import _rehash, check, inclusion_file, venue  # noqa: F401

from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.inclusion import InclusionError
from zkmargin.verifier.user import verify_account
from zkmargin.verifier.venue_audit import DELIVERIES_CHECK, MARKET_CHECK
from zkmargin.verifier.venue_user import PATHS_CHECK

pytestmark = pytest.mark.slow

PARTS_CHECK = "parts: numbered 0..n-1 at consecutive slots of one batch"


def _user(res: Any, doc: dict[str, Any], tmp_path: Path, who: str) -> Any:
    f = tmp_path / f"{who}.json"
    f.write_text(json.dumps(doc))
    try:
        return verify_account(res.path, f, who, res.user_secrets[who])
    except InclusionError as e:
        return e


@pytest.mark.parametrize(
    "edit",
    [
        "qty_beyond_53_bits",  # outside the packed piece: would overflow into the id above it
        "id_and_qty_aliased",  # id + 1 and qty - 2^54: the same packed integer as the honest slot
        "negative_id",
    ],
)
def test_slot_values_outside_the_packing(venue: Any, tmp_path: Path, edit: str) -> None:  # noqa: F811
    """The file shows the user another instrument (or amount) than the proven one while its packed leaf stays the
    same: the packing is injective only inside the ranges, so a value outside them must be refused, by name."""
    res, *_ = venue
    doc = json.loads(inclusion_file(res, "whale").read_text())
    iid, q = doc["parts"][0]["positions"][0]
    assert iid != 0
    new = {"qty_beyond_53_bits": [iid, q + (1 << 60)], "id_and_qty_aliased": [iid + 1, q - (1 << 54)],
           "negative_id": [-1, q]}[edit]  # fmt: skip
    doc["parts"][0]["positions"][0] = new
    out = _user(res, doc, tmp_path, "whale")
    # refused as malformed by the native packing's range rule, which names the value (never a silent alias)
    assert not isinstance(out, InclusionError) and out.malformed is not None and not out.ok
    assert "outside the signed 53-bit range" in out.malformed or "too wide for its piece" in out.malformed


def test_part_moved_to_the_slot_of_another_digit(venue: Any, tmp_path: Path) -> None:  # noqa: F811
    """Every part's slot shifted by 16 (the same position in the next 16-ary group: the lowest digit unchanged), and
    by 16^depth (the same digits modulo the tree's width)."""
    res, *_ = venue
    for shift in (16, None):
        doc = json.loads(inclusion_file(res, "whale").read_text())
        depth = len(doc["parts"][0]["merkle_siblings"]) // 15
        for p in doc["parts"]:
            p["slot"] += shift if shift is not None else 16**depth
        rep = _user(res, doc, tmp_path, "whale")
        assert not isinstance(rep, InclusionError) and rep.malformed is None and not check(rep, PATHS_CHECK)


def test_last_flag_claimed_by_a_middle_part(venue: Any, tmp_path: Path) -> None:  # noqa: F811
    """The file ends at a middle part of the whale (parts 0..1 of 4) with a statement reduced to those parts: every
    well-formedness check passes, but part 1 was proven with last = 0, so rebuilt with last = 1 it misses the root."""
    res, *_ = venue
    doc = json.loads(inclusion_file(res, "whale").read_text())
    kept = doc["parts"][:2]
    doc["parts"] = kept
    rep = _user(res, doc, tmp_path, "whale")
    assert not isinstance(rep, InclusionError) and rep.malformed is None
    assert check(rep, PARTS_CHECK) and not check(rep, PATHS_CHECK)


def test_deliveries_with_one_account_twice(venue: Any, tmp_path: Path) -> None:  # noqa: F811
    """A delivery copied under another account's file name (that account's file removed): the count still adds up,
    so only the slot rule can catch it."""
    res, *_ = venue
    d = tmp_path / "deliveries"
    shutil.copytree(res.deliveries, d)
    whale, pia = d / inclusion_file(res, "whale").name, d / inclusion_file(res, "pia").name
    pia.unlink()
    shutil.copy(whale, d / ("0" + pia.name))
    rep = audit_bundle(res.path, deliveries=d)
    assert rep.malformed is None and not check(rep, DELIVERIES_CHECK)


def test_market_mark_edited_and_rehashed(venue: Any, tmp_path: Path) -> None:  # noqa: F811
    """A published mark moved by one unit in market.json (risk arrays are derived from the snapshot, not published),
    the manifest re-hashed: the rebuilt market commitment differs from the proven one."""
    res, *_ = venue
    b = tmp_path / "bundle"
    shutil.copytree(res.path, b)
    market = next(p for p in b.rglob("market.json"))
    doc = json.loads(market.read_text())
    sym = next(s for s in doc["marks"] if s.endswith("-PERP"))
    doc["marks"][sym] = int(doc["marks"][sym]) + 1
    market.write_text(json.dumps(doc))
    _rehash(b)
    rep = audit_bundle(b)
    assert rep.malformed is None and not check(rep, MARKET_CHECK)
