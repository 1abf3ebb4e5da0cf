"""A tiny exchange for the product tests (2 position slots, 2 assets, 2 accounts per batch) and a CLI-able runner."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from zkmargin.circuits.rules.models import Account, Position
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.operator import ExchangeSpec, Operator, demo_engine

SPEC = ExchangeSpec(instruments=("BTC-PERP", "ETH-PERP"), assets=("USDT", "BTC", "ETH", "USD"), accounts_per_batch=2)
# The proof system of the fixtures that attest on-chain: committed (the operator's default);
# ZKMARGIN_TEST_PROOF_SYSTEM=plain forces the other one.
PROOF_SYSTEM = os.environ.get("ZKMARGIN_TEST_PROOF_SYSTEM") or "committed"
INSURANCE_FUND = 100_000 * 10**6  # micro-USD


def engine() -> MarginEngine:
    return demo_engine(n_brackets=2, tiers=1)


def accounts(epoch: int = 1) -> list[Account]:
    """Five provable accounts, one below maintenance margin, one outside the slots."""
    snap = demo.snapshot()
    btc, eth = snap.marks["BTC-PERP"], snap.marks["ETH-PERP"]

    def acct(
        aid: str, usdt: float, btc_q: float = 0.0, eth_q: float = 0.0, bal_btc: float = 0.0, realised: int = 0
    ) -> Account:
        pos = []
        if btc_q:
            pos.append(Position(instrument="BTC-PERP", quantity=demo.qt(btc_q), entry_price=btc))
        if eth_q:
            pos.append(Position(instrument="ETH-PERP", quantity=demo.qt(eth_q), entry_price=eth))
        bal = {"USDT": demo.qt(usdt)} | ({"BTC": demo.qt(bal_btc)} if bal_btc else {})
        return Account(account_id=aid, balances=bal, positions=pos, realised_pnl=realised)

    out = [
        acct("alice", 10_000 + epoch, 0.2, -1.0, 0.1),
        acct("bob", 5_000, -0.1),
        acct("carol", 2_000, eth_q=3.0),
        acct("dave", 50_000, 1.0, 2.0),
        acct("erin", 800, 0.05, bal_btc=0.02),
        acct("mallory", 10, 2.0, realised=-500 * 10**6),  # 72,000 USD notional, equity < 0: under MM, bad debt
    ]
    sol = Position(instrument="SOL-PERP", quantity=demo.qt(5), entry_price=snap.marks["SOL-PERP"])
    out.append(Account(account_id="zed", balances={"USDT": demo.qt(1_000)}, positions=[sol]))
    return out


def run(root: str, epoch: int, setup_dir: str | None, slow: float = 0.0) -> None:
    """Run one epoch (for the killed-subprocess test: ``slow`` seconds of pause after each batch)."""

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "prove batches" and done > 0:
            time.sleep(slow)

    Operator(Path(root), SPEC, proof_system=PROOF_SYSTEM, setup_dir=setup_dir, progress=progress).run_epoch(
        epoch, engine(), accounts(epoch)
    )


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]), sys.argv[3] if sys.argv[3] != "-" else None, float(sys.argv[4]))
