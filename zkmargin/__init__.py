"""zkmargin: zero-knowledge maintenance-margin solvency proofs for derivatives exchanges."""

__version__ = "0.1.0"
