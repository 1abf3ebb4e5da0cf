"""R1CS -> QAP reduction with snarkjs's conventions (shared by trusted setup and the prover)."""

from __future__ import annotations

from dataclasses import dataclass

from zkmargin.circuits.field import R, batch_inverse, root_of_unity
from zkmargin.circuits.r1cs import R1CS

from .keys import QapEntry


@dataclass
class Qap:
    domain_size: int
    log_domain: int
    a: list[QapEntry]  # (row, signal, coeff)
    b: list[QapEntry]
    c: list[QapEntry]


def qap_from_r1cs(r1cs: R1CS) -> Qap:
    """Rows are the R1CS constraints followed by one row per public signal (incl. the constant one)
    with A = that signal: this makes the public polynomials independent, as in snarkjs."""
    a: list[QapEntry] = []
    b: list[QapEntry] = []
    c: list[QapEntry] = []
    for row, con in enumerate(r1cs.constraints):
        a.extend((row, s, v) for s, v in con.a.items())
        b.extend((row, s, v) for s, v in con.b.items())
        c.extend((row, s, v) for s, v in con.c.items())
    m = r1cs.n_constraints
    for i in range(r1cs.n_public + 1):
        a.append((m + i, i, 1))
    rows = m + r1cs.n_public + 1
    log_n = max(1, (rows - 1).bit_length())
    return Qap(1 << log_n, log_n, a, b, c)


def lagrange_at(x: int, log_n: int) -> list[int]:
    """[L_0(x), ..., L_{n-1}(x)] over the size-2^log_n domain; L_j(x) = w^j (x^n - 1) / (n (x - w^j)).
    Requires x outside the domain (true for a random tau with overwhelming probability)."""
    n = 1 << log_n
    w = root_of_unity(log_n)
    zx = (pow(x, n, R) - 1) % R
    if zx == 0:
        raise ValueError("evaluation point lies in the domain")
    pts = [1] * n
    for j in range(1, n):
        pts[j] = pts[j - 1] * w % R
    invs = batch_inverse([(x - p) % R for p in pts])
    k = zx * pow(n, R - 2, R) % R
    return [p * iv % R * k % R for p, iv in zip(pts, invs, strict=True)]


def evaluate_columns(entries: list[QapEntry], lagrange: list[int], n_vars: int) -> list[int]:
    """u_k(x) = sum_rows M[row][k] * L_row(x) for every signal k, given the L_row(x) values."""
    out = [0] * n_vars
    for row, sig, v in entries:
        out[sig] = (out[sig] + v * lagrange[row]) % R
    return out
