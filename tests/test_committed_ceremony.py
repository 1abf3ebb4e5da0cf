"""Multi-party setup for committed (commitment-slot) keys: an honest ceremony verifies and proves; every attack on it
(a contribution inconsistent in eta, k or delta, wire bases not moved by exactly 1/s, eta skipped so the public bases
[L_i]_1 remain, a proof of knowledge of another value, a replayed record, a key other than the transcript's,
committed wires keeping their C points, a beacon's keys not the beacon's, snarkjs-made records, a swapped signed
part) is rejected by a named check of ``verifier.committed_ceremony``; the audit's gate treats committed keys as
plain ones.

Each attack record is built by the same code as an honest one (``next_state`` + ``make_record``), changing only the
one thing the attacker changes, and each test has the honest control on the same path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from committed_ceremony_helpers import check, failed
from committed_ceremony_helpers import handmade_record as _record
from committed_circuits import square_plus_y
from eth_account import Account as EthAccount

from zkmargin.circuits.curve import G1_GEN, G2_GEN, G1Affine, g1_mul, g2_mul, g2_neg
from zkmargin.circuits.field import R, inv
from zkmargin.circuits.formats import write_r1cs
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
    self_check,
)
from zkmargin.prover.setup.phase2 import apply_delta, initial_key
from zkmargin.prover.setup.zkey_phase2 import contribute as snarkjs_contribute
from zkmargin.verifier.committed import CommittedVerifyingKey, verify_committed
from zkmargin.verifier.committed_ceremony import (
    SecretKey,
    draw_secrets,
    eta_challenge,
    expected_beacon,
    extra_transcript,
    read_transcript,
    verify_committed_ceremony,
    verify_committed_setup,
)
from zkmargin.verifier.contributor_identity import contribution_signer
from zkmargin.verifier.public_phase1 import blake2b_file
from zkmargin.verifier.report import Report
from zkmargin.verifier.setup_audit import audit_setup
from zkmargin.verifier.snarkjs_rng import rng_from_entropy
from zkmargin.verifier.zkey_ceremony import verify_zkey_ceremony
from zkmargin.verifier.zkey_mpc import TYPE_BEACON

GOV_KEY = "0x" + "4f" * 32
OPERATOR_KEY = "0x" + "a1" * 32
GOV = EthAccount.from_key(GOV_KEY).address
BEACON = (bytes.fromhex("c0ffee"), 10)
SECRETS = (0x1111, 0x2222, 0x3333)  # (x, s, t): delta's, eta's and k's secrets of the attacker's contribution


_circuit = square_plus_y


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


def _forge(
    cer: CommittedCeremony,
    change: Callable[[CommittedCeremony, Step], Step] | None = None,
    secrets: tuple[int, int, int] = SECRETS,
    signer: str | None = None,
) -> CommittedCeremony:
    """A contribution by ``secrets`` whose update (a ``Step``: base key, wire bases, k's step, state) is passed
    through ``change`` before it is recorded (binding, delta record and proofs of knowledge all computed for the
    changed update, as an attacker would)."""
    x, s, t = secrets
    step = next_state(cer, x, s, t)
    if change is not None:
        step = change(cer, step)
    draw = draw_secrets(rng_from_entropy("attacker"))
    rec = make_record(cer, step, x, s, t, draw, name="mallory", signer_key=signer)
    return append_contribution(cer, step, rec)


def _pair(v: int, base: G1Affine = G1_GEN) -> tuple[G1Affine, G1Affine, int]:
    """An honest key half: (base, v*base, v)."""
    return base, g1_mul(base, v), v


def _stale_bases_dir(env: dict[str, Any]) -> Path:
    """A setup directory whose last contribution moved eta but left the wires' bases (written once)."""
    d = env["dir"] / "bases_stale_setup"
    if not d.is_dir():
        cer = _forge(
            env["chain"][2], lambda prev, step: dataclasses.replace(step, bases=prev.key.commitment.bases[:-1])
        )
        save_committed_setup(cer, d)
    return d


def _initial_bases(env: dict[str, Any]) -> list[G1Affine]:
    """[L_i]_1 of the committed wires: public, from phase 1 and the circuit (the bases before any contribution)."""
    return list(env["chain"][0].key.commitment.bases[:-1])


# ---------------------------------------------------------------- honest ceremony


def test_honest_ceremony_verifies(env: dict[str, Any]) -> None:
    rep = verify_committed_setup(env["dir"] / "honest", env["r1cs"], env["ptau"])
    assert rep.ok, rep.render()
    names = {c.name for c in rep.checks}
    for n in ("contribution[2].eta_proof_of_knowledge", "contribution[2].k_follows", "contribution[2].eta_follows",
              "contribution[2].mask_base_follows_eta", "contribution[3].beacon", "contribution[3].beacon_eta_k",
              "key.committed_c_removed", "commitment.bases_follow_eta", "key.eta_is_own_trapdoor",
              "vk.g2_eta"):  # fmt: skip
        assert n in names
    key = env["chain"][-1].key
    # eta, k and delta all moved away from their public start (1): the bases are no longer [L_i]_1
    assert key.commitment.bases[:-1] != _initial_bases(env)
    assert key.commitment.bases[-1] != G1_GEN and key.commitment.mask_delta != G1_GEN
    assert key.vk.g2_eta not in (G2_GEN, g2_neg(G2_GEN)) and key.base.delta2 != G2_GEN
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
    """Control for the attacks: the attacker's code paths with no change are an honest contribution."""
    assert check(env, _forge(env["chain"][2]), "control").ok
    prev = env["chain"][2]
    x, s, t = SECRETS
    step = next_state(prev, x, s, t)
    rec = _record(prev, step, x, _pair(s, G1_GEN), _pair(t, g1_mul(G1_GEN, 5)))
    assert check(env, append_contribution(prev, step, rec), "control_record").ok


# ---------------------------------------------------------------- attacks on a contribution


@pytest.mark.parametrize("how", ["stale", "other_factor", "one_wire"])
def test_bases_not_divided_by_exactly_s(env: dict[str, Any], how: str) -> None:
    """[eta]_2 multiplied by s, the wires' bases left at the previous eta, divided by 2s, or one of them off: the
    key then has a base that is not [L_i/eta]_1 (the final key's check against phase 1 refuses it)."""
    s = SECRETS[1]

    def change(prev: CommittedCeremony, step: Step) -> Step:
        old = prev.key.commitment.bases[:-1]
        if how == "stale":
            bases = list(old)
        elif how == "other_factor":
            bases = [g1_mul(b, inv(2 * s)) for b in old]
        else:
            bases = [step.bases[0], g1_mul(step.bases[1], 3)]
        return dataclasses.replace(step, bases=bases)

    rep = check(env, _forge(env["chain"][2], change), f"bases_{how}")
    assert failed(rep) == ["commitment.bases_follow_eta"]
    prev = env["chain"][2]
    bad = _forge(prev, change)
    assert [c.name for c in self_check(bad, prev).failed()] == ["key.bases_follow_eta"]
    assert self_check(_forge(prev), prev).ok  # the contributor's own check, honest control


def test_mask_base_not_moved_with_eta(env: dict[str, Any]) -> None:
    """The mask base multiplied by t (k's update) but not divided by s: it is not [k/eta]_1 for the new eta."""

    def change(prev: CommittedCeremony, step: Step) -> Step:
        return dataclasses.replace(step, state=dataclasses.replace(step.state, mask_base=step.k_step))

    got = failed(check(env, _forge(env["chain"][2], change), "mask_base_stale"))
    assert got == ["contribution[3].mask_base_follows_eta", "contribution[3].mask_delta_follows"]


@pytest.mark.parametrize("how", ["unchanged", "k_only"])
def test_mask_delta_stale_after_delta_update(env: dict[str, Any], how: str) -> None:
    """delta multiplied by x, [k/delta]_1 not divided by it: the prover could no longer cancel the mask (or, with
    an old delta, cancel it against a stale key)."""
    t = SECRETS[2]

    def change(prev: CommittedCeremony, step: Step) -> Step:
        old = prev.state.mask_delta
        st = dataclasses.replace(step.state, mask_delta=old if how == "unchanged" else g1_mul(old, t))
        return dataclasses.replace(step, state=st)

    rep = check(env, _forge(env["chain"][2], change), f"mask_delta_{how}")
    assert failed(rep) == ["contribution[3].mask_delta_follows"]


@pytest.mark.parametrize("s", [1, R - 1], ids=["one", "minus_one"])
def test_contribution_that_skips_eta(env: dict[str, Any], s: int) -> None:
    """The only contribution proves knowledge of s = 1 (or -1): every per-contribution check holds, eta stays +-1
    and the wires' bases are +-[L_i]_1, computable by anyone from phase 1 (then D can carry IC points and forge
    public inputs). The final key's check refuses it, and so does the audit's gate."""
    c0 = env["chain"][0]
    cer = _forge(c0, secrets=(SECRETS[0], s, SECRETS[2]), signer=GOV_KEY)
    assert cer.key.commitment.bases[:-1] == [b if s == 1 else g1_mul(b, R - 1) for b in _initial_bases(env)]
    assert failed(check(env, cer, f"eta_skipped_{s == 1}")) == ["key.eta_is_own_trapdoor"]
    assert [c.name for c in self_check(cer, c0).failed()] == ["key.eta_is_own_trapdoor"]
    got = _audit(env, f"eta_skipped_{s == 1}", cer.key.vk)
    assert got == [
        "setup: committed-key ceremony re-checked (delta, eta, k contributions against phase 1 and the circuit)"
    ]
    control = _forge(c0, signer=GOV_KEY)
    assert check(env, control, "eta_first_control").ok
    assert _audit(env, "eta_first_control", control.key.vk) == []


def test_first_contribution_setting_eta_to_delta(env: dict[str, Any]) -> None:
    """The first contributor knows the previous eta and delta (both 1), so it can make eta = delta with valid proofs:
    C and D then share a slot and committed values could move into C after the challenge. Refused by name."""
    x, _, t = SECRETS
    cer = _forge(env["chain"][0], secrets=(x, x, t))
    assert cer.key.vk.g2_eta == cer.key.base.delta2
    assert failed(check(env, cer, "eta_is_delta")) == ["key.eta_is_own_trapdoor"]


@pytest.mark.parametrize("which", ["eta_g2_half", "eta_both_halves", "k_g2_half", "k_g1_half"])
def test_proof_of_knowledge_of_another_value(env: dict[str, Any], which: str) -> None:
    """The update is by (s, t); the published keys prove something else: either the two halves disagree (the G1
    pair has the update's ratio, the G2 half another), or the whole key is for another value s'."""
    prev = env["chain"][2]
    x, s, t = SECRETS
    step = next_state(prev, x, s, t)
    other = 0x4444
    eta, k = _pair(s), _pair(t, g1_mul(G1_GEN, 5))
    if which == "eta_g2_half":
        eta = (eta[0], eta[1], other)
        want = ["contribution[3].eta_proof_of_knowledge"]
    elif which == "eta_both_halves":
        eta = _pair(other)
        want = ["contribution[3].eta_follows"]
    elif which == "k_g2_half":
        k = (k[0], k[1], other)
        want = ["contribution[3].k_proof_of_knowledge", "contribution[3].k_follows"]
    else:
        k = (k[0], g1_mul(k[0], other), t)
        want = ["contribution[3].k_proof_of_knowledge"]
    rec = _record(prev, step, x, eta, k)
    assert failed(check(env, append_contribution(prev, step, rec), f"pok_{which}")) == want


def test_known_eta_without_proof_of_knowledge(env: dict[str, Any]) -> None:
    """The last contributor wants eta = 42 (then the bases are [L_i/42]_1, from public points). It cannot know the
    ratio 42/eta_prev, but it can build a G1 pair with that ratio from public points ([L_0]_1 and 42 [L_0/eta]_1), so
    eta_follows holds; the G2 half of the proof of knowledge, on a hash-derived point, it cannot make (nor the mask
    base [k/42]_1, which needs eta_prev)."""
    prev = env["chain"][2]
    known = 42
    x, s, t = SECRETS
    honest = next_state(prev, x, s, t)
    lag0, base0 = _initial_bases(env)[0], prev.key.commitment.bases[0]
    st = dataclasses.replace(honest.state, g2_eta=g2_mul(G2_GEN, known), mask_base=honest.k_step)
    step = dataclasses.replace(honest, bases=[g1_mul(b, inv(known)) for b in _initial_bases(env)], state=st)
    eta = (lag0, g1_mul(base0, known), known)  # its best guess at the G2 half
    rec = _record(prev, step, x, eta, _pair(t, g1_mul(G1_GEN, 5)))
    got = failed(check(env, append_contribution(prev, step, rec), "known_eta"))
    # eta_follows holds and the bases are coherent with eta = 42: the proof of knowledge is what refuses eta
    assert got == ["contribution[3].eta_proof_of_knowledge", "contribution[3].mask_base_follows_eta",
                   "contribution[3].mask_delta_follows"]  # fmt: skip


def test_k_moved_without_its_secret(env: dict[str, Any]) -> None:
    """k's step set to a known point (k = 7 known: then [k/delta]_1 gives [1/delta]_1), the mask base made coherent
    with it and eta."""
    s = SECRETS[1]

    def change(prev: CommittedCeremony, step: Step) -> Step:
        k_step = g1_mul(G1_GEN, 7)
        st = dataclasses.replace(step.state, mask_base=g1_mul(k_step, inv(s)))
        return dataclasses.replace(step, k_step=k_step, state=st)

    rep = check(env, _forge(env["chain"][2], change), "known_k")
    assert failed(rep) == ["contribution[3].k_follows", "contribution[3].mask_delta_follows"]


def test_replayed_contribution(env: dict[str, Any]) -> None:
    """Governance's honest, signed contribution appended a second time (its state is the key's, so the key matches):
    its proofs were bound to the transcript before it, so at the next position nothing verifies."""
    c2 = env["chain"][2]
    gov = c2.records[-1]
    cer = CommittedCeremony(c2.key, dataclasses.replace(c2.transcript, records=[*c2.records, gov]))
    got = set(failed(check(env, cer, "replayed")))
    assert {"contribution[3].transcript", "contribution[3].binding", "contribution[3].eta_proof_of_knowledge",
            "contribution[3].k_proof_of_knowledge"} <= got  # fmt: skip
    assert not any(n.startswith("contribution[2]") for n in got)


def test_swapped_part_of_a_signed_contribution(env: dict[str, Any]) -> None:
    """The operator keeps governance's signed delta record and swaps in its own eta key: the signature still
    recovers governance (it covers the delta record), the binding check refuses the swap."""
    c2 = env["chain"][2]
    gov = c2.records[-1]
    prev = env["chain"][1]
    draw = draw_secrets(rng_from_entropy("operator"))
    s_op = 0x77
    sx = g1_mul(draw.eta_g1_s, s_op)
    tr = extra_transcript(prev.transcript.cs_hash, prev.records, (draw.eta_g1_s, sx), (gov.k.g1_s, gov.k.g1_sx))
    swapped = dataclasses.replace(gov, eta=SecretKey(draw.eta_g1_s, sx, g2_mul(eta_challenge(tr), s_op)))
    assert contribution_signer(swapped.delta) == GOV
    cer = CommittedCeremony(c2.key, dataclasses.replace(c2.transcript, records=[*prev.records, swapped]))
    rep = check(env, cer, "swapped")
    assert "contribution[2].binding" in failed(rep)


def test_reordered_or_dropped_contributions(env: dict[str, Any]) -> None:
    c3 = env["chain"][3]
    r = c3.records
    dropped = CommittedCeremony(c3.key, dataclasses.replace(c3.transcript, records=[r[0], r[2]]))
    assert "contribution[2].transcript" in failed(check(env, dropped, "dropped"))


def test_beacon_keys_not_the_beacons(env: dict[str, Any]) -> None:
    """A beacon record whose delta part is the beacon's (snarkjs's beacon check passes) but whose eta secret is
    the operator's own: anyone recomputes the beacon's stream, so it is refused by name."""
    c2 = env["chain"][2]
    e = expected_beacon(*BEACON)
    own = 0x5555
    draw = dataclasses.replace(e, s=own, eta_g1_s=g1_mul(G1_GEN, 9))
    step = next_state(c2, draw.x, draw.s, draw.t)
    rec = make_record(c2, step, draw.x, draw.s, draw.t, draw, TYPE_BEACON, "beacon", None, BEACON)
    got = failed(check(env, append_contribution(c2, step, rec), "beacon_own_eta"))
    assert got == ["contribution[3].beacon_eta_k"]
    step = next_state(c2, e.x, e.s, e.t)  # control: the beacon's own draw
    rec = make_record(c2, step, e.x, e.s, e.t, e, TYPE_BEACON, "beacon", None, BEACON)
    assert check(env, append_contribution(c2, step, rec), "beacon_control").ok


def test_snarkjs_contribution_is_refused(env: dict[str, Any]) -> None:
    """``snarkjs zkey contribute`` on the base key: delta, C, H move, [k/delta]_1 does not, and the record is not
    in the committed transcript."""
    c3 = env["chain"][3]
    step = snarkjs_contribute(c3.key.base, "snarkjs user", "snarkjs")
    vk = CommittedVerifyingKey(step.key.verifying_key(), c3.key.vk.g2_eta)
    key = dataclasses.replace(c3.key, base=step.key, vk=vk)
    got = failed(check(env, CommittedCeremony(key, c3.transcript), "snarkjs"))
    assert "key.records_are_transcript" in got and "key.delta_is_last_state" in got


# ---------------------------------------------------------------- attacks on the final key


@pytest.mark.parametrize("what", ["eta", "eta_one", "mask_delta", "delta"])
def test_final_key_differs_from_transcript(env: dict[str, Any], what: str) -> None:
    """The operator proves with a key it knows a trapdoor of, next to an honest transcript."""
    c3 = env["chain"][3]
    key = c3.key
    ck = key.commitment
    if what in ("eta", "eta_one"):  # eta = 42 (or 1): bases [L_i/eta]_1 and [eta]_2 of a known eta
        known = 42 if what == "eta" else 1
        bases = [g1_mul(b, inv(known)) for b in _initial_bases(env)]
        vk = CommittedVerifyingKey(key.vk.base, g2_mul(G2_GEN, known))
        key = dataclasses.replace(key, commitment=CommitmentKey([*bases, ck.bases[-1]], ck.mask_delta), vk=vk)
        want = {"commitment.bases_follow_eta", "vk.g2_eta"}
    elif what == "mask_delta":
        key = dataclasses.replace(key, commitment=CommitmentKey(ck.bases, g1_mul(ck.mask_delta, 3)))
        want = {"commitment.mask_delta"}
    else:  # delta rescaled by a known factor, no contribution record
        base = apply_delta(key.base, 0xDEADBEEF, key.base.mpc)
        key = dataclasses.replace(key, base=base, vk=CommittedVerifyingKey(base.verifying_key(), key.vk.g2_eta))
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


def test_commitment_key_of_the_retired_format_is_malformed(env: dict[str, Any]) -> None:
    """A commitment_key.json with BSB22's pok_bases is named, not read as a slot key with an ignored field."""
    d = env["dir"] / "honest"
    ck = env["chain"][3].key.commitment.to_json()
    rep = verify_committed_ceremony(d / "transcript", d / "circuit.zkey", {**ck, "pok_bases": ck["bases"]},
                                    env["r1cs"], env["ptau"])  # fmt: skip
    assert rep.exit_code == 2 and rep.malformed and "commitment_key.pok_bases" in rep.malformed


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
    # the same base key with another [eta]_2 (the transcript's final eta times 2) is not the ceremony's key
    other_eta = CommittedVerifyingKey(honest.base, g2_mul(honest.g2_eta, 2))
    assert _audit(env, "honest", other_eta) == [
        "setup: the bundle's verifying key is the ceremony key's",
        "setup: committed-key ceremony re-checked (delta, eta, k contributions against phase 1 and the circuit)",
    ]
    bad = _audit(env, _stale_bases_dir(env).name, env["chain"][3].key.vk)  # a directory an attack test wrote
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
    assert main(["verify-setup", "--zkey", str(_stale_bases_dir(env)), *args[3:]]) == 1
    assert "commitment.bases_follow_eta" in capsys.readouterr().out


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
