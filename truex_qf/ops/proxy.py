"""A FIX-aware TCP relay for deployments that reach TrueX through one host.

The JS integration reached production only through a local TCP proxy in front of a VPN (spec
§1.1, §1.5). This module is that proxy, with what the JS one lacked: it reads the first FIX
message of every inbound connection, which must be a Logon (35=A), routes the connection by
its TargetCompID(56) to the order-entry or market-data gateway, and then relays bytes both
ways unchanged, the first message included. A listener can also be bound to one upstream (one
port per gateway); it still waits for the Logon, but does not route by it.

Nobody can hold it shut (a few slow or silent clients used to take every slot):

* **Logon deadline**: a connection that has not sent a complete, valid Logon within
  ``logon_timeout_s`` of being accepted is closed, on every listener.
* **Slots per upstream**: each upstream has ``max_connections`` slots of its own, and the
  routing listener's not-yet-routed connections have their own pool too, so a flood on the
  order-entry port cannot refuse a market-data client (and the reverse).
* **Per source address**: at most ``max_connections_per_address`` connections from one IP.
* **Idle means no complete message**: after the Logon, the client's bytes are framed by
  BodyLength(9) (not parsed further); only a complete message restarts the idle timer, and a
  message begun must be complete within ``max_message_time_s``, so trickling one byte at a
  time extends nothing.

Each connection leaves an open line and a close line in the log: connection id, client
address, TargetCompID, upstream, bytes each way, duration and why it ended. The first Logon
is logged only after :func:`~truex_qf.fix.redaction.printable` has masked its signature(554);
nothing else read from a client is ever logged. A connection whose gateway sent nothing back
is logged as a warning: "proxy up but venue silent" was the JS team's hardest failure to see.

Everything runs on one asyncio loop: :class:`ProxyServer` for a caller that owns a loop,
:func:`run_forever` for the foreground command (``truex-qf proxy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from truex_qf.domain.errors import ConfigError
from truex_qf.fix.redaction import printable

log = logging.getLogger("truex_qf.ops.proxy")

SOH = b"\x01"
DEFAULT_ORDER_ENTRY_COMP_IDS = ("TRUEX_UAT_OE", "TRUEX_PROD_OE")
DEFAULT_MARKET_DATA_COMP_IDS = ("TRUEX_UAT_MD", "TRUEX_PROD_MD")
ROUTING_LISTENER = "routing"

_COMP_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_HOST = re.compile(r"[A-Za-z0-9_.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
_TRAILER = re.compile(rb"10=(\d{3})\x01")
_READ_CHUNK = 65536


@dataclass(frozen=True)
class Upstream:
    """A gateway address the proxy connects to."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ListenerSpec:
    """One listening port: routes by TargetCompID when ``upstream`` is None, else fixed.

    ``option`` is the command-line option the port came from, named in errors.
    """

    name: str
    port: int
    upstream: Upstream | None = None
    option: str = "--listen-port"


@dataclass(frozen=True)
class ProxyConfig:
    """Validated proxy settings; build it with :func:`build_proxy_config`.

    ``routes`` maps a TargetCompID to its gateway. Port 0 in a listener means "pick a free
    port"; the bound ports are reported by :attr:`ProxyServer.ports`.
    """

    listeners: tuple[ListenerSpec, ...]
    routes: Mapping[str, Upstream] = field(default_factory=dict)
    listen_host: str = "127.0.0.1"
    # Slots per upstream, and for the routing listener's connections before their Logon.
    max_connections: int = 16
    # Both sessions of a few instances behind one NAT or on the proxy's own host fit.
    max_connections_per_address: int = 8
    # FIX heartbeats every 30 s (spec §1.3), so 90 s without a complete message from the
    # client means a dead (or a trickling) session.
    idle_timeout_s: float | None = 90.0
    # A Logon is one small message sent at once; 10 s covers a slow TLS-less WAN link.
    logon_timeout_s: float = 10.0
    # Any later client message is small (an order is ~250 B) and sent in one write.
    max_message_time_s: float = 10.0
    connect_timeout_s: float = 10.0
    # Bytes allowed before BodyLength(9) is known: "8=FIXT.1.1|9=NNNN|" is under 20.
    max_header_bytes: int = 64
    # A signed Logon is about 300 bytes; anything far larger on a fresh socket is not FIX.
    max_first_message_bytes: int = 8192
    # Later client messages: orders, cancels, subscriptions; none comes near this.
    max_message_bytes: int = 65536


def parse_host_port(value: str, option: str) -> Upstream:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as an :class:`Upstream`, or a ConfigError."""
    host, sep, port_text = value.strip().rpartition(":")
    if not sep or not _HOST.fullmatch(host) or not port_text.isdigit():
        raise ConfigError(option, f"{value!r} is not HOST:PORT")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ConfigError(option, f"port {port} is outside 1-65535")
    return Upstream(host.strip("[]"), port)


def build_proxy_config(
    *,
    listen_port: int | None,
    oe: str | None,
    md: str | None,
    oe_listen_port: int | None = None,
    md_listen_port: int | None = None,
    max_connections: int = 16,
    idle_timeout_s: float | None = 90.0,
    listen_host: str = "127.0.0.1",
    oe_comp_ids: Iterable[str] = DEFAULT_ORDER_ENTRY_COMP_IDS,
    md_comp_ids: Iterable[str] = DEFAULT_MARKET_DATA_COMP_IDS,
    routes: Iterable[str] = (),
    logon_timeout_s: float = 10.0,
    connect_timeout_s: float = 10.0,
    max_connections_per_address: int = 8,
    max_message_time_s: float = 10.0,
) -> ProxyConfig:
    """Validate the command line's values into a :class:`ProxyConfig`.

    ``oe``/``md`` are ``HOST:PORT`` of the gateways; the routing listener on ``listen_port``
    sends TargetCompIDs ``oe_comp_ids`` to ``oe`` and ``md_comp_ids`` to ``md``. ``routes``
    adds ``COMPID=HOST:PORT`` entries (option ``--route``). ``oe_listen_port`` and
    ``md_listen_port`` add fixed listeners that relay to one gateway without inspecting.
    Every error is one line naming the option.
    """
    if not oe and not md and not list(routes):
        raise ConfigError("--oe/--md", "no upstream: give --oe HOST:PORT and/or --md HOST:PORT")
    oe_upstream = parse_host_port(oe, "--oe") if oe else None
    md_upstream = parse_host_port(md, "--md") if md else None

    table: dict[str, Upstream] = {}

    def add_route(comp_id: str, upstream: Upstream, option: str) -> None:
        if not _COMP_ID.fullmatch(comp_id):
            raise ConfigError(option, f"{comp_id!r} is not a CompID (letters, digits, _ . -)")
        if comp_id in table:
            raise ConfigError(option, f"TargetCompID {comp_id} is routed twice")
        table[comp_id] = upstream

    if oe_upstream is not None:
        for comp_id in oe_comp_ids:
            add_route(comp_id, oe_upstream, "--oe-comp-id")
    if md_upstream is not None:
        for comp_id in md_comp_ids:
            add_route(comp_id, md_upstream, "--md-comp-id")
    for entry in routes:
        comp_id, sep, address = entry.partition("=")
        if not sep:
            raise ConfigError("--route", f"{entry!r} is not COMPID=HOST:PORT")
        add_route(comp_id.strip(), parse_host_port(address, "--route"), "--route")

    listeners: list[ListenerSpec] = []
    if listen_port is not None:
        _check_listen_port(listen_port, "--listen-port")
        if not table:
            raise ConfigError("--listen-port", "no TargetCompID is routed to any upstream")
        listeners.append(ListenerSpec(ROUTING_LISTENER, listen_port))
    for name, port, upstream, option, needs in (
        ("oe", oe_listen_port, oe_upstream, "--oe-listen-port", "--oe"),
        ("md", md_listen_port, md_upstream, "--md-listen-port", "--md"),
    ):
        if port is None:
            continue
        _check_listen_port(port, option)
        if upstream is None:
            raise ConfigError(option, f"needs {needs} HOST:PORT")
        listeners.append(ListenerSpec(name, port, upstream, option))
    if not listeners:
        raise ConfigError("--listen-port", "no listener: give --listen-port or a fixed port")
    seen_ports: dict[int, str] = {}
    for spec in listeners:
        if spec.port and spec.port in seen_ports:
            raise ConfigError(spec.option, f"port {spec.port} is also {seen_ports[spec.port]}")
        seen_ports[spec.port] = spec.option

    if max_connections < 1:
        raise ConfigError("--max-connections", "must be at least 1")
    if max_connections_per_address < 1:
        raise ConfigError("--max-per-address", "must be at least 1")
    for option, seconds in (
        ("--idle-timeout", idle_timeout_s),
        ("--logon-timeout", logon_timeout_s),
        ("--max-message-time", max_message_time_s),
        ("--connect-timeout", connect_timeout_s),
    ):
        # not "<= 0": NaN must fail too, and infinity would never fire
        if seconds is not None and not 0 < seconds < 1e6:
            raise ConfigError(option, "must be a positive number of seconds")
    if not _HOST.fullmatch(listen_host):
        raise ConfigError("--listen-host", f"{listen_host!r} is not a host name or address")
    return ProxyConfig(
        listeners=tuple(listeners),
        routes=table,
        listen_host=listen_host.strip("[]"),
        max_connections=max_connections,
        max_connections_per_address=max_connections_per_address,
        idle_timeout_s=idle_timeout_s,
        logon_timeout_s=logon_timeout_s,
        max_message_time_s=max_message_time_s,
        connect_timeout_s=connect_timeout_s,
    )


def _check_listen_port(port: int, option: str) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(option, f"port {port} is outside 0-65535 (0 picks a free port)")


# --- Framing the first message ---------------------------------------------------------------


class FramingError(ValueError):
    """The bytes a client sent first are not a FIX message; the text is safe to log."""


@dataclass(frozen=True)
class FirstMessage:
    """The first complete FIX message on a connection and what routing needs from it."""

    raw: bytes
    msg_type: str | None
    target_comp_id: str | None


def frame_first_message(
    buffer: bytes, max_header_bytes: int = 64, max_message_bytes: int = 8192
) -> FirstMessage | None:
    """The complete message at the start of ``buffer``; None while more bytes are needed.

    Framing follows BodyLength(9), as a FIX engine does: ``8=...|9=N|`` then N body bytes
    then ``10=ddd|`` with the checksum verified. Bytes that cannot become a FIX message raise
    :class:`FramingError` as early as possible (an HTTP request fails on its first byte).
    """
    header = _frame_header(buffer, max_header_bytes, max_message_bytes)
    if header is None:
        return None
    body_start, body_length = header
    total = body_start + body_length + 7  # 7 = len("10=ddd|")
    if len(buffer) < total:
        return None
    body_end = body_start + body_length
    trailer = _TRAILER.fullmatch(buffer[body_end:total])
    if trailer is None or buffer[body_end - 1 : body_end] != SOH:
        raise FramingError("BodyLength(9) does not end where CheckSum(10) starts")
    if sum(buffer[:body_end]) % 256 != int(trailer.group(1)):
        raise FramingError("CheckSum(10) does not match")
    fields = _fields(buffer[body_start : body_end - 1])
    return FirstMessage(raw=buffer[:total], msg_type=fields.get(35), target_comp_id=fields.get(56))


def _frame_header(
    buffer: bytes, max_header_bytes: int, max_message_bytes: int
) -> tuple[int, int] | None:
    """``(body start, BodyLength)`` of the message at the start of ``buffer``; None if cut.

    Raises :class:`FramingError` as soon as the bytes cannot be a FIX header.
    """
    begin_end = buffer.find(SOH, 0, max_header_bytes + 1)
    if begin_end < 0:
        _check_prefix(buffer[:max_header_bytes], b"8=", "does not start with BeginString(8)")
        if len(buffer) > max_header_bytes:
            raise FramingError(f"no BeginString(8) within {max_header_bytes} bytes")
        return None
    _check_prefix(buffer[:begin_end], b"8=", "does not start with BeginString(8)")
    if begin_end < 3:
        raise FramingError("empty BeginString(8)")
    length_start = begin_end + 1
    length_end = buffer.find(SOH, length_start, max_header_bytes + 1)
    length_field = (
        buffer[length_start : max_header_bytes + 1]
        if length_end < 0
        else buffer[length_start:length_end]
    )
    _check_prefix(length_field, b"9=", "BodyLength(9) does not follow BeginString(8)")
    digits = length_field[2:]
    if digits and not digits.isdigit():
        raise FramingError("BodyLength(9) is not a number")
    header_bytes = min(len(buffer), max_header_bytes + 1) if length_end < 0 else length_end + 1
    if header_bytes > max_header_bytes:
        raise FramingError(f"no BodyLength(9) within {max_header_bytes} bytes")
    if length_end < 0:
        return None
    if not digits:
        raise FramingError("empty BodyLength(9)")
    body_length = int(digits)
    if body_length == 0 or length_end + 1 + body_length + 7 > max_message_bytes:
        raise FramingError(f"BodyLength(9) {body_length} is out of range")
    return length_end + 1, body_length


class MessageClock:
    """Where a byte stream is in its FIX framing: when the message being received began.

    Fed every chunk the client sends after its Logon, it finds message boundaries from
    BodyLength(9) alone (nothing else is parsed or kept), so the relay can tell a client that
    completes messages from one that trickles bytes. A stream that stops looking like FIX
    raises :class:`FramingError`.
    """

    def __init__(self, max_header_bytes: int = 64, max_message_bytes: int = 65536) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_message_bytes = max_message_bytes
        self.partial_since: float | None = None  # monotonic time the current message began
        self._head = b""  # the current message's bytes while its header is incomplete
        self._remaining = 0  # bytes left of the current message once its length is known

    def feed(self, data: bytes, now: float) -> int:
        """Account for ``data``; returns how many messages it completed."""
        completed = 0
        position = 0
        while position < len(data):
            if self._remaining:
                taken = min(self._remaining, len(data) - position)
                self._remaining -= taken
                position += taken
                if not self._remaining:
                    completed += 1
                    self.partial_since = None
                continue
            if self.partial_since is None:
                self.partial_since = now
            # At most one header's worth is looked at: the rest of a large chunk is body.
            window = self._head + data[position : position + self.max_header_bytes + 1]
            header = _frame_header(window, self.max_header_bytes, self.max_message_bytes)
            if header is None:
                self._head = window
                position = len(data)
                continue
            body_start, body_length = header
            position += body_start - len(self._head)
            self._head = b""
            self._remaining = body_length + 7
        return completed


def _check_prefix(data: bytes, prefix: bytes, problem: str) -> None:
    if not (data.startswith(prefix) or prefix.startswith(data)):
        raise FramingError(problem)


def _fields(body: bytes) -> dict[int, str]:
    """First occurrence of each tag in ``body`` (header tags come first in valid FIX)."""
    fields: dict[int, str] = {}
    for item in body.split(SOH):
        tag, sep, value = item.partition(b"=")
        if not sep or not tag.isdigit():
            raise FramingError("a field is not TAG=VALUE")
        fields.setdefault(int(tag), value.decode("latin-1"))
    return fields


# --- The server ------------------------------------------------------------------------------


@dataclass
class _Connection:
    """What one relayed connection logs when it ends, and the slots it holds meanwhile."""

    conn_id: int
    listener: str
    client: str
    address: str = "?"
    pool: str = ""
    started: float = field(default_factory=time.monotonic)
    last_message: float = field(default_factory=time.monotonic)
    clock: MessageClock | None = None
    target_comp_id: str = "-"
    upstream: Upstream | None = None
    relaying: bool = False
    client_to_upstream_bytes: int = 0
    upstream_to_client_bytes: int = 0
    close_reason: str | None = None

    def end(self, reason: str) -> None:
        """Record why the connection ends; the first cause wins."""
        if self.close_reason is None:
            self.close_reason = reason


class _RelayFailed(Exception):
    """A read or write failed on one side; the connection ends."""


ROUTING_POOL = "routing (before Logon)"


class _Slots:
    """Open connections counted per pool (an upstream, or the routing listener's unrouted
    connections) and per client address; all on the loop's thread, so no lock."""

    def __init__(self, per_pool: int, per_address: int) -> None:
        self.per_pool = per_pool
        self.per_address = per_address
        self.pools: dict[str, int] = {}
        self.addresses: dict[str, int] = {}

    def refusal(self, pool: str, address: str) -> str | None:
        """Why a new connection from ``address`` into ``pool`` is refused; None: it is not."""
        if self.addresses.get(address, 0) >= self.per_address:
            return (
                f"{self.addresses[address]} connections open from {address} "
                f"(--max-per-address {self.per_address})"
            )
        if self.pools.get(pool, 0) >= self.per_pool:
            return (
                f"{self.pools[pool]} connections open for {pool} "
                f"(--max-connections {self.per_pool} per upstream)"
            )
        return None

    def take(self, pool: str, address: str) -> None:
        self.pools[pool] = self.pools.get(pool, 0) + 1
        self.addresses[address] = self.addresses.get(address, 0) + 1

    def move(self, source: str, target: str) -> bool:
        """One slot from ``source`` to ``target``; False (nothing moved) if ``target`` is full."""
        if self.pools.get(target, 0) >= self.per_pool:
            return False
        self._drop(self.pools, source)
        self.pools[target] = self.pools.get(target, 0) + 1
        return True

    def give_back(self, pool: str, address: str) -> None:
        self._drop(self.pools, pool)
        self._drop(self.addresses, address)

    @staticmethod
    def _drop(counts: dict[str, int], key: str) -> None:
        left = counts.get(key, 0) - 1
        if left > 0:
            counts[key] = left
        else:
            counts.pop(key, None)


class ProxyServer:
    """The relay on the running asyncio loop: ``await start()``, then ``await stop()`` (or
    ``await serve_until(stop_event)``, which stops it when the event is set)."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self._servers: list[asyncio.Server] = []
        self._ports: dict[str, int] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._conn_ids = itertools.count(1)
        self._slots = _Slots(config.max_connections, config.max_connections_per_address)

    @property
    def ports(self) -> dict[str, int]:
        """Bound port per listener name (``routing``, ``oe``, ``md``); empty before start."""
        return dict(self._ports)

    async def start(self) -> dict[str, int]:
        """Bind every listener; a port that cannot be bound is a ConfigError naming it."""
        host = self.config.listen_host
        try:
            for spec in self.config.listeners:
                try:
                    server = await asyncio.start_server(
                        functools.partial(self._accept, spec=spec), host, spec.port
                    )
                except OSError as exc:
                    reason = exc.strerror or str(exc)
                    raise ConfigError(
                        spec.option, f"cannot listen on {host}:{spec.port} ({reason})"
                    ) from None
                self._servers.append(server)
                self._ports[spec.name] = int(server.sockets[0].getsockname()[1])
                log.info(
                    "proxy listening on %s:%d: %s",
                    host,
                    self._ports[spec.name],
                    self._describe(spec),
                )
        except BaseException:
            await self.stop()
            raise
        return self.ports

    async def serve_until(self, stop_event: threading.Event) -> None:
        """Relay until ``stop_event`` is set (or this task is cancelled), then :meth:`stop`."""
        try:
            # Polling keeps Ctrl-C (which cancels this task) prompt and needs no helper thread.
            while not stop_event.is_set():
                await asyncio.sleep(0.1)
        finally:
            await self.stop()
            log.info("proxy stopped")

    async def stop(self) -> None:
        """Stop listening and close every relayed connection (logged as "proxy stopping")."""
        for server in self._servers:
            server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()

    def _describe(self, spec: ListenerSpec) -> str:
        if spec.upstream is not None:
            return f"{spec.name} listener, every connection to {spec.upstream}"
        by_upstream: dict[Upstream, list[str]] = {}
        for comp_id, upstream in self.config.routes.items():
            by_upstream.setdefault(upstream, []).append(comp_id)
        routes = "; ".join(f"{', '.join(ids)} -> {up}" for up, ids in by_upstream.items())
        return f"routing by TargetCompID(56): {routes}"

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, spec: ListenerSpec
    ) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        client = f"{address}:{peer[1]}" if peer else "?"
        conn_id = next(self._conn_ids)
        pool = _pool_of(spec.upstream) if spec.upstream is not None else ROUTING_POOL
        refusal = self._slots.refusal(pool, address)
        if refusal is not None:
            log.warning("conn %d from %s refused: %s", conn_id, client, refusal)
            await _close(writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._slots.take(pool, address)
        conn = _Connection(conn_id, spec.name, client, address=address, pool=pool)
        log.info("conn %d from %s on the %s listener", conn_id, client, spec.name)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            opened = await self._open_upstream(conn, spec, reader)
            if opened is not None:
                upstream_reader, upstream_writer, first_bytes, logon_size = opened
                await self._relay(
                    conn, reader, writer, upstream_reader, upstream_writer, first_bytes, logon_size
                )
        except asyncio.CancelledError:
            # Only stop() cancels these tasks. Not re-raised: asyncio.streams (3.11) logs a
            # cancelled connection task as an "Exception in callback" error.
            conn.end("proxy stopping")
        except Exception as exc:  # a bug must end one connection, never the server
            conn.end(f"proxy error ({type(exc).__name__})")
            log.exception("conn %d: unexpected error", conn_id)
        finally:
            self._handlers.discard(task)
            self._slots.give_back(conn.pool, address)
            await _close(writer)
            if upstream_writer is not None:
                await _close(upstream_writer)
            self._log_close(conn)

    async def _open_upstream(
        self, conn: _Connection, spec: ListenerSpec, reader: asyncio.StreamReader
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes, int] | None:
        """Wait for the Logon, pick the gateway (by its TargetCompID if routing), connect."""
        framed = await self._read_logon(conn, reader)
        if framed is None:
            return None
        first, first_bytes = framed
        if spec.upstream is not None:
            upstream = spec.upstream
            if first.target_comp_id is not None:
                conn.target_comp_id = _loggable(first.target_comp_id)
        else:
            if first.target_comp_id is None:
                conn.end("Logon has no TargetCompID(56)")
                return None
            conn.target_comp_id = _loggable(first.target_comp_id)
            routed = self.config.routes.get(first.target_comp_id)
            if routed is None:
                conn.end(f"unknown TargetCompID {conn.target_comp_id}")
                return None
            upstream = routed
            if not self._slots.move(conn.pool, _pool_of(upstream)):
                conn.end(
                    f"no free slot for upstream {upstream} "
                    f"(--max-connections {self.config.max_connections} per upstream)"
                )
                return None
            conn.pool = _pool_of(upstream)
        log.info(
            "conn %d TargetCompID %s -> %s; first message: %s",
            conn.conn_id,
            conn.target_comp_id,
            upstream,
            # redacted, and no raw line break from a client can start a forged log line
            printable(first.raw.decode("latin-1")).replace("\n", "\\n").replace("\r", "\\r"),
        )
        conn.upstream = upstream
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(upstream.host, upstream.port),
                self.config.connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            detail = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
            conn.end(f"upstream {upstream} unreachable ({detail})")
            return None
        return upstream_reader, upstream_writer, first_bytes, len(first.raw)

    async def _read_logon(
        self, conn: _Connection, reader: asyncio.StreamReader
    ) -> tuple[FirstMessage, bytes] | None:
        """The Logon and every byte read so far (it may run past the message), in time."""
        buffer = b""
        deadline_s = self.config.logon_timeout_s
        try:
            # From the accept: the deadline cannot be stretched by sending slowly.
            async with asyncio.timeout_at(_loop_time_of(conn.started) + deadline_s):
                while True:
                    first = frame_first_message(
                        buffer, self.config.max_header_bytes, self.config.max_first_message_bytes
                    )
                    if first is not None:
                        break
                    chunk = await reader.read(_READ_CHUNK)
                    if not chunk:
                        conn.end(f"client closed before a complete Logon ({len(buffer)} B)")
                        return None
                    buffer += chunk
        except TimeoutError:
            conn.end(f"no complete Logon within {deadline_s:g} s ({len(buffer)} B)")
            return None
        except FramingError as exc:
            conn.end(f"not FIX: {exc} ({len(buffer)} B)")  # never the bytes: may hold secrets
            return None
        except OSError as exc:
            conn.end(f"client error before the Logon ({type(exc).__name__})")
            return None
        if first.msg_type != "A":
            conn.end(f"first message is 35={_loggable(first.msg_type or '')}, not a Logon (35=A)")
            return None
        return first, buffer

    async def _relay(
        self,
        conn: _Connection,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
        first_bytes: bytes,
        logon_size: int,
    ) -> None:
        """Copy bytes both ways until both sides closed, one side failed, or a timeout.

        ``first_bytes`` (already read) start with the Logon, ``logon_size`` bytes long.
        """
        conn.relaying = True
        now = time.monotonic()
        conn.last_message = now
        conn.clock = MessageClock(self.config.max_header_bytes, self.config.max_message_bytes)
        try:
            conn.clock.feed(first_bytes[logon_size:], now)
        except FramingError as exc:
            conn.end(f"not FIX after the Logon: {exc}")
            return
        if first_bytes:
            try:
                upstream_writer.write(first_bytes)
                await upstream_writer.drain()
            except OSError as exc:
                conn.end(f"upstream error ({type(exc).__name__})")
                return
            conn.client_to_upstream_bytes = len(first_bytes)
        pumps = {
            asyncio.create_task(
                self._pump(conn, client_reader, upstream_writer, "client", "upstream")
            ),
            asyncio.create_task(
                self._pump(conn, upstream_reader, client_writer, "upstream", "client")
            ),
        }
        watchdog = asyncio.create_task(self._watch_idle(conn))
        pending: set[asyncio.Task[None]] = {*pumps, watchdog}
        try:
            while pumps & pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                # exception() on every finished task, so none is left "never retrieved"
                failed = [task for task in done if task.exception() is not None]
                if watchdog in done or failed:
                    break
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _pump(
        self,
        conn: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source: str,
        sink: str,
    ) -> None:
        """One direction; at end of stream the half-close is passed on to the other side."""
        clock = conn.clock if source == "client" else None
        while True:
            try:
                data = await reader.read(_READ_CHUNK)
            except OSError as exc:
                conn.end(f"{source} error ({type(exc).__name__})")
                raise _RelayFailed from None
            if not data:
                break
            if clock is not None:
                now = time.monotonic()
                try:
                    if clock.feed(data, now):
                        conn.last_message = now
                except FramingError as exc:
                    conn.end(f"not FIX after the Logon: {exc}")
                    raise _RelayFailed from None
                conn.client_to_upstream_bytes += len(data)
            else:
                conn.upstream_to_client_bytes += len(data)
            try:
                writer.write(data)
                await writer.drain()
            except OSError as exc:
                conn.end(f"{sink} error ({type(exc).__name__})")
                raise _RelayFailed from None
        conn.end(f"{source} closed")
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except OSError as exc:
            conn.end(f"{sink} error ({type(exc).__name__})")
            raise _RelayFailed from None

    async def _watch_idle(self, conn: _Connection) -> None:
        """End the relay when the client completes no message in time, however many bytes.

        Idle is counted from the client's last complete message, and a message begun must
        end within ``max_message_time_s``: neither is reset by a byte.
        """
        idle_s = self.config.idle_timeout_s
        message_s = self.config.max_message_time_s
        # The clock's state changes under us; a short look keeps both limits within a tick.
        tick_s = min(1.0, message_s / 4, idle_s / 4 if idle_s is not None else 1.0)
        while True:
            now = time.monotonic()
            partial_since = conn.clock.partial_since if conn.clock is not None else None
            if partial_since is not None and now - partial_since >= message_s:
                conn.end(f"a message still incomplete after {message_s:g} s")
                return
            if idle_s is not None and now - conn.last_message >= idle_s:
                conn.end(f"idle for {idle_s:g} s (no complete message from the client)")
                return
            await asyncio.sleep(tick_s)

    @staticmethod
    def _log_close(conn: _Connection) -> None:
        duration_s = time.monotonic() - conn.started
        silent = conn.relaying and conn.upstream_to_client_bytes == 0
        log.log(
            logging.INFO if conn.relaying and not silent else logging.WARNING,
            "conn %d closed (%s%s): client %s, listener %s, TargetCompID %s, upstream %s, "
            "client->upstream %d B, upstream->client %d B, %.1f s",
            conn.conn_id,
            conn.close_reason or "closed",
            "; upstream sent nothing" if silent else "",
            conn.client,
            conn.listener,
            conn.target_comp_id,
            conn.upstream or "-",
            conn.client_to_upstream_bytes,
            conn.upstream_to_client_bytes,
            duration_s,
        )


def _pool_of(upstream: Upstream) -> str:
    return f"upstream {upstream}"


def _loop_time_of(monotonic_time: float) -> float:
    """A ``time.monotonic()`` instant on the running loop's clock (also monotonic)."""
    return asyncio.get_running_loop().time() + (monotonic_time - time.monotonic())


def _loggable(client_text: str) -> str:
    """A CompID-like value as is; anything else quoted and cut, so no client can forge lines."""
    return client_text if _COMP_ID.fullmatch(client_text) else ascii(client_text[:64])


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1)


# --- Running it ------------------------------------------------------------------------------


def run_forever(config: ProxyConfig, stop_event: threading.Event) -> None:
    """Relay until ``stop_event`` is set: the CLI's foreground. A bind failure raises
    :class:`ConfigError` naming the option."""
    asyncio.run(_serve(config, stop_event))


async def _serve(config: ProxyConfig, stop_event: threading.Event) -> None:
    server = ProxyServer(config)
    await server.start()
    await server.serve_until(stop_event)
