"""A list of named checks with a verdict: what ``zkmargin user verify`` and ``zkmargin audit`` print."""

from __future__ import annotations

from dataclasses import dataclass, field

EXIT_OK, EXIT_FAILED, EXIT_MALFORMED = 0, 1, 2


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    warning: bool = False  # shown loudly, does not change the verdict


@dataclass
class Report:
    title: str
    checks: list[Check] = field(default_factory=list)
    malformed: str | None = None  # the bundle could not be read at all: exit 2
    epoch: int | None = None  # the epoch actually checked (shown with the verdict, so a swap cannot go unseen)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    def warn(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail, warning=True))

    @property
    def ok(self) -> bool:
        return self.malformed is None and bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def exit_code(self) -> int:
        return EXIT_MALFORMED if self.malformed is not None else EXIT_OK if self.ok else EXIT_FAILED

    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def verdict(self, passed: str, failed: str, malformed: str) -> str:
        """The verdict line with the epoch it is about: ``[epoch N] PASSED ...``. A verdict printed without its
        epoch would let a bundle whose index points elsewhere read as a pass for the epoch the user asked about."""
        text = {EXIT_OK: passed, EXIT_FAILED: failed, EXIT_MALFORMED: malformed}[self.exit_code]
        return text if self.epoch is None else f"[epoch {self.epoch}] {text}"

    def render(self) -> str:
        lines = [self.title]
        for c in self.checks:
            tag = "WARN" if c.warning else "ok" if c.ok else "FAIL"
            lines.append(f"  [{tag:>4}] {c.name}{': ' + c.detail if c.detail else ''}")
        if self.malformed is not None:
            lines.append(f"  [MALFORMED] {self.malformed}")
        return "\n".join(lines)
