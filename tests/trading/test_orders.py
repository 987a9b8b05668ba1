"""OrderManager: lifecycles, duplicates, late fills, overfills, timeouts and rejects."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from tests.support.orders import new_order, report, working_quantity
from tests.support.timing import FakeClock
from truex_qf.domain.clordid import ClOrdIdGenerator, is_valid_cl_ord_id
from truex_qf.domain.model import (
    BusinessMessageReject,
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    ExecutionReport,
    Fee,
    OrderCancelReject,
    OrdStatus,
    Side,
    TimeInForce,
)
from truex_qf.trading import orders as o
from truex_qf.trading.orders import (
    TRANSITIONS,
    Fill,
    ManagedOrder,
    OrderManager,
    OrderRefused,
    OrderState,
    OrderStateChanged,
    OrderWarning,
)

D = Decimal
SYMBOL = "BTC-PYUSD"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def manager(clock: FakeClock) -> OrderManager:
    return OrderManager(ClOrdIdGenerator("T", boot_ms=0), ack_timeout_s=5.0, clock=clock)


def place(manager: OrderManager, qty: str = "1", price: str = "100", **kwargs) -> ManagedOrder:
    new = new_order(manager, SYMBOL, Side.BUY, D(qty), D(price), **kwargs)
    order = manager.get(new.cl_ord_id)
    assert order is not None
    return order


def acked(manager: OrderManager, **kwargs) -> ManagedOrder:
    """An order that went through PendingNew and New."""
    order = place(manager, **kwargs)
    manager.on_execution_report(
        report(order, ExecType.PENDING_NEW, OrdStatus.PENDING_NEW, leaves="0")
    )
    manager.on_execution_report(report(order, ExecType.NEW, OrdStatus.NEW))
    return order


def of_type(events: list, kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def warning_codes(events: list) -> list[str]:
    return [event.code for event in of_type(events, OrderWarning)]


def states(events: list) -> list[tuple[OrderState, OrderState, str]]:
    return [(e.previous, e.state, e.reason) for e in of_type(events, OrderStateChanged)]


# --------------------------------------------------------------------------- new orders


def test_new_order_is_tracked_in_pending_new_with_a_valid_clordid(manager: OrderManager) -> None:
    new = new_order(manager, SYMBOL, Side.SELL, D("0.5"), D("101.5"))
    order = manager.get(new.cl_ord_id)
    assert is_valid_cl_ord_id(new.cl_ord_id)
    assert order is not None
    assert (order.state, order.side, order.qty, order.price) == (
        OrderState.PENDING_NEW,
        Side.SELL,
        D("0.5"),
        D("101.5"),
    )
    assert manager.in_flight(new.cl_ord_id)
    assert order.history == [(OrderState.PENDING_NEW, o.SUBMITTED, 1000.0)]


def test_new_order_ids_are_unique(manager: OrderManager) -> None:
    ids = {new_order(manager, SYMBOL, Side.BUY, D(1), D(100)).cl_ord_id for _ in range(50)}
    assert len(ids) == 50


def test_new_order_refuses_limit_without_price_and_non_positive_qty(
    manager: OrderManager,
) -> None:
    with pytest.raises(ValueError, match="price"):
        new_order(manager, SYMBOL, Side.BUY, D(1), None)
    with pytest.raises(ValueError, match="positive"):
        new_order(manager, SYMBOL, Side.BUY, D(0), D(100))
    assert manager.open_order_count() == 0


def test_draft_is_not_tracked_until_track(manager: OrderManager) -> None:
    draft = manager.draft_new_order(SYMBOL, Side.BUY, D(1), D(100))
    assert manager.get(draft.cl_ord_id) is None
    manager.track(draft)
    assert manager.get(draft.cl_ord_id).state is OrderState.PENDING_NEW
    with pytest.raises(ValueError, match="already tracked"):
        manager.track(draft)


# --------------------------------------------------------------------------- lifecycles


def test_lifecycle_pending_new_new_partial_fill_filled(manager: OrderManager) -> None:
    order = place(manager, qty="1", price="100")
    pending = manager.on_execution_report(
        report(order, ExecType.PENDING_NEW, OrdStatus.PENDING_NEW, leaves="0")
    )
    assert pending == []
    assert order.state is OrderState.PENDING_NEW
    assert order.order_id == "555"

    accepted = manager.on_execution_report(report(order, ExecType.NEW, OrdStatus.NEW))
    assert states(accepted) == [(OrderState.PENDING_NEW, OrderState.NEW, o.ACCEPTED)]
    assert order.leaves == D(1)
    assert not manager.in_flight(order.cl_ord_id)

    partial = manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.4",
            last_qty="0.4",
            last_px="99.5",
            exec_id="E1",
        )
    )
    assert isinstance(partial[0], Fill)
    assert partial[0] == Fill(
        cl_ord_id=order.cl_ord_id,
        order_id="555",
        symbol=SYMBOL,
        side=Side.BUY,
        qty=D("0.4"),
        price=D("99.5"),
        fee=D(0),
        exec_id="E1",
        liquidity=None,
        trade_match_id=None,
    )
    assert states(partial) == [(OrderState.NEW, OrderState.PARTIALLY_FILLED, o.PARTIAL_FILL)]
    assert (order.cum_qty, order.leaves) == (D("0.4"), D("0.6"))

    filled = manager.on_execution_report(
        report(order, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="0.6", last_px="100")
    )
    assert of_type(filled, Fill)[0].qty == D("0.6")
    assert states(filled) == [(OrderState.PARTIALLY_FILLED, OrderState.FILLED, o.FILLED)]
    assert warning_codes(filled) == []
    assert order.avg_px == (D("0.4") * D("99.5") + D("0.6") * D(100)) / D(1)
    assert [state for state, _, _ in order.history] == [
        OrderState.PENDING_NEW,
        OrderState.NEW,
        OrderState.PARTIALLY_FILLED,
        OrderState.FILLED,
    ]
    assert manager.working_orders() == []


def test_order_id_is_learned_once_and_a_change_is_flagged(manager: OrderManager) -> None:
    order = place(manager)
    manager.on_execution_report(report(order, ExecType.PENDING_NEW, OrdStatus.PENDING_NEW))
    assert order.order_id == "555"
    events = manager.on_execution_report(report(order, ExecType.NEW, OrdStatus.NEW, order_id="556"))
    assert warning_codes(events) == [o.ORDER_ID_CHANGED]
    assert order.order_id == "556"


def test_fill_carries_fees_liquidity_and_trade_match_id(manager: OrderManager) -> None:
    order = acked(manager)
    er = report(order, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="1", last_px="100")
    er = er._replace(
        fees=(Fee(D("0.03"), "4"), Fee(D("0.01"), "7")),
        liquidity_indicator="1",
        trade_match_id="TM9",
    )
    fill = of_type(manager.on_execution_report(er), Fill)[0]
    assert (fill.fee, fill.liquidity, fill.trade_match_id) == (D("0.04"), "1", "TM9")


def test_cancel_lifecycle_uses_cancel_and_original_clordids(manager: OrderManager) -> None:
    order = acked(manager)
    request = manager.cancel(order.cl_ord_id)
    assert request.orig_cl_ord_id == order.cl_ord_id
    assert request.cl_ord_id != order.cl_ord_id
    assert order.state is OrderState.PENDING_CANCEL
    assert manager.in_flight(order.cl_ord_id)
    assert manager.get(request.cl_ord_id) is order

    pending = report(
        order,
        ExecType.PENDING_CANCEL,
        OrdStatus.PENDING_CANCEL,
        answering=request,
    )
    assert manager.on_execution_report(pending) == []

    ack = report(
        order,
        ExecType.CANCELED,
        OrdStatus.CANCELED,
        leaves="0",
        answering=request,
    )
    events = manager.on_execution_report(ack)
    assert states(events) == [(OrderState.PENDING_CANCEL, OrderState.CANCELED, o.CANCEL_ACK)]
    assert manager.working_orders() == []
    assert not manager.in_flight(order.cl_ord_id)


def test_cancel_is_allowed_before_the_new_ack(manager: OrderManager) -> None:
    order = place(manager)
    manager.cancel(order.cl_ord_id)
    assert order.state is OrderState.PENDING_CANCEL
    # The New that was already on its way does not end the pending cancel.
    assert manager.on_execution_report(report(order, ExecType.NEW, OrdStatus.NEW)) == []
    assert order.state is OrderState.PENDING_CANCEL
    assert order.acknowledged


def test_cancel_is_refused_while_pending_when_terminal_and_when_unknown(
    manager: OrderManager,
) -> None:
    order = acked(manager)
    request = manager.cancel(order.cl_ord_id)
    with pytest.raises(OrderRefused) as pending:
        manager.cancel(order.cl_ord_id)
    assert pending.value.code == o.REFUSED_REQUEST_PENDING
    manager.on_execution_report(
        report(
            order,
            ExecType.CANCELED,
            OrdStatus.CANCELED,
            answering=request,
        )
    )
    with pytest.raises(OrderRefused) as terminal:
        manager.cancel(order.cl_ord_id)
    assert terminal.value.code == o.REFUSED_TERMINAL
    with pytest.raises(OrderRefused) as unknown:
        manager.cancel("nope")
    assert unknown.value.code == o.REFUSED_UNKNOWN_ORDER


def test_cancel_all_skips_orders_with_a_request_in_flight(manager: OrderManager) -> None:
    first, second, third = acked(manager), acked(manager), place(manager)
    manager.cancel(first.cl_ord_id)
    requests = manager.cancel_all(SYMBOL)
    assert {r.orig_cl_ord_id for r in requests} == {second.cl_ord_id, third.cl_ord_id}
    assert all(order.state is OrderState.PENDING_CANCEL for order in (first, second, third))


def test_replace_lifecycle_rekeys_the_order_and_keeps_the_old_id(manager: OrderManager) -> None:
    order = acked(manager, qty="1", price="100")
    old_id = order.cl_ord_id
    request = manager.replace(old_id, D("101"), D("2"))
    assert (request.orig_cl_ord_id, request.price, request.quantity) == (old_id, D(101), D(2))
    assert order.state is OrderState.PENDING_REPLACE
    assert manager.get(request.cl_ord_id) is order

    replaced = report(
        order,
        ExecType.REPLACED,
        OrdStatus.NEW,
        cl_ord_id=request.cl_ord_id,
        orig_cl_ord_id=old_id,
        price="101",
        order_qty="2",
    )
    events = manager.on_execution_report(replaced)
    assert states(events) == [
        (OrderState.PENDING_REPLACE, OrderState.REPLACED, o.REPLACE_ACK),
        (OrderState.REPLACED, OrderState.NEW, o.REPLACE_ACK),
    ]
    assert [e.cl_ord_id for e in of_type(events, OrderStateChanged)] == [old_id, request.cl_ord_id]
    assert (order.cl_ord_id, order.price, order.qty) == (request.cl_ord_id, D(101), D(2))
    assert manager.get(old_id) is order
    assert order.pending_qty is None

    fill = report(order, ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, cum="1.5", last_qty="1.5")
    fill = fill._replace(last_px=D("101"))
    events = manager.on_execution_report(fill)
    assert of_type(events, Fill)[0].cl_ord_id == request.cl_ord_id
    assert order.state is OrderState.PARTIALLY_FILLED
    assert warning_codes(events) == []


def test_a_lineage_replaced_all_day_keeps_its_original_and_latest_ids_only(
    manager: OrderManager,
) -> None:
    order = acked(manager, qty="1", price="100")
    original = order.cl_ord_id
    seen = [original]
    for step in range(3 * o.LINEAGE_IDS_KEPT):
        previous = order.cl_ord_id
        request = manager.replace(previous, D(101 + step % 2), D("1"))
        seen.append(request.cl_ord_id)
        manager.on_execution_report(
            report(
                order,
                ExecType.REPLACED,
                OrdStatus.NEW,
                cl_ord_id=request.cl_ord_id,
                orig_cl_ord_id=previous,
                price=str(101 + step % 2),
            )
        )
        assert order.cl_ord_id == request.cl_ord_id and order.state is OrderState.NEW
    assert order.cl_ord_ids == [original, *seen[-o.LINEAGE_IDS_KEPT :]]
    # its history too: when it was placed, and the latest moves (three per replace)
    assert len(order.history) == o.HISTORY_KEPT + 1
    assert order.history[0][:2] == (OrderState.PENDING_NEW, o.SUBMITTED)
    assert [state for state, _, _ in order.history[-3:]] == [
        OrderState.PENDING_REPLACE,
        OrderState.REPLACED,
        OrderState.NEW,
    ]
    assert manager.get(original) is order and manager.get(order.cl_ord_id) is order
    assert all(manager.get(old) is None for old in seen[1 : -o.LINEAGE_IDS_KEPT])
    # what is left still works: a cancel of the current ID, acknowledged
    cancel = manager.cancel(order.cl_ord_id)
    manager.on_execution_report(
        report(
            order,
            ExecType.CANCELED,
            OrdStatus.CANCELED,
            answering=cancel,
            leaves="0",
        )
    )
    assert order.state is OrderState.CANCELED


def test_replace_of_a_partially_filled_order_returns_to_partially_filled(
    manager: OrderManager,
) -> None:
    order = acked(manager, qty="1")
    manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.3",
            last_qty="0.3",
            last_px="100",
        )
    )
    request = manager.replace(order.cl_ord_id, D("100.5"), D("1"))
    manager.on_execution_report(
        report(
            order,
            ExecType.REPLACED,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.3",
            answering=request,
            price="100.5",
        )
    )
    assert order.state is OrderState.PARTIALLY_FILLED
    assert order.price == D("100.5")


def test_replace_is_refused_before_ack_and_while_pending(manager: OrderManager) -> None:
    unacked = place(manager)
    with pytest.raises(OrderRefused) as early:
        manager.replace(unacked.cl_ord_id, D(100), D(1))
    assert early.value.code == o.REFUSED_NOT_ACKNOWLEDGED

    order = acked(manager)
    manager.replace(order.cl_ord_id, D(100), D(2))
    with pytest.raises(OrderRefused) as pending:
        manager.replace(order.cl_ord_id, D(100), D(3))
    assert pending.value.code == o.REFUSED_REQUEST_PENDING
    with pytest.raises(OrderRefused):
        manager.cancel(order.cl_ord_id)


def test_reject_after_pending_new_ends_the_order(manager: OrderManager) -> None:
    order = place(manager)
    manager.on_execution_report(report(order, ExecType.PENDING_NEW, OrdStatus.PENDING_NEW))
    events = manager.on_execution_report(
        report(
            order,
            ExecType.REJECTED,
            OrdStatus.REJECTED,
            leaves="0",
            text="Order outside book price bands",
        )
    )
    change = of_type(events, OrderStateChanged)[0]
    assert (change.state, change.reason, change.text) == (
        OrderState.REJECTED,
        o.VENUE_REJECT,
        "Order outside book price bands",
    )
    assert manager.open_order_count() == 0


def test_pre_validation_reject_with_order_id_none(manager: OrderManager) -> None:
    order = place(manager)
    events = manager.on_execution_report(
        report(order, ExecType.REJECTED, OrdStatus.REJECTED, order_id="NONE", text="Invalid client")
    )
    assert order.state is OrderState.REJECTED
    assert order.order_id is None
    assert states(events) == [(OrderState.PENDING_NEW, OrderState.REJECTED, o.VENUE_REJECT)]


def test_ioc_remainder_cancel(manager: OrderManager) -> None:
    order = acked(manager, qty="1", time_in_force=TimeInForce.IOC)
    manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.25",
            last_qty="0.25",
            last_px="100",
        )
    )
    events = manager.on_execution_report(
        report(
            order,
            ExecType.CANCELED,
            OrdStatus.CANCELED,
            cum="0.25",
            leaves="0",
            orig_cl_ord_id=order.cl_ord_id,  # TrueX: 41 = 11 on an IOC remainder cancel
            text="Order parameter request",
        )
    )
    assert states(events) == [
        (OrderState.PARTIALLY_FILLED, OrderState.CANCELED, o.IOC_REMAINDER_CANCELED)
    ]
    assert order.cum_qty == D("0.25")


def test_unsolicited_venue_cancel(manager: OrderManager) -> None:
    order = acked(manager, post_only=True)
    events = manager.on_execution_report(
        report(order, ExecType.CANCELED, OrdStatus.CANCELED, leaves="0")
    )
    assert states(events) == [(OrderState.NEW, OrderState.CANCELED, o.UNSOLICITED_CANCEL)]
    assert manager.working_orders() == []


# --------------------------------------------------------------------------- fills


def test_duplicate_exec_id_is_ignored(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    fill = report(
        order,
        ExecType.TRADE,
        OrdStatus.PARTIALLY_FILLED,
        cum="0.5",
        last_qty="0.5",
        last_px="100",
        exec_id="DUP",
    )
    assert len(of_type(manager.on_execution_report(fill), Fill)) == 1
    assert manager.on_execution_report(fill) == []
    assert (order.cum_qty, order.filled_qty) == (D("0.5"), D("0.5"))
    assert manager.duplicate_exec_ids == 1


def test_fill_after_cancel_request_is_applied(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    manager.cancel(order.cl_ord_id)
    events = manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.4",
            last_qty="0.4",
            last_px="100",
        )
    )
    assert of_type(events, Fill)[0].qty == D("0.4")
    assert order.state is OrderState.PENDING_CANCEL
    assert warning_codes(events) == []


def test_late_fill_after_cancel_ack_is_applied(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    request = manager.cancel(order.cl_ord_id)
    manager.on_execution_report(
        report(
            order,
            ExecType.CANCELED,
            OrdStatus.CANCELED,
            answering=request,
        )
    )
    events = manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.CANCELED,
            cum="0.3",
            leaves="0",
            last_qty="0.3",
            last_px="100",
        )
    )
    assert of_type(events, Fill)[0].qty == D("0.3")
    assert order.state is OrderState.CANCELED
    assert order.cum_qty == D("0.3")
    assert warning_codes(events) == [o.LATE_FILL]


def test_late_fill_completing_a_canceled_order_moves_it_to_filled(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    manager.on_execution_report(report(order, ExecType.CANCELED, OrdStatus.CANCELED))
    events = manager.on_execution_report(
        report(order, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="1", last_px="100")
    )
    assert states(events) == [(OrderState.CANCELED, OrderState.FILLED, o.FILLED)]
    assert o.ILLEGAL_TRANSITION not in warning_codes(events)


def test_overfill_is_flagged_and_the_fill_still_applied(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.6",
            last_qty="0.6",
            last_px="100",
        )
    )
    events = manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.FILLED,
            cum="1.2",
            leaves="0",
            last_qty="0.6",
            last_px="100",
        )
    )
    assert of_type(events, Fill)[0].qty == D("0.6")
    assert o.OVERFILL in warning_codes(events)
    assert order.filled_qty == D("1.2")


def test_sum_of_last_qty_disagreeing_with_cum_qty_is_flagged(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    # CumQty says 0.6 traded but this is the only fill we saw (0.3): one was lost.
    events = manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.6",
            last_qty="0.3",
            last_px="100",
        )
    )
    assert warning_codes(events) == [o.CUM_QTY_MISMATCH]
    assert of_type(events, Fill)[0].qty == D("0.3")


def test_trade_without_last_qty_is_inferred_from_cum_qty_and_flagged(
    manager: OrderManager,
) -> None:
    order = acked(manager, qty="1")
    events = manager.on_execution_report(
        report(order, ExecType.TRADE, OrdStatus.PARTIALLY_FILLED, cum="0.2", last_px="100")
    )
    assert of_type(events, Fill)[0].qty == D("0.2")
    assert warning_codes(events) == [o.INCOMPLETE_FILL]


def test_events_list_fills_first(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    events = manager.on_execution_report(
        report(order, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="1", last_px="100")
    )
    assert [type(e) for e in events] == [Fill, OrderStateChanged]


# --------------------------------------------------------------------------- unknown orders


def test_report_for_unknown_order_is_an_event_not_a_crash(manager: OrderManager) -> None:
    ghost = ManagedOrder(cl_ord_id="GHOST1", symbol=SYMBOL, side=Side.SELL, price=D(1), qty=D(1))
    events = manager.on_execution_report(report(ghost, ExecType.NEW, OrdStatus.NEW))
    assert warning_codes(events) == [o.UNKNOWN_ORDER]
    assert events[0].cl_ord_id == "GHOST1"


def test_fill_for_unknown_order_still_reaches_positions(manager: OrderManager) -> None:
    ghost = ManagedOrder(cl_ord_id="GHOST2", symbol=SYMBOL, side=Side.SELL, price=D(1), qty=D(1))
    events = manager.on_execution_report(
        report(ghost, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="1", last_px="99")
    )
    fill = of_type(events, Fill)[0]
    assert (fill.side, fill.qty, fill.price) == (Side.SELL, D(1), D(99))
    assert warning_codes(events) == [o.UNKNOWN_ORDER]


# --------------------------------------------------------------------------- timeouts


def test_no_answer_within_ack_timeout_marks_uncertain(
    manager: OrderManager, clock: FakeClock
) -> None:
    order = place(manager)
    assert manager.check_timeouts(1004.9) == []
    events = manager.check_timeouts(1005.0)
    assert states(events) == [(OrderState.PENDING_NEW, OrderState.UNCERTAIN, o.ACK_TIMEOUT)]
    assert order.state is OrderState.UNCERTAIN
    assert manager.working_orders() == [order]  # may be live at the venue
    assert manager.check_timeouts(2000.0) == []  # once, not every tick
    manager.on_execution_report(report(order, ExecType.NEW, OrdStatus.NEW))
    assert order.state is OrderState.NEW


def test_pending_new_report_does_not_stop_the_timeout(
    manager: OrderManager, clock: FakeClock
) -> None:
    order = place(manager)
    manager.on_execution_report(report(order, ExecType.PENDING_NEW, OrdStatus.PENDING_NEW))
    manager.check_timeouts(1005.0)
    assert order.state is OrderState.UNCERTAIN


def test_acked_order_never_times_out(manager: OrderManager) -> None:
    order = acked(manager)
    assert manager.check_timeouts(9999.0) == []
    assert order.state is OrderState.NEW


def test_unanswered_cancel_times_out_to_uncertain(manager: OrderManager, clock: FakeClock) -> None:
    order = acked(manager)
    clock.now_s = 1010.0
    manager.cancel(order.cl_ord_id)
    assert manager.check_timeouts(1014.0) == []
    manager.check_timeouts(1015.0)
    assert order.state is OrderState.UNCERTAIN
    # A cancel may be retried on an uncertain order: it is how we learn the truth.
    manager.cancel(order.cl_ord_id)
    assert order.state is OrderState.PENDING_CANCEL


# --------------------------------------------------------------------------- cancel rejects


def cancel_reject(
    order: ManagedOrder,
    request_id: str,
    reason: CxlRejReason,
    response_to: CxlRejResponseTo = CxlRejResponseTo.CANCEL,
) -> OrderCancelReject:
    return OrderCancelReject(
        order_id="555",
        cl_ord_id=request_id,
        orig_cl_ord_id=order.cl_ord_ids[0],
        response_to=response_to,
        reason=reason.value,
        text="rejected",
    )


def test_cancel_reject_returns_to_the_live_state(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.5",
            last_qty="0.5",
            last_px="100",
        )
    )
    request = manager.cancel(order.cl_ord_id)
    events = manager.on_cancel_reject(cancel_reject(order, request.cl_ord_id, CxlRejReason.OTHER))
    assert states(events) == [
        (OrderState.PENDING_CANCEL, OrderState.PARTIALLY_FILLED, o.CANCEL_REJECTED)
    ]
    manager.cancel(order.cl_ord_id)  # may be tried again
    assert order.state is OrderState.PENDING_CANCEL


def test_cancel_reject_unknown_order_marks_uncertain_not_canceled(manager: OrderManager) -> None:
    order = acked(manager)
    request = manager.cancel(order.cl_ord_id)
    events = manager.on_cancel_reject(
        cancel_reject(order, request.cl_ord_id, CxlRejReason.UNKNOWN_ORDER)
    )
    assert states(events) == [
        (OrderState.PENDING_CANCEL, OrderState.UNCERTAIN, o.ORDER_UNKNOWN_AT_VENUE)
    ]
    assert order.state is not OrderState.CANCELED


def test_replace_reject_returns_to_the_previous_state(manager: OrderManager) -> None:
    order = acked(manager, qty="1", price="100")
    request = manager.replace(order.cl_ord_id, D("100.5"), D("2"))
    events = manager.on_cancel_reject(
        cancel_reject(
            order, request.cl_ord_id, CxlRejReason.INVALID_PRICE_INCREMENT, CxlRejResponseTo.REPLACE
        )
    )
    assert states(events) == [(OrderState.PENDING_REPLACE, OrderState.NEW, o.REPLACE_REJECTED)]
    assert (order.price, order.qty, order.pending_qty) == (D(100), D(1), None)
    assert working_quantity(manager, SYMBOL, Side.BUY) == D(1)


def test_cancel_reject_after_the_order_filled_keeps_it_filled(manager: OrderManager) -> None:
    order = acked(manager, qty="1")
    request = manager.cancel(order.cl_ord_id)
    manager.on_execution_report(
        report(order, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="1", last_px="100")
    )
    events = manager.on_cancel_reject(
        cancel_reject(order, request.cl_ord_id, CxlRejReason.TOO_LATE)
    )
    assert events == []
    assert order.state is OrderState.FILLED


def test_cancel_reject_for_an_older_request_is_reported_as_stale(manager: OrderManager) -> None:
    order = acked(manager)
    first = manager.cancel(order.cl_ord_id)
    manager.on_cancel_reject(cancel_reject(order, first.cl_ord_id, CxlRejReason.OTHER))
    manager.cancel(order.cl_ord_id)
    events = manager.on_cancel_reject(cancel_reject(order, first.cl_ord_id, CxlRejReason.OTHER))
    assert warning_codes(events) == [o.STALE_REJECT]
    assert order.state is OrderState.PENDING_CANCEL


def test_cancel_reject_for_unknown_request_is_a_warning(manager: OrderManager) -> None:
    ghost = ManagedOrder(cl_ord_id="GHOST3", symbol=SYMBOL, side=Side.BUY, price=D(1), qty=D(1))
    ghost.cl_ord_ids.append("GHOST3")
    events = manager.on_cancel_reject(cancel_reject(ghost, "X1", CxlRejReason.OTHER))
    assert warning_codes(events) == [o.UNKNOWN_ORDER]


# --------------------------------------------------------------------------- business rejects


def test_business_reject_of_a_new_order_rejects_it(manager: OrderManager) -> None:
    order = place(manager)
    events = manager.on_business_reject(
        BusinessMessageReject(ref_msg_type="D", reason="8", ref_id=order.cl_ord_id, text="throttle")
    )
    assert states(events) == [(OrderState.PENDING_NEW, OrderState.REJECTED, o.BUSINESS_REJECT)]


def test_business_reject_of_a_cancel_restores_the_order(manager: OrderManager) -> None:
    order = acked(manager)
    request = manager.cancel(order.cl_ord_id)
    manager.on_business_reject(
        BusinessMessageReject(ref_msg_type="F", reason="8", ref_id=request.cl_ord_id)
    )
    assert order.state is OrderState.NEW


# --------------------------------------------------------------------------- the table


def test_illegal_transition_is_logged_and_not_applied(
    manager: OrderManager, caplog: pytest.LogCaptureFixture
) -> None:
    order = acked(manager, qty="1")
    manager.on_execution_report(
        report(order, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="1", last_px="100")
    )
    with caplog.at_level(logging.ERROR, logger="truex_qf.trading.orders"):
        events = manager.on_execution_report(report(order, ExecType.NEW, OrdStatus.NEW, cum="1"))
    assert warning_codes(events) == [o.ILLEGAL_TRANSITION]
    assert order.state is OrderState.FILLED
    assert "illegal order transition" in caplog.text


def test_venue_reject_of_an_acknowledged_order_is_illegal(manager: OrderManager) -> None:
    order = acked(manager)
    events = manager.on_execution_report(report(order, ExecType.REJECTED, OrdStatus.REJECTED))
    assert warning_codes(events) == [o.ILLEGAL_TRANSITION]
    assert order.state is OrderState.NEW


def test_terminal_states_never_lead_back_to_a_working_state() -> None:
    for (state, _trigger), target in TRANSITIONS.items():
        if state.is_terminal:
            assert isinstance(target, OrderState) and target.is_terminal, (state, _trigger)


def test_pending_reports_are_benign_in_every_state() -> None:
    for state in OrderState:
        for trigger in (
            o.Trigger.VENUE_PENDING_NEW,
            o.Trigger.VENUE_PENDING_CANCEL,
            o.Trigger.VENUE_PENDING_REPLACE,
        ):
            assert TRANSITIONS[(state, trigger)] is state


# --------------------------------------------------------------------------- queries


def test_queries_count_working_orders_by_symbol_and_state(manager: OrderManager) -> None:
    btc = acked(manager, qty="1")
    eth = manager.get(new_order(manager, "ETH-PYUSD", Side.SELL, D(2), D(3000)).cl_ord_id)
    filled = acked(manager, qty="1")
    manager.on_execution_report(
        report(filled, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="1", last_px="100")
    )
    assert manager.working_orders(SYMBOL) == [btc]
    assert manager.working_orders("ETH-PYUSD") == [eth]
    assert manager.open_order_count() == 2
    assert manager.open_order_count(SYMBOL) == 1
    states = (btc.state, eth.state, filled.state)
    assert states == (OrderState.NEW, OrderState.PENDING_NEW, OrderState.FILLED)


def test_working_quantity_takes_the_larger_side_of_a_pending_replace(
    manager: OrderManager,
) -> None:
    order = acked(manager, qty="1")
    manager.on_execution_report(
        report(
            order,
            ExecType.TRADE,
            OrdStatus.PARTIALLY_FILLED,
            cum="0.25",
            last_qty="0.25",
            last_px="100",
        )
    )
    place(manager, qty="0.5")  # pending new counts in full although LeavesQty is 0
    assert working_quantity(manager, SYMBOL, Side.BUY) == D("1.25")
    manager.replace(order.cl_ord_id, D(100), D(3))
    assert working_quantity(manager, SYMBOL, Side.BUY) == D("3.25")
    assert working_quantity(manager, SYMBOL, Side.SELL) == D(0)


def test_exposure_totals_are_the_working_quantities_and_the_open_order_count(
    manager: OrderManager,
) -> None:
    replaced = acked(manager, qty="1")
    manager.replace(replaced.cl_ord_id, D(100), D(3))
    place(manager, qty="0.5")
    sell = manager.get(new_order(manager, SYMBOL, Side.SELL, D("0.75"), D(101)).cl_ord_id)
    manager.get(new_order(manager, "ETH-PYUSD", Side.SELL, D(2), D(3000)).cl_ord_id)
    cancelled = acked(manager, qty="7")
    manager.on_execution_report(report(cancelled, ExecType.CANCELED, OrdStatus.CANCELED))
    assert sell is not None
    assert manager.exposure_totals(SYMBOL) == (D("3.5"), D("0.75"), 4)
    assert manager.exposure_totals(SYMBOL) == (
        working_quantity(manager, SYMBOL, Side.BUY),
        working_quantity(manager, SYMBOL, Side.SELL),
        manager.open_order_count(),
    )


def test_forget_terminal_drops_old_ended_orders_only(manager: OrderManager) -> None:
    done = acked(manager)
    manager.on_execution_report(report(done, ExecType.CANCELED, OrdStatus.CANCELED))
    live = acked(manager)
    assert manager.forget_terminal(older_than_s=60, now_s=1059.0) == 0
    assert manager.forget_terminal(older_than_s=60, now_s=1060.0) == 1
    assert manager.get(done.cl_ord_id) is None
    assert manager.get(live.cl_ord_id) is live


def test_replace_timeout_keeps_the_larger_quantity_until_the_venue_answers(
    manager: OrderManager, clock: FakeClock
) -> None:
    order = acked(manager, qty="1", price="100")
    request = manager.replace(order.cl_ord_id, D("100.5"), D("3"))
    manager.check_timeouts(1005.0)
    assert order.state is OrderState.UNCERTAIN
    assert working_quantity(manager, SYMBOL, Side.BUY) == D(3)
    events = manager.on_execution_report(
        report(
            order,
            ExecType.REPLACED,
            OrdStatus.NEW,
            answering=request,
            price="100.5",
            order_qty="3",
        )
    )
    assert [e.state for e in of_type(events, OrderStateChanged)] == [
        OrderState.REPLACED,
        OrderState.NEW,
    ]
    assert (order.cl_ord_id, order.qty, order.price) == (request.cl_ord_id, D(3), D("100.5"))
    assert working_quantity(manager, SYMBOL, Side.BUY) == D(3)


def test_market_maker_forgets_finished_orders():
    """A long run must not keep every finished order: scans of working orders stay short."""
    from tests.support.market_maker import strategy
    from truex_qf.domain.model import (
        ExecType,
        OrdStatus,
        SessionLoggedOn,
        SessionRole,
    )
    from truex_qf.trading.market_maker import FORGET_AFTER_S, MarketMaker

    now = [0.0]
    sent: list = []
    mm = MarketMaker(strategy(), lambda c: sent.append(c) or True, clock=lambda: now[0])
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    order = new_order(mm.orders, "BTC-PYUSD", Side.BUY, Decimal("0.001"), Decimal("99000"))
    mm.orders.on_execution_report(
        ExecutionReport(
            "1",
            order.cl_ord_id,
            "e1",
            ExecType.CANCELED,
            OrdStatus.CANCELED,
            "BTC-PYUSD",
            Side.BUY,
            Decimal("0.001"),
            Decimal(0),
            Decimal(0),
        )
    )
    mm.tick()
    assert mm.orders.get(order.cl_ord_id) is not None  # kept for late reports
    now[0] += FORGET_AFTER_S + 11
    mm.tick()
    assert mm.orders.get(order.cl_ord_id) is None


def test_the_working_index_follows_every_state_change(
    manager: OrderManager, clock: FakeClock
) -> None:
    # working_orders() reads an index kept up to date on each transition, not a scan
    placed = [place(manager) for _ in range(3)] + [acked(manager) for _ in range(4)]
    done, cancelled, replaced, *_ = placed[3:]
    manager.on_execution_report(
        report(done, ExecType.TRADE, OrdStatus.FILLED, cum="1", last_qty="1", last_px="100")
    )
    manager.cancel(cancelled.cl_ord_id)
    manager.replace(replaced.cl_ord_id, D(101), D(1))
    clock.now_s += 3600  # the pending new orders time out into UNCERTAIN: still working
    manager.check_timeouts()
    every = [manager.get(order.cl_ord_id) for order in placed]
    assert manager.working_orders() == [o for o in every if o and o.state.is_working]
    assert done not in manager.working_orders()
    assert {o.state for o in manager.working_orders()} >= {OrderState.UNCERTAIN}
