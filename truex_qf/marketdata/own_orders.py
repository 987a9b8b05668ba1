"""The venue's book as others quote it: our own resting orders taken out.

A market maker that prices off the venue mid would otherwise price off itself: once its quotes
are the best bid and offer, the mid is the midpoint of its own quotes and never follows the
market. :class:`BookWithoutOwnOrders` subtracts our acknowledged resting quantity per price
from the top of book, and answers the questions fair value asks of a book.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from truex_qf.domain.model import Side
from truex_qf.marketdata.book import Level, OrderBook

_ZERO = Decimal(0)

OwnSizes = Mapping[tuple[Side, Decimal], Decimal]


class BookWithoutOwnOrders:
    """A read-only view of ``book`` minus ``own`` resting sizes, keyed by (side, price).

    A view lives for one requote, under the trading lock, while neither the book nor our
    orders change; so each side's best level is found once, when the view is made (a requote
    asks for both four to six times: the quote inputs, then fair value's mid or micro-price).
    """

    __slots__ = ("_best_bid", "_best_offer", "_book", "_live", "_own")

    def __init__(self, book: OrderBook, own: OwnSizes, live: bool = False) -> None:
        self._book = book
        self._own = own
        self._live = live
        self._best_bid = self._best(Side.BUY)
        self._best_offer = self._best(Side.SELL)

    def _best(self, side: Side) -> Level | None:
        best = self._book.best_bid() if side is Side.BUY else self._book.best_offer()
        own = self._own
        if best is None or (side, best.price) not in own:
            return best  # none of ours at the top: the top is others'
        # Walk from the top only as far as our own orders reach: usually one or two levels.
        for price, size in self._book.iter_levels(side):
            others = size - own.get((side, price), _ZERO)
            if others > 0:
                return Level(price, others)
        return None

    def best_bid(self) -> Level | None:
        return self._best_bid

    def best_offer(self) -> Level | None:
        return self._best_offer

    def best_bid_price(self) -> Decimal | None:
        level = self.best_bid()
        return level.price if level else None

    def best_offer_price(self) -> Decimal | None:
        level = self.best_offer()
        return level.price if level else None

    def mid(self) -> Decimal | None:
        bid, offer = self.best_bid(), self.best_offer()
        if bid is None or offer is None:
            return None
        return (bid.price + offer.price) / 2

    def is_crossed(self) -> bool:
        return self._book.is_crossed()

    def age_s(self, now_s: float) -> float:
        """0 while the feed is live: TrueX sends nothing on a quiet book, and a silent feed is
        caught by the session's heartbeats (the logout invalidates the books)."""
        return 0.0 if self._live and self._book.has_snapshot else self._book.age_s(now_s)

    @property
    def has_snapshot(self) -> bool:
        return self._book.has_snapshot

    @property
    def inconsistency(self) -> str | None:
        return self._book.inconsistency

    @property
    def updated_s(self) -> float | None:
        return self._book.updated_s
