"""The public margin rules: fixed-point conventions, the instrument / account / market models, the risk
parameters, option pricing, risk arrays and the dynamic-parameter methodology.

They live beside the circuits, not in the prover, because they define what a proof means: the margin engine
(``zkmargin.prover.engine``) evaluates them on private books, and auditors (``zkmargin.verifier``, which never
imports the prover) rebuild every circuit parameter from the published documents with the same code.
"""
