"""The venue batch circuit (issue 15): N leaves with sparse positions and balances over a governed instrument
table, proven in lookup mode (LogUp range checks and tuple lookups under one BSB22 commitment, docs/lookups.md).

It states what :class:`~.circuit.SolvencyCircuit` states (every account's equity, MM, shortfall and bad debt as
``MarginEngine.evaluate`` computes them, batch totals, per-asset liabilities), with three differences:

* a position slot holds (instrument id, quantity) and looks its parameters up by id in the instrument table, a
  balance slot holds (asset id, amount) and looks up its tier row (with the asset's public price); the tables are
  committed once per proof and bound by the governed ``params_commitment`` (static columns, ladders, haircuts) and
  the ``market_commitment`` (marks, risk arrays): :mod:`.venue_tables`;
* an account needing more slots than a leaf holds spans linked leaves (:mod:`.venue_account`), and
  ``account_count`` counts accounts;
* per-asset liabilities are summed over the sparse slots by one weighted log-derivative identity
  (``lookup.weighted_sum_check``): sum_slots max(b, 0) / (X - asset id) = sum_a liabilities[a] / (X - a).

Public signals: the plain layout with one price and one liability per asset id (``venue_shape.venue_public_names``).
Proven with ``prover.committed.prove_committed``, verified with ``verifier.committed.verify_committed``.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Mapping, Sequence

from zkmargin.circuits.field import R
from zkmargin.circuits.lookup import (
    FixedTable,
    column_sum_check,
    limb_check_lookup,
    lookup_report,
    set_limb_bits,
    weighted_sum_check,
)
from zkmargin.circuits.r1cs import LC, R1CS, CommitFn, ConstraintSystem, HintFn, Value, _gc_paused

from .budget import ConstraintBudget
from .gadgets import signed
from .shape import FIXED_PUBLIC_NAMES, ID_BITS
from .venue_account import LeafSignals, build_leaf
from .venue_leaf import venue_leaf_arity
from .venue_params import VENUE_LIMB_BITS
from .venue_shape import VenueShape
from .venue_tables import VenueTables, build_tables
from .venue_tree import venue_root_gadget

__all__ = ["VENUE_LOOKUP_TABLE", "VenueCircuit"]

VENUE_LOOKUP_TABLE = "lookup table"


class VenueCircuit(ConstraintBudget):
    """Builds the venue constraint system for a shape; ``budget`` counts constraints per component (lookup limbs,
    recompositions and tuple queries attributed to the component that asked for them)."""

    def __init__(
        self,
        shape: VenueShape,
        limb_bits: int | None = VENUE_LIMB_BITS,
        keep_build_state: bool = False,
        count_only: bool = False,
    ) -> None:
        """``keep_build_state``: keep the builder's own copy of the constraints and the hints' input expressions after
        compiling (only a test that extends the system needs them); by default they are freed while compiling
        (``ConstraintSystem.compile(release=True)``), which roughly halves the peak memory of a large batch.
        ``count_only``: build without keeping any constraint or witness step (:class:`CountingSystem`), for the
        constraint count and budget of batches too large to hold (``n_constraints``, ``budget``; no ``r1cs``)."""
        venue_leaf_arity(shape.positions, shape.balances)
        self.shape = shape
        self.lookups = True
        self.cs = CountingSystem() if count_only else ConstraintSystem()
        self._init_budget()
        self.leaves: list[LeafSignals] = []
        self._tuple_cost: dict[str, int] = defaultdict(int)
        self._limb_bits: dict[str, list[int]] = defaultdict(list)
        # The build makes millions of LCs, constraints and steps and no reference cycles: with the cyclic collector
        # running, every few thousand allocations it walks all of them again (measured at the demo's 376 leaves:
        # 39.2 s of CPU with it, 23.8 s without; docs/performance.md "The default demo ... under 5 minutes").
        with _gc_paused():
            self._build()
            if limb_bits is not None:
                set_limb_bits(self.cs, limb_bits)
            if count_only:
                self.cs.finalize()
            else:
                self.r1cs: R1CS = self.cs.compile(release=not keep_build_state)
        if count_only:
            self.n_constraints = self.cs.n_constraints
            self._attribute_lookups()
            return
        self.n_constraints = self.r1cs.n_constraints
        self._attribute_lookups()
        self._pos: dict[int, int] = {}  # builder id -> compiled index, made by the first value() (tests)

    # ------------------------------------------------------------------ helpers (ConstraintBudget has part())

    def rc(self, cs: ConstraintSystem, x: Value, bits: int, name: str) -> None:
        """Every range check of the venue circuit is a LogUp lookup (queued for the finalizer)."""
        self._rc_lookup(cs, x, bits, name)

    def limb(self, cs: ConstraintSystem, x: Value, bits: int, name: str) -> None:
        """A value that is itself one limb (``lookup.limb_check_lookup``: one range-table query, no recomposition)."""
        self._limb_bits[self._current].append(bits)
        self.range_check_at[cs._qualify(name)] = (cs.n_constraints, bits)
        limb_check_lookup(cs, x, bits, name)

    def lookup(self, table: FixedTable, values: Sequence[Value]) -> int:
        self._tuple_cost[self._current] += table.arity
        return table.lookup(values)

    def column_sum(
        self, table: FixedTable, queries: Sequence[tuple[int, Value]], totals: Sequence[Value], name: str
    ) -> None:
        """``lookup.column_sum_check`` (weighted column sums of looked-up rows), attributed to the current part."""
        self._tuple_cost[self._current] += len(totals) + len(queries) + 1
        column_sum_check(self.cs, table, queries, totals, name)

    def _attribute_lookups(self) -> None:
        rep = lookup_report(self.cs)
        b = rep["limb_bits"]
        attributed = 0
        for comp, bits in self._lookup_bits.items():
            cost = sum(-(-n // b) + 1 + (1 if n % b else 0) for n in bits)
            self.budget[comp] += cost
            attributed += cost
        for comp, bits in self._limb_bits.items():
            cost = sum((1 + (n < b)) if n <= b else -(-n // b) + 1 + (1 if n % b else 0) for n in bits)
            self.budget[comp] += cost
            attributed += cost
        for comp, cost in self._tuple_cost.items():
            self.budget[comp] += cost
            attributed += cost
        self.budget[VENUE_LOOKUP_TABLE] += rep["constraints"] - attributed

    def value(self, lc: LC, witness: Sequence[int]) -> int:
        if not self._pos:
            self._pos = {sid: i for i, sid in enumerate(self.cs._order())}
        return signed(sum(c * witness[self._pos[s]] for s, c in lc.terms.items()) % R)

    def witness(self, inputs: Mapping[str, int], commit: CommitFn | None = None) -> list[int]:
        """The witness; without ``commit`` the challenge is random (enough to check the constraints)."""
        return self.cs.witness(inputs, commit=commit or _random_challenge)

    def public_index(self, name: str) -> int:
        return self.r1cs.signal_index(name) - 1

    def supplied_public(self, witness: Sequence[int]) -> list[int]:
        return self.r1cs.public_signals(witness)[:-1]

    # ------------------------------------------------------------------ build

    def _build(self) -> None:
        cs, sh = self.cs, self.shape
        pub = {n: cs.input(n, public=True) for n in FIXED_PUBLIC_NAMES}
        prices = [cs.input(f"prices[{a}]", public=True) for a in range(sh.assets)]
        liabilities = [cs.input(f"liabilities[{a}]", public=True) for a in range(sh.assets)]
        self.tables: VenueTables = build_tables(self, pub, prices)
        conts, gconts = [], []
        for i in range(sh.accounts):
            with cs.scope(f"acct[{i}]"):
                conts.append(cs.input("cont"))
                gconts.append(cs.input("gcont"))
        prev = None
        for i in range(sh.accounts):
            nxt_c = conts[i + 1] if i + 1 < sh.accounts else LC()
            nxt_g = gconts[i + 1] if i + 1 < sh.accounts else LC()
            with cs.scope(f"acct[{i}]"), cs.unit():  # a witness unit (circuits/witness_parallel.py)
                leaf = build_leaf(self, prev, conts[i], gconts[i], nxt_c, nxt_g)
            self.leaves.append(leaf)
            prev = leaf.carry
        self._batch(pub, liabilities)

    def _batch(self, pub: dict[str, LC], liabilities: list[LC]) -> None:
        cs, sh, lv = self.cs, self.shape, self.leaves
        with self.part("ordering + padding"), cs.scope("order"):
            self.rc(cs, lv[0].id_hash, ID_BITS, "first_id.range")
            last = LC()
            ends = []
            for i in range(sh.accounts):
                nxt_active = lv[i + 1].active if i + 1 < sh.accounts else LC()
                nxt_cont = lv[i + 1].cont if i + 1 < sh.accounts else LC()
                if i + 1 < sh.accounts:
                    cs.constrain(nxt_active, 1 - lv[i].active, LC(), f"prefix[{i}]")
                    step = lv[i + 1].id_hash - lv[i].id_hash
                    cs.constrain(nxt_cont, step, LC(), f"same_account[{i}]")  # a linked leaf repeats the id hash
                    gap = cs.mul(nxt_active, step - 1 + nxt_cont, f"gap[{i}]")
                    self.rc(cs, gap, ID_BITS, f"gap[{i}].range")
                last = last + cs.mul(lv[i].active - nxt_active, lv[i].id_hash, f"last[{i}]")
                ends.append(lv[i].active - nxt_cont)  # the account's last leaf
            cs.assert_equal(pub["first_id_hash"], lv[0].id_hash, "first_id_hash")
            cs.assert_equal(pub["last_id_hash"], last, "last_id_hash")
            # ids strictly increase up to the last, so every id hash is < 2^128 and the leaf head's fields (the id
            # hash at 2^73, the last flag at 2^201) cannot overlap
            self.rc(cs, last, ID_BITS, "last_id.range")
            count = sum((x.active - x.cont for x in lv), LC())
            cs.assert_equal(pub["account_count"], count, "account_count")
        with self.part("tree"):
            root = venue_root_gadget(cs, [x.leaf for x in lv], sh.depth, "tree")
            self.root = root
            cs.assert_equal(pub["batch_root"], root, "batch_root")
        with self.part("totals"), cs.scope("totals"):
            for name, get in (
                ("total_equity", lambda x: x.positive_equity),
                ("total_mm", lambda x: x.mm),
                ("under_mm_count", lambda x: x.under_mm),
                ("total_shortfall", lambda x: x.shortfall),
                ("total_bad_debt", lambda x: x.bad_debt),
            ):
                total = sum(
                    (cs.mul(e, get(x), f"{name}[{i}]") for i, (e, x) in enumerate(zip(ends, lv, strict=True))), LC()
                )
                cs.assert_equal(pub[name], total, name)
            # what the venue owes per asset: positive balances, summed over the sparse slots by asset id
            queries = [q for x in lv for q in x.liabilities]
            weighted_sum_check(cs, queries, [(a + 1, lia) for a, lia in enumerate(liabilities)], "liabilities")
        if sh.box:
            with self.part("price box"), cs.scope("box"):
                # per (account, underlying) key, the leaves' entries sum what the slots sum, column by column
                # (equity and margin at -b and +b): four weighted log-derivative identities at the challenge
                slots = [x for leaf in lv for x in leaf.box_slots]
                entries = [x for leaf in lv for x in leaf.box_entries]
                for k, col in enumerate(("equity_lo", "equity_hi", "margin_lo", "margin_hi"), 1):
                    weighted_sum_check(cs, [(x[0], x[k]) for x in slots], [(x[0], x[k]) for x in entries], col)


class CountingSystem(ConstraintSystem):
    """A constraint system that only counts: constraints and witness steps are dropped as they are made (signals,
    names and the lookup queries stay, so the finalizer builds and counts the LogUp part as usual). The count equals
    a full build's (``tests/solvency/test_venue_cost.py``); it cannot compile or compute a witness."""

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    def constrain(self, a: Value, b: Value, c: Value, name: str) -> None:
        self._count += 1

    @property
    def n_constraints(self) -> int:
        return self._count

    def hint(self, name: str, fn: HintFn, *deps: Value, count: int = 1) -> list[LC]:
        return [LC({self._new("internal", f"{name}[{i}]" if count > 1 else name): 1}) for i in range(count)]

    def fill(self, outputs: Sequence[LC], fn: HintFn, *deps: Value) -> None:
        for o in outputs:
            self._reserved.discard(next(iter(o.terms)))

    def commit(self, values: Sequence[Value], name: str = "commitment.challenge") -> LC:
        return LC({self._new("internal", name): 1})

    def compile(self, release: bool = False) -> R1CS:
        raise ValueError("a CountingSystem only counts constraints")


def _random_challenge(values: list[int], public: list[int]) -> int:
    return secrets.randbelow(R)
