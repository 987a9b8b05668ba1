"""Market data and order reports requote only when they move what the quotes are made of.

Most increments change levels below the top of book; re-running fair value, the proposal and
the diff for them is wasted work on the hot path. These tests count full requotes.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tests.support.market_maker import strategy
from tests.support.orders import report as order_report
from truex_qf.domain.model import (
    BookChange,
    BookEntry,
    ExecType,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    OrdStatus,
    SessionLoggedOn,
    SessionRole,
)
from truex_qf.strategy.fair_value import FairValueModel
from truex_qf.trading.market_maker import MarketMaker
from truex_qf.trading.risk import TradingState

SYMBOL = "BTC-PYUSD"
BID, OFFER = MDEntryType.BID, MDEntryType.OFFER


def change(entry_type, price, size, action=MDUpdateAction.CHANGE, symbol=SYMBOL):
    return BookChange(action, entry_type, Decimal(price), Decimal(size), symbol=symbol)


def counted(maker: MarketMaker) -> MarketMaker:
    """``maker`` with its full requotes counted in ``maker.calls``."""
    calls: list[str] = []
    full_requote = maker.requote

    def counting(symbol: str, *seen) -> None:
        calls.append(symbol)
        full_requote(symbol, *seen)

    maker.requote = counting  # type: ignore[method-assign]
    maker.calls = calls  # type: ignore[attr-defined]
    return maker


@pytest.fixture
def quoting():
    """A market maker whose first quotes were sent and await the venue's answer."""
    maker = MarketMaker(strategy(), lambda command: True)
    for role in SessionRole:
        maker.handle(SessionLoggedOn(role, role.value))
    entries = [
        BookEntry(BID, Decimal("99990"), Decimal("1")),
        BookEntry(BID, Decimal("99980"), Decimal("2")),
        BookEntry(OFFER, Decimal("100010"), Decimal("1")),
        BookEntry(OFFER, Decimal("100020"), Decimal("2")),
    ]
    maker.books.register_subscription("MD1", (SYMBOL,))
    maker.handle(MarketDataSnapshot("MD1", SYMBOL, tuple(entries)))
    maker.requote_dirty()
    return maker


@pytest.fixture
def mm(quoting):
    """A market maker whose quotes rest, acknowledged."""
    for order in quoting.orders.working_orders(SYMBOL):
        quoting.handle(report(order, ExecType.PENDING_NEW, OrdStatus.PENDING_NEW))
        quoting.handle(report(order, ExecType.NEW, OrdStatus.NEW))
    quoting.requote_dirty()
    return counted(quoting)


def increment(mm, *changes, md_req_id="MD1"):
    mm.handle(MarketDataIncrement(md_req_id, tuple(changes)))
    mm.requote_dirty()


def test_a_change_below_the_top_does_not_requote(mm):
    increment(mm, change(BID, "99980", "5"), change(OFFER, "100020", "7"))
    assert mm.calls == []


def test_a_new_best_price_requotes(mm):
    increment(mm, change(BID, "99995", "1", MDUpdateAction.NEW))
    assert mm.calls == [SYMBOL]


def test_a_new_size_at_the_best_price_does_not_requote_the_mid(mm):
    assert mm.symbols[SYMBOL].fair_value.config.truex_method == "mid"
    increment(mm, change(OFFER, "100010", "3"))
    assert mm.calls == []


def test_a_new_size_at_the_best_price_requotes_the_micro_price(mm):
    # the size-weighted mid reads the top sizes
    state = mm.symbols[SYMBOL]
    state.fair_value = FairValueModel(
        dataclasses.replace(state.fair_value.config, truex_method="micro")
    )
    mm.tick()
    mm.calls.clear()
    increment(mm, change(OFFER, "100010", "3"))
    assert mm.calls == [SYMBOL]


def test_an_entry_routed_by_its_subscription_counts(mm):
    increment(mm, change(BID, "99995", "1", MDUpdateAction.NEW, symbol=None))
    assert mm.calls == [SYMBOL]


def test_the_periodic_tick_requotes_whatever_moved(mm):
    mm.tick()  # staleness moves with time alone: the tick always requotes in full
    assert mm.calls == [SYMBOL]


def report(order, exec_type, ord_status, **fields):
    """test_orders' report, with an OrderID of each order's own."""
    return order_report(order, exec_type, ord_status, order_id=f"V-{order.cl_ord_id}", **fields)


def test_a_pending_report_does_not_requote_and_the_acknowledgement_does(mm):
    order = mm.orders.working_orders(SYMBOL)[0]
    request = mm.orders.replace(order.cl_ord_id, order.price + 1, order.qty)
    mm.tick()  # the requote that would have sent it reads its inputs afterwards
    mm.calls.clear()
    mm.handle(
        report(
            order,
            ExecType.PENDING_REPLACE,
            OrdStatus.PENDING_REPLACE,
            answering=request,
        )
    )
    mm.requote_dirty()
    assert mm.calls == []  # still pending: nothing a quote reads has moved
    mm.handle(
        report(
            order,
            ExecType.REPLACED,
            OrdStatus.NEW,
            answering=request,
            price=str(request.price),
        )
    )
    mm.requote_dirty()
    assert mm.calls == [SYMBOL]  # replaced: the diff and our own book see the new price


def test_market_data_waits_for_the_new_reports_of_our_quotes(quoting):
    mm = counted(quoting)
    # the book shows a new best bid: it may be our own quote, not yet acknowledged
    increment(mm, change(BID, "99995", "1", MDUpdateAction.NEW))
    assert mm.calls == []
    orders = mm.orders.working_orders(SYMBOL)
    mm.handle(report(orders[0], ExecType.NEW, OrdStatus.NEW))
    mm.requote_dirty()
    assert mm.calls == []  # one quote is still unacknowledged
    mm.handle(report(orders[1], ExecType.NEW, OrdStatus.NEW))
    mm.requote_dirty()
    assert mm.calls == [SYMBOL]  # the last New report: everything is read again


def test_a_fill_requotes_in_full(mm):
    order = mm.orders.working_orders(SYMBOL)[0]
    mm.handle(report(order, ExecType.NEW, OrdStatus.NEW))
    mm.requote_dirty()
    mm.calls.clear()
    half = order.qty / 2
    mm.handle(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            leaves=str(order.qty - half),
            cum=str(half),
            last_qty=str(half),
            last_px=str(order.price),
        )
    )
    mm.requote_dirty()
    assert mm.calls == [SYMBOL]


def test_a_change_behind_the_top_still_sees_the_trading_state_move(mm):
    mm.risk.set_state(TradingState.REDUCING, "test")  # nothing marks the symbol dirty
    increment(mm, change(BID, "99980", "5"))  # the book's inputs did not move, the state did
    assert mm.calls == [SYMBOL]
