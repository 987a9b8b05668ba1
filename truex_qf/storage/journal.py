"""Reading the FIX journal: verify its hash chain, query it, print it.

The background writer appends every inbound and outbound FIX message (secrets redacted) to
``fix_journal``, each row chained to the one before it (:mod:`truex_qf.storage.chain`). This
module only reads: it never repairs, re-hashes or deletes.

Decisions:

- **The chain is global.** The writer links each row to the previous row *of the table*, in
  ``id`` order, whatever run wrote it (two runs sharing a database interleave). So
  :func:`verify_database` always verifies the whole table from the genesis hash; ``run_id``
  only adds how many of that run's rows were covered. A break anywhere can hide a row of any
  run, so verifying only one run's rows would not prove anything about that run.
- **What the chain cannot see:** rows cut off the *end* of the table. The report's
  ``last_id``/``last_hash`` are the anchor to compare with a value kept elsewhere (a log line,
  a previous report) to detect that.
- **ClOrdID filter:** the writer fills the ``cl_ord_id`` column from ClOrdID(11) only, so a
  cancel or replace request (11 = the request's own ID) and its acknowledgement would not be
  found by the order's ID. :func:`show` therefore also matches OrigClOrdID(41) inside the text:
  asking for an order's ID shows its D, the F/G that name it, and the reports for both. The
  text match cannot use an index (a scan of the rows the other filters leave); a replace's
  replace (41 = the *new* ID) needs a second query with that ID.
- **Session filter** is a substring match, so ``OE1`` finds ``FIXT.1.1:MYFIRM_OE1->TRUEX_UAT_OE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, or_, select

from truex_qf.storage.chain import GENESIS_HASH, journal_hash
from truex_qf.storage.schema import fix_journal

SOH = "\x01"

CONTENT_CHANGED = "hash mismatch: row content changed"
LINK_BROKEN = "prev_hash does not match the previous row's hash: a row was removed or reordered"

STREAM_BATCH_ROWS = 10_000
"""Rows fetched per round trip when streaming the journal (server-side cursor on PostgreSQL)."""


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a chain verification.

    ``rows_checked`` counts the rows examined, the bad one included (verification stops at the
    first bad row). ``last_id``/``last_hash`` are those of the last row that verified (the
    genesis hash for an empty chain): the anchor to detect rows cut off the end later.
    ``run_rows`` is the number of rows of the requested run among those checked (None when no
    run was asked for).
    """

    ok: bool
    rows_checked: int
    first_bad_id: int | None = None
    reason: str | None = None
    last_id: int | None = None
    last_hash: str = GENESIS_HASH
    run_rows: int | None = None

    def __str__(self) -> str:
        run = "" if self.run_rows is None else f" ({self.run_rows} of the run)"
        if self.ok:
            return (
                f"journal chain OK: {self.rows_checked} rows{run}, "
                f"last id {self.last_id}, last hash {self.last_hash}"
            )
        return (
            f"journal chain BROKEN at row {self.first_bad_id}: {self.reason} "
            f"({self.rows_checked} rows checked{run}; last good id {self.last_id})"
        )


def verify_chain(
    rows: Iterable[Mapping[Any, Any]],  # dicts, or RowMapping (keyed by name or Column)
    *,
    prev_hash: str = GENESIS_HASH,
    run_id: str | None = None,
) -> ChainReport:
    """Check ``rows`` (in id order) link by link; stop at the first bad row.

    A row whose ``hash`` is not the hash of its own content (``prev_hash`` included) was
    changed: "content changed". A row whose ``prev_hash`` is not the previous row's stored
    ``hash`` (or ``prev_hash`` for the first row, the genesis hash by default) follows a gap or
    sits out of place: "removed or reordered". The content check comes first, so an edited
    row is reported once, at itself, and not again at its successor.
    """
    expected_prev = prev_hash
    checked = 0
    run_rows = 0 if run_id is not None else None
    last_id: int | None = None
    for row in rows:
        checked += 1
        row_id = row.get("id")
        if journal_hash(row["prev_hash"], dict(row)) != row["hash"]:
            return _broken(checked, row_id, CONTENT_CHANGED, last_id, expected_prev, run_rows)
        if row["prev_hash"] != expected_prev:
            return _broken(checked, row_id, LINK_BROKEN, last_id, expected_prev, run_rows)
        if run_rows is not None and row["run_id"] == run_id:
            run_rows += 1
        expected_prev = row["hash"]
        last_id = row_id
    return ChainReport(
        ok=True, rows_checked=checked, last_id=last_id, last_hash=expected_prev, run_rows=run_rows
    )


def _broken(
    checked: int,
    row_id: int | None,
    reason: str,
    last_id: int | None,
    last_hash: str,
    run_rows: int | None,
) -> ChainReport:
    return ChainReport(
        ok=False,
        rows_checked=checked,
        first_bad_id=row_id,
        reason=reason,
        last_id=last_id,
        last_hash=last_hash,
        run_rows=run_rows,
    )


def verify_database(engine: Engine, run_id: str | None = None) -> ChainReport:
    """Verify the whole ``fix_journal`` chain, streamed in id order (see the module docstring).

    One SELECT, so the rows form one consistent snapshot even while the writer appends. Rows
    are fetched :data:`STREAM_BATCH_ROWS` at a time (a server-side cursor on PostgreSQL), so a
    journal of millions of rows verifies in constant memory.
    """
    query = select(fix_journal).order_by(fix_journal.c.id)
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=STREAM_BATCH_ROWS).execute(query)
        return verify_chain((row._mapping for row in result), run_id=run_id)


# --------------------------------------------------------------------------- query


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One row of ``fix_journal``; ``logged_at`` is always timezone-aware UTC."""

    id: int
    run_id: str
    session: str
    direction: str
    msg_type: str
    seq_num: int | None
    cl_ord_id: str | None
    text: str
    logged_at: datetime
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> JournalEntry:
        return cls(
            id=row["id"],
            run_id=row["run_id"],
            session=row["session"],
            direction=row["direction"],
            msg_type=row["msg_type"],
            seq_num=row["seq_num"],
            cl_ord_id=row["cl_ord_id"],
            text=row["text"],
            logged_at=as_utc(row["logged_at"]),
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive value (SQLite gives those back) is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def show(
    engine: Engine,
    *,
    session: str | None = None,
    msg_type: str | None = None,
    cl_ord_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    run_id: str | None = None,
    direction: str | None = None,
    limit: int | None = 200,
) -> list[JournalEntry]:
    """Journal rows matching every filter given, oldest first, at most ``limit`` of them.

    ``session`` is a substring of the session ID; ``msg_type`` and ``direction`` (IN/OUT) are
    exact; ``cl_ord_id`` matches ClOrdID(11) or OrigClOrdID(41) (module docstring); ``since``
    is inclusive and ``until`` exclusive on ``logged_at`` (a naive datetime is taken as UTC).
    ``limit=None`` returns every match.
    """
    conditions: list[ColumnElement[bool]] = []
    columns = fix_journal.c
    if session is not None:
        conditions.append(columns.session.contains(session, autoescape=True))
    if msg_type is not None:
        conditions.append(columns.msg_type == msg_type)
    if direction is not None:
        conditions.append(columns.direction == direction.upper())
    if run_id is not None:
        conditions.append(columns.run_id == run_id)
    if cl_ord_id is not None:
        orig_field = f"{SOH}41={cl_ord_id}{SOH}"
        conditions.append(
            or_(columns.cl_ord_id == cl_ord_id, columns.text.contains(orig_field, autoescape=True))
        )
    dialect = engine.dialect.name
    if since is not None:
        conditions.append(columns.logged_at >= _bind_time(since, dialect))
    if until is not None:
        conditions.append(columns.logged_at < _bind_time(until, dialect))
    query = select(fix_journal).where(*conditions).order_by(columns.id)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return [JournalEntry.from_row(row._mapping) for row in connection.execute(query)]


def _bind_time(value: datetime, dialect: str) -> datetime:
    """SQLite stores times as naive UTC text (the tzinfo of a bound value is dropped)."""
    utc = as_utc(value)
    return utc.replace(tzinfo=None) if dialect == "sqlite" else utc


def format_entry(entry: JournalEntry) -> str:
    """One line: id, UTC time to the µs, direction, session, MsgType, the text with SOH as ``|``.

    Line breaks inside a field (a free-text 58, say) are shown as ``\\n`` so that one message
    stays one line.
    """
    when = entry.logged_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = entry.text.replace(SOH, "|").replace("\r", "\\r").replace("\n", "\\n")
    return f"{entry.id} {when} {entry.direction:<3} {entry.session} {entry.msg_type:<2} {text}"
