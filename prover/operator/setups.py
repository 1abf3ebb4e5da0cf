"""The proving setup of a circuit shape: loaded from ``<root>/setups/<shape dir>/`` or created there atomically.

Why its own module: the setup is the one long-lived, expensive artifact of a bundle root (minutes for a real shape)
and the only place the development-setup label is decided; the pipeline only asks for it.

Two proof systems (``zkmargin.verifier.bundle_proofs``): ``"committed"`` (the default: the solvency circuit on LogUp
lookups, Groth16 with one Groth16 commitment; files ``circuit.zkey`` with the committed C points at infinity,
``commitment_key.json``, ``verification_key.json`` with protocol ``groth16-committed``, written and read by
``prover/committed_store.py``) and ``"plain"`` (the bit-decomposition circuit, plain Groth16, snarkjs-compatible).
They are different circuits, so they live in different directories (``fmt.setup_dirname``) and a root can hold both.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zkmargin.atomic import atomic_directory
from zkmargin.circuits.field import R
from zkmargin.circuits.msm_native import available as native_available
from zkmargin.circuits.r1cs import R1CS
from zkmargin.circuits.rules.circuit_inputs import BatchLayout
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.bundle_proofs import COMMITTED, PLAIN, PROOF_SYSTEMS, AnyKey
from zkmargin.verifier.snarkjs_json import vk_from_json, vk_to_json

from ..committed import CommittedProvingKey, dev_setup_committed
from ..committed_store import CommittedKeyError, load_committed_key, save_committed_key
from ..keys import ProvingKey
from ..setup import dev_setup, run_ceremony
from ..zkey import read_zkey, write_zkey
from .proving import circuit_for

log = logging.getLogger(__name__)

DEV_LABEL = (
    "DEVELOPMENT SETUP (single party): whoever ran it knows the toxic waste and could forge proofs. "
    "Not for production; use a multi-party ceremony from a public phase 1."
)
SETUP_KINDS = ("development", "ceremony")
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class SetupError(ValueError):
    """A setup directory that cannot be used (another shape or proof system, unreadable key files); names it."""


@dataclass
class Setup:
    key: ProvingKey | CommittedProvingKey
    vk: AnyKey
    kind: str  # "development" | "ceremony"
    path: Path
    seconds: float  # time spent creating it (0 when loaded)
    proof_system: str = PLAIN

    @property
    def pk(self) -> ProvingKey:
        """The base Groth16 proving key (a committed key's has the committed C points at infinity)."""
        return self.key.base if isinstance(self.key, CommittedProvingKey) else self.key

    @property
    def zkey(self) -> Path:
        return self.path / "circuit.zkey"

    def is_public(self) -> bool:
        """A ceremony on a public phase-1 file (``phase1.ptau`` beside the key): the only setup a production
        registry accepts. Anything else needs a registry deployed in development mode (the audit enforces it)."""
        return self.kind == "ceremony" and (self.path / "phase1.ptau").exists()

    def label(self) -> str:
        return DEV_LABEL if self.kind == "development" else "local multi-party ceremony"

    @property
    def local_ptau(self) -> Path | None:
        """A committed local ceremony's own phase 1 (the audit re-checks the ceremony against it)."""
        p = self.path / LOCAL_PTAU
        return p if p.exists() else None


def _load(path: Path, layout: BatchLayout, proof_system: str) -> Setup:
    try:
        meta = json.loads((path / "setup.json").read_text())
    except (OSError, ValueError) as e:
        raise SetupError(f"{path / 'setup.json'}: unreadable ({e})") from e
    if not isinstance(meta, dict) or meta.get("shape") != fmt.shape_to_json(layout.shape):
        raise SetupError(f"{path}: setup for another circuit shape")
    found = meta.get("proof_system", PLAIN)  # setups written before the committed default were plain
    if found != proof_system:
        raise SetupError(f"{path}: a {found!r} setup, but the proof system asked for is {proof_system!r}")
    kind = meta.get("kind")
    if kind not in SETUP_KINDS:
        raise SetupError(f"{path / 'setup.json'} kind: {kind!r} is not one of {SETUP_KINDS}")
    if proof_system == COMMITTED:
        try:
            key = load_committed_key(path, circuit_for(layout.shape, COMMITTED).r1cs, packed_only=native_available(),
                                     check_points=False)  # fmt: skip
        except CommittedKeyError as e:
            raise SetupError(f"{path}: {e}") from e
        return Setup(key, key.vk, kind, path, 0.0, COMMITTED)
    pk = read_zkey(path / "circuit.zkey", check_points=False, packed_only=native_available())
    vk = vk_from_json(json.loads((path / fmt.VK).read_text()))
    return Setup(pk, vk, kind, path, 0.0, PLAIN)


LOCAL_PTAU = "phase1-local.ptau"  # the operator's own phase 1 (not "phase1.ptau": that name means a public file)


def local_committed_ceremony(r1cs: R1CS, stage: Path) -> CommittedProvingKey:
    """A local multi-party ceremony for a committed key (``prover/setup/committed_ceremony.py``: delta, eta and k
    each contributed, 2 contributions) over a phase 1 of the operator's own (``phase1-local.ptau``, prepared from
    secrets drawn here and dropped): like the plain local ceremony, it proves the tooling, not trust (the audit fails
    its phase 1 unless the registry is in development mode). Its transcript goes to ``stage/transcript``."""
    import secrets as _secrets

    from ..ptau import write_dev_prepared_ptau
    from ..qap import qap_from_r1cs
    from ..setup.committed_ceremony import run_committed_ceremony

    tau, alpha, beta = (_secrets.randbelow(R - 2) + 2 for _ in range(3))
    write_dev_prepared_ptau(stage / LOCAL_PTAU, qap_from_r1cs(r1cs).log_domain, tau=tau, alpha=alpha, beta=beta)
    del tau, alpha, beta
    return run_committed_ceremony(r1cs, stage / "transcript", phase1=stage / LOCAL_PTAU, contributions=2)


def load_or_create(path: Path, layout: BatchLayout, kind: str, progress: Progress, proof_system: str = COMMITTED
                   ) -> Setup:  # fmt: skip
    """The setup at ``path`` for ``layout``'s shape; created (dev setup or local ceremony) when absent, in a staging
    directory renamed into place, so an interrupted creation leaves nothing a later run could mistake for a key."""
    if kind not in SETUP_KINDS:
        raise ValueError(f"setup_kind: {kind!r} is not one of {SETUP_KINDS}")
    if proof_system not in PROOF_SYSTEMS:
        raise ValueError(f"proof_system: {proof_system!r} is not one of {PROOF_SYSTEMS}")
    if (path / "setup.json").exists():
        return _load(path, layout, proof_system)
    circuit = circuit_for(layout.shape, proof_system)
    t0 = time.perf_counter()
    key: ProvingKey | CommittedProvingKey
    with atomic_directory(path) as stage:
        if proof_system == COMMITTED:
            if kind == "ceremony":
                progress("setup (local ceremony, committed)", 0, 1)
                key = local_committed_ceremony(circuit.r1cs, stage)
            else:
                progress("setup (DEVELOPMENT, single party, committed)", 0, 1)
                log.warning(DEV_LABEL)
                key = dev_setup_committed(circuit.r1cs)
            save_committed_key(key, stage)
            vk: AnyKey = key.vk
            domain = key.base.domain_size
        else:
            if kind == "ceremony":
                progress("setup (local ceremony)", 0, 1)
                key = run_ceremony(circuit.r1cs, stage / "transcript", phase1_contributions=2, phase2_contributions=2)
            else:
                progress("setup (DEVELOPMENT, single party)", 0, 1)
                log.warning(DEV_LABEL)
                key = dev_setup(circuit.r1cs)
            write_zkey(key, stage / "circuit.zkey")
            vk = key.verifying_key()
            (stage / fmt.VK).write_bytes(fmt.dumps(vk_to_json(vk)))
            domain = key.domain_size
        meta = {
            "kind": kind,
            "proof_system": proof_system,
            "label": DEV_LABEL if kind == "development" else "local multi-party ceremony (transcript/)",
            "shape": fmt.shape_to_json(layout.shape),
            "constraints": circuit.r1cs.n_constraints,
            "domain_size": domain,
        }
        (stage / "setup.json").write_bytes(fmt.dumps(meta))
    return Setup(key, vk, kind, path, time.perf_counter() - t0, proof_system)
