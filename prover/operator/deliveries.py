"""Per-user inclusion files: the private half of an epoch, delivered to each account holder and never published.

One file per proven account, written under ``<root>/private/epoch-NNNNNN/`` (directory 0700, files 0600), named by
the account's salted id commitment. It carries what the user needs to check their own leaf against the *public*
bundle: their id and secret (from which the id commitment and the epoch's salt are recomputed), the committed data
in the terms of their own statement (balances, positions with entry prices, realised PnL, isolated margins, the
margin mode proven), the batch, slot and Merkle path. Format: ``zkmargin.verifier.inclusion``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_directory
from zkmargin.circuits.merkle import MerkleTree
from zkmargin.circuits.rules.circuit_inputs import BatchLayout
from zkmargin.circuits.rules.models import Account
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion

from ..solvency_witness import SolvencyBatch


def statement_of(acct: Account) -> dict[str, Any]:
    """The account as its holder's own statement shows it (what the committed cash is made of)."""
    return {
        "margin_mode": acct.margin_mode,
        "realised_pnl": acct.realised_pnl,
        "positions": [
            {
                "instrument": p.instrument,
                "quantity": p.quantity,
                "entry_price": p.entry_price,
                "entry_value": p.entry_value,
                "isolated_margin": p.isolated_margin,
            }
            for p in acct.positions
        ],
    }


def write_deliveries(
    root: Path,
    epoch: int,
    layout: BatchLayout,
    batches: Sequence[SolvencyBatch],
    user_secrets: dict[str, int],
    manifest_sha256: str,
) -> Path:
    """Write every proven account's inclusion file atomically (all or nothing); returns the directory."""
    sh = layout.shape
    out = root / inclusion.PRIVATE_DIR / fmt.epoch_dirname(epoch)
    with atomic_directory(out, mode=0o700) as stage:
        for i, b in enumerate(batches):
            tree = MerkleTree([ld.leaf() for ld in b.leaves], sh.depth)
            for slot, (acct, ld, res) in enumerate(zip(b.accounts, b.leaves, b.results, strict=True)):
                siblings, _ = tree.path(slot)
                doc = {
                    "format": inclusion.FORMAT,
                    "epoch": epoch,
                    "manifest_sha256": manifest_sha256,
                    "account_id": acct.account_id,
                    "user_secret": format(user_secrets[acct.account_id], "064x"),
                    "id_hash": str(ld.id_hash),
                    "batch": i,
                    "slot": slot,
                    "leaf": {
                        "portfolio": ld.portfolio,
                        "cash": ld.cash,
                        "balances": dict(zip(layout.assets, ld.balances, strict=True)),
                        "quantities": dict(zip(layout.instruments, ld.quantities, strict=True)),
                    },
                    "statement": statement_of(acct),
                    "merkle_siblings": [str(s) for s in siblings],
                    "engine": {"equity": res.equity, "im": res.im, "mm": res.mm, "status": res.status},
                }
                path = stage / inclusion.filename(ld.id_hash)
                path.write_bytes(fmt.dumps(doc))
                path.chmod(0o600)
    return out
