"""A recorded run's own orders taken out of a captured book (backtest.recorded_orders)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.support.books import BID, OFFER, SYMBOL, TRADE, snapshot
from truex_qf.backtest.recorded_orders import OthersBook
from truex_qf.domain.model import (
    BookChange,
    ExecType,
    ExecutionReport,
    MarketDataIncrement,
    MDEntryType,
    MDUpdateAction,
    OrdStatus,
    Side,
)

NEW, CHANGE, DELETE = MDUpdateAction.NEW, MDUpdateAction.CHANGE, MDUpdateAction.DELETE


def change(action: MDUpdateAction, kind: MDEntryType, price: str, size: str) -> BookChange:
    return BookChange(action, kind, D(price), D(size), SYMBOL)


def report(
    status: OrdStatus, price: str, leaves: str, order_id: str = "O1", side: Side = Side.BUY
) -> ExecutionReport:
    exec_type = {
        OrdStatus.NEW: ExecType.NEW,
        OrdStatus.PARTIALLY_FILLED: ExecType.TRADE,
        OrdStatus.FILLED: ExecType.TRADE,
        OrdStatus.CANCELED: ExecType.CANCELED,
        OrdStatus.PENDING_NEW: ExecType.PENDING_NEW,
    }.get(status, ExecType.REPLACED)
    return ExecutionReport(
        order_id, "C1", "E1", exec_type, status, SYMBOL, side, D(1), D(leaves), D(0), D(price)
    )


def sizes(increment: MarketDataIncrement | None) -> list[tuple[str, str, str]]:
    assert increment is not None
    assert all(c.action is NEW for c in increment.changes)
    return [(c.entry_type.name, str(c.price), str(c.size)) for c in increment.changes]


def test_without_reports_of_a_run_the_capture_passes_unchanged() -> None:
    others = OthersBook((SYMBOL,))
    first = snapshot((BID, "100", "3"), (OFFER, "101", "2"))
    assert others.snapshot(first) is first
    moved = MarketDataIncrement("1", (change(CHANGE, BID, "100", "4"),))
    assert others.increment(moved) is moved
    assert not others.active


def test_the_runs_resting_order_is_taken_out_of_its_level_until_it_is_gone() -> None:
    others = OthersBook((SYMBOL,))
    others.snapshot(snapshot((BID, "100", "3"), (OFFER, "101", "2")))
    assert others.own_report(report(OrdStatus.PENDING_NEW, "100", "1")) is None  # not resting
    assert sizes(others.own_report(report(OrdStatus.NEW, "100", "1"))) == [("BID", "100", "2")]
    # the book then shows it: the others' size stays 3
    grown = others.increment(MarketDataIncrement("1", (change(CHANGE, BID, "100", "4"),)))
    assert [(c.action, c.size) for c in grown.changes] == [(NEW, D(3))]
    # a partial fill: less of ours rests
    partial = others.own_report(report(OrdStatus.PARTIALLY_FILLED, "100", "0.4"))
    assert sizes(partial) == [("BID", "100", "3.6")]
    assert others.own_size(SYMBOL, Side.BUY, D(100)) == D("0.4")
    # replaced to 101 (kept OrderID): out of 100; 101 held none of the others and still
    # holds none (only changed levels are sent)
    moved = others.own_report(report(OrdStatus.REPLACED, "101", "0.4"))
    assert sizes(moved) == [("BID", "100", "4")]
    assert others.own_size(SYMBOL, Side.BUY, D(100)) == 0
    # the book shows it at 101: nothing of the others there (a NEW of 0 is no level)
    at_101 = others.increment(MarketDataIncrement("1", (change(NEW, BID, "101", "0.4"),)))
    assert [(c.action, c.price, c.size) for c in at_101.changes] == [(NEW, D(101), D(0))]
    # cancelled: the book still shows it until its next message; then it is gone
    assert others.own_report(report(OrdStatus.CANCELED, "101", "0")) is not None
    gone = others.increment(MarketDataIncrement("1", (change(DELETE, BID, "101", "0"),)))
    assert [(c.action, c.size) for c in gone.changes] == [(NEW, D(0))]
    assert others.own_reports == 5


def test_a_snapshot_shows_the_others_and_leaves_out_a_level_of_ours_alone() -> None:
    others = OthersBook((SYMBOL,))
    others.snapshot(snapshot((BID, "100", "3")))
    others.own_report(report(OrdStatus.NEW, "102", "1", order_id="A", side=Side.SELL))
    others.own_report(report(OrdStatus.NEW, "100", "1", order_id="B"))
    seen = others.snapshot(snapshot((BID, "100", "3"), (OFFER, "102", "1"), (OFFER, "103", "5")))
    assert [(e.entry_type, e.price, e.size) for e in seen.entries] == [
        (BID, D(100), D(2)),
        (OFFER, D(103), D(5)),
    ]


def test_a_level_is_never_below_zero_and_trades_pass() -> None:
    others = OthersBook((SYMBOL,))
    others.snapshot(snapshot((BID, "100", "1")))
    # the report came before the book showed more than the order (sessions race)
    assert sizes(others.own_report(report(OrdStatus.NEW, "100", "2"))) == [("BID", "100", "0")]
    trade = BookChange(NEW, TRADE, D(100), D("0.5"), SYMBOL)
    seen = others.increment(MarketDataIncrement("1", (trade,)))
    assert seen.changes == (trade,)
