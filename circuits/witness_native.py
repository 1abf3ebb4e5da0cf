"""The witness program evaluated by the C loop (``circuits/_native/witness.c``), Python hints still in Python.

``ConstraintSystem.witness`` uses it whenever the extension is built, unless ``ZKMARGIN_PURE_PYTHON=1`` (then the
Python loop of :class:`~zkmargin.circuits.r1cs.PythonWitness`, the reference). Both give the same witness, bit for
bit (``tests/test_witness_native.py``: every circuit kind, edge values, swapped hints).

The values live in an anonymous shared mapping (32 bytes little-endian per internal signal), so that the forked
workers of ``circuits/witness_parallel.py`` write their units' signals straight into the parent's witness.
"""

from __future__ import annotations

import mmap
import os
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from . import lookup
from .field import R
from .r1cs import NATIVE_HINTS, BitSplit, CommitFn, ConstraintSystem, FieldInverse, SignBit, ZeroFlag, _copy, _product

try:
    from . import _witness  # type: ignore[attr-defined]
except ImportError:  # no C compiler at install: the Python loop
    _witness = None


def available() -> bool:
    """The C loop is built and not disabled by ``ZKMARGIN_PURE_PYTHON``."""
    return _witness is not None and not os.environ.get("ZKMARGIN_PURE_PYTHON")


def logup_fractions(x: int, v: Sequence[int]) -> list[int] | None:
    """``lookup._logup_fractions`` in C (one batch inversion), or None when the C loop is not in use."""
    if not available():
        return None
    assert _witness is not None
    try:
        return list(_witness.logup_fractions(x, v))
    except (OverflowError, TypeError):  # a value outside [0, 2^256) (never from a witness): the Python reference
        return None


def _encoded(cs: ConstraintSystem) -> Any:
    """The program encoded for the C loop, once per system (again if steps were added since)."""
    prog = cs._compiled()
    cached = cs._native
    if isinstance(cached, tuple) and cached[0] == len(prog) and cached[1] == len(cs._kinds):
        return cached[2]
    assert _witness is not None
    kinds = (BitSplit, lookup.RangeCount, lookup.LogupFill, FieldInverse, ZeroFlag, SignBit)
    cap = _witness.encode(prog, _product, _copy, len(cs._kinds), kinds)
    cs._native = (len(prog), len(cs._kinds), cap)
    return cap


def split_types() -> tuple[type, ...]:
    """The hint classes the C loop computes itself: bit splits always; the lookup helpers only while the module
    function they call is the module's own (a test swapping in a cheating prover's must see its function called)."""
    out: list[type] = [BitSplit, *NATIVE_HINTS]
    if lookup._limbs is lookup.HONEST_LIMBS:
        out.append(lookup.LimbSplit)
    if lookup._multiplicities is lookup.HONEST_MULTIPLICITIES:
        out.append(lookup.RangeCount)
    if lookup._logup_fractions is lookup.HONEST_FRACTIONS:
        out.append(lookup.LogupFill)
    return tuple(out)


def program_stats(cs: ConstraintSystem) -> dict[str, int]:
    """Size of the encoded program (steps, LCs, terms, outputs, distinct coefficients, bytes)."""
    assert _witness is not None
    keys = ("steps", "lcs", "terms", "outputs", "coefficients", "bytes")
    return dict(zip(keys, _witness.stats(_encoded(cs)), strict=True))


class NativeWitness:
    """Same interface as ``r1cs.PythonWitness``: assign the inputs, run steps, read the result in circom order."""

    def __init__(self, cs: ConstraintSystem) -> None:
        self.cs = cs
        self.cap = _encoded(cs)
        self.prog = cs._compiled()
        self.n = len(cs._kinds)
        self.buf = mmap.mmap(-1, max(32, 32 * self.n))  # anonymous and shared: forked workers write into it
        self.buf[0:32] = (1).to_bytes(32, "little")

    def assign(self, assigned: Sequence[tuple[int, int]]) -> None:
        buf = self.buf
        for sid, v in assigned:
            buf[32 * sid : 32 * sid + 32] = v.to_bytes(32, "little")

    def run(self, steps: Iterable[int], commit: CommitFn | None) -> None:
        """Evaluate these steps (indices into the compiled program) in this order: a range runs as it is, any other
        sequence is passed as a uint32 index array."""
        assert _witness is not None
        cs, prog = self.cs, self.prog
        public = self.public_values

        def py_step(i: int, args: list[int]) -> list[int]:
            return cs._call_hint(prog[i][0], args, commit, public)

        if isinstance(steps, range) and steps.step == 1:
            _witness.run(
                self.cap, prog, self.buf, None, steps.start, steps.stop, _product, _copy, py_step, split_types()
            )
            return
        idx = array("I", steps)
        _witness.run(self.cap, prog, self.buf, idx, 0, len(idx), _product, _copy, py_step, split_types())

    def run_parallel(self, chunks: Sequence[Sequence[int]], commit: CommitFn | None) -> None:
        """Each chunk on its own thread (the GIL released but around Python hints); no chunk may read another's
        outputs. A chunk that failed (a hint raised) is run again serially here, raising the serial witness's error."""
        assert _witness is not None
        cs, prog = self.cs, self.prog
        public = self.public_values

        def py_step(i: int, args: list[int]) -> list[int]:
            return cs._call_hint(prog[i][0], args, commit, public)

        idx = [array("I", c) for c in chunks]
        ok = _witness.run_threads(self.cap, prog, self.buf, idx, _product, _copy, py_step, split_types())
        for chunk, good in zip(idx, ok, strict=True):
            if not good:
                self.run(chunk, commit)

    def public_values(self) -> list[int]:
        return self.get(self.cs._public_ids())

    def get(self, sids: Sequence[int]) -> list[int]:
        assert _witness is not None
        return list(_witness.to_list(self.buf, array("I", sids)))

    def put(self, sids: Sequence[int], values: Sequence[int]) -> None:
        buf = self.buf
        for s, v in zip(sids, values, strict=True):
            buf[32 * s : 32 * s + 32] = (v % R).to_bytes(32, "little")

    def result(self) -> list[int]:
        assert _witness is not None
        order = self.cs._order_array()
        out: list[int] = _witness.to_list(self.buf, order)
        self.buf.close()
        return out
