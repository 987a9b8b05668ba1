"""A deliberately hand-rolled FIX peer for tests that must send what QuickFIX never would.

It stands for "any TrueX client": it logs on with only the spec's recipe (no QuickFIX), and it
can send malformed bytes or fields in the wrong order to check the simulator's answers.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

from truex_qf.fix.signing import logon_signature

SOH = "\x01"


def frame(fields: list[tuple[int, str]]) -> bytes:
    """8, 9 and 10 around ``fields`` (which start with 35)."""
    body = "".join(f"{tag}={value}{SOH}" for tag, value in fields)
    head = f"8=FIXT.1.1{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return (head + body + f"10={checksum:03d}{SOH}").encode()


def now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


class RawFixPeer:
    def __init__(self, port: int, sender: str, target: str, next_seq: int = 1) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sender, self.target = sender, target
        self.seq = next_seq - 1  # the last number sent
        self.buffer = b""

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
        if pairs is None:
            return None
        fields: dict[int, str] = {}
        for tag, value in pairs:
            fields.setdefault(tag, value)
        return fields

    def receive_pairs(self, timeout_s: float = 5.0) -> list[tuple[int, str]] | None:
        """The next message as (tag, value) pairs in wire order, None on close/timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            end = self.buffer.find(b"\x0110=")
            if end >= 0:
                stop = self.buffer.find(b"\x01", end + 1)
                if stop >= 0:
                    raw, self.buffer = self.buffer[: stop + 1], self.buffer[stop + 1 :]
                    pairs = []
                    for item in raw.decode().split(SOH):
                        if item:
                            tag, _, value = item.partition("=")
                            pairs.append((int(tag), value))
                    return pairs
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
