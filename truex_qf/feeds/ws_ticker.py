"""What every websocket ticker feed shares: its thread and loop, reconnects, the latest price.

A :class:`WebsocketTicker` runs one daemon thread with its own asyncio loop: connect,
send the venue's subscribe message, read until the connection ends, wait an exponential
backoff with jitter (reset once a connection delivered a price), and again. A subclass says
which venue it is (``venue``, ``default_url``), which of the venue's products a TrueX symbol
is (:meth:`WebsocketTicker.venue_product`), what to send
(:meth:`WebsocketTicker.subscribe_message`) and how to read one decoded message
(:meth:`WebsocketTicker.read`): a price, nothing, or :class:`Resync` (drop the connection and
subscribe afresh, e.g. on a sequence break or an error message from the venue). The
constructor is the same for every venue, and only here.

Each price is stamped with our receive time on the trading clock and swapped in as one
attribute (the trading side reads it without a lock); the listener is told, on this thread,
when the price changed. Nothing raises into the trading side.
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
from decimal import Decimal
from typing import Any, Literal

from websockets.asyncio.client import connect

from truex_qf.feeds.latest import LatestReference
from truex_qf.strategy.reference import Listener, ReferencePrice

log = logging.getLogger(__name__)

_MAX_MESSAGE_BYTES = 256 * 1024
CLOSED_BY_SERVER = "connection closed by the server"


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


class Resync(Exception):
    """Drop the connection and subscribe afresh (a sequence break, an error message)."""


class WebsocketTicker:
    """One venue product's ticker over a websocket, on a daemon thread; a reference feed.

    ``truex_symbol`` is the TrueX symbol priced; the venue's product (``product_id``) is
    :meth:`venue_product` of it, through ``symbol_map`` (None: the venue's default map).
    ``url``: the venue's websocket (None: ``default_url``); ``proxy``: websockets' proxy
    setting (True: the environment's).
    """

    venue = "websocket"
    default_url = ""

    def __init__(
        self,
        truex_symbol: str,
        *,
        url: str | None = None,
        symbol_map: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        proxy: str | Literal[True] | None = True,
    ) -> None:
        url = url or self.default_url
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"url: {url!r} is not a ws(s) URL")
        self.name = f"{self.venue}-ws"
        self.truex_symbol = truex_symbol
        self.product_id = self.venue_product(truex_symbol, symbol_map)
        self.url = url
        self.backoff = backoff or Backoff()
        self.open_timeout_s = open_timeout_s
        self.proxy = proxy  # websockets' default: the environment's proxy settings
        self._clock = clock
        self._prices = LatestReference(f"{self.name} {self.product_id}")
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._stopping = threading.Event()
        # Counters, written by the feed's thread only (read anywhere, for status).
        self.connects = 0
        self.disconnects = 0
        self.subscribed = 0  # subscription acknowledgements
        self.tickers = 0  # good ticker messages
        self.sequence_breaks = 0
        self.bad_messages = 0
        self.errors = 0  # error messages from the venue
        self.connected = False
        self.last_error: str | None = None

    # ---------------------------------------------------------------- what a venue defines

    def venue_product(self, truex_symbol: str, symbol_map: Mapping[str, str] | None) -> str:
        """The venue's product for a TrueX symbol (called once, by the constructor)."""
        raise NotImplementedError

    def subscribe_message(self) -> dict[str, object]:
        """What the client sends first on every connection."""
        raise NotImplementedError

    def on_connected(self) -> None:
        """A new connection: forget per-connection state (the last sequence)."""

    def read(self, payload: dict[str, Any], received_s: float) -> ReferencePrice | None:
        """One decoded message: a price, None (acks, heartbeats...) or raise :class:`Resync`;
        ValueError counts it as a bad message."""
        raise NotImplementedError

    # ---------------------------------------------------------------- what the trading side reads

    def latest(self) -> ReferencePrice | None:
        """The most recent good ticker (None before the first); never blocks."""
        return self._prices.value

    def age_s(self) -> float | None:
        """Seconds since the latest ticker was received (None before the first)."""
        latest = self._prices.value
        return None if latest is None else self._clock() - latest.timestamp_s

    def set_listener(self, listener: Listener | None) -> None:
        """Called on the feed's thread after a ticker changed the price."""
        self._prices.listener = listener

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start streaming on a daemon thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._thread_main, name=f"{self.name}-{self.product_id}", daemon=True
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
                log.warning("%s thread %s did not stop in time", self.name, thread.name)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---------------------------------------------------------------- the feed's thread

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._main = loop.create_task(self._run())
        self._loop = loop  # after the task exists: stop() cancels it through the loop
        try:
            loop.run_until_complete(self._main)
        except asyncio.CancelledError:
            pass
        except Exception:  # the thread ends; fair value sees the price age
            log.exception("%s %s crashed", self.name, self.product_id)
        finally:
            self.connected = False
            loop.close()

    def _cancel_main(self) -> None:
        if self._main is not None:
            self._main.cancel()

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            delivered = await self._session()
            if self._stopping.is_set():
                return
            attempt = 1 if delivered else attempt + 1
            delay = self.backoff.delay_s(attempt)
            log.info("%s %s: reconnecting in %.2f s", self.name, self.product_id, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One connection, subscribe and read until it ends; whether it delivered a price."""
        delivered = False
        ended = CLOSED_BY_SERVER
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
                self.on_connected()
                log.info("%s %s: connected to %s", self.name, self.product_id, self.url)
                await ws.send(json.dumps(self.subscribe_message()))
                async for raw in ws:
                    if self._on_message(raw):
                        delivered = True
        except Resync as why:
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
            log.warning("%s %s: %s", self.name, self.product_id, ended)
        return delivered

    def _on_message(self, raw: str | bytes) -> bool:
        """Apply one message; whether it was a good ticker. Raises :class:`Resync`."""
        received_s = self._clock()
        try:
            payload = json.loads(raw, parse_float=Decimal)
        except ValueError:
            self.bad_messages += 1
            return False
        if not isinstance(payload, dict):
            self.bad_messages += 1
            return False
        try:
            observation = self.read(payload, received_s)
        except ValueError:
            self.bad_messages += 1
            return False
        if observation is None:
            return False
        self.tickers += 1
        self._prices.publish(observation)
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.product_id!r}, url={self.url!r})"
