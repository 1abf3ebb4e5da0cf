"""Stable slots between venue epochs (issue 16, docs/statement.md "Incremental epochs"): which batch every account
belongs to after a full epoch, and what an update epoch must re-prove.

After a full epoch, batch k is slot k of the registry's batch tree and owns the id-hash range [lo_k, hi_k)
(``verifier/batch_tree.slot_ranges``: lo_0 = 0, lo_k = first_id_hash of batch k, hi_k = lo_{k+1}, the last hi = R).
Between epochs an account stays in the ONE slot whose range holds its id hash: a new account joins that slot, a closed
one leaves it. So the slot of an account never depends on the other accounts, and the ranges, which only REPLACE
(same range) and SPLIT (one range cut in two at ``mid``) ever change, stay a partition of [0, R).

:func:`plan_update` turns the previous tree's membership and the current accounts into the update's ops:

* a slot is **changed** when any member's data changed (fingerprint), a member joined or left; an unchanged slot is
  carried (its leaf and proof stay, with their proof epoch);
* a changed slot whose members still fit the batch (leaves, not accounts: an account may span linked leaves) is
  REPLACEd by one new batch over the same range (an empty batch if every member left);
* a changed slot that would exceed the batch is cut into m chunks of consecutive ids (balanced, each fitting), with
  ``mid_j`` = the first id hash of chunk j (so lo < mid_1 < ... < hi and every chunk lies inside its new range). The
  registry's SPLIT makes two batches out of one slot; m > 2 chunks take m - 1 SPLITs in a chain, each putting chunk j
  into the slot being cut and, until the last, an empty batch into the next free slot, which the next SPLIT cuts
  again. The empty batch is one proof at this epoch, reused.

Pure functions of ids, id hashes, leaf counts and fingerprints (no engine, no proofs), so the partition argument is
property-tested on them directly (``tests/product/test_venue_slots.py``).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zkmargin.circuits.rules.models import Account
from zkmargin.verifier.batch_tree import MAX_SLOTS, R

STATE_FORMAT = "zkmargin-venue-slots/v1"


def fingerprint(acct: Account, secret: int | None = None) -> str:
    """sha256 of the account's canonical JSON (and of its user secret when given): equal fingerprints mean the same
    leaves at the same box centre (the leaves are a function of the account, its secret and the snapshot, and the
    update keeps the snapshot). With the secret in it, an equal fingerprint also means the same id hash, so an update
    can take an unchanged member's id hash from the record instead of hashing it again (a rotated secret changes the
    fingerprint: the account is re-placed)."""
    h = hashlib.sha256(acct.model_dump_json().encode())
    if secret is not None:
        h.update(b"|secret|" + format(secret, "064x").encode())
    return h.hexdigest()


@dataclass(frozen=True)
class SlotState:
    """One slot as the operator keeps it privately: its range, the epoch that proved it, its members (account ids,
    id-hash order) and their fingerprints when proven."""

    lo: int
    hi: int
    proof_epoch: int
    members: tuple[str, ...]
    fingerprints: tuple[str, ...]
    id_hashes: tuple[int, ...] = ()  # per member when known: an update carries them for unchanged members

    def to_json(self) -> dict[str, Any]:
        if self.id_hashes:
            rows = zip(self.members, self.fingerprints, (str(h) for h in self.id_hashes), strict=True)
            return {"lo": str(self.lo), "hi": str(self.hi), "proof_epoch": self.proof_epoch, "members": list(rows)}
        return {
            "lo": str(self.lo),
            "hi": str(self.hi),
            "proof_epoch": self.proof_epoch,
            "members": [[m, f] for m, f in zip(self.members, self.fingerprints, strict=True)],
        }

    @staticmethod
    def from_json(d: Any) -> SlotState:
        ms = d["members"]
        hashes = tuple(int(r[2]) for r in ms) if ms and all(len(r) == 3 for r in ms) else ()
        return SlotState(
            int(d["lo"]),
            int(d["hi"]),
            int(d["proof_epoch"]),
            tuple(str(r[0]) for r in ms),
            tuple(str(r[1]) for r in ms),
            hashes,
        )


@dataclass(frozen=True)
class TreeState:
    """The operator's private record of the latest attested tree (slot index = list index)."""

    epoch: int
    base_epoch: int  # the full epoch the tree grew from (its box centre, parameters and key)
    slots: tuple[SlotState, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "epoch": self.epoch,
            "base_epoch": self.base_epoch,
            "slots": [s.to_json() for s in self.slots],
        }

    @staticmethod
    def from_json(d: Any) -> TreeState:
        if not isinstance(d, dict) or d.get("format") != STATE_FORMAT:
            raise ValueError(f"slot state: not a {STATE_FORMAT} document")
        return TreeState(int(d["epoch"]), int(d["base_epoch"]), tuple(SlotState.from_json(s) for s in d["slots"]))

    def members(self) -> dict[str, int]:
        """account id -> slot."""
        return {m: k for k, s in enumerate(self.slots) for m in s.members}

    def slot_finder(self) -> Callable[[int], int]:
        """id hash -> the slot whose range holds it (the ranges partition [0, R))."""
        order = sorted(range(len(self.slots)), key=lambda k: self.slots[k].lo)
        los = [self.slots[k].lo for k in order]
        return lambda h: order[bisect.bisect_right(los, h) - 1]


def full_epoch_state(
    epoch: int, batches: Sequence[Sequence[str]], id_hash: Mapping[str, int], fps: Mapping[str, str]
) -> TreeState:
    """The slots a full epoch leaves: batch k (its accounts in id-hash order) in slot k with the range
    ``slot_ranges`` gives (mirrored here so the planner needs no statement)."""
    ordered = [tuple(sorted(b, key=lambda a: id_hash[a])) for b in batches]
    los = [0, *(id_hash[b[0]] for b in ordered[1:])]
    his = [*los[1:], R]
    return TreeState(
        epoch,
        epoch,
        tuple(
            SlotState(lo, hi, epoch, b, tuple(fps[a] for a in b), tuple(id_hash[a] for a in b))
            for lo, hi, b in zip(los, his, ordered, strict=True)
        ),
    )


@dataclass(frozen=True)
class PlannedOp:
    """One registry op in member terms: REPLACE(slot) with ``left`` (``mid`` 0, ``right`` None), or SPLIT(slot,
    mid) with ``left`` in [lo, mid) and ``right`` in [mid, hi). An empty tuple is the empty batch."""

    slot: int
    left: tuple[str, ...]
    mid: int = 0
    right: tuple[str, ...] | None = None

    @property
    def is_split(self) -> bool:
        return self.right is not None


@dataclass
class UpdatePlan:
    """What an update epoch proves and what it carries."""

    ops: list[PlannedOp]
    slots: list[SlotState]  # the tree after the ops (proof epoch = the update's for every new batch)
    changed: list[int]  # slots of the previous tree that are re-proven (the others are carried)
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    splits: int = 0

    def chunks(self) -> list[tuple[str, ...]]:
        """Every distinct batch to prove (the empty one included when an op needs it), in op order."""
        out: list[tuple[str, ...]] = []
        for op in self.ops:
            for c in (op.left, op.right):
                if c is not None and c not in out:
                    out.append(c)
        return out


def chunk_members(members: Sequence[str], leaves: Mapping[str, int], capacity: int) -> list[tuple[str, ...]]:
    """Consecutive chunks of ``members`` (id-hash order) of at most ``capacity`` leaves each, as few as greedy
    packing needs and balanced (so the next join does not split a full half again at once)."""
    total = sum(leaves[m] for m in members)
    if total <= capacity:
        return [tuple(members)]

    def pack(limit: int) -> list[tuple[str, ...]]:
        out: list[list[str]] = [[]]
        used = 0
        for m in members:
            if leaves[m] > capacity:
                raise ValueError(f"account {m!r} needs {leaves[m]} leaves, more than a batch's {capacity}")
            if used + leaves[m] > limit and out[-1]:
                out.append([])
                used = 0
            out[-1].append(m)
            used += leaves[m]
        return [tuple(c) for c in out]

    greedy = pack(capacity)
    balanced = pack(min(capacity, -(-total // len(greedy))))
    fits = len(balanced) == len(greedy) and all(sum(leaves[m] for m in c) <= capacity for c in balanced)
    return balanced if fits else greedy


def plan_update(
    state: TreeState,
    epoch: int,
    id_hash: Mapping[str, int],
    leaves: Mapping[str, int],
    fps: Mapping[str, str],
    capacity: int,
) -> UpdatePlan:
    """The ops of update epoch ``epoch`` (module docstring). ``id_hash``, ``leaves`` and ``fps`` cover exactly the
    accounts the update proves (the provable ones of the current book)."""
    if epoch <= state.epoch:
        raise ValueError(f"update epoch {epoch} is not after the tree's epoch {state.epoch}")
    order = sorted(range(len(state.slots)), key=lambda k: state.slots[k].lo)
    los = [state.slots[k].lo for k in order]
    now: list[list[str]] = [[] for _ in state.slots]
    for a in sorted(id_hash, key=lambda x: id_hash[x]):
        h = id_hash[a]
        if not 0 <= h < R:
            raise ValueError(f"account {a!r}: id hash outside [0, R)")
        k = order[bisect.bisect_right(los, h) - 1]
        now[k].append(a)
    before = state.members()
    plan = UpdatePlan([], list(state.slots), [], sorted(set(id_hash) - set(before)), sorted(set(before) - set(id_hash)))
    n = len(state.slots)
    for k, s in enumerate(state.slots):
        members = tuple(now[k])
        fp = tuple(fps[a] for a in members)
        if members == s.members and fp == s.fingerprints:
            continue  # carried: same members, same data
        plan.changed.append(k)
        chunks = chunk_members(members, leaves, capacity)
        mids = [id_hash[c[0]] for c in chunks[1:]]
        ranges = list(zip([s.lo, *mids], [*mids, s.hi], strict=True))
        if len(chunks) == 1:
            plan.ops.append(PlannedOp(k, chunks[0]))
            plan.slots[k] = SlotState(s.lo, s.hi, epoch, chunks[0], fp, tuple(id_hash[a] for a in chunks[0]))
            continue
        cur = k
        for j in range(len(chunks) - 1):
            right = chunks[-1] if j == len(chunks) - 2 else ()
            plan.ops.append(PlannedOp(cur, chunks[j], mids[j], right))
            plan.splits += 1
            if n >= MAX_SLOTS:
                raise ValueError(f"the batch tree is full ({MAX_SLOTS} slots): run a full epoch")
            cur, n = n, n + 1
        for j, (c, (lo, hi)) in enumerate(zip(chunks, ranges, strict=True)):
            st = SlotState(lo, hi, epoch, c, tuple(fps[a] for a in c), tuple(id_hash[a] for a in c))
            if j == 0:
                plan.slots[k] = st
            else:
                plan.slots.append(st)
    return plan


def apply_plan(state: TreeState, plan: UpdatePlan, epoch: int) -> TreeState:
    """The operator's record after the update is attested."""
    return TreeState(epoch, state.base_epoch, tuple(plan.slots))
