"""The FIX journal's chain verification, query and printing, on journals built by hand.

Rows are appended by :class:`JournalAppender` with hashes from :func:`journal_hash`, exactly
as the writer must, so these tests do not depend on the writer.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, delete, select, text, update
from sqlalchemy.engine import make_url

from tests.support.storage import OE_SESSION, START, JournalAppender, fix
from truex_qf.fix.readers import SOH
from truex_qf.storage import journal
from truex_qf.storage.chain import GENESIS_HASH, journal_hash
from truex_qf.storage.journal import (
    CONTENT_CHANGED,
    LINK_BROKEN,
    JournalEntry,
    format_entry,
    show,
    verify_chain,
    verify_database,
)
from truex_qf.storage.schema import fix_journal, metadata

MD_SESSION = "FIXT.1.1:MYFIRM_MD1->TRUEX_UAT_MD"


# --------------------------------------------------------------------------- helpers


def order_flow(appender: JournalAppender) -> list[int]:
    """Logon, a D, its reports, a cancel and its ack, and a market data message: ids."""
    md = appender.session.replace("OE", "MD")
    return [
        appender.append("OUT", fix("A", 1, (98, 0), (108, 30), (553, "abcd1234***"), (554, "***"))),
        appender.append("IN", fix("A", 1, (108, 30), (1137, 9), outbound=False)),
        appender.append(
            "OUT",
            fix("D", 2, (11, "Q1"), (38, "0.5"), (40, 2), (44, 100), (54, 1), (55, "BTC-PYUSD")),
        ),
        appender.append(
            "IN",
            fix("8", 2, (11, "Q1"), (17, "E1"), (37, "O1"), (150, "0"), (39, "0"), outbound=False),
        ),
        appender.append("OUT", fix("F", 3, (11, "Q2"), (41, "Q1"))),
        appender.append(
            "IN",
            fix(
                "8",
                3,
                (11, "Q2"),
                (41, "Q1"),
                (17, "E2"),
                (37, "O1"),
                (150, "4"),
                (39, "4"),
                outbound=False,
            ),
        ),
        appender.append("IN", fix("W", 2, (262, "MD-1"), (55, "BTC-PYUSD")), session=md),
    ]


def all_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(select(fix_journal).order_by(fix_journal.c.id))
        return [dict(row._mapping) for row in result]


# --------------------------------------------------------------------------- verify


def test_a_clean_chain_verifies(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    report = verify_database(engine)
    assert report.ok
    assert report.rows_checked == len(ids)
    assert report.first_bad_id is None and report.reason is None
    assert report.last_id == ids[-1]
    assert report.last_hash == all_rows(engine)[-1]["hash"]
    assert "OK" in str(report)


def test_an_empty_journal_verifies(engine: Engine) -> None:
    report = verify_database(engine)
    assert report.ok and report.rows_checked == 0 and report.last_hash == GENESIS_HASH


def test_an_edited_text_is_caught_at_that_row(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    edited = ids[2]
    with engine.begin() as connection:
        row = connection.execute(select(fix_journal.c.text).where(fix_journal.c.id == edited))
        forged = row.scalar_one().replace("38=0.5", "38=5.0")
        connection.execute(
            update(fix_journal).where(fix_journal.c.id == edited).values(text=forged)
        )
    report = verify_database(engine)
    assert not report.ok
    assert report.first_bad_id == edited
    assert report.reason == CONTENT_CHANGED == "hash mismatch: row content changed"
    assert report.rows_checked == 3
    assert report.last_id == ids[1]
    assert f"BROKEN at row {edited}" in str(report)


@pytest.mark.parametrize(
    "column, value",
    [
        ("logged_at", START + timedelta(days=1)),
        ("cl_ord_id", "Q9"),
        ("direction", "OUT"),
        ("run_id", "run-2"),
    ],
)
def test_any_edited_field_is_caught(engine: Engine, column: str, value: Any) -> None:
    ids = order_flow(JournalAppender(engine))
    with engine.begin() as connection:
        connection.execute(
            update(fix_journal).where(fix_journal.c.id == ids[3]).values({column: value})
        )
    report = verify_database(engine)
    assert (report.first_bad_id, report.reason) == (ids[3], CONTENT_CHANGED)


def test_a_deleted_middle_row_is_caught_at_the_next_row(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    with engine.begin() as connection:
        connection.execute(delete(fix_journal).where(fix_journal.c.id == ids[3]))
    report = verify_database(engine)
    assert not report.ok
    assert report.first_bad_id == ids[4]
    assert report.reason == LINK_BROKEN
    assert "a row was removed or reordered" in report.reason


def test_a_deleted_first_row_is_caught(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    with engine.begin() as connection:
        connection.execute(delete(fix_journal).where(fix_journal.c.id == ids[0]))
    report = verify_database(engine)
    assert (report.first_bad_id, report.reason) == (ids[1], LINK_BROKEN)


def test_reordered_rows_are_caught(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    first, second = ids[3], ids[4]
    with engine.begin() as connection:  # swap the two rows' positions in id order
        table = fix_journal
        connection.execute(update(table).where(table.c.id == first).values(id=-1))
        connection.execute(update(table).where(table.c.id == second).values(id=first))
        connection.execute(update(table).where(table.c.id == -1).values(id=second))
    report = verify_database(engine)
    assert (report.first_bad_id, report.reason) == (first, LINK_BROKEN)


def test_an_edited_and_rehashed_row_is_caught_at_its_successor(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    rows = all_rows(engine)
    forged = dict(rows[2], text=rows[2]["text"].replace("44=100", "44=99"))
    forged["hash"] = journal_hash(forged["prev_hash"], forged)
    with engine.begin() as connection:
        connection.execute(
            update(fix_journal)
            .where(fix_journal.c.id == ids[2])
            .values(text=forged["text"], hash=forged["hash"])
        )
    report = verify_database(engine)
    assert (report.first_bad_id, report.reason) == (ids[3], LINK_BROKEN)


def test_verify_chain_is_pure_over_mappings() -> None:
    rows = []
    prev = GENESIS_HASH
    for number in range(1, 4):
        values = {
            "id": number,
            "run_id": "r",
            "session": OE_SESSION,
            "direction": "OUT",
            "msg_type": "0",
            "seq_num": number,
            "cl_ord_id": None,
            "text": f"35=0{SOH}34={number}{SOH}",
            "logged_at": START,
            "prev_hash": prev,
        }
        values["hash"] = prev = journal_hash(prev, values)
        rows.append(values)
    assert verify_chain(rows).ok
    assert verify_chain([]).ok
    # a tail of the chain verifies from its anchor, not from genesis
    assert verify_chain(rows[1:], prev_hash=rows[0]["hash"]).ok
    assert verify_chain(rows[1:]).reason == LINK_BROKEN
    swapped = [rows[0], rows[2], rows[1]]
    assert (verify_chain(swapped).first_bad_id, verify_chain(swapped).reason) == (3, LINK_BROKEN)


def test_the_chain_is_global_and_run_id_only_counts(engine: Engine) -> None:
    first = JournalAppender(engine, run_id="run-1")
    first.append("OUT", fix("0", 2))
    second = JournalAppender(engine, run_id="run-2")  # continues the same chain
    second.append("OUT", fix("0", 3))
    second.append("OUT", fix("0", 4))
    report = verify_database(engine, run_id="run-2")
    assert report.ok and report.rows_checked == 3 and report.run_rows == 2
    assert verify_database(engine).run_rows is None
    # a break in another run's rows fails the verification of this one too
    with engine.begin() as connection:
        connection.execute(delete(fix_journal).where(fix_journal.c.run_id == "run-1"))
    assert not verify_database(engine, run_id="run-2").ok


def test_verification_streams_in_batches(engine: Engine, monkeypatch) -> None:
    monkeypatch.setattr(journal, "STREAM_BATCH_ROWS", 3)
    appender = JournalAppender(engine)
    ids = [appender.append("OUT", fix("0", seq)) for seq in range(2, 13)]
    assert verify_database(engine).rows_checked == len(ids)
    with engine.begin() as connection:
        connection.execute(delete(fix_journal).where(fix_journal.c.id == ids[7]))
    report = verify_database(engine)
    assert (report.first_bad_id, report.rows_checked) == (ids[8], 8)


# --------------------------------------------------------------------------- show


def test_show_filters(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    JournalAppender(engine, run_id="run-2").append("OUT", fix("0", 9))

    assert [e.id for e in show(engine)] == [*ids, ids[-1] + 1]
    assert [e.id for e in show(engine, session="MD1")] == [ids[-1]]
    assert [e.id for e in show(engine, session=MD_SESSION)] == [ids[-1]]
    assert [e.id for e in show(engine, msg_type="8")] == [ids[3], ids[5]]
    assert [e.id for e in show(engine, direction="out", run_id="run-1")] == [
        ids[0],
        ids[2],
        ids[4],
    ]
    assert [e.id for e in show(engine, run_id="run-2")] == [ids[-1] + 1]
    assert show(engine, limit=2) == show(engine)[:2]
    assert len(show(engine, limit=None)) == len(ids) + 1


def test_show_by_cl_ord_id_finds_the_requests_that_name_it_in_41(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    # Q1: its D and New (11=Q1), the cancel request and its ack (41=Q1)
    assert [e.id for e in show(engine, cl_ord_id="Q1")] == [ids[2], ids[3], ids[4], ids[5]]
    assert [e.id for e in show(engine, cl_ord_id="Q2")] == [ids[4], ids[5]]
    assert show(engine, cl_ord_id="Q") == []  # no prefix match
    assert show(engine, cl_ord_id="Q_") == []  # LIKE wildcards are escaped


def test_show_by_time(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    times = [e.logged_at for e in show(engine)]
    assert [e.id for e in show(engine, since=times[2], until=times[4])] == [ids[2], ids[3]]
    # naive means UTC; another time zone is converted
    naive = times[5].replace(tzinfo=None)
    assert [e.id for e in show(engine, since=naive)] == [ids[5], ids[6]]
    tokyo = times[5].astimezone(ZoneInfo("Asia/Tokyo"))
    assert [e.id for e in show(engine, since=tokyo)] == [ids[5], ids[6]]


def test_entries_and_their_one_line_format(engine: Engine) -> None:
    ids = order_flow(JournalAppender(engine))
    entry = show(engine, cl_ord_id="Q1", msg_type="D")[0]
    assert isinstance(entry, JournalEntry)
    assert entry.id == ids[2] and entry.cl_ord_id == "Q1" and entry.seq_num == 2
    assert entry.logged_at.tzinfo is not None
    line = format_entry(entry)
    assert SOH not in line and "\n" not in line
    assert line.startswith(f"{ids[2]} 2025-09-10T18:32:27.348901Z OUT {OE_SESSION} D  8=FIXT.1.1|")
    assert "|35=D|" in line and "|11=Q1|" in line and line.endswith("|")
    with_newline = dataclasses.replace(entry, text="58=a\nb")
    assert format_entry(with_newline).endswith("58=a\\nb")


# --------------------------------------------------------------------------- PostgreSQL


def _local_postgres_url_or_skip() -> str:
    """Skip without a server on 127.0.0.1:5432, unless CI requires the services."""
    url = os.environ.get(
        "TRUEX_QF_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    )
    parsed = make_url(url)
    try:
        socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 2).close()
    except OSError as exc:
        message = f"PostgreSQL not reachable at {parsed.host}:{parsed.port}: {exc}"
        if os.environ.get("TRUEX_QF_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


try:
    from tests.support.services import postgres_url_or_skip  # type: ignore[import-not-found]
except ImportError:
    postgres_url_or_skip = _local_postgres_url_or_skip


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """A throwaway schema on the test server, so parallel tests never see each other's rows."""
    url = postgres_url_or_skip()
    schema = f"journal_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # a session time zone other than UTC: the chain must not depend on it
    scoped = create_engine(
        url, connect_args={"options": f"-csearch_path={schema} -ctimezone=Asia/Tokyo"}
    )
    try:
        metadata.create_all(scoped)
        yield scoped
    finally:
        scoped.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.postgres
def test_verify_database_on_postgresql(postgres_engine: Engine, monkeypatch) -> None:
    monkeypatch.setattr(journal, "STREAM_BATCH_ROWS", 2)  # several server-side cursor fetches
    ids = order_flow(JournalAppender(postgres_engine))
    report = verify_database(postgres_engine, run_id="run-1")
    assert report.ok and report.rows_checked == len(ids) and report.run_rows == len(ids)
    # timestamptz comes back in the session's time zone: the hash must not depend on it
    assert show(postgres_engine, cl_ord_id="Q1")[0].logged_at == START + timedelta(milliseconds=3)
    with postgres_engine.begin() as connection:
        connection.execute(
            update(fix_journal).where(fix_journal.c.id == ids[4]).values(text="35=F")
        )
    report = verify_database(postgres_engine)
    assert (report.first_bad_id, report.reason) == (ids[4], CONTENT_CHANGED)
    with postgres_engine.begin() as connection:
        connection.execute(delete(fix_journal).where(fix_journal.c.id == ids[4]))
    report = verify_database(postgres_engine)
    assert (report.first_bad_id, report.reason) == (ids[5], LINK_BROKEN)
