"""The feed a strategy's ``reference`` names, and several venues run as one median feed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal as D

import pytest

from tests.support.ws_feed import LocalFeed
from truex_qf.feeds.coinbase import CoinbaseReference
from truex_qf.feeds.coinbase_ws import CoinbaseStream
from truex_qf.feeds.kraken_ws import KrakenStream
from truex_qf.feeds.references import MedianFeed, reference_feed
from truex_qf.feeds.ws_ticker import Backoff
from truex_qf.strategy.reference import ReferenceFeed

FAST = Backoff(initial_s=0.01, max_s=0.05, jitter=0.5)


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.005)


def test_names() -> None:
    coinbase = reference_feed("coinbase", "BTC-PYUSD", coinbase_base_url="http://127.0.0.1:9")
    assert isinstance(coinbase, CoinbaseReference) and isinstance(coinbase, ReferenceFeed)
    assert coinbase.poll.url == "http://127.0.0.1:9/products/BTC-USD/ticker"
    assert isinstance(reference_feed("kraken", "BTC-PYUSD"), KrakenStream)
    median = reference_feed("median", "BTC-PYUSD")
    assert isinstance(median, MedianFeed) and isinstance(median, ReferenceFeed)
    assert [type(f) for f in median.feeds] == [CoinbaseReference, KrakenStream]
    with pytest.raises(ValueError, match="bitstamp"):
        reference_feed("bitstamp", "BTC-PYUSD")


def test_median_feed_runs_its_venues_and_tells_one_listener() -> None:
    servers = [LocalFeed(lambda request: []), LocalFeed(lambda request: [])]
    urls = [server.start() for server in servers]
    feed = MedianFeed(
        (
            CoinbaseStream("BTC-PYUSD", url=urls[0], backoff=FAST, proxy=None),
            CoinbaseStream("BTC-PYUSD", url=urls[1], backoff=FAST, proxy=None),
        ),
        stale_s=60.0,
    )
    moved = threading.Semaphore(0)
    feed.set_listener(moved.release)
    feed.start()
    try:
        wait_for(lambda: all(server.connections for server in servers), "both connections")
        for server, bid in zip(servers, ("100", "110"), strict=True):
            server.send(
                {
                    "type": "ticker",
                    "sequence": 1,
                    "product_id": "BTC-USD",
                    "price": bid,
                    "best_bid": bid,
                    "best_ask": bid,
                }
            )
        assert moved.acquire(timeout=10.0) and moved.acquire(timeout=10.0)
        wait_for(lambda: (p := feed.latest()) is not None and p.price == D("105"), "the median")
    finally:
        feed.stop()
        for server in servers:
            server.stop()
    assert not any(stream.running for stream in feed.feeds)  # type: ignore[attr-defined]
