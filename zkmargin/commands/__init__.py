"""The handlers of the ``zkmargin`` command line's subcommands, grouped by who runs them.

``zkmargin.cli`` builds the parser, dispatches to these and maps exceptions to exit codes; each handler takes the
parsed arguments, calls the Python API (or the prover or verifier side, imported when it runs, so an auditor's
``zkmargin verify`` never loads the prover), prints its result and returns the exit code. Split from ``cli.py``
so that the parser reads as the whole command line on one page and each group of handlers on its own:
``proof_system`` (verify, setup, verify-setup, prove, example), ``operator`` (demo, run, bundle publish, doctor),
``chain`` (chain deploy, chain status) and ``checks`` (user verify, audit).
"""

from __future__ import annotations

EXIT_OK, EXIT_INVALID, EXIT_MALFORMED, EXIT_INTERNAL = 0, 1, 2, 3


class OptionError(ValueError):
    """A bad option value found before any work starts: exit 2 naming the option."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option, self.reason = option, reason
