"""Red team, second pass (2026-12-01): the venue circuit's cost pass attacked by a prover that controls the witness.

* ``column_sum_check`` at a challenge the prover picks: a loss moved between two scenarios balances the random
  combination when X is a 2^k-th root of unity (beta = 1). The identity alone then holds (the attack is real), so
  what refuses it is that the sums are committed wires: the challenge derived from the commitment to the forged
  values is another X, where the same forgery fails.
* A padding leaf carrying a position: whatever a prover writes in an inactive slot hashes to 0 in the tree and is
  counted in no total, or is refused.

docs/statement.md "Red team (2026-12-01, second pass)" lists these with the other attacks of the pass.
"""

from __future__ import annotations

import hashlib
import re

from solvency_helpers import rejects
from test_venue import _set, batch, circuit, engine, shape, table  # noqa: F401
from test_venue_cost import _portfolio_leaf, _violated_names

from zkmargin.circuits.field import R
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.prover.venue_witness import VenueBatch

TOTALS = {f"totals.{t}" for t in ("total_equity", "total_mm", "under_mm_count", "total_shortfall", "total_bad_debt")}


def _derived(values: list[int], public: list[int]) -> int:
    """A challenge derived from the committed values and the public ones (what D and keccak do in the proof)."""
    return int.from_bytes(hashlib.sha256(repr((values, public)).encode()).digest(), "big") % R


def _squarings(c: VenueCircuit) -> int:
    """k with beta = X^(2^k): the number of squarings the lookup finalizer made."""
    sq = [int(m.group(1)) for n in c.cs._names if (m := re.search(r"beta\.sq\[(\d+)\]$", n))]
    assert sq, "no beta squaring in the circuit"
    return max(sq) + 1


def test_column_sum_forged_for_a_challenge_chosen_by_the_prover(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """A loss moved from scenario 0 to scenario 1 (d beta - d beta^2 in the identity) balances at every X with
    beta = X^(2^k) = 1, i.e. X a 2^k-th root of unity, and every honest identity still holds there: a prover free to
    pick X passes ``column_sum_check`` with the forged sums. Refused because X is derived from the commitment, which
    covers the sums (asserted: they are committed wires)."""
    i = _portfolio_leaf(batch)
    k = _squarings(circuit)
    x0 = pow(5, (R - 1) >> k, R)  # 5 generates Fr^*, so x0 has order exactly 2^k (k <= 28 = the 2-adicity of r - 1)
    assert pow(x0, 1 << (k - 1), R) == R - 1 and pow(x0, 1 << k, R) == 1
    chosen = lambda values, public: x0  # noqa: E731
    d = 10**6
    sid = circuit.cs._names.index(f"acct[{i}].scen[0]")
    step = next(st for st in circuit.cs._steps if sid in st.outputs)
    honest = step.fn
    step.fn = lambda *v: [(x - d if j == 0 else x + d if j == 1 else x) % R for j, x in enumerate(honest(*v))]
    try:
        at_x0 = circuit.witness(batch.inputs, commit=chosen)
        derived = circuit.witness(batch.inputs, commit=_derived)
    finally:
        step.fn = honest
    assert rejects(circuit, circuit.witness(batch.inputs, commit=chosen)) is None  # honest witness at x0: fine
    scen0 = circuit.r1cs.signal_index(f"acct[{i}].scen[0]")
    assert at_x0[scen0] == derived[scen0] == (circuit.witness(batch.inputs)[scen0] - d) % R
    # the attack is real: at the prover's X the identity balances; only public totals it would claim can differ
    assert set(_violated_names(circuit, at_x0)) <= TOTALS
    # refused: the sums are committed, so the challenge derived from the commitment is not the prover's
    committed = set(circuit.cs._committed or [])
    assert {circuit.cs._names.index(f"acct[{i}].scen[{s}]") for s in range(circuit.shape.scenarios)} <= committed
    assert f"lookup.acct[{i}].scen.sum" in _violated_names(circuit, derived)


def test_padding_leaf_carries_no_value(circuit: VenueCircuit, batch: VenueBatch) -> None:  # noqa: F811
    """An inactive slot given a real instrument and a quantity (and a cash amount): refused, or hashed to 0 and
    counted nowhere (every public signal, the root included, is the honest batch's)."""
    pad = len(batch.leaves)  # the first slot after the batch's leaves
    assert pad < circuit.shape.accounts, "the batch fixture has no padding slot"
    p = f"acct[{pad}]."
    used = next(k for k, v in batch.inputs.items() if k.endswith("pos[0].id") and v)
    ins = _set(batch, {p + "pos[0].id": batch.inputs[used], p + "pos[0].qty": -(10**12), p + "cash": -(10**12)})
    w = circuit.witness(ins)
    why = rejects(circuit, w)
    if why is None:
        honest = circuit.witness(batch.inputs)
        assert circuit.supplied_public(w) == circuit.supplied_public(honest)
        assert circuit.value(circuit.leaves[pad].leaf, w) % R == 0
