"""The batch solvency circuit: N committed accounts, each proven to have equity >= maintenance margin computed
bit-exactly as :meth:`zkmargin.prover.engine.margin.MarginEngine.evaluate` (modes cross and portfolio; isolated
accounts in their cross view), with ordered leaves, a Merkle root, batch totals and a parameter commitment.

Per account (names are the witness input names under ``acct[i].``):

* inputs ``active, id_hash, salt, portfolio, cash, bal[a], qty[j]``; inactive slots are constrained all-zero and
  their leaf is the empty leaf 0; actives form a prefix ordered by strictly increasing id_hash.
* collateral: B_a = floor(b_a * price_a / 1e10) from one division of |b_a| (tight remainder); positive values pass
  through the asset's haircut tiers (tier chosen by a proven one-hot), negative values count in full;
  H = floor(sum_a numerator_a / 1e6).
* positions: V_j = floor(q_j * mark_j / 1e10), N_j = ceil(|q_j| * mark_j / 1e10) from one division of |q_j|;
  bracket k with floor_k <= N_j < floor_{k+1} by a proven one-hot; tiered MM = ceil(sum_j (N_j mmr_k - cum_k 1e6)
  / 1e6) over the slots that pay tiered margin (all slots for cross, slots without a risk array for portfolio).
* portfolio: per underlying u, Y_u = max(0, max_s -sum_j q_j R_j[s], sum_{j short} |q_j| smin_j) with R = long
  array for q > 0 and short array = long + 1 otherwise (one product per slot and scenario); IM_u = ceil(Y_u / 1e8)
  (= the engine's max of per-scenario ceilings, ceil being monotone); MM_p = ceil(sum_u IM_u * mm_ratio / 1e6),
  counted when the portfolio flag is set.
* equity = H + cash + sum_j V_j (cash = realised PnL + isolated margins - entry values); equity - MM in [0, 2^64).

Layout: this module holds the circuit object and the batch part (ordering, tree, totals); ``circuit_params.py`` the
batch-level parameter commitments and hard floors; ``circuit_account.py`` the per-account part.

Lookup mode (``SolvencyCircuit(shape, lookups=True)``, issue 14): the same statement with every range check proven by
LogUp limbs and every bracket/tier interval by one tuple lookup in a committed table of the batch's parameters
(docs/lookups.md, docs/circuit.md). The circuit then declares ONE Groth16 commitment (limbs, multiplicities, looked-up
rows and the table's parameter wires) whose challenge is its last public signal; it is proven with
``prover.committed.prove_committed`` and verified with ``verifier.committed.verify_committed`` (not snarkjs, not the
registry's plain verifier). The default stays the plain circuit, unchanged.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from zkmargin.circuits.field import R
from zkmargin.circuits.gadgets import RangeCheck, range_check
from zkmargin.circuits.lookup import FixedTable, committed_table, lookup_report, set_limb_bits
from zkmargin.circuits.merkle import merkle_root_gadget
from zkmargin.circuits.r1cs import LC, R1CS, CommitFn, ConstraintSystem, Value

from .budget import ConstraintBudget
from .circuit_account import AccountSignals, build_account
from .circuit_params import ParamSignals, build_params
from .gadgets import interval_rows, signed
from .leaf import leaf_arity
from .shape import FIXED_PUBLIC_NAMES, ID_BITS, VALUE_TOP, SolvencyShape

__all__ = ["COMPONENTS", "LOOKUP_TABLE", "AccountSignals", "SolvencyCircuit"]

LOOKUP_TABLE = "lookup table"  # lookup mode: the range table, the interval table's rows, the two LogUp sums

COMPONENTS = (
    "input ranges",
    "divisions",
    "haircut tiers",
    "brackets",
    "tiered MM",
    "scenarios",
    "solvency check",
    "leaf hash",
    "ordering + padding",
    "tree",
    "totals",
    "params commitment",
    "hard floors + marks",
    LOOKUP_TABLE,
)


class SolvencyCircuit(ConstraintBudget):
    """Builds the constraint system for a shape; ``budget`` counts constraints per component.

    ``lookups=False`` (default): the plain circuit (bit decompositions), proven with plain Groth16 and verifiable by
    snarkjs and the registry. ``lookups=True``: the same statement through LogUp lookups and one Groth16 commitment.
    In lookup mode the limbs, inverses and table rows are built when the circuit is compiled; their constraints are
    attributed to the component that asked for the check (``budget``), the shared part to ``"lookup table"``.
    """

    def __init__(
        self,
        shape: SolvencyShape,
        lookups: bool = False,
        limb_bits: int | None = None,
        keep_build_state: bool = False,
    ) -> None:
        """``limb_bits`` (lookup mode only) fixes the LogUp limb size instead of the finalizer's constraint-minimal
        choice, for measuring prove time against it (``scripts/bench_circuit.py --limb-sweep``).

        ``keep_build_state``: keep the builder's own constraints and the hints' input expressions after compiling (a
        test that re-evaluates the steps from their LCs needs them); by default they are freed while compiling
        (``ConstraintSystem.compile(release=True)``, as the venue circuit does): the per-constraint Python objects
        are the bulk of a large batch's memory (1,024 accounts: ~15 GB held twice, issue 17)."""
        if limb_bits is not None and not lookups:
            raise ValueError("limb_bits needs lookups=True")
        self.shape = shape
        self.lookups = lookups
        leaf_arity(shape.assets, shape.positions)
        self.cs = ConstraintSystem()
        self._init_budget()
        self.accounts: list[AccountSignals] = []
        self.rc: RangeCheck = self._rc_lookup if lookups else range_check
        self.intervals: FixedTable | None = None
        self.bracket_rows: list[list[tuple[Value, ...]]] = []
        self.tier_rows: list[list[tuple[Value, ...]]] = []
        self._build()
        if limb_bits is not None:
            set_limb_bits(self.cs, limb_bits)
        self.r1cs: R1CS = self.cs.compile(release=not keep_build_state)
        if lookups:
            self._attribute_lookups()
        order = self.cs._order()
        self._pos = {sid: i for i, sid in enumerate(order)}

    # ------------------------------------------------------------------ helpers

    def _attribute_lookups(self) -> None:
        """Move the finalizer's constraints to the components that asked for them (limbs, recomposition and the
        shifted high limb per range check; arity products and one inverse per interval lookup); the rest (table
        rows, challenge powers, the two sums) is the batch-level ``"lookup table"`` component."""
        rep = lookup_report(self.cs)
        b = rep["limb_bits"]
        attributed = 0
        for comp, bits in self._lookup_bits.items():
            cost = sum(-(-n // b) + 1 + (1 if n % b else 0) for n in bits)
            self.budget[comp] += cost
            attributed += cost
        if self.intervals is not None:
            per = self.intervals.arity  # arity - 1 products and one inverse per query
            for comp, n in (("haircut tiers", len(self.tier_rows)), ("brackets", len(self.bracket_rows))):
                self.budget[comp] += per * n * self.shape.accounts
                attributed += per * n * self.shape.accounts
        self.budget[LOOKUP_TABLE] += rep["constraints"] - attributed

    def value(self, lc: LC, witness: Sequence[int]) -> int:
        """Signed integer value of an internal linear combination under a compiled-order witness."""
        return signed(sum(c * witness[self._pos[s]] for s, c in lc.terms.items()) % R)

    def witness(self, inputs: Mapping[str, int], commit: CommitFn | None = None) -> list[int]:
        """The witness. In lookup mode the challenge comes from ``commit`` (the prover's derivation from D, see
        ``prover.committed.prove_committed``); without one it is drawn at random, which is what the verifier's
        derivation gives a prover who cannot choose it: enough to check that the constraints hold."""
        if self.lookups and commit is None:
            return self.cs.witness(inputs, commit=random_challenge)
        return self.cs.witness(inputs, commit=commit)

    def public_index(self, name: str) -> int:
        """Position of a public signal in the public array (0-based, excluding the constant one)."""
        return self.r1cs.signal_index(name) - 1

    def supplied_public(self, witness: Sequence[int]) -> list[int]:
        """The public signals a prover publishes (in lookup mode the derived challenge, last, is left out)."""
        pub = self.r1cs.public_signals(witness)
        return pub[:-1] if self.r1cs.commitment is not None else pub

    # ------------------------------------------------------------------ build

    def _build(self) -> None:
        cs, sh = self.cs, self.shape
        pub = {n: cs.input(n, public=True) for n in FIXED_PUBLIC_NAMES}
        prices = [cs.input(f"prices[{a}]", public=True) for a in range(sh.assets)]
        liabilities = [cs.input(f"liabilities[{a}]", public=True) for a in range(sh.assets)]
        self.params: ParamSignals = build_params(self, pub, prices)
        if self.lookups:
            self._interval_table()
        for i in range(sh.accounts):
            with cs.scope(f"acct[{i}]"), cs.unit():  # a witness unit: accounts are evaluated in parallel
                self.accounts.append(build_account(self, prices))
        self._batch(pub, liabilities)

    def _interval_table(self) -> None:
        """One committed table for every bracket and haircut tier of the batch: rows (key, floor, next floor, rate,
        cum), key j for position slot j and P + a for asset slot a, so a lookup cannot take another slot's row."""
        sh, p = self.shape, self.params
        self.bracket_rows = [
            interval_rows(j, p.b_floor[j], VALUE_TOP, [p.b_mmr[j], p.b_cum[j]]) for j in range(sh.positions)
        ]
        self.tier_rows = [
            interval_rows(sh.positions + a, p.h_floor[a], VALUE_TOP, [p.h_rate[a], p.h_cum[a]])
            for a in range(sh.assets)
        ]
        rows = [r for rs in (*self.bracket_rows, *self.tier_rows) for r in rs]
        with self.cs.scope("params"):
            self.intervals = committed_table(self.cs, rows, "intervals")

    def _batch(self, pub: dict[str, LC], liabilities: list[LC]) -> None:
        cs, sh = self.cs, self.shape
        accts = self.accounts
        with self.part("ordering + padding"), cs.scope("order"):
            self.rc(cs, accts[0].id_hash, ID_BITS, "first_id.range")
            last = LC()
            for i in range(sh.accounts):
                nxt = accts[i + 1].active if i + 1 < sh.accounts else LC()
                if i + 1 < sh.accounts:
                    cs.constrain(nxt, 1 - accts[i].active, LC(), f"prefix[{i}]")
                    gap = cs.mul(nxt, accts[i + 1].id_hash - accts[i].id_hash - 1, f"gap[{i}]")
                    self.rc(cs, gap, ID_BITS, f"gap[{i}].range")
                last = last + cs.mul(accts[i].active - nxt, accts[i].id_hash, f"last[{i}]")
            cs.assert_equal(pub["first_id_hash"], accts[0].id_hash, "first_id_hash")
            cs.assert_equal(pub["last_id_hash"], last, "last_id_hash")
            cs.assert_equal(pub["account_count"], sum((x.active for x in accts), LC()), "account_count")
        with self.part("tree"):
            root = merkle_root_gadget(cs, [x.leaf for x in accts], sh.depth, "tree")
            cs.assert_equal(pub["batch_root"], root, "batch_root")
        with self.part("totals"), cs.scope("totals"):
            cs.assert_equal(pub["total_equity"], sum((x.positive_equity for x in accts), LC()), "total_equity")
            cs.assert_equal(pub["total_mm"], sum((x.mm for x in accts), LC()), "total_mm")
            cs.assert_equal(pub["under_mm_count"], sum((x.under_mm for x in accts), LC()), "under_mm_count")
            cs.assert_equal(pub["total_shortfall"], sum((x.shortfall for x in accts), LC()), "total_shortfall")
            cs.assert_equal(pub["total_bad_debt"], sum((x.bad_debt for x in accts), LC()), "total_bad_debt")
            # what the exchange owes per asset: positive balances only, never netted against other users' debts
            for a, lia in enumerate(liabilities):
                cs.assert_equal(lia, sum((x.positive_balances[a] for x in accts), LC()), f"liabilities[{a}]")


def random_challenge(values: list[int], public: list[int]) -> int:
    """A uniformly random challenge (for constraint checks; a real proof derives it from the commitment)."""
    return secrets.randbelow(R)
