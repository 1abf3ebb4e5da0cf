"""The operator's API: the demo venue and its margin engine, proving an epoch into a bundle root, publishing it.

Split out of the API (``zkmargin.api`` re-exports every name) because these are the exchange's side and import
the prover (lazily, when called); the auditor's and user's checks of the same bundles are ``bundle_checks.py``,
the registry ``chain.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, PathLike

if TYPE_CHECKING:
    from zkmargin.circuits.rules.models import Account
    from zkmargin.prover.engine.margin import AccountResult, MarginEngine
    from zkmargin.prover.operator.chain_ops import ChainDeployment
    from zkmargin.prover.operator.pipeline import EpochResult


# ----------------------------------------------------------------------------- margin engine


def demo_exchange(accounts: int = 1000, seed: int = 7, now: int | None = None) -> tuple[MarginEngine, list[Account]]:
    """The demo venue: its margin engine (valued at ``now``, default the wall clock) and ``accounts`` accounts."""
    from zkmargin.prover.operator.exchange import demo_accounts, demo_engine

    if accounts < 1:
        raise InputError("accounts", f"must be at least 1, got {accounts}")
    engine = demo_engine(now=int(time.time()) if now is None else now)
    return engine, demo_accounts(engine, accounts, seed=seed)


def evaluate_margin(accounts: Sequence[Account], engine: MarginEngine | None = None) -> list[AccountResult]:
    """Exact margin state of each account (equity, IM, MM, status, shortfall) under ``engine`` (default: the demo
    venue's). An account the engine refuses raises :class:`InputError` naming it."""
    if engine is None:
        engine = demo_exchange(1)[0]
    out = []
    for a in accounts:
        try:
            out.append(engine.evaluate(a))
        except (ValueError, KeyError) as e:
            raise InputError(f"account {a.account_id}", str(e)) from e
    return out


def run_epoch(
    root: PathLike,
    engine: MarginEngine,
    accounts: Sequence[Account],
    *,
    epoch: int | None = None,
    batch: int = 16,
    setup_kind: str = "development",
    setup_dir: PathLike | None = None,
    chain: ChainDeployment | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    proof_system: str | None = None,
) -> EpochResult:
    """Prove, attest (when ``chain`` is given) and publish one epoch into the bundle root ``root``: every account
    the circuit's slots hold is proven in batches of ``batch``, the rest counted by reason. ``epoch`` defaults to
    the root's next one. Resumes after a crash; idempotent once published. ``proof_system``: ``"committed"`` (the
    lookup circuit, Groth16 with one commitment) or ``"plain"`` (snarkjs-checkable); None is committed."""
    from zkmargin.prover.operator.exchange import ExchangeSpec
    from zkmargin.prover.operator.pipeline import Operator
    from zkmargin.prover.operator.setups import SetupError
    from zkmargin.verifier import bundle as fmt

    if batch < 1:
        raise InputError("batch", f"must be at least 1, got {batch}")
    if proof_system not in (None, "committed", "plain"):
        raise InputError("proof_system", f"is 'committed' or 'plain', got {proof_system!r}")
    system = proof_system or "committed"
    if setup_kind not in ("development", "ceremony"):
        raise InputError("setup_kind", "is 'development' or 'ceremony'")
    if epoch is None:
        epoch = max((r["epoch"] for r in fmt.list_epochs(root)), default=0) + 1
    op = Operator(root, ExchangeSpec(accounts_per_batch=batch), setup_kind=setup_kind, setup_dir=setup_dir,
                  chain=chain, progress=progress, proof_system=system)  # fmt: skip
    try:
        op.setup(op.layout(engine))
    except SetupError as e:
        raise InputError("setup_dir" if setup_dir is not None else "root", str(e)) from e
    return op.run_epoch(epoch, engine, accounts)


def publish_bundle(bundle: PathLike, out: PathLike) -> Path:
    """Write the publishable copy of an operator's bundle root (no account id, secret or inclusion file)."""
    from zkmargin.prover.operator.publish import PublishError, publish

    try:
        return publish(bundle, out)
    except PublishError as e:
        raise InputError("bundle", str(e)) from e
    except OSError as e:
        raise InputError("out", f"{out}: {e.strerror or e}") from e
