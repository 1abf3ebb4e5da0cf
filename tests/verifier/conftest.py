"""Fixtures: two published epochs of the product tests' tiny exchange (no chain), and fresh copies to corrupt."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "product"))

import product_helpers as ph

from zkmargin.prover.operator import EpochResult, Operator


@pytest.fixture(scope="session")
def two_epochs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[EpochResult]]:
    """A bundle root with epochs 1 and 2 (development setup, so only the setup gate fails their audits)."""
    setup = tmp_path_factory.mktemp("vsetup") / "tiny"
    root = tmp_path_factory.mktemp("vbundle")
    op = Operator(root, ph.SPEC, setup_dir=setup)
    eng = ph.engine()
    return root, [op.run_epoch(e, eng, ph.accounts(e)) for e in (1, 2)]


@pytest.fixture
def root_copy(two_epochs: tuple[Path, list[EpochResult]], tmp_path: Path) -> Callable[[], Path]:
    """A fresh copy of the whole bundle root (index, setups, both epochs), to corrupt."""

    def make() -> Path:
        dst = tmp_path / "root"
        shutil.copytree(two_epochs[0], dst, symlinks=True)
        return dst

    return make
