"""OrderBook and BookKeeper: snapshots, increments, sentinels, inconsistency and routing."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest

from tests.support.books import BID, OFFER, SYMBOL, TRADE, snapshot
from truex_qf.domain.model import (
    BookChange,
    MarketDataIncrement,
    MDEntryType,
    MDUpdateAction,
    Side,
)
from truex_qf.marketdata.book import (
    CROSSED_BOOK,
    NO_SNAPSHOT,
    SESSION_DOWN,
    UNKNOWN_LEVEL,
    BookKeeper,
    Level,
    OrderBook,
    Trade,
)

NEW, CHANGE, DELETE = MDUpdateAction.NEW, MDUpdateAction.CHANGE, MDUpdateAction.DELETE


def change(
    action: MDUpdateAction,
    entry_type: MDEntryType,
    price: str,
    size: str,
    symbol: str | None = SYMBOL,
) -> BookChange:
    return BookChange(action, entry_type, D(price), D(size), symbol=symbol)


def consistent(book: OrderBook) -> bool:
    """A snapshot has been applied and nothing since has made the book suspect."""
    return book.has_snapshot and book.inconsistency is None


def suspect(keeper: BookKeeper) -> set[str]:
    """The symbols whose book waits for a new snapshot (a resubscription)."""
    return {symbol for symbol, book in keeper.books.items() if book.inconsistency is not None}


def book_side(book: OrderBook, side: Side) -> list[tuple[str, str]]:
    return [(str(level.price), str(level.size)) for level in book.levels(side)]


@pytest.fixture
def book() -> OrderBook:
    b = OrderBook(SYMBOL)
    b.apply_snapshot(
        snapshot(
            (BID, "100000", "1"),
            (BID, "99999.5", "2"),
            (BID, "99990", "3"),
            (OFFER, "100001", "0.5"),
            (OFFER, "100002.5", "1.5"),
        ),
        now_s=10.0,
    )
    return b


def test_snapshot_builds_sorted_sides(book: OrderBook) -> None:
    assert book.best_bid() == Level(D("100000"), D("1"))
    assert book.best_offer() == Level(D("100001"), D("0.5"))
    assert book_side(book, Side.BUY) == [("100000", "1"), ("99999.5", "2"), ("99990", "3")]
    assert book_side(book, Side.SELL) == [("100001", "0.5"), ("100002.5", "1.5")]
    assert book.mid() == D("100000.5")
    assert consistent(book)
    assert not book.is_crossed()


def test_snapshot_then_increments_rebuild_expected_book(book: OrderBook) -> None:
    problem = book.apply_increment(
        [
            change(NEW, BID, "100000.5", "0.25"),  # new best bid
            change(CHANGE, BID, "99999.5", "4"),  # size change
            change(DELETE, BID, "99990", "0"),  # delete
            change(NEW, OFFER, "100003", "2"),  # deeper offer
            change(CHANGE, OFFER, "100001", "0"),  # size 0 removes the best offer
        ],
        now_s=11.0,
    )
    assert problem is None
    assert book_side(book, Side.BUY) == [("100000.5", "0.25"), ("100000", "1"), ("99999.5", "4")]
    assert book_side(book, Side.SELL) == [("100002.5", "1.5"), ("100003", "2")]
    assert book.best_bid() == Level(D("100000.5"), D("0.25"))
    assert book.best_offer() == Level(D("100002.5"), D("1.5"))
    assert book.mid() == D("100001.5")
    assert consistent(book)


def test_levels_limits_depth(book: OrderBook) -> None:
    assert [lv.price for lv in book.levels(Side.BUY, 2)] == [D("100000"), D("99999.5")]
    assert [lv.price for lv in book.levels(Side.SELL, 1)] == [D("100001")]
    assert book.levels(Side.BUY, 0) == []
    assert len(book.levels(Side.SELL, 10)) == 2
    assert book.depth(Side.BUY) == 3


def test_deleting_best_levels_moves_best_price(book: OrderBook) -> None:
    book.apply_increment([change(DELETE, BID, "100000", "1")], now_s=11.0)
    assert book.best_bid() == Level(D("99999.5"), D("2"))
    book.apply_increment(
        [change(DELETE, BID, "99999.5", "2"), change(DELETE, BID, "99990", "3")], now_s=12.0
    )
    assert book.best_bid() is None
    assert book.mid() is None
    assert consistent(book)


def test_new_snapshot_replaces_whole_book(book: OrderBook) -> None:
    book.apply_snapshot(snapshot((BID, "50", "1"), (OFFER, "51", "2")), now_s=20.0)
    assert book_side(book, Side.BUY) == [("50", "1")]
    assert book_side(book, Side.SELL) == [("51", "2")]


def test_empty_book_sentinel_snapshot_gives_empty_book() -> None:
    # TrueX's empty UAT book: one bid and one offer with 270=0/271=0 (spec §12).
    b = OrderBook(SYMBOL)
    problem = b.apply_snapshot(snapshot((BID, "0", "0"), (OFFER, "0", "0")), now_s=1.0)
    assert problem is None
    assert b.best_bid() is None
    assert b.best_offer() is None
    assert b.levels(Side.BUY) == [] and b.levels(Side.SELL) == []
    assert b.mid() is None
    assert b.has_snapshot and consistent(b)
    # Quoting into it afterwards builds the book from increments.
    b.apply_increment([change(NEW, OFFER, "101", "1")], now_s=2.0)
    assert b.best_offer() == Level(D("101"), D("1"))


def test_snapshot_sentinel_replaces_a_full_book(book: OrderBook) -> None:
    book.apply_snapshot(snapshot((BID, "0", "0"), (OFFER, "0", "0")), now_s=30.0)
    assert book.best_bid() is None and book.best_offer() is None


def test_trades_do_not_change_the_book(book: OrderBook) -> None:
    before_bids = book_side(book, Side.BUY)
    before_offers = book_side(book, Side.SELL)
    problem = book.apply_increment([change(NEW, TRADE, "100001", "0.2")], now_s=15.0)
    assert problem is None
    assert book_side(book, Side.BUY) == before_bids
    assert book_side(book, Side.SELL) == before_offers
    assert book.last_trade == Trade(D("100001"), D("0.2"), 15.0)


def test_trade_in_snapshot_sets_last_trade_only() -> None:
    b = OrderBook(SYMBOL)
    b.apply_snapshot(snapshot((BID, "10", "1"), (TRADE, "10.5", "3"), (OFFER, "11", "1")), 5.0)
    assert b.last_trade == Trade(D("10.5"), D("3"), 5.0)
    assert book_side(b, Side.BUY) == [("10", "1")]
    assert book_side(b, Side.SELL) == [("11", "1")]


def test_age_counts_from_last_message(book: OrderBook) -> None:
    assert book.age_s(12.5) == pytest.approx(2.5)
    book.apply_increment([change(CHANGE, BID, "100000", "2")], now_s=13.0)
    assert book.age_s(13.25) == pytest.approx(0.25)
    assert math.isinf(OrderBook("ETH-PYUSD").age_s(1.0))


def test_crossed_increment_flags_once(book: OrderBook) -> None:
    problem = book.apply_increment([change(NEW, BID, "100001", "1")], now_s=11.0)
    assert problem == CROSSED_BOOK
    assert book.is_crossed()
    assert book.inconsistency == CROSSED_BOOK
    assert not consistent(book)
    # Still broken, but reported only once.
    assert book.apply_increment([change(NEW, BID, "100002", "1")], now_s=12.0) is None
    # A new snapshot clears it.
    book.apply_snapshot(snapshot((BID, "1", "1"), (OFFER, "2", "1")), now_s=13.0)
    assert consistent(book)


def test_locked_book_counts_as_crossed(book: OrderBook) -> None:
    assert book.apply_increment([change(NEW, OFFER, "100000", "1")], now_s=11.0) == CROSSED_BOOK


def test_transient_cross_inside_one_message_is_not_flagged(book: OrderBook) -> None:
    # Offers move up first, then bids follow: crossed half-way, fine at the end.
    problem = book.apply_increment(
        [
            change(NEW, BID, "100001.5", "1"),
            change(DELETE, OFFER, "100001", "0"),
            change(DELETE, OFFER, "100002.5", "0"),
            change(NEW, OFFER, "100002", "1"),
        ],
        now_s=11.0,
    )
    assert problem is None
    assert book.best_bid() == Level(D("100001.5"), D("1"))
    assert book.best_offer() == Level(D("100002"), D("1"))


@pytest.mark.parametrize("action", [CHANGE, DELETE])
def test_change_or_delete_of_unknown_level_flags(book: OrderBook, action: MDUpdateAction) -> None:
    assert book.apply_increment([change(action, BID, "99000", "1")], now_s=11.0) == UNKNOWN_LEVEL
    assert book.inconsistency == UNKNOWN_LEVEL


def test_crossed_snapshot_is_flagged() -> None:
    b = OrderBook(SYMBOL)
    assert b.apply_snapshot(snapshot((BID, "11", "1"), (OFFER, "10", "1")), 1.0) == CROSSED_BOOK


def test_snapshot_for_other_symbol_is_refused(book: OrderBook) -> None:
    with pytest.raises(ValueError):
        book.apply_snapshot(snapshot((BID, "1", "1"), symbol="ETH-PYUSD"), now_s=1.0)


# --------------------------------------------------------------------------- BookKeeper


def test_keeper_routes_by_entry_symbol() -> None:
    keeper = BookKeeper()
    keeper.apply_snapshot(snapshot((BID, "100", "1"), (OFFER, "101", "1")), 1.0)
    keeper.apply_snapshot(
        snapshot((BID, "3000", "1"), (OFFER, "3001", "1"), symbol="ETH-PYUSD"), 1.0
    )
    flagged = keeper.apply_increment(
        MarketDataIncrement(
            md_req_id=None,
            changes=(
                change(NEW, BID, "100.5", "2"),
                change(NEW, OFFER, "3000.5", "4", symbol="ETH-PYUSD"),
            ),
        ),
        now_s=2.0,
    )
    assert flagged == frozenset()
    btc = keeper.book(SYMBOL)
    eth = keeper.book("ETH-PYUSD")
    assert btc is not None and eth is not None
    assert btc.best_bid() == Level(D("100.5"), D("2"))
    assert btc.best_offer() == Level(D("101"), D("1"))
    assert eth.best_offer() == Level(D("3000.5"), D("4"))
    assert eth.best_bid() == Level(D("3000"), D("1"))


def test_keeper_falls_back_to_subscription_symbol() -> None:
    keeper = BookKeeper()
    keeper.register_subscription("MD-ETH", ["ETH-PYUSD"])
    keeper.apply_snapshot(
        snapshot((BID, "3000", "1"), (OFFER, "3001", "1"), symbol="ETH-PYUSD"), 1.0
    )
    keeper.apply_increment(
        MarketDataIncrement("MD-ETH", (change(CHANGE, BID, "3000", "7", symbol=None),)), 2.0
    )
    eth = keeper.book("ETH-PYUSD")
    assert eth is not None and eth.best_bid() == Level(D("3000"), D("7"))
    # Unknown MDReqID and no 55: dropped and counted, no book touched.
    keeper.apply_increment(
        MarketDataIncrement("MD-??", (change(CHANGE, BID, "3000", "9", symbol=None),)), 3.0
    )
    assert keeper.unroutable_changes == 1
    assert eth.best_bid() == Level(D("3000"), D("7"))


def test_keeper_reports_resubscribe_and_clears_on_snapshot() -> None:
    keeper = BookKeeper()
    keeper.apply_snapshot(snapshot((BID, "100", "1"), (OFFER, "101", "1")), 1.0)
    flagged = keeper.apply_increment(
        MarketDataIncrement(None, (change(DELETE, OFFER, "105", "0"),)), 2.0
    )
    assert flagged == {SYMBOL}
    assert suspect(keeper) == {SYMBOL}
    # Reported once; the book stays suspect.
    again = keeper.apply_increment(MarketDataIncrement(None, (change(NEW, BID, "99", "1"),)), 3.0)
    assert again == frozenset()
    assert suspect(keeper) == {SYMBOL}
    keeper.apply_snapshot(snapshot((BID, "100", "1"), (OFFER, "101", "1")), 4.0)
    assert suspect(keeper) == set()


def test_keeper_flags_crossing_increment() -> None:
    keeper = BookKeeper()
    keeper.apply_snapshot(snapshot((BID, "100", "1"), (OFFER, "101", "1")), 1.0)
    flagged = keeper.apply_increment(
        MarketDataIncrement(None, (change(NEW, BID, "102", "1"),)), 2.0
    )
    assert flagged == {SYMBOL}
    book = keeper.book(SYMBOL)
    assert book is not None and book.inconsistency == CROSSED_BOOK


def test_keeper_increment_before_snapshot_flags() -> None:
    keeper = BookKeeper()
    flagged = keeper.apply_increment(MarketDataIncrement(None, (change(NEW, BID, "1", "1"),)), 1.0)
    assert flagged == {SYMBOL}
    book = keeper.book(SYMBOL)
    assert book is not None and book.inconsistency == NO_SNAPSHOT


def test_keeper_invalidate_all() -> None:
    keeper = BookKeeper()
    keeper.apply_snapshot(snapshot((BID, "100", "1"), (OFFER, "101", "1")), 1.0)
    assert keeper.invalidate_all() == {SYMBOL}
    book = keeper.book(SYMBOL)
    assert book is not None and book.inconsistency == SESSION_DOWN
    assert suspect(keeper) == {SYMBOL}
