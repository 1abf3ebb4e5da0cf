"""The API's typed errors: every bad input is an InputError naming its field, raised before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zkmargin
from zkmargin import api

TINY = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "tiny"
VK, PROOF, PUBLIC = TINY / "verification_key.json", TINY / "proof.json", TINY / "public.json"


def test_package_exports_the_api() -> None:
    for name in zkmargin.__all__:
        assert getattr(zkmargin, name) is not None, name
    from zkmargin.prover import Operator, prove
    from zkmargin.verifier import MalformedInput, audit_bundle, verify

    assert callable(prove) and callable(verify) and callable(audit_bundle) and Operator and MalformedInput
    with pytest.raises(AttributeError):
        _ = zkmargin.no_such_name  # type: ignore[attr-defined]


def test_verify_paths_and_objects() -> None:
    assert zkmargin.verify_proof(VK, PROOF, PUBLIC) is True
    f = zkmargin.load_snarkjs(VK, PROOF, PUBLIC)
    assert zkmargin.verify_proof(f.vk, f.proof, [f.public[0] ^ 1, *f.public[1:]]) is False


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"pi_a": ["1", "2", "1"]}', "pi_b"),
    ],
)
def test_bad_proof_files_name_the_field(tmp_path: Path, content: bytes, needle: str) -> None:
    bad = tmp_path / "proof.json"
    bad.write_bytes(content)
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.verify_proof(VK, bad, PUBLIC)
    assert e.value.field == "proof" and needle in str(e.value)


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(zkmargin.InputError, match="not a regular file") as e:
        zkmargin.load_proof(tmp_path)
    assert e.value.field == "proof"
    with pytest.raises(zkmargin.InputError, match="file not found") as e:
        zkmargin.load_verifying_key(tmp_path / "missing.json")
    assert e.value.field == "vk"


def test_aliased_public_input_is_malformed() -> None:
    f = zkmargin.load_snarkjs(VK, PROOF, PUBLIC)
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.verify_proof(f.vk, f.proof, [2**256 - 1, 0])
    assert e.value.field == "public"


def test_setup_and_prove_validate_first(tmp_path: Path) -> None:
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.setup(tmp_path / "none.r1cs", tmp_path / "k")
    assert e.value.field == "r1cs" and not (tmp_path / "k").exists()
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.setup(TINY / "circuit.r1cs", tmp_path / "k", contributions=0)
    assert e.value.field == "contributions" and not (tmp_path / "k").exists()
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.prove(tmp_path / "nokey", TINY / "witness.wtns", tmp_path / "p")
    assert e.value.field == "zkey" and not (tmp_path / "p").exists()


def test_setup_prove_roundtrip_and_bad_witness(tmp_path: Path) -> None:
    res = zkmargin.setup(TINY / "circuit.r1cs", tmp_path / "k", dev=True)
    assert res.kind == "development" and res.n_public == 2 and res.zkey.is_file()
    out = zkmargin.prove(res.path, TINY / "witness.wtns", tmp_path / "p")
    assert zkmargin.verify_proof(res.verification_key, tmp_path / "p" / "proof.json", tmp_path / "p" / "public.json")
    assert out.public == [int(x) for x in json.loads((tmp_path / "p" / "public.json").read_text())]
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.prove(res.path, TINY / "circuit.r1cs", tmp_path / "q")  # not a witness file
    assert e.value.field == "wtns" and not (tmp_path / "q").exists()


def test_evaluate_margin_and_demo_exchange() -> None:
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.demo_exchange(0)
    assert e.value.field == "accounts"
    engine, accounts = zkmargin.demo_exchange(5, seed=3)
    results = zkmargin.evaluate_margin(accounts, engine)
    assert [r.account_id for r in results] == [a.account_id for a in accounts]
    assert all(r.status in ("healthy", "margin_call", "liquidation") for r in results)


def test_registry_needs_a_node_and_both_options(tmp_path: Path) -> None:
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.audit_bundle(tmp_path, rpc="http://127.0.0.1:1")
    assert e.value.field == "registry"
    with pytest.raises(zkmargin.ChainUnavailable):
        zkmargin.read_registry("http://127.0.0.1:1", "0x" + "11" * 20)
    with pytest.raises(zkmargin.InputError) as e:
        zkmargin.read_registry("ftp://x", "0x" + "11" * 20)
    assert e.value.field == "rpc"


def test_missing_extra_names_the_extra() -> None:
    e = api.MissingExtra("the venue chart", "report", "matplotlib")
    assert "pip install 'zkmargin[report]'" in str(e) and isinstance(e, ImportError)
