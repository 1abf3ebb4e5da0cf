"""Reading untrusted files: confined paths, regular files only, bounded sizes, bounded JSON nesting.

Everything an auditor or a user opens (a bundle, a transcript, an inclusion file) was written by the operator, who
is the party being checked. A path in a manifest can point anywhere (``/etc/shadow``, ``../../other-epoch``), a
"file" can be a symlink to ``/dev/zero`` (an endless read), a FIFO (a read that blocks forever), a directory, or a
64 GiB file; a JSON document nested 100,000 deep makes Python's parser raise ``RecursionError``. Each of these must
become a :class:`UnsafeInput` naming the file and the reason (the caller reports it as malformed, exit 2), never a
hang, a traceback or a read outside the bundle.

Checks happen in this order: the relative path is syntactically confined (not absolute, no ``..``), its resolved
form is inside the root (a symlinked directory cannot lead out), the final component is examined with ``lstat``
(no symlink, regular file, size cap) *before* opening, and the open itself uses ``O_NOFOLLOW | O_NONBLOCK`` and
re-checks the opened descriptor (a swap between the check and the open is caught too).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Caps on what a verifier reads; generous for honest bundles, small enough that a hostile one cannot exhaust
    memory. ``max_json_bytes`` applies to every JSON file, ``max_binary_bytes`` to transcript containers."""

    max_json_bytes: int = 64 * MiB
    max_binary_bytes: int = 4096 * MiB
    max_json_depth: int = 64


DEFAULT_LIMITS = Limits()


class UnsafeInput(ValueError):
    """A file or path that must not be read as given; the message names it and says why."""


def check_relative(rel: object, what: str) -> str:
    """``rel`` must be a non-empty relative POSIX path with no ``..`` component (checked before touching disk)."""
    if not isinstance(rel, str) or not rel:
        raise UnsafeInput(f"{what}: expected a relative path, got {rel!r}")
    p = PurePosixPath(rel)
    if p.is_absolute() or "\\" in rel or "\x00" in rel or rel.startswith("~"):
        raise UnsafeInput(f"{what}: {rel!r} is not a relative path")
    if any(part == ".." for part in p.parts):
        raise UnsafeInput(f"{what}: {rel!r} leaves its directory ('..')")
    return rel


def confined(root: Path, rel: object, what: str) -> Path:
    """``root / rel`` after checking that it stays inside ``root`` once symlinks are resolved."""
    r = check_relative(rel, what)
    base = root.resolve()
    target = (root / r).resolve()
    if target != base and base not in target.parents:
        raise UnsafeInput(f"{what}: {rel!r} resolves outside {base}")
    return root / r


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symlink"), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def regular_file_size(path: Path, what: str) -> int:
    """Size of ``path`` if it is a regular file (not followed if a symlink); FileNotFoundError if absent."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeInput(f"{what}: {path} is {_kind(st.st_mode)}, expected a regular file")
    return st.st_size


def read_bytes(path: Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; FileNotFoundError if it does not exist."""
    size = regular_file_size(path, what)
    if size > max_bytes:
        raise UnsafeInput(f"{what}: {path} is {size} bytes, above the {max_bytes}-byte limit")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise UnsafeInput(f"{what}: {path} cannot be opened ({e.strerror})") from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):  # replaced between lstat and open
            raise UnsafeInput(f"{what}: {path} is {_kind(st.st_mode)}, expected a regular file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeInput(f"{what}: {path} grew above the {max_bytes}-byte limit while read")
    return data


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_OPEN, _CLOSE = np.zeros(256, np.int8), np.zeros(256, np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_CLOSE[[ord("]"), ord("}")]] = 1


def json_depth(data: bytes) -> int:
    """Maximum nesting depth of a JSON text (strings skipped), computed without recursion in linear time."""
    skeleton = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    if skeleton.size == 0:
        return 0
    steps = _OPEN[skeleton].astype(np.int64) - _CLOSE[skeleton]
    return int(np.cumsum(steps).max(initial=0))


def parse_json(data: bytes, what: str, max_depth: int) -> Any:
    """Decode UTF-8 JSON whose nesting is at most ``max_depth``; every failure is an UnsafeInput naming ``what``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnsafeInput(f"{what}: not UTF-8 (byte {e.start})") from e
    depth = json_depth(data)
    if depth > max_depth:
        raise UnsafeInput(f"{what}: JSON nested {depth} deep, above the limit of {max_depth}")
    try:
        return json.loads(text)
    except RecursionError as e:  # not reachable under the depth cap; kept so no input can raise it
        raise UnsafeInput(f"{what}: JSON nested too deep") from e
    except ValueError as e:
        raise UnsafeInput(f"{what}: not valid JSON ({e})") from e


def load_json(path: Path, what: str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A JSON file read under ``limits``; FileNotFoundError if absent, UnsafeInput for anything else wrong."""
    return parse_json(read_bytes(path, what, limits.max_json_bytes), what, limits.max_json_depth)
