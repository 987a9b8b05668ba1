"""Coinbase Exchange's public REST ticker, polled: the fallback behind the websocket stream.

``GET {base_url}/products/{product_id}/ticker`` answers JSON such as::

    {"ask": "64001.01", "bid": "64000.99", "volume": "...", "trade_id": 1,
     "price": "64000.50", "size": "0.01", "time": "2024-05-01T12:00:00.123456Z"}

A background thread polls it (standard library only, one request at a time) and keeps the
latest :class:`ReferencePrice`; the trading loop only reads that value (one reference
assignment of a frozen object, so no lock is needed). Every failure (network, HTTP status,
bad JSON, nonsense prices) is logged and counted and the previous observation is kept: its
time stamp ages, and the fair-value model's staleness timer decides what that means. Nothing
here raises into the caller after construction.

``should_poll`` (optional) is asked before each request: behind a fresh stream the poll idles
(:class:`~truex_qf.feeds.coinbase.CoinbaseReference` passes "the stream is not fresh").
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping

from truex_qf import __version__
from truex_qf.feeds.coinbase_wire import reference_price
from truex_qf.feeds.latest import LatestReference
from truex_qf.strategy.coinbase import DEFAULT_BASE_URL, SOURCE_NAME, coinbase_product
from truex_qf.strategy.reference import Listener, ReferencePrice

log = logging.getLogger(__name__)

_MAX_BODY_BYTES = 64 * 1024
_LOG_EVERY_N_ERRORS = 60


def parse_ticker(payload: object, product_id: str, received_s: float) -> ReferencePrice:
    """A :class:`ReferencePrice` from a decoded REST ticker; ValueError if it has no price."""
    return reference_price(payload, product_id, received_s, bid_key="bid", ask_key="ask")


class CoinbaseRestTicker:
    """Polls one Coinbase product's ticker on a daemon thread; a reference feed.

    ``clock`` stamps each observation and must be the clock the fair-value model is given
    (``time.monotonic`` by default). ``poll_interval_s`` defaults to 1 s, well inside
    Coinbase's public rate limit; ``timeout_s`` bounds each request.
    """

    def __init__(
        self,
        truex_symbol: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        symbol_map: Mapping[str, str] | None = None,
        poll_interval_s: float = 1.0,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        should_poll: Callable[[], bool] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: {base_url!r} is not an http(s) URL")
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s: must be positive")
        if timeout_s <= 0:
            raise ValueError("timeout_s: must be positive")
        self.name = f"{SOURCE_NAME}-rest"
        self.truex_symbol = truex_symbol
        self.product_id = coinbase_product(truex_symbol, symbol_map)
        self.url = f"{base_url.rstrip('/')}/products/{self.product_id}/ticker"
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.should_poll = should_poll
        self._clock = clock
        self._prices = LatestReference(f"coinbase ticker {self.product_id}")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.successes = 0
        self.errors = 0
        self.consecutive_errors = 0
        self.skipped = 0  # polls not made because should_poll said no
        self.last_error: str | None = None

    def latest(self) -> ReferencePrice | None:
        """The most recent good observation (None before the first); never blocks."""
        return self._prices.value

    def set_listener(self, listener: Listener | None) -> None:
        """Called after a poll that changed the price (on the polling thread)."""
        self._prices.listener = listener

    def fetch(self) -> ReferencePrice:
        """One request, raising on any failure (:meth:`poll_once` is the safe wrapper)."""
        request = urllib.request.Request(
            self.url,
            headers={"Accept": "application/json", "User-Agent": f"truex-qf/{__version__}"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            body = response.read(_MAX_BODY_BYTES + 1)
        if len(body) > _MAX_BODY_BYTES:
            raise ValueError(f"ticker response over {_MAX_BODY_BYTES} bytes")
        return parse_ticker(json.loads(body), self.product_id, self._clock())

    def poll_once(self) -> ReferencePrice | None:
        """Fetch and store one observation; on failure log, count and return None."""
        try:
            observation = self.fetch()
        except Exception as exc:  # never into the trading path
            self.errors += 1
            self.consecutive_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            if self.consecutive_errors == 1 or self.consecutive_errors % _LOG_EVERY_N_ERRORS == 0:
                log.warning(
                    "coinbase ticker %s failed (%d in a row, %d total): %s",
                    self.product_id,
                    self.consecutive_errors,
                    self.errors,
                    self.last_error,
                )
            return None
        if self.consecutive_errors:
            log.info(
                "coinbase ticker %s recovered after %d errors",
                self.product_id,
                self.consecutive_errors,
            )
        self.consecutive_errors = 0
        self.successes += 1
        self._prices.publish(observation)
        return observation

    def start(self) -> None:
        """Start polling on a daemon thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"coinbase-rest-{self.product_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop polling and wait up to ``timeout_s`` for the thread (at most one request)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("coinbase ticker thread %s did not stop in time", thread.name)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.should_poll is None or self.should_poll():
                    self.poll_once()
                else:
                    self.skipped += 1
            except Exception:  # poll_once does not raise; belt and braces for the thread
                log.exception("coinbase ticker %s poll crashed", self.product_id)
            self._stop.wait(self.poll_interval_s)

    def __repr__(self) -> str:
        return f"CoinbaseRestTicker({self.product_id!r}, url={self.url!r})"
