"""Shape of a solvency batch circuit, the bit widths it enforces, and the public-signal layout.

The circuit is generic over :class:`SolvencyShape`; everything that changes per epoch (marks, brackets,
haircut tiers, risk arrays, prices) is a signal, while the *layout* (how many slots of each kind and which
position slots belong to which portfolio-margin underlying) is fixed by the shape and therefore by the
verifying key.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkmargin.circuits import constants as _c

# Widths that bound engine quantities are defined with the scales they bound (circuits/constants.py).
BASIS_BITS = _c.BASIS_BITS
CASH_BITS = _c.CASH_BITS
EQUITY_BITS = _c.EQUITY_BITS
HCOLL_OFFSET_BITS = _c.HCOLL_OFFSET_BITS
MARK_BAND_BITS = _c.MARK_BAND_BITS
MM_BITS = _c.MM_BITS
PRICE_BITS = _c.PRICE_BITS
QTY_BITS = _c.QTY_BITS
RATE_BITS = _c.RATE_BITS
SCEN_BITS = _c.SCEN_BITS
SLACK_BITS = _c.SLACK_BITS
USD_PRICE = _c.USD_PRICE
USD_UNITS_PER_MICRO = _c.USD_UNITS_PER_MICRO
VALUE_BITS = _c.VALUE_BITS

# ----------------------------------------------------------------------------- bit widths (documented bounds)

VALUE_TOP = 1 << VALUE_BITS  # the implicit cap of the last bracket/tier and the floor of padding ones
EPOCH_BITS = 64  # epoch is a uint64 (verifier/attestation.py)
ID_BITS = 128  # id_hash < 2^128; consecutive active ids differ by >= 1 and < 2^128

# ----------------------------------------------------------------------------- hard floors (fixed by the key)
# No governed parameter set can go under these: the circuit range-checks every parameter against them, so even
# a parameter document that governance approved by mistake cannot make margin vanish. They are deliberately
# loose (real venues sit well above them); the governed values are the real policy.
MIN_MMR_PPM = 1_000  # 0.1% maintenance rate on every linear bracket
MIN_MM_RATIO_PPM = 250_000  # portfolio MM >= 25% of the scenario IM
MIN_SHORT_OPTION_PPM = _c.RATE_SCALE // 100  # short options pay >= 1% of the index per unit
MAX_HAIRCUT_RATE_PPM = _c.RATE_SCALE  # collateral never counts above its value
MAX_BASIS_CAP_BPS = 500  # a linear mark may sit at most 5% from its oracle index


SLOT_LINEAR = 0  # perpetual or dated future: mark bound to the oracle index by the basis cap
SLOT_OPTION = 1  # option: mark and risk array from the published vol surface (audited), portfolio mode only

PACK_BITS = 252  # at most this many bits packed into one field element (2^252 < r)
SIGNED_QTY_WIDTH = QTY_BITS + 1  # width of a packed (x + 2^53) piece
CASH_WIDTH = CASH_BITS + 1  # width of a packed (cash + 2^63) piece

# ----------------------------------------------------------------------------- public signals

PUB_EPOCH = 0
PUB_BATCH_ROOT = 1
PUB_PARAMS_COMMITMENT = 2  # governed risk parameters: must equal the registry's approved commitment
PUB_MARKET_COMMITMENT = 3  # per-epoch market data (marks, risk arrays): recomputed by the audit
PUB_FIRST_ID_HASH = 4
PUB_LAST_ID_HASH = 5
PUB_ACCOUNT_COUNT = 6
PUB_TOTAL_EQUITY = 7  # sum of max(equity, 0)
PUB_TOTAL_MM = 8
PUB_UNDER_MM_COUNT = 9  # accounts with equity < MM
PUB_TOTAL_SHORTFALL = 10  # sum of max(0, MM - equity)
PUB_TOTAL_BAD_DEBT = 11  # sum of max(0, -equity)
PUB_PRICES = 12  # prices[A] at 12 .. 12+A-1, then liabilities[A] at 12+A .. 12+2A-1
FIXED_PUBLIC_NAMES = (
    "epoch",
    "batch_root",
    "params_commitment",
    "market_commitment",
    "first_id_hash",
    "last_id_hash",
    "account_count",
    "total_equity",
    "total_mm",
    "under_mm_count",
    "total_shortfall",
    "total_bad_debt",
)
assert len(FIXED_PUBLIC_NAMES) == PUB_PRICES


def public_signal_names(assets: int) -> list[str]:
    """Names of the public signals in order; identical to ``zkmargin.verifier.attestation.signal_names`` (tested)."""
    return [
        *FIXED_PUBLIC_NAMES,
        *(f"prices[{a}]" for a in range(assets)),
        *(f"liabilities[{a}]" for a in range(assets)),
    ]


def pub_price(a: int) -> int:
    return PUB_PRICES + a


def pub_liability(a: int, assets: int) -> int:
    return PUB_PRICES + assets + a


# ----------------------------------------------------------------------------- shape


@dataclass(frozen=True)
class SolvencyShape:
    """Circuit dimensions.

    * ``accounts`` (N) slots per batch, ``assets`` (A) collateral slots, ``positions`` (P) position slots: slot j is
      instrument j of the batch's published instrument list.
    * ``brackets`` (K) leverage brackets per position slot, ``tiers`` (T) haircut tiers per asset: shorter lists are
      padded with unreachable entries whose floor is 2^62 (see docs/circuit.md).
    * ``scenarios`` (S) per risk array; ``slot_underlying[j]`` is the portfolio-margin underlying index of slot j,
      or -1 when instrument j has no risk array (it then always pays tiered MM).
    * ``slot_price[j]`` is the collateral slot whose public oracle price is instrument j's underlying index (every
      underlying is an asset slot, with haircut rate 0 when it is not accepted as collateral);
      ``slot_kind[j]`` is SLOT_LINEAR or SLOT_OPTION (options need a risk array). Defaults: every slot priced by
      asset 0 and linear, for shapes built by hand in tests.
    * ``usd_slot`` is the asset slot holding each account's USD cash (realised PnL and isolated margins, 1e8 units
      per USD), priced at exactly 1 USD in-circuit, so positive cash is a published liability like any balance;
      -1 when the layout has none (cash then stays inside the leaf's ``cash``).
    """

    accounts: int
    assets: int
    positions: int
    brackets: int
    tiers: int
    scenarios: int
    slot_underlying: tuple[int, ...]
    slot_price: tuple[int, ...] = ()
    slot_kind: tuple[int, ...] = ()
    usd_slot: int = -1

    def __post_init__(self) -> None:
        if not self.slot_price:
            object.__setattr__(self, "slot_price", (0,) * self.positions)
        if not self.slot_kind:
            object.__setattr__(self, "slot_kind", (SLOT_LINEAR,) * self.positions)
        for name in ("accounts", "assets", "positions", "brackets", "tiers", "scenarios"):
            if getattr(self, name) < 1:
                raise ValueError(f"shape.{name} must be >= 1")
        if len(self.slot_underlying) != self.positions:
            raise ValueError("shape.slot_underlying needs one entry per position slot")
        if any(u < -1 for u in self.slot_underlying):
            raise ValueError("shape.slot_underlying entries are -1 or an underlying index")
        used = sorted({u for u in self.slot_underlying if u >= 0})
        if used != list(range(len(used))):
            raise ValueError("shape.slot_underlying must use underlyings 0..U-1 without gaps")
        if len(self.slot_price) != self.positions or any(not 0 <= a < self.assets for a in self.slot_price):
            raise ValueError("shape.slot_price needs one asset slot in [0, A) per position slot")
        if len(self.slot_kind) != self.positions or any(k not in (SLOT_LINEAR, SLOT_OPTION) for k in self.slot_kind):
            raise ValueError("shape.slot_kind needs SLOT_LINEAR or SLOT_OPTION per position slot")
        if any(k == SLOT_OPTION and u < 0 for k, u in zip(self.slot_kind, self.slot_underlying, strict=True)):
            raise ValueError("shape.slot_kind: an option slot needs a risk array (slot_underlying >= 0)")
        if not -1 <= self.usd_slot < self.assets:
            raise ValueError("shape.usd_slot: -1 or an asset slot")
        if self.accounts > 1 << 16:
            raise ValueError("at most 2^16 accounts per batch (totals stay far below the field size)")

    @property
    def underlyings(self) -> int:
        return max(self.slot_underlying, default=-1) + 1

    @property
    def depth(self) -> int:
        """Merkle depth: the smallest d with 2^d >= accounts."""
        return max(0, (self.accounts - 1).bit_length())

    def linear_slots(self) -> list[int]:
        return [j for j, k in enumerate(self.slot_kind) if k == SLOT_LINEAR]

    def option_slots(self) -> list[int]:
        return [j for j, k in enumerate(self.slot_kind) if k == SLOT_OPTION]

    def ra_slots(self) -> list[int]:
        """Position slots that carry a risk array (portfolio margin replaces their tiered MM)."""
        return [j for j, u in enumerate(self.slot_underlying) if u >= 0]

    @staticmethod
    def uniform(
        accounts: int,
        assets: int,
        positions: int,
        brackets: int = 10,
        tiers: int = 3,
        scenarios: int = 16,
        underlyings: int = 1,
    ) -> SolvencyShape:
        """A shape whose position slots are spread evenly over ``underlyings`` (0 = no risk arrays at all)."""
        su = tuple(j * underlyings // positions if underlyings else -1 for j in range(positions))
        return SolvencyShape(accounts, assets, positions, brackets, tiers, scenarios, su)
