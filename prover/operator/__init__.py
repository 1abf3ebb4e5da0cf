"""The operator side of the product (issue 7): epochs, proof bundles, attestation, the demo. See docs/product.md."""

from .classify import Exclusion
from .exchange import ExchangeSpec, demo_accounts, demo_engine
from .hooks import Hooks
from .pipeline import EpochResult, Operator
from .proving import BatchProver, LocalProver

__all__ = [
    "BatchProver",
    "EpochResult",
    "ExchangeSpec",
    "Exclusion",
    "Hooks",
    "LocalProver",
    "Operator",
    "demo_accounts",
    "demo_engine",
]
