"""The API's errors, and the path type its functions take.

Split out of the API (``zkmargin.api`` re-exports every name) because every other part raises these and the CLI
maps them to exit codes (:class:`InputError` 2, :class:`CheckFailed` 1) without importing any of the work.
"""

from __future__ import annotations

from pathlib import Path

PathLike = str | Path
MAX_JSON_BYTES = 64 * 1024 * 1024  # a verifying key for 10^6 public inputs is ~150 MB; ours are a few KB


class ZkmarginError(Exception):
    """Base of every error the API raises on purpose."""


class InputError(ZkmarginError, ValueError):
    """Bad input (a missing, unreadable or malformed file, an out-of-range option): ``field`` names it.
    The CLI exits 2 and writes nothing."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RegistryNotFound(InputError):
    """The address holds no contract code on that chain (a wrong address, or the wrong chain)."""


class ChainUnavailable(InputError):
    """No JSON-RPC node answers at the URL."""


class CheckFailed(ZkmarginError):
    """A check did not pass (e.g. ``prove``: the witness does not satisfy the circuit). The CLI exits 1."""


class MissingExtra(ZkmarginError, ImportError):
    """An optional feature whose dependencies are not installed: ``extra`` names the pip extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(f"{feature} needs the optional dependency {module!r}: pip install 'zkmargin[{extra}]'")
        self.feature, self.extra, self.module = feature, extra, module
