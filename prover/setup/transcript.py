"""Writing a ceremony transcript (format: ``zkmargin.verifier.setup_transcript``'s docstring).

Every file is written to a temporary name and moved into place with ``os.replace``, and
``ceremony.json`` is rewritten (atomically) after each step, so a crash leaves either the previous
consistent transcript or the new one, never a torn file that a later contribution would build on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkmargin.atomic import atomic_write_bytes as atomic_write
from zkmargin.circuits.curve import G1Affine
from zkmargin.circuits.r1cs import R1CS
from zkmargin.verifier.setup_transcript import (
    FORMAT_NAME,
    FORMAT_VERSION,
    PHASE2_LABEL,
    Phase1Accumulator,
    decode_key,
    encode_key,
    key_delta_state,
    sha256_hex,
)
from zkmargin.verifier.snarkjs_rng import rng_from_entropy

from ..keys import ProvingKey
from . import phase1, phase2, zkey_phase2
from ._util import knowledge_proof


@dataclass
class TranscriptWriter:
    """Accumulates the ceremony metadata and writes each artefact as soon as it exists."""

    directory: Path
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "curve": "bn254",
            "phase1": {"log_n": None, "source": {"kind": "local"}, "contributions": []},
            "phase2": None,
        }

    def _put(self, rel: str, data: bytes) -> dict[str, str]:
        atomic_write(self.directory / rel, data)
        return {"sha256": sha256_hex(data)}

    def _flush(self) -> None:
        atomic_write(self.directory / "ceremony.json", (json.dumps(self.meta, indent=1) + "\n").encode())

    def phase1_local(self, log_n: int) -> None:
        self.meta["phase1"]["log_n"] = log_n
        self.meta["phase1"]["source"] = {"kind": "local"}
        self._flush()

    def phase1_imported(self, acc: Phase1Accumulator, kind: str, info: dict[str, Any]) -> None:
        """Record a phase 1 taken from elsewhere (e.g. a snarkjs .ptau): only the powers we use."""
        rel = "phase1/accumulator_0000.bin"
        self.meta["phase1"]["log_n"] = acc.log_n
        self.meta["phase1"]["source"] = {"kind": kind, "accumulator": rel, **self._put(rel, acc.to_bytes()), **info}
        self._flush()

    def phase1_contribution(self, c: phase1.Phase1Contribution) -> None:
        contribs = self.meta["phase1"]["contributions"]
        idx = len(contribs) + 1
        rel = f"phase1/accumulator_{idx:04d}.bin"
        rec = {"index": idx, "name": c.name, "accumulator": rel, **self._put(rel, c.accumulator.to_bytes())}
        rec["proof"] = {k: p.to_json() for k, p in zip(("tau", "alpha", "beta"), c.proofs, strict=True)}
        contribs.append(rec)
        self._flush()

    def phase2_initial(self, r1cs: R1CS, pk: ProvingKey) -> None:
        rel = "phase2/initial_key.bin"
        self.meta["phase2"] = {
            "circuit": {
                "n_vars": r1cs.n_vars,
                "n_public": r1cs.n_public,
                "n_constraints": r1cs.n_constraints,
                "domain_size": pk.domain_size,
            },
            "initial_key": {"file": rel, **self._put(rel, encode_key(pk))},
            "contributions": [],
            "final_key": None,
        }
        self._flush()

    def phase2_contribution(self, c: phase2.Phase2Contribution) -> None:
        contribs = self.meta["phase2"]["contributions"]
        idx = len(contribs) + 1
        rel = f"phase2/delta_{idx:04d}.bin"
        rec = {
            "index": idx,
            "name": c.name,
            "file": rel,
            **self._put(rel, c.state.to_bytes()),
            "proof": c.proof.to_json(),
        }
        contribs.append(rec)
        self._flush()

    def phase2_final(self, pk: ProvingKey) -> None:
        rel = "phase2/final_key.bin"
        self.meta["phase2"]["final_key"] = {"file": rel, **self._put(rel, encode_key(pk))}
        self._flush()


def load_key(path: str | Path) -> ProvingKey:
    """Read a key file written by this module (e.g. ``phase2/final_key.bin``)."""
    return ProvingKey(**decode_key(Path(path).read_bytes()))


def save_key(pk: ProvingKey, path: str | Path) -> None:
    atomic_write(Path(path), encode_key(pk))


def run_phase2(
    writer: TranscriptWriter,
    r1cs: R1CS,
    prep: phase1.PreparedPhase1,
    contributions: int = 1,
    secrets: list[int] | None = None,
    tau_g1: Sequence[G1Affine] | None = None,
) -> ProvingKey:
    """Initial key + ``contributions`` delta updates, all recorded twice: in the key's section 10
    exactly as ``snarkjs zkey contribute`` records them (``key.mpc``: ``snarkjs zkey verify`` and our
    ``verify-setup --zkey`` check them) and in our transcript (proofs of knowledge against the
    transcript digests). ``tau_g1``: the phase-1 powers snarkjs's circuit hash covers."""
    if tau_g1 is None:
        raise ValueError("run_phase2 needs the phase-1 powers of tau in G1 for the circuit hash")
    pk = zkey_phase2.initial_zkey(r1cs, prep, tau_g1)
    writer.phase2_initial(r1cs, pk)
    digest = key_delta_state(pk).digest()
    for i in range(contributions):
        name = f"participant {i + 1}"
        step, x = zkey_phase2.contribute_with_secret(
            pk, rng_from_entropy(name), name, secret=secrets[i] if secrets else None
        )
        c = phase2.Phase2Contribution(step.key, knowledge_proof(x, PHASE2_LABEL, digest), name)
        del x
        writer.phase2_contribution(c)
        pk = c.key
        digest = c.state.digest()
    writer.phase2_final(pk)
    return pk


def run_ceremony(
    r1cs: R1CS,
    directory: str | Path,
    phase1_contributions: int = 2,
    phase2_contributions: int = 2,
    phase1_secrets: list[phase1.Phase1Secrets] | None = None,
    phase2_secrets: list[int] | None = None,
) -> ProvingKey:
    """A complete local multi-party ceremony for ``r1cs`` (phase 1 sized exactly for its domain),
    written to ``directory``. The secrets arguments exist for tests; leave them None otherwise."""
    from ..qap import qap_from_r1cs

    log_n = qap_from_r1cs(r1cs).log_domain
    w = TranscriptWriter(Path(directory))
    w.phase1_local(log_n)
    acc = Phase1Accumulator.initial(log_n)
    digest = acc.digest()
    for i in range(phase1_contributions):
        c = phase1.contribute(acc, digest, phase1_secrets[i] if phase1_secrets else None, name=f"participant {i + 1}")
        w.phase1_contribution(c)
        acc = c.accumulator
        digest = acc.digest()
    prep = phase1.prepare_phase2(acc, log_n)
    return run_phase2(w, r1cs, prep, phase2_contributions, phase2_secrets, acc.tau_g1)
