"""CLI handlers of the operator: ``demo``, ``run``, ``bundle publish``, and ``doctor`` (the installation an operator
proves with)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import EXIT_INVALID, EXIT_MALFORMED, EXIT_OK, OptionError


def demo_circuit(args: argparse.Namespace) -> str:
    """The demo's circuit when --circuit is not given: the venue circuit (issue 15's venue-scale demo) on the
    embedded chain; the fixed-slot circuit when an option only it serves is given (plain Groth16, an existing
    registry, a devnet) or a node URL (the fixed-slot demo is the one scripted against nodes)."""
    if args.proof_system == "plain" or args.rpc or args.registry or args.devnet:
        return "slots"
    return "venue"


def cmd_demo(args: argparse.Namespace) -> int:
    from zkmargin.prover.operator.demo import run_demo

    if args.registry and not args.rpc:
        raise OptionError("--registry", "needs --rpc URL (the chain holding it)")
    if args.devnet and (args.rpc or args.registry):
        raise OptionError("--devnet", "starts its own chain: do not combine it with --rpc or --registry")
    setup = "ceremony" if args.ceremony else "development"
    circuit = args.circuit or demo_circuit(args)
    if circuit == "venue":
        from zkmargin.prover.operator.venue_demo import DEMO_LEAVES, run_venue_demo

        if args.registry or args.devnet:
            raise OptionError("--circuit", "venue: attests to a new registry (embedded chain or --rpc), not "
                                           "--registry/--devnet")  # fmt: skip
        if args.proof_system == "plain":
            raise OptionError("--proof-system", "the venue circuit is committed Groth16 only")
        return run_venue_demo(Path(args.out), args.accounts, args.batch or DEMO_LEAVES, args.seed, setup, rpc=args.rpc,
                              quiet=args.quiet, live_flip=not args.no_live_flip,
                              live_flip_epoch=args.live_flip_epoch, update_epoch=args.update_epoch)  # fmt: skip
    if args.update_epoch:
        raise OptionError("--update-epoch", "update epochs are for the venue circuit (--circuit venue)")
    return run_demo(
        Path(args.out), args.accounts, args.batch or 16, args.seed, setup,
        rpc=args.rpc, registry=args.registry, devnet=args.devnet, quiet=args.quiet, proof_system=args.proof_system,
        live_flip=not args.no_live_flip, live_flip_epoch=args.live_flip_epoch,
    )  # fmt: skip


def cmd_doctor(args: argparse.Namespace) -> int:
    from zkmargin.doctor import diagnose

    rep = diagnose()
    print(rep.render())
    print("doctor: OK" if rep.ok else f"doctor: PROBLEMS ({', '.join(c.name for c in rep.failed())})")
    return EXIT_OK if rep.ok else EXIT_INVALID


def cmd_run(args: argparse.Namespace) -> int:
    from zkmargin.prover.operator.realtime import RunConfig, RunError, run_realtime

    cfg = RunConfig(
        out=Path(args.out), ticks=args.ticks, epoch_every=args.epoch_every, accounts=args.accounts,
        source=args.source, start=args.start, seed=args.seed, batch=args.batch, workers=args.workers,
        scheduler=args.scheduler, prices=None if args.prices is None else Path(args.prices),
        report=not args.no_report, proof_system=args.proof_system, circuit=args.circuit,
        changes_per_tick=args.changes_per_tick, box_ppm=args.box_ppm,
    )  # fmt: skip
    try:
        res = run_realtime(cfg)
    except RunError as e:
        print(f"zkmargin run: error: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    ev = ", ".join(f"{k} {v}" for k, v in sorted(res.event_counts.items())) or "none"
    print(f"run: {len(res.ticks)} ticks, {len(res.versions)} parameter versions, events: {ev}")
    for ep in res.epochs:
        venue = f"{ep.mode}, {len(ep.reproved_slots)} of {ep.slots} slots proven, " if cfg.circuit == "venue" else ""
        print(f"  epoch {ep.epoch} ({ep.date}): {venue}{ep.covered} covered, {ep.excluded} excluded, "
              f"{ep.seconds:.1f} s, audit {'PASS' if ep.audit_ok else 'FAIL'} -> {ep.path}")  # fmt: skip
    if cfg.circuit == "venue":
        lat = [ep.latency_s for ep in res.epochs if ep.changes]
        false = [t.tick for t in res.ticks if t.live and not t.live["before"][0] and t.tick > 1]
        print(f"venue: {sum(ep.mode == 'full' for ep in res.epochs)} full, "
              f"{sum(ep.mode == 'update' for ep in res.epochs)} update epoch(s); {sum(t.changes for t in res.ticks)} "
              f"account changes; latency change -> attested: "
              + (f"median {sorted(lat)[len(lat) // 2]:.1f} s, max {max(lat):.1f} s" if lat else "n/a")
              + f"; live view false at tick(s) {false or 'none'}")  # fmt: skip
    print(f"report: {res.report}")
    return EXIT_OK if all(ep.audit_ok for ep in res.epochs) else EXIT_INVALID


def cmd_bundle_publish(args: argparse.Namespace) -> int:
    from zkmargin.api import publish_bundle

    out = publish_bundle(args.bundle, args.out)
    print(f"published copy written to {out} (no account id, secret, balance or inclusion file in it)")
    return EXIT_OK


def cmd_epoch(args: argparse.Namespace) -> int:
    """``zkmargin epoch --snapshot DIR --out ROOT``: prove one epoch of an operator's snapshot (no chain)."""
    from collections import Counter

    from zkmargin.api import snapshot_epoch

    if not Path(args.snapshot).is_dir():
        raise OptionError("--snapshot", f"{args.snapshot} is not a directory")
    if args.circuit == "venue" and args.proof_system == "plain":
        raise OptionError("--proof-system", "the venue circuit is committed Groth16 only")
    if args.update:
        return _update_epoch(args)
    res = snapshot_epoch(
        args.snapshot, args.out, epoch=args.epoch, batch=args.batch or (64 if args.circuit == "venue" else 16),
        setup_kind="ceremony" if args.ceremony else "development", proof_system=args.proof_system,
        circuit=args.circuit,
    )  # fmt: skip
    excluded = Counter(f"{e.kind}: {e.reason.split(':')[0]}" for e in res.excluded)
    if not args.quiet and res.reloaded:
        print(f"epoch {res.epoch}: already published ({res.covered} accounts proven, {len(res.excluded)} excluded)")
    elif not args.quiet:
        print(f"epoch {res.epoch}: {res.covered} accounts proven in {res.batches} batches "
              f"({res.constraints:,} constraints per batch), {len(res.excluded)} excluded")  # fmt: skip
        for reason, n in sorted(excluded.items()):
            print(f"  {n} {reason}")
    print(f"bundle: {res.path}")
    return EXIT_OK


def _update_epoch(args: argparse.Namespace) -> int:
    """``zkmargin epoch --circuit venue --update``: the next epoch as an update of the latest (or a full one, why)."""
    from zkmargin.api.snapshot import snapshot_update

    if args.circuit != "venue":
        raise OptionError("--update", "update epochs are for the venue circuit (--circuit venue)")
    if args.ceremony:
        raise OptionError("--ceremony", "an update keeps the latest epoch's key (no new setup)")
    u = snapshot_update(args.snapshot, args.out, epoch=args.epoch, batch=args.batch or 64)
    res = u.result
    if not args.quiet and res.reloaded:
        print(f"epoch {res.epoch}: already published ({res.covered} accounts proven)")
    elif not args.quiet and u.mode == "update":
        print(f"epoch {res.epoch}: update: {len(u.reproved)} slot(s) re-proven ({u.proofs} proofs, {u.splits} "
              f"split(s)), {len(u.carried)} carried; {res.covered} accounts covered")  # fmt: skip
    elif not args.quiet:
        print(f"epoch {res.epoch}: full epoch instead of an update ({u.reason}): {res.covered} accounts proven in "
              f"{res.batches} batches")  # fmt: skip
    print(f"bundle: {res.path}")
    return EXIT_OK
