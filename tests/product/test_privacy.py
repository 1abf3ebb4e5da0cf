"""Issue 12, private by construction: nothing published identifies an account, and each user checks their own leaf.

The attacker here has the published copy of a bundle and a list of candidate account ids (every id of the venue,
as a leaked customer list would give), and tries every hash the code uses on them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

import product_helpers as ph
import pytest
from test_product import Published, failed_names, inclusion_of

from zkmargin.circuits.field import R
from zkmargin.circuits.poseidon import poseidon
from zkmargin.circuits.solvency.leaf import account_id_commitment, epoch_salt
from zkmargin.cli import main
from zkmargin.prover.operator.publish import PublishError, publish
from zkmargin.verifier import bundle as fmt
from zkmargin.verifier.user import verify_account

IDS = [a.account_id for a in ph.accounts(1)] + [f"user-{i:05d}" for i in range(200)]


@pytest.fixture(scope="module")
def public_copy(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Path:
    res, _ = published
    out = tmp_path_factory.mktemp("pub") / "public"
    assert main(["bundle", "publish", "--bundle", str(res.path.parent), "--out", str(out)]) == 0
    return out


def _public_numbers(root: Path) -> tuple[set[int], list[str]]:
    """Every integer (decimal or hex) in every public file, and every file name."""
    nums: set[int] = set()
    names: list[str] = []
    for f in root.rglob("*"):
        names.append(f.name)
        if f.is_file() and f.suffix == ".json":
            text = f.read_text()
            nums |= {int(x) for x in re.findall(r"\d{6,}", text)}
            nums |= {int(x, 16) for x in re.findall(r"[0-9a-fA-F]{24,}", text)}
    return nums, names


def _attacker_hashes(aid: str) -> set[int]:
    """Every unsalted function of an id the code uses or used: the old id hash (Poseidon of the id's chunks,
    with and without the 2^128 reduction), the commitment with trivial secrets, sha256/keccak-style digests."""
    raw = aid.encode()
    chunks = [int.from_bytes(raw[i : i + 31], "big") for i in range(0, len(raw), 31)]
    chunks += [0] * (5 - len(chunks))
    old = poseidon([len(raw), *chunks])
    out = {old, old % (1 << 128), int.from_bytes(hashlib.sha256(raw).digest(), "big")}
    for s in (1, 2, 7, R - 1):
        out.add(account_id_commitment(aid, s))
    return out


def test_guessing_ids_against_every_public_file_finds_nothing(public_copy: Path) -> None:
    nums, names = _public_numbers(public_copy)
    assert nums  # the attack has material: roots, commitments, totals, proofs
    for aid in IDS:
        assert not (_attacker_hashes(aid) & nums), aid
        assert not any(aid in n for n in names)
        for f in public_copy.rglob("*.json"):
            assert json.dumps(aid) not in f.read_text(), (aid, f)


def test_public_copy_has_no_secret_salt_leaf_or_inclusion_file(published: Published, public_copy: Path) -> None:
    res, _ = published
    nums, _ = _public_numbers(public_copy)
    for aid, secret in res.user_secrets.items():
        siblings = {int(x) for x in json.loads(inclusion_of(res, aid).read_text())["merkle_siblings"]}
        assert not (siblings - {0}) & nums, aid  # leaves and inner nodes stay private; only roots are public
        assert not ({secret, epoch_salt(secret, res.epoch)} & nums), aid
        # the id commitment is public only as a batch's first/last id (salted: it names nobody)
        firsts = {int(b["first_id_hash"]) for b in res.manifest["batches"]} | {
            int(b["last_id_hash"]) for b in res.manifest["batches"]
        }
        assert (account_id_commitment(aid, secret) in nums) == (account_id_commitment(aid, secret) in firsts)
    listing = {p.relative_to(public_copy).parts[0] for p in public_copy.iterdir()}
    assert {fmt.INDEX, fmt.epoch_dirname(1)} <= listing <= {fmt.INDEX, fmt.epoch_dirname(1), "setups"}
    assert not list(public_copy.rglob("user_secrets.json")) and not list(public_copy.rglob("private"))
    assert not (public_copy / fmt.epoch_dirname(1) / "accounts").exists()


def test_user_verifies_from_a_delivery_file_against_the_published_copy(published: Published, public_copy: Path) -> None:
    res, _ = published
    for aid in ("alice", "mallory"):  # mallory is under MM: proven and verifiable like anyone
        rep = verify_account(public_copy, inclusion_of(res, aid), aid, res.user_secrets[aid])
        assert rep.ok, rep.render()
        shown = next(c.detail for c in rep.checks if c.name.startswith("committed data"))
        assert "USDT" in shown and "realised PnL" in shown


def test_two_users_cannot_be_shown_one_leaf(published: Published, tmp_path: Path) -> None:
    """The operator gives bob a file pointing at alice's slot (and her data): the leaf rebuilt from bob's own id
    and secret is not there."""
    res, _ = published
    alice = json.loads(inclusion_of(res, "alice").read_text())
    forged = {**alice, "account_id": "bob", "user_secret": format(res.user_secrets["bob"], "064x")}
    f = tmp_path / "bob.json"
    f.write_text(json.dumps(forged))
    rep = verify_account(res.path, f, "bob", res.user_secrets["bob"])
    assert "Merkle path: your leaf is in the batch root" in failed_names(rep)
    assert "id commitment recomputed from your id and secret" in failed_names(rep)


def test_inclusion_file_of_another_epoch_is_named(published: Published, setup_dir: Path, tmp_path: Path) -> None:
    from zkmargin.prover.operator import Operator

    op = Operator(tmp_path, ph.SPEC, proof_system=ph.PROOF_SYSTEM, setup_dir=setup_dir)
    r1 = op.run_epoch(1, ph.engine(), ph.accounts(1))
    r2 = op.run_epoch(2, ph.engine(), ph.accounts(2))
    rep = verify_account(tmp_path, inclusion_of(r1, "carol"), epoch=2)
    assert failed_names(rep) == ["inclusion file is for this epoch"]
    assert "your file is for epoch 1, the bundle is 2" in rep.render()
    # one secret for every epoch: carol's secret is unchanged and derives a fresh salt each epoch
    assert r1.user_secrets["carol"] == r2.user_secrets["carol"]
    assert epoch_salt(r1.user_secrets["carol"], 1) != epoch_salt(r2.user_secrets["carol"], 2)
    assert not failed_names(verify_account(tmp_path, inclusion_of(r2, "carol"), epoch=2))


def test_files_follow_the_umask_except_secrets_and_deliveries(published: Published) -> None:
    res, _ = published
    mask = os.umask(0o022)
    os.umask(mask)
    root = res.path.parent

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    assert mode(res.path) == 0o777 & ~mask
    assert mode(res.path / fmt.MANIFEST) == 0o666 & ~mask
    assert mode(root / "user_secrets.json") == 0o600
    assert res.deliveries is not None and mode(res.deliveries) == 0o700
    assert {mode(f) for f in res.deliveries.iterdir()} == {0o600}


def test_publish_refuses_a_copy_that_would_leak(published: Published, tmp_path: Path) -> None:
    res, _ = published
    root = tmp_path / "root"
    import shutil

    shutil.copytree(res.path.parent, root)
    (root / fmt.epoch_dirname(1) / "note.json").write_text(json.dumps({"who": "alice"}))  # an operator slip
    with pytest.raises(PublishError, match="private data"):
        publish(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert main(["bundle", "publish", "--bundle", str(root), "--out", str(tmp_path / "out")]) == 2
