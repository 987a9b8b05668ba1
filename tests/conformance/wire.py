"""FIX on the wire for the conformance suite, written from the spec alone.

Nothing here comes from ``truex_qf``: the framer, the parser and the Logon signature are
written again from ``truex-fix-spec.md`` (§2 signature, §3 header and trailer), so that a
mistake shared by the product and its simulator cannot hide here. Messages are lists of
``(tag, value)`` pairs in wire order; repeating groups are simply repeated tags.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import socket
import time

SOH = "\x01"
Fields = list[tuple[int, str]]


def parse_fields(text: str) -> Fields:
    """``"35=D|11=X"`` (``|`` separated, as the spec writes messages) as pairs."""
    pairs = []
    for item in text.split("|"):
        if item:
            tag, sep, value = item.partition("=")
            if not sep or not tag.strip().isdigit():
                raise ValueError(f"not a tag=value field: {item!r} in {text!r}")
            pairs.append((int(tag), value))
    return pairs


def frame(fields: Fields) -> bytes:
    """8, 9 before ``fields`` and 10 after them (spec §3: 9 counts the bytes after its own SOH
    up to and including the SOH before 10; 10 is the byte sum mod 256, three digits)."""
    body = "".join(f"{tag}={value}{SOH}" for tag, value in fields).encode()
    head = f"8=FIXT.1.1{SOH}9={len(body)}{SOH}".encode()
    checksum = sum(head + body) % 256
    return head + body + f"10={checksum:03d}{SOH}".encode()


def unframe(raw: bytes) -> Fields:
    """The pairs of one whole message, 8/9/10 included; checks 9 and 10."""
    text = raw.decode()
    pairs = [
        (int(tag), value)
        for tag, _, value in (item.partition("=") for item in text.split(SOH) if item)
    ]
    if [tag for tag, _ in pairs[:2]] != [8, 9] or pairs[-1][0] != 10:
        raise ValueError(f"not a FIX message: {printable(raw)}")
    body_start = raw.index(b"\x019=") + 1
    body_start = raw.index(b"\x01", body_start) + 1
    trailer = raw.rindex(b"10=")
    if int(pairs[1][1]) != trailer - body_start:
        raise ValueError(f"BodyLength {pairs[1][1]} != {trailer - body_start}: {printable(raw)}")
    if int(pairs[-1][1]) != sum(raw[:trailer]) % 256:
        raise ValueError(f"bad CheckSum: {printable(raw)}")
    return pairs


def printable(message: bytes | Fields) -> str:
    """A message with ``|`` for SOH and the Logon password masked, for failure texts."""
    if isinstance(message, bytes):
        message = [
            (int(tag), value)
            for tag, _, value in (
                item.partition("=") for item in message.decode().split(SOH) if item
            )
        ]
    return "|".join(f"{tag}={'***' if tag == 554 else value}" for tag, value in message) + "|"


def logon_password(
    secret: str, sending_time: str, msg_type: str, seq: str, sender: str, target: str, key: str
) -> str:
    """Tag 554 per spec §2.1: base64(HMAC-SHA256(secret, 52+35+34+49+56+553))."""
    payload = f"{sending_time}{msg_type}{seq}{sender}{target}{key}"
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sending_time(offset_s: float = 0.0, decimals: int = 3) -> str:
    """UTC ``YYYYMMDD-HH:MM:SS.fff`` (spec §3: milliseconds or microseconds are accepted)."""
    moment = time.time() + offset_s
    whole = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(moment))
    fraction = f"{moment % 1:.6f}"[2 : 2 + decimals]
    return f"{whole}.{fraction}"


class Connection:
    """One TCP connection to a gateway, reading whole messages off the stream."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.buffer = b""
        self.closed_by_peer = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, timeout_s: float) -> Fields | None:
        """The next message, or None when the peer closed or nothing came in time."""
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._take_message()
            if message is not None:
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed_by_peer:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            except OSError:
                chunk = b""
            if not chunk:
                self.closed_by_peer = True
            self.buffer += chunk

    def _take_message(self) -> Fields | None:
        start = self.buffer.find(b"8=FIXT.1.1\x01")
        if start < 0:
            return None
        end = self.buffer.find(b"\x0110=", start)
        if end < 0:
            return None
        stop = self.buffer.find(b"\x01", end + 1)
        if stop < 0:
            return None
        raw, self.buffer = self.buffer[start : stop + 1], self.buffer[stop + 1 :]
        return unframe(raw)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
