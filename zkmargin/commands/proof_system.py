"""CLI handlers of the proof system: ``verify``, ``setup`` (and ``setup contribute``/``beacon``), ``verify-setup``,
``prove`` and ``example``: any circom circuit, no exchange, bundle or chain."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import EXIT_INVALID, EXIT_MALFORMED, EXIT_OK, OptionError


def cmd_verify(args: argparse.Namespace) -> int:
    from zkmargin.api import load_proof, load_public, load_verifying_key, verify_proof

    vk = load_verifying_key(args.vk)
    proof = load_proof(args.proof)
    public = load_public(args.public)
    ok = verify_proof(vk, proof, public)
    print("OK: proof is valid" if ok else "INVALID: proof does not verify for these public signals")
    return EXIT_OK if ok else EXIT_INVALID


def _committed_step(args: argparse.Namespace) -> int | None:
    """``setup contribute|beacon --zkey DIR``: a committed (commitment-slot) setup directory gets a committed-key
    contribution (snarkjs cannot update its eta, k and [k/delta]_1); None for a plain .zkey."""
    from zkmargin.verifier.committed_ceremony import is_committed_setup

    if not is_committed_setup(args.zkey):
        return None
    from zkmargin.prover.setup.committed_ceremony import run_cli_step

    if args.setup_command == "beacon":
        from zkmargin.verifier.snarkjs_rng import MAX_BEACON_EXP, MIN_BEACON_EXP

        try:
            bh = bytes.fromhex(args.beacon.removeprefix("0x"))
        except ValueError:
            raise OptionError("--beacon", "not a hexadecimal string") from None
        if not 0 < len(bh) < 256:
            raise OptionError("--beacon", "must be 1..255 bytes")
        if not MIN_BEACON_EXP <= args.iterations <= MAX_BEACON_EXP:
            raise OptionError("--iterations", f"must be in [{MIN_BEACON_EXP}, {MAX_BEACON_EXP}]")
        return run_cli_step(Path(args.zkey), Path(args.out), args.name, beacon=(bh, args.iterations))
    key = None
    if args.signer_key is not None:
        from eth_account import Account

        raw = args.signer_key
        try:
            key = (Path(raw[1:]).read_text() if raw.startswith("@") else raw).strip()
            Account.from_key(key)
        except Exception:
            raise OptionError("--signer-key", "not a readable Ethereum private key (32 bytes hex, or @FILE)") from None
    return run_cli_step(Path(args.zkey), Path(args.out), args.name, args.entropy, key)


def cmd_setup(args: argparse.Namespace) -> int:
    if args.setup_command in ("contribute", "beacon"):
        code = _committed_step(args)
        if code is not None:
            return code
    if args.setup_command == "contribute":
        from zkmargin.prover.cli_ops import run_contribute

        return run_contribute(Path(args.zkey), Path(args.out), args.name, args.entropy, args.signer_key)
    if args.setup_command == "beacon":
        from zkmargin.prover.cli_ops import run_beacon

        return run_beacon(Path(args.zkey), Path(args.out), args.beacon, args.iterations, args.name)
    from zkmargin.api import setup

    missing = [f for f, v in (("--r1cs", args.r1cs), ("--out", args.setup_out)) if not v]
    if missing:
        raise OptionError(", ".join(missing), "required without a subcommand (contribute, beacon)")
    res = setup(args.r1cs, args.setup_out, contributions=args.contributions, ptau=args.ptau, dev=args.dev)
    print(f"setup: {res.constraints} constraints, {res.n_public} public signals, domain 2^"
          f"{res.domain_size.bit_length() - 1}, {res.seconds:.1f} s -> {res.path}")  # fmt: skip
    return EXIT_OK


def cmd_verify_setup_committed(args: argparse.Namespace) -> int:
    """``verify-setup --zkey SETUP_DIR``: a committed (commitment-slot) setup directory's ceremony
    (``verifier.committed_ceremony``)."""
    from zkmargin.verifier.committed_ceremony import verify_committed_setup
    from zkmargin.verifier.contributor_identity import contribution_signer

    if not args.ptau:
        print("malformed input: --zkey needs --ptau (the prepared phase-1 file the key was made from)", file=sys.stderr)
        return EXIT_MALFORMED
    rep = verify_committed_setup(args.zkey, args.r1cs, args.ptau)
    if rep.malformed is None and args.vk:
        from zkmargin.verifier.committed import committed_vk_from_json
        from zkmargin.verifier.groth16 import MalformedInput
        from zkmargin.verifier.snarkjs_json import load_json

        try:
            vk = committed_vk_from_json(load_json(args.vk, "vk"))
        except MalformedInput as e:
            print(f"malformed input: {e}", file=sys.stderr)
            return EXIT_MALFORMED
        mine = committed_vk_from_json(load_json(Path(args.zkey) / "verification_key.json", "vk"))
        rep.add("vk.matches_setup", vk == mine, "--vk vs the setup's verification_key.json (checked above)")
    print(rep.render())
    if rep.malformed is None:
        from zkmargin.verifier.committed_ceremony import read_transcript

        for i, r in enumerate(read_transcript(Path(args.zkey) / "transcript").records):
            who = contribution_signer(r.delta)
            if who:
                print(f"  contribution #{i + 1} signed by {who}")
    verdict = {0: "committed-key ceremony: OK",
               1: f"committed-key ceremony: FAILED ({', '.join(c.name for c in rep.failed())})",
               2: f"malformed input: {rep.malformed}"}[rep.exit_code]  # fmt: skip
    print(verdict, file=sys.stderr if rep.exit_code == 2 else sys.stdout)
    return rep.exit_code


def cmd_verify_setup_zkey(args: argparse.Namespace) -> int:
    from zkmargin.verifier.committed_ceremony import is_committed_setup

    if is_committed_setup(args.zkey):
        return cmd_verify_setup_committed(args)
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


def cmd_verify_setup(args: argparse.Namespace) -> int:
    if bool(args.transcript) == bool(args.zkey):
        print("malformed input: give exactly one of --transcript DIR or --zkey FILE", file=sys.stderr)
        return EXIT_MALFORMED
    if args.zkey:
        return cmd_verify_setup_zkey(args)
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
    if report.malformed is not None:
        print(f"setup transcript: MALFORMED ({report.malformed})")
        return EXIT_MALFORMED
    print("setup transcript: OK" if report.ok else f"setup transcript: FAILED ({', '.join(report.failed())})")
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_prove(args: argparse.Namespace) -> int:
    from zkmargin.api import prove

    res = prove(args.zkey, args.wtns, args.out)
    print(f"prove: {res.seconds:.2f} s -> {res.out}")
    return EXIT_OK


def cmd_example(args: argparse.Namespace) -> int:
    from zkmargin.prover.example import run_example

    return run_example(Path(args.out), args.contributions)
