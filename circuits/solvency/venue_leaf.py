"""Venue leaf encoding (native twin of the in-circuit leaf of :mod:`.venue_account`).

leaf = Poseidon(salt, head, position packs..., balance packs...) where

* ``head = (cash + 2^63) + 2^64 portfolio + 2^65 part + 2^73 id_hash + 2^201 last``: ``part`` numbers the linked
  leaves of one account (0, 1, ...) and ``last`` = 1 marks its final one (in-circuit: the leaf is active and the
  next leaf does not continue it), so the user can check that they see every part of their account: none before
  (parts from 0), none between (consecutive), none after (the last one they hold says last = 1);
* a position piece is ``(q + 2^53) + 2^54 instrument_id`` (74 bits, three per element), a balance piece
  ``(b + 2^53) + 2^54 asset_id`` (62 bits, four per element), slot order, empty slots (0, 0).

Quantities and amounts are range-checked in-circuit and ids are table keys (looked up), so the packing is injective.
The id hash and salt are those of the plain leaf (:mod:`.leaf`): the user's secret derives both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkmargin.circuits.field import R
from zkmargin.circuits.poseidon import MAX_INPUTS, poseidon

from .shape import CASH_BITS, CASH_WIDTH, ID_BITS, PACK_BITS, QTY_BITS, SIGNED_QTY_WIDTH
from .venue_shape import ASSET_ID_BITS, INSTRUMENT_ID_BITS, PART_BITS

POS_WIDTH = SIGNED_QTY_WIDTH + INSTRUMENT_ID_BITS  # 74
BAL_WIDTH = SIGNED_QTY_WIDTH + ASSET_ID_BITS  # 62
POS_PER_PACK = PACK_BITS // POS_WIDTH  # 3
BAL_PER_PACK = PACK_BITS // BAL_WIDTH  # 4
OFF_PORTFOLIO = CASH_WIDTH  # 64
OFF_PART = OFF_PORTFOLIO + 1  # 65
OFF_ID = OFF_PART + PART_BITS  # 73
OFF_LAST = OFF_ID + ID_BITS  # 201


def venue_leaf_arity(positions: int, balances: int) -> int:
    n = 2 + -(-positions // POS_PER_PACK) + -(-balances // BAL_PER_PACK)
    if n > MAX_INPUTS:
        raise ValueError(f"a venue leaf would hash {n} elements; at most {MAX_INPUTS} (fewer slots per leaf)")
    return n


def pack_pairs(pairs: Sequence[tuple[int, int]], per: int, width: int) -> list[int]:
    """Pack (id, signed amount) pairs as (amount + 2^53) + 2^54 id, ``per`` to an element, lowest slot first."""
    out = []
    for i in range(0, len(pairs), per):
        acc = 0
        for k, (key, x) in enumerate(pairs[i : i + per]):
            if not -(1 << QTY_BITS) <= x < 1 << QTY_BITS:
                raise ValueError(f"amount {x} outside the signed 53-bit range")
            if not 0 <= key < 1 << (width - SIGNED_QTY_WIDTH):
                raise ValueError(f"id {key} too wide for its piece")
            acc += ((x + (1 << QTY_BITS)) + (key << SIGNED_QTY_WIDTH)) << (width * k)
        out.append(acc)
    return out


@dataclass(frozen=True)
class VenueLeaf:
    """What one leaf commits to (one account, or one linked part of it)."""

    id_hash: int
    salt: int
    portfolio: int
    cash: int  # micro-USD: minus the entry values of this part's positions (the first part also holds the rest)
    part: int  # 0 for an account's first leaf, k for its (k+1)-th
    positions: tuple[tuple[int, int], ...]  # (instrument id, quantity) per slot, used slots first, ids ascending
    balances: tuple[tuple[int, int], ...]  # (asset id, amount) per slot, used slots first, ids ascending
    last: int  # 1 for the account's final leaf (no part after it), else 0

    def head(self) -> int:
        if not 0 <= self.id_hash < 1 << ID_BITS:
            raise ValueError("id_hash must be < 2^128")
        if self.portfolio not in (0, 1):
            raise ValueError("portfolio flag must be 0 or 1")
        if not 0 <= self.part < 1 << PART_BITS:
            raise ValueError(f"part must be < 2^{PART_BITS}")
        if not -(1 << CASH_BITS) <= self.cash < 1 << CASH_BITS:
            raise ValueError(f"cash {self.cash} outside the signed 63-bit range")
        if self.last not in (0, 1):
            raise ValueError("last flag must be 0 or 1")
        return (
            (self.cash + (1 << CASH_BITS))
            + (self.portfolio << OFF_PORTFOLIO)
            + (self.part << OFF_PART)
            + (self.id_hash << OFF_ID)
            + (self.last << OFF_LAST)
        )

    def elements(self) -> list[int]:
        if not 0 <= self.salt < R:
            raise ValueError("salt must be a field element")
        return [
            self.salt,
            self.head(),
            *pack_pairs(self.positions, POS_PER_PACK, POS_WIDTH),
            *pack_pairs(self.balances, BAL_PER_PACK, BAL_WIDTH),
        ]

    def leaf(self) -> int:
        venue_leaf_arity(len(self.positions), len(self.balances))
        return poseidon(self.elements())
