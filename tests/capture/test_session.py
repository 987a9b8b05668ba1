"""The capture session in process: reference ticks beside the book, and a resubscription after
the market-data connection drops (real QuickFIX on both sides, the simulator's flow)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.netproxy import TcpProxy
from tests.support.simulated_market import simulated_market
from tests.support.timing import wait_until
from truex_qf.app.capture_session import CaptureOutcome, MarketDataCapture
from truex_qf.app.demo import DEMO_MID, DEMO_SYMBOL, LocalVenue
from truex_qf.capture import FixRecord, ReferenceRecord, read_capture
from truex_qf.feeds.coinbase_ws import CoinbaseStream
from truex_qf.sim.reference_feed import SimulatedReference
from truex_qf.strategy.coinbase import coinbase_product

WAIT_S = 30.0


@dataclass
class Market:
    local: LocalVenue
    reference_url: str


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Market]:
    """The simulator's flow moving the book, and a simulated Coinbase ticker leading it."""
    reference = SimulatedReference(coinbase_product(DEMO_SYMBOL), DEMO_MID)
    url = reference.start()
    try:
        with simulated_market(
            tmp_path / "venue", step_interval_s=0.05, seed=9, on_reference=reference.set
        ) as simulated:
            yield Market(simulated.local, url)
    finally:
        reference.stop()


class Running:
    """A capture's ``run`` on a thread of its own, stopped (and joined) by :meth:`stop`."""

    def __init__(self, capture: MarketDataCapture) -> None:
        self.capture = capture
        self.outcome: CaptureOutcome | None = None
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        try:
            self.outcome = self.capture.run()
        except BaseException as exc:  # handed to the test
            self.failure = exc

    def wait(self, condition: Callable[[], object]) -> None:
        wait_until(lambda: condition() or self.failure is not None, timeout_s=WAIT_S)
        assert self.failure is None, self.failure

    def stop(self) -> CaptureOutcome:
        self.capture.stop_requested.set()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive()
        assert self.failure is None, self.failure
        assert self.outcome is not None
        return self.outcome


def test_reference_ticks_are_recorded_beside_the_book(market: Market, tmp_path: Path) -> None:
    stream = CoinbaseStream(DEMO_SYMBOL, url=market.reference_url, proxy=None)
    capture = MarketDataCapture(
        market.local.client_settings,
        [DEMO_SYMBOL],
        tmp_path / "out",
        references={DEMO_SYMBOL: stream},
        stop=threading.Event(),
    )
    running = Running(capture)
    try:
        running.wait(lambda: capture.sink.reference_written >= 5 and capture.sink.fix_written >= 5)
    finally:
        outcome = running.stop()
    assert outcome.reference_ticks >= 5
    records = list(read_capture(outcome.paths))
    ticks = [r for r in records if isinstance(r, ReferenceRecord)]
    assert len(ticks) == outcome.reference_ticks
    assert {(t.source, t.symbol) for t in ticks} == {("coinbase-ws", DEMO_SYMBOL)}
    assert all(abs(t.price - DEMO_MID) < DEMO_MID / 10 for t in ticks)
    assert all(isinstance(t.price, Decimal) for t in ticks)
    recv = [r.recv_ns for r in records]
    assert recv == sorted(recv)


def test_a_dropped_connection_is_resubscribed_and_the_capture_goes_on(
    market: Market, tmp_path: Path
) -> None:
    settings = market.local.client_settings
    proxy = TcpProxy(settings.market_data_port)
    proxy.up()
    capture = MarketDataCapture(
        replace(settings, market_data_port=proxy.port),
        [DEMO_SYMBOL],
        tmp_path / "out",
        stop=threading.Event(),
    )

    def snapshots() -> int:
        return sum(
            isinstance(r, FixRecord) and r.msg_type == "W" for r in read_capture(capture.sink.paths)
        )

    running = Running(capture)
    try:
        running.wait(lambda: capture.subscriptions == 1 and capture.sink.fix_written >= 3)
        proxy.down()
        proxy.up()  # the engine reconnects (ReconnectInterval=1) and logs on again
        running.wait(lambda: capture.subscriptions == 2)
        running.wait(lambda: snapshots() >= 2)  # the new subscription's snapshot, on disk
    finally:
        proxy.down()
        outcome = running.stop()
    kinds = [r.msg_type for r in read_capture(outcome.paths) if isinstance(r, FixRecord)]
    second = kinds.index("W", kinds.index("W") + 1)
    assert "X" in kinds[:second]  # data before the drop, and a fresh book after it
