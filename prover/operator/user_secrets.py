"""The operator's store of per-user secrets: one field element per account, stable across epochs.

Each secret salts the account's public id commitment and derives every epoch's leaf salt
(``circuits/solvency/leaf.py``). The exchange hands it to the user once (in their inclusion file, or the user
registers one of their own with :meth:`UserSecretStore.rotate`), so the user keeps a single secret for every epoch.
The file is 0600 and written atomically; it never enters a published bundle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from zkmargin.atomic import atomic_write_bytes
from zkmargin.circuits.field import R
from zkmargin.circuits.solvency.leaf import new_user_secret

FILENAME = "user_secrets.json"


class UserSecretStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._secrets: dict[str, int] = {}
        if self.path.exists():
            raw = json.loads(self.path.read_text())
            self._secrets = {str(k): int(v, 16) for k, v in raw.items()}

    def _save(self) -> None:
        data = json.dumps({k: format(v, "064x") for k, v in sorted(self._secrets.items())}, indent=0)
        atomic_write_bytes(self.path, data.encode(), mode=0o600)

    def for_accounts(self, account_ids: Iterable[str]) -> dict[str, int]:
        """The secrets of these accounts, creating (and persisting, once) a random one for each new account."""
        ids = list(account_ids)
        new = [a for a in ids if a not in self._secrets]
        for a in new:
            self._secrets[a] = new_user_secret()
        if new:
            self._save()
        return {a: self._secrets[a] for a in ids}

    def rotate(self, account_id: str, secret: int | None = None) -> int:
        """Replace one user's secret (on their request, or with one they chose); effective from the next epoch."""
        value = new_user_secret() if secret is None else secret
        if not 0 < value < R:
            raise ValueError("secret: a non-zero field element below r")
        self._secrets[account_id] = value
        self._save()
        return value
