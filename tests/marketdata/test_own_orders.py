"""BookWithoutOwnOrders: the book as others quote it, each side's best found once per view."""

from __future__ import annotations

from decimal import Decimal as D

from tests.support.books import BID, OFFER, SYMBOL, snapshot
from truex_qf.domain.model import Side
from truex_qf.marketdata.book import Level, OrderBook
from truex_qf.marketdata.own_orders import BookWithoutOwnOrders


class CountingBook(OrderBook):
    """Records each walk of a side, for the test that the view walks once."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.walks: list[Side] = []

    def iter_levels(self, side: Side):  # type: ignore[no-untyped-def]
        self.walks.append(side)
        return super().iter_levels(side)


def book() -> CountingBook:
    result = CountingBook(SYMBOL)
    result.apply_snapshot(
        snapshot(
            (BID, "99", "1"),
            (BID, "98", "2"),
            (OFFER, "101", "0.5"),
            (OFFER, "102", "3"),
        ),
        0.0,
    )
    return result


def test_our_whole_level_is_skipped_and_a_shared_one_shrinks():
    view = BookWithoutOwnOrders(
        book(), {(Side.BUY, D("99")): D("1"), (Side.SELL, D("101")): D("0.2")}
    )
    assert view.best_bid() == Level(D("98"), D("2"))
    assert view.best_offer() == Level(D("101"), D("0.3"))
    assert view.mid() == D("99.5")


def test_a_side_that_is_all_ours_has_no_best_level():
    view = BookWithoutOwnOrders(
        book(), {(Side.SELL, D("101")): D("0.5"), (Side.SELL, D("102")): D("3")}
    )
    assert view.best_offer() is None
    assert view.mid() is None


def test_each_side_is_walked_once_per_view():
    source = book()
    view = BookWithoutOwnOrders(source, {(Side.BUY, D("99")): D("1")})
    for _ in range(3):
        assert view.best_bid() == Level(D("98"), D("2"))
        assert view.best_offer() == Level(D("101"), D("0.5"))
        assert view.mid() == D("99.5")
    # once for the bid, whose top is ours; none of ours is at the offer's top: not walked
    assert source.walks == [Side.BUY]


def test_without_own_orders_the_view_is_the_book():
    view = BookWithoutOwnOrders(book(), {})
    assert view.best_bid() == Level(D("99"), D("1"))
    assert view.best_offer_price() == D("101")
