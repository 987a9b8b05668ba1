"""The FIX journal's hash chain: each row commits to its content and to the row before it.

``hash = sha256(prev_hash, run_id, session, direction, msg_type, seq_num, cl_ord_id, text,
logged_at)`` with the fields joined by the unit separator. Changing any field of any row, or
removing or reordering rows, makes every later ``prev_hash`` disagree with its predecessor's
``hash``: :func:`truex_qf.storage.journal.verify_chain` finds the first such row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from truex_qf.domain.time_text import SecondText

GENESIS_HASH = "0" * 64
_SEPARATOR = "\x1f"


def utc_text(value: datetime, sep: str = "T") -> str:
    """``value`` in UTC as ``YYYY-MM-DD<sep>HH:MM:SS.ffffff``; a naive value is taken as UTC.

    Called twice for every journal row (its hash, and its SQLite column), so the text up to
    the second is kept for the second it was made for (:class:`SecondText`).
    """
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = _UTC_TEXTS.get(sep)
    if text is None:
        return value.replace(tzinfo=None).isoformat(sep, "microseconds")
    return text(value)


def _up_to_the_second(sep: str) -> Callable[[datetime], str]:
    return lambda moment: moment.replace(microsecond=0, tzinfo=None).isoformat(sep) + "."


_UTC_TEXTS = {sep: SecondText(_up_to_the_second(sep)) for sep in ("T", " ")}


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
