"""Incremental epochs on-chain (issue 16): ``submitUpdate`` re-proves only the slots its ops name and carries every
other slot's statement forward; the registry's root, slot count and totals equal verifier/batch_tree.py's after every
op. Then the attacks, each refused by a named revert: a wrong old leaf or a stale path, a batch whose ids leave its
slot (first < lo, last >= hi), a split point outside the slot, a batch replayed into another slot, batches no op uses,
an update after the feeds left the box, after revocation, after a params or key change, totals that do not add up
to the declared accounts, proofs of another epoch.

The full epoch has 3 batches (tests/chain/layout_circuit.make_batch: ids [1000, 1099], [1100, 1199], [1200, 1299]),
so slots [0, 1100), [1100, 1200), [1200, r). Proofs come from the stand-in layout circuit (milliseconds each).
"""

from __future__ import annotations

from typing import Any

import pytest
from chain_env import LOOSEN_DELAY, PRICES
from chain_env import Deployment as Env
from layout_circuit import MARKET_COMMITMENT, PARAMS_COMMITMENT, build_layout_circuit

from zkmargin.verifier.attestation import BatchStatement
from zkmargin.verifier.batch_tree import (
    DEPTH,
    OWN_FIXED,
    BatchTree,
    Op,
    R,
    Replace,
    Split,
    empty_statement,
    encode_ops,
    new_batches,
)
from zkmargin.verifier.chain import ChainRevert, params_doc_hash
from zkmargin.verifier.types import Proof

OWN = OWN_FIXED + len(PRICES)  # own words per batch
OLD_LEAF = "BatchTree: old leaf or path does not match the root"
OUT_OF_RANGE = "BatchTree: batch ids outside its slot's range"


def _reverts(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(ChainRevert) as ei:
        fn(*args, **kw)
    return ei.value.reason


def batch(first: int, last: int, accounts: int = 5, equity: int = 7_000, tag: int = 1) -> BatchStatement:
    return BatchStatement(
        batch_root=10**60 + 31 * first + tag,
        first_id_hash=first,
        last_id_hash=last,
        account_count=accounts,
        total_equity=equity * 10**6,
        total_mm=accounts * 10**8,
        liabilities=tuple(10**9 * (a + 1) + first for a in range(len(PRICES))),
        under_mm_count=1 if accounts else 0,
        total_shortfall=10**6 if accounts else 0,
    )


def prove(env: Env, st: BatchStatement, epoch: int) -> Proof:
    """A proof of ``st`` at the latest box centre (the full epoch's params, market commitment and prices)."""
    signals = st.public_signals(epoch, PARAMS_COMMITMENT, PRICES, market_commitment=MARKET_COMMITMENT)
    proof = env.circuit.prove(signals)
    assert isinstance(proof, Proof)
    return proof


def full_epoch(env: Env, epoch: int = 1, n: int = 3) -> BatchTree:
    att = env.attestation(epoch=epoch, n_batches=n)
    env.submit(att)
    tree = BatchTree.full_epoch([bt for bt, _ in att.batches], epoch)
    assert env.registry.attestation_of(epoch).batch_tree_root == tree.root()
    return tree


def update(
    env: Env,
    tree: BatchTree,
    ops: list[Op],
    epoch: int,
    *,
    proven: list[BatchStatement] | None = None,
    proof_epoch: int | None = None,
    ops_words: list[int] | None = None,
    declared: int | None = None,
) -> tuple[Any, BatchTree]:
    """Submit ``ops`` as update ``epoch``; ``proven`` replaces the batches actually proven and sent (an attack: the
    ops were encoded for others), ``proof_epoch`` the epoch they are proven for, ``ops_words`` the encoded ops."""
    words, after = encode_ops(tree, ops, epoch)
    sent = new_batches(ops) if proven is None else proven
    batches = [(st, prove(env, st, epoch if proof_epoch is None else proof_epoch)) for st in sent]
    n = after.totals()[0][0] if declared is None else declared
    receipt = env.registry.submit_update(
        epoch, batches, words if ops_words is None else ops_words, n, sender=env.operator
    )
    return receipt, after


def assert_record_is(env: Env, epoch: int, tree: BatchTree) -> None:
    rec = env.registry.attestation_of(epoch)
    sums, liab = tree.totals()
    assert rec.batch_tree_root == tree.root() and rec.batch_count == len(tree.slots)
    got = [rec.account_count, rec.total_equity, rec.total_mm, rec.under_mm_count, rec.total_shortfall]
    assert [*got, rec.total_bad_debt] == sums and rec.liabilities == tuple(liab)
    assert (rec.params_commitment, rec.market_commitment, rec.prices) == (PARAMS_COMMITMENT, MARKET_COMMITMENT, PRICES)
    assert rec.declared_accounts == sums[0] and rec.unrepresented_accounts == 0


def test_update_replaces_and_splits_and_matches_the_mirror(env: Env) -> None:
    tree = full_epoch(env)
    ops: list[Op] = [
        Replace(1, batch(1110, 1150)),  # slot 1 keeps [1100, 1200)
        Split(2, 1250, batch(1200, 1210, accounts=2), batch(1260, 1300, accounts=9)),  # [1200, 1250) + [1250, r)
        Replace(0, empty_statement(len(PRICES))),  # every account of slot 0 closed
    ]
    receipt, after = update(env, tree, ops, 2)
    assert receipt["status"] == 1
    assert [(s.lo, s.hi, s.proof_epoch) for s in after.slots] == [
        (0, 1100, 2),
        (1100, 1200, 2),
        (1200, 1250, 2),
        (1250, R, 2),
    ]
    assert_record_is(env, 2, after)
    assert env.registry.latest().epoch == 2 and env.registry.is_solvent()[:2] == (True, 2)
    # a second update carries slot 3 (proof epoch 2) and re-proves slot 1 against the root the first one left
    _, again = update(env, after, [Replace(1, batch(1100, 1199, accounts=11))], 3)
    assert [s.proof_epoch for s in again.slots] == [2, 3, 2, 2]
    assert_record_is(env, 3, again)
    # a full epoch starts a new tree from its own batches
    fresh = full_epoch(env, 4, n=2)
    assert env.registry.attestation_of(4).batch_count == len(fresh.slots) == 2


def test_wrong_old_leaf_or_stale_path(env: Env) -> None:
    tree = full_epoch(env)
    words, _ = encode_ops(tree, [Replace(1, batch(1110, 1150))], 2)
    forged = list(words)
    forged[1 + 3 + 4] += 1  # the old leaf's total equity: a leaf that is not in the tree
    assert _reverts(update, env, tree, [Replace(1, batch(1110, 1150))], 2, ops_words=forged) == OLD_LEAF
    sib = list(words)
    sib[1 + 3 + OWN] ^= 1  # one sibling of the path
    assert _reverts(update, env, tree, [Replace(1, batch(1110, 1150))], 2, ops_words=sib) == OLD_LEAF
    _, after = update(env, tree, [Replace(2, batch(1200, 1300))], 2)
    # epoch 3 with ops built against the epoch-1 tree: its path and old leaf are stale
    assert _reverts(update, env, tree, [Replace(1, batch(1110, 1150))], 3) == OLD_LEAF
    update(env, after, [Replace(1, batch(1110, 1150))], 3)  # against the current tree it goes through


def test_batch_ids_must_stay_in_the_slot(env: Env) -> None:
    tree = full_epoch(env)
    ok = [Replace(1, batch(1110, 1150))]
    below = batch(1099, 1150)  # first < lo
    above = batch(1110, 1200)  # last >= hi
    assert _reverts(update, env, tree, ok, 2, proven=[below]) == OUT_OF_RANGE
    assert _reverts(update, env, tree, ok, 2, proven=[above]) == OUT_OF_RANGE
    # a batch proven for slot 1 replayed into slot 0 or slot 2
    assert _reverts(update, env, tree, [Replace(0, batch(1000, 1050))], 2, proven=[batch(1110, 1150)]) == OUT_OF_RANGE
    assert _reverts(update, env, tree, [Replace(2, batch(1210, 1250))], 2, proven=[batch(1110, 1150)]) == OUT_OF_RANGE
    # a split's halves obey [lo, mid) and [mid, hi)
    split = [Split(1, 1150, batch(1100, 1140), batch(1150, 1199))]
    assert _reverts(update, env, tree, split, 2, proven=[batch(1100, 1150), batch(1160, 1199)]) == OUT_OF_RANGE
    assert _reverts(update, env, tree, split, 2, proven=[batch(1100, 1140), batch(1149, 1199)]) == OUT_OF_RANGE


@pytest.mark.parametrize("mid", [1100, 1200, 0, R])
def test_split_point_outside_the_slot(env: Env, mid: int) -> None:
    tree = full_epoch(env)
    split: list[Op] = [Split(1, 1150, batch(1100, 1140), batch(1150, 1199))]
    words, _ = encode_ops(tree, split, 2)
    at = 1 + 3 + OWN + DEPTH  # the mid word
    assert words[at] == 1150
    words[at] = mid
    assert _reverts(update, env, tree, split, 2, ops_words=words) == "BatchTree: split point outside the slot"


def test_every_batch_used_and_counts_add_up(env: Env) -> None:
    tree = full_epoch(env)
    op = [Replace(1, batch(1110, 1150))]
    extra = [batch(1110, 1150), batch(1120, 1130)]
    assert _reverts(update, env, tree, op, 2, proven=extra) == "BatchTree: batches not used by any op"
    words, after = encode_ops(tree, op, 2)
    n = after.totals()[0][0]
    assert _reverts(update, env, tree, op, 2, declared=n + 1) == "Registry: accounts do not add up to declared"
    assert _reverts(update, env, tree, op, 2, ops_words=words[:-1]) == "BatchTree: ops truncated"
    bad_slot = [w if i else 1 | 3 << 8 for i, w in enumerate(words)]  # slot 3 does not exist yet
    assert _reverts(update, env, tree, op, 2, ops_words=bad_slot) == "BatchTree: slot does not exist"


def test_proofs_of_another_epoch(env: Env) -> None:
    tree = full_epoch(env)
    op = [Replace(1, batch(1110, 1150))]
    assert _reverts(update, env, tree, op, 2, proof_epoch=1) == "Groth16: invalid proof"  # the full epoch's
    assert _reverts(update, env, tree, op, 3) == "Registry: epoch must be latest + 1"


def test_update_needs_the_feeds_in_the_box(env: Env) -> None:
    tree = full_epoch(env)  # a point attestation (box 0): every feed median must equal its attested price
    op = [Replace(1, batch(1110, 1150))]
    env.set_feed(env.feeds[1], PRICES[1] + 1)
    assert _reverts(update, env, tree, op, 2) == "Update: feeds not inside the latest box"
    env.set_feed(env.feeds[1], PRICES[1])
    update(env, tree, op, 2)


def test_update_after_revocation(env: Env) -> None:
    tree = full_epoch(env)
    env.registry.revoke_attestation(1, "bad epoch", sender=env.governance)
    assert _reverts(update, env, tree, [Replace(1, batch(1110, 1150))], 2) == "Update: latest attestation revoked"


def test_update_after_a_params_change(env: Env) -> None:
    tree = full_epoch(env)
    reg, gov = env.registry, env.governance
    reg.propose_params(PARAMS_COMMITMENT + 7, 2, params_doc_hash(b"v2"), False, sender=gov)
    env.advance(LOOSEN_DELAY + 1)
    reg.activate_params(sender=gov)
    reason = "Update: params changed since the latest epoch"
    assert _reverts(update, env, tree, [Replace(1, batch(1110, 1150))], 2) == reason


def test_update_after_a_key_change(env: Env) -> None:
    tree = full_epoch(env)
    reg, gov = env.registry, env.governance
    reg.propose_verifying_key(build_layout_circuit(len(PRICES)).vk, sender=gov)
    env.advance(LOOSEN_DELAY + 1)
    reg.activate_verifying_key(sender=gov)
    reason = "Update: an epoch was revoked or the verifying key changed since the tree's full epoch"
    assert _reverts(update, env, tree, [Replace(1, batch(1110, 1150))], 2) == reason


def test_redteam_update_does_not_refresh_the_attestation_age(env: Env) -> None:
    """Red team (session 7): an update is proven at the latest box centre (its prices, its snapshot's valuation
    clock) and carries statements proven then, so it must not make that centre look younger. Before the fix an
    update recorded its own block time: an operator that kept the feeds in the box could resubmit a one-slot update
    every day and keep ``isSolvent()`` true forever on a centre whose unboxed prices and option clock were never
    re-checked, defeating ``maxAttestationAge``. The update's record keeps the latest record's timestamp, so the
    live view turns false (TOO_OLD, reason 5) ``maxAttestationAge`` after the full epoch however many updates
    followed; only a full epoch (prices checked against every feed) starts a new clock."""
    tree = full_epoch(env)
    t_full = env.registry.attestation_of(1).timestamp
    max_age = 86_400  # the registry's default maxAttestationAge
    env.advance(max_age // 2)
    _, tree = update(env, tree, [Replace(1, batch(1110, 1150))], 2)
    assert env.registry.attestation_of(2).timestamp == t_full
    env.advance(max_age // 2 + 10)
    _, tree = update(env, tree, [Replace(1, batch(1120, 1150))], 3)
    assert env.registry.attestation_of(3).timestamp == t_full
    live = env.registry.live_status()
    assert not live.solvent and live.reason == 5  # TOO_OLD: the centre is older than maxAttestationAge
    env.submit(env.attestation(epoch=4, n_batches=3))  # a full epoch starts a new clock
    assert env.registry.attestation_of(4).timestamp > t_full and env.registry.is_solvent()[0]


def test_redteam_update_after_an_earlier_tree_epoch_was_revoked(env: Env) -> None:
    """Red team (session 7): every epoch of a tree shares its centre (prices, params, market commitment) and carries
    its leaves, so revoking any of them (here the base full epoch, while the latest is an update) must stop further
    updates from carrying its statements. Before the fix only the latest's revocation was checked: governance revoked
    epoch 1, and the operator kept carrying epoch 1's slots in update 3. Any revocation now ends the tree: the next
    submission must be a full epoch (which is accepted)."""
    tree = full_epoch(env)
    _, tree = update(env, tree, [Replace(1, batch(1110, 1150))], 2)
    env.registry.revoke_attestation(1, "centre prices were manipulated", sender=env.governance)
    reason = "Update: an epoch was revoked or the verifying key changed since the tree's full epoch"
    assert _reverts(update, env, tree, [Replace(1, batch(1120, 1150))], 3) == reason
    att = env.attestation(epoch=3, n_batches=3)
    env.submit(att)
    tree = BatchTree.full_epoch([bt for bt, _ in att.batches], 3)
    receipt, _ = update(env, tree, [Replace(1, batch(1110, 1150))], 4)
    assert receipt["status"] == 1
