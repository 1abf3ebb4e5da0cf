"""The venue batch's 16-ary leaf tree: native root = in-circuit root, paths verify, and every way of moving a leaf or
altering a sibling fails (the user check runs :func:`verify_venue_path`)."""

from __future__ import annotations

import random

import pytest

from zkmargin.circuits.field import R
from zkmargin.circuits.poseidon import poseidon_constraint_count
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.circuits.solvency.venue_tree import (
    ARITY,
    VenueTree,
    compute_venue_root,
    empty_root16,
    tree_depth,
    venue_root_gadget,
    verify_venue_path,
)


def _leaves(n: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(1, R) for _ in range(n)]


@pytest.mark.parametrize(("n", "depth"), [(1, 0), (16, 1), (17, 2), (256, 2), (257, 3), (4096, 3)])
def test_depth(n: int, depth: int) -> None:
    assert tree_depth(n) == depth


@pytest.mark.parametrize(("n", "depth"), [(1, 0), (5, 1), (16, 1), (40, 2), (300, 3)])
def test_gadget_root_is_the_native_root(n: int, depth: int) -> None:
    leaves = _leaves(n)
    cs = ConstraintSystem()
    ins = [cs.input(f"leaf[{i}]") for i in range(n)]
    root = cs.output("root", venue_root_gadget(cs, ins, depth))
    r1cs = cs.compile()
    w = cs.witness({f"leaf[{i}]": v for i, v in enumerate(leaves)})
    r1cs.check(w)
    assert w[r1cs.signal_index("root")] == VenueTree(leaves, depth).root
    assert root is not None


def test_empty_subtrees_are_constants() -> None:
    # a tree of 3 leaves at depth 2 hashes one level-0 node and one level-1 node; the 15 empty level-0 subtrees are
    # the constant empty_root16(1)
    leaves = _leaves(3)
    first = VenueTree(leaves, 1).root
    assert VenueTree(leaves, 2).root == compute_venue_root(first, [empty_root16(1)] * (ARITY - 1), 0)
    cs = ConstraintSystem()
    venue_root_gadget(cs, [cs.input(f"l{i}") for i in range(3)], 2)
    # two Poseidon(16) nodes (their constant cells skip the first round's S-boxes), nothing for the padding
    assert poseidon_constraint_count(ARITY) < cs.n_constraints <= 2 * poseidon_constraint_count(ARITY)


def test_every_path_verifies() -> None:
    leaves = _leaves(300)
    tree = VenueTree(leaves, 3)
    for i in (0, 1, 15, 16, 17, 255, 256, 299):
        assert verify_venue_path(leaves[i], tree.path(i), i, tree.root)
    # an empty slot verifies as the empty leaf 0 only
    assert verify_venue_path(0, tree.path(1000), 1000, tree.root)


def test_leaf_moved_to_another_slot_fails() -> None:
    leaves = _leaves(300)
    tree = VenueTree(leaves, 3)
    for i, j in ((5, 6), (5, 21), (5, 261), (17, 16)):
        assert not verify_venue_path(leaves[i], tree.path(i), j, tree.root)
        assert not verify_venue_path(leaves[i], tree.path(j), j, tree.root)


def test_altered_sibling_or_malformed_path_fails() -> None:
    leaves = _leaves(40)
    tree = VenueTree(leaves, 2)
    path = tree.path(9)
    for k in (0, 8, 14, 15, 29):
        bad = list(path)
        bad[k] = (bad[k] + 1) % R
        assert not verify_venue_path(leaves[9], bad, 9, tree.root)
    assert not verify_venue_path(leaves[9], path[:-1], 9, tree.root)  # not 15 per level
    assert not verify_venue_path(leaves[9], path[:15], 9, tree.root)  # one level short
    assert not verify_venue_path(leaves[9], path, 9 + 256, tree.root)  # index beyond the tree
    assert not verify_venue_path(leaves[9] + R, path, 9, tree.root)  # non-canonical leaf


def test_leaf_swapped_in_circuit_changes_the_root() -> None:
    leaves = _leaves(20)
    swapped = [leaves[1], leaves[0], *leaves[2:]]
    assert VenueTree(leaves, 2).root != VenueTree(swapped, 2).root
