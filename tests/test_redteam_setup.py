"""Red team, setup audit: manifest setup paths outside the bundle, a ceremony zkey that is not the key used."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from test_setup_audit import env, failed, run  # noqa: F401  (env is a fixture)


def test_redteam_ceremony_zkey_not_the_key_used(env: dict[str, Any]) -> None:  # noqa: F811
    rep = run(env, {"kind": "ceremony", "zkey": "honest.zkey", "ptau": "public.ptau"}, env["vk"]["operator_only"])
    assert "setup: the bundle's verifying key is the ceremony key's" in failed(rep)


def test_redteam_setup_paths_outside_the_bundle_are_followed(env: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    """Not a soundness hole (the key is checked cryptographically: same key, chain, governance signature), but the
    audit follows ``../`` and absolute paths to files no manifest sha256 covers: its verdict then depends on files
    outside the published bundle. Recommended: refuse setup paths that resolve outside the bundle."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(env["dir"] / "honest.zkey", outside / "k.zkey")
    rep = run(env, {"kind": "ceremony", "zkey": str(outside / "k.zkey"), "ptau": "public.ptau"}, env["vk"]["honest"])
    assert rep.ok  # documented behaviour today
