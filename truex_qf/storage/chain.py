"""The FIX journal's hash chain: each row commits to its content and to the row before it.

``hash = sha256(prev_hash, run_id, session, direction, msg_type, seq_num, cl_ord_id, text,
logged_at)`` with the fields joined by the unit separator. Changing any field of any row, or
removing or reordering rows, makes every later ``prev_hash`` disagree with its predecessor's
``hash``: :func:`truex_qf.storage.journal.verify_chain` finds the first such row.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
_SEPARATOR = "\x1f"


def utc_text(value: datetime, sep: str = "T") -> str:
    """``value`` in UTC as ``YYYY-MM-DD<sep>HH:MM:SS.ffffff``; a naive value is taken as UTC.

    Called twice for every journal row (its hash, and its SQLite column), so a time already in
    UTC takes a short road: the text up to the second is kept for the second it was made for
    (rows come in time order), and only the microseconds are formatted. ``isoformat`` of an
    aware time cost 1.1 us, three times the short road.
    """
    if value.tzinfo is UTC:
        second = math.floor(value.timestamp())
        cached = _second_texts.get(second)
        if cached is None:
            cached = _remember_second(second)
        if cached[0] == value.second:  # float rounding never moves it to a neighbour unseen
            return f"{cached[1]}{sep}{cached[2]}.{value.microsecond:06d}"
    elif value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep, "microseconds")


_second_texts: dict[int, tuple[int, str, str]] = {}  # epoch second -> (second, date, time)


def _remember_second(second: int) -> tuple[int, str, str]:
    if len(_second_texts) >= 64:
        _second_texts.clear()
    at = datetime.fromtimestamp(second, UTC)
    entry = (at.second, at.strftime("%Y-%m-%d"), at.strftime("%H:%M:%S"))
    _second_texts[second] = entry
    return entry


def _canonical_time(value: datetime) -> str:
    """One spelling per instant, whatever time zone or database handed it back:
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return utc_text(value) + "Z"


def journal_hash(prev_hash: str, values: dict[str, Any]) -> str:
    """The hash of one journal row (``values`` as in the ``fix_journal`` table)."""
    parts = [
        prev_hash,
        str(values["run_id"]),
        str(values["session"]),
        str(values["direction"]),
        str(values["msg_type"]),
        "" if values.get("seq_num") is None else str(values["seq_num"]),
        values.get("cl_ord_id") or "",
        str(values["text"]),
        _canonical_time(values["logged_at"]),
    ]
    return hashlib.sha256(_SEPARATOR.join(parts).encode("utf-8")).hexdigest()
