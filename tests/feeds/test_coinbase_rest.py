"""The Coinbase REST ticker poll against a local stand-in HTTP server (no internet here)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from truex_qf.domain.model import BookEntry, MarketDataSnapshot, MDEntryType
from truex_qf.feeds.coinbase_rest import CoinbaseRestTicker, parse_ticker
from truex_qf.feeds.coinbase_wire import parse_venue_time
from truex_qf.marketdata.book import OrderBook
from truex_qf.strategy.coinbase import coinbase_product
from truex_qf.strategy.fair_value import (
    FairValueConfig,
    FairValueModel,
    PriceSource,
    PricingState,
)

TICKER = {
    "ask": "64001.01",
    "bid": "64000.99",
    "volume": "1234.5",
    "trade_id": 42,
    "price": "63999.00",
    "size": "0.01",
    "time": "2024-05-01T12:00:00.123456789Z",
}


@dataclass
class StandIn:
    """What the fake Coinbase answers, and what it was asked."""

    status: int = 200
    body: bytes = json.dumps(TICKER).encode()
    delay_s: float = 0.0
    paths: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours proxy variables; the stand-in is on loopback.
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[tuple[str, StandIn]]:
    state = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            state.user_agents.append(self.headers.get("User-Agent", ""))
            if state.delay_s:
                time.sleep(state.delay_s)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            # The client may have timed out and hung up.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_symbol_map() -> None:
    assert coinbase_product("BTC-PYUSD") == "BTC-USD"
    assert coinbase_product("ETH-PYUSD") == "ETH-USD"
    assert coinbase_product("SOL-PYUSD") == "SOL-USD"  # rule for unmapped PYUSD symbols
    assert coinbase_product("BTC-PYUSD", {"BTC-PYUSD": "BTC-USDC"}) == "BTC-USDC"


def test_parse_ticker_uses_bid_ask_mid() -> None:
    observation = parse_ticker(TICKER, "BTC-USD", received_s=7.5)
    assert observation.price == D("64001.00")  # (64000.99 + 64001.01) / 2
    assert (observation.bid, observation.ask) == (D("64000.99"), D("64001.01"))
    assert observation.timestamp_s == 7.5
    assert observation.source == "coinbase" and observation.symbol == "BTC-USD"
    assert observation.venue_time == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def test_parse_ticker_falls_back_to_last_price() -> None:
    assert parse_ticker({"price": "100.5"}, "X", 0.0).price == D("100.5")
    # A crossed bid/ask is not trusted.
    assert parse_ticker({"bid": "101", "ask": "100", "price": "100.5"}, "X", 0.0).price == D(
        "100.5"
    )
    with pytest.raises(ValueError):
        parse_ticker({"bid": "0", "price": "nan"}, "X", 0.0)
    with pytest.raises(ValueError):
        parse_ticker(["not", "an", "object"], "X", 0.0)


def test_parse_venue_time_tolerates_garbage() -> None:
    assert parse_venue_time("yesterday") is None
    assert parse_venue_time(None) is None
    assert parse_venue_time("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_poll_once_against_stand_in(server: tuple[str, StandIn]) -> None:
    base_url, state = server
    ticker = CoinbaseRestTicker("BTC-PYUSD", base_url=base_url, clock=lambda: 123.0)
    assert isinstance(ticker, PriceSource)
    assert ticker.latest() is None
    observation = ticker.poll_once()
    assert observation is not None
    assert observation.price == D("64001.00")
    assert observation.timestamp_s == 123.0
    assert ticker.latest() == observation
    assert state.paths == ["/products/BTC-USD/ticker"]
    assert state.user_agents[0].startswith("truex-qf/")
    assert (ticker.successes, ticker.errors) == (1, 0)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"message": "internal"}'),
        (404, b'{"message": "NotFound"}'),
        (200, b"<html>not json</html>"),
        (200, b'{"message": "no prices"}'),
    ],
)
def test_errors_are_counted_not_raised(
    server: tuple[str, StandIn], status: int, body: bytes
) -> None:
    base_url, state = server
    ticker = CoinbaseRestTicker("BTC-PYUSD", base_url=base_url)
    good = ticker.poll_once()
    assert good is not None
    state.status, state.body = status, body
    assert ticker.poll_once() is None
    assert ticker.poll_once() is None
    assert ticker.errors == 2 and ticker.consecutive_errors == 2
    assert ticker.last_error is not None
    assert ticker.latest() == good  # the last good observation is kept, and ages
    state.status, state.body = 200, json.dumps(TICKER).encode()
    assert ticker.poll_once() is not None
    assert ticker.consecutive_errors == 0 and ticker.successes == 2


def test_timeout_is_an_error(server: tuple[str, StandIn]) -> None:
    base_url, state = server
    state.delay_s = 1.0
    ticker = CoinbaseRestTicker("BTC-PYUSD", base_url=base_url, timeout_s=0.2)
    started = time.monotonic()
    assert ticker.poll_once() is None
    assert time.monotonic() - started < 0.9
    assert ticker.errors == 1
    assert "timed out" in (ticker.last_error or "").lower()


def test_connection_refused_is_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ticker = CoinbaseRestTicker("BTC-PYUSD", base_url=f"http://127.0.0.1:{port}", timeout_s=0.5)
    assert ticker.poll_once() is None
    assert ticker.errors == 1


def test_background_polling_feeds_fair_value(server: tuple[str, StandIn]) -> None:
    base_url, state = server
    ticker = CoinbaseRestTicker("BTC-PYUSD", base_url=base_url, poll_interval_s=0.05)
    ticker.start()
    try:
        deadline = time.monotonic() + 5.0
        while ticker.successes < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ticker.successes >= 3
        assert ticker.running
        observation = ticker.latest()
        assert observation is not None and observation.price == D("64001.00")
    finally:
        ticker.stop()
    assert not ticker.running
    polls = len(state.paths)
    time.sleep(0.2)
    assert len(state.paths) == polls  # really stopped

    # As the reference of a fair-value model, on the same monotonic clock.
    book = OrderBook("BTC-PYUSD")
    book.apply_snapshot(
        MarketDataSnapshot(
            "MD-1",
            "BTC-PYUSD",
            (
                BookEntry(MDEntryType.BID, D("64000"), D("1")),
                BookEntry(MDEntryType.OFFER, D("64002"), D("1")),
            ),
        ),
        time.monotonic(),
    )
    model = FairValueModel(FairValueConfig(primary="reference"), ticker)
    decision = model.decide(book, now_s=time.monotonic())
    assert decision.state is PricingState.QUOTE
    assert decision.fair_value is not None and decision.fair_value.price == D("64001.00")


def test_rejects_non_http_base_url() -> None:
    with pytest.raises(ValueError, match="base_url"):
        CoinbaseRestTicker("BTC-PYUSD", base_url="file:///etc/passwd")
