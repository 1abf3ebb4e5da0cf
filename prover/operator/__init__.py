"""The operator side of the product (issue 7): epochs, proof bundles, attestation, the demo. See docs/product.md."""

from .exchange import ExchangeSpec, demo_accounts, demo_engine
from .pipeline import EpochResult, Exclusion, InjectedFault, Operator

__all__ = ["EpochResult", "ExchangeSpec", "Exclusion", "InjectedFault", "Operator", "demo_accounts", "demo_engine"]
