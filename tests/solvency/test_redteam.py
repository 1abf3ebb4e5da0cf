"""Red team of issue 11 ("bind the attestation to public truth") and the coverage part of issue 12, playing an
adversarial operator: it controls the witness, the batching, the bundle files, its own keys and its own process.

Each test is an attack. Rejected attacks assert the constraint / audit check that stops them; attacks that succeed
are written as the demonstration of the hole and marked ``xfail(strict=True, reason="HOLE: ...")`` (their assertion
is what the system *should* do). Report: docs of the red-team branch commit message.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from solvency_helpers import account, rejects, set_signal

from zkmargin.circuits.field import R
from zkmargin.circuits.rules.circuit_inputs import governed_document, option_mark
from zkmargin.circuits.rules.risk_arrays import build_risk_arrays
from zkmargin.circuits.solvency import SolvencyCircuit
from zkmargin.circuits.solvency.leaf import LeafData
from zkmargin.circuits.solvency.shape import (
    PUB_MARKET_COMMITMENT,
    PUB_PARAMS_COMMITMENT,
    VALUE_TOP,
)
from zkmargin.prover.engine.margin import MarginEngine
from zkmargin.prover.solvency_witness import BatchLayout, SolvencyBatch, build_batch, witness_inputs
from zkmargin.verifier.params_audit import audit_parameters
from zkmargin.verifier.report import Report

OPTION = "BTC-7D-36000-C"
MARKET_CHECK = "market: market_commitment rebuilt from the snapshot (marks, risk arrays) = the proven one"
PARAMS_CHECK = "params: params_commitment rebuilt from the governed document = the proven one"
LAYOUT_CHECK = "params: layout rebuilt from the governed document = the proven shape"


def _accounts() -> list[Any]:
    # the conftest batch: bob is in portfolio mode, short one ATM 7-day BTC call
    return [
        account("alice", 10_000, 0.5, btc_perp=0.3, eth_perp=-2),
        account("bob", 5_000, -0.01, btc_perp=-0.2, option=-1, mode="portfolio"),
        account("carol", 2_000, eth_perp=3, entry_shift=1.01),
    ]


def _audit(
    engine: MarginEngine,
    layout: BatchLayout,
    batch: SolvencyBatch,
    governed: dict[str, Any] | None = None,
    market: Any = None,
    params_commitment: int | None = None,
    market_commitment: int | None = None,
) -> Report:
    rep = Report("redteam")
    audit_parameters(
        rep,
        governed if governed is not None else governed_document(engine.params, engine.instruments, layout),
        market if market is not None else engine.snapshot.model_dump(mode="json"),
        layout.shape,
        batch.prices(),
        batch.public[PUB_PARAMS_COMMITMENT] if params_commitment is None else params_commitment,
        batch.public[PUB_MARKET_COMMITMENT] if market_commitment is None else market_commitment,
    )
    return rep


def _failed(rep: Report) -> list[str]:
    return [c.name for c in rep.failed()]


def _forged(batch: SolvencyBatch, **changes: Any) -> tuple[Any, dict[str, int]]:
    """Witness for the batch under modified parameters, both commitments recomputed (the operator's best try)."""
    sh = batch.layout.shape
    params = dataclasses.replace(batch.params, **changes)
    public = list(batch.public)
    public[PUB_PARAMS_COMMITMENT] = params.commitment(sh)
    public[PUB_MARKET_COMMITMENT] = params.market_commitment(sh)
    return params, witness_inputs(sh, params, batch.leaves, public)


def _engine_at(engine: MarginEngine, **snap_update: Any) -> MarginEngine:
    """The operator's own engine on an edited snapshot, every option mark and risk array re-derived by the public
    rules from it, so market.json is self-consistent."""
    snap = engine.snapshot.model_copy(update=snap_update)
    marks = dict(snap.marks)
    for sym, inst in engine.instruments.items():
        if inst.kind == "option" and sym in marks:
            marks[sym] = option_mark(inst, snap)
    snap = snap.model_copy(update={"marks": marks})
    p = engine.params
    ra = build_risk_arrays(dict(engine.instruments), snap, p.scenario_grids, p.short_option_min)
    return MarginEngine(engine.instruments, p, snap, ra)


def _bob(batch: SolvencyBatch) -> Any:
    return next(r for r in batch.results if r.account_id == "bob")


# =============================================================================== 1. parameter leniency


def test_redteam_padding_bracket_rows_cannot_be_lowered(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    """A padding bracket (floor 2^62) with a lower mmr: it is committed (params_commitment differs from the
    governed one, which the registry refuses) and the circuit's hard floor still applies to it."""
    sh = batch.layout.shape
    j = 1  # ETH-PERP: 2 real brackets, K = 3
    assert batch.params.bracket_floor[j][-1] == VALUE_TOP
    mmr = [list(r) for r in batch.params.bracket_mmr]
    mmr[j][-1] = 0
    params, ins = _forged(batch, bracket_mmr=tuple(tuple(r) for r in mmr))
    assert params.commitment(sh) != batch.public[PUB_PARAMS_COMMITMENT]
    assert rejects(circuit, circuit.witness(ins)) == f"floors.bracket[{j}][{sh.brackets - 1}].mmr_floor.sum"


def test_redteam_padding_bracket_made_reachable_is_not_the_governed_commitment(
    engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch
) -> None:
    """Lowering a padding floor to make a lenient padding row reachable changes the committed parameters: the
    audit's rebuild from the governed document (same padding rule as the prover) fails."""
    j = 1
    fl = [list(r) for r in batch.params.bracket_floor]
    fl[j][-1] = fl[j][-2] + 1
    params, _ = _forged(batch, bracket_floor=tuple(tuple(r) for r in fl))
    rep = _audit(engine, layout, batch, params_commitment=params.commitment(layout.shape))
    assert PARAMS_CHECK in _failed(rep)


def test_redteam_option_slot_bracket_rows_and_noncollateral_haircut(
    engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch, circuit: SolvencyCircuit
) -> None:
    """Option slots get bracket rows (0, 0, 0) (no hard mmr floor: they never pay tiered MM) and an asset without
    haircut tiers gets rate 0. Raising the non-collateral ETH asset's haircut rate (to count ETH balances as
    collateral) or giving an option slot rows the document does not have are both params_commitment changes."""
    sh = layout.shape
    opt = layout.instruments.index(OPTION)
    eth = layout.assets.index("ETH")
    assert batch.params.bracket_mmr[opt] == (0,) * sh.brackets
    assert batch.params.haircut_rate[eth] == (0,) * sh.tiers
    # the option slot pays no tiered MM because the circuit forbids option qty outside portfolio mode
    hr = [list(r) for r in batch.params.haircut_rate]
    hr[eth] = [1_000_000] * sh.tiers
    params, _ = _forged(batch, haircut_rate=tuple(tuple(r) for r in hr))
    assert PARAMS_CHECK in _failed(_audit(engine, layout, batch, params_commitment=params.commitment(sh)))
    # a governed document that adds ETH tiers is a different document -> different version -> not governed
    doc = governed_document(engine.params, engine.instruments, layout)
    doc["risk_parameters"]["haircuts"]["ETH"] = [{"value_floor": 0, "rate": 1_000_000}]
    assert PARAMS_CHECK in _failed(_audit(engine, layout, batch, governed=doc))


def test_redteam_extra_instrument_in_document_and_slot_kind_swap(
    engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch
) -> None:
    """Entries of the instrument table outside the slots are dropped by the canonical re-generation the version is
    taken from (params_commitment unchanged: they do not matter to any number), but they change the raw document's
    sha256, which the full audit compares with the registry's paramsDocHash. Relabelling the option as a linear
    instrument in the document changes the shape the audit rebuilds (slot_kind) -> layout check fails."""
    from zkmargin.circuits.rules.circuit_inputs import document_hash

    doc = governed_document(engine.params, engine.instruments, layout)
    extra = dict(doc)
    extra["instruments"] = {
        **doc["instruments"],
        "BTC-FUT-90D": engine.instruments["BTC-FUT-90D"].model_dump(mode="json"),
    }
    rep = Report("x")
    rebuilt = audit_parameters(
        rep, extra, engine.snapshot.model_dump(mode="json"), layout.shape, batch.prices(),
        batch.public[PUB_PARAMS_COMMITMENT], batch.public[PUB_MARKET_COMMITMENT],
    )  # fmt: skip
    assert rep.ok and rebuilt.document_sha256 != document_hash(doc)
    swapped = json.loads(json.dumps(doc))
    o = swapped["instruments"][OPTION]
    swapped["instruments"][OPTION] = {**engine.instruments["BTC-FUT-90D"].model_dump(mode="json"), "symbol": OPTION}
    assert o != swapped["instruments"][OPTION]
    assert LAYOUT_CHECK in _failed(_audit(engine, layout, batch, governed=swapped)) or PARAMS_CHECK in _failed(
        _audit(engine, layout, batch, governed=swapped)
    )


def test_redteam_shape_with_larger_k_t_than_the_registered_one(engine: MarginEngine, batch: SolvencyBatch) -> None:
    """K/T larger than the document's lists: the padding is part of the committed shape, so a proof under another
    K/T carries another params_commitment (the registry only accepts the governed one)."""
    from solvency_helpers import ASSETS, SLOTS

    from zkmargin.prover.solvency_witness import make_layout

    big = make_layout(engine, SLOTS, ASSETS, accounts=4, brackets=5, tiers=4)
    other = build_batch(engine, _accounts(), big, epoch=7, secret=b"test-secret")
    assert other.public[PUB_PARAMS_COMMITMENT] != batch.public[PUB_PARAMS_COMMITMENT]


# =============================================================================== 2. marks and market data


def test_redteam_linear_risk_array_not_the_rules(
    engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch
) -> None:
    """BTC-PERP has a risk array (portfolio margin); the operator commits a flattened one (every loss halved)."""
    j = layout.instruments.index("BTC-PERP")
    assert layout.shape.slot_underlying[j] >= 0 and layout.shape.slot_kind[j] == 0
    longs = [list(r) for r in batch.params.risk_long]
    shorts = [list(r) for r in batch.params.risk_short]
    longs[j] = [x // 2 for x in longs[j]]
    shorts[j] = [x + 1 for x in longs[j]]
    params, _ = _forged(batch, risk_long=tuple(map(tuple, longs)), risk_short=tuple(map(tuple, shorts)))
    rep = _audit(engine, layout, batch, market_commitment=params.market_commitment(layout.shape))
    assert _failed(rep) == [MARKET_CHECK]


def test_redteam_index_price_differs_from_spot(engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch) -> None:
    snap = engine.snapshot.model_dump(mode="json")
    snap["index_prices"]["BTC"] = snap["index_prices"]["BTC"] * 105 // 100  # option marks priced at a higher index
    assert "market: index = spot = attested oracle price for every slot and asset" in _failed(
        _audit(engine, layout, batch, market=snap)
    )


def test_redteam_linear_mark_outside_cap_in_circuit(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    idx = batch.prices()[batch.layout.shape.slot_price[1]]
    marks = list(batch.params.marks)
    marks[1] = idx + idx * batch.params.basis_cap_bps[1] // 10_000 + 1  # one unit past the cap
    _, ins = _forged(batch, marks=tuple(marks))
    assert rejects(circuit, circuit.witness(ins)) == "floors.mark[1].max.sum"


def test_redteam_vol_surface_lowered_to_the_floor_is_only_bounded(
    engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch, circuit: SolvencyCircuit
) -> None:
    """Documented limit (docs/statement.md): a surface edited down to exactly the governed floor, marks and risk
    arrays re-derived from it, passes the audit and lowers the short-call holder's margin. Bounded, not caught."""
    floor = engine.params.min_implied_vol_ppm / 1e6
    surf = engine.snapshot.vol_surfaces["BTC"]
    low = surf.model_copy(update={"vols": [[max(floor, v * 0 + floor) for v in row] for row in surf.vols]})
    eng = _engine_at(engine, vol_surfaces={**engine.snapshot.vol_surfaces, "BTC": low})
    forged = build_batch(eng, _accounts(), layout, epoch=7, secret=b"test-secret")
    assert rejects(circuit, circuit.witness(forged.inputs)) is None
    rep = _audit(eng, layout, forged)
    assert rep.ok, rep.render()
    assert forged.public[PUB_PARAMS_COMMITMENT] == batch.public[PUB_PARAMS_COMMITMENT]
    assert _bob(forged).equity - _bob(forged).mm > _bob(batch).equity - _bob(batch).mm


def _expiry() -> int:
    from zkmargin.prover.engine import demo

    return int(demo.instruments()[OPTION].expiry)  # type: ignore[arg-type]


def test_redteam_snapshot_timestamp_moved_lowers_option_margin(
    engine: MarginEngine, layout: BatchLayout, batch: SolvencyBatch, circuit: SolvencyCircuit
) -> None:
    """market.json's timestamp is operator-chosen and bound to nothing: moved to one minute before the option's
    expiry, the ATM call is worth ~0 and its risk array collapses to intrinsic moves. The proof is valid, the
    params commitment is the governed one, and every parameter/market check of the audit passes."""
    eng = _engine_at(engine, timestamp=_expiry() - 60)
    forged = build_batch(eng, _accounts(), layout, epoch=7, secret=b"test-secret")
    assert rejects(circuit, circuit.witness(forged.inputs)) is None
    assert forged.public[PUB_PARAMS_COMMITMENT] == batch.public[PUB_PARAMS_COMMITMENT]
    assert forged.prices() == batch.prices()  # the oracle prices are the same: only the clock moved
    rep = _audit(eng, layout, forged)
    assert rep.ok, rep.render()
    honest, cheat = _bob(batch), _bob(forged)
    assert cheat.equity > honest.equity  # the short call's liability (mark) vanished
    assert cheat.equity - cheat.mm > honest.equity - honest.mm + 500 * 10**6  # > 500 USD more headroom


def test_redteam_audit_rejects_a_snapshot_clock_far_from_the_attestation(
    engine: MarginEngine, layout: BatchLayout, tmp_path: Path
) -> None:
    """Was a hole (H1): the audit now binds an option layout's snapshot time to the on-chain attestation time."""
    from zkmargin.verifier import audit as audit_mod

    attested_at = engine.snapshot.timestamp + 120  # the epoch's real time, as the registry recorded it

    def clock(ts: int) -> Report:
        (tmp_path / "market.json").write_text(json.dumps({"timestamp": ts}))
        b = SimpleNamespace(
            shape=layout.shape, manifest={}, json=lambda rel, *_: json.loads((tmp_path / rel).read_text())
        )
        rep = Report("clock")
        audit_mod._snapshot_clock(rep, b, attested_at, 3600)  # type: ignore[arg-type]
        return rep

    assert clock(engine.snapshot.timestamp).ok
    moved = clock(_expiry() - 60)  # 7 days after the epoch's real time
    assert not moved.ok, "the audit accepted a market snapshot dated 7 days after the epoch"
    assert not clock(attested_at - 3601).ok  # older than the feeds may be


# =============================================================================== 3. margin mode


def test_redteam_portfolio_flag_on_account_without_options_is_user_visible(
    circuit: SolvencyCircuit, batch: SolvencyBatch
) -> None:
    """Flipping alice (cross, no option) to portfolio mode in the witness: the leaf changes (the user check
    recomputes the leaf from the user's own mode and shows it), and without re-building the batch the circuit's
    totals / root no longer match."""
    i = [a.account_id for a in batch.accounts].index("alice")
    leaf = batch.leaves[i]
    assert leaf.portfolio == 0
    assert dataclasses.replace(leaf, portfolio=1).leaf() != leaf.leaf()
    ins = {**batch.inputs, f"acct[{i}].portfolio": 1}
    assert rejects(circuit, circuit.witness(ins)) is not None


def test_redteam_portfolio_flag_must_be_boolean(circuit: SolvencyCircuit, batch: SolvencyBatch) -> None:
    i = [a.account_id for a in batch.accounts].index("bob")
    ins = {**batch.inputs, f"acct[{i}].portfolio": 2}
    assert rejects(circuit, circuit.witness(ins)) == f"acct[{i}].portfolio.bool"


# =============================================================================== 4. under-MM accounting


@pytest.fixture(scope="module")
def under_batch(engine: MarginEngine, layout: BatchLayout) -> SolvencyBatch:
    """dave: a 30 USD account with a large ETH short entered far below the mark: under MM and in bad debt."""
    accts = [
        account("alice", 10_000, 0.5, btc_perp=0.3),
        account("dave", 30, eth_perp=-5, entry_shift=0.9),
    ]
    return build_batch(engine, accts, layout, epoch=7, secret=b"test-secret")


def test_redteam_under_mm_fixture_is_real(under_batch: SolvencyBatch, circuit: SolvencyCircuit) -> None:
    named = under_batch.public_named()
    assert named["under_mm_count"] == 1 and named["total_bad_debt"] > 0 and named["total_shortfall"] > 0
    assert rejects(circuit, circuit.witness(under_batch.inputs)) is None


@pytest.mark.parametrize(
    ("signal", "delta"),
    [("under_mm_count", -1), ("total_shortfall", -1), ("total_bad_debt", -1), ("total_equity", 1),
     ("total_bad_debt", R - 1), ("under_mm_count", R - 1)],
)  # fmt: skip
def test_redteam_totals_cannot_be_understated(
    under_batch: SolvencyBatch, circuit: SolvencyCircuit, signal: str, delta: int
) -> None:
    ins = {**under_batch.inputs, signal: (under_batch.public_named()[signal] + delta) % R}
    assert rejects(circuit, circuit.witness(ins)) == f"totals.{signal}"


@pytest.mark.parametrize(("hint", "top"), [("equity.sign", 63), ("slack.sign", 64)])
def test_redteam_sign_bit_flipped(under_batch: SolvencyBatch, circuit: SolvencyCircuit, hint: str, top: int) -> None:
    """A cheating prover claims dave's equity (or equity - MM) is non-negative: the sign bit set to 'nonneg' and
    |x| replaced by x, so bad debt / shortfall would read 0. The bit decomposition no longer sums to x + 2^n."""
    i = [a.account_id for a in under_batch.accounts].index("dave")
    w = circuit.witness(under_batch.inputs)
    bit = f"acct[{i}].{hint}.top" if circuit.lookups else f"acct[{i}].{hint}[{top}]"  # lookup mode: hinted top bit
    assert w[circuit.r1cs.signal_index(bit)] == 0  # honest: negative
    w = set_signal(circuit, w, bit, 1)
    absx = f"acct[{i}].{hint}.abs"
    w = set_signal(circuit, w, absx, -w[circuit.r1cs.signal_index(absx)])
    assert rejects(circuit, w) is not None


def test_redteam_inactive_slot_with_bad_debt_values(under_batch: SolvencyBatch, circuit: SolvencyCircuit) -> None:
    """Park a debt in an inactive (padding) slot so it is not counted: every input of a padding slot is 0."""
    n = under_batch.layout.shape.accounts
    last = n - 1
    assert under_batch.inputs[f"acct[{last}].active"] == 0
    for name, v in (("cash", -(10**9)), ("bal[0]", -(10**8)), ("qty[0]", 10**6)):
        ins = {**under_batch.inputs, f"acct[{last}].{name}": v % R}
        assert rejects(circuit, circuit.witness(ins)) == f"acct[{last}].pad.{name}_zero"


@pytest.mark.parametrize(
    ("cash", "caught_by"),
    [(1 << 63, "cash.range.sum"), (R - (1 << 63) - 1, "cash.range.sum"),
     # -2^63 itself is inside cash's signed range [-2^63, 2^63) (docs say |cash| < 2^63): equity's catches it
     (-(1 << 63), "equity.sign.sum")],
)  # fmt: skip
def test_redteam_cash_at_the_2_63_boundary(
    under_batch: SolvencyBatch, circuit: SolvencyCircuit, cash: int, caught_by: str
) -> None:
    i = [a.account_id for a in under_batch.accounts].index("dave")
    ins = {**under_batch.inputs, f"acct[{i}].cash": cash % R}
    assert rejects(circuit, circuit.witness(ins)) == f"acct[{i}].{caught_by}"


def test_redteam_equity_near_2_63_is_refused_not_wrapped(engine: MarginEngine, layout: BatchLayout) -> None:
    """cash = 2^63 - 1 plus positive collateral pushes equity past 2^63: the engine refuses the magnitude (the
    circuit's equity.sign decomposition would not hold), so no wrap to a negative or small equity."""
    leaf = LeafData(1, 1, 0, (1 << 63) - 1, (10**12, 0, 0), (0, 0, 0))
    assert leaf.leaf() != 0
    with pytest.raises(ValueError):
        build_batch(engine, [account("eve", 1e9, realised=(1 << 63) - 1)], layout, epoch=7, secret=b"s")


# =============================================================================== 6. audit: dynamic parameters


def _methodology_attack(tmp_path: Path) -> tuple[Report, Report]:
    """The audit's dynamic-parameter check uses the bundle's own methodology.json, unpinned: an operator whose
    registered rates are looser than the honest methodology yields ships a methodology with an earlier ``asof``
    (before the 2020-03-12 crash) and the check passes."""
    from zkmargin.circuits.rules.calibration import DATA
    from zkmargin.circuits.rules.methodology import (
        DrivenUnderlying,
        HistorySource,
        Methodology,
        PriceHistory,
        derive_dynamic_params,
    )
    from zkmargin.circuits.rules.tightening import tightening_violations
    from zkmargin.prover.operator.exchange import demo_engine
    from zkmargin.verifier import audit as audit_mod
    from zkmargin.verifier import bundle as fmt

    hist = PriceHistory.from_csv(DATA)
    base = demo_engine(n_brackets=2, tiers=1).params

    def meth(asof: str) -> Methodology:
        return Methodology(
            base=base,
            underlyings={"BTC": DrivenUnderlying(symbols=["BTC-PERP", "BTC-FUT-90D"], column="btc_usd")},
            history=HistorySource(sha256=hist.sha256, path="circuits/rules/data/btc_eth_daily_close.csv"),
            start="2020-02-25",
            asof=asof,
        )

    honest, early = meth("2020-03-16"), meth("2020-03-10")
    loose = derive_dynamic_params(early, hist)  # what the operator registered
    assert tightening_violations(derive_dynamic_params(honest, hist), loose)  # really looser than the epoch's

    i = hist.dates.index("2020-03-16")  # the epoch: its attested oracle prices are that day's closes
    prices = (10**8, round(float(hist.columns["btc_usd"][i]) * 1e8), round(float(hist.columns["eth_usd"][i]) * 1e8))
    governed = {"methodology_recipe_sha256": honest.recipe_hash()}  # what governance approved

    def run(m: Methodology) -> Report:
        (tmp_path / fmt.METHODOLOGY).write_text(m.canonical_json())
        b = SimpleNamespace(
            path=tmp_path,
            has=lambda rel: (tmp_path / rel).exists(),
            json=lambda rel, *_: json.loads((tmp_path / rel).read_text()),
            assets=["USDT", "BTC", "ETH"],
            prices=prices,
        )
        rep = Report("dyn")
        audit_mod._dynamic(rep, b, governed, loose)  # type: ignore[arg-type]
        return rep

    return run(honest), run(early)


def test_redteam_methodology_of_the_epoch_catches_loose_rates(tmp_path: Path) -> None:
    honest, _ = _methodology_attack(tmp_path)
    assert not honest.ok and "looser than recomputed" in honest.render()


def test_redteam_audit_rejects_a_methodology_with_an_earlier_asof(tmp_path: Path) -> None:
    """Was a hole (H2): the bundle's own methodology.json with an earlier as-of date passed. Now its as-of date
    must be the epoch's: the history's close that day must be the attested oracle price."""
    _, early = _methodology_attack(tmp_path)
    assert not early.ok, "the audit accepted a methodology dated before the crash, registered rates looser"
    assert "as-of date is not this epoch's" in early.render()


def test_redteam_audit_rejects_a_missing_or_other_methodology(tmp_path: Path) -> None:
    from zkmargin.verifier import audit as audit_mod

    b = SimpleNamespace(
        path=tmp_path, has=lambda rel: (tmp_path / rel).exists(), json=lambda *_: None, assets=[], prices=()
    )
    rep = Report("dyn")
    audit_mod._dynamic(rep, b, {"methodology_recipe_sha256": "ab" * 32}, None)  # type: ignore[arg-type]
    assert not rep.ok and "ships none" in rep.render()  # pinned by governance, left out by the operator
    _methodology_attack(tmp_path)  # writes a methodology.json whose recipe is not the pinned one below
    from zkmargin.prover.operator.exchange import demo_engine

    b2 = SimpleNamespace(
        path=tmp_path,
        has=lambda rel: (tmp_path / rel).exists(),
        json=lambda rel, *_: json.loads((tmp_path / rel).read_text()),
        assets=[],
        prices=(),
    )
    rep = Report("dyn")
    audit_mod._dynamic(rep, b2, {"methodology_recipe_sha256": "ab" * 32}, demo_engine().params)  # type: ignore[arg-type]
    assert not rep.ok and "is not the governed" in rep.render()

    audit_mod._dynamic(rep, b, {"methodology_recipe_sha256": "ab" * 32}, demo_engine().params)  # type: ignore[arg-type]
    assert not rep.ok and "is not the governed" in rep.render()
