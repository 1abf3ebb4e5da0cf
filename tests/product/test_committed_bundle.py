"""The operator's two proof systems end to end off-chain: committed Groth16 on the lookup circuit (the default) and
plain Groth16 (kept for snarkjs), and the attacks a committed bundle must survive.

A forging operator controls the bundle: it rewrites a proof file and the manifest's hash of it. Each forgery below
(a changed commitment D, a changed proof of knowledge, a proof made at a challenge the prover chose, a witness with
forged LogUp multiplicities, a proof of one system under the other system's key) must fail a *named* audit check
and the account holder's check. The challenge is never read from the bundle: the audit and the user check derive it
from D and the public signals.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import product_helpers as ph
import pytest

import zkmargin.prover.committed as committed_prover
from zkmargin.circuits import lookup
from zkmargin.circuits.curve import G1_GEN, g1_add_aff
from zkmargin.circuits.field import R
from zkmargin.circuits.solvency.leaf import account_id_commitment
from zkmargin.prover.committed import prove_committed
from zkmargin.prover.committed_store import CommittedKeyError, load_committed_key, save_committed_key
from zkmargin.prover.operator import EpochResult, Operator
from zkmargin.prover.operator.proving import circuit_for
from zkmargin.prover.operator.setups import SetupError, load_or_create
from zkmargin.prover.solvency_witness import build_batch
from zkmargin.prover.zkey import read_zkey
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier import inclusion
from zkmargin.verifier.audit import audit_bundle
from zkmargin.verifier.audit_batches import PROOFS_CHECK
from zkmargin.verifier.bundle_proofs import (
    proof_from_bundle_json,
    proof_to_bundle_json,
    verify_any,
    vk_from_bundle_json,
)
from zkmargin.verifier.committed import CommittedProof, CommittedVerifyingKey, derive_challenge
from zkmargin.verifier.groth16 import MalformedInput
from zkmargin.verifier.report import Report
from zkmargin.verifier.user import verify_account

SETUP_GATE = "setup: not a development (single-party) setup"
PUBLIC_CHECK = (
    "batches: public signals = manifest (epoch, root, params, market, ids, count, totals, prices, liabilities)"
)
USER_PROOF = "batch proof verifies (every account's margin state, under-MM ones counted, as published)"
SYSTEM_CHECK = "verifying key: the manifest's proof system (committed Groth16 on lookups, or plain Groth16)"


def _epoch(tmp: pytest.TempPathFactory, system: str) -> EpochResult:
    root = tmp.mktemp(f"{system}-bundle")
    op = Operator(root, ph.SPEC, proof_system=system, setup_dir=tmp.mktemp(f"{system}-setup") / "tiny")
    return op.run_epoch(1, ph.engine(), ph.accounts(1))


@pytest.fixture(scope="session")
def committed_epoch(tmp_path_factory: pytest.TempPathFactory) -> EpochResult:
    """Epoch 1 of the tiny venue proven with the operator's default proof system, committed (no chain)."""
    return _epoch(tmp_path_factory, "committed")


@pytest.fixture(scope="session")
def plain_epoch(tmp_path_factory: pytest.TempPathFactory) -> EpochResult:
    return _epoch(tmp_path_factory, "plain")


def _copy(res: EpochResult, tmp_path: Path) -> Path:
    dst = tmp_path / "copy" / res.path.name
    shutil.copytree(res.path, dst)
    return dst


def _write(d: Path, rel: str, obj: object) -> None:
    """Rewrite a bundle file and the manifest's hash of it: what a forging operator can do."""
    (d / rel).write_text(json.dumps(obj))
    m = json.loads((d / fmt.MANIFEST).read_text())
    m["files"][rel] = fmt.sha256_file(d / rel)
    (d / fmt.MANIFEST).write_text(json.dumps(m))


def _failed(rep: Report) -> list[str]:
    return [c.name for c in rep.failed()]


def _inclusion(res: EpochResult, batch: int) -> Path:
    assert res.deliveries is not None
    for aid, secret in res.user_secrets.items():
        f = res.deliveries / inclusion.filename(account_id_commitment(aid, secret))
        if json.loads(f.read_text())["batch"] == batch:
            return f
    raise AssertionError(f"no delivery in batch {batch}")


def _forged_rejected(res: EpochResult, d: Path, batch: int, check: str = PROOFS_CHECK) -> None:
    rep = audit_bundle(d)
    assert rep.exit_code == 1, rep.render()
    assert _failed(rep) == [check, SETUP_GATE], rep.render()
    user = verify_account(d, _inclusion(res, batch))
    assert user.exit_code == 1 and _failed(user) == [USER_PROOF], user.render()


# ----------------------------------------------------------------------------- the honest bundles


def test_committed_is_the_default_and_its_bundle_verifies(committed_epoch: EpochResult) -> None:
    res = committed_epoch
    assert Operator(res.path.parent / "scratch", ph.SPEC).proof_system == "committed"
    m = res.manifest
    assert m["proof_system"] == "committed" and m["setup"]["proof_system"] == "committed"
    vk_json = json.loads((res.path / fmt.VK).read_text())
    assert vk_json["protocol"] == "groth16-committed" and vk_json["challengeIndex"] == vk_json["nPublic"]
    for i in range(res.batches):
        pf, pb = fmt.batch_files(i)
        proof = json.loads((res.path / pf).read_text())
        assert proof["protocol"] == "groth16-committed" and "commitment" in proof
        assert "challenge" not in proof
        assert len(json.loads((res.path / pb).read_text())) == vk_json["nPublic"]  # the challenge is not shipped
    rep = audit_bundle(res.path)
    assert _failed(rep) == [SETUP_GATE], rep.render()
    names = [c.name for c in rep.checks]
    assert PROOFS_CHECK in names and SYSTEM_CHECK in names
    detail = next(c.detail for c in rep.checks if c.name == PROOFS_CHECK)
    assert "challenge derived from each D" in detail
    user = verify_account(res.path, _inclusion(res, 0))
    assert user.exit_code == 0, user.render()


def test_plain_proof_system_stays_available(plain_epoch: EpochResult, run_tool: Callable[..., object]) -> None:
    """``proof_system="plain"``: the bit-decomposition circuit and snarkjs's own formats, which snarkjs verifies."""
    res = plain_epoch
    assert res.manifest["proof_system"] == "plain"
    vk_json = json.loads((res.path / fmt.VK).read_text())
    assert vk_json["protocol"] == "groth16"
    rep = audit_bundle(res.path)
    assert _failed(rep) == [SETUP_GATE], rep.render()
    assert PROOFS_CHECK in [c.name for c in rep.checks]
    assert verify_account(res.path, _inclusion(res, 0)).exit_code == 0
    pf, pb = fmt.batch_files(0)
    out = run_tool("snarkjs", "groth16", "verify", res.path / fmt.VK, res.path / pb, res.path / pf)
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout + out.stderr  # type: ignore[attr-defined]


def test_snarkjs_cannot_check_a_committed_bundle(committed_epoch: EpochResult, run_tool: Callable[..., object]) -> None:
    """What the bundle docs say: snarkjs has no commitment and derives no challenge; it does not accept the files."""
    res = committed_epoch
    pf, pb = fmt.batch_files(0)
    out = run_tool("snarkjs", "groth16", "verify", res.path / fmt.VK, res.path / pb, res.path / pf)
    assert "OK" not in out.stdout  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- forged committed proofs


def _proof(d: Path, i: int) -> CommittedProof:
    vk = vk_from_bundle_json(json.loads((d / fmt.VK).read_text()))
    p = proof_from_bundle_json(json.loads((d / fmt.batch_files(i)[0]).read_text()), vk)
    assert isinstance(p, CommittedProof)
    return p


def test_tampered_commitment_rejected(committed_epoch: EpochResult, tmp_path: Path) -> None:
    d = _copy(committed_epoch, tmp_path)
    p = _proof(d, 1)
    _write(d, fmt.batch_files(1)[0], proof_to_bundle_json(CommittedProof(p.proof, g1_add_aff(p.commitment, G1_GEN))))
    _forged_rejected(committed_epoch, d, 1)


def test_proof_of_the_retired_pok_format_rejected_by_name(committed_epoch: EpochResult, tmp_path: Path) -> None:
    """A proof file of the earlier BSB22 format (protocol groth16-bsb22, with commitment_pok) is refused by its
    protocol name, not misread as a commitment-slot proof."""
    d = _copy(committed_epoch, tmp_path)
    p = _proof(d, 0)
    old = proof_to_bundle_json(p) | {"protocol": "groth16-bsb22", "commitment_pok": ["1", "2", "1"]}
    _write(d, fmt.batch_files(0)[0], old)
    rep = audit_bundle(d)
    assert rep.exit_code == 1 and _failed(rep) == [PROOFS_CHECK, SETUP_GATE], rep.render()
    detail = next(c.detail for c in rep.checks if c.name == PROOFS_CHECK)
    assert "proof.protocol" in detail and "groth16-bsb22" in detail, detail
    user = verify_account(d, _inclusion(committed_epoch, 0))  # a malformed file for the user: exit 2, named
    assert user.exit_code == 2 and "proof.protocol" in user.render() and "another proof system" in user.render()


def test_commitment_of_another_batch_rejected(committed_epoch: EpochResult, tmp_path: Path) -> None:
    """D of a valid proof of another batch: a well-formed commitment, but not this proof's."""
    d = _copy(committed_epoch, tmp_path)
    p, q = _proof(d, 0), _proof(d, 1)
    _write(d, fmt.batch_files(0)[0], proof_to_bundle_json(CommittedProof(p.proof, q.commitment)))
    _forged_rejected(committed_epoch, d, 0)


def _reprove(res: EpochResult, batch: int) -> tuple[CommittedProof, list[int]]:
    """Prove batch ``batch`` of the epoch again with the operator's committed key (under whatever the test patched)."""
    layout = Operator(res.path.parent / "scratch", ph.SPEC).layout(ph.engine())
    setup_path = (res.path / res.manifest["setup"]["zkey"]).resolve().parent
    circuit = circuit_for(layout.shape, "committed")
    key = load_committed_key(setup_path, circuit.r1cs)
    accts = [a for a in ph.accounts(1) if a.account_id in res.user_secrets]
    accts.sort(key=lambda a: account_id_commitment(a.account_id, res.user_secrets[a.account_id]))
    n = layout.shape.accounts
    b = build_batch(ph.engine(), accts[batch * n : (batch + 1) * n], layout, 1, user_secrets=res.user_secrets)
    proof, public = prove_committed(key, circuit.cs, b.inputs)
    shipped = [int(x) for x in json.loads((res.path / fmt.batch_files(batch)[1]).read_text())]
    assert public == b.public == shipped  # the forgery is for the published statement of that batch
    return proof, public


def test_reproven_batch_verifies(committed_epoch: EpochResult, tmp_path: Path) -> None:
    """Control for the forgeries below: the same re-proving, unpatched, gives a proof the audit accepts."""
    proof, _ = _reprove(committed_epoch, 1)
    d = _copy(committed_epoch, tmp_path)
    _write(d, fmt.batch_files(1)[0], proof_to_bundle_json(proof))
    assert _failed(audit_bundle(d)) == [SETUP_GATE]
    assert verify_account(d, _inclusion(committed_epoch, 1)).exit_code == 0


def test_prover_chosen_challenge_rejected(
    committed_epoch: EpochResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator commits honestly but runs the witness at a challenge of its choosing (the hash + 1). The bundle
    carries no challenge; the audit and the user check derive it from D and reject the proof."""
    monkeypatch.setattr(committed_prover, "derive_challenge", lambda dd, pub: (derive_challenge(dd, pub) + 1) % R)
    proof, _ = _reprove(committed_epoch, 1)
    d = _copy(committed_epoch, tmp_path)
    _write(d, fmt.batch_files(1)[0], proof_to_bundle_json(proof))
    _forged_rejected(committed_epoch, d, 1)


def test_challenge_shipped_in_the_bundle_is_refused(committed_epoch: EpochResult, tmp_path: Path) -> None:
    """A proof file that carries a challenge (for a verifier to trust) is malformed, never read; a public.json with
    the challenge appended has one signal too many."""
    d = _copy(committed_epoch, tmp_path)
    rel = fmt.batch_files(0)[0]
    doc = json.loads((d / rel).read_text())
    _write(d, rel, {**doc, "challenge": "12345"})
    rep = audit_bundle(d)
    assert _failed(rep) == [PROOFS_CHECK, SETUP_GATE], rep.render()
    assert "proof.challenge" in next(c.detail for c in rep.failed() if c.name == PROOFS_CHECK)
    user = verify_account(d, _inclusion(committed_epoch, 0))
    assert user.exit_code == 2 and "proof.challenge" in str(user.malformed)
    d = _copy(committed_epoch, tmp_path / "2")
    pub_rel = fmt.batch_files(1)[1]
    public = json.loads((d / pub_rel).read_text())
    proof = _proof(d, 1)
    _write(d, pub_rel, [*public, str(derive_challenge(proof.commitment, [int(x) for x in public]))])
    rep = audit_bundle(d)
    assert PUBLIC_CHECK in _failed(rep) and PROOFS_CHECK not in _failed(rep), rep.render()
    n = len(public)
    assert f"has {n + 1} signals, expected {n}" in next(c.detail for c in rep.failed() if c.name == PUBLIC_CHECK)


def test_forged_multiplicities_rejected(
    committed_epoch: EpochResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A witness whose range-table multiplicities are forged (one occurrence moved to the next row): committed in D
    before the challenge exists, so the derived challenge rejects it, in the audit and in the user check."""

    def moved(values: Sequence[int], size: int) -> list[int]:
        m = [0] * size
        for v in values:
            if v < size:
                m[v] += 1
        m[0] -= 1
        m[1] += 1
        return m

    monkeypatch.setattr(lookup, "_multiplicities", moved)
    proof, _ = _reprove(committed_epoch, 0)
    d = _copy(committed_epoch, tmp_path)
    _write(d, fmt.batch_files(0)[0], proof_to_bundle_json(proof))
    _forged_rejected(committed_epoch, d, 0)


# ----------------------------------------------------------------------------- one system under the other's key


def test_committed_proof_under_a_plain_key_rejected(
    committed_epoch: EpochResult, plain_epoch: EpochResult, tmp_path: Path
) -> None:
    d = _copy(plain_epoch, tmp_path)
    _write(d, fmt.batch_files(0)[0], json.loads((committed_epoch.path / fmt.batch_files(0)[0]).read_text()))
    rep = audit_bundle(d)
    assert _failed(rep) == [PROOFS_CHECK, SETUP_GATE], rep.render()
    assert "proof.protocol" in next(c.detail for c in rep.failed() if c.name == PROOFS_CHECK)
    user = verify_account(d, _inclusion(plain_epoch, 0))
    assert user.exit_code == 2 and "proof.protocol" in str(user.malformed)


def test_plain_key_for_a_committed_bundle_rejected(
    committed_epoch: EpochResult, plain_epoch: EpochResult, tmp_path: Path
) -> None:
    """The committed bundle's key swapped for the plain setup's: the manifest's proof system no longer matches, and
    no committed proof is verified under the plain equation."""
    d = _copy(committed_epoch, tmp_path)
    _write(d, fmt.VK, json.loads((plain_epoch.path / fmt.VK).read_text()))
    rep = audit_bundle(d)
    assert SYSTEM_CHECK in _failed(rep) and PROOFS_CHECK in _failed(rep), rep.render()
    assert verify_account(d, _inclusion(committed_epoch, 0)).exit_code == 2


def test_verify_any_refuses_crossed_systems(committed_epoch: EpochResult, plain_epoch: EpochResult) -> None:
    cvk = vk_from_bundle_json(json.loads((committed_epoch.path / fmt.VK).read_text()))
    pvk = vk_from_bundle_json(json.loads((plain_epoch.path / fmt.VK).read_text()))
    assert isinstance(cvk, CommittedVerifyingKey) and not isinstance(pvk, CommittedVerifyingKey)
    cp = _proof(committed_epoch.path, 0)
    public = [int(x) for x in json.loads((committed_epoch.path / fmt.batch_files(0)[1]).read_text())]
    assert verify_any(cvk, cp, public)
    with pytest.raises(MalformedInput, match=r"proof\.protocol"):
        verify_any(pvk, cp, public)
    with pytest.raises(MalformedInput, match=r"proof\.protocol"):
        verify_any(cvk, cp.proof, public)


# ----------------------------------------------------------------------------- the committed key on disk


def test_committed_key_store_round_trip_and_named_errors(committed_epoch: EpochResult, tmp_path: Path) -> None:
    setup_path = (committed_epoch.path / committed_epoch.manifest["setup"]["zkey"]).resolve().parent
    circuit = circuit_for(Operator(tmp_path / "s", ph.SPEC).layout(ph.engine()).shape, "committed")
    key = load_committed_key(setup_path, circuit.r1cs)
    info = circuit.r1cs.commitment
    assert info is not None and key.committed_wires == tuple(info.private)
    first = circuit.r1cs.n_public + 1
    assert all(key.base.c_g1[w - first] is None for w in info.private)  # the zkey keeps them at infinity
    assert read_zkey(setup_path / "circuit.zkey").c_g1 == key.base.c_g1
    d = tmp_path / "k"
    save_committed_key(key, d)
    again = load_committed_key(d, circuit.r1cs)
    assert again.commitment.to_json() == key.commitment.to_json() and again.vk == key.vk

    def broken(edit: Callable[[Path], None]) -> str:
        shutil.rmtree(tmp_path / "b", ignore_errors=True)
        shutil.copytree(d, tmp_path / "b")
        edit(tmp_path / "b")
        with pytest.raises(CommittedKeyError) as e:
            load_committed_key(tmp_path / "b", circuit.r1cs)
        return str(e.value)

    def edit_ck(fn: Callable[[dict[str, list[object]]], None]) -> Callable[[Path], None]:
        def go(p: Path) -> None:
            ck = json.loads((p / "commitment_key.json").read_text())
            fn(ck)
            (p / "commitment_key.json").write_text(json.dumps(ck))

        return go

    off_curve = ["1", "3", "1"]
    assert "commitment_key.json bases[2]" in broken(edit_ck(lambda ck: ck["bases"].__setitem__(2, off_curve)))
    assert "commitment_key.json pok_bases: unknown field" in broken(edit_ck(lambda ck: ck.__setitem__("pok_bases", [])))
    assert "the circuit commits" in broken(edit_ck(lambda ck: ck["bases"].pop()))
    assert "commitment_key.json mask_delta" in broken(edit_ck(lambda ck: ck.pop("mask_delta")))
    assert "verification_key.json" in broken(lambda p: (p / "verification_key.json").write_text("{"))
    assert "commitment_key.json: missing file" in broken(lambda p: (p / "commitment_key.json").unlink())

    def other_delta(p: Path) -> None:
        vk = json.loads((p / "verification_key.json").read_text())
        vk["vk_delta_2"] = vk["vk_gamma_2"]
        (p / "verification_key.json").write_text(json.dumps(vk))

    assert "verification_key.json vk_delta_2: not the key of circuit.zkey" in broken(other_delta)


def test_committed_c_point_left_in_the_key_is_refused(committed_epoch: EpochResult, tmp_path: Path) -> None:
    """A committed wire's C point present (not at infinity) would let a prover change committed values after the
    challenge: the loader refuses such a key, naming the point."""
    setup_path = (committed_epoch.path / committed_epoch.manifest["setup"]["zkey"]).resolve().parent
    circuit = circuit_for(Operator(tmp_path / "s", ph.SPEC).layout(ph.engine()).shape, "committed")
    key = load_committed_key(setup_path, circuit.r1cs)
    info = circuit.r1cs.commitment
    assert info is not None
    j = info.private[0] - circuit.r1cs.n_public - 1
    key.base.c_g1[j] = G1_GEN
    save_committed_key(key, tmp_path / "k")
    for packed in (False, True):  # the prover's fast path reads the raw C section: zero bytes = infinity
        with pytest.raises(CommittedKeyError, match=rf"circuit.zkey C\[{j}\]: committed wire"):
            load_committed_key(tmp_path / "k", circuit.r1cs, packed_only=packed)


def test_setup_of_the_other_system_refused(committed_epoch: EpochResult, tmp_path: Path) -> None:
    setup_path = (committed_epoch.path / committed_epoch.manifest["setup"]["zkey"]).resolve().parent
    layout = Operator(tmp_path / "s", ph.SPEC).layout(ph.engine())
    with pytest.raises(SetupError, match="a 'committed' setup, but the proof system asked for is 'plain'"):
        load_or_create(setup_path, layout, "development", lambda *a: None, "plain")


@pytest.mark.slow
def test_committed_local_ceremony_epoch_audits(tmp_path: Path) -> None:
    """``setup_kind="ceremony"`` with a committed key: the committed multi-party ceremony (delta, eta, k) over the
    operator's own phase 1. The audit re-checks the ceremony against its transcript and phase 1 and fails only the
    phase-1 gate (the operator's own phase 1 can forge; a development-mode registry would make it a warning)."""
    root = tmp_path / "root"
    op = Operator(root, ph.SPEC, setup_kind="ceremony", proof_system="committed")
    res = op.run_epoch(1, ph.engine(), ph.accounts(1))
    setup = res.manifest["setup"]
    assert setup["kind"] == "ceremony" and setup["commitment_key"] and setup["ptau"].endswith("phase1-local.ptau")
    assert op.setup(op.layout(ph.engine())).is_public() is False  # a registry for it must be in development mode
    rep = audit_bundle(res.path)
    assert _failed(rep) == ["setup: phase 1 is a public powers-of-tau file (not the operator's own)"], rep.render()
    names = [c.name for c in rep.checks if c.ok]
    assert "setup: the bundle's verifying key is the ceremony key's" in names
    assert any(n.startswith("setup: committed-key ceremony re-checked") for n in names), rep.render()


def test_api_names_a_setup_of_the_other_system(committed_epoch: EpochResult, tmp_path: Path) -> None:
    """Bad input on disk is an InputError naming the option (exit 2 on the CLI), never a traceback."""
    from zkmargin.api import InputError, run_epoch

    setup_path = (committed_epoch.path / committed_epoch.manifest["setup"]["zkey"]).resolve().parent
    with pytest.raises(InputError, match="setup_dir") as e:
        run_epoch(tmp_path / "r", ph.engine(), ph.accounts(1), batch=2, setup_dir=setup_path, proof_system="plain")
    assert "setup for another circuit shape" in str(e.value)  # the API's venue is the demo's, not the tiny one
    with pytest.raises(InputError, match="proof_system"):
        run_epoch(tmp_path / "r", ph.engine(), ph.accounts(1), batch=2, proof_system="groth16")


def test_dask_proves_committed_batches(committed_epoch: EpochResult, tmp_path: Path) -> None:
    """The Dask path with a committed key: workers load the whole committed key, the driver re-verifies each proof
    (challenge derived); same statements as the in-process epoch, and the audit's proofs check passes."""
    from zkmargin.prover.operator.distributed import DaskProver

    root = tmp_path / "dask"
    root.mkdir()
    shutil.copy(committed_epoch.path.parent / "user_secrets.json", root / "user_secrets.json")
    setup_path = (committed_epoch.path / committed_epoch.manifest["setup"]["zkey"]).resolve().parent
    with DaskProver(workers=1) as dp:
        op = Operator(root, ph.SPEC, proof_system="committed", setup_dir=setup_path, prover=dp)
        res = op.run_epoch(1, ph.engine(), ph.accounts(1))
    assert res.batches == committed_epoch.batches
    for i in range(res.batches):
        pb = fmt.batch_files(i)[1]
        assert (res.path / pb).read_text() == (committed_epoch.path / pb).read_text()
    assert _failed(audit_bundle(res.path)) == [SETUP_GATE]


def test_published_copy_of_a_committed_root(committed_epoch: EpochResult, tmp_path: Path) -> None:
    """``bundle publish`` keeps the committed setup's public files (the commitment key with the zkey) and the user
    check passes on the copy."""
    from zkmargin.prover.operator.publish import publish

    root = tmp_path / "root"
    shutil.copytree(committed_epoch.path.parent, root, symlinks=True)
    setup_src = (committed_epoch.path / committed_epoch.manifest["setup"]["zkey"]).resolve().parent
    shutil.copytree(setup_src, root / "setups" / "tiny")
    out = publish(root, tmp_path / "public")
    assert (out / "setups" / "tiny" / "commitment_key.json").is_file()
    assert not (out / "private").exists()
    assert verify_account(out, _inclusion(committed_epoch, 0)).exit_code == 0
