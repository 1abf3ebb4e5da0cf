"""Exchanges' published formulas and worked examples, recomputed independently (fractions) and through the engine."""

from __future__ import annotations

from fractions import Fraction

from zkmargin.circuits.rules.models import Account, Instrument, Position
from zkmargin.circuits.rules.params import HaircutTier, make_brackets
from zkmargin.circuits.rules.risk_arrays import standard_option_margin
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.demo import px, qt, usd
from zkmargin.prover.engine.margin import MarginEngine, haircut_numerator, tiered_requirements


def test_binance_cum_amounts_follow_the_published_ladder() -> None:
    """Binance USDⓈ-M BTCUSDT leverage brackets (maintenance amount column), and the FAQ example in the field notes:
    at 250,000 notional entering the 1% bracket after 0.5%, cum = 250,000 x (1% - 0.5%) + 50 = 1,300."""
    br = make_brackets(demo.BINANCE_BTCUSDT)
    published = [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300]
    assert [b.cum for b in br] == [usd(c) for c in published]


def test_maintenance_margin_is_continuous_at_every_bracket_edge() -> None:
    br = make_brackets(demo.BINANCE_BTCUSDT)
    for k in range(1, len(br)):
        edge = br[k].notional_floor
        lower = edge * br[k - 1].mmr - br[k - 1].cum * 1_000_000  # the lower bracket's formula at the edge
        assert tiered_requirements(br, edge)[1] == lower  # the edge itself belongs to the upper bracket


def test_mm_of_a_300k_btcusdt_position() -> None:
    """10 BTC at 30,000 = 300,000 USDT notional -> bracket 250k-1M (1%, cum 1,300): MM = 3,000 - 1,300 = 1,700."""
    insts = {"BTC-PERP": demo.instruments()["BTC-PERP"]}
    snap = demo.snapshot().model_copy(update={"marks": {"BTC-PERP": px(30_000)}})
    eng = MarginEngine(insts, demo.params(), snap)
    acct = Account(
        account_id="a",
        balances={"USDT": qt(50_000)},
        positions=[Position(instrument="BTC-PERP", quantity=qt(10), entry_price=px(30_000))],
    )
    res = eng.evaluate(acct)
    assert res.mm == usd(1_700)
    assert res.im == usd(300_000 / 50)  # 50x initial leverage in that bracket


def test_liquidation_price_matches_binance_usdm_formula() -> None:
    """Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts", one-way single position:
    LP = (WB + cum - side x |q| x EP) / (|q| x MMR - side x |q|). Worked example (dr-binance.com, "Binance liquidation
    price calc"): long 0.1 BTC at 60,000 with 600 USDT margin, MMR 0.4%: the quick approximation EP x (1 - 1/lev +
    MMR) = 54,240; the exact formula gives (600 - 6,000) / (0.1 x 0.004 - 0.1) = 54,216.87."""
    insts = {"BTC-PERP": demo.instruments()["BTC-PERP"]}
    eng = MarginEngine(insts, demo.params(), demo.snapshot())
    acct = Account(
        account_id="a",
        margin_mode="isolated",
        positions=[Position(instrument="BTC-PERP", quantity=qt(0.1), entry_price=px(60_000), isolated_margin=usd(600))],
    )
    lp = eng.liquidation_price(acct)
    expected = (Fraction(600) - Fraction(6_000)) / (Fraction(1, 10) * Fraction(4, 1000) - Fraction(1, 10))
    assert lp == expected
    assert abs(float(lp) - 54_240) / 54_240 < 5e-4
    # at the liquidation price the account sits exactly on MM (up to one micro-USD of rounding, against it)
    at = MarginEngine(
        insts, demo.params(), demo.snapshot().model_copy(update={"marks": {"BTC-PERP": round(lp * 10**8)}})
    )
    r = at.evaluate(acct)
    assert abs(r.equity - r.mm) <= 2


def test_short_liquidation_price_above_entry() -> None:
    insts = {"BTC-PERP": demo.instruments()["BTC-PERP"]}
    eng = MarginEngine(insts, demo.params(), demo.snapshot())
    acct = Account(
        account_id="s",
        balances={"USDT": qt(1_000)},
        positions=[Position(instrument="BTC-PERP", quantity=-qt(0.5), entry_price=px(36_000))],
    )
    lp = eng.liquidation_price(acct)
    assert lp is not None
    expected = (Fraction(1_000) + Fraction(18_000)) / (Fraction(1, 2) * Fraction(4, 1000) + Fraction(1, 2))
    assert lp == expected and lp > 36_000


def test_haircut_tiers_field_notes_example() -> None:
    """Binance portfolio margin collateral tiers (field notes): 100% up to 100M, 97.5% from 100M to 120M; 6,000 BTC
    at 20,000 = 120M counts as 100M + 20M x 0.975 = 119,500,000."""
    tiers = [HaircutTier(value_floor=0, rate=1_000_000), HaircutTier(value_floor=usd(100e6), rate=975_000)]
    value = qt(6_000) * px(20_000) // 10**10
    assert haircut_numerator(value, tiers) // 1_000_000 == usd(119_500_000)


def test_standard_option_margin_formula() -> None:
    """Aevo "Standard Margin" (docs.aevo.xyz, options specifications), same shape as Deribit's: short call
    IM = max(0.15 - OTM/spot, 0.1) x spot + mark; MM = 0.1 x spot + mark. Spot 20,000, call strike 20,500, mark 300:
    OTM = 500, IM = 0.125 x 20,000 + 300 = 2,800, MM = 2,000 + 300 = 2,300; deep OTM (strike 25,000): IM floor 0.1."""
    call = Instrument(symbol="C", kind="option", underlying="BTC", expiry=1, strike=px(20_500), option_type="call")
    im, mm = standard_option_margin(call, 20_000.0, 300.0)
    assert (round(im, 6), round(mm, 6)) == (2_800.0, 2_300.0)
    far = call.model_copy(update={"strike": px(25_000)})
    assert round(standard_option_margin(far, 20_000.0, 300.0)[0], 6) == 2_300.0
    put = Instrument(symbol="P", kind="option", underlying="BTC", expiry=1, strike=px(19_000), option_type="put")
    im_p, mm_p = standard_option_margin(put, 20_000.0, 150.0)
    assert (round(im_p, 6), round(mm_p, 6)) == (2_150.0, 2_150.0)  # max(0.15 - 0.05, 0.1) = 0.1


def test_portfolio_im_of_a_lone_short_option_covers_the_standard_minimum(engine: MarginEngine) -> None:
    """Our short-option minimum (10% of the index per unit) equals the standard MM less the mark, which our equity
    already deducts (a short option is a liability at mark)."""
    sym = "BTC-30D-39600-C"
    acct = Account(
        account_id="o",
        margin_mode="portfolio",
        balances={"USDT": qt(100_000)},
        positions=[Position(instrument=sym, quantity=-qt(1))],
    )
    res = engine.evaluate(acct)
    index = engine.snapshot.index_prices["BTC"] / 10**8
    assert res.im >= usd(0.10 * index)
    assert res.option_value == (-qt(1) * engine.snapshot.marks[sym]) // 10**10  # liability rounded up
