"""The FIX-aware proxy (truex_qf.ops.proxy) on a thread of its own, for tests that are not
async: the product runs it in the foreground (``truex-qf proxy``) and needs no such wrapper."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future

from truex_qf.domain.errors import TruexError
from truex_qf.ops.proxy import ProxyConfig, ProxyServer

log = logging.getLogger("truex_qf.ops.proxy")


class ProxyThread:
    """The proxy on its own thread."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self._stop_event = threading.Event()
        self._started: Future[dict[str, int]] = Future()
        self._thread = threading.Thread(target=self._run, name="truex-proxy", daemon=True)
        self.ports: dict[str, int] = {}

    def start(self, timeout_s: float = 10.0) -> dict[str, int]:
        """Start and wait until every listener is bound; returns the ports by listener name."""
        self._thread.start()
        try:
            self.ports = self._started.result(timeout_s)
        except TimeoutError:
            self.stop()
            raise TruexError(f"proxy did not start within {timeout_s:g} s") from None
        return self.ports

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close the listeners and every relayed connection, then join the thread."""
        self._stop_event.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception:
            if self._started.exception() is None:  # a start error already reached start()
                log.exception("proxy stopped on an unexpected error")

    async def _serve(self) -> None:
        """As ``truex-qf proxy`` serves, telling :meth:`start` the bound ports (or the error)."""
        server = ProxyServer(self.config)
        try:
            ports = await server.start()
        except BaseException as exc:
            self._started.set_exception(exc)
            raise
        self._started.set_result(ports)
        await server.serve_until(self._stop_event)


def start_in_thread(config: ProxyConfig, timeout_s: float = 10.0) -> ProxyThread:
    """A started :class:`ProxyThread`; a bind failure raises here, in the caller's thread."""
    proxy = ProxyThread(config)
    proxy.start(timeout_s)
    return proxy
