"""Fault injection for the pipeline's crash tests: ``Hooks`` that raise at a chosen point of an epoch."""

from __future__ import annotations

from zkmargin.prover.operator import Hooks


class InjectedFault(RuntimeError):
    """A simulated crash (raised from a hook, so the pipeline's own code is what gets interrupted)."""


class FailAfterBatches(Hooks):
    """Crash once ``n`` batches were proven and cached in this run."""

    def __init__(self, n: int) -> None:
        self.n = n

    def batch_cached(self, epoch: int, index: int, proven: int) -> None:
        if proven >= self.n:
            raise InjectedFault(f"injected fault after {proven} batches of epoch {epoch}")


class FailAfterAttest(Hooks):
    """Crash after the attestation is on-chain and its record cached, before the bundle is written."""

    def attested(self, epoch: int, record: dict[str, object]) -> None:
        raise InjectedFault(f"injected fault after attesting epoch {epoch}")
