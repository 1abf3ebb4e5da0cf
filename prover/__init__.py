"""Prover side: trusted setup and the Groth16 prover (later also the margin engine and witness building)."""
