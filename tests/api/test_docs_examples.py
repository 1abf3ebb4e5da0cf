"""docs/api.md's examples are executed, in order, in one namespace, against the committed tiny fixture (and the
chain example against anvil when it is installed: a missing anvil fails in CI, skips locally)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from anvil_process import running_anvil

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "api.md"
TINY = REPO / "tests" / "fixtures" / "tiny"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture
def anvil(npm_tool: Callable[[str], Path]) -> Iterator[str]:
    with running_anvil(npm_tool("anvil")) as url:
        yield url


def test_docs_have_examples_for_each_api_area() -> None:
    text = "\n".join(blocks())
    for fn in ("verify_proof", "load_snarkjs", "setup", "prove", "evaluate_margin", "run_epoch", "audit_bundle",
               "verify_account", "publish_bundle", "read_registry", "deploy_registry"):  # fmt: skip
        assert f"zkmargin.{fn}(" in text, fn


@pytest.mark.slow
def test_docs_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anvil: str) -> None:
    shutil.copytree(TINY, tmp_path / "tiny")
    monkeypatch.chdir(tmp_path)
    ns: dict[str, Any] = {"RPC": anvil}
    for i, code in enumerate(blocks()):
        try:
            exec(compile(code, f"docs/api.md block {i + 1}", "exec"), ns)
        except Exception as e:
            raise AssertionError(f"docs/api.md block {i + 1} failed: {type(e).__name__}: {e}\n{code}") from e
    assert (tmp_path / "public-copy").is_dir() and (tmp_path / "proof" / "proof.json").is_file()
