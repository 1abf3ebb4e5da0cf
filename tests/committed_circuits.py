"""Tiny committed circuits shared by the commitment tests (unit, ceremony, red team, on-chain red team).

Importable by name: ``tests/`` is on ``sys.path`` (see conftest). Each is the smallest circuit that shows one
property of the commitment and its challenge.
"""

from __future__ import annotations

from zkmargin.circuits.field import R
from zkmargin.circuits.r1cs import ConstraintSystem


def square_plus_y() -> ConstraintSystem:
    """x private, y public; out = x^2 + y; x and x^2 committed; the challenge c must differ from x (x - c has an
    inverse): a prover free to choose c could set c = x and make the circuit unsatisfiable only for itself, and,
    more to the point, any relation checked at c would be checked at a point of its choice."""
    cs = ConstraintSystem()
    x = cs.input("x")
    y = cs.input("y", public=True)
    t = cs.mul(x, x, "t")
    cs.output("out", t + y)
    c = cs.commit([x, t])
    inv_ = cs.hint1("inv", lambda a, b: pow((a - b) % R, R - 2, R), c, x)
    cs.constrain(c - x, inv_, 1, "c != x")
    return cs


def challenge_only() -> ConstraintSystem:
    """y, out public; x private and committed; c * (out - y^2) == x: sound only because x is fixed before the
    challenge c (with c = 0 any out passes), so a verifier that lets the prover pick c accepts a false out."""
    cs = ConstraintSystem()
    y = cs.input("y", public=True)
    out = cs.input("out", public=True)
    x = cs.input("x")
    ysq = cs.mul(y, y, "ysq")
    c = cs.commit([x])
    cs.constrain(c, out - ysq, x, "c * (out - y^2) == x")
    return cs
