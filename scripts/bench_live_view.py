"""Gas of the registry's live view (issue 16): ``isSolvent()`` reads every checked asset's feeds through FeedMedian at
call time, so its cost grows with the checked assets and their feeds, not with accounts or batches.

Measures, from transaction receipts (``gasUsed`` of a transaction calling the view, 21,000 base gas included; what a
protocol's own call pays is that minus 21,000 plus its call overhead), on the embedded py-evm (``--anvil`` starts the
anvil from node_modules): ``isSolvent()`` and ``liveStatus()`` with 4 and 20 assets, every asset boxed (one feed each,
and three feeds each), and with a point attestation (every asset checked too); plus ``isSolvent()`` before any
attestation (the floor). The stand-in circuit has the production public-signal layout (tests/chain/layout_circuit.py).

    python scripts/bench_live_view.py [--anvil]

Last line: ``RESULT is_solvent_gas_4=... is_solvent_gas_20=... is_solvent_gas_4_3feeds=... is_solvent_gas_20_3feeds=...
live_status_gas_4=... live_status_gas_20=... per_checked_feed=...``
"""

from __future__ import annotations

import argparse
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "chain"))

from layout_circuit import build_layout_circuit, make_attestation  # noqa: E402

from zkmargin.circuits.rules.price_box_document import GovernedBox  # noqa: E402
from zkmargin.prover.operator.chain_writes import SigningChain, SolvencyRegistryWriter  # noqa: E402
from zkmargin.verifier.chain import connect, params_doc_hash  # noqa: E402

GAS = 5_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(chain: SigningChain, n_assets: int, feeds_per_asset: int, boxed: bool) -> dict[str, int]:
    """Deploy a registry of ``n_assets`` (every asset boxed at 10 %, or a point attestation), attest one epoch and
    return the gasUsed of transactions calling isSolvent() and liveStatus()."""
    governance, operator, feed_owner = chain.w3.eth.accounts[:3]
    prices = [(7 + 3 * i) * 10**8 + 12_345 for i in range(n_assets)]
    feeds = [
        [chain.deploy("MockAggregatorV3", 8, f"a{i}.{j}", p, sender=feed_owner) for j in range(feeds_per_asset)]
        for i, p in enumerate(prices)
    ]
    circuit = build_layout_circuit(n_assets)
    box = GovernedBox(100_000, tuple(range(1, n_assets + 1))) if boxed else GovernedBox()
    commitment = 0xBE7C << 200
    reg = SolvencyRegistryWriter.deploy(
        chain,
        circuit.vk,
        n_assets,
        8,
        100,
        3600,
        operators=[operator],
        feeds=[[f.address for f in fs] for fs in feeds],
        governance=governance,
        params=(commitment, 1, params_doc_hash(b"bench parameters")),
        box=box,
    )
    empty = chain.transact(reg.contract.functions.isSolvent(), gas=GAS)["gasUsed"]
    reg.submit(make_attestation(circuit, 1, prices, 1, params_commitment=commitment), sender=operator, gas=GAS * 4)
    assert reg.is_solvent()[0], "the live view must hold at the attested prices"
    solvent = chain.transact(reg.contract.functions.isSolvent(), gas=GAS)["gasUsed"]
    status = chain.transact(reg.contract.functions.liveStatus(), gas=GAS)["gasUsed"]
    return {"empty": empty, "is_solvent": solvent, "live_status": status}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anvil", action="store_true", help="start anvil from node_modules on a free loopback port")
    args = ap.parse_args(argv)
    logging.getLogger("zkmargin").setLevel(logging.ERROR)
    proc = None
    url = None
    if args.anvil:
        port = _free_port()
        proc = subprocess.Popen([str(REPO / "node_modules" / ".bin" / "anvil"), "--host", "127.0.0.1", "--port",
                                 str(port), "--silent"])  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        time.sleep(2)
    try:
        w3 = connect(url)
        chain = SigningChain(w3, sender=w3.eth.accounts[0])
        print(f"chain: {'py-evm (EthereumTesterProvider)' if url is None else url}")
        res: dict[tuple[int, int, bool], dict[str, int]] = {}
        print(f"{'assets':>6} {'feeds/asset':>11} {'kind':>6} {'isSolvent()':>12} {'liveStatus()':>12} "
              f"{'no attestation':>15}")  # fmt: skip
        for n in (4, 20):
            for k in (1, 3):
                for boxed in (True, False):
                    r = measure(chain, n, k, boxed)
                    res[(n, k, boxed)] = r
                    print(f"{n:>6} {k:>11} {'box' if boxed else 'point':>6} {r['is_solvent']:>12,} "
                          f"{r['live_status']:>12,} {r['empty']:>15,}")  # fmt: skip
        per_feed = (res[(20, 1, True)]["is_solvent"] - res[(4, 1, True)]["is_solvent"]) / 16
        per_extra = (res[(20, 3, True)]["is_solvent"] - res[(20, 1, True)]["is_solvent"]) / 40
        print(f"per checked asset (one feed): {per_feed:,.0f} gas; per extra feed of a checked asset: "
              f"{per_extra:,.0f} gas")  # fmt: skip
        print(
            f"RESULT is_solvent_gas_4={res[(4, 1, True)]['is_solvent']} "
            f"is_solvent_gas_20={res[(20, 1, True)]['is_solvent']} "
            f"is_solvent_gas_4_3feeds={res[(4, 3, True)]['is_solvent']} "
            f"is_solvent_gas_20_3feeds={res[(20, 3, True)]['is_solvent']} "
            f"live_status_gas_4={res[(4, 1, True)]['live_status']} "
            f"live_status_gas_20={res[(20, 1, True)]['live_status']} "
            f"per_checked_asset={per_feed:.0f} per_extra_feed={per_extra:.0f}"
        )
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
