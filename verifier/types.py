"""Groth16 verifying key and proof: the data an auditor's verifier needs, nothing from the prover."""

from __future__ import annotations

from dataclasses import dataclass

from zkmargin.circuits.curve import G1Affine, G2Affine


@dataclass(frozen=True)
class VerifyingKey:
    alpha1: G1Affine
    beta2: G2Affine
    gamma2: G2Affine
    delta2: G2Affine
    ic: tuple[G1Affine, ...]  # one point per public signal, plus ic[0] for the constant one

    @property
    def n_public(self) -> int:
        return len(self.ic) - 1


@dataclass(frozen=True)
class Proof:
    a: G1Affine
    b: G2Affine
    c: G1Affine
