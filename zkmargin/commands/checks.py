"""CLI handlers of the checks of a bundle: ``user verify`` (an account holder's) and ``audit`` (an auditor's, one
epoch or a range). They import the verifier side only."""

from __future__ import annotations

import argparse


def cmd_user_verify(args: argparse.Namespace) -> int:
    from zkmargin.api import verify_account

    rep = verify_account(args.bundle, args.inclusion, account=args.account, secret=args.secret, epoch=args.epoch,
                         rpc=args.rpc, registry=args.registry)  # fmt: skip
    print(rep.render())
    print(rep.verdict("VERIFIED: your account is in a valid proof of its margin state, as you know it",
                      "NOT VERIFIED: " + "; ".join(f"{c.name} ({c.detail})" for c in rep.failed()),
                      "MALFORMED: " + (rep.malformed or "the bundle could not be read")))  # fmt: skip
    return rep.exit_code


def cmd_audit(args: argparse.Namespace) -> int:
    from zkmargin.api import InputError, audit_bundle, audit_epochs

    if (args.first is None) != (args.last is None):
        raise InputError("first/last", "give both --first and --last, or neither")
    if args.first is not None:
        if args.epoch is not None:
            raise InputError("epoch", "--epoch and --first/--last are exclusive")
        reports, summary = audit_epochs(args.bundle, args.first, args.last, rpc=args.rpc, registry=args.registry,
                                        check_transcript=not args.skip_transcript)  # fmt: skip
        for r in reports:
            print(r.render())
        print(summary.render())
        return summary.exit_code
    rep = audit_bundle(args.bundle, epoch=args.epoch, rpc=args.rpc, registry=args.registry,
                       check_transcript=not args.skip_transcript)  # fmt: skip
    print(rep.render())
    n_fail = len(rep.failed())
    print(rep.verdict("AUDIT PASSED", f"AUDIT FAILED ({n_fail} failed checks)", f"AUDIT: MALFORMED ({rep.malformed})"))
    return rep.exit_code
