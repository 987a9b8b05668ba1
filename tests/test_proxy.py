"""The FIX-aware relay on real loopback sockets: routing, framing, limits, logs, real engines."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.proxy_thread import ProxyThread, start_in_thread
from tests.support.rawfix import RawFixPeer, frame, now
from tests.support.sessions import unique_comp_id
from truex_qf.app.demo import demo_account, start_local_venue
from truex_qf.domain.errors import ConfigError
from truex_qf.domain.model import SessionRole
from truex_qf.domain.netutil import free_port
from truex_qf.fix.client import FixClient
from truex_qf.ops.proxy import (
    FramingError,
    MessageClock,
    build_proxy_config,
    frame_first_message,
)

TIMEOUT_S = 5.0
FAKE_SIGNATURE = "c2VjcmV0LXNpZ25hdHVyZS1ub3QtZm9yLWxvZ3M="


class FakeUpstream:
    """A gateway stand-in: records every byte per connection and echoes it back."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.address = f"127.0.0.1:{self.port}"
        self.received: list[bytearray] = []
        self.closed = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            buffer = bytearray()
            with self._lock:
                self.received.append(buffer)
            threading.Thread(target=self._echo, args=(sock, buffer), daemon=True).start()

    def _echo(self, sock: socket.socket, buffer: bytearray) -> None:
        with sock:
            try:
                while data := sock.recv(65536):
                    with self._lock:
                        buffer += data
                    sock.sendall(data)
            except OSError:
                pass
        self.closed.set()

    def bytes_of(self, index: int) -> bytes:
        with self._lock:
            return bytes(self.received[index])

    def connections(self) -> int:
        with self._lock:
            return len(self.received)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def logon(target: str, sender: str = "PXYTEST", signature: str = FAKE_SIGNATURE) -> bytes:
    return frame(
        [
            (35, "A"),
            (49, sender),
            (56, target),
            (34, "1"),
            (52, now()),
            (98, "0"),
            (108, "30"),
            (141, "Y"),
            (553, "0b6f3c1e-5b0e-4a53-9d0e-2f8cbd0a1a11"),
            (554, signature),
            (1137, "9"),
        ]
    )


def shorten_body_length(message: bytes, by: int) -> bytes:
    """``message`` with a BodyLength(9) that ends inside the body."""
    head, _, rest = message.partition(b"\x019=")
    length, _, body = rest.partition(b"\x01")
    return head + b"\x019=" + str(int(length) - by).encode() + b"\x01" + body


def heartbeat(target: str) -> bytes:
    return frame([(35, "0"), (49, "PXYTEST"), (56, target), (34, "2"), (52, now())])


def connect(port: int, source: str | None = None) -> socket.socket:
    """A client socket to the proxy, from ``source`` (any 127.x.y.z: Linux routes all of
    127/8 to the loopback) when given."""
    sock = socket.create_connection(
        ("127.0.0.1", port),
        timeout=TIMEOUT_S,
        source_address=(source, 0) if source is not None else None,
    )
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def is_closed(sock: socket.socket, timeout_s: float = TIMEOUT_S) -> bool:
    """True when the peer closed (EOF or reset) within the timeout, ignoring any data first."""
    sock.settimeout(timeout_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def wait_until(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class LogText:
    """Everything the proxy logged, at every level, as one string."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    @property
    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, fragment: str, timeout_s: float = TIMEOUT_S) -> str:
        assert wait_until(lambda: fragment in self.text, timeout_s), (
            f"{fragment!r} not logged:\n{self.text}"
        )
        return self.text


@pytest.fixture
def proxy_log() -> Iterator[LogText]:
    # A handler on the proxy's own logger: truex_qf may not propagate to root (logsetup).
    captured = LogText()
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: captured.add(handler.format(record))  # type: ignore[method-assign]
    logger = logging.getLogger("truex_qf.ops.proxy")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield captured
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture
def upstreams() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    order_entry, market_data = FakeUpstream(), FakeUpstream()
    yield order_entry, market_data
    order_entry.close()
    market_data.close()


@pytest.fixture
def run_proxy() -> Iterator[Callable[..., ProxyThread]]:
    running: list[ProxyThread] = []

    def start(**options) -> ProxyThread:
        options.setdefault("listen_port", 0)
        proxy = start_in_thread(build_proxy_config(**options))
        running.append(proxy)
        return proxy

    yield start
    for proxy in running:
        proxy.stop()


def test_routes_each_connection_by_target_comp_id(upstreams, run_proxy, proxy_log):
    order_entry, market_data = upstreams
    proxy = run_proxy(oe=order_entry.address, md=market_data.address)
    port = proxy.ports["routing"]

    with connect(port) as oe_client, connect(port) as md_client:
        oe_bytes = logon("TRUEX_UAT_OE") + heartbeat("TRUEX_UAT_OE")
        oe_client.sendall(oe_bytes[:40])  # the Logon arrives in pieces...
        time.sleep(0.05)
        oe_client.sendall(oe_bytes[40:])  # ...with a later message right behind it
        md_bytes = logon("TRUEX_PROD_MD")
        md_client.sendall(md_bytes)
        assert receive_exactly(md_client, len(md_bytes)) == md_bytes
        md_later = heartbeat("TRUEX_PROD_MD")
        md_client.sendall(md_later)

        assert receive_exactly(oe_client, len(oe_bytes)) == oe_bytes
        assert receive_exactly(md_client, len(md_later)) == md_later
        assert order_entry.bytes_of(0) == oe_bytes
        assert market_data.bytes_of(0) == md_bytes + md_later
        assert (order_entry.connections(), market_data.connections()) == (1, 1)

    text = proxy_log.wait_for("TargetCompID TRUEX_PROD_MD, upstream")
    assert f"TargetCompID TRUEX_UAT_OE -> {order_entry.address}" in text
    assert f"client->upstream {len(md_bytes + md_later)} B" in text


def test_message_split_into_many_small_writes_still_routes(upstreams, run_proxy):
    order_entry, market_data = upstreams
    proxy = run_proxy(oe=order_entry.address, md=market_data.address)
    message = logon("TRUEX_UAT_MD")
    with connect(proxy.ports["routing"]) as client:
        for start in range(0, len(message), 3):
            client.sendall(message[start : start + 3])
            time.sleep(0.002)
        assert receive_exactly(client, len(message)) == message
    assert market_data.bytes_of(0) == message
    assert order_entry.connections() == 0


def test_unknown_target_comp_id_is_closed_without_reply(upstreams, run_proxy, proxy_log):
    order_entry, market_data = upstreams
    proxy = run_proxy(oe=order_entry.address, md=market_data.address)
    with connect(proxy.ports["routing"]) as client:
        client.sendall(logon("TRUEX_DEV_GW"))
        assert is_closed(client)
    proxy_log.wait_for("unknown TargetCompID TRUEX_DEV_GW")
    assert order_entry.connections() == market_data.connections() == 0


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"8=FIXT.1.1\x019=" + b"9" * 200,  # no end to BodyLength within the header limit
        b"8=FIXT.1.1\x019=abc\x01",
        shorten_body_length(logon("TRUEX_UAT_OE"), 10),
        logon("TRUEX_UAT_OE")[:-4] + b"999\x01",  # checksum does not match
        b"8=FIXT.1.1\x019=99999999\x01",  # far above any first message
    ],
    ids=["http", "header-too-long", "length-not-number", "wrong-length", "checksum", "huge"],
)
def test_garbage_is_closed_and_the_proxy_keeps_serving(upstreams, run_proxy, proxy_log, garbage):
    order_entry, market_data = upstreams
    proxy = run_proxy(oe=order_entry.address, md=market_data.address, logon_timeout_s=2)
    port = proxy.ports["routing"]
    with connect(port) as client:
        client.sendall(garbage)
        assert is_closed(client, 3)
    proxy_log.wait_for("not FIX:")
    assert order_entry.connections() == 0

    message = logon("TRUEX_UAT_OE")
    with connect(port) as client:
        client.sendall(message)
        assert receive_exactly(client, len(message)) == message


@pytest.mark.parametrize("listener", ["routing", "oe"])
def test_logon_must_arrive_in_time_on_every_listener(upstreams, run_proxy, proxy_log, listener):
    order_entry, _ = upstreams
    proxy = run_proxy(oe=order_entry.address, md=None, oe_listen_port=0, logon_timeout_s=0.5)
    with connect(proxy.ports[listener]) as client:
        client.sendall(logon("TRUEX_UAT_OE")[:30])
        assert is_closed(client, 3)
    proxy_log.wait_for("no complete Logon within 0.5 s (30 B)")
    assert order_entry.connections() == 0


def test_the_logon_deadline_counts_from_the_accept_not_the_last_byte(
    upstreams, run_proxy, proxy_log
):
    order_entry, _ = upstreams
    proxy = run_proxy(
        listen_port=None, oe=order_entry.address, md=None, oe_listen_port=0, logon_timeout_s=0.5
    )
    message = logon("TRUEX_UAT_OE")
    with connect(proxy.ports["oe"]) as client:
        client.sendall(message[:20])
        sent = 20
        # a byte every 50 ms would take far longer than the deadline to finish the Logon
        while sent < len(message) - 1:
            try:
                client.sendall(message[sent : sent + 1])
            except OSError:
                break
            sent += 1
            time.sleep(0.05)
            if "no complete Logon" in proxy_log.text:
                break
        assert is_closed(client, 3)
    proxy_log.wait_for("no complete Logon within 0.5 s")
    assert sent < len(message) - 1
    assert order_entry.connections() == 0


@pytest.mark.parametrize("listener", ["routing", "oe"])
def test_a_first_message_other_than_logon_is_refused(upstreams, run_proxy, proxy_log, listener):
    order_entry, _ = upstreams
    proxy = run_proxy(oe=order_entry.address, md=None, oe_listen_port=0)
    with connect(proxy.ports[listener]) as client:
        client.sendall(heartbeat("TRUEX_UAT_OE"))
        assert is_closed(client)
    proxy_log.wait_for("first message is 35=0, not a Logon (35=A)")
    assert order_entry.connections() == 0


def test_slots_are_per_upstream(upstreams, run_proxy, proxy_log):
    order_entry, market_data = upstreams
    proxy = run_proxy(oe=order_entry.address, md=market_data.address, max_connections=2)
    port = proxy.ports["routing"]
    first, second = connect(port), connect(port)
    try:
        for client in (first, second):
            message = logon("TRUEX_UAT_OE")
            client.sendall(message)
            assert receive_exactly(client, len(message)) == message
        with connect(port) as third:  # accepted, but its upstream has no slot left
            third.sendall(logon("TRUEX_UAT_OE"))
            assert is_closed(third)
        proxy_log.wait_for(
            f"no free slot for upstream {order_entry.address} (--max-connections 2 per upstream)"
        )
        with connect(port) as other:  # the other upstream's slots are its own
            message = logon("TRUEX_UAT_MD")
            other.sendall(message)
            assert receive_exactly(other, len(message)) == message
    finally:
        first.close()
    proxy_log.wait_for("conn 1 closed (client closed)")
    with connect(port) as fourth:
        message = logon("TRUEX_UAT_OE")
        fourth.sendall(message)
        assert receive_exactly(fourth, len(message)) == message
    second.close()
    assert order_entry.connections() == 3


def test_fixed_listener_slots_refuse_at_accept(upstreams, run_proxy, proxy_log):
    order_entry, _ = upstreams
    proxy = run_proxy(
        listen_port=None, oe=order_entry.address, md=None, oe_listen_port=0, max_connections=1
    )
    with connect(proxy.ports["oe"]) as holder, connect(proxy.ports["oe"]) as refused:
        assert is_closed(refused)
        proxy_log.wait_for(
            f"refused: 1 connections open for upstream {order_entry.address} "
            "(--max-connections 1 per upstream)"
        )
        message = logon("TRUEX_UAT_OE")
        holder.sendall(message)
        assert receive_exactly(holder, len(message)) == message


def test_per_address_limit(upstreams, run_proxy, proxy_log):
    order_entry, _ = upstreams
    proxy = run_proxy(oe=order_entry.address, md=None, max_connections_per_address=2)
    port = proxy.ports["routing"]
    with connect(port) as one, connect(port) as two:
        with connect(port) as three:
            assert is_closed(three)
        proxy_log.wait_for("refused: 2 connections open from 127.0.0.1 (--max-per-address 2)")
        with connect(port, source="127.0.0.2") as elsewhere:  # another address is served
            message = logon("TRUEX_UAT_OE")
            elsewhere.sendall(message)
            assert receive_exactly(elsewhere, len(message)) == message
        for client in (one, two):
            message = logon("TRUEX_UAT_OE")
            client.sendall(message)
            assert receive_exactly(client, len(message)) == message


def test_idle_connection_is_closed_on_both_sides(upstreams, run_proxy, proxy_log):
    order_entry, _ = upstreams
    proxy = run_proxy(oe=order_entry.address, md=None, idle_timeout_s=0.5)
    with connect(proxy.ports["routing"]) as client:
        message = logon("TRUEX_PROD_OE")
        client.sendall(message)
        assert receive_exactly(client, len(message)) == message
        started = time.monotonic()
        assert is_closed(client, 3)
        assert time.monotonic() - started >= 0.3
    assert order_entry.closed.wait(TIMEOUT_S)
    proxy_log.wait_for("closed (idle for 0.5 s (no complete message from the client))")


def test_a_trickler_is_cut_after_its_logon(upstreams, run_proxy, proxy_log):
    order_entry, _ = upstreams
    proxy = run_proxy(oe=order_entry.address, md=None, idle_timeout_s=5, max_message_time_s=0.5)
    later = heartbeat("TRUEX_UAT_OE")
    with connect(proxy.ports["routing"]) as client:
        message = logon("TRUEX_UAT_OE")
        client.sendall(message)
        assert receive_exactly(client, len(message)) == message
        sent = 0
        while sent < len(later) and "still incomplete" not in proxy_log.text:
            try:
                client.sendall(later[sent : sent + 1])  # every byte "activity", no message
            except OSError:
                break
            sent += 1
            time.sleep(0.05)
        assert is_closed(client)
    proxy_log.wait_for("closed (a message still incomplete after 0.5 s)")
    assert sent < len(later)
    assert len(order_entry.bytes_of(0)) < len(message) + len(later)


def test_fixed_port_listeners_wait_for_the_logon_but_do_not_route(upstreams, run_proxy, proxy_log):
    order_entry, market_data = upstreams
    proxy = run_proxy(
        listen_port=None,
        oe=order_entry.address,
        md=market_data.address,
        oe_listen_port=0,
        md_listen_port=0,
    )
    assert set(proxy.ports) == {"oe", "md"}
    with connect(proxy.ports["oe"]) as client:
        client.sendall(b"anything at all, even \x00 bytes")
        assert is_closed(client)
    proxy_log.wait_for("not FIX: does not start with BeginString(8)")
    wrong_target = logon("TRUEX_UAT_OE")  # not routed: the md port goes to md regardless
    with connect(proxy.ports["md"]) as client:
        client.sendall(wrong_target)
        assert receive_exactly(client, len(wrong_target)) == wrong_target
    assert order_entry.connections() == 0
    assert market_data.bytes_of(0) == wrong_target
    proxy_log.wait_for("listener md, TargetCompID TRUEX_UAT_OE, upstream")


def test_logs_mask_the_logon_signature(upstreams, run_proxy, proxy_log):
    order_entry, _ = upstreams
    proxy = run_proxy(oe=order_entry.address, md=None)
    with connect(proxy.ports["routing"]) as client:
        message = logon("TRUEX_UAT_OE", signature=FAKE_SIGNATURE)
        client.sendall(message)
        assert receive_exactly(client, len(message)) == message
    text = proxy_log.wait_for("closed (client closed)")
    assert "|554=***|" in text
    assert FAKE_SIGNATURE not in text
    assert "0b6f3c1e-5b0e" not in text  # the API key is cut to its first characters too
    assert order_entry.bytes_of(0) == message  # the upstream still gets the real signature


def test_unreachable_upstream_is_logged(run_proxy, proxy_log):
    proxy = run_proxy(oe=f"127.0.0.1:{free_port()}", md=None)
    with connect(proxy.ports["routing"]) as client:
        client.sendall(logon("TRUEX_UAT_OE"))
        assert is_closed(client)
    proxy_log.wait_for("unreachable")


def test_stop_closes_live_connections(upstreams, run_proxy, proxy_log):
    order_entry, _ = upstreams
    proxy = run_proxy(oe=order_entry.address, md=None)
    with connect(proxy.ports["routing"]) as client:
        message = logon("TRUEX_UAT_OE")
        client.sendall(message)
        assert receive_exactly(client, len(message)) == message
        proxy.stop()
        assert is_closed(client)
    assert "closed (proxy stopping)" in proxy_log.text


def test_busy_port_is_a_config_error(upstreams):
    order_entry, _ = upstreams
    busy = socket.create_server(("127.0.0.1", 0))
    try:
        config = build_proxy_config(
            listen_port=busy.getsockname()[1], oe=order_entry.address, md=None
        )
        with pytest.raises(ConfigError, match="--listen-port: cannot listen on"):
            start_in_thread(config)
    finally:
        busy.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"oe": "uat.truex.co", "md": None}, "--oe: 'uat.truex.co' is not HOST:PORT"),
        ({"oe": "host:0", "md": None}, "--oe: port 0 is outside 1-65535"),
        ({"oe": None, "md": "a b:1"}, "--md: 'a b:1' is not HOST:PORT"),
        ({"oe": None, "md": None}, "--oe/--md: no upstream"),
        (
            {"oe": "h:1", "md": "h:2", "md_comp_ids": ["TRUEX_UAT_OE"]},
            "--md-comp-id: TargetCompID TRUEX_UAT_OE is routed twice",
        ),
        ({"oe": "h:1", "md": None, "routes": ["TRUEX_UAT_OE=h:3"]}, "--route: TargetCompID"),
        ({"oe": "h:1", "md": None, "routes": ["X"]}, "--route: 'X' is not COMPID=HOST:PORT"),
        ({"oe": "h:1", "md": None, "md_listen_port": 0}, "--md-listen-port: needs --md"),
        ({"oe": "h:1", "md": None, "listen_port": None}, "--listen-port: no listener"),
        ({"oe": "h:1", "md": None, "max_connections": 0}, "--max-connections: must be"),
        ({"oe": "h:1", "md": None, "idle_timeout_s": 0}, "--idle-timeout: must be"),
        ({"oe": "h:1", "md": None, "logon_timeout_s": float("nan")}, "--logon-timeout: must"),
        ({"oe": "h:1", "md": None, "max_message_time_s": -1}, "--max-message-time: must"),
        ({"oe": "h:1", "md": None, "max_connections_per_address": 0}, "--max-per-address: must"),
        (
            {"oe": "h:1", "md": None, "listen_port": 7000, "oe_listen_port": 7000},
            "--oe-listen-port: port 7000 is also --listen-port",
        ),
        ({"oe": "h:1", "md": None, "listen_port": 70000}, "--listen-port: port 70000 is outside"),
    ],
)
def test_config_errors_name_the_option(options, message):
    options.setdefault("listen_port", 0)
    with pytest.raises(ConfigError) as raised:
        build_proxy_config(**options)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_config_maps_default_comp_ids_and_extra_routes():
    config = build_proxy_config(
        listen_port=0, oe="10.0.0.1:19484", md="10.0.0.1:20484", routes=["TRUEX_DEV_GW=dev:1"]
    )
    assert {comp_id: str(up) for comp_id, up in config.routes.items()} == {
        "TRUEX_UAT_OE": "10.0.0.1:19484",
        "TRUEX_PROD_OE": "10.0.0.1:19484",
        "TRUEX_UAT_MD": "10.0.0.1:20484",
        "TRUEX_PROD_MD": "10.0.0.1:20484",
        "TRUEX_DEV_GW": "dev:1",
    }
    assert build_proxy_config(listen_port=0, oe="[::1]:5", md=None).routes["TRUEX_UAT_OE"].host == (
        "::1"
    )


def test_framing_waits_for_the_whole_message_and_keeps_what_follows():
    message = logon("TRUEX_UAT_OE")
    for cut in (0, 1, 5, 12, len(message) - 1):
        assert frame_first_message(message[:cut]) is None
    first = frame_first_message(message + b"8=FIXT.1.1\x019=")
    assert first is not None
    assert (first.raw, first.msg_type, first.target_comp_id) == (message, "A", "TRUEX_UAT_OE")
    with pytest.raises(FramingError, match="BeginString"):
        frame_first_message(b"X")
    body = b"35=A\x0156=X\x01junk\x01"
    head = b"8=FIXT.1.1\x019=" + str(len(body)).encode() + b"\x01"
    bad_field = head + body + b"10=%03d\x01" % (sum(head + body) % 256)
    with pytest.raises(FramingError, match="not TAG=VALUE"):
        frame_first_message(bad_field)


def test_real_engines_log_on_through_one_proxy_port(tmp_path, run_proxy, proxy_log):
    local = start_local_venue(tmp_path, demo_account("PXY1"))
    client: FixClient | None = None
    try:
        settings = local.client_settings
        proxy = run_proxy(
            oe=f"{settings.host}:{settings.order_entry_port}",
            md=f"{settings.host}:{settings.market_data_port}",
        )
        port = proxy.ports["routing"]
        through_proxy = dataclasses.replace(settings, order_entry_port=port, market_data_port=port)
        client = FixClient(through_proxy, lambda event: None)
        client.start()
        client.wait_logged_on(SessionRole.ORDER_ENTRY, 10)
        client.wait_logged_on(SessionRole.MARKET_DATA, 10)
        text = proxy_log.text
        assert f"TargetCompID {settings.order_entry_target} -> " in text
        assert f"TargetCompID {settings.market_data_target} -> " in text
        assert "554=***" in text
    finally:
        if client is not None:
            client.stop(True)
        local.venue.stop(True)


def test_message_clock_frames_by_body_length_only():
    stream = heartbeat("X") + logon("X") + heartbeat("X")
    clock = MessageClock()
    completed = 0
    for at, start in enumerate(range(0, len(stream), 7)):
        completed += clock.feed(stream[start : start + 7], now=float(at))
    assert completed == 3
    assert clock.partial_since is None

    assert clock.feed(stream[:5], now=100.0) == 0
    assert clock.partial_since == 100.0  # when the message began, not the latest byte
    assert clock.feed(stream[5:10], now=200.0) == 0
    assert clock.partial_since == 100.0
    assert clock.feed(stream[10 : len(heartbeat("X"))], now=300.0) == 1
    assert clock.partial_since is None

    with pytest.raises(FramingError, match="BeginString"):
        MessageClock().feed(heartbeat("X") + b"GET / HTTP/1.1\r\n", now=0.0)
    with pytest.raises(FramingError, match="out of range"):
        MessageClock(max_message_bytes=1000).feed(b"8=FIXT.1.1\x019=5000\x01", now=0.0)


SLOW_CLIENTS = 20


def _slow_client(port: int, index: int, stop: threading.Event) -> socket.socket:
    """A client from its own address (so the per-address limit is not what stops it) that
    sends a message header and then one body byte at a time, never a whole Logon."""
    sock = connect(port, source=f"127.0.1.{index + 1}")

    def trickle() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(b"8=FIXT.1.1\x019=200\x01")
            while not stop.wait(0.1):
                sock.sendall(b"x")

    threading.Thread(target=trickle, daemon=True).start()
    return sock


def test_slow_clients_on_one_listener_do_not_shut_the_proxy(tmp_path, run_proxy, proxy_log):
    local = start_local_venue(tmp_path, demo_account(unique_comp_id()))
    stop = threading.Event()
    slow: list[socket.socket] = []
    peers: list[RawFixPeer] = []
    try:
        settings = local.client_settings
        api_key, secret = settings.credentials.api_key, settings.credentials.secret_key
        proxy = run_proxy(
            listen_port=None,
            oe=f"{settings.host}:{settings.order_entry_port}",
            md=f"{settings.host}:{settings.market_data_port}",
            oe_listen_port=0,
            md_listen_port=0,
            logon_timeout_s=5.0,
        )
        oe_port, md_port = proxy.ports["oe"], proxy.ports["md"]
        slow = [_slow_client(oe_port, index, stop) for index in range(SLOW_CLIENTS)]
        assert wait_until(lambda: proxy_log.text.count("(--max-connections 16 per upstream)") == 4)

        # the order-entry listener is full: a real client there is refused at once...
        refused = connect(oe_port)
        assert is_closed(refused)
        refused.close()
        # ...while the market-data listener logs a real client on
        market_data = RawFixPeer(md_port, settings.sender_comp_id, settings.market_data_target)
        peers.append(market_data)
        market_data.logon(api_key, secret)
        assert market_data.receive_type("A", timeout_s=10) is not None

        # at the deadline every slow client is cut, however many bytes it kept sending
        for sock in slow:
            assert is_closed(sock, 15)
        assert wait_until(
            lambda: proxy_log.text.count("no complete Logon within 5 s") == SLOW_CLIENTS - 4
        )
        order_entry = RawFixPeer(oe_port, settings.sender_comp_id, settings.order_entry_target)
        peers.append(order_entry)
        order_entry.logon(api_key, secret)
        assert order_entry.receive_type("A", timeout_s=10) is not None
    finally:
        stop.set()
        for sock in slow:
            sock.close()
        for peer in peers:
            peer.close()
        local.venue.stop(True)
