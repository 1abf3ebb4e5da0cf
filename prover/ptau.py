"""snarkjs .ptau (powers of tau) import and export.

Layout (iden3 binary container, magic ``ptau``, version 1; points in ffjavascript's LEM encoding,
see ``zkmargin.circuits.formats.points``)::

    1  header        u32 n8 (=32), q (n8 bytes LE), u32 power, u32 ceremonyPower
    2  tauG1         tau^i G1,        i < 2^(power+1) - 1
    3  tauG2         tau^i G2,        i < 2^power
    4  alphaTauG1    alpha tau^i G1,  i < 2^power
    5  betaTauG1     beta tau^i G1,   i < 2^power
    6  betaG2        beta G2
    7  contributions u32 count, then per contribution snarkjs's public key and hashes
    12..15           (after ``prepare phase2``) the same four sets in Lagrange form, for every
                     domain 2^0 .. 2^power (and 2^(power+1) for tauG1) concatenated, so the points of
                     domain 2^p start at index 2^p - 1

A ptau of power p serves circuits whose domain is at most 2^p, as in snarkjs. Its tauG1 has one
power fewer than the doubled domain's Lagrange points need when the domain is exactly 2^p; snarkjs
then treats the missing top power as zero (harmless for honest provers since A*B - C has degree
<= 2n - 2), and so do we, so keys match snarkjs's.

The imported powers are only as trustworthy as the ceremony behind the file: check it with
``snarkjs powersoftau verify`` (we verify internal consistency, not its contributors' proofs).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zkmargin.atomic import atomic_write_bytes
from zkmargin.circuits.field import P
from zkmargin.circuits.formats.binfile import BinFile, build_binfile, read_binfile, u32
from zkmargin.circuits.formats.points import (
    G1_SIZE,
    G2_SIZE,
    decode_g1_lem,
    decode_g2_lem,
    encode_g1_lem,
    encode_g2_lem,
)
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.setup_transcript import Phase1Accumulator

from .keys import ProvingKey
from .qap import qap_from_r1cs
from .setup.phase1 import PreparedPhase1, prepare_phase2
from .setup.transcript import TranscriptWriter, run_phase2

MAGIC = b"ptau"


class PtauError(ValueError):
    pass


@dataclass
class PtauInfo:
    power: int
    ceremony_power: int
    n_contributions: int
    prepared: bool
    sha256: str


def _header(bf: BinFile) -> tuple[int, int]:
    r = bf.section(1, "header")
    n8 = r.u32("n8")
    q = r.integer(n8, "q")
    if n8 != 32 or q != P:
        raise PtauError(f"{bf.path}: not a BN254 (bn128) ptau (n8={n8})")
    power = r.u32("power")
    ceremony_power = r.u32("ceremonyPower")
    r.end()
    return power, ceremony_power


def read_ptau(path: str | Path, log_n: int | None = None) -> tuple[Phase1Accumulator, PtauInfo, BinFile]:
    """Powers from a .ptau, truncated to what a domain of 2^log_n needs (all of them if None)."""
    bf = read_binfile(path, MAGIC, 1)
    power, ceremony_power = _header(bf)
    log_n = power if log_n is None else log_n
    if log_n > power:
        raise PtauError(f"{path}: power {power} is too small for a circuit domain of 2^{log_n}")
    n = 1 << log_n
    n_tau_g1 = min(2 * n, 2 ** (power + 1) - 1)
    contributions = bf.section(7, "contributions").u32("count")
    acc = Phase1Accumulator(
        tau_g1=decode_g1_lem(bf.section(2, "tauG1"), n_tau_g1, "tauG1"),
        tau_g2=decode_g2_lem(bf.section(3, "tauG2"), n, "tauG2"),
        alpha_g1=decode_g1_lem(bf.section(4, "alphaTauG1"), n, "alphaTauG1"),
        beta_g1=decode_g1_lem(bf.section(5, "betaTauG1"), n, "betaTauG1"),
        beta_g2=decode_g2_lem(bf.section(6, "betaG2"), 1, "betaG2")[0],
    )
    prepared = all(bf.has(s) for s in (12, 13, 14, 15))
    info = PtauInfo(power, ceremony_power, contributions, prepared, hashlib.sha256(bf.data).hexdigest())
    return acc, info, bf


def _lagrange_slice(bf: BinFile, section: int, size: int, g1: bool, name: str) -> list:
    """Points of the Lagrange section for the domain of ``size`` (which starts at index size-1)."""
    r = bf.section(section, name)
    r.raw((size - 1) * (G1_SIZE if g1 else G2_SIZE), "earlier domains")
    return decode_g1_lem(r, size, name) if g1 else decode_g2_lem(r, size, name)


def prepared_from_ptau(bf: BinFile, acc: Phase1Accumulator, log_n: int) -> PreparedPhase1:
    """Lagrange points from sections 12-15 (computed by snarkjs in WebAssembly: far faster than our
    group FFT). They are not trusted: the transcript verifier checks the resulting key against the
    powers. Falls back to our FFT for an unprepared file."""
    if not all(bf.has(s) for s in (12, 13, 14, 15)):
        return prepare_phase2(acc, log_n)
    n = 1 << log_n
    lag2 = _lagrange_slice(bf, 12, 2 * n, True, "lagrangeTauG1")
    return PreparedPhase1(
        log_n=log_n,
        lag_g1=_lagrange_slice(bf, 12, n, True, "lagrangeTauG1"),
        lag_g2=_lagrange_slice(bf, 13, n, False, "lagrangeTauG2"),
        lag_alpha_g1=_lagrange_slice(bf, 14, n, True, "lagrangeAlphaTauG1"),
        lag_beta_g1=_lagrange_slice(bf, 15, n, True, "lagrangeBetaTauG1"),
        h_g1=lag2[1::2],
        alpha_g1=acc.alpha_g1[0],
        beta_g1=acc.beta_g1[0],
        beta_g2=acc.beta_g2,
    )


def setup_from_ptau(
    r1cs: R1CS,
    ptau_path: str | Path,
    contributions: int = 1,
    transcript_dir: str | Path | None = None,
    secrets: list[int] | None = None,
) -> tuple[ProvingKey, Path]:
    """Phase 2 on top of a public powers-of-tau file: returns the final key and the transcript
    directory (a fresh temporary one unless given). ``secrets`` is for tests only."""
    log_n = qap_from_r1cs(r1cs).log_domain
    acc, info, bf = read_ptau(ptau_path, log_n)
    prep = prepared_from_ptau(bf, acc, log_n)
    out = Path(transcript_dir) if transcript_dir is not None else Path(tempfile.mkdtemp(prefix="zkmargin-setup-"))
    w = TranscriptWriter(out)
    w.phase1_imported(
        acc,
        "ptau",
        {
            "file_sha256": info.sha256,
            "file_name": Path(ptau_path).name,
            "power": info.power,
            "ceremony_power": info.ceremony_power,
            "contributions": info.n_contributions,
        },
    )
    pk = run_phase2(w, r1cs, prep, contributions, secrets, acc.tau_g1)
    return pk, out


def _ptau_sections(acc: Phase1Accumulator) -> list[tuple[int, bytes]]:
    n = acc.size
    power = n.bit_length() - 1
    header = u32(32) + P.to_bytes(32, "little") + u32(power) + u32(power)
    return [
        (1, header),
        (2, encode_g1_lem(list(acc.tau_g1[: 2 * n - 1]))),
        (3, encode_g2_lem(list(acc.tau_g2))),
        (4, encode_g1_lem(list(acc.alpha_g1))),
        (5, encode_g1_lem(list(acc.beta_g1))),
        (6, encode_g2_lem([acc.beta_g2])),
        (7, u32(0)),
    ]


def write_ptau(path: str | Path, acc: Phase1Accumulator) -> None:
    """Export our phase-1 powers as an (unprepared) snarkjs .ptau of power log2(n).

    Section 7 is written with zero contributions: our contributors' proofs use our own format, not
    snarkjs's (blake2b/ChaCha hash-to-G2 keys and partial-hash chain), so ``snarkjs powersoftau
    verify`` refuses the file ("no contribution") before looking at the powers; our transcript
    verifier checks them. ``snarkjs zkey verify`` never reads those records: once prepared
    (``snarkjs powersoftau prepare phase2``) the file lets it check a phase-2 key made on our phase 1
    (tests/test_zkey_ceremony.py). snarkjs does read the file: ``powersoftau prepare phase2`` on it yields
    exactly our Lagrange points (tested).
    """
    atomic_write_bytes(path, build_binfile(MAGIC, 1, _ptau_sections(acc)))


def write_dev_prepared_ptau(path: str | Path, power: int, tau: int, alpha: int, beta: int) -> None:
    """A *prepared* .ptau (sections 12-15 included) from known secrets: DEVELOPMENT/BENCHMARK ONLY.

    snarkjs's own ``prepare phase2`` needs ~20 minutes at power 16 on this machine; with the secrets
    known every point is one fixed-base multiplication, so benchmarks can hand snarkjs a setup of
    its own in seconds. Lagrange sections hold the bases of the domains 1, 2, 4, ..., 2^power
    (2^(power+1) too for tauG1, as snarkjs writes it).
    """
    from zkmargin.circuits.field import R, root_of_unity

    from .qap import lagrange_at
    from .setup._util import g1_fixed_many, g2_fixed_many, powers

    n = 1 << power
    tau_pows = powers(tau, 2 * n, start=1)
    acc = Phase1Accumulator(
        tau_g1=g1_fixed_many(tau_pows[: 2 * n - 1]),
        tau_g2=g2_fixed_many(tau_pows[:n]),
        alpha_g1=g1_fixed_many([alpha * t % R for t in tau_pows[:n]]),
        beta_g1=g1_fixed_many([beta * t % R for t in tau_pows[:n]]),
        beta_g2=g2_fixed_many([beta])[0],
    )
    lag: list[int] = []
    for k in range(power + 1):
        lag.extend(lagrange_at(tau, k) if k else [1])
    # snarkjs's tauG1 Lagrange section also holds the doubled domain 2^(power+1), interpolated from
    # the 2^(power+1) - 1 powers it has: the missing top power counts as zero. L_j's coefficient of
    # x^(N-1) is w^j / N, so drop that term.
    big = 2 * n
    w = root_of_unity(power + 1)
    top = pow(tau, big - 1, R) * pow(big, R - 2, R) % R
    wj = 1
    lag_g1 = list(lag)
    for lj in lagrange_at(tau, power + 1):
        lag_g1.append((lj - wj * top) % R)
        wj = wj * w % R
    sections = _ptau_sections(acc)
    sections += [
        (12, encode_g1_lem(g1_fixed_many(lag_g1))),
        (13, encode_g2_lem(g2_fixed_many(lag))),
        (14, encode_g1_lem(g1_fixed_many([alpha * x % R for x in lag]))),
        (15, encode_g1_lem(g1_fixed_many([beta * x % R for x in lag]))),
    ]
    atomic_write_bytes(path, build_binfile(MAGIC, 1, sections))
