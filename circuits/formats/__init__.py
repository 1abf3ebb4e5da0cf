"""The iden3/circom/snarkjs binary formats (.r1cs, .wtns; .zkey lives in ``zkmargin.prover.zkey``)."""

from .binfile import BinFileError
from .r1cs_file import read_r1cs, read_sym, write_r1cs, write_sym
from .wtns_file import read_wtns, write_wtns

__all__ = [
    "BinFileError",
    "read_r1cs",
    "read_sym",
    "read_wtns",
    "write_r1cs",
    "write_sym",
    "write_wtns",
]
