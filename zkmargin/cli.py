"""The ``zkmargin`` command line. Subcommands import their side lazily, so an auditor who installed
only the verifier and circuits parts can still run ``zkmargin verify``.

Exit codes: 0 success / valid, 1 invalid proof or failed check, 2 malformed input or usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_INVALID, EXIT_MALFORMED = 0, 1, 2


def _cmd_verify(args: argparse.Namespace) -> int:
    from zkmargin.verifier.groth16 import MalformedInput, verify
    from zkmargin.verifier.snarkjs_json import load_json, proof_from_json, public_from_json, vk_from_json

    try:
        vk = vk_from_json(load_json(args.vk, "vk"))
        proof = proof_from_json(load_json(args.proof, "proof"))
        public = public_from_json(load_json(args.public, "public"))
        ok = verify(vk, proof, public)
    except MalformedInput as e:
        print(f"malformed input: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    print("OK: proof is valid" if ok else "INVALID: proof does not verify for these public signals")
    return EXIT_OK if ok else EXIT_INVALID


def _cmd_setup(args: argparse.Namespace) -> int:
    if args.setup_command == "contribute":
        from zkmargin.prover.cli_ops import run_contribute

        return run_contribute(Path(args.zkey), Path(args.out), args.name, args.entropy, args.signer_key)
    if args.setup_command == "beacon":
        from zkmargin.prover.cli_ops import run_beacon

        return run_beacon(Path(args.zkey), Path(args.out), args.beacon, args.iterations, args.name)
    from zkmargin.prover.cli_ops import run_setup

    missing = [f for f, v in (("--r1cs", args.r1cs), ("--out", args.setup_out)) if not v]
    if missing:
        print(f"zkmargin setup: error: the following arguments are required: {', '.join(missing)}", file=sys.stderr)
        return EXIT_MALFORMED
    return run_setup(Path(args.r1cs), Path(args.setup_out), args.contributions, args.ptau, args.dev)


def _cmd_verify_setup_zkey(args: argparse.Namespace) -> int:
    from zkmargin.verifier.contributor_identity import contribution_signers
    from zkmargin.verifier.groth16 import MalformedInput
    from zkmargin.verifier.snarkjs_json import load_json, vk_from_json
    from zkmargin.verifier.zkey_ceremony import read_zkey_for_audit, verify_zkey_ceremony

    if not args.ptau:
        print("malformed input: --zkey needs --ptau (the prepared phase-1 file the key was made from)", file=sys.stderr)
        return EXIT_MALFORMED
    rep = verify_zkey_ceremony(args.zkey, args.r1cs, args.ptau)
    if rep.malformed is None and args.vk:
        try:
            vk = vk_from_json(load_json(args.vk, "vk"))
        except MalformedInput as e:
            print(f"malformed input: {e}", file=sys.stderr)
            return EXIT_MALFORMED
        k = read_zkey_for_audit(args.zkey)
        ok = (vk.alpha1, vk.beta2, vk.gamma2, vk.delta2) == (k.alpha1, k.beta2, k.gamma2, k.delta2)
        rep.add("vk.matches_key", ok and vk.n_public == k.n_public, "verification key vs the zkey's header")
    print(rep.render())
    if rep.malformed is None:
        for i, who in enumerate(contribution_signers(args.zkey)):
            if who:
                print(f"  contribution #{i + 1} signed by {who}")
    verdict = {0: "zkey ceremony: OK", 1: f"zkey ceremony: FAILED ({', '.join(c.name for c in rep.failed())})",
               2: f"malformed input: {rep.malformed}"}[rep.exit_code]  # fmt: skip
    print(verdict, file=sys.stderr if rep.exit_code == 2 else sys.stdout)
    return rep.exit_code


def _cmd_verify_setup(args: argparse.Namespace) -> int:
    if bool(args.transcript) == bool(args.zkey):
        print("malformed input: give exactly one of --transcript DIR or --zkey FILE", file=sys.stderr)
        return EXIT_MALFORMED
    if args.zkey:
        return _cmd_verify_setup_zkey(args)
    from zkmargin.circuits.formats import BinFileError, read_r1cs
    from zkmargin.verifier.groth16 import MalformedInput
    from zkmargin.verifier.setup_transcript import verify_transcript
    from zkmargin.verifier.snarkjs_json import load_json, vk_from_json

    try:
        r1cs = read_r1cs(args.r1cs)
        vk = vk_from_json(load_json(args.vk, "vk")) if args.vk else None
    except (BinFileError, OSError, MalformedInput) as e:
        print(f"malformed input: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    report = verify_transcript(args.transcript, r1cs, vk)
    print(report)
    print("setup transcript: OK" if report.ok else f"setup transcript: FAILED ({', '.join(report.failed())})")
    return EXIT_OK if report.ok else EXIT_INVALID


def _cmd_prove(args: argparse.Namespace) -> int:
    from zkmargin.prover.cli_ops import run_prove

    return run_prove(Path(args.zkey), Path(args.wtns), Path(args.out))


def _cmd_example(args: argparse.Namespace) -> int:
    from zkmargin.prover.example import run_example

    return run_example(Path(args.out), args.contributions)


def _cmd_demo(args: argparse.Namespace) -> int:
    from zkmargin.prover.operator.demo import run_demo

    setup = "ceremony" if args.ceremony else "development"
    return run_demo(Path(args.out), args.accounts, args.batch, args.seed, setup)


def _cmd_run(args: argparse.Namespace) -> int:
    from zkmargin.prover.operator.realtime import RunConfig, RunError, run_realtime

    cfg = RunConfig(
        out=Path(args.out), ticks=args.ticks, epoch_every=args.epoch_every, accounts=args.accounts,
        source=args.source, start=args.start, seed=args.seed, batch=args.batch, workers=args.workers,
        scheduler=args.scheduler,
    )  # fmt: skip
    try:
        res = run_realtime(cfg)
    except RunError as e:
        print(f"zkmargin run: error: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    ev = ", ".join(f"{k} {v}" for k, v in sorted(res.event_counts.items())) or "none"
    print(f"run: {len(res.ticks)} ticks, {len(res.versions)} parameter versions, events: {ev}")
    for ep in res.epochs:
        print(f"  epoch {ep.epoch} ({ep.date}): {ep.covered} covered, {ep.excluded} excluded, {ep.seconds:.1f} s, "
              f"audit {'PASS' if ep.audit_ok else 'FAIL'} -> {ep.path}")  # fmt: skip
    print(f"report: {res.report}")
    return EXIT_OK if all(ep.audit_ok for ep in res.epochs) else EXIT_INVALID


def _registry(args: argparse.Namespace) -> object | None:
    """A registry client for --rpc/--registry (both or neither); None when not given."""
    if bool(args.rpc) != bool(args.registry):
        raise ValueError("give both --rpc and --registry, or neither")
    if not args.rpc:
        return None
    from zkmargin.verifier.chain import Chain, SolvencyRegistryClient, connect

    chain = Chain(connect(args.rpc), sender="0x" + "00" * 20)  # read-only: never signs
    return SolvencyRegistryClient.at(chain, args.registry)


def _cmd_user_verify(args: argparse.Namespace) -> int:
    from zkmargin.verifier.user import verify_account

    try:
        secret = None if args.secret is None else int(args.secret, 16)
        registry = _registry(args)
    except ValueError as e:
        print(f"malformed input: --secret or --rpc/--registry: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    except ConnectionError as e:
        print(f"malformed input: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    rep = verify_account(args.bundle, args.inclusion, args.account, secret, registry, args.epoch)  # type: ignore[arg-type]
    print(rep.render())
    verdict = {0: "VERIFIED: your account is in a valid proof of its margin state, as you know it",
               1: "NOT VERIFIED: " + "; ".join(f"{c.name} ({c.detail})" for c in rep.failed()),
               2: "MALFORMED: the bundle could not be read"}[rep.exit_code]  # fmt: skip
    print(verdict)
    return rep.exit_code


def _cmd_audit(args: argparse.Namespace) -> int:
    from zkmargin.verifier.audit import audit_bundle

    try:
        registry = _registry(args)
    except (ValueError, ConnectionError) as e:
        print(f"malformed input: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    rep = audit_bundle(args.bundle, registry, args.epoch, not args.skip_transcript)  # type: ignore[arg-type]
    print(rep.render())
    n_fail = len(rep.failed())
    print("AUDIT PASSED" if rep.ok else f"AUDIT FAILED ({n_fail} failed checks)" if n_fail else "AUDIT: MALFORMED")
    return rep.exit_code


def _cmd_bundle_publish(args: argparse.Namespace) -> int:
    from zkmargin.prover.operator.publish import PublishError, publish

    try:
        out = publish(args.bundle, args.out)
    except (PublishError, OSError) as e:
        print(f"not published: {e}", file=sys.stderr)
        return EXIT_MALFORMED
    print(f"published copy written to {out} (no account id, secret, balance or inclusion file in it)")
    return EXIT_OK


def _chain_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", required=True, help="an epoch directory, or a bundle root (latest epoch)")
    p.add_argument("--epoch", type=int, default=None, help="epoch to open in a bundle root")
    p.add_argument("--rpc", default=None, help="JSON-RPC URL of the chain holding the registry")
    p.add_argument("--registry", default=None, help="SolvencyRegistry address")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zkmargin", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("verify", help="verify a Groth16 proof (snarkjs JSON files)")
    v.add_argument("--vk", required=True, help="verification_key.json")
    v.add_argument("--proof", required=True, help="proof.json")
    v.add_argument("--public", required=True, help="public.json")
    v.set_defaults(fn=_cmd_verify)

    s = sub.add_parser("setup", help="Groth16 setup for a circom .r1cs (phase 1 + phase 2 ceremony)")
    s.add_argument("--r1cs", default=None, help="required without a subcommand")
    s.add_argument("--out", dest="setup_out", default=None, help="dir: circuit.zkey, verification_key.json, transcript")
    s.add_argument("--contributions", type=int, default=1, help="phase-2 contributions (local, >= 1)")
    s.add_argument("--ptau", default=None, help="start from a snarkjs .ptau (public phase-1 ceremony)")
    s.add_argument("--dev", action="store_true", help="single-party setup: DEVELOPMENT ONLY (forgeable)")
    s.set_defaults(fn=_cmd_setup)
    ssub = s.add_subparsers(dest="setup_command", required=False)
    sc = ssub.add_parser("contribute", help="add one phase-2 contribution to a .zkey (snarkjs zkey contribute format)")
    sc.add_argument("--zkey", required=True, help="input .zkey (ours or snarkjs's)")
    sc.add_argument("--out", required=True, help="output .zkey (written atomically)")
    sc.add_argument("--name", default=None, help="contributor name (<= 64 chars; <= 13 with --signer-key)")
    sc.add_argument("--entropy", default=None, help="extra text mixed with the OS randomness")
    sc.add_argument("--signer-key", default=None, help="Ethereum private key (hex, or @FILE) signing the contribution")
    sb = ssub.add_parser("beacon", help="final phase-2 contribution from a public random beacon (snarkjs zkey beacon)")
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
    d.add_argument("--out", default="out/demo", help="bundle root")
    d.add_argument("--accounts", type=int, default=1000)
    d.add_argument("--batch", type=int, default=16, help="accounts per batch (circuit shape)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--ceremony", action="store_true", help="local multi-party ceremony instead of the dev setup")
    d.set_defaults(fn=_cmd_demo)

    r = sub.add_parser("run", help="real-time loop: price stream, dynamic parameters, margin events, epoch proofs")
    r.add_argument("--out", default="out/run", help="bundle root (run_report.png, run.json, events.jsonl)")
    r.add_argument("--ticks", type=int, default=30, help="price ticks to consume")
    r.add_argument("--epoch-every", type=int, default=10, help="prove and attest an epoch every K ticks")
    r.add_argument("--accounts", type=int, default=12)
    r.add_argument("--source", choices=("replay", "synthetic"), default="replay",
                   help="replay the BTC/ETH daily closes, or a seeded synthetic stream")  # fmt: skip
    r.add_argument("--start", default="2020-02-25", help="replay: date of the first tick")
    r.add_argument("--seed", type=int, default=7, help="accounts and synthetic prices")
    r.add_argument("--batch", type=int, default=4, help="accounts per batch (circuit shape)")
    r.add_argument("--workers", type=int, default=0, help="prove on a Dask LocalCluster of N processes (0: in-process)")
    r.add_argument("--scheduler", default=None, help="prove on an existing Dask cluster (tcp://host:8786)")
    r.set_defaults(fn=_cmd_run)

    u = sub.add_parser("user", help="account-holder commands")
    usub = u.add_subparsers(dest="user_command", required=True)
    uv = usub.add_parser("verify", help="check that your account is covered by the epoch's proof")
    _chain_args(uv)
    uv.add_argument("--inclusion", required=True, help="your inclusion file (delivered to you by the exchange)")
    uv.add_argument("--account", default=None, help="your account id (checked against the file)")
    uv.add_argument("--secret", default=None, help="your user secret, hex (checked against the file)")
    uv.set_defaults(fn=_cmd_user_verify)

    bp = sub.add_parser("bundle", help="operator: bundle commands")
    bsub = bp.add_subparsers(dest="bundle_command", required=True)
    pub = bsub.add_parser("publish", help="write the publishable copy of a bundle root (public part only)")
    pub.add_argument("--bundle", required=True, help="the operator's bundle root")
    pub.add_argument("--out", required=True, help="directory to create for the public copy")
    pub.set_defaults(fn=_cmd_bundle_publish)

    a = sub.add_parser("audit", help="auditor: re-check a whole epoch bundle (and the chain)")
    _chain_args(a)
    a.add_argument("--skip-transcript", action="store_true", help="do not re-check the setup transcript")
    a.set_defaults(fn=_cmd_audit)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
