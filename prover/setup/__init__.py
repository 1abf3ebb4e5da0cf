"""Groth16 trusted setup: a development single-party setup and a multi-party ceremony
(phase 1 powers of tau, phase 2 circuit-specific delta), with a verifiable transcript."""

from .dev import SetupSecrets, dev_setup
from .phase1 import Phase1Secrets, prepare_phase2
from .transcript import load_key, run_ceremony, save_key

__all__ = ["Phase1Secrets", "SetupSecrets", "dev_setup", "load_key", "prepare_phase2", "run_ceremony", "save_key"]
