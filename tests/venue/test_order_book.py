"""The order book on its own: level aggregation, FIFO queues, best-first ordering."""

from __future__ import annotations

from decimal import Decimal

from truex_qf.domain.model import OrdType, Side, TimeInForce
from truex_qf.sim.order_book import BookSide, Level, OrderBook, VenueOrder


def order(order_id: str, side: Side, price: str, quantity: str) -> VenueOrder:
    return VenueOrder(
        order_id=order_id,
        owner="1",
        cl_ord_id=f"C{order_id}",
        symbol="BTC-PYUSD",
        side=side,
        ord_type=OrdType.LIMIT,
        time_in_force=TimeInForce.GTC,
        price=Decimal(price),
        order_qty=Decimal(quantity),
        leaves_qty=Decimal(quantity),
    )


def test_best_bid_is_the_highest_and_best_offer_the_lowest() -> None:
    book = OrderBook("BTC-PYUSD")
    for index, price in enumerate(["100", "102", "101"]):
        book.bids.add(order(f"b{index}", Side.BUY, price, "1"))
        book.offers.add(order(f"s{index}", Side.SELL, str(int(price) + 10), "1"))
    assert book.bids.best_price() == Decimal(102)
    assert book.offers.best_price() == Decimal(110)
    assert book.mid() == Decimal(106)


def test_level_queue_is_fifo_and_removal_from_the_middle_keeps_the_order() -> None:
    side = BookSide(Side.SELL)
    first, second, third = (order(i, Side.SELL, "100", "1") for i in ("1", "2", "3"))
    for resting in (first, second, third):
        side.add(resting)
    side.remove(second)
    level = side.best()
    assert level is not None
    assert list(level.orders) == ["1", "3"]
    assert level.head() is first
    assert side.size_at(Decimal(100)) == Decimal(2)


def test_resize_keeps_queue_position_and_zero_removes_the_order() -> None:
    side = BookSide(Side.BUY)
    first, second = order("1", Side.BUY, "100", "3"), order("2", Side.BUY, "100", "1")
    side.add(first)
    side.add(second)
    side.resize(first, Decimal(1))
    assert side.best().head() is first
    assert side.size_at(Decimal(100)) == Decimal(2)
    side.resize(first, Decimal(0))
    assert side.best().head() is second
    assert side.size_at(Decimal(100)) == Decimal(1)


def test_removing_the_last_order_of_an_inner_level_drops_only_that_level() -> None:
    side = BookSide(Side.BUY)
    orders = [order(str(i), Side.BUY, price, "1") for i, price in enumerate(["100", "99", "98"])]
    for resting in orders:
        side.add(resting)
    side.remove(orders[1])
    assert [level.price for level in side.levels()] == [Decimal(100), Decimal(98)]
    assert side.size_at(Decimal(99)) == 0


def test_crosses_compares_against_the_best_level() -> None:
    offers = BookSide(Side.SELL)
    assert not offers.crosses(Decimal(100))
    assert not offers.crosses(None)
    offers.add(order("1", Side.SELL, "100", "1"))
    assert offers.crosses(Decimal(100)) and offers.crosses(Decimal(101))
    assert not offers.crosses(Decimal("99.5"))
    assert offers.crosses(None)


def test_band_reference_prefers_mid_then_last_trade_then_configured() -> None:
    book = OrderBook("BTC-PYUSD")
    book.reference_price = Decimal(50)
    assert book.band_reference() == Decimal(50)
    book.last_trade_price = Decimal(60)
    assert book.band_reference() == Decimal(60)
    book.bids.add(order("1", Side.BUY, "70", "1"))
    assert book.band_reference() == Decimal(60)
    book.offers.add(order("2", Side.SELL, "72", "1"))
    assert book.band_reference() == Decimal(71)


def test_depth_aggregates_levels() -> None:
    book = OrderBook("BTC-PYUSD")
    book.bids.add(order("1", Side.BUY, "100", "1"))
    book.bids.add(order("2", Side.BUY, "100", "2"))
    assert book.depth().bids == (Level(Decimal(100), Decimal(3)),)
    assert book.depth().offers == ()
