"""The simulated exchange's front door: one thread relaying each public port to QuickFIX.

Two things TrueX does cannot be had from QuickFIX's acceptor alone:

- **Floods.** ``ThreadedSocketAcceptor`` starts a thread for every accepted connection, and a
  connection that never sends a message keeps it for as long as the peer keeps the socket open
  (the engine only times out sessions, and such a connection has none). The gate holds
  connections itself, on one thread with a selector: a connection reaches the engine only once
  its first complete message is a Logon (35=A); one that sends anything else first, more than
  ``MAX_PRELOGON_BYTES`` without a whole message, or nothing within ``logon_deadline_s``, is
  closed. At most ``max_waiting`` connections wait for their Logon and ``max_relayed`` are
  relayed per port; more are closed at once.
- **A second Logon on a live connection.** QuickFIX drops the connection in
  ``Session::verify`` (``validLogonState``) before any callback runs, where TrueX answers
  ``35=3 | 58=Already authenticated cannot logon again`` and carries on (spec §1.5, §1.6). The
  gate replaces every later Logon from the client by a Heartbeat with the same header (so the
  engine counts its MsgSeqNum as TrueX's gateway would) whose TestReqID is
  :data:`SECOND_LOGON_MARKER` + that number; the venue application answers it with TrueX's
  reject (:meth:`truex_qf.sim.fix_acceptor.VenueApplication.fromAdmin`).

Everything else passes unchanged in both directions; when either side closes, so does the other
(after what the venue sent has been delivered). The gate imports no engine: it is plain sockets.
"""

from __future__ import annotations

import contextlib
import logging
import re
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import cast

log = logging.getLogger("truex_qf.sim")

SECOND_LOGON_MARKER = "TRUEX-SIM-SECOND-LOGON-"
MAX_PRELOGON_BYTES = 16 * 1024
MAX_BUFFERED_BYTES = 4 * 1024 * 1024  # per direction; reading pauses above it
_HEAD = re.compile(rb"8=[^\x01]{1,16}\x019=(\d{1,7})\x01")
_TRAILER_BYTES = len(b"10=000\x01")
SOH = b"\x01"


@dataclass(frozen=True)
class Route:
    """A public port and the engine's private port behind it."""

    listen_port: int
    upstream_port: int


@dataclass(eq=False)
class _Link:
    """One client connection and, once it has logged on, its connection to the engine."""

    route: Route
    client: socket.socket
    deadline: float
    upstream: socket.socket | None = None
    from_client: bytearray = field(default_factory=bytearray)  # not yet framed
    to_client: bytearray = field(default_factory=bytearray)
    to_upstream: bytearray = field(default_factory=bytearray)
    closing: bool = False  # the engine hung up: deliver to_client, then close


def split_frame(buffer: bytes | bytearray) -> int | None:
    """The length of the whole FIX message at the start of ``buffer``; 0 if the bytes there are
    not a FIX message; None if more bytes are needed to tell."""
    head = _HEAD.match(buffer)
    if head is None:
        if not buffer.startswith(b"8="[: len(buffer)]) or len(buffer) > 32:
            return 0
        return None
    end = head.end() + int(head.group(1)) + _TRAILER_BYTES
    if len(buffer) < end:
        return None
    if buffer[end - _TRAILER_BYTES : end - _TRAILER_BYTES + 3] != b"10=":
        return 0
    return end


def _fields(message: bytes) -> dict[int, bytes]:
    fields: dict[int, bytes] = {}
    for item in message.split(SOH):
        tag, _, value = item.partition(b"=")
        if tag.isdigit():
            fields.setdefault(int(tag), value)
    return fields


def is_logon(message: bytes) -> bool:
    """Whether one whole FIX message is a Logon (35 is its third field, after 8 and 9)."""
    return b"\x0135=A\x01" in message


def second_logon_heartbeat(logon: bytes) -> bytes:
    """The Heartbeat standing for a second Logon: its header and a marked TestReqID."""
    fields = _fields(logon)
    body = b"".join(
        b"%d=%s\x01" % (tag, fields.get(tag, b"")) for tag in (35, 49, 56, 34, 52)
    ).replace(b"35=A\x01", b"35=0\x01", 1)
    body += b"112=%s%s\x01" % (SECOND_LOGON_MARKER.encode(), fields.get(34, b""))
    head = b"8=%s\x019=%d\x01" % (fields.get(8, b"FIXT.1.1"), len(body))
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


class VenueGate:
    """Relays each :class:`Route` on one thread, holding back what never logs on."""

    def __init__(
        self,
        host: str,
        routes: list[Route],
        *,
        logon_deadline_s: float = 10.0,
        max_waiting: int = 64,
        max_relayed: int = 16,
    ) -> None:
        self.host = host
        self.routes = routes
        self.logon_deadline_s = logon_deadline_s
        self.max_waiting = max_waiting
        self.max_relayed = max_relayed
        self.refused = 0  # connections closed at once or before logging on, for tests
        self._selector = selectors.DefaultSelector()
        self._links: set[_Link] = set()
        self._listeners: list[socket.socket] = []
        self._wake_read, self._wake_write = socket.socketpair()
        self._stopping = False
        self._counts = (0, 0)
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Bind every public port (OSError if one is taken), then serve on a daemon thread."""
        try:
            for route in self.routes:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._listeners.append(listener)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((self.host, route.listen_port))
                listener.listen(128)
                listener.setblocking(False)
                self._selector.register(listener, selectors.EVENT_READ, route)
        except OSError:
            self._close_all()
            raise
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._serve, name="venue-gate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close every connection and listener; returns when the thread has ended."""
        self._stopping = True
        self._wake_write.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close_all()

    def connection_counts(self) -> tuple[int, int]:
        """(waiting for a Logon, relayed to the engine), for tests and operators: as the gate's
        thread last counted them (other threads must not walk its connections)."""
        return self._counts

    def _count(self) -> tuple[int, int]:
        relayed = sum(1 for link in self._links if link.upstream is not None)
        return len(self._links) - relayed, relayed

    def _close_all(self) -> None:
        for link in list(self._links):
            self._drop(link)
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        self._wake_read.close()
        self._wake_write.close()
        self._selector.close()

    # ------------------------------------------------------------------ the loop

    def _serve(self) -> None:
        while not self._stopping:
            try:
                events = self._selector.select(timeout=self._next_timeout())
                for key, mask in events:
                    if key.data is None:
                        self._wake_read.recv(64)
                    elif isinstance(key.data, Route):
                        # only the listening sockets are registered with a Route
                        self._accept(cast(socket.socket, key.fileobj), key.data)
                    else:
                        link, from_client = key.data
                        if link in self._links:
                            self._service(link, from_client, mask)
                self._expire()
                self._counts = self._count()
            except Exception:  # one bad connection must not stop the gate
                log.exception("venue gate: error; carrying on")

    def _next_timeout(self) -> float:
        waiting = [link.deadline for link in self._links if link.upstream is None]
        if not waiting:
            return 1.0
        return max(0.0, min(1.0, min(waiting) - time.monotonic()))

    def _expire(self) -> None:
        now = time.monotonic()
        for link in [link for link in self._links if link.upstream is None]:
            if link.deadline <= now:
                self.refused += 1
                self._drop(link)

    def _accept(self, listener: socket.socket, route: Route) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                log.exception("venue gate: accept failed")
                return
            waiting, _ = self._count()
            if waiting >= self.max_waiting:
                self.refused += 1
                client.close()
                continue
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(route, client, time.monotonic() + self.logon_deadline_s)
            self._links.add(link)
            self._selector.register(client, selectors.EVENT_READ, (link, True))

    def _service(self, link: _Link, on_client: bool, mask: int) -> None:
        own = link.client if on_client else link.upstream
        assert own is not None
        if mask & selectors.EVENT_WRITE:
            pending = link.to_client if on_client else link.to_upstream
            if not self._flush(own, pending):
                self._drop(link)
                return
        if mask & selectors.EVENT_READ:
            try:
                data = own.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = b""
            if data == b"":
                if on_client or not link.to_client:
                    self._drop(link)
                    return
                link.closing = True  # deliver the venue's last words first
            elif data:
                if on_client:
                    self._from_client(link, data)
                else:
                    link.to_client += data
                    if not self._flush(link.client, link.to_client):
                        self._drop(link)
                        return
        if link in self._links:
            if link.closing and not link.to_client:
                self._drop(link)
            else:
                self._update_interest(link)

    def _from_client(self, link: _Link, data: bytes) -> None:
        link.from_client += data
        while link.from_client:
            size = split_frame(link.from_client)
            if size is None:
                if link.upstream is None and len(link.from_client) > MAX_PRELOGON_BYTES:
                    self.refused += 1
                    self._drop(link)
                return
            if size == 0:  # not FIX: the engine skips it or hangs up, as it likes
                if link.upstream is None:
                    self.refused += 1
                    self._drop(link)
                    return
                link.to_upstream += bytes(link.from_client)
                link.from_client.clear()
                break
            message = bytes(link.from_client[:size])
            del link.from_client[:size]
            if link.upstream is None:
                if not is_logon(message) or not self._connect_upstream(link):
                    self.refused += 1
                    self._drop(link)
                    return
                link.to_upstream += message
            elif is_logon(message):
                log.info("venue gate: a second Logon on a live connection")
                link.to_upstream += second_logon_heartbeat(message)
            else:
                link.to_upstream += message
        if link.upstream is not None and not self._flush(link.upstream, link.to_upstream):
            self._drop(link)

    def _connect_upstream(self, link: _Link) -> bool:
        _, relayed = self._count()
        if relayed >= self.max_relayed:
            return False
        try:
            upstream = socket.create_connection(("127.0.0.1", link.route.upstream_port), timeout=2)
        except OSError:
            log.warning("venue gate: the engine's port %d refused", link.route.upstream_port)
            return False
        upstream.setblocking(False)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link.upstream = upstream
        self._selector.register(upstream, selectors.EVENT_READ, (link, False))
        return True

    @staticmethod
    def _flush(sock: socket.socket, pending: bytearray) -> bool:
        """Send what the socket takes now; False if the peer is gone."""
        try:
            while pending:
                sent = sock.send(pending)
                del pending[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return False
        return True

    def _update_interest(self, link: _Link) -> None:
        """Write interest where bytes wait; read interest unless the other side's buffer is
        full (back pressure) or the engine has hung up."""
        client_events = selectors.EVENT_WRITE if link.to_client else 0
        if not link.closing and len(link.to_upstream) < MAX_BUFFERED_BYTES:
            client_events |= selectors.EVENT_READ
        self._set_events(link.client, client_events, (link, True))
        if link.upstream is not None:
            upstream_events = selectors.EVENT_WRITE if link.to_upstream else 0
            if not link.closing and len(link.to_client) < MAX_BUFFERED_BYTES:
                upstream_events |= selectors.EVENT_READ
            self._set_events(link.upstream, upstream_events, (link, False))

    def _set_events(self, sock: socket.socket, events: int, data: object) -> None:
        key = self._selector.get_map().get(sock)
        if not events:
            if key is not None:
                self._selector.unregister(sock)
        elif key is None:
            self._selector.register(sock, events, data)
        elif key.events != events:
            self._selector.modify(sock, events, data)

    def _drop(self, link: _Link) -> None:
        self._links.discard(link)
        for sock in (link.client, link.upstream):
            if sock is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()
