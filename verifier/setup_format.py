"""On-disk format of a ceremony transcript: the point codec, the array container, the ceremony's data types.

Split from ``setup_transcript`` so that the prover's ceremony code (``zkmargin.prover.setup``) and the auditor's
checks share exactly one definition of the bytes, while the auditor still imports nothing from the prover: the
proving key is described here by a :class:`ProvingKeyLike` protocol (what the codec reads from it) and decoded
into :class:`KeyFields` (what ``ProvingKey(**fields)`` takes), never by the prover's class.

Every ``.bin`` file is an *array container*: ``b"ZKMSETUP"``, u32 version (1), u32 entry count, then per entry:
u16 name length, UTF-8 name, u8 kind, u64 element count, payload. Kinds: 0 = u64 integers, 1 = G1 points (64
bytes: x || y, 32-byte big-endian each), 2 = G2 points (128 bytes: x0 || x1 || y0 || y1), 3 = QAP entries (u32
row, u32 signal, 32-byte coefficient). All integers are little-endian except field elements (big-endian, as in
Ethereum's precompiles). The point at infinity is all zero bytes ((0, 0) is on neither curve, so this is
unambiguous). A container comes from whoever ran the ceremony: decoding bounds-checks every read and raises
:class:`ContainerError` (a ``ValueError``) naming what is wrong, never ``struct.error`` or ``IndexError``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from zkmargin.circuits.curve import G1_GEN, G2_GEN, G1Affine, G2Affine, g1_is_on_curve, g2_is_on_curve
from zkmargin.circuits.field import P as _Q
from zkmargin.circuits.field import R

FORMAT_NAME = "zkmargin-setup-transcript"
FORMAT_VERSION = 1
MAGIC = b"ZKMSETUP"
KIND_U64, KIND_G1, KIND_G2, KIND_QAP = 0, 1, 2, 3

QapEntry = tuple[int, int, int]


class ContainerError(ValueError):
    """A malformed array container (truncated, unknown kind, bad point); the message names the entry."""


# ====================================================================== point / container codec


def enc_g1(p: G1Affine) -> bytes:
    if p is None:
        return bytes(64)
    return int(p[0]).to_bytes(32, "big") + int(p[1]).to_bytes(32, "big")


def enc_g2(p: G2Affine) -> bytes:
    if p is None:
        return bytes(128)
    (x0, x1), (y0, y1) = p
    return b"".join(int(v).to_bytes(32, "big") for v in (x0, x1, y0, y1))


def dec_g1(b: bytes | memoryview, off: int = 0) -> G1Affine:
    """Decode and validate a G1 point (BN254 G1 has cofactor 1: on-curve implies in-subgroup)."""
    x = int.from_bytes(b[off : off + 32], "big")
    y = int.from_bytes(b[off + 32 : off + 64], "big")
    if x == 0 and y == 0:
        return None
    p = (x, y)
    if not (x < _Q and y < _Q and g1_is_on_curve(p)):
        raise ValueError("G1 point not on the curve")
    return p


def dec_g2(b: bytes | memoryview, off: int = 0) -> G2Affine:
    """Decode a G2 point and check it is on the curve (subgroup membership is checked separately,
    batched, because one check costs a full 254-bit multiplication)."""
    v = [int.from_bytes(b[off + 32 * i : off + 32 * i + 32], "big") for i in range(4)]
    if not any(v):
        return None
    p = ((v[0], v[1]), (v[2], v[3]))
    if not (all(c < _Q for c in v) and g2_is_on_curve(p)):
        raise ValueError("G2 point not on the curve")
    return p


ArrayValue = list[int] | list[G1Affine] | list[G2Affine] | list[QapEntry]


def encode_container(entries: Iterable[tuple[str, int, Sequence[Any]]]) -> bytes:
    """Serialise named arrays ``(name, kind, values)`` into the array-container format above."""
    parts: list[bytes] = []
    items = list(entries)
    parts.append(MAGIC + struct.pack("<II", FORMAT_VERSION, len(items)))
    for name, kind, values in items:
        nb = name.encode()
        parts.append(struct.pack("<H", len(nb)) + nb + struct.pack("<BQ", kind, len(values)))
        if kind == KIND_U64:
            parts.append(b"".join(struct.pack("<Q", int(v)) for v in values))
        elif kind == KIND_G1:
            parts.append(b"".join(enc_g1(p) for p in values))
        elif kind == KIND_G2:
            parts.append(b"".join(enc_g2(p) for p in values))
        elif kind == KIND_QAP:
            parts.append(b"".join(struct.pack("<II", r, s) + int(c).to_bytes(32, "big") for r, s, c in values))
        else:
            raise ValueError(f"unknown kind {kind}")
    return b"".join(parts)


_ELEM = {KIND_U64: 8, KIND_G1: 64, KIND_G2: 128, KIND_QAP: 40}


def _unpack(fmt: str, mv: memoryview, pos: int, what: str) -> tuple[Any, ...]:
    if pos + struct.calcsize(fmt) > len(mv):
        raise ContainerError(f"container truncated in {what} (at byte {pos} of {len(mv)})")
    return struct.unpack_from(fmt, mv, pos)


def decode_container(data: bytes) -> dict[str, list[Any]]:
    """Parse an array container, validating every point; raises :class:`ContainerError` on any malformation."""
    mv = memoryview(data)
    if bytes(mv[:8]) != MAGIC:
        raise ContainerError("not a zkmargin setup container (bad magic)")
    version, count = _unpack("<II", mv, 8, "the header")
    if version != FORMAT_VERSION:
        raise ContainerError(f"unsupported container version {version}")
    pos = 16
    out: dict[str, list[Any]] = {}
    for k in range(count):
        (nlen,) = _unpack("<H", mv, pos, f"entry {k}'s name length")
        if pos + 2 + nlen > len(mv):
            raise ContainerError(f"container truncated in entry {k}'s name")
        try:
            name = bytes(mv[pos + 2 : pos + 2 + nlen]).decode()
        except UnicodeDecodeError as e:
            raise ContainerError(f"entry {k}: name is not UTF-8") from e
        pos += 2 + nlen
        kind, n = _unpack("<BQ", mv, pos, f"{name!r}'s header")
        pos += 9
        if kind not in _ELEM:
            raise ContainerError(f"{name!r}: unknown kind {kind}")
        size = _ELEM[kind] * n
        if pos + size > len(mv):
            raise ContainerError(f"container truncated in {name!r} ({n} elements, {len(mv) - pos} bytes left)")
        vals: list[Any]
        try:
            if kind == KIND_U64:
                vals = list(struct.unpack_from(f"<{n}Q", mv, pos))
            elif kind == KIND_G1:
                vals = [dec_g1(mv, pos + 64 * i) for i in range(n)]
            elif kind == KIND_G2:
                vals = [dec_g2(mv, pos + 128 * i) for i in range(n)]
            else:
                vals = []
                for i in range(n):
                    o = pos + 40 * i
                    r, sig = struct.unpack_from("<II", mv, o)
                    c = int.from_bytes(mv[o + 8 : o + 40], "big")
                    if c >= R:
                        raise ContainerError("QAP coefficient not canonical")
                    vals.append((r, sig, c))
        except ValueError as e:
            raise ContainerError(f"{name!r}: {e}") from e
        if name in out:
            raise ContainerError(f"{name!r}: duplicate entry")
        out[name] = vals
        pos += size
    if pos != len(mv):
        raise ContainerError("trailing bytes after the last container entry")
    return out


def entry(d: dict[str, list[Any]], name: str, count: int | None = None) -> list[Any]:
    """The named array of a decoded container, checked present (and of ``count`` elements when given)."""
    if name not in d:
        raise ContainerError(f"missing entry {name!r}")
    if count is not None and len(d[name]) != count:
        raise ContainerError(f"{name!r}: {len(d[name])} elements, expected {count}")
    return d[name]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ====================================================================== ceremony data types


@dataclass
class Phase1Accumulator:
    """Powers of tau, with the counts a circuit of domain size n needs.

    ``tau_g1`` holds tau^i*G1 for i < 2n: the H points are Lagrange polynomials of the *doubled*
    domain, which have degree 2n-1. (A snarkjs .ptau of power p only has 2^(p+1)-1 of them; an
    accumulator imported from one may therefore hold 2n-1, and H then follows snarkjs by treating
    the missing top power as zero, which is harmless because (A*B - C) has degree <= 2n-2.)
    ``tau_g2``, ``alpha_g1`` and ``beta_g1`` need i < n only: A, B, C have degree < n.
    """

    tau_g1: list[G1Affine]
    tau_g2: list[G2Affine]
    alpha_g1: list[G1Affine]
    beta_g1: list[G1Affine]
    beta_g2: G2Affine

    @property
    def size(self) -> int:
        return len(self.tau_g2)

    @property
    def log_n(self) -> int:
        return self.size.bit_length() - 1

    @staticmethod
    def initial(log_n: int) -> Phase1Accumulator:
        n = 1 << log_n
        return Phase1Accumulator([G1_GEN] * (2 * n), [G2_GEN] * n, [G1_GEN] * n, [G1_GEN] * n, G2_GEN)

    def to_bytes(self) -> bytes:
        return encode_container(
            [
                ("tau_g1", KIND_G1, self.tau_g1),
                ("tau_g2", KIND_G2, self.tau_g2),
                ("alpha_g1", KIND_G1, self.alpha_g1),
                ("beta_g1", KIND_G1, self.beta_g1),
                ("beta_g2", KIND_G2, [self.beta_g2]),
            ]
        )

    @staticmethod
    def from_bytes(data: bytes) -> Phase1Accumulator:
        d = decode_container(data)
        return Phase1Accumulator(
            entry(d, "tau_g1"), entry(d, "tau_g2"), entry(d, "alpha_g1"), entry(d, "beta_g1"), entry(d, "beta_g2", 1)[0]
        )

    def digest(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()


@dataclass
class DeltaState:
    """The part of a phase-2 key that a delta contribution changes."""

    delta1: G1Affine
    delta2: G2Affine
    c_g1: list[G1Affine]
    h_g1: list[G1Affine]

    def to_bytes(self) -> bytes:
        return encode_container(
            [
                ("delta1", KIND_G1, [self.delta1]),
                ("delta2", KIND_G2, [self.delta2]),
                ("c_g1", KIND_G1, self.c_g1),
                ("h_g1", KIND_G1, self.h_g1),
            ]
        )

    @staticmethod
    def from_bytes(data: bytes) -> DeltaState:
        d = decode_container(data)
        return DeltaState(entry(d, "delta1", 1)[0], entry(d, "delta2", 1)[0], entry(d, "c_g1"), entry(d, "h_g1"))

    def digest(self) -> bytes:
        return hashlib.sha256(self.to_bytes()).digest()


KEY_G1_SINGLE = ("alpha1", "beta1", "delta1")
KEY_G2_SINGLE = ("beta2", "gamma2", "delta2")
KEY_G1_LISTS = ("ic", "a_g1", "b_g1", "c_g1", "h_g1")


class ProvingKeyLike(Protocol):
    """What the codec reads from a proving key (``zkmargin.prover.keys.ProvingKey`` satisfies it): typed, so that
    this module need not import the prover and a key missing a field is a type error, not an AttributeError."""

    @property
    def n_vars(self) -> int: ...
    @property
    def n_public(self) -> int: ...
    @property
    def domain_size(self) -> int: ...
    @property
    def alpha1(self) -> G1Affine: ...
    @property
    def beta1(self) -> G1Affine: ...
    @property
    def delta1(self) -> G1Affine: ...
    @property
    def beta2(self) -> G2Affine: ...
    @property
    def gamma2(self) -> G2Affine: ...
    @property
    def delta2(self) -> G2Affine: ...
    @property
    def ic(self) -> Sequence[G1Affine]: ...
    @property
    def a_g1(self) -> Sequence[G1Affine]: ...
    @property
    def b_g1(self) -> Sequence[G1Affine]: ...
    @property
    def b_g2(self) -> Sequence[G2Affine]: ...
    @property
    def c_g1(self) -> Sequence[G1Affine]: ...
    @property
    def h_g1(self) -> Sequence[G1Affine]: ...
    @property
    def a_coeffs(self) -> Sequence[QapEntry]: ...
    @property
    def b_coeffs(self) -> Sequence[QapEntry]: ...
    @property
    def packed_only(self) -> bool: ...
    def require_decoded(self, what: str) -> None: ...


class KeyFields(TypedDict):
    """A decoded key: exactly the keyword arguments of ``ProvingKey``'s point and QAP fields."""

    n_vars: int
    n_public: int
    domain_size: int
    alpha1: G1Affine
    beta1: G1Affine
    delta1: G1Affine
    beta2: G2Affine
    gamma2: G2Affine
    delta2: G2Affine
    ic: list[G1Affine]
    a_g1: list[G1Affine]
    b_g1: list[G1Affine]
    c_g1: list[G1Affine]
    h_g1: list[G1Affine]
    b_g2: list[G2Affine]
    a_coeffs: list[QapEntry]
    b_coeffs: list[QapEntry]


def encode_key(key: ProvingKeyLike) -> bytes:
    """Serialise a proving key into one container (initial and final keys of the transcript)."""
    if key.packed_only:
        key.require_decoded("encoding a key for the setup transcript")
    entries: list[tuple[str, int, Sequence[Any]]] = [("header", KIND_U64, [key.n_vars, key.n_public, key.domain_size])]
    entries += [(n, KIND_G1, [getattr(key, n)]) for n in KEY_G1_SINGLE]
    entries += [(n, KIND_G2, [getattr(key, n)]) for n in KEY_G2_SINGLE]
    entries += [(n, KIND_G1, getattr(key, n)) for n in KEY_G1_LISTS]
    entries += [("b_g2", KIND_G2, key.b_g2), ("a_coeffs", KIND_QAP, key.a_coeffs), ("b_coeffs", KIND_QAP, key.b_coeffs)]
    return encode_container(entries)


def decode_key(data: bytes) -> KeyFields:
    """Inverse of :func:`encode_key` (``ProvingKey(**decode_key(data))``); :class:`ContainerError` if malformed."""
    d = decode_container(data)
    n_vars, n_public, domain_size = entry(d, "header", 3)
    one = {n: entry(d, n, 1)[0] for n in (*KEY_G1_SINGLE, *KEY_G2_SINGLE)}
    return KeyFields(
        n_vars=n_vars,
        n_public=n_public,
        domain_size=domain_size,
        alpha1=one["alpha1"],
        beta1=one["beta1"],
        delta1=one["delta1"],
        beta2=one["beta2"],
        gamma2=one["gamma2"],
        delta2=one["delta2"],
        ic=entry(d, "ic"),
        a_g1=entry(d, "a_g1"),
        b_g1=entry(d, "b_g1"),
        c_g1=entry(d, "c_g1"),
        h_g1=entry(d, "h_g1"),
        b_g2=entry(d, "b_g2"),
        a_coeffs=entry(d, "a_coeffs"),
        b_coeffs=entry(d, "b_coeffs"),
    )


def key_delta_state(key: KeyFields | ProvingKeyLike) -> DeltaState:
    """The delta part of a key, decoded (:class:`KeyFields`) or live (a proving key)."""
    if isinstance(key, dict):
        return DeltaState(key["delta1"], key["delta2"], list(key["c_g1"]), list(key["h_g1"]))
    return DeltaState(key.delta1, key.delta2, list(key.c_g1), list(key.h_g1))
