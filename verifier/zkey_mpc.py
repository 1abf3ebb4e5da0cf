"""Section 10 of a snarkjs Groth16 ``.zkey``: the phase-2 contribution records, and their hashes.

This is the one definition of the record format (``zkmargin.prover.zkey`` writes it through here), in
``verifier/`` because auditors re-check contribution chains without the prover installed.

Section 10 layout (snarkjs ``zkey_utils.readMPCParams``): ``csHash[64]``, u32 n, then n records of
``deltaAfter, g1_s, g1_sx`` (G1, LEM), ``g2_spx`` (G2, LEM), ``transcript[64]``, u32 type
(0 contribution, 1 beacon), u32 params length, params: a TLV list sorted by tag, 1 = name
(u8 length, UTF-8), 2 = numIterationsExp (one byte, no length), 3 = beacon hash (u8 length, bytes).

Hashes (blake2b-512 over points in snarkjs's *uncompressed* encoding: big-endian coordinates, G2's
as ``x.c1 || x.c0 || y.c1 || y.c0``):

* a contribution's *transcript* = H(csHash || pubkey(c_1) || ... || pubkey(c_{i-1}) || g1_s || g1_sx),
  where pubkey(c) = deltaAfter || g1_s || g1_sx || g2_spx || transcript. It chains every record to
  the circuit and to all earlier records, so none can be moved to another key or reordered;
* the proof-of-knowledge G2 point is ``hash_to_g2(transcript)``;
* the *contribution hash* snarkjs prints (and contributors publish) is H(pubkey(c)).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from zkmargin.circuits.curve import G1Affine, G2Affine
from zkmargin.circuits.formats.binfile import BinFileError, SectionReader
from zkmargin.circuits.formats.points import decode_g1_lem, decode_g2_lem, encode_g1_lem, encode_g2_lem

CS_HASH_SIZE = 64
TRANSCRIPT_SIZE = 64
TYPE_CONTRIBUTION, TYPE_BEACON = 0, 1
# snarkjs writes ``name.substring(0, 64)``: a longer name is cut whenever snarkjs rewrites the key.
MAX_NAME_CHARS = 64
_TAG_NAME, _TAG_EXP, _TAG_BEACON = 1, 2, 3


@dataclass
class Contribution:
    """One phase-2 contribution record (section 10)."""

    delta_after: G1Affine
    g1_s: G1Affine
    g1_sx: G1Affine
    g2_spx: G2Affine
    transcript: bytes  # 64-byte blake2b transcript hash
    type: int  # 0 = contribution, 1 = beacon
    params: bytes = b""  # raw sorted TLV: 1 name, 2 numIterationsExp, 3 beacon hash

    def _parsed(self) -> dict[int, bytes | int]:
        return parse_params(self.params)

    @property
    def name(self) -> str | None:
        v = self._parsed().get(_TAG_NAME)
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else None

    @property
    def iterations_exp(self) -> int | None:
        v = self._parsed().get(_TAG_EXP)
        return v if isinstance(v, int) else None

    @property
    def beacon_hash(self) -> bytes | None:
        v = self._parsed().get(_TAG_BEACON)
        return v if isinstance(v, bytes) else None

    def pubkey_bytes(self) -> bytes:
        """What ``zkey_utils.hashPubKey`` feeds to the hasher for this record."""
        return u_g1(self.delta_after) + u_g1(self.g1_s) + u_g1(self.g1_sx) + u_g2(self.g2_spx) + self.transcript

    def contribution_hash(self) -> bytes:
        """The 64-byte hash snarkjs prints as "Contribution Hash" (and under ``zkey verify``)."""
        return hashlib.blake2b(self.pubkey_bytes(), digest_size=64).digest()


@dataclass
class MpcParams:
    """Section 10: the circuit hash every contribution transcript chains from, and the contributions."""

    cs_hash: bytes = bytes(CS_HASH_SIZE)
    contributions: list[Contribution] = field(default_factory=list)


def parse_params(p: bytes) -> dict[int, bytes | int]:
    """The TLV parameters, as strictly as snarkjs reads them (sorted, known tags, exact length)."""
    out: dict[int, bytes | int] = {}
    i, last = 0, 0
    while i < len(p):
        tag = p[i]
        if tag <= last:
            raise ValueError("contribution parameters must be sorted by tag, each tag once")
        last = tag
        if tag == _TAG_EXP:
            if i + 2 > len(p):
                raise ValueError("contribution parameter 2 (numIterationsExp) truncated")
            out[tag] = p[i + 1]
            i += 2
        elif tag in (_TAG_NAME, _TAG_BEACON):
            if i + 2 > len(p) or i + 2 + p[i + 1] > len(p):
                raise ValueError(f"contribution parameter {tag} truncated")
            out[tag] = bytes(p[i + 2 : i + 2 + p[i + 1]])
            i += 2 + p[i + 1]
        else:
            raise ValueError(f"contribution parameter tag {tag} is not one snarkjs knows (1, 2, 3)")
    return out


def check_name(name: str) -> None:
    """Names must survive snarkjs rewriting the key: at most 64 characters (UTF-16 units, as
    JavaScript counts) and 255 UTF-8 bytes (a one-byte length)."""
    if len(name.encode("utf-16-le")) // 2 > MAX_NAME_CHARS:
        raise ValueError(f"name is longer than {MAX_NAME_CHARS} characters (snarkjs would cut it)")
    if len(name.encode("utf-8")) > 255:
        raise ValueError("name is longer than 255 UTF-8 bytes")


def build_params(name: str | None, beacon: tuple[bytes, int] | None = None) -> bytes:
    """TLV parameters as ``zkey_utils.writeContribution`` writes them."""
    out = b""
    if name:
        check_name(name)
        nb = name.encode("utf-8")
        out += bytes([_TAG_NAME, len(nb)]) + nb
    if beacon is not None:
        bh, exp = beacon
        if not 0 < len(bh) < 256:
            raise ValueError("beacon hash must be 1..255 bytes")
        out += bytes([_TAG_EXP, exp, _TAG_BEACON, len(bh)]) + bh
    return out


# ---------------------------------------------------------------- encodings and hashes


def u_g1(p: G1Affine) -> bytes:
    """ffjavascript ``toRprUncompressed`` for G1 (infinity: zero bytes, as LEMtoU leaves it)."""
    if p is None:
        return bytes(64)
    return int(p[0]).to_bytes(32, "big") + int(p[1]).to_bytes(32, "big")


def u_g2(p: G2Affine) -> bytes:
    if p is None:
        return bytes(128)
    (x0, x1), (y0, y1) = p
    return b"".join(int(v).to_bytes(32, "big") for v in (x1, x0, y1, y0))


def transcript_for(cs_hash: bytes, previous: list[Contribution], g1_s: G1Affine, g1_sx: G1Affine) -> bytes:
    """The transcript hash the next contribution after ``previous`` must carry."""
    h = hashlib.blake2b(digest_size=64)
    h.update(cs_hash)
    for c in previous:
        h.update(c.pubkey_bytes())
    h.update(u_g1(g1_s) + u_g1(g1_sx))
    return h.digest()


def format_hash(h: bytes, title: str | None = None) -> str:
    """``misc.formatHash``: four lines of four big-endian 32-bit words, tab-indented."""
    words = struct.unpack(">16I", h[:64])
    lines = ["\t\t" + " ".join(f"{w:08x}" for w in words[4 * i : 4 * i + 4]) for i in range(4)]
    return "\n".join(([title] if title else []) + lines)


# ---------------------------------------------------------------- section codec


def encode_mpc_section(mpc: MpcParams) -> bytes:
    if len(mpc.cs_hash) != CS_HASH_SIZE:
        raise ValueError(f"cs_hash must be {CS_HASH_SIZE} bytes")
    parts = [bytes(mpc.cs_hash), struct.pack("<I", len(mpc.contributions))]
    for i, c in enumerate(mpc.contributions):
        if len(c.transcript) != TRANSCRIPT_SIZE:
            raise ValueError(f"contribution {i}: transcript must be {TRANSCRIPT_SIZE} bytes")
        parse_params(c.params)
        parts += [
            encode_g1_lem([c.delta_after, c.g1_s, c.g1_sx]),
            encode_g2_lem([c.g2_spx]),
            bytes(c.transcript),
            struct.pack("<II", c.type, len(c.params)),
            bytes(c.params),
        ]
    return b"".join(parts)


def decode_mpc_section(r: SectionReader) -> MpcParams:
    """Parse section 10 (points checked on their curves; G2 subgroup membership is the caller's)."""
    cs_hash = bytes(r.raw(CS_HASH_SIZE, "csHash"))
    n = r.u32("contribution count")
    out = MpcParams(cs_hash, [])
    for i in range(n):
        d_after, g1_s, g1_sx = decode_g1_lem(r, 3, f"contribution {i} deltaAfter/g1_s/g1_sx")
        (g2_spx,) = decode_g2_lem(r, 1, f"contribution {i} g2_spx")
        transcript = bytes(r.raw(TRANSCRIPT_SIZE, f"contribution {i} transcript"))
        ctype = r.u32(f"contribution {i} type")
        plen = r.u32(f"contribution {i} params length")
        params = bytes(r.raw(plen, f"contribution {i} params"))
        try:
            parse_params(params)
        except ValueError as e:
            raise BinFileError(f"{r.path}: section {r.name}: contribution {i}: {e}") from None
        out.contributions.append(Contribution(d_after, g1_s, g1_sx, g2_spx, transcript, ctype, params))
    r.end()
    return out


__all__ = [
    "CS_HASH_SIZE",
    "MAX_NAME_CHARS",
    "TYPE_BEACON",
    "TYPE_CONTRIBUTION",
    "Contribution",
    "MpcParams",
    "build_params",
    "check_name",
    "decode_mpc_section",
    "encode_mpc_section",
    "format_hash",
    "parse_params",
    "transcript_for",
    "u_g1",
    "u_g2",
]
