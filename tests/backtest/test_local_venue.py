"""LocalVenue: our orders in the simulator's engine under a mirrored observed book.

Each test states the observed market as the domain values the FIX readers produce, puts an
order of ours in it and checks what fills, against the fill model in the module docstring.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.support import books
from tests.support.books import BID, OFFER, SYMBOL, TRADE
from truex_qf.domain.model import (
    BookChange,
    CancelOrder,
    ExecType,
    ExecutionReport,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    NewOrder,
    OrderCancelReject,
    OrdStatus,
    ReplaceOrder,
    Side,
)
from truex_qf.sim.local_venue import LocalVenue, VenueFees, local_venue_fees
from truex_qf.sim.matching import OUTSIDE_PRICE_BANDS, POST_ONLY_WOULD_CROSS, ToClient
from truex_qf.strategy.settings import StrategySettings, default_strategy

D = Decimal


def venue(**kwargs: Any) -> LocalVenue:
    return LocalVenue([SYMBOL], clock=lambda: datetime(2026, 12, 7, tzinfo=UTC), **kwargs)


def snapshot(bids: list[tuple[str, str]], offers: list[tuple[str, str]]) -> MarketDataSnapshot:
    """The observed book, as (price, size) levels of each side."""
    return books.snapshot(*[(BID, p, s) for p, s in bids], *[(OFFER, p, s) for p, s in offers])


def change(
    entry_type: MDEntryType,
    price: str,
    size: str,
    action: MDUpdateAction = MDUpdateAction.CHANGE,
    aggressor: Side | None = None,
) -> BookChange:
    return BookChange(action, entry_type, D(price), D(size), SYMBOL, None, aggressor)


def increment(*changes: BookChange) -> MarketDataIncrement:
    return MarketDataIncrement("MD1", tuple(changes))


def trade(price: str, size: str, aggressor: Side | None) -> BookChange:
    return change(TRADE, price, size, MDUpdateAction.NEW, aggressor)


def bid(cl_ord_id: str, qty: str, price: str, post_only: bool = False) -> NewOrder:
    return NewOrder(cl_ord_id, SYMBOL, Side.BUY, D(qty), D(price), post_only=post_only)


def ask(cl_ord_id: str, qty: str, price: str, post_only: bool = False) -> NewOrder:
    return NewOrder(cl_ord_id, SYMBOL, Side.SELL, D(qty), D(price), post_only=post_only)


def fills(reports: list[object]) -> list[tuple[Decimal, Decimal, str | None]]:
    """(LastQty, LastPx, LastLiquidityInd) of each fill report."""
    return [
        (r.last_qty, r.last_px, r.liquidity_indicator)
        for r in reports
        if isinstance(r, ExecutionReport)
        and r.exec_type is ExecType.TRADE
        and r.last_qty is not None
        and r.last_px is not None
    ]


def statuses(reports: list[object]) -> list[OrdStatus]:
    return [r.ord_status for r in reports if isinstance(r, ExecutionReport)]


BOOK = snapshot([("100000", "0.5"), ("99999.5", "1")], [("100001", "0.4"), ("100001.5", "1")])


def test_the_mirror_holds_the_observed_levels_as_the_market_owner() -> None:
    local = venue()
    assert local.on_market_data(BOOK) == []
    depth = local.engine.depth(SYMBOL)
    assert [(lv.price, lv.size) for lv in depth.bids] == [
        (D("100000"), D("0.5")),
        (D("99999.5"), D(1)),
    ]
    assert [(lv.price, lv.size) for lv in depth.offers] == [
        (D("100001"), D("0.4")),
        (D("100001.5"), D(1)),
    ]
    local.on_market_data(
        increment(change(BID, "100000", "0.2"), change(OFFER, "100001", "0", MDUpdateAction.DELETE))
    )
    assert local.market_size(SYMBOL, Side.BUY, D("100000")) == D("0.2")
    assert local.market_size(SYMBOL, Side.SELL, D("100001")) == 0
    # a new snapshot replaces the whole book: levels it does not list are gone
    local.on_market_data(snapshot([("99990", "2")], [("100010", "3")]))
    depth = local.engine.depth(SYMBOL)
    assert [(lv.price, lv.size) for lv in depth.bids] == [(D("99990"), D(2))]
    assert [(lv.price, lv.size) for lv in depth.offers] == [(D("100010"), D(3))]


def test_our_order_waits_behind_the_queue_ahead_and_fills_by_the_excess_of_trades() -> None:
    local = venue()
    local.on_market_data(BOOK)
    placed = local.submit(bid("B1", "0.1", "100000"))
    assert statuses(placed) == [OrdStatus.PENDING_NEW, OrdStatus.NEW]
    # 0.5 is ahead of us: a sell of 0.3 at our price takes from the queue ahead only
    reports = local.on_market_data(
        increment(trade("100000", "0.3", Side.SELL), change(BID, "100000", "0.2"))
    )
    assert fills(reports) == []
    # 0.2 still ahead: a sell of 0.25 fills 0.05 of ours, as maker ("1")
    reports = local.on_market_data(
        increment(
            trade("100000", "0.25", Side.SELL), change(BID, "100000", "0", MDUpdateAction.DELETE)
        )
    )
    assert fills(reports) == [(D("0.05"), D("100000"), "1")]
    assert statuses(reports)[-1] is OrdStatus.PARTIALLY_FILLED
    # the queue ahead is gone now: the next sell at our price fills the rest
    reports = local.on_market_data(increment(trade("100000", "0.5", Side.SELL)))
    assert fills(reports) == [(D("0.05"), D("100000"), "1")]
    assert statuses(reports)[-1] is OrdStatus.FILLED


def test_size_added_after_us_is_behind_us_and_cancels_come_from_the_back() -> None:
    local = venue()
    local.on_market_data(BOOK)
    local.submit(bid("B1", "0.1", "100000"))
    # the level grows by 1 (behind us), then shrinks by 1.2: 1 behind us and 0.2 ahead
    local.on_market_data(increment(change(BID, "100000", "1.5")))
    local.on_market_data(increment(change(BID, "100000", "0.3")))
    assert local.market_size(SYMBOL, Side.BUY, D("100000")) == D("0.3")
    # 0.3 ahead: a sell of 0.3 does not reach us, one of 0.35 does by 0.05
    assert fills(local.on_market_data(increment(trade("100000", "0.3", Side.SELL)))) == []
    local.on_market_data(increment(change(BID, "100000", "0.4")))  # 0.4 behind us
    reports = local.on_market_data(increment(trade("100000", "0.05", Side.SELL)))
    assert fills(reports) == [(D("0.05"), D("100000"), "1")]


def test_a_buy_trade_does_not_fill_our_bid_and_a_trade_below_our_bid_fills_it_first() -> None:
    local = venue()
    local.on_market_data(BOOK)
    local.submit(bid("B1", "0.1", "100000.5"))  # alone at a better price than the market
    assert fills(local.on_market_data(increment(trade("100001", "0.1", Side.BUY)))) == []
    reports = local.on_market_data(increment(trade("100000", "0.3", Side.SELL)))
    assert fills(reports) == [(D("0.1"), D("100000.5"), "1")]


def test_an_offer_through_our_bid_fills_it_at_our_price_as_maker() -> None:
    local = venue()
    local.on_market_data(BOOK)
    local.submit(bid("B1", "0.1", "100000.5"))
    # the market's offer moves down to 100000.5 and then 100000: it trades through us
    reports = local.on_market_data(
        increment(
            change(OFFER, "100001", "0", MDUpdateAction.DELETE),
            change(OFFER, "100000.5", "0.04", MDUpdateAction.NEW),
        )
    )
    assert fills(reports) == [(D("0.04"), D("100000.5"), "1")]
    # what traded with us is taken until the market changes the level again
    assert local.market_size(SYMBOL, Side.SELL, D("100000.5")) == 0
    reports = local.on_market_data(increment(change(OFFER, "100000.5", "0.5")))
    assert fills(reports) == [(D("0.06"), D("100000.5"), "1")]
    assert statuses(reports)[-1] is OrdStatus.FILLED
    assert local.market_size(SYMBOL, Side.SELL, D("100000.5")) == D("0.44")
    local.on_market_data(increment(change(OFFER, "100000.5", "0.3")))
    assert local.market_size(SYMBOL, Side.SELL, D("100000.5")) == D("0.3")


def test_a_trade_without_aggressor_side_is_read_from_the_book_or_skipped() -> None:
    local = venue()
    local.on_market_data(BOOK)
    local.submit(bid("B1", "0.1", "100000"))
    local.submit(ask("S1", "0.1", "100000.5"))
    # inside the market's spread: nobody can tell who aggressed, no fill
    assert fills(local.on_market_data(increment(trade("100000.5", "1", None)))) == []
    assert local.unattributed_trades == 1
    # at the market's best bid: a sell, through the 0.5 ahead into us
    reports = local.on_market_data(increment(trade("100000", "0.55", None)))
    assert fills(reports) == [(D("0.05"), D("100000"), "1")]


def test_our_crossing_order_takes_the_market_as_taker_with_the_taker_fee() -> None:
    local = venue(maker_fee_bps=D("1"), taker_fee_bps=D("5"))
    local.on_market_data(BOOK)
    reports = local.submit(bid("B1", "0.5", "100001"))
    assert fills(reports) == [(D("0.4"), D("100001"), "2")]
    (fill,) = [
        r for r in reports if isinstance(r, ExecutionReport) and r.exec_type is ExecType.TRADE
    ]
    assert fill.fees[0].amount == D("0.4") * D("100001") * D(5) / D(10_000)
    assert statuses(reports)[-1] is OrdStatus.PARTIALLY_FILLED  # 0.1 rests at 100001


def test_post_only_order_that_would_cross_is_rejected_and_never_trades() -> None:
    local = venue()
    local.on_market_data(BOOK)
    reports = local.submit(bid("B1", "0.1", "100001", post_only=True))
    assert fills(reports) == []
    last = reports[-1]
    assert isinstance(last, ExecutionReport)
    assert (last.exec_type, last.text) == (ExecType.CANCELED, POST_ONLY_WOULD_CROSS)
    assert local.market_size(SYMBOL, Side.SELL, D("100001")) == D("0.4")


def test_order_outside_the_price_band_is_rejected_but_deep_market_levels_are_mirrored() -> None:
    local = venue(price_band=D("0.05"))
    local.on_market_data(
        snapshot([("100000", "0.5"), ("90000", "1")], [("100001", "0.4"), ("120000.5", "0.00001")])
    )
    # the market's levels need fit neither band nor lot nor minimum notional
    assert local.market_size(SYMBOL, Side.BUY, D("90000")) == D(1)
    assert local.market_size(SYMBOL, Side.SELL, D("120000.5")) == D("0.00001")
    reports = local.submit(bid("B1", "0.1", "90000"))
    last = reports[-1]
    assert isinstance(last, ExecutionReport)
    assert (last.exec_type, last.text) == (ExecType.REJECTED, OUTSIDE_PRICE_BANDS)


def test_cancel_and_replace_of_ours_go_through_the_engine() -> None:
    local = venue()
    local.on_market_data(BOOK)
    local.submit(bid("B1", "0.1", "99999.5"))
    replaced = local.submit(ReplaceOrder("B2", "B1", D("0.2"), D("100000")))
    assert [r.exec_type for r in replaced if isinstance(r, ExecutionReport)] == [
        ExecType.PENDING_REPLACE,
        ExecType.REPLACED,
    ]
    # re-priced: at the back of 100000, behind its 0.5
    assert fills(local.on_market_data(increment(trade("100000", "0.5", Side.SELL)))) == []
    canceled = local.submit(CancelOrder("B3", "B2"))
    assert statuses(canceled) == [OrdStatus.CANCELED]
    assert fills(local.on_market_data(increment(trade("100000", "1", Side.SELL)))) == []
    assert local.engine.working_orders(local.owner) == []


def test_same_calls_give_the_same_reports() -> None:
    def session() -> list[object]:
        local = venue()
        out: list[object] = list(local.on_market_data(BOOK))
        out += local.submit(bid("B1", "0.3", "100000"))
        out += local.on_market_data(increment(trade("100000", "0.6", Side.SELL)))
        return out

    assert session() == session()


def test_the_engine_forgets_done_orders_it_is_told_to_and_keeps_working_ones() -> None:
    local = venue()
    local.on_market_data(BOOK)
    engine = local.engine
    engine.submit("A", bid("A1", "0.1", "100001"))  # trades 0.1 of the market's offer: done
    engine.submit("A", bid("A2", "0.1", "99999"))  # rests
    engine.forget(["A"])
    (gone,) = engine.cancel("A", CancelOrder("A3", "A1"))
    assert isinstance(gone, ToClient) and isinstance(gone.message, OrderCancelReject)
    assert gone.message.reason == "1"  # unknown order: forgotten
    events = engine.cancel("A", CancelOrder("A4", "A2"))
    (canceled,) = [e for e in events if isinstance(e, ToClient)]
    assert isinstance(canceled.message, ExecutionReport)
    assert canceled.message.ord_status is OrdStatus.CANCELED
    assert engine.trades() == []


def test_the_mirror_keeps_working_after_the_market_s_done_orders_are_forgotten() -> None:
    local = venue()
    local.on_market_data(BOOK)
    local.submit(bid("B1", "0.1", "100000"))
    for size in ("0.6", "0.5") * 6000:  # 12 000 changes behind us: purges on the way
        local.on_market_data(increment(change(BID, "100000", size)))
    assert len(local.engine._orders_by_cl_ord_id) < 2 * 10_000
    reports = local.on_market_data(increment(trade("100000", "0.55", Side.SELL)))
    assert fills(reports) == [(D("0.05"), D("100000"), "1")]


def _quoting_fees(*maker_fees_bps: str) -> StrategySettings:
    """The default strategy with a symbol per fee, each charging that maker_fee_bps."""
    base = default_strategy().symbols[0]
    symbols = tuple(
        dataclasses.replace(
            base,
            symbol=f"BTC-{quote}",
            quoting=dataclasses.replace(base.quoting, maker_fee_bps=D(fee)),
        )
        for quote, fee in zip(("PYUSD", "USDC", "USD"), maker_fees_bps, strict=False)
    )
    return dataclasses.replace(default_strategy(), symbols=symbols)


def test_the_local_venue_charges_the_strategys_maker_fee_and_no_taker_fee() -> None:
    assert local_venue_fees(_quoting_fees("1.5", "1.5")) == VenueFees(D("1.5"), D(0))


def test_fees_given_override_the_strategys() -> None:
    fees = local_venue_fees(_quoting_fees("1.5"), maker_fee_bps=D(-1), taker_fee_bps=D(5))
    assert fees == VenueFees(D(-1), D(5))
    assert local_venue_fees(_quoting_fees("1.5"), taker_fee_bps=D(5)) == VenueFees(D("1.5"), D(5))


def test_symbols_that_differ_in_maker_fee_charge_none_and_say_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="truex_qf.sim.local_venue"):
        assert local_venue_fees(_quoting_fees("1", "2")) == VenueFees(D(0), D(0))
    assert "symbols differ in maker_fee_bps; fills charge no fee" in caplog.text
