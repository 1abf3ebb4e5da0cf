"""Poseidon Merkle tree: native roots/paths against hand-built trees, and the in-circuit gadgets
against the native functions, with tampered witnesses rejected by the constraint checker."""

from __future__ import annotations

import random

import pytest

from zkmargin.circuits.field import R
from zkmargin.circuits.merkle import (
    EMPTY_LEAF,
    MerkleTree,
    empty_root,
    merkle_membership_gadget,
    merkle_path,
    merkle_root,
    merkle_root_gadget,
    verify_path,
)
from zkmargin.circuits.poseidon import poseidon
from zkmargin.circuits.r1cs import R1CS, ConstraintSystem, UnsatisfiedConstraint


def H(a: int, b: int) -> int:
    return poseidon([a, b])


LEAVES = [11, 22, 33, 44, 55]  # distinct, non-zero


def test_empty_roots() -> None:
    assert EMPTY_LEAF == 0
    assert empty_root(0) == 0
    z1 = H(0, 0)
    assert empty_root(1) == z1
    assert empty_root(3) == H(H(z1, z1), H(z1, z1))
    assert merkle_root([], 3) == empty_root(3)
    assert merkle_root([0, 0, 0], 2) == empty_root(2)


def test_root_matches_hand_built_tree() -> None:
    a, b, c = 5, 6, 7
    assert merkle_root([a], 0) == a
    assert merkle_root([a, b], 1) == H(a, b)
    assert merkle_root([a, b, c], 2) == H(H(a, b), H(c, 0))
    z2 = H(H(0, 0), H(0, 0))
    assert merkle_root([a, b, c], 3) == H(H(H(a, b), H(c, 0)), z2)
    l = LEAVES
    assert merkle_root(l, 3) == H(H(H(l[0], l[1]), H(l[2], l[3])), H(H(l[4], 0), H(0, 0)))


def test_padding_is_explicit_zero_leaves() -> None:
    for depth in (3, 5):
        assert merkle_root(LEAVES, depth) == merkle_root([*LEAVES, 0, 0], depth)
        assert merkle_root(LEAVES, depth) != merkle_root([*LEAVES, 1], depth)


def test_rejects_bad_trees() -> None:
    with pytest.raises(ValueError):
        merkle_root([1, 2, 3], 1)
    with pytest.raises(ValueError):
        merkle_root([1, R], 2)
    with pytest.raises(ValueError):
        merkle_root([1, -1], 2)
    with pytest.raises(ValueError):
        merkle_path(LEAVES, 3, 8)


@pytest.mark.parametrize("depth", [3, 4])
def test_every_path_verifies_and_tampering_fails(depth: int) -> None:
    tree = MerkleTree(LEAVES, depth)
    root = merkle_root(LEAVES, depth)
    assert tree.root == root
    for index in range(1 << depth):
        leaf = LEAVES[index] if index < len(LEAVES) else EMPTY_LEAF
        siblings, bits = merkle_path(LEAVES, depth, index)
        assert len(siblings) == len(bits) == depth
        assert sum(b << k for k, b in enumerate(bits)) == index
        assert verify_path(leaf, siblings, index, root)
        assert verify_path(leaf, siblings, bits, root)
        if index >= len(LEAVES):
            continue  # two empty siblings are equal, so swapping them is not a forgery
        assert not verify_path((leaf + 1) % R, siblings, index, root)
        assert not verify_path(leaf, siblings, index, (root + 1) % R)
        for k in range(depth):
            bad = list(siblings)
            bad[k] = (bad[k] + 1) % R
            assert not verify_path(leaf, bad, index, root)
            assert not verify_path(leaf, siblings, index ^ (1 << k), root)
    siblings, bits = merkle_path(LEAVES, depth, 2)
    assert not verify_path(33, siblings, 1 << depth, root)  # out of range
    assert not verify_path(33, siblings, [*bits[:-1], 2], root)  # non-boolean bit
    assert not verify_path(33, siblings, bits[:-1], root)  # wrong length
    assert not verify_path(33, [*siblings[:-1], R], 2, root)  # non-canonical sibling


def test_sparse_tree_path_uses_empty_subtrees() -> None:
    siblings, bits = merkle_path([9], 4, 0)
    assert bits == [0, 0, 0, 0]
    assert siblings == [empty_root(k) for k in range(4)]
    assert verify_path(9, siblings, 0, merkle_root([9], 4))


# ----------------------------------------------------------------------------- membership gadget


def _membership_circuit(depth: int) -> tuple[ConstraintSystem, R1CS]:
    cs = ConstraintSystem()
    root = cs.input("root", public=True)
    leaf = cs.input("leaf")
    sibs = [cs.input(f"sib{k}") for k in range(depth)]
    bits = [cs.input(f"bit{k}") for k in range(depth)]
    cs.assert_equal(merkle_membership_gadget(cs, leaf, sibs, bits), root, "root matches")
    return cs, cs.compile()


def _membership_inputs(leaf: int, siblings: list[int], bits: list[int], root: int) -> dict[str, int]:
    d: dict[str, int] = {"root": root, "leaf": leaf}
    d.update({f"sib{k}": s for k, s in enumerate(siblings)})
    d.update({f"bit{k}": b for k, b in enumerate(bits)})
    return d


def test_membership_gadget_accepts_honest_paths() -> None:
    depth = 3
    cs, r1cs = _membership_circuit(depth)
    root = merkle_root(LEAVES, depth)
    for index in (0, 1, 4, 7):
        leaf = LEAVES[index] if index < len(LEAVES) else EMPTY_LEAF
        siblings, bits = merkle_path(LEAVES, depth, index)
        r1cs.check(cs.witness(_membership_inputs(leaf, siblings, bits, root)))


def test_membership_gadget_rejects_tampering() -> None:
    depth = 3
    cs, r1cs = _membership_circuit(depth)
    root = merkle_root(LEAVES, depth)
    siblings, bits = merkle_path(LEAVES, depth, 2)
    good = _membership_inputs(33, siblings, bits, root)
    r1cs.check(cs.witness(good))
    assert not r1cs.is_satisfied(cs.witness({**good, "leaf": 44}))
    assert not r1cs.is_satisfied(cs.witness({**good, "root": (root + 1) % R}))
    for k in range(depth):
        assert not r1cs.is_satisfied(cs.witness({**good, f"sib{k}": (siblings[k] + 1) % R}))
        assert not r1cs.is_satisfied(cs.witness({**good, f"bit{k}": 1 - bits[k]}))


def test_membership_gadget_rejects_non_boolean_bit() -> None:
    cs, r1cs = _membership_circuit(2)
    siblings, bits = merkle_path([1, 2, 3], 2, 1)
    w = cs.witness(_membership_inputs(2, siblings, [2, bits[1]], merkle_root([1, 2, 3], 2)))
    with pytest.raises(UnsatisfiedConstraint, match="bit_boolean"):
        r1cs.check(w)


def test_membership_gadget_cost_and_pinned_signals() -> None:
    cs, r1cs = _membership_circuit(2)
    # per level: boolean + swap + Poseidon(2); +1 for the root equality
    assert r1cs.n_constraints == 2 * (1 + 1 + 240) + 1
    siblings, bits = merkle_path(LEAVES[:4], 2, 3)
    w = cs.witness(_membership_inputs(44, siblings, bits, merkle_root(LEAVES[:4], 2)))
    r1cs.check(w)
    for idx in range(1 + r1cs.n_public + r1cs.n_prv_in, r1cs.n_vars):
        bad = list(w)
        bad[idx] = (bad[idx] + 1) % R
        assert r1cs.first_failure(bad) is not None, r1cs.signal_names[idx]


# ----------------------------------------------------------------------------- root gadget


@pytest.mark.parametrize(("n", "depth"), [(1, 0), (1, 2), (2, 1), (3, 2), (5, 3), (4, 4)])
def test_root_gadget_matches_native(n: int, depth: int) -> None:
    cs = ConstraintSystem()
    leaves = [cs.input(f"leaf{i}") for i in range(n)]
    cs.output("root", merkle_root_gadget(cs, leaves, depth))
    r1cs = cs.compile()
    rng = random.Random(n * 10 + depth)
    values = [rng.randrange(R) for _ in range(n)]
    w = cs.witness({f"leaf{i}": v for i, v in enumerate(values)})
    r1cs.check(w)
    assert r1cs.public_signals(w) == [merkle_root(values, depth)]
    w[1] = (w[1] + 1) % R
    assert r1cs.first_failure(w) is not None


def test_root_gadget_skips_empty_subtrees() -> None:
    cs = ConstraintSystem()
    leaves = [cs.input(f"leaf{i}") for i in range(4)]
    merkle_root_gadget(cs, leaves, 10)
    # 3 hashes for the 4 leaves, then one per remaining level against a constant empty subtree, whose
    # first-round S-box is then constant too (3 constraints fewer)
    assert cs.n_constraints == 3 * 240 + 8 * (240 - 3)
    empty = merkle_root_gadget(ConstraintSystem(), [], 5)
    assert empty.is_constant() and empty.constant_value() == empty_root(5)
