"""The batch tree of incremental epochs (issue 16): the one Python mirror of the registry's on-chain tree.

API (small and stable; everything else here is private):

* ``DEPTH`` (16), ``MAX_SLOTS`` (65,535), ``R`` (the BN254 scalar modulus: the top of the id-hash space);
* ``SlotLeaf(lo, hi, proof_epoch, words)``: one slot's statement; ``.body()`` / ``.hash()`` the on-chain leaf,
  ``.from_statement(st, lo, hi, proof_epoch)``, ``.statement()``, ``.holds(id_hash)``;
* ``leaf_body(lo, proof_epoch, words)``, ``leaf_hash_of(body, hi)``: the two hashing steps;
* ``slot_ranges(first_id_hashes)``: the [lo, hi) of each batch of a full epoch (a partition of [0, R));
* ``in_slot_range(words_or_statement, lo, hi)``: the range rule every op's new batch obeys;
* ``BatchTree``: ``.full_epoch(statements, epoch)``, ``.slots``, ``.root()``, ``.path(k)``, ``.slot_of(id_hash)``,
  ``.totals()``, ``.apply(ops, epoch)`` (checks every rule the contract checks, raises ``TreeError``);
* ``verify_path(root, index, leaf, path)``, ``root_from_path(index, leaf, path)``;
* ``Replace(slot, new)``, ``Split(slot, mid, left, right)``: the update ops; ``encode_ops(tree, ops, epoch)`` gives
  the registry's ``ops`` calldata words and the tree after the ops;
* ``empty_statement(n_assets)``: the batch statement of a slot whose accounts all closed.

Why a tree: a full epoch proves every batch; an update epoch re-proves only the batches whose accounts changed and
carries the others' statements forward (docs/statement.md, "Incremental epochs"). The registry stores only the root of
a fixed-depth keccak Merkle tree over slot leaves and the slot count, so an update names an old slot by its leaf
preimage plus a path, and a user finds their slot by its id-hash range and checks its leaf against the root.

Leaf encoding (contracts/BatchTree.sol and SolvencyRegistry._account hash the same bytes):

    body = keccak256(lo || proof_epoch || words)        words = the batch's own public signals in layout order:
    leaf = keccak256(body || hi)                        batch_root, first_id_hash, last_id_hash, account_count,
                                                        total_equity, total_mm, under_mm_count, total_shortfall,
                                                        total_bad_debt, liabilities[0..A-1]

every value a 32-byte big-endian word. Two steps because a full epoch over several transactions hashes batch k's body
when batch k arrives (its words are in that transaction's calldata only) and learns hi_k = lo_{k+1} from batch k + 1.
``proof_epoch`` is the epoch whose transaction verified the proof (a public input of the proof, so an auditor can
re-verify a carried proof). An empty slot's leaf is bytes32(0); node = keccak256(left || right); the tree has
exactly DEPTH levels whatever the slot count (the root of an empty subtree of height h is Z_h, Z_0 = 0,
Z_{h+1} = keccak256(Z_h || Z_h)).

Ops calldata (``uint256[]``, one op after another, applied in order, each against the root the previous one left):

    REPLACE: [1 | slot << 8, lo, hi, proof_epoch, old words (9 + A), path (DEPTH siblings, leaf level first)]
    SPLIT:   [2 | slot << 8, lo, hi, proof_epoch, old words (9 + A), path, mid, path of slot n (DEPTH)]

The old leaf is given by its preimage (the contract needs its totals to subtract them); slot n of a SPLIT is the next
free slot (n = slot count), its path is taken after slot ``slot`` got its new leaf, and its current leaf must be 0.
The new batches come in the submission's ``words`` (with their proofs) in op order: one per REPLACE, two per SPLIT
(left then right).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from eth_utils import keccak

from .attestation import BatchStatement

DEPTH = 16
# 2^16 - 1, not 2^16: the registry builds a full epoch's root incrementally (a frontier of DEPTH nodes), which never
# has to hold a full tree that way; BatchTree.sol's MAX_SLOTS is the same.
MAX_SLOTS = (1 << DEPTH) - 1
R = 21888242871839275222246405745257275088548364400416034343698204186575808495617
OWN_FIXED = 9  # own public words before the liabilities
REPLACE = 1
SPLIT = 2
_ZERO = bytes(32)


class TreeError(ValueError):
    """An update the registry would refuse (each message names the rule; the contract's revert says the same)."""


def _w(v: int) -> bytes:
    if not 0 <= v < 1 << 256:
        raise TreeError(f"word out of range: {v}")
    return int(v).to_bytes(32, "big")


def _h(a: bytes, b: bytes) -> bytes:
    return keccak(a + b)


def _zeros() -> list[bytes]:
    z = [_ZERO]
    for _ in range(DEPTH):
        z.append(_h(z[-1], z[-1]))
    return z


ZERO_HASHES: tuple[bytes, ...] = tuple(_zeros())


def statement_words(st: BatchStatement) -> list[int]:
    """The batch's own public signals in layout order (chain_encoding.statement_words, kept local so this module
    imports nothing but the statement type)."""
    return [
        st.batch_root,
        st.first_id_hash,
        st.last_id_hash,
        st.account_count,
        st.total_equity,
        st.total_mm,
        st.under_mm_count,
        st.total_shortfall,
        st.total_bad_debt,
        *st.liabilities,
    ]


def statement_from_words(words: Sequence[int]) -> BatchStatement:
    if len(words) < OWN_FIXED + 1:
        raise TreeError(f"a batch statement has at least {OWN_FIXED + 1} words, got {len(words)}")
    w = [int(x) for x in words]
    return BatchStatement(
        w[0],
        w[1],
        w[2],
        w[3],
        w[4],
        w[5],
        tuple(w[9:]),
        under_mm_count=w[6],
        total_shortfall=w[7],
        total_bad_debt=w[8],
    )


def empty_statement(n_assets: int) -> BatchStatement:
    """A batch with no account (all totals 0): what a slot becomes when every account in it closed. Its batch root is
    the circuit's root of an all-padding batch, which the operator's proof fixes; 0 here is only a placeholder for
    tests that never prove it."""
    return BatchStatement(0, 0, 0, 0, 0, 0, (0,) * n_assets)


def _words_of(x: BatchStatement | Sequence[int]) -> tuple[int, ...]:
    return tuple(statement_words(x)) if isinstance(x, BatchStatement) else tuple(int(v) for v in x)


def leaf_body(lo: int, proof_epoch: int, words: Sequence[int]) -> bytes:
    """First hashing step: keccak256(lo || proof_epoch || words) (known as soon as the batch arrives)."""
    return keccak(_w(lo) + _w(proof_epoch) + b"".join(_w(v) for v in words))


def leaf_hash_of(body: bytes, hi: int) -> bytes:
    """Second step: keccak256(body || hi) (hi is the next batch's lo, or R for the last slot)."""
    return keccak(body + _w(hi))


def in_slot_range(batch: BatchStatement | Sequence[int], lo: int, hi: int) -> bool:
    """The range rule of every op: an empty batch fits any slot; otherwise lo <= first_id_hash and
    last_id_hash < hi (the circuit makes ids strictly increase inside a batch, so every id is then in [lo, hi))."""
    w = _words_of(batch)
    return w[3] == 0 or (lo <= w[1] and w[2] < hi)


@dataclass(frozen=True)
class SlotLeaf:
    """One slot: the id-hash range [lo, hi) it owns, the epoch whose transaction verified its proof, its statement."""

    lo: int
    hi: int
    proof_epoch: int
    words: tuple[int, ...]

    @classmethod
    def from_statement(cls, st: BatchStatement | Sequence[int], lo: int, hi: int, proof_epoch: int) -> SlotLeaf:
        return cls(int(lo), int(hi), int(proof_epoch), _words_of(st))

    def body(self) -> bytes:
        return leaf_body(self.lo, self.proof_epoch, self.words)

    def hash(self) -> bytes:
        return leaf_hash_of(self.body(), self.hi)

    def statement(self) -> BatchStatement:
        return statement_from_words(self.words)

    def holds(self, id_hash: int) -> bool:
        """Whether ``id_hash`` lies in this slot's range (the slot a user must find their account in)."""
        return self.lo <= id_hash < self.hi

    @property
    def account_count(self) -> int:
        return self.words[3]


def slot_ranges(first_id_hashes: Sequence[int]) -> list[tuple[int, int]]:
    """[lo_k, hi_k) of a full epoch's batches: lo_0 = 0, lo_k = first_id_hash_k, hi_k = lo_{k+1}, hi_{n-1} = R. The
    registry's strictly increasing id-range check of full epochs makes these a partition of [0, R)."""
    n = len(first_id_hashes)
    if n == 0 or n > MAX_SLOTS:
        raise TreeError(f"a full epoch has 1..{MAX_SLOTS} batches, got {n}")
    los = [0, *(int(f) for f in first_id_hashes[1:])]
    his = [*los[1:], R]
    for lo, hi in zip(los, his, strict=True):
        if not lo < hi:
            raise TreeError("batch id ranges must strictly increase")
    return list(zip(los, his, strict=True))


def root_from_path(index: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root a leaf at ``index`` with sibling ``path`` (leaf level first) hashes to."""
    if len(path) != DEPTH:
        raise TreeError(f"a path has {DEPTH} siblings, got {len(path)}")
    if not 0 <= index < 1 << DEPTH:
        raise TreeError(f"slot {index} outside 0..{(1 << DEPTH) - 1}")
    node = leaf
    for level, sib in enumerate(path):
        node = _h(sib, node) if (index >> level) & 1 else _h(node, sib)
    return node


def verify_path(root: bytes, index: int, leaf: bytes, path: Sequence[bytes]) -> bool:
    """Whether the leaf (hash, or bytes32(0) for an empty slot) is at ``index`` under ``root``."""
    try:
        return root_from_path(index, leaf, path) == root
    except TreeError:
        return False


@dataclass(frozen=True)
class Replace:
    """Re-prove slot ``slot`` with ``new`` (same range; an empty batch when all its accounts closed)."""

    slot: int
    new: BatchStatement


@dataclass(frozen=True)
class Split:
    """Cut slot ``slot``'s [lo, hi) at ``mid``: ``left`` takes the slot with [lo, mid), ``right`` the next free slot
    with [mid, hi)."""

    slot: int
    mid: int
    left: BatchStatement
    right: BatchStatement


Op = Replace | Split


class BatchTree:
    """The slots of the latest attested epoch (index = slot, the tree's leaf position), with their Merkle tree."""

    def __init__(self, slots: Iterable[SlotLeaf]) -> None:
        self.slots: list[SlotLeaf] = list(slots)
        if len(self.slots) > MAX_SLOTS:
            raise TreeError(f"more than {MAX_SLOTS} slots")
        self._levels: list[list[bytes]] | None = None

    @classmethod
    def full_epoch(cls, statements: Sequence[BatchStatement | Sequence[int]], epoch: int) -> BatchTree:
        """The tree a full epoch's finalize records: batch k in slot k, ranges :func:`slot_ranges`, proof epoch =
        the epoch."""
        ws = [_words_of(s) for s in statements]
        ranges = slot_ranges([w[1] for w in ws])
        return cls(SlotLeaf(lo, hi, epoch, w) for (lo, hi), w in zip(ranges, ws, strict=True))

    def copy(self) -> BatchTree:
        return BatchTree(self.slots)

    def _build(self) -> list[list[bytes]]:
        if self._levels is None:
            level = [s.hash() for s in self.slots]
            levels = [level]
            for h in range(DEPTH):
                if len(level) % 2:
                    level = [*level, ZERO_HASHES[h]]
                level = [_h(level[i], level[i + 1]) for i in range(0, len(level), 2)]
                levels.append(level)
            self._levels = levels
        return self._levels

    def root(self) -> bytes:
        """The root the registry records (Z_DEPTH for no slot)."""
        top = self._build()[DEPTH]
        return top[0] if top else ZERO_HASHES[DEPTH]

    def path(self, index: int) -> list[bytes]:
        """The DEPTH siblings of slot ``index`` (any tree position < 2^DEPTH; an unused one has leaf bytes32(0))."""
        if not 0 <= index < 1 << DEPTH:
            raise TreeError(f"slot {index} outside 0..{(1 << DEPTH) - 1}")
        levels = self._build()
        out = []
        for h in range(DEPTH):
            sib = (index >> h) ^ 1
            out.append(levels[h][sib] if sib < len(levels[h]) else ZERO_HASHES[h])
        return out

    def slot_of(self, id_hash: int) -> int:
        """The ONE slot whose range holds ``id_hash`` (the ranges partition [0, R))."""
        hits = [k for k, s in enumerate(self.slots) if s.holds(id_hash)]
        if len(hits) != 1:
            raise TreeError(f"id hash {id_hash} is in {len(hits)} slots (the ranges must partition [0, R))")
        return hits[0]

    def totals(self) -> tuple[list[int], list[int]]:
        """([accounts, equity, MM, under-MM count, shortfall, bad debt], liabilities per asset) over every slot: what
        the registry's record holds after the epoch that left this tree."""
        sums = [0] * 6
        liab: list[int] = []
        for s in self.slots:
            for i in range(6):
                sums[i] += s.words[3 + i]
            if not liab:
                liab = [0] * (len(s.words) - OWN_FIXED)
            for i, v in enumerate(s.words[OWN_FIXED:]):
                liab[i] += v
        return sums, liab

    def is_partition(self) -> bool:
        """Whether the slot ranges, sorted, tile [0, R) exactly (true after any sequence of valid epochs)."""
        rs = sorted((s.lo, s.hi) for s in self.slots)
        if not rs or rs[0][0] != 0 or rs[-1][1] != R:
            return False
        return all(a[1] == b[0] and a[0] < a[1] for a, b in pairwise(rs)) and rs[-1][0] < R

    def _set(self, index: int, leaf: SlotLeaf) -> None:
        if index == len(self.slots):
            self.slots.append(leaf)
        else:
            self.slots[index] = leaf
        self._levels = None

    def apply(self, ops: Sequence[Op], epoch: int) -> list[int]:
        """Apply ``ops`` in order (new leaves get proof epoch ``epoch``), checking every rule the registry checks;
        returns the ``ops`` calldata words, each op's paths taken against the root the previous op left."""
        out: list[int] = []
        for op in ops:
            k = op.slot
            if not 0 <= k < len(self.slots):
                raise TreeError(f"slot {k} does not exist ({len(self.slots)} slots)")
            old = self.slots[k]
            head = [old.lo, old.hi, old.proof_epoch, *old.words]
            path = [int.from_bytes(p, "big") for p in self.path(k)]
            if isinstance(op, Replace):
                if not in_slot_range(op.new, old.lo, old.hi):
                    raise TreeError(f"REPLACE slot {k}: batch ids leave the slot's range")
                out += [REPLACE | k << 8, *head, *path]
                self._set(k, SlotLeaf.from_statement(op.new, old.lo, old.hi, epoch))
            else:
                n = len(self.slots)
                if n >= MAX_SLOTS:
                    raise TreeError("SPLIT: the tree is full")
                if not old.lo < op.mid < old.hi:
                    raise TreeError(f"SPLIT slot {k}: mid outside (lo, hi)")
                if not in_slot_range(op.left, old.lo, op.mid):
                    raise TreeError(f"SPLIT slot {k}: left batch ids leave [lo, mid)")
                if not in_slot_range(op.right, op.mid, old.hi):
                    raise TreeError(f"SPLIT slot {k}: right batch ids leave [mid, hi)")
                self._set(k, SlotLeaf.from_statement(op.left, old.lo, op.mid, epoch))
                path_n = [int.from_bytes(p, "big") for p in self.path(n)]
                out += [SPLIT | k << 8, *head, *path, op.mid, *path_n]
                self._set(n, SlotLeaf.from_statement(op.right, op.mid, old.hi, epoch))
        return out


def encode_ops(tree: BatchTree, ops: Sequence[Op], epoch: int) -> tuple[list[int], BatchTree]:
    """The registry's ``ops`` words for applying ``ops`` to ``tree`` in update epoch ``epoch``, and the tree after
    them (``tree`` itself is left unchanged)."""
    after = tree.copy()
    words = after.apply(ops, epoch)
    return words, after


def new_batches(ops: Sequence[Op]) -> list[BatchStatement]:
    """The batches an update proves, in the order its ``words`` carry them (one per REPLACE, left then right per
    SPLIT)."""
    out: list[BatchStatement] = []
    for op in ops:
        out += [op.new] if isinstance(op, Replace) else [op.left, op.right]
    return out
