"""Solvency batch circuit (issue 4): shapes, gadgets, leaf encoding, parameter commitment. See docs/circuit.md."""

from .circuit import COMPONENTS, LOOKUP_TABLE, AccountSignals, SolvencyCircuit
from .leaf import LeafData, account_id_commitment, derive_user_secret, epoch_salt, new_user_secret
from .params import SolvencyParams, sponge
from .shape import SolvencyShape, public_signal_names

__all__ = [
    "COMPONENTS",
    "LOOKUP_TABLE",
    "AccountSignals",
    "LeafData",
    "SolvencyCircuit",
    "SolvencyParams",
    "SolvencyShape",
    "account_id_commitment",
    "derive_user_secret",
    "epoch_salt",
    "new_user_secret",
    "public_signal_names",
    "sponge",
]
