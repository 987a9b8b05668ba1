"""A simulated reference venue: Coinbase's public websocket ``ticker`` feed on loopback.

Issue 19 asks the simulator to serve a reference that the TrueX book follows with a lag, so
the demo can show what quoting off the TrueX book alone costs. This is its first part: a
websocket server speaking the Coinbase Exchange protocol that
:class:`~truex_qf.feeds.coinbase_ws.CoinbaseStream` reads (subscribe, ``subscriptions``
acknowledgement, ``ticker`` messages with an increasing ``sequence``), whose price is a
random walk moved by :meth:`SimulatedReference.step` or set by :meth:`SimulatedReference.set`.
The price is published to every subscriber of its product as it changes.

Its own thread and asyncio loop; the walk's state is read by the simulator's flow through
:attr:`SimulatedReference.mid` (one attribute, swapped whole).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from websockets.asyncio.server import Server, ServerConnection, serve

_CENT = Decimal("0.01")
_WAIT_S = 10.0


class SimulatedReference:
    """One product's reference price, served as Coinbase's ticker channel."""

    def __init__(
        self,
        product_id: str,
        mid: Decimal,
        *,
        half_spread: Decimal = Decimal("0.5"),
        step_bps: Decimal = Decimal(1),
        seed: int | None = None,
    ) -> None:
        if mid <= 0:
            raise ValueError("mid: must be positive")
        self.product_id = product_id
        self.mid = mid
        self.half_spread = half_spread
        self.step_bps = step_bps
        self.sequence = 0
        self.subscribers: set[ServerConnection] = set()
        self._random = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sim-reference", daemon=True
        )
        self.url: str | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen (port 0: a free one) and return the ``ws://`` URL."""
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._serve(host, port), self._loop).result(
            _WAIT_S
        )
        bound = self._server.sockets[0].getsockname()
        self.url = f"ws://{host}:{bound[1]}"
        return self.url

    async def _serve(self, host: str, port: int) -> Server:
        return await serve(self._handle, host, port, compression=None)

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            request = json.loads(await ws.recv())
        except ValueError:
            return
        products = request.get("product_ids", []) if isinstance(request, dict) else []
        await ws.send(
            json.dumps(
                {"type": "subscriptions", "channels": [{"name": "ticker", "product_ids": products}]}
            )
        )
        if self.product_id not in products:
            return
        # The current price first, then the moves: added after it, so no later move can
        # overtake it (sequences stay increasing on every connection).
        await ws.send(json.dumps(self._ticker()))
        self.subscribers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            self.subscribers.discard(ws)

    def _ticker(self) -> dict[str, object]:
        self.sequence += 1
        mid = self.mid
        return {
            "type": "ticker",
            "sequence": self.sequence,
            "product_id": self.product_id,
            "price": str(mid),
            "best_bid": str(mid - self.half_spread),
            "best_ask": str(mid + self.half_spread),
            "side": "buy",
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }

    def set(self, mid: Decimal) -> None:
        """Move the price to ``mid`` and publish it to every subscriber."""
        if mid <= 0:
            raise ValueError("mid: must be positive")
        self.mid = mid.quantize(_CENT, ROUND_HALF_EVEN)
        asyncio.run_coroutine_threadsafe(self._publish(), self._loop).result(_WAIT_S)

    def step(self) -> Decimal:
        """One random-walk step of ``step_bps`` up or down; the new mid."""
        sign = 1 if self._random.random() < 0.5 else -1
        self.set(self.mid * (1 + sign * self.step_bps / Decimal(10000)))
        return self.mid

    async def _publish(self) -> None:
        message = json.dumps(self._ticker())
        for ws in list(self.subscribers):
            try:
                await ws.send(message)
            except Exception:  # a subscriber that went away: its handler forgets it
                self.subscribers.discard(ws)

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            asyncio.run_coroutine_threadsafe(self._server.wait_closed(), self._loop).result(_WAIT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_WAIT_S)
        self._loop.close()
