"""CLI handlers of the chain: ``chain deploy`` (the demo venue's registry on a development node) and ``chain status``
(read a registry)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import EXIT_INVALID, EXIT_OK, OptionError

if TYPE_CHECKING:
    from zkmargin.api.chain import RegistryState


def cmd_chain_deploy(args: argparse.Namespace) -> int:
    from zkmargin.api import deploy_registry
    from zkmargin.atomic import atomic_write_json

    out = Path(args.out) if args.out else Path(args.bundle) / "deployment.json"
    if out.exists() and out.is_dir():
        raise OptionError("--out", f"{out} is a directory; give a file name")
    rec, _ = deploy_registry(args.rpc, args.bundle, batch=args.batch, setup_kind="ceremony" if args.ceremony
                             else "development", proof_system=args.proof_system)  # fmt: skip
    atomic_write_json(out, rec.to_json())
    mode = "DEVELOPMENT mode" if rec.development_mode else "production mode"
    print(f"registry         {rec.registry}   (chain {rec.chain_id}, {mode})")
    print(f"governance       {rec.governance}")
    print(f"operator         {rec.operator}")
    print(f"feed owner       {rec.feed_owner}")
    for i, f in enumerate(rec.feeds):
        print(f"feed {i:<11} {f}")
    print(f"insurance token  {rec.insurance_token} (holder {rec.insurance_holder})")
    print(f"addresses written to {out}")
    exe = self_command()
    print(f"attest there:     {exe} demo --rpc {args.rpc} --registry {rec.registry} --out {args.bundle}")
    return EXIT_OK


def cmd_chain_status(args: argparse.Namespace) -> int:
    from zkmargin.api import read_registry

    st = read_registry(args.rpc, args.registry)
    s = st.status
    print(f"registry {st.address} on chain {st.chain_id} (governance {st.governance})")
    print(f"isSolvent() = {st.solvent} for epoch {st.epoch}: {st.accounts_proven:,} accounts proven"
          + ("; DEVELOPMENT-MODE registry" if st.development_mode else ""))  # fmt: skip
    print(f"solvencyStatus(): declared {s.declared_accounts:,}, unrepresented {s.unrepresented_accounts:,}, "
          f"under MM {s.under_mm_count:,}, shortfall {s.total_shortfall / 1e6:,.2f} USD, bad debt "
          f"{s.total_bad_debt / 1e6:,.2f} USD, insurance fund {s.insurance_fund_value / 1e6:,.2f} USD")  # fmt: skip
    print_live_view(st)
    return EXIT_OK if st.solvent else EXIT_INVALID


def print_live_view(st: RegistryState) -> None:
    """The live view: the box of the latest attestation, its age against the governed maximum, each checked asset's
    feed median against its box (FeedMedian.liveCheck, the call isSolvent() makes), and the reason when false."""
    live = st.live
    if live is None:
        return
    box = (f"box +-{live.box_ppm / 1e4:g}% on asset ids {list(live.box.boxed_assets)}" if live.box_ppm
           else "point attestation (box 0: every feed median must equal its attested price)")  # fmt: skip
    print(f"liveStatus(): {'SOLVENT NOW' if live.solvent else 'NOT SOLVENT NOW'} ({live.reason_text}); {box}; "
          f"attestation age {live.age:,} s of max {st.max_attestation_age:,} s")  # fmt: skip
    for a in st.live_assets:
        if not a.checked:
            continue
        print(f"  asset id {a.index + 1:<3} attested {a.price:>22,}  median {a.median:>22,}  box "
              f"[{a.lo:,}, {a.hi:,}]  {a.status_text}")  # fmt: skip


def self_command() -> str:
    """How the user runs this CLI again: ``zkmargin`` when that is on PATH and is this one, else the venv's path."""
    import shutil

    exe = Path(sys.executable).parent / "zkmargin"
    found = shutil.which("zkmargin")
    if found and exe.exists() and Path(found).resolve() == exe.resolve():
        return "zkmargin"
    return str(exe) if exe.exists() else "zkmargin"
