"""Shared fixtures for the margin-engine tests: the demo exchange of zkmargin.prover.engine.demo."""

from __future__ import annotations

import pytest

from zkmargin.circuits.rules.models import Instrument, MarketSnapshot
from zkmargin.circuits.rules.params import RiskParameters
from zkmargin.circuits.rules.risk_arrays import RiskArrays, build_risk_arrays
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine


@pytest.fixture(scope="session")
def instruments() -> dict[str, Instrument]:
    return demo.instruments()


@pytest.fixture(scope="session")
def snapshot() -> MarketSnapshot:
    return demo.snapshot()


@pytest.fixture(scope="session")
def params() -> RiskParameters:
    return demo.params()


@pytest.fixture(scope="session")
def risk_arrays(instruments: dict[str, Instrument], snapshot: MarketSnapshot, params: RiskParameters) -> RiskArrays:
    return build_risk_arrays(instruments, snapshot, params.scenario_grids, params.short_option_min)


@pytest.fixture(scope="session")
def engine(
    instruments: dict[str, Instrument], snapshot: MarketSnapshot, params: RiskParameters, risk_arrays: RiskArrays
) -> MarginEngine:
    return MarginEngine(instruments, params, snapshot, risk_arrays)
