"""Audit checks of an epoch's inputs: its files (every one hashed in the manifest, none unlisted) and its
dynamic-margin methodology (the governed rates no looser than the methodology yields as of the epoch).

Split from ``audit.py`` (which runs every check in order) so that each area of the audit reads on its own; the
batch checks are in ``audit_batches.py``, the setup and chain checks in ``audit_setup_chain.py``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from zkmargin.circuits.rules.methodology import Methodology, MethodologyError
from zkmargin.circuits.rules.params import RiskParameters

from . import bundle as fmt
from .dynamic_params import check_dynamic_params, method_history
from .report import Report


def check_files(rep: Report, b: fmt.EpochBundle) -> None:
    """Every listed file hashes to its manifest entry; nothing unlisted is shipped. Walking the directory raises
    (malformed) on a symlink, FIFO or device, and every file is read under the bundle's size cap."""
    listed = b.listed
    present = set(fmt.iter_files(b.path))
    # inclusion files may have been delivered and stripped from a published copy: absent ones are not an error
    missing = sorted(rel for rel in listed if rel not in present)
    differ = sorted(rel for rel, h in listed.items() if rel in present and fmt.sha256_checked(b.file(rel), rel) != h)
    extra = sorted(present - set(listed))
    problems = [f"sha256 differs: {', '.join(differ[:5])}"] if differ else []
    problems += [f"missing: {', '.join(missing[:5])}"] if missing else []
    rep.add(
        "files: sha256 of every file matches the manifest",
        not differ and not missing,
        "; ".join(problems) if problems else f"{len(listed)} files",
    )
    rep.add("files: no file outside the manifest", not extra, f"unlisted: {', '.join(extra[:5])}" if extra else "")


def check_methodology(
    rep: Report, b: fmt.EpochBundle, governed: dict[str, Any], registered: RiskParameters | None
) -> None:
    """Dynamic margin: the governed rates must be at least as strict as what the methodology the governed document
    pins yields on its public price history, as of this epoch. The bundle's methodology file is untrusted: its
    recipe (base set, drivers, estimators, history) must hash to the governed one, and its as-of date is bound to
    the epoch by its history's close on that date being the attested oracle price of every driven underlying (an
    earlier as-of date, before a crash, would yield looser rates)."""
    pinned = governed.get("methodology_recipe_sha256")
    shipped = b.has(fmt.METHODOLOGY)
    if pinned is None and not shipped:
        return
    name = "dynamic parameters: the governed methodology, as of this epoch, yields rates no looser than the governed"
    if not shipped:
        rep.add(name, False, "the governed document pins a methodology but the epoch ships none")
        return
    if registered is None:
        rep.add(name, False, "no readable risk parameters")
        return
    try:
        method = Methodology.model_validate(b.json(fmt.METHODOLOGY))
        history = method_history(method)
    except (ValidationError, MethodologyError, OSError) as e:
        rep.add(name, False, f"methodology or its price history unreadable: {str(e).splitlines()[0]}")
        return
    if pinned is not None and method.recipe_hash() != pinned:
        rep.add(name, False, f"methodology recipe {method.recipe_hash()[:16]} is not the governed {str(pinned)[:16]}")
        return
    stale = []
    i = history.dates.index(method.asof)
    for u, drv in method.underlyings.items():
        close = round(float(history.columns[drv.column][i]) * 10**8)
        if u not in b.assets or b.prices[b.assets.index(u)] != close:
            stale.append(f"{u}: close {close} on {method.asof}")
    if stale:
        rep.add(name, False, "as-of date is not this epoch's (history close != attested price): " + ", ".join(stale))
        return
    bad = check_dynamic_params(registered, method, history)
    rep.add(name, not bad, f"as of {method.asof}" if not bad else "; ".join(bad[:3]))
