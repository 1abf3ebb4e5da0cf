"""BN254 points in ffjavascript's "LEM" encoding, as stored in .zkey and .ptau files.

LEM = affine coordinates, each a little-endian 32-byte integer in Montgomery form (x * 2^256 mod q).
G1 is ``x || y`` (64 bytes); G2 is ``x0 || x1 || y0 || y1`` (128 bytes) with x = x0 + x1*u, i.e. the
same coefficient order as our ``((x0, x1), (y0, y1))`` tuples. The point at infinity is all zero
bytes (wasmcurves' affine zero, which is never on the curve, so it is unambiguous).
"""

from __future__ import annotations

import gmpy2

from ..curve import B2, G1Affine, G2Affine
from ..field import P
from .binfile import SectionReader, encode_fields

N8Q = 32
G1_SIZE = 2 * N8Q
G2_SIZE = 4 * N8Q
MONT_Q = (1 << (8 * N8Q)) % P  # Montgomery factor R for Fq
MONT_Q_INV = int(gmpy2.invert(MONT_Q, P))

_P = gmpy2.mpz(P)
_B2_0 = gmpy2.mpz(B2[0])
_B2_1 = gmpy2.mpz(B2[1])


def decode_g1_lem(r: SectionReader, count: int, what: str, check: bool = True) -> list[G1Affine]:
    """``count`` G1 points from the reader; ``check`` rejects points that are not on the curve."""
    c = r.fields(2 * count, N8Q, P, what)
    k = gmpy2.mpz(MONT_Q_INV)
    out: list[G1Affine] = []
    for i in range(count):
        xm, ym = c[2 * i], c[2 * i + 1]
        if xm == 0 and ym == 0:
            out.append(None)
            continue
        x = xm * k % _P
        y = ym * k % _P
        if check and (y * y - x * x * x - 3) % _P:
            raise r.fail(f"{what}[{i}] is not on the BN254 G1 curve")
        out.append((int(x), int(y)))
    return out


def decode_g2_lem(r: SectionReader, count: int, what: str, check: bool = True) -> list[G2Affine]:
    """``count`` G2 points; ``check`` tests the twist equation y^2 = x^3 + 3/(9+u) (not the subgroup)."""
    c = r.fields(4 * count, N8Q, P, what)
    k = gmpy2.mpz(MONT_Q_INV)
    out: list[G2Affine] = []
    for i in range(count):
        a0, a1, b0, b1 = c[4 * i : 4 * i + 4]
        if a0 == 0 and a1 == 0 and b0 == 0 and b1 == 0:
            out.append(None)
            continue
        x0, x1, y0, y1 = a0 * k % _P, a1 * k % _P, b0 * k % _P, b1 * k % _P
        if check:
            # x^3 over Fq2 with u^2 = -1
            xx0, xx1 = (x0 + x1) * (x0 - x1), 2 * x0 * x1
            x30, x31 = xx0 * x0 - xx1 * x1, xx0 * x1 + xx1 * x0
            yy0, yy1 = (y0 + y1) * (y0 - y1), 2 * y0 * y1
            if (yy0 - x30 - _B2_0) % _P or (yy1 - x31 - _B2_1) % _P:
                raise r.fail(f"{what}[{i}] is not on the BN254 G2 twist")
        out.append(((int(x0), int(x1)), (int(y0), int(y1))))
    return out


def encode_g1_lem(points: list[G1Affine]) -> bytes:
    coords: list[int] = []
    for p in points:
        if p is None:
            coords += (0, 0)
        else:
            coords += p
    return encode_fields(coords, N8Q, P, montgomery=MONT_Q)


def encode_g2_lem(points: list[G2Affine]) -> bytes:
    coords: list[int] = []
    for p in points:
        if p is None:
            coords += (0, 0, 0, 0)
        else:
            (x0, x1), (y0, y1) = p
            coords += (x0, x1, y0, y1)
    return encode_fields(coords, N8Q, P, montgomery=MONT_Q)


__all__ = [
    "G1_SIZE",
    "G2_SIZE",
    "MONT_Q",
    "MONT_Q_INV",
    "N8Q",
    "decode_g1_lem",
    "decode_g2_lem",
    "encode_g1_lem",
    "encode_g2_lem",
]
