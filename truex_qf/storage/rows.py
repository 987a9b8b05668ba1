"""What the program hands to storage: one :class:`Row` per fact, named by its table.

Rows are plain values, cheap to build on the trading thread and safe to queue; the background
writer (:mod:`truex_qf.storage.writer`) turns them into INSERTs (``orders`` is upserted by its
key, ``executions`` ignores a repeated ExecID) and, while the database is unreachable, into
lines of the spill file (:func:`to_json` / :func:`from_json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from truex_qf.storage.schema import metadata

TABLES = frozenset(metadata.tables)
UPSERT_KEYS = {"orders": "cl_ord_id", "runs": "run_id"}  # later rows replace earlier ones
IGNORE_DUPLICATE_KEYS = {"executions": "exec_id"}  # a resent fill must not be stored twice


class PendingRow(Protocol):
    """A fact whose row is cheaper to build later, on the store writer's thread."""

    def row(self) -> Row: ...


@dataclass(frozen=True, slots=True)
class Row:
    """One row for ``table``; for ``fix_journal`` the writer adds ``prev_hash`` and ``hash``."""

    table: str
    values: dict[str, Any]

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            raise ValueError(f"no table {self.table!r}")


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": format(value, "f")}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$d" in value:
            return Decimal(value["$d"])
        if "$t" in value:
            return datetime.fromisoformat(value["$t"])
    return value


def to_json(row: Row) -> str:
    """One line of the spill file; Decimals and datetimes survive exactly."""
    return json.dumps(
        {"table": row.table, "values": {k: _encode(v) for k, v in row.values.items()}},
        separators=(",", ":"),
    )


def from_json(line: str) -> Row:
    data = json.loads(line)
    return Row(data["table"], {k: _decode(v) for k, v in data["values"].items()})
