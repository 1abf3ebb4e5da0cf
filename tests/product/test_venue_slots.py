"""The partition argument of incremental epochs on the operator's slot planner (docs/statement.md "Incremental
epochs"): random joins, leaves, changes and overflows, each planned update applied to the registry's mirror
(``verifier/batch_tree.BatchTree.apply``, which refuses what the contract refuses), keep the slot ranges a partition
of [0, R), every account in exactly one slot (the one whose range holds its id hash), and every batch within the
batch size. Fast: no proofs (statements stand in for proven batches; their ids, counts and ranges are what the tree
checks)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkmargin.prover.operator.venue_slots import (
    TreeState,
    apply_plan,
    chunk_members,
    full_epoch_state,
    plan_update,
)
from zkmargin.verifier.attestation import BatchStatement
from zkmargin.verifier.batch_tree import BatchTree, R, Replace, Split, TreeError, empty_statement

CAP = 6  # leaves per batch


def statement(members: tuple[str, ...], id_hash: dict[str, int], leaves: dict[str, int]) -> BatchStatement:
    """A stand-in for the proven batch of ``members``: the words the tree checks (ids, count) and a total."""
    if not members:
        return empty_statement(1)
    hs = [id_hash[m] for m in members]
    assert hs == sorted(hs) and len(set(hs)) == len(hs)  # the circuit's strictly increasing ids
    return BatchStatement(hash(members) % R, hs[0], hs[-1], len(members), sum(leaves[m] for m in members), 0, (0,))


def tree_ops(plan_ops: list, id_hash: dict[str, int], leaves: dict[str, int]) -> list:
    out = []
    for op in plan_ops:
        left = statement(op.left, id_hash, leaves)
        if op.is_split:
            out.append(Split(op.slot, op.mid, left, statement(op.right, id_hash, leaves)))
        else:
            out.append(Replace(op.slot, left))
    return out


def check_invariants(state: TreeState, tree: BatchTree, id_hash: dict[str, int], leaves: dict[str, int]) -> None:
    assert tree.is_partition()
    assert [(s.lo, s.hi) for s in state.slots] == [(s.lo, s.hi) for s in tree.slots]
    where = state.members()
    assert sorted(where) == sorted(id_hash)  # every account in one slot (a dict: at most one)
    assert sum(len(s.members) for s in state.slots) == len(id_hash)  # ... and exactly one
    for a, k in where.items():
        assert tree.slot_of(id_hash[a]) == k  # the slot whose range holds its id hash
    for s, leaf in zip(state.slots, tree.slots, strict=True):
        assert sum(leaves[m] for m in s.members) <= CAP
        assert leaf.account_count == len(s.members) and leaf.proof_epoch == s.proof_epoch


def run_history(seed: int, steps: int) -> int:
    rnd = random.Random(seed)
    next_id = 0
    id_hash: dict[str, int] = {}
    leaves: dict[str, int] = {}
    fps: dict[str, str] = {}

    def join() -> None:
        nonlocal next_id
        a = f"acct{next_id}"
        next_id += 1
        id_hash[a] = rnd.randrange(R) if rnd.random() < 0.9 else rnd.choice([0, 1, R - 1, R - 2])
        if id_hash[a] in {id_hash[b] for b in id_hash if b != a}:
            del id_hash[a]
            return
        leaves[a] = rnd.choice([1, 1, 1, 2, 3])
        fps[a] = "v0"

    for _ in range(rnd.randrange(1, 20)):
        join()
    order = sorted(id_hash, key=lambda a: id_hash[a])
    batches: list[list[str]] = [[]]
    for a in order:
        if sum(leaves[m] for m in batches[-1]) + leaves[a] > CAP:
            batches.append([])
        batches[-1].append(a)
    state = full_epoch_state(1, batches, id_hash, fps)
    tree = BatchTree.full_epoch([statement(tuple(b), id_hash, leaves) for b in state_batches(state)], 1)
    check_invariants(state, tree, id_hash, leaves)
    splits = 0
    for epoch in range(2, 2 + steps):
        for _ in range(rnd.randrange(0, 12)):
            r = rnd.random()
            if r < 0.5:
                join()
            elif r < 0.75 and id_hash:
                a = rnd.choice(sorted(id_hash))
                del id_hash[a], leaves[a], fps[a]
            elif id_hash:
                a = rnd.choice(sorted(id_hash))
                fps[a] = f"v{epoch}"
                leaves[a] = rnd.choice([1, 2, 3])
        plan = plan_update(state, epoch, id_hash, leaves, fps, CAP)
        carried = set(range(len(state.slots))) - set(plan.changed)
        tree.apply(tree_ops(plan.ops, id_hash, leaves), epoch)
        state = apply_plan(state, plan, epoch)
        for k in carried:  # a carried slot keeps its leaf and its proof epoch
            assert state.slots[k].proof_epoch < epoch
        splits += plan.splits
        check_invariants(state, tree, id_hash, leaves)
    return splits


def state_batches(state: TreeState) -> list[tuple[str, ...]]:
    return [s.members for s in state.slots]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 8))
def test_random_histories_keep_a_partition_and_one_slot_per_account(seed: int, steps: int) -> None:
    run_history(seed, steps)


def test_histories_do_split() -> None:
    """The property test above is not vacuous: its histories split slots (several times)."""
    assert sum(run_history(seed, 6) for seed in range(10)) >= 5


def test_unchanged_book_carries_everything() -> None:
    id_hash = {f"a{i}": (i + 1) * (R // 40) for i in range(20)}
    leaves = dict.fromkeys(id_hash, 1)
    fps = dict.fromkeys(id_hash, "v0")
    state = full_epoch_state(1, [list(id_hash)[i : i + CAP] for i in range(0, 20, CAP)], id_hash, fps)
    plan = plan_update(state, 2, id_hash, leaves, fps, CAP)
    assert plan.ops == [] and plan.changed == []


def test_three_way_split_chains_through_an_empty_batch() -> None:
    """A slot that overflows into three chunks: SPLIT(k, mid1; c0, empty) then SPLIT(n, mid2; c1, c2), which the
    tree mirror accepts, ending with the three chunks in three slots."""
    id_hash = {f"a{i}": (i + 1) * 1000 for i in range(2)}
    leaves = dict.fromkeys(id_hash, 3)
    fps = dict.fromkeys(id_hash, "v0")
    state = full_epoch_state(1, [list(id_hash)], id_hash, fps)
    tree = BatchTree.full_epoch([statement(tuple(id_hash), id_hash, leaves)], 1)
    for i in range(2, 6):
        id_hash[f"a{i}"] = (i + 1) * 1000
        leaves[f"a{i}"] = 3
        fps[f"a{i}"] = "v0"
    plan = plan_update(state, 2, id_hash, leaves, fps, CAP)
    assert [(op.slot, op.right) for op in plan.ops] == [(0, ()), (1, ("a4", "a5"))]
    assert () in plan.chunks()
    tree.apply(tree_ops(plan.ops, id_hash, leaves), 2)
    check_invariants(apply_plan(state, plan, 2), tree, id_hash, leaves)


def test_a_wrong_slot_is_refused_by_the_tree() -> None:
    """The mirror refuses a batch whose ids leave its slot's range (an account moved to another slot)."""
    id_hash = {"a": 10, "b": 20, "c": 30}
    leaves = dict.fromkeys(id_hash, 1)
    tree = BatchTree.full_epoch([statement(("a",), id_hash, leaves), statement(("b", "c"), id_hash, leaves)], 1)
    with pytest.raises(TreeError, match="range"):
        tree.apply([Replace(0, statement(("a", "b"), id_hash, leaves))], 2)


def test_chunks_are_balanced_and_fit() -> None:
    ms = [f"m{i}" for i in range(7)]
    leaves = dict.fromkeys(ms, 1)
    assert [len(c) for c in chunk_members(ms, leaves, CAP)] == [4, 3]
    with pytest.raises(ValueError, match="more than a batch"):
        chunk_members(["big"], {"big": CAP + 1}, CAP)
