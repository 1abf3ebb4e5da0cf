"""snarkjs's Groth16 .zkey format (container version 1), read and written byte-compatibly with 0.7.6.

Sections (all little-endian; "LEM" points are affine Montgomery coordinates, infinity = zero bytes,
see :mod:`zkmargin.circuits.formats.points`):

1. header: u32 protocol (1 = Groth16; 2 = PLONK and 10 = FFLONK are rejected)
2. Groth16 header: u32 n8q, q[n8q], u32 n8r, r[n8r], u32 nVars, u32 nPublic, u32 domainSize,
   alpha1, beta1 (G1), beta2, gamma2 (G2), delta1 (G1), delta2 (G2)
3. IC: nPublic + 1 G1 points
4. coefficients: u32 n, then n * (u32 matrix (0 = A, 1 = B), u32 row, u32 signal, value[n8r]) with
   value stored as the canonical integer ``c * R^2 mod r`` (R = 2^256): the prover Montgomery-multiplies
   it by a plain (non-Montgomery) witness value and gets c*w directly in Montgomery form
5. A, 6. B1 (G1, nVars each), 7. B2 (G2, nVars), 8. C (G1, nVars - nPublic - 1),
9. H (G1, domainSize), 10. MPC contributions: csHash[64], u32 n, n contributions

snarkjs ``groth16 setup`` writes sections in the order 1 2 4 3 9 8 5 6 7 10; ``zkey contribute`` and
``beacon`` rewrite them as 1..10, which is the order used here, so writing back a contributed
zkey read with :func:`read_zkey` and :func:`read_zkey_mpc` reproduces it byte for byte.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import gmpy2

from zkmargin.atomic import atomic_write_bytes
from zkmargin.circuits.field import P, R
from zkmargin.circuits.formats.binfile import (
    BinFile,
    BinFileError,
    SectionReader,
    build_binfile,
    n8_for,
    read_binfile,
    u32,
)
from zkmargin.circuits.formats.points import (
    G1_SIZE,
    G2_SIZE,
    decode_g1_lem,
    decode_g2_lem,
    encode_g1_lem,
    encode_g2_lem,
)
from zkmargin.verifier.zkey_mpc import Contribution, MpcParams, decode_mpc_section, encode_mpc_section

from .keys import PointBuffer, ProvingKey, QapEntry

MAGIC = b"zkey"
VERSION = 1
GROTH16_PROTOCOL_ID = 1
_OTHER_PROTOCOLS = {2: "PLONK", 10: "FFLONK"}

SEC_HEADER = 1
SEC_GROTH_HEADER = 2
SEC_IC = 3
SEC_COEFFS = 4
SEC_A = 5
SEC_B1 = 6
SEC_B2 = 7
SEC_C = 8
SEC_H = 9
SEC_CONTRIBUTIONS = 10

N8Q = n8_for(P)
N8R = n8_for(R)
_MONT_R = (1 << (8 * N8R)) % R
MONT_R2 = _MONT_R * _MONT_R % R  # coefficients are stored times R^2
MONT_R2_INV = int(gmpy2.invert(MONT_R2, R))
_COEF_SIZE = 12 + N8R


# ---------------------------------------------------------------- writing


def _coeff_section(pk: ProvingKey) -> bytes:
    # A before B within each row, file order otherwise: exactly how zkey_new.js emits them and how
    # zkey_utils.writeZKey's stable sort by row leaves them.
    from zkmargin.circuits import msm_native

    if msm_native.available():  # the same bytes and errors from the kernel (a stable counting sort)
        assert msm_native._bn254 is not None
        entries = msm_native._bn254.coeff_section(pk.a_coeffs, pk.b_coeffs, pk.n_vars, pk.domain_size)
        return u32(len(pk.a_coeffs) + len(pk.b_coeffs)) + entries
    tagged = [(row, 0, sig, v) for row, sig, v in pk.a_coeffs] + [(row, 1, sig, v) for row, sig, v in pk.b_coeffs]
    tagged.sort(key=lambda t: (t[0], t[1]))
    parts = [u32(len(tagged))]
    k = gmpy2.mpz(MONT_R2)
    r = gmpy2.mpz(R)
    for row, m, sig, v in tagged:
        if not 0 <= row < pk.domain_size:
            raise ValueError(f"coefficient row {row} outside the domain of size {pk.domain_size}")
        if not 0 <= sig < pk.n_vars:
            raise ValueError(f"coefficient signal {sig} out of range [0, {pk.n_vars})")
        if not 0 <= v < R:
            raise ValueError(f"coefficient ({row}, {sig}) is not a canonical field element")
        parts.append(u32(m) + u32(row) + u32(sig) + int(v * k % r).to_bytes(N8R, "little"))
    return b"".join(parts)


def _mpc_section(mpc: MpcParams) -> bytes:
    return encode_mpc_section(mpc)


def _check_lengths(pk: ProvingKey) -> None:
    expect = {
        "ic": (len(pk.ic), pk.n_public + 1),
        "a_g1": (len(pk.a_g1), pk.n_vars),
        "b_g1": (len(pk.b_g1), pk.n_vars),
        "b_g2": (len(pk.b_g2), pk.n_vars),
        "c_g1": (len(pk.c_g1), pk.n_vars - pk.n_public - 1),
        "h_g1": (len(pk.h_g1), pk.domain_size),
    }
    for name, (got, want) in expect.items():
        if got != want:
            raise ValueError(f"ProvingKey.{name} has {got} points, expected {want}")
    if pk.domain_size <= 0 or pk.domain_size & (pk.domain_size - 1):
        raise ValueError(f"domain_size {pk.domain_size} is not a power of two")


def _point_section(pk: ProvingKey, name: str) -> bytes:
    """A large point list's section: its packed copy when the key has one (the kernel's layout is the
    .zkey's: Montgomery, little-endian, zero for infinity; a native dev setup makes them), else encoded."""
    points = getattr(pk, name)
    size = 128 if name == "b_g2" else 64
    raw = pk.packed.get(name)
    if raw is not None and len(raw) == size * len(points):
        return bytes(raw)
    return encode_g2_lem(points) if name == "b_g2" else encode_g1_lem(points)


def zkey_to_bytes(pk: ProvingKey, mpc: MpcParams | None = None) -> bytes:
    """Serialise; ``mpc`` defaults to the key's own records (``pk.mpc``), else a zero hash and no
    contributions."""
    pk.require_decoded("writing a .zkey")
    _check_lengths(pk)
    groth_header = b"".join(
        [
            u32(N8Q),
            P.to_bytes(N8Q, "little"),
            u32(N8R),
            R.to_bytes(N8R, "little"),
            u32(pk.n_vars),
            u32(pk.n_public),
            u32(pk.domain_size),
            encode_g1_lem([pk.alpha1, pk.beta1]),
            encode_g2_lem([pk.beta2, pk.gamma2]),
            encode_g1_lem([pk.delta1]),
            encode_g2_lem([pk.delta2]),
        ]
    )
    sections = [
        (SEC_HEADER, u32(GROTH16_PROTOCOL_ID)),
        (SEC_GROTH_HEADER, groth_header),
        (SEC_IC, encode_g1_lem(pk.ic)),
        (SEC_COEFFS, _coeff_section(pk)),
        (SEC_A, _point_section(pk, "a_g1")),
        (SEC_B1, _point_section(pk, "b_g1")),
        (SEC_B2, _point_section(pk, "b_g2")),
        (SEC_C, _point_section(pk, "c_g1")),
        (SEC_H, _point_section(pk, "h_g1")),
        (SEC_CONTRIBUTIONS, _mpc_section(mpc or pk.mpc or MpcParams())),
    ]
    return build_binfile(MAGIC, VERSION, sections)


def write_zkey(pk: ProvingKey, path: str | os.PathLike[str], mpc: MpcParams | None = None) -> None:
    atomic_write_bytes(path, zkey_to_bytes(pk, mpc))


# ---------------------------------------------------------------- reading


def _open(path: str | os.PathLike[str], mapped: bool = False) -> BinFile:
    bf = read_binfile(path, MAGIC, VERSION, mapped=mapped)
    h = bf.section(SEC_HEADER, "header")
    proto = h.u32("protocol")
    h.end()
    if proto != GROTH16_PROTOCOL_ID:
        kind = _OTHER_PROTOCOLS.get(proto, "unknown")
        raise h.fail(f"protocol id {proto} ({kind}) is not Groth16")
    return bf


def _points(bf: BinFile, sec: int, name: str, count: int, g2: bool, check: bool) -> list[Any]:
    r = bf.section(sec, name)
    size = G2_SIZE if g2 else G1_SIZE
    if r.remaining != count * size:
        raise r.fail(f"expected {count} points ({count * size} bytes), the section has {r.remaining} bytes")
    pts = decode_g2_lem(r, count, name, check) if g2 else decode_g1_lem(r, count, name, check)
    r.end()
    return pts


def _coeff_raw(r: SectionReader) -> memoryview:
    """The coefficient entries (everything after the u32 count), checked for length."""
    n = r.u32("coefficient count")
    if r.remaining != n * _COEF_SIZE:
        raise r.fail(f"{n} coefficients need {n * _COEF_SIZE} bytes, the section has {r.remaining} bytes")
    raw = r.raw(n * _COEF_SIZE, "coefficients")
    r.end()
    return raw


def _coeff_error(i: int, m: int, row: int, sig: int, v: int, n_vars: int, domain_size: int) -> str:
    if v >= R:
        return f"coefficient {i} is not a canonical field element (>= r)"
    if row >= domain_size:
        return f"coefficient {i}: row {row} outside the domain of size {domain_size}"
    if sig >= n_vars:
        return f"coefficient {i}: signal {sig} out of range [0, {n_vars})"
    return f"coefficient {i}: matrix id {m} (only 0 = A and 1 = B are stored)"


def _entry(raw: PointBuffer, i: int) -> tuple[int, int, int, int]:
    o = i * _COEF_SIZE
    f = int.from_bytes
    return (
        f(raw[o : o + 4], "little"),
        f(raw[o + 4 : o + 8], "little"),
        f(raw[o + 8 : o + 12], "little"),
        f(raw[o + 12 : o + _COEF_SIZE], "little"),
    )


def decode_coeffs(
    raw: PointBuffer, n_vars: int, domain_size: int, fail: Callable[[str], Exception] = ValueError
) -> tuple[list[QapEntry], list[QapEntry]]:
    """Section 4's entries (after the count) as (row, signal, coefficient) lists for A and B."""
    a: list[QapEntry] = []
    b: list[QapEntry] = []
    k = gmpy2.mpz(MONT_R2_INV)
    rr = gmpy2.mpz(R)
    for i in range(len(raw) // _COEF_SIZE):
        m, row, sig, v = _entry(raw, i)
        if v >= R or row >= domain_size or sig >= n_vars or m > 1:
            raise fail(_coeff_error(i, m, row, sig, v, n_vars, domain_size))
        (b if m else a).append((row, sig, int(v * k % rr)))
    return a, b


_R_TOP = R >> 192


def check_coeffs(
    raw: PointBuffer, n_vars: int, domain_size: int, fail: Callable[[str], Exception] = ValueError
) -> None:
    """The checks of :func:`decode_coeffs` without decoding (the C kernel's one pass, else numpy; no
    Python objects per entry): raises ``fail`` with the same message for the first bad entry."""
    from zkmargin.circuits import msm_native

    if msm_native.available():
        assert msm_native._bn254 is not None
        found = msm_native._bn254.check_coeffs(raw, n_vars, domain_size)
        if found is not None:
            i = found[0]
            raise fail(_coeff_error(i, *_entry(raw, i), n_vars, domain_size))
        return
    import numpy as np  # imported here: ~50 ms a prover start does not need when the kernel checks

    dtype = np.dtype([("m", "<u4"), ("row", "<u4"), ("sig", "<u4"), ("v", "<u8", (4,))])
    e = np.frombuffer(raw, dtype=dtype)
    top = e["v"][:, 3]
    bad = top > _R_TOP
    for j in np.flatnonzero(top == _R_TOP):  # rare (top limb equal to r's): decide exactly
        bad[j] = _entry(raw, int(j))[3] >= R
    bad |= e["row"] >= domain_size
    bad |= e["sig"] >= n_vars
    bad |= e["m"] > 1
    if bad.any():
        i = int(np.argmax(bad))
        raise fail(_coeff_error(i, *_entry(raw, i), n_vars, domain_size))


def qap_coeffs(pk: ProvingKey) -> tuple[list[QapEntry], list[QapEntry]]:
    """A's and B's entries of any key, decoded from the raw section if it was loaded ``packed_only``."""
    raw = pk.packed.get("coeffs")
    if raw is not None and not pk.a_coeffs and not pk.b_coeffs:
        return decode_coeffs(raw, pk.n_vars, pk.domain_size)
    return pk.a_coeffs, pk.b_coeffs


def read_zkey(path: str | os.PathLike[str], check_points: bool = True, packed_only: bool = False) -> ProvingKey:
    """Load a Groth16 .zkey; ``check_points`` verifies every point is on its curve (not the subgroup).

    ``packed_only`` is the prover's fast path when the C kernel is built: the file is memory-mapped and
    the large point lists stay in the file's own encoding (Montgomery, little-endian: what the kernel
    reads) as zero-copy views in ``pk.packed``, so A, B1, B2, C and H are left empty and cost no memory
    until the kernel touches them (pages the OS can drop again). Use it only for one's own key files:
    those points are not curve-checked. The coefficient section stays raw too (``pk.packed["coeffs"]``,
    ``a_coeffs``/``b_coeffs`` left empty; :func:`qap_coeffs` decodes it on demand): its entries are
    checked here (:func:`check_coeffs`), and the kernel evaluates A and B from it directly.

    Errors are :class:`~zkmargin.circuits.formats.binfile.BinFileError` (a ValueError) naming the
    file, the section and the reason.
    """
    bf = _open(path, mapped=packed_only)
    g = bf.section(SEC_GROTH_HEADER, "groth16 header")
    n8q = g.u32("n8q")
    if n8q != N8Q or g.integer(n8q, "q") != P:
        raise g.fail("base field is not BN254's (only bn128 zkeys are supported)")
    n8r = g.u32("n8r")
    if n8r != N8R or g.integer(n8r, "r") != R:
        raise g.fail("scalar field is not BN254's (only bn128 zkeys are supported)")
    n_vars = g.u32("nVars")
    n_public = g.u32("nPublic")
    domain_size = g.u32("domainSize")
    if domain_size == 0 or domain_size & (domain_size - 1):
        raise g.fail(f"domainSize {domain_size} is not a power of two")
    if n_public + 1 > n_vars:
        raise g.fail(f"nPublic={n_public} leaves no room in nVars={n_vars}")
    alpha1, beta1 = decode_g1_lem(g, 2, "alpha1/beta1", check_points)
    beta2, gamma2 = decode_g2_lem(g, 2, "beta2/gamma2", check_points)
    (delta1,) = decode_g1_lem(g, 1, "delta1", check_points)
    (delta2,) = decode_g2_lem(g, 1, "delta2", check_points)
    g.end()

    cr = bf.section(SEC_COEFFS, "coefficients")
    coeffs = _coeff_raw(cr)
    a_coeffs: list[QapEntry] = []
    b_coeffs: list[QapEntry] = []
    if packed_only:  # checked here, evaluated by the kernel straight from the map
        check_coeffs(coeffs, n_vars, domain_size, cr.fail)
    else:
        a_coeffs, b_coeffs = decode_coeffs(coeffs, n_vars, domain_size, cr.fail)
    # (section, name, point count, G2?) of the lists the prover multiplies
    lists = {
        "a_g1": (SEC_A, "A", n_vars, False),
        "b_g1": (SEC_B1, "B1", n_vars, False),
        "b_g2": (SEC_B2, "B2", n_vars, True),
        "c_g1": (SEC_C, "C", n_vars - n_public - 1, False),
        "h_g1": (SEC_H, "H", domain_size, False),
    }
    points: dict[str, list[Any]] = {}
    packed: dict[str, PointBuffer] = {"coeffs": coeffs} if packed_only else {}
    for key, (sec, name, count, g2) in lists.items():
        if packed_only:
            r = bf.section(sec, name)
            packed[key] = r.raw(count * (128 if g2 else 64), f"{name} points")  # a view of the map, no copy
            r.end()
            points[key] = []
        else:
            points[key] = _points(bf, sec, name, count, g2, check_points)
    pk = ProvingKey(
        n_vars=n_vars,
        n_public=n_public,
        domain_size=domain_size,
        alpha1=alpha1,
        beta1=beta1,
        beta2=beta2,
        gamma2=gamma2,
        delta1=delta1,
        delta2=delta2,
        ic=_points(bf, SEC_IC, "IC", n_public + 1, False, check_points),
        a_g1=points["a_g1"],
        b_g1=points["b_g1"],
        b_g2=points["b_g2"],
        c_g1=points["c_g1"],
        h_g1=points["h_g1"],
        a_coeffs=a_coeffs,
        b_coeffs=b_coeffs,
    )
    pk.packed.update(packed)
    pk.mpc = decode_mpc_section(bf.section(SEC_CONTRIBUTIONS, "contributions"))
    return pk


def read_zkey_mpc(path: str | os.PathLike[str]) -> MpcParams:
    """Section 10 of a Groth16 zkey: the circuit hash and the phase-2 contribution records."""
    bf = _open(path)
    return decode_mpc_section(bf.section(SEC_CONTRIBUTIONS, "contributions"))


__all__ = [
    "BinFileError",
    "Contribution",
    "MpcParams",
    "read_zkey",
    "read_zkey_mpc",
    "write_zkey",
    "zkey_to_bytes",
]
