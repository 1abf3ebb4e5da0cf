"""Red team (issue 11 / 12 coverage), registry side: an adversarial operator against SolvencyRegistry (py-evm only,
to stay fast). Rejections assert the revert reason; successes that are holes are strict xfails."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from chain_env import PRICES, TOLERANCE_BPS, Deployment
from layout_circuit import MARKET_COMMITMENT

from zkmargin.circuits.field import R
from zkmargin.verifier.attestation import EpochAttestation
from zkmargin.verifier.chain import ChainRevert, vk_to_bytes

pytestmark = pytest.mark.parametrize("env", ["pyevm"], indirect=True)


def _reverts(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(ChainRevert) as ei:
        fn(*args, **kw)
    return ei.value.reason


def _reprove(env: Deployment, att: EpochAttestation, **changes: Any) -> EpochAttestation:
    """The operator re-proves every batch (it holds a valid proving key) under changed epoch-wide fields."""
    att = dataclasses.replace(att, **changes)
    batches = tuple(
        (bt, env.circuit.prove(bt.public_signals(att.epoch, att.params_commitment, att.prices,
                                                 market_commitment=att.market_commitment)))
        for bt, _ in att.batches
    )  # fmt: skip
    return dataclasses.replace(att, batches=batches)


def test_redteam_params_commitment_not_governed(env: Deployment) -> None:
    att = _reprove(env, env.attestation(1), params_commitment=env.attestation(1).params_commitment + 1)
    assert _reverts(env.submit, att) == "Registry: params commitment not governed"


def test_redteam_other_market_commitment_is_accepted_on_chain(env: Deployment) -> None:
    """By design the registry does not check the market commitment (only stores it): the audit rebuilds it from
    market.json (tests/solvency/test_redteam.py::test_redteam_linear_risk_array_not_the_rules)."""
    att = _reprove(env, env.attestation(1), market_commitment=MARKET_COMMITMENT + 1)
    env.submit(att)
    assert env.registry.latest().market_commitment == MARKET_COMMITMENT + 1


@pytest.mark.parametrize("factor_bps", [TOLERANCE_BPS + 1, -(TOLERANCE_BPS + 1), -10_000])
def test_redteam_price_outside_the_median_band_or_zero(env: Deployment, factor_bps: int) -> None:
    prices = list(PRICES)
    prices[0] = PRICES[0] * (10_000 + factor_bps) // 10_000
    att = env.attestation(1, prices=tuple(prices))
    want = "FeedMedian: zero price" if prices[0] == 0 else "FeedMedian: price outside oracle band"
    assert _reverts(env.submit, att) == want


def test_redteam_price_on_the_band_edge_is_accepted(env: Deployment) -> None:
    """Within the governed band the operator picks the price (by design, <= 5% cap)."""
    prices = list(PRICES)
    prices[0] = PRICES[0] * (10_000 + TOLERANCE_BPS) // 10_000
    env.submit(env.attestation(1, prices=tuple(prices)))


def test_redteam_epoch_tricks(env: Deployment) -> None:
    assert _reverts(env.submit, env.attestation(2)) == "Registry: epoch must be latest + 1"
    env.submit(env.attestation(1))
    assert _reverts(env.submit, env.attestation(1)) == "Registry: epoch must be latest + 1"
    assert _reverts(env.submit, env.attestation(0)) == "Registry: epoch must be latest + 1"


def test_redteam_id_hash_aliased_mod_r_to_pass_the_ordering(env: Deployment) -> None:
    """Batch 1 overlapping batch 0, its ids lifted by r so that the uint256 comparison says 'ascending'."""
    att = env.attestation(1, n_batches=2)
    b0, b1 = att.batches[0][0], att.batches[1][0]
    lifted = dataclasses.replace(b1, first_id_hash=b0.first_id_hash + R, last_id_hash=b0.last_id_hash + R)
    proof = env.circuit.prove(
        dataclasses.replace(b1, first_id_hash=b0.first_id_hash, last_id_hash=b0.last_id_hash).public_signals(
            1, att.params_commitment, att.prices, market_commitment=att.market_commitment
        )
    )
    bad = dataclasses.replace(att, batches=(att.batches[0], (lifted, proof)))
    assert _reverts(env.submit, bad) == "Groth16: public input >= r"


def test_redteam_declared_count_tricks(env: Deployment) -> None:
    reason = "Registry: accounts do not add up to declared"
    assert _reverts(env.submit, env.attestation(1, unrepresented=0, declared=15)) == reason
    assert _reverts(env.submit, env.attestation(1, unrepresented=(1 << 64) - 1, declared=15)) == reason


def _hide_bad_debt(env: Deployment) -> None:
    """The batch holding the under-MM / bad-debt accounts is dropped and its 16 accounts declared 'unrepresented'."""
    honest = env.attestation(1, n_batches=2, bad_debt=2_500 * 10**6)
    hidden = dataclasses.replace(honest, batches=honest.batches[1:], unrepresented_accounts=16, declared_accounts=32)
    env.submit(hidden)


def test_redteam_unrepresented_accounts_are_visible_on_chain(env: Deployment) -> None:
    _hide_bad_debt(env)
    st = env.registry.solvency_status()
    assert (st.declared_accounts, st.unrepresented_accounts, st.account_count) == (32, 16, 16)
    assert st.total_bad_debt == 0 and st.under_mm_count == 0
    rec = env.registry.latest()
    assert rec.unrepresented_accounts == 16


def test_redteam_is_solvent_false_when_bad_debt_accounts_are_declared_unrepresented(env: Deployment) -> None:
    """Was a hole (H3): isSolvent() now applies governance's cap on unrepresented accounts (default 0)."""
    _hide_bad_debt(env)
    assert env.registry.is_solvent()[0] is False
    assert env.registry.solvency_status().max_unrepresented_ppm == 0
    # governance may tolerate a share it judges harmless; 16 of 32 is above a 10% cap, at or below 50%
    env.registry.set_max_unrepresented_ppm(100_000, sender=env.governance)
    assert env.registry.is_solvent()[0] is False
    env.registry.set_max_unrepresented_ppm(500_000, sender=env.governance)
    assert env.registry.is_solvent()[0] is True
    assert (
        _reverts(env.registry.set_max_unrepresented_ppm, 0, sender=env.operator) == "Registry: caller is not governance"
    )
    assert _reverts(env.registry.set_max_unrepresented_ppm, 1_000_001, sender=env.governance) == (
        "Registry: ppm above 100%"
    )


def test_redteam_key_swap_without_timelock(env: Deployment) -> None:
    env.submit(env.attestation(1))
    key = vk_to_bytes(env.circuit.vk)
    gov = env.governance
    assert _reverts(env.registry.set_initial_verifying_key, key, sender=gov) == "Registry: attested, use the timelock"
    assert _reverts(env.registry.propose_verifying_key, key, sender=env.operator) == (
        "Registry: caller is not governance"
    )
    env.registry.propose_verifying_key(key, sender=gov)
    assert _reverts(env.registry.activate_verifying_key, sender=gov) == "Registry: timelock not expired"


def test_redteam_operator_cannot_become_governance_or_submit_when_paused_or_revoke(env: Deployment) -> None:
    assert _reverts(env.registry.propose_governance, env.operator, sender=env.governance) == (
        "Registry: governance cannot be an operator"
    )
    assert (
        _reverts(env.registry.revoke_attestation, 1, "x", sender=env.operator) == "Registry: caller is not governance"
    )
    env.registry.pause(sender=env.governance)
    assert _reverts(env.submit, env.attestation(1)) == "Registry: submissions paused"
    env.registry.unpause(sender=env.governance)
    env.submit(env.attestation(1))
    env.registry.revoke_attestation(1, "redteam", sender=env.governance)
    assert env.registry.is_solvent()[0] is False
