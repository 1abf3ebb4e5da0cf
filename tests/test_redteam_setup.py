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


def test_redteam_setup_paths_outside_the_bundle_are_refused(env: dict[str, Any]) -> None:  # noqa: F811
    """The audit's verdict must depend only on files of the bundle: a setup path resolving outside the bundle root
    (absolute, or ``../`` beyond it) is refused before anything is read, even when the file there is honest."""
    import tempfile

    outside = Path(tempfile.mkdtemp(prefix="zkm-outside-", dir="/tmp"))
    try:
        shutil.copy(env["dir"] / "honest.zkey", outside / "k.zkey")
        for rel in (str(outside / "k.zkey"), "../" * 8 + str(outside / "k.zkey").lstrip("/")):
            rep = run(env, {"kind": "ceremony", "zkey": rel, "ptau": "public.ptau"}, env["vk"]["honest"])
            assert [c.name for c in rep.failed()] == ["setup: key files inside the bundle root"], rel
    finally:
        shutil.rmtree(outside)
