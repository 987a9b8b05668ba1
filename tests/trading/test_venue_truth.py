"""Never ACTIVE while unable to trade, and the position from the venue's trades.

Driven through the market maker with fake REST answers (the REST worker's side is covered
against the simulator in tests/integration).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tests.support.market_maker import RecordingVenue, acknowledged_order, strategy
from tests.support.orders import new_order
from truex_qf.domain.model import (
    ExecType,
    ExecutionReport,
    OrdStatus,
    SecurityInfo,
    SecurityList,
    SessionLoggedOn,
    SessionRole,
    Side,
)
from truex_qf.domain.venue_orders import VenueTrade
from truex_qf.trading.events import RecoveredTrade, TradingStateChanged, VenueCorrection
from truex_qf.trading.market_maker import (
    CLOCK_SKEW_S,
    LISTING_SETTLE_S,
    NO_QUOTABLE_SYMBOL,
    NOT_RECONCILED,
    TRADES_LISTING_EVERY_S,
    TRADES_MARGIN_S,
    WAITING_FOR_RECONCILIATION,
    MarketMaker,
)
from truex_qf.trading.orders import Fill, OrderState
from truex_qf.trading.reconcile import ReconcileResult
from truex_qf.trading.risk import TradingState

SYMBOL = "BTC-PYUSD"
OE = SessionRole.ORDER_ENTRY


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def market_maker(**options):
    """A market maker on a test clock whose REST requests are recorded (``options``: the
    constructor's, e.g. ``give_up_after_s``; ``venue=None``: no REST client)."""
    clock = Clock()
    sent: list[object] = []
    venue = RecordingVenue()
    options = {"venue": venue, **options}
    maker = MarketMaker(
        strategy(), lambda command: sent.append(command) or True, clock=clock, **options
    )
    maker.requests = venue.requests["reconcile"]  # type: ignore[attr-defined]
    maker.sent = sent  # type: ignore[attr-defined]
    maker.test_clock = clock  # type: ignore[attr-defined]
    maker.heard: list[object] = []  # type: ignore[attr-defined,misc]
    maker.listeners.append(maker.heard.append)  # type: ignore[attr-defined]
    return maker


@pytest.fixture
def mm():
    return market_maker()


def trade(exec_id, external_id, qty="0.002", side=Side.BUY, match="M1", at=1_700_000_000.0):
    return VenueTrade(
        exec_id=exec_id,
        trade_match_id=match,
        order_id=f"V-{external_id}",
        external_id=external_id,
        symbol=SYMBOL,
        side=side,
        quantity=Decimal(qty),
        price=Decimal("99000"),
        fee=Decimal("0.5"),
        liquidity="MAKER",
        at_s=at,
    )


def test_waiting_for_reconciliation_is_not_active(mm):
    mm.handle(SessionLoggedOn(OE, "oe"))
    assert mm.risk.state is TradingState.WAITING
    assert mm.risk.state_reason == WAITING_FOR_RECONCILIATION
    mm.handle(ReconcileResult())
    assert mm.risk.state is TradingState.ACTIVE
    assert mm.reconciled and mm.gave_up is None


def test_an_unreachable_venue_is_given_up_on_after_the_limit():
    mm = market_maker(give_up_after_s=60.0)
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(ReconcileResult(error="TrueX REST GET /api/v1/orders/active failed (no answer)"))
    mm.test_clock.now += 59.0
    mm.tick()
    assert mm.gave_up is None and mm.risk.state is TradingState.WAITING
    mm.test_clock.now += 2.0
    mm.tick()
    assert mm.gave_up == WAITING_FOR_RECONCILIATION
    assert "no answer" in mm.last_reconcile_error
    assert mm.sent == [] or all(type(c).__name__ != "NewOrder" for c in mm.sent)


def test_a_symbol_the_venue_does_not_list_is_no_quotable_symbol():
    mm = market_maker(give_up_after_s=30.0)
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(SecurityList("SL1", None, (SecurityInfo("ETH-PYUSD"),)))
    assert mm.risk.state_reason == WAITING_FOR_RECONCILIATION  # reconciliation first
    mm.handle(ReconcileResult())
    assert mm.risk.state is TradingState.WAITING
    assert mm.risk.state_reason == NO_QUOTABLE_SYMBOL
    assert mm.unlisted == {SYMBOL}
    mm.test_clock.now += 31.0
    mm.tick()
    assert mm.gave_up == NO_QUOTABLE_SYMBOL


def test_a_listed_symbol_quotes(mm):
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(ReconcileResult())
    mm.handle(SecurityList("SL1", None, (SecurityInfo(SYMBOL),)))
    assert mm.risk.state is TradingState.ACTIVE and not mm.unlisted


def test_without_rest_the_state_says_it_is_not_reconciled():
    mm = market_maker(venue=None, no_venue_reason="no REST client (TRUEX_REST_URL=off)")
    mm.handle(SessionLoggedOn(OE, "oe"))
    assert mm.risk.state is TradingState.ACTIVE
    assert mm.risk.state_reason.startswith(NOT_RECONCILED)
    assert "TRUEX_REST_URL=off" in mm.risk.state_reason


def test_a_missed_fill_of_a_known_order_carries_the_venue_exec_id(mm):
    order = acknowledged_order(mm)
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(ReconcileResult(active=(), trades=(trade("X1", order.cl_ord_id),)))
    assert mm.positions.position_base(SYMBOL) == Decimal("0.002")
    assert mm.orders.get(order.cl_ord_id).state is OrderState.FILLED
    (correction,) = [e for e in mm.heard if isinstance(e, VenueCorrection)]
    assert correction.report.exec_id == "X1"
    fills = [e for e in mm.heard if isinstance(e, Fill)]
    assert [f.exec_id for f in fills] == ["X1"]
    # the FIX report of the same execution, resent late: a duplicate, not a second fill
    late = correction.report._replace(text=None)
    mm.handle(late)
    assert mm.positions.position_base(SYMBOL) == Decimal("0.002")
    # and a second reconciliation that lists the trade again changes nothing
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(ReconcileResult(trades=(trade("X1", order.cl_ord_id),)))
    assert mm.positions.position_base(SYMBOL) == Decimal("0.002")


def test_a_trade_of_an_earlier_runs_order_reaches_the_position_once(mm):
    mm.handle(SessionLoggedOn(OE, "oe"))
    trades = (trade("X2", "OLD1", side=Side.SELL, match="M2"),)
    mm.handle(ReconcileResult(trades=trades))
    assert mm.positions.position_base(SYMBOL) == Decimal("-0.002")
    assert [type(e) for e in mm.heard if isinstance(e, RecoveredTrade | Fill)] == [
        RecoveredTrade,
        Fill,
    ]
    assert mm.trades_since_s == 1_700_000_000.0 - 600.0
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(ReconcileResult(trades=trades))
    assert mm.positions.position_base(SYMBOL) == Decimal("-0.002")
    assert mm.stats.fills == 1


def test_fills_the_store_holds_are_not_counted_again(mm):
    mm.seed_position(SYMBOL, Decimal("-0.004"), Decimal("396"))
    mm.know_fills({"X3"})
    mm.know_fills({("M4", "SELL")})
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(
        ReconcileResult(
            trades=(
                trade("X3", "OLD2", side=Side.SELL, match="M3"),
                trade("OTHERID", "OLD2", side=Side.SELL, match="M4"),
                trade("X5", "OLD2", qty="0.001", side=Side.SELL, match="M5"),
            )
        )
    )
    assert mm.positions.position_base(SYMBOL) == Decimal("-0.005")


def test_a_symbol_deleted_by_the_venue_stops_quoting_and_comes_back(mm):
    from truex_qf.domain.model import ListUpdateAction, SecurityListUpdate, SecurityUpdate

    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(ReconcileResult())
    order = acknowledged_order(mm)

    def update(action):
        return SecurityListUpdate("SL2", (SecurityUpdate(action, SecurityInfo(SYMBOL)),))

    mm.handle(update(ListUpdateAction.DELETE))
    assert mm.risk.state_reason == NO_QUOTABLE_SYMBOL
    assert mm.orders.get(order.cl_ord_id).state is OrderState.PENDING_CANCEL
    mm.handle(update(ListUpdateAction.ADD))
    assert mm.risk.state is TradingState.ACTIVE and not mm.unlisted


def test_a_venue_that_does_not_list_the_stores_last_fill_is_trusted_alone(mm):
    """A simulator started afresh with an old state folder: the store's position is not
    this venue's; the position is the venue's trades (here one)."""
    mm.seed_position(SYMBOL, Decimal("0.005"), Decimal("500"))
    last_fill_s = 1_699_999_600.0  # asked from 600 s before it
    mm.know_fills(
        {"OLDX", ("OLDM", "BUY")}, last={"OLDX", ("OLDM", "BUY")}, last_fill_s=last_fill_s
    )
    mm.handle(SessionLoggedOn(OE, "oe"))
    window = (trade("N1", "NEW1", qty="0.001", match="NM1"),)
    mm.handle(ReconcileResult(trades=window))
    # the window's answer is not applied: the venue's whole history is asked for instead
    assert mm.reconciling and mm.positions.position_base(SYMBOL) == 0
    first, again = mm.requests
    assert first.trades_since_s == 1_699_999_000.0 and again.trades_since_s is None
    history = (trade("N0", "NEW0", qty="0.002", match="NM0"), *window)
    mm.handle(ReconcileResult(trades=history))
    assert not mm.reconciling
    assert mm.positions.position_base(SYMBOL) == Decimal("0.003")


def test_a_venue_that_lists_the_stores_last_fill_keeps_the_carried_position(mm):
    mm.seed_position(SYMBOL, Decimal("0.005"), Decimal("500"))
    mm.know_fills({"OLDX", ("OLDM", "BUY")}, last={"OLDX", ("OLDM", "BUY")})
    mm.handle(SessionLoggedOn(OE, "oe"))
    listed = (trade("OLDX", "OLD", qty="0.001", match="OLDM"), trade("N2", "OLD", match="NM2"))
    mm.handle(ReconcileResult(trades=listed))
    assert mm.positions.position_base(SYMBOL) == Decimal("0.007")


def test_a_halt_is_told_at_once_and_keeps_an_earlier_halts_reason(mm):
    assert mm.halt("STORAGE_SPILL_FULL")
    assert mm.risk.state is TradingState.HALTED
    assert mm.heard[-1] == TradingStateChanged(TradingState.HALTED, "STORAGE_SPILL_FULL")
    assert not mm.halt("SHUTDOWN")
    assert mm.risk.state_reason == "STORAGE_SPILL_FULL"


def test_a_failed_security_list_is_no_delisting(mm):
    """560=4 (data temporarily unavailable) lists nothing: the symbol stays quotable."""
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.handle(ReconcileResult())
    mm.handle(SecurityList("SL1", "4", ()))
    assert mm.risk.state is TradingState.ACTIVE and not mm.unlisted
    mm.handle(SecurityList("SL2", "0", ()))
    assert mm.unlisted == {SYMBOL}


# ---------------------------------------------------------------- fill keys, bounded


def fix_fill(order, exec_id, match):
    """The FIX report of ``order`` filled whole (ExecID ``exec_id``, TrdMatchID ``match``)."""
    return ExecutionReport(
        "V1",
        order.cl_ord_id,
        exec_id,
        ExecType.TRADE,
        OrdStatus.FILLED,
        SYMBOL,
        order.side,
        order.quantity,
        Decimal(0),
        order.quantity,
        price=order.price,
        last_qty=order.quantity,
        last_px=order.price,
        trade_match_id=match,
    )


def reconciled_on_a_wall_clock():
    """A reconciled market maker whose fill keys are dated by a test wall clock."""
    wall = Clock()
    wall.now = 1_700_000_000.0
    maker = market_maker(wall_clock=wall)
    maker.wall = wall  # type: ignore[attr-defined]
    maker.handle(SessionLoggedOn(OE, "oe"))
    maker.handle(ReconcileResult())
    return maker


def answer_listings(mm, venue_trades, answered):
    """Answer every request not answered yet as the venue would: its trades since then."""
    for request in mm.requests[answered:]:
        since = request.trades_since_s
        listed = tuple(t for t in venue_trades if since is None or t.at_s >= since)
        mm.handle(ReconcileResult(trades=listed, trades_only=request.trades_only))
    return len(mm.requests)


def test_a_long_run_of_fills_keeps_the_fill_keys_bounded():
    """Ten hours, a fill a minute (one in 97 never reported over FIX): the periodic listing
    moves the window on, the keys stay those of the last twenty minutes or so, and every
    fill is counted once, the missed ones too."""
    mm = reconciled_on_a_wall_clock()
    answered = len(mm.requests)
    venue_trades = []
    sizes = []
    for n in range(1, 601):
        mm.test_clock.now += 60.0
        mm.wall.now += 60.0
        side = Side.BUY if n % 2 else Side.SELL
        order = new_order(mm.orders, SYMBOL, side, Decimal("0.001"), Decimal("99000"))
        venue_trades.append(
            trade(f"F{n}", order.cl_ord_id, "0.001", side, f"M{n}", at=mm.wall.now - 0.5)
        )
        if n % 97:
            mm.handle(fix_fill(order, f"F{n}", f"M{n}"))
        mm.tick()
        answered = answer_listings(mm, venue_trades, answered)
        sizes.append(len(mm._known_fills))
    listings = [r for r in mm.requests if r.trades_only]
    assert len(listings) >= 100  # every five minutes
    assert mm.stats.fills == 600 and mm.stats.filled_base == Decimal("0.600")
    assert mm.positions.position_base(SYMBOL) == 0
    window_s = TRADES_MARGIN_S + CLOCK_SKEW_S + TRADES_LISTING_EVERY_S + LISTING_SETTLE_S
    assert max(sizes) <= 2 * (window_s // 60 + 1) < 100
    assert sizes[-1] >= 2 * (TRADES_MARGIN_S // 60)  # the window's fills are kept


def test_a_fill_listed_again_is_counted_once_inside_and_before_the_window():
    mm = reconciled_on_a_wall_clock()
    order = new_order(mm.orders, SYMBOL, Side.BUY, Decimal("0.002"), Decimal("99000"))
    mm.handle(fix_fill(order, "F1", "M1"))
    first = trade("F1", order.cl_ord_id, match="M1", at=mm.wall.now - 0.2)
    mm.wall.now += 60.0
    # inside the window: the listing shows the fill FIX brought, by its ExecID and its match
    mm.handle(ReconcileResult(trades=(first,), trades_only=True))
    renamed = dataclasses.replace(first, exec_id="OTHER-ID")
    mm.handle(ReconcileResult(trades=(renamed,), trades_only=True))
    assert mm.stats.fills == 1 and "F1" in mm._known_fills
    # a reconnect's request is out; a periodic listing answered first moves the window on
    mm.handle(SessionLoggedOn(OE, "oe"))
    mm.wall.now += 2_000.0
    missed = trade("F2", "OLD9", match="M2", at=mm.wall.now - 30.0)
    mm.handle(ReconcileResult(trades=(missed,), trades_only=True))
    assert mm.trades_since_s == missed.at_s - TRADES_MARGIN_S
    assert "F1" not in mm._known_fills and ("M1", "BUY") not in mm._known_fills
    # the reconnect's answer, from the older window, lists both again: neither counts
    mm.handle(ReconcileResult(trades=(first, missed)))
    assert not mm.reconciling
    assert mm.stats.fills == 2
    assert mm.positions.position_base(SYMBOL) == Decimal("0.004")


def test_undated_trades_keep_their_keys_and_stop_the_periodic_listing():
    mm = reconciled_on_a_wall_clock()
    undated = dataclasses.replace(trade("U1", "OLD1", match="MU"), at_s=None)
    mm.handle(ReconcileResult(trades=(undated,), trades_only=True))
    mm.test_clock.now += 10 * TRADES_LISTING_EVERY_S
    mm.wall.now += 10 * TRADES_LISTING_EVERY_S
    asked = len(mm.requests)
    mm.tick()
    assert len(mm.requests) == asked  # every listing would show all again: none is asked
    assert mm._known_fills["U1"] == float("inf") and mm.stats.fills == 1


def test_without_rest_no_fill_key_is_kept():
    mm = market_maker(venue=None)
    mm.know_fills({"X1"}, last_fill_s=1_700_000_000.0)
    order = new_order(mm.orders, SYMBOL, Side.BUY, Decimal("0.002"), Decimal("99000"))
    mm.handle(fix_fill(order, "F1", "M1"))
    assert mm.stats.fills == 1 and not mm._known_fills
