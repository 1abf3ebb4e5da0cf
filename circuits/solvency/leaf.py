"""Account leaf encoding (native twin of the in-circuit leaf).

leaf = Poseidon(salt, head, balance packs..., quantity packs...) where

* ``head = (cash + 2^63) + 2^64 * portfolio + 2^65 * id_hash``
* balances and quantities are offset by 2^53 to [0, 2^54) and packed four per field element, lowest slot in
  the lowest bits: ``pack = sum_k (x_k + 2^53) * 2^(54 k)``.

Every piece is range-checked in-circuit before it is packed (an unchecked piece could borrow from its
neighbour: the "fake debt" attack), so the packing is injective. The salt is a uniformly random field element
chosen per account and epoch: it hides the balances from anyone brute-forcing leaves, and together with the
id_hash it makes two users with equal balances have different leaves. An empty slot's leaf is 0 (merkle.EMPTY_LEAF).
"""

from __future__ import annotations

import hashlib
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


def account_id_hash(account_id: str) -> int:
    """id_hash = Poseidon(len, 31-byte chunks of the UTF-8 id, zero padded to 5 chunks) mod 2^128.

    128 bits keep ordering range checks cheap; collisions need ~2^64 ids. Ids are at most 128 bytes (engine).
    """
    raw = account_id.encode()
    if not 1 <= len(raw) <= 155:
        raise ValueError(f"account id {account_id!r}: 1..155 UTF-8 bytes")
    chunks = [int.from_bytes(raw[i : i + 31], "big") for i in range(0, len(raw), 31)]
    chunks += [0] * (5 - len(chunks))
    return poseidon([len(raw), *chunks]) % (1 << ID_BITS)


def derive_salt(secret: bytes, account_id: str, epoch: int) -> int:
    """A per-account, per-epoch salt from the exchange's secret (uniform mod r up to 2^-256 bias)."""
    h = hashlib.sha512(b"zkmargin/salt/v1" + secret + epoch.to_bytes(8, "big") + account_id.encode()).digest()
    return int.from_bytes(h, "big") % R


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
