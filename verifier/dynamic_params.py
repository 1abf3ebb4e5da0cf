"""Audit of the dynamic margin parameters: recompute them from the published methodology and public price history,
and fail when the registered ones are looser anywhere.

Why "at least as strict" and not "equal": an operator may always hold more margin than the methodology asks (a
discretionary add-on is safe for users); what it may not do is publish less, e.g. shave a rate right after a
volatility spike. Why the history hash is checked first: the recomputation is only as honest as its input; a
history with the crash day smoothed out yields lower rates that the registered ones would then "match".
"""

from __future__ import annotations

from pathlib import Path

from zkmargin.circuits.rules.calibration import DATA
from zkmargin.circuits.rules.methodology import Methodology, MethodologyError, PriceHistory, derive_dynamic_params
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.rules.tightening import tightening_violations


def check_dynamic_params(
    registered: RiskParameters,
    methodology: Methodology,
    history: PriceHistory,
    *,
    methodology_hash: str | None = None,
) -> list[str]:
    """Named violations (empty: the registered parameters are at least as strict as the methodology yields).

    ``methodology_hash``, when given, is the hash a registry pins; a methodology document that differs from it is a
    violation (a doctored inline history or base set changes it). Every bracket mmr/imr, floor and MM at every edge
    of every symbol, the scenario grids (scan range), haircuts and ratios are compared with ``tightening_violations``
    (recomputed -> registered): anything that would be a loosening relative to the recomputed set is reported.
    """
    if methodology_hash is not None and methodology.version_hash() != methodology_hash:
        return [f"methodology: hash {methodology.version_hash()} is not the published {methodology_hash}"]
    if history.sha256 != methodology.history.sha256:
        return [
            f"history.sha256: the history used hashes to {history.sha256}, "
            f"the methodology publishes {methodology.history.sha256}"
        ]
    try:
        recomputed = derive_dynamic_params(methodology, history)
    except MethodologyError as e:
        return [f"methodology: cannot be replayed: {e}"]
    return [f"{v} (registered looser than recomputed as of {methodology.asof})"
            for v in tightening_violations(recomputed, registered)]  # fmt: skip


def method_history(method: Methodology) -> PriceHistory:
    """The price history a methodology names: its inline closes, or a CSV shipped with zkmargin's public rules
    (looked up by file name in ``circuits/rules/data`` only: a bundle cannot point the audit at another file)."""
    src = method.history
    if src.inline is not None:
        return PriceHistory.from_inline(src.inline)
    assert src.path is not None
    path = DATA.parent / Path(src.path).name
    if not path.is_file():
        raise MethodologyError(f"history.path: {src.path!r} is not a history shipped with zkmargin")
    return PriceHistory.from_csv(path)
