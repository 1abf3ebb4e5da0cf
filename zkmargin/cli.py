"""zkmargin: zero-knowledge proofs of a derivatives exchange's margin state, checked on-chain.

Exit codes: 0 success or valid; 1 a proof or check failed; 2 bad input or usage (the option is named, nothing
is written); 3 internal error (rerun with -v for the traceback). The command line is a thin layer over the
Python API (``zkmargin.api``, docs/api.md); subcommands import their side lazily, so an auditor who needs only
the verifier can still run ``zkmargin verify``.

Where the split is: this module is the command line itself (the parser, the dispatch, the exit codes and error
lines); the handlers of the subcommands are in ``zkmargin.commands``, grouped by who runs them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zkmargin.commands import EXIT_INTERNAL, EXIT_INVALID, EXIT_MALFORMED, EXIT_OK, OptionError
from zkmargin.commands.chain import cmd_chain_deploy as _cmd_chain_deploy
from zkmargin.commands.chain import cmd_chain_status as _cmd_chain_status
from zkmargin.commands.checks import cmd_audit as _cmd_audit
from zkmargin.commands.checks import cmd_user_verify as _cmd_user_verify
from zkmargin.commands.operator import cmd_bundle_publish as _cmd_bundle_publish
from zkmargin.commands.operator import cmd_demo as _cmd_demo
from zkmargin.commands.operator import cmd_doctor as _cmd_doctor
from zkmargin.commands.operator import cmd_epoch as _cmd_epoch
from zkmargin.commands.operator import cmd_run as _cmd_run
from zkmargin.commands.proof_system import cmd_example as _cmd_example
from zkmargin.commands.proof_system import cmd_prove as _cmd_prove
from zkmargin.commands.proof_system import cmd_setup as _cmd_setup
from zkmargin.commands.proof_system import cmd_verify as _cmd_verify
from zkmargin.commands.proof_system import cmd_verify_setup as _cmd_verify_setup

__all__ = ["EXIT_INTERNAL", "EXIT_INVALID", "EXIT_MALFORMED", "EXIT_OK", "OptionError", "build_parser", "main"]

log = logging.getLogger("zkmargin")


PROOF_SYSTEM_HELP = (
    "committed: the lookup circuit, Groth16 with one commitment (the default once the registry takes committed "
    "proofs; until then plain when attesting on-chain); plain: the bit-decomposition circuit, plain Groth16 "
    "(snarkjs can check it)"
)
BATCH_HELP = "accounts per batch: the circuit shape (>= 1; default 16; --circuit venue: leaves, 64, demo 376)"
DEMO_CIRCUIT_HELP = (
    "venue (the default on the embedded chain): the venue-scale exchange on the venue circuit (issue 15: any "
    "instrument of the governed table, accounts over linked leaves, committed Groth16; --batch is leaves per batch); "
    "slots: the fixed-slot solvency circuit (the default when --proof-system plain, --rpc, --registry or --devnet is "
    "given)"
)
CIRCUIT_HELP = (
    "slots: the fixed-slot solvency circuit (the default); venue: the venue circuit (issue 15: any instrument of "
    "the governed instrument table, accounts over linked leaves, committed Groth16; --batch is then leaves per batch)"
)


def _opt(field: str) -> str:
    """An API field name as the option that carries it (``setup_kind`` -> ``--setup-kind``)."""
    if field.startswith(("-", "account ")) or not field.replace("_", "").isalnum():
        return field
    return "--" + field.replace("_", "-")


def _int_at_least(lo: int) -> Any:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be at least {lo}, got {v}")
        return v

    return parse


def _out_dir(text: str) -> str:
    """An output directory: must not be an existing file (checked before any work)."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a directory")
    return text


def _chain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", required=True, help="an epoch directory, or a bundle root (latest epoch)")
    p.add_argument("--epoch", type=int, default=None, help="epoch to open in a bundle root")
    p.add_argument("--rpc", default=None, help="JSON-RPC URL of the chain holding the registry")
    p.add_argument("--registry", default=None, help="SolvencyRegistry address")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="more detail: -v progress logs, -vv debug logs and tracebacks")  # fmt: skip
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="only the verdict and errors")  # fmt: skip
    p = argparse.ArgumentParser(
        prog="zkmargin",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Exit codes: 0 ok, 1 a proof or check failed, 2 bad input (names the option; nothing written), "
        "3 internal error. Start with `zkmargin doctor`, then `zkmargin demo`. Python API: docs/api.md.",
    )
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more detail: -v progress logs, -vv debug logs and tracebacks")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", default=False, help="only the verdict and errors")
    p.add_argument("--version", action="version", version=f"zkmargin {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        return _add(name, parents=[common], **kw)

    sub.add_parser = add_parser  # type: ignore[method-assign]

    v = sub.add_parser("verify", help="verify a Groth16 proof (snarkjs JSON files)")
    v.add_argument("--vk", required=True, help="verification_key.json")
    v.add_argument("--proof", required=True, help="proof.json")
    v.add_argument("--public", required=True, help="public.json")
    v.set_defaults(fn=_cmd_verify)

    s = sub.add_parser("setup", help="Groth16 setup for a circom .r1cs (phase 1 + phase 2 ceremony)")
    s.add_argument("--r1cs", default=None, help="required without a subcommand")
    s.add_argument("--out", dest="setup_out", default=None, help="dir: circuit.zkey, verification_key.json, transcript")
    s.add_argument("--contributions", type=_int_at_least(1), default=1, help="phase-2 contributions (local, >= 1)")
    s.add_argument("--ptau", default=None, help="start from a snarkjs .ptau (public phase-1 ceremony)")
    s.add_argument("--dev", action="store_true", help="single-party setup: DEVELOPMENT ONLY (forgeable)")
    s.set_defaults(fn=_cmd_setup)
    ssub = s.add_subparsers(dest="setup_command", required=False)
    sc = ssub.add_parser(
        "contribute", parents=[common], help="add one phase-2 contribution to a .zkey (snarkjs zkey contribute format)"
    )
    sc.add_argument("--zkey", required=True, help="input .zkey (ours or snarkjs's)")
    sc.add_argument("--out", required=True, help="output .zkey (written atomically)")
    sc.add_argument("--name", default=None, help="contributor name (<= 64 chars; <= 13 with --signer-key)")
    sc.add_argument("--entropy", default=None, help="extra text mixed with the OS randomness")
    sc.add_argument("--signer-key", default=None, help="Ethereum private key (hex, or @FILE) signing the contribution")
    sb = ssub.add_parser(
        "beacon", parents=[common], help="final phase-2 contribution from a public random beacon (snarkjs zkey beacon)"
    )
    sb.add_argument("--zkey", required=True)
    sb.add_argument("--out", required=True)
    sb.add_argument("--beacon", required=True, help="beacon value, hex")
    sb.add_argument("--iterations", type=int, required=True, help="N: SHA-256 is iterated 2^N times (10..63)")
    sb.add_argument("--name", default=None)

    vs = sub.add_parser("verify-setup", help="auditor: re-check a setup (transcript, or a .zkey's contributions)")
    vs.add_argument("--transcript", default=None, help="the setup's transcript/ directory")
    vs.add_argument("--zkey", default=None, help="a .zkey: check its snarkjs contribution chain (with --ptau)")
    vs.add_argument("--ptau", default=None, help="with --zkey: the prepared phase-1 .ptau the key was made from")
    vs.add_argument("--r1cs", required=True)
    vs.add_argument("--vk", default=None, help="verification_key.json that the transcript must yield")
    vs.set_defaults(fn=_cmd_verify_setup)

    pr = sub.add_parser("prove", help="prove a circom witness with a setup directory (or .zkey file)")
    pr.add_argument("--zkey", required=True, help="setup directory (or a snarkjs .zkey file)")
    pr.add_argument("--wtns", required=True)
    pr.add_argument("--out", required=True, help="directory for proof.json and public.json")
    pr.set_defaults(fn=_cmd_prove)

    e = sub.add_parser("example", help="build, set up, prove and verify a small example circuit")
    e.add_argument("--out", default="out/example")
    e.add_argument("--contributions", type=int, default=2)
    e.set_defaults(fn=_cmd_example)

    d = sub.add_parser("demo", help="the product end to end: 1,000 accounts, proofs, chain, user check, audit")
    d.add_argument("--out", type=_out_dir, default="out/demo", help="bundle root (default out/demo)")
    d.add_argument("--accounts", type=_int_at_least(1), default=1000, help="accounts of the demo venue (>= 1)")
    d.add_argument("--batch", type=_int_at_least(1), default=None, help=BATCH_HELP)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--ceremony", action="store_true", help="local multi-party ceremony instead of the dev setup")
    d.add_argument(
        "--rpc", default=None, help="attest on this JSON-RPC node (e.g. anvil) instead of the embedded chain"
    )
    d.add_argument(
        "--registry", default=None, help="with --rpc: attest to this registry (from `zkmargin chain deploy`)"
    )
    d.add_argument(
        "--devnet",
        action="store_true",
        help="start a local anvil (npm @foundry-rs/anvil, needs Node) and attest there; it keeps running",
    )
    d.add_argument("--proof-system", choices=("committed", "plain"), default=None, help=PROOF_SYSTEM_HELP)
    d.add_argument("--circuit", choices=("slots", "venue"), default=None, help=DEMO_CIRCUIT_HELP)
    flip = d.add_mutually_exclusive_group()
    flip.add_argument("--no-live-flip", action="store_true",
                      help="skip the live view's flip (a feed moved outside the attested box and back)")  # fmt: skip
    d.add_argument("--update-epoch", action="store_true",
                   help="venue circuit: after the full epoch, one account deposits and the next epoch is an update "
                        "(issue 16: only its slot re-proven at the attested box centre, the rest carried, "
                        "submitUpdate); its latency, gas and audit are reported")  # fmt: skip
    flip.add_argument("--live-flip-epoch", action="store_true",
                      help="flip the live view back by attesting the next epoch at the moved price (re-proves every "
                           "batch: ~2 more minutes at 1,000 accounts)")  # fmt: skip
    d.set_defaults(fn=_cmd_demo)

    ep = sub.add_parser("epoch", help="operator: prove one epoch of a snapshot directory (docs/product.md)")
    ep.add_argument("--snapshot", required=True, help="snapshot directory (CSV or Parquet tables, manifest.json)")
    ep.add_argument("--out", type=_out_dir, required=True, help="bundle root (the epoch goes to its next number)")
    ep.add_argument("--epoch", type=_int_at_least(1), default=None, help="epoch number (default: the root's next)")
    ep.add_argument("--batch", type=_int_at_least(1), default=None, help=BATCH_HELP)
    ep.add_argument("--ceremony", action="store_true", help="local multi-party ceremony instead of the dev setup")
    ep.add_argument("--proof-system", choices=("committed", "plain"), default=None, help=PROOF_SYSTEM_HELP)
    ep.add_argument("--circuit", choices=("slots", "venue"), default="slots", help=CIRCUIT_HELP)
    ep.add_argument("--update", action="store_true",
                    help="venue circuit: an update epoch after the latest one (re-prove only the slots whose accounts "
                         "changed, at the attested box centre, carry the rest; a full epoch when the prices left "
                         "the box or the parameters or key changed, with the reason printed)")  # fmt: skip
    ep.set_defaults(fn=_cmd_epoch)

    dr = sub.add_parser("doctor", help="check the installation: Python, C kernel, web3/py-evm, Node, snarkjs, anvil")
    dr.set_defaults(fn=_cmd_doctor)

    ch = sub.add_parser("chain", help="deploy or read a SolvencyRegistry on a JSON-RPC chain")
    chsub = ch.add_subparsers(dest="chain_command", required=True, metavar="SUBCOMMAND")
    cd = chsub.add_parser(
        "deploy", parents=[common], help="deploy the demo venue's registry, verifying key, roles and feeds"
    )
    cd.add_argument("--rpc", required=True, help="JSON-RPC URL of a development node (accounts 0..3 hold the roles)")
    cd.add_argument("--out", default=None, help="addresses file, written atomically (default BUNDLE/deployment.json)")
    cd.add_argument("--bundle", type=_out_dir, default="out/demo",
                    help="bundle root whose setup (verifying key) the registry pins (default out/demo)")  # fmt: skip
    cd.add_argument("--batch", type=_int_at_least(1), default=16, help="accounts per batch: the circuit shape")
    cd.add_argument("--ceremony", action="store_true", help="local multi-party ceremony instead of the dev setup")
    cd.add_argument("--proof-system", choices=("committed", "plain"), default=None, help=PROOF_SYSTEM_HELP)
    cd.set_defaults(fn=_cmd_chain_deploy)
    cs = chsub.add_parser("status", parents=[common], help="read a registry: isSolvent() and solvencyStatus()")
    cs.add_argument("--rpc", required=True)
    cs.add_argument("--registry", required=True, help="SolvencyRegistry address")
    cs.set_defaults(fn=_cmd_chain_status)

    r = sub.add_parser("run", help="real-time loop: price stream, dynamic parameters, margin events, epoch proofs")
    r.add_argument("--out", default="out/run", help="bundle root (run_report.png, run.json, events.jsonl)")
    r.add_argument("--ticks", type=int, default=30, help="price ticks to consume")
    r.add_argument("--epoch-every", type=int, default=10,
                   help="prove and attest an epoch every K ticks (venue: also when a feed leaves the box)")  # fmt: skip
    r.add_argument("--accounts", type=int, default=12)
    r.add_argument("--source", choices=("replay", "synthetic"), default="replay",
                   help="replay the BTC/ETH daily closes, or a seeded synthetic stream")  # fmt: skip
    r.add_argument("--start", default="2020-02-25", help="replay: date of the first tick")
    r.add_argument("--prices", default=None, help="replay this CSV (date,btc_usd,eth_usd) instead of the shipped one")
    r.add_argument("--no-report", action="store_true", help="skip the PNG report (no matplotlib needed)")
    r.add_argument("--seed", type=int, default=7, help="accounts and synthetic prices")
    r.add_argument("--batch", type=int, default=4,
                   help="accounts per batch (slots) or leaves per batch (venue): the circuit shape")  # fmt: skip
    r.add_argument("--workers", type=int, default=0, help="prove on a Dask LocalCluster of N processes (0: in-process)")
    r.add_argument("--scheduler", default=None, help="prove on an existing Dask cluster (tcp://host:8786)")
    r.add_argument("--proof-system", choices=("committed", "plain"), default=None, help=PROOF_SYSTEM_HELP)
    r.add_argument("--circuit", choices=("slots", "venue"), default="slots",
                   help="slots: fixed book, full re-proof per epoch; venue: price box, account changes, incremental "
                        "epochs (only changed slots re-proven, full when the feeds leave the box)")  # fmt: skip
    r.add_argument("--changes-per-tick", type=float, default=None,
                   help="venue: mean account changes per tick (seeded synthetic stream; default 2)")  # fmt: skip
    r.add_argument("--box-ppm", type=int, default=None, help="venue: price box half-width in ppm (default 100000)")
    r.set_defaults(fn=_cmd_run)

    u = sub.add_parser("user", help="account-holder commands")
    usub = u.add_subparsers(dest="user_command", required=True)
    uv = usub.add_parser("verify", parents=[common], help="check that your account is covered by the epoch's proof")
    _chain_args(uv)
    uv.add_argument("--inclusion", required=True, help="your inclusion file (delivered to you by the exchange)")
    uv.add_argument("--account", default=None, help="your account id (checked against the file)")
    uv.add_argument("--secret", default=None, help="your user secret, hex (checked against the file)")
    uv.set_defaults(fn=_cmd_user_verify)

    bp = sub.add_parser("bundle", help="operator: bundle commands")
    bsub = bp.add_subparsers(dest="bundle_command", required=True)
    pub = bsub.add_parser(
        "publish", parents=[common], help="write the publishable copy of a bundle root (public part only)"
    )
    pub.add_argument("--bundle", required=True, help="the operator's bundle root")
    pub.add_argument("--out", required=True, help="directory to create for the public copy")
    pub.set_defaults(fn=_cmd_bundle_publish)

    a = sub.add_parser("audit", help="auditor: re-check a whole epoch bundle (and the chain)")
    _chain_args(a)
    a.add_argument("--skip-transcript", action="store_true", help="do not re-check the setup transcript")
    a.add_argument("--first", type=int, default=None, help="audit every epoch from FIRST ...")
    a.add_argument("--last", type=int, default=None, help="... to LAST (inclusive), with a summary")
    a.set_defaults(fn=_cmd_audit)
    return p


def _version() -> str:
    from zkmargin import __version__

    return __version__


class _RichOnFirstRecord(logging.Handler):
    """Renders records with rich, imported when the first one arrives: most commands log nothing at the
    default level, and rich's import (~25 ms) was a quarter of `zkmargin verify`'s start-up."""

    def __init__(self) -> None:
        super().__init__()
        self._inner: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._inner is None:
            try:
                from rich.console import Console
                from rich.logging import RichHandler

                self._inner = RichHandler(console=Console(stderr=True), show_time=False, show_path=False)
            except ImportError:  # pragma: no cover - rich is a core dependency
                self._inner = logging.StreamHandler()
        self._inner.emit(record)


def _configure_logging(verbose: int, quiet: bool) -> None:
    """Library code logs to ``zkmargin``; only the CLI renders it (with rich, on stderr)."""
    level = logging.ERROR if quiet else logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING
    logger = logging.getLogger("zkmargin")
    logger.setLevel(level)
    if not any(getattr(h, "_zkmargin_cli", False) for h in logger.handlers):
        handler: logging.Handler = _RichOnFirstRecord()
        handler._zkmargin_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    for h in logger.handlers:
        h.setLevel(level)


def _error(args: argparse.Namespace | None, msg: str) -> None:
    cmd = " ".join(str(x) for x in (getattr(args, "command", None), getattr(args, "user_command", None),
                                    getattr(args, "bundle_command", None), getattr(args, "chain_command", None))
                   if x)  # fmt: skip
    print(f"zkmargin{' ' + cmd if cmd else ''}: error: {msg}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every outcome is an exit code (0 ok, 1 check failed, 2 bad input, 3 internal error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0) if not isinstance(e.code, str) else EXIT_MALFORMED
    verbose = int(getattr(args, "verbose", 0) or 0)
    _configure_logging(verbose, bool(getattr(args, "quiet", False)))
    from zkmargin.api import CheckFailed, InputError, MissingExtra
    from zkmargin.verifier.groth16 import MalformedInput

    try:
        return int(args.fn(args))
    except OptionError as e:
        _error(args, f"{e.option}: {e.reason}")
        return EXIT_MALFORMED
    except (InputError, MalformedInput) as e:
        _error(args, f"{_opt(e.field)}: {e.reason}")
        return EXIT_MALFORMED
    except MissingExtra as e:
        _error(args, str(e))
        return EXIT_MALFORMED
    except CheckFailed as e:
        _error(args, str(e))
        return EXIT_INVALID
    except ModuleNotFoundError as e:  # an optional extra that is not installed
        extra = _EXTRA_OF.get((e.name or "").split(".")[0])
        if extra is None:
            return _internal(args, e, verbose)
        _error(args, f"this command needs the optional dependency {e.name!r}: pip install 'zkmargin[{extra}]'")
        return EXIT_MALFORMED
    except KeyboardInterrupt:
        _error(args, "interrupted (outputs are written atomically: nothing half-written was left)")
        return 130
    except Exception as e:  # the guard: no traceback reaches a user unless asked for
        return _internal(args, e, verbose)


_EXTRA_OF = {"pyarrow": "parquet", "matplotlib": "report", "dask": "distributed", "distributed": "distributed"}


def _internal(args: argparse.Namespace, e: BaseException, verbose: int) -> int:
    first = (str(e).strip().splitlines() or [""])[0][:300]
    _error(args, f"internal error: {type(e).__name__}: {first}")
    if verbose:
        import traceback

        traceback.print_exception(e)
    else:
        print("rerun with -v for the traceback; please report it with that output", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
