"""The FIX journal's hash chain: each row commits to its content and to the row before it.

``hash = sha256(prev_hash, run_id, session, direction, msg_type, seq_num, cl_ord_id, text,
logged_at)`` with the fields joined by the unit separator. Changing any field of any row, or
removing or reordering rows, makes every later ``prev_hash`` disagree with its predecessor's
``hash``: :func:`truex_qf.storage.journal.verify_chain` finds the first such row.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
_SEPARATOR = "\x1f"


def _canonical_time(value: datetime) -> str:
    """One spelling per instant, whatever time zone or database handed it back:
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (isoformat: a third of strftime's cost, per journal row)."""
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


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
