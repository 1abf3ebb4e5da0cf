"""The iden3 binary container shared by .r1cs, .wtns, .zkey and .ptau files.

Layout (all integers little-endian)::

    magic[4]  u32 version  u32 n_sections  { u32 type  u64 size  payload[size] } * n_sections

Sections may appear in any order (circom writes the constraints before the header) and readers look
them up by type, as iden3/binfileutils does. Everything is parsed from one in-memory buffer so that
truncation and overlaps are detected up front, and every error names the file, the section and the
reason: a corrupt proving key must fail loudly, never produce a wrong proof.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gmpy2

_HEADER = struct.Struct("<4sII")
_SECTION_HEADER = struct.Struct("<IQ")


class BinFileError(ValueError):
    """A malformed, truncated or unsupported binary file; the message names file, section and reason."""


def _where(path: str | os.PathLike[str], section: str | None) -> str:
    return f"{os.fspath(path)}: section {section}" if section else os.fspath(path)


def n8_for(modulus: int) -> int:
    """Bytes per field element as circom/snarkjs size them: whole 64-bit limbs."""
    return ((modulus.bit_length() - 1) // 64 + 1) * 8


# ---------------------------------------------------------------- reading


@dataclass
class SectionReader:
    """A cursor over one section's payload whose errors say where and why the file is bad."""

    data: memoryview
    path: str
    name: str
    pos: int = 0

    def fail(self, reason: str) -> BinFileError:
        return BinFileError(f"{_where(self.path, self.name)}: {reason}")

    def _take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"truncated: need {n} bytes for {what} at offset {self.pos}, section has {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self, what: str = "u32") -> int:
        return int.from_bytes(self._take(4, what), "little")

    def u64(self, what: str = "u64") -> int:
        return int.from_bytes(self._take(8, what), "little")

    def raw(self, n: int, what: str = "bytes") -> memoryview:
        return self._take(n, what)

    def integer(self, n8: int, what: str = "integer") -> int:
        return int.from_bytes(self._take(n8, what), "little")

    def fields(self, count: int, n8: int, modulus: int, what: str, montgomery_inv: int | None = None) -> list[int]:
        """``count`` field elements; ``montgomery_inv`` (R^-1 mod p) decodes Montgomery form."""
        return decode_fields(self._take(count * n8, what), n8, modulus, self, what, montgomery_inv)

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def end(self) -> None:
        """Reject trailing bytes: a section longer than its contents says is corrupt or a format we misread."""
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} unexpected trailing bytes (section size {len(self.data)})")


def decode_fields(
    buf: memoryview | bytes,
    n8: int,
    modulus: int,
    where: SectionReader | str,
    what: str,
    montgomery_inv: int | None = None,
) -> list[int]:
    """Little-endian field elements from a buffer, rejecting non-canonical encodings (>= modulus).

    Vectorised over memoryview slices (no per-byte Python work): this runs over millions of
    coordinates when loading a large .zkey.
    """
    mv = memoryview(buf).cast("B")
    if len(mv) % n8:
        raise _fail(where, f"{what}: {len(mv)} bytes is not a multiple of {n8}")
    frombytes = int.from_bytes
    vals = [frombytes(mv[i : i + n8], "little") for i in range(0, len(mv), n8)]
    if vals and max(vals) >= modulus:
        bad = next(i for i, v in enumerate(vals) if v >= modulus)
        raise _fail(where, f"{what}[{bad}] is not a canonical field element (>= modulus)")
    if montgomery_inv is not None:
        m = gmpy2.mpz(modulus)
        k = gmpy2.mpz(montgomery_inv)
        vals = [int(v * k % m) for v in vals]
    return vals


def encode_fields(values: Iterable[int], n8: int, modulus: int, montgomery: int | None = None) -> bytes:
    """Little-endian encoding of canonical field elements; ``montgomery`` (R mod p) encodes x*R."""
    if montgomery is None:
        vals = list(values)
        for i, v in enumerate(vals):
            if not 0 <= v < modulus:
                raise ValueError(f"value [{i}] is not a canonical field element: {v}")
        return b"".join([v.to_bytes(n8, "little") for v in vals])
    m = gmpy2.mpz(modulus)
    k = gmpy2.mpz(montgomery)
    out = []
    for i, v in enumerate(values):
        if not 0 <= v < modulus:
            raise ValueError(f"value [{i}] is not a canonical field element: {v}")
        out.append(int(v * k % m).to_bytes(n8, "little"))
    return b"".join(out)


def _fail(where: SectionReader | str, reason: str) -> BinFileError:
    if isinstance(where, SectionReader):
        return where.fail(reason)
    return BinFileError(f"{where}: {reason}")


@dataclass
class BinFile:
    """A parsed container: the whole file (in memory, or memory-mapped) plus an index of its sections."""

    path: str
    magic: bytes
    version: int
    data: bytes | mmap.mmap
    sections: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # type -> [(offset, size)]

    def has(self, section_type: int) -> bool:
        return section_type in self.sections

    def section(self, section_type: int, name: str | None = None) -> SectionReader:
        """The unique section of this type (missing or duplicated sections are errors, as in binfileutils)."""
        label = f"{section_type} ({name})" if name else str(section_type)
        found = self.sections.get(section_type)
        if not found:
            raise BinFileError(f"{self.path}: section {label}: missing")
        if len(found) > 1:
            raise BinFileError(f"{self.path}: section {label}: duplicated ({len(found)} copies)")
        off, size = found[0]
        return SectionReader(memoryview(self.data)[off : off + size], self.path, label)

    def raw_section(self, section_type: int) -> bytes:
        off, size = self.sections[section_type][0]
        return bytes(self.data[off : off + size])


def parse_binfile(data: bytes | mmap.mmap, path: str | os.PathLike[str], magic: bytes, max_version: int) -> BinFile:
    """Index the sections of an in-memory container, checking magic, version and every section bound."""
    p = os.fspath(path)
    if len(data) < _HEADER.size:
        raise BinFileError(f"{p}: truncated: {len(data)} bytes, shorter than the {_HEADER.size}-byte header")
    got_magic, version, n_sections = _HEADER.unpack_from(data, 0)
    if got_magic != magic:
        raise BinFileError(f"{p}: not a {magic.decode()} file (magic {got_magic!r}, expected {magic!r})")
    if not 1 <= version <= max_version:
        raise BinFileError(f"{p}: unsupported {magic.decode()} version {version} (supported: 1..{max_version})")
    bf = BinFile(p, got_magic, version, data)
    pos = _HEADER.size
    for i in range(n_sections):
        if pos + _SECTION_HEADER.size > len(data):
            raise BinFileError(f"{p}: truncated: header of section #{i} of {n_sections} is past the end of the file")
        stype, size = _SECTION_HEADER.unpack_from(data, pos)
        pos += _SECTION_HEADER.size
        if pos + size > len(data):
            raise BinFileError(
                f"{p}: section {stype}: truncated: declares {size} bytes, only {len(data) - pos} remain in the file"
            )
        bf.sections.setdefault(stype, []).append((pos, size))
        pos += size
    if pos != len(data):
        raise BinFileError(f"{p}: {len(data) - pos} trailing bytes after the last of {n_sections} sections")
    return bf


def read_binfile(path: str | os.PathLike[str], magic: bytes, max_version: int, mapped: bool = False) -> BinFile:
    """``mapped`` maps the file read-only instead of reading it: section views then cost no memory until touched,
    and large point sections can go to the C kernel without a copy (the map lives as long as any view of it)."""
    try:
        if not mapped:
            return parse_binfile(Path(path).read_bytes(), path, magic, max_version)
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return parse_binfile(b"", path, magic, max_version)
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise BinFileError(f"{os.fspath(path)}: cannot read: {e}") from e
    return parse_binfile(data, path, magic, max_version)


# ---------------------------------------------------------------- writing


def build_binfile(magic: bytes, version: int, sections: Sequence[tuple[int, bytes]]) -> bytes:
    """Serialise a container; sections are written in the order given."""
    if len(magic) != 4:
        raise ValueError("magic must be 4 bytes")
    parts = [_HEADER.pack(magic, version, len(sections))]
    for stype, payload in sections:
        parts.append(_SECTION_HEADER.pack(stype, len(payload)))
        parts.append(payload)
    return b"".join(parts)


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def expect_scalar_field(h: SectionReader, hint: str = "") -> int:
    """Read a header's (n8, prime) pair and insist on BN254's scalar field, as .r1cs and .wtns both start."""
    from ..field import R

    n8 = h.u32("n8")
    if n8 != n8_for(R):
        raise h.fail(f"field size n8={n8}, expected {n8_for(R)} (BN254)")
    prime = h.integer(n8, "prime")
    if prime != R:
        raise h.fail(f"prime {prime} is not the BN254 scalar field{hint}")
    return n8
