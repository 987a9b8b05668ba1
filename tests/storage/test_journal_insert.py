"""The journal's SQLite insert straight to the driver stores what SQLAlchemy's insert stores.

The writer hands chained journal rows to ``executemany`` itself on SQLite, with the times
formatted by :func:`~truex_qf.storage.chain.utc_text`'s short road. These tests hold that road
to ``isoformat`` and to the dialect's own bind processor, and compare the stored rows, byte
for byte, with rows stored through SQLAlchemy's Core insert.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import sqlite

from tests.support.storage import journal, read
from truex_qf.storage import writer as writer_module
from truex_qf.storage.chain import utc_text
from truex_qf.storage.database import make_engine, upgrade
from truex_qf.storage.journal import verify_database
from truex_qf.storage.rows import Row
from truex_qf.storage.schema import fix_journal
from truex_qf.storage.writer import StoreWriter, _chain, _insert_journal_to_driver, sqlite_time

NEW_YORK = ZoneInfo("America/New_York")


def reference_text(value: datetime, sep: str = "T") -> str:
    """What ``utc_text`` stands for: isoformat of the time in UTC, naive taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep, "microseconds")


def times() -> list[datetime]:
    """Second boundaries, microseconds at both ends, random times over centuries, zones."""
    rng = random.Random(7)
    boundary = datetime(2026, 11, 25, 8, 59, 59, tzinfo=UTC)
    values = [boundary + timedelta(microseconds=step) for step in range(-3, 1_000_004, 99_999)]
    values += [boundary + timedelta(microseconds=999_999 + step) for step in range(-2, 3)]
    values += [
        datetime(1900, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**16))
        for _ in range(20_000)
    ]
    values += [datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)]
    values += [value.astimezone(NEW_YORK) for value in values[:50]]
    values += [value.replace(tzinfo=None) for value in values[:50]]
    return values


def test_utc_text_is_isoformat_in_utc() -> None:
    for value in times():
        assert utc_text(value) == reference_text(value), value
        assert utc_text(value, " ") == reference_text(value, " "), value


def test_utc_text_pads_a_year_below_1000_as_isoformat_does() -> None:
    value = datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert utc_text(value) == reference_text(value) == "0005-01-02T03:04:05.000006"


def test_sqlite_time_is_what_the_dialect_stores() -> None:
    dialect = sqlite.dialect()
    processor = fix_journal.c.logged_at.type.dialect_impl(dialect).bind_processor(dialect)
    for value in times():
        utc = value.astimezone(UTC) if value.tzinfo else value  # the writer hands over UTC
        assert sqlite_time(utc) == processor(utc), value


def stored_bytes(path: Path) -> list[tuple[object, ...]]:
    """Every journal row as SQLite holds it: no SQLAlchemy type processing on the way out."""
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT * FROM fix_journal ORDER BY id").fetchall()


def test_the_driver_insert_stores_what_the_core_insert_stores(tmp_path: Path) -> None:
    rows = [journal(seq, cl_ord_id=f"Q{seq}" if seq % 3 else None) for seq in range(1, 301)]
    values_list = [
        {**row.values, "logged_at": row.values["logged_at"] + timedelta(seconds=seq * 0.37)}
        for seq, row in enumerate(rows)
    ]
    paths = {name: tmp_path / f"{name}.db" for name in ("driver", "core")}
    for name, path in paths.items():
        upgrade(f"sqlite:///{path}")
        engine = make_engine(f"sqlite:///{path}", sqlite_begin="BEGIN IMMEDIATE")
        chained = [dict(values) for values in values_list]
        with engine.begin() as connection:
            _chain(connection, chained)
            if name == "driver":
                assert _insert_journal_to_driver(connection, chained)
            else:
                connection.execute(fix_journal.insert(), chained)
        assert verify_database(engine).ok
        engine.dispose()
    assert stored_bytes(paths["driver"]) == stored_bytes(paths["core"])
    assert len(stored_bytes(paths["driver"])) == 300


def test_the_writer_stores_any_zone_and_the_chain_verifies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'truex-qf.db'}"
    upgrade(url)
    writer = StoreWriter(url, tmp_path / "spill.jsonl")
    writer.start()
    sent = []
    for seq in range(1, 61):
        row = journal(seq)
        logged_at = row.values["logged_at"]
        if seq % 3 == 1:
            logged_at = logged_at.astimezone(NEW_YORK)
        elif seq % 3 == 2:
            logged_at = logged_at.replace(tzinfo=None)  # naive means UTC
        sent.append(logged_at)
        writer.submit(Row("fix_journal", {**row.values, "logged_at": logged_at}))
    assert writer.stop()
    stored = read(url, fix_journal)
    assert [row["logged_at"] for row in stored] == [reference_datetime(value) for value in sent]
    engine = make_engine(url)
    assert verify_database(engine).ok
    engine.dispose()


def reference_datetime(value: datetime) -> datetime:
    """SQLite gives times back naive, in UTC."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


@pytest.mark.parametrize("use_driver", [True, False], ids=["driver", "core"])
def test_an_unknown_key_is_ignored_and_a_missing_column_refused_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_driver: bool
) -> None:
    """What SQLAlchemy's insert does with such rows, the driver insert does too."""
    if not use_driver:
        monkeypatch.setattr(writer_module, "_insert_journal_to_driver", lambda *_: False)
    url = f"sqlite:///{tmp_path / 'truex-qf.db'}"
    upgrade(url)
    writer = StoreWriter(url, tmp_path / "spill.jsonl")
    writer.start()
    for seq in range(1, 11):
        values = dict(journal(seq).values)
        if seq == 4:
            values["not_a_column"] = 1
        if seq == 7:
            del values["session"]
        writer.submit(Row("fix_journal", values))
    assert writer.stop()
    assert [row["seq_num"] for row in read(url, fix_journal)] == [1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert writer.stats.rejected == 1
    assert '"seq_num":7' in (tmp_path / "spill.jsonl.rejected").read_text()
