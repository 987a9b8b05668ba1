"""The TrueX REST client against the simulator's REST server, over real HTTP on 127.0.0.1.

The signature is checked against a worked example computed here with hmac/hashlib/base64;
everything else runs against a real simulated venue (matching engine, FIX acceptor) with its
REST server, and one test has a real FIX client logged on to see the cancel reach it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.support.sessions import EventLog
from truex_qf.app.demo import DEMO_SYMBOL, LocalVenue
from truex_qf.config import Credentials
from truex_qf.domain.model import (
    ExecType,
    ExecutionReport,
    NewOrder,
    OrdStatus,
    SessionRole,
    Side,
)
from truex_qf.domain.netutil import free_port
from truex_qf.fix.client import FixClient
from truex_qf.rest import (
    ID_TYPE_CLIENT,
    VERSION_ENVELOPE,
    VERSION_RAW,
    CancelOutcome,
    PathStyle,
    RestError,
    RestOrderStatus,
    TruexRestClient,
    rest_signature,
)
from truex_qf.sim.rest_server import SimulatorRestServer

# --------------------------------------------------------------------------- signature

SECRET = "uat-secret-for-docs"
TIMESTAMP_S = 1760103360  # 2025-10-10T13:36:00Z


def _independent(secret: str, payload: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def test_signature_worked_example():
    payload = b"1760103360GET/api/v1/orders/active"
    expected = _independent(SECRET, payload)
    assert expected == "9Dpc41xMgLPS2pTO0o7fJLBr1yVAc+YQZpMzdKQ9yRo="  # written out once
    assert rest_signature(SECRET, TIMESTAMP_S, "GET", "/api/v1/orders/active") == expected
    # The method is upper-cased and the timestamp may come as text.
    assert rest_signature(SECRET, "1760103360", "get", "/api/v1/orders/active") == expected


def test_signature_of_a_delete_and_with_a_body():
    delete = rest_signature(SECRET, TIMESTAMP_S, "DELETE", "/api/v1/orders/1922892243")
    assert delete == "nDHa5RIbFx/YGpq9OyV6dLypnwa3LKpFHCALx9XAYAs="
    body = b'{"external_id":"Q1"}'
    with_body = rest_signature(SECRET, TIMESTAMP_S, "POST", "/api/v1/orders", body)
    assert with_body == _independent(SECRET, b"1760103360POST/api/v1/orders" + body)
    assert rest_signature(SECRET, TIMESTAMP_S, "POST", "/api/v1/orders", None) == _independent(
        SECRET, b"1760103360POST/api/v1/orders"
    )


def test_client_headers_sign_the_path_without_query():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    credentials = Credentials("key-1", SECRET)
    with TruexRestClient(
        "http://venue.invalid:9742/api/v1/",
        credentials,
        "78932725357888855",
        transport=httpx.MockTransport(answer),
        clock=lambda: TIMESTAMP_S + 0.9,
    ) as client:
        assert client.cancel_order("Qab12Cx9Yz000001", id_type=ID_TYPE_CLIENT).outcome is (
            CancelOutcome.CANCELED
        )
        assert client.active_orders() == []
    delete, listing = seen
    assert delete.method == "DELETE"
    assert delete.url.path == "/api/v1/orders/Qab12Cx9Yz000001"
    assert delete.url.params["id_type"] == "client"
    headers = delete.headers
    assert headers["x-truex-auth-token"] == "key-1"
    assert headers["x-truex-auth-timestamp"] == "1760103360"  # whole seconds
    assert headers["x-truex-auth-userid"] == "78932725357888855"
    assert headers["x-truex-version"] == VERSION_RAW
    assert headers["x-truex-auth-signature"] == _independent(
        SECRET, b"1760103360DELETE/api/v1/orders/Qab12Cx9Yz000001"
    )
    assert SECRET not in str(headers)
    assert listing.url.path == "/api/v1/orders/active"


def test_user_id_header_can_be_left_out_or_renamed():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    credentials = Credentials("key-1", SECRET)
    transport = httpx.MockTransport(answer)
    options = {"transport": transport}
    with TruexRestClient("http://v.invalid", credentials, "7", send_user_id=False, **options) as c:
        c.active_orders()
    renamed = "x-truex-auth-user-id"  # the official rest.py's name
    with TruexRestClient(
        "http://v.invalid", credentials, "7", user_id_header=renamed, **options
    ) as c:
        c.active_orders()
    assert "x-truex-auth-userid" not in seen[0].headers
    assert seen[1].headers["x-truex-auth-user-id"] == "7"


# --------------------------------------------------------------------------- retries


def test_5xx_is_retried_and_4xx_is_not():
    calls: list[str] = []
    answers = [httpx.Response(503, json={"title": "Service Unavailable"})] * 2 + [
        httpx.Response(200, json=[{"id": "5", "status": "ACTIVE", "leaves_qty": "1"}])
    ]
    problem = {"type": "about:blank", "title": "Bad Request", "status": 400}
    bad = httpx.Response(400, json={**problem, "detail": "Invalid query"})

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["x-truex-auth-signature"])
        return answers[len(calls) - 1] if request.url.path.endswith("active") else bad

    sleeps: list[float] = []
    client = TruexRestClient(
        "http://v.invalid",
        Credentials("k", SECRET),
        "7",
        transport=httpx.MockTransport(answer),
        backoff_s=0.1,
        sleep=sleeps.append,
    )
    with client:
        orders = client.active_orders()
        assert [order.order_id for order in orders] == ["5"]
        assert len(calls) == 3 and sleeps == [0.1, 0.2]
        calls.clear()
        with pytest.raises(RestError) as caught:
            client.balances()
    assert caught.value.status == 400 and "Invalid query" in str(caught.value)
    assert len(calls) == 1


def test_server_down_fails_fast_after_bounded_retries():
    port = free_port()  # nothing listens there
    client = TruexRestClient(
        f"http://127.0.0.1:{port}", Credentials("k", SECRET), "7", timeout_s=1.0, backoff_s=0.05
    )
    with client:
        started = time.monotonic()
        with pytest.raises(RestError) as caught:
            client.active_orders()
        assert time.monotonic() - started < 3.0
        assert not client.health()
        deadman = client.cancel_all_active(known_external_ids=["Q1"])
    assert caught.value.status is None
    assert "no answer" in str(caught.value) and "\n" not in str(caught.value)
    assert not deadman.complete
    assert deadman.listing_error is not None and [ref for ref, _ in deadman.failed] == ["Q1"]


# --------------------------------------------------------------------------- against the simulator


@pytest.fixture
def rest_server(local_venue: LocalVenue) -> Iterator[SimulatorRestServer]:
    server = SimulatorRestServer(local_venue.venue, page_size=2)
    server.start()
    yield server
    server.stop()


def _client(local: LocalVenue, server: SimulatorRestServer, **options) -> TruexRestClient:
    settings = local.client_settings
    options.setdefault("credentials", settings.credentials)
    credentials = options.pop("credentials")
    return TruexRestClient(server.url, credentials, settings.client_id, **options)


def _place(local: LocalVenue, cl_ord_id: str, side: Side, price: str, qty: str = "0.001") -> str:
    """Rest an order of the account directly in the engine; its venue order ID."""
    venue = local.venue
    order = NewOrder(cl_ord_id, DEMO_SYMBOL, side, Decimal(qty), Decimal(price), post_only=True)
    with venue.application.lock:
        events = venue.engine.submit(local.client_settings.client_id, order)
        venue.application.publish(events)
    reports = [
        e.message for e in events if isinstance(getattr(e, "message", None), ExecutionReport)
    ]
    assert reports[-1].exec_type is ExecType.NEW, reports[-1]
    return reports[-1].order_id


def _working(local: LocalVenue) -> list:
    venue = local.venue
    with venue.application.lock:
        return venue.engine.working_orders(local.client_settings.client_id)


@pytest.mark.parametrize("version", [VERSION_RAW, VERSION_ENVELOPE])
def test_active_orders_lists_exactly_ours(local_venue, rest_server, version):
    buy_id = _place(local_venue, "RB1", Side.BUY, "99000.1", "0.0012")
    sell_id = _place(local_venue, "RS1", Side.SELL, "101000.5")
    third_id = _place(local_venue, "RB2", Side.BUY, "98000")
    with _client(local_venue, rest_server, version=version) as client:
        orders = client.active_orders()  # three orders, pages of two in the envelope format
    assert [order.order_id for order in orders] == [buy_id, sell_id, third_id]  # no house orders
    buy = orders[0]
    assert buy.external_id == "RB1"
    assert buy.status is RestOrderStatus.ACTIVE
    assert buy.client_id == local_venue.client_settings.client_id
    assert buy.symbol == DEMO_SYMBOL and buy.instrument_id is not None
    assert buy.side is Side.BUY and orders[1].side is Side.SELL
    assert buy.order_type == "LIMIT" and buy.time_in_force == "GTC"
    assert buy.price == Decimal("99000.1") and orders[1].price == Decimal("101000.5")
    assert buy.quantity == Decimal("0.0012") and buy.leaves_qty == Decimal("0.0012")
    assert buy.executed_qty == 0 and buy.pending_qty == 0


def test_envelope_shapes_on_the_wire(local_venue, rest_server):
    _place(local_venue, "RB1", Side.BUY, "99000")
    credentials = local_venue.client_settings.credentials
    now = int(time.time())
    headers = {
        "x-truex-auth-token": credentials.api_key,
        "x-truex-auth-timestamp": str(now),
        "x-truex-auth-signature": _independent(
            credentials.secret_key, f"{now}GET/api/v1/orders/active".encode()
        ),
        "X-Truex-Version": VERSION_ENVELOPE,
    }
    raw = httpx.get(f"{rest_server.url}/api/v1/orders/active", headers=headers).json()
    assert set(raw) == {"data", "pagination"} and raw["pagination"]["next_cursor"] is None
    order = raw["data"][0]
    assert order["external_id"] == "RB1" and order["leaves_qty"] == "0.001"
    headers["x-truex-auth-signature"] = "AAAA"
    refused = httpx.get(f"{rest_server.url}/api/v1/orders/active", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["detail"] == "Invalid signature"
    assert credentials.secret_key not in refused.text


def test_order_status_by_venue_id_and_by_cl_ord_id(local_venue, rest_server):
    order_id = _place(local_venue, "RB1", Side.BUY, "99000")
    with _client(local_venue, rest_server) as client:
        by_id = client.order_status(order_id)
        by_cl_ord_id = client.order_status("RB1", id_type=ID_TYPE_CLIENT)
        with pytest.raises(RestError) as caught:
            client.order_status("424242")
    assert by_id == by_cl_ord_id and by_id.status is RestOrderStatus.ACTIVE
    assert caught.value.status == 404


def test_cancel_all_active_leaves_nothing_working(local_venue, rest_server):
    ids = [_place(local_venue, f"RB{n}", Side.BUY, str(99000 - n)) for n in range(3)]
    ids.append(_place(local_venue, "RS1", Side.SELL, "101000"))
    with local_venue.venue.application.lock:
        house_orders = len(local_venue.venue.engine.working_orders())
    assert len(_working(local_venue)) == 4
    with _client(local_venue, rest_server) as client:
        result = client.cancel_all_active()
        assert result.complete and sorted(result.canceled) == sorted(ids)
        assert _working(local_venue) == []
        assert client.active_orders() == []
        assert client.order_status(ids[0]).status is RestOrderStatus.CANCELED
        again = client.cancel_all_active(known_external_ids=["RB0", "NEVER1"])
    with local_venue.venue.application.lock:
        assert len(local_venue.venue.engine.working_orders()) == house_orders - 4
    # A second deadman finds nothing listed; known ClOrdIDs are tried by id_type=client.
    assert again.complete and again.canceled == ()
    assert again.already_done == ("RB0",) and again.unknown == ("NEVER1",)


def test_cancel_of_unknown_or_finished_order_is_reported_not_raised(local_venue, rest_server):
    order_id = _place(local_venue, "RB1", Side.BUY, "99000")
    with _client(local_venue, rest_server) as client:
        unknown = client.cancel_order("999999999")
        first = client.cancel_order(order_id)
        second = client.cancel_order(order_id)
        by_cl_ord_id = client.cancel_order("RB1", id_type=ID_TYPE_CLIENT)
    assert unknown.outcome is CancelOutcome.UNKNOWN_ORDER and unknown.reason == "Order not found"
    assert first.outcome is CancelOutcome.CANCELED and first.status is RestOrderStatus.CANCELED
    assert second.outcome is CancelOutcome.ALREADY_DONE
    assert second.status is RestOrderStatus.CANCELED
    assert by_cl_ord_id.outcome is CancelOutcome.ALREADY_DONE


def test_bad_secret_is_401_with_the_hint(local_venue, rest_server):
    api_key = local_venue.client_settings.credentials.api_key
    wrong = Credentials(api_key, "not-the-secret-0123456789")
    with _client(local_venue, rest_server, credentials=wrong) as client:
        with pytest.raises(RestError) as caught:
            client.active_orders()
        assert not client.health()
    error = caught.value
    assert error.status == 401 and error.reason == "Invalid signature"
    message = str(error)
    assert "TRUEX_API_KEY/TRUEX_SECRET_KEY" in message and "\n" not in message
    assert "not-the-secret" not in message
    assert local_venue.client_settings.credentials.secret_key not in message


@pytest.mark.parametrize("offset_s", [-120, -16, 2, 30])
def test_stale_or_future_timestamp_is_401(local_venue, rest_server, offset_s):
    """TrueX's REST docs: at most 15 s old and 1 s in the future (spec §15 #8)."""
    off = _client(local_venue, rest_server, clock=lambda: time.time() + offset_s)
    with off, pytest.raises(RestError) as caught:
        off.active_orders()
    assert caught.value.status == 401
    assert caught.value.reason == "Timestamp outside the allowed window"


@pytest.mark.parametrize("offset_s", [-13, 0, 0.9])
def test_timestamp_inside_the_window_is_accepted(local_venue, rest_server, offset_s):
    # The client sends whole seconds, truncated: -13 is 13-14 s old, 0.9 at most 0.9 s ahead.
    with _client(local_venue, rest_server, clock=lambda: time.time() + offset_s) as client:
        assert client.health()


def test_foreign_client_id_is_403_with_the_hint(local_venue, rest_server):
    settings = local_venue.client_settings
    client = TruexRestClient(rest_server.url, settings.credentials, "10000000000000999")
    with client, pytest.raises(RestError) as caught:
        client.active_orders()
    assert caught.value.status == 403 and "TRUEX_CLIENT_ID" in str(caught.value)


def test_envelope_errors_parse_too(local_venue, rest_server):
    wrong = Credentials("not-our-key", "x")
    client = _client(local_venue, rest_server, credentials=wrong, version=VERSION_ENVELOPE)
    with client, pytest.raises(RestError) as caught:
        client.clients()
    assert caught.value.status == 401 and caught.value.reason == "Invalid API key"


@pytest.mark.parametrize("style", list(PathStyle))
def test_account_endpoints(local_venue, rest_server, style):
    _place(local_venue, "RB1", Side.BUY, "99000", "0.002")
    _place(local_venue, "RS1", Side.SELL, "101000", "0.003")
    with _client(local_venue, rest_server, path_style=style) as client:
        assert client.health()
        (me,) = client.clients()
        balances = {row.asset_name: row for row in client.balances()}
        increments = client.increments()
        assert len(client.active_orders()) == 2
    assert me.client_id == local_venue.client_settings.client_id and me.status == "ACTIVE"
    assert balances["PYUSD"].balance == Decimal(1_000_000)
    assert balances["PYUSD"].order_hold == Decimal("198")  # 99000 * 0.002
    assert balances["PYUSD"].transfer_hold == 0
    assert balances["BTC"].balance == 10 and balances["BTC"].order_hold == Decimal("0.003")
    top, second = increments[:2]
    assert top.upper_price is None and top.tick_size == 1
    assert (second.lower_price, second.upper_price) == (Decimal(100000), Decimal("499999.5"))
    assert (second.tick_size, second.lot_size) == (Decimal("0.5"), Decimal("0.00001"))


def test_balances_follow_the_accounts_trades(local_venue, rest_server):
    # Sell into the best house bid (the seeded book's bids are 0.01 BTC each).
    with local_venue.venue.application.lock:
        best_bid = local_venue.venue.engine.depth(DEMO_SYMBOL, 1).bids[0].price
    order = NewOrder("RT1", DEMO_SYMBOL, Side.SELL, Decimal("0.004"), best_bid)
    venue = local_venue.venue
    with venue.application.lock:
        venue.application.publish(venue.engine.submit(local_venue.client_settings.client_id, order))
    with _client(local_venue, rest_server) as client:
        balances = {row.asset_name: row for row in client.balances()}
        status = client.order_status("RT1", id_type=ID_TYPE_CLIENT)
    assert balances["BTC"].balance == Decimal("9.996")
    assert balances["PYUSD"].balance == Decimal(1_000_000) + best_bid * Decimal("0.004")
    assert status.status is RestOrderStatus.FILLED and status.executed_vwap == best_bid


@pytest.mark.parametrize(
    ("style", "version"),
    [(PathStyle.PLURAL, VERSION_RAW), (PathStyle.SINGULAR, VERSION_ENVELOPE)],
)
def test_trades_carry_the_exec_ids_of_the_fix_reports(local_venue, rest_server, style, version):
    """The trade history names each fill by the ExecID (and TrdMatchID) its 35=8 carried, so
    reconciliation can tell a missed fill from a recorded one; ``since`` filters by time."""
    venue = local_venue.venue
    client_id = local_venue.client_settings.client_id
    with venue.application.lock:
        best_bid = venue.engine.depth(DEMO_SYMBOL, 1).bids[0].price
    reports = []
    for number in (1, 2):  # two sells into the house bid: two trades, paged by 2 per page
        order = NewOrder(f"RT{number}", DEMO_SYMBOL, Side.SELL, Decimal("0.001"), best_bid)
        with venue.application.lock:
            events = venue.engine.submit(client_id, order)
            venue.application.publish(events)
        reports += [
            e.message
            for e in events
            if isinstance(getattr(e, "message", None), ExecutionReport)
            and e.message.exec_type is ExecType.TRADE
            and e.owner == client_id
        ]
    with _client(local_venue, rest_server, path_style=style, version=version) as client:
        trades = client.trades()
        later = client.trades(since_s=time.time() + 60)
    assert [(t.exec_id, t.trade_match_id) for t in trades] == [
        (r.exec_id, r.trade_match_id) for r in reports
    ]
    first = trades[0]
    assert (first.external_id, first.symbol, first.side) == ("RT1", DEMO_SYMBOL, Side.SELL)
    assert (first.quantity, first.price, first.order_id) == (
        Decimal("0.001"),
        best_bid,
        reports[0].order_id,
    )
    assert first.at_s is not None and abs(first.at_s - time.time()) < 60
    assert later == []


def test_raw_server_answers_are_json(local_venue, rest_server):
    answer = httpx.get(f"{rest_server.url}/api/v1/orders/active")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert json.loads(answer.text)["detail"] == "Missing authentication headers"


# --------------------------------------------------------------------------- with FIX logged on


def test_rest_cancel_reaches_the_fix_session(local_venue, rest_server, events: EventLog):
    fix_client = FixClient(local_venue.client_settings, events.put)
    fix_client.start()
    try:
        fix_client.wait_logged_on(SessionRole.ORDER_ENTRY, 15)
        local_venue.venue.wait_client_logged_on(SessionRole.ORDER_ENTRY, 5)
        order_id = _place(local_venue, "RF1", Side.BUY, "99000")
        events.wait_for(
            lambda e: isinstance(e, ExecutionReport)
            and e.cl_ord_id == "RF1"
            and e.exec_type is ExecType.NEW
        )
        with _client(local_venue, rest_server) as client:
            result = client.cancel_order(order_id)
        assert result.outcome is CancelOutcome.CANCELED
        canceled = events.wait_for(
            lambda e: isinstance(e, ExecutionReport) and e.exec_type is ExecType.CANCELED
        )
    finally:
        fix_client.stop(force=True)
    assert isinstance(canceled, ExecutionReport)
    assert canceled.ord_status is OrdStatus.CANCELED
    assert canceled.order_id == order_id and canceled.orig_cl_ord_id == "RF1"
    assert canceled.cl_ord_id.startswith("R") and len(canceled.cl_ord_id) <= 18
    assert canceled.leaves_qty == 0
