"""The batch's private copy of market data and risk parameters, and its Poseidon commitment.

``params_commitment`` (public signal 2) is recomputed in-circuit from these values once per batch; auditors
recompute it natively with :meth:`SolvencyParams.commitment` from the published parameters and check them with
:meth:`SolvencyParams.validate` (the circuit relies on the *published* values being well formed: ascending
bracket/tier floors, bounded marks and arrays; it does not re-prove those facts about public data).

Flattening order (every value reduced mod r, so a signed value x < 0 is r - |x|):

1. ``PARAMS_TAG``, the shape (A, P, K, T, S, U, then slot_underlying[j] + 1 for every slot), ``version``,
   ``mm_ratio``;
2. marks[j] for every position slot;
3. for every slot j, for every bracket k: floor, mmr, cum;
4. for every asset a, for every tier t: floor, rate;
5. for every risk-array slot j (ascending): short_option_min[j], long[j][0..S-1]. The short array is not committed:
   it is long + 1 by construction (:meth:`SolvencyParams.validate`), and the circuit uses it in that form.

Sponge: ``acc = len(flat)``; then for each chunk of 15 elements ``acc = Poseidon(acc, *chunk)``. The length
prefix stops a truncated list (a commitment that "drops its last element") from colliding with the full one.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkmargin.circuits.field import R
from zkmargin.circuits.poseidon import poseidon

from .shape import PRICE_BITS, VALUE_TOP, SolvencyShape

PARAMS_TAG = int.from_bytes(b"zkmargin/solvency-params/v1", "big")
CHUNK = 15


@dataclass(frozen=True)
class SolvencyParams:
    marks: tuple[int, ...]  # P, 1e8
    bracket_floor: tuple[tuple[int, ...], ...]  # P x K, micro-USD (padding: VALUE_TOP)
    bracket_mmr: tuple[tuple[int, ...], ...]  # P x K, ppm
    bracket_cum: tuple[tuple[int, ...], ...]  # P x K, micro-USD
    haircut_floor: tuple[tuple[int, ...], ...]  # A x T, micro-USD (padding: VALUE_TOP)
    haircut_rate: tuple[tuple[int, ...], ...]  # A x T, ppm
    mm_ratio: int  # ppm
    short_option_min: tuple[int, ...]  # P, micro-USD per unit short (0 unless an option with a risk array)
    risk_long: tuple[tuple[int, ...], ...]  # P x S (zeros for slots without a risk array)
    risk_short: tuple[tuple[int, ...], ...]
    version: int  # parameter-version identity (e.g. sha256 of the engine's canonical JSON, >> 8)

    def flatten(self, shape: SolvencyShape) -> list[int]:
        out = [
            PARAMS_TAG,
            shape.assets,
            shape.positions,
            shape.brackets,
            shape.tiers,
            shape.scenarios,
            shape.underlyings,
            *(u + 1 for u in shape.slot_underlying),
            self.version,
            self.mm_ratio,
            *self.marks,
        ]
        for j in range(shape.positions):
            for k in range(shape.brackets):
                out += [self.bracket_floor[j][k], self.bracket_mmr[j][k], self.bracket_cum[j][k]]
        for a in range(shape.assets):
            for t in range(shape.tiers):
                out += [self.haircut_floor[a][t], self.haircut_rate[a][t]]
        for j in shape.ra_slots():
            out += [self.short_option_min[j], *self.risk_long[j]]
        return [x % R for x in out]

    def commitment(self, shape: SolvencyShape) -> int:
        return sponge(self.flatten(shape))

    def validate(self, shape: SolvencyShape) -> None:
        """The well-formedness the circuit assumes of published parameters (auditors run this)."""
        p, k, a, t, s = shape.positions, shape.brackets, shape.assets, shape.tiers, shape.scenarios
        if len(self.marks) != p or any(not 0 < m < 1 << PRICE_BITS for m in self.marks):
            raise ValueError("marks: one per slot, in (0, 2^53)")
        for j in range(p):
            fl, mm, cu = self.bracket_floor[j], self.bracket_mmr[j], self.bracket_cum[j]
            if len(fl) != k or len(mm) != k or len(cu) != k or fl[0] != 0:
                raise ValueError(f"brackets[{j}]: K entries starting at floor 0")
            if any(not fl[i] <= fl[i + 1] <= VALUE_TOP for i in range(k - 1)):
                raise ValueError(f"brackets[{j}]: floors must ascend and stay <= 2^62")
            if any(not 0 <= m <= 10**6 for m in mm) or any(not 0 <= c < VALUE_TOP for c in cu):
                raise ValueError(f"brackets[{j}]: mmr in [0, 1e6], cum in [0, 2^62)")
        for i in range(a):
            fl, rt = self.haircut_floor[i], self.haircut_rate[i]
            if len(fl) != t or len(rt) != t or fl[0] != 0:
                raise ValueError(f"haircuts[{i}]: T tiers starting at 0")
            if any(not fl[x] <= fl[x + 1] <= VALUE_TOP for x in range(t - 1)) or any(not 0 <= r <= 10**6 for r in rt):
                raise ValueError(f"haircuts[{i}]: ascending floors <= 2^62, rates in [0, 1e6]")
        if not 0 <= self.mm_ratio <= 10**6:
            raise ValueError("mm_ratio in [0, 1e6]")
        for j in shape.ra_slots():
            if len(self.risk_long[j]) != s or len(self.risk_short[j]) != s:
                raise ValueError(f"risk arrays[{j}]: S entries")
            if any(abs(x) >= 1 << 40 for x in (*self.risk_long[j], *self.risk_short[j])):
                raise ValueError(f"risk arrays[{j}]: |entry| < 2^40")
            if any(b != a + 1 for a, b in zip(self.risk_long[j], self.risk_short[j], strict=True)):
                raise ValueError(f"risk arrays[{j}]: short[s] must be long[s] + 1 (the circuit commits long only)")
            if not 0 <= self.short_option_min[j] < 1 << 40:
                raise ValueError(f"short_option_min[{j}] in [0, 2^40)")
        if not 0 <= self.version < 1 << 248:
            raise ValueError("version < 2^248")


def sponge(flat: list[int]) -> int:
    """The length-prefixed Poseidon chain of the module docstring."""
    acc = len(flat)
    for i in range(0, len(flat), CHUNK):
        acc = poseidon([acc, *flat[i : i + CHUNK]])
    return acc
