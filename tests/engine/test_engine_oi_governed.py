"""Open-interest-scaled IM tiers are governed parameters (RiskParameters.oi_tiers): the governed document carries
them, the audit rebuilds params_commitment from that document, so an operator that margins with tiers other than
the published ones (or publishes none) fails the audit; documents without tiers keep their old hash."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from zkmargin.circuits.rules.circuit_inputs import (
    document_bytes,
    document_hash,
    governed_document,
    make_layout,
    solvency_params,
)
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import OILiquidityTier, RiskParameters
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.engine.oi_margin import oi_account_requirements
from zkmargin.verifier.params_audit import audit_parameters
from zkmargin.verifier.report import Report

SLOTS = ("BTC-PERP", "ETH-PERP", "BTC-7D-36000-C")
ASSETS = ("USDT", "BTC", "ETH", "USD")
COMMITMENT_CHECK = "params: params_commitment rebuilt from the governed document = the proven one"
# dYdX's "Large-Cap" liquidity tier shape: 2% base IMF, MMF 60% of it, scaling between 25 M and 50 M USD open notional
LARGE_CAP = OILiquidityTier(
    base_imf=20_000,
    maintenance_fraction=600_000,
    open_notional_lower_cap=demo.usd(25_000_000),
    open_notional_upper_cap=demo.usd(50_000_000),
)


def _params(tiers: dict[str, OILiquidityTier]) -> RiskParameters:
    return demo.params().model_copy(update={"oi_tiers": tiers})


def _audit(proven: RiskParameters, published: dict[str, object]) -> Report:
    """The operator proves with ``proven``; the auditor only has the published document and the proof's publics."""
    insts, snap = demo.instruments(), demo.snapshot()
    layout = make_layout(insts, proven, SLOTS, ASSETS, accounts=4)
    sp = solvency_params(insts, proven, snap, layout)
    rep = Report("params")
    audit_parameters(
        rep,
        published,
        snap.model_dump(mode="json"),
        layout.shape,
        [snap.spot_prices[a] for a in ASSETS],
        sp.commitment(layout.shape),
        sp.market_commitment(layout.shape),
    )
    return rep


def _published(params: RiskParameters) -> dict[str, object]:
    """The governed document as an auditor reads it: canonical JSON bytes parsed back."""
    layout = make_layout(demo.instruments(), params, SLOTS, ASSETS, accounts=4)
    loaded: dict[str, object] = json.loads(document_bytes(governed_document(params, demo.instruments(), layout)))
    return loaded


def test_audit_accepts_the_published_tiers_and_recomputes_them() -> None:
    proven = _params({"BTC-PERP": LARGE_CAP})
    rep = _audit(proven, _published(proven))
    assert rep.ok, rep.render()
    # the auditor's copy of the tiers margins a position exactly like the operator's
    doc = _published(proven)
    parsed = RiskParameters.model_validate(doc["risk_parameters"])
    assert parsed.oi_tiers == proven.oi_tiers
    acct = Account(account_id="w", positions=[Position(instrument="BTC-PERP", quantity=demo.qt(500), entry_price=1)])
    oi = {"BTC-PERP": demo.usd(40_000_000)}
    operator = MarginEngine(demo.instruments(), proven, demo.snapshot())
    auditor = MarginEngine(demo.instruments(), parsed, demo.snapshot())
    assert oi_account_requirements(auditor, acct, None, oi) == oi_account_requirements(operator, acct, None, oi)


@pytest.mark.parametrize(
    "published_tiers",
    [
        {"BTC-PERP": LARGE_CAP.model_copy(update={"base_imf": 19_999})},  # base IMF loosened by 1 ppm
        {"BTC-PERP": LARGE_CAP.model_copy(update={"open_notional_upper_cap": demo.usd(50_000_001)})},  # flatter
        {},  # tiers left out of the published document
    ],
)
def test_tiers_other_than_the_proven_ones_fail_the_audit(published_tiers: dict[str, OILiquidityTier]) -> None:
    proven = _params({"BTC-PERP": LARGE_CAP})
    rep = _audit(proven, _published(_params(published_tiers)))
    assert [c.name for c in rep.failed()] == [COMMITMENT_CHECK]


def test_tiers_change_the_document_hash_and_empty_tiers_do_not() -> None:
    base = demo.params()
    layout = make_layout(demo.instruments(), base, SLOTS, ASSETS, accounts=4)
    plain = governed_document(base, demo.instruments(), layout)
    assert "oi_tiers" not in plain["risk_parameters"]  # a document without tiers is byte-for-byte what it was
    assert document_hash(governed_document(_params({}), demo.instruments(), layout)) == document_hash(plain)
    tiered = governed_document(_params({"BTC-PERP": LARGE_CAP}), demo.instruments(), layout)
    assert document_hash(tiered) != document_hash(plain)


def test_tier_below_the_hard_floor_is_refused_naming_the_field() -> None:
    weak = LARGE_CAP.model_copy(update={"base_imf": 1_000, "maintenance_fraction": 100_000})  # MMF 0.01%
    with pytest.raises(ValidationError, match=r"oi_tiers\.BTC-PERP\.maintenance_fraction"):
        RiskParameters.model_validate({**demo.params().model_dump(mode="json"), "oi_tiers": {"BTC-PERP": weak}})


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_imf": 19_000}, "oi_tiers.BTC-PERP: initial margin fraction at open notional 0 USD"),
        ({"open_notional_upper_cap": demo.usd(60_000_000)}, "at open notional 50,000,000 USD"),  # flatter slope
        ({"open_notional_lower_cap": demo.usd(30_000_000)}, "at open notional 30,000,000 USD"),  # scales later
        ({"open_notional_lower_cap": 0, "open_notional_upper_cap": 0}, "at open notional 50,000,000 USD"),  # no scaling
        ({"maintenance_fraction": 500_000}, "oi_tiers.BTC-PERP.maintenance_fraction"),
    ],
)
def test_loosened_tier_is_not_a_tightening(change: dict[str, int], field: str) -> None:
    from zkmargin.circuits.rules.tightening import tightening_violations

    old = _params({"BTC-PERP": LARGE_CAP})
    new = _params({"BTC-PERP": LARGE_CAP.model_copy(update=change)})
    found = tightening_violations(old, new)
    assert any(field in f for f in found), found  # (a lower base IMF also lowers MM: two findings)


def test_stricter_tier_is_a_tightening_and_tier_changes_are_flagged() -> None:
    from zkmargin.circuits.rules.tightening import tightening_violations

    old = _params({"BTC-PERP": LARGE_CAP})
    stricter = LARGE_CAP.model_copy(
        update={"base_imf": 25_000, "open_notional_lower_cap": demo.usd(20_000_000), "maintenance_fraction": 700_000}
    )
    assert tightening_violations(old, _params({"BTC-PERP": stricter})) == []
    assert tightening_violations(old, _params({})) == [
        "oi_tiers.BTC-PERP: removed (its IM and MM fall back to the brackets)"
    ]
    added = tightening_violations(old, _params({"BTC-PERP": LARGE_CAP, "ETH-PERP": LARGE_CAP}))
    assert added == ["oi_tiers.ETH-PERP: new tier (it replaces the brackets' IM and MM for the symbol)"]
