"""TrueX's price and quantity grid: tick and lot size depend on the price bucket.

TrueX rejects any order off the grid of its price bucket (spec §7.7, docs "Increment sizes").
The table below is the documented one; the live values are served by REST
``GET /api/v1/market/increment``, so the table is a default that configuration may replace.
The minimum notional differs between the two published pages (tiny per bucket vs 1.00 flat on
the CeFi page): it is a parameter, defaulting to the stricter 1.00.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation

DEFAULT_MIN_NOTIONAL = Decimal("1")


@dataclass(frozen=True, slots=True)
class Increment:
    """The grid of one price bucket: prices at or above ``floor_price`` use these steps."""

    floor_price: Decimal
    tick: Decimal
    lot: Decimal


# Highest bucket first, so the first floor at or below a price is its bucket.
TRUEX_BUCKETS: tuple[Increment, ...] = (
    Increment(Decimal("500000"), Decimal("1"), Decimal("0.000001")),
    Increment(Decimal("100000"), Decimal("0.5"), Decimal("0.00001")),
    Increment(Decimal("10000"), Decimal("0.1"), Decimal("0.0001")),
    Increment(Decimal("1000"), Decimal("0.01"), Decimal("0.001")),
    Increment(Decimal("10"), Decimal("0.001"), Decimal("0.01")),
    Increment(Decimal("0.1"), Decimal("0.0001"), Decimal("1")),
    Increment(Decimal("0.001"), Decimal("0.000001"), Decimal("100")),
    Increment(Decimal("0.00001"), Decimal("0.00000001"), Decimal("10000")),
    Increment(Decimal("0"), Decimal("0.0000000001"), Decimal("1000000")),
)


def _multiple_of(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is a whole number of ``step``s. A value too large for Decimal's
    precision to divide (e.g. a quantity of 1e24 in lots of 1e-6) is not on any sane grid:
    the remainder raises, and the order must be refused rather than crash its handler."""
    try:
        return value.is_finite() and value % step == 0
    except InvalidOperation:
        return False


@dataclass(frozen=True, slots=True)
class PriceGrid:
    """Validates and rounds prices and quantities against a bucket table."""

    buckets: tuple[Increment, ...] = TRUEX_BUCKETS
    min_notional: Decimal = DEFAULT_MIN_NOTIONAL

    def increment_for(self, price: Decimal) -> Increment:
        """The bucket that ``price`` falls in."""
        for bucket in self.buckets:
            if price >= bucket.floor_price:
                return bucket
        return self.buckets[-1]

    def price_on_grid(self, price: Decimal) -> bool:
        return price > 0 and _multiple_of(price, self.increment_for(price).tick)

    def quantity_on_grid(self, price: Decimal, quantity: Decimal) -> bool:
        return quantity > 0 and _multiple_of(quantity, self.increment_for(price).lot)

    def check_order(self, price: Decimal, quantity: Decimal) -> str | None:
        """Why TrueX would refuse this price and quantity, or None when they are valid."""
        if not self.price_on_grid(price):
            return "Invalid price increment"
        if not self.quantity_on_grid(price, quantity):
            return "Invalid quantity increment"
        if price * quantity < self.min_notional:
            return "Order below minimum notional"
        return None

    def round_price(self, price: Decimal, side_is_buy: bool) -> Decimal:
        """Round to the tick away from the market: down for a bid, up for an offer."""
        tick = self.increment_for(price).tick
        rounding = ROUND_FLOOR if side_is_buy else ROUND_CEILING
        return (price / tick).to_integral_value(rounding=rounding) * tick

    def round_quantity(self, price: Decimal, quantity: Decimal) -> Decimal:
        """Round down to the lot, so rounding never increases exposure."""
        lot = self.increment_for(price).lot
        return (quantity / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
