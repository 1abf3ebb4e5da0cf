"""Log-derivative (LogUp) lookups in the R1CS builder: range checks by limbs and tuple lookups.

A range check by bits costs one constraint per bit; by lookups it costs one constraint per b-bit
limb plus a table of 2^b rows paid once per proof. The argument (Haboeck, eprint 2022/1530) proves
that every queried value f_i lies in the table {t} through

    sum_i 1 / (X - f_i) = sum_t m_t / (X - t)

at a random X, with the multiplicities m_t as witness values. X must be chosen AFTER the f_i and m_t
are fixed, so the limbs, the multiplicities and the tuple-query values are committed with the
circuit's single Groth16 commitment (``ConstraintSystem.commit``) and X is its challenge, derived by the
verifier from the commitment: a prover that could pick X could solve the identity for forged
multiplicities (``tests/test_lookup.py`` shows it). Over a field of characteristic r the identity of
rational functions implies every f_i is a table value when there are fewer than r queries; a
random X makes a false identity hold with probability at most (queries + rows) / r.

Queries are collected while the circuit is built; the limbs, table, multiplicities and the identity
are built by a finalizer when the circuit is compiled (or a witness is generated), so the table is
paid once whatever the number of checks, and the limb size b is chosen then to minimise constraints
(``choose_limb_bits``) unless fixed with :func:`set_limb_bits`.

Costs (constraints): per range check of ``bits``: ceil(bits / b) limb lookups + 1 recomposition,
+1 lookup of the shifted high limb when b does not divide bits (without it the high limb could use
all b bits: gnark GHSA-rjjm-x32p-m3f7, where 2^7 passed a 7-bit check); per proof: 2^b table rows
+ 1 for the sum. Per tuple lookup of arity k: k - 1 products + 1; per tuple table: one row each,
plus ~log2(K) squarings for the compression challenge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .field import R
from .r1cs import LC, BitSplit, ConstraintSystem, Value, as_lc

MAX_BITS = 252
MAX_LIMB_BITS = 20


@dataclass
class _RangeQuery:
    x: LC
    bits: int
    name: str


@dataclass
class FixedTable:
    """A table of tuples. Query with :meth:`lookup`.

    ``rows`` are public constants (part of the circuit) unless ``witness_rows`` is set (:func:`committed_table`):
    then the rows are linear combinations of private signals, every private signal they use is committed with the
    limbs and multiplicities (so the table is fixed before the challenge), and ``rows`` is empty.
    """

    cs: ConstraintSystem
    rows: tuple[tuple[int, ...], ...]
    name: str
    queries: list[tuple[LC, ...]] = field(default_factory=list)
    witness_rows: tuple[tuple[LC, ...], ...] | None = None

    @property
    def arity(self) -> int:
        return len(self.witness_rows[0] if self.witness_rows is not None else self.rows[0])

    @property
    def n_rows(self) -> int:
        return len(self.witness_rows if self.witness_rows is not None else self.rows)

    compressed: list[LC] = field(default_factory=list)  # per query, filled by the finalizer

    def lookup(self, values: Sequence[Value]) -> int:
        """Constrain the tuple ``values`` to be one of the table's rows; returns the query's index (for
        :func:`column_sum_check`)."""
        if len(values) != self.arity:
            raise ValueError(f"table {self.name} has arity {self.arity}, got {len(values)} values")
        _state(self.cs)  # registers the finalizer
        self.queries.append(tuple(as_lc(v) for v in values))
        return len(self.queries) - 1


@dataclass
class _WeightedSum:
    """sum_i w_i / (X - k_i) = sum_t T_t / (X - t): for every key t, the weights of the queries with key t add up to
    T_t (see :func:`weighted_sum_check`)."""

    queries: list[tuple[LC, LC]]
    totals: list[tuple[LC, LC]]
    name: str


@dataclass
class _ColumnSum:
    """sum_i w_i row_i[j] = T_j for the columns j >= 1 of a table's queries i (see :func:`column_sum_check`)."""

    table: FixedTable
    queries: list[tuple[int, LC]]  # (query index, weight)
    totals: list[LC]
    name: str


@dataclass
class _LookupState:
    ranges: list[_RangeQuery] = field(default_factory=list)
    tables: list[FixedTable] = field(default_factory=list)
    sums: list[_WeightedSum] = field(default_factory=list)
    limbs: list[_RangeQuery] = field(default_factory=list)
    column_sums: list[_ColumnSum] = field(default_factory=list)
    limb_bits: int | None = None
    report: dict[str, int] = field(default_factory=dict)


def _state(cs: ConstraintSystem) -> _LookupState:
    st = cs.extensions.get("lookup")
    if st is None:
        st = _LookupState()
        cs.extensions["lookup"] = st
        cs.add_finalizer(_finalize)
    assert isinstance(st, _LookupState)
    return st


def range_check_lookup(cs: ConstraintSystem, x: Value, bits: int, name: str = "lrange") -> None:
    """Prove 0 <= x < 2^bits (as integers) by b-bit limbs looked up in the table 0..2^b - 1."""
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bit width must be in [1, {MAX_BITS}], got {bits}")
    _state(cs).ranges.append(_RangeQuery(as_lc(x), bits, cs._qualify(name)))


def limb_check_lookup(cs: ConstraintSystem, x: Value, bits: int, name: str = "limb") -> None:
    """Prove 0 <= x < 2^bits for a value that is itself one limb (bits <= the limb size): x is queried in the range
    table as it is (plus x * 2^(b - bits) when bits < b), with no hinted limbs and no recomposition, so a value the
    caller builds as a linear combination of such limbs (e.g. ``l0 + 2^14 l1 + 2^28 l2``) is range-checked at one
    query per limb. x's private wires are committed with the other lookup values. When the finalizer's limb size
    is below ``bits`` it falls back to :func:`range_check_lookup` (same statement, more constraints)."""
    if not 1 <= bits <= MAX_LIMB_BITS:
        raise ValueError(f"a limb has 1..{MAX_LIMB_BITS} bits, got {bits}")
    _state(cs).limbs.append(_RangeQuery(as_lc(x), bits, cs._qualify(name)))


def fixed_table(cs: ConstraintSystem, rows: Sequence[Sequence[int]], name: str = "table") -> FixedTable:
    """A fixed table of tuples (e.g. instrument parameters) for tuple lookups compressed with the challenge."""
    if not rows:
        raise ValueError("a table needs at least one row")
    arity = len(rows[0])
    if arity < 1 or any(len(r) != arity for r in rows):
        raise ValueError("every row of a table must have the same, non-zero length")
    t = FixedTable(cs, tuple(tuple(int(v) % R for v in r) for r in rows), cs._qualify(name))
    _state(cs).tables.append(t)
    return t


def committed_table(cs: ConstraintSystem, rows: Sequence[Sequence[Value]], name: str = "ctable") -> FixedTable:
    """A table whose rows are private values (e.g. a batch's governed brackets), for tuple lookups.

    Sound like a fixed table because every private signal the rows use is committed: the rows, like the queries
    and multiplicities, are fixed before the challenge is drawn. (The solvency circuit's rows are also bound by
    the public parameter commitment; committing them keeps this argument local to the lookup.) Each row costs
    one product per non-constant entry after the first, plus one constraint.
    """
    if not rows:
        raise ValueError("a table needs at least one row")
    arity = len(rows[0])
    if arity < 1 or any(len(r) != arity for r in rows):
        raise ValueError("every row of a table must have the same, non-zero length")
    t = FixedTable(cs, (), cs._qualify(name), witness_rows=tuple(tuple(as_lc(v) for v in r) for r in rows))
    _state(cs).tables.append(t)
    return t


def weighted_sum_check(
    cs: ConstraintSystem,
    queries: Sequence[tuple[Value, Value]],
    totals: Sequence[tuple[Value, Value]],
    name: str = "wsum",
) -> None:
    """Prove that for every (key t, total T_t) of ``totals`` the weights of the ``queries`` (key, weight) with key t
    add up to T_t (and that queries with a key outside ``totals`` weigh 0), by the log-derivative identity
    sum_i w_i / (X - k_i) = sum_t T_t / (X - t) at the commitment's challenge X: one constraint per query and per
    total. E.g. per-asset liabilities summed over sparse (asset id, amount) slots without a per-asset selector.

    Sound like the other lookups: the private values the keys and weights use are committed before X exists, public
    totals are hashed into X; equal rational functions need equal weight sums per key (as field elements: the caller
    keeps the sums far below r, e.g. range-checked amounts). Keys of ``totals`` must be distinct."""
    qs = [(as_lc(k), as_lc(w)) for k, w in queries]
    ts = [(as_lc(k), as_lc(t)) for k, t in totals]
    if not ts:
        raise ValueError("weighted_sum_check needs at least one total")
    _state(cs).sums.append(_WeightedSum(qs, ts, cs._qualify(name)))


def column_sum_check(
    cs: ConstraintSystem,
    table: FixedTable,
    queries: Sequence[tuple[int, Value]],
    totals: Sequence[Value],
    name: str = "colsum",
) -> None:
    """Prove T_j = sum_i w_i row_i[j] for every column j = 1..arity-1, where row_i is the tuple of the table's query
    number q_i (``queries`` = (q_i, w_i), indices returned by :meth:`FixedTable.lookup`) and T = ``totals``.

    Why: a weighted sum of looked-up columns (e.g. a leaf's scenario sums sum_j qty_j R_j[s] over its risk-array
    lookups) costs one product per column and per query instead of one per column per query, because the lookup
    already compresses each queried tuple as f_i = row_i[0] + sum_j beta^j row_i[j] at the challenge's power beta.
    The check is sum_j beta^j T_j = sum_i w_i (f_i - row_i[0]): the difference of the two sides is the polynomial
    sum_j beta^j (T_j - sum_i w_i row_i[j]) in X (beta = X^K), whose coefficients are all fixed before X (the rows
    are lookup values, committed; the private wires of the weights and totals are committed here), so a false
    total passes with probability at most (arity - 1) K / r. Cost: arity - 1 + len(queries) + 1 constraints."""
    if len(totals) != table.arity - 1:
        raise ValueError(f"table {table.name}: {table.arity - 1} totals (columns 1..), got {len(totals)}")
    qs = []
    for qi, w in queries:
        if not 0 <= qi < len(table.queries):
            raise ValueError(f"table {table.name} has no query {qi}")
        qs.append((qi, as_lc(w)))
    _state(cs).column_sums.append(_ColumnSum(table, qs, [as_lc(t) for t in totals], cs._qualify(name)))


def set_limb_bits(cs: ConstraintSystem, b: int) -> None:
    """Fix the limb size instead of letting the finalizer choose it."""
    if not 1 <= b <= MAX_LIMB_BITS:
        raise ValueError(f"limb bits must be in [1, {MAX_LIMB_BITS}]")
    _state(cs).limb_bits = b


def range_cost(bits_list: Sequence[int], b: int) -> int:
    """Constraints for these range checks at limb size b, table and final sum included."""
    if not bits_list:
        return 0
    per = sum(-(-n // b) + 1 + (1 if n % b else 0) for n in bits_list)
    return per + (1 << b) + 1


def choose_limb_bits(bits_list: Sequence[int]) -> int:
    """The limb size in 2..16 with the fewest constraints (smaller b on ties: smaller table, smaller MSM)."""
    return min(range(2, 17), key=lambda b: (range_cost(bits_list, b), b))


def lookup_report(cs: ConstraintSystem) -> dict[str, int]:
    """After compile(): limb bits, query and row counts, constraints spent on lookups."""
    st = cs.extensions.get("lookup")
    return dict(st.report) if isinstance(st, _LookupState) else {}


# The witness-side helpers are module functions so that a test can replace them with a cheating
# prover's (unmasked limbs, forged multiplicities) and show the constraints catch it.


def _limbs(x: int, bits: int, b: int) -> list[int]:
    n = -(-bits // b)
    return [(x >> (b * j)) & ((1 << b) - 1) for j in range(n)]


class LimbSplit(BitSplit):
    """The limb hint of a range query: ``_limbs(v, bits, b)`` (looked up at run time, so a test can swap in a cheating
    prover's), which the C witness loop computes itself while ``_limbs`` is this module's own."""

    __slots__ = ("bits",)

    def __init__(self, bits: int, b: int) -> None:
        super().__init__(b, -(-bits // b))
        self.bits = bits

    def __call__(self, v: int) -> list[int]:
        return _limbs(v, self.bits, self.width)


class RangeCount:
    """The range table's multiplicity hint: ``_multiplicities(values, size)`` (looked up at run time: tests swap in a
    cheating prover's), computed by the C witness loop itself while ``_multiplicities`` is this module's own."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, *v: int) -> list[int]:
        return _multiplicities(v, self.size)


class LogupFill:
    """The one step filling every LogUp fraction: ``_logup_fractions(x, f0, m0, f1, m1, ...)`` (looked up at run
    time), computed by the C witness loop itself while ``_logup_fractions`` is this module's own."""

    __slots__ = ()

    def __call__(self, xv: int, *v: int) -> list[int]:
        return _logup_fractions(xv, *v)


HONEST_LIMBS = _limbs


def _multiplicities(values: Sequence[int], size: int) -> list[int]:
    m = [0] * size
    for v in values:
        if v < size:
            m[v] += 1
    return m


def _table_multiplicities(values: Sequence[int], rows: Sequence[tuple[int, ...]], arity: int) -> list[int]:
    index = {r: i for i, r in enumerate(rows)}
    m = [0] * len(rows)
    for i in range(0, len(values), arity):
        j = index.get(tuple(values[i : i + arity]))
        if j is not None:
            m[j] += 1
    return m


def _inv_hint(x: int, f: int) -> int:
    """1 / (x - f), or 0 when x = f (then the constraint inv * (x - f) = 1 fails): the reference for _batch_inv."""
    d = (x - f) % R
    return pow(d, R - 2, R) if d else 0


def _batch_inv(values: Sequence[int]) -> list[int]:
    """[1/v mod r for v in values], 0 for v = 0 mod r: equal to ``_inv_hint(v, 0)`` element by element, with one
    modular inversion for the whole list (Montgomery's trick: prefix products, one inverse, a backward pass)."""
    vs = [v % R for v in values]
    prefix = []
    acc = 1
    for v in vs:
        if v:
            acc = acc * v % R
        prefix.append(acc)
    inv_acc = pow(acc, -1, R)  # acc is a product of non-zero residues mod a prime: invertible
    out = [0] * len(vs)
    for i in range(len(vs) - 1, -1, -1):
        v = vs[i]
        if v:
            before = prefix[i - 1] if i else 1
            out[i] = inv_acc * before % R
            inv_acc = inv_acc * v % R
    return out


def _logup_fractions(x: int, *v: int) -> list[int]:
    """The LogUp identity's witness at challenge ``x``: ``v`` is pairs (f, m), one per query (m = 1) and per table
    row (m its multiplicity); returns m / (x - f) for each, with one batch inversion for all of them. An entry with
    x = f gets 0 (the reference: ``m * _inv_hint(x, f) % R``, one inversion each). With the C witness loop the
    same batch inversion runs in C (``witness_native.logup_fractions``, compared with this one in the tests)."""
    from .witness_native import logup_fractions  # not at module level: witness_native imports r1cs, as this does

    fast = logup_fractions(x, v)
    if fast is not None:
        return fast
    invs = _batch_inv([x - f for f in v[0::2]])
    return [m * i % R for m, i in zip(v[1::2], invs, strict=True)]


HONEST_MULTIPLICITIES = _multiplicities
HONEST_FRACTIONS = _logup_fractions


def _finalize(cs: ConstraintSystem) -> None:
    st = _state(cs)
    start = cs.n_constraints
    with cs.scope("lookup"):
        committed: list[LC] = []
        # ---- range checks: limbs, recomposition, queries
        b = 0
        range_queries: list[LC] = []
        if st.ranges or st.limbs:
            b = st.limb_bits or choose_limb_bits([q.bits for q in (*st.ranges, *st.limbs)])
            for q in st.limbs:
                if q.bits <= b:  # the value is its own limb: no hint, no recomposition
                    range_queries.append(q.x)
                    if q.bits < b:
                        range_queries.append(q.x * (1 << (b - q.bits)))
                    committed.extend(_private_wires(cs, [q.x]))
            decomposed = [*st.ranges, *(q for q in st.limbs if q.bits > b)]
            for q in decomposed:
                n = -(-q.bits // b)
                with cs.unit():  # independent of every other query: evaluated in parallel (witness_parallel.py)
                    limbs = cs.hint(f"{q.name}.limb", LimbSplit(q.bits, b), q.x, count=n)
                cs.assert_equal(
                    sum((lb * (1 << (b * j)) for j, lb in enumerate(limbs)), LC()), q.x, f"{q.name}.recompose"
                )
                committed.extend(limbs)
                range_queries.extend(limbs)
                h = q.bits % b
                if h:
                    range_queries.append(limbs[-1] * (1 << (b - h)))  # in the table iff the high limb < 2^h
            size = 1 << b
            mult = cs.hint("range.mult", RangeCount(size), *range_queries, count=size)
            committed.extend(mult)
        # ---- tuple tables: the queried values and the multiplicities are committed
        table_mults: list[list[LC]] = []
        for t in st.tables:
            flat = [v for qv in t.queries for v in qv]
            if t.witness_rows is None:
                m = cs.hint(
                    f"{t.name}.mult",
                    lambda *v, rows=t.rows, k=t.arity: _table_multiplicities(v, rows, k),
                    *flat,
                    count=len(t.rows),
                )
            else:
                row_flat = [v for row in t.witness_rows for v in row]
                n_flat = len(flat)
                m = cs.hint(
                    f"{t.name}.mult",
                    lambda *v, nq=n_flat, k=t.arity: _table_multiplicities(
                        v[:nq], [tuple(v[i : i + k]) for i in range(nq, len(v), k)], k
                    ),
                    *flat,
                    *row_flat,
                    count=t.n_rows,
                )
                committed.extend(_private_wires(cs, row_flat))
            table_mults.append(m)
            committed.extend(m)
            committed.extend(v for v in flat if not v.is_constant() and not _is_public(cs, v))
        for ws in st.sums:
            vals = [v for q in (*ws.queries, *ws.totals) for v in q]
            committed.extend(_private_wires(cs, vals))
        for colsum in st.column_sums:
            committed.extend(_private_wires(cs, [*(w for _, w in colsum.queries), *colsum.totals]))
        if not committed:
            return
        x = cs.commit(_unique(committed), name="challenge")
        # Every inverse and row fraction below is a reserved signal, filled by ONE witness step at the end with one
        # batch inversion (the signal order, names and values are those of one hint per signal).
        fractions: list[tuple[LC, LC, Value]] = []  # (signal, f, m): signal = m / (X - f)
        # ---- range identity: sum 1/(X - f) = sum m_t/(X - t)
        if range_queries:
            invs = []
            for i, f in enumerate(range_queries):
                inv = cs.reserve(f"range.q[{i}].inv")
                fractions.append((inv, f, 1))
                cs.constrain(inv, x - f, 1, f"range.q[{i}]")
                invs.append(inv)
            fracs = []
            for t_val, mt in enumerate(mult):
                p = cs.reserve(f"range.row[{t_val}]")
                fractions.append((p, LC.const(t_val), mt))
                cs.constrain(p, x - t_val, mt, f"range.row[{t_val}]")
                fracs.append(p)
            cs.assert_equal(_lc_sum(invs), _lc_sum(fracs), "range.logup")
        # ---- tuple identity with compression by beta = X^K (Kronecker: K above the X-degree)
        if st.tables:
            n_terms = sum(len(t.queries) + t.n_rows for t in st.tables) + len(range_queries) + (1 << b if b else 0)
            k_log = max(1, n_terms.bit_length())
            beta = x
            for i in range(k_log):
                beta = cs.mul(beta, beta, f"beta.sq[{i}]")
            max_arity = max(t.arity for t in st.tables)
            powers = [LC.const(1), beta]
            for i in range(2, max_arity):
                powers.append(cs.mul(powers[-1], beta, f"beta.pow[{i}]"))
            for t, mults in zip(st.tables, table_mults, strict=True):
                invs = []
                for qi, qv in enumerate(t.queries):
                    f = qv[0]
                    for j in range(1, t.arity):
                        f = f + cs.mul(powers[j], qv[j], f"{t.name}.q[{qi}].c[{j}]")
                    t.compressed.append(f)
                    inv = cs.reserve(f"{t.name}.q[{qi}].inv")
                    fractions.append((inv, f, 1))
                    cs.constrain(inv, x - f, 1, f"{t.name}.q[{qi}]")
                    invs.append(inv)
                fracs = []
                rows_lc = t.witness_rows if t.witness_rows is not None else [[LC.const(v) for v in r] for r in t.rows]
                for ri, row in enumerate(rows_lc):
                    tv = row[0]
                    for j in range(1, t.arity):
                        tv = tv + cs.mul(powers[j], row[j], f"{t.name}.row[{ri}].c[{j}]")  # free if constant
                    p = cs.reserve(f"{t.name}.row[{ri}]")
                    fractions.append((p, tv, mults[ri]))
                    cs.constrain(p, x - tv, mults[ri], f"{t.name}.row[{ri}]")
                    fracs.append(p)
                cs.assert_equal(_lc_sum(invs), _lc_sum(fracs), f"{t.name}.logup")
            # ---- column sums of looked-up tuples: sum_j beta^j T_j = sum_i w_i (f_i - row_i[0])
            for colsum in st.column_sums:
                t, cn = colsum.table, colsum.name
                left = _lc_sum([cs.mul(powers[j], tot, f"{cn}.t[{j}]") for j, tot in enumerate(colsum.totals, 1)])
                right = _lc_sum(
                    [
                        cs.mul(w, t.compressed[qi] - t.queries[qi][0], f"{cn}.q[{k}]")
                        for k, (qi, w) in enumerate(colsum.queries)
                    ]
                )
                cs.assert_equal(left, right, f"{cn}.sum")
        # ---- weighted sums: sum_i w_i/(X - k_i) = sum_t T_t/(X - t)
        for ws in st.sums:
            lhs: list[LC] = []
            rhs: list[LC] = []
            for side, items, tag in ((lhs, ws.queries, "q"), (rhs, ws.totals, "t")):
                for i, (k, w) in enumerate(items):
                    p = cs.reserve(f"{ws.name}.{tag}[{i}]")
                    fractions.append((p, k, w))
                    cs.constrain(p, x - k, w, f"{ws.name}.{tag}[{i}]")
                    side.append(p)
            cs.assert_equal(_lc_sum(lhs), _lc_sum(rhs), f"{ws.name}.sum")
        cs.fill(
            [sig for sig, _, _ in fractions],
            LogupFill(),  # module lookup at run time (tests may swap helpers)
            x,
            *(d for _, f, m in fractions for d in (f, m)),
        )
    st.report = {
        "limb_bits": b,
        "range_checks": len(st.ranges) + len(st.limbs),
        "range_queries": len(range_queries),
        "table_rows": (1 << b) if b else 0,
        "constraints": cs.n_constraints - start,
    }


def _lc_sum(values: Sequence[LC]) -> LC:
    """Sum of many LCs in one pass (LC + LC copies its terms: a running sum would be quadratic)."""
    terms: dict[int, int] = {}
    for v in values:
        for k, c in v.terms.items():
            terms[k] = (terms.get(k, 0) + c) % R
    return LC(terms)


def _is_public(cs: ConstraintSystem, v: LC) -> bool:
    """A single public signal: the challenge hashes it already (and commit() refuses it)."""
    if len(v.terms) != 1:
        return False
    ((sid, coeff),) = v.terms.items()
    return coeff == 1 and cs._kinds[sid] in ("pub_out", "pub_in")


def _private_wires(cs: ConstraintSystem, values: Sequence[LC]) -> list[LC]:
    """Every private signal the values use, each as a single-wire LC (committing them fixes the values)."""
    ids = sorted({s for v in values for s in v.terms if s != 0 and cs._kinds[s] in ("prv_in", "internal")})
    return [LC({s: 1}) for s in ids]


def _unique(values: list[LC]) -> list[LC]:
    seen: set[tuple[tuple[int, int], ...]] = set()
    out = []
    for v in values:
        key = tuple(sorted(v.terms.items()))
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out
