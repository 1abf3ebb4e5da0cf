"""Operator-side hardening (issue 13): a poisoned proof cache never reaches a bundle, a cached chain record is checked
against the registry before it is published, and the one ``prove_batch`` refuses what it cannot prove."""

from __future__ import annotations

import json
from pathlib import Path

import product_helpers as ph
import pytest
from fault_hooks import FailAfterAttest, FailAfterBatches, InjectedFault
from test_product import Published, failed_names, only_setup_gate_fails

from zkmargin.prover.operator import Hooks, LocalProver, Operator
from zkmargin.prover.operator.batch_cache import BatchCache
from zkmargin.prover.operator.chain_ops import ChainRecordMismatch
from zkmargin.prover.operator.proving import BatchJob, BatchProofError
from zkmargin.prover.solvency_witness import build_batch
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.bundle_proofs import proof_from_bundle_json, verify_any, vk_from_bundle_json
from zkmargin.verifier.snarkjs_json import load_json


def _cache_file(root: Path, epoch: int, index: int) -> Path:
    return root / ".work" / fmt.epoch_dirname(epoch) / f"batch-{index:04d}.json"


def test_poisoned_cache_entry_is_reproven_not_published(tmp_path: Path, setup_dir: Path, published: Published) -> None:
    """A cache entry with this batch's public signals and key hash but another batch's (real, well-formed) proof:
    the rerun proves the batch again and publishes a proof that verifies."""
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(InjectedFault):
        Operator(root, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir, hooks=FailAfterBatches(1)).run_epoch(
            1, ph.engine(), ph.accounts(1)
        )
    entry_path = _cache_file(root, 1, 0)
    entry = json.loads(entry_path.read_text())
    foreign = json.loads((published[0].path / fmt.batch_files(1)[0]).read_text())  # valid proof, other statement
    assert foreign != entry["proof"]
    entry["proof"] = foreign
    entry_path.write_text(json.dumps(entry))

    res = Operator(root, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir).run_epoch(
        1, ph.engine(), ph.accounts(1)
    )
    assert res.reused_batches == 0, "the poisoned entry was reused"
    vk = vk_from_bundle_json(load_json(res.path / fmt.VK, "vk"))
    pf, pb = fmt.batch_files(0)
    shipped = json.loads((res.path / pf).read_text())
    public = [int(x) for x in json.loads((res.path / pb).read_text())]
    assert shipped != foreign
    assert verify_any(vk, proof_from_bundle_json(shipped, vk), public)
    assert only_setup_gate_fails(audit_bundle(res.path))


def test_cache_read_path_verifies_and_drops_bad_entries(published: Published, tmp_path: Path) -> None:
    res, _ = published
    vk = vk_from_bundle_json(load_json(res.path / fmt.VK, "vk"))
    proofs = [json.loads((res.path / fmt.batch_files(i)[0]).read_text()) for i in range(2)]
    publics = [[int(x) for x in json.loads((res.path / fmt.batch_files(i)[1]).read_text())] for i in range(2)]
    cache = BatchCache(tmp_path, res.epoch, vk)
    cache.put(0, proof_from_bundle_json(proofs[0], vk), publics[0])
    assert cache.proof(0, publics[0]) is not None  # a good entry is reused
    assert cache.proof(0, publics[1]) is None and cache.entries()  # another batch's signals: ignored, kept
    cache.put(1, proof_from_bundle_json(proofs[0], vk), publics[1])  # right signals, wrong proof
    assert cache.proof(1, publics[1]) is None
    assert not _cache_file(tmp_path, res.epoch, 1).exists(), "a proof that does not verify is deleted"
    _cache_file(tmp_path, res.epoch, 0).write_text('{"vk_sha256": "')  # torn write
    assert cache.proof(0, publics[0]) is None and not cache.entries()
    other_key = BatchCache(tmp_path, res.epoch, vk)
    other_key.vk_sha = "0" * 64
    other_key.put(0, proof_from_bundle_json(proofs[0], vk), publics[0])
    assert cache.proof(0, publics[0]) is None  # proven under another key: not this key's entry


def test_prove_batch_names_the_failing_constraint(setup_dir: Path) -> None:
    op = Operator(setup_dir.parent / "scratch-prove", ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir)
    eng = ph.engine()
    layout = op.layout(eng)
    setup = op.setup(layout)
    accts = [a for a in ph.accounts(1) if a.account_id in ("alice", "bob")]
    batch = build_batch(eng, accts, layout, 1, user_secrets={"alice": 11, "bob": 12})
    proven: list[object] = []
    LocalProver().prove_batches(setup, layout.shape, [BatchJob(0, batch.inputs, batch.public)], proven.append)
    assert len(proven) == 1
    wrong_public = list(batch.public)
    wrong_public[-1] += 1
    with pytest.raises(BatchProofError, match="batch 3: public signals differ"):
        LocalProver().prove_batches(setup, layout.shape, [BatchJob(3, batch.inputs, wrong_public)], proven.append)
    tampered = {**batch.inputs, "total_equity": batch.inputs["total_equity"] + 1}  # the builder's own mismatch
    with pytest.raises(BatchProofError, match="batch 4: witness fails constraint"):
        LocalProver().prove_batches(setup, layout.shape, [BatchJob(4, tampered, batch.public)], proven.append)


# ----------------------------------------------------------------------------- chain record on resume


def _crash_after_attest(root: Path, setup_dir: Path) -> Operator:
    op = Operator(root, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir)
    op.deploy_chain(ph.engine(), insurance_fund_micro_usd=ph.INSURANCE_FUND, max_unrepresented_ppm=200_000)
    op.hooks = FailAfterAttest()
    with pytest.raises(InjectedFault):
        op.run_epoch(1, ph.engine(), ph.accounts(1))
    op.hooks = Hooks()
    assert not (root / fmt.epoch_dirname(1)).exists()
    return op


def test_resume_after_attest_takes_the_record_from_the_registry(tmp_path: Path, setup_dir: Path) -> None:
    """Crash after the attestation, the cached record lost: the rerun does not resubmit, and the manifest's record
    is the registry's (its transaction), not an empty one."""
    op = _crash_after_attest(tmp_path, setup_dir)
    assert op.chain is not None
    (tmp_path / ".work" / fmt.epoch_dirname(1) / "chain.json").unlink()
    res = op.run_epoch(1, ph.engine(), ph.accounts(1))
    tx = op.chain.registry.attestation_tx(1)
    assert tx is not None and res.manifest["chain"]["tx_hash"] == tx.tx_hash
    assert res.manifest["chain"]["block"] == tx.block_number and res.manifest["chain"]["covers_accounts"] == 6
    assert len(op.chain.registry.attestation_events()) == 1, "the epoch was submitted once"
    rep = audit_bundle(res.path, registry=op.chain.registry)
    assert rep.ok, rep.render()


@pytest.mark.parametrize(
    ("field", "value"),
    [("tx_hash", "ab" * 32), ("block", 1), ("covers_accounts", 5), ("gas_used", 1)],
)
def test_tampered_chain_record_refused(tmp_path: Path, setup_dir: Path, field: str, value: object) -> None:
    op = _crash_after_attest(tmp_path, setup_dir)
    path = tmp_path / ".work" / fmt.epoch_dirname(1) / "chain.json"
    record = json.loads(path.read_text())
    record[field] = value
    path.write_text(json.dumps(record))
    with pytest.raises(ChainRecordMismatch, match=f"field {field}"):
        op.run_epoch(1, ph.engine(), ph.accounts(1))
    assert not (tmp_path / fmt.epoch_dirname(1)).exists() and fmt.list_epochs(tmp_path) == []


def test_record_of_another_registry_is_dropped(tmp_path: Path, setup_dir: Path) -> None:
    """A record cached for a registry no longer in use (e.g. a restarted embedded chain) is not this registry's:
    the epoch is attested on the registry in use and the manifest carries that record."""
    op = _crash_after_attest(tmp_path, setup_dir)
    path = tmp_path / ".work" / fmt.epoch_dirname(1) / "chain.json"
    stale = json.loads(path.read_text())
    stale["registry"] = "0x" + "12" * 20
    path.write_text(json.dumps(stale))
    res = op.run_epoch(1, ph.engine(), ph.accounts(1))
    assert res.manifest["chain"]["registry"] == op.chain.registry.address  # type: ignore[union-attr]
    assert res.manifest["chain"]["tx_hash"] == stale["tx_hash"]  # the registry's own record of the one submission


def test_publish_refuses_nothing_when_untouched(published: Published) -> None:
    """Sanity for the tests above: an uninterrupted epoch's record is the registry's."""
    res, dep = published
    tx = dep.registry.attestation_tx(res.epoch)
    assert tx is not None and res.manifest["chain"]["tx_hash"] == tx.tx_hash
    assert not failed_names(audit_bundle(res.path, registry=dep.registry))
