"""Gas of the on-chain side, from transaction receipts (gasUsed), never from eth_estimateGas.

Measures, on the embedded py-evm by default (``--rpc URL`` for any node, ``--anvil`` to start the
anvil from node_modules):

* one batch proof through the stand-alone Groth16Verifier, next to snarkjs's exported Solidity
  verifier for the same key (same 20 public inputs), compiled with the same pinned solc;
* one epoch attestation through SolvencyRegistry as a function of batches per epoch (1, 2, 4, 8);
* attestation gas for batches of 16, 64 and 1024 accounts (it must not grow: the proof is
  constant-size and the account count is one public input), and gas per account;
* a one-batch attestation with three feeds per asset (the median of three instead of one feed);
* committed (commitment slot) against plain: one proof through Groth16CommittedVerifier against Groth16Verifier at
  the same 20 public inputs (the same batch statement), and the registry's gas per attested batch with a committed key
  against a plain one (marginal gas per extra batch, 1 to 8 batches).

The stand-in circuit has the production public-signal layout (tests/chain/layout_circuit.py), so
every on-chain code path and cost is the real one. The last line is machine-readable:
``RESULT gas_per_attestation=... gas_verify_batch=... gas_per_account=... snarkjs_verifier_gas=...
ratio_vs_snarkjs=... committed_vs_plain_gas=... committed_vs_plain_gas_nonzero=... registry_batch_gas_plain=...
registry_batch_gas_committed=...`` (gas_per_attestation: one batch; gas_per_account: one batch of 1024 accounts;
committed_vs_plain_gas: one committed proof's verification gas over one plain proof's, same inputs, a batch without
under-MM accounts (3 zero signals); _nonzero: a batch with one, every signal non-zero; registry_batch_gas_*: marginal
gas per extra batch).

    python scripts/bench_gas.py [--rpc URL | --anvil]
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
from zkmargin.verifier.chain import committed_proof_to_evm, connect, params_doc_hash, proof_to_evm  # noqa: E402
from zkmargin.verifier.committed import CommittedProof  # noqa: E402

PRICES = (60_000 * 10**8, 3_000 * 10**8, 1 * 10**8, 150 * 10**8)
BATCHES = (1, 2, 4, 8)
ACCOUNTS = (16, 64, 1024)
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


def registry_batch_gas(
    chain: SigningChain,
    circuit: LayoutCircuit | CommittedLayoutCircuit,
    operator: str,
    feeds: list[Any],
    batch_verifier: str,
    batches: tuple[int, ...] = BATCHES,
) -> dict[int, int]:
    """Attestation gas (receipts) of a fresh registry pinned to ``circuit``'s key, per number of batches."""
    governance = chain.sender
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
        batch_verifier=batch_verifier,
    )
    reg.submit(make_attestation(circuit, 1, PRICES, 1), sender=operator, gas=EXPLICIT_GAS)  # warm-up
    out: dict[int, int] = {}
    for i, b in enumerate(batches):
        a = make_attestation(circuit, 2 + i, PRICES, b)
        out[b] = reg.submit(a, sender=operator, gas=EXPLICIT_GAS * b)["gasUsed"]
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
    args = ap.parse_args(argv)
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
        return _run(url)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


def _run(url: str | None) -> int:
    w3 = connect(url)
    governance, operator, feed_owner = w3.eth.accounts[:3]
    chain = SigningChain(w3, sender=governance)
    print(f"chain: {'py-evm (EthereumTesterProvider)' if url is None else url}")
    circuit = build_layout_circuit(len(PRICES))
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
    by_batches: dict[int, int] = {}
    for b in BATCHES:
        epoch += 1
        a = make_attestation(circuit, epoch, PRICES, b)
        by_batches[b] = reg.submit(a, sender=operator, gas=EXPLICIT_GAS * b)["gasUsed"]
    by_accounts: dict[int, int] = {}
    for n in ACCOUNTS:
        epoch += 1
        a = make_attestation(circuit, epoch, PRICES, 1, accounts=n)
        by_accounts[n] = reg.submit(a, sender=operator, gas=EXPLICIT_GAS)["gasUsed"]
    for i, p in enumerate(PRICES):
        extra = [chain.deploy("MockAggregatorV3", 8, f"a{i}/{k}", p, sender=feed_owner) for k in range(2)]
        reg.set_price_feeds(i, [feeds[i].address, *(f.address for f in extra)])
    epoch += 1
    a = make_attestation(circuit, epoch, PRICES, 1)
    gas_three_feeds = reg.submit(a, sender=operator, gas=EXPLICIT_GAS)["gasUsed"]

    marginal = (by_batches[BATCHES[-1]] - by_batches[BATCHES[0]]) // (BATCHES[-1] - BATCHES[0])

    # ---- committed (commitment slot) against plain: one proof side by side, then the registry per batch in both modes
    com_circuit = build_committed_layout_circuit(len(PRICES))
    side = committed_vs_plain(chain, circuit, com_circuit)
    side_nz = committed_vs_plain(chain, circuit, com_circuit, bad_debt=5_000 * 10**6)
    bv = str(deploy_batch_verifier(chain).address)
    reg_plain = registry_batch_gas(chain, circuit, operator, feeds[: len(PRICES)], bv, (1, BATCHES[-1]))
    reg_com = registry_batch_gas(chain, com_circuit, operator, feeds[: len(PRICES)], bv, (1, BATCHES[-1]))
    span = BATCHES[-1] - 1
    per_plain = (reg_plain[BATCHES[-1]] - reg_plain[1]) // span
    per_com = (reg_com[BATCHES[-1]] - reg_com[1]) // span
    ratio_com = side["committed"] / side["plain"]
    ratio_nz = side_nz["committed"] / side_nz["plain"]
    print("\nepoch attestation (SolvencyRegistry.submitAttestation), transaction gasUsed:")
    print("  batches   gas          gas/batch")
    for b, gas in by_batches.items():
        print(f"  {b:>7}   {gas:>10,}   {gas // b:>10,}")
    print(f"  marginal gas per extra batch: {marginal:,}")
    print("\none batch of N accounts:")
    print("  N         gas          gas/account")
    for n, gas in by_accounts.items():
        print(f"  {n:>7}   {gas:>10,}   {gas / n:>12,.1f}")
    print(f"\none batch, three feeds per asset (median): {gas_three_feeds:,}  (+{gas_three_feeds - by_batches[1]:,})")
    print(f"\ncommitted (commitment slot) vs plain Groth16, one proof, the same {n_pub} public inputs, gasUsed:")
    print(f"  Groth16Verifier (plain)             {side['plain']:>10,}")
    print(f"  Groth16CommittedVerifier            {side['committed']:>10,}   ratio {ratio_com:.3f}")
    print(f"  the same, a batch with an account under MM (all 20 inputs non-zero): {side_nz['plain']:,} vs ", end="")
    print(f"{side_nz['committed']:,}, ratio {ratio_nz:.3f}")
    print("registry (SolvencyRegistry -> Groth16BatchVerifier), attestation gas, plain key vs committed key:")
    print(f"  1 batch                             {reg_plain[1]:>10,}   {reg_com[1]:>10,}")
    print(
        f"  {BATCHES[-1]} batches                           {reg_plain[BATCHES[-1]]:>10,}   {reg_com[BATCHES[-1]]:>10,}"
    )
    print(f"  gas per extra batch                 {per_plain:>10,}   {per_com:>10,}   ratio {per_com / per_plain:.3f}")
    n_max = ACCOUNTS[-1]
    snk_gas = snk.get("gas")
    ratio = f"{gas_verify / snk_gas:.3f}" if snk_gas else "n/a"
    print(
        f"RESULT gas_per_attestation={by_batches[1]} gas_verify_batch={gas_verify} "
        f"gas_per_account={by_accounts[n_max] / n_max:.1f} snarkjs_verifier_gas={snk_gas or 'n/a'} "
        f"ratio_vs_snarkjs={ratio} committed_vs_plain_gas={ratio_com:.3f} "
        f"committed_vs_plain_gas_nonzero={ratio_nz:.3f} registry_batch_gas_plain={per_plain} "
        f"registry_batch_gas_committed={per_com}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
