"""``zkmargin demo``: the product end to end on the embedded chain.

A 1,000-account demo exchange -> engine -> exclusions -> setup -> one proof per batch -> registry with VK, mock
oracles and an operator role on py-evm -> attestation -> proof bundle -> one account holder's check -> a full
audit (both in-process, against the same embedded chain) -> a summary table and a PNG of the venue.

Then the live view (issue 16, ``live_flip.py``): one mock feed moves outside the attested box, ``isSolvent()`` turns
false with its reason, and true again when the feed comes back inside the box, or, with ``live_flip_epoch``, after the
next epoch is attested at the new prices (every batch re-proven: about two more minutes at 1,000 accounts).

``rpc`` attests on a JSON-RPC node instead (a new registry, or ``registry``: one deployed by ``zkmargin chain
deploy``); ``devnet`` starts a local anvil first. Every option is checked before any work or any file is written.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from zkmargin.api import Deployment, InputError, MissingExtra, attach_registry, connect_chain, read_json_file
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.bundle_proofs import COMMITTED
from zkmargin.verifier.user import verify_account

from .exchange import ExchangeSpec, demo_accounts, demo_engine
from .pipeline import DEV_LABEL, EpochResult, Operator, governed_registration
from .setups import SetupError

log = logging.getLogger("zkmargin.demo")

DEMO_INSURANCE_FUND = 1_000_000 * 10**6  # 1M USD of the mock stablecoin, held by its own account
DEMO_MAX_UNREPRESENTED = 5_000  # governance tolerates 0.5% of accounts outside the proof (the demo has 0.3%)


def _check_chain_options(rpc: str | None, registry: str | None) -> None:
    """Everything about --rpc/--registry that can be checked before work: the node answers, holds the four role
    accounts, and has code at the registry address."""
    if rpc is None:
        return
    if registry is not None:
        attach_registry(rpc, registry)  # raises InputError naming --registry / --rpc
        return
    w3 = connect_chain(rpc)
    if len(w3.eth.accounts) < 4:
        raise InputError("rpc", f"the node at {rpc} has {len(w3.eth.accounts)} unlocked accounts; the demo's roles "
                                "need 4 (use anvil or another development node)")  # fmt: skip


def _deployment_record(out: Path, registry: str) -> Deployment | None:
    """``zkmargin chain deploy``'s record for this registry in the bundle root, if any."""
    f = out / "deployment.json"
    if not f.is_file():
        return None
    rec = Deployment.from_json(read_json_file(f, "deployment"))
    return rec if rec.registry.lower() == registry.lower() else None


def _setup_proof_system(setup_dir: Path) -> str:
    """The proof system of a setup directory (``setup.json``; setups from before the committed default are plain)."""
    try:
        meta = read_json_file(setup_dir / "setup.json", "deployment setup_dir")
    except InputError:
        return COMMITTED  # not created yet: the operator creates it (committed by default)
    found = meta.get("proof_system", "plain") if isinstance(meta, dict) else "plain"
    return str(found)


def _cli() -> str:
    """The command to type for the next step: ``zkmargin`` if it is on PATH, else this venv's script."""
    import shutil

    exe = Path(sys.executable).parent / "zkmargin"
    found = shutil.which("zkmargin")
    if exe.exists() and not (found and Path(found).resolve() == exe.resolve()):
        return str(exe)
    return "zkmargin"


def run_demo(
    out: Path,
    accounts: int = 1000,
    batch: int = 16,
    seed: int = 7,
    setup_kind: str = "development",
    epoch: int | None = None,
    *,
    rpc: str | None = None,
    registry: str | None = None,
    devnet: bool = False,
    quiet: bool = False,
    proof_system: str | None = None,
    live_flip: bool = True,
    live_flip_epoch: bool = False,
) -> int:
    """Run everything; the epoch is the bundle root's next one (a rerun reuses the setup, adds an epoch).

    Bad options raise :class:`zkmargin.api.InputError` before anything is written."""
    if accounts < 1:
        raise InputError("accounts", f"must be at least 1, got {accounts}")
    if batch < 1:
        raise InputError("batch", f"must be at least 1, got {batch}")
    if out.exists() and not out.is_dir():
        raise InputError("out", f"{out} exists and is not a directory")
    if registry is not None and rpc is None:
        raise InputError("registry", "needs --rpc URL (the chain holding it)")
    if proof_system not in (None, "committed", "plain"):
        raise InputError("proof-system", f"is 'committed' or 'plain', got {proof_system!r}")
    system = proof_system or COMMITTED
    anvil = None
    if devnet:
        from zkmargin.devnet import NPM_HINT, DevnetError, find_anvil, start_anvil

        if find_anvil() is None:
            raise InputError("devnet", f"anvil not found: {NPM_HINT}")
    _check_chain_options(rpc, registry)
    record = _deployment_record(out, registry) if registry is not None else None
    if record is not None:  # attest with the proof system of the key the registry pins
        pinned = _setup_proof_system(Path(record.setup_dir))
        if proof_system is not None and pinned != proof_system:
            raise InputError("proof-system", f"registry {registry} pins a {pinned} key ({record.setup_dir})")
        system = pinned
    if record is not None and record.batch != batch:
        log.warning("registry %s was deployed for batches of %d: using %d", registry, record.batch, record.batch)
        batch = record.batch
    if devnet:
        try:
            anvil = start_anvil(out.parent / (out.name + "-devnet"))
        except DevnetError as e:
            raise InputError("devnet", str(e)) from e
        rpc = anvil.url

    console = Console(quiet=quiet)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    spec = ExchangeSpec(accounts_per_batch=batch)
    now = int(time.time())
    if rpc is not None:
        now = int(connect_chain(rpc).eth.get_block("latest")["timestamp"])
    engine = demo_engine(now=now)  # valued at the chain's clock (wall time on py-evm and anvil)
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

        setup_dir = record.setup_dir if record is not None else None
        op = Operator(out, spec, setup_kind=setup_kind, setup_dir=setup_dir, progress=progress, proof_system=system)
        layout = op.layout(engine)
        t0 = time.perf_counter()
        op.circuit(layout)
        timings["build circuit"] = time.perf_counter() - t0
        try:
            setup = op.setup(layout)
        except SetupError as e:
            raise InputError("out", str(e)) from e
        timings["setup"] = setup.seconds
        if setup.kind == "development":
            console.print(f"[bold red]{DEV_LABEL}[/]")
        t0 = time.perf_counter()
        if registry is not None and rpc is not None:
            epoch = _use_registry(op, engine, rpc, registry, epoch)
            timings["governance"] = time.perf_counter() - t0
        else:
            # governance (account 0, not the operator) deploys the registry with the approved parameters and key
            op.deploy_chain(
                engine, rpc_url=rpc, insurance_fund_micro_usd=DEMO_INSURANCE_FUND,
                max_unrepresented_ppm=DEMO_MAX_UNREPRESENTED,
            )  # fmt: skip
            timings["deploy contracts"] = time.perf_counter() - t0
        if epoch is None:
            epoch = max((r["epoch"] for r in fmt.list_epochs(out)), default=0) + 1
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
    flip_rows: list[tuple[str, str]] = []
    flip_ok = True
    if live_flip or live_flip_epoch:
        t0 = time.perf_counter()
        flip_rows, flip_ok = _live_flip(op, engine, book, res, now, console, by_epoch=live_flip_epoch)
        timings["live flip" + (" (next epoch)" if live_flip_epoch else "")] = time.perf_counter() - t0
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
        ("setup", f"{setup.kind}, {setup.proof_system} Groth16 ({timings['setup']:.1f} s)"
         + (" - DEVELOPMENT ONLY" if setup.kind == "development" else "")),
        ("prove time", f"{res.prove_seconds:.1f} s proving + {res.witness_seconds:.1f} s witnesses "
         f"({res.prove_seconds / max(1, res.batches):.2f} s per batch)"),
        ("attestation", f"registry {chain.get('registry')}, gas {chain.get('gas_used') or 0:,} "
         f"({(chain.get('gas_used') or 0) // max(1, res.batches):,} per batch)"),
        ("roles", f"governance {dep.governance[:10]}.., operator {dep.operator[:10]}.., "
         f"feed owner {dep.feed_owner[:10]}.. (parameters and key set by governance, not the operator)"),
        ("on-chain statement", f"isSolvent() = {solvent} for epoch {ep}: bad debt {status.total_bad_debt / 1e6:,.0f} "
         f"<= insurance fund {status.insurance_fund_value / 1e6:,.0f} USD; {onchain_covered:,} accounts proven of "
         f"{status.declared_accounts:,} declared" + ("; DEVELOPMENT-MODE registry" if dev_mode else "")),
        *flip_rows,
        ("user check", f"{user}: {'VERIFIED' if user_rep.ok else 'FAILED'}"),
        ("audit", f"{len(audit_rep.checks)} checks: {'ALL PASS' if audit_rep.ok else 'FAILED'}"),
        ("bundle", str(res.path)),
        ("total time", f"{time.perf_counter() - t_start:.1f} s ("
         + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + ")"),
    ]  # fmt: skip
    png = out / f"venue-epoch-{res.epoch}.png"
    try:
        venue_png(png, engine, book, res)
        rows.insert(-1, ("venue chart", str(png)))
    except MissingExtra as e:
        rows.insert(-1, ("venue chart", escape(f"not drawn: {e}")))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    cli = _cli()
    chain_opts = f" --rpc {rpc} --registry {dep.registry.address}" if rpc is not None else ""
    console.print("check it yourself:", soft_wrap=True)
    console.print(f"  {cli} audit --bundle {out}{chain_opts}", soft_wrap=True, highlight=False)
    console.print(f"  {cli} user verify --bundle {out} --inclusion {inclusion_file}{chain_opts}", soft_wrap=True,
                  highlight=False)  # fmt: skip
    if rpc is not None:
        console.print(f"  {cli} chain status{chain_opts}", soft_wrap=True, highlight=False)
    if anvil is not None:
        console.print(f"anvil keeps running at {anvil.url} (pid {anvil.pid}, log {anvil.log_file}); stop it with: "
                      f"kill {anvil.pid}", soft_wrap=True, highlight=False)  # fmt: skip
    elif rpc is None:
        console.print("(the embedded chain ended with this process: the checks above run without --rpc; "
                      "`zkmargin demo --devnet` keeps a chain to check against)", soft_wrap=True)  # fmt: skip
    ok = user_rep.ok and audit_rep.ok and solvent and flip_ok
    if quiet:
        print(f"demo: {'OK' if ok else 'FAILED'}: epoch {res.epoch} -> {res.path}")
    return 0 if ok else 1


def _live_flip(
    op: Operator, engine: Any, book: Any, res: EpochResult, now: int, console: Console, *, by_epoch: bool
) -> tuple[list[tuple[str, str]], bool]:
    """Move one feed outside the attested box and back (or, ``by_epoch``, attest the next epoch at the moved price);
    returns the summary rows and whether the view flipped true -> false -> true."""
    from .chain_ops import PRICE_DECIMALS
    from .exchange import demo_engine
    from .live_flip import flip_back, flip_out, flipped_as_expected, observe, pick_asset

    dep = op.chain
    assert dep is not None
    names = list(op.layout(engine).assets)
    idx = pick_asset(dep, names)
    steps, moved = flip_out(dep, idx, 10**PRICE_DECIMALS)
    console.print(f"live view: {names[idx]} feed moved to {moved / 10**PRICE_DECIMALS:,.2f} (box edge "
                  f"{steps[1].box_hi / 10**PRICE_DECIMALS:,.2f}): isSolvent() = {steps[1].solvent} "
                  f"({steps[1].reason})", soft_wrap=True, highlight=False)  # fmt: skip
    if by_epoch and names[idx] in ("BTC", "ETH"):
        spot = {a: engine.snapshot.spot_prices[a] / 10**PRICE_DECIMALS for a in ("BTC", "ETH")}
        spot[names[idx]] = moved / 10**PRICE_DECIMALS
        # the same listing clock: the instruments (so the governed parameters) stay the ones governance approved
        moved_engine = demo_engine(btc=spot["BTC"], eth=spot["ETH"], now=now)
        nxt = op.run_epoch(res.epoch + 1, moved_engine, book)
        steps.append(observe(dep, f"epoch {nxt.epoch} attested at the new prices ({nxt.batches} batches re-proven)",
                             idx))  # fmt: skip
    else:
        steps.append(flip_back(dep, idx))
    console.print(f"live view: {steps[-1].label}: isSolvent() = {steps[-1].solvent} ({steps[-1].reason})",
                  soft_wrap=True, highlight=False)  # fmt: skip
    rows = [(f"live view {i + 1}", f"{s.label}: isSolvent() = {s.solvent} ({s.reason}); {names[idx]} feed "
             f"{s.feed_price / 10**PRICE_DECIMALS:,.2f}") for i, s in enumerate(steps)]  # fmt: skip
    return rows, flipped_as_expected(steps)


def _use_registry(op: Operator, engine: Any, rpc: str, registry: str, epoch: int | None) -> int:
    """Attach to an existing registry as its roles' accounts: check it pins this setup's key, have governance
    approve this venue's parameters if nothing is attested yet, and continue its epoch numbering."""
    from zkmargin.verifier.chain import verifying_key_hash

    dep = attach_registry(rpc, registry)
    layout = op.layout(engine)
    setup = op.setup(layout)
    if dep.registry.verifying_key_hash() != verifying_key_hash(setup.vk):
        raise InputError("registry", f"{registry} pins another verifying key than {setup.path}: attest with the "
                                     "bundle root it was deployed for (--out) or deploy a new one")  # fmt: skip
    gov = governed_registration(engine, layout)
    current = dep.registry.params()
    latest = dep.registry.latest_epoch()
    if current.commitment != gov.commitment:
        if latest is not None:
            raise InputError("registry", f"{registry} already attests under other risk parameters; governance must "
                                         "propose these through the timelock (docs/product.md)")  # fmt: skip
        from zkmargin.verifier.chain import params_doc_hash

        from .chain_ops import document_box

        dep.registry.set_initial_params(gov.commitment, current.version + 1, params_doc_hash(gov.document),
                                        sender=dep.governance, box=document_box(gov.document))  # fmt: skip
    op.chain = dep
    nxt = max((r["epoch"] for r in fmt.list_epochs(op.root)), default=0) + 1
    return max(nxt, (latest or 0) + 1, epoch or 0)


def venue_png(path: Path, engine: Any, book: Any, res: EpochResult) -> Path:
    """The venue at a glance: margin-ratio distribution (equity / MM), proven / under-MM / unrepresented counts,
    gas per batch. Needs matplotlib (``pip install 'zkmargin[report]'``); written atomically."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise MissingExtra("the venue chart", "report", "matplotlib") from e
    import io
    import math

    from zkmargin.atomic import atomic_write_bytes

    ratios = []
    for a in book:
        try:
            r = engine.evaluate(a).margin_ratio
        except (ValueError, KeyError):
            continue
        if math.isfinite(r):
            ratios.append(min(max(r, -2.0), 20.0))
    t = res.manifest.get("totals", {})
    under = int(t.get("under_mm_count", 0))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    ax.hist(ratios, bins=60, color="#4477aa")
    ax.axvline(1.0, color="#cc3311", linestyle="--", label="maintenance margin (ratio 1)")
    ax.set_xlabel("margin ratio: equity / maintenance margin (clipped to [-2, 20])")
    ax.set_ylabel("accounts")
    ax.set_title(f"{len(ratios):,} accounts with margin requirements")
    ax.legend()
    ax = axes[1]
    labels = ["proven,\nat or above MM", "proven,\nunder MM", "unrepresented"]
    values = [res.covered - under, under, len(res.excluded)]
    bars = ax.bar(labels, values, color=["#228833", "#ee7733", "#bbbbbb"])
    ax.bar_label(bars, labels=[f"{v:,}" for v in values])
    ax.set_title(f"epoch {res.epoch}: {res.covered:,} proven in {res.batches} batches")
    ax = axes[2]
    gas = int((res.chain or {}).get("gas_used") or 0)
    per = gas / max(1, res.batches)
    bars = ax.bar(["attestation (total)", "per batch"], [gas, per], color=["#4477aa", "#66ccee"])
    ax.bar_label(bars, labels=[f"{gas:,}", f"{per:,.0f}"])
    ax.set_ylabel("gas")
    ax.set_title("on-chain cost" + ("" if gas else " (already attested: no receipt)"))
    fig.suptitle(f"zkmargin demo venue, epoch {res.epoch} ({res.path.name})")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
