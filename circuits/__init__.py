"""Arithmetic layer: BN254 field and curve helpers, the R1CS builder, gadgets, Poseidon, file formats."""
