"""circom's .r1cs format (version 1), read and written byte-compatibly with circom 2 and snarkjs.

Sections: 1 header (u32 n8, prime[n8], u32 nWires, u32 nPubOut, u32 nPubIn, u32 nPrvIn,
u64 nLabels, u32 mConstraints); 2 constraints (per constraint, the linear combinations A, B, C each
as u32 nTerms then nTerms * (u32 wire, coeff[n8])); 3 wire -> label map (u64 per wire); 4 and 5 are
PLONK custom gates, which have no R1CS meaning and are rejected. Coefficients are canonical
little-endian integers (not Montgomery).

The format carries no names: constraint names come back as ``#<index>``, and signal names
travel in circom's companion .sym file (:func:`write_sym` / ``read_r1cs(..., sym_path=...)``).
Linear-combination terms are written in dict order, so a file round-trips term for term and
snarkjs (which processes terms in file order) sees the same order as our own setup.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from zkmargin.atomic import atomic_write_bytes

from ..field import R
from ..r1cs import R1CS, Coeffs, Constraint
from .binfile import BinFileError, SectionReader, build_binfile, expect_scalar_field, n8_for, read_binfile, u32, u64

MAGIC = b"r1cs"
VERSION = 1
SEC_HEADER = 1
SEC_CONSTRAINTS = 2
SEC_WIRE2LABEL = 3
SEC_CUSTOM_GATES_LIST = 4
SEC_CUSTOM_GATES_USES = 5
N8 = n8_for(R)


def _encode_lc(lc: Coeffs, n_vars: int, where: str) -> bytes:
    parts = [u32(len(lc))]
    for s, v in lc.items():
        if not 0 <= s < n_vars:
            raise ValueError(f"{where}: signal {s} out of range [0, {n_vars})")
        if not 0 <= v < R:
            raise ValueError(f"{where}: coefficient of signal {s} is not a canonical field element")
        parts.append(u32(s))
        parts.append(v.to_bytes(N8, "little"))
    return b"".join(parts)


def r1cs_to_bytes(r1cs: R1CS, labels: Sequence[int] | None = None) -> bytes:
    """Serialise; ``labels`` (wire -> label id) defaults to the identity, as for an unoptimised circuit."""
    n_io = 1 + r1cs.n_pub_out + r1cs.n_pub_in + r1cs.n_prv_in
    if n_io > r1cs.n_vars:
        raise ValueError(f"R1CS declares {n_io} io signals (incl. one) but only {r1cs.n_vars} signals")
    wire_labels = list(range(r1cs.n_vars)) if labels is None else list(labels)
    if len(wire_labels) != r1cs.n_vars:
        raise ValueError(f"labels has {len(wire_labels)} entries, the R1CS has {r1cs.n_vars} wires")
    n_labels = max(wire_labels, default=-1) + 1
    header = b"".join(
        [
            u32(N8),
            R.to_bytes(N8, "little"),
            u32(r1cs.n_vars),
            u32(r1cs.n_pub_out),
            u32(r1cs.n_pub_in),
            u32(r1cs.n_prv_in),
            u64(n_labels),
            u32(len(r1cs.constraints)),
        ]
    )
    cons = b"".join(
        _encode_lc(lc, r1cs.n_vars, f"constraint {i} ({c.name}) {m}")
        for i, c in enumerate(r1cs.constraints)
        for m, lc in (("A", c.a), ("B", c.b), ("C", c.c))
    )
    wmap = b"".join(u64(lbl) for lbl in wire_labels)
    return build_binfile(MAGIC, VERSION, [(SEC_HEADER, header), (SEC_CONSTRAINTS, cons), (SEC_WIRE2LABEL, wmap)])


def write_r1cs(r1cs: R1CS, path: str | os.PathLike[str], labels: Sequence[int] | None = None) -> None:
    atomic_write_bytes(path, r1cs_to_bytes(r1cs, labels))


def _read_lc(r: SectionReader, n_wires: int, where: str) -> Coeffs:
    n = r.u32(f"{where} term count")
    if n > r.remaining // (4 + N8):
        raise r.fail(f"{where}: {n} terms do not fit in the remaining {r.remaining} bytes (truncated?)")
    raw = r.raw(n * (4 + N8), f"{where} terms")
    out: Coeffs = {}
    step = 4 + N8
    for k in range(n):
        o = k * step
        s = int.from_bytes(raw[o : o + 4], "little")
        v = int.from_bytes(raw[o + 4 : o + step], "little")
        if s >= n_wires:
            raise r.fail(f"{where}: wire {s} out of range [0, {n_wires})")
        if v >= R:
            raise r.fail(f"{where}: coefficient of wire {s} is not a canonical field element (>= prime)")
        if s in out:
            raise r.fail(f"{where}: wire {s} appears twice")
        out[s] = v
    return out


def read_r1cs(path: str | os.PathLike[str], sym_path: str | os.PathLike[str] | None = None) -> R1CS:
    """Read a circom/snarkjs .r1cs over the BN254 scalar field; ``sym_path`` adds signal names."""
    bf = read_binfile(path, MAGIC, VERSION)
    for sec in (SEC_CUSTOM_GATES_LIST, SEC_CUSTOM_GATES_USES):
        if bf.has(sec):
            raise BinFileError(f"{bf.path}: section {sec}: custom gates are PLONK-only and unsupported for Groth16")
    h = bf.section(SEC_HEADER, "header")
    expect_scalar_field(h, " (compile with circom --prime bn128)")
    n_wires = h.u32("nWires")
    n_pub_out = h.u32("nPubOut")
    n_pub_in = h.u32("nPubIn")
    n_prv_in = h.u32("nPrvIn")
    n_labels = h.u64("nLabels")
    m = h.u32("mConstraints")
    h.end()
    if 1 + n_pub_out + n_pub_in + n_prv_in > n_wires:
        raise h.fail(f"{1 + n_pub_out + n_pub_in + n_prv_in} io wires (incl. one) exceed nWires={n_wires}")

    c = bf.section(SEC_CONSTRAINTS, "constraints")
    if m > c.remaining // 12:
        raise c.fail(f"header says {m} constraints, the section can hold at most {c.remaining // 12}")
    constraints = []
    for i in range(m):
        a = _read_lc(c, n_wires, f"constraint {i} A")
        b = _read_lc(c, n_wires, f"constraint {i} B")
        cc = _read_lc(c, n_wires, f"constraint {i} C")
        constraints.append(Constraint(a, b, cc, f"#{i}"))
    c.end()

    if bf.has(SEC_WIRE2LABEL):
        w = bf.section(SEC_WIRE2LABEL, "wire2label")
        for i in range(n_wires):
            lbl = w.u64(f"label of wire {i}")
            if lbl >= n_labels:
                raise w.fail(f"label {lbl} of wire {i} >= nLabels={n_labels}")
        w.end()

    names = read_sym(sym_path, n_wires) if sym_path is not None else []
    return R1CS(n_wires, n_pub_out, n_pub_in, n_prv_in, constraints, names)


def write_sym(r1cs: R1CS, path: str | os.PathLike[str]) -> None:
    """circom's .sym ("label,wire,component,name" per line) for the R1CS's signal names, which
    snarkjs ``wtns debug`` and ``r1cs print`` use to show names. Signal 0 (one) is implicit."""
    if len(r1cs.signal_names) != r1cs.n_vars:
        raise ValueError(f"R1CS has {len(r1cs.signal_names)} signal names for {r1cs.n_vars} signals")
    lines = []
    for i, name in enumerate(r1cs.signal_names[1:], start=1):
        if "\n" in name or "\r" in name:
            raise ValueError(f"signal name {name!r} contains a newline")
        lines.append(f"{i},{i},0,{name}\n")
    atomic_write_bytes(path, "".join(lines).encode())


def read_sym(path: str | os.PathLike[str], n_wires: int) -> list[str]:
    """Signal names by wire index from a .sym file; wire 0 is "one", wires without a line get ""."""
    names = [""] * n_wires
    if n_wires:
        names[0] = "one"
    for lineno, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line:
            continue
        parts = line.split(",", 3)
        try:
            wire = int(parts[1])
            if len(parts) != 4:
                raise ValueError
        except (ValueError, IndexError):
            raise BinFileError(f"{os.fspath(path)}: line {lineno}: expected label,wire,component,name") from None
        if wire < 0:  # circom: signal removed by the optimiser
            continue
        if wire >= n_wires:
            raise BinFileError(f"{os.fspath(path)}: line {lineno}: wire {wire} out of range [0, {n_wires})")
        if not names[wire]:  # circom lists aliases of a wire after its first name
            names[wire] = parts[3]
    return names
