"""circom's .wtns witness format (version 2), as written by circom's witness calculator and snarkjs.

Sections: 1 header (u32 n8, prime[n8], u32 nWitness); 2 values (nWitness * n8 bytes). Values are
canonical little-endian integers, NOT Montgomery form (snarkjs's prover relies on that: its
Montgomery multiplication by coefficients stored times R^2 lands in Montgomery form).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from zkmargin.atomic import atomic_write_bytes

from ..field import R
from .binfile import SectionReader, build_binfile, encode_fields, expect_scalar_field, n8_for, read_binfile, u32

MAGIC = b"wtns"
VERSION = 2
SEC_HEADER = 1
SEC_VALUES = 2
N8 = n8_for(R)


def wtns_to_bytes(values: Sequence[int]) -> bytes:
    header = u32(N8) + R.to_bytes(N8, "little") + u32(len(values))
    return build_binfile(MAGIC, VERSION, [(SEC_HEADER, header), (SEC_VALUES, encode_fields(values, N8, R))])


def write_wtns(values: Sequence[int], path: str | os.PathLike[str]) -> None:
    """Write a witness (owner-only permissions: it holds the private inputs)."""
    atomic_write_bytes(path, wtns_to_bytes(values), mode=0o600)


def _values_section(path: str | os.PathLike[str]) -> tuple[SectionReader, int, int]:
    """The values section of a .wtns file, its value count and value size, after the header is checked (one
    parser for both readers: a check written twice drifts)."""
    bf = read_binfile(path, MAGIC, VERSION)
    h = bf.section(SEC_HEADER, "header")
    n8 = expect_scalar_field(h)
    n = h.u32("nWitness")
    h.end()
    v = bf.section(SEC_VALUES, "values")
    if v.remaining != n * n8:
        raise v.fail(f"header says {n} values ({n * n8} bytes), the section has {v.remaining} bytes")
    return v, n, n8


def read_wtns(path: str | os.PathLike[str]) -> list[int]:
    v, n, n8 = _values_section(path)
    vals = v.fields(n, n8, R, "witness")
    v.end()
    return vals


def read_wtns_packed(path: str | os.PathLike[str]) -> bytes:
    """The witness as the prover's packed scalars (32-byte little-endian each): the values section as
    stored, no Python integer per value. Checked canonical (< r) like :func:`read_wtns`, by the C kernel
    when it is built."""
    from ..msm_native import first_noncanonical

    v, n, n8 = _values_section(path)
    raw = bytes(v.raw(n * n8, "witness"))
    v.end()
    bad = first_noncanonical(raw)
    if bad >= 0:
        raise v.fail(f"witness[{bad}] is not a canonical field element (>= modulus)")
    return raw
