"""The simulated REST API's unauthenticated endpoints (spec §15 #9), over a real socket.

Health, ``/api/v1/versions`` and ``/api/v1/market/quote?instrument_id=`` answer a request with
no auth headers at all; every other endpoint still answers such a request 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from truex_qf.app.demo import DEMO_SYMBOL, LocalVenue
from truex_qf.rest.wire import HEADER_VERSION, VERSION_ENVELOPE, VERSION_RAW
from truex_qf.sim.rest_server import SimulatorRestServer


@pytest.fixture
def http(local_venue: LocalVenue) -> Iterator[tuple[httpx.Client, SimulatorRestServer]]:
    server = SimulatorRestServer(local_venue.venue)
    server.start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client, server
    server.stop()


@pytest.mark.parametrize("path", ["/health", "/api/v1/health"])
def test_health_needs_no_auth(http, path):
    client, _ = http
    answer = client.get(path)
    assert answer.status_code == 200 and answer.json() == {"status": "OK"}


def test_versions_need_no_auth_and_follow_the_envelope(http):
    client, _ = http
    raw = client.get("/api/v1/versions")
    assert raw.status_code == 200
    assert raw.json() == {"versions": [VERSION_RAW, VERSION_ENVELOPE], "default": VERSION_RAW}
    wrapped = client.get("/api/v1/versions", headers={HEADER_VERSION: VERSION_ENVELOPE})
    assert wrapped.json() == {"data": raw.json()}


def test_quote_needs_no_auth_and_is_the_best_bid_and_offer(http, local_venue):
    client, server = http
    instrument_id = server.instrument_ids[DEMO_SYMBOL]
    answer = client.get("/api/v1/market/quote", params={"instrument_id": instrument_id})
    assert answer.status_code == 200
    quote = answer.json()
    depth = local_venue.venue.engine.depth(DEMO_SYMBOL, 1)
    assert quote["instrument_id"] == instrument_id and quote["symbol"] == DEMO_SYMBOL
    assert Decimal(quote["bid_price"]) == depth.bids[0].price
    assert Decimal(quote["bid_qty"]) == depth.bids[0].size
    assert Decimal(quote["ask_price"]) == depth.offers[0].price
    assert Decimal(quote["ask_qty"]) == depth.offers[0].size
    assert isinstance(quote["timestamp"], int)


def test_quote_of_an_empty_book_has_null_sides(http):
    client, _ = http
    quote = client.get("/api/v1/market/quote", params={"instrument_id": "ETH-PYUSD"}).json()
    assert quote["symbol"] == "ETH-PYUSD"
    assert [quote[key] for key in ("bid_price", "bid_qty", "ask_price", "ask_qty")] == [None] * 4


@pytest.mark.parametrize(
    ("params", "status"), [({}, 400), ({"instrument_id": "1"}, 404)], ids=["missing", "unknown"]
)
def test_quote_without_a_known_instrument_is_an_error(http, params, status):
    client, _ = http
    answer = client.get("/api/v1/market/quote", params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/api/v1/orders/active", "/api/v1/balances", "/api/v1/clients"])
def test_the_account_endpoints_still_need_auth(http, path):
    client, _ = http
    answer = client.get(path)
    assert answer.status_code == 401
    assert answer.json()["detail"] == "Missing authentication headers"
