"""Local L2 order books built from TrueX MarketDataSnapshot (35=W) and Incremental (35=X) values.

Book rules (spec §8.6-8.7): levels are keyed by price per side; MDUpdateAction DELETE or a size
of 0 removes a level, NEW and CHANGE set its size; trade entries (269=2) never change the book;
a snapshot replaces the whole book. TrueX's snapshot of an empty book still carries one bid and
one offer with price 0 and size 0: entries of size 0 (or price 0) mean "no level".

A book that stops making sense is flagged *inconsistent* until the next snapshot replaces it:
an increment that changes or deletes a level we do not hold, an increment before any snapshot,
an invalid entry, or a crossed (or locked) book. A single venue's book can never be crossed,
so any of these means we missed or misapplied a message and the only cure is a fresh snapshot;
:class:`BookKeeper` reports such symbols so the application can resubscribe. An increment is
checked for crossing only after all its entries are applied, because one 35=X may move both
sides and be transiently crossed half-way through.

Speed: each side is a dict keyed by Decimal price plus an ascending list of its prices kept
sorted with :mod:`bisect`. A size change is one dict store; only adding or removing a price
touches the list (a C-level memmove, tens of levels at most), so the best price is always the
list's end and no update sorts a side.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from truex_qf.domain.model import (
    BookChange,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    Side,
)

log = logging.getLogger(__name__)

# Reason codes for an inconsistent book; they go to logs and metrics unchanged.
UNKNOWN_LEVEL = "UNKNOWN_LEVEL"
"""An increment changed or deleted a price level the book does not hold."""
CROSSED_BOOK = "CROSSED_BOOK"
"""Best bid at or above best offer after a whole message was applied."""
INVALID_ENTRY = "INVALID_ENTRY"
"""A level with a negative size or a non-positive price and a positive size."""
NO_SNAPSHOT = "NO_SNAPSHOT"
"""An increment arrived for a symbol whose snapshot we never received."""
SESSION_DOWN = "SESSION_DOWN"
"""The market-data session went away; the book is no longer maintained."""

_ZERO = Decimal(0)
_TWO = Decimal(2)
_BID = MDEntryType.BID
_OFFER = MDEntryType.OFFER
_TRADE = MDEntryType.TRADE
_NEW = MDUpdateAction.NEW
_DELETE = MDUpdateAction.DELETE
_NONE_FLAGGED: frozenset[str] = frozenset()  # what nearly every message returns


@dataclass(frozen=True, slots=True)
class Level:
    """One price level of one side: total size resting at ``price``."""

    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class Trade:
    """The last trade printed for a symbol, as the market data reported it."""

    price: Decimal
    size: Decimal
    time_s: float


class BookView(Protocol):
    """What pricing reads of a book: an :class:`OrderBook`, or the book without our own
    orders (:class:`~truex_qf.marketdata.own_orders.BookWithoutOwnOrders`)."""

    @property
    def has_snapshot(self) -> bool: ...

    @property
    def inconsistency(self) -> str | None: ...

    @property
    def updated_s(self) -> float | None: ...

    def best_bid(self) -> Level | None: ...

    def best_offer(self) -> Level | None: ...

    def best_bid_price(self) -> Decimal | None: ...

    def best_offer_price(self) -> Decimal | None: ...

    def mid(self) -> Decimal | None: ...

    def is_crossed(self) -> bool: ...

    def age_s(self, now_s: float) -> float: ...


class OrderBook:
    """The L2 book of one symbol.

    ``now_s`` arguments are the caller's clock (``time.monotonic()`` in the application); the
    book only compares them with each other, so any clock works if it is used consistently.
    """

    __slots__ = (
        "_bid_prices",
        "_bids",
        "_offer_prices",
        "_offers",
        "has_snapshot",
        "inconsistency",
        "last_trade",
        "md_req_id",
        "symbol",
        "updated_s",
        "version",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[Decimal, Decimal] = {}
        self._offers: dict[Decimal, Decimal] = {}
        # Ascending on both sides: best bid is the last bid price, best offer the first offer.
        self._bid_prices: list[Decimal] = []
        self._offer_prices: list[Decimal] = []
        self.updated_s: float | None = None
        """When the last snapshot or increment touching this symbol was applied (trades too)."""
        self.last_trade: Trade | None = None
        self.has_snapshot = False
        self.inconsistency: str | None = None
        """Why the book cannot be trusted until the next snapshot, or None when it can."""
        self.md_req_id: str | None = None
        self.version = 0
        """Bumped on every applied message, so readers can tell cheaply whether it changed."""

    # ------------------------------------------------------------------ updates

    def apply_snapshot(self, snapshot: MarketDataSnapshot, now_s: float) -> str | None:
        """Replace the whole book; returns a reason code if the new book is unusable (crossed)."""
        if snapshot.symbol != self.symbol:
            raise ValueError(f"snapshot for {snapshot.symbol!r} applied to {self.symbol!r} book")
        bids: dict[Decimal, Decimal] = {}
        offers: dict[Decimal, Decimal] = {}
        problem: str | None = None
        for entry in snapshot.entries:
            price = entry.price
            size = entry.size
            entry_type = entry.entry_type
            if entry_type is _TRADE:
                if price > 0 and size > 0:
                    self.last_trade = Trade(price, size, now_s)
                continue
            if size == 0 or price == 0:
                continue  # TrueX's "no level" sentinel (270=0/271=0 on an empty book)
            if size < 0 or price < 0:
                problem = problem or INVALID_ENTRY
                continue
            if entry_type is _BID:
                bids[price] = size
            elif entry_type is _OFFER:
                offers[price] = size
        self._bids = bids
        self._offers = offers
        self._bid_prices = sorted(bids)
        self._offer_prices = sorted(offers)
        self.has_snapshot = True
        self.inconsistency = None
        self.md_req_id = snapshot.md_req_id
        return self._finish_update(now_s, problem)

    def apply_increment(self, changes: Iterable[BookChange], now_s: float) -> str | None:
        """Apply the entries of one 35=X that belong to this symbol.

        Returns the reason code when this message made the book inconsistent (only on the
        transition, so a caller can resubscribe once), otherwise None.
        """
        problem: str | None = None
        for change in changes:
            found = self._apply_change(change, now_s)
            if found is not None and problem is None:
                problem = found
        return self._finish_update(now_s, problem)

    def invalidate(self, reason: str) -> bool:
        """Mark the book untrustworthy until the next snapshot; True if it was trusted before."""
        if self.inconsistency is not None:
            return False
        self.inconsistency = reason
        self.version += 1
        return True

    def _apply_change(self, change: BookChange, now_s: float) -> str | None:
        entry_type = change.entry_type
        if entry_type is _BID:
            levels = self._bids
            prices = self._bid_prices
        elif entry_type is _OFFER:
            levels = self._offers
            prices = self._offer_prices
        else:
            if change.price > 0 and change.size > 0:
                self.last_trade = Trade(change.price, change.size, now_s)
            return None
        price = change.price
        size = change.size
        action = change.action
        if action is _DELETE or size == 0:
            if price in levels:
                del levels[price]
                del prices[bisect_left(prices, price)]
                return None
            # A NEW of size 0 for an absent level is a harmless no-op.
            return None if action is _NEW else UNKNOWN_LEVEL
        if size < 0 or price <= 0:
            return INVALID_ENTRY
        if price in levels:
            # NEW on an existing price also just sets the size, as the official client does.
            levels[price] = size
            return None
        levels[price] = size
        insort(prices, price)
        # A CHANGE of a level we never saw: applied (best effort) but the book is suspect.
        return None if action is _NEW else UNKNOWN_LEVEL

    def _finish_update(self, now_s: float, problem: str | None) -> str | None:
        self.updated_s = now_s
        self.version += 1
        if problem is None:
            if not self.has_snapshot:
                problem = NO_SNAPSHOT
            elif self.is_crossed():
                problem = CROSSED_BOOK
            else:
                return None
        if self.inconsistency is not None:
            return None
        self.inconsistency = problem
        log.warning(
            "book %s inconsistent (%s): best bid %s, best offer %s; needs a new snapshot",
            self.symbol,
            problem,
            self._bid_prices[-1] if self._bid_prices else None,
            self._offer_prices[0] if self._offer_prices else None,
        )
        return problem

    # ------------------------------------------------------------------ reads

    def best_bid(self) -> Level | None:
        prices = self._bid_prices
        if not prices:
            return None
        price = prices[-1]
        return Level(price, self._bids[price])

    def best_offer(self) -> Level | None:
        prices = self._offer_prices
        if not prices:
            return None
        price = prices[0]
        return Level(price, self._offers[price])

    def best_bid_price(self) -> Decimal | None:
        return self._bid_prices[-1] if self._bid_prices else None

    def best_offer_price(self) -> Decimal | None:
        return self._offer_prices[0] if self._offer_prices else None

    def levels(self, side: Side, n: int | None = None) -> list[Level]:
        """The best ``n`` levels of ``side`` (all when ``n`` is None), best first."""
        if n is not None and n <= 0:
            return []
        if side is Side.BUY:
            prices = self._bid_prices
            sizes = self._bids
            chosen = prices[::-1] if n is None else prices[: -n - 1 : -1]
        else:
            sizes = self._offers
            chosen = self._offer_prices if n is None else self._offer_prices[:n]
        return [Level(price, sizes[price]) for price in chosen]

    def iter_levels(self, side: Side) -> Iterator[tuple[Decimal, Decimal]]:
        """``(price, size)`` of ``side`` best first, lazily: a reader that stops at the first
        level it wants pays for that level only."""
        if side is Side.BUY:
            sizes = self._bids
            for price in reversed(self._bid_prices):
                yield price, sizes[price]
        else:
            sizes = self._offers
            for price in self._offer_prices:
                yield price, sizes[price]

    def depth(self, side: Side) -> int:
        """How many price levels ``side`` holds."""
        return len(self._bid_prices if side is Side.BUY else self._offer_prices)

    def mid(self) -> Decimal | None:
        """Midpoint of best bid and best offer, or None unless both sides have a level."""
        if not self._bid_prices or not self._offer_prices:
            return None
        return (self._bid_prices[-1] + self._offer_prices[0]) / _TWO

    def is_crossed(self) -> bool:
        """Best bid at or above best offer (a locked book counts: one venue cannot lock)."""
        return (
            bool(self._bid_prices)
            and bool(self._offer_prices)
            and self._bid_prices[-1] >= self._offer_prices[0]
        )

    def age_s(self, now_s: float) -> float:
        """Seconds since the last applied message; infinity when none ever was."""
        if self.updated_s is None:
            return math.inf
        return now_s - self.updated_s

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol!r}, bid={self.best_bid_price()}, "
            f"offer={self.best_offer_price()}, depth={len(self._bids)}/{len(self._offers)}, "
            f"inconsistency={self.inconsistency})"
        )


class BookKeeper:
    """Every symbol's book, routing 35=W/35=X values and saying which symbols to resubscribe.

    ``apply_snapshot`` and ``apply_increment`` return the symbols whose book became
    inconsistent because of that message (once per episode, so acting on the return value
    resubscribes once); each such book keeps its :attr:`OrderBook.inconsistency` until a new
    snapshot arrives for it.

    Not thread-safe, by design: the trading loop is the only writer and reader (the FIX edge
    hands it the domain values), as for all trading state.
    """

    def __init__(self) -> None:
        self._books: dict[str, OrderBook] = {}
        self._symbols_by_req: dict[str, tuple[str, ...]] = {}
        self.unroutable_changes = 0
        """Increment entries dropped because neither 55 nor the MDReqID named their symbol."""
        self.last_touched: Iterable[str] = ()
        """The symbols the last :meth:`apply_increment` changed (entries without 55 included)."""

    def register_subscription(self, md_req_id: str, symbols: Iterable[str]) -> None:
        """Remember what ``md_req_id`` asked for, to route entries that carry no Symbol(55)."""
        self._symbols_by_req[md_req_id] = tuple(symbols)

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    @property
    def books(self) -> Mapping[str, OrderBook]:
        return self._books

    def apply_snapshot(self, snapshot: MarketDataSnapshot, now_s: float) -> frozenset[str]:
        """Replace ``snapshot.symbol``'s book; returns it in a set if the new book is crossed."""
        symbol = snapshot.symbol
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = OrderBook(symbol)
        if book.apply_snapshot(snapshot, now_s) is None:
            return _NONE_FLAGGED
        return frozenset((symbol,))

    def apply_increment(self, increment: MarketDataIncrement, now_s: float) -> frozenset[str]:
        """Apply each entry to its symbol's book; returns the symbols that became inconsistent.

        The symbol of an entry is its Symbol(55); without one, the symbol of the subscription
        named by MDReqID(262) when that subscription is for exactly one symbol. Entries that
        neither names are counted in :attr:`unroutable_changes` and logged.
        """
        fallback: str | None = None
        if increment.md_req_id is not None:
            requested = self._symbols_by_req.get(increment.md_req_id)
            if requested is not None and len(requested) == 1:
                fallback = requested[0]
        books = self._books
        touched: dict[str, OrderBook] = {}
        self.last_touched = touched.keys()
        problems: dict[str, str] = {}
        last_symbol: str | None = None
        book: OrderBook | None = None
        for change in increment.changes:
            symbol = change.symbol or fallback
            if symbol is None:
                self.unroutable_changes += 1
                log.warning(
                    "increment entry without a symbol (MDReqID %s): %s", increment.md_req_id, change
                )
                continue
            if symbol != last_symbol:
                book = touched.get(symbol)
                if book is None:
                    book = books.get(symbol)
                    if book is None:
                        book = books[symbol] = OrderBook(symbol)
                    touched[symbol] = book
                last_symbol = symbol
            assert book is not None
            found = book._apply_change(change, now_s)
            if found is not None and symbol not in problems:
                problems[symbol] = found
        flagged: list[str] = []
        for symbol, touched_book in touched.items():
            if touched_book._finish_update(now_s, problems.get(symbol)) is not None:
                flagged.append(symbol)
        return frozenset(flagged) if flagged else _NONE_FLAGGED

    def invalidate_all(self, reason: str = SESSION_DOWN) -> frozenset[str]:
        """Mark every book untrustworthy (e.g. the MD session dropped); returns their symbols."""
        for book in self._books.values():
            book.invalidate(reason)
        return frozenset(self._books)
