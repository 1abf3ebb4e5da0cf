"""``zkmargin demo --circuit venue``: the product end to end on the venue circuit (issue 15) and the venue-scale demo
venue (``prover/venue_scale.py``: 50 underlyings, 200 perpetuals, 11 futures, 504 options, 20 collateral assets).

Synthetic book -> engine -> instrument table and venue parameters -> committed setup of the venue shape (the dev
setup through ``dev_setup_committed``, so a faster dev setup speeds this up) -> registry deployed by governance with
the venue's governed document and key -> every account proven whole over linked leaves, batches of ``leaves``
leaves -> attestation -> bundle -> one split account's user check (every part, instruments by symbol) -> full audit
with the deliveries -> summary with the wall time of every stage.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from zkmargin.api import InputError, connect_chain
from zkmargin.circuits.rules.models import Account
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.user import verify_account

from ..engine.margin import MarginEngine
from ..venue_scale import ASSETS, COINS, scale_engine, synthetic_book
from .chain_ops import PRICE_DECIMALS
from .live_flip import flip_back, flip_out, flipped_as_expected, observe, pick_asset
from .pipeline import EpochResult
from .setups import DEV_LABEL, SetupError
from .venue_epoch import VenueOperator, VenueSpec
from .venue_setup import venue_circuit

DEMO_INSURANCE_FUND = 1_000_000 * 10**6  # per started 1,000 accounts: the synthetic book's bad debt grows with it


def insurance_fund(accounts: int) -> int:
    """The demo venue's insurance fund (micro-USD), scaled with the book: a fixed 1 M USD made the 10,000-account
    demo's registry insolvent by construction (2.65 M USD of bad debt at the worst corner), so its live flip could
    never show false -> true."""
    return DEMO_INSURANCE_FUND * max(1, -(-accounts // 1000))


DEMO_LEAVES = 376  # leaves per batch (~275 accounts), the table paid once per batch; a 2^20 key with the price box
# (1,024,845 constraints, docs/performance.md "Price boxes in the venue circuit"; 640 before the box)


def run_venue_demo(
    out: Path,
    accounts: int = 1000,
    leaves: int = DEMO_LEAVES,
    seed: int = 15,
    setup_kind: str = "development",
    *,
    rpc: str | None = None,
    quiet: bool = False,
    live_flip: bool = True,
    live_flip_epoch: bool = False,
    update_epoch: bool = False,
) -> int:
    """Run everything on the venue circuit; returns 0 when the user check, the audit and isSolvent() pass (and, with
    ``update_epoch``, the update epoch after it re-proves one slot and its audit passes)."""
    if accounts < 1:
        raise InputError("accounts", f"must be at least 1, got {accounts}")
    if leaves < 1:
        raise InputError("batch", f"must be at least 1, got {leaves}")
    if out.exists() and not out.is_dir():
        raise InputError("out", f"{out} exists and is not a directory")
    console = Console(quiet=quiet)
    t_start, c_start = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds of each stage (every thread): the wall clock also measures neighbours
    clock = [0.0, 0.0]

    def start() -> None:
        clock[:] = [time.perf_counter(), time.process_time()]

    def stage(name: str) -> None:
        timings[name] = time.perf_counter() - clock[0]
        cpu[name] = time.process_time() - clock[1]

    now = int(connect_chain(rpc).eth.get_block("latest")["timestamp"]) if rpc is not None else int(time.time())
    start()
    engine = scale_engine(now=now)
    book = synthetic_book(engine, accounts, seed=seed)
    stage("build venue + book")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=False,
    ) as bar:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        op = VenueOperator(out, VenueSpec(leaves=leaves, assets=ASSETS), setup_kind=setup_kind, progress=progress)
        table = op.table(engine)
        shape = op.shape(engine, table)
        start()
        venue_circuit(shape)  # built once per process, reused by the setup and the prover
        stage("build circuit")
        start()
        try:
            setup = op.setup(shape)
        except SetupError as e:
            raise InputError("out", str(e)) from e
        stage("setup")
        if setup.kind == "development":
            console.print(f"[bold red]{DEV_LABEL}[/]")
        start()
        op.deploy_chain(engine, rpc_url=rpc, insurance_fund_micro_usd=insurance_fund(accounts))
        stage("deploy contracts")
        epoch = op.latest_epoch() + 1
        res = op.run_epoch(epoch, engine, book)
        timings.update({f"epoch: {k}": v for k, v in op.timings.items() if k != "prove batches"})
        timings["epoch: prove batches"] = op.timings.get("prove batches", 0.0)
        cpu.update({f"epoch: {k}": v for k, v in op.cpu.items()})
    dep = op.chain
    assert dep is not None and res.deliveries is not None
    user = max(res.user_secrets, key=lambda a: (len(next(x for x in book if x.account_id == a).positions), a))
    inc_file = res.deliveries / inclusion.filename(account_id_commitment(user, res.user_secrets[user]))
    start()
    user_rep = verify_account(res.path, inc_file, user, res.user_secrets[user], registry=dep.registry)
    stage("user check")
    start()
    audit_rep = audit_bundle(res.path, registry=dep.registry, deliveries=res.deliveries)
    stage("audit (with deliveries)")
    console.print(user_rep.render())
    console.print(audit_rep.render())
    update_rows: list[tuple[str, str]] = []
    update_ok = True
    if update_epoch:  # one deposit, then the next epoch re-proves only that account's slot (issue 16)
        update_rows, update_ok, timings["update epoch"] = _update_epoch(op, engine, book, res, console)
    solvent, ep, covered, dev_mode = dep.registry.is_solvent()
    status = dep.registry.solvency_status()
    flip_rows: list[tuple[str, str]] = []
    flip_ok = True
    if live_flip or live_flip_epoch:  # one feed outside the attested box, then back (live_flip.py)
        start()
        names = list(table.assets)
        idx = pick_asset(dep, names)
        steps, moved = flip_out(dep, idx, 10**PRICE_DECIMALS)
        console.print(f"live view: {names[idx]} feed moved to {moved / 10**PRICE_DECIMALS:,.2f} (box edge "
                      f"{steps[1].box_hi / 10**PRICE_DECIMALS:,.2f}): isSolvent() = {steps[1].solvent} "
                      f"({steps[1].reason})", soft_wrap=True, highlight=False)  # fmt: skip
        if live_flip_epoch and names[idx] in COINS:
            # the next epoch at the moved index price, same listing clock (so the same governed parameters)
            nxt = op.run_epoch(res.epoch + 1, scale_engine(now=now, index_prices={names[idx]: moved}), book)
            steps.append(observe(dep, f"epoch {nxt.epoch} attested at the new prices ({nxt.batches} batches "
                                      "re-proven)", idx))  # fmt: skip
        else:
            steps.append(flip_back(dep, idx))
        console.print(f"live view: {steps[-1].label}: isSolvent() = {steps[-1].solvent} ({steps[-1].reason})",
                      soft_wrap=True, highlight=False)  # fmt: skip
        flip_ok = flipped_as_expected(steps)
        flip_rows = [(f"live view {i + 1}", f"{s.label}: isSolvent() = {s.solvent} ({s.reason}); {names[idx]} "
                      f"feed {s.feed_price / 10**PRICE_DECIMALS:,.2f}") for i, s in enumerate(steps)]  # fmt: skip
        stage("live flip" + (" (next epoch)" if live_flip_epoch else ""))
    kinds = Counter(r.kind for r in table.instruments)
    n_leaves = int(res.manifest["totals"]["leaves"])
    chain = res.chain or {}
    total = time.perf_counter() - t_start
    total_cpu = time.process_time() - c_start
    rows = [
        ("venue", f"{len(table.instruments):,} instruments ({kinds['perpetual']} perpetuals over "
         f"{len({r.underlying for r in table.instruments if r.kind == 'perpetual'})} underlyings, {kinds['future']} "
         f"futures, {kinds['option']} options), {len(table.assets)} priced assets, "
         f"{sum(1 for a in table.assets if engine.params.haircuts.get(a))} collateral"),
        ("accounts", f"{len(book):,}: {res.status_counts.get('healthy', 0):,} healthy, "
         f"{res.status_counts.get('margin_call', 0):,} margin call, {res.status_counts.get('liquidation', 0):,} "
         f"below MM; positions per account max {max(len(a.positions) for a in book)}"),
        ("proven", f"{res.covered:,} accounts over {n_leaves:,} leaves in {res.batches} batches of <= {leaves} leaves "
         f"({status.under_mm_count:,} under MM, bad debt {status.total_bad_debt / 1e6:,.0f} USD); "
         f"excluded: {len(res.excluded)}"),
        ("circuit", f"venue circuit, {res.constraints:,} constraints per batch (P={shape.positions}, "
         f"A={shape.balances}, S={shape.scenarios}), {res.constraints // max(1, leaves):,} per leaf, "
         f"{res.constraints * res.batches // max(1, res.covered):,} per account"),
        ("setup", f"{setup.kind}, committed Groth16 ({timings['setup']:.1f} s)"
         + (" - DEVELOPMENT ONLY" if setup.kind == "development" else "")),
        ("prove time", f"{res.prove_seconds:.1f} s proving + {res.witness_seconds:.1f} s witnesses "
         f"({res.prove_wall_seconds / max(1, res.batches):.1f} s per batch wall)"),
        ("attestation", f"registry {chain.get('registry')}, gas {chain.get('gas_used') or 0:,}"),
        ("on-chain statement", f"isSolvent() = {solvent} for epoch {ep}: {covered:,} accounts proven of "
         f"{status.declared_accounts:,} declared" + ("; DEVELOPMENT-MODE registry" if dev_mode else "")),
        *flip_rows,
        *update_rows,
        ("user check", f"{user} ({json_parts(inc_file)} parts, every one checked): "
         f"{'VERIFIED' if user_rep.ok else 'FAILED'}"),
        ("audit", f"{len(audit_rep.checks)} checks: {'ALL PASS' if audit_rep.ok else 'FAILED'}"),
        ("bundle", str(res.path)),
        ("stage times", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())),
        ("stage CPU", ", ".join(f"{k} {v:.1f} s" for k, v in cpu.items())),
        ("total time", f"{total:.1f} s ({total_cpu:.1f} s of CPU)"),
    ]  # fmt: skip
    out_table = Table(title=f"zkmargin demo (venue circuit): epoch {res.epoch}")
    out_table.add_column("item")
    out_table.add_column("value", overflow="fold")
    for k, v in rows:
        out_table.add_row(k, v)
    console.print(out_table)
    ok = user_rep.ok and audit_rep.ok and solvent and flip_ok and update_ok
    stages = " ".join(
        f"{k.replace(' ', '_').replace(':', '').replace('(', '').replace(')', '')}={v:.1f}" for k, v in timings.items()
    )
    cpu_stages = " ".join(
        f"{k.replace(' ', '_').replace(':', '').replace('(', '').replace(')', '')}={v:.1f}" for k, v in cpu.items()
    )
    print(
        f"RESULT venue_demo_ok={int(ok)} accounts={len(book)} leaves={n_leaves} batches={res.batches} "
        f"leaves_per_batch={leaves} constraints_per_batch={res.constraints} total_s={total:.1f} {stages}"
    )
    print(f"CPU venue_demo total_cpu_s={total_cpu:.1f} {cpu_stages}")
    return 0 if ok else 1


def json_parts(path: Path) -> int:
    import json

    try:
        return len(json.loads(path.read_text())["parts"])
    except (OSError, ValueError, KeyError):
        return 0


def _update_epoch(
    op: VenueOperator, engine: MarginEngine, book: list[Account], res: EpochResult, console: Console
) -> tuple[list[tuple[str, str]], bool, float]:
    """The first proven account deposits 10,000 USDT; ``run_update`` re-proves its slot at the attested box centre
    and submits the update; the audit (with the registry) checks every slot, carried ones at their proof epochs."""
    dep = op.chain
    assert dep is not None
    k = next(i for i, a in enumerate(book) if a.account_id in res.user_secrets)
    bal = dict(book[k].balances)
    bal["USDT"] = bal.get("USDT", 0) + 10**12
    book2 = [*book[:k], book[k].model_copy(update={"balances": bal}), *book[k + 1 :]]
    t0 = time.perf_counter()
    u = op.run_update(res.epoch + 1, engine, book2)
    latency = time.perf_counter() - t0
    rep = audit_bundle(u.result.path, registry=dep.registry, deliveries=u.result.deliveries)
    gas = (u.result.chain or {}).get("gas_used") or 0
    console.print(f"update epoch {u.result.epoch}: {u.mode}{' (' + u.reason + ')' if u.reason else ''}: slot(s) "
                  f"{u.reproved} re-proven, {len(u.carried)} carried, {latency:.1f} s, gas {gas:,}, audit "
                  f"{'PASS' if rep.ok else 'FAIL'}", soft_wrap=True, highlight=False)  # fmt: skip
    row = (
        "update epoch",
        f"epoch {u.result.epoch} ({u.mode}): {book[k].account_id} deposited; {len(u.reproved)} slot(s) re-proven, "
        f"{len(u.carried)} carried, {latency:.1f} s from the change to the attested update, gas {gas:,}; audit "
        f"{len(rep.checks)} checks {'ALL PASS' if rep.ok else 'FAILED'}",
    )
    return [row], u.mode == "update" and len(u.reproved) == 1 and rep.ok, latency
