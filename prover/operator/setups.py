"""The proving setup of a circuit shape: loaded from ``<root>/setups/<shape id>/`` or created there atomically.

Why its own module: the setup is the one long-lived, expensive artifact of a bundle root (minutes for a real shape)
and the only place the development-setup label is decided; the pipeline only asks for it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zkmargin.atomic import atomic_directory
from zkmargin.circuits.msm_native import available as native_available
from zkmargin.circuits.rules.circuit_inputs import BatchLayout
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.snarkjs_json import vk_from_json, vk_to_json
from zkmargin.verifier.types import VerifyingKey

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


@dataclass
class Setup:
    pk: ProvingKey
    vk: VerifyingKey
    kind: str  # "development" | "ceremony"
    path: Path
    seconds: float  # time spent creating it (0 when loaded)

    @property
    def zkey(self) -> Path:
        return self.path / "circuit.zkey"

    def is_public(self) -> bool:
        """A ceremony on a public phase-1 file (``phase1.ptau`` beside the key): the only setup a production
        registry accepts. Anything else needs a registry deployed in development mode (the audit enforces it)."""
        return self.kind == "ceremony" and (self.path / "phase1.ptau").exists()

    def label(self) -> str:
        return DEV_LABEL if self.kind == "development" else "local multi-party ceremony"


def load_or_create(path: Path, layout: BatchLayout, kind: str, progress: Progress) -> Setup:
    """The setup at ``path`` for ``layout``'s shape; created (dev setup or local ceremony) when absent, in a staging
    directory renamed into place, so an interrupted creation leaves nothing a later run could mistake for a key."""
    if kind not in SETUP_KINDS:
        raise ValueError(f"setup_kind: {kind!r} is not one of {SETUP_KINDS}")
    if (path / "setup.json").exists():
        meta = json.loads((path / "setup.json").read_text())
        if meta["shape"] != fmt.shape_to_json(layout.shape):
            raise ValueError(f"{path}: setup for another circuit shape")
        pk = read_zkey(path / "circuit.zkey", check_points=False, packed_only=native_available())
        vk = vk_from_json(json.loads((path / fmt.VK).read_text()))
        return Setup(pk, vk, meta["kind"], path, 0.0)
    circuit = circuit_for(layout.shape)
    t0 = time.perf_counter()
    with atomic_directory(path) as stage:
        if kind == "ceremony":
            progress("setup (local ceremony)", 0, 1)
            pk = run_ceremony(circuit.r1cs, stage / "transcript", phase1_contributions=2, phase2_contributions=2)
        else:
            progress("setup (DEVELOPMENT, single party)", 0, 1)
            log.warning(DEV_LABEL)
            pk = dev_setup(circuit.r1cs)
        write_zkey(pk, stage / "circuit.zkey")
        vk = pk.verifying_key()
        (stage / fmt.VK).write_bytes(fmt.dumps(vk_to_json(vk)))
        meta = {
            "kind": kind,
            "label": DEV_LABEL if kind == "development" else "local multi-party ceremony (transcript/)",
            "shape": fmt.shape_to_json(layout.shape),
            "constraints": circuit.r1cs.n_constraints,
            "domain_size": pk.domain_size,
        }
        (stage / "setup.json").write_bytes(fmt.dumps(meta))
    return Setup(pk, vk, kind, path, time.perf_counter() - t0)
