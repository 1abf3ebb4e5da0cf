"""Which accounts an epoch proves: every account the engine evaluates and the circuit's slots can hold (accounts
under maintenance margin included); the rest are counted by reason, and only counts are ever published."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zkmargin.circuits.rules.circuit_inputs import BatchLayout
from zkmargin.circuits.rules.models import Account

from ..engine.margin import AccountResult, MarginEngine
from ..solvency_witness import AccountNotProvable, leaf_data


@dataclass
class Exclusion:
    account_id: str
    kind: str  # "not_representable" | "invalid"
    reason: str
    equity: int | None = None
    mm: int | None = None


@dataclass
class Classification:
    """The provable accounts (input order), the excluded ones with their reason, the engine's result per id."""

    provable: list[Account]
    excluded: list[Exclusion]
    results: dict[str, AccountResult]


def exclusions_to_json(excluded: Sequence[Exclusion]) -> list[dict[str, Any]]:
    """Published form: counts per (kind, reason), never an id, an id hash or an account's numbers."""
    counts = Counter((e.kind, public_reason(e.reason)) for e in excluded)
    return [{"kind": k, "reason": r, "count": n} for (k, r), n in sorted(counts.items())]


def public_reason(reason: str) -> str:
    """The reason without anything account-specific (quoted ids or numbers are cut at the first colon or quote)."""
    return reason.split(":")[0].split("'")[0].split('"')[0].strip()


def classify(engine: MarginEngine, accounts: Sequence[Account], layout: BatchLayout) -> Classification:
    """Engine evaluation of every account; the provable ones and the excluded ones with the reason. A duplicate id
    is invalid (two leaves for one user would let the operator count an account twice)."""
    out = Classification([], [], {})
    seen: set[str] = set()
    for acct in accounts:
        aid = acct.account_id
        try:
            res = engine.evaluate(acct)
        except (ValueError, KeyError) as e:
            out.excluded.append(Exclusion(aid, "invalid", f"engine refused the account: {e}"))
            continue
        out.results[aid] = res
        try:
            leaf_data(engine, acct, layout, 1, 0)  # representability only
        except AccountNotProvable as e:
            out.excluded.append(Exclusion(aid, "not_representable", e.reason, res.equity, res.mm))
            continue
        if aid in seen:
            out.excluded.append(Exclusion(aid, "invalid", "duplicate account id"))
            continue
        seen.add(aid)
        out.provable.append(acct)
    return out
