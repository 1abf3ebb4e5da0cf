"""Issue 15, engine coverage: inverse (coin-margined) contracts against published worked examples; the numpy path
bit-identical to the exact one."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zkmargin.prover.engine.demo import px, qt
from zkmargin.prover.engine.inverse import (
    InverseAccount,
    InverseBook,
    InverseEngine,
    InverseInstrument,
    InversePosition,
    evaluate_inverse_book,
    make_coin_brackets,
)
from zkmargin.prover.engine.liquidation import LiquidationConvention

LADDER = make_coin_brackets([(0, 50, 0.01, 0.004), (50, 250, 0.02, 0.005), (250, 1_000, 0.05, 0.01)])


def engine(size_usd: int, mark: float, index: float | None = None, brackets: list | None = None) -> InverseEngine:
    inst = InverseInstrument(
        symbol="BTCUSD-PERP", coin="BTC", contract_size=size_usd * 10**6, brackets=brackets or LADDER
    )
    return InverseEngine({"BTCUSD-PERP": inst}, {"BTCUSD-PERP": px(mark)}, {"BTC": px(index or mark)})


def one(contracts: int, entry: float, balance: float = 0.0) -> InverseAccount:
    pos = InversePosition(instrument="BTCUSD-PERP", contracts=contracts, entry_price=px(entry))
    return InverseAccount(account_id="i", coin="BTC", balance=qt(balance), positions=[pos])


def test_binance_coin_m_pnl_example_long_and_short() -> None:
    """Binance FAQ "How to Calculate Profit and Loss for Futures Contracts" (COIN-M text, mirrored at
    covesthelp.zendesk.com/hc/en-gu/articles/4406500538137): long 10,000 USD at 50,000, exit 55,000:
    (1/50,000 - 1/55,000) x 10,000 = 0.018182 BTC = 0.018182 x 55,000 = 1,000 USDT; short 10,000 USD at 50,000,
    exit 45,000: (1/50,000 - 1/45,000) x -10,000 = 0.022 BTC = 1,000 USDT. 100 contracts of 100 USD here."""
    long_ = engine(100, 55_000)
    pnl = long_.pnl_coin(one(100, 50_000).positions[0])
    assert round(pnl / 1e8, 6) == 0.018182
    assert pnl == 1_818_181  # floor(0.2 BTC) - ceil(10,000 / 55,000 BTC), in satoshi: rounded against the holder
    res = long_.evaluate(one(100, 50_000))
    assert 1_000_000_000 - 550 <= res.equity_usd < 1_000_000_000  # 1,000 USD less < 1 satoshi at 55,000
    short = engine(100, 45_000)
    pnl_s = short.pnl_coin(one(-100, 50_000).positions[0])
    assert round(pnl_s / 1e8, 3) == 0.022 and pnl_s == 2_222_222
    assert 1_000_000_000 - 450 <= short.evaluate(one(-100, 50_000)).equity_usd < 1_000_000_000
    # a losing long: the loss is rounded up (never in the account's favour)
    lose = engine(100, 45_000).pnl_coin(one(100, 50_000).positions[0])
    assert lose == 20_000_000 - 22_222_223 and lose < -Fraction(10_000, 45_000) * 10**8 + 20_000_000 + 1


def test_binance_coin_m_maintenance_amount_example() -> None:
    """Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts"
    (https://www.binance.com/es/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46): "the BTCUSD Maintenance Amount on
    Level 5 = 50 BTC x (5% - 2.5%) + 0.56 BTC = 1.81 BTC". The coin ladder uses the same continuity rule."""
    from zkmargin.circuits.rules.params import cum_amounts

    step = cum_amounts([0, qt(50)], [25_000, 50_000])[1]
    assert step + qt(0.56) == qt(1.81)


def test_binance_coin_m_maintenance_margin_example() -> None:
    """Binance FAQ "How to Calculate Liquidation Price of Coin-M Futures Contracts"
    (https://www.binance.com/es-MX/support/faq/how-to-calculate-liquidation-price-of-coin-m-futures-contracts-
    ceccfcfb4e3a45e3b48b0b1bb1a8ae46): 100 BTCUSD perpetual contracts (100 USD each) at mark 25,000: notional
    100 x 100 / 25,000 = 0.4 BTC, level 1 (0.4%): MM = 0.4 x 0.4% - 0 = 0.0016 BTC."""
    eng = engine(100, 25_000)
    acct = one(100, 25_000, balance=1)
    assert eng.notional_coin(acct.positions[0]) == qt(0.4)
    assert eng.evaluate(acct).mm_coin == qt(0.0016)


def test_binance_coin_m_cross_liquidation_price_calculator_example() -> None:
    """Binance developer forum, "Coin-margined futures liquidation price calculation help"
    (https://dev.binance.vision/t/coin-margined-futures-liquidation-price-calculation-help-cm-variable/6292):
    wallet balance 101 BTC, one cross position long 100,000 BTCUSD contracts (10,000,000 USD) at 45,000; "the
    Binance Calculator is calculating the Liquidation Price as $33,599.40". The FAQ above puts a 300 BTC position in
    the 12.5% level with maintenance amount 11.605 BTC; the notional at the liquidation price (10 M / 33,599.4 =
    297.6 BTC) is in that level, and Binance's COIN-M formula LP = (|B| MMR + side |B|) / (WB + cum + side |B| / EP)
    = 11,250,000 / (101 + 11.605 + 222.222...) = 33,599.4186, shown at BTCUSD's 0.1 USD price tick: 33,599.40
    (with the older page's 11.81 BTC it would be 33,578.66). The lower level here only makes the ladder continuous."""
    br = make_coin_brackets([(0, 200, 0.15, 0.066975), (200, 400, 0.25, 0.125)])
    assert br[1].cum == qt(11.605)
    eng = engine(100, 45_000, brackets=br)
    lp = eng.liquidation_price(one(100_000, 45_000, balance=101), 0)
    assert lp is not None and round(float(lp), 4) == 33_599.4186
    assert round(float(lp), 1) == 33_599.4
    # the entry level would have been used by a solver that ignores the bracket at LP: 222.2 BTC is also 12.5% here,
    # so check the solver's bracket against the notional at LP directly
    assert 200 <= 10_000_000 / lp < 400


def test_coinbene_inverse_pnl_example() -> None:
    """CoinBene "PNL Calculation" (coinbenevip.zendesk.com/hc/en-us/articles/360033790094): long 1,000 BTCUSD
    contracts (1 USD each) at 1,000, mark 1,250: (1/1,000 - 1/1,250) x 1,000 = 0.20 BTC unrealised."""
    assert engine(1, 1_250).pnl_coin(one(1_000, 1_000).positions[0]) == qt(0.20)


def test_bybit_inverse_isolated_liquidation_price() -> None:
    """Bybit help centre "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)", Inverse
    Perpetual & Futures (https://testnet.bybit.com/ar-SA/help-center/article/Liquidation-Price-Calculation-under-
    Isolated-Mode-Unified-Trading-Account, English text): LP (long) = Contract Qty / [Position Value + (IM - MM)],
    Position Value = Qty / Entry, IM = PV / Leverage, MM = PV x MMR - deduction. Its example: 60,000 USD of BTCUSD
    at 50,000, 10x, MMR 0.5%: PV = 1.2 BTC, IM = 0.12 BTC, MM = 0.006 BTC, so LP = 60,000 / 1.314 = 45,662.10
    (MM and LP: the page's formula on its inputs; the excerpt we read stops after IM). MM is at the ENTRY value
    (Bybit's convention)."""
    br = make_coin_brackets([(0, 1_000, 0.10, 0.005)])
    eng = engine(1, 50_000, brackets=br)
    acct = one(60_000, 50_000, balance=0.12)  # the isolated margin is the account's whole balance
    lp = eng.liquidation_price(acct, 0, LiquidationConvention.MM_AT_ENTRY_VALUE)
    assert lp == Fraction(60_000) / (Fraction(12, 10) + Fraction(12, 100) - Fraction(6, 1000))
    assert round(float(lp), 2) == 45_662.10
    # Binance COIN-M convention (MM at the liquidation mark): LP = (Q + |Q| MMR) / (WB + cum + Q / EP)
    lp_b = eng.liquidation_price(acct, 0)
    assert lp_b == Fraction(60_000 * 1005, 1000) / (Fraction(12, 100) + Fraction(12, 10))
    assert lp_b > lp  # MM at the lower mark is the larger coin amount: liquidated earlier for a long


def test_inverse_liquidation_price_flips_the_exact_engine() -> None:
    """Two positions (long BTCUSD, short a second inverse perp) in one BTC cross account: one tick past the
    long's LP the exact coin engine says liquidation, one tick before it does not."""
    ins = {
        "BTCUSD-PERP": InverseInstrument(symbol="BTCUSD-PERP", coin="BTC", contract_size=100 * 10**6, brackets=LADDER),
        "BTCUSD-Q": InverseInstrument(
            symbol="BTCUSD-Q", coin="BTC", kind="future", contract_size=100 * 10**6, brackets=LADDER
        ),
    }
    acct = InverseAccount(
        account_id="x",
        coin="BTC",
        balance=qt(3),
        positions=[
            InversePosition(instrument="BTCUSD-PERP", contracts=30_000, entry_price=px(36_000)),
            InversePosition(instrument="BTCUSD-Q", contracts=-5_000, entry_price=px(36_500)),
        ],
    )
    marks = {"BTCUSD-PERP": px(36_000), "BTCUSD-Q": px(36_400)}
    eng = InverseEngine(ins, marks, {"BTC": px(36_000)})
    lp = eng.liquidation_price(acct, 0)
    assert lp is not None and 20_000 < lp < 36_000
    for price, liq in ((lp - Fraction(1, 100), True), (lp + Fraction(1, 100), False)):
        e2 = InverseEngine(ins, marks | {"BTCUSD-PERP": round(price * 10**8)}, {"BTC": round(price * 10**8)})
        assert (e2.evaluate(acct).status == "liquidation") is liq


def test_usd_conversion_at_the_index_rounds_against_the_account() -> None:
    eng = engine(100, 36_000, index=35_999.99)
    r = eng.evaluate(one(3_000, 40_000, balance=0.5))
    idx = Fraction(px(35_999.99), 10**8)
    assert r.equity_usd == int(Fraction(r.equity_coin, 10**8) * idx * 10**6 // 1)
    assert r.mm_usd == -(-(Fraction(r.mm_coin, 10**8) * idx * 10**6) // 1)
    assert r.mm_coin > 0 and r.im_coin >= r.mm_coin


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**40), 2**40),
            st.integers(10**5, 2**45),
            st.integers(-(10**12), 10**12),
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 500),
    st.integers(10**6, 10**14),
)
def test_numpy_inverse_book_is_bit_identical(rows: list[tuple[int, int, int]], size: int, mark: int) -> None:
    """Random accounts (contracts up to 2^40, entries 0.001 to 350,000 USD, marks 0.01 to 1e6 USD): the numpy path
    equals the exact one on equity, IM and MM in coin."""
    ladder = make_coin_brackets([(0, 50, 0.01, 0.004), (50, 250, 0.02, 0.005), (250, 10**9, 0.05, 0.01)])
    inst = InverseInstrument(symbol="P", coin="BTC", contract_size=size * 10**6, brackets=ladder)
    eng = InverseEngine({"P": inst}, {"P": mark}, {"BTC": mark})
    accts = []
    for c, entry, bal in rows:
        a = InverseAccount(
            account_id="a",
            coin="BTC",
            balance=bal,
            positions=[InversePosition(instrument="P", contracts=c, entry_price=entry)],
        )
        try:
            eng.check(a)
        except ValueError:
            continue
        accts.append(a)
    if not accts:
        return
    book = InverseBook(
        symbols=["P"],
        contracts=np.array([[a.positions[0].contracts] for a in accts], np.int64),
        entry_coin=np.array([[eng.entry_coin(a.positions[0])] for a in accts], np.int64),
        balance=np.array([a.balance for a in accts], np.int64),
    )
    eq, im, mm = evaluate_inverse_book(eng, book)
    for i, a in enumerate(accts):
        r = eng.evaluate(a)
        assert (int(eq[i]), int(im[i]), int(mm[i])) == (r.equity_coin, r.im_coin, r.mm_coin)
