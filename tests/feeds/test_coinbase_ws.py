"""The Coinbase websocket stream against a real local websocket server playing a
Coinbase-shaped feed (subscriptions ack, tickers, a sequence break, a dropped connection, a
quiet spell), and the REST poll taking over when the stream is stale. Loopback only.

Every wait is bounded (``wait_for``) and no assertion is about how long anything took.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.logs import LogCapture
from tests.support.ws_feed import LocalFeed
from truex_qf.feeds.coinbase import CoinbaseReference
from truex_qf.feeds.coinbase_ws import Backoff, CoinbaseStream, parse_ws_ticker
from truex_qf.strategy.reference import PriceSource, ReferenceFeed

WAIT_S = 10.0
FAST = Backoff(initial_s=0.01, max_s=0.05, jitter=0.5)


def wait_for(condition: Callable[[], object], what: str) -> None:
    """Wait (bounded) until ``condition()`` is true; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.005)


def ticker(sequence: int, bid: str, ask: str, price: str = "64000.00") -> dict[str, object]:
    """A ticker message as Coinbase Exchange sends it (fields we do not read included)."""
    return {
        "type": "ticker",
        "sequence": sequence,
        "product_id": "BTC-USD",
        "price": price,
        "open_24h": "63000.00",
        "volume_24h": "12345.6",
        "low_24h": "62000.00",
        "high_24h": "65000.00",
        "volume_30d": "400000.1",
        "best_bid": bid,
        "best_bid_size": "0.5",
        "best_ask": ask,
        "best_ask_size": "0.7",
        "side": "buy",
        "time": "2026-12-07T01:00:00.123456Z",
        "trade_id": 9000 + sequence,
        "last_size": "0.001",
    }


def coinbase_ack(request: dict[str, object]) -> list[object]:
    """Coinbase's answer to a subscribe: the channels now subscribed."""
    return [
        {
            "type": "subscriptions",
            "channels": [{"name": "ticker", "product_ids": request["product_ids"]}],
        }
    ]


@pytest.fixture
def feed() -> Iterator[tuple[str, LocalFeed]]:
    server = LocalFeed(coinbase_ack)
    url = server.start()
    try:
        yield url, server
    finally:
        server.stop()


class ManualClock:
    """The trading clock, moved by the test: staleness without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def stream(feed: tuple[str, LocalFeed], clock: ManualClock) -> Iterator[CoinbaseStream]:
    url, _ = feed
    client = CoinbaseStream("BTC-PYUSD", url=url, backoff=FAST, clock=clock, proxy=None)
    client.start()
    try:
        yield client
    finally:
        client.stop()
    assert not client.running


def test_parse_ws_ticker_reads_best_bid_and_ask() -> None:
    observation = parse_ws_ticker(ticker(5, "64000.99", "64001.01"), "BTC-USD", 3.0)
    assert observation.price == D("64001.00")
    assert (observation.bid, observation.ask) == (D("64000.99"), D("64001.01"))
    assert observation.timestamp_s == 3.0 and observation.source == "coinbase"
    with pytest.raises(ValueError):
        parse_ws_ticker({"type": "ticker", "best_bid": "x"}, "BTC-USD", 0.0)


def test_backoff_doubles_up_to_the_cap_with_jitter_below() -> None:
    backoff = Backoff(initial_s=0.5, max_s=4.0, jitter=0.5)
    assert [backoff.delay_s(n, rand=lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        4.0,
    ]
    assert backoff.delay_s(3, rand=lambda: 1.0) == 1.0  # the full jitter halves it


def test_subscribes_and_reads_prices(
    feed: tuple[str, LocalFeed], stream: CoinbaseStream, clock: ManualClock
) -> None:
    _, server = feed
    assert isinstance(stream, ReferenceFeed) and isinstance(stream, PriceSource)
    moves: list[float] = []
    stream.set_listener(lambda: moves.append(clock.now))
    wait_for(lambda: server.connections, "the client to connect")
    assert server.subscribes == [
        {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}
    ]
    wait_for(lambda: stream.subscribed == 1, "the subscription ack")
    assert stream.latest() is None

    server.send(ticker(100, "64000.99", "64001.01"))
    wait_for(lambda: stream.tickers == 1, "the first ticker")
    first = stream.latest()
    assert first is not None and first.price == D("64001.00")
    assert first.symbol == "BTC-USD" and first.timestamp_s == clock.now
    server.send({"type": "heartbeat", "sequence": 101, "product_id": "BTC-USD"})  # ignored
    server.send(ticker(102, "64000.99", "64001.01", price="64001.01"))  # same mid
    server.send(ticker(110, "64010.00", "64012.00"))
    wait_for(lambda: stream.tickers == 3, "two more tickers")
    latest = stream.latest()
    assert latest is not None and latest.price == D("64011.00")
    assert len(moves) == 2  # told of the two moves, not of the unchanged mid
    assert stream.sequence_breaks == 0 and stream.connects == 1


def test_sequence_break_is_counted_dropped_and_resynced(
    feed: tuple[str, LocalFeed], stream: CoinbaseStream
) -> None:
    _, server = feed
    wait_for(lambda: server.connections, "the client to connect")
    server.send(ticker(200, "64000.00", "64002.00"))
    wait_for(lambda: stream.tickers == 1, "the first ticker")
    server.send(ticker(199, "50000.00", "50002.00"))  # a step back: replayed or restarted
    wait_for(lambda: len(server.connections) == 2, "the resync's new connection")
    assert stream.sequence_breaks == 1
    latest = stream.latest()
    assert latest is not None and latest.price == D("64001.00")  # the break's price dropped
    assert len(server.subscribes) == 2  # subscribed afresh
    assert "sequence 199 after 200" in (stream.last_error or "")
    # After the resync, sequences start over: any first one is accepted.
    server.send(ticker(150, "64100.00", "64102.00"))
    wait_for(lambda: stream.tickers == 2, "a ticker after the resync")
    latest = stream.latest()
    assert latest is not None and latest.price == D("64101.00")


def test_reconnects_after_the_server_drops_it(
    feed: tuple[str, LocalFeed], stream: CoinbaseStream
) -> None:
    _, server = feed
    wait_for(lambda: server.connections, "the client to connect")
    server.send(ticker(1, "64000.00", "64002.00"))
    wait_for(lambda: stream.tickers == 1, "the first ticker")
    server.drop()
    wait_for(lambda: len(server.connections) == 2, "the reconnection")
    assert stream.disconnects == 1 and stream.connects == 2
    assert stream.last_error == "connection closed by the server"
    server.send(ticker(2, "64004.00", "64006.00"))
    wait_for(lambda: stream.tickers == 2, "a ticker on the new connection")
    latest = stream.latest()
    assert latest is not None and latest.price == D("64005.00")


def test_server_error_message_resyncs(feed: tuple[str, LocalFeed], stream: CoinbaseStream) -> None:
    _, server = feed
    wait_for(lambda: server.connections, "the client to connect")
    server.send({"type": "error", "message": "Failed to subscribe", "reason": "not a product"})
    wait_for(lambda: len(server.connections) == 2, "the reconnection")
    assert stream.errors == 1 and "Failed to subscribe" in (stream.last_error or "")


class RestStandIn:
    """Coinbase's REST ticker on loopback, counting requests."""

    def __init__(self) -> None:
        self.requests = 0
        body = json.dumps({"bid": "63000.00", "ask": "63002.00", "price": "63001.00"}).encode()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                state.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,))
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(WAIT_S)


def test_staleness_and_the_rest_fallback(
    feed: tuple[str, LocalFeed], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    url, server = feed
    rest = RestStandIn()
    reference = CoinbaseReference(
        "BTC-PYUSD",
        ws_url=url,
        base_url=rest.url,
        fresh_s=2.0,
        poll_interval_s=0.01,
        backoff=FAST,
        clock=clock,
        proxy=None,
    )
    moves: list[str] = []
    reference.set_listener(lambda: moves.append("moved"))
    logs = LogCapture("truex_qf.feeds.coinbase").__enter__()
    reference.start()
    try:
        # Before the stream's first price the poll answers.
        wait_for(lambda: reference.poll.successes >= 1, "the first poll")
        first = reference.latest()
        assert first is not None and first.price == D("63001.00")
        assert not reference.streaming()

        wait_for(lambda: server.connections, "the stream to connect")
        server.send(ticker(1, "64000.00", "64002.00"))
        wait_for(lambda: reference.stream.tickers == 1, "the stream's ticker")
        assert reference.streaming()
        streamed = reference.latest()
        assert streamed is not None and streamed.price == D("64001.00")
        # While the stream is fresh the poll idles: no request to Coinbase.
        skipped = reference.poll.skipped
        wait_for(lambda: reference.poll.skipped >= skipped + 3, "idle polls")
        polled = rest.requests

        # The server goes quiet: the stream's price ages on our clock, the poll takes over.
        clock.now += 2.5
        assert reference.stream.age_s() == 2.5
        assert not reference.streaming()
        wait_for(lambda: rest.requests > polled, "the fallback poll")
        wait_for(
            lambda: (p := reference.latest()) is not None and p.price == D("63001.00"),
            "the poll's price",
        )
        fallback = reference.latest()
        assert fallback is not None and fallback.timestamp_s == clock.now

        # The stream speaks again: its price wins at once.
        server.send(ticker(2, "64010.00", "64012.00"))
        wait_for(lambda: reference.stream.tickers == 2, "the stream's next ticker")
        assert reference.streaming()
        back = reference.latest()
        assert back is not None and back.price == D("64011.00")
        assert len(moves) >= 3  # poll price, stream price, poll price, stream price
        wait_for(
            lambda: " ".join(logs.messages()).count("REST poll idle") == 2, "the hand-back's log"
        )
        handovers = [m for m in logs.messages() if "polling REST" in m or "poll idle" in m]
        # at the start (no ticker yet), back to the stream, stale, back again: each once
        assert len(handovers) == 4, handovers
        assert "stream quiet (last ticker 2.5 s ago)" in handovers[2]
    finally:
        logs.__exit__()
        reference.stop()
        rest.stop()
    assert not reference.stream.running and not reference.poll.running
