"""Shared fixtures: locating the npm test tools (snarkjs, circom2, node) installed by .ci/run."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NODE_BIN = REPO / "node_modules" / ".bin"


def _require_tools() -> bool:
    # In CI the tools are installed by .ci/run: a missing tool is then a failure, never a silent skip.
    return os.environ.get("CI", "").lower() in ("1", "true") or bool(os.environ.get("ZKMARGIN_REQUIRE_NPM_TOOLS"))


def npm_tool_path(name: str) -> Path | None:
    p = NODE_BIN / name
    return p if p.exists() else None


@pytest.fixture(scope="session")
def npm_tool() -> Callable[[str], Path]:
    """Return the path of an npm-installed CLI (snarkjs, circom2, ...), skipping locally if absent."""

    def get(name: str) -> Path:
        p = npm_tool_path(name)
        if p is None:
            if _require_tools():
                pytest.fail(f"npm tool {name!r} missing from {NODE_BIN}: run `npm ci` (done by .ci/run)")
            pytest.skip(f"npm tool {name!r} not installed (run `npm ci`)")
        return p

    return get


@pytest.fixture(scope="session")
def run_tool(npm_tool: Callable[[str], Path]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run an npm CLI and return the completed process (never raises on non-zero exit)."""

    def run(
        name: str, *args: str | Path, cwd: Path | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        exe = npm_tool(name)
        return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def node_exe() -> str:
    exe = shutil.which("node")
    if exe is None:
        if _require_tools():
            pytest.fail("node is not installed")
        pytest.skip("node is not installed")
    return exe


def _fp_variants() -> tuple[str, ...]:
    try:
        from zkmargin.circuits import _bn254  # type: ignore[attr-defined]
    except ImportError:
        return ("portable",)
    return tuple(_bn254.fp_variants())


@pytest.fixture(params=_fp_variants())
def fp_variant_each(request: pytest.FixtureRequest) -> object:
    """Run a kernel test once per Montgomery multiplication the CPU supports (portable CIOS, mulx/adx)."""
    from zkmargin.circuits import msm_native

    if msm_native._bn254 is None:
        yield request.param
        return
    msm_native._bn254.set_fp_variant(request.param)
    try:
        yield request.param
    finally:
        msm_native._bn254.set_fp_variant("auto")
