"""``zkmargin bundle publish``: the publishable copy of a bundle root.

The operator's root mixes public and private data: epoch directories and setups (public), the SQLite index
(public), user secrets, per-user inclusion files under ``private/`` and the crash-recovery cache (private). This
copies only the public part, then scans every copied byte for every account id and user secret the operator
holds and refuses (deleting the copy) if one is found: nothing published may identify an account.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from zkmargin.atomic import atomic_directory
from zkmargin.verifier import bundle as fmt

from .user_secrets import FILENAME as USER_SECRETS

SETUP_PUBLIC = ("setup.json", fmt.VK, "circuit.zkey", "commitment_key.json", "phase1.ptau", "transcript")


class PublishError(RuntimeError):
    """The copy would leak private data (or the root is not a bundle); nothing was written."""


def _needles(root: Path) -> list[bytes]:
    path = root / USER_SECRETS
    if not path.exists():
        return []
    secrets = json.loads(path.read_text())
    out: list[bytes] = []
    for aid, hexval in secrets.items():
        out += [json.dumps(aid).encode(), hexval.encode(), str(int(hexval, 16)).encode()]
    return out


def publish(root: str | Path, out: str | Path) -> Path:
    """Write the public copy of ``root`` to ``out`` atomically; returns ``out``."""
    src, dst = Path(root), Path(out)
    if not (src / fmt.INDEX).exists():
        raise PublishError(f"--bundle {src}: not a bundle root (no {fmt.INDEX})")
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise PublishError("--out must be outside the bundle root")
    needles = _needles(src)
    with atomic_directory(dst) as stage:
        shutil.copy2(src / fmt.INDEX, stage / fmt.INDEX)
        for row in fmt.list_epochs(src):
            shutil.copytree(src / str(row["dir"]), stage / str(row["dir"]), symlinks=False)
        for setup in sorted((src / "setups").glob("*")) if (src / "setups").is_dir() else []:
            for name in SETUP_PUBLIC:
                item = setup / name
                target = stage / "setups" / setup.name / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if item.is_dir():
                    shutil.copytree(item, target, symlinks=False)
                elif item.is_file():
                    shutil.copy2(item, target)
        for f in stage.rglob("*"):
            if f.is_file() and f.suffix in (".json", ".sqlite", "") and f.stat().st_size < 64 << 20:
                data = f.read_bytes()
                hit = next((n for n in needles if n in data), None)
                if hit is not None:
                    raise PublishError(f"{f.relative_to(stage)} contains private data; nothing was published")
    return dst
