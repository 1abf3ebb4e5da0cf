"""A small R1CS builder over the BN254 scalar field.

A :class:`ConstraintSystem` collects signals, linear combinations and constraints ``a * b = c`` with
names, together with *hints*: the Python functions that compute private signals from earlier ones
when the witness is generated. Hints are untrusted by design: every hinted value must be pinned by
constraints, and the mutation tests (``tests/``) check that no signal is left free.

``compile()`` freezes the system into an :class:`R1CS` whose signal order follows circom
(0 = constant one, then public outputs, public inputs, then private signals), so that the .r1cs /
.wtns exports and the public-signal list match what snarkjs expects.

Opt-in commitment (``docs/lookups.md``): :meth:`ConstraintSystem.commit` marks private wires
as committed and returns a *challenge* signal, a public input the prover does not choose: it is
derived from the Pedersen commitment to those wires (and every other public input) by the verifier.
A circuit without ``commit`` compiles to exactly the plain R1CS it always did.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Union

from .field import R

Coeffs = dict[int, int]
Value = Union["LC", int]


class LC:
    """A linear combination sum(coeff_i * signal_i) with coefficients mod R; signal 0 is the constant 1."""

    __slots__ = ("terms",)

    def __init__(self, terms: Mapping[int, int] | None = None) -> None:
        self.terms: Coeffs = {}
        if terms:
            for k, v in terms.items():
                v %= R
                if v:
                    self.terms[k] = v

    @staticmethod
    def const(c: int) -> LC:
        return LC({0: c})

    def _add(self, other: Value, sign: int) -> LC:
        o = other if isinstance(other, LC) else LC.const(other)
        out = dict(self.terms)
        for k, v in o.terms.items():
            nv = (out.get(k, 0) + sign * v) % R
            if nv:
                out[k] = nv
            else:
                out.pop(k, None)
        res = LC()
        res.terms = out
        return res

    def __add__(self, other: Value) -> LC:
        return self._add(other, 1)

    __radd__ = __add__

    def __sub__(self, other: Value) -> LC:
        return self._add(other, -1)

    def __rsub__(self, other: Value) -> LC:
        return (-self)._add(other, 1)

    def __neg__(self) -> LC:
        return self * -1

    def __mul__(self, k: int) -> LC:
        if isinstance(k, LC):
            raise TypeError("LC * LC is not linear: use ConstraintSystem.mul")
        k %= R
        res = LC()
        if k:
            res.terms = {s: v * k % R for s, v in self.terms.items()}
        return res

    __rmul__ = __mul__

    def is_constant(self) -> bool:
        return all(s == 0 for s in self.terms)

    def constant_value(self) -> int:
        return self.terms.get(0, 0)

    def evaluate(self, values: Sequence[int] | Mapping[int, int]) -> int:
        return sum(v * values[s] for s, v in self.terms.items()) % R

    def __repr__(self) -> str:
        return "LC(" + " + ".join(f"{v}*s{s}" for s, v in sorted(self.terms.items())) + ")"


def as_lc(x: Value) -> LC:
    return x if isinstance(x, LC) else LC.const(x)


@dataclass(slots=True)  # millions per circuit: no per-instance __dict__
class Constraint:
    a: Coeffs
    b: Coeffs
    c: Coeffs
    name: str


@dataclass(frozen=True)
class CommitmentInfo:
    """Which compiled signals a circuit's single Groth16 commitment covers.

    ``private`` are the committed private wires, in commitment-basis order; ``challenge`` is the
    index of the derived public input, always the last public signal (index ``n_public``), so the
    public list a prover publishes is every public signal but that one.
    """

    private: tuple[int, ...]
    challenge: int


@dataclass
class R1CS:
    """A compiled constraint system in circom's signal order."""

    n_vars: int  # including the constant-one signal 0
    n_pub_out: int
    n_pub_in: int
    n_prv_in: int
    constraints: list[Constraint]
    signal_names: list[str] = field(default_factory=list)
    commitment: CommitmentInfo | None = None

    @property
    def n_public(self) -> int:
        return self.n_pub_out + self.n_pub_in

    @property
    def n_constraints(self) -> int:
        return len(self.constraints)

    def public_signals(self, witness: Sequence[int]) -> list[int]:
        return [int(w) for w in witness[1 : 1 + self.n_public]]

    def signal_index(self, name: str) -> int:
        """Index of the signal with this qualified name (for tests that tamper one signal)."""
        try:
            return self.signal_names.index(name)
        except ValueError:
            raise KeyError(f"no signal named {name!r}") from None

    def first_failure(self, witness: Sequence[int]) -> int | None:
        """Index of the first violated constraint, or None if the witness satisfies all of them."""
        if len(witness) != self.n_vars:
            raise ValueError(f"witness has {len(witness)} values, the R1CS has {self.n_vars} signals")
        if witness[0] % R != 1:
            raise ValueError("witness[0] must be 1 (the constant signal)")
        for i, con in enumerate(self.constraints):
            a = sum(v * witness[s] for s, v in con.a.items()) % R
            b = sum(v * witness[s] for s, v in con.b.items()) % R
            c = sum(v * witness[s] for s, v in con.c.items()) % R
            if a * b % R != c:
                return i
        return None

    def check(self, witness: Sequence[int]) -> None:
        """Raise :class:`UnsatisfiedConstraint` naming the first constraint the witness violates."""
        for i, w in enumerate(witness):
            if not 0 <= w < R:
                raise UnsatisfiedConstraint(-1, f"witness value of signal {i} is not a canonical field element")
        idx = self.first_failure(witness)
        if idx is not None:
            raise UnsatisfiedConstraint(idx, self.constraints[idx].name)

    def is_satisfied(self, witness: Sequence[int]) -> bool:
        try:
            self.check(witness)
        except UnsatisfiedConstraint:
            return False
        return True


class UnsatisfiedConstraint(Exception):
    def __init__(self, index: int, name: str) -> None:
        super().__init__(f"constraint {index} ({name}) is not satisfied")
        self.index = index
        self.name = name


HintFn = Callable[..., int | Sequence[int]]
_Terms = tuple[tuple[int, ...], tuple[int, ...]]  # a digested LC: its signal ids and their coefficients
# commit(committed private values, supplied public values) -> challenge; run by the prover (or a test)
CommitFn = Callable[[list[int], list[int]], int]


class CommitmentRefused(ValueError):
    """A second commitment, or a public signal declared after the commitment (both unsound)."""


@dataclass(slots=True)
class _Step:
    outputs: list[int]
    fn: HintFn
    inputs: list[LC]


class ConstraintSystem:
    """Builder for an R1CS together with the witness program that fills it."""

    def __init__(self) -> None:
        self._kinds: list[str] = ["one"]  # per internal signal id: one / pub_out / pub_in / prv_in / internal
        self._names: list[str] = ["one"]
        self._inputs: dict[str, int] = {}
        self._steps: list[_Step] = []
        self._constraints: list[Constraint] = []
        self._prefix: list[str] = []
        self.one = LC({0: 1})
        self._committed: list[int] | None = None  # internal ids of committed private wires
        self._challenge: int | None = None
        self._finalizers: list[Callable[[ConstraintSystem], None]] = []
        self._reserved: set[int] = set()  # signals from reserve() not yet given a step by fill()
        self._program: list[tuple[_Step, list[int | _Terms]]] = []  # witness(): see _compiled
        self._released = -1  # constraints freed by compile(release=True) (-1: nothing released)
        # witness units (cs.unit()): [first step, end step, first signal, end signal, parallel-safe]
        self._units: list[list[int]] = []
        self._unit: list[int] | None = None  # the open unit
        self._order_cache: list[int] | None = None
        self._order_arr: array[int] | None = None
        self._public_cache: tuple[int, list[int]] | None = None
        self._native: object | None = None  # the encoded program (circuits/witness_native.py), made on first use
        # per-circuit state of gadgets that pay a cost once per proof (e.g. the lookup tables)
        self.extensions: dict[str, object] = {}

    # ------------------------------------------------------------- naming

    def scope(self, name: str) -> _Scope:
        """Context manager that prefixes constraint and signal names, so failures point at a gadget."""
        return _Scope(self, name)

    def _qualify(self, name: str) -> str:
        return ".".join([*self._prefix, name]) if self._prefix else name

    @contextmanager
    def unit(self) -> Iterator[None]:
        """Mark the witness steps made inside as one *unit* of the witness program (an account of the solvency
        circuit, a venue leaf, a range query's limbs): ``circuits/witness_parallel.py`` evaluates the units of a run
        of consecutive units in worker processes. Nothing about the constraints changes.

        A unit may read any signal made before it; a step that reads another unit's signal is found when the
        witness is scheduled and runs after that unit (so marking never changes a value, only what runs at once).
        Hints inside a unit must not have side effects that later hints read (each worker has its own memory).
        A ``fill()`` or ``commit()`` inside a unit makes it run in the parent, in order. Units do not nest: an
        inner ``unit()`` is part of the outer one."""
        if self._unit is not None:
            yield
            return
        u = [len(self._steps), -1, len(self._kinds), -1, 1]
        self._unit = u
        try:
            yield
        finally:
            self._unit = None
            u[1], u[3] = len(self._steps), len(self._kinds)
            if u[1] > u[0]:
                self._units.append(u)

    # ------------------------------------------------------------- signals

    def _new(self, kind: str, name: str) -> int:
        if self._challenge is not None and kind in ("pub_out", "pub_in"):
            # The challenge hashes every supplied public signal, so all of them must exist (and be
            # computable) before it: a public signal added later would not be bound by it.
            raise CommitmentRefused(f"public signal {self._qualify(name)!r} declared after the commitment")
        self._kinds.append(kind)
        self._names.append(self._qualify(name))
        return len(self._kinds) - 1

    def input(self, name: str, public: bool = False) -> LC:
        """A witness input set by name at witness time (public inputs become public signals)."""
        full = self._qualify(name)
        if full in self._inputs:
            raise ValueError(f"input {full!r} declared twice")
        sid = self._new("pub_in" if public else "prv_in", name)
        self._inputs[full] = sid
        return LC({sid: 1})

    def hint(self, name: str, fn: HintFn, *deps: Value, count: int = 1) -> list[LC]:
        """New private signals computed by ``fn(*dep_values)`` at witness time. Unconstrained until
        the caller adds constraints: a hint is advice, never proof."""
        outs = [self._new("internal", f"{name}[{i}]" if count > 1 else name) for i in range(count)]
        self._steps.append(_Step(outs, fn, [as_lc(d) for d in deps]))
        return [LC({o: 1}) for o in outs]

    def hint1(self, name: str, fn: HintFn, *deps: Value) -> LC:
        return self.hint(name, fn, *deps)[0]

    def reserve(self, name: str) -> LC:
        """A new private signal whose value a later :meth:`fill` computes, together with others.

        For hints that are much cheaper computed together (e.g. many field inversions by one batch inversion)
        while their signals must stay where they are in the signal order. Unconstrained like any hint; a
        reserved signal that is never filled makes compile() and witness() raise."""
        sid = self._new("internal", name)
        self._reserved.add(sid)
        return LC({sid: 1})

    def fill(self, outputs: Sequence[LC], fn: HintFn, *deps: Value) -> None:
        """One witness step computing every reserved signal in ``outputs`` as ``fn(*dep_values)`` (a sequence)."""
        sids = []
        for o in outputs:
            ((sid, coeff),) = o.terms.items()
            if coeff != 1 or sid not in self._reserved:
                raise ValueError(f"fill(): {o!r} is not a reserved, unfilled signal")
            self._reserved.discard(sid)
            sids.append(sid)
        if sids:
            if self._unit is not None:
                self._unit[4] = 0  # a reserved signal filled here: its readers may be anywhere
            self._steps.append(_Step(sids, fn, [as_lc(d) for d in deps]))

    def output(self, name: str, value: Value) -> LC:
        """Expose ``value`` as a public output signal (constrained equal to it)."""
        v = as_lc(value)
        sid = self._new("pub_out", name)
        self._steps.append(_Step([sid], _copy, [v]))
        out = LC({sid: 1})
        self.assert_equal(out, v, f"output {name}")
        return out

    def public(self, name: str, value: Value) -> LC:
        """Expose ``value`` as a public *input* signal (for values the verifier supplies)."""
        v = as_lc(value)
        sid = self._new("pub_in", name)
        self._steps.append(_Step([sid], _copy, [v]))
        out = LC({sid: 1})
        self.assert_equal(out, v, f"public {name}")
        return out

    # ------------------------------------------------------------- commitment

    def commit(self, values: Sequence[Value], name: str = "commitment.challenge") -> LC:
        """Commit to ``values`` (private) and return the verifier-derived challenge signal.

        The prover publishes a hiding Pedersen commitment D to the committed wires; the verifier
        sets the challenge to keccak256(D, supplied public inputs) mod r itself, so the prover
        cannot pick it after seeing the wires' values. Only ONE commitment per circuit: with
        several, the prover could choose every commitment but the last after seeing the earlier
        challenges (gnark CVE-2024-45039), so a second call is refused here, at build time.

        A value that is not a single private signal is copied into a new private wire first
        (one constraint); public signals are refused because every public input is hashed anyway.
        """
        if self._challenge is not None:
            raise CommitmentRefused(
                "a circuit may declare only one commitment (CVE-2024-45039): merge the values into one commit()"
            )
        if not values:
            raise ValueError("commit() needs at least one value")
        wires: list[int] = []
        for i, v in enumerate(values):
            lv = as_lc(v)
            if len(lv.terms) == 1:
                ((sid, coeff),) = lv.terms.items()
                if coeff == 1 and sid != 0:
                    if self._kinds[sid] not in ("prv_in", "internal"):
                        raise CommitmentRefused(f"committed value {i} is a public signal: it is hashed already")
                    wires.append(sid)
                    continue
            copy = self.hint1(f"{name}.wire[{i}]", _copy, lv)
            self.assert_equal(copy, lv, f"{name}.wire[{i}]")
            wires.append(next(iter(copy.terms)))
        if len(set(wires)) != len(wires):
            raise ValueError("commit(): a wire is committed twice")
        self._committed = wires
        sid = self._new("pub_commit", name)
        self._challenge = sid
        # The step's inputs are the committed wires; witness() supplies the public values itself.
        if self._unit is not None:
            self._unit[4] = 0
        self._steps.append(_Step([sid], _COMMIT_MARKER, [LC({w: 1}) for w in wires]))
        return LC({sid: 1})

    @property
    def has_commitment(self) -> bool:
        return self._challenge is not None

    def add_finalizer(self, fn: Callable[[ConstraintSystem], None]) -> None:
        """Run ``fn(cs)`` once, before compile() or witness(): for gadgets (lookup tables) whose
        constraints depend on every query of the circuit and so can only be built at the end."""
        self._finalizers.append(fn)

    def finalize(self) -> None:
        while self._finalizers:
            self._finalizers.pop(0)(self)
        if self._reserved:
            names = [self._names[s] for s in sorted(self._reserved)[:3]]
            raise ValueError(f"{len(self._reserved)} reserved signals never filled, e.g. {names}")

    # ------------------------------------------------------------- constraints

    def constrain(self, a: Value, b: Value, c: Value, name: str) -> None:
        if self._released >= 0:
            raise ValueError("compile(release=True) was called: this system takes no more constraints")
        # the LCs' own term dicts, not copies: an LC is never changed once made (every operation returns a new one)
        # and compile() renumbers into new dicts, so sharing them with the LCs the witness steps hold saves a copy
        self._constraints.append(Constraint(as_lc(a).terms, as_lc(b).terms, as_lc(c).terms, self._qualify(name)))

    def assert_equal(self, a: Value, b: Value, name: str) -> None:
        self.constrain(as_lc(a) - as_lc(b), self.one, LC(), name)

    def mul(self, a: Value, b: Value, name: str = "mul") -> LC:
        """A new signal constrained to a*b. Constant factors stay linear and cost nothing."""
        la, lb = as_lc(a), as_lc(b)
        if la.is_constant():
            return lb * la.constant_value()
        if lb.is_constant():
            return la * lb.constant_value()
        out = self.hint1(name, _product, la, lb)
        self.constrain(la, lb, out, name)
        return out

    @property
    def n_constraints(self) -> int:
        return len(self._constraints) + max(self._released, 0)

    # ------------------------------------------------------------- compile / witness

    def _order(self) -> list[int]:
        """Internal signal ids in compiled (circom) order (cached: witness() needs it every time)."""
        cached = self._order_cache
        if cached is not None and len(cached) == len(self._kinds):
            return list(cached)
        order = [0]
        for kind in ("pub_out", "pub_in", "pub_commit", "prv_in", "internal"):
            order.extend(i for i, k in enumerate(self._kinds) if k == kind)
        self._order_cache = order
        return list(order)

    def _public_ids(self) -> list[int]:
        """The supplied public signals (outputs, then inputs; the challenge excluded) in compiled order, cached."""
        cached = self._public_cache
        if cached is None or cached[0] != len(self._kinds):
            cached = self._public_cache = (
                len(self._kinds),
                [s for s in self._order() if self._kinds[s] in ("pub_out", "pub_in")],
            )
        return cached[1]

    def _order_array(self) -> array[int]:
        """:meth:`_order` as a uint32 array (the C loop's result order), cached."""
        order = self._order()
        cached = self._order_arr
        if cached is None or len(cached) != len(order):
            cached = self._order_arr = array("I", order)
        return cached

    def compile(self, release: bool = False) -> R1CS:
        """The R1CS in circom's signal order (and the witness program, digested once here).

        ``release=True`` (large circuits): the builder's own constraints are freed one by one as they are renumbered
        into the R1CS, and each witness step's input expressions as the step is digested, so the system is never
        held twice (for the venue circuit at 1,024 leaves the copies are gigabytes). witness() works as before and
        n_constraints still counts; compiling again or adding constraints then raises."""
        if self._released >= 0:
            raise ValueError("compile(release=True) was called: this system cannot be compiled again")
        self.finalize()
        order = self._order()
        pos = {sid: i for i, sid in enumerate(order)}

        def remap(t: Coeffs) -> Coeffs:
            return {pos[s]: v for s, v in t.items()}

        if release:
            src, self._constraints, self._released = self._constraints, [], len(self._constraints)
            src.reverse()
            cons = []
            recent: list[tuple[Coeffs, Coeffs]] = []  # (source, renumbered) of the last few: x*x, x^4*x share one

            def shared(t: Coeffs) -> Coeffs:
                for old, new in recent:
                    if old is t or (len(t) > 2 and old == t):
                        return new
                out = remap(t)
                recent.append((t, out))
                if len(recent) > 4:
                    recent.pop(0)
                return out

            while src:  # popped (and freed) in the original order
                c = src.pop()
                cons.append(Constraint(shared(c.a), shared(c.b), remap(c.c), c.name))
        else:
            cons = [Constraint(remap(c.a), remap(c.b), remap(c.c), c.name) for c in self._constraints]
        with _gc_paused():
            self._compiled(release)  # the witness program, digested once here rather than in the first witness()
        return R1CS(
            n_vars=len(order),
            n_pub_out=self._kinds.count("pub_out"),
            n_pub_in=self._kinds.count("pub_in") + self._kinds.count("pub_commit"),
            n_prv_in=self._kinds.count("prv_in"),
            constraints=cons,
            signal_names=[self._names[s] for s in order],
            commitment=None
            if self._challenge is None or self._committed is None
            else CommitmentInfo(tuple(pos[w] for w in self._committed), pos[self._challenge]),
        )

    def witness(self, inputs: Mapping[str, int | Iterable[int]], commit: CommitFn | None = None) -> list[int]:
        """Run the witness program; returns values in the compiled (circom) order.

        A circuit with a commitment needs ``commit``: called once, with the committed private values
        (in commitment order) and the supplied public signals (circom order, challenge excluded),
        it returns the challenge. The prover passes a function that builds the commitment D and
        hashes it (``zkmargin.prover.committed``); tests may pass anything, as a cheating prover would.
        """
        self.finalize()
        with _gc_paused():
            return self._witness(inputs, commit)

    def _witness(self, inputs: Mapping[str, int | Iterable[int]], commit: CommitFn | None) -> list[int]:
        if self._challenge is not None and commit is None:
            raise ValueError("this circuit declares a commitment: witness() needs commit=...")
        missing = set(self._inputs) - set(inputs)
        if missing:
            raise ValueError(f"missing witness inputs: {sorted(missing)[:5]}")
        unknown = set(inputs) - set(self._inputs)
        if unknown:
            raise ValueError(f"unknown witness inputs: {sorted(unknown)[:5]}")
        assigned: list[tuple[int, int]] = []
        for name, sid in self._inputs.items():
            v = inputs[name]
            if not isinstance(v, int):
                raise TypeError(f"input {name!r} must be an int, got {type(v).__name__}")
            if not 0 <= v < R:
                raise ValueError(f"input {name!r} must be a field element in [0, R), got {v}")
            assigned.append((sid, v))
        from .witness_parallel import evaluate  # the serial or parallel run, C loop or Python (no import cycle)

        return evaluate(self, assigned, commit)

    def _call_hint(
        self, step: _Step, args: list[int], commit: CommitFn | None, public: Callable[[], list[int]]
    ) -> list[int]:
        """Run one Python step and return its outputs reduced mod R (shared by the Python and the C loop)."""
        fn = step.fn  # read at run time: tests swap a step's function for a cheating prover's
        outputs = step.outputs
        if fn is _COMMIT_MARKER:
            assert commit is not None
            res: int | Sequence[int] = commit(args, public()) % R
        else:
            res = fn(*args)
        if isinstance(res, int):
            if len(outputs) != 1:
                raise ValueError(f"hint {self._names[outputs[0]]} returned 1 value")
            return [res % R]
        outs = list(res)
        if len(outs) != len(outputs):
            raise ValueError(f"hint {self._names[outputs[0]]} returned {len(outs)} values")
        return [int(v) % R for v in outs]

    def _compiled(self, release: bool = False) -> list[tuple[_Step, list[int | _Terms]]]:
        """The witness program with each step's input LCs pre-digested (once per system, extended if steps were
        added since): a single signal with coefficient 1 is read directly, the value a plain evaluation gives; any
        other LC as (signal ids, coefficients), two flat tuples rather than a tuple of pairs (less memory).
        ``release``: drop each step's LCs once digested (compile(release=True))."""
        prog = self._program
        recent: list[tuple[LC, _Terms]] = []  # release: the same LC digested once (x*x, x^4*x)
        for step in self._steps[len(prog) :]:
            ins: list[int | _Terms] = []
            for lc in step.inputs:
                t = lc.terms
                if len(t) == 1:
                    ((sid, c),) = t.items()
                    if c == 1:
                        ins.append(sid)
                        continue
                if release:
                    hit = next((d for old, d in recent if old is lc), None)
                    if hit is None:
                        hit = (tuple(t), tuple(t.values()))
                        recent.append((lc, hit))
                        if len(recent) > 4:
                            recent.pop(0)
                    ins.append(hit)
                    continue
                ins.append((tuple(t), tuple(t.values())))
            prog.append((step, ins))
            if release:
                step.inputs = []
        return prog


class PythonWitness:
    """The witness program's values as a Python list, evaluated step by step in Python (the reference path, and the
    one ``ZKMARGIN_PURE_PYTHON=1`` forces); ``circuits/witness_native.py`` has the same interface over a C loop."""

    def __init__(self, cs: ConstraintSystem) -> None:
        self.cs = cs
        self.vals: list[int] = [0] * len(cs._kinds)
        self.vals[0] = 1

    def assign(self, assigned: Sequence[tuple[int, int]]) -> None:
        vals = self.vals
        for sid, v in assigned:
            vals[sid] = v

    def run(self, steps: Iterable[int], commit: CommitFn | None) -> None:
        """Evaluate these steps (indices into the compiled program), in this order."""
        cs, vals = self.cs, self.vals
        prog = cs._compiled()
        public = self.public_values
        for k in steps:
            step, ins = prog[k]
            # an input is a signal id (the LC is that one signal) or its (ids, coefficients)
            args = [
                vals[i] if isinstance(i, int) else sum(c * vals[s] for s, c in zip(i[0], i[1], strict=True)) % R
                for i in ins
            ]
            outputs = step.outputs
            if step.fn is _product:  # the bulk of every circuit, inlined (a swapped hint takes the general path)
                vals[outputs[0]] = args[0] * args[1] % R
                continue
            for sid, v in zip(outputs, cs._call_hint(step, args, commit, public), strict=True):
                vals[sid] = v

    def public_values(self) -> list[int]:
        return self.get(self.cs._public_ids())

    def get(self, sids: Sequence[int]) -> list[int]:
        vals = self.vals
        return [vals[s] for s in sids]

    def put(self, sids: Sequence[int], values: Sequence[int]) -> None:
        vals = self.vals
        for s, v in zip(sids, values, strict=True):
            vals[s] = v

    def result(self) -> list[int]:
        vals = self.vals
        return [vals[s] for s in self.cs._order()]


class BitSplit:
    """A hint giving the ``count`` little-endian ``width``-bit fields of its input (bits: width 1; LogUp limbs):
    a class rather than a lambda so that the C witness loop recognises it and splits the value itself."""

    __slots__ = ("count", "width")

    def __init__(self, width: int, count: int) -> None:
        self.width = width
        self.count = count

    def __call__(self, v: int) -> list[int]:
        w = self.width
        mask = (1 << w) - 1
        return [(v >> (w * j)) & mask for j in range(self.count)]


class FieldInverse:
    """Hint: 1/v mod r, 0 for v = 0 (``is_zero``'s inverse); a class so that the C witness loop computes it."""

    __slots__ = ()

    def __call__(self, v: int) -> int:
        return pow(v, R - 2, R) if v else 0


class ZeroFlag:
    """Hint: 1 if v == 0 else 0 (``is_zero``'s output); a class so that the C witness loop computes it."""

    __slots__ = ()

    def __call__(self, v: int) -> int:
        return 0 if v else 1


class SignBit:
    """Hint: bit ``width`` of (v + 2^width) mod r, i.e. v >= 0 for v in (-2^width, 2^width) (``gadgets._sign_bit``);
    a class so that the C witness loop computes it."""

    __slots__ = ("width",)

    def __init__(self, width: int) -> None:
        self.width = width

    def __call__(self, v: int) -> int:
        n = self.width
        return ((v + (1 << n)) % R) >> n & 1


NATIVE_HINTS: tuple[type, ...] = (FieldInverse, ZeroFlag, SignBit)  # always computed in C (no module helper inside)


def _copy(x: int) -> int:
    """The step of ``output``, ``public`` and a committed copy: the signal equals its input (one function, so the C
    loop knows it)."""
    return x


def _product(x: int, y: int) -> int:
    """The hint of ``mul`` (one function for every product, not a closure each)."""
    return x * y % R


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: the witness program allocates ~one list per step and creates no cycles,
    but every few hundred allocations the collector would walk the circuit's millions of live LCs and constraints
    (measured: 0.27 -> 1.10 s for a 48k-constraint witness with it running)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _COMMIT_MARKER(*_: int) -> int:
    """Placeholder step function: witness() computes the challenge through its ``commit`` callback."""
    raise AssertionError("the commitment step is evaluated by ConstraintSystem.witness")


class _Scope:
    def __init__(self, cs: ConstraintSystem, name: str) -> None:
        self.cs = cs
        self.name = name

    def __enter__(self) -> ConstraintSystem:
        self.cs._prefix.append(self.name)
        return self.cs

    def __exit__(self, *exc: object) -> None:
        self.cs._prefix.pop()
