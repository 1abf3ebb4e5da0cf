"""Atomic file and directory writes: a reader (or a crash) never sees a half-written artifact."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    """The process umask (read by setting and restoring it: POSIX offers no other way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int | None = None) -> None:
    """Temp file in the same directory, fsync, os.replace, fsync of the directory: a crash or a
    concurrent reader never sees a half-written file. The file follows the umask like any created file
    (``mode`` None), or gets an explicit ``mode``: 0o600 for secrets (operator and user secrets, deliveries)."""
    if mode is None:
        mode = 0o666 & ~_umask()
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # mkstemp always creates 0600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    """Persist a rename; not every platform or filesystem allows opening a directory."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a staging directory; on success it replaces ``path`` in one rename, on error it vanishes.

    The directory follows the umask (``mode`` None; ``mkdtemp`` alone would make it 0700 whatever the umask), or
    gets an explicit ``mode`` (0o700 for private data).

    An existing ``path`` is moved aside first and removed only after the new one is in place, so
    at every instant either the old or the new complete directory exists.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.staging.", dir=path.parent))
    staging.chmod(0o777 & ~_umask() if mode is None else mode)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old.{os.getpid()}"
        os.replace(path, old)
    os.replace(staging, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
