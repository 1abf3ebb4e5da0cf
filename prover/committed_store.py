"""A committed (commitment-slot) proving key on disk: save and load, every field validated on the way in.

Layout of a committed setup directory (``<root>/setups/<shape dir>/``, /work/coord/README.md):

* ``circuit.zkey``: the base Groth16 key in snarkjs's ``.zkey`` layout, with the committed wires' C points at
  infinity (zero bytes, as snarkjs encodes infinity). snarkjs can read it but its proofs would not verify: the
  committed values enter the check through D only;
* ``commitment_key.json``: ``CommitmentKey.to_json()`` = ``{"bases", "mask_delta"}`` (the commitment bases
  [L_i/eta]_1 in commitment order then the mask base [k/eta]_1, and [k/delta]_1);
* ``verification_key.json``: the committed verifying key (``"protocol": "groth16-committed"``, docs/lookups.md).

Writes are atomic per file (a crash leaves the old file or the new one); the pipeline also stages the whole
directory. Reading is strict: a missing or malformed file or field raises :class:`CommittedKeyError` naming the
file and the field (``commitment_key.json bases[3]``), and the three files must belong together: the verifying
key is the zkey's (alpha, beta, gamma, delta, IC), the base list has one entry per committed wire plus the mask,
and (given the circuit) the committed wires' C points are at infinity.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_write_bytes
from zkmargin.circuits.formats.binfile import BinFileError
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.committed import CommittedVerifyingKey, committed_vk_from_json, committed_vk_to_json
from zkmargin.verifier.groth16 import MalformedInput, check_g1

from .committed import CommitmentKey, CommittedProvingKey
from .zkey import read_zkey, write_zkey

__all__ = ["COMMITMENT_KEY", "VK", "ZKEY", "CommittedKeyError", "load_committed_key", "save_committed_key"]

ZKEY = "circuit.zkey"
COMMITMENT_KEY = "commitment_key.json"
VK = "verification_key.json"
G1_BYTES = 64  # a G1 point in the zkey's LEM encoding; infinity is all zero


class CommittedKeyError(ValueError):
    """A committed proving key on disk that cannot be used; the message names the file and field."""


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()


def save_committed_key(key: CommittedProvingKey, directory: str | Path) -> None:
    """Write the three files into ``directory`` (each atomically)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    write_zkey(key.base, d / ZKEY)
    atomic_write_bytes(d / COMMITMENT_KEY, _dumps(key.commitment.to_json()))
    atomic_write_bytes(d / VK, _dumps(committed_vk_to_json(key.vk)))


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError as e:
        raise CommittedKeyError(f"{path.name}: missing file {path}") from e
    except (OSError, ValueError) as e:
        raise CommittedKeyError(f"{path.name}: unreadable ({e})") from e


def _commitment_key(d: Any) -> CommitmentKey:
    if not isinstance(d, dict):
        raise CommittedKeyError(f"{COMMITMENT_KEY}: expected an object with bases, mask_delta")
    for field in ("bases", "mask_delta"):
        if field not in d:
            raise CommittedKeyError(f"{COMMITMENT_KEY} {field}: missing")
    if not isinstance(d["bases"], list) or len(d["bases"]) < 2:
        raise CommittedKeyError(f"{COMMITMENT_KEY} bases: expected a list of at least 2 G1 points")
    extra = sorted(set(d) - {"bases", "mask_delta"})
    if extra:
        raise CommittedKeyError(f"{COMMITMENT_KEY} {extra[0]}: unknown field (a key of another proof system?)")
    try:
        ck = CommitmentKey.from_json(d)
        for i, p in enumerate(ck.bases):
            check_g1(p, f"bases[{i}]")
        check_g1(ck.mask_delta, "mask_delta")
    except MalformedInput as e:
        raise CommittedKeyError(f"{COMMITMENT_KEY} {e}") from e
    return ck


def _same_key(vk: CommittedVerifyingKey, key: Any) -> str | None:
    """The first field where the verifying key differs from the zkey's, or None."""
    b = vk.base
    for name, mine, theirs in (("vk_alpha_1", b.alpha1, key.alpha1), ("vk_beta_2", b.beta2, key.beta2),
                               ("vk_gamma_2", b.gamma2, key.gamma2), ("vk_delta_2", b.delta2, key.delta2),
                               ("IC", list(b.ic), list(key.ic))):  # fmt: skip
        if mine != theirs:
            return name
    return None


def load_committed_key(
    directory: str | Path, r1cs: R1CS | None = None, packed_only: bool = False, check_points: bool = True
) -> CommittedProvingKey:
    """Read and validate a committed proving key. ``r1cs`` (the circuit it is for) adds the checks that need it:
    the commitment's wire count and the committed C points at infinity. ``packed_only``/``check_points`` are
    passed to :func:`read_zkey` (the prover's fast path on its own files)."""
    d = Path(directory)
    vk_json = _json(d / VK)
    try:
        vk = committed_vk_from_json(vk_json)
    except MalformedInput as e:
        raise CommittedKeyError(f"{VK} {e}") from e
    ck = _commitment_key(_json(d / COMMITMENT_KEY))
    try:
        base = read_zkey(d / ZKEY, check_points=check_points, packed_only=packed_only)
    except FileNotFoundError as e:
        raise CommittedKeyError(f"{ZKEY}: missing file {d / ZKEY}") from e
    except (BinFileError, OSError, ValueError) as e:
        raise CommittedKeyError(f"{ZKEY}: {e}") from e
    field = _same_key(vk, base)
    if field is not None:
        raise CommittedKeyError(f"{VK} {field}: not the key of {ZKEY} (files of different setups)")
    wires: tuple[int, ...] = ()
    if r1cs is not None:
        info = r1cs.commitment
        if info is None:
            raise CommittedKeyError(f"{ZKEY}: the circuit declares no commitment (a plain circuit's setup?)")
        if base.n_vars != r1cs.n_vars or base.n_public != r1cs.n_public:
            raise CommittedKeyError(f"{ZKEY} nVars/nPublic: {base.n_vars}/{base.n_public}, the circuit has "
                                    f"{r1cs.n_vars}/{r1cs.n_public}")  # fmt: skip
        if len(ck.bases) != len(info.private) + 1:
            raise CommittedKeyError(f"{COMMITMENT_KEY} bases: {len(ck.bases)} points, the circuit commits "
                                    f"{len(info.private)} wires (+1 mask base)")  # fmt: skip
        wires = tuple(info.private)
        first = r1cs.n_public + 1
        c_raw = base.packed.get("c_g1")
        for w in wires:
            j = w - first
            at_infinity = (
                not any(bytes(c_raw[j * G1_BYTES : (j + 1) * G1_BYTES])) if c_raw is not None else base.c_g1[j] is None
            )
            if not at_infinity:
                raise CommittedKeyError(
                    f"{ZKEY} C[{j}]: committed wire {w} has a C point; it must be at infinity "
                    "(else a prover could change committed values after the challenge)"
                )
    return CommittedProvingKey(base, ck, vk, wires)
