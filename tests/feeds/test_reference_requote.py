"""A reference move requotes at once, as a TrueX book move does: the Coinbase stream (a real
local websocket server) feeds fair value of a market maker quoting on the simulated exchange
over real QuickFIX sessions, and after its first quotes nobody steps the trading loop, so
only the feed's own thread, through :meth:`Runner.inputs_moved`, can move them."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from tests.support.market_maker import strategy
from tests.support.sessions import unique_comp_id
from tests.support.ws_feed import LocalFeed
from truex_qf.app.demo import DEMO_SYMBOL, demo_account, start_local_venue
from truex_qf.app.runner import Runner
from truex_qf.domain.model import Side
from truex_qf.feeds.coinbase_ws import CoinbaseStream
from truex_qf.feeds.ws_ticker import Backoff


def wait_for(condition: Callable[[], object], what: str, step: Callable[[], None]) -> None:
    deadline = time.monotonic() + 15.0
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        step()


def coinbase_ack(request: dict[str, object]) -> list[object]:
    return [{"type": "subscriptions", "channels": [{"name": "ticker", "product_ids": ["BTC-USD"]}]}]


def ticker(sequence: int, mid: str) -> dict[str, object]:
    return {
        "type": "ticker",
        "sequence": sequence,
        "product_id": "BTC-USD",
        "price": mid,
        "best_bid": mid,
        "best_ask": mid,
        "time": "2026-12-07T01:00:00.000000Z",
    }


@pytest.fixture
def venue(tmp_path):
    local = start_local_venue(tmp_path / "state", demo_account(unique_comp_id()))
    yield local
    local.venue.stop(force=True)


def our_bid(venue) -> Decimal | None:
    with venue.venue.application.lock:
        orders = venue.venue.engine.working_orders(venue.client_settings.client_id)
    bids = [order.price for order in orders if order.side is Side.BUY]
    return bids[0] if len(bids) == 1 else None


def test_a_reference_tick_requotes_without_the_trading_loop(venue) -> None:
    base = strategy()
    symbol = base.symbols[0]
    symbol = dataclasses.replace(
        symbol,
        reference="coinbase",
        fair_value=dataclasses.replace(symbol.fair_value, primary="reference"),
    )
    settings = dataclasses.replace(base, symbols=(symbol,))
    feed = LocalFeed(coinbase_ack)
    url = feed.start()
    stream = CoinbaseStream(DEMO_SYMBOL, url=url, backoff=Backoff(0.01, 0.05), proxy=None)
    stream.start()
    runner = Runner(venue.client_settings, settings, references={DEMO_SYMBOL: stream})
    stream.set_listener(functools.partial(runner.inputs_moved, DEMO_SYMBOL))
    try:
        wait_for(lambda: feed.connections, "the stream to connect", lambda: time.sleep(0.01))
        feed.send(ticker(1, "100000.00"))
        wait_for(lambda: stream.tickers == 1, "the first ticker", lambda: time.sleep(0.01))
        runner.start()
        # 100000 * (1 - 5 bps) = 99950: quoting off the reference
        wait_for(
            lambda: our_bid(venue) == Decimal("99950"),
            "the first quotes",
            lambda: runner.step(0.05),
        )
        # From here on nobody steps the loop: no tick, no queued event is looked at.
        feed.send(ticker(2, "100040.00"))
        # 100040 * (1 - 5 bps) = 99989.98, on the 0.1 grid below 100000: 99989.9
        wait_for(
            lambda: our_bid(venue) == Decimal("99989.9"),
            "the quotes to follow the reference",
            lambda: time.sleep(0.01),
        )
        runner.finish()
    finally:
        stream.stop()
        runner.close()
        feed.stop()
