"""snarkjs's deterministic randomness, reimplemented bit for bit (ffjavascript 0.3 / snarkjs 0.7.6).

A phase-2 contribution's proof of knowledge is checked against a G2 point that nobody chooses:
``hashToG2(transcript)`` seeds ffjavascript's ChaCha generator with the transcript hash and draws
a random G2 point from it. A beacon contribution's secret is drawn the same way from an iterated
SHA-256 of the public beacon. To check snarkjs's contributions (and to make ours that snarkjs can
check) we must draw exactly the same values, quirks included:

* ``ChaCha``: the ChaCha20 block function (10 double rounds) over a 16-word state whose key words
  are the 8 seed words and whose 64-bit counter is words 12..15; it hands out the 16 output words in
  order. ``nextU64`` is ``hi * 2^32 + lo`` with ``hi`` drawn first.
* ``F.fromRng``: four ``nextU64`` (least significant first), masked to the modulus' bit length,
  rejected while >= p; the integer is then used *as a Montgomery representation* (ffjavascript
  never converts it), so the field element drawn is ``v * 2^-256 mod p``.
* ``G.fromRng``: x from ``F.fromRng`` (Fq2: c0 then c1), one ``nextBool`` for the sign, retried
  until x^3 + b is a square; y is the root whose "negative" flag (Fq: y > (p-1)/2; Fq2: that of c1,
  or of c0 when c1 = 0) equals the drawn bool; G2 points are then multiplied by the full cofactor.

Only ``zkmargin.circuits`` is imported: this is auditor-side code.
"""

from __future__ import annotations

import hashlib
import os
import struct

from zkmargin.circuits.curve import (
    B1,
    B2,
    JAC2_INF,
    G1Affine,
    G2Affine,
    f2_add,
    f2_is_zero,
    f2_mul,
    f2_sqr,
    f2_sqrt,
    g2_add,
    g2_double,
    g2_to_affine,
    g2_to_jac,
)
from zkmargin.circuits.field import P, R

_MASK32 = 0xFFFFFFFF
_CONSTANTS = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)
_MONT_INV_P = pow(1 << 256, -1, P)
_MONT_INV_R = pow(1 << 256, -1, R)
# ffjavascript bn128.js: cofactorG2 (|E'(Fq2)| / r)
G2_COFACTOR = 0x30644E72E131A029B85045B68181585E06CEECDA572A2489345F2299C0F9FA8D
_HALF_P = (P - 1) // 2


def _rotl(v: int, n: int) -> int:
    return ((v << n) | (v >> (32 - n))) & _MASK32


def _quarter(st: list[int], a: int, b: int, c: int, d: int) -> None:
    st[a] = (st[a] + st[b]) & _MASK32
    st[d] = _rotl(st[d] ^ st[a], 16)
    st[c] = (st[c] + st[d]) & _MASK32
    st[b] = _rotl(st[b] ^ st[c], 12)
    st[a] = (st[a] + st[b]) & _MASK32
    st[d] = _rotl(st[d] ^ st[a], 8)
    st[c] = (st[c] + st[d]) & _MASK32
    st[b] = _rotl(st[b] ^ st[c], 7)


class ChaCha:
    """ffjavascript's ChaCha RNG: seeded with eight 32-bit words, deterministic."""

    def __init__(self, seed: list[int]) -> None:
        if len(seed) != 8 or any(not 0 <= s <= _MASK32 for s in seed):
            raise ValueError("ChaCha seed must be eight 32-bit words")
        self.state = [*_CONSTANTS, *seed, 0, 0, 0, 0]
        self.idx = 16
        self.buff = [0] * 16

    @staticmethod
    def from_hash(h: bytes) -> ChaCha:
        """Seeded as snarkjs does from a hash: its first 32 bytes as eight big-endian words."""
        if len(h) < 32:
            raise ValueError("a ChaCha seed hash needs at least 32 bytes")
        return ChaCha(list(struct.unpack(">8I", h[:32])))

    def _update(self) -> None:
        x = list(self.state)
        for _ in range(10):
            _quarter(x, 0, 4, 8, 12)
            _quarter(x, 1, 5, 9, 13)
            _quarter(x, 2, 6, 10, 14)
            _quarter(x, 3, 7, 11, 15)
            _quarter(x, 0, 5, 10, 15)
            _quarter(x, 1, 6, 11, 12)
            _quarter(x, 2, 7, 8, 13)
            _quarter(x, 3, 4, 9, 14)
        self.buff = [(x[i] + self.state[i]) & _MASK32 for i in range(16)]
        self.idx = 0
        for w in (12, 13, 14, 15):  # 128-bit little-endian word counter, as ffjavascript carries it
            self.state[w] = (self.state[w] + 1) & _MASK32
            if self.state[w]:
                break

    def next_u32(self) -> int:
        if self.idx == 16:
            self._update()
        v = self.buff[self.idx]
        self.idx += 1
        return v

    def next_u64(self) -> int:
        hi = self.next_u32()
        return hi * (1 << 32) + self.next_u32()

    def next_bool(self) -> bool:
        return (self.next_u32() & 1) == 1


def _field_from_rng(rng: ChaCha, modulus: int, mont_inv: int) -> int:
    mask = (1 << modulus.bit_length()) - 1
    while True:
        v = 0
        for i in range(4):
            v += rng.next_u64() << (64 * i)
        v &= mask
        if v < modulus:
            return v * mont_inv % modulus  # the drawn bytes are read as a Montgomery form


def fr_from_rng(rng: ChaCha) -> int:
    """``curve.Fr.fromRng``: a scalar (may be 0 with negligible probability, as in snarkjs)."""
    return _field_from_rng(rng, R, _MONT_INV_R)


def fq_from_rng(rng: ChaCha) -> int:
    return _field_from_rng(rng, P, _MONT_INV_P)


def _fq_sqrt(a: int) -> int | None:
    y = pow(a, (P + 1) // 4, P)  # p = 3 mod 4
    return y if y * y % P == a % P else None


def g1_from_rng(rng: ChaCha) -> G1Affine:
    """``curve.G1.fromRng`` (G1 has cofactor 1)."""
    while True:
        x = fq_from_rng(rng)
        greatest = rng.next_bool()
        y = _fq_sqrt((x * x * x + B1) % P)
        if y is not None:
            break
    if (y > _HALF_P) != greatest:
        y = (P - y) % P
    return (x, y)


def _f2_negative(a: tuple[int, int]) -> bool:
    return a[0] > _HALF_P if a[1] == 0 else a[1] > _HALF_P


def _g2_mul_unreduced(p: G2Affine, k: int) -> G2Affine:
    """k*P without reducing k mod r: the cofactor clearing must act on the whole twist group."""
    jp = g2_to_jac(p)
    acc = JAC2_INF
    for bit in bin(k)[2:]:
        acc = g2_double(acc)
        if bit == "1":
            acc = g2_add(acc, jp)
    return g2_to_affine(acc)


def g2_from_rng(rng: ChaCha) -> G2Affine:
    """``curve.G2.fromRng``: a point of the twist, cleared into the order-r subgroup."""
    while True:
        x = (fq_from_rng(rng), fq_from_rng(rng))
        greatest = rng.next_bool()
        rhs = f2_add(f2_mul(f2_sqr(x), x), B2)
        y = (0, 0) if f2_is_zero(rhs) else f2_sqrt(rhs)
        if y is not None:
            break
    y = (int(y[0]), int(y[1]))
    if _f2_negative(y) != greatest:
        y = ((P - y[0]) % P, (P - y[1]) % P)
    return _g2_mul_unreduced((x, y), G2_COFACTOR)


def hash_to_g2(h: bytes) -> G2Affine:
    """snarkjs ``keypair.hashToG2``: the G2 point a contribution's proof of knowledge is checked on."""
    return g2_from_rng(ChaCha.from_hash(h))


MIN_BEACON_EXP, MAX_BEACON_EXP = 10, 63


def beacon_seed(beacon_hash: bytes, iterations_exp: int) -> bytes:
    """SHA-256 iterated 2^iterations_exp times over the beacon (``misc.rngFromBeaconParams``)."""
    if not MIN_BEACON_EXP <= iterations_exp <= MAX_BEACON_EXP:
        raise ValueError(f"iterations exponent {iterations_exp} outside [{MIN_BEACON_EXP}, {MAX_BEACON_EXP}]")
    cur = bytes(beacon_hash)
    sha = hashlib.sha256
    for _ in range(1 << iterations_exp):
        cur = sha(cur).digest()
    return cur


def rng_from_beacon(beacon_hash: bytes, iterations_exp: int) -> ChaCha:
    return ChaCha.from_hash(beacon_seed(beacon_hash, iterations_exp))


def rng_from_entropy(entropy: str) -> ChaCha:
    """``misc.getRandomRng``: 64 bytes from the OS and the contributor's text, hashed with blake2b.
    The OS bytes make the secret unpredictable even for a contributor who types a poor text."""
    h = hashlib.blake2b(os.urandom(64) + entropy.encode("utf-8"), digest_size=64).digest()
    return ChaCha.from_hash(h)


__all__ = [
    "G2_COFACTOR",
    "MAX_BEACON_EXP",
    "MIN_BEACON_EXP",
    "ChaCha",
    "beacon_seed",
    "fq_from_rng",
    "fr_from_rng",
    "g1_from_rng",
    "g2_from_rng",
    "hash_to_g2",
    "rng_from_beacon",
    "rng_from_entropy",
]
