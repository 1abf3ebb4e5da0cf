"""The venue circuit's proving setup (committed Groth16 only: the venue circuit exists in lookup mode only), loaded
from ``<root>/setups/venue-<shape id>-committed/`` or created there atomically.

Why not ``setups.load_or_create``: that one is keyed by the fixed-slot :class:`SolvencyShape`; the files, the
development label and the key creation are the same and come from there (``dev_setup_committed``,
``local_committed_ceremony``, ``save_committed_key``), so a faster dev setup (``prover/setup/dev.py``) speeds this
one up too.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import time
from pathlib import Path

from zkmargin.atomic import atomic_directory
from zkmargin.circuits.msm_native import available as native_available
from zkmargin.circuits.r1cs import _gc_paused
from zkmargin.circuits.solvency.venue_circuit import VenueCircuit
from zkmargin.circuits.solvency.venue_shape import VenueShape
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.bundle_proofs import COMMITTED
from zkmargin.verifier.venue_format import venue_shape_to_json

from ..committed import CommittedProvingKey, dev_setup_committed
from ..committed_store import ZKEY, CommittedKeyError, load_committed_key, save_committed_key
from ..zkey import read_zkey
from .setups import DEV_LABEL, SETUP_KINDS, Progress, Setup, SetupError, local_committed_ceremony

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=2)
def venue_circuit(shape: VenueShape) -> VenueCircuit:
    """The venue circuit of a shape, built once per process (tens of seconds at venue scale).

    Its tens of millions of objects then live as long as the process: ``gc.freeze()`` moves them out of the cyclic
    collector's generations, so the later phases' allocations (the setup's QAP entry lists, the witnesses) no longer
    make the collector walk them (measured at the demo's shape: the QAP's 11.5 M entries 10.3 s of CPU before, 3.8 s
    after). Frozen objects are still freed by reference counting; only a cycle among them would stay."""
    circuit = VenueCircuit(shape)
    gc.freeze()
    return circuit


def _load(path: Path, shape: VenueShape) -> Setup:
    try:
        meta = json.loads((path / "setup.json").read_text())
    except (OSError, ValueError) as e:
        raise SetupError(f"{path / 'setup.json'}: unreadable ({e})") from e
    if not isinstance(meta, dict) or meta.get("shape") != venue_shape_to_json(shape):
        raise SetupError(f"{path}: setup for another venue shape")
    kind = meta.get("kind")
    if kind not in SETUP_KINDS:
        raise SetupError(f"{path / 'setup.json'} kind: {kind!r} is not one of {SETUP_KINDS}")
    try:
        key = load_committed_key(path, venue_circuit(shape).r1cs, packed_only=native_available(), check_points=False)
    except CommittedKeyError as e:
        raise SetupError(f"{path}: {e}") from e
    return Setup(key, key.vk, kind, path, 0.0, COMMITTED)


def load_or_create_venue(path: Path, shape: VenueShape, kind: str, progress: Progress) -> Setup:
    """The committed setup at ``path`` for ``shape``; created (dev setup or local ceremony) when absent, in a
    staging directory renamed into place."""
    if kind not in SETUP_KINDS:
        raise ValueError(f"setup_kind: {kind!r} is not one of {SETUP_KINDS}")
    if (path / "setup.json").exists():
        return _load(path, shape)
    circuit = venue_circuit(shape)
    t0 = time.perf_counter()
    key: CommittedProvingKey
    # the collector paused: the key's QAP entry lists (~11.5 M tuples at the demo's 2^20) and its commitment key's
    # JSON (~0.6 M points) hold no cycles, yet with them alive it would walk them all every few thousand allocations
    # (measured: the commitment key's to_json beside 8 M live tuples 1.64 s of CPU with it, 0.38 s without)
    with _gc_paused(), atomic_directory(path) as stage:
        if kind == "ceremony":
            progress("setup (local ceremony, committed, venue)", 0, 1)
            key = local_committed_ceremony(circuit.r1cs, stage)
        else:
            progress("setup (DEVELOPMENT, single party, committed, venue)", 0, 1)
            log.warning(DEV_LABEL)
            # the large point lists stay packed (all the prover and the writer read): no Python tuples
            key = dev_setup_committed(circuit.r1cs, decode=not native_available())
        save_committed_key(key, stage)
        meta = {
            "kind": kind,
            "proof_system": COMMITTED,
            "circuit": "venue",
            "label": DEV_LABEL if kind == "development" else "local multi-party ceremony (transcript/)",
            "shape": venue_shape_to_json(shape),
            "constraints": circuit.r1cs.n_constraints,
            "domain_size": key.base.domain_size,
        }
        (stage / "setup.json").write_bytes(fmt.dumps(meta))
    if native_available():
        # prove from the key file just written, mapped, as a rerun does (``_load``): the QAP coefficients are then
        # evaluated by the kernel straight from the file (~4 s of Python per demo batch otherwise) and the key's
        # in-memory copy is freed. The commitment and verifying keys are the ones just made (reading them back
        # would only parse the JSON written a moment ago).
        base = read_zkey(path / ZKEY, check_points=False, packed_only=True)
        key = CommittedProvingKey(base, key.commitment, key.vk, key.committed_wires)
    progress(
        "setup (DEVELOPMENT, single party, committed, venue)"
        if kind != "ceremony"
        else "setup (local ceremony, committed, venue)",
        1,
        1,
    )
    return Setup(key, key.vk, kind, path, time.perf_counter() - t0, COMMITTED)
