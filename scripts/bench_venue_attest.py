#!/usr/bin/env python3
"""Attest an already published venue epoch on the embedded chain and audit it against the registry (issue 15).

Why: ``scripts/bench_venue_epoch.py --chain none`` times the proving side of a large venue epoch; this takes that
bundle as it is (its key, proofs, public signals, governed document) and does what the operator's attestation step
does: governance deploys the registry with the bundle's key and governed parameters, the feeds are set to the
attested prices, the operator submits the epoch (in parts above ``chain_ops.BATCHES_PER_TX`` batches), then the full
audit runs with the registry. The snapshot must be younger than the feeds' max age (an hour) when this runs.

    python scripts/bench_venue_attest.py --bundle /tmp/venue-bench --epoch 2

Last line: ``RESULT venue_attest_ok=... batches=... gas=... transactions=... attest_s=... audit_s=...``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from zkmargin.circuits.rules.circuit_inputs import document_bytes
from zkmargin.prover.operator.chain_ops import BATCHES_PER_TX, attest, deploy, update_feeds
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.attestation import split_public_signals
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.bundle_proofs import proof_from_bundle_json, vk_from_bundle_json
from zkmargin.verifier.snarkjs_json import public_from_json


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--bundle", required=True, help="bundle root holding the published epoch")
    p.add_argument("--epoch", type=int, required=True)
    a = p.parse_args(argv)
    b = fmt.open_epoch(a.bundle, a.epoch)
    vk = vk_from_bundle_json(b.json(fmt.VK))
    governed = b.json(fmt.PARAMS)["governed_document"]
    n_assets = len(b.assets)
    batches = b.batches()
    statements: list[tuple[Any, Any]] = []
    for be in batches:
        public = public_from_json(b.json(be.public))
        statements.append((split_public_signals(public, n_assets)[1], proof_from_bundle_json(b.json(be.proof), vk)))
    t = b.manifest["totals"]
    t0 = time.perf_counter()
    dep = deploy(vk, b.assets, list(b.prices), None, params_commitment=b.params_commitment, params_version=1,
                 params_document=document_bytes(governed), development_mode=True, first_epoch=a.epoch,
                 insurance_fund_micro_usd=1_000_000 * 10**6)  # fmt: skip
    deploy_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    update_feeds(dep, list(b.prices))
    record = attest(dep, a.epoch, b.params_commitment, list(b.prices), statements,
                    market_commitment=b.market_commitment, declared_accounts=int(t["accounts_declared"]),
                    unrepresented_accounts=int(t["accounts_unrepresented"]))  # fmt: skip
    attest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = audit_bundle(b.path, registry=dep.registry)
    audit_s = time.perf_counter() - t0
    print(rep.render())
    solvent, epoch, covered, _ = dep.registry.is_solvent()
    ok = rep.ok and solvent and epoch == a.epoch and covered == int(t["accounts_covered"])
    gas = int(record.get("gas_used") or 0)
    txs = 1 if len(batches) <= BATCHES_PER_TX else 2 + -(-len(batches) // BATCHES_PER_TX)
    print(f"RESULT venue_attest_ok={int(ok)} accounts={covered} batches={len(batches)} gas={gas} "
          f"gas_per_batch={gas // max(1, len(batches))} transactions={txs} deploy_s={deploy_s:.1f} "
          f"attest_s={attest_s:.1f} audit_s={audit_s:.1f}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
