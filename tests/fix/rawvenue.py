"""A hand-rolled TrueX gateway for the few things a QuickFIX acceptor cannot send.

QuickFIX fills 49/56 from the session and writes a group's fields in dictionary order, so the
simulator cannot send TrueX's ``35=j`` with empty CompIDs (spec §1.6) or a W entry with 1023
before 273 (spec §8.6). This peer accepts one connection from our real client, answers its
Logon as TrueX does (108 and 1137 only) and then sends whatever bytes a test gives it.
"""

from __future__ import annotations

import socket
import time

from tests.rawfix import SOH, frame, now

Fields = list[tuple[int, str]]


class RawVenue:
    """One TrueX gateway on a free loopback port; a test drives it step by step."""

    def __init__(self, comp_id: str) -> None:
        self.comp_id = comp_id
        self.client_comp_id = ""
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(10)
        self.port: int = self.server.getsockname()[1]
        self.sock: socket.socket | None = None
        self.seq = 0
        self.buffer = b""
        self.received: list[dict[int, str]] = []

    def accept_logon(self, timeout_s: float = 10.0) -> dict[int, str]:
        """Wait for the client, read its Logon and answer it; the Logon's fields."""
        self.sock, _ = self.server.accept()
        logon = self.receive(timeout_s)
        assert logon is not None and logon[35] == "A", logon
        self.client_comp_id = logon[49]
        self.send("A", [(108, logon[108]), (1137, "9")])
        return logon

    def send(
        self, msg_type: str, body: Fields, sender: str | None = None, target: str | None = None
    ) -> None:
        """A message in TrueX's header order; ``sender``/``target`` override 49/56 (even "")."""
        assert self.sock is not None
        self.seq += 1
        header = [
            (35, msg_type),
            (49, self.comp_id if sender is None else sender),
            (56, self.client_comp_id if target is None else target),
            (34, str(self.seq)),
            (52, now() + "123"),  # TrueX sends microseconds
        ]
        self.sock.sendall(frame(header + body))

    def receive(self, timeout_s: float = 5.0) -> dict[int, str] | None:
        """The client's next message (first occurrence of each tag), None on close/timeout."""
        assert self.sock is not None
        deadline = time.monotonic() + timeout_s
        while True:
            end = self.buffer.find(b"\x0110=")
            stop = self.buffer.find(b"\x01", end + 1) if end >= 0 else -1
            if stop >= 0:
                raw, self.buffer = self.buffer[: stop + 1], self.buffer[stop + 1 :]
                fields: dict[int, str] = {}
                for item in raw.decode().split(SOH):
                    if item:
                        tag, _, value = item.partition("=")
                        fields.setdefault(int(tag), value)
                self.received.append(fields)
                return fields
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            self.buffer += chunk

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
        if self.sock is not None:
            self.sock.close()
        self.server.close()
