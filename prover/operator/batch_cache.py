"""The crash-recovery cache of one epoch, ``<root>/.work/epoch-N/``: batch proofs and the chain record.

One read path and one write path per kind of entry. Why a cached proof is *verified* before reuse: the cache is a
plain directory a crash, a bug, a disk error or anyone with write access may leave wrong; a proof that matches the
batch's public signals and key hash but does not verify must be proven again, never published. The entry's key hash
and public signals only decide whether it is *this* batch's entry; the pairing check decides whether it is usable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_write_bytes
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.bundle_proofs import (
    AnyKey,
    AnyProof,
    proof_from_bundle_json,
    proof_to_bundle_json,
    verify_any,
    vk_to_bundle_json,
)
from zkmargin.verifier.groth16 import MalformedInput
from zkmargin.verifier.snarkjs_json import public_to_json

log = logging.getLogger(__name__)

CHAIN_RECORD = "chain.json"


def vk_sha256(vk: AnyKey) -> str:
    """sha256 of the key's canonical JSON (snarkjs's, or the committed layout): names the key a cache entry was
    proven under (so a plain entry is never read for a committed key, or the reverse)."""
    return hashlib.sha256(fmt.dumps(vk_to_bundle_json(vk))).hexdigest()


class BatchCache:
    """``.work/epoch-N/`` of a bundle root, for proofs under ``vk``."""

    def __init__(self, root: Path, epoch: int, vk: AnyKey) -> None:
        self.dir = self.work_dir(root, epoch)
        self.epoch = epoch
        self.vk = vk
        self.vk_sha = vk_sha256(vk)

    @staticmethod
    def work_dir(root: Path, epoch: int) -> Path:
        return Path(root) / ".work" / fmt.epoch_dirname(epoch)

    @classmethod
    def discard(cls, root: Path, epoch: int) -> None:
        """Drop an epoch's cache without knowing its key (the epoch is already published)."""
        shutil.rmtree(cls.work_dir(root, epoch), ignore_errors=True)

    def _batch_path(self, index: int) -> Path:
        return self.dir / f"batch-{index:04d}.json"

    def entries(self) -> list[Path]:
        return sorted(self.dir.glob("batch-*.json"))

    def proof(self, index: int, public: Sequence[int]) -> AnyProof | None:
        """The cached proof of batch ``index`` if it is for this key and these public signals *and verifies*;
        None otherwise (a foreign or stale entry is ignored, a broken or poisoned one is deleted and logged)."""
        path = self._batch_path(index)
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_text())
            if entry["vk_sha256"] != self.vk_sha or [int(x) for x in entry["public"]] != list(public):
                log.info("epoch %s batch %s: cache entry is for another key or batch; proving again", self.epoch, index)
                return None
            proof = proof_from_bundle_json(entry["proof"], self.vk)
            ok = verify_any(self.vk, proof, list(public))
        except (ValueError, KeyError, TypeError, MalformedInput) as e:
            log.warning("epoch %s batch %s: unreadable cache entry (%s); deleted, proving again", self.epoch, index, e)
            path.unlink(missing_ok=True)
            return None
        if not ok:
            log.warning("epoch %s batch %s: cached proof does not verify; deleted, proving again", self.epoch, index)
            path.unlink(missing_ok=True)
            return None
        return proof

    def put(self, index: int, proof: AnyProof, public: Sequence[int]) -> None:
        """Write batch ``index``'s proof atomically (a crash leaves the old entry or the new one, never half)."""
        doc = {"vk_sha256": self.vk_sha, "public": public_to_json(list(public)), "proof": proof_to_bundle_json(proof)}
        atomic_write_bytes(self._batch_path(index), fmt.dumps(doc))

    def chain_record(self) -> dict[str, Any] | None:
        """The chain record a crashed run wrote after attesting (to be checked against the registry, never trusted
        as is); None when absent or unreadable."""
        path = self.dir / CHAIN_RECORD
        if not path.exists():
            return None
        try:
            rec = json.loads(path.read_text())
        except ValueError as e:
            log.warning("epoch %s: unreadable %s (%s); ignored", self.epoch, CHAIN_RECORD, e)
            return None
        return rec if isinstance(rec, dict) else None

    def put_chain_record(self, record: dict[str, Any]) -> None:
        atomic_write_bytes(self.dir / CHAIN_RECORD, fmt.dumps(record))

    def clear(self) -> None:
        """Drop the cache once the epoch is published and indexed."""
        self.discard(self.dir.parent.parent, self.epoch)
