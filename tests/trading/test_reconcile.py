"""Reconciliation decisions, driven through the market maker with a fake REST answer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.market_maker import RecordingVenue, acknowledged_order, strategy
from truex_qf.domain.model import (
    SessionLoggedOn,
    SessionRole,
    Side,
)
from truex_qf.rest.client import RestOrderStatus, VenueOrder
from truex_qf.trading.market_maker import MarketMaker
from truex_qf.trading.orders import OrderState
from truex_qf.trading.reconcile import ReconcileResult, UnknownOrderPolicy

SYMBOL = "BTC-PYUSD"


def venue_order(
    external_id, status=RestOrderStatus.ACTIVE, executed="0", quantity="0.002", vwap=None
):
    return VenueOrder(
        order_id=f"V-{external_id}",
        external_id=external_id,
        status=status,
        client_id="1",
        instrument_id=None,
        symbol=SYMBOL,
        side=Side.BUY,
        order_type="LIMIT",
        time_in_force="GTC",
        price=Decimal("99000"),
        quantity=Decimal(quantity),
        pending_qty=Decimal(0),
        leaves_qty=Decimal(quantity) - Decimal(executed),
        executed_qty=Decimal(executed),
        executed_vwap=Decimal(vwap) if vwap else None,
    )


def market_maker(unknown_orders=UnknownOrderPolicy.CANCEL):
    venue = RecordingVenue()
    maker = MarketMaker(
        strategy(), lambda command: True, venue=venue, unknown_orders=unknown_orders
    )
    maker.requests = venue.requests  # type: ignore[attr-defined]
    return maker


@pytest.fixture
def mm():
    return market_maker()


def test_logon_blocks_quoting_until_the_venue_answers(mm):
    order = acknowledged_order(mm)
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    assert mm.reconciling
    (request,) = mm.requests["reconcile"]
    assert request.working_cl_ord_ids == (order.cl_ord_id,)
    mm.handle(ReconcileResult(active=(venue_order(order.cl_ord_id),)))
    assert not mm.reconciling
    assert mm.orders.get(order.cl_ord_id).state is OrderState.NEW


def test_an_order_the_venue_does_not_know_becomes_canceled(mm):
    order = acknowledged_order(mm)
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    mm.handle(ReconcileResult(active=(), statuses={order.cl_ord_id: None}))
    assert mm.orders.get(order.cl_ord_id).state is OrderState.CANCELED
    assert mm.positions.position_base(SYMBOL) == 0


def test_a_fill_missed_while_disconnected_reaches_the_position(mm):
    order = acknowledged_order(mm)
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    filled = venue_order(order.cl_ord_id, RestOrderStatus.FILLED, executed="0.002", vwap="99000")
    mm.handle(ReconcileResult(active=(), statuses={order.cl_ord_id: filled}))
    assert mm.orders.get(order.cl_ord_id).state is OrderState.FILLED
    assert mm.positions.position_base(SYMBOL) == Decimal("0.002")


def test_unknown_venue_orders_are_cancelled_by_default(mm):
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    mm.handle(ReconcileResult(active=(venue_order("FROMEARLIER1"),)))
    assert mm.requests["cancel"] == [("V-FROMEARLIER1",)]
    assert mm.orders.get("FROMEARLIER1") is None


def test_unknown_venue_orders_can_be_adopted():
    mm = market_maker(UnknownOrderPolicy.ADOPT)
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    mm.handle(ReconcileResult(active=(venue_order("FROMEARLIER2", executed="0.001"),)))
    adopted = mm.orders.get("FROMEARLIER2")
    assert adopted is not None and adopted.state is OrderState.NEW
    assert adopted.qty == Decimal("0.001")  # only what is still open is ours to manage
    assert mm.positions.position_base(SYMBOL) == 0  # its earlier fill was not this run's
    assert mm.requests["cancel"] == []


def test_failed_reconciliation_keeps_quoting_blocked_and_retries(mm):
    now = [0.0]
    mm.clock = lambda: now[0]
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    mm.handle(ReconcileResult(error="REST unreachable"))
    assert mm.reconciling
    now[0] = 10.0
    mm.tick()
    assert len(mm.requests["reconcile"]) == 2


def test_order_entry_drop_fires_the_deadman(mm):
    from truex_qf.domain.model import SessionLoggedOut

    order = acknowledged_order(mm)
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    mm.handle(ReconcileResult(active=(venue_order(order.cl_ord_id),)))
    mm.handle(SessionLoggedOut(SessionRole.ORDER_ENTRY, "oe"))
    assert mm.requests["deadman"] == [(order.cl_ord_id,)]
    assert mm.risk.state.value == "HALTED"
