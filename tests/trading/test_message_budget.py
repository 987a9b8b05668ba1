"""Out of message budget, the market maker keeps its passive quotes and pulls the dangerous ones.

The pace (trading.risk.RateGovernor) decides when the next order or replace may go; the quote
diff decides what waits. These tests drive the MarketMaker itself: quotes resting at the venue,
the budget spent, then the market moves up, so that our bids are now below where they should be
(passive: a taker gets a worse price from them than from the wanted ones) and our asks below
theirs (aggressive: the price a taker watching the move would take).
"""

from __future__ import annotations

from decimal import Decimal

from tests.support.market_maker import quoting_market_maker
from tests.support.orders import report
from truex_qf.domain.model import (
    BookEntry,
    CancelOrder,
    ExecType,
    MarketDataSnapshot,
    MDEntryType,
    NewOrder,
    OrdStatus,
    Side,
    SubscribeMarketData,
)


def resting_quotes():
    mm, sent = quoting_market_maker()  # the default strategy: 2 levels a side, cancel then new
    orders = [c for c in sent if isinstance(c, NewOrder)]
    assert sorted(o.side for o in orders) == [Side.BUY, Side.BUY, Side.SELL, Side.SELL]
    for order in orders:
        mm.handle(report(mm.orders.get(order.cl_ord_id), ExecType.NEW, OrdStatus.NEW))
    request = next(c for c in sent if isinstance(c, SubscribeMarketData))
    sent.clear()
    return mm, sent, orders, request


def market_up(mm, request, bps: int) -> None:
    shift = Decimal(100_000) * bps / 10_000
    mm.handle(
        MarketDataSnapshot(
            request.md_req_id,
            next(iter(mm.symbols)),
            (
                BookEntry(MDEntryType.BID, Decimal("99900") + shift, Decimal("1.5")),
                BookEntry(MDEntryType.OFFER, Decimal("100100") + shift, Decimal("2")),
            ),
        )
    )
    mm.requote_dirty()


def test_out_of_budget_the_bids_stay_and_the_asks_are_pulled() -> None:
    mm, sent, orders, request = resting_quotes()
    for _ in range(300):  # the minute's budget and then some, as venue rejects count
        mm.risk.record_reject()
    assert not mm.risk.has_message_budget()
    market_up(mm, request, 10)
    cancelled = {c.orig_cl_ord_id for c in sent if isinstance(c, CancelOrder)}
    asks = {o.cl_ord_id for o in orders if o.side is Side.SELL}
    assert cancelled == asks
    assert not [c for c in sent if isinstance(c, NewOrder)]
    working = {o.cl_ord_id for o in mm.orders.working_orders(next(iter(mm.symbols)))}
    assert {o.cl_ord_id for o in orders if o.side is Side.BUY} <= working


def test_with_budget_every_quote_out_of_tolerance_moves() -> None:
    mm, sent, orders, request = resting_quotes()
    market_up(mm, request, 10)
    cancelled = {c.orig_cl_ord_id for c in sent if isinstance(c, CancelOrder)}
    assert cancelled == {o.cl_ord_id for o in orders}
