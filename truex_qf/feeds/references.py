"""The reference feed a strategy names: ``coinbase``, ``kraken`` or ``median`` of both.

:func:`reference_feed` is what the program calls per symbol; it returns a started-later
:class:`~truex_qf.strategy.reference.ReferenceFeed` (``start``, ``stop``, ``set_listener``,
``latest``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from truex_qf.feeds.coinbase import CoinbaseReference
from truex_qf.feeds.kraken_ws import KrakenStream
from truex_qf.strategy.coinbase import DEFAULT_BASE_URL
from truex_qf.strategy.coinbase import SOURCE_NAME as COINBASE
from truex_qf.strategy.reference import (
    KRAKEN,
    MEDIAN,
    Listener,
    MedianOf,
    ReferenceFeed,
    ReferencePrice,
)

DEFAULT_MEDIAN_STALE_S = 2.0
"""A venue whose price is older than this leaves the median (the others price alone)."""


class MedianFeed:
    """Several feeds run together, priced at the median of the fresh ones (:class:`MedianOf`)."""

    def __init__(
        self,
        feeds: Sequence[ReferenceFeed],
        *,
        stale_s: float = DEFAULT_MEDIAN_STALE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = MEDIAN
        self.feeds = tuple(feeds)
        self.prices = MedianOf(self.feeds, stale_s=stale_s, clock=clock)

    def latest(self) -> ReferencePrice | None:
        return self.prices.latest()

    def ages_s(self) -> dict[str, float | None]:
        return self.prices.ages_s()

    def set_listener(self, listener: Listener | None) -> None:
        for feed in self.feeds:
            feed.set_listener(listener)

    def start(self) -> None:
        for feed in self.feeds:
            feed.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        for feed in self.feeds:
            feed.stop(timeout_s)


def reference_feed(
    name: str, truex_symbol: str, *, coinbase_base_url: str = DEFAULT_BASE_URL
) -> ReferenceFeed:
    """The feed for a strategy's ``reference = name`` (ValueError for an unknown name)."""
    if name == COINBASE:
        return CoinbaseReference(truex_symbol, base_url=coinbase_base_url)
    if name == KRAKEN:
        return KrakenStream(truex_symbol)
    if name == MEDIAN:
        return MedianFeed(
            (
                CoinbaseReference(truex_symbol, base_url=coinbase_base_url),
                KrakenStream(truex_symbol),
            )
        )
    raise ValueError(f"reference: {name!r} is not a known reference feed")
