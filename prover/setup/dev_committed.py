"""Lean single-party committed Groth16 setup written straight to a key directory. DEVELOPMENT ONLY.

Same key as :func:`zkmargin.prover.committed.dev_setup_committed` followed by
:func:`zkmargin.prover.committed_store.save_committed_key` (byte for byte, for the same secrets: tested in
tests/test_dev_committed_file.py), and just as insecure: whoever runs it knows tau, alpha, beta, gamma, delta, eta
and k and can forge proofs. Production keys come from the committed ceremony (``prover/setup/committed_ceremony``).

Why a second path: at 2^23 rows (a 4,096-leaf venue batch, issue 15) the in-memory dev setup holds the decoded
ProvingKey (tens of millions of Python point tuples), its packed copies, the concatenated scalar and point buffers
and the QAP built twice, beside a circuit that already takes ~6 GB: it does not fit in 24 GB. Here

* the QAP is built once, in blocks of rows: a block's entry lists give their part of the coefficient section
  (written at once) and of the column values at tau (summed), then are dropped; the whole QAP as Python tuples
  (what ``qap_from_r1cs`` makes) would be ~10 GB at 2^23 rows;
* every section's size is known up front, so each section is written at its offset in the file as soon as it is
  computed and then freed; the large point sections are made in chunks of 2^20 scalars, so no section ever
  exists whole in memory;
* no point is decoded into Python ints except the handful the verifying key and the commitment key need;
* glibc is asked to return freed arenas to the OS between phases (``malloc_trim``), so the next phase's peak does
  not stack on the last one's garbage (issue 17's memory rule: never two copies of a large vector at once).

The prover then maps the key from the file (``load_committed_key(..., packed_only=True)``), as the operator does.
Needs the C kernel (``zkmargin.circuits._bn254``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import secrets as _secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from zkmargin.atomic import atomic_write_bytes
from zkmargin.circuits import msm_native as native
from zkmargin.circuits import setup_native as sn
from zkmargin.circuits.field import P, R, inv
from zkmargin.circuits.formats.binfile import u32
from zkmargin.circuits.formats.points import encode_g1_lem, encode_g2_lem
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.committed import CommittedVerifyingKey, committed_vk_to_json
from zkmargin.verifier.types import VerifyingKey
from zkmargin.verifier.zkey_mpc import MpcParams, encode_mpc_section

from ..committed import CommitmentKey
from ..committed_store import COMMITMENT_KEY, VK, ZKEY, _dumps
from ..keys import QapEntry
from ..zkey import (
    GROTH16_PROTOCOL_ID,
    MAGIC,
    N8Q,
    N8R,
    SEC_A,
    SEC_B1,
    SEC_B2,
    SEC_C,
    SEC_COEFFS,
    SEC_CONTRIBUTIONS,
    SEC_GROTH_HEADER,
    SEC_H,
    SEC_HEADER,
    SEC_IC,
    VERSION,
)
from .dev import SetupSecrets

__all__ = ["CHUNK", "ROW_CHUNK", "malloc_trim", "write_dev_committed_key"]

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # scalars per fixed-base call: 64 MB of G1 points (128 MB of G2) at a time
ROW_CHUNK = 1 << 19  # QAP rows whose entry lists exist at once (~0.5 GB of tuples for the venue circuit)
_COEF_SIZE = 12 + N8R
_G1, _G2 = 64, 128


def malloc_trim() -> None:
    """Hand glibc's free heap pages back to the OS (a no-op elsewhere): Python frees big lists into malloc's arenas,
    which otherwise keep them resident and add them to every later phase's peak."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _b(x: int) -> bytes:
    return (x % R).to_bytes(32, "little")


def _entries(r1cs: R1CS, which: str, lo: int, hi: int) -> list[QapEntry]:
    """Rows [lo, hi) of one matrix of :func:`zkmargin.prover.qap.qap_from_r1cs`, entries in its order (the
    coefficient section's stable sort depends on it): the constraints' rows, then for A one row per public signal."""
    m = r1cs.n_constraints
    out: list[QapEntry] = []
    for row, con in enumerate(r1cs.constraints[lo : min(hi, m)], start=lo):
        out.extend((row, s, v) for s, v in getattr(con, which).items())
    if which == "a":
        out.extend((m + i, i, 1) for i in range(max(lo, m) - m, min(hi, m + r1cs.n_public + 1) - m))
    return out


def _add(acc: bytes | None, part: bytes, n_pub: int) -> bytes:
    """acc + part (packed scalars), on the kernel's column mixer: 1*acc + 0*acc + part, times 1."""
    if acc is None:
        return part
    return sn.mix_columns_packed(acc, acc, part, 0, 1, n_pub, 1, 1)


class _ZkeyWriter:
    """A .zkey whose sections (1..10, the order :func:`zkmargin.prover.zkey.write_zkey` uses) are all sized up front,
    so each can be written at its offset whenever it is ready, in pieces."""

    ORDER = (SEC_HEADER, SEC_GROTH_HEADER, SEC_IC, SEC_COEFFS, SEC_A, SEC_B1, SEC_B2, SEC_C, SEC_H, SEC_CONTRIBUTIONS)

    def __init__(self, f: BinaryIO, sizes: dict[int, int]) -> None:
        self.f = f
        self.sizes = sizes
        self.offset: dict[int, int] = {}
        self.written: dict[int, int] = dict.fromkeys(sizes, 0)
        f.write(MAGIC + u32(VERSION) + u32(len(self.ORDER)))
        pos = 12
        for sec in self.ORDER:
            f.seek(pos)
            f.write(u32(sec) + sizes[sec].to_bytes(8, "little"))
            self.offset[sec] = pos + 12
            pos += 12 + sizes[sec]
        self.end = pos

    def write(self, sec: int, data: bytes) -> None:
        """Append ``data`` to section ``sec`` (pieces of one section arrive in order)."""
        done = self.written[sec]
        if done + len(data) > self.sizes[sec]:
            raise ValueError(f"zkey section {sec}: {done + len(data)} bytes written, {self.sizes[sec]} sized")
        self.f.seek(self.offset[sec] + done)
        self.f.write(data)
        self.written[sec] = done + len(data)

    def close(self) -> None:
        short = [s for s in self.ORDER if self.written[s] != self.sizes[s]]
        if short:
            raise ValueError(f"zkey sections {short} not completely written")
        self.f.flush()
        os.fsync(self.f.fileno())


def _points_g1(w: _ZkeyWriter, sec: int, scalars: bytes | memoryview) -> None:
    for i in range(0, len(scalars), 32 * CHUNK):
        w.write(sec, sn.fixed_g1_packed(bytes(scalars[i : i + 32 * CHUNK])))


def _points_g2(w: _ZkeyWriter, sec: int, scalars: bytes | memoryview) -> None:
    for i in range(0, len(scalars), 32 * CHUNK):
        w.write(sec, sn.fixed_g2_packed(bytes(scalars[i : i + 32 * CHUNK])))


def write_dev_committed_key(
    r1cs: R1CS,
    directory: str | os.PathLike[str],
    secrets: SetupSecrets | None = None,
    eta: int | None = None,
    k: int | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> CommittedVerifyingKey:
    """Write ``circuit.zkey``, ``commitment_key.json`` and ``verification_key.json`` (the committed key layout of
    ``prover/committed_store.py``) for ``r1cs`` into ``directory`` (each file written to a temporary name and renamed
    into place; a mixed set of old and new files is refused by ``load_committed_key``), and return the verifying
    key. DEVELOPMENT ONLY (see module docstring). ``on_phase(name)`` is called as each phase starts (the
    benchmark times and measures them); secrets/eta/k are for tests (None draws them from the OS)."""
    if not native.available():
        raise RuntimeError("write_dev_committed_key needs the C kernel (zkmargin.circuits._bn254)")
    info = r1cs.commitment
    if info is None:
        raise ValueError("this R1CS declares no commitment: use prover.setup.dev.write_dev_zkey")
    log.warning("write_dev_committed_key: SINGLE-PARTY trusted setup, development only (see dev_setup)")
    phase = on_phase or (lambda _name: None)
    s = secrets if secrets is not None else SetupSecrets.random()
    et = (eta if eta is not None else _secrets.randbelow(R - 1) + 1) % R
    kk = (k if k is not None else _secrets.randbelow(R - 1) + 1) % R
    if et == 0 or kk == 0:
        raise ValueError("eta and k must be non-zero")
    nv, n_pub, m = r1cs.n_vars, r1cs.n_public, r1cs.n_constraints
    log_n = max(1, (m + n_pub).bit_length())  # rows = m + n_pub + 1, as qap_from_r1cs
    n = 1 << log_n
    first_private = n_pub + 1
    committed = [i - first_private for i in info.private]
    if any(j < 0 or j >= nv - first_private for j in committed):
        raise ValueError("a committed wire is not a private signal of this circuit")

    phase("QAP rows: coefficient section, columns at tau")
    rows = m + n_pub + 1
    n_a = sum(len(con.a) for con in r1cs.constraints) + n_pub + 1
    n_b = sum(len(con.b) for con in r1cs.constraints)
    mpc = encode_mpc_section(MpcParams())
    sizes = {
        SEC_HEADER: 4,
        SEC_GROTH_HEADER: 4 + N8Q + 4 + N8R + 12 + 3 * _G1 + 3 * _G2,
        SEC_IC: _G1 * (n_pub + 1),
        SEC_COEFFS: 4 + _COEF_SIZE * (n_a + n_b),
        SEC_A: _G1 * nv,
        SEC_B1: _G1 * nv,
        SEC_B2: _G2 * nv,
        SEC_C: _G1 * (nv - n_pub - 1),
        SEC_H: _G1 * n,
        SEC_CONTRIBUTIONS: len(mpc),
    }
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{ZKEY}.{os.getpid()}.tmp"
    assert native._bn254 is not None
    try:
        with open(tmp, "wb") as f:
            w = _ZkeyWriter(f, sizes)
            w.write(SEC_HEADER, u32(GROTH16_PROTOCOL_ID))
            w.write(SEC_CONTRIBUTIONS, mpc)
            w.write(SEC_COEFFS, u32(n_a + n_b))
            lag = sn.lagrange_packed(s.tau, log_n)
            u: bytes | None = None
            v: bytes | None = None
            wc: bytes | None = None
            # one pass over row blocks: the entry lists of a block only (all of them at 2^23 rows would be ~10 GB of
            # tuples). The section is sorted by row (A before B within a row, input order otherwise), so the blocks'
            # sorted sections, in row order, are the whole section's.
            for lo in range(0, rows, ROW_CHUNK):
                hi = min(lo + ROW_CHUNK, rows)
                a = _entries(r1cs, "a", lo, hi)
                b = _entries(r1cs, "b", lo, hi)
                w.write(SEC_COEFFS, native._bn254.coeff_section(a, b, nv, n))  # checks rows, signals, values
                u = _add(u, sn.eval_columns_packed(a, lag, nv), n_pub)
                del a
                v = _add(v, sn.eval_columns_packed(b, lag, nv), n_pub)
                del b
                wc = _add(wc, sn.eval_columns_packed(_entries(r1cs, "c", lo, hi), lag, nv), n_pub)
                malloc_trim()
            del lag
            assert u is not None and v is not None and wc is not None
            d_inv = inv(s.delta)
            mixed = sn.mix_columns_packed(u, v, wc, s.alpha, s.beta, n_pub, inv(s.gamma), d_inv)
            del wc
            h = sn.scale_packed(sn.lagrange_packed(s.tau, log_n + 1, odd=True), d_inv)
            # the commitment bases L_i/eta = (L_i/delta) * delta/eta, then the mask base k/eta; and k/delta
            de = s.delta * inv(et) % R
            ells = [int.from_bytes(mixed[32 * (first_private + j) : 32 * (first_private + j + 1)], "little") * de % R
                    for j in committed]  # fmt: skip
            ck_scalars = b"".join([*(_b(x) for x in ells), _b(kk * inv(et)), _b(kk * d_inv)])
            head1 = sn.unpack_g1_fast(sn.fixed_g1_packed(b"".join([_b(s.alpha), _b(s.beta), _b(s.delta)])))
            head2 = sn.unpack_g2_fast(sn.fixed_g2_packed(b"".join([_b(s.beta), _b(s.gamma), _b(s.delta), _b(et)])))
            del s, et, kk, de, d_inv, ells  # drop the toxic waste promptly (the packed scalars still reveal it)
            malloc_trim()

            phase("points IC, A, B1, B2")
            groth = b"".join([u32(N8Q), P.to_bytes(N8Q, "little"), u32(N8R), R.to_bytes(N8R, "little"), u32(nv),
                              u32(n_pub), u32(n), encode_g1_lem(head1[:2]), encode_g2_lem(head2[:2]),
                              encode_g1_lem(head1[2:]), encode_g2_lem(head2[2:3])])  # fmt: skip
            w.write(SEC_GROTH_HEADER, groth)
            ic_raw = sn.fixed_g1_packed(mixed[: 32 * first_private])
            w.write(SEC_IC, ic_raw)
            _points_g1(w, SEC_A, u)
            del u
            _points_g1(w, SEC_B1, v)
            _points_g2(w, SEC_B2, v)
            del v
            malloc_trim()

            phase("points C, H")
            private = memoryview(mixed)[32 * first_private :]
            zero = set(committed)
            for i in range(0, len(private), 32 * CHUNK):
                pts = bytearray(sn.fixed_g1_packed(bytes(private[i : i + 32 * CHUNK])))
                lo = i // 32
                for j in zero:  # the committed L-terms live in the Pedersen bases only (infinity here)
                    if lo <= j < lo + len(pts) // _G1:
                        pts[_G1 * (j - lo) : _G1 * (j - lo + 1)] = bytes(_G1)
                w.write(SEC_C, bytes(pts))
                del pts
            del private, mixed
            _points_g1(w, SEC_H, h)
            del h
            w.close()
        ck_pts = sn.unpack_g1_fast(sn.fixed_g1_packed(ck_scalars))
        del ck_scalars
        ck = CommitmentKey(ck_pts[:-1], ck_pts[-1])
        vk = CommittedVerifyingKey(
            VerifyingKey(head1[0], head2[0], head2[1], head2[2], tuple(sn.unpack_g1_fast(ic_raw))), head2[3]
        )
        os.replace(tmp, directory / ZKEY)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    atomic_write_bytes(directory / COMMITMENT_KEY, _dumps(ck.to_json()))
    atomic_write_bytes(directory / VK, _dumps(committed_vk_to_json(vk)))
    malloc_trim()
    return vk
