"""Phase 2 in snarkjs's .zkey contribution format: our contributions, beacons and signed contributions,
the auditor's node-free check (verify-setup --zkey), and the trapdoor attacks it must catch.

Tests marked ``snarkjs`` cross-check with snarkjs 0.7.6 itself (``zkey verify``, ``zkey contribute``,
``zkey beacon``) in both directions; the others use a prepared .ptau built from known secrets
(``write_dev_prepared_ptau``, itself checked byte for byte against ``snarkjs powersoftau prepare``
in test_cli_interop.py) so they run without node.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zkmargin.circuits.curve import G1_GEN, g1_add_aff, g1_mul, g2_mul
from zkmargin.circuits.formats import write_r1cs
from zkmargin.circuits.r1cs import R1CS, ConstraintSystem
from zkmargin.cli import main as cli
from zkmargin.prover.keys import ProvingKey
from zkmargin.prover.ptau import setup_from_ptau, write_dev_prepared_ptau, write_ptau
from zkmargin.prover.setup import dev_setup
from zkmargin.prover.setup.phase2 import apply_delta
from zkmargin.prover.setup.zkey_phase2 import beacon, contribute, sign_contribution
from zkmargin.prover.zkey import read_zkey, write_zkey
from zkmargin.verifier.contributor_identity import (
    contribution_signers,
    encode_signed_name,
    split_signed_name,
)
from zkmargin.verifier.setup_transcript import Phase1Accumulator
from zkmargin.verifier.snarkjs_rng import ChaCha, fr_from_rng, g1_from_rng, hash_to_g2
from zkmargin.verifier.zkey_ceremony import has_contributions, verify_zkey_ceremony
from zkmargin.verifier.zkey_mpc import MpcParams, build_params, format_hash, transcript_for

GOV_KEY = "0x" + "4f" * 32  # the registry's governance account in these tests
OPERATOR_KEY = "0x" + "a1" * 32
BEACON = bytes.fromhex("5c" * 32)


def _circuit(n: int = 60) -> R1CS:
    """~n constraints, two public signals: a domain of 2^6."""
    cs = ConstraintSystem()
    x = cs.input("x")
    y = cs.input("y")
    acc = x
    for i in range(n):
        acc = cs.mul(acc, y + i, f"m{i}")
    cs.output("out", acc)
    cs.public("y_pub", y)
    return cs.compile()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Circuit, a prepared .ptau (power 7) and an honest ceremony: 2 local contributions, a signed
    one by governance, a beacon."""
    d = tmp_path_factory.mktemp("zkc")
    r1cs = _circuit()
    write_r1cs(r1cs, d / "c.r1cs")
    write_dev_prepared_ptau(d / "p.ptau", 7, tau=0x1234567, alpha=0x89ABC, beta=0xDEF01)
    pk, _ = setup_from_ptau(r1cs, d / "p.ptau", contributions=2, transcript_dir=d / "transcript")
    write_zkey(pk, d / "setup.zkey")
    gov = contribute(pk, "gov entropy", "governance", GOV_KEY)
    fin = beacon(gov.key, BEACON, 10, "final beacon")
    write_zkey(fin.key, d / "final.zkey")
    return {"dir": d, "r1cs": r1cs, "setup": pk, "gov": gov.key, "final": fin.key}


def _verify(env: dict[str, Any], key: ProvingKey, path: Path, mpc: MpcParams | None = None) -> list[str]:
    write_zkey(key, path, mpc)
    rep = verify_zkey_ceremony(path, env["r1cs"], env["dir"] / "p.ptau")
    assert rep.malformed is None, rep.malformed
    return [c.name for c in rep.failed()]


# ---------------------------------------------------------------- snarkjs's randomness, known answers


def test_hash_to_g2_and_rng_match_ffjavascript() -> None:
    """Values printed by ffjavascript 0.3 (node) for the ChaCha seed of hash bytes (7i + 3) mod 256."""
    h = bytes((i * 7 + 3) & 255 for i in range(64))
    assert hash_to_g2(h) == (
        (
            10981744191856992381809360468766349808540288088380022120879940032157482185159,
            21596609199614916244870285972043611265843163710357154274803730808527450671106,
        ),
        (
            21106394083971498902915171443050057787679082343764185182527384465384631981618,
            16434225528908858706977571821808088155132905298271956510167368579555172722980,
        ),
    )
    rng = ChaCha.from_hash(h)
    assert fr_from_rng(rng) == 1999399850937727353411852283797433476428515852032432344680610858802918784213
    assert g1_from_rng(rng) == (
        19843346435496270338108779899034198167871071879351958044959127106881763704854,
        18280963976093579328197736100545934356412327230589035182212091958467516250227,
    )


def test_format_hash_is_snarkjs_layout() -> None:
    s = format_hash(bytes(range(64)), "Contribution Hash: ")
    assert s.splitlines()[0] == "Contribution Hash: "
    assert s.splitlines()[1] == "\t\t00010203 04050607 08090a0b 0c0d0e0f"
    assert len(s.splitlines()) == 5


# ---------------------------------------------------------------- honest ceremonies


def test_honest_ceremony_verifies(env: dict[str, Any]) -> None:
    rep = verify_zkey_ceremony(env["dir"] / "final.zkey", env["r1cs"], env["dir"] / "p.ptau")
    assert rep.ok, rep.render()
    names = {c.name for c in rep.checks}
    for i in (1, 2, 3, 4):
        assert {f"contribution[{i}].proof_of_knowledge", f"contribution[{i}].delta_follows"} <= names
    assert "contribution[4].beacon" in names and "contribution[3].beacon" not in names
    assert has_contributions(env["dir"] / "final.zkey")
    # the setup CLI's own key (2 local contributions) verifies too, and the transcript agrees with it
    assert verify_zkey_ceremony(env["dir"] / "setup.zkey", env["r1cs"], env["dir"] / "p.ptau").ok


def test_key_is_checked_against_the_ptau(env: dict[str, Any], tmp_path: Path) -> None:
    """Same circuit, another phase 1 (other tau): every derived section and the circuit hash differ."""
    write_dev_prepared_ptau(tmp_path / "other.ptau", 7, tau=0x7654321, alpha=0x89ABC, beta=0xDEF01)
    rep = verify_zkey_ceremony(env["dir"] / "final.zkey", env["r1cs"], tmp_path / "other.ptau")
    failed = {c.name for c in rep.failed()}
    assert {"key.ic", "key.a", "key.b1", "key.b2", "mpc.circuit_hash", "key.c_scaled_by_delta"} <= failed


def test_development_key_is_reported_as_such(env: dict[str, Any], tmp_path: Path) -> None:
    """(b) delta = 1 (no contribution) is forgeable by anyone: detected, named, exit 1."""
    init = read_zkey(env["dir"] / "setup.zkey")
    assert init.mpc is not None
    bare = copy.deepcopy(init)
    bare.mpc = MpcParams(init.mpc.cs_hash, [])
    # un-contributed key of this ceremony: the transcript's initial key (delta = 1)
    from zkmargin.prover.setup import load_key

    k0 = load_key(env["dir"] / "transcript" / "phase2" / "initial_key.bin")
    failed = _verify(env, k0, tmp_path / "k0.zkey", bare.mpc)
    assert failed == ["mpc.has_contributions"]
    assert not has_contributions(tmp_path / "k0.zkey")
    rep = verify_zkey_ceremony(tmp_path / "k0.zkey", env["r1cs"], env["dir"] / "p.ptau")
    assert "no contribution" in next(c.detail for c in rep.checks if c.name == "mpc.has_contributions")
    # a single-party dev key: no records at all, and not derived from the ptau
    write_zkey(dev_setup(env["r1cs"]), tmp_path / "dev.zkey")
    assert not has_contributions(tmp_path / "dev.zkey")
    assert cli(["verify-setup", "--zkey", str(tmp_path / "dev.zkey"), "--r1cs", str(env["dir"] / "c.r1cs"),
                "--ptau", str(env["dir"] / "p.ptau")]) == 1  # fmt: skip


# ---------------------------------------------------------------- trapdoor attacks


def test_delta_replaced_without_contribution_is_rejected(env: dict[str, Any], tmp_path: Path) -> None:
    """(a) The operator rescales delta by a d it knows but cannot prove a contribution for."""
    final = env["final"]
    failed = _verify(env, apply_delta(final, 987654321, final.mpc), tmp_path / "a1.zkey")
    # snarkjs's two checks: delta1 is the chain's last deltaAfter, delta2 has the chain's discrete log
    assert failed == ["key.delta1_is_last_contribution", "key.delta2_matches_delta1"]
    # ... even starting over from the public initial key with delta := d and keeping the records
    from zkmargin.prover.setup import load_key

    k0 = load_key(env["dir"] / "transcript" / "phase2" / "initial_key.bin")
    failed = _verify(env, apply_delta(k0, 42, final.mpc), tmp_path / "a2.zkey")
    assert "key.delta1_is_last_contribution" in failed


def test_forged_contribution_record_is_rejected(env: dict[str, Any], tmp_path: Path) -> None:
    """(a) A record for the attacker's rescaling whose proof is not for its delta step: the attacker
    knows d but not the previous delta's secret, so it cannot produce x = d / delta_prev in G2."""
    final = env["final"]
    assert final.mpc is not None
    d = 987654321
    forged = apply_delta(final, d)
    mpc = copy.deepcopy(final.mpc)
    g1_s = g1_mul(G1_GEN, 5)
    rec = copy.deepcopy(mpc.contributions[-1])
    rec.type, rec.params = 0, build_params("forger")
    rec.g1_s, rec.g1_sx = g1_s, g1_mul(g1_s, d)
    rec.transcript = transcript_for(mpc.cs_hash, mpc.contributions, rec.g1_s, rec.g1_sx)
    rec.g2_spx = g2_mul(hash_to_g2(rec.transcript), d)  # a valid proof of knowledge of d ...
    rec.delta_after = forged.delta1
    mpc.contributions.append(rec)
    assert _verify(env, forged, tmp_path / "f.zkey", mpc) == []  # ... d applied on top IS a contribution
    # but claiming a delta the record's secret does not lead to (here: d * G1 itself, i.e. a fully
    # known trapdoor) fails, with the honest C/H rescaled accordingly or not.
    trap = apply_delta(final, 1)
    trap.delta1 = g1_mul(G1_GEN, d)
    rec2 = copy.deepcopy(rec)
    rec2.delta_after = trap.delta1
    mpc2 = copy.deepcopy(final.mpc)
    mpc2.contributions.append(rec2)
    failed = _verify(env, trap, tmp_path / "t.zkey", mpc2)
    assert "contribution[5].delta_follows" in failed
    # a replayed proof (the previous record's points) on a new step: the transcript no longer matches
    mpc3 = copy.deepcopy(final.mpc)
    replay = copy.deepcopy(mpc3.contributions[-1])
    replay.delta_after = forged.delta1
    mpc3.contributions.append(replay)
    assert "contribution[5].transcript" in _verify(env, forged, tmp_path / "r.zkey", mpc3)


def test_tampered_c_or_h_point_is_rejected(env: dict[str, Any], tmp_path: Path) -> None:
    """One C (private-signal) or H point shifted: the random-combination pairing checks see it."""
    for field, check in (("c_g1", "key.c_scaled_by_delta"), ("h_g1", "key.h_scaled_by_delta")):
        bad = copy.deepcopy(env["final"])
        pts = getattr(bad, field)
        pts[3] = g1_mul(G1_GEN, 1) if pts[3] is None else g1_add_aff(pts[3], G1_GEN)
        assert _verify(env, bad, tmp_path / f"{field}.zkey") == [check]


def test_records_of_another_zkey_are_rejected(env: dict[str, Any], tmp_path: Path) -> None:
    """(c) Section 10 copied from another ceremony (same circuit, same ptau) or an earlier stage."""
    other = contribute(env["setup"], "another ceremony", "other").key
    assert other.mpc is not None and env["final"].mpc is not None
    failed = _verify(env, env["final"], tmp_path / "c1.zkey", other.mpc)
    assert "key.delta1_is_last_contribution" in failed
    failed = _verify(env, env["final"], tmp_path / "c2.zkey", env["gov"].mpc)
    assert "key.delta1_is_last_contribution" in failed
    # records moved to a key with a different circuit hash: every transcript breaks
    moved = copy.deepcopy(env["final"].mpc)
    moved.cs_hash = bytes(64)
    failed = _verify(env, env["final"], tmp_path / "c3.zkey", moved)
    assert {"mpc.circuit_hash", "contribution[1].transcript", "contribution[4].transcript"} <= set(failed)


def test_tampered_beacon_parameters_are_rejected(env: dict[str, Any], tmp_path: Path) -> None:
    """(d) The beacon's hash and iteration count are not in the transcript: only recomputing catches them."""
    final = env["final"]
    for bh, exp in ((bytes.fromhex("5d" + "5c" * 31), 10), (BEACON, 11), (BEACON[:31], 10)):
        mpc = copy.deepcopy(final.mpc)
        assert mpc is not None
        mpc.contributions[-1].params = build_params("final beacon", (bh, exp))
        assert _verify(env, final, tmp_path / "b.zkey", mpc) == ["contribution[4].beacon"]
    # a beacon-typed record that was really a private contribution
    mpc = copy.deepcopy(env["gov"].mpc)
    assert mpc is not None
    mpc.contributions[-1].type = 1
    mpc.contributions[-1].params = build_params("fake beacon", (BEACON, 10))
    assert _verify(env, env["gov"], tmp_path / "b2.zkey", mpc) == ["contribution[3].beacon"]


# ---------------------------------------------------------------- contributor identity


def test_signed_contribution_recovers_its_signer(env: dict[str, Any]) -> None:
    from eth_account import Account

    gov = Account.from_key(GOV_KEY).address
    assert contribution_signers(env["dir"] / "final.zkey") == [None, None, gov, None]
    name = env["final"].mpc.contributions[2].name
    assert split_signed_name(name) is not None and split_signed_name(name)[0] == "governance"  # type: ignore[index]
    assert len(name) <= 64 and len(name.encode()) <= 255  # survives snarkjs's name.substring(0, 64)


def test_forged_signatures_recover_nothing(env: dict[str, Any]) -> None:
    from eth_account import Account

    gov = Account.from_key(GOV_KEY).address
    mpc = copy.deepcopy(env["final"].mpc)
    recs = mpc.contributions
    signed_name = recs[2].name
    # a copied signature (the governance name moved to the operator's contribution)
    recs[1].params = build_params(signed_name)
    # governance's genuine signature over another contribution's hash, claimed for this one
    addr, sig = sign_contribution(recs[0].contribution_hash(), GOV_KEY)
    recs[3].params = build_params(encode_signed_name("gov", addr, sig), (BEACON, 10))
    # a signature by the operator claiming to be governance's
    _, op_sig = sign_contribution(recs[0].contribution_hash(), OPERATOR_KEY)
    recs[0].params = build_params(encode_signed_name("gov", gov, op_sig))
    assert contribution_signers(mpc) == [None, None, gov, None]
    # one flipped bit in the signature, or a changed record (its hash): nothing
    label, claimed, good = split_signed_name(signed_name)  # type: ignore[misc]
    bad = bytes([good[0] ^ 1]) + good[1:]
    recs[2].params = build_params(encode_signed_name(label, claimed, bad))
    assert contribution_signers(mpc)[2] is None
    recs[2].params = build_params(signed_name)
    recs[2].g1_sx = recs[1].g1_sx
    assert contribution_signers(mpc)[2] is None


def test_signed_name_limits() -> None:
    with pytest.raises(ValueError, match="at most 13"):
        encode_signed_name("governance council", "0x" + "00" * 20, bytes(65))
    with pytest.raises(ValueError, match="64 characters"):
        build_params("x" * 65)


# ---------------------------------------------------------------- CLI


def test_cli_contribute_beacon_verify(env: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = env["dir"]
    a, b = tmp_path / "a.zkey", tmp_path / "b.zkey"
    key_file = tmp_path / "gov.key"
    key_file.write_text(GOV_KEY + "\n")
    assert cli(["setup", "contribute", "--zkey", str(d / "setup.zkey"), "--out", str(a), "--name", "gov",
                "--entropy", "dice 4 2 6", "--signer-key", f"@{key_file}"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Contribution Hash: \n\t\t" in out and "signed by 0x" in out
    assert cli(["setup", "beacon", "--zkey", str(a), "--out", str(b), "--beacon", BEACON.hex(),
                "--iterations", "10"]) == 0  # fmt: skip
    verify = ["verify-setup", "--zkey", str(b), "--r1cs", str(d / "c.r1cs"), "--ptau", str(d / "p.ptau")]
    assert cli(verify) == 0
    assert "zkey ceremony: OK" in capsys.readouterr().out
    write_zkey(apply_delta(read_zkey(b), 3), tmp_path / "bad.zkey")
    assert cli([*verify[:2], str(tmp_path / "bad.zkey"), *verify[3:]]) == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["setup", "contribute", "--zkey", "{missing}", "--out", "{out}"], "--zkey"),
        (["setup", "contribute", "--zkey", "{setup}", "--out", "{out}", "--signer-key", "0x12"], "--signer-key"),
        (["setup", "contribute", "--zkey", "{setup}", "--out", "{out}", "--name", "n" * 70], "--name"),
        (["setup", "contribute", "--zkey", "{dev}", "--out", "{out}"], "--zkey"),
        (["setup", "beacon", "--zkey", "{setup}", "--out", "{out}", "--beacon", "xyz", "--iterations", "10"],
         "--beacon"),
        (["setup", "beacon", "--zkey", "{setup}", "--out", "{out}", "--beacon", "00", "--iterations", "5"],
         "--iterations"),
        (["verify-setup", "--zkey", "{missing}", "--r1cs", "{r1cs}", "--ptau", "{ptau}"], "--zkey"),
        (["verify-setup", "--zkey", "{setup}", "--r1cs", "{r1cs}", "--ptau", "{setup}"], "--ptau"),
        (["verify-setup", "--zkey", "{setup}", "--r1cs", "{r1cs}"], "--ptau"),
        (["setup", "--out", "{out}"], "--r1cs"),
    ],
)  # fmt: skip
def test_cli_bad_input_exit_2(
    env: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], field: str
) -> None:
    d = env["dir"]
    write_zkey(dev_setup(env["r1cs"]), tmp_path / "dev.zkey")
    subs = {"missing": tmp_path / "nope.zkey", "out": tmp_path / "out.zkey", "setup": d / "setup.zkey",
            "dev": tmp_path / "dev.zkey", "r1cs": d / "c.r1cs", "ptau": d / "p.ptau"}  # fmt: skip
    assert cli([a.format(**subs) for a in args]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err
    assert not (tmp_path / "out.zkey").exists()


# ---------------------------------------------------------------- snarkjs in both directions


def _snarkjs_verify(run_tool: Callable[..., Any], r1cs: Path, ptau: Path, zkey: Path) -> bool:
    res = run_tool("snarkjs", "zkey", "verify", r1cs, ptau, zkey)
    return res.returncode == 0 and "ZKey Ok!" in res.stdout


@pytest.fixture(scope="module")
def sj(run_tool: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A snarkjs-made phase 1 (power 7) and our circuit: the supported production path."""
    d = tmp_path_factory.mktemp("sj")
    write_r1cs(_circuit(), d / "c.r1cs")
    for args in (
        ("powersoftau", "new", "bn128", "7", "p0.ptau"),
        ("powersoftau", "contribute", "p0.ptau", "p1.ptau", "-e=phase one", "-n=p1"),
        ("powersoftau", "prepare", "phase2", "p1.ptau", "p.ptau"),
    ):
        res = run_tool("snarkjs", *args, cwd=d)
        assert res.returncode == 0, res.stdout + res.stderr
    return {"dir": d, "r1cs": d / "c.r1cs", "ptau": d / "p.ptau"}


@pytest.mark.snarkjs
def test_snarkjs_verifies_ours_and_we_verify_theirs(sj: dict[str, Path], run_tool: Callable[..., Any]) -> None:
    d, r1cs, ptau = sj["dir"], sj["r1cs"], sj["ptau"]
    assert cli(["setup", "--r1cs", str(r1cs), "--out", str(d / "k"), "--ptau", str(ptau), "--contributions", "2"]) == 0
    ours = d / "k" / "circuit.zkey"
    assert _snarkjs_verify(run_tool, r1cs, ptau, ours)
    # a signed contribution and a beacon by our CLI: snarkjs still verifies (names within its limits)
    assert cli(["setup", "contribute", "--zkey", str(ours), "--out", str(d / "g.zkey"), "--name", "governance",
                "--signer-key", GOV_KEY]) == 0  # fmt: skip
    assert cli(["setup", "beacon", "--zkey", str(d / "g.zkey"), "--out", str(d / "gb.zkey"), "--beacon", "abcd",
                "--iterations", "10", "--name", "ours"]) == 0  # fmt: skip
    assert _snarkjs_verify(run_tool, r1cs, ptau, d / "gb.zkey")
    # snarkjs contributes and beacons on top of ours: we verify, and the signature survived its rewrite
    for args in (
        ("zkey", "contribute", d / "g.zkey", d / "s1.zkey", "-e=snarkjs entropy", "-n=snarkjs contributor"),
        ("zkey", "beacon", d / "s1.zkey", d / "s2.zkey", BEACON.hex(), "10", "-n=snarkjs beacon"),
    ):
        res = run_tool("snarkjs", *args)
        assert res.returncode == 0, res.stdout + res.stderr
    rep = verify_zkey_ceremony(d / "s2.zkey", r1cs, ptau)
    assert rep.ok, rep.render()
    from eth_account import Account

    assert contribution_signers(d / "s2.zkey") == [None, None, Account.from_key(GOV_KEY).address, None, None]
    # our contribution on snarkjs's key, and snarkjs verifies that
    assert cli(["setup", "contribute", "--zkey", str(d / "s2.zkey"), "--out", str(d / "o.zkey")]) == 0
    assert _snarkjs_verify(run_tool, r1cs, ptau, d / "o.zkey")
    assert cli(["verify-setup", "--zkey", str(d / "o.zkey"), "--r1cs", str(r1cs), "--ptau", str(ptau)]) == 0


@pytest.mark.snarkjs
def test_attacks_rejected_by_snarkjs_too(sj: dict[str, Path], run_tool: Callable[..., Any], tmp_path: Path) -> None:
    """The same attack keys, for snarkjs zkey verify: (a) rescaled delta without a record, (c) another
    key's records, (d) a tampered beacon; (b) a key without contributions it accepts, we do not."""
    r1cs, ptau = sj["r1cs"], sj["ptau"]
    res = run_tool("snarkjs", "groth16", "setup", r1cs, ptau, tmp_path / "s0.zkey")
    assert res.returncode == 0, res.stdout + res.stderr
    assert _snarkjs_verify(run_tool, r1cs, ptau, tmp_path / "s0.zkey")  # snarkjs: "ZKey Ok!" at delta = 1
    rep = verify_zkey_ceremony(tmp_path / "s0.zkey", r1cs, ptau)
    assert [c.name for c in rep.failed()] == ["mpc.has_contributions"]
    k0 = read_zkey(tmp_path / "s0.zkey")
    one = contribute(k0, "one", "one").key
    two = beacon(contribute(k0, "two", "two").key, BEACON, 10, "b").key
    attacks = {
        "a": (apply_delta(one, 77, one.mpc), None),
        "c": (one, two.mpc),
        "d": (two, MpcParams(two.mpc.cs_hash, [*two.mpc.contributions[:-1], copy.deepcopy(two.mpc.contributions[-1])])),  # type: ignore[union-attr]
    }
    attacks["d"][1].contributions[-1].params = build_params("b", (BEACON, 11))  # type: ignore[union-attr]
    for tag, (key, mpc) in attacks.items():
        path = tmp_path / f"{tag}.zkey"
        write_zkey(key, path, mpc)
        assert not _snarkjs_verify(run_tool, r1cs, ptau, path), tag
        assert not verify_zkey_ceremony(path, r1cs, ptau).ok, tag
    write_zkey(one, tmp_path / "one.zkey")
    assert _snarkjs_verify(run_tool, r1cs, ptau, tmp_path / "one.zkey")


@pytest.mark.snarkjs
def test_our_phase1_ptau_and_snarkjs(run_tool: Callable[..., Any], tmp_path: Path) -> None:
    """What snarkjs can check of a fully local ceremony: `zkey verify` accepts the phase-2 key over our
    exported phase 1 once prepared (it never looks at the .ptau's contribution records), but
    `powersoftau verify` rejects our .ptau (no snarkjs contribution records): our phase 1 is checked
    only by `verify-setup --transcript`. Production: phase 1 from a snarkjs/public .ptau."""
    r1cs = _circuit()
    write_r1cs(r1cs, tmp_path / "c.r1cs")
    assert cli(["setup", "--r1cs", str(tmp_path / "c.r1cs"), "--out", str(tmp_path / "k")]) == 0
    acc = Phase1Accumulator.from_bytes((tmp_path / "k/transcript/phase1/accumulator_0002.bin").read_bytes())
    write_ptau(tmp_path / "ours.ptau", acc)
    res = run_tool("snarkjs", "powersoftau", "verify", tmp_path / "ours.ptau")
    assert res.returncode != 0
    res = run_tool("snarkjs", "powersoftau", "prepare", "phase2", tmp_path / "ours.ptau", tmp_path / "prep.ptau")
    assert res.returncode == 0, res.stdout + res.stderr
    zkey = tmp_path / "k" / "circuit.zkey"
    assert _snarkjs_verify(run_tool, tmp_path / "c.r1cs", tmp_path / "prep.ptau", zkey)
    assert verify_zkey_ceremony(zkey, r1cs, tmp_path / "prep.ptau").ok


def test_auditor_check_imports_no_prover(env: dict[str, Any]) -> None:
    """verify-setup --zkey and contribution_signers run with zkmargin.prover unimportable."""
    import subprocess
    import sys

    d = env["dir"]
    code = f"""
import sys
sys.modules["zkmargin.prover"] = None
from zkmargin.cli import main
from zkmargin.verifier.contributor_identity import contribution_signers
assert main(["verify-setup", "--zkey", {str(d / "final.zkey")!r}, "--r1cs", {str(d / "c.r1cs")!r},
             "--ptau", {str(d / "p.ptau")!r}]) == 0
assert sum(1 for s in contribution_signers({str(d / "final.zkey")!r}) if s) == 1
assert not any(m.startswith("zkmargin.prover") and sys.modules[m] is not None for m in sys.modules)
print("no prover")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "no prover" in r.stdout, r.stdout + r.stderr
