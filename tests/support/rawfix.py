"""Hand-rolled FIX peers for tests that must send what QuickFIX never would.

:class:`RawFixPeer` stands for "any TrueX client": it logs on with only the spec's recipe (no
QuickFIX), and it can send malformed bytes or fields in the wrong order to check the simulator's
answers. :class:`RawVenue` stands for TrueX's gateway where a QuickFIX acceptor cannot: QuickFIX
fills 49/56 from the session and writes a group's fields in dictionary order, so the simulator
cannot send TrueX's ``35=j`` with empty CompIDs (spec §1.6) or a W entry with 1023 before 273
(spec §8.6). It accepts one connection from our real client, answers its Logon as TrueX does
(108 and 1137 only) and then sends whatever bytes a test gives it. Both cut messages out of
their socket's bytes with :class:`FrameStream`.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

from truex_qf.fix.signing import logon_signature

SOH = "\x01"
Fields = list[tuple[int, str]]


def frame(fields: list[tuple[int, str]]) -> bytes:
    """8, 9 and 10 around ``fields`` (which start with 35)."""
    body = "".join(f"{tag}={value}{SOH}" for tag, value in fields)
    head = f"8=FIXT.1.1{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return (head + body + f"10={checksum:03d}{SOH}").encode()


def now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


def parse_pairs(raw: bytes) -> Fields:
    """One framed message's (tag, value) pairs in wire order."""
    pairs = []
    for item in raw.decode().split(SOH):
        if item:
            tag, _, value = item.partition("=")
            pairs.append((int(tag), value))
    return pairs


def first_of_each(pairs: Fields) -> dict[int, str]:
    """The first occurrence of each tag."""
    fields: dict[int, str] = {}
    for tag, value in pairs:
        fields.setdefault(tag, value)
    return fields


class FrameStream:
    """A socket's bytes cut into whole messages, each up to and including its ``10=xxx<SOH>``.

    ``eof`` turns true once the other side has closed (or reset) the connection.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.eof = False

    def next_frame(self, timeout_s: float = 5.0) -> bytes | None:
        """The next whole message's bytes, None on close or timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            end = self.buffer.find(b"\x0110=")
            stop = self.buffer.find(b"\x01", end + 1) if end >= 0 else -1
            if stop >= 0:
                raw, self.buffer = self.buffer[: stop + 1], self.buffer[stop + 1 :]
                return raw
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.eof:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                return None
            self.buffer += chunk


class RawFixPeer(FrameStream):
    """A TrueX client without QuickFIX, connected to ``port``; a test drives it step by step."""

    def __init__(self, port: int, sender: str, target: str, next_seq: int = 1) -> None:
        super().__init__(socket.create_connection(("127.0.0.1", port), timeout=5))
        self.sender, self.target = sender, target
        self.seq = next_seq - 1  # the last number sent

    def header(self, msg_type: str) -> list[tuple[int, str]]:
        self.seq += 1
        return [
            (35, msg_type),
            (49, self.sender),
            (56, self.target),
            (34, str(self.seq)),
            (52, now()),
        ]

    def logon(self, api_key: str, secret: str, reset: bool = True) -> None:
        """A signed Logon at the next sequence number; ``reset`` adds 141=Y (TrueX: optional)."""
        header = self.header("A")
        sending_time = header[4][1]
        signature = logon_signature(
            secret, sending_time, "A", str(self.seq), self.sender, self.target, api_key
        )
        reset_flag = [(141, "Y")] if reset else []
        self.sock.sendall(
            frame(
                [
                    *header,
                    (98, "0"),
                    (108, "30"),
                    *reset_flag,
                    (553, api_key),
                    (554, signature),
                    (1137, "9"),
                ]
            )
        )

    def send(self, msg_type: str, body: list[tuple[int, str]]) -> None:
        self.sock.sendall(frame(self.header(msg_type) + body))

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, timeout_s: float = 5.0) -> dict[int, str] | None:
        """The next message as a dict (first occurrence of each tag), None on close/timeout."""
        pairs = self.receive_pairs(timeout_s)
        return None if pairs is None else first_of_each(pairs)

    def receive_pairs(self, timeout_s: float = 5.0) -> Fields | None:
        """The next message as (tag, value) pairs in wire order, None on close/timeout."""
        raw = self.next_frame(timeout_s)
        return None if raw is None else parse_pairs(raw)

    def receive_type(self, msg_type: str, timeout_s: float = 5.0) -> dict[int, str] | None:
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            message = self.receive(remaining)
            if message is None:
                return None
            if message.get(35) == msg_type:
                return message
        return None

    def close(self) -> None:
        self.sock.close()


class RawVenue:
    """One TrueX gateway on a free loopback port; a test drives it step by step."""

    def __init__(self, comp_id: str) -> None:
        self.comp_id = comp_id
        self.client_comp_id = ""
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(10)
        self.port: int = self.server.getsockname()[1]
        self.stream: FrameStream | None = None
        self.seq = 0
        self.received: list[dict[int, str]] = []

    def accept_logon(self, timeout_s: float = 10.0) -> dict[int, str]:
        """Wait for the client, read its Logon and answer it; the Logon's fields."""
        sock, _ = self.server.accept()
        self.stream = FrameStream(sock)
        logon = self.receive(timeout_s)
        assert logon is not None and logon[35] == "A", logon
        self.client_comp_id = logon[49]
        self.send("A", [(108, logon[108]), (1137, "9")])
        return logon

    def send(
        self, msg_type: str, body: Fields, sender: str | None = None, target: str | None = None
    ) -> None:
        """A message in TrueX's header order; ``sender``/``target`` override 49/56 (even "")."""
        assert self.stream is not None
        self.seq += 1
        header = [
            (35, msg_type),
            (49, self.comp_id if sender is None else sender),
            (56, self.client_comp_id if target is None else target),
            (34, str(self.seq)),
            (52, now() + "123"),  # TrueX sends microseconds
        ]
        self.stream.sock.sendall(frame(header + body))

    def receive(self, timeout_s: float = 5.0) -> dict[int, str] | None:
        """The client's next message (first occurrence of each tag), None on close/timeout."""
        assert self.stream is not None
        raw = self.stream.next_frame(timeout_s)
        if raw is None:
            return None
        fields = first_of_each(parse_pairs(raw))
        self.received.append(fields)
        return fields

    def ping(self, test_req_id: str) -> dict[int, str]:
        """Send a TestRequest and return the client's answer to it.

        Both directions keep their order, so anything the client said about what came
        before the ping (a Reject, a Logout) has arrived by the time the Heartbeat does.
        """
        self.send("1", [(112, test_req_id)])
        while (message := self.receive()) is not None:
            if message.get(35) == "0" and message.get(112) == test_req_id:
                return message
        raise AssertionError(f"no Heartbeat for {test_req_id}; got {self.received!r}")

    def close(self) -> None:
        if self.stream is not None:
            self.stream.sock.close()
        self.server.close()
