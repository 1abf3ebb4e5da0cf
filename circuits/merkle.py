"""Fixed-depth binary Poseidon Merkle tree, natively and in-circuit.

* node = ``poseidon([left, right])`` (circomlib Poseidon(2)), so roots can be recomputed by circom /
  circomlibjs tooling.
* A tree of depth d has exactly 2^d leaf slots; leaf i sits at path bits ``i`` read LSB first (bit k
  = 1 means the node at level k is a right child).
* Padding: unused slots hold :data:`EMPTY_LEAF` = 0. An empty subtree of height h therefore has the
  fixed hash ``empty_root(h)`` (Z_0 = 0, Z_{h+1} = H(Z_h, Z_h)); those are precomputed, so a tree with
  n leaves costs about n hashes whatever its depth, and padding is never hashed in-circuit.
  Note that 0 is therefore not a distinguishable leaf value: callers that need "absent" to differ from
  a real leaf must make real leaves non-zero (e.g. hash of account data, which is 0 with negligible
  probability).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from .field import R
from .poseidon import poseidon2, poseidon_gadget
from .r1cs import LC, ConstraintSystem, Value, as_lc

EMPTY_LEAF = 0
MAX_DEPTH = 64


@cache
def empty_root(height: int) -> int:
    """Root of a subtree of the given height whose leaves are all :data:`EMPTY_LEAF`."""
    if not 0 <= height <= MAX_DEPTH:
        raise ValueError(f"height must be in [0, {MAX_DEPTH}], got {height}")
    if height == 0:
        return EMPTY_LEAF
    z = empty_root(height - 1)
    return poseidon2(z, z)


def _check_depth(depth: int) -> None:
    if not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be an int in [0, {MAX_DEPTH}], got {depth!r}")


def _check_leaves(leaves: Sequence[int], depth: int) -> None:
    _check_depth(depth)
    if len(leaves) > 1 << depth:
        raise ValueError(f"{len(leaves)} leaves do not fit a tree of depth {depth}")
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, int) or isinstance(leaf, bool) or not 0 <= leaf < R:
            raise ValueError(f"leaf {i} is not a canonical field element: {leaf!r}")


class MerkleTree:
    """All populated levels of a tree, so many paths can be read after hashing once.

    ``levels[k]`` holds the populated prefix of level k (level 0 = leaves); nodes past it are empty
    subtrees with hash ``empty_root(k)``.
    """

    def __init__(self, leaves: Sequence[int], depth: int) -> None:
        _check_leaves(leaves, depth)
        self.depth = depth
        level = list(leaves)
        self.levels: list[list[int]] = [level]
        for k in range(depth):
            if len(level) % 2:
                level = [*level, empty_root(k)]
            level = [poseidon2(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            self.levels.append(level)

    @property
    def root(self) -> int:
        top = self.levels[self.depth]
        return top[0] if top else empty_root(self.depth)

    def node(self, level: int, position: int) -> int:
        row = self.levels[level]
        return row[position] if position < len(row) else empty_root(level)

    def path(self, index: int) -> tuple[list[int], list[int]]:
        """(siblings from the leaf level up, index bits LSB first) for leaf slot ``index``."""
        if not isinstance(index, int) or not 0 <= index < 1 << self.depth:
            raise ValueError(f"index {index!r} out of range for depth {self.depth}")
        siblings = [self.node(k, (index >> k) ^ 1) for k in range(self.depth)]
        bits = [(index >> k) & 1 for k in range(self.depth)]
        return siblings, bits


def merkle_root(leaves: Sequence[int], depth: int) -> int:
    """Root of the depth-``depth`` tree holding ``leaves`` in slots 0..n-1 and EMPTY_LEAF elsewhere."""
    return MerkleTree(leaves, depth).root


def merkle_path(leaves: Sequence[int], depth: int, index: int) -> tuple[list[int], list[int]]:
    """Membership proof of slot ``index``: (siblings bottom-up, index bits LSB first)."""
    return MerkleTree(leaves, depth).path(index)


def compute_root(leaf: int, siblings: Sequence[int], index_bits: Sequence[int]) -> int:
    """Root implied by a path (bits must be 0/1)."""
    if len(siblings) != len(index_bits):
        raise ValueError("siblings and index bits differ in length")
    cur = leaf
    for sib, bit in zip(siblings, index_bits, strict=True):
        if bit not in (0, 1):
            raise ValueError(f"index bit must be 0 or 1, got {bit!r}")
        cur = poseidon2(sib, cur) if bit else poseidon2(cur, sib)
    return cur


def verify_path(leaf: int, siblings: Sequence[int], index: int | Sequence[int], root: int) -> bool:
    """True iff ``leaf`` at slot ``index`` (an int, or its bits LSB first) hashes up to ``root``.

    Malformed proofs (wrong length of bits, non-boolean bits, out-of-range index, non-canonical
    values) return False rather than raising: this is a verifier.
    """
    depth = len(siblings)
    if isinstance(index, int):
        if isinstance(index, bool) or not 0 <= index < 1 << depth:
            return False
        bits = [(index >> k) & 1 for k in range(depth)]
    else:
        bits = list(index)
        if len(bits) != depth or any(b not in (0, 1) for b in bits):
            return False
    values = [leaf, root, *siblings]
    if any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < R for v in values):
        return False
    return compute_root(leaf, siblings, bits) == root


# ----------------------------------------------------------------------------- gadgets


def merkle_root_gadget(cs: ConstraintSystem, leaves: Sequence[Value], depth: int, name: str = "merkle") -> LC:
    """In-circuit root of ``leaves`` placed in slots 0..n-1 of a depth-``depth`` tree.

    Empty slots are the constant EMPTY_LEAF and whole empty subtrees are the constant empty_root(h),
    so padding costs no constraints: about (n - 1) * 240 constraints for n leaves, plus one hash per
    level on the right edge when n is not a power of two.
    """
    _check_depth(depth)
    if len(leaves) > 1 << depth:
        raise ValueError(f"{len(leaves)} leaves do not fit a tree of depth {depth}")
    level = [as_lc(x) for x in leaves]
    with cs.scope(name):
        for k in range(depth):
            if len(level) % 2:
                level.append(LC.const(empty_root(k)))
            level = [_node(cs, level[i], level[i + 1], f"l{k}n{i // 2}") for i in range(0, len(level), 2)]
    return level[0] if level else LC.const(empty_root(depth))


def _node(cs: ConstraintSystem, left: LC, right: LC, name: str) -> LC:
    """One node's hash, a witness unit (the nodes of a level are evaluated in parallel: witness_parallel.py)."""
    with cs.unit():
        return poseidon_gadget(cs, [left, right], name)


def merkle_membership_gadget(
    cs: ConstraintSystem,
    leaf: Value,
    siblings: Sequence[Value],
    index_bits: Sequence[Value],
    name: str = "merkle_path",
) -> LC:
    """Root recomputed in-circuit from a path: the caller equates it with the committed root.

    Per level: 1 constraint for bit*(bit-1) = 0, 1 for the swap d = bit*(sib-cur), 240 for the hash
    of (left, right) = (cur + d, sib - d).
    """
    if len(siblings) != len(index_bits):
        raise ValueError("siblings and index bits differ in length")
    cur = as_lc(leaf)
    with cs.scope(name):
        for k, (sib_v, bit_v) in enumerate(zip(siblings, index_bits, strict=True)):
            sib, bit = as_lc(sib_v), as_lc(bit_v)
            cs.constrain(bit, bit - 1, LC(), f"l{k}.bit_boolean")
            # bit = 0: (cur, sib); bit = 1: (sib, cur). One product selects both sides.
            d = cs.mul(bit, sib - cur, f"l{k}.swap")
            left = cur + d
            right = sib - d
            cur = poseidon_gadget(cs, [left, right], f"l{k}.hash")
    return cur
