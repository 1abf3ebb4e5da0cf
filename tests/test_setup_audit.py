"""The audit's setup gate (issue 11, hole 2): a development setup, an operator-only ceremony, a phase 1 the operator
ran itself and a key swapped for one with a known trapdoor each fail, unless the registry is in development mode;
an honest ceremony (public phase 1, governance-signed contribution) passes."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account as EthAccount

from zkmargin.circuits.r1cs import R1CS, ConstraintSystem
from zkmargin.prover.ptau import setup_from_ptau, write_dev_prepared_ptau
from zkmargin.prover.setup import dev_setup
from zkmargin.prover.setup.phase2 import apply_delta
from zkmargin.prover.setup.zkey_phase2 import contribute
from zkmargin.prover.zkey import write_zkey
from zkmargin.verifier.public_phase1 import blake2b_file
from zkmargin.verifier.report import Report
from zkmargin.verifier.setup_audit import audit_setup

GOV_KEY = "0x" + "4f" * 32
OPERATOR_KEY = "0x" + "a1" * 32
GOV = EthAccount.from_key(GOV_KEY).address


def _circuit() -> R1CS:
    cs = ConstraintSystem()
    x, y = cs.input("x"), cs.input("y")
    acc = x
    for i in range(40):
        acc = cs.mul(acc, y + i, f"m{i}")
    cs.output("out", acc)
    cs.public("y_pub", y)
    return cs.compile()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("setup_audit")
    r1cs = _circuit()
    # stands in for a public phase-1 file: the tests list its BLAKE2b as trusted, as the real Hermez hashes are
    write_dev_prepared_ptau(d / "public.ptau", 7, tau=0x5151, alpha=0x77, beta=0x99)
    pk, _ = setup_from_ptau(r1cs, d / "public.ptau", contributions=1)
    op = contribute(
        pk, "operator entropy", "governance", OPERATOR_KEY
    ).key  # labelled "governance", signed by the operator
    write_zkey(op, d / "operator_only.zkey")
    gov = contribute(op, "governance entropy", "governance", GOV_KEY).key
    write_zkey(gov, d / "honest.zkey")
    dev = dev_setup(r1cs)
    write_zkey(dev, d / "dev.zkey")
    trapdoor = apply_delta(gov, 0xDEADBEEF)  # delta rescaled by a known factor, no contribution record
    write_zkey(trapdoor, d / "trapdoor.zkey", gov.mpc)
    return {
        "dir": d,
        "r1cs": r1cs,
        "trusted": {blake2b_file(d / "public.ptau")},
        "vk": {
            "honest": gov.verifying_key(),
            "operator_only": op.verifying_key(),
            "trapdoor": trapdoor.verifying_key(),
        },
    }


def run(env: dict[str, Any], setup: dict[str, Any], vk: Any, governance: str | None = GOV, dev: bool | None = False,
        trusted: Any = None) -> Report:  # fmt: skip
    rep = Report("setup")
    audit_setup(rep, setup, env["dir"], lambda: env["r1cs"], vk, governance, dev,
                env["trusted"] if trusted is None else trusted)  # fmt: skip
    return rep


def failed(rep: Report) -> list[str]:
    return [c.name for c in rep.failed()]


def test_honest_ceremony_passes(env: dict[str, Any]) -> None:
    rep = run(env, {"kind": "ceremony", "zkey": "honest.zkey", "ptau": "public.ptau"}, env["vk"]["honest"])
    assert rep.ok and not any(c.warning for c in rep.checks), rep.render()


def test_development_setup_fails_unless_the_registry_is_in_development_mode(env: dict[str, Any]) -> None:
    dev = {"kind": "development"}
    assert failed(run(env, dev, env["vk"]["honest"])) == ["setup: not a development (single-party) setup"]
    assert failed(run(env, dev, env["vk"]["honest"], governance=None, dev=None)) == [
        "setup: not a development (single-party) setup"
    ]
    rep = run(env, dev, env["vk"]["honest"], dev=True)
    assert rep.ok and any(c.warning for c in rep.checks)


def test_operator_only_ceremony_fails(env: dict[str, Any]) -> None:
    rep = run(
        env, {"kind": "ceremony", "zkey": "operator_only.zkey", "ptau": "public.ptau"}, env["vk"]["operator_only"]
    )
    # its contribution is labelled "governance": the signer is recovered from the signature, never read from the name
    assert failed(rep) == ["setup: a phase-2 contribution is signed by governance (not only the operator)"]


def test_phase1_of_the_operators_own_fails(env: dict[str, Any]) -> None:
    rep = run(
        env, {"kind": "ceremony", "zkey": "honest.zkey", "ptau": "public.ptau"}, env["vk"]["honest"], trusted=set()
    )
    assert failed(rep) == ["setup: phase 1 is a public powers-of-tau file (not the operator's own)"]
    rep = run(env, {"kind": "ceremony", "zkey": "honest.zkey", "ptau": None}, env["vk"]["honest"])
    assert "setup: phase 1 is a public powers-of-tau file (not the operator's own)" in failed(rep)
    rep = run(env, {"kind": "ceremony", "zkey": "honest.zkey", "ptau": "public.ptau"}, env["vk"]["honest"],
              trusted=set(), dev=True)  # fmt: skip
    assert rep.ok and any(c.warning for c in rep.checks)


def test_key_with_a_known_trapdoor_fails(env: dict[str, Any]) -> None:
    # the bundle ships the trapdoored key's VK while pointing at the honest ceremony...
    rep = run(env, {"kind": "ceremony", "zkey": "honest.zkey", "ptau": "public.ptau"}, env["vk"]["trapdoor"])
    assert failed(rep) == ["setup: the bundle's verifying key is the ceremony key's"]
    # ... or ships the trapdoored key itself: its delta has no contribution behind it
    rep = run(env, {"kind": "ceremony", "zkey": "trapdoor.zkey", "ptau": "public.ptau"}, env["vk"]["trapdoor"])
    assert failed(rep) == ["setup: phase-2 contribution chain re-checked (snarkjs zkey verify's checks)"]


def test_missing_key_fails(env: dict[str, Any]) -> None:
    rep = run(env, {"kind": "ceremony", "zkey": "nope.zkey", "ptau": "public.ptau"}, env["vk"]["honest"])
    assert failed(rep) == ["setup: ceremony key (.zkey) present"]
