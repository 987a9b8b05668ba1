"""Amounts as a trader reads them: prices at the tick, quantities at the lot, money in cents.

The store keeps every digit (NUMERIC(38, 18)); a report shows what the instrument can carry.
The tick and lot come from TrueX's price buckets (:mod:`truex_qf.domain.increments`) at a
reference price of the symbol (its average fill price, else its fair value). Money is in the
quote currency (the part of the symbol after the dash, e.g. PYUSD) at 2 decimals, or at the
tick's when the tick is finer (a symbol quoted in 0.0001 has fees worth showing to 0.0001).
Averages are shown at the tick's number of decimals, not rounded onto the tick itself.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from truex_qf.domain.decimals import plain_decimal
from truex_qf.domain.increments import PriceGrid

_GRID = PriceGrid()
MONEY_DECIMALS = 2


def quote_currency(symbol: str) -> str:
    """``BTC-PYUSD`` → ``PYUSD`` (the whole symbol when it has no dash)."""
    return symbol.rpartition("-")[2] or symbol


def base_currency(symbol: str) -> str:
    """``BTC-PYUSD`` → ``BTC``."""
    return symbol.partition("-")[0] or symbol


def _decimals(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _fixed(value: Decimal, decimals: int) -> str:
    quantum = Decimal(1).scaleb(-decimals)
    text = format(value.quantize(quantum, rounding=ROUND_HALF_EVEN), "f")
    return "0" + text[2:] if text.startswith("-0") and Decimal(text) == 0 else text


class Amounts:
    """Formatting for one symbol at one reference price (see the module docstring)."""

    def __init__(self, symbol: str, reference_price: Decimal | None) -> None:
        self.symbol = symbol
        self.quote = quote_currency(symbol)
        self.base = base_currency(symbol)
        self.price_decimals: int | None = None
        self.quantity_decimals: int | None = None
        if reference_price is not None and reference_price > 0:
            step = _GRID.increment_for(reference_price)
            self.price_decimals = _decimals(step.tick)
            self.quantity_decimals = _decimals(step.lot)
        self.money_decimals = max(MONEY_DECIMALS, self.price_decimals or 0)

    def price(self, value: Decimal | None) -> str:
        return self._at(value, self.price_decimals)

    def quantity(self, value: Decimal | None) -> str:
        return self._at(value, self.quantity_decimals)

    def money(self, value: Decimal | None) -> str:
        return self._at(value, self.money_decimals)

    @staticmethod
    def _at(value: Decimal | None, decimals: int | None) -> str:
        if value is None:
            return ""
        if decimals is None:
            return plain_decimal(value)
        return _fixed(Decimal(value), decimals)


def bps(value: Decimal | None) -> str:
    """Basis points to one decimal."""
    return "" if value is None else _fixed(value, 1)


def percent(value: Decimal | None) -> str:
    """A fraction (0..1) as a percentage to one decimal."""
    return "" if value is None else _fixed(value * 100, 1)


LIQUIDITY = {"1": "maker", "M": "maker", "2": "taker", "T": "taker", "3": "auction"}
"""LastLiquidityInd (851): 1 added liquidity (maker), 2 removed it (taker)."""


def liquidity_name(code: str | None) -> str:
    if not code:
        return ""
    return LIQUIDITY.get(code.strip().upper(), code)
