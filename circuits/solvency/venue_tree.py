"""The venue batch's leaf tree: a fixed-depth 16-ary Poseidon Merkle tree, natively and in-circuit.

Why 16-ary: a node is circomlib Poseidon(16) (t = 17, 609 constraints) over 16 children, i.e. ~41 constraints per
leaf, where the binary tree of :mod:`zkmargin.circuits.merkle` pays Poseidon(2) (240) per leaf. At 1,024 leaves per
batch that is 42k constraints instead of 245k (docs/circuit.md, "Venue cost"). Wide Poseidon trees are the usual
choice when the hash is paid in constraints (Filecoin's arity-8 trees; the Poseidon paper's own recommendation);
the security argument is the binary tree's: a path binds the leaf to its slot because every node hashes its
children in order, and collision resistance of Poseidon(16) does the rest.

* node = ``poseidon(children[0..15])``; a tree of depth d has 16^d leaf slots; leaf i sits at base-16 digits of i,
  lowest level first (digit k = i's position among its 16 siblings at level k).
* Padding: unused slots hold 0, an empty subtree of height h has the fixed hash ``empty_root16(h)`` (Z_0 = 0,
  Z_{h+1} = H(Z_h x 16)), so padding is never hashed in-circuit.
* A path is the 15 other children of each node on the way up, lowest level first, in slot order (15 x depth
  elements); :func:`verify_venue_path` is what the user check runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

from zkmargin.circuits.field import R
from zkmargin.circuits.poseidon import poseidon, poseidon_gadget
from zkmargin.circuits.r1cs import LC, ConstraintSystem, Value, as_lc

ARITY = 16
MAX_DEPTH = 16

__all__ = ["ARITY", "VenueTree", "empty_root16", "tree_depth", "venue_root_gadget", "verify_venue_path"]


def tree_depth(leaves: int) -> int:
    """Levels of a 16-ary tree with at least ``leaves`` slots (0 for one leaf)."""
    if leaves < 1:
        raise ValueError("a tree needs at least one leaf slot")
    d = 0
    while ARITY**d < leaves:
        d += 1
    return d


@cache
def empty_root16(height: int) -> int:
    """Root of an all-empty subtree of this height."""
    if not 0 <= height <= MAX_DEPTH:
        raise ValueError(f"height must be in [0, {MAX_DEPTH}], got {height}")
    if height == 0:
        return 0
    return poseidon([empty_root16(height - 1)] * ARITY)


class VenueTree:
    """Every populated level of the tree (level 0 = leaves), so many paths can be read after hashing once."""

    def __init__(self, leaves: Sequence[int], depth: int) -> None:
        if not 0 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be in [0, {MAX_DEPTH}], got {depth}")
        if len(leaves) > ARITY**depth:
            raise ValueError(f"{len(leaves)} leaves do not fit a 16-ary tree of depth {depth}")
        for i, leaf in enumerate(leaves):
            if not isinstance(leaf, int) or isinstance(leaf, bool) or not 0 <= leaf < R:
                raise ValueError(f"leaf {i} is not a canonical field element: {leaf!r}")
        self.depth = depth
        level = list(leaves)
        self.levels: list[list[int]] = [level]
        for k in range(depth):
            pad = -len(level) % ARITY
            level = level + [empty_root16(k)] * pad
            level = [poseidon(level[i : i + ARITY]) for i in range(0, len(level), ARITY)]
            self.levels.append(level)

    @property
    def root(self) -> int:
        top = self.levels[self.depth]
        return top[0] if top else empty_root16(self.depth)

    def node(self, level: int, position: int) -> int:
        row = self.levels[level]
        return row[position] if position < len(row) else empty_root16(level)

    def path(self, index: int) -> list[int]:
        """The 15 other children of each node from the leaf level up (slot order), 15 x depth elements."""
        if not isinstance(index, int) or not 0 <= index < ARITY**self.depth:
            raise ValueError(f"index {index!r} out of range for a 16-ary tree of depth {self.depth}")
        out: list[int] = []
        for k in range(self.depth):
            pos = index // ARITY**k
            first = pos - pos % ARITY
            out += [self.node(k, first + j) for j in range(ARITY) if first + j != pos]
        return out


def compute_venue_root(leaf: int, siblings: Sequence[int], index: int) -> int:
    """The root a path implies (``siblings``: 15 per level, lowest level first)."""
    if len(siblings) % (ARITY - 1):
        raise ValueError(f"a path has {ARITY - 1} siblings per level, got {len(siblings)}")
    cur = leaf
    for k in range(len(siblings) // (ARITY - 1)):
        digit = (index // ARITY**k) % ARITY
        sib = tuple(siblings[k * (ARITY - 1) : (k + 1) * (ARITY - 1)])
        cur = _node((*sib[:digit], cur, *sib[digit:]))
    return cur


@lru_cache(maxsize=1 << 12)
def _node(children: tuple[int, ...]) -> int:
    """One node's hash, remembered: the paths of one batch's leaves share their upper nodes (16 leaves one parent,
    256 one grandparent), so an audit checking every part's path hashes each distinct node once (the demo's 1,372
    parts, depth 3: 4,116 Poseidon(16) calls, ~5 s, before; ~100 distinct nodes). Keyed by the exact children, so a
    remembered hash is the hash of those children."""
    return poseidon(list(children))


def verify_venue_path(leaf: int, siblings: Sequence[int], index: int, root: int) -> bool:
    """True iff ``leaf`` at slot ``index`` hashes up to ``root``; malformed paths (length not a multiple of 15, an
    index beyond the tree, non-canonical values) are False, never an exception: this is a verifier."""
    if len(siblings) % (ARITY - 1):
        return False
    depth = len(siblings) // (ARITY - 1)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < ARITY**depth:
        return False
    values = [leaf, root, *siblings]
    if any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < R for v in values):
        return False
    return compute_venue_root(leaf, siblings, index) == root


def venue_root_gadget(cs: ConstraintSystem, leaves: Sequence[Value], depth: int, name: str = "tree") -> LC:
    """In-circuit root of ``leaves`` in slots 0..n-1 of a depth-``depth`` 16-ary tree (empty subtrees are constants,
    so a batch of n leaves pays about n / 15 Poseidon(16) nodes)."""
    if len(leaves) > ARITY**depth:
        raise ValueError(f"{len(leaves)} leaves do not fit a 16-ary tree of depth {depth}")
    level = [as_lc(x) for x in leaves]
    with cs.scope(name):
        for k in range(depth):
            level = level + [LC.const(empty_root16(k))] * (-len(level) % ARITY)
            level = [
                poseidon_gadget(cs, level[i : i + ARITY], f"l{k}n{i // ARITY}") for i in range(0, len(level), ARITY)
            ]
    return level[0] if level else LC.const(empty_root16(depth))
