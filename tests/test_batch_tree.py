"""verifier/batch_tree.py: the Python mirror of the registry's batch tree (leaf encoding, root, paths, ranges, ops).

The on-chain side is checked against this mirror in tests/chain/test_update_epoch.py; here the mirror's own rules:
every path verifies and a tampered one does not, the incremental (frontier) root the registry builds during a full
epoch equals the tree's root, the ranges stay a partition through REPLACE / SPLIT, and every range rule rejects.
"""

from __future__ import annotations

import random

import pytest
from eth_utils import keccak

from zkmargin.verifier.attestation import BatchStatement
from zkmargin.verifier.batch_tree import (
    DEPTH,
    MAX_SLOTS,
    OWN_FIXED,
    REPLACE,
    SPLIT,
    ZERO_HASHES,
    BatchTree,
    R,
    Replace,
    SlotLeaf,
    Split,
    TreeError,
    empty_statement,
    encode_ops,
    in_slot_range,
    leaf_body,
    leaf_hash_of,
    new_batches,
    root_from_path,
    slot_ranges,
    verify_path,
)

A = 2


def st(first: int, last: int, count: int = 3, equity: int = 100, liab: tuple[int, int] = (5, 7)) -> BatchStatement:
    return BatchStatement(first * 7 + 1, first, last, count, equity, 10 * count, liab, total_shortfall=count)


def full(n: int, epoch: int = 4) -> tuple[BatchTree, list[BatchStatement]]:
    sts = [st(1000 * k + 10, 1000 * k + 500) for k in range(n)]
    return BatchTree.full_epoch(sts, epoch), sts


def frontier_root(leaves: list[bytes]) -> bytes:
    """The registry's incremental root (SolvencyRegistry._account / _finalize): a frontier of DEPTH nodes, one append
    per leaf, padded with the empty-subtree hashes at the end."""
    frontier = [bytes(32)] * DEPTH
    for i, leaf in enumerate(leaves):
        node, idx = leaf, i
        for h in range(DEPTH):
            if idx & 1 == 0:
                frontier[h] = node
                break
            node = keccak(frontier[h] + node)
            idx >>= 1
    size = len(leaves)
    node = bytes(32)
    for h in range(DEPTH):
        node = keccak(frontier[h] + node) if (size >> h) & 1 else keccak(node + ZERO_HASHES[h])
    return node


def test_leaf_encoding_is_the_two_step_keccak() -> None:
    s = st(10, 20)
    leaf = SlotLeaf.from_statement(s, 0, 30, 9)
    words = [s.batch_root, 10, 20, 3, 100, 30, 0, 3, 0, 5, 7]
    assert leaf.words == tuple(words) and len(words) == OWN_FIXED + A
    body = keccak(b"".join(v.to_bytes(32, "big") for v in [0, 9, *words]))
    assert leaf.body() == body == leaf_body(0, 9, words)
    assert leaf.hash() == keccak(body + (30).to_bytes(32, "big")) == leaf_hash_of(body, 30)
    assert leaf.statement() == s
    # every field is bound: another proof epoch, range end or total gives another leaf
    assert SlotLeaf.from_statement(s, 0, 30, 8).hash() != leaf.hash()
    assert SlotLeaf.from_statement(s, 0, 31, 9).hash() != leaf.hash()
    assert SlotLeaf.from_statement(st(10, 20, equity=101), 0, 30, 9).hash() != leaf.hash()


def test_empty_tree_and_zero_hashes() -> None:
    assert ZERO_HASHES[0] == bytes(32) and len(ZERO_HASHES) == DEPTH + 1
    assert BatchTree([]).root() == ZERO_HASHES[DEPTH]
    assert MAX_SLOTS == 65535


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_full_epoch_root_paths_and_frontier(n: int) -> None:
    tree, sts = full(n)
    ranges = [(s.lo, s.hi) for s in tree.slots]
    assert ranges == slot_ranges([x.first_id_hash for x in sts])
    assert ranges[0][0] == 0 and ranges[-1][1] == R and tree.is_partition()
    root = tree.root()
    assert frontier_root([s.hash() for s in tree.slots]) == root
    for k, s in enumerate(tree.slots):
        p = tree.path(k)
        assert verify_path(root, k, s.hash(), p)
        assert not verify_path(root, k ^ 1, s.hash(), p)  # wrong position
        bad = list(p)
        bad[DEPTH - 1] = bytes(31) + b"\x01"
        assert not verify_path(root, k, s.hash(), bad)  # tampered sibling
    assert verify_path(root, n, bytes(32), tree.path(n))  # the next free slot is empty
    assert tree.slot_of(0) == 0 and tree.slot_of(R - 1) == n - 1
    assert tree.slot_of(sts[-1].first_id_hash) == n - 1
    sums, liab = tree.totals()
    assert sums == [3 * n, 100 * n, 30 * n, 0, 3 * n, 0] and liab == [5 * n, 7 * n]


def test_slot_ranges_rejects_non_increasing() -> None:
    with pytest.raises(TreeError, match="strictly increase"):
        slot_ranges([5, 9, 9])
    with pytest.raises(TreeError, match=r"1\.\.65535"):
        slot_ranges([])


def test_range_rule() -> None:
    assert in_slot_range(st(10, 20), 10, 21)
    assert not in_slot_range(st(10, 20), 11, 21)  # first < lo
    assert not in_slot_range(st(10, 20), 10, 20)  # last >= hi
    assert in_slot_range(empty_statement(A), 50, 60)  # an empty batch fits anywhere


def test_replace_and_split_match_a_rebuilt_tree() -> None:
    tree, _ = full(4, epoch=4)
    lo1, hi1 = tree.slots[1].lo, tree.slots[1].hi
    new1 = st(lo1 + 1, lo1 + 3, count=2, equity=50)
    mid = lo1 + 600
    left, right = st(lo1, lo1 + 100, count=1), st(mid, mid + 5, count=4, equity=70)
    ops: list[Replace | Split] = [Replace(1, new1), Split(1, mid, left, right), Replace(3, empty_statement(A))]
    words, after = encode_ops(tree, ops, 5)
    assert tree.slots[1].proof_epoch == 4  # the input tree is left unchanged
    assert [s.proof_epoch for s in after.slots] == [4, 5, 4, 5, 5]
    assert (after.slots[1].lo, after.slots[1].hi, after.slots[4].lo, after.slots[4].hi) == (lo1, mid, mid, hi1)
    assert after.is_partition()
    rebuilt = BatchTree(after.slots)
    assert rebuilt.root() == after.root() != tree.root()
    assert new_batches(ops) == [new1, left, right, empty_statement(A)]
    sums, liab = after.totals()
    assert sums[0] == 3 + 1 + 4 + 3 + 0 and liab == [5 * 4, 7 * 4]
    # layout: REPLACE = head + preimage + path, SPLIT adds mid + the free slot's path
    own = OWN_FIXED + A
    rep = 1 + 3 + own + DEPTH
    assert len(words) == rep + (rep + 1 + DEPTH) + rep
    assert words[0] == REPLACE | 1 << 8 and words[rep] == SPLIT | 1 << 8
    assert words[2 * rep + 1 + DEPTH] == REPLACE | 3 << 8
    # the SPLIT's old leaf is the one the first REPLACE left, checked against the root that REPLACE left
    pre = words[rep + 1 : rep + 4 + own]
    leaf = SlotLeaf(pre[0], pre[1], pre[2], tuple(pre[3:]))
    assert leaf.proof_epoch == 5 and leaf.words[1] == new1.first_id_hash
    path = [w.to_bytes(32, "big") for w in words[rep + 4 + own : rep + 4 + own + DEPTH]]
    mid_tree = tree.copy()
    mid_tree.apply(ops[:1], 5)
    assert root_from_path(1, leaf.hash(), path) == mid_tree.root()


@pytest.mark.parametrize(
    ("op", "msg"),
    [
        (lambda lo, hi: Replace(1, st(lo - 1, lo + 5)), "leave the slot's range"),
        (lambda lo, hi: Replace(1, st(lo, hi)), "leave the slot's range"),
        (lambda lo, hi: Split(1, lo, st(lo, lo), st(lo, lo + 1)), "mid outside"),
        (lambda lo, hi: Split(1, hi, st(lo, lo), st(lo + 1, lo + 2)), "mid outside"),
        (lambda lo, hi: Split(1, lo + 10, st(lo, lo + 10), st(lo + 10, lo + 11)), "left batch ids"),
        (lambda lo, hi: Split(1, lo + 10, st(lo, lo + 9), st(lo + 9, lo + 11)), "right batch ids"),
        (lambda lo, hi: Replace(7, st(lo, lo)), "does not exist"),
    ],
)
def test_rules_reject(op: object, msg: str) -> None:
    tree, _ = full(3)
    lo, hi = tree.slots[1].lo, tree.slots[1].hi
    with pytest.raises(TreeError, match=msg):
        tree.apply([op(lo, hi)], 5)  # type: ignore[operator]


def test_random_updates_keep_a_partition_and_one_slot_per_id() -> None:
    rng = random.Random(16)
    tree, _ = full(3)
    for epoch in range(5, 25):
        k = rng.randrange(len(tree.slots))
        s = tree.slots[k]
        if rng.random() < 0.5 and s.hi - s.lo > 2:
            mid = rng.randrange(s.lo + 1, s.hi)
            op: Replace | Split = Split(k, mid, st(s.lo, s.lo, 1), st(mid, mid, 1))
        else:
            op = Replace(k, st(s.lo, s.lo, 2) if rng.random() < 0.7 else empty_statement(A))
        _, tree = encode_ops(tree, [op], epoch)
        assert tree.is_partition()
        for _ in range(5):
            x = rng.randrange(R)
            assert tree.slots[tree.slot_of(x)].holds(x)
        assert frontier_root([s.hash() for s in tree.slots]) == tree.root()
