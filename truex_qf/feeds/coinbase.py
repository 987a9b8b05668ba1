"""``reference = "coinbase"``: the websocket stream, with the REST poll behind it.

:class:`CoinbaseReference` is what the program hands fair value for a symbol. Its price is
the stream's while the stream's latest ticker is at most ``fresh_s`` old; otherwise (the
stream is down, reconnecting, resyncing or quiet) the REST poll's, which polls only then, so
it costs Coinbase no requests while the stream is healthy. Both tell the same listener when
their price moved, so either way a reference move requotes at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Literal

from truex_qf.feeds.coinbase_rest import CoinbaseRestTicker
from truex_qf.feeds.coinbase_ws import Backoff, CoinbaseStream
from truex_qf.strategy.coinbase import DEFAULT_BASE_URL, DEFAULT_WS_URL, SOURCE_NAME
from truex_qf.strategy.reference import FreshestOf, Listener, ReferencePrice

log = logging.getLogger(__name__)

DEFAULT_FRESH_S = 2.0
"""The stream's latest ticker older than this: the poll takes over. Below fair value's
default ``reference_stale_s`` (5 s), so the fallback answers before fair value calls the
reference stale; BTC-USD and ETH-USD trade several times a second."""


class CoinbaseReference:
    """One symbol's Coinbase reference: stream first, REST poll as the fallback."""

    def __init__(
        self,
        truex_symbol: str,
        *,
        ws_url: str = DEFAULT_WS_URL,
        base_url: str = DEFAULT_BASE_URL,
        symbol_map: Mapping[str, str] | None = None,
        fresh_s: float = DEFAULT_FRESH_S,
        poll_interval_s: float = 1.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        proxy: str | Literal[True] | None = True,
    ) -> None:
        self.name = SOURCE_NAME
        self.stream = CoinbaseStream(
            truex_symbol,
            url=ws_url,
            symbol_map=symbol_map,
            backoff=backoff,
            clock=clock,
            proxy=proxy,
        )
        self.poll = CoinbaseRestTicker(
            truex_symbol,
            base_url=base_url,
            symbol_map=symbol_map,
            poll_interval_s=poll_interval_s,
            clock=clock,
            should_poll=self._should_poll,
        )
        self.prices = FreshestOf(self.stream, (self.poll,), fresh_s=fresh_s, clock=clock)
        self._polling: bool | None = None  # the fallback's last state, for its log lines

    def _should_poll(self) -> bool:
        """Asked by the poll's thread before each request: only while the stream is stale.
        Each hand-over is logged once."""
        polling = not self.prices.preferred_fresh()
        if polling != self._polling and (self._polling is not None or polling):
            stream = self.stream
            if polling:
                age = stream.age_s()
                if not stream.connected:
                    why = f"down ({stream.last_error or 'not connected yet'})"
                elif age is None:
                    why = "without a ticker yet"
                else:
                    why = f"quiet (last ticker {age:.1f} s ago)"
                log.warning("coinbase %s: stream %s: polling REST instead", stream.product_id, why)
            else:
                log.info("coinbase %s: stream fresh again: REST poll idle", stream.product_id)
        self._polling = polling
        return polling

    def latest(self) -> ReferencePrice | None:
        return self.prices.latest()

    def streaming(self) -> bool:
        """Whether the price now comes from the stream (else from the poll, or none)."""
        return self.prices.preferred_fresh()

    def set_listener(self, listener: Listener | None) -> None:
        self.stream.set_listener(listener)
        self.poll.set_listener(listener)

    def start(self) -> None:
        self.stream.start()
        self.poll.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self.stream.stop(timeout_s)
        self.poll.stop(timeout_s)

    def __repr__(self) -> str:
        return f"CoinbaseReference({self.stream!r}, {self.poll!r})"
