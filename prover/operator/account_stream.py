"""The account-change stream of ``zkmargin run --circuit venue``: a seeded synthetic flow of deposits, withdrawals,
opened and closed positions, new and closed accounts, at a configurable mean rate per tick.

Why synthetic and seeded: the run must show what an incremental epoch costs against a known change stream (a test
counts the re-proven slots against it), and a rerun with the same seed must give the same book. A venue's real
feed of account changes would replace :meth:`ChangeStream.step` (same output: the new book and the changes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from zkmargin.circuits.rules.models import Account, Position

from ..engine import demo

# kind -> relative weight; every kind changes exactly one account (a new one, a closed one, or an existing one's data)
KINDS: tuple[tuple[str, float], ...] = (
    ("deposit", 0.25),
    ("withdraw", 0.20),
    ("open", 0.20),
    ("close", 0.15),
    ("new", 0.12),
    ("exit", 0.08),
)
PERPS = ("BTC-PERP", "ETH-PERP")
UNDERLYING = {"BTC-PERP": "BTC", "ETH-PERP": "ETH"}


@dataclass(frozen=True)
class AccountChange:
    """One change of the stream: the tick it happened at, its kind (``KINDS``), the account and what changed."""

    tick: int
    kind: str
    account: str
    detail: str


class ChangeStream:
    """Seeded synthetic account changes; ``rate`` is the mean number per tick (Poisson), 0 for a fixed book."""

    def __init__(self, seed: int, rate: float, first_new: int) -> None:
        self.rng = np.random.default_rng([seed, 16])
        self.rate = rate
        self.next_id = first_new  # new accounts are numbered after the initial book's
        self.weights = np.array([w for _, w in KINDS]) / sum(w for _, w in KINDS)

    def step(
        self, tick: int, book: Sequence[Account], marks: Mapping[str, int], prices: Mapping[str, float]
    ) -> tuple[list[Account], list[AccountChange]]:
        """The book after this tick's changes, and the changes (in the order applied)."""
        out = list(book)
        changes: list[AccountChange] = []
        for _ in range(int(self.rng.poisson(self.rate)) if self.rate > 0 else 0):
            kind = KINDS[int(self.rng.choice(len(KINDS), p=self.weights))][0]
            if kind == "new" or not out:
                acct = self._new_account(marks, prices)
                out.append(acct)
                changes.append(AccountChange(tick, "new", acct.account_id, f"{len(acct.positions)} position(s)"))
                continue
            k = int(self.rng.integers(len(out)))
            acct = out[k]
            if kind == "exit" and len(out) > 1:
                out.pop(k)
                changes.append(AccountChange(tick, "exit", acct.account_id, "account closed"))
                continue
            new, detail = self._change(kind, acct, marks)
            out[k] = new
            changes.append(AccountChange(tick, kind if detail else "deposit", acct.account_id, detail or "+1,000 USDT"))
            if not detail:  # nothing to close / withdraw: a deposit instead (every change changes its account)
                out[k] = self._deposit(acct, 1_000.0)
        return out, changes

    def _deposit(self, acct: Account, usd: float) -> Account:
        bal = dict(acct.balances)
        bal["USDT"] = bal.get("USDT", 0) + demo.qt(round(usd, 2))
        return acct.model_copy(update={"balances": bal})

    def _change(self, kind: str, acct: Account, marks: Mapping[str, int]) -> tuple[Account, str]:
        """The changed account and a description ('' when the kind does not apply to this account)."""
        usdt = acct.balances.get("USDT", 0)
        if kind == "deposit":
            usd = float(np.exp(self.rng.normal(7.5, 0.8)))
            return self._deposit(acct, usd), f"+{usd:,.0f} USDT"
        if kind == "withdraw":
            if usdt <= demo.qt(10):
                return acct, ""
            take = int(usdt * float(self.rng.uniform(0.1, 0.3)))
            return acct.model_copy(update={"balances": dict(acct.balances) | {"USDT": usdt - take}}), (
                f"-{take / demo.qt(1):,.0f} USDT"
            )
        if kind == "close":
            if not acct.positions:
                return acct, ""
            i = int(self.rng.integers(len(acct.positions)))
            gone = acct.positions[i]
            rest = [p for j, p in enumerate(acct.positions) if j != i]
            return acct.model_copy(update={"positions": rest}), f"closed {gone.instrument}"
        # open: a perpetual the account does not hold, else a larger position in one it holds
        held = {p.instrument for p in acct.positions}
        free = [s for s in PERPS if s not in held]
        sym = free[int(self.rng.integers(len(free)))] if free else PERPS[int(self.rng.integers(len(PERPS)))]
        cash = max(usdt / demo.qt(1), 100.0)
        size = round(cash * float(self.rng.uniform(0.2, 1.0)) / (marks[sym] / demo.px(1)), 3) or 0.001
        size = size if self.rng.random() < 0.55 else -size
        pos = [p for p in acct.positions if p.instrument != sym]
        old = next((p.quantity for p in acct.positions if p.instrument == sym), 0)
        qty = old + demo.qt(size) or demo.qt(0.001)
        pos.append(Position(instrument=sym, quantity=qty, entry_price=marks[sym]))
        return acct.model_copy(update={"positions": pos}), f"opened {size:+} {sym}"

    def _new_account(self, marks: Mapping[str, int], prices: Mapping[str, float]) -> Account:
        from .realtime import run_accounts

        seed = int(self.rng.integers(2**31))
        acct = run_accounts(prices["BTC"], prices["ETH"], 1, seed)[0]
        aid = f"acct-{self.next_id:04d}"
        self.next_id += 1
        return acct.model_copy(update={"account_id": aid})
