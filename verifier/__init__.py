"""Verifier side: Groth16 verification and snarkjs JSON formats. Never imports zkmargin.prover."""
