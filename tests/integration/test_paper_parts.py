"""Paper trading's parts without a socket: the paper venue (a fill when the market trades
through our order, its reports as a session would deliver them, the journal), the live
view's PAPER marker in every frame and every plain line, and fair value on a live book that
holds none of our orders."""

from __future__ import annotations

import io
import logging
from decimal import Decimal as D

from rich.console import Console

from tests.support.books import BID, OFFER, snapshot
from tests.support.market_maker import acknowledged_order, strategy
from truex_qf.app.live_view import LiveView
from truex_qf.app.paper import PAPER, PAPER_OWNER, PaperVenue
from truex_qf.domain.model import (
    BookChange,
    CancelOrder,
    ExecType,
    ExecutionReport,
    MarketDataIncrement,
    MDUpdateAction,
    NewOrder,
    SessionLoggedOn,
    SessionRole,
    Side,
)
from truex_qf.fix.readers import read_execution_report
from truex_qf.sim.matching import POST_ONLY_WOULD_CROSS
from truex_qf.trading.market_maker import MarketMaker

SYMBOL = "BTC-PYUSD"


def _paper_venue(maker_fee_bps: D = D(0)) -> tuple[PaperVenue, list[tuple[str, str, str]]]:
    settings = strategy(maker_fee_bps=maker_fee_bps)
    journal: list[tuple[str, str, str]] = []
    venue = PaperVenue(settings, journal=lambda *row: journal.append(row), clock_ns=lambda: 42)
    venue.on_market_data(snapshot((BID, "99990", "1"), (OFFER, "100010", "1")))
    return venue, journal


def test_balances_given_limit_the_paper_account_as_truex_does():
    settings = strategy()
    venue = PaperVenue(settings, balances={"PYUSD": D(300), "BTC": D(0)})
    venue.on_market_data(snapshot((BID, "99990", "1"), (OFFER, "100010", "1")))
    # 0.002 at 99995 is 199.99 PYUSD: funded; a second one would need 399.98
    first = venue.submit(NewOrder("B1", SYMBOL, Side.BUY, D("0.002"), D("99995"), post_only=True))
    assert first[-1].exec_type is ExecType.NEW
    second = venue.submit(NewOrder("B2", SYMBOL, Side.BUY, D("0.002"), D("99990"), post_only=True))
    assert second[-1].exec_type is ExecType.REJECTED
    assert second[-1].text == "Insufficient balance"
    no_btc = venue.submit(NewOrder("S1", SYMBOL, Side.SELL, D("0.001"), D("100010")))
    assert no_btc[-1].exec_type is ExecType.REJECTED
    unlimited = PaperVenue(settings)
    unlimited.on_market_data(snapshot((BID, "99990", "1"), (OFFER, "100010", "1")))
    sell = unlimited.submit(NewOrder("S1", SYMBOL, Side.SELL, D("0.001"), D("100020")))
    assert sell[-1].exec_type is ExecType.NEW


def test_our_bid_fills_when_the_market_trades_through_it():
    venue, journal = _paper_venue(maker_fee_bps=D(1))
    order = NewOrder("B1", SYMBOL, Side.BUY, D("0.002"), D("99995"), post_only=True)
    acks = venue.submit(order)
    assert [r.exec_type for r in acks] == [ExecType.PENDING_NEW, ExecType.NEW]
    assert all(r.received_ns == 42 for r in acks)  # stamped as a session stamps its messages

    # the market's offer comes down to our bid: it trades with us, at our price, as maker
    through = MarketDataIncrement(
        "MD-1", (BookChange(MDUpdateAction.NEW, OFFER, D("99995"), D("1"), SYMBOL),)
    )
    (fill,) = venue.on_market_data(through)
    assert isinstance(fill, ExecutionReport)
    assert (fill.exec_type, fill.cl_ord_id, fill.last_qty, fill.last_px) == (
        ExecType.TRADE,
        "B1",
        D("0.002"),
        D("99995"),
    )
    assert fill.liquidity_indicator == "1"  # maker
    assert [fee.amount for fee in fill.fees] == [D("0.002") * D("99995") / D(10_000)]
    assert venue.orders_received == 1

    # the journal holds the paper session's request and reports, readable as FIX
    assert [(session, direction) for session, direction, _ in journal] == [
        (PAPER, "OUT"),
        (PAPER, "IN"),
        (PAPER, "IN"),
        (PAPER, "IN"),
    ]
    assert journal[0][2].startswith("8=FIXT.1.1\x0135=D\x01")
    assert "\x0111=B1\x01" in journal[0][2]
    replayed = read_execution_report(journal[-1][2])
    assert replayed == fill._replace(received_ns=replayed.received_ns)


def test_a_cancel_is_answered_and_nothing_is_left_working():
    venue, journal = _paper_venue()
    venue.submit(NewOrder("S1", SYMBOL, Side.SELL, D("0.002"), D("100005"), post_only=True))
    (canceled,) = venue.submit(CancelOrder("S2", "S1"))
    assert canceled.exec_type is ExecType.CANCELED
    assert venue.venue.engine.working_orders(PAPER_OWNER) == []
    assert [row[2].split("\x01")[1] for row in journal if row[1] == "OUT"] == ["35=D", "35=F"]


def test_a_post_only_order_that_would_cross_is_rejected_as_on_the_venue():
    venue, _ = _paper_venue()
    crossing = NewOrder("B1", SYMBOL, Side.BUY, D("0.002"), D("100010"), post_only=True)
    reports = venue.submit(crossing)
    assert reports[-1].exec_type is ExecType.CANCELED  # TrueX cancels a crossing ALO order
    assert reports[-1].text == POST_ONLY_WOULD_CROSS


def _market_maker() -> MarketMaker:
    mm = MarketMaker(strategy(), lambda command: True)
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, PAPER))
    return mm


def test_every_plain_status_line_says_paper(caplog):
    mm = _market_maker()
    view = LiveView(Console(file=io.StringIO(), force_terminal=False), plain_interval_s=0)
    view.label = PAPER
    with caplog.at_level(logging.INFO, logger="truex_qf.app.live_view"):
        for turn in range(5):
            view.maybe_render(mm, float(turn))
    lines = [r.getMessage() for r in caplog.records if r.name == "truex_qf.app.live_view"]
    assert len(lines) == 5
    assert all(line.startswith("PAPER | up ") and "OE PAPER MD DOWN" in line for line in lines)


def test_every_terminal_frame_says_paper():
    mm = _market_maker()
    output = io.StringIO()
    view = LiveView(Console(file=output, force_terminal=True, width=160), refresh_per_s=50)
    assert view.in_place
    view.label = PAPER
    frames = []
    for turn in range(4):
        view.maybe_render(mm, float(turn))
        frame = Console(file=io.StringIO(), width=160, record=True)
        frame.print(view._footer)  # what rich's thread draws next
        frames.append(frame.export_text())
    view.close()
    assert len(frames) == 4
    for frame in frames:
        first = frame.splitlines()[1]  # under the rule
        assert first.startswith("PAPER | up "), frame


def _fair_value_with_our_bid_at_the_top(own_orders_in_book: bool) -> D:
    """The fair value (mid) when our acknowledged bid holds the whole best bid's size."""
    mm = MarketMaker(strategy(), lambda command: True, own_orders_in_book=own_orders_in_book)
    mm.handle(SessionLoggedOn(SessionRole.MARKET_DATA, "md"))
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, PAPER))
    mm.handle(snapshot((BID, "99990", "0.002"), (BID, "99900", "1"), (OFFER, "100010", "1")))
    acknowledged_order(mm, qty="0.002", price="99990")
    mm.requote(SYMBOL)
    return mm.fair_values()[SYMBOL]


def test_paper_fair_value_keeps_the_live_book_whole():
    # on the venue the best bid's size is ours: fair value prices off the others' levels
    assert _fair_value_with_our_bid_at_the_top(own_orders_in_book=True) == D("99955")
    # paper: our order is not in the live book; the 0.002 there is someone else's
    assert _fair_value_with_our_bid_at_the_top(own_orders_in_book=False) == D("100000")
