"""Constraint budget and prove time of the solvency circuit (issue 4).

1. constraints per account as a function of collateral slots A and position slots P (K=10 brackets, T=3 tiers,
   S=16 scenarios, one portfolio underlying), including the account's leaf hash and its Merkle node (N-1 nodes
   for N leaves), without the batch-level parameter commitment (reported separately, amortised);
2. the component breakdown of the 4-collateral, 8-position, 16-scenario shape built from the demo exchange
   (Binance BTCUSDT ladder: K=10; 3 haircut tiers; BTC and ETH risk arrays: U=2, S=16);
3. a floor for that shape: the range-check bits the statement itself requires (see floor()), next to the measured
   components, and the amortisation of the batch-level parameter commitment over larger batches;
4. dev setup + prove of a 16-account batch of that shape with our prover (unless --no-prove).

With --lookups (issue 14): the plain circuit next to its lookup mode (``SolvencyCircuit(shape, lookups=True)``: LogUp
range checks, interval rows by tuple lookup, one Groth16 commitment): constraints per account, all costs included
(parameter commitments, the range table and the interval table amortised over the batch), at 16, 64, 256 and 1,024
accounts per batch for the benchmark shape and the demo shape (prover/operator/exchange.py); the lookup-mode floor,
where its constraints go by component and by kind; then, in one run, dev setup and proofs of the plain circuit (16
accounts: the product's batch) and of lookup mode (16 and 256 accounts), interleaved --reps times on packed-only keys
(the operator's key form), with the phases of each, the speedup per account against plain and verify_committed's time.

With --venue (issue 15): the venue circuit (``VenueCircuit``: sparse (id, amount) slots looked up in a governed
1,000-instrument, 20-asset table, linked leaves; ``prover/venue_universe.py``) on the synthetic venue of
``scripts/gen_snapshot.py``: first the choice of P and A (constraints per leaf, measured, times the leaves per
account the synthetic book needs), then constraints per leaf and per account at each --venue-sizes batch (the tables
paid once per batch), then dev setup, proof and verification of a --venue-prove batch: prove time per account and
the process's peak memory.

Usage: python scripts/bench_circuit.py [--no-prove] [--table-only]
       python scripts/bench_circuit.py --venue [--venue-point] [--venue-sizes N ...] [--venue-prove N] [--slots P A]
                                       [--no-prove] [--venue-count-only N ...]
                                       [--venue-lean-setup [--venue-key-dir DIR]]
       python scripts/bench_circuit.py --witness-vs-prove 256 1024 [--reps K] [--witness-profile] [--witness-only]
       python scripts/bench_circuit.py --venue-witness 1024 [--slots P A]
       python scripts/bench_circuit.py --lookups [--sizes N ...] [--prove-accounts N ...] [--plain-prove-accounts N]
                                       [--reps K] [--limb-sweep B ...] [--no-prove]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zkmargin.circuits import witness_parallel
from zkmargin.circuits.lookup import _LookupState as LookupState
from zkmargin.circuits.lookup import lookup_report, range_cost
from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import ScenarioGrid
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.circuits.solvency import COMPONENTS, LOOKUP_TABLE, SolvencyCircuit, SolvencyShape
from zkmargin.circuits.solvency.shape import CASH_BITS, ID_BITS, QTY_BITS, SCEN_BITS, VALUE_BITS
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.prover.committed import CommittedProvingKey, dev_setup_committed, prove_committed
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.groth16 import ProveStats, prove
from zkmargin.prover.keys import ProvingKey
from zkmargin.prover.operator import exchange
from zkmargin.prover.setup.dev import dev_setup
from zkmargin.prover.solvency_witness import build_batch, make_layout
from zkmargin.prover.zkey import read_zkey, write_zkey
from zkmargin.verifier.committed import verify_committed
from zkmargin.verifier.groth16 import verify
from zkmargin.verifier.types import VerifyingKey

BATCH_LEVEL = ("params commitment", "hard floors + marks", "totals", LOOKUP_TABLE)
SIZES = (16, 64, 256, 1024)
PLAIN_BUILT = (16, 64)  # the plain circuit is affine in N (N leaves, N - 1 nodes and gaps): larger N extrapolated
ASSETS4 = ("BTC", "ETH", "USDT", "SOL")  # SOL: the SOL-PERP's oracle index (not collateral: haircut rate 0)
SLOTS8 = ("BTC-PERP", "ETH-PERP", "BTC-FUT-90D", "SOL-PERP", "BTC-30D-36000-C", "BTC-30D-39600-P",
          "ETH-30D-2000-C", "ETH-7D-2200-P")  # fmt: skip


def per_account(shape: SolvencyShape) -> tuple[float, int]:
    """(constraints per account incl. leaf and a full Merkle node, batch-level params commitment)."""
    c = SolvencyCircuit(shape)
    n = shape.accounts
    acct = sum(v for k, v in c.budget.items() if k not in (*BATCH_LEVEL, "tree")) / n
    node = c.budget["tree"] / max(1, n - 1)  # one 2-to-1 hash per leaf in a large batch
    return acct + node, c.budget["params commitment"]


def table() -> None:
    print("## constraints per account (K=10, T=3, S=16, U=1; leaf + tree node included, params excluded)\n")
    ps = (2, 4, 8, 16)
    print("| A \\ P | " + " | ".join(str(p) for p in ps) + " |")
    print("|---|" + "---|" * len(ps))
    for a in (1, 2, 4, 8):
        row = []
        for p in ps:
            cost, _ = per_account(SolvencyShape.uniform(2, a, p, brackets=10, tiers=3, scenarios=16, underlyings=1))
            row.append(f"{cost:,.0f}")
        print(f"| {a} | " + " | ".join(row) + " |")
    print()
    print("Without portfolio margin (U=0, no scenario array):\n")
    print("| A \\ P | " + " | ".join(str(p) for p in ps) + " |")
    print("|---|" + "---|" * len(ps))
    for a in (1, 4, 8):
        row = []
        for p in ps:
            cost, _ = per_account(SolvencyShape.uniform(2, a, p, brackets=10, tiers=3, scenarios=16, underlyings=0))
            row.append(f"{cost:,.0f}")
        print(f"| {a} | " + " | ".join(row) + " |")
    print()


def floor(sh: SolvencyShape, circuit: SolvencyCircuit) -> dict[str, int]:
    """Constraints per account that any plain-R1CS circuit proving this statement at these widths must spend.

    In R1CS without lookups a k-bit range check needs about k constraints: a quadratic constraint at most doubles
    the degree of the system, and pinning a value to 2^k admissible integers takes degree 2^k (Bezout), so
    bit decomposition is optimal up to a constant. The statement needs, per account: every balance and quantity
    in (-2^53, 2^53) and cash in (-2^63, 2^63) (else a negative balance poses as a huge one); an exact floor/ceil
    division by 1e10 per balance and position (a remainder < 1e10: 34 bits, else the value is off by one); for every
    position and every collateral balance two comparisons against its bracket / tier interval (VALUE_BITS each);
    per portfolio underlying, the worst loss >= each of the S scenario losses and the short-option minimum
    (SCEN_BITS each); strictly increasing id hashes (ID_BITS); and the hashes that bind the account to its leaf
    and the batch root (taken as measured: Poseidon is already the cheapest standard R1CS hash).
    """
    a, p, u, n = sh.assets, sh.positions, sh.underlyings, sh.accounts
    return {
        "input ranges": (a + p) * (QTY_BITS + 1) + CASH_BITS + 1,
        "divisions": (a + p) * (10**10 - 1).bit_length(),
        "haircut tiers": a * 2 * VALUE_BITS if sh.tiers > 1 else 0,
        "brackets": p * 2 * VALUE_BITS if sh.brackets > 1 else 0,
        "scenarios": u * (sh.scenarios + 1) * SCEN_BITS,
        "leaf hash + tree": round((circuit.budget["leaf hash"] + circuit.budget["tree"]) / n),
        "ordering": ID_BITS,
    }


def floor_report(sh: SolvencyShape, circuit: SolvencyCircuit, per: dict[str, float]) -> None:
    fl = floor(sh, circuit)
    measured = {
        "input ranges": per["input ranges"],
        "divisions": per["divisions"],
        "haircut tiers": per["haircut tiers"],
        "brackets": per["brackets"] + per["tiered MM"],
        "scenarios": per["scenarios"],
        "leaf hash + tree": per["leaf hash"] + per["tree"],
        "ordering": per["ordering + padding"],
    }
    print("\n## floor: range-check bits the statement requires (plain R1CS, these widths), vs measured\n")
    print("| component | floor | measured |")
    print("|---|---:|---:|")
    for k, v in fl.items():
        print(f"| {k} | {v:,} | {measured[k]:,.0f} |")
    tf, tm = sum(fl.values()), sum(measured.values()) + per["solvency check"]
    print(f"| **total per account (params excluded)** | **{tf:,}** | **{tm:,.0f}** |")
    one = SolvencyShape.uniform(sh.accounts, sh.assets, sh.positions, sh.brackets, sh.tiers, sh.scenarios, 1)
    f1 = sum(floor(one, circuit).values())
    print(f"\nwith one portfolio underlying instead of {sh.underlyings}: floor {f1:,}; the issue's target is 2,000.\n")


def amortisation(per_account: float, params: int) -> None:
    print("| accounts per batch | 16 | 64 | 256 | 1,024 |")
    print("|---|---:|---:|---:|---:|")
    row = " | ".join(f"{per_account + params / n:,.0f}" for n in (16, 64, 256, 1024))
    print(f"| constraints per account incl. params commitment | {row} |\n")


def demo_engine() -> MarginEngine:
    """The demo exchange with a 16-scenario grid (5 price moves x 3 vol shocks + 1 extreme move)."""
    grid = ScenarioGrid(
        price_moves=[-150_000, -75_000, 0, 75_000, 150_000], vol_shocks=[-250_000, 0, 250_000],
        extreme_moves=[-330_000], extreme_coverage=350_000,
    )  # fmt: skip
    params = demo.params().model_copy(update={"scenario_grids": {"BTC": grid, "ETH": grid}})
    insts, snap = demo.instruments(), demo.snapshot()
    ra = build_risk_arrays(insts, snap, params.scenario_grids, params.short_option_min)
    return MarginEngine(insts, params, snap, ra)


def demo_accounts(engine: MarginEngine, n: int) -> list[Account]:
    snap = engine.snapshot
    out: list[Account] = []
    i = 0
    while len(out) < n:
        portfolio = i % 3 == 2
        pos = []
        for j, sym in enumerate(SLOTS8):
            inst = engine.instruments[sym]
            if (i + j) % 3 == 0 and (inst.kind != "option" or portfolio):
                q = round((0.5 + (i * 7 + j) % 5) * 10**8 / max(1, snap.marks[sym] // 10**12)) * (-1) ** (i + j)
                if inst.kind == "option":
                    pos.append(Position(instrument=sym, quantity=((i + j) % 4 - 2 or 1) * 10**7))
                else:
                    pos.append(Position(instrument=sym, quantity=q, entry_price=snap.marks[sym] * (1000 + j) // 1000))
        bal = {"USDT": (20_000 + 3_000 * i) * 10**8, "BTC": (i % 4) * 10**7, "ETH": (i % 3) * 10**8}
        acct = Account(
            account_id=f"bench-{i}", margin_mode="portfolio" if portfolio else "cross", balances=bal, positions=pos
        )
        if engine.evaluate(acct).status != "liquidation":
            out.append(acct)
        i += 1
    return out


def compare_modes(
    label: str, engine: MarginEngine, slots: Sequence[str], assets: Sequence[str], sizes: Sequence[int] = SIZES
) -> tuple[dict[str, float], SolvencyCircuit]:
    """Constraints per account, all costs included, in both modes at every batch size. Lookup mode is built at each
    size (the finalizer picks the limb size for that batch, so the per-account cost is not affine in N); the plain
    circuit is built at 16 and 64 and extrapolated exactly (it is affine in N for powers of two)."""
    out: dict[str, float] = {}
    plain_total = {
        n: SolvencyCircuit(make_layout(engine, slots, assets, accounts=n).shape).r1cs.n_constraints for n in PLAIN_BUILT
    }
    rows = []
    for n in sizes:
        sh = make_layout(engine, slots, assets, accounts=n).shape
        a, b = PLAIN_BUILT
        alpha = (plain_total[b] - plain_total[a]) / (b - a)
        plain = (plain_total[a] + alpha * (n - a)) / n
        t0 = time.perf_counter()
        c = SolvencyCircuit(sh, lookups=True)
        build = time.perf_counter() - t0
        rep = lookup_report(c.cs)
        lk = c.r1cs.n_constraints / n
        rows.append((n, plain, n not in PLAIN_BUILT, lk, rep["limb_bits"], c.r1cs.n_constraints, build))
        out[f"plain_{n}"], out[f"lookups_{n}"] = plain, lk
        last = c  # the largest batch's circuit, for the floor table
    sh0 = make_layout(engine, slots, assets, accounts=16).shape
    print(f"### {label}: A={sh0.assets}, P={sh0.positions}, K={sh0.brackets}, T={sh0.tiers}, S={sh0.scenarios}, "
          f"U={sh0.underlyings}\n")  # fmt: skip
    print("| accounts per batch | plain per account | lookups per account | ratio | limb bits | lookup constraints "
          "| lookup build (s) |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, plain, extrap, lk, b, tot, build in rows:
        mark = " (extrapolated)" if extrap else ""
        print(f"| {n:,} | {plain:,.0f}{mark} | {lk:,.0f} | {plain / lk:.2f} | {b} | {tot:,} | {build:.1f} |")
    print()
    return out, last


def lookup_floor(sh: SolvencyShape, c: SolvencyCircuit) -> None:
    """Where the lookup circuit's constraints go, next to a floor for it.

    With lookups a k-bit range check costs ceil(k / b) + 1 (limbs and recomposition) instead of k + 1, and an interval
    (bracket or tier row) one tuple lookup instead of a one-hot. What no lookup removes: the Poseidon leaf and Merkle
    node (hashes, taken as measured), the scenario products q_j * R_j[s] (one per risk-array slot and scenario: a
    product of two private values), and one constraint per looked-up limb. The floor below is those products and
    hashes plus the plain floor's range bits divided by the chosen limb size (at least one limb per check)."""
    n = sh.accounts
    b = lookup_report(c.cs)["limb_bits"]
    plain_floor = floor(sh, c)
    per = {k: v / n for k, v in c.budget.items()}
    products = sum(sum(1 for u in sh.slot_underlying if u == x) for x in range(sh.underlyings)) * sh.scenarios
    fl = {
        "input ranges": (sh.assets + sh.positions + 1) * 2,  # one limb query + recomposition, at the very least
        "divisions": -(-plain_floor["divisions"] // b),
        "haircut tiers": -(-plain_floor["haircut tiers"] // b),
        "brackets": -(-plain_floor["brackets"] // b),
        "scenarios": -(-plain_floor["scenarios"] // b) + products,
        "leaf hash + tree": plain_floor["leaf hash + tree"],
        "ordering": -(-plain_floor["ordering"] // b),
    }
    fl["input ranges"] = max(fl["input ranges"], -(-plain_floor["input ranges"] // b))
    measured = {
        "input ranges": per["input ranges"],
        "divisions": per["divisions"],
        "haircut tiers": per["haircut tiers"],
        "brackets": per["brackets"] + per["tiered MM"],
        "scenarios": per["scenarios"],
        "leaf hash + tree": per["leaf hash"] + per["tree"],
        "ordering": per["ordering + padding"],
    }
    rest = {
        "solvency check": per["solvency check"],
        "params commitments + floors (batch)": per["params commitment"] + per["hard floors + marks"] + per["totals"],
        "lookup tables + LogUp sums (batch)": per[LOOKUP_TABLE],
    }
    print(f"### lookup mode at N={n:,} (limb bits {b}): floor and where the constraints go, per account\n")
    print("| component | plain floor | lookup floor | lookup measured |")
    print("|---|---:|---:|---:|")
    for k in fl:
        print(f"| {k} | {plain_floor[k]:,} | {fl[k]:,} | {measured[k]:,.0f} |")
    for k, v in rest.items():
        print(f"| {k} | | | {v:,.0f} |")
    total = sum(measured.values()) + sum(rest.values())
    print(f"| **total** | **{sum(plain_floor.values()):,}** | **{sum(fl.values()):,}** | **{total:,.0f}** |\n")
    print(f"scenario products alone: {products} per account; Poseidon leaf + node: {fl['leaf hash + tree']}\n")


# Constraint kinds of the lookup circuit, recognised by the names the builder gives its constraints (first match wins).
KINDS = (
    ("Poseidon rounds (leaf, tree nodes, parameter sponges)", r"\.(f\d+\[\d+\]|p\d+)\.x[245]$"),
    ("limb queries 1/(X - limb)", r"^lookup\.range\.q\["),
    ("range table rows m_t/(X - t)", r"^lookup\.range\.row\["),
    ("range recompositions", r"\.recompose$"),
    ("interval tuple queries (compression + 1/(X - f))", r"\.intervals\.q\["),
    ("interval table rows", r"\.intervals\.row\["),
    ("challenge powers + LogUp sums", r"^lookup\.(beta\.|.*logup$)"),
    ("scenario products q_j R_j[s]", r"\.u\d+\.s\d+\[\d+\]$"),
    ("scenario maxima (zero-product chain, short-option minimum)", r"\.u\d+\.(worst\.|smin)"),
    ("divisions (numerator = d quo + rem)", r"\.div$"),
    ("signs, booleans, absolute values", r"(\.bool|\.abs|\.sign)$"),
    ("remainder is-zero", r"rem_is_zero\."),
    ("padding (inactive slots all zero)", r"\.pad\."),
)


def constraint_kinds(c: SolvencyCircuit) -> dict[str, int]:
    """Constraints of the compiled system by kind (``KINDS``), counted from their names; the rest is "other"
    (selections, products, equalities, haircuts, MM sums, totals, ordering)."""
    pats = [(k, re.compile(p)) for k, p in KINDS]
    out: dict[str, int] = {k: 0 for k, _ in KINDS}
    out["other (haircuts, MM sums, selections, ordering, totals, equalities)"] = 0
    for con in c.r1cs.constraints:
        kind = next((k for k, p in pats if p.search(con.name)), None)
        out[kind if kind is not None else next(reversed(out))] += 1
    return out


def kinds_report(c: SolvencyCircuit) -> None:
    n, total = c.shape.accounts, c.r1cs.n_constraints
    b = lookup_report(c.cs)["limb_bits"]
    print(f"### lookup mode at N={n:,} (limb bits {b}): constraints by kind, from the builder's constraint names\n")
    print("| kind | per account | share |")
    print("|---|---:|---:|")
    for k, v in constraint_kinds(c).items():
        print(f"| {k} | {v / n:,.1f} | {100 * v / total:.1f}% |")
    print(f"| **total** | **{total / n:,.1f}** | |\n")


def _packed_only(pk: ProvingKey, path: Path) -> ProvingKey:
    """The key as the operator proves with it: written to a .zkey and memory-mapped back packed-only (points and QAP
    coefficients in the kernel's layout, no per-proof packing, the QAP step in C)."""
    write_zkey(pk, path)
    return read_zkey(path, packed_only=True)


def limb_costs(engine: MarginEngine, n: int) -> None:
    """Constraints, domain and committed wires of the n-account lookup circuit at every limb size, from its range
    checks (``range_cost``; the rest of the circuit does not depend on b): what the prover's work follows."""
    c = SolvencyCircuit(make_layout(engine, SLOTS8, ASSETS4, accounts=n).shape, lookups=True)
    st = c.cs.extensions["lookup"]
    assert isinstance(st, LookupState)
    bits = [q.bits for q in st.ranges]
    b0 = lookup_report(c.cs)["limb_bits"]
    rest = c.r1cs.n_constraints - range_cost(bits, b0)
    assert c.r1cs.commitment is not None
    other_wires = len(c.r1cs.commitment.private) - sum(-(-x // b0) for x in bits) - (1 << b0)
    print(f"### limb size at N={n:,}: chosen b={b0}\n")
    print("| b | constraints | domain | committed wires | limb queries |")
    print("|---:|---:|---:|---:|---:|")
    for b in range(8, 17):
        tot = rest + range_cost(bits, b)
        wires = other_wires + sum(-(-x // b) for x in bits) + (1 << b)
        queries = sum(-(-x // b) + (1 if x % b else 0) for x in bits)
        dom = (tot + c.r1cs.n_public + 1 - 1).bit_length()
        print(f"| {b} | {tot:,} | 2^{dom} | {wires:,} | {queries:,} |")
    print()


@dataclass
class Proving:
    """One configuration of the side-by-side prove benchmark: its circuit, batch and packed-only key."""

    label: str
    n: int
    circuit: SolvencyCircuit
    inputs: dict[str, int]
    public: list[int]
    pk: ProvingKey
    ck: CommittedProvingKey | None
    vk: VerifyingKey
    devkey_s: float
    runs: list[float] = field(default_factory=list)
    phases: list[dict[str, float]] = field(default_factory=list)
    verify_s: float = float("nan")

    def prove(self) -> None:
        """Witness + prove with the packed-only key, verified; appends the time and the phases."""
        st = ProveStats()
        t1 = time.perf_counter()
        if self.ck is not None:
            cproof, public = prove_committed(self.ck, self.circuit.cs, self.inputs, stats=st)
            t2 = time.perf_counter()
            assert public == self.public and verify_committed(self.ck.vk, cproof, public)
            runs = []
            for _ in range(5):
                tv = time.perf_counter()
                assert verify_committed(self.ck.vk, cproof, public)
                runs.append(time.perf_counter() - tv)
            self.verify_s = statistics.median(runs)
        else:
            w = self.circuit.witness(self.inputs)
            st.phases["witness"] = time.perf_counter() - t1
            proof, public = prove(self.pk, w, stats=st)
            t2 = time.perf_counter()
            assert public == self.public and verify(self.vk, proof, public)
        self.runs.append(t2 - t1)
        self.phases.append(st.phases)

    @property
    def median_run(self) -> int:
        """Index of the median run (the upper one of an even count)."""
        return sorted(range(len(self.runs)), key=lambda i: self.runs[i])[len(self.runs) // 2]

    @property
    def per_account(self) -> float:
        return self.runs[self.median_run] / self.n


def prepare(engine: MarginEngine, n: int, lookups: bool, tmp: Path, limb_bits: int | None = None) -> Proving:
    """Circuit, batch and dev setup for an n-account batch of the benchmark shape; one timed proof with the in-memory
    dev key (its first proof packs the key for the kernel and runs the QAP step on Python lists: how this benchmark
    measured before), then the key written to a .zkey and memory-mapped back packed-only, as the operator proves
    (points and QAP coefficients in the kernel's layout; key write and load not timed, like the setup)."""
    layout = make_layout(engine, SLOTS8, ASSETS4, accounts=n)
    batch = build_batch(engine, demo_accounts(engine, n), layout, epoch=1, secret=b"bench")
    c = SolvencyCircuit(layout.shape, lookups=lookups, limb_bits=limb_bits)
    c.r1cs.check(c.witness(batch.inputs))
    t0 = time.perf_counter()
    ck = dev_setup_committed(c.r1cs) if lookups else None
    pk = ck.base if ck is not None else dev_setup(c.r1cs)
    setup_s = time.perf_counter() - t0
    vk = pk.verifying_key()
    label = f"lookups (b={lookup_report(c.cs)['limb_bits']})" if lookups else "plain"
    p = Proving(f"{label}, {n} accounts", n, c, dict(batch.inputs), batch.public, pk, ck, vk, 0.0)
    p.prove()  # in-memory dev key
    p.devkey_s = p.runs.pop()
    phases = ", ".join(f"{k} {v:.2f}" for k, v in p.phases.pop().items())
    path = tmp / f"{'lookups' if lookups else 'plain'}-{n}-{limb_bits}.zkey"
    write_zkey(pk, path)
    p.pk = read_zkey(path, packed_only=True)
    if ck is not None:
        p.ck = CommittedProvingKey(p.pk, ck.commitment, ck.vk, ck.committed_wires)
        p.ck.commitment.pack()  # packed by the first proof already
    wires = f", {len(ck.commitment.bases) - 1:,} committed wires" if ck is not None else ""
    print(f"{p.label}: {c.r1cs.n_constraints:,} constraints, domain 2^{pk.domain_size.bit_length() - 1}{wires}, "
          f"dev setup {setup_s:.1f} s; first proof with the in-memory dev key {p.devkey_s:.2f} s "
          f"({p.devkey_s / n:.4f} s per account; {phases})")  # fmt: skip
    return p


def prove_side_by_side(configs: list[Proving], reps: int) -> None:
    """Prove every configuration ``reps`` times, interleaved (plain, lookups, ... then again), so that the load of a
    shared machine hits them alike; report each one's median and phases of its median run."""
    for _ in range(reps):
        for p in configs:
            p.prove()
    print(f"\npacked-only keys, {reps} interleaved runs each (witness included), median:\n")
    print("| configuration | runs (s) | median (s) | per account (s) | phases of the median run (s) |")
    print("|---|---|---:|---:|---|")
    for p in configs:
        med = p.median_run
        phases = ", ".join(f"{k} {v:.2f}" for k, v in p.phases[med].items())
        runs = " / ".join(f"{t:.2f}" for t in p.runs)
        print(f"| {p.label} | {runs} | {p.runs[med]:.2f} | {p.per_account:.4f} | {phases} |")
    print()


def main_lookups(args: argparse.Namespace) -> None:
    engine = demo_engine()
    if args.limb_costs:
        for n in args.limb_costs:
            limb_costs(engine, n)
        return
    if args.limb_sweep:
        n = max(args.prove_accounts)
        print(f"## limb size by measurement: lookup mode, {n} accounts, fixed limb bits (prove includes witness)\n")
        with tempfile.TemporaryDirectory() as tmp:
            configs = [prepare(engine, n, True, Path(tmp), limb_bits=b) for b in args.limb_sweep]
            prove_side_by_side(configs, args.reps)
        return
    print("## plain vs lookups: constraints per account, all costs included (tables and commitments amortised)\n")
    sizes = sorted(args.sizes)
    bench, big_circuit = compare_modes("benchmark shape", engine, SLOTS8, ASSETS4, sizes)
    demo_res, _ = compare_modes("demo shape (prover/operator/exchange.py)", exchange.demo_engine(), exchange.SLOTS,
                             exchange.ASSETS, sizes)  # fmt: skip
    lookup_floor(big_circuit.shape, big_circuit)
    kinds_report(big_circuit)
    del big_circuit
    if args.no_prove:
        print(f"RESULT constraints_per_account={bench[f'lookups_{sizes[-1]}']:.0f} accounts_per_batch={sizes[-1]}")
        return
    pn = args.plain_prove_accounts
    print(
        f"## prove, both modes, one run: benchmark shape, plain at {pn} accounts, lookups at "
        f"{', '.join(map(str, args.prove_accounts))} (2 shared cores: absolute times are noisy, read the ratios)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        plain = prepare(engine, pn, False, Path(tmp))
        look = {n: prepare(engine, n, True, Path(tmp)) for n in args.prove_accounts}
        prove_side_by_side([plain, *look.values()], args.reps)
    n = max(args.prove_accounts)
    big = sizes[-1]
    speed = {k: plain.per_account / v.per_account for k, v in look.items()}
    dev_speed = {k: (plain.devkey_s / pn) / (v.devkey_s / k) for k, v in look.items()}
    others = [k for k in look if k != n]
    print(
        f"RESULT constraints_per_account={bench[f'lookups_{big}']:.0f} accounts_per_batch={big} "
        f"prove_s_per_account={look[n].per_account:.4f} prove_accounts_per_batch={n} "
        f"plain_prove_s_per_account={plain.per_account:.4f} plain_prove_accounts_per_batch={pn} "
        f"prove_speedup_vs_plain={speed[n]:.2f} verify_s={look[n].verify_s:.4f} "
        + "".join(
            f"prove_s_per_account_{k}={look[k].per_account:.4f} prove_speedup_vs_plain_{k}={speed[k]:.2f} "
            for k in others
        )
        + " ".join(f"devkey_prove_speedup_vs_plain_{k}={v:.2f}" for k, v in dev_speed.items())
        + f" plain_constraints_per_account={bench[f'plain_{big}']:.0f} "
        + " ".join(f"lookups_{k}={bench[f'lookups_{k}']:.0f}" for k in sizes)
        + " "
        + " ".join(f"demo_lookups_{k}={demo_res[f'lookups_{k}']:.0f}" for k in sizes)
        + " "
        + " ".join(f"demo_plain_{k}={demo_res[f'plain_{k}']:.0f}" for k in sizes)
    )


def _vm(field_name: str) -> int:
    """This process's VmRSS / VmHWM in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) // 1024
    return 0


def _witness_run(
    c: SolvencyCircuit | VenueCircuit, inputs: dict[str, int], loop: str, workers: int
) -> tuple[float, float]:
    """(wall s, CPU s of this process and its threads) of one witness with this loop ("python" / "c") and workers."""
    saved = {k: os.environ.get(k) for k in ("ZKMARGIN_PURE_PYTHON", "ZKMARGIN_WITNESS_WORKERS")}
    os.environ["ZKMARGIN_WITNESS_WORKERS"] = str(workers)
    if loop == "python":
        os.environ["ZKMARGIN_PURE_PYTHON"] = "1"  # the witness only: no proof runs under it here
    else:
        os.environ.pop("ZKMARGIN_PURE_PYTHON", None)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        c.witness(inputs)
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main_witness(sizes: Sequence[int], reps: int, profile: bool = False, witness_only: bool = False) -> None:
    """Issue 17: witness generation of the solvency circuit (lookup mode, the product's) measured apart from proving.

    Per batch size: the circuit (compiled with release=True: the builder's copy of the constraints freed), a committed
    dev key (C kernel), the key written and mapped back packed-only (the operator's form); then the witness alone
    with the Python loop on one core (the reference, as before issue 17's witness work), the C loop on one core and
    the C loop on every core (``circuits/witness_parallel.py``); then ``reps`` proofs; ProveStats splits each into
    ``witness`` (the default path: C loop, all cores), ``commitment`` and the proving phases. ``profile``: the
    parallel witness's wall and CPU time per segment of its schedule (CPU above wall: both cores busy).
    ``witness_only``: no key and no proof (the circuit and the witnesses alone: small enough to run beside others)."""
    fields: list[str] = []
    engine = demo_engine()
    cores = witness_parallel.workers()
    print(f"load average at start {os.getloadavg()[0]:.1f}; witness workers {cores}", flush=True)
    for n in sizes:
        layout = make_layout(engine, SLOTS8, ASSETS4, accounts=n)
        batch = build_batch(engine, demo_accounts(engine, n), layout, epoch=1, secret=b"bench")
        t0 = time.perf_counter()
        c = SolvencyCircuit(layout.shape, lookups=True)
        build_s = time.perf_counter() - t0
        rss_built = _vm("VmRSS")
        inputs = dict(batch.inputs)
        c.witness(inputs)  # once: the C loop's encoding and the schedule are made on the first witness
        runs: dict[str, tuple[float, float]] = {}
        for label, loop, nw in (("python_1", "python", 1), ("c_1", "c", 1), (f"c_{cores}", "c", cores)):
            runs[label] = min(_witness_run(c, inputs, loop, nw) for _ in range(2 if loop == "c" else 1))
            w, cpu = runs[label]
            print(f"{n} accounts: witness {label}: {w:.2f} s wall, {cpu:.2f} s CPU ({1000 * w / n:.2f} ms/account)")
        if profile:
            witness_parallel.PROFILE = []
            _witness_run(c, inputs, "c", cores)
            print(f"\n{n} accounts, witness profile ({cores} workers, C loop):\n")
            print("| segment | steps | wall (s) | CPU (s) |\n|---|---:|---:|---:|")
            for label, steps, wall, cpu in witness_parallel.PROFILE:
                print(f"| {label} | {steps:,} | {wall:.3f} | {cpu:.3f} |")
            print(flush=True)
            witness_parallel.PROFILE = None
        fields += [
            f"constraints_{n}={c.r1cs.n_constraints}",
            f"build_s_{n}={build_s:.1f}",
            f"rss_built_mb_{n}={rss_built}",
        ]
        fields += [f"witness_{k}_s_{n}={v[0]:.3f}" for k, v in runs.items()]
        fields += [f"witness_{k}_cpu_s_{n}={v[1]:.3f}" for k, v in runs.items()]
        if witness_only:
            print(f"{n} accounts: circuit {build_s:.1f} s, RSS after build {rss_built} MB, peak {_vm('VmHWM')} MB\n")
            fields += [f"peak_rss_mb_{n}={_vm('VmHWM')}"]
            del c, batch
            continue
        t0 = time.perf_counter()
        ck = dev_setup_committed(c.r1cs)
        setup_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "k.zkey"
            write_zkey(ck.base, path)
            pk = read_zkey(path, packed_only=True)
            ck = CommittedProvingKey(pk, ck.commitment, ck.vk, ck.committed_wires)
            wit, prv = [], []
            for _ in range(reps):
                st = ProveStats()
                t0 = time.perf_counter()
                proof, public = prove_committed(ck, c.cs, dict(batch.inputs), stats=st)
                total = time.perf_counter() - t0
                assert verify_committed(ck.vk, proof, public)
                w = st.phases.get("witness", 0.0)
                wit.append(w)
                prv.append(total - w)
                phases = ", ".join(f"{k} {v:.2f}" for k, v in st.phases.items())
                print(f"{n} accounts: witness {w:.2f} s, prove (rest) {total - w:.2f} s | {phases}", flush=True)
        w_med, p_med = statistics.median(wit), statistics.median(prv)
        head = f"{n} accounts: {c.r1cs.n_constraints:,} constraints, circuit {build_s:.1f} s, dev setup {setup_s:.1f} s"
        tail = f"witness {w_med:.2f} s vs prove {p_med:.2f} s (median of {reps}), peak {_vm('VmHWM')} MB"
        print(f"{head}, RSS after build {rss_built} MB, {tail}, load {os.getloadavg()[0]:.1f}\n", flush=True)
        fields += [f"witness_s_{n}={w_med:.3f}", f"prove_s_{n}={p_med:.3f}"]
        fields += [f"witness_over_prove_{n}={w_med / p_med:.3f}"]
        fields += [f"witness_ms_per_account_{n}={1000 * w_med / n:.2f}"]
        fields += [f"devsetup_s_{n}={setup_s:.1f}", f"peak_rss_mb_{n}={_vm('VmHWM')}"]
        del c, ck, pk, batch
    print("RESULT " + " ".join(fields))


def main_venue_witness(n: int, slots: Sequence[int]) -> None:
    """Issue 17: the venue circuit's witness at ``n`` leaves (the synthetic venue of ``--venue``, P x A slots): the
    Python loop on one core, the C loop on one core and on every core, each checked against the constraints."""
    from _venue_bench import ASSETS as VENUE_ASSETS
    from _venue_bench import _generator, fill, venue_engine

    from zkmargin.circuits.rules.instrument_table import build_instrument_table, venue_shape
    from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
    from zkmargin.prover.venue_witness import build_venue_batch

    p, a = slots
    engine = venue_engine()
    table = build_instrument_table(engine.instruments, engine.params, VENUE_ASSETS)
    accts = fill(engine, table, _generator().synthetic_book(engine, 5000, seed=15), p, a, n)
    t0 = time.perf_counter()
    c = VenueCircuit(venue_shape(table, engine.params, n, p, a))
    build_s = time.perf_counter() - t0
    batch = build_venue_batch(engine, accts, table, c.shape, epoch=1, secret=b"bench")
    inputs = dict(batch.inputs)
    cores = witness_parallel.workers()
    print(
        f"venue, {n} leaves ({len(accts)} accounts, P={p}, A={a}): {c.n_constraints:,} constraints, built in "
        f"{build_s:.0f} s; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    c.r1cs.check(c.witness(inputs))  # also makes the C loop's encoding and the schedule
    fields = [f"venue_constraints_{n}={c.n_constraints}"]
    for label, loop, nw in (("python_1", "python", 1), ("c_1", "c", 1), (f"c_{cores}", "c", cores)):
        w, cpu = min(_witness_run(c, inputs, loop, nw) for _ in range(2 if loop == "c" else 1))  # type: ignore[arg-type]
        print(f"venue {n} leaves: witness {label}: {w:.2f} s wall, {cpu:.2f} s CPU ({1000 * w / n:.2f} ms/leaf)")
        fields.append(f"venue_witness_{label}_s_{n}={w:.3f}")
    print(f"peak RSS {_vm('VmHWM')} MB, load {os.getloadavg()[0]:.1f}")
    print("RESULT " + " ".join(fields))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-prove", action="store_true")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--lookups", action="store_true", help="plain vs lookup mode (issue 14)")
    ap.add_argument(
        "--prove-accounts",
        type=int,
        nargs="+",
        default=[16, 256],
        help="--lookups: batch sizes proven in lookup mode (the largest is the RESULT's prove figure)",
    )
    ap.add_argument(
        "--plain-prove-accounts",
        type=int,
        default=16,
        help="--lookups: batch size proven with the plain circuit, side by side (the product's batch)",
    )
    ap.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES),
        help="--lookups: batch sizes of the constraint tables (1,024 takes ~1 min and ~8 GB per shape)",
    )
    ap.add_argument(
        "--limb-sweep",
        type=int,
        nargs="+",
        default=[],
        help="--lookups: prove the largest --prove-accounts batch at each of these limb sizes, then stop",
    )
    ap.add_argument(
        "--limb-costs",
        type=int,
        nargs="+",
        default=[],
        help="--lookups: constraints per limb size at these N, then stop",
    )
    ap.add_argument("--reps", type=int, default=3, help="--lookups: interleaved proofs per configuration")
    ap.add_argument("--venue", action="store_true", help="the venue circuit over a 1,000-instrument table (issue 15)")
    ap.add_argument("--venue-sizes", type=int, nargs="+", default=[256, 1024], help="--venue: leaves per batch")
    ap.add_argument("--venue-point", action="store_true", help="--venue: the point-price shape (no price box)")
    ap.add_argument("--venue-prove", type=int, default=256, help="--venue: batch size proven (0: none)")
    ap.add_argument("--venue-book", type=int, default=5000, help="--venue: synthetic accounts for the P/A choice")
    ap.add_argument("--slots", type=int, nargs=2, default=None, metavar=("P", "A"), help="--venue: skip the choice")
    ap.add_argument(
        "--witness-vs-prove",
        type=int,
        nargs="+",
        default=[],
        help="issue 17: witness generation vs proving, lookup mode, at these batch sizes (see main_witness)",
    )
    ap.add_argument(
        "--venue-witness",
        type=int,
        default=0,
        help="issue 17: the venue circuit's witness at this many leaves, Python vs C loop (--slots P A, default 4 3)",
    )
    ap.add_argument(
        "--witness-only", action="store_true", help="--witness-vs-prove: the witnesses alone (no key, no proof)"
    )
    ap.add_argument(
        "--witness-profile",
        action="store_true",
        help="--witness-vs-prove: wall and CPU time of the parallel witness per segment of its schedule",
    )
    ap.add_argument(
        "--venue-count-only", type=int, nargs="*", default=[], help="--venue: sizes counted by a lean build only"
    )
    ap.add_argument(
        "--venue-lean-setup",
        action="store_true",
        help="--venue: stream the committed dev key to a file and prove from the mapped file (4,096 leaves)",
    )
    ap.add_argument(
        "--venue-key-dir", default=None, metavar="DIR", help="--venue-lean-setup: keep (and reuse) the key here"
    )
    args = ap.parse_args()
    if args.witness_vs_prove:
        main_witness(args.witness_vs_prove, args.reps, args.witness_profile, args.witness_only)
        return
    if args.venue_witness:
        main_venue_witness(args.venue_witness, args.slots or (4, 3))
        return
    if args.venue:
        from _venue_bench import main_venue

        main_venue(args)
        return
    if args.lookups:
        main_lookups(args)
        return
    table()
    if args.table_only:
        return
    engine = demo_engine()
    n = 16
    layout = make_layout(engine, SLOTS8, ASSETS4, accounts=n)
    sh = layout.shape
    t0 = time.perf_counter()
    circuit = SolvencyCircuit(sh)
    build_s = time.perf_counter() - t0
    total = circuit.r1cs.n_constraints
    print(f"## breakdown: A={sh.assets}, P={sh.positions}, K={sh.brackets}, T={sh.tiers}, S={sh.scenarios}, "
          f"U={sh.underlyings}, N={n} (slot underlyings {sh.slot_underlying})\n")  # fmt: skip
    print(f"total constraints {total:,} (built in {build_s:.1f} s)\n")
    print("| component | per account | share |")
    print("|---|---:|---:|")
    per: dict[str, float] = {}
    for comp in COMPONENTS:
        per[comp] = circuit.budget.get(comp, 0) / n
    acct_total = sum(per.values())
    for comp in COMPONENTS:
        print(f"| {comp} | {per[comp]:,.0f} | {100 * per[comp] / acct_total:.1f}% |")
    print(f"| **total (params amortised over {n})** | **{acct_total:,.0f}** | |")
    params_c = circuit.budget["params commitment"] + circuit.budget["hard floors + marks"]
    print(f"\nparams commitments + hard floors: {params_c:,} per batch ({params_c / 1024:,.0f} per account at N=1024); "
          f"per account without it: {acct_total - params_c / n:,.0f}\n")  # fmt: skip
    amortisation(acct_total - params_c / n, params_c)
    floor_report(sh, circuit, per)
    prove_s = float("nan")
    if not args.no_prove:
        batch = build_batch(engine, demo_accounts(engine, n), layout, epoch=1, secret=b"bench")
        w = circuit.witness(batch.inputs)
        circuit.r1cs.check(w)
        t0 = time.perf_counter()
        pk = dev_setup(circuit.r1cs)
        t1 = time.perf_counter()
        proof, public = prove(pk, w)
        t2 = time.perf_counter()
        assert verify(pk.verifying_key(), proof, public)
        prove_s = t2 - t1
        print(f"dev setup {t1 - t0:.1f} s; prove {prove_s:.2f} s for {n} accounts ({total:,} constraints); verified")
    print(
        f"RESULT constraints_per_account={acct_total:.0f} accounts_per_batch={n} prove_s_per_account={prove_s / n:.3f}"
    )


if __name__ == "__main__":
    main()
