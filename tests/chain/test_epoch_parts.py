"""Epochs over several transactions: openEpoch, addBatches, finalizeEpoch, abandonEpoch. Nothing of an open epoch is
readable; every rule a one-transaction submission obeys (ids in order, counts adding up, every batch proven for this
epoch) holds across the transactions; only the operator that opened an epoch adds to or finalizes it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chain_env import MAX_FEED_AGE, Deployment

from zkmargin.verifier.batch_tree import BatchTree, leaf_body, statement_words
from zkmargin.verifier.chain import ChainRevert


def _reverts(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(ChainRevert) as e:
        fn(*args, **kw)
    return e.value.reason


def _nothing_readable(env: Deployment, epoch: int) -> None:
    reg = env.registry
    assert _reverts(reg.attestation_of, epoch) == "Registry: epoch not attested"
    assert reg.latest_epoch() is None or reg.latest_epoch() < epoch
    solvent, attested, _, _ = reg.is_solvent()
    assert attested < epoch and not (attested == 0 and solvent)


def test_epoch_in_parts_equals_one_transaction(env: Deployment) -> None:
    reg, op = env.registry, env.operator
    att = env.attestation(epoch=1, n_batches=4)
    start = env.w3.eth.block_number
    reg.open_epoch(att, sender=op)
    state = reg.open_epoch_state()
    assert state is not None and (state.epoch, state.operator, state.batch_count, state.added) == (1, op, 4, 0)
    _nothing_readable(env, 1)
    reg.add_batches(att, 0, 1, sender=op)
    reg.add_batches(att, 1, 4, sender=op)
    state = reg.open_epoch_state()
    assert state is not None and state.added == 4
    _nothing_readable(env, 1)  # every batch in, still not finalized
    reg.finalize_epoch(1, sender=op)
    assert reg.open_epoch_state() is None
    rec = reg.attestation_of(1)
    assert rec.matches(att) and rec.batch_count == 4
    events = reg.batches_added_events(1, start)
    assert [(e.from_index, e.count) for e in events] == [(0, 1), (1, 3)]
    first, last = att.batches[0][0], att.batches[3][0]
    assert events[0].leaf_body == leaf_body(0, 1, statement_words(first))  # the epoch's first batch: lo = 0
    assert events[-1].leaf_body == leaf_body(last.first_id_hash, 1, statement_words(last))
    # the tree built across transactions (frontier in storage) = the Python mirror's
    assert rec.batch_tree_root == BatchTree.full_epoch([bt for bt, _ in att.batches], 1).root()
    env.submit(env.attestation(epoch=2, n_batches=2))  # and the next epoch in one transaction


def test_committed_epoch_in_parts(cenv: Deployment) -> None:
    att = cenv.attestation(epoch=1, n_batches=3)
    receipts = cenv.registry.submit_in_parts(att, 2, sender=cenv.operator)
    assert len(receipts) == 4  # open, 2 + 1 batches, finalize
    assert cenv.registry.attestation_of(1).matches(att)
    tx = cenv.registry.attestation_tx(1)  # what the operator's manifest records: the whole epoch's gas
    assert tx is not None and tx.gas_used == sum(int(r["gasUsed"]) for r in receipts)


def test_batch_added_twice_rejected(env: Deployment) -> None:
    reg, op = env.registry, env.operator
    att = env.attestation(epoch=1, n_batches=3)
    reg.open_epoch(att, sender=op)
    reg.add_batches(att, 0, 2, sender=op)
    assert _reverts(reg.add_batches, att, 1, 2, sender=op) == "Registry: batch id ranges overlap"  # in a later tx
    assert _reverts(reg.add_batches, att, 0, 1, sender=op) == "Registry: batch id ranges overlap"
    reg.add_batches(att, 2, 3, sender=op)
    reg.finalize_epoch(1, sender=op)
    assert reg.attestation_of(1).matches(att)
    # twice in one call, within the declared count: both proofs valid, the id order refuses the second
    nxt = env.attestation(epoch=2, n_batches=3)
    twice = dataclasses.replace(nxt, batches=(nxt.batches[1], nxt.batches[1]))
    reg.open_epoch(nxt, sender=op)
    reg.add_batches(nxt, 0, 1, sender=op)
    assert _reverts(reg.add_batches, twice, 0, 2, sender=op) == "Registry: batch id ranges overlap"


def test_batch_from_another_epoch_rejected(env: Deployment) -> None:
    reg, op = env.registry, env.operator
    att = env.attestation(epoch=1, n_batches=2)
    later = env.attestation(epoch=2, n_batches=2)  # the same statements proven for epoch 2
    reg.open_epoch(att, sender=op)
    assert _reverts(reg.add_batches, att, 0, 1, sender=op, epoch=2) == "Registry: epoch not open"
    # epoch 2's proof of batch 0 sent to the open epoch 1: the registry sets the epoch signal, the proof fails
    assert _reverts(reg.add_batches, later, 0, 1, sender=op, epoch=1) == "Groth16: invalid proof"
    reg.add_batches(att, 0, 2, sender=op)
    assert _reverts(reg.finalize_epoch, 2, sender=op) == "Registry: epoch not open"
    reg.finalize_epoch(1, sender=op)


def test_finalize_with_a_missing_batch_rejected(env: Deployment) -> None:
    reg, op = env.registry, env.operator
    att = env.attestation(epoch=1, n_batches=3)
    reg.open_epoch(att, sender=op)
    reg.add_batches(att, 0, 2, sender=op)
    assert _reverts(reg.finalize_epoch, 1, sender=op) == "Registry: batches missing"
    _nothing_readable(env, 1)
    # declaring fewer batches does not help: the accounts must still add up to the declared count
    short = dataclasses.replace(att, batches=att.batches[:2])
    reg.abandon_epoch(1, sender=op)
    reg.open_epoch(short, sender=op, batch_count=2)
    reg.add_batches(short, 0, 2, sender=op)
    assert _reverts(reg.finalize_epoch, 1, sender=op) == "Registry: accounts do not add up to declared"
    # nor does adding more than declared
    reg.abandon_epoch(1, sender=op)
    reg.open_epoch(short, sender=op, batch_count=2)
    assert _reverts(reg.add_batches, att, 0, 3, sender=op) == "Registry: more batches than declared"
    _nothing_readable(env, 1)


def test_other_operator_cannot_touch_an_open_epoch(env: Deployment) -> None:
    reg, op, other = env.registry, env.operator, env.stranger
    reg.set_operator(other, True, sender=env.governance)
    att = env.attestation(epoch=1, n_batches=2)
    reg.open_epoch(att, sender=op)
    assert _reverts(reg.add_batches, att, 0, 1, sender=other) == "Registry: epoch opened by another operator"
    reg.add_batches(att, 0, 2, sender=op)
    assert _reverts(reg.finalize_epoch, 1, sender=other) == "Registry: epoch opened by another operator"
    assert _reverts(reg.abandon_epoch, 1, sender=other) == "Registry: not allowed to abandon this epoch"
    assert _reverts(reg.open_epoch, att, sender=other) == "Registry: an epoch is open, finalize or abandon it"
    assert _reverts(env.submit, att, sender=other) == "Registry: an epoch is open, finalize or abandon it"
    # a non-operator cannot even try, and an operator removed by governance cannot continue
    assert _reverts(reg.finalize_epoch, 1, sender=env.governance) == "Registry: caller is not an operator"
    reg.set_operator(op, False, sender=env.governance)
    assert _reverts(reg.finalize_epoch, 1, sender=op) == "Registry: caller is not an operator"
    reg.set_operator(op, True, sender=env.governance)
    reg.finalize_epoch(1, sender=op)
    assert reg.attestation_of(1).matches(att)


def test_abandon_and_reopen(env: Deployment) -> None:
    reg, op, other = env.registry, env.operator, env.stranger
    reg.set_operator(other, True, sender=env.governance)
    att = env.attestation(epoch=1, n_batches=2)
    reg.open_epoch(att, sender=op)
    reg.add_batches(att, 0, 1, sender=op)
    assert _reverts(reg.abandon_epoch, 2, sender=op) == "Registry: epoch not open"
    reg.abandon_epoch(1, sender=env.governance)  # governance may drop it at any time
    assert reg.open_epoch_state() is None
    _nothing_readable(env, 1)
    assert _reverts(reg.add_batches, att, 1, 2, sender=op) == "Registry: epoch not open"
    # reopened with other contents (one batch less declared and proven): the old part is gone
    other_att = env.attestation(epoch=1, n_batches=1)
    reg.open_epoch(other_att, sender=op)
    reg.add_batches(other_att, 0, 1, sender=op)
    # an open epoch expires maxFeedAge after opening: its operator can no longer add or finalize, anyone
    # operating may then abandon it, so an operator that walked away cannot block the registry
    env.advance(MAX_FEED_AGE + 10)
    assert _reverts(reg.finalize_epoch, 1, sender=op) == "Registry: open epoch expired, abandon it"
    assert _reverts(reg.abandon_epoch, 1, sender=env.insurance_holder) == "Registry: not allowed to abandon this epoch"
    reg.abandon_epoch(1, sender=other)
    parts = [reg.open_epoch(att, sender=other), reg.add_batches(att, 0, 2, sender=other)]
    parts.append(reg.finalize_epoch(1, sender=other))
    assert reg.attestation_of(1).matches(att)
    tx = reg.attestation_tx(1)  # the abandoned attempts' transactions are not the epoch's
    assert tx is not None and tx.gas_used == sum(int(r["gasUsed"]) for r in parts)


def test_pause_stops_every_part(env: Deployment) -> None:
    reg, op = env.registry, env.operator
    att = env.attestation(epoch=1, n_batches=2)
    reg.open_epoch(att, sender=op)
    reg.pause(sender=env.governance)
    assert _reverts(reg.add_batches, att, 0, 2, sender=op) == "Registry: submissions paused"
    reg.unpause(sender=env.governance)
    reg.add_batches(att, 0, 2, sender=op)
    reg.pause(sender=env.governance)
    assert _reverts(reg.finalize_epoch, 1, sender=op) == "Registry: submissions paused"
    reg.unpause(sender=env.governance)
    reg.finalize_epoch(1, sender=op)


def test_params_or_key_changed_while_open_refuse_finalize(env: Deployment) -> None:
    """Governance's timelocked change that activates while an epoch is open: batches were verified against the
    old parameters (or key), so the epoch can no longer be finalized; the operator abandons it and re-proves."""
    from chain_env import LOOSEN_DELAY, PRICES
    from layout_circuit import PARAMS_COMMITMENT, build_layout_circuit, make_attestation

    from zkmargin.verifier.chain import params_doc_hash

    reg, op, gov = env.registry, env.operator, env.governance
    env.submit(env.attestation(epoch=1))  # from now on changes go through the timelock
    new = PARAMS_COMMITMENT + 7
    reg.propose_params(new, 2, params_doc_hash(b"v2"), False, sender=gov)
    env.advance(LOOSEN_DELAY + 1)  # the change may activate now, but governance waits
    att = env.attestation(epoch=2, n_batches=2)
    reg.open_epoch(att, sender=op)
    reg.add_batches(att, 0, 1, sender=op)
    reg.activate_params(sender=gov)
    reg.add_batches(att, 1, 2, sender=op)  # still verified against the parameters the epoch opened with
    assert _reverts(reg.finalize_epoch, 2, sender=op) == "Registry: params changed since the epoch opened"
    reg.abandon_epoch(2, sender=op)
    _nothing_readable(env, 2)
    # the same for a key rotation
    other = build_layout_circuit(len(PRICES))
    reg.propose_verifying_key(other.vk, sender=gov)
    env.advance(LOOSEN_DELAY + 1)
    fresh = make_attestation(env.circuit, 2, PRICES, 2, params_commitment=new)
    reg.open_epoch(fresh, sender=op)
    reg.add_batches(fresh, 0, 1, sender=op)
    reg.activate_verifying_key(sender=gov)
    reason = "Registry: verifying key changed since the epoch opened"
    assert _reverts(reg.add_batches, fresh, 1, 2, sender=op) == reason
    assert _reverts(reg.finalize_epoch, 2, sender=op) == reason
    reg.abandon_epoch(2, sender=op)
    env.submit(make_attestation(other, 2, PRICES, 2, params_commitment=new))
    assert reg.attestation_of(2).params_commitment == new


def test_redteam_abandoned_epoch_leaves_no_tree_state(env: Deployment) -> None:
    """Red team (session 7): an abandoned open epoch leaves its frontier and pending leaf body in storage (only the
    13 scalar words are cleared). Neither may leak into the tree of the epoch opened next, nor of a one-transaction
    submission after it: each root equals the mirror's over its own batches only."""
    reg, op = env.registry, env.operator
    stale = env.attestation(epoch=1, n_batches=4)
    reg.open_epoch(stale, sender=op)
    reg.add_batches(stale, 0, 3, sender=op)  # frontier levels 0 and 1 written, batch 2's body pending
    reg.abandon_epoch(1, sender=op)
    att = env.attestation(epoch=1, n_batches=3)
    reg.open_epoch(att, sender=op)
    reg.add_batches(att, 0, 1, sender=op)
    reg.add_batches(att, 1, 3, sender=op)
    reg.finalize_epoch(1, sender=op)
    assert reg.attestation_of(1).batch_tree_root == BatchTree.full_epoch([bt for bt, _ in att.batches], 1).root()
    stale2 = env.attestation(epoch=2, n_batches=4)
    reg.open_epoch(stale2, sender=op)
    reg.add_batches(stale2, 0, 2, sender=op)
    reg.abandon_epoch(2, sender=op)
    one = env.attestation(epoch=2, n_batches=2)
    env.submit(one)
    assert reg.attestation_of(2).batch_tree_root == BatchTree.full_epoch([bt for bt, _ in one.batches], 2).root()
