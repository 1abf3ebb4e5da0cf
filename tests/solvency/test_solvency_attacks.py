"""Every published attack on solvency proofs, each rejected by the constraint checker (not by Python checks)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from solvency_helpers import SLOTS, account, px, rejects, small_engine, violations, witness_with_override

from zkmargin.circuits.field import R
from zkmargin.circuits.solvency import SolvencyCircuit, account_id_commitment, derive_user_secret, public_signal_names
from zkmargin.circuits.solvency.leaf import LeafData
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import (
    AccountNotProvable,
    BatchLayout,
    SolvencyBatch,
    build_batch,
    make_layout,
)
from zkmargin.verifier import attestation
from zkmargin.verifier.groth16 import MalformedInput, check_public


def tampered(batch: SolvencyBatch, **changes: int) -> dict[str, int]:
    ins = dict(batch.inputs)
    for k, v in changes.items():
        key = k.replace("__", ".").replace("_L", "[").replace("_R", "]")
        assert key in ins, key
        ins[key] = v % R
    return ins


def fail_name(circuit: SolvencyCircuit, inputs: dict[str, int]) -> str | None:
    return rejects(circuit, circuit.witness(inputs))


def test_honest_batch_satisfies_and_layout_matches_attestation(
    circuit: SolvencyCircuit, batch: SolvencyBatch, witness: list[int]
) -> None:
    assert rejects(circuit, witness) is None
    assert circuit.supplied_public(witness) == batch.public
    assert circuit.r1cs.n_pub_out == 0
    # lookup mode: one more public signal, last, that nobody supplies: the challenge the verifier derives from D
    hidden = 1 if circuit.lookups else 0
    assert (circuit.r1cs.commitment is not None) == circuit.lookups
    assert circuit.r1cs.signal_names[1 : 1 + circuit.r1cs.n_public - hidden] == public_signal_names(4)
    assert public_signal_names(4) == attestation.signal_names(4)
    assert circuit.r1cs.n_public - hidden == attestation.n_public(4)


def test_negative_balance_near_the_modulus(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    # a "balance" of r - 2^60 is -2^60 as a signed value and a 254-bit number as an unsigned one: out of range
    ins = dict(batch.inputs)
    ins["acct[0].bal[0]"] = R - (1 << 60)
    assert "acct[0].bal[0].range" in (fail_name(circuit, ins) or "")
    ins["acct[0].bal[0]"] = 1 << 60  # far above |balance| < 2^53, posing as a huge asset
    assert "acct[0].bal[0].range" in (fail_name(circuit, ins) or "")
    # a genuine small negative balance is a debt: it lowers equity and does not reduce liabilities
    ins = dict(batch.inputs)
    ins["acct[0].bal[0]"] = (-5 * 10**8) % R
    w = circuit.witness(ins)
    assert rejects(circuit, w) is not None  # its own margin, or the published totals, no longer hold
    assert circuit.value(circuit.accounts[0].equity, w) < circuit.value(
        circuit.accounts[0].equity, circuit.witness(batch.inputs)
    )
    assert circuit.value(circuit.accounts[0].positive_balances[0], w) == 0


def test_sum_that_wraps_the_field(circuit: SolvencyCircuit, batch: SolvencyBatch, witness: list[int]) -> None:
    # cash of -(r - 1 - x) would make a negative equity look like a huge positive one, wrapping the total
    ins = dict(batch.inputs)
    ins["acct[1].cash"] = (R - 1) // 2
    assert "acct[1].cash.range" in (fail_name(circuit, ins) or "")
    # a total that differs from the true sum by r is not expressible: inputs are canonical
    with pytest.raises(ValueError):
        circuit.witness({**batch.inputs, "total_equity": batch.public[7] + R})
    bad = list(witness)
    bad[1 + 7] = witness[1 + 7] + R
    assert not circuit.r1cs.is_satisfied(bad)


def test_packed_piece_overflowing_into_its_neighbour(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    # qty[0] + 2^54 and qty[1] - 1 pack to the same field element (same leaf, same root): the fake-debt trick
    ins = dict(batch.inputs)
    q0, q1 = ins["acct[0].qty[0]"], ins["acct[0].qty[1]"]
    ins["acct[0].qty[0]"] = (q0 + (1 << 54)) % R
    ins["acct[0].qty[1]"] = (q1 - 1) % R
    w = circuit.witness(ins)
    assert circuit.value(circuit.accounts[0].leaf, w) == circuit.value(
        circuit.accounts[0].leaf, circuit.witness(batch.inputs)
    )
    assert "acct[0].qty[0].range" in (rejects(circuit, w) or "")
    # same with the head element: cash + 2^64 borrowing from the portfolio flag
    ins = dict(batch.inputs)
    ins["acct[2].cash"] = (ins["acct[2].cash"] + (1 << 64)) % R
    ins["acct[2].portfolio"] = (ins["acct[2].portfolio"] - 1) % R
    name = fail_name(circuit, ins) or ""
    assert "acct[2].portfolio.bool" in name or "acct[2].cash.range" in name


def test_position_omitted_from_its_account(
    engine: MarginEngine, layout: BatchLayout, circuit: SolvencyCircuit, batch: SolvencyBatch
) -> None:
    i = [a.account_id for a in batch.accounts].index("alice")
    ins = dict(batch.inputs)
    ins[f"acct[{i}].qty[1]"] = 0  # drop the ETH short (which carries margin)
    assert fail_name(circuit, ins) == "batch_root"


def test_leaf_not_matching_its_data(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    for key in ("acct[0].cash", "acct[1].salt", "acct[2].id_hash", "acct[1].portfolio"):
        ins = dict(batch.inputs)
        ins[key] = (ins[key] + 1) % R
        name = fail_name(circuit, ins)
        assert name is not None, key
    ins = dict(batch.inputs)
    ins["batch_root"] = (ins["batch_root"] + 1) % R
    assert fail_name(circuit, ins) == "batch_root"


def test_equal_balances_get_different_leaves(
    engine: MarginEngine, layout: BatchLayout, circuit: SolvencyCircuit
) -> None:
    twins = [account("dave", 1_000, btc_perp=0.01), account("erin", 1_000, btc_perp=0.01)]
    b = build_batch(engine, twins, layout, epoch=1, secret=b"k")
    l0, l1 = (ld.leaf() for ld in b.leaves)
    assert l0 != l1
    # even with the same salt, the id_hash alone separates them
    same_salt = [LeafData(ld.id_hash, 5, ld.portfolio, ld.cash, ld.balances, ld.quantities) for ld in b.leaves]
    assert same_salt[0].leaf() != same_salt[1].leaf()
    # showing both users one leaf means putting the same account in two slots: ordering rejects it
    ins = dict(b.inputs)
    for k in ("id_hash", "salt", "portfolio", "cash", "bal[0]", "bal[1]", "bal[2]", "qty[0]", "qty[1]", "qty[2]"):
        ins[f"acct[1].{k}"] = ins[f"acct[0].{k}"]
    assert "order.gap[0].range" in (fail_name(circuit, ins) or "")


@pytest.fixture(scope="module", params=["plain", "lookups"])
def boundary(request: pytest.FixtureRequest) -> tuple[MarginEngine, BatchLayout, SolvencyCircuit, SolvencyBatch]:
    """BTC-PERP mark 40,000: 1.25 BTC is a notional of exactly 50,000 USD, the floor of bracket 1."""
    eng = small_engine(btc_mark=px(40_000))
    lay = make_layout(eng, SLOTS, ("USDT", "BTC", "ETH"), accounts=2)
    circ = SolvencyCircuit(lay.shape, lookups=request.param == "lookups")
    b = build_batch(
        eng, [account("frank", 5_000, btc_perp=1.25), account("gina", 5_000, btc_perp=-0.5)], lay, 3, secret=b"x"
    )
    return eng, lay, circ, b


def test_bracket_boundary_belongs_to_the_upper_bracket(boundary: tuple) -> None:  # type: ignore[type-arg]
    eng, _lay, circ, b = boundary
    i = [a.account_id for a in b.accounts].index("frank")
    w = circ.witness(b.inputs)
    assert rejects(circ, w) is None
    assert circ.value(circ.accounts[i].notionals[0], w) == 50_000 * 10**6
    p = b.params
    if circ.lookups:  # the hinted row is bracket 1's
        assert w[circ.r1cs.signal_index(f"acct[{i}].pos[0].bracket.row[0]")] == p.bracket_floor[0][1]
    else:
        assert w[circ.r1cs.signal_index(f"acct[{i}].pos[0].bracket.onehot[1]")] == 1
    assert circ.value(circ.accounts[i].mm, w) == eng.evaluate(b.accounts[i]).mm
    # `<=` where `<` is meant: claiming bracket 0 for N == floor_1 fails the strict upper bound
    if circ.lookups:
        row0 = [p.bracket_floor[0][0], p.bracket_floor[0][1], p.bracket_mmr[0][0], p.bracket_cum[0][0]]
        w0 = witness_with_override(circ, b.inputs, f"acct[{i}].pos[0].bracket.row", lambda *_: row0)
    else:
        w0 = witness_with_override(circ, b.inputs, f"acct[{i}].pos[0].bracket.onehot", lambda *_: [1, 0, 0])
    assert rejects(circ, w0) == f"acct[{i}].pos[0].bracket.lt_next.sum"


def test_bracket_chosen_wrongly(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    pre = "acct[0].pos[0].bracket"
    if circuit.lookups:
        _bracket_row_chosen_wrongly(circuit, batch)
        return
    honest = circuit.witness(batch.inputs)
    k = [honest[circuit.r1cs.signal_index(f"{pre}.onehot[{x}]")] for x in range(3)].index(1)
    assert k == 0  # a 0.3 BTC position sits in the first bracket
    cases = {
        (0, 1, 0): f"{pre}.ge_floor.sum",  # a higher bracket than the notional reaches (index bypass)
        (0, 0, 0): f"{pre}.onehot.sum",  # no flag at all (flag bypass)
        (1, 1, 0): f"{pre}.onehot.sum",  # two flags
        (2, R - 1, 0): f"{pre}.onehot[0].bool",  # non-boolean flags summing to 1
    }
    for h, expected in cases.items():
        w = witness_with_override(circuit, batch.inputs, f"{pre}.onehot", lambda *_, h=h: list(h))
        assert rejects(circuit, w) == expected, h
    # same for a haircut tier
    w = witness_with_override(circuit, batch.inputs, "acct[0].coll[1].tier.onehot", lambda *_: [0, 1])
    assert rejects(circuit, w) == "acct[0].coll[1].tier.ge_floor.sum"


def _bracket_row_chosen_wrongly(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    """Lookup mode: the prover hints a whole row (floor, next floor, mmr, cum) of the committed interval table.
    A higher bracket's row fails the interval check; a row mixing two brackets' columns, another slot's row (the
    key is the slot) and a row with a cheaper mmr are not rows of this slot's table and fail the LogUp sum."""
    pre = "acct[0].pos[0].bracket"
    p = batch.params
    honest = circuit.witness(batch.inputs)
    row = [honest[circuit.r1cs.signal_index(f"{pre}.row[{c}]")] for c in range(4)]
    assert row == [p.bracket_floor[0][0], p.bracket_floor[0][1], p.bracket_mmr[0][0], p.bracket_cum[0][0]]

    def bracket(j: int, k: int) -> list[int]:
        nxt = p.bracket_floor[j][k + 1] if k + 1 < len(p.bracket_floor[j]) else 1 << 62
        return [p.bracket_floor[j][k], nxt, p.bracket_mmr[j][k], p.bracket_cum[j][k]]

    logup = "lookup.params.intervals.logup"
    cases = {
        "row of a higher bracket (index bypass)": (bracket(0, 1), f"{pre}.ge_floor.sum"),
        "bracket 0's interval with bracket 1's rate": ([*bracket(0, 0)[:2], *bracket(0, 1)[2:]], logup),
        "another slot's first row (ETH-PERP: other rates)": (bracket(1, 0), logup),
        "bracket 0 with a lower mmr": ([*bracket(0, 0)[:2], p.bracket_mmr[0][0] - 1, p.bracket_cum[0][0]], logup),
        "bracket 0 with an open upper end": ([p.bracket_floor[0][0], 1 << 62, *bracket(0, 0)[2:]], logup),
    }
    for what, (cheat, expected) in cases.items():
        assert cheat != row, what
        w = witness_with_override(circuit, batch.inputs, f"{pre}.row", lambda *_, c=cheat: list(c))
        # the LogUp sum is one constraint at the very end: other consequences (a total) may be violated too
        assert (rejects(circuit, w) if expected != logup else logup if logup in violations(circuit, w) else None) == (
            expected
        ), what
    # same for a haircut tier: BTC's second tier (floor 100,000 USD) for a 0.5 BTC balance
    tier = [p.haircut_floor[1][1], 1 << 62, p.haircut_rate[1][1], 0]
    w = witness_with_override(circuit, batch.inputs, "acct[0].coll[1].tier.row", lambda *_: tier)
    assert rejects(circuit, w) == "acct[0].coll[1].tier.ge_floor.sum"
    assert logup in violations(circuit, w)  # (0 is not tier 1's cum either)


@pytest.mark.parametrize(
    "key",
    [
        "params.bracket[0][1].mmr",
        "params.bracket[1][0].floor",
        "params.haircut[1][1].rate",
        "params.mm_ratio",
        "params.version",
        "params.short_option_min_ppm",
        "params.basis_cap_bps[1]",
        "params.haircut[2][1].rate",  # the very last governed element
    ],
)
def test_parameter_differing_from_the_committed_one(circuit: SolvencyCircuit, batch: SolvencyBatch, key: str) -> None:
    ins = dict(batch.inputs)
    ins[key] = (ins[key] - 1) % R
    assert fail_name(circuit, ins) == "params.commitment"


@pytest.mark.parametrize(
    "key",
    ["params.mark[0]", "params.mark[2]", "params.risk[0].long[0]", "params.risk[2].long[3]"],  # last: final element
)
def test_market_data_differing_from_the_committed_one(circuit: SolvencyCircuit, batch: SolvencyBatch, key: str) -> None:
    ins = dict(batch.inputs)
    ins[key] = (ins[key] + 1) % R
    assert fail_name(circuit, ins) == "params.market_commitment"


def test_price_differing_from_the_public_one(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    # prices are public inputs checked by the registry against the feeds; a prover using another price than the
    # one it publishes changes the values it proves: the totals no longer match
    ins = dict(batch.inputs)
    ins["prices[0]"] = ins["prices[0]"] * 2  # USDT: collateral only
    assert fail_name(circuit, ins) == "totals.total_equity"
    ins = dict(batch.inputs)
    ins["prices[1]"] = ins["prices[1]"] * 2  # BTC is also the BTC perpetual's index: its mark leaves the basis cap
    assert fail_name(circuit, ins) == "floors.mark[0].min.sum"
    ins["prices[1]"] = (1 << 53) + 2  # out of the committed price range
    assert fail_name(circuit, ins) == "params.price[1].nonzero_range.sum"


def _at_margin(engine: MarginEngine, aid: str, slack_delta: int) -> object:
    base = account(aid, 1_000, btc_perp=0.5, eth_perp=-1)
    res = engine.evaluate(base)
    return account(aid, 1_000, btc_perp=0.5, eth_perp=-1, realised=-(res.equity - res.mm) + slack_delta)


def test_equity_below_mm_is_counted_not_hidden(
    engine: MarginEngine, layout: BatchLayout, circuit: SolvencyCircuit
) -> None:
    exact = _at_margin(engine, "harry", 0)
    r = engine.evaluate(exact)  # type: ignore[arg-type]
    assert r.equity == r.mm and r.status != "liquidation"
    b = build_batch(engine, [exact], layout, 1, secret=b"s")  # type: ignore[list-item]
    assert rejects(circuit, circuit.witness(b.inputs)) is None  # equity == MM passes, not under MM
    assert b.public_named()["under_mm_count"] == 0

    under = _at_margin(engine, "harry", -1)  # one micro-USD short
    assert engine.evaluate(under).status == "liquidation"  # type: ignore[arg-type]
    b = build_batch(engine, [under], layout, 1, secret=b"s")  # type: ignore[list-item]
    assert rejects(circuit, circuit.witness(b.inputs)) is None
    pub = b.public_named()
    assert (pub["under_mm_count"], pub["total_shortfall"], pub["total_bad_debt"]) == (1, 1, 0)
    # the operator cannot hide it: claiming 0 under MM (or no shortfall) fails the totals
    for key in ("under_mm_count", "total_shortfall"):
        ins = {**b.inputs, key: 0}
        assert fail_name(circuit, ins) == f"totals.{key}"
    # nor flip the sign hint of its slack (the decomposition is unique)
    if circuit.lookups:  # the hinted top bit; the rest (x + 2^64 - top * 2^64) must then lie in [0, 2^64)
        w = witness_with_override(circuit, b.inputs, "acct[0].slack.sign.top", lambda *_: 1)
    else:
        honest_bits = [(((1 << 64) - 1) >> i) & 1 for i in range(65)]  # slack -1 + 2^64: top bit 0 (negative)
        flipped = [*honest_bits[:64], 1]  # claim "non-negative"
        w = witness_with_override(circuit, b.inputs, "acct[0].slack.sign[0]", lambda *_: flipped)
    assert rejects(circuit, w) == "acct[0].slack.sign.sum"


def test_duplicate_account_within_a_batch(engine: MarginEngine, layout: BatchLayout, circuit: SolvencyCircuit) -> None:
    a = account("ivan", 1_000, btc_perp=0.01)
    with pytest.raises(AccountNotProvable, match="duplicate"):
        build_batch(engine, [a, a], layout, 1, secret=b"s")
    b = build_batch(engine, [a, account("judy", 100)], layout, 1, secret=b"s")
    ins = dict(b.inputs)
    for k in ("id_hash", "salt", "portfolio", "cash", "bal[0]", "bal[1]", "bal[2]", "qty[0]", "qty[1]", "qty[2]"):
        ins[f"acct[1].{k}"] = ins[f"acct[0].{k}"]
    assert fail_name(circuit, ins) == "order.gap[0].range.sum"
    # out of order (descending ids) fails the same check
    ins = dict(b.inputs)
    for k in ("id_hash", "salt", "portfolio", "cash", "bal[0]", "bal[1]", "bal[2]", "qty[0]", "qty[1]", "qty[2]"):
        ins[f"acct[0].{k}"], ins[f"acct[1].{k}"] = ins[f"acct[1].{k}"], ins[f"acct[0].{k}"]
    assert fail_name(circuit, ins) == "order.gap[0].range.sum"


def test_duplicate_account_across_batches_is_exposed(
    engine: MarginEngine, layout: BatchLayout, circuit: SolvencyCircuit
) -> None:
    names = ["k1", "k2", "k3", "k4", "k5"]
    accts = {n: account(n, 100) for n in names}
    ordered = sorted(names, key=lambda n: account_id_commitment(n, derive_user_secret(b"s", n)))
    b1 = build_batch(engine, [accts[n] for n in ordered[:3]], layout, 1, secret=b"s")
    b2 = build_batch(engine, [accts[n] for n in ordered[2:]], layout, 1, secret=b"s")  # ordered[2] twice
    for b in (b1, b2):
        pub = b.public_named()
        assert pub["first_id_hash"] == min(ld.id_hash for ld in b.leaves)
        assert pub["last_id_hash"] == max(ld.id_hash for ld in b.leaves)
    r1 = (b1.public[4], b1.public[5])
    r2 = (b2.public[4], b2.public[5])
    assert r1[1] >= r2[0] and r2[1] >= r1[0]  # the overlap is visible to any auditor of the epoch
    # and the prover cannot shrink the exposed range: last/first are pinned in-circuit
    for idx in (4, 5):
        ins = dict(b2.inputs)
        key = public_signal_names(4)[idx]
        ins[key] = (ins[key] + 1) % R
        assert fail_name(circuit, ins) in ("order.first_id_hash", "order.last_id_hash")


def test_padding_slots_must_be_zero(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    for key in ("cash", "bal[0]", "qty[1]", "salt", "id_hash", "portfolio"):
        ins = dict(batch.inputs)
        ins[f"acct[3].{key}"] = 1
        name = fail_name(circuit, ins) or ""
        assert name.startswith("acct[3].pad.") or name.startswith("acct[3].portfolio"), (key, name)
    # an active slot after an inactive one, or an active empty account appended to hide a count
    ins = dict(batch.inputs)
    ins["acct[2].active"] = 0
    assert fail_name(circuit, ins) is not None
    ins = dict(batch.inputs)
    ins["acct[3].active"] = 1
    ins["account_count"] = 4
    assert fail_name(circuit, ins) is not None


def test_public_input_at_or_above_r_is_rejected(
    circuit: SolvencyCircuit, batch: SolvencyBatch, witness: list[int]
) -> None:
    vk = SimpleNamespace(n_public=circuit.r1cs.n_public - (1 if circuit.lookups else 0))  # supplied signals
    check_public(vk, batch.public)  # type: ignore[arg-type]
    for idx in (1, 6):
        bad = list(batch.public)
        bad[idx] += R  # the same value modulo r: an aliasing verifier would accept it
        with pytest.raises(MalformedInput, match=rf"public\[{idx}\]"):
            check_public(vk, bad)  # type: ignore[arg-type]
    w = list(witness)
    w[1] += R
    assert not circuit.r1cs.is_satisfied(w)
    with pytest.raises(ValueError):
        circuit.witness({**batch.inputs, "epoch": batch.inputs["epoch"] + R})
    # and the epoch is a uint64 in-circuit
    assert fail_name(circuit, {**batch.inputs, "epoch": 1 << 64}) == "params.epoch.range.sum"


def test_short_risk_array_other_than_long_plus_one_is_refused(layout: BatchLayout, batch: SolvencyBatch) -> None:
    """The circuit commits the long array and uses long + 1 for shorts; a published short array that differs
    (e.g. the ceil of an integral P&L, one micro-USD per unit kinder to shorts) must fail the auditors' check."""
    params = batch.params
    params.validate(layout.shape)
    j = layout.shape.ra_slots()[0]
    shorts = list(params.risk_short)
    shorts[j] = (shorts[j][0] - 1, *shorts[j][1:])
    bad = params.__class__(**{**params.__dict__, "risk_short": tuple(shorts)})
    with pytest.raises(ValueError, match=r"short\[s\] must be long\[s\] \+ 1"):
        bad.validate(layout.shape)
    assert bad.commitment(layout.shape) == params.commitment(layout.shape)  # why validate is the gate
