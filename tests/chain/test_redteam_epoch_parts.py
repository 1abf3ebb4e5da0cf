"""Red team, second pass (2026-12-01): an operator attacking epochs in parts and the folded batch check.

Each test is an attack the registry must refuse with a named revert (docs/statement.md "Red team (2026-12-01,
second pass)"): parts of an abandoned attempt finalized or continued, a finalized epoch's parts replayed into the
next epoch or its number reopened, batches sent out of id order across transactions, and the batch weights (never 0
mod r, whatever the seed, so no proof of a call can be weighted out of the check).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chain_env import Deployment

from zkmargin.circuits.curve import twist_point_outside_subgroup
from zkmargin.circuits.field import P, R
from zkmargin.verifier.chain import ChainRevert
from zkmargin.verifier.chain_encoding import batch_weight
from zkmargin.verifier.types import Proof


def _reverts(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(ChainRevert) as e:
        fn(*args, **kw)
    return e.value.reason


def test_abandoned_attempt_cannot_be_finalized_or_continued(env: Deployment) -> None:
    """Every batch of an attempt added, then abandoned: its state is gone, so neither finalize nor a further add
    revives it, and a reopened attempt starts from nothing (its first batch must be re-added, then finalizes)."""
    reg, op = env.registry, env.operator
    att = env.attestation(epoch=1, n_batches=2)
    reg.open_epoch(att, sender=op)
    reg.add_batches(att, 0, 2, sender=op)
    reg.abandon_epoch(1, sender=op)
    assert _reverts(reg.finalize_epoch, 1, sender=op) == "Registry: epoch not open"
    assert _reverts(reg.add_batches, att, 0, 1, sender=op) == "Registry: epoch not open"
    reg.open_epoch(att, sender=op)
    assert _reverts(reg.finalize_epoch, 1, sender=op) == "Registry: batches missing"  # nothing carried over
    reg.add_batches(att, 0, 2, sender=op)
    reg.finalize_epoch(1, sender=op)
    assert reg.attestation_of(1).matches(att)


def test_previous_epochs_parts_replayed(env: Deployment) -> None:
    """Epoch 1 finalized; its proofs sent again as epoch 2's parts, and epoch 1 reopened to overwrite its record."""
    reg, op = env.registry, env.operator
    first = env.attestation(epoch=1, n_batches=2)
    reg.submit_in_parts(first, 1, sender=op)
    assert _reverts(reg.open_epoch, first, sender=op) == "Registry: epoch must be latest + 1"
    nxt = env.attestation(epoch=2, n_batches=2)
    reg.open_epoch(nxt, sender=op)
    # epoch 1's batch words under epoch 2: the registry supplies epoch = 2 as the shared signal, the proof fails
    assert _reverts(reg.add_batches, first, 0, 1, sender=op, epoch=2) == "Groth16: invalid proof"
    reg.add_batches(nxt, 0, 2, sender=op)
    reg.finalize_epoch(2, sender=op)
    assert reg.attestation_of(1).matches(first) and reg.attestation_of(2).matches(nxt)


def test_batches_out_of_id_order_across_transactions(env: Deployment) -> None:
    """The higher id range added first, the lower one in a later transaction (the pair would be disjoint, but the
    registry's order across transactions is strictly increasing, so a batch cannot slip under an earlier one and
    duplicate an account id there)."""
    reg, op = env.registry, env.operator
    att = env.attestation(epoch=1, n_batches=3)
    reg.open_epoch(att, sender=op)
    reg.add_batches(att, 1, 2, sender=op)
    assert _reverts(reg.add_batches, att, 0, 1, sender=op) == "Registry: batch id ranges overlap"
    reg.add_batches(att, 2, 3, sender=op)
    assert _reverts(reg.finalize_epoch, 1, sender=op) == "Registry: batches missing"


@pytest.mark.parametrize("seed", [b"\x00" * 32, b"\xff" * 32, bytes(range(32))])
def test_no_weight_is_zero_mod_r(seed: bytes) -> None:
    """A weight 0 mod r would drop its proof from the folded check: r_b = 1 + (h >> 128) lies in [1, 2^128], far
    below r, for every seed (the top of the range too: h = 2^256 - 1 gives 2^128)."""
    ws = [batch_weight(seed, b) for b in range(64)]
    assert ws[0] == 1
    assert all(1 <= w <= (1 << 128) < R and w % R for w in ws)
    assert ((2**256 - 1) >> 128) + 1 == 1 << 128
    assert len(set(ws[1:])) == len(ws) - 1  # distinct: no two proofs of a call share a weight here


def test_b_outside_the_subgroup_inside_the_fold(env: Deployment) -> None:
    """B of a later proof (a drawn weight) replaced by a twist point outside G2's order-r subgroup: the fold passes
    B to the pairing precompile as it is (only A, C and D are scaled), and the precompile refuses the call, in one
    transaction and as one part of an epoch."""
    att = env.attestation(epoch=1, n_batches=3)
    proofs: list[Any] = [p for _, p in att.batches]
    p = proofs[2]
    assert isinstance(p, Proof)
    proofs[2] = Proof(p.a, twist_point_outside_subgroup(), p.c)
    bad = dataclasses.replace(att, batches=tuple((bt, q) for (bt, _), q in zip(att.batches, proofs, strict=True)))
    assert _reverts(env.submit, bad) == "Groth16: malformed proof point"
    env.registry.open_epoch(bad, sender=env.operator)
    env.registry.add_batches(bad, 0, 2, sender=env.operator)
    assert _reverts(env.registry.add_batches, bad, 2, 3, sender=env.operator) == "Groth16: malformed proof point"
    assert _reverts(env.registry.finalize_epoch, 1, sender=env.operator) == "Registry: batches missing"


@pytest.mark.parametrize("which", ["a", "c"])
def test_point_off_the_curve_in_a_later_slot(env: Deployment, which: str) -> None:
    """A or C of the third proof moved off the curve (y + 1): refused by the per-proof curve check before any
    scalar multiplication folds it (an off-curve point fed to ecMul could otherwise land in a small subgroup of
    another curve)."""
    att = env.attestation(epoch=1, n_batches=3)
    proofs: list[Any] = [p for _, p in att.batches]
    p = proofs[2]
    assert isinstance(p, Proof)
    x, y = p.a if which == "a" else p.c
    moved = (x, (y + 1) % P)
    proofs[2] = Proof(moved, p.b, p.c) if which == "a" else Proof(p.a, p.b, moved)
    bad = dataclasses.replace(att, batches=tuple((bt, q) for (bt, _), q in zip(att.batches, proofs, strict=True)))
    assert _reverts(env.submit, bad) == "Groth16: proof point not on curve"
