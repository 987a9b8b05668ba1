"""A real websocket server on 127.0.0.1 (a free port) playing a venue's public feed.

It runs on its own thread and asyncio loop. Every connection must send its subscribe message
first; the server records it, answers with what ``acknowledge(request)`` returns (the venue's
subscription acknowledgement), then sends what the test pushes with :meth:`LocalFeed.send`
until the test :meth:`LocalFeed.drop`\\ s the connection. Loopback only.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from websockets.asyncio.server import Server, ServerConnection, serve

WAIT_S = 10.0
T = TypeVar("T")
Acknowledge = Callable[[Any], list[object]]


class LocalFeed:
    """The server; :meth:`start` returns its ``ws://`` URL, :meth:`stop` ends it."""

    def __init__(self, acknowledge: Acknowledge) -> None:
        self.acknowledge = acknowledge
        self.subscribes: list[object] = []
        self.connections: list[ServerConnection] = []
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> str:
        self._thread.start()
        self._server = self._call(self._serve())
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def _serve(self) -> Server:
        return await serve(self._handle, "127.0.0.1", 0, compression=None)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(WAIT_S)

    async def _handle(self, ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        self.subscribes.append(request)
        for message in self.acknowledge(request):
            await ws.send(json.dumps(message))
        self.connections.append(ws)
        await ws.wait_closed()

    def send(self, message: object) -> None:
        """Send one JSON message on the latest connection."""
        self._call(self.connections[-1].send(json.dumps(message)))

    def drop(self) -> None:
        """End the latest connection from the server's side, as venues do now and then."""
        self._call(self.connections[-1].close(code=1001, reason="going away"))

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._call(self._server.wait_closed())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT_S)
        self._loop.close()
