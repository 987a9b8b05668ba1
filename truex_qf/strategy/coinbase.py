"""Coinbase Exchange's public ticker as a reference :class:`PriceSource`, standard library only.

``GET {base_url}/products/{product_id}/ticker`` answers JSON such as::

    {"ask": "64001.01", "bid": "64000.99", "volume": "...", "trade_id": 1,
     "price": "64000.50", "size": "0.01", "time": "2024-05-01T12:00:00.123456Z"}

A background thread polls it and keeps the latest :class:`ReferencePrice`; the trading loop
only reads that value (one reference assignment of a frozen object, so no lock is needed).
Every failure (network, HTTP status, bad JSON, nonsense prices) is logged and counted and the
previous observation is kept: its time stamp ages, and the fair-value model's staleness timer
decides what that means. Nothing here raises into the caller after construction, and the
program runs without it (no reference configured, or Coinbase unreachable).

The reference price is the bid/ask mid when both are present and sane, else the last trade
price: the last trade can be minutes old on a quiet product while bid and ask are current.
Staleness uses our receive time, not the venue's ``time`` field, because that field is the
last *trade* time and would make a quiet but live product look stale.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from truex_qf import __version__
from truex_qf.strategy.fair_value import ReferencePrice

log = logging.getLogger(__name__)

SOURCE_NAME = "coinbase"
DEFAULT_BASE_URL = "https://api.exchange.coinbase.com"
DEFAULT_SYMBOL_MAP: Mapping[str, str] = {
    "BTC-PYUSD": "BTC-USD",
    "ETH-PYUSD": "ETH-USD",
    "BTC-USD": "BTC-USD",
    "ETH-USD": "ETH-USD",
}
"""TrueX symbol → Coinbase product. PYUSD is priced against Coinbase's USD book (the basis is
small next to any sensible divergence limit)."""

_MAX_BODY_BYTES = 64 * 1024
_LOG_EVERY_N_ERRORS = 60
_TWO = Decimal(2)
_FRACTION = re.compile(r"(\.\d{6})\d+")


def coinbase_product(truex_symbol: str, symbol_map: Mapping[str, str] | None = None) -> str:
    """The Coinbase product for a TrueX symbol: the map's entry, else PYUSD read as USD."""
    mapping = DEFAULT_SYMBOL_MAP if symbol_map is None else symbol_map
    if truex_symbol in mapping:
        return mapping[truex_symbol]
    base, _, quote = truex_symbol.partition("-")
    if quote == "PYUSD":
        return f"{base}-USD"
    return truex_symbol


def _positive_decimal(payload: Mapping[str, Any], key: str) -> Decimal | None:
    raw = payload.get(key)
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0:
        return None
    return value


def parse_venue_time(text: object) -> datetime | None:
    """Coinbase's ISO-8601 ``time`` (``Z`` suffix, up to nanoseconds), or None if unparsable."""
    if not isinstance(text, str) or not text:
        return None
    cleaned = _FRACTION.sub(r"\1", text.strip())
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        return None


def parse_ticker(payload: object, product_id: str, received_s: float) -> ReferencePrice:
    """A :class:`ReferencePrice` from a decoded ticker document; ValueError if it has no price."""
    if not isinstance(payload, Mapping):
        raise ValueError(f"ticker for {product_id} is not a JSON object")
    bid = _positive_decimal(payload, "bid")
    ask = _positive_decimal(payload, "ask")
    last = _positive_decimal(payload, "price")
    if bid is not None and ask is not None and bid <= ask:
        price = (bid + ask) / _TWO
    elif last is not None:
        price = last
    else:
        raise ValueError(f"ticker for {product_id} has no usable bid/ask or price: {payload!r}")
    return ReferencePrice(
        source=SOURCE_NAME,
        symbol=product_id,
        price=price,
        timestamp_s=received_s,
        bid=bid,
        ask=ask,
        venue_time=parse_venue_time(payload.get("time")),
    )


class CoinbaseTicker:
    """Polls one Coinbase product's ticker on a daemon thread; a :class:`PriceSource`.

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
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: {base_url!r} is not an http(s) URL")
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s: must be positive")
        if timeout_s <= 0:
            raise ValueError("timeout_s: must be positive")
        self.truex_symbol = truex_symbol
        self.product_id = coinbase_product(truex_symbol, symbol_map)
        self.url = f"{base_url.rstrip('/')}/products/{self.product_id}/ticker"
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._latest: ReferencePrice | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.successes = 0
        self.errors = 0
        self.consecutive_errors = 0
        self.last_error: str | None = None

    def latest(self) -> ReferencePrice | None:
        """The most recent good observation (None before the first); never blocks."""
        return self._latest

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
        self._latest = observation
        return observation

    def start(self) -> None:
        """Start polling on a daemon thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"coinbase-ticker-{self.product_id}", daemon=True
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
                self.poll_once()
            except Exception:  # poll_once does not raise; belt and braces for the thread
                log.exception("coinbase ticker %s poll crashed", self.product_id)
            self._stop.wait(self.poll_interval_s)

    def __repr__(self) -> str:
        return f"CoinbaseTicker({self.product_id!r}, url={self.url!r})"
