"""The simulator's reference venue, read by the product's own Coinbase stream (loopback)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal as D

import pytest

from truex_qf.feeds.coinbase_ws import CoinbaseStream
from truex_qf.feeds.ws_ticker import Backoff
from truex_qf.sim.reference_feed import SimulatedReference


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 10.0
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.005)


def test_the_stream_follows_the_simulated_walk() -> None:
    reference = SimulatedReference("BTC-USD", D("100000"), half_spread=D("1"), seed=7)
    url = reference.start()
    stream = CoinbaseStream("BTC-PYUSD", url=url, backoff=Backoff(0.01, 0.05), proxy=None)
    stream.start()
    try:
        wait_for(lambda: stream.tickers == 1, "the price on subscribing")
        first = stream.latest()
        assert first is not None and first.price == D("100000")
        assert (first.bid, first.ask) == (D("99999"), D("100001"))
        mids = [reference.step() for _ in range(20)]
        wait_for(lambda: stream.tickers == 21, "every step")
        latest = stream.latest()
        assert latest is not None and latest.price == mids[-1]
        assert len(set(mids)) > 2  # it walks
        assert all(abs(m - D("100000")) <= D("100000") * D("0.0021") for m in mids)
        assert stream.sequence_breaks == 0
    finally:
        stream.stop()
        reference.stop()
