"""A price-time-priority limit order book for one symbol of the simulated TrueX exchange.

The book only stores resting orders and keeps each price level's aggregate size; deciding who
trades with whom is :mod:`truex_qf.sim.matching`'s job. Costs per order are kept flat so the
engine can run under a load benchmark:

- a level's queue is an :class:`~collections.OrderedDict` keyed by OrderID: FIFO iteration,
  O(1) removal of a cancelled order from anywhere in the queue, O(1) append at the back;
- each side keeps its levels in a list sorted so that the *best* level is the last element:
  the matching loop reads and drops the best level in O(1), and only adding or removing an
  inner level pays a bisect plus a list shift (proportional to the number of levels, not of
  orders).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from operator import attrgetter

from truex_qf.domain.model import (
    OrdStatus,
    OrdType,
    SelfMatchPrevention,
    Side,
    TimeInForce,
)

ZERO = Decimal(0)


@dataclass(slots=True, eq=False)
class VenueOrder:
    """The exchange's live record of one accepted order; mutated as it fills or is replaced.

    ``notional`` is the sum of price * quantity over all fills, kept so that AvgPx is exact.
    ``cl_ord_id`` is the order's current ClOrdID (the latest accepted replace's).
    """

    order_id: str
    owner: str
    cl_ord_id: str
    symbol: str
    side: Side
    ord_type: OrdType
    time_in_force: TimeInForce
    price: Decimal | None
    order_qty: Decimal
    post_only: bool = False
    self_match_prevention: SelfMatchPrevention | None = None
    cum_qty: Decimal = ZERO
    leaves_qty: Decimal = ZERO
    notional: Decimal = ZERO
    ord_status: OrdStatus = OrdStatus.PENDING_NEW

    @property
    def is_working(self) -> bool:
        """Whether the order can still trade, be cancelled or be replaced."""
        return not self.ord_status.is_terminal

    @property
    def avg_px(self) -> Decimal | None:
        return self.notional / self.cum_qty if self.cum_qty else None

    @property
    def working_status(self) -> OrdStatus:
        """The OrdStatus of a working order: New until its first fill, then PartiallyFilled."""
        return OrdStatus.PARTIALLY_FILLED if self.cum_qty else OrdStatus.NEW


@dataclass(slots=True, eq=False)
class PriceLevel:
    """One price on one side: the orders resting there in time priority and their total size."""

    price: Decimal
    sort_key: Decimal
    orders: OrderedDict[str, VenueOrder] = field(default_factory=OrderedDict)
    size: Decimal = ZERO

    def head(self) -> VenueOrder:
        """The order first in time priority at this price."""
        return next(iter(self.orders.values()))


@dataclass(frozen=True, slots=True)
class Level:
    """One aggregated level of a depth view."""

    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class BookDepth:
    """Aggregated levels of one symbol, best price first on both sides."""

    symbol: str
    bids: tuple[Level, ...]
    offers: tuple[Level, ...]


_SORT_KEY = attrgetter("sort_key")


class BookSide:
    """The resting orders of one side of one book, grouped by price level."""

    __slots__ = ("_by_price", "_ordered", "_sign", "side")

    def __init__(self, side: Side) -> None:
        self.side = side
        # Bids sort by price and offers by minus price, so the best level is always last.
        self._sign = Decimal(1) if side is Side.BUY else Decimal(-1)
        self._by_price: dict[Decimal, PriceLevel] = {}
        self._ordered: list[PriceLevel] = []

    def __bool__(self) -> bool:
        return bool(self._ordered)

    def best(self) -> PriceLevel | None:
        """The level that trades first, or None when this side is empty."""
        return self._ordered[-1] if self._ordered else None

    def best_price(self) -> Decimal | None:
        return self._ordered[-1].price if self._ordered else None

    def size_at(self, price: Decimal) -> Decimal:
        """Aggregate resting size at ``price`` (0 when there is no level)."""
        level = self._by_price.get(price)
        return level.size if level is not None else ZERO

    def crosses(self, price: Decimal | None) -> bool:
        """Whether an opposite-side order at ``price`` (None: market) would trade here."""
        if not self._ordered:
            return False
        if price is None:
            return True
        best = self._ordered[-1].price
        return price <= best if self.side is Side.BUY else price >= best

    def add(self, order: VenueOrder) -> None:
        """Queue ``order`` at the back of its price level (creating the level if needed)."""
        assert order.price is not None, "only limit orders rest"
        level = self._by_price.get(order.price)
        if level is None:
            level = PriceLevel(order.price, order.price * self._sign)
            self._by_price[order.price] = level
            insort(self._ordered, level, key=_SORT_KEY)
        level.orders[order.order_id] = order
        level.size += order.leaves_qty

    def remove(self, order: VenueOrder) -> None:
        """Take ``order`` out of the book; its level disappears when it was the last one."""
        assert order.price is not None
        level = self._by_price[order.price]
        del level.orders[order.order_id]
        level.size -= order.leaves_qty
        if not level.orders:
            self._drop_level(level)

    def resize(self, order: VenueOrder, leaves_qty: Decimal) -> None:
        """Set a resting order's leaves quantity in place, keeping its time priority.

        Used for partial fills and for quantity-lowering replaces; at zero the order leaves
        the book.
        """
        assert order.price is not None
        level = self._by_price[order.price]
        level.size += leaves_qty - order.leaves_qty
        order.leaves_qty = leaves_qty
        if not leaves_qty:
            del level.orders[order.order_id]
            if not level.orders:
                self._drop_level(level)

    def levels(self, max_levels: int | None = None) -> Iterator[PriceLevel]:
        """Levels best first, at most ``max_levels`` of them."""
        return islice(reversed(self._ordered), max_levels)

    def _drop_level(self, level: PriceLevel) -> None:
        del self._by_price[level.price]
        if self._ordered[-1] is level:
            self._ordered.pop()
        else:
            del self._ordered[bisect_left(self._ordered, level.sort_key, key=_SORT_KEY)]


class OrderBook:
    """Both sides of one symbol plus the prices the band check needs."""

    __slots__ = ("bids", "last_trade_price", "offers", "reference_price", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = BookSide(Side.BUY)
        self.offers = BookSide(Side.SELL)
        self.last_trade_price: Decimal | None = None
        self.reference_price: Decimal | None = None

    def side(self, side: Side) -> BookSide:
        return self.bids if side is Side.BUY else self.offers

    def mid(self) -> Decimal | None:
        """Midpoint of best bid and best offer, or None unless both sides have orders."""
        best_bid, best_offer = self.bids.best_price(), self.offers.best_price()
        if best_bid is None or best_offer is None:
            return None
        return (best_bid + best_offer) / 2

    def band_reference(self) -> Decimal | None:
        """The price bands are measured from: mid, else last trade, else the configured price."""
        mid = self.mid()
        if mid is not None:
            return mid
        if self.last_trade_price is not None:
            return self.last_trade_price
        return self.reference_price

    def depth(self, max_levels: int | None = None) -> BookDepth:
        return BookDepth(
            symbol=self.symbol,
            bids=tuple(Level(level.price, level.size) for level in self.bids.levels(max_levels)),
            offers=tuple(
                Level(level.price, level.size) for level in self.offers.levels(max_levels)
            ),
        )
