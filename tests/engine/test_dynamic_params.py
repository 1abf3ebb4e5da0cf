"""Issue 11, "Dynamic margin stays honest": the audit recomputes the dynamic parameters from the published
methodology and public history and catches an operator who registers looser ones; a change flagged "tightening"
must not loosen anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from zkmargin.circuits.rules.calibration import DATA, ParameterUpdater, estimate
from zkmargin.circuits.rules.methodology import (
    DrivenUnderlying,
    DynamicReplay,
    HistorySource,
    InlineHistory,
    Methodology,
    MethodologyError,
    PriceHistory,
    derive_dynamic_params,
)
from zkmargin.circuits.rules.params import RiskParameters, cum_amounts
from zkmargin.circuits.rules.tightening import tightening_violations
from zkmargin.prover.operator.exchange import demo_engine
from zkmargin.verifier.dynamic_params import check_dynamic_params

BTC_SYMBOLS = ["BTC-PERP", "BTC-FUT-90D"]


@pytest.fixture(scope="module")
def history() -> PriceHistory:
    return PriceHistory.from_csv(DATA)


@pytest.fixture(scope="module")
def base() -> RiskParameters:
    return demo_engine(n_brackets=2, tiers=1).params  # the base set `zkmargin run` calibrates from


def methodology(base: RiskParameters, sha: str, start: str = "2020-02-25", asof: str = "2020-03-16") -> Methodology:
    return Methodology(
        base=base,
        underlyings={
            "BTC": DrivenUnderlying(symbols=BTC_SYMBOLS, column="btc_usd"),
            "ETH": DrivenUnderlying(symbols=["ETH-PERP"], column="eth_usd"),
        },
        history=HistorySource(sha256=sha, path="circuits/rules/data/btc_eth_daily_close.csv"),
        start=start,
        asof=asof,
    )


def with_mmr(p: RiskParameters, sym: str, k: int, mmr: int) -> RiskParameters:
    """A *valid* RiskParameters (cum recomputed, validated) with bracket k of sym at this mmr: what a careful
    adversary would publish, so the audit cannot rely on validation errors."""
    br = p.brackets[sym]
    mmrs = [b.mmr for b in br]
    mmrs[k] = mmr
    cums = cum_amounts([b.notional_floor for b in br], mmrs)
    new = [b.model_copy(update={"mmr": m, "cum": c}) for b, m, c in zip(br, mmrs, cums, strict=True)]
    return RiskParameters.model_validate({**p.model_dump(), "brackets": {**p.brackets, sym: new}})


# ---------------------------------------------------------------------- recompute and compare
def test_honest_derivation_passes_and_reacts_to_the_crash(history: PriceHistory, base: RiskParameters) -> None:
    m = methodology(base, history.sha256)
    registered = derive_dynamic_params(m, history)
    assert check_dynamic_params(registered, m, history, methodology_hash=m.version_hash()) == []
    # the replay is not a no-op: after 2020-03-12 the BTC rates are far above the base ladder, and capped decreases
    # only keep them higher than a one-shot update at asof would set
    one_shot = ParameterUpdater().update(estimate(history.dates, history.columns["btc_usd"], m.asof))
    assert one_shot is not None
    for sym in BTC_SYMBOLS:
        for b, b0 in zip(registered.brackets[sym], base.brackets[sym], strict=True):
            assert b.mmr >= one_shot.rates.mm_rate > 10 * b0.mmr
            assert b.imr >= one_shot.rates.im_rate
    assert max(registered.scenario_grids["BTC"].price_moves) > max(base.scenario_grids["BTC"].price_moves)
    # an auditor reloading the published JSON gets the same document and the same parameters
    again = Methodology.model_validate_json(m.canonical_json())
    assert again.version_hash() == m.version_hash()
    assert derive_dynamic_params(again, history).version_hash() == registered.version_hash()


@pytest.mark.parametrize("sym,k", [("BTC-PERP", 0), ("BTC-FUT-90D", 1), ("ETH-PERP", 1)])
def test_one_ppm_looser_bracket_after_the_spike_is_caught(
    history: PriceHistory, base: RiskParameters, sym: str, k: int
) -> None:
    m = methodology(base, history.sha256)
    honest = derive_dynamic_params(m, history)
    shaved = with_mmr(honest, sym, k, honest.brackets[sym][k].mmr - 1)
    assert shaved.brackets[sym][k].mmr > base.brackets[sym][k].mmr  # still above the static ladder: only the
    violations = check_dynamic_params(shaved, m, history)  # recomputation can tell it is too low
    assert any(v.startswith(f"brackets.{sym}.{k}.mmr:") for v in violations), violations


def test_narrower_scan_range_and_lower_imr_are_caught(history: PriceHistory, base: RiskParameters) -> None:
    m = methodology(base, history.sha256)
    honest = derive_dynamic_params(m, history)
    g = honest.scenario_grids["BTC"]
    narrow = honest.model_copy(
        update={"scenario_grids": {"BTC": g.model_copy(update={"price_moves": [g.price_moves[0] + 1, 0, 900_000]})}}
    )
    assert any(v.startswith("scenario_grids.BTC.price_moves:") for v in check_dynamic_params(narrow, m, history))
    br = honest.brackets["ETH-PERP"]
    low_imr = [br[0], br[1].model_copy(update={"imr": br[1].imr - 1})]
    looser = honest.model_copy(update={"brackets": {**honest.brackets, "ETH-PERP": low_imr}})
    assert any(v.startswith("brackets.ETH-PERP.1.imr:") for v in check_dynamic_params(looser, m, history))


def test_stricter_registered_parameters_pass(history: PriceHistory, base: RiskParameters) -> None:
    m = methodology(base, history.sha256, asof="2020-02-28")  # before the crash: rates below 100%
    honest = derive_dynamic_params(m, history)
    k = 1
    stricter = with_mmr(honest, "BTC-PERP", k, honest.brackets["BTC-PERP"][k].mmr + 5_000)
    stricter = stricter.model_copy(update={"mm_ratio": stricter.mm_ratio + 1})
    assert check_dynamic_params(stricter, m, history) == []


def test_doctored_csv_history_is_caught_by_its_hash(
    history: PriceHistory, base: RiskParameters, tmp_path: Path
) -> None:
    """The operator smooths the crash close (one value changed): the rates it derives are lower, and an audit that
    trusted the operator's history would agree with them; the pinned hash stops it."""
    text = DATA.read_text()
    row = "2020-03-12,4970.78,"
    assert text.count(row) == 1
    doctored_path = tmp_path / "closes.csv"
    doctored_path.write_text(text.replace(row, "2020-03-12,7700.00,"))
    doctored = PriceHistory.from_csv(doctored_path)
    m = methodology(base, history.sha256, asof="2020-03-12")  # the attestation on the crash day itself
    violations = check_dynamic_params(derive_dynamic_params(m, history), m, doctored)
    assert len(violations) == 1 and violations[0].startswith("history.sha256:")
    # the motive: from the doctored closes the methodology yields looser rates, which the real history rejects
    m_fake = m.model_copy(update={"history": HistorySource(sha256=doctored.sha256, path=str(doctored_path))})
    fake = derive_dynamic_params(m_fake, doctored)
    assert fake.brackets["BTC-PERP"][0].mmr < derive_dynamic_params(m, history).brackets["BTC-PERP"][0].mmr
    assert any(v.startswith("brackets.BTC-PERP.0.mmr:") for v in check_dynamic_params(fake, m, history))
    with pytest.raises(MethodologyError, match=r"^history\.sha256"):
        derive_dynamic_params(m, doctored)


def test_doctored_inline_history_is_caught(base: RiskParameters) -> None:
    rng = np.random.default_rng(3)
    closes = (30_000 * np.exp(np.cumsum(0.03 * rng.standard_normal(420)))).tolist()
    dates = [f"t{i:05d}" for i in range(420)]
    inline = InlineHistory(dates=dates, closes={"BTC": closes})
    src = HistorySource(sha256=inline.sha256(), inline=inline)
    m = Methodology(
        base=base, underlyings={"BTC": DrivenUnderlying(symbols=BTC_SYMBOLS, column="BTC")}, history=src,
        start=dates[400], asof=dates[419],
    )  # fmt: skip
    hist = PriceHistory.from_inline(inline)
    assert check_dynamic_params(derive_dynamic_params(m, hist), m, hist) == []
    # one close changed inside the methodology document: the document no longer matches its own hash...
    bad = [*closes]
    bad[410] *= 1.01
    bad_inline = InlineHistory(dates=dates, closes={"BTC": bad})
    with pytest.raises(ValidationError, match=r"history\.sha256"):
        HistorySource(sha256=src.sha256, inline=bad_inline)
    # ...and re-hashing it changes the methodology hash the registry pinned
    m_bad = m.model_copy(update={"history": HistorySource(sha256=bad_inline.sha256(), inline=bad_inline)})
    hist_bad = PriceHistory.from_inline(bad_inline)
    v = check_dynamic_params(derive_dynamic_params(m_bad, hist_bad), m_bad, hist_bad, methodology_hash=m.version_hash())
    assert len(v) == 1 and v[0].startswith("methodology: hash")
    # and the real closes with the doctored document are a hash mismatch
    assert check_dynamic_params(base, m_bad, hist)[0].startswith("history.sha256:")


def test_replay_refuses_a_skipped_day_and_a_short_history(history: PriceHistory, base: RiskParameters) -> None:
    """Skipping the crash day would let the capped decreases start from a calmer version: the replay (which the
    operator's loop also steps) only accepts the next date."""
    r = DynamicReplay(methodology(base, history.sha256, start="2020-03-10"), history)
    r.step("2020-03-10")
    r.step("2020-03-11")
    with pytest.raises(MethodologyError, match=r"^step: got '2020-03-13'"):
        r.step("2020-03-13")
    with pytest.raises(MethodologyError, match=r"^start: 2019-06-01"):
        derive_dynamic_params(methodology(base, history.sha256, start="2019-06-01", asof="2019-06-05"), history)
    with pytest.raises(MethodologyError, match=r"^asof"):
        derive_dynamic_params(methodology(base, history.sha256, start="2020-03-10", asof="2020-03-01"), history)


def test_methodology_errors_name_the_field(history: PriceHistory, base: RiskParameters) -> None:
    src = HistorySource(sha256=history.sha256, path="x.csv")
    with pytest.raises(ValidationError, match=r"underlyings\.BTC\.symbols\.1: 'BTC-NOPE'"):
        Methodology(base=base, underlyings={"BTC": DrivenUnderlying(symbols=["BTC-PERP", "BTC-NOPE"], column="c")},
                    history=src, start="a", asof="b")  # fmt: skip
    with pytest.raises(ValidationError, match=r"underlyings\.ETH\.symbols\.0: 'BTC-PERP' is already driven by BTC"):
        Methodology(
            base=base,
            underlyings={"BTC": DrivenUnderlying(symbols=["BTC-PERP"], column="c"),
                         "ETH": DrivenUnderlying(symbols=["BTC-PERP"], column="d")},
            history=src, start="a", asof="b",
        )  # fmt: skip
    m = methodology(base, history.sha256).model_copy(
        update={"underlyings": {"BTC": DrivenUnderlying(symbols=BTC_SYMBOLS, column="btc_close")}}
    )
    with pytest.raises(MethodologyError, match=r"^underlyings\.BTC\.column: 'btc_close'"):
        derive_dynamic_params(m, history)


# ---------------------------------------------------------------------- tightening flag
def test_genuine_tightening_passes_and_the_reverse_does_not(history: PriceHistory, base: RiskParameters) -> None:
    calm = derive_dynamic_params(methodology(base, history.sha256, asof="2020-03-11"), history)
    crash = derive_dynamic_params(methodology(base, history.sha256, asof="2020-03-13"), history)
    assert crash.version_hash() != calm.version_hash()
    assert tightening_violations(calm, crash) == []
    grid = crash.scenario_grids["BTC"]
    wider = crash.model_copy(
        update={
            "mm_ratio": crash.mm_ratio + 1_000,
            "basis_cap_bps": crash.basis_cap_bps - 1,
            "scenario_grids": {"BTC": grid.model_copy(update={"vol_shocks": [-300_000, 0, 300_000]})},
        }
    )
    assert tightening_violations(calm, wider) == []
    back = tightening_violations(crash, calm)  # the calm set after the crash set: loosening everywhere
    assert any(v.startswith("brackets.BTC-PERP.0.mmr:") for v in back)
    assert any(v.startswith("scenario_grids.BTC.price_moves:") for v in back)


def _loosenings(p: RiskParameters) -> dict[str, RiskParameters]:
    """One loosening per rule, each the smallest possible step."""
    br = p.brackets["BTC-PERP"]
    g = p.scenario_grids["BTC"]
    asset, tiers = next(iter(sorted(p.haircuts.items())))
    hc = [tiers[0].model_copy(update={"rate": tiers[0].rate + 1}), *tiers[1:]]
    edge = br[0].notional_cap + 1_000_000  # floor raised by 1 USD (cum recomputed: a valid ladder)
    raised = [br[0].model_copy(update={"notional_cap": edge}), br[1].model_copy(update={"notional_floor": edge})]
    cums = cum_amounts([b.notional_floor for b in raised], [b.mmr for b in raised])
    raised = [b.model_copy(update={"cum": c}) for b, c in zip(raised, cums, strict=True)]
    return {
        "brackets.BTC-PERP.1.imr": p.model_copy(
            update={"brackets": {**p.brackets, "BTC-PERP": [br[0], br[1].model_copy(update={"imr": br[1].imr - 1})]}}
        ),
        "brackets.BTC-PERP.0.mmr": with_mmr(p, "BTC-PERP", 0, br[0].mmr - 1),
        "brackets.BTC-PERP.1.notional_floor": RiskParameters.model_validate(
            {**p.model_dump(), "brackets": {**p.brackets, "BTC-PERP": raised}}
        ),
        f"haircuts.{asset}.0.rate": p.model_copy(update={"haircuts": {**p.haircuts, asset: hc}}),
        "mm_ratio": p.model_copy(update={"mm_ratio": p.mm_ratio - 1}),
        "short_option_min": p.model_copy(update={"short_option_min": p.short_option_min - 1}),
        "min_implied_vol_ppm": p.model_copy(update={"min_implied_vol_ppm": p.min_implied_vol_ppm - 1}),
        "basis_cap_bps": p.model_copy(update={"basis_cap_bps": p.basis_cap_bps + 1}),
        "scenario_grids.BTC.price_moves": p.model_copy(
            update={
                "scenario_grids": {
                    "BTC": g.model_copy(update={"price_moves": [g.price_moves[0] + 1, *g.price_moves[1:]]})
                }
            }
        ),
        "scenario_grids.BTC.vol_shocks": p.model_copy(
            update={
                "scenario_grids": {"BTC": g.model_copy(update={"vol_shocks": [g.vol_shocks[0], g.vol_shocks[-1] - 1]})}
            }
        ),
        "scenario_grids.BTC.extreme_coverage": p.model_copy(
            update={
                "scenario_grids": {
                    "BTC": g.model_copy(update={"extreme_moves": [-300_000, 300_000], "extreme_coverage": 349_999}),
                }
            }
        ),
        "offsets_enabled": p.model_copy(update={"offsets_enabled": True}),
    }


def test_each_loosening_flagged_tightening_is_caught(history: PriceHistory, base: RiskParameters) -> None:
    old = derive_dynamic_params(methodology(base, history.sha256, asof="2020-03-11"), history)
    g = old.scenario_grids["BTC"]
    old = old.model_copy(  # give the old set extremes so that lowering their coverage is a narrowing
        update={"scenario_grids": {"BTC": g.model_copy(update={"extreme_moves": [-300_000, 300_000]})}}
    )
    for field, new in _loosenings(old).items():
        violations = tightening_violations(old, new)
        assert any(v.startswith(field + ":") for v in violations), (field, violations)


def test_mm_at_every_edge_catches_a_cum_only_loosening(history: PriceHistory, base: RiskParameters) -> None:
    """Rates and floors untouched, cum of the top bracket raised by 1 micro-USD: MM falls at every notional of it.
    ``model_copy`` does not re-run the continuity validator, so only the pointwise MM comparison sees it."""
    old = base  # the base ladder has two mmrs, hence a non-zero cum to shave
    br = old.brackets["BTC-PERP"]
    new_br = [*br[:-1], br[-1].model_copy(update={"cum": br[-1].cum + 1})]
    new = old.model_copy(update={"brackets": {**old.brackets, "BTC-PERP": new_br}})
    with pytest.raises(ValidationError, match=r"brackets\.BTC-PERP\.1\.cum"):
        RiskParameters.model_validate(new.model_dump())  # a validated document could not carry it
    violations = tightening_violations(old, new)
    assert violations == [violations[0]] and violations[0].startswith("brackets.BTC-PERP.1.cum: MM at notional")
    # the same cum trick on the registered set is caught by the audit
    m = methodology(base, history.sha256, asof="2020-03-11")
    honest = derive_dynamic_params(m, history)
    eth = honest.brackets["ETH-PERP"]
    sneaky = honest.model_copy(
        update={
            "brackets": {**honest.brackets, "ETH-PERP": [eth[0], eth[1].model_copy(update={"cum": eth[1].cum + 1})]}
        }
    )
    assert any(v.startswith("brackets.ETH-PERP.1.cum:") for v in check_dynamic_params(sneaky, m, history))


# ---------------------------------------------------------------------- the operator's loop
@pytest.mark.parametrize("source", ["replay", "synthetic"])
def test_operator_loop_parameters_are_recomputed_from_the_published_json(source: str, base: RiskParameters) -> None:
    """``zkmargin run`` steps the shared replay tick by tick and writes the methodology as of each epoch; an auditor
    who only has that JSON (and, for a replay, the committed CSV) gets the operator's parameters at every tick."""
    from zkmargin.prover.operator import realtime as rt

    cfg = rt.RunConfig(out=Path("unused"), ticks=12, epoch_every=12, source=source, start="2020-03-05")
    stream = rt.load_stream(cfg)
    method, hist = rt.run_methodology(cfg, stream, base)
    live = DynamicReplay(method, hist)
    moved = 0
    for date, _p in stream.ticks(cfg.ticks):
        moved += bool(live.step(date))
        published = Methodology.model_validate_json(method.model_copy(update={"asof": date}).canonical_json())
        src = published.history
        audit_hist = PriceHistory.from_inline(src.inline) if src.inline else PriceHistory.from_csv(DATA)
        assert derive_dynamic_params(published, audit_hist).version_hash() == live.params().version_hash(), date
    assert moved >= 3  # the rates did move over the run, so the comparison is not between two base sets
