"""Constraint accounting shared by the solvency and the venue circuits.

Both report a per-component budget (docs/circuit.md's tables come from it) and, in lookup mode, remember where each
range check was asked for, so a failure is reported at the place the plain circuit would have checked it. One
implementation, so the two circuits' budgets mean the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from zkmargin.circuits.lookup import range_check_lookup
from zkmargin.circuits.r1cs import ConstraintSystem, Value


class ConstraintBudget:
    """Mixin: ``part(name)`` attributes the constraints built inside it to ``name``; ``_rc_lookup`` is the
    lookup-mode range check (queued for the finalizer, attributed to the current part)."""

    cs: ConstraintSystem

    def _init_budget(self) -> None:
        self.budget: dict[str, int] = defaultdict(int)
        self._current = ""
        self._lookup_bits: dict[str, list[int]] = defaultdict(list)
        # qualified name of each range check -> (the number of constraints built before it was asked for, i.e. where
        # the plain circuit would have put it; its width): tests report failures in plain order
        self.range_check_at: dict[str, tuple[int, int]] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Count the constraints built inside under component ``name`` (and attribute lookups asked for there)."""
        before, outer = self.cs.n_constraints, self._current
        self._current = name
        try:
            yield
        finally:
            self._current = outer
            self.budget[name] += self.cs.n_constraints - before

    def _rc_lookup(self, cs: ConstraintSystem, x: Value, bits: int, name: str) -> None:
        """The lookup-mode range check: queued for the finalizer, remembered for the budget."""
        self._lookup_bits[self._current].append(bits)
        self.range_check_at[cs._qualify(name)] = (cs.n_constraints, bits)
        range_check_lookup(cs, x, bits, name)
