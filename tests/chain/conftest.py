"""Chain fixtures: one deployment per backend (embedded py-evm, anvil on a free loopback port),
snapshot/revert around every test, and a session-cached stand-in circuit and key."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from anvil_process import running_anvil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chain_env import N_ASSETS, Deployment, deploy_all
from layout_circuit import CommittedLayoutCircuit, LayoutCircuit, build_committed_layout_circuit, build_layout_circuit

from zkmargin.verifier.chain import connect


@pytest.fixture(scope="session")
def circuit() -> LayoutCircuit:
    return build_layout_circuit(N_ASSETS)


@pytest.fixture(scope="session")
def committed_circuit() -> CommittedLayoutCircuit:
    return build_committed_layout_circuit(N_ASSETS)


@pytest.fixture(scope="session")
def anvil_url(npm_tool: Callable[[str], Path]) -> Iterator[str]:
    """Start anvil from node_modules on a free loopback port; stop it after the session."""
    with running_anvil(npm_tool("anvil")) as url:
        yield url


_DEPLOYMENTS: dict[str, Deployment] = {}


@pytest.fixture(params=["pyevm", "anvil"])
def env(request: pytest.FixtureRequest, circuit: LayoutCircuit) -> Iterator[Deployment]:
    """A deployed registry + verifier + feeds on each backend, rolled back after every test."""
    backend = request.param
    if backend not in _DEPLOYMENTS:
        url = request.getfixturevalue("anvil_url") if backend == "anvil" else None
        _DEPLOYMENTS[backend] = deploy_all(connect(url), circuit, backend)
    dep = _DEPLOYMENTS[backend]
    snap = dep.w3.testing.snapshot()
    try:
        dep.refresh_feeds()  # keep the feeds fresh relative to this test's blocks
        yield dep
    finally:
        dep.w3.testing.revert(snap)


@pytest.fixture(params=["pyevm", "anvil"])
def cenv(request: pytest.FixtureRequest, committed_circuit: CommittedLayoutCircuit) -> Iterator[Deployment]:
    """The same deployment with a committed key pinned in the registry, rolled back after every test."""
    backend = request.param
    name = f"committed-{backend}"
    if name not in _DEPLOYMENTS:
        url = request.getfixturevalue("anvil_url") if backend == "anvil" else None
        _DEPLOYMENTS[name] = deploy_all(connect(url), committed_circuit, backend)
    dep = _DEPLOYMENTS[name]
    snap = dep.w3.testing.snapshot()
    try:
        dep.refresh_feeds()
        yield dep
    finally:
        dep.w3.testing.revert(snap)
