"""ClOrdID(11) rules and a generator whose IDs stay unique across restarts.

TrueX accepts either at most 18 characters from the RFC 3986 unreserved set
(letters, digits, ``_ - . ~``) or a lowercase hyphenated UUID v4; anything else is rejected
with ``58=Invalid ClOrdID`` and OrderID ``NONE`` (spec §7.5). The uniqueness scope is not
documented, so IDs are made globally unique: a boot stamp (milliseconds since the epoch at
start, base 36) plus a per-process counter.
"""

from __future__ import annotations

import itertools
import re
import threading
import time

MAX_PLAIN_LENGTH = 18
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]{1,18}")
_UUID_V4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def is_valid_cl_ord_id(value: str) -> bool:
    """Whether TrueX accepts ``value`` as a ClOrdID."""
    return bool(_PLAIN.fullmatch(value) or _UUID_V4.fullmatch(value))


def to_base36(number: int, width: int) -> str:
    """``number`` in base 36, zero-padded to ``width``; raises if it does not fit."""
    if number < 0:
        raise ValueError("negative number")
    chars = []
    while number:
        number, digit = divmod(number, 36)
        chars.append(_DIGITS[digit])
    text = "".join(reversed(chars)) or "0"
    if len(text) > width:
        raise ValueError(f"{text!r} does not fit in {width} base-36 digits")
    return text.rjust(width, "0")


class ClOrdIdGenerator:
    """Thread-safe ClOrdIDs: ``prefix`` (1 char) + boot stamp (9) + counter (8) = 18 chars.

    The boot stamp is the start time in milliseconds, so a restarted process never reuses an
    ID of an earlier run (9 base-36 digits hold milliseconds until the year 5188).
    """

    def __init__(self, prefix: str = "Q", boot_ms: int | None = None) -> None:
        if len(prefix) != 1 or not _PLAIN.fullmatch(prefix):
            raise ValueError("ClOrdID prefix must be one letter, digit or one of _ - . ~")
        stamp = boot_ms if boot_ms is not None else time.time_ns() // 1_000_000
        self._head = prefix + to_base36(stamp, 9)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next_id(self) -> str:
        with self._lock:
            sequence = next(self._counter)
        return self._head + to_base36(sequence, 8)
