"""Account leaf encoding (native twin of the in-circuit leaf).

leaf = Poseidon(salt, head, balance packs..., quantity packs...) where

* ``head = (cash + 2^63) + 2^64 * portfolio + 2^65 * id_hash``, where ``id_hash`` is the account's **salted id
  commitment** ``Poseidon(len, id chunks, user_secret) mod 2^128`` (:func:`account_id_commitment`)
* balances and quantities are offset by 2^53 to [0, 2^54) and packed four per field element, lowest slot in
  the lowest bits: ``pack = sum_k (x_k + 2^53) * 2^(54 k)``.

Every piece is range-checked in-circuit before it is packed (an unchecked piece could borrow from its
neighbour: the "fake debt" attack), so the packing is injective. An empty slot's leaf is 0 (merkle.EMPTY_LEAF).

Privacy: every user holds one secret (a field element, stable across epochs, rotated on request). The public id
hashes (first/last of a batch) are commitments salted with it, so nobody can match a guessed account id against
anything published; the per-epoch leaf salt is derived from it (:func:`epoch_salt`), so a user keeps one secret, not
one per epoch, and leaves of equal books still differ. Because the user checks a leaf built from their *own* id and
secret, an operator cannot show two users one leaf.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from zkmargin.circuits.field import R
from zkmargin.circuits.poseidon import MAX_INPUTS, poseidon

from .shape import CASH_BITS, CASH_WIDTH, ID_BITS, PACK_BITS, QTY_BITS, SIGNED_QTY_WIDTH

PIECES_PER_PACK = PACK_BITS // SIGNED_QTY_WIDTH  # 4


def n_packs(count: int) -> int:
    return -(-count // PIECES_PER_PACK)


def leaf_arity(assets: int, positions: int) -> int:
    n = 2 + n_packs(assets) + n_packs(positions)
    if n > MAX_INPUTS:
        raise ValueError(f"leaf would hash {n} elements; at most {MAX_INPUTS} (reduce slots per account)")
    return n


SALT_TAG = int.from_bytes(b"zkmargin/leaf-salt/v2", "big")


def account_id_commitment(account_id: str, user_secret: int) -> int:
    """id_hash = Poseidon(len, 31-byte chunks of the UTF-8 id zero padded to 5, user_secret) mod 2^128.

    Salted with the user's secret so that a public id hash cannot be matched against a guessed id. 128 bits keep
    ordering range checks cheap; collisions need ~2^64 accounts. Ids are at most 128 bytes (engine).
    """
    raw = account_id.encode()
    if not 1 <= len(raw) <= 155:
        raise ValueError(f"account id {account_id!r}: 1..155 UTF-8 bytes")
    if not 0 < user_secret < R:
        raise ValueError("user secret: a non-zero field element")
    chunks = [int.from_bytes(raw[i : i + 31], "big") for i in range(0, len(raw), 31)]
    chunks += [0] * (5 - len(chunks))
    return poseidon([len(raw), *chunks, user_secret]) % (1 << ID_BITS)


def epoch_salt(user_secret: int, epoch: int) -> int:
    """The leaf salt of one epoch, derived from the user's secret: the user keeps one secret for every epoch."""
    if not 0 < user_secret < R:
        raise ValueError("user secret: a non-zero field element")
    return poseidon([SALT_TAG, user_secret, epoch])


def new_user_secret() -> int:
    """A fresh uniformly random non-zero field element (bias < 2^-250)."""
    return int.from_bytes(secrets.token_bytes(64), "big") % (R - 1) + 1


def derive_user_secret(seed: bytes, account_id: str) -> int:
    """A deterministic user secret from a seed (tests and reproducible demos; a venue stores random ones)."""
    h = hashlib.sha512(b"zkmargin/user-secret/v1" + seed + account_id.encode()).digest()
    return int.from_bytes(h, "big") % (R - 1) + 1


def pack_signed(values: Sequence[int], bits: int = QTY_BITS) -> list[int]:
    """Pack signed |x| < 2^bits values, offset to [0, 2^(bits+1)), four per element."""
    out = []
    w = bits + 1
    for start in range(0, len(values), PIECES_PER_PACK):
        acc = 0
        for k, x in enumerate(values[start : start + PIECES_PER_PACK]):
            if not -(1 << bits) <= x < 1 << bits:
                raise ValueError(f"value {x} outside the signed {bits}-bit range")
            acc += (x + (1 << bits)) << (w * k)
        out.append(acc)
    return out


def pack_head(id_hash: int, portfolio: int, cash: int) -> int:
    if not 0 <= id_hash < 1 << ID_BITS:
        raise ValueError("id_hash must be < 2^128")
    if portfolio not in (0, 1):
        raise ValueError("portfolio flag must be 0 or 1")
    if not -(1 << CASH_BITS) <= cash < 1 << CASH_BITS:
        raise ValueError(f"cash {cash} outside the signed 63-bit range")
    return (cash + (1 << CASH_BITS)) + (portfolio << CASH_WIDTH) + (id_hash << (CASH_WIDTH + 1))


@dataclass(frozen=True)
class LeafData:
    """What one account commits to: the user re-derives this and checks its leaf against the batch root."""

    id_hash: int
    salt: int
    portfolio: int
    cash: int  # micro-USD: realised PnL + isolated margins - sum of entry values
    balances: tuple[int, ...]  # per asset slot, 1e8 units, signed
    quantities: tuple[int, ...]  # per position slot, 1e8 units, signed

    def elements(self) -> list[int]:
        if not 0 <= self.salt < R:
            raise ValueError("salt must be a field element")
        return [
            self.salt,
            pack_head(self.id_hash, self.portfolio, self.cash),
            *pack_signed(self.balances),
            *pack_signed(self.quantities),
        ]

    def leaf(self) -> int:
        leaf_arity(len(self.balances), len(self.quantities))
        return poseidon(self.elements())
