"""Observation points of an epoch run, for tests and monitoring.

Why a separate object: the production signature of ``Operator.run_epoch`` carries no test switches; a test that
needs a crash at a chosen point injects a ``Hooks`` subclass that raises there, and the pipeline's crash safety is
then exercised through exactly the code a real crash interrupts.
"""

from __future__ import annotations


class Hooks:
    """No-op base: override what you need. Exceptions raised here propagate out of ``run_epoch`` unchanged."""

    def batch_cached(self, epoch: int, index: int, proven: int) -> None:
        """Batch ``index`` was proven and written to the cache; ``proven`` batches were proven so far this run."""

    def attested(self, epoch: int, record: dict[str, object]) -> None:
        """The epoch's attestation is on-chain and its record cached; the bundle is not written yet."""
