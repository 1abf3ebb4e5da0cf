"""Fixtures: one tiny-shape setup for the session, and one published epoch attested on the embedded chain."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import product_helpers as ph

from zkmargin.prover.operator import EpochResult, Operator
from zkmargin.prover.operator.chain_ops import ChainDeployment


@pytest.fixture(scope="session")
def setup_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A development setup for the tiny shape, created once (the operator creates it on first use)."""
    d = tmp_path_factory.mktemp("setup") / "tiny"
    op = Operator(tmp_path_factory.mktemp("scratch"), ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=d)
    op.setup(op.layout(ph.engine()))
    return d


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory, setup_dir: Path) -> tuple[EpochResult, ChainDeployment]:
    root = tmp_path_factory.mktemp("bundle")
    op = Operator(root, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir)
    eng = ph.engine()
    chain = op.deploy_chain(eng, insurance_fund_micro_usd=ph.INSURANCE_FUND, max_unrepresented_ppm=200_000)
    return op.run_epoch(1, eng, ph.accounts(1)), chain


@pytest.fixture
def bundle_copy(published: tuple[EpochResult, ChainDeployment], tmp_path: Path) -> Callable[[], Path]:
    """A fresh copy of the published epoch directory, to corrupt."""

    def make() -> Path:
        dst = tmp_path / "copy" / published[0].path.name
        shutil.copytree(published[0].path, dst)
        return dst

    return make
