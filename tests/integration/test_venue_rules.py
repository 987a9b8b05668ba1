"""The simulated exchange refuses what TrueX refuses, the way TrueX does, over real sockets.

A hand-rolled peer (tests/support/rawfix.py) stands for "any correct TrueX client": it logs on
with only the spec's recipe, and it can send what QuickFIX never would.
"""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from tests.support.rawfix import RawFixPeer, frame
from truex_qf.app.demo import DEMO_SYMBOL
from truex_qf.domain.model import (
    CancelOrder,
    ExecType,
    ExecutionReport,
    NewOrder,
    OrderCancelReject,
    OrdStatus,
    ReplaceOrder,
    SelfMatchPrevention,
    SessionRole,
    Side,
    TimeInForce,
)

OE = SessionRole.ORDER_ENTRY


@pytest.fixture
def peer(local_venue):
    settings = local_venue.client_settings
    raw = RawFixPeer(settings.order_entry_port, settings.sender_comp_id, "TRUEX_UAT_OE")
    raw.logon(settings.credentials.api_key, settings.credentials.secret_key)
    answer = raw.receive_type("A")
    assert answer is not None, "a spec-following client must be able to log on"
    assert answer[49] == "TRUEX_UAT_OE"
    yield raw
    raw.close()


def _order_fields(client_id: str | None, cl_ord_id: str = "RAW1", price: str = "97000") -> list:
    fields = [
        (11, cl_ord_id),
        (38, "0.001"),
        (40, "2"),
        (44, price),
        (54, "1"),
        (55, DEMO_SYMBOL),
        (59, "1"),
    ]
    if client_id is not None:
        fields += [(453, "1"), (448, client_id), (452, "3")]
    return fields


def test_hand_rolled_client_trades(local_venue, peer):
    peer.send("D", _order_fields(local_venue.client_settings.client_id))
    pending = peer.receive_type("8")
    new = peer.receive_type("8")
    assert (pending[150], pending[39], pending[151]) == ("A", "A", "0")
    assert (new[150], new[39], new[151]) == ("0", "0", "0.001")
    assert new[448] == local_venue.client_settings.client_id  # Parties echoed


def test_order_without_parties_is_invalid_client(peer):
    peer.send("D", _order_fields(None))
    report = peer.receive_type("8")
    assert (report[150], report[39], report[37], report[58]) == ("8", "8", "NONE", "Invalid client")


def test_bad_cl_ord_id_checked_before_client(peer):
    peer.send("D", _order_fields(None, cl_ord_id="TEST_BUY_1757526335158"))  # 22 chars
    report = peer.receive_type("8")
    assert (report[37], report[58]) == ("NONE", "Invalid ClOrdID")


def test_off_grid_price_rejected(local_venue, peer):
    peer.send("D", _order_fields(local_venue.client_settings.client_id, price="97000.05"))
    report = peer.receive_type("8")
    assert (report[150], report[58]) == ("8", "Invalid price increment")


def test_header_field_after_body_field_is_session_rejected(local_venue, peer):
    peer.seq += 1
    body = [
        (35, "D"),
        (49, peer.sender),
        (56, peer.target),
        (11, "MIX1"),
        (34, str(peer.seq)),
        (52, "20261124-10:00:00.000"),
    ]
    peer.send_bytes(frame(body + _order_fields(local_venue.client_settings.client_id)[1:]))
    reject = peer.receive_type("3")
    assert reject is not None and reject[373] == "14"  # tag specified out of required order


def test_unknown_tag_is_session_rejected(local_venue, peer):
    peer.send("D", [*_order_fields(local_venue.client_settings.client_id), (9999, "x")])
    reject = peer.receive_type("3")
    assert reject is not None and reject[371] == "9999"


def test_market_data_request_on_order_entry_is_invalid_session(peer):
    peer.send("V", [(262, "MD1"), (263, "1"), (264, "0"), (146, "1"), (55, DEMO_SYMBOL)])
    reject = peer.receive_type("j")
    assert (reject[380], reject[58]) == ("0", "Invalid session ID")


def test_garbage_bytes_do_not_take_the_venue_down(local_venue, client):
    settings = local_venue.client_settings
    for payload in (
        b"\x00\xff" * 500,
        b"8=FIX.4.2\x019=5\x0135=A\x0110=000\x01",
        b"GET / HTTP/1.1\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", settings.order_entry_port), timeout=2) as sock:
            sock.sendall(payload)
    client.wait_logged_on(OE, 10)  # a proper client still gets in
    client.send(NewOrder("G1", DEMO_SYMBOL, Side.BUY, Decimal("0.001"), Decimal("97000")))


def _reports(events, cl_ord_id, count):
    found = []
    while len(found) < count:
        found.append(
            events.wait_for(
                lambda e: isinstance(e, ExecutionReport | OrderCancelReject)
                and cl_ord_id in (e.cl_ord_id, e.orig_cl_ord_id)
            )
        )
    return found


def test_crossing_order_fills_at_resting_price_with_partial(local_venue, client, events):
    client.wait_logged_on(OE, 10)
    best_offer = local_venue.venue.engine.depth(DEMO_SYMBOL, 1).offers[0]
    # buy more than the best level holds, limit well above it: first fill at the resting price
    order = NewOrder(
        "X1",
        DEMO_SYMBOL,
        Side.BUY,
        best_offer.size * 3,
        best_offer.price + 500,
        time_in_force=TimeInForce.IOC,
    )
    client.send(order)
    pending, new, first_fill = _reports(events, "X1", 3)
    assert (pending.exec_type, new.exec_type) == (ExecType.PENDING_NEW, ExecType.NEW)
    assert first_fill.exec_type is ExecType.TRADE
    assert first_fill.last_px == best_offer.price
    assert first_fill.ord_status is OrdStatus.PARTIALLY_FILLED
    assert first_fill.last_qty == best_offer.size


def test_ioc_remainder_cancelled(local_venue, client, events):
    client.wait_logged_on(OE, 10)
    best_offer = local_venue.venue.engine.depth(DEMO_SYMBOL, 1).offers[0]
    client.send(
        NewOrder(
            "I1",
            DEMO_SYMBOL,
            Side.BUY,
            best_offer.size * 2,
            best_offer.price,
            time_in_force=TimeInForce.IOC,
        )
    )
    reports = _reports(events, "I1", 4)
    last = reports[-1]
    assert (last.exec_type, last.text, last.orig_cl_ord_id) == (
        ExecType.CANCELED,
        "Order parameter request",
        "I1",
    )
    assert last.cum_qty == best_offer.size


def test_cancel_unknown_order_is_35_9(client, events):
    client.wait_logged_on(OE, 10)
    client.send(CancelOrder("C9", "NOPE"))
    reject = events.wait_for(lambda e: isinstance(e, OrderCancelReject))
    assert (reject.cl_ord_id, reject.orig_cl_ord_id, reject.reason) == ("C9", "NOPE", "1")


def test_replace_lowering_quantity_keeps_priority(local_venue, client, events):
    client.wait_logged_on(OE, 10)
    engine = local_venue.venue.engine
    price = engine.depth(DEMO_SYMBOL, 1).bids[0].price
    client.send(NewOrder("R1", DEMO_SYMBOL, Side.BUY, Decimal("0.005"), price))
    _reports(events, "R1", 2)
    client.send(ReplaceOrder("R2", "R1", Decimal("0.002"), price))
    replaced = events.wait_for(
        lambda e: isinstance(e, ExecutionReport) and e.exec_type is ExecType.REPLACED
    )
    assert (replaced.cl_ord_id, replaced.orig_cl_ord_id, replaced.order_qty) == (
        "R2",
        "R1",
        Decimal("0.002"),
    )
    level = [
        o.cl_ord_id for o in engine.working_orders() if o.side is Side.BUY and o.price == price
    ]
    assert level.index("R2") == 1  # still behind the house order that was first, not at the back


def test_self_match_cancels_aggressive_order(local_venue, client, events):
    client.wait_logged_on(OE, 10)
    engine = local_venue.venue.engine
    best_bid = engine.depth(DEMO_SYMBOL, 1).bids[0].price
    best_offer = engine.depth(DEMO_SYMBOL, 1).offers[0].price
    rest_price = best_bid + (best_offer - best_bid) / 2
    rest_price = engine.grid.round_price(rest_price, side_is_buy=False)
    client.send(NewOrder("S1", DEMO_SYMBOL, Side.SELL, Decimal("0.001"), rest_price))
    _reports(events, "S1", 2)
    client.send(
        NewOrder(
            "S2",
            DEMO_SYMBOL,
            Side.BUY,
            Decimal("0.001"),
            rest_price,
            self_match_prevention=SelfMatchPrevention.CANCEL_AGGRESSIVE,
        )
    )
    reports = _reports(events, "S2", 3)
    assert reports[-1].exec_type is ExecType.CANCELED
    assert [o.cl_ord_id for o in engine.working_orders(local_venue.client_settings.client_id)] == [
        "S1"
    ]
    assert not engine.trades() or all(
        "S1" not in (t.buy_cl_ord_id, t.sell_cl_ord_id) for t in engine.trades()
    )


def test_unknown_comp_id_is_refused(local_venue):
    settings = local_venue.client_settings
    raw = RawFixPeer(settings.order_entry_port, "SOMEONE_ELSE", "TRUEX_UAT_OE")
    try:
        raw.logon(settings.credentials.api_key, settings.credentials.secret_key)
        assert raw.receive_type("A", timeout_s=3) is None  # no Logon answer, connection dropped
    finally:
        raw.close()
    assert not local_venue.venue.application.is_logged_on(OE)
