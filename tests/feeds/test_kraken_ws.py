"""Kraken's websocket ticker against a real local server playing its v2 feed, and the median
of two live venues (Kraken and Coinbase) with per-source staleness. Loopback only; every
wait bounded, no assertion about time taken."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal as D

import pytest

from tests.support.ws_feed import LocalFeed
from truex_qf.feeds.coinbase_ws import CoinbaseStream
from truex_qf.feeds.kraken_ws import KrakenStream, kraken_pair
from truex_qf.feeds.ws_ticker import Backoff
from truex_qf.strategy.reference import MedianOf

WAIT_S = 10.0
FAST = Backoff(initial_s=0.01, max_s=0.05, jitter=0.5)


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.005)


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def kraken_ack(request: dict[str, object]) -> list[object]:
    params = request["params"]
    assert isinstance(params, dict)
    return [
        {
            "method": "subscribe",
            "result": {"channel": "ticker", "symbol": params["symbol"][0], "snapshot": True},
            "success": True,
            "time_in": "2026-12-07T01:00:00.000000Z",
            "time_out": "2026-12-07T01:00:00.000100Z",
        }
    ]


def kraken_ticker(kind: str, bid: float, ask: float, last: float) -> dict[str, object]:
    return {
        "channel": "ticker",
        "type": kind,
        "data": [
            {
                "symbol": "BTC/USD",
                "bid": bid,
                "bid_qty": 0.5,
                "ask": ask,
                "ask_qty": 1.25,
                "last": last,
                "volume": 1234.5,
                "vwap": 63900.1,
                "low": 62000.0,
                "high": 65000.0,
                "change": 100.0,
                "change_pct": 0.16,
            }
        ],
    }


def coinbase_ack(request: dict[str, object]) -> list[object]:
    return [{"type": "subscriptions", "channels": [{"name": "ticker", "product_ids": ["BTC-USD"]}]}]


@pytest.fixture
def kraken() -> Iterator[tuple[str, LocalFeed]]:
    server = LocalFeed(kraken_ack)
    url = server.start()
    try:
        yield url, server
    finally:
        server.stop()


def test_pairs() -> None:
    assert kraken_pair("BTC-PYUSD") == "BTC/USD"
    assert kraken_pair("SOL-PYUSD") == "SOL/USD"
    assert kraken_pair("ETH-EUR") == "ETH/EUR"


def test_subscribes_reads_snapshot_and_updates_and_reconnects(
    kraken: tuple[str, LocalFeed],
) -> None:
    url, server = kraken
    clock = Clock()
    stream = KrakenStream("BTC-PYUSD", url=url, backoff=FAST, clock=clock, proxy=None)
    stream.start()
    try:
        wait_for(lambda: server.connections, "the client to connect")
        assert server.subscribes == [
            {
                "method": "subscribe",
                "params": {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "bbo"},
            }
        ]
        wait_for(lambda: stream.subscribed == 1, "the subscription ack")
        server.send(kraken_ticker("snapshot", 64000.1, 64000.3, 64000.0))
        server.send({"channel": "heartbeat"})
        server.send(kraken_ticker("update", 64010.5, 64010.7, 64010.0))
        wait_for(lambda: stream.tickers == 2, "the snapshot and the update")
        latest = stream.latest()
        assert latest is not None and latest.source == "kraken"
        assert latest.price == D("64010.6")  # Decimal from the JSON number, no float
        assert (latest.bid, latest.ask) == (D("64010.5"), D("64010.7"))

        server.drop()
        wait_for(lambda: len(server.connections) == 2, "the reconnection")
        assert stream.connects == 2 and len(server.subscribes) == 2
    finally:
        stream.stop()
    assert not stream.running


def test_refused_subscription_resyncs() -> None:
    server = LocalFeed(
        lambda request: [
            {"method": "subscribe", "success": False, "error": "Currency pair not supported"}
        ]
    )
    url = server.start()
    stream = KrakenStream("BTC-PYUSD", url=url, backoff=FAST, proxy=None)
    stream.start()
    try:
        wait_for(lambda: len(server.subscribes) >= 2, "a second try after the refusal")
        assert stream.errors >= 1
        assert "Currency pair not supported" in (stream.last_error or "")
        assert stream.latest() is None
    finally:
        stream.stop()
        server.stop()


def test_median_of_two_live_venues_with_per_source_staleness(
    kraken: tuple[str, LocalFeed],
) -> None:
    kraken_url, kraken_server = kraken
    coinbase_server = LocalFeed(coinbase_ack)
    coinbase_url = coinbase_server.start()
    clock = Clock()
    streams = (
        CoinbaseStream("BTC-PYUSD", url=coinbase_url, backoff=FAST, clock=clock, proxy=None),
        KrakenStream("BTC-PYUSD", url=kraken_url, backoff=FAST, clock=clock, proxy=None),
    )
    reference = MedianOf(streams, stale_s=5.0, clock=clock)
    for stream in streams:
        stream.start()
    try:
        wait_for(lambda: coinbase_server.connections and kraken_server.connections, "both")
        coinbase_server.send(
            {
                "type": "ticker",
                "sequence": 1,
                "product_id": "BTC-USD",
                "price": "64000.00",
                "best_bid": "64000.00",
                "best_ask": "64002.00",
            }
        )
        wait_for(lambda: streams[0].tickers == 1, "Coinbase's ticker")
        clock.now += 3.0
        kraken_server.send(kraken_ticker("snapshot", 64010.0, 64012.0, 64011.0))
        wait_for(lambda: streams[1].tickers == 1, "Kraken's ticker")
        latest = reference.latest()
        assert latest is not None and latest.price == D("64006.00")  # (64001 + 64011) / 2
        assert latest.timestamp_s == 500.0  # Coinbase's, the older one
        assert reference.ages_s() == {"coinbase": 3.0, "kraken": 0.0}

        clock.now += 2.5  # Coinbase's price is 5.5 s old: Kraken's alone
        latest = reference.latest()
        assert latest is not None and latest.price == D("64011.00") and latest.source == "kraken"
    finally:
        for stream in streams:
            stream.stop()
        coinbase_server.stop()
