"""The Groth16 proving key, laid out like snarkjs's .zkey so that it converts both ways losslessly."""

from __future__ import annotations

from dataclasses import dataclass, field

from zkmargin.circuits.curve import G1Affine, G2Affine
from zkmargin.circuits.msm_native import PointBuffer
from zkmargin.verifier.types import VerifyingKey
from zkmargin.verifier.zkey_mpc import MpcParams

# Sparse QAP matrix entry: (constraint row, signal index, coefficient mod R).
QapEntry = tuple[int, int, int]


@dataclass
class ProvingKey:
    """Groth16 proving key.

    The QAP follows snarkjs: the R1CS rows, then one extra row per public signal i (including the
    constant one) with A[row][i] = 1 so that the IC polynomials are linearly independent;
    ``domain_size`` is the least power of two >= n_constraints + n_public + 1. Only A and B are
    stored: the prover derives C's evaluations as A*B row by row, as snarkjs does.

    ``h_g1[i] = [L_{2i+1}(tau) / delta]_1`` where L_j is the Lagrange basis of the domain of size
    2 * domain_size: the prover multiplies these by (A*B - C) evaluated on the odd points of that
    domain, so no division by Z(x) is needed. (Checked against snarkjs 0.7.6. One nuance: when the
    circuit's domain uses the .ptau's full power, snarkjs builds that basis from tau^0..tau^(2n-2)
    with tau^(2n-1) replaced by 0, so its h_g1 then differ from the exact L_{2i+1}(tau); both are
    correct for A*B - C, whose degree is at most 2n - 2.)

    Rows of ``a_coeffs``/``b_coeffs`` are in constraint order with the extra public rows last;
    .zkey section 4 lists, per row, the A entries then the B entries (see ``prover/zkey.py``).
    Points whose polynomial is zero (e.g. a signal absent from A) are the point at infinity.
    snarkjs leaves gamma2 at the G2 generator (no ceremony randomises it), and ``c_g1``/``h_g1``
    are the only point lists divided by delta; a_g1/b_g1/b_g2 are plain [u_i(tau)], [v_i(tau)].
    """

    n_vars: int
    n_public: int
    domain_size: int
    alpha1: G1Affine
    beta1: G1Affine
    beta2: G2Affine
    gamma2: G2Affine
    delta1: G1Affine
    delta2: G2Affine
    ic: list[G1Affine]  # n_public + 1
    a_g1: list[G1Affine]  # n_vars
    b_g1: list[G1Affine]  # n_vars
    b_g2: list[G2Affine]  # n_vars
    c_g1: list[G1Affine]  # n_vars - n_public - 1 (private signals only)
    h_g1: list[G1Affine]  # domain_size
    a_coeffs: list[QapEntry] = field(default_factory=list)
    b_coeffs: list[QapEntry] = field(default_factory=list)
    # Point lists packed for the C MSM kernel, built on first use (a native dev setup makes them) and kept for
    # later proofs; the prover and write_zkey read them, so whoever changes a point list must update or drop
    # its packed copy (dev_setup_committed does). A key read
    # with ``read_zkey(..., packed_only=True)`` also has "coeffs" here: the raw entries of the .zkey's
    # coefficient section (a view of the mapped file), with the point lists and a_coeffs/b_coeffs empty.
    packed: dict[str, PointBuffer] = field(default_factory=dict, repr=False, compare=False)
    # The .zkey's section 10 (circuit hash and phase-2 contribution records) that belongs with these
    # points: carried by the key so that writing it back never silently drops the ceremony record
    # (``write_zkey`` uses it unless given other records). None: no records (a zero circuit hash).
    mpc: MpcParams | None = field(default=None, repr=False, compare=False)

    @property
    def packed_only(self) -> bool:
        """Loaded with ``packed_only=True``: points and QAP coefficients live only in ``packed``."""
        return "coeffs" in self.packed and not self.a_g1

    def require_decoded(self, what: str) -> None:
        if self.packed_only:
            raise ValueError(
                f"{what} needs the decoded key, but this one was loaded with read_zkey(..., packed_only=True) "
                "(points and coefficients left in the mapped file): load it with packed_only=False"
            )

    def verifying_key(self) -> VerifyingKey:
        return VerifyingKey(self.alpha1, self.beta2, self.gamma2, self.delta2, tuple(self.ic))
