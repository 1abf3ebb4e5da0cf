"""The API of the checks of an epoch bundle: the auditor's (one epoch, or a range with a summary) and the account
holder's (their inclusion file in a valid batch proof), each optionally against the registry on-chain.

Split out of the API (``zkmargin.api`` re-exports every name) because these are the verifier side's: they import
``zkmargin.verifier`` only, never the prover.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zkmargin.verifier.report import Report

from .chain import open_registry
from .errors import InputError, PathLike

if TYPE_CHECKING:
    from zkmargin.verifier.chain import SolvencyRegistryClient


def _registry_arg(rpc: str | None, registry: str | None) -> SolvencyRegistryClient | None:
    if bool(rpc) != bool(registry):
        raise InputError("registry" if rpc else "rpc", "give both --rpc and --registry, or neither")
    return None if rpc is None or registry is None else open_registry(rpc, registry)


def audit_bundle(
    bundle: PathLike,
    *,
    epoch: int | None = None,
    rpc: str | None = None,
    registry: str | SolvencyRegistryClient | None = None,
    check_transcript: bool = True,
) -> Report:
    """Every auditor's check of one epoch bundle (and, with a registry, of the chain). ``report.ok``;
    ``report.exit_code`` 0 pass, 1 failed checks, 2 malformed bundle."""
    from zkmargin.verifier.audit import audit_bundle as _audit

    if not Path(bundle).exists():
        raise InputError("bundle", f"{bundle}: no such directory")
    reg = registry if registry is None or not isinstance(registry, str) else None
    if reg is None:
        reg = _registry_arg(rpc, registry if isinstance(registry, str) else None)
    return _audit(bundle, reg, epoch, check_transcript)


def audit_epochs(
    bundle: PathLike,
    first: int,
    last: int,
    *,
    rpc: str | None = None,
    registry: str | SolvencyRegistryClient | None = None,
    check_transcript: bool = True,
) -> tuple[list[Report], Report]:
    """Audit every epoch from ``first`` to ``last`` of a bundle root: one report per epoch and a summary whose
    ``exit_code`` is 2 if any epoch is malformed, else 1 if any failed."""
    from zkmargin.verifier.audit import audit_range, range_summary

    if not Path(bundle).exists():
        raise InputError("bundle", f"{bundle}: no such directory")
    if first > last:
        raise InputError("first", f"{first} is after --last {last}")
    reg = registry if registry is None or not isinstance(registry, str) else None
    if reg is None:
        reg = _registry_arg(rpc, registry if isinstance(registry, str) else None)
    reports = audit_range(bundle, first, last, reg, check_transcript)
    return reports, range_summary(reports)


def verify_account(
    bundle: PathLike,
    inclusion: PathLike,
    *,
    account: str | None = None,
    secret: int | str | None = None,
    epoch: int | None = None,
    rpc: str | None = None,
    registry: str | SolvencyRegistryClient | None = None,
) -> Report:
    """One account holder's check: their inclusion file is in a valid batch proof of the epoch (and, with a
    registry, attested on-chain). ``secret`` is an int or hex string."""
    from zkmargin.verifier.user import verify_account as _verify

    if not Path(bundle).exists():
        raise InputError("bundle", f"{bundle}: no such directory")
    if not Path(inclusion).is_file():
        raise InputError("inclusion", f"{inclusion}: no such file")
    if isinstance(secret, str):
        try:
            secret = int(secret.removeprefix("0x"), 16)
        except ValueError as e:
            raise InputError("secret", "expected a hexadecimal number") from e
    reg = registry if registry is None or not isinstance(registry, str) else None
    if reg is None:
        reg = _registry_arg(rpc, registry if isinstance(registry, str) else None)
    return _verify(bundle, inclusion, account, secret, reg, epoch)
