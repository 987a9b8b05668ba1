"""PositionBook: average-cost PnL worked by hand, flips through zero, fees, snapshots."""

from __future__ import annotations

from decimal import Decimal

import pytest

from truex_qf.domain.model import Side
from truex_qf.trading.orders import Fill
from truex_qf.trading.positions import PositionBook

D = Decimal
BTC = "BTC-PYUSD"


@pytest.fixture
def book() -> PositionBook:
    return PositionBook()


def scaled_in_long(book: PositionBook) -> None:
    """Buy 1 @ 100, buy 1 @ 110: long 2 at an average of 105."""
    book.apply_fill(BTC, Side.BUY, D(1), D(100))
    book.apply_fill(BTC, Side.BUY, D(1), D(110))


def test_buys_average_the_entry_price(book: PositionBook) -> None:
    scaled_in_long(book)
    position = book.get(BTC)
    assert position.quantity_base == D(2)
    assert position.avg_entry_price == D(105)  # (1*100 + 1*110) / 2
    assert position.realized_pnl_quote == D(0)


def test_partial_sell_realizes_against_the_average_cost(book: PositionBook) -> None:
    scaled_in_long(book)
    book.apply_fill(BTC, Side.SELL, D("1.5"), D(120))
    position = book.get(BTC)
    # 1.5 closed at 120 against an average of 105: 1.5 * 15 = 22.5
    assert position.realized_pnl_quote == D("22.5")
    assert position.quantity_base == D("0.5")
    assert position.avg_entry_price == D(105)  # selling does not move the entry price


def test_unrealized_is_marked_to_the_fair_value_given(book: PositionBook) -> None:
    scaled_in_long(book)
    book.apply_fill(BTC, Side.SELL, D("1.5"), D(120))
    assert book.unrealized_pnl(BTC, D(130)) == D("12.5")  # 0.5 * (130 - 105)
    assert book.unrealized_pnl(BTC, D(100)) == D("-2.5")  # 0.5 * (100 - 105)


def test_sell_through_zero_flips_long_to_short_at_the_fill_price(book: PositionBook) -> None:
    scaled_in_long(book)
    book.apply_fill(BTC, Side.SELL, D("1.5"), D(120))  # realized 22.5, long 0.5 @ 105
    book.apply_fill(BTC, Side.SELL, D(2), D(100))
    position = book.get(BTC)
    # Only 0.5 closes: 0.5 * (100 - 105) = -2.5, so realized 22.5 - 2.5 = 20.
    assert position.realized_pnl_quote == D(20)
    # The other 1.5 opens a short at 100.
    assert position.quantity_base == D("-1.5")
    assert position.avg_entry_price == D(100)
    assert book.unrealized_pnl(BTC, D(90)) == D(15)  # -1.5 * (90 - 100)


def test_buy_through_zero_flips_short_to_long(book: PositionBook) -> None:
    book.apply_fill(BTC, Side.SELL, D(2), D(50))  # short 2 @ 50
    book.apply_fill(BTC, Side.BUY, D(1), D(40))  # closes 1: 1 * (50 - 40) = 10
    book.apply_fill(BTC, Side.BUY, D(3), D(45))  # closes 1: 1 * (50 - 45) = 5, opens long 2 @ 45
    position = book.get(BTC)
    assert position.realized_pnl_quote == D(15)
    assert (position.quantity_base, position.avg_entry_price) == (D(2), D(45))


def test_closing_to_flat_clears_the_entry_price(book: PositionBook) -> None:
    book.apply_fill(BTC, Side.BUY, D(1), D(100))
    book.apply_fill(BTC, Side.SELL, D(1), D(103))
    position = book.get(BTC)
    assert (position.quantity_base, position.avg_entry_price) == (D(0), None)
    assert position.realized_pnl_quote == D(3)
    assert book.unrealized_pnl(BTC, D(1000)) == D(0)


def test_fees_are_subtracted_from_realized_and_reported_apart(book: PositionBook) -> None:
    book.apply_fill(BTC, Side.BUY, D(1), D(100), fee=D("0.10"))
    book.apply_fill(BTC, Side.SELL, D(1), D(101), fee=D("0.12"))
    position = book.get(BTC)
    assert position.gross_realized_pnl_quote == D(1)
    assert position.fees_quote == D("0.22")
    assert position.realized_pnl_quote == D("0.78")  # 1 - 0.22


def test_fee_on_an_opening_fill_is_already_a_realized_loss(book: PositionBook) -> None:
    book.apply_fill(BTC, Side.BUY, D(1), D(100), fee=D("0.05"))
    assert book.get(BTC).realized_pnl_quote == D("-0.05")


def test_uneven_average_stays_exact_in_decimal(book: PositionBook) -> None:
    book.apply_fill(BTC, Side.BUY, D(1), D(100))
    book.apply_fill(BTC, Side.BUY, D(2), D(101))
    position = book.get(BTC)
    assert isinstance(position.avg_entry_price, Decimal)
    assert position.avg_entry_price == D(302) / D(3)
    book.apply_fill(BTC, Side.SELL, D(3), D(102))
    assert position.realized_pnl_quote == D(4)  # 3*102 - (100 + 202)


def test_fill_events_feed_the_book(book: PositionBook) -> None:
    fill = Fill(
        cl_ord_id="T1",
        order_id="9",
        symbol=BTC,
        side=Side.SELL,
        qty=D("0.25"),
        price=D(200),
        fee=D("0.01"),
        exec_id="E1",
        liquidity="1",
        trade_match_id=None,
    )
    book.on_fill(fill)
    assert book.position_base(BTC) == D("-0.25")
    assert book.get(BTC).fees_quote == D("0.01")


def test_symbols_are_independent_and_unknown_symbols_are_flat(book: PositionBook) -> None:
    book.apply_fill(BTC, Side.BUY, D(1), D(100))
    book.apply_fill("ETH-PYUSD", Side.SELL, D(5), D(3000))
    assert book.position_base(BTC) == D(1)
    assert book.position_base("ETH-PYUSD") == D(-5)
    assert book.position_base("SOL-PYUSD") == D(0)
    assert book.unrealized_pnl("SOL-PYUSD", D(1)) == D(0)


def test_non_positive_fill_quantity_is_refused(book: PositionBook) -> None:
    with pytest.raises(ValueError, match="positive"):
        book.apply_fill(BTC, Side.BUY, D(0), D(100))


def test_snapshot_reports_every_figure_and_marks_only_given_symbols(book: PositionBook) -> None:
    scaled_in_long(book)
    book.apply_fill(BTC, Side.SELL, D("1.5"), D(120), fee=D("0.5"))
    book.apply_fill("ETH-PYUSD", Side.BUY, D(1), D(3000))
    snapshot = book.snapshot({BTC: D(130)})
    assert list(snapshot) == ["BTC-PYUSD", "ETH-PYUSD"]
    btc = snapshot[BTC]
    assert btc.quantity_base == D("0.5")
    assert btc.gross_realized_pnl_quote == D("22.5")
    assert btc.fees_quote == D("0.5")
    assert btc.realized_pnl_quote == D(22)
    assert btc.unrealized_pnl_quote == D("12.5")
    assert btc.total_pnl_quote == D("34.5")
    assert (btc.bought_base, btc.sold_base, btc.fill_count) == (D(2), D("1.5"), 3)
    eth = snapshot["ETH-PYUSD"]
    assert (eth.fair_value, eth.unrealized_pnl_quote, eth.total_pnl_quote) == (None, None, None)
