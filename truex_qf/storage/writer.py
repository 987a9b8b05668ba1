"""The background writer: the only code that talks to the database while the program trades.

Callers (the FIX engine's threads, the trading loop) only :meth:`StoreWriter.submit` a
:class:`~truex_qf.storage.rows.Row`: a put on an unbounded :class:`queue.SimpleQueue`, which never
blocks and never raises. ``SimpleQueue`` rather than a ``deque``: its ``put`` is as cheap, is
reentrant (safe even from a signal handler or a finalizer), and its blocking ``get`` with a
timeout lets the writer sleep until a row arrives without a condition variable of our own.
Unbounded on purpose: a full queue would have to block the caller or drop a row, and storage
must do neither; the memory cost of a backlog is visible in :attr:`StoreWriter.stats`.

One thread does everything else, in submission order:

- it takes up to ``batch_size`` rows (waiting at most ``flush_interval_s`` for a batch to fill)
  and writes them in one transaction: rows grouped per table, ``orders``/``runs`` upserted by
  key (later values win), ``executions`` ignoring a repeated ExecID, everything else inserted;
- ``fix_journal`` rows get ``prev_hash``/``hash`` (:func:`~truex_qf.storage.chain.journal_hash`)
  inside the transaction that inserts them, from the last hash read in that same transaction
  under a lock (PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``). The chain therefore
  continues exactly from the table across restarts, outages, a commit whose outcome was lost,
  and even a second process writing the same database. Rows in the spill file carry no hash
  yet: they are chained when they reach the table, so an outage never forks the chain;
- while the database is unreachable each batch is appended to the spill file (JSON lines,
  fsync per batch: a crash loses nothing already spilled) and the database is retried every
  ``retry_interval_s``; once it answers, the spill file is replayed in order in one transaction
  and emptied, before any newer row. A spill file left by a crashed process is replayed the
  same way by the next writer;
- when the spill file would outgrow ``spill_max_bytes`` (or cannot be written), ``on_spill_full``
  is called once per outage, on this thread (hand the halt to the trading loop; do not block),
  and rows are held in memory instead; none is dropped. :meth:`StoreWriter.stop` spills them
  past the limit rather than lose them at exit;
- a row the database refuses (a constraint or a value it cannot hold) is isolated by bisecting
  its batch; the other rows are stored and the refused one is appended to
  ``<spill file>.rejected`` and logged. A failure the rows did not cause (connection, missing
  table, lock timeout) is treated as an outage.

Delivery is at least once: if the connection drops while a COMMIT is in flight and the commit
did happen, the batch is spilled and written again. ``orders``, ``runs`` and ``executions``
absorb that; the append-only tables would hold the rows twice (the journal stays a valid chain).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.sql.dml import Insert

from truex_qf.storage.chain import GENESIS_HASH, journal_hash, utc_text
from truex_qf.storage.database import make_engine, mask_url, one_line
from truex_qf.storage.rows import (
    IGNORE_DUPLICATE_KEYS,
    UPSERT_KEYS,
    PendingRow,
    Row,
    from_json,
    to_json,
)
from truex_qf.storage.schema import fix_journal, metadata

log = logging.getLogger("truex_qf.storage")

_STOP = object()  # queued by stop(): everything before it is stored or spilled
_JOURNAL_LOCK_ID = 0x7472_7565_7871_6601  # PostgreSQL advisory lock serialising journal appends
# Typed by the dialects' own Insert classes: they carry the ON CONFLICT clauses the base lacks.
_DIALECT_INSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


@dataclass(frozen=True, slots=True)
class StoreStats:
    """A snapshot of the writer's counters (rows, except ``failures`` and ``spill_bytes``)."""

    written: int  # committed to the database, replayed rows included
    spilled: int  # appended to the spill file
    replayed: int  # moved from the spill file to the database
    rejected: int  # refused by the database, kept in the .rejected file
    failures: int  # failed database attempts, refused rows, spill file and internal errors
    queue_depth: int  # submitted, neither stored nor spilled yet (held in memory)
    spill_bytes: int
    spill_full: bool
    database_up: bool
    last_error: str | None


def log_only(reason: str) -> None:
    """The default ``on_spill_full``: the writer has already logged ``reason`` as critical."""


def _is_row_problem(error: Exception) -> bool:
    """True when the rows are at fault (retrying them cannot help), False when the database is."""
    if isinstance(error, DBAPIError):
        return isinstance(error, IntegrityError | DataError) and not error.connection_invalidated
    return not isinstance(error, PoolTimeoutError | DisconnectionError | OSError)


def _as_utc(value: Any) -> Any:
    # naive means UTC (as in chain.py); PostgreSQL would read it in the session's time zone and
    # SQLite drops the offset, so every time is handed over as UTC
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class StoreWriter:
    """Stores submitted rows from one background thread; see the module docstring."""

    def __init__(
        self,
        url: str,
        spill_path: Path,
        *,
        spill_max_bytes: int = 50_000_000,
        on_spill_full: Callable[[str], None] = log_only,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        retry_interval_s: float = 2.0,
    ) -> None:
        if batch_size < 1 or spill_max_bytes < 0 or flush_interval_s < 0 or retry_interval_s < 0:
            raise ValueError("batch_size must be >= 1 and the limits and intervals >= 0")
        self.url = url
        self.spill_path = Path(spill_path)
        self.rejected_path = self.spill_path.with_name(self.spill_path.name + ".rejected")
        self._spill_max_bytes = spill_max_bytes
        self._on_spill_full = on_spill_full
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retry_interval_s = retry_interval_s

        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._held: deque[Row] = deque()  # taken off the queue, neither stored nor spilled
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None
        self._statements: dict[tuple[str, tuple[str, ...]], Insert] = {}
        self._closed = False
        self._closed_lock = threading.Lock()
        self._stop_seen = False
        self._retry_at = 0.0  # monotonic time before which the database is not tried
        self._database_up: bool | None = None  # None until the first attempt
        self._spill_bytes = 0
        self._spill_full = False

        self._written = 0
        self._spilled = 0
        self._replayed = 0
        self._rejected = 0
        self._failures = 0
        self._late_rows = 0
        self._last_error: str | None = None

    # ------------------------------------------------------------------ the callers' side

    def start(self) -> None:
        """Start the background thread (rows submitted before are kept and stored first)."""
        if self._thread is not None:
            raise RuntimeError("StoreWriter already started")
        self._engine = make_engine(self.url, sqlite_begin="BEGIN IMMEDIATE")
        try:
            self._spill_bytes = self.spill_path.stat().st_size
        except FileNotFoundError:
            self._spill_bytes = 0
        if self._spill_bytes:
            log.info("store: %s holds %d bytes to replay", self.spill_path, self._spill_bytes)
        self._thread = threading.Thread(target=self._run, name="truex-qf-store", daemon=True)
        self._thread.start()

    def submit(self, row: Row | PendingRow) -> None:
        """Queue ``row`` for storage; never blocks, never raises.

        A :class:`~truex_qf.storage.rows.PendingRow` becomes its row on the writer's thread,
        before it is stored or spilled, so callers on hot threads only pay for the put.
        """
        try:
            if not self._closed:
                self._queue.put(row)
                return
            with self._closed_lock:
                self._late_rows += 1
                self._failures += 1
                first = self._late_rows == 1
            if first:
                table = getattr(row, "table", type(row).__name__)
                log.error("store: a %s row was submitted after stop(); not stored", table)
        except Exception:  # storage must never break the caller
            log.exception("store: submit failed")

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Store or spill everything submitted so far, stop the thread; True when it finished.

        Rows the database cannot take now end up in the spill file (past its size limit if
        need be) for the next writer to replay. False means the thread was still busy after
        ``timeout_s`` (a database that hangs rather than fails): what it still held is lost
        when the process exits, and is logged.
        """
        with self._closed_lock:
            already_closed, self._closed = self._closed, True
        if self._thread is None:
            if already_closed:
                return True
            self.start()
        assert self._thread is not None
        if not already_closed:
            self._queue.put(_STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error(
                "store: writer still busy after %.1f s with %d rows not stored or spilled",
                timeout_s,
                self.stats.queue_depth,
            )
            return False
        return True

    @property
    def stats(self) -> StoreStats:
        """Counters for status and metrics; safe to read from any thread."""
        return StoreStats(
            written=self._written,
            spilled=self._spilled,
            replayed=self._replayed,
            rejected=self._rejected,
            failures=self._failures,
            queue_depth=self._queue.qsize() + len(self._held),
            spill_bytes=self._spill_bytes,
            spill_full=self._spill_full,
            database_up=self._database_up is True,
            last_error=self._last_error,
        )

    # ------------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        while True:
            try:
                self._gather()
                self._place()
                if self._stop_seen and not self._held:
                    break
            except Exception as error:  # the thread must outlive any bug
                self._note_failure(error)
                log.exception("store: writer loop failed; carrying on")
                if self._stop_seen:
                    self._spill_held_at_exit()
                    break
                time.sleep(min(self._retry_interval_s, 1.0))
        if self._engine is not None:
            self._engine.dispose()

    def _may_try_database(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _ready_now(self) -> bool:
        """Whether there is work to do without waiting for a new row."""
        may_try = self._may_try_database()
        if self._spill_bytes and may_try:
            return True
        return bool(self._held) and (may_try or not self._spill_full)

    def _take(self, timeout_s: float) -> bool:
        """Move one row from the queue to ``_held``; False when none came or stop was seen."""
        try:
            item = self._queue.get(timeout=timeout_s) if timeout_s > 0 else self._queue.get_nowait()
        except queue.Empty:
            return False
        if item is _STOP:
            self._stop_seen = True
            return False
        if type(item) is not Row:  # a PendingRow: its row is built here, off the caller
            try:
                item = item.row()
            except Exception as error:  # a bug; the item may hold secrets: log no content
                self._rejected += 1
                self._note_failure(error)
                log.error("store: cannot build a row from a %s: %r", type(item).__name__, error)
                return True
        self._held.append(item)
        return True

    def _gather(self) -> None:
        """Fill ``_held`` to a batch, sleeping when there is nothing to do."""
        if self._stop_seen:
            return
        limit: int | None = self._batch_size
        if self._ready_now():
            deadline = time.monotonic()  # only what is queued already
        else:
            stuck = bool(self._held)  # database down and spill file full: wait for a retry
            if stuck or self._spill_bytes:
                idle_s = max(0.01, self._retry_at - time.monotonic())
            else:
                idle_s = 1.0  # nothing pending at all; a row or stop() wakes us
            if not self._take(idle_s):
                return
            if stuck:
                deadline, limit = time.monotonic(), None  # drain into memory, find a stop
            else:
                deadline = time.monotonic() + self._flush_interval_s
        while limit is None or len(self._held) < limit:
            if not self._take(deadline - time.monotonic()):
                return

    def _place(self) -> None:
        """Replay the spill file if due, then store or spill what is held."""
        if self._spill_bytes and self._may_try_database():
            self._replay_spill()
        if not self._held:
            return
        if not self._spill_bytes and self._may_try_database():
            batch = list(itertools.islice(self._held, self._batch_size))
            done, failure = self._deliver(batch)
            for _ in range(done):
                self._held.popleft()
            if failure is None:
                self._database_ok()
                return
            self._database_failed(failure)
        self._spill_held(force=self._stop_seen)

    # ------------------------------------------------------------------ the database

    def _deliver(self, rows: Sequence[Row]) -> tuple[int, Exception | None]:
        """Write ``rows``; returns how many leading rows were dealt with and the outage error.

        A row the database refuses is rejected (and counts as dealt with): the batch is split
        in halves until it stands alone, so every other row still gets stored, in order.
        """
        try:
            self._write(rows)
            return len(rows), None
        except Exception as error:
            if not _is_row_problem(error):
                return 0, error
            if len(rows) == 1:
                self._reject(rows[0], error)
                return 1, None
        middle = len(rows) // 2
        done, failure = self._deliver(rows[:middle])
        if failure is not None:
            return done, failure
        rest, failure = self._deliver(rows[middle:])
        return middle + rest, failure

    def _write(self, rows: Sequence[Row]) -> None:
        """One transaction for ``rows``: per table, in submission order within each table."""
        assert self._engine is not None
        per_table: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            values = dict(row.values)
            for name, value in row.values.items():
                if isinstance(value, datetime):
                    values[name] = _as_utc(value)
            per_table.setdefault(row.table, []).append(values)
        with self._engine.begin() as connection:
            for name, values_list in per_table.items():
                table = metadata.tables[name]
                if name in UPSERT_KEYS:
                    values_list = _merge_by_key(values_list, UPSERT_KEYS[name])
                else:
                    values_list = [_complete(table, values) for values in values_list]
                if name == fix_journal.name:
                    _chain(connection, values_list)
                    if _insert_journal_to_driver(connection, values_list):
                        continue
                for keys, run in _runs_by_keys(values_list):
                    connection.execute(self._statement(connection, table, keys), run)
        self._written += len(rows)

    def _statement(self, connection: Connection, table: Table, keys: tuple[str, ...]) -> Insert:
        cached = self._statements.get((table.name, keys))
        if cached is not None:
            return cached
        insert = _DIALECT_INSERTS.get(connection.dialect.name)
        statement: Insert
        if table.name in UPSERT_KEYS and insert is not None:
            key = UPSERT_KEYS[table.name]
            upsert = insert(table)
            updates = {name: upsert.excluded[name] for name in keys if name != key}
            if updates:
                statement = upsert.on_conflict_do_update(index_elements=[key], set_=updates)
            else:
                statement = upsert.on_conflict_do_nothing(index_elements=[key])
        elif table.name in IGNORE_DUPLICATE_KEYS and insert is not None:
            key = IGNORE_DUPLICATE_KEYS[table.name]
            statement = insert(table).on_conflict_do_nothing(index_elements=[key])
        else:
            statement = table.insert()
        self._statements[(table.name, keys)] = statement
        return statement

    def _database_ok(self) -> None:
        if self._database_up is False:
            log.info("store: database %s reachable again", mask_url(self.url))
        self._database_up = True
        self._retry_at = 0.0

    def _database_failed(self, error: Exception) -> None:
        self._note_failure(error)
        if self._database_up is not False:
            log.warning(
                "store: database %s unavailable (%s); spilling to %s, retrying every %.1f s",
                mask_url(self.url),
                self._last_error,
                self.spill_path,
                self._retry_interval_s,
            )
        else:
            log.debug("store: database still unavailable: %s", self._last_error)
        self._database_up = False
        self._retry_at = time.monotonic() + self._retry_interval_s

    def _note_failure(self, error: BaseException) -> None:
        self._failures += 1
        self._last_error = f"{type(error).__name__}: {one_line(error)}"

    # ------------------------------------------------------------------ the spill file

    def _spill_held(self, *, force: bool) -> None:
        """Append what is held to the spill file, as far as it fits (all of it if ``force``)."""
        if self._spill_full and not force:
            return
        chunks: list[bytes] = []
        size = 0
        count = 0
        rejected = 0
        for row in self._held:
            try:
                line = (to_json(row) + "\n").encode("utf-8")
            except (TypeError, ValueError) as error:  # a value JSON cannot hold
                self._reject(row, error)
                rejected += 1
                count += 1
                continue
            if not force and self._spill_bytes + size + len(line) > self._spill_max_bytes:
                break
            chunks.append(line)
            size += len(line)
            count += 1
        if count:
            try:
                if chunks:
                    self._append_spill(b"".join(chunks))
            except OSError as error:
                self._note_failure(error)
                log.error("store: cannot write the spill file %s: %s", self.spill_path, error)
                self._report_spill_full(f"cannot write the spill file {self.spill_path}: {error}")
                if force:
                    log.critical(
                        "store: %d rows lost at exit (database and spill file both failed)",
                        len(self._held),
                    )
                    self._held.clear()
                return
            for _ in range(count):
                self._held.popleft()
            self._spilled += count - rejected
        if self._held and not force:
            self._report_spill_full(
                f"spill file {self.spill_path} would exceed {self._spill_max_bytes} bytes while "
                f"the database is unavailable ({self._last_error}); holding rows in memory"
            )

    def _spill_held_at_exit(self) -> None:
        try:
            self._spill_held(force=True)
        except Exception:
            log.exception("store: %d rows lost at exit", len(self._held))

    def _append_spill(self, data: bytes) -> None:
        self.spill_path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.spill_path.exists()
        with open(self.spill_path, "ab") as spill:
            try:
                spill.write(data)
                spill.flush()
                os.fsync(spill.fileno())
            except OSError:
                spill.truncate(self._spill_bytes)  # never leave half a line for the next append
                raise
        if created:
            _fsync_dir(self.spill_path.parent)
        self._spill_bytes += len(data)

    def _report_spill_full(self, reason: str) -> None:
        if self._spill_full:
            return
        self._spill_full = True
        log.critical("store: %s", reason)
        try:
            self._on_spill_full(reason)
        except Exception:
            log.exception("store: on_spill_full failed")

    def _replay_spill(self) -> None:
        """Store the spill file's rows in one transaction, then empty it."""
        if self._database_up is not True:
            unavailable = self._probe()  # before reading a file that may be large
            if unavailable is not None:
                self._database_failed(unavailable)
                return
        lines = self.spill_path.read_bytes().splitlines(keepends=True)
        rows: list[Row] = []
        kept: list[bytes] = []
        for number, line in enumerate(lines, 1):
            try:
                rows.append(from_json(line.decode("utf-8")))
                kept.append(line)
            except (ValueError, KeyError, TypeError) as error:  # e.g. torn by a crash
                log.error("store: spill file line %d unreadable (%s)", number, error)
                self._keep_rejected(line.rstrip(b"\n") + b"\n")
                self._note_failure(error)
        written_before = self._written
        done, failure = self._deliver(rows)
        self._replayed += self._written - written_before
        rest = kept[done:]
        if len(rest) == len(lines):
            pass  # nothing stored, nothing unreadable: the file stays as it is
        elif rest:
            self._rewrite_spill(b"".join(rest))
        else:
            with open(self.spill_path, "r+b") as spill:
                spill.truncate(0)
                os.fsync(spill.fileno())
            self._spill_bytes = 0
        if failure is not None:
            self._database_failed(failure)
            return
        log.info("store: replayed %d rows from %s", done, self.spill_path)
        self._spill_full = False  # the next outage reports again
        self._database_ok()

    def _probe(self) -> Exception | None:
        """None when the database answers, else why not."""
        assert self._engine is not None
        try:
            with self._engine.connect() as connection:
                connection.execute(select(1))
        except Exception as error:
            return error
        return None

    def _rewrite_spill(self, data: bytes) -> None:
        partial = self.spill_path.with_name(self.spill_path.name + ".partial")
        with open(partial, "wb") as spill:
            spill.write(data)
            spill.flush()
            os.fsync(spill.fileno())
        os.replace(partial, self.spill_path)
        _fsync_dir(self.spill_path.parent)
        self._spill_bytes = len(data)

    def _reject(self, row: Row, error: BaseException) -> None:
        self._rejected += 1
        self._note_failure(error)
        log.error(
            "store: %s row refused (%s); kept in %s",
            getattr(row, "table", "?"),
            self._last_error,
            self.rejected_path,
        )
        try:
            line = to_json(row)
        except Exception:
            line = json.dumps({"unserializable": repr(row)})
        self._keep_rejected((line + "\n").encode("utf-8"))

    def _keep_rejected(self, line: bytes) -> None:
        try:
            self.rejected_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.rejected_path, "ab") as rejected:
                rejected.write(line)
                rejected.flush()
                os.fsync(rejected.fileno())
        except OSError as error:
            log.error(
                "store: cannot keep a refused row in %s (%s): %r", self.rejected_path, error, line
            )


def _complete(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every omitted nullable column set to NULL, so batches share one shape."""
    missing = {name: None for name in _nullable_columns(table) if name not in values}
    return {**missing, **values} if missing else values


@functools.cache
def _nullable_columns(table: Table) -> tuple[str, ...]:
    return tuple(
        column.name for column in table.columns if column.nullable and not column.primary_key
    )


def _merge_by_key(values_list: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """One row per key, later values over earlier ones: what upserting them in turn would do.

    PostgreSQL refuses to upsert the same key twice in one statement.
    """
    merged: dict[Any, dict[str, Any]] = {}
    for values in values_list:
        merged[values[key]] = {**merged.get(values[key], {}), **values}
    return list(merged.values())


def _runs_by_keys(
    values_list: list[dict[str, Any]],
) -> list[tuple[tuple[str, ...], list[dict[str, Any]]]]:
    """Consecutive rows with the same columns, for one executemany each, order kept."""
    runs: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = []
    for values in values_list:
        keys = tuple(sorted(values))
        if runs and runs[-1][0] == keys:
            runs[-1][1].append(values)
        else:
            runs.append((keys, [values]))
    return runs


_JOURNAL_COLUMNS = tuple(column.name for column in fix_journal.columns if not column.primary_key)
_SQLITE_JOURNAL_INSERT = str(
    fix_journal.insert().compile(dialect=sqlite.dialect(), column_keys=list(_JOURNAL_COLUMNS))
)


def _insert_journal_to_driver(connection: Connection, values_list: list[dict[str, Any]]) -> bool:
    """Insert chained journal rows with one ``executemany`` on the driver; False if it may not.

    The journal is most of what the writer stores (a row per FIX message, tens of thousands a
    second), and SQLAlchemy's per-row parameter handling cost about a third of each row's
    time. On SQLite the Core insert is a plain ``executemany`` anyway, so the same statement
    with tuples built here stores the same rows, ``logged_at`` as :func:`sqlite_time`.

    - As with the Core insert, a key that is not a column is ignored, and a row without a
      required column is refused alone (a ``KeyError`` here, NOT NULL there: the batch is
      bisected either way).
    - PostgreSQL keeps the Core path: its batched multi-row VALUES is what makes it fast
      there, where a driver ``executemany`` would be a round trip per row.
    """
    if connection.dialect.name != "sqlite":
        return False
    connection.exec_driver_sql(
        _SQLITE_JOURNAL_INSERT,
        [
            (
                values["run_id"],
                values["session"],
                values["direction"],
                values["msg_type"],
                values["seq_num"],
                values["cl_ord_id"],
                values["text"],
                sqlite_time(values["logged_at"]),
                values["prev_hash"],
                values["hash"],
            )
            for values in values_list
        ],
    )
    return True


def sqlite_time(value: datetime) -> str:
    """A time as SQLAlchemy's SQLite ``DateTime`` stores it, ``YYYY-MM-DD HH:MM:SS.ffffff``
    (in UTC: :meth:`StoreWriter._write` hands every time over in UTC). The hash's short road
    (:func:`~truex_qf.storage.chain.utc_text`): the dialect's own bind processor took 1.3 us."""
    return utc_text(value, " ")


def _chain(connection: Connection, values_list: list[dict[str, Any]]) -> None:
    """Fill ``prev_hash`` and ``hash``, continuing from the table's last row, under a lock."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_JOURNAL_LOCK_ID)))
    last = connection.execute(
        select(fix_journal.c.hash).order_by(fix_journal.c.id.desc()).limit(1)
    ).scalar()
    prev_hash = last or GENESIS_HASH
    for values in values_list:
        values["prev_hash"] = prev_hash
        values["hash"] = prev_hash = journal_hash(prev_hash, values)
