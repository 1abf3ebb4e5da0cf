"""Issue 15, engine coverage: liquidation price of one position of a multi-position cross account, and the per-venue
conventions (Binance: MM at the liquidation mark; Bybit isolated: MM at the entry value), against published examples."""

from __future__ import annotations

from fractions import Fraction

import pytest

from zkmargin.circuits.rules.models import Account, Position
from zkmargin.circuits.rules.params import make_brackets
from zkmargin.prover.engine import demo
from zkmargin.prover.engine.demo import px, qt, usd
from zkmargin.prover.engine.liquidation import LiquidationConvention, position_liquidation_price
from zkmargin.prover.engine.margin import MarginEngine

LC = LiquidationConvention
INSTS = demo.instruments()


def bybit_engine() -> MarginEngine:
    """BTC-PERP with a flat 0.5% MMR / 2% IMR (50x) tier, as Bybit's examples assume."""
    br = make_brackets([(0, 2_000_000, 0.02, 0.005)])
    params = demo.params().model_copy(update={"brackets": demo.params().brackets | {"BTC-PERP": br}})
    return MarginEngine({"BTC-PERP": INSTS["BTC-PERP"]}, params, demo.snapshot())


def isolated(q: float, entry: float, margin: float) -> Account:
    pos = Position(instrument="BTC-PERP", quantity=qt(q), entry_price=px(entry), isolated_margin=usd(margin))
    return Account(account_id="iso", margin_mode="isolated", positions=[pos])


def test_bybit_isolated_long_example() -> None:
    """Bybit help centre, "Liquidation Price (USDT Contract)", isolated margin mode, Example 1 (Long)
    (https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract):
    long 1 BTC at 20,000 USDT with 50x, MMR 0.5%, no extra margin: IM = 20,000 / 50 = 400, MM = 1 x 20,000 x 0.5%
    - 0 = 100, LP = 20,000 - (400 - 100) / 1 = 19,700 USDT. Bybit takes MM at the ENTRY value: the Binance
    convention (MM at the liquidation mark) gives a different, lower price on the same account."""
    eng = bybit_engine()
    acct = isolated(1, 20_000, 400)
    assert eng.liquidation_price(acct, LC.MM_AT_ENTRY_VALUE) == 19_700
    assert position_liquidation_price(eng, acct, "BTC-PERP", LC.MM_AT_ENTRY_VALUE) == 19_700
    binance = eng.liquidation_price(acct)  # default unchanged: MM at the liquidation mark
    assert binance == Fraction(400 - 20_000) / (Fraction(5, 1000) - 1)  # = 19,698.49...
    assert binance != 19_700 and binance < 19_700


def test_bybit_isolated_short_follows_the_published_formula() -> None:
    """Same page, short formula: LP = Entry + (IM - MM) / size (+ extra margin / size). Short 2 BTC at 20,000
    with 50x (IM 800, MM 200 at the entry value): LP = 20,000 + 600 / 2 = 20,300."""
    eng = bybit_engine()
    assert eng.liquidation_price(isolated(-2, 20_000, 800), LC.MM_AT_ENTRY_VALUE) == 20_300
    # extra margin added (200 USDT) moves it by 200 / size
    assert eng.liquidation_price(isolated(-2, 20_000, 1_000), LC.MM_AT_ENTRY_VALUE) == 20_400


def test_binance_convention_matches_the_published_usdm_example() -> None:
    """Binance USDⓈ-M formula (FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"):
    LP = (WB - TMM1 + UPNL1 + cumB - side x |B| x EP) / (|B| x MMR - side x |B|). Worked example (dr-binance.com):
    long 0.1 BTC at 60,000, 600 USDT margin, MMR 0.4%, cum 0: (600 - 6,000) / (0.0004 - 0.1) = 54,216.87."""
    eng = MarginEngine(INSTS, demo.params(), demo.snapshot())
    acct = isolated(0.1, 60_000, 600)
    for lp in (
        eng.liquidation_price(acct),
        eng.liquidation_price(acct, LC.MM_AT_LIQUIDATION_MARK),
        position_liquidation_price(eng, acct, 0),
    ):
        assert lp is not None and round(float(lp), 2) == 54_216.87


def cross_account() -> Account:
    return Account(
        account_id="x",
        balances={"USDT": qt(20_000), "BTC": qt(0.1)},
        realised_pnl=usd(-150),
        positions=[
            Position(instrument="BTC-PERP", quantity=qt(2), entry_price=px(35_000)),
            Position(instrument="ETH-PERP", quantity=-qt(20), entry_price=px(2_100)),
            Position(instrument="SOL-PERP", quantity=qt(300), entry_price=px(55)),
        ],
    )


def test_cross_liquidation_price_is_binance_cross_formula_with_other_positions() -> None:
    """Binance's cross formula with TMM1 (other positions' MM) and UPNL1 (their unrealised PnL), computed here
    independently from the snapshot in exact fractions (no engine code), equals the engine's solution."""
    eng = MarginEngine(INSTS, demo.params(), demo.snapshot())
    acct = cross_account()
    snap = eng.snapshot
    eth_mark, sol_mark = Fraction(snap.marks["ETH-PERP"], 10**8), Fraction(snap.marks["SOL-PERP"], 10**8)
    btc_spot = Fraction(snap.spot_prices["BTC"], 10**8)
    wb = 20_000 + Fraction(1, 10) * btc_spot * Fraction(95, 100) - 150  # BTC collateral at a 95% rate
    upnl1 = -20 * (eth_mark - 2_100) + 300 * (sol_mark - 55)
    # ETH and SOL use the ETH ladder (Binance BTCUSDT x 1.25): both notionals in the first bracket, mmr 0.5%, cum 0
    tmm1 = (20 * eth_mark + 300 * sol_mark) * Fraction(5, 1000)
    b, ep = 2, 35_000
    expected = None
    for _floor, _cap, _imr, mmr_f in demo.BINANCE_BTCUSDT:
        k = [r[3] for r in demo.BINANCE_BTCUSDT].index(mmr_f)
        cum = Fraction(make_brackets(demo.BINANCE_BTCUSDT)[k].cum, 10**6)
        mmr = Fraction(round(mmr_f * 10**6), 10**6)
        lp = (wb - tmm1 + upnl1 + cum - b * ep) / (b * mmr - b)
        if lp > 0 and _floor <= b * lp < _cap:
            expected = lp
    lp = position_liquidation_price(eng, acct, "BTC-PERP")
    assert expected is not None and lp == expected
    assert 20_000 < lp < 30_000


@pytest.mark.parametrize("sym", ["BTC-PERP", "ETH-PERP"])
def test_at_the_liquidation_price_the_exact_engine_flips_to_liquidation(sym: str) -> None:
    """Moving only that instrument's mark one tick past LP puts the account under MM in the exact engine; one tick
    on the safe side it is not (up to the engine's rounding against the account: a few micro-USD)."""
    base = MarginEngine(INSTS, demo.params(), demo.snapshot())
    acct = cross_account()
    lp = position_liquidation_price(base, acct, sym)
    assert lp is not None
    side = 1 if next(p for p in acct.positions if p.instrument == sym).quantity > 0 else -1
    tick = Fraction(1, 100)  # 0.01 USD
    bad, good = lp - side * tick, lp + side * tick
    for price, liquidated in ((bad, True), (good, False)):
        marks = dict(base.snapshot.marks) | {sym: round(price * 10**8)}
        res = MarginEngine(INSTS, base.params, base.snapshot.model_copy(update={"marks": marks})).evaluate(acct)
        assert (res.status == "liquidation") is liquidated, (sym, float(price), res)


def test_no_liquidation_price_when_no_positive_mark_liquidates() -> None:
    """The SOL long (16.5 k notional) cannot sink this account alone: None, and SOL at 1e-8 USD is not liquidated."""
    base = MarginEngine(INSTS, demo.params(), demo.snapshot())
    acct = cross_account()
    assert position_liquidation_price(base, acct, "SOL-PERP") is None
    marks = dict(base.snapshot.marks) | {"SOL-PERP": 1}
    res = MarginEngine(INSTS, base.params, base.snapshot.model_copy(update={"marks": marks})).evaluate(acct)
    assert res.status != "liquidation"


def test_tiered_mm_is_solved_per_bracket_at_the_liquidation_notional() -> None:
    """A 40 BTC long at 36,000 (1.44 M notional: 2.5% bracket) with thin collateral liquidates near 33,000,
    i.e. 1.32 M notional: still 2.5% / cum 16,300. A larger one (300 BTC, 10.8 M) liquidates below the 10 M edge,
    so the solver must use the 2.5% bracket (cum 16,300), not the entry's 5% one: check both against the formula."""
    eng = MarginEngine(INSTS, demo.params(), demo.snapshot())
    for qty, margin in ((40, 150_000), (300, 1_200_000)):
        acct = Account(
            account_id="t",
            balances={"USDT": qt(margin)},
            positions=[Position(instrument="BTC-PERP", quantity=qt(qty), entry_price=px(36_000))],
        )
        lp = position_liquidation_price(eng, acct, 0)
        assert lp is not None
        notional = qty * lp
        assert 1_000_000 <= notional < 10_000_000  # the 2.5% bracket
        assert lp == (margin + 16_300 - qty * 36_000) / (qty * Fraction(25, 1000) - qty)
        # the entry bracket would give another price: the bracket is taken at LP
        entry_br = 16_300 if qty == 40 else 266_300
        entry_mmr = Fraction(25, 1000) if qty == 40 else Fraction(5, 100)
        other = (margin + entry_br - qty * 36_000) / (qty * entry_mmr - qty)
        assert (other == lp) is (qty == 40)


def test_portfolio_accounts_and_options_are_refused() -> None:
    eng = MarginEngine(INSTS, demo.params(), demo.snapshot())
    acct = Account(
        account_id="p",
        margin_mode="portfolio",
        positions=[Position(instrument="BTC-PERP", quantity=1, entry_price=px(1))],
    )
    with pytest.raises(ValueError, match="portfolio"):
        position_liquidation_price(eng, acct, 0)
