"""The registry's live view (issue 16) on py-evm and on anvil: ``isSolvent()`` read at call time against the current
feeds, the attested box (rounded inward), the attestation's age, revocation and the insurance fund; ``liveStatus()``
reasons; the box governed with the parameter commitment under the timelock; the audit's named checks of the box and
of the pinned FeedMedian (a lying median contract is the attack they catch)."""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor
from typing import Any

import pytest
from chain_env import LOOSEN_DELAY, MAX_FEED_AGE, N_ASSETS, PRICE_DECIMALS, PRICES, TIGHTEN_DELAY, TOLERANCE_BPS
from chain_env import Deployment as Env
from layout_circuit import make_attestation

from zkmargin.circuits.rules.price_box_document import GovernedBox
from zkmargin.prover.operator.chain_writes import SolvencyRegistryWriter
from zkmargin.verifier.audit_setup_chain import BATCH_TREE_CHECK, BOX_CHECK, FEED_MEDIAN_CHECK, check_live_view
from zkmargin.verifier.chain import ChainRevert, params_doc_hash
from zkmargin.verifier.chain_live import (
    BAD_DEBT_UNCOVERED,
    FEED_BROKEN,
    LIVE_OK,
    OUTSIDE_BOX,
    REVOKED,
    TOO_OLD,
    UNREPRESENTED,
)
from zkmargin.verifier.report import Report

GOV = "Registry: caller is not governance"
BOX_COMMITMENT = 0xB0C5 << 200
BOX_DOC = b'{"price_box": {"box_ppm": 123457, "boxed_assets": [1, 2]}}'
BOX = GovernedBox(123_457, (1, 2))  # price indices 0 and 1; an odd ppm so the bounds are not integers
# prices not divisible by anything useful, so p (1 +- b) falls strictly between integers
BOX_PRICES = (60_000 * 10**8 + 12_345, 3_000 * 10**8 + 6_789, 1 * 10**8, 150 * 10**8)
# A contract that answers every call with 128 zero bytes: as a "FeedMedian" it accepts every submitted price
# (checkPrice returns) and calls every box held (liveCheck status 0). Init code returns runtime 0x60806000f3.
LYING_MEDIAN_INIT = "0x6460806000f36000526005601bf3"


def _reverts(fn: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(ChainRevert) as ei:
        fn(*args, **kw)
    return ei.value.reason


def _live(reg: SolvencyRegistryWriter) -> tuple[bool, int, int]:
    st = reg.live_status()
    solvent = reg.is_solvent()[0]
    assert solvent == st.solvent == (st.reason == LIVE_OK)  # isSolvent() and liveStatus() never disagree
    return st.solvent, st.reason, st.asset


def _exact_box(price: int, ppm: int) -> tuple[int, int]:
    """The tightest integers inside the real box [p (1 - b), p (1 + b)] (independent of the contract's code)."""
    lo = Fraction(price) * (1_000_000 - ppm) / 1_000_000
    hi = Fraction(price) * (1_000_000 + ppm) / 1_000_000
    assert lo.denominator != 1 and hi.denominator != 1  # the boundary test needs a non-integer edge
    return ceil(lo), floor(hi)


def _boxed_registry(env: Env, feed_median: str | None = None, batch_tree: str | None = None) -> SolvencyRegistryWriter:
    """A second registry on env's chain (same feeds, verifier and FeedMedian) whose commitment declares ``BOX``."""
    for f, p in zip(env.feeds, BOX_PRICES, strict=True):
        env.set_feed(f, p)
    return SolvencyRegistryWriter.deploy(
        env.chain,
        env.circuit.vk,
        N_ASSETS,
        PRICE_DECIMALS,
        TOLERANCE_BPS,
        MAX_FEED_AGE,
        operators=[env.operator],
        feeds=[[f.address] for f in env.feeds],
        governance=env.governance,
        params=(BOX_COMMITMENT, 1, params_doc_hash(BOX_DOC)),
        box=BOX,
        tighten_delay=TIGHTEN_DELAY,
        loosen_delay=LOOSEN_DELAY,
        development_mode=True,
        insurance_fund=(str(env.token.address), env.insurance_holder),
        batch_verifier=env.registry.batch_verifier(),
        feed_median=feed_median or env.registry.feed_median(),
        batch_tree=batch_tree or env.registry.batch_tree(),
    )


def _attest_boxed(env: Env, reg: SolvencyRegistryWriter, epoch: int = 1) -> None:
    att = make_attestation(env.circuit, epoch, BOX_PRICES, params_commitment=BOX_COMMITMENT)
    reg.submit(att, sender=env.operator)


# --------------------------------------------------------------------------- box edges


def test_box_true_inside_false_just_outside_each_edge(env: Env) -> None:
    reg = _boxed_registry(env)
    assert _live(reg) == (False, 1, 0)  # nothing attested yet
    _attest_boxed(env, reg)
    assert _live(reg) == (True, LIVE_OK, 0)
    st = reg.live_status()
    assert (st.box_ppm, st.box_assets) == (BOX.box_ppm, 0b11)
    for i in (0, 1):  # both boxed assets, both edges, exactly at the inward-rounded integer
        p = BOX_PRICES[i]
        lo, hi = _exact_box(p, BOX.box_ppm)
        for answer, want in ((lo, True), (lo - 1, False), (hi, True), (hi + 1, False)):
            env.set_feed(env.feeds[i], answer)
            got = _live(reg)
            assert got == ((True, LIVE_OK, 0) if want else (False, OUTSIDE_BOX, i)), (i, answer)
        env.set_feed(env.feeds[i], p)
    # the client's per-asset view agrees: bounds equal the exact inward integers
    rows = reg.live_assets()
    assert [r.checked for r in rows] == [True, True, False, False]
    assert (rows[0].lo, rows[0].hi) == _exact_box(BOX_PRICES[0], BOX.box_ppm)
    # an unboxed asset (a stablecoin at its point price) is not part of the live view
    env.set_feed(env.feeds[2], BOX_PRICES[2] * 3)
    assert _live(reg) == (True, LIVE_OK, 0)


def test_point_attestation_needs_the_exact_price_on_every_asset(env: Env) -> None:
    env.submit(env.attestation(epoch=1))
    st = env.registry.live_status()
    assert (st.solvent, st.box_ppm, st.box_assets) == (True, 0, 0)
    for i in range(N_ASSETS):
        for d in (1, -1):
            env.set_feed(env.feeds[i], PRICES[i] + d)
            assert _live(env.registry) == (False, OUTSIDE_BOX, i)
        env.set_feed(env.feeds[i], PRICES[i])
        assert _live(env.registry) == (True, LIVE_OK, 0)


# --------------------------------------------------------------------------- feeds, age, revocation, bad debt


def test_stale_or_broken_feed_makes_it_false_never_unreadable(env: Env) -> None:
    reg = _boxed_registry(env)
    _attest_boxed(env, reg)
    now = env.now()
    env.set_feed(env.feeds[1], BOX_PRICES[1], updated_at=now - MAX_FEED_AGE - 10)
    assert _live(reg) == (False, FEED_BROKEN, 1)
    env.set_feed(env.feeds[1], BOX_PRICES[1])
    assert _live(reg)[0]
    for bad in (0, -5):
        env.set_feed(env.feeds[0], bad)
        assert _live(reg) == (False, FEED_BROKEN, 0)
    env.set_feed(env.feeds[0], BOX_PRICES[0])
    env.set_feed(env.feeds[0], BOX_PRICES[0], updated_at=now + 10_000)  # an update from the future
    assert _live(reg) == (False, FEED_BROKEN, 0)
    env.set_feed(env.feeds[0], BOX_PRICES[0])
    # a "feed" that is no feed at all (its latestRoundData reverts): false, and liveStatus still answers
    reg.set_price_feeds(0, [str(env.token.address)], sender=env.governance)
    assert _live(reg) == (False, FEED_BROKEN, 0)
    reg.set_price_feeds(0, [env.feeds[0].address], sender=env.governance)
    assert _live(reg)[0]
    # a stale feed of an unboxed asset does not matter to the live view
    env.set_feed(env.feeds[3], BOX_PRICES[3], updated_at=now - MAX_FEED_AGE - 10)
    assert _live(reg)[0]


def test_false_when_older_than_max_attestation_age(env: Env) -> None:
    reg = env.registry
    assert reg.max_attestation_age() == 86_400  # the default
    env.submit(env.attestation(epoch=1))
    env.advance(86_400 - 60)
    assert _live(reg)[0]
    env.advance(120)
    assert _live(reg) == (False, TOO_OLD, 0)
    assert reg.live_status().age > 86_400
    assert not reg.is_solvent_and_fresh(10**9)  # coherent: fresh by the caller's bound, stale by governance's
    assert _reverts(reg.set_max_attestation_age, 2 * 86_400, sender=env.operator) == GOV
    assert _reverts(reg.set_max_attestation_age, 0) == "Registry: bad attestation age"
    assert _reverts(reg.set_max_attestation_age, 30 * 86_400 + 1) == "Registry: bad attestation age"
    reg.set_max_attestation_age(2 * 86_400)
    assert _live(reg)[0]


def test_false_when_revoked_or_bad_debt_above_fund_or_unrepresented(env: Env) -> None:
    reg = env.registry
    env.submit(env.attestation(epoch=1, bad_debt=1_000 * 10**6))
    assert _live(reg) == (False, BAD_DEBT_UNCOVERED, 0)
    env.fund_insurance(1_000 * 10**6)
    assert _live(reg)[0]
    reg.revoke_attestation(1, "test")
    assert _live(reg) == (False, REVOKED, 0)
    env.submit(env.attestation(epoch=2, unrepresented=1))
    assert _live(reg) == (False, UNREPRESENTED, 0)


# --------------------------------------------------------------------------- governance of the box


def test_box_is_governed_with_the_commitment_under_the_timelock(env: Env) -> None:
    reg = _boxed_registry(env)
    _attest_boxed(env, reg)
    gov = env.governance
    doc = params_doc_hash(b"v2")
    narrower = GovernedBox(50_000, (1, 2))
    wider = GovernedBox(200_000, (1, 2))
    other = GovernedBox(100_000, (1,))
    # the operator cannot touch it; the bootstrap is closed
    assert _reverts(reg.propose_params, 7 << 200, 2, doc, True, sender=env.operator, box=narrower) == GOV
    assert _reverts(reg.set_initial_params, 7 << 200, 2, doc, sender=gov, box=narrower) == (
        "Registry: attested, use the timelock"
    )
    # a wider box or another set of boxed assets cannot be flagged tightening
    for box in (wider, other, GovernedBox()):
        assert _reverts(reg.propose_params, 7 << 200, 2, doc, True, sender=gov, box=box) == (
            "Registry: box not tightening"
        )
    # malformed boxes
    for words in ((500_001, 1), (0, 1), (1000, 1 << N_ASSETS)):
        assert _reverts(reg.propose_params, 7 << 200, 2, doc, False, sender=gov, box_words=words) == (
            "Registry: bad price box"
        )
    # one commitment, one box
    assert _reverts(reg.propose_params, BOX_COMMITMENT, 2, doc, False, sender=gov, box=wider) == (
        "Registry: box differs"
    )
    # loosening (another asset set): needs loosenDelay
    reg.propose_params(8 << 200, 2, doc, False, sender=gov, box=other)
    pending = reg.pending_params()
    assert (pending.box_ppm, pending.box_assets, pending.tightening) == (100_000, 0b1, False)
    env.advance(TIGHTEN_DELAY + 10)
    assert _reverts(reg.activate_params, sender=gov) == "Registry: timelock not expired"
    # a narrower box with the same assets is a tightening: the short delay
    reg.propose_params(9 << 200, 2, doc, True, sender=gov, box=narrower)
    assert _reverts(reg.activate_params, sender=gov) == "Registry: timelock not expired"
    env.advance(TIGHTEN_DELAY + 10)
    reg.activate_params(sender=gov)
    assert reg.governed_box() == narrower and reg.box_of(BOX_COMMITMENT) == BOX
    # the latest attestation keeps the box it was proven for, not the newly governed one
    for f, p in zip(env.feeds, BOX_PRICES, strict=True):
        env.set_feed(f, p)
    env.set_feed(env.feeds[0], BOX_PRICES[0] * 108 // 100)  # inside 12.3 %, outside 5 %
    st = reg.live_status()
    assert st.solvent and st.box_ppm == BOX.box_ppm
    # the loosening activates only after loosenDelay
    reg.propose_params(8 << 200, 3, doc, False, sender=gov, box=other)
    env.advance(LOOSEN_DELAY + 10)
    reg.activate_params(sender=gov)
    assert reg.governed_box() == other


# --------------------------------------------------------------------------- the audit's named checks


def _audit(reg: SolvencyRegistryWriter, commitment: int, document: dict[str, Any]) -> dict[str, bool]:
    rep = Report("live view")
    check_live_view(rep, reg, commitment, document, N_ASSETS)
    return {c.name: c.ok for c in rep.checks}


def test_audit_box_check_refuses_a_registry_whose_box_differs_from_the_document(env: Env) -> None:
    reg = _boxed_registry(env)
    doc = {"price_box": BOX.document_field()}
    assert _audit(reg, BOX_COMMITMENT, doc) == {FEED_MEDIAN_CHECK: True, BATCH_TREE_CHECK: True, BOX_CHECK: True}
    for other in ({"price_box": {"box_ppm": 123_456, "boxed_assets": [1, 2]}},
                  {"price_box": {"box_ppm": 123_457, "boxed_assets": [1]}}, {}):  # fmt: skip
        assert _audit(reg, BOX_COMMITMENT, other)[BOX_CHECK] is False
    # the point registry of env against a boxed document
    assert _audit(env.registry, env.registry.params().commitment, doc)[BOX_CHECK] is False


def test_lying_feed_median_is_caught_by_the_audit(env: Env) -> None:
    """Attack: a registry deployed with a "FeedMedian" that answers zeros accepts any submitted price and calls every
    box held. It works on-chain; the audit's bytecode check of the pinned FeedMedian refuses that registry."""
    liar = env.chain.send({"data": LYING_MEDIAN_INIT})["contractAddress"]
    reg = _boxed_registry(env, feed_median=liar)
    far = (BOX_PRICES[0] * 2, *BOX_PRICES[1:])  # 100 % above the feed: the honest median would revert
    reg.submit(make_attestation(env.circuit, 1, far, params_commitment=BOX_COMMITMENT), sender=env.operator)
    env.set_feed(env.feeds[1], BOX_PRICES[1] * 5)
    assert reg.is_solvent()[0]  # the lie goes through on-chain
    checks = _audit(reg, BOX_COMMITMENT, {"price_box": BOX.document_field()})
    assert checks == {FEED_MEDIAN_CHECK: False, BATCH_TREE_CHECK: True, BOX_CHECK: True}
    # the honest registry refuses the same submission
    honest = _boxed_registry(env)
    assert _reverts(honest.submit, make_attestation(env.circuit, 1, far, params_commitment=BOX_COMMITMENT),
                    sender=env.operator) == "FeedMedian: price outside oracle band"  # fmt: skip


def test_batch_tree_of_other_code_is_caught_by_the_audit(env: Env) -> None:
    """Attack: a registry deployed with a "BatchTree" of the deployer's choosing (here: code that is not BatchTree's)
    would record whatever root, slot count and totals it answers for an update epoch (the registry does not
    re-validate them). The audit's bytecode check of the pinned BatchTree refuses that registry."""
    other = env.chain.send({"data": LYING_MEDIAN_INIT})["contractAddress"]
    reg = _boxed_registry(env, batch_tree=other)
    checks = _audit(reg, BOX_COMMITMENT, {"price_box": BOX.document_field()})
    assert checks == {FEED_MEDIAN_CHECK: True, BATCH_TREE_CHECK: False, BOX_CHECK: True}
