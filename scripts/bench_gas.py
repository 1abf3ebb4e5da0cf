"""Gas of the on-chain side, from transaction receipts (gasUsed), never from eth_estimateGas.

Measures, on the embedded py-evm by default (``--rpc URL`` for any node, ``--anvil`` to start the
anvil from node_modules):

* one batch proof through the stand-alone Groth16Verifier, next to snarkjs's exported Solidity
  verifier for the same key (same 20 public inputs), compiled with the same pinned solc;
* one epoch attestation through SolvencyRegistry.submitAttestation as a function of batches per submission (every
  batch verified in ONE multi-pairing, n + 3 pairs), plain and committed keys; the marginal gas per extra batch is
  the slope between 2 and 32 batches (a one-batch call skips two scalar multiplications, so 1 -> 2 is printed apart);
* attestation gas for batches of 16, 64 and 1024 accounts (it must not grow: the proof is constant-size and the
  account count is one public input);
* an epoch over several transactions (openEpoch, addBatches with K batches, finalizeEpoch): the fixed cost of each
  kind of transaction, from which a one-million-account epoch (977 batches of 1,024) is priced;
* update epochs (submitUpdate, incremental epochs) replacing k = 1, 2, 8 slots: the gas per changed batch and the
  fixed cost, from which the "1 % changed" epoch is priced;
* a one-batch attestation with three feeds per asset (the median of three instead of one feed);
* committed (commitment slot) against plain: one proof through Groth16CommittedVerifier against Groth16Verifier.

The stand-in circuit has the production public-signal layout (tests/chain/layout_circuit.py), so every on-chain code
path and cost is the real one. The last line is machine-readable:
``RESULT gas_extra_batch=... gas_extra_batch_committed=... gas_per_account_1024=... gas_epoch_1m=...
gas_epoch_1m_committed=... gas_epoch_1m_1pct=... gas_epoch_1m_1pct_committed=... gas_per_attestation=...
gas_verify_batch=... snarkjs_verifier_gas=... ratio_vs_snarkjs=... committed_vs_plain_gas=... gas_update_batch=...
gas_update_batch_committed=... gas_update_fixed=...``.

How the million-account figures are computed (from the measured numbers, no extrapolation of anything else): 977
batches of 1,024 accounts; addBatches carries at most ``--per-tx`` batches (default 64, a tenth of a 30 M block);
total = open + finalize + ceil(977 / per-tx) x (addBatches fixed cost) + 977 x (marginal gas per batch in addBatches),
the marginal cost the slope between addBatches of 2 and ``--per-tx`` batches, the fixed cost the rest of the 2-batch
call, measured on the registry's second epoch in parts (steady state: the open epoch's slots stay non-zero between
epochs); the first addBatches of an epoch writes more slots than the next: that surcharge is counted with open.
gas_per_account_1024 is that total over 1,000,000 (the committed one is in the printed table). The 1 % figure: 10,000
changed accounts re-proven; when the changes fall into whole batches (accounts keep their batch, changed ones cluster)
that is 10 batches, priced as ONE update epoch (``submitUpdate``, incremental epochs: the other 967 slots are carried
in the batch tree): the update's fixed cost + 10 x its gas per changed batch, both measured (updates replacing k = 1,
2, 8 slots of a 16-slot tree; the per-batch figure is the slope from 2 to 8, it includes the op's old-leaf preimage
and DEPTH-16 path in calldata and the two path walks; the tree's fixed depth makes it independent of the slot count).
Spread uniformly over 977 batches, 1 - 0.99^1024 of them (all but ~0.003 %) hold a changed account and the cost is
the full epoch's.

    python scripts/bench_gas.py [--rpc URL | --anvil] [--per-tx K]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "chain"))

from layout_circuit import (  # noqa: E402
    MARKET_COMMITMENT,
    PARAMS_COMMITMENT,
    CommittedLayoutCircuit,
    LayoutCircuit,
    build_committed_layout_circuit,
    build_layout_circuit,
    make_attestation,
)

from zkmargin.prover.operator.chain_writes import (  # noqa: E402
    SigningChain,
    SolvencyRegistryWriter,
    deploy_batch_verifier,
    deploy_verifier,
)
from zkmargin.prover.operator.committed_deploy import deploy_committed_verifier  # noqa: E402
from zkmargin.prover.zkey import write_zkey  # noqa: E402
from zkmargin.verifier.attestation import BatchStatement  # noqa: E402
from zkmargin.verifier.batch_tree import BatchTree, Replace, encode_ops  # noqa: E402
from zkmargin.verifier.chain import committed_proof_to_evm, connect, params_doc_hash, proof_to_evm  # noqa: E402
from zkmargin.verifier.committed import CommittedProof  # noqa: E402

PRICES = (60_000 * 10**8, 3_000 * 10**8, 1 * 10**8, 150 * 10**8)
BATCHES = (1, 2, 8, 32)
MILLION = 1_000_000
BATCH_ACCOUNTS = 1024
MILLION_BATCHES = -(-MILLION // BATCH_ACCOUNTS)  # 977
CHANGED_BATCHES = 10  # 1 % of the accounts, clustered in whole batches
ACCOUNTS = (16, 64, 1024)
UPDATE_KS = (1, 2, 8)  # batches replaced by one update epoch (submitUpdate)
UPDATE_BASE = 16  # batches of the full epoch the updates start from (the tree's depth is fixed: it does not matter)
EXPLICIT_GAS = 3_000_000  # snarkjs's verifier returns false when starved, so never let an estimate size it


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_contracts", REPO / "scripts" / "build_contracts.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def snarkjs_verifier_gas(
    chain: SigningChain, circuit: LayoutCircuit, proof: list[int], public: list[int]
) -> dict[str, Any]:
    """Deploy snarkjs's exported verifier for our key and measure one verifyProof transaction."""
    snarkjs = REPO / "node_modules" / ".bin" / "snarkjs"
    if not snarkjs.exists() or shutil.which("node") is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        write_zkey(circuit.pk, Path(tmp) / "k.zkey")
        sol = Path(tmp) / "verifier.sol"
        subprocess.run(
            [str(snarkjs), "zkey", "export", "solidityverifier", str(Path(tmp) / "k.zkey"), str(sol)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        out = _build_module().compile_standard_json({"SnarkjsVerifier.sol": sol.read_text()})
    c = out["contracts"]["SnarkjsVerifier.sol"]["Groth16Verifier"]
    factory = chain.w3.eth.contract(abi=c["abi"], bytecode="0x" + c["evm"]["bytecode"]["object"])
    addr = chain.transact(factory.constructor())["contractAddress"]
    sv = chain.w3.eth.contract(address=addr, abi=c["abi"])
    fn = sv.functions.verifyProof(proof[0:2], [proof[2:4], proof[4:6]], proof[6:8], public)
    assert fn.call({"gas": EXPLICIT_GAS}) is True, "snarkjs verifier rejects our proof"
    gas = chain.transact(fn, gas=EXPLICIT_GAS)["gasUsed"]
    estimate = fn.estimate_gas({"from": chain.sender}) if not chain.is_tester else None
    starved_ok = fn.call({"gas": 150_000}) if not chain.is_tester else None
    return {"gas": gas, "estimate": estimate, "starved_call_returns": starved_ok}


def bench_registry(
    chain: SigningChain,
    circuit: LayoutCircuit | CommittedLayoutCircuit,
    operator: str,
    feeds: list[Any],
    batch_verifier: str,
) -> SolvencyRegistryWriter:
    """A fresh registry pinned to ``circuit``'s key, the bench's feeds, parameters and shared batch verifier
    (governance = the chain's sender): the one deployment every registry measurement starts from."""
    return SolvencyRegistryWriter.deploy(
        chain,
        circuit.vk,
        len(PRICES),
        8,
        100,
        3600,
        operators=[operator],
        feeds=[[f.address] for f in feeds],
        governance=chain.sender,
        params=(PARAMS_COMMITMENT, 1, params_doc_hash(b"bench parameters")),
        batch_verifier=batch_verifier,
    )


def registry_batch_gas(
    chain: SigningChain,
    circuit: LayoutCircuit | CommittedLayoutCircuit,
    operator: str,
    feeds: list[Any],
    batch_verifier: str,
    batches: tuple[int, ...] = BATCHES,
) -> dict[int, int]:
    """Attestation gas (receipts) of a fresh registry pinned to ``circuit``'s key, per number of batches."""
    reg = bench_registry(chain, circuit, operator, feeds, batch_verifier)
    reg.submit(make_attestation(circuit, 1, PRICES, 1), sender=operator, gas=EXPLICIT_GAS)  # warm-up
    out: dict[int, int] = {}
    for i, b in enumerate(batches):
        a = make_attestation(circuit, 2 + i, PRICES, b, accounts=BATCH_ACCOUNTS)
        out[b] = reg.submit(a, sender=operator, gas=_ceiling(b))["gasUsed"]
    return out


def _ceiling(batches: int) -> int:
    """An explicit gas ceiling for a submission of ``batches`` batches, under py-evm's 30 M block limit."""
    return min(EXPLICIT_GAS + 150_000 * batches, 29_000_000)


def multi_tx_gas(
    chain: SigningChain,
    circuit: LayoutCircuit | CommittedLayoutCircuit,
    operator: str,
    feeds: list[Any],
    batch_verifier: str,
    per_tx: int,
) -> dict[str, float]:
    """An epoch over several transactions on a fresh registry: openEpoch, addBatches of 1 and of ``per_tx`` batches,
    finalizeEpoch (receipts). Returns open, finalize, the addBatches fixed cost and its marginal gas per batch."""
    reg = bench_registry(chain, circuit, operator, feeds, batch_verifier)
    reg.submit(make_attestation(circuit, 1, PRICES, 1), sender=operator, gas=EXPLICIT_GAS)  # warm-up
    # a registry in use: one epoch in parts before the measured one, so the open epoch's storage (sums, batch-tree
    # frontier, prices, liabilities: kept non-zero between epochs) is written at the steady-state 2.9k, not 20k
    warm = make_attestation(circuit, 2, PRICES, 3 + per_tx, accounts=BATCH_ACCOUNTS)
    reg.submit_in_parts(warm, per_tx, sender=operator, gas=_ceiling(per_tx))
    att = make_attestation(circuit, 3, PRICES, 3 + per_tx, accounts=BATCH_ACCOUNTS)
    g_open = reg.open_epoch(att, sender=operator)["gasUsed"]
    # the first addBatches sets the open epoch's slots from zero (20k gas each): priced apart, as "first add"
    g_first = reg.add_batches(att, 0, 1, sender=operator, gas=EXPLICIT_GAS)["gasUsed"]
    g_two = reg.add_batches(att, 1, 3, sender=operator, gas=_ceiling(2))["gasUsed"]
    g_many = reg.add_batches(att, 3, 3 + per_tx, sender=operator, gas=_ceiling(per_tx))["gasUsed"]
    g_fin = reg.finalize_epoch(3, sender=operator)["gasUsed"]
    marginal = (g_many - g_two) / (per_tx - 2)
    fixed = g_two - 2 * marginal
    surcharge = g_first - (fixed + marginal)
    return {"open": g_open + surcharge, "finalize": g_fin, "add_fixed": fixed, "add_marginal": marginal}


def epoch_total(m: dict[str, float], batches: int, per_tx: int) -> int:
    """open + finalize + one addBatches fixed cost per transaction + the marginal gas of every batch."""
    txs = -(-batches // per_tx)
    return int(m["open"] + m["finalize"] + txs * m["add_fixed"] + batches * m["add_marginal"])


def update_gas(
    chain: SigningChain,
    circuit: LayoutCircuit | CommittedLayoutCircuit,
    operator: str,
    feeds: list[Any],
    batch_verifier: str,
    ks: tuple[int, ...] = UPDATE_KS,
) -> dict[int, int]:
    """Gas (receipts) of update epochs (submitUpdate) replacing k slots each, k in ``ks``, on a fresh registry whose
    last full epoch has UPDATE_BASE batches of 1,024 accounts; each update re-proves k batches at the same box centre
    (same ids, other totals) and carries the rest. Every op's old leaf comes with its DEPTH-16 path."""
    reg = bench_registry(chain, circuit, operator, feeds, batch_verifier)
    att = make_attestation(circuit, 1, PRICES, UPDATE_BASE, accounts=BATCH_ACCOUNTS)
    reg.submit(att, sender=operator, gas=_ceiling(UPDATE_BASE))
    tree = BatchTree.full_epoch([bt for bt, _ in att.batches], 1)
    out: dict[int, int] = {}
    for i, k in enumerate(ks):
        epoch = 2 + i
        ops = []
        for slot in range(k):
            old = tree.slots[slot].statement()
            new = BatchStatement(
                old.batch_root + epoch,
                old.first_id_hash,
                old.last_id_hash,
                old.account_count,
                old.total_equity + epoch,
                old.total_mm,
                old.liabilities,
            )
            ops.append(Replace(slot, new))
        words, tree = encode_ops(tree, ops, epoch)
        batches = [
            (
                op.new,
                circuit.prove(
                    op.new.public_signals(epoch, PARAMS_COMMITMENT, PRICES, market_commitment=MARKET_COMMITMENT)
                ),
            )
            for op in ops
        ]
        r = reg.submit_update(epoch, batches, words, tree.totals()[0][0], sender=operator, gas=_ceiling(k))
        assert reg.attestation_of(epoch).batch_tree_root == tree.root()
        out[k] = int(r["gasUsed"])
    return out


def committed_vs_plain(
    chain: SigningChain, plain: LayoutCircuit, committed: CommittedLayoutCircuit, bad_debt: int = 0
) -> dict[str, int]:
    """One proof of the same batch statement (same 20 public inputs) through each stand-alone verifier. With
    ``bad_debt`` > 0 the batch has an account under MM, so every one of its 20 signals is non-zero."""
    att_p = make_attestation(plain, 1, PRICES, 1, bad_debt=bad_debt)
    att_c = make_attestation(committed, 1, PRICES, 1, bad_debt=bad_debt)
    public = att_p.public_signals(0)
    assert att_c.public_signals(0) == public
    v = deploy_verifier(chain, plain.vk)
    cv = deploy_committed_verifier(chain, committed.vk)
    proof = att_p.batches[0][1]
    cproof = att_c.batches[0][1]
    assert not isinstance(proof, CommittedProof) and isinstance(cproof, CommittedProof)
    gp = chain.transact(v.functions.verifyProof(proof_to_evm(proof), public), gas=EXPLICIT_GAS)["gasUsed"]
    p8, d2 = committed_proof_to_evm(cproof)
    gc = chain.transact(cv.functions.verifyProof(p8, d2, public), gas=EXPLICIT_GAS)["gasUsed"]
    return {"plain": gp, "committed": gc}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--rpc", help="JSON-RPC URL of a node with unlocked accounts (default: embedded py-evm)")
    g.add_argument("--anvil", action="store_true", help="start anvil from node_modules on a free loopback port")
    ap.add_argument("--per-tx", type=int, default=64, help="batches per addBatches transaction (default 64)")
    args = ap.parse_args(argv)
    if args.per_tx < 3:
        ap.error("--per-tx: at least 3 (the marginal cost is the slope between 2 and K batches)")
    logging.getLogger("zkmargin").setLevel(logging.ERROR)

    proc = None
    url = args.rpc
    if args.anvil:
        port = _free_port()
        exe = REPO / "node_modules" / ".bin" / "anvil"
        proc = subprocess.Popen([str(exe), "--host", "127.0.0.1", "--port", str(port), "--silent"])
        url = f"http://127.0.0.1:{port}"
        time.sleep(2)
    try:
        return _run(url, args.per_tx)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


def _run(url: str | None, per_tx: int) -> int:
    w3 = connect(url)
    governance, operator, feed_owner = w3.eth.accounts[:3]
    chain = SigningChain(w3, sender=governance)
    print(f"chain: {'py-evm (EthereumTesterProvider)' if url is None else url}")
    circuit = build_layout_circuit(len(PRICES))
    com_circuit = build_committed_layout_circuit(len(PRICES))
    n_pub = circuit.vk.n_public

    # ---- one batch proof, stand-alone, vs snarkjs's verifier on the same key and proof
    verifier = deploy_verifier(chain, circuit.vk)
    att = make_attestation(circuit, 1, PRICES, 1)
    proof, public = proof_to_evm(att.batches[0][1]), att.public_signals(0)
    gas_verify = chain.transact(verifier.functions.verifyProof(proof, public), gas=EXPLICIT_GAS)["gasUsed"]
    snk = snarkjs_verifier_gas(chain, circuit, proof, public)
    print(f"\nverify one batch proof ({n_pub} public inputs), transaction gasUsed:")
    print(f"  zkmargin Groth16Verifier       {gas_verify:>10,}")
    if snk:
        print(f"  snarkjs exported verifier      {snk['gas']:>10,}   ratio {gas_verify / snk['gas']:.3f}")
        if snk["estimate"] is not None:
            print(
                f"  (snarkjs eth_estimateGas: {snk['estimate']:,}; with 150k gas its call returns "
                f"{snk['starved_call_returns']} instead of reverting)"
            )

    # ---- attestations through the registry (governance, operator and feed owner are distinct accounts)
    feeds = [chain.deploy("MockAggregatorV3", 8, f"a{i}", p, sender=feed_owner) for i, p in enumerate(PRICES)]
    token = chain.deploy("MockERC20", "Test USD", "tUSD", 6, sender=feed_owner)
    reg = SolvencyRegistryWriter.deploy(
        chain,
        circuit.vk,
        len(PRICES),
        8,
        100,
        3600,
        operators=[operator],
        feeds=[[f.address] for f in feeds],
        governance=governance,
        params=(PARAMS_COMMITMENT, 1, params_doc_hash(b"bench parameters")),
        insurance_fund=(str(token.address), feed_owner),
    )
    epoch = 1
    reg.submit(make_attestation(circuit, epoch, PRICES, 1), sender=operator, gas=EXPLICIT_GAS)  # warm-up
    by_accounts: dict[int, int] = {}
    for n in ACCOUNTS:
        epoch += 1
        a = make_attestation(circuit, epoch, PRICES, 1, accounts=n)
        by_accounts[n] = reg.submit(a, sender=operator, gas=EXPLICIT_GAS)["gasUsed"]
    for i, p in enumerate(PRICES):
        extra = [chain.deploy("MockAggregatorV3", 8, f"a{i}/{k}", p, sender=feed_owner) for k in range(2)]
        reg.set_price_feeds(i, [feeds[i].address, *(f.address for f in extra)])
    epoch += 1
    gas_three_feeds = reg.submit(make_attestation(circuit, epoch, PRICES, 1), sender=operator, gas=EXPLICIT_GAS)[
        "gasUsed"
    ]

    # ---- one transaction, n batches, one multi-pairing: plain and committed keys
    bv = str(deploy_batch_verifier(chain).address)
    by_plain = registry_batch_gas(chain, circuit, operator, feeds[: len(PRICES)], bv)
    by_com = registry_batch_gas(chain, com_circuit, operator, feeds[: len(PRICES)], bv)
    # the slope from 2 batches on: a one-proof call skips two scalar multiplications (its weight sum is 1), so the
    # step from 1 to 2 batches is ~12k dearer than every later batch and is printed apart
    span = BATCHES[-1] - BATCHES[1]
    per_plain = (by_plain[BATCHES[-1]] - by_plain[BATCHES[1]]) // span
    per_com = (by_com[BATCHES[-1]] - by_com[BATCHES[1]]) // span

    # ---- epochs over several transactions, and the million-account epoch priced from them
    m_plain = multi_tx_gas(chain, circuit, operator, feeds[: len(PRICES)], bv, per_tx)
    m_com = multi_tx_gas(chain, com_circuit, operator, feeds[: len(PRICES)], bv, per_tx)
    full_plain = epoch_total(m_plain, MILLION_BATCHES, per_tx)
    full_com = epoch_total(m_com, MILLION_BATCHES, per_tx)
    # ---- update epochs (incremental: only the changed batches re-proven, the rest carried in the batch tree)
    upd_plain = update_gas(chain, circuit, operator, feeds[: len(PRICES)], bv)
    upd_com = update_gas(chain, com_circuit, operator, feeds[: len(PRICES)], bv)
    lo_k, hi_k = UPDATE_KS[1], UPDATE_KS[-1]
    upd_per = (upd_plain[hi_k] - upd_plain[lo_k]) // (hi_k - lo_k)
    upd_per_com = (upd_com[hi_k] - upd_com[lo_k]) // (hi_k - lo_k)
    upd_fixed = upd_plain[lo_k] - lo_k * upd_per
    upd_fixed_com = upd_com[lo_k] - lo_k * upd_per_com
    # the 1 % epoch: one update transaction re-proving the CHANGED_BATCHES batches that hold the changed accounts
    pct_plain = upd_fixed + CHANGED_BATCHES * upd_per
    pct_com = upd_fixed_com + CHANGED_BATCHES * upd_per_com

    side = committed_vs_plain(chain, circuit, com_circuit)
    ratio_com = side["committed"] / side["plain"]

    print("\nepoch attestation in one transaction (submitAttestation), transaction gasUsed:")
    print("  batches   plain        committed    plain/batch  committed/batch")
    for b in BATCHES:
        print(f"  {b:>7}   {by_plain[b]:>10,}   {by_com[b]:>10,}   {by_plain[b] // b:>10,}   {by_com[b] // b:>10,}")
    print(f"  marginal gas per extra batch ({BATCHES[1]} -> {BATCHES[-1]}): plain {per_plain:,}, committed {per_com:,}")
    step_p, step_c = by_plain[2] - by_plain[1], by_com[2] - by_com[1]
    print(f"  the second batch (1 -> 2, the weight sum stops being 1): plain {step_p:,}, committed {step_c:,}")
    print("\none batch of N accounts:")
    print("  N         gas          gas/account")
    for n, gas in by_accounts.items():
        print(f"  {n:>7}   {gas:>10,}   {gas / n:>12,.1f}")
    print(f"\none batch, three feeds per asset (median): {gas_three_feeds:,}  (+{gas_three_feeds - by_plain[1]:,})")
    print(f"\nepoch over several transactions ({per_tx} batches per addBatches), gasUsed:")
    print("                         plain        committed")
    for k, label in (("open", "openEpoch (+1st add)"), ("finalize", "finalizeEpoch"), ("add_fixed", "addBatches fixed"),
                     ("add_marginal", "addBatches per batch")):  # fmt: skip
        print(f"  {label:<22} {m_plain[k]:>10,.0f}   {m_com[k]:>10,.0f}")
    print(f"\none-million-account epoch ({MILLION_BATCHES} batches of {BATCH_ACCOUNTS:,}, {per_tx} per transaction):")
    print(f"  full                   {full_plain:>12,}   {full_com:>12,}   "
          f"({-(-MILLION_BATCHES // per_tx) + 2} transactions)")  # fmt: skip
    print(f"  per account            {full_plain / MILLION:>12,.1f}   {full_com / MILLION:>12,.1f}")
    print(
        f"  1 % changed, clustered {pct_plain:>12,}   {pct_com:>12,}   (one submitUpdate of {CHANGED_BATCHES} REPLACEs)"
    )
    print(f"  1 % changed, spread    {full_plain:>12,}   {full_com:>12,}   (1 - 0.99^1024: every batch touched)")
    print(f"\nupdate epoch (submitUpdate: k slots replaced, {UPDATE_BASE} slots in the tree, DEPTH-16 paths), gasUsed:")
    print("  k         plain        committed")
    for kk in UPDATE_KS:
        print(f"  {kk:>7}   {upd_plain[kk]:>10,}   {upd_com[kk]:>10,}")
    print(f"  per changed batch ({lo_k} -> {hi_k}): plain {upd_per:,}, committed {upd_per_com:,}; "
          f"fixed: plain {upd_fixed:,}, committed {upd_fixed_com:,}")  # fmt: skip
    print(f"\ncommitted (commitment slot) vs plain Groth16, one proof, the same {n_pub} public inputs, gasUsed:")
    print(f"  Groth16Verifier (plain)             {side['plain']:>10,}")
    print(f"  Groth16CommittedVerifier            {side['committed']:>10,}   ratio {ratio_com:.3f}")
    snk_gas = snk.get("gas")
    ratio = f"{gas_verify / snk_gas:.3f}" if snk_gas else "n/a"
    print(
        f"RESULT gas_extra_batch={per_plain} gas_extra_batch_committed={per_com} "
        f"gas_per_account_1024={full_plain / MILLION:.1f} gas_epoch_1m={full_plain} gas_epoch_1m_committed={full_com} "
        f"gas_epoch_1m_1pct={pct_plain} gas_epoch_1m_1pct_committed={pct_com} gas_per_attestation={by_plain[1]} "
        f"gas_verify_batch={gas_verify} snarkjs_verifier_gas={snk_gas or 'n/a'} ratio_vs_snarkjs={ratio} "
        f"committed_vs_plain_gas={ratio_com:.3f} gas_update_batch={upd_per} gas_update_batch_committed={upd_per_com} "
        f"gas_update_fixed={upd_fixed}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
