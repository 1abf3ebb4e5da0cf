"""The batch solvency circuit: N committed accounts, each proven to have equity >= maintenance margin computed
bit-exactly as :meth:`zkmargin.prover.engine.margin.MarginEngine.evaluate` (modes cross and portfolio; isolated
accounts in their cross view), with ordered leaves, a Merkle root, batch totals and a parameter commitment.

Per account (names are the witness input names under ``acct[i].``):

* inputs ``active, id_hash, salt, portfolio, cash, bal[a], qty[j]``; inactive slots are constrained all-zero and
  their leaf is the empty leaf 0; actives form a prefix ordered by strictly increasing id_hash.
* collateral: B_a = floor(b_a * price_a / 1e10) from one division of |b_a| (tight remainder); positive values pass
  through the asset's haircut tiers (tier chosen by a proven one-hot), negative values count in full;
  H = floor(sum_a numerator_a / 1e6).
* positions: V_j = floor(q_j * mark_j / 1e10), N_j = ceil(|q_j| * mark_j / 1e10) from one division of |q_j|;
  bracket k with floor_k <= N_j < floor_{k+1} by a proven one-hot; tiered MM = ceil(sum_j (N_j mmr_k - cum_k 1e6)
  / 1e6) over the slots that pay tiered margin (all slots for cross, slots without a risk array for portfolio).
* portfolio: per underlying u, Y_u = max(0, max_s -sum_j q_j R_j[s], sum_{j short} |q_j| smin_j) with R = long
  array for q > 0 and short array = long + 1 otherwise (one product per slot and scenario); IM_u = ceil(Y_u / 1e8)
  (= the engine's max of per-scenario ceilings, ceil being monotone); MM_p = ceil(sum_u IM_u * mm_ratio / 1e6),
  counted when the portfolio flag is set.
* equity = H + cash + sum_j V_j (cash = realised PnL + isolated margins - entry values); equity - MM in [0, 2^64).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from zkmargin.circuits.constants import BPS_SCALE, QTY_SCALE, RATE_SCALE, SMIN_DIVISOR, WIDE_DIVISOR
from zkmargin.circuits.field import R
from zkmargin.circuits.gadgets import assert_boolean, is_zero, range_check, signed_decompose, signed_range_check
from zkmargin.circuits.merkle import merkle_root_gadget
from zkmargin.circuits.poseidon import poseidon_gadget
from zkmargin.circuits.r1cs import LC, R1CS, ConstraintSystem

from .gadgets import divmod_const, interval_one_hot, max_candidates, select_one_hot, signed
from .leaf import PIECES_PER_PACK, leaf_arity
from .params import CHUNK, MARKET_TAG, PARAMS_TAG
from .shape import (
    BASIS_BITS,
    CASH_BITS,
    CASH_WIDTH,
    EPOCH_BITS,
    EQUITY_BITS,
    FIXED_PUBLIC_NAMES,
    HCOLL_OFFSET_BITS,
    ID_BITS,
    MARK_BAND_BITS,
    MAX_BASIS_CAP_BPS,
    MAX_HAIRCUT_RATE_PPM,
    MIN_MM_RATIO_PPM,
    MIN_MMR_PPM,
    MIN_SHORT_OPTION_PPM,
    MM_BITS,
    PRICE_BITS,
    QTY_BITS,
    RATE_BITS,
    SCEN_BITS,
    SIGNED_QTY_WIDTH,
    SLACK_BITS,
    USD_PRICE,
    VALUE_BITS,
    VALUE_TOP,
    SolvencyShape,
)

INV2 = pow(2, R - 2, R)

COMPONENTS = (
    "input ranges",
    "divisions",
    "haircut tiers",
    "brackets",
    "tiered MM",
    "scenarios",
    "solvency check",
    "leaf hash",
    "ordering + padding",
    "tree",
    "totals",
    "params commitment",
    "hard floors + marks",
)


@dataclass
class AccountSignals:
    """Linear combinations of one account's in-circuit results (read them with :meth:`SolvencyCircuit.value`)."""

    active: LC
    id_hash: LC
    equity: LC
    mm: LC
    positive_equity: LC
    under_mm: LC
    shortfall: LC
    bad_debt: LC
    mm_tiered: LC
    mm_portfolio: LC
    collateral: LC
    position_values: list[LC]
    notionals: list[LC]
    positive_balances: list[LC]
    leaf: LC


class SolvencyCircuit:
    """Builds the constraint system for a shape; ``budget`` counts constraints per component."""

    def __init__(self, shape: SolvencyShape) -> None:
        self.shape = shape
        leaf_arity(shape.assets, shape.positions)
        self.cs = ConstraintSystem()
        self.budget: dict[str, int] = defaultdict(int)
        self.accounts: list[AccountSignals] = []
        self._build()
        self.r1cs: R1CS = self.cs.compile()
        order = self.cs._order()
        self._pos = {sid: i for i, sid in enumerate(order)}

    # ------------------------------------------------------------------ helpers

    @contextmanager
    def _part(self, name: str) -> Iterator[None]:
        before = self.cs.n_constraints
        yield
        self.budget[name] += self.cs.n_constraints - before

    def value(self, lc: LC, witness: Sequence[int]) -> int:
        """Signed integer value of an internal linear combination under a compiled-order witness."""
        return signed(sum(c * witness[self._pos[s]] for s, c in lc.terms.items()) % R)

    def witness(self, inputs: Mapping[str, int]) -> list[int]:
        return self.cs.witness(inputs)

    def public_index(self, name: str) -> int:
        """Position of a public signal in the public array (0-based, excluding the constant one)."""
        return self.r1cs.signal_index(name) - 1

    # ------------------------------------------------------------------ build

    def _build(self) -> None:
        cs, sh = self.cs, self.shape
        pub = {n: cs.input(n, public=True) for n in FIXED_PUBLIC_NAMES}
        prices = [cs.input(f"prices[{a}]", public=True) for a in range(sh.assets)]
        liabilities = [cs.input(f"liabilities[{a}]", public=True) for a in range(sh.assets)]
        self._params(pub, prices)
        for i in range(sh.accounts):
            with cs.scope(f"acct[{i}]"):
                self.accounts.append(self._account(prices))
        self._batch(pub, liabilities)

    def _params(self, pub: dict[str, LC], prices: list[LC]) -> None:
        cs, sh = self.cs, self.shape
        with self._part("params commitment"), cs.scope("params"):
            # Groth16 binds a public input only through constraints that use it; the range check binds the epoch.
            range_check(cs, pub["epoch"], EPOCH_BITS, "epoch.range")
            for a, p in enumerate(prices):
                range_check(cs, p - 1, PRICE_BITS, f"price[{a}].nonzero_range")  # 0 < price < 2^53 + 1
            if sh.usd_slot >= 0:  # USD cash is worth exactly 1 USD, whatever a feed band would tolerate
                cs.assert_equal(prices[sh.usd_slot], USD_PRICE, "usd_price")
            self.version = cs.input("version")
            self.mm_ratio = cs.input("mm_ratio")
            self.smin_ppm = cs.input("short_option_min_ppm")
            self.basis_cap = [cs.input(f"basis_cap_bps[{j}]") for j in range(sh.positions)]
            self.marks = [cs.input(f"mark[{j}]") for j in range(sh.positions)]
            for j, m in enumerate(self.marks):
                range_check(cs, m, PRICE_BITS, f"mark[{j}].range")
            self.b_floor, self.b_mmr, self.b_cum = [], [], []
            for j in range(sh.positions):
                self.b_floor.append([cs.input(f"bracket[{j}][{k}].floor") for k in range(sh.brackets)])
                self.b_mmr.append([cs.input(f"bracket[{j}][{k}].mmr") for k in range(sh.brackets)])
                self.b_cum.append([cs.input(f"bracket[{j}][{k}].cum") for k in range(sh.brackets)])
            self.h_floor, self.h_rate, self.h_cum = [], [], []
            for a in range(sh.assets):
                fl = [cs.input(f"haircut[{a}][{t}].floor") for t in range(sh.tiers)]
                rt = [cs.input(f"haircut[{a}][{t}].rate") for t in range(sh.tiers)]
                # value numerator (1e12 scale) accumulated below tier t: sum_{x<t} rate_x (floor_{x+1} - floor_x)
                cum = [LC()]
                for t in range(1, sh.tiers):
                    cum.append(cum[-1] + cs.mul(rt[t - 1], fl[t] - fl[t - 1], f"haircut[{a}][{t}].cum"))
                self.h_floor.append(fl)
                self.h_rate.append(rt)
                self.h_cum.append(cum)
            ra = sh.ra_slots()
            self.r_long = {j: [cs.input(f"risk[{j}].long[{s}]") for s in range(sh.scenarios)] for j in ra}
            gov: list[LC] = [
                LC.const(x)
                for x in (PARAMS_TAG, sh.assets, sh.positions, sh.brackets, sh.tiers, sh.scenarios, sh.underlyings)
            ]
            for j in range(sh.positions):
                gov += [LC.const(x) for x in (sh.slot_underlying[j] + 1, sh.slot_price[j], sh.slot_kind[j])]
            gov.append(LC.const(sh.usd_slot + 1))
            gov += [self.version, self.mm_ratio, self.smin_ppm, *self.basis_cap]
            for j in range(sh.positions):
                for k in range(sh.brackets):
                    gov += [self.b_floor[j][k], self.b_mmr[j][k], self.b_cum[j][k]]
            for a in range(sh.assets):
                for t in range(sh.tiers):
                    gov += [self.h_floor[a][t], self.h_rate[a][t]]
            cs.assert_equal(_sponge(cs, gov, "sponge"), pub["params_commitment"], "commitment")
            market: list[LC] = [LC.const(MARKET_TAG), LC.const(sh.positions), LC.const(sh.scenarios), *self.marks]
            for j in ra:
                market += self.r_long[j]
            cs.assert_equal(_sponge(cs, market, "market_sponge"), pub["market_commitment"], "market_commitment")

        with self._part("hard floors + marks"), cs.scope("floors"):
            # No parameter set, governed or not, goes under these (shape.py); each is one range check per batch.
            for j in sh.linear_slots():
                for k in range(sh.brackets):
                    range_check(cs, self.b_mmr[j][k] - MIN_MMR_PPM, RATE_BITS, f"bracket[{j}][{k}].mmr_floor")
            for a in range(sh.assets):
                for t in range(sh.tiers):
                    range_check(cs, self.h_rate[a][t], RATE_BITS, f"haircut[{a}][{t}].rate_range")
                    range_check(cs, MAX_HAIRCUT_RATE_PPM - self.h_rate[a][t], RATE_BITS, f"haircut[{a}][{t}].rate_cap")
            range_check(cs, self.mm_ratio - MIN_MM_RATIO_PPM, RATE_BITS, "mm_ratio_floor")
            range_check(cs, self.smin_ppm - MIN_SHORT_OPTION_PPM, RATE_BITS, "short_option_min_floor")
            for j in sh.linear_slots():
                range_check(cs, self.basis_cap[j], BASIS_BITS, f"basis_cap[{j}].range")
                range_check(cs, MAX_BASIS_CAP_BPS - self.basis_cap[j], BASIS_BITS, f"basis_cap[{j}].cap")
            # linear marks within the governed basis cap of the public oracle index: |mark - idx| * 1e4 <= cap * idx
            for j in sh.linear_slots():
                idx = prices[sh.slot_price[j]]
                band = cs.mul(self.basis_cap[j], idx, f"mark[{j}].band")
                dev = (self.marks[j] - idx) * BPS_SCALE
                range_check(cs, band - dev, MARK_BAND_BITS, f"mark[{j}].max")
                range_check(cs, band + dev, MARK_BAND_BITS, f"mark[{j}].min")
            # short-option minimum per unit from the public index: ceil(idx * ppm / 1e8), as rules/risk_arrays.py
            self.smin: dict[int, LC] = {}
            for j in sh.option_slots():
                self.smin[j], _ = divmod_const(
                    cs,
                    prices[sh.slot_price[j]],
                    self.smin_ppm,
                    SMIN_DIVISOR,
                    f"smin[{j}]",
                    add=SMIN_DIVISOR - 1,
                    quotient_bits=PRICE_BITS,
                )

    def _account(self, prices: list[LC]) -> AccountSignals:
        cs, sh = self.cs, self.shape
        active = cs.input("active")
        idh = cs.input("id_hash")
        salt = cs.input("salt")
        pf = cs.input("portfolio")
        cash = cs.input("cash")
        bal = [cs.input(f"bal[{a}]") for a in range(sh.assets)]
        qty = [cs.input(f"qty[{j}]") for j in range(sh.positions)]

        with self._part("input ranges"):
            assert_boolean(cs, active, "active.bool")
            assert_boolean(cs, pf, "portfolio.bool")
            signed_range_check(cs, cash, CASH_BITS, "cash.range")
            b_abs, b_neg = _split([signed_decompose(cs, b, QTY_BITS, f"bal[{a}].range") for a, b in enumerate(bal)])
            q_abs, q_neg = _split([signed_decompose(cs, q, QTY_BITS, f"qty[{j}].range") for j, q in enumerate(qty)])
            # no free mode bit: an option position exists only in portfolio mode (else it would pay no margin)
            for j in sh.option_slots():
                cs.constrain(1 - pf, qty[j], LC(), f"qty[{j}].option_needs_portfolio")

        # ---- collateral
        hnum = LC()
        pos_bal = []
        for a in range(sh.assets):
            with self._part("divisions"):
                w, rem = divmod_const(cs, b_abs[a], prices[a], WIDE_DIVISOR, f"coll[{a}].value")
                nz = 1 - is_zero(cs, rem, f"coll[{a}].rem_is_zero")
            with self._part("haircut tiers"):
                # the tier check also proves 0 <= w < 2^62, which pins the division's quotient
                h, f_sel = interval_one_hot(cs, w, self.h_floor[a], VALUE_TOP, VALUE_BITS, f"coll[{a}].tier")
                rate_sel = select_one_hot(cs, h, self.h_rate[a], f"coll[{a}].tier.rate")
                cum_sel = select_one_hot(cs, h, self.h_cum[a], f"coll[{a}].tier.cum")
                g = cum_sel + cs.mul(rate_sel, w - f_sel, f"coll[{a}].haircut")
                neg_val = (w + nz) * (-RATE_SCALE)  # floor(b p / 1e10) * 1e6 for b < 0: borrowings count in full
                hnum = hnum + neg_val + cs.mul(1 - b_neg[a], g - neg_val, f"coll[{a}].sign")
            pos_bal.append((bal[a] + b_abs[a]) * INV2)  # max(b, 0), linear
        with self._part("divisions"):
            off = RATE_SCALE << HCOLL_OFFSET_BITS
            hq, _ = divmod_const(cs, hnum, None, RATE_SCALE, "collateral", add=off)
            collateral = hq - (1 << HCOLL_OFFSET_BITS)  # pinned by the equity range check below

        # ---- positions: values, notionals, brackets
        tiered_plain, tiered_ra = LC(), LC()
        values, notionals = [], []
        ra = set(sh.ra_slots())
        for j in range(sh.positions):
            with self._part("divisions"):
                w, rem = divmod_const(cs, q_abs[j], self.marks[j], WIDE_DIVISOR, f"pos[{j}].value")
                nz = 1 - is_zero(cs, rem, f"pos[{j}].rem_is_zero")
                notional = w + nz  # ceil(|q| mark / 1e10)
                value = -notional + cs.mul(1 - q_neg[j], w + notional, f"pos[{j}].sign")  # q>=0: w; q<0: -N
            with self._part("brackets"):
                h, _ = interval_one_hot(cs, notional, self.b_floor[j], VALUE_TOP, VALUE_BITS, f"pos[{j}].bracket")
                mmr_sel = select_one_hot(cs, h, self.b_mmr[j], f"pos[{j}].bracket.mmr")
                cum_sel = select_one_hot(cs, h, self.b_cum[j], f"pos[{j}].bracket.cum")
                mnum = cs.mul(notional, mmr_sel, f"pos[{j}].mm") - cum_sel * RATE_SCALE
            if j in ra:
                tiered_ra = tiered_ra + mnum
            else:
                tiered_plain = tiered_plain + mnum
            values.append(value)
            notionals.append(notional)
        with self._part("tiered MM"):
            tiered = tiered_plain + (cs.mul(1 - pf, tiered_ra, "tiered.mode") if ra else LC())
            mm_t, _ = divmod_const(cs, tiered, None, RATE_SCALE, "tiered", add=RATE_SCALE - 1, quotient_bits=MM_BITS)

        # ---- portfolio margin
        with self._part("scenarios"):
            im_total = LC()
            for u in range(sh.underlyings):
                slots = [j for j in range(sh.positions) if sh.slot_underlying[j] == u]
                qneg = {j: (qty[j] - q_abs[j]) * INV2 for j in slots}  # min(q, 0)
                # published short = long + 1, so sum_j q_j R_j[s] = sum_j q_j long_j[s] + sum_j min(q_j, 0)
                shorts = sum((qneg[j] for j in slots), LC())
                cands: list[LC] = [LC()]
                for s in range(sh.scenarios):
                    x = shorts
                    for j in slots:
                        x = x + cs.mul(qty[j], self.r_long[j][s], f"u{u}.s{s}[{j}]")
                    cands.append(-x)
                somc = LC()
                for j in slots:
                    if j in self.smin:
                        somc = somc + cs.mul(-qneg[j], self.smin[j], f"u{u}.smin[{j}]")
                cands.append(somc)
                # Y >= 0 is not range-checked: Y is 0 or a candidate >= all others, and IM_u = ceil(Y / 1e8) is
                # proven in [0, 2^62), so a negative Y can only be in (-1e8, 0], where IM_u = 0 = max(0, ...) too.
                y = max_candidates(cs, cands, SCEN_BITS, f"u{u}.worst", unchecked=(0,))
                im_u, _ = divmod_const(cs, y, None, QTY_SCALE, f"u{u}.im", add=QTY_SCALE - 1, quotient_bits=MM_BITS)
                im_total = im_total + im_u
            if sh.underlyings:
                mm_p, _ = divmod_const(
                    cs, im_total, self.mm_ratio, RATE_SCALE, "portfolio_mm", add=RATE_SCALE - 1, quotient_bits=MM_BITS
                )
                mm_p_counted = cs.mul(pf, mm_p, "portfolio_mm.mode")
            else:
                mm_p_counted = LC()

        with self._part("solvency check"):
            # Every account is proven; one below MM is counted with its shortfall instead of failing the batch.
            # The signed decompositions also pin equity to (-2^63, 2^63), which pins the collateral quotient.
            mm = mm_t + mm_p_counted
            equity = collateral + cash + sum(values, LC())
            e_abs, e_neg = signed_decompose(cs, equity, EQUITY_BITS, "equity.sign")
            bad_debt = cs.mul(e_neg, e_abs, "bad_debt")  # max(0, -equity)
            s_abs, under = signed_decompose(cs, equity - mm, SLACK_BITS, "slack.sign")
            shortfall = cs.mul(under, s_abs, "shortfall")  # max(0, mm - equity)

        with self._part("ordering + padding"):
            for name, sig in (("id_hash", idh), ("salt", salt), ("portfolio", pf), ("cash", cash)):
                cs.constrain(1 - active, sig, LC(), f"pad.{name}_zero")
            for a, b in enumerate(bal):
                cs.constrain(1 - active, b, LC(), f"pad.bal[{a}]_zero")
            for j, q in enumerate(qty):
                cs.constrain(1 - active, q, LC(), f"pad.qty[{j}]_zero")

        with self._part("leaf hash"):
            head = (cash + (1 << CASH_BITS)) + pf * (1 << CASH_WIDTH) + idh * (1 << (CASH_WIDTH + 1))
            elems = [salt, head, *_packs(bal), *_packs(qty)]
            digest = poseidon_gadget(cs, elems, "leaf")
            leaf = cs.mul(active, digest, "leaf.empty_if_inactive")

        return AccountSignals(
            active,
            idh,
            equity,
            mm,
            equity + bad_debt,
            under,
            shortfall,
            bad_debt,
            mm_t,
            mm_p_counted,
            collateral,
            values,
            notionals,
            pos_bal,
            leaf,
        )

    def _batch(self, pub: dict[str, LC], liabilities: list[LC]) -> None:
        cs, sh = self.cs, self.shape
        accts = self.accounts
        with self._part("ordering + padding"), cs.scope("order"):
            range_check(cs, accts[0].id_hash, ID_BITS, "first_id.range")
            last = LC()
            for i in range(sh.accounts):
                nxt = accts[i + 1].active if i + 1 < sh.accounts else LC()
                if i + 1 < sh.accounts:
                    cs.constrain(nxt, 1 - accts[i].active, LC(), f"prefix[{i}]")
                    gap = cs.mul(nxt, accts[i + 1].id_hash - accts[i].id_hash - 1, f"gap[{i}]")
                    range_check(cs, gap, ID_BITS, f"gap[{i}].range")
                last = last + cs.mul(accts[i].active - nxt, accts[i].id_hash, f"last[{i}]")
            cs.assert_equal(pub["first_id_hash"], accts[0].id_hash, "first_id_hash")
            cs.assert_equal(pub["last_id_hash"], last, "last_id_hash")
            cs.assert_equal(pub["account_count"], sum((x.active for x in accts), LC()), "account_count")
        with self._part("tree"):
            root = merkle_root_gadget(cs, [x.leaf for x in accts], sh.depth, "tree")
            cs.assert_equal(pub["batch_root"], root, "batch_root")
        with self._part("totals"), cs.scope("totals"):
            cs.assert_equal(pub["total_equity"], sum((x.positive_equity for x in accts), LC()), "total_equity")
            cs.assert_equal(pub["total_mm"], sum((x.mm for x in accts), LC()), "total_mm")
            cs.assert_equal(pub["under_mm_count"], sum((x.under_mm for x in accts), LC()), "under_mm_count")
            cs.assert_equal(pub["total_shortfall"], sum((x.shortfall for x in accts), LC()), "total_shortfall")
            cs.assert_equal(pub["total_bad_debt"], sum((x.bad_debt for x in accts), LC()), "total_bad_debt")
            # what the exchange owes per asset: positive balances only, never netted against other users' debts
            for a, lia in enumerate(liabilities):
                cs.assert_equal(lia, sum((x.positive_balances[a] for x in accts), LC()), f"liabilities[{a}]")


def _sponge(cs: ConstraintSystem, flat: Sequence[LC], name: str) -> LC:
    """In-circuit twin of :func:`params.sponge` (length prefix, chunks of 15)."""
    acc = LC.const(len(flat))
    for c in range(0, len(flat), CHUNK):
        acc = poseidon_gadget(cs, [acc, *flat[c : c + CHUNK]], f"{name}[{c // CHUNK}]")
    return acc


def _split(pairs: Sequence[tuple[LC, LC]]) -> tuple[list[LC], list[LC]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _packs(values: Sequence[LC]) -> list[LC]:
    """Pack range-checked signed pieces (offset by 2^53) four per element, lowest slot in the lowest bits."""
    out = []
    for start in range(0, len(values), PIECES_PER_PACK):
        acc = LC()
        for k, x in enumerate(values[start : start + PIECES_PER_PACK]):
            acc = acc + (x + (1 << QTY_BITS)) * (1 << (SIGNED_QTY_WIDTH * k))
        out.append(acc)
    return out
