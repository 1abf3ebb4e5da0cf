"""``zkmargin demo``: the product end to end on the embedded chain.

A 1,000-account demo exchange -> engine -> exclusions -> setup -> one proof per batch -> registry with VK, mock
oracles and an operator role on py-evm -> attestation -> proof bundle -> one account holder's check -> a full
audit (both in-process, against the same embedded chain) -> a summary table.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.user import verify_account

from .exchange import ExchangeSpec, demo_accounts, demo_engine
from .pipeline import DEV_LABEL, Operator

DEMO_INSURANCE_FUND = 1_000_000 * 10**6  # 1M USD of the mock stablecoin, held by its own account
DEMO_MAX_UNREPRESENTED = 5_000  # governance tolerates 0.5% of accounts outside the proof (the demo has 0.3%)


def run_demo(
    out: Path,
    accounts: int = 1000,
    batch: int = 16,
    seed: int = 7,
    setup_kind: str = "development",
    epoch: int | None = None,
) -> int:
    """Run everything; the epoch is the bundle root's next one (a rerun reuses the setup, adds an epoch)."""
    console = Console()
    if epoch is None:
        epoch = max((r["epoch"] for r in fmt.list_epochs(out)), default=0) + 1
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    spec = ExchangeSpec(accounts_per_batch=batch)
    engine = demo_engine(now=int(time.time()))  # valued at the chain's clock (wall time on py-evm and anvil)
    t0 = time.perf_counter()
    book = demo_accounts(engine, accounts, seed=seed)
    timings["build exchange"] = time.perf_counter() - t0

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=False,
    ) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        op = Operator(out, spec, setup_kind=setup_kind, progress=progress)
        layout = op.layout(engine)
        t0 = time.perf_counter()
        op.circuit(layout)
        timings["build circuit"] = time.perf_counter() - t0
        setup = op.setup(layout)
        timings["setup"] = setup.seconds
        if setup.kind == "development":
            console.print(f"[bold red]{DEV_LABEL}[/]")
        t0 = time.perf_counter()
        # governance (account 0, not the operator) deploys the registry with the approved parameters and key
        op.deploy_chain(
            engine, insurance_fund_micro_usd=DEMO_INSURANCE_FUND, max_unrepresented_ppm=DEMO_MAX_UNREPRESENTED
        )
        timings["deploy contracts"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = op.run_epoch(epoch, engine, book)
        timings["epoch (prove + attest + bundle)"] = time.perf_counter() - t0

    dep = op.chain
    assert dep is not None
    covered_ids = sorted(res.user_secrets)
    user = covered_ids[len(covered_ids) // 2]
    assert res.deliveries is not None
    inclusion_file = res.deliveries / inclusion.filename(account_id_commitment(user, res.user_secrets[user]))
    t0 = time.perf_counter()
    user_rep = verify_account(res.path, inclusion_file, user, res.user_secrets[user], registry=dep.registry)
    timings["user check"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    audit_rep = audit_bundle(res.path, registry=dep.registry)
    timings["audit"] = time.perf_counter() - t0
    console.print(user_rep.render())
    console.print(audit_rep.render())

    solvent, ep, onchain_covered, dev_mode = dep.registry.is_solvent()
    status = dep.registry.solvency_status()
    reasons = Counter(e.reason for e in res.excluded)
    table = Table(title=f"zkmargin demo: epoch {res.epoch}")
    table.add_column("item")
    table.add_column("value", overflow="fold")
    chain = res.chain or {}
    rows = [
        ("accounts", f"{len(book):,} evaluated by the engine"),
        ("margin status", f"{res.status_counts.get('healthy', 0):,} healthy, "
         f"{res.status_counts.get('margin_call', 0):,} in margin call, "
         f"{res.status_counts.get('liquidation', 0):,} below MM (liquidation)"),
        ("proven", f"{res.covered:,} accounts in {res.batches} batches of <= {layout.shape.accounts}, "
         f"{status.under_mm_count:,} of them under MM (shortfall {status.total_shortfall / 1e6:,.0f} USD, "
         f"bad debt {status.total_bad_debt / 1e6:,.0f} USD)"),
        ("not representable", f"{len(res.excluded)} (a count on-chain): "
         + "; ".join(f"{v} x {k}" for k, v in reasons.most_common(4))),
        ("circuit", f"{res.constraints:,} constraints per batch (A={layout.shape.assets}, P={layout.shape.positions}, "
         f"K={layout.shape.brackets}, T={layout.shape.tiers}, S={layout.shape.scenarios}), "
         f"{res.constraints // layout.shape.accounts:,} per account"),
        ("setup", f"{setup.kind} ({timings['setup']:.1f} s)" + (" - DEVELOPMENT ONLY" if setup.kind == "development"
                                                               else "")),
        ("prove time", f"{res.prove_seconds:.1f} s proving + {res.witness_seconds:.1f} s witnesses "
         f"({res.prove_seconds / max(1, res.batches):.2f} s per batch)"),
        ("attestation", f"registry {chain.get('registry')}, gas {chain.get('gas_used') or 0:,} "
         f"({(chain.get('gas_used') or 0) // max(1, res.batches):,} per batch)"),
        ("roles", f"governance {dep.governance[:10]}.., operator {dep.operator[:10]}.., "
         f"feed owner {dep.feed_owner[:10]}.. (parameters and key set by governance, not the operator)"),
        ("on-chain statement", f"isSolvent() = {solvent} for epoch {ep}: bad debt {status.total_bad_debt / 1e6:,.0f} "
         f"<= insurance fund {status.insurance_fund_value / 1e6:,.0f} USD; {onchain_covered:,} accounts proven of "
         f"{status.declared_accounts:,} declared" + ("; DEVELOPMENT-MODE registry" if dev_mode else "")),
        ("user check", f"{user}: {'VERIFIED' if user_rep.ok else 'FAILED'}"),
        ("audit", f"{len(audit_rep.checks)} checks: {'ALL PASS' if audit_rep.ok else 'FAILED'}"),
        ("bundle", str(res.path)),
        ("total time", f"{time.perf_counter() - t_start:.1f} s ("
         + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + ")"),
    ]  # fmt: skip
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    console.print(
        f"check it yourself:  zkmargin audit --bundle {out}   |   "
        f"zkmargin user verify --bundle {out} --inclusion {inclusion_file}"
    )
    return 0 if user_rep.ok and audit_rep.ok and solvent else 1
