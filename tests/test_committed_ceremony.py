"""Multi-party setup for committed (BSB22) keys: an honest ceremony verifies and proves; every attack on it (a
contribution inconsistent in sigma, k or delta, a known sigma without a proof of knowledge, a key other than the
transcript's, committed wires keeping their C points, reordered or snarkjs-made records, a swapped signed part) is
rejected by a named check of ``verifier.committed_ceremony``; the audit's gate treats committed keys as plain ones.

Each attack record is built by the same code as an honest one (``next_state`` + ``make_record``), changing only the
one thing the attacker changes, and each test has the honest control on the same path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account as EthAccount

from zkmargin.circuits.curve import G1_GEN, G2_GEN, g1_mul, g2_mul, g2_neg
from zkmargin.circuits.field import R
from zkmargin.circuits.formats import write_r1cs
from zkmargin.circuits.r1cs import ConstraintSystem
from zkmargin.cli import main
from zkmargin.prover.committed import CommitmentKey, CommittedProvingKey, prove_committed
from zkmargin.prover.ptau import prepared_from_ptau, read_ptau, write_dev_prepared_ptau
from zkmargin.prover.setup.committed_ceremony import (
    CommittedCeremony,
    Step,
    append_contribution,
    beacon_committed,
    contribute_committed,
    initial_committed_key,
    load_committed_setup,
    make_record,
    next_state,
    run_committed_ceremony,
    save_committed_setup,
)
from zkmargin.prover.setup.phase2 import apply_delta, initial_key
from zkmargin.prover.setup.zkey_phase2 import contribute as snarkjs_contribute
from zkmargin.verifier.committed import CommittedVerifyingKey, verify_committed
from zkmargin.verifier.committed_ceremony import (
    SecretKey,
    binding_hash,
    draw_secrets,
    extra_transcript,
    hash_to_g1,
    k_challenge,
    read_transcript,
    sigma_challenge,
    verify_committed_setup,
)
from zkmargin.verifier.contributor_identity import contribution_signer
from zkmargin.verifier.public_phase1 import blake2b_file
from zkmargin.verifier.report import Report
from zkmargin.verifier.setup_audit import audit_setup
from zkmargin.verifier.snarkjs_rng import hash_to_g2, rng_from_entropy
from zkmargin.verifier.zkey_ceremony import verify_zkey_ceremony
from zkmargin.verifier.zkey_mpc import Contribution, transcript_for

GOV_KEY = "0x" + "4f" * 32
OPERATOR_KEY = "0x" + "a1" * 32
GOV = EthAccount.from_key(GOV_KEY).address
BEACON = (bytes.fromhex("c0ffee"), 10)


def _circuit() -> ConstraintSystem:
    """x private, y public, out = x^2 + y, x and x^2 committed; the challenge must differ from x."""
    cs = ConstraintSystem()
    x = cs.input("x")
    y = cs.input("y", public=True)
    t = cs.mul(x, x, "t")
    cs.output("out", t + y)
    c = cs.commit([x, t])
    inv = cs.hint1("inv", lambda a, b: pow((a - b) % R, R - 2, R), c, x)
    cs.constrain(c - x, inv, 1, "c != x")
    return cs


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("committed_ceremony")
    cs = _circuit()
    r1cs = cs.compile()
    # stands in for a public phase-1 file (the audit tests list its BLAKE2b as trusted)
    write_dev_prepared_ptau(d / "public.ptau", 4, tau=0x5151, alpha=0x77, beta=0x99)
    c0 = initial_committed_key(r1cs, d / "public.ptau")
    c1 = contribute_committed(c0, "alice's entropy", "alice", OPERATOR_KEY)
    c2 = contribute_committed(c1, "governance entropy", "governance", GOV_KEY)
    c3 = beacon_committed(c2, *BEACON, name="beacon")
    save_committed_setup(c3, d / "honest")
    save_committed_setup(c1, d / "operator_only")
    return {"dir": d, "cs": cs, "r1cs": r1cs, "ptau": d / "public.ptau", "chain": [c0, c1, c2, c3]}


def check(env: dict[str, Any], cer: CommittedCeremony, name: str) -> Report:
    save_committed_setup(cer, env["dir"] / name)
    return verify_committed_setup(env["dir"] / name, env["r1cs"], env["ptau"])


def failed(rep: Report) -> list[str]:
    assert rep.malformed is None, rep.malformed
    return [c.name for c in rep.failed()]


def _forge(
    cer: CommittedCeremony, change: Any = None, secrets: tuple[int, int, int] = (0x1111, 0x2222, 0x3333)
) -> CommittedCeremony:
    """A contribution by ``secrets`` whose update (a ``Step``: base key, state, PoK bases) is passed through
    ``change`` before it is recorded (binding, delta record and proofs of knowledge all computed for the changed
    state, as an attacker would)."""
    x, s, t = secrets
    step = next_state(cer, x, s, t)
    if change is not None:
        step = change(cer, step)
    draw = draw_secrets(rng_from_entropy("attacker"))
    rec = make_record(cer, step.state, x, s, t, draw, name="mallory")
    return append_contribution(cer, step.base, step.pok_bases, rec)


def _known_sigma(prev: CommittedCeremony, step: Step, known: int = 42) -> Step:
    """sigma set to ``known``: every PoK base and [-sigma]_2 consistent with it (so the key itself is coherent)."""
    bases = [*prev.key.commitment.bases[:-1], step.state.mask_base]
    pok = [g1_mul(b, known) for b in bases]
    st = dataclasses.replace(step.state, mask_pok=pok[-1], g2_sigma_neg=g2_mul(g2_neg(G2_GEN), known))
    return Step(step.base, st, pok)


# ---------------------------------------------------------------- honest ceremony


def test_honest_ceremony_verifies(env: dict[str, Any]) -> None:
    rep = verify_committed_setup(env["dir"] / "honest", env["r1cs"], env["ptau"])
    assert rep.ok, rep.render()
    names = {c.name for c in rep.checks}
    for n in ("contribution[2].sigma_proof_of_knowledge", "contribution[2].k_follows", "contribution[3].beacon",
              "contribution[3].beacon_sigma_k", "key.committed_c_removed", "vk.g2_sigma_neg"):  # fmt: skip
        assert n in names
    key = env["chain"][-1].key
    # sigma, k and delta all moved away from their public start (1)
    assert key.commitment.pok_bases != key.commitment.bases
    assert key.commitment.bases[-1] != G1_GEN and key.commitment.mask_delta != G1_GEN
    assert key.vk.g2_sigma_neg != g2_neg(G2_GEN) and key.base.delta2 != G2_GEN
    # the signatures sit in the delta records, as for plain keys
    signers = [contribution_signer(r.delta) for r in env["chain"][-1].records]
    assert signers[1] == GOV and signers[2] is None


def test_ceremony_key_proves_end_to_end(env: dict[str, Any]) -> None:
    cs = env["cs"]
    loaded = load_committed_setup(env["dir"] / "honest")
    proof, public = prove_committed(loaded.key, cs, {"x": 5, "y": 7})
    assert public == [32, 7]
    assert verify_committed(loaded.key.vk, proof, public)
    assert not verify_committed(loaded.key.vk, proof, [33, 7])


def test_run_committed_ceremony(env: dict[str, Any], tmp_path: Path) -> None:
    key = run_committed_ceremony(env["r1cs"], tmp_path / "transcript", phase1=env["ptau"], contributions=2,
                                 beacon=BEACON, signer_keys=[None, GOV_KEY])  # fmt: skip
    assert isinstance(key, CommittedProvingKey)
    tr = read_transcript(tmp_path / "transcript")
    assert len(tr.records) == 3 and contribution_signer(tr.records[1].delta) == GOV
    save_committed_setup(CommittedCeremony(key, tr), tmp_path / "setup")
    rep = verify_committed_setup(tmp_path / "setup", env["r1cs"], env["ptau"])
    assert rep.ok, rep.render()
    proof, public = prove_committed(key, env["cs"], {"x": 3, "y": 1})
    assert verify_committed(key.vk, proof, public)


def test_forge_helper_control(env: dict[str, Any]) -> None:
    """Control for the attacks: the attacker's code path with no change is an honest contribution."""
    assert check(env, _forge(env["chain"][2]), "control").ok


# ---------------------------------------------------------------- attacks on a contribution


def test_sigma_moved_but_pok_bases_not(env: dict[str, Any]) -> None:
    """[-sigma]_2 multiplied by s, the wires' PoK bases left as they were (still the previous sigma's)."""

    def change(prev: CommittedCeremony, step: Step) -> Step:
        return Step(step.base, step.state, [*prev.key.commitment.pok_bases[:-1], step.pok_bases[-1]])

    cer = _forge(env["chain"][2], change)
    assert failed(check(env, cer, "pok_stale")) == ["commitment.pok_bases_follow_sigma"]


def test_mask_pok_base_not_moved_with_sigma(env: dict[str, Any]) -> None:
    """The mask's PoK base sigma*G_m (part of each contribution's state) left at the previous sigma."""

    def change(prev: CommittedCeremony, step: Step) -> Step:
        old = g1_mul(prev.state.mask_pok, 0x3333)  # moved by t (k's update), not by s
        return Step(step.base, dataclasses.replace(step.state, mask_pok=old), [*step.pok_bases[:-1], old])

    got = failed(check(env, _forge(env["chain"][2], change), "mask_pok_stale"))
    assert got == ["contribution[3].mask_pok_follows_sigma", "commitment.pok_bases_follow_sigma"]


def test_pok_bases_moved_by_another_factor(env: dict[str, Any]) -> None:
    def change(prev: CommittedCeremony, step: Step) -> Step:
        return Step(step.base, step.state, [*(g1_mul(p, 2) for p in step.pok_bases[:-1]), step.pok_bases[-1]])

    assert failed(check(env, _forge(env["chain"][2], change), "pok_other")) == ["commitment.pok_bases_follow_sigma"]


@pytest.mark.parametrize("how", ["unchanged", "k_only"])
def test_mask_delta_stale_after_delta_update(env: dict[str, Any], how: str) -> None:
    """delta multiplied by x, [k/delta]_1 not divided by it: the prover could no longer cancel the mask (or, with
    an old delta, cancel it against a stale key)."""
    x, s, t = 0x1111, 0x2222, 0x3333

    def change(prev: CommittedCeremony, step: Step) -> Step:
        old = prev.state.mask_delta
        st = dataclasses.replace(step.state, mask_delta=old if how == "unchanged" else g1_mul(old, t))
        return Step(step.base, st, step.pok_bases)

    rep = check(env, _forge(env["chain"][2], change, (x, s, t)), f"mask_delta_{how}")
    assert failed(rep) == ["contribution[3].mask_delta_follows"]


def test_known_sigma_without_proof_of_knowledge(env: dict[str, Any]) -> None:
    """The last contributor wants sigma = 42 (then it could open any D: PoK = 42*D). It cannot know the ratio
    42/sigma_prev, but it can build a G1 pair with that ratio from public points ([sigma k]_1 and 42*[k]_1), so
    sigma_follows holds; the G2 half of the proof of knowledge, on a hash-derived point, it cannot make."""
    prev = env["chain"][2]
    known = 42
    x, t = 0x1111, 0x3333
    step = _known_sigma(prev, next_state(prev, x, 5, t), known)
    ps = prev.state
    draw = draw_secrets(rng_from_entropy("mallory"))
    # ratio 42/sigma_prev without knowing sigma_prev: g1_s = [sigma k]_1, g1_sx = 42 [k]_1
    g1_s, g1_sx = ps.mask_pok, g1_mul(ps.mask_base, known)
    rec = make_record(prev, step.state, x, 5, t, dataclasses.replace(draw, sigma_g1_s=G1_GEN), name="mallory")
    tr = extra_transcript(prev.transcript.cs_hash, prev.records, (g1_s, g1_sx), (rec.k.g1_s, rec.k.g1_sx))
    forged = SecretKey(g1_s, g1_sx, g2_mul(sigma_challenge(tr), known))  # its best guess at the G2 half
    k = SecretKey(rec.k.g1_s, rec.k.g1_sx, g2_mul(k_challenge(tr), t))  # k's key redone on the new transcript
    rec = _rebind(prev, dataclasses.replace(rec, sigma=forged, k=k), x)
    rep = check(env, append_contribution(prev, step.base, step.pok_bases, rec), "known_sigma")
    assert failed(rep) == ["contribution[3].sigma_proof_of_knowledge"]


def test_known_sigma_with_unrelated_proof(env: dict[str, Any]) -> None:
    """Same goal, with a valid proof of knowledge of some s it does know: sigma did not move by that s."""

    got = failed(check(env, _forge(env["chain"][2], _known_sigma), "known_sigma2"))
    assert got == ["contribution[3].sigma_follows"]


def _rebind(prev: CommittedCeremony, rec: Any, x: int) -> Any:
    """Recompute the delta record over a changed sigma/k part (binding, transcript, delta proof), as the attacker
    who holds x can."""
    cs = prev.transcript.cs_hash
    tr = extra_transcript(cs, prev.records, (rec.sigma.g1_s, rec.sigma.g1_sx), (rec.k.g1_s, rec.k.g1_sx))
    g1_s = hash_to_g1(binding_hash(tr, rec.sigma, rec.k, rec.state))
    g1_sx = g1_mul(g1_s, x)
    dt = transcript_for(cs, [r.delta for r in prev.records], g1_s, g1_sx)
    d = Contribution(rec.state.delta1, g1_s, g1_sx, g2_mul(hash_to_g2(dt), x), dt, 0, rec.delta.params)
    return dataclasses.replace(rec, delta=d)


def test_k_moved_without_its_secret(env: dict[str, Any]) -> None:
    """The mask base set to a known multiple of G1 (k = 7 known: then [k/delta]_1 gives [1/delta]_1)."""

    def change(prev: CommittedCeremony, step: Step) -> Step:
        return Step(step.base, dataclasses.replace(step.state, mask_base=g1_mul(G1_GEN, 7)), step.pok_bases)

    rep = check(env, _forge(env["chain"][2], change), "known_k")
    assert "contribution[3].k_follows" in failed(rep)


def test_swapped_part_of_a_signed_contribution(env: dict[str, Any]) -> None:
    """The operator keeps governance's signed delta record and swaps in its own sigma key: the signature still
    recovers governance (it covers the delta record), the binding check refuses the swap."""
    c2 = env["chain"][2]
    gov = c2.records[-1]
    prev = env["chain"][1]
    draw = draw_secrets(rng_from_entropy("operator"))
    s_op = 0x77
    sx = g1_mul(draw.sigma_g1_s, s_op)
    tr = extra_transcript(prev.transcript.cs_hash, prev.records, (draw.sigma_g1_s, sx), (gov.k.g1_s, gov.k.g1_sx))
    swapped = dataclasses.replace(gov, sigma=SecretKey(draw.sigma_g1_s, sx, g2_mul(sigma_challenge(tr), s_op)))
    assert contribution_signer(swapped.delta) == GOV
    cer = CommittedCeremony(c2.key, dataclasses.replace(c2.transcript, records=[*prev.records, swapped]))
    rep = check(env, cer, "swapped")
    assert "contribution[2].binding" in failed(rep)


def test_reordered_or_dropped_contributions(env: dict[str, Any]) -> None:
    c3 = env["chain"][3]
    r = c3.records
    dropped = CommittedCeremony(c3.key, dataclasses.replace(c3.transcript, records=[r[0], r[2]]))
    assert "contribution[2].transcript" in failed(check(env, dropped, "dropped"))


def test_snarkjs_contribution_is_refused(env: dict[str, Any]) -> None:
    """``snarkjs zkey contribute`` on the base key: delta, C, H move, [k/delta]_1 does not, and the record is not
    in the committed transcript."""
    c3 = env["chain"][3]
    step = snarkjs_contribute(c3.key.base, "snarkjs user", "snarkjs")
    key = dataclasses.replace(c3.key, base=step.key, vk=CommittedVerifyingKey(step.key.verifying_key(),
                                                                              c3.key.vk.g2_sigma_neg))  # fmt: skip
    got = failed(check(env, CommittedCeremony(key, c3.transcript), "snarkjs"))
    assert "key.records_are_transcript" in got and "key.delta_is_last_state" in got


# ---------------------------------------------------------------- attacks on the final key


@pytest.mark.parametrize("what", ["sigma", "mask_delta", "delta"])
def test_final_key_differs_from_transcript(env: dict[str, Any], what: str) -> None:
    """The operator proves with a key it knows a trapdoor of, next to an honest transcript."""
    c3 = env["chain"][3]
    key = c3.key
    ck = key.commitment
    if what == "sigma":  # sigma = 42: PoK bases and [-sigma]_2 of a known sigma
        known = CommitmentKey(ck.bases, [g1_mul(b, 42) for b in ck.bases], ck.mask_delta)
        key = dataclasses.replace(
            key, commitment=known, vk=CommittedVerifyingKey(key.vk.base, g2_mul(g2_neg(G2_GEN), 42))
        )
        want = {"commitment.mask_pok", "commitment.pok_bases_follow_sigma", "vk.g2_sigma_neg"}
    elif what == "mask_delta":
        key = dataclasses.replace(key, commitment=CommitmentKey(ck.bases, ck.pok_bases, g1_mul(ck.mask_delta, 3)))
        want = {"commitment.mask_delta"}
    else:  # delta rescaled by a known factor, no contribution record
        base = apply_delta(key.base, 0xDEADBEEF, key.base.mpc)
        key = dataclasses.replace(key, base=base, vk=CommittedVerifyingKey(base.verifying_key(), key.vk.g2_sigma_neg))
        want = {"key.delta_is_last_state"}
    assert set(failed(check(env, CommittedCeremony(key, c3.transcript), f"final_{what}"))) == want


def test_committed_wires_keep_their_c_points(env: dict[str, Any]) -> None:
    """An initial key that leaves the committed wires' C points in place (everything else honest): a prover could
    then change committed values after the challenge (tests/test_committed.py::test_committed_values_removed_from_c)."""
    c0 = env["chain"][0]
    acc, _, bf = read_ptau(env["ptau"], 3)
    full = initial_key(env["r1cs"], prepared_from_ptau(bf, acc, 3))
    base = dataclasses.replace(c0.key.base, c_g1=list(full.c_g1))
    cer = CommittedCeremony(dataclasses.replace(c0.key, base=base), c0.transcript)
    cer = contribute_committed(cer, "e", "alice", GOV_KEY)
    got = failed(check(env, cer, "c_kept"))
    assert "key.committed_c_removed" in got


# ---------------------------------------------------------------- the audit gate and the CLI


def _audit(env: dict[str, Any], name: str, vk: Any, governance: str | None = GOV, dev: bool | None = False,
           trusted: Any = None) -> list[str]:  # fmt: skip
    rep = Report("setup")
    setup = {"kind": "ceremony", "zkey": f"{name}/circuit.zkey", "ptau": "public.ptau",
             "commitment_key": f"{name}/commitment_key.json"}  # fmt: skip
    audit_setup(rep, setup, env["dir"], lambda: env["r1cs"], vk, governance, dev,
                {blake2b_file(env["ptau"])} if trusted is None else trusted)  # fmt: skip
    assert rep.checks
    return [c.name for c in rep.failed()]


def test_audit_gate(env: dict[str, Any]) -> None:
    honest = env["chain"][3].key.vk
    assert _audit(env, "honest", honest) == []
    op = env["chain"][1].key.vk
    assert _audit(env, "operator_only", op) == [
        "setup: a phase-2 contribution is signed by governance (not only the operator)"
    ]
    assert _audit(env, "operator_only", op, dev=True) == []  # development-mode registry: a warning
    assert _audit(env, "honest", honest, trusted=set()) == [
        "setup: phase 1 is a public powers-of-tau file (not the operator's own)"
    ]
    assert "setup: the bundle's verifying key is the ceremony key's" in _audit(env, "honest", op)
    assert "setup: the bundle's verifying key is the ceremony key's" in _audit(env, "honest", honest.base)
    bad = _audit(env, "pok_stale", env["chain"][3].key.vk)  # a directory an attack test wrote
    assert any(n.startswith("setup: committed-key ceremony re-checked") for n in bad)


def test_cli_contribute_and_verify(env: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_r1cs(env["r1cs"], tmp_path / "c.r1cs")
    src, out = env["dir"] / "honest", tmp_path / "next"
    (tmp_path / "key").write_text(GOV_KEY)
    assert main(["setup", "contribute", "--zkey", str(src), "--out", str(out), "--name", "gov",
                 "--signer-key", f"@{tmp_path / 'key'}"]) == 0  # fmt: skip
    assert f"signed by {GOV}" in capsys.readouterr().out
    args = ["verify-setup", "--zkey", str(out), "--r1cs", str(tmp_path / "c.r1cs"), "--ptau", str(env["ptau"])]
    assert main(args) == 0
    assert "committed-key ceremony: OK" in capsys.readouterr().out
    assert main(["verify-setup", "--zkey", str(env["dir"] / "pok_stale"), *args[3:]]) == 1
    assert "commitment.pok_bases_follow_sigma" in capsys.readouterr().out


def test_plain_zkey_checks_reject_a_committed_key(env: dict[str, Any]) -> None:
    """snarkjs's checks (ours and ``snarkjs zkey verify``: "Circuit does not match") do not pass a committed key,
    so it cannot be mistaken for a plain one."""
    rep = verify_zkey_ceremony(env["dir"] / "honest" / "circuit.zkey", env["r1cs"], env["ptau"])
    got = [c.name for c in rep.failed()]
    assert "mpc.circuit_hash" in got and "key.c_scaled_by_delta" in got


def test_malformed_transcript_is_exit_2(env: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "setup"
    shutil.copytree(env["dir"] / "honest", d)
    p = d / "transcript" / "committed_ceremony.json"
    p.write_bytes(p.read_bytes()[:1000])
    rep = verify_committed_setup(d, env["r1cs"], env["ptau"])
    assert rep.exit_code == 2 and rep.malformed and "transcript" in rep.malformed
