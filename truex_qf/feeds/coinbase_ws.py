"""Coinbase Exchange's public websocket ``ticker`` channel: the reference price as it moves.

One daemon thread runs its own asyncio loop: connect to ``wss://ws-feed.exchange.coinbase.com``
(no authentication), send::

    {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}

and read. The server acknowledges with ``{"type": "subscriptions", ...}`` and then sends a
``ticker`` message per match (batched over cascades)::

    {"type": "ticker", "sequence": 37475248783, "product_id": "BTC-USD", "price": "64000.50",
     "best_bid": "64000.99", "best_ask": "64001.01", "time": "2024-05-01T12:00:00.123456Z", ...}

Each good ticker becomes the latest :class:`ReferencePrice` (mid of best bid/ask, else the
trade price) stamped with our receive time, swapped in as one attribute, and the listener is
told when the price changed. An ``error`` message, a dropped connection or a failed connect
is counted and logged, and the client reconnects after an exponential backoff with jitter
(reset once a connection delivered a price).

Sequences: a ticker's ``sequence`` is the product's feed sequence, so it skips by design (the
ticker sees only matches) but must increase. A ticker whose sequence is not above the last
one seen is a break (a repeat or a step back: messages lost and replayed out of order, or the
feed restarted): it is counted, logged and dropped, and the client resyncs, that is drops
the connection and subscribes afresh, so it never keeps prices of unknown order.

Staleness is fair value's business, measured from our receive time; :meth:`age_s` says how
old the latest price is. When the stream is down or quiet, the REST poll takes over
(:mod:`truex_qf.feeds.coinbase`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from websockets.asyncio.client import connect

from truex_qf.feeds.coinbase_wire import reference_price
from truex_qf.strategy.coinbase import DEFAULT_WS_URL, SOURCE_NAME, coinbase_product
from truex_qf.strategy.reference import Listener, ReferencePrice

log = logging.getLogger(__name__)

_MAX_MESSAGE_BYTES = 256 * 1024


def parse_ws_ticker(payload: object, product_id: str, received_s: float) -> ReferencePrice:
    """A :class:`ReferencePrice` from a decoded ``ticker`` message; ValueError without a price."""
    return reference_price(payload, product_id, received_s, bid_key="best_bid", ask_key="best_ask")


def subscribe_message(product_id: str) -> dict[str, object]:
    """What the client sends first: the ``ticker`` channel of one product."""
    return {"type": "subscribe", "product_ids": [product_id], "channels": ["ticker"]}


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``initial_s`` doubling up to ``max_s``, each times a random factor in
    [1 - ``jitter``, 1] so that many clients do not reconnect in step."""

    initial_s: float = 0.5
    max_s: float = 30.0
    jitter: float = 0.5

    def delay_s(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before reconnect number ``attempt`` (1 for the first)."""
        base = min(self.max_s, self.initial_s * 2 ** max(0, attempt - 1))
        return base * (1 - self.jitter * rand())


class _Resync(Exception):
    """Drop the connection and subscribe afresh (a sequence break, an error message)."""


class CoinbaseStream:
    """Streams one Coinbase product's ticker on a daemon thread; a reference feed."""

    def __init__(
        self,
        truex_symbol: str,
        *,
        url: str = DEFAULT_WS_URL,
        symbol_map: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        proxy: str | Literal[True] | None = True,
    ) -> None:
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"url: {url!r} is not a ws(s) URL")
        self.name = f"{SOURCE_NAME}-ws"
        self.truex_symbol = truex_symbol
        self.product_id = coinbase_product(truex_symbol, symbol_map)
        self.url = url
        self.backoff = backoff or Backoff()
        self.open_timeout_s = open_timeout_s
        self.proxy = proxy  # websockets' default: the environment's proxy settings
        self._clock = clock
        self._latest: ReferencePrice | None = None
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()
        self._last_sequence: int | None = None
        # Counters, written by the stream's thread only (read anywhere, for status).
        self.connects = 0
        self.disconnects = 0
        self.subscribed = 0  # subscription acknowledgements
        self.tickers = 0  # good ticker messages
        self.sequence_breaks = 0
        self.bad_messages = 0
        self.errors = 0  # error messages from the server
        self.connected = False
        self.last_error: str | None = None

    # ---------------------------------------------------------------- what the trading side reads

    def latest(self) -> ReferencePrice | None:
        """The most recent good ticker (None before the first); never blocks."""
        return self._latest

    def age_s(self) -> float | None:
        """Seconds since the latest ticker was received (None before the first)."""
        latest = self._latest
        return None if latest is None else self._clock() - latest.timestamp_s

    def set_listener(self, listener: Listener | None) -> None:
        """Called on the stream's thread after a ticker changed the price."""
        self._listener = listener

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start streaming on a daemon thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._thread_main, name=f"coinbase-ws-{self.product_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the connection, end the loop and wait up to ``timeout_s`` for the thread."""
        self._stopping.set()
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(self._cancel_main)
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("coinbase stream thread %s did not stop in time", thread.name)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---------------------------------------------------------------- the stream's thread

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._main = loop.create_task(self._run())
        self._loop = loop  # after the task exists: stop() cancels it through the loop
        try:
            loop.run_until_complete(self._main)
        except asyncio.CancelledError:
            pass
        except Exception:  # the thread ends; fair value sees the price age
            log.exception("coinbase stream %s crashed", self.product_id)
        finally:
            self.connected = False
            loop.close()

    def _cancel_main(self) -> None:
        self._main.cancel()

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            delivered = await self._session()
            if self._stopping.is_set():
                return
            attempt = 1 if delivered else attempt + 1
            delay = self.backoff.delay_s(attempt)
            log.info("coinbase stream %s: reconnecting in %.2f s", self.product_id, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One connection, subscribe and read until it ends; whether it delivered a price."""
        delivered = False
        ended = "connection closed by the server"
        try:
            async with connect(
                self.url,
                open_timeout=self.open_timeout_s,
                max_size=_MAX_MESSAGE_BYTES,
                proxy=self.proxy,
                compression=None,
            ) as ws:
                self.connects += 1
                self.connected = True
                self._last_sequence = None
                log.info("coinbase stream %s: connected to %s", self.product_id, self.url)
                await ws.send(json.dumps(subscribe_message(self.product_id)))
                async for raw in ws:
                    if self._on_message(raw):
                        delivered = True
        except _Resync as why:
            ended = f"resync: {why}"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # refused, reset, timeout, bad handshake: reconnect
            ended = f"{type(exc).__name__}: {exc}"
        finally:
            if self.connected:
                self.disconnects += 1
            self.connected = False
        if not self._stopping.is_set():
            self.last_error = ended
            log.warning("coinbase stream %s: %s", self.product_id, ended)
        return delivered

    def _on_message(self, raw: str | bytes) -> bool:
        """Apply one message; whether it was a good ticker. Raises :class:`_Resync`."""
        received_s = self._clock()
        try:
            payload = json.loads(raw)
        except ValueError:
            self.bad_messages += 1
            return False
        if not isinstance(payload, dict):
            self.bad_messages += 1
            return False
        kind = payload.get("type")
        if kind == "ticker" and payload.get("product_id") == self.product_id:
            return self._on_ticker(payload, received_s)
        if kind == "subscriptions":
            self.subscribed += 1
            return False
        if kind == "error":
            self.errors += 1
            raise _Resync(f"server error: {payload.get('message')} {payload.get('reason', '')}")
        return False  # heartbeats, other products, message types added later: ignored

    def _on_ticker(self, payload: dict[str, object], received_s: float) -> bool:
        sequence = payload.get("sequence")
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            last = self._last_sequence
            if last is not None and sequence <= last:
                self.sequence_breaks += 1
                raise _Resync(f"sequence {sequence} after {last}")
            self._last_sequence = sequence
        try:
            observation = parse_ws_ticker(payload, self.product_id, received_s)
        except ValueError:
            self.bad_messages += 1
            return False
        self.tickers += 1
        previous, self._latest = self._latest, observation
        if previous is None or previous.price != observation.price:
            self._notify()
        return True

    def _notify(self) -> None:
        listener = self._listener
        if listener is None:
            return
        try:
            listener()
        except Exception:  # the trading side's problem, not the stream's
            log.exception("coinbase stream %s: the price listener failed", self.product_id)

    def __repr__(self) -> str:
        return f"CoinbaseStream({self.product_id!r}, url={self.url!r})"
