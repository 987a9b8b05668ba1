"""Rows, journals and databases the storage tests share.

:class:`JournalAppender` appends ``fix_journal`` rows with hashes from :func:`journal_hash`,
exactly as the writer must, so the journal tests do not depend on the writer; :func:`journal`
is one such row for the writer itself to store; :func:`assert_chain` checks what it stored.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, insert, select

from tests.support.rawfix import frame
from truex_qf.fix.readers import SOH, split_fields
from truex_qf.storage.chain import GENESIS_HASH, journal_hash
from truex_qf.storage.database import make_engine
from truex_qf.storage.rows import Row
from truex_qf.storage.schema import fix_journal

STORE_WAIT_S = 15.0  # how long a storage test waits for the writer's thread or process
OE_SESSION = "FIXT.1.1:MYFIRM_OE1->TRUEX_UAT_OE"
START = datetime(2025, 9, 10, 18, 32, 27, 345901, tzinfo=UTC)


def fix(msg_type: str, seq: int, *body: tuple[int, Any], outbound: bool = True) -> str:
    """A framed FIX message (8, 9 and 10 computed) as the journal stores it: SOH as is."""
    sender, target = ("MYFIRM_OE1", "TRUEX_UAT_OE") if outbound else ("TRUEX_UAT_OE", "MYFIRM_OE1")
    header = [(35, msg_type), (49, sender), (56, target), (34, str(seq)), (52, "20250910-18:32:27")]
    return frame([*header, *((tag, str(value)) for tag, value in body)]).decode()


class JournalAppender:
    """Appends ``fix_journal`` rows with a correct hash chain, as the writer would."""

    def __init__(self, engine: Engine, run_id: str = "run-1", session: str = OE_SESSION) -> None:
        self.engine = engine
        self.run_id = run_id
        self.session = session
        self.clock = START
        with engine.connect() as connection:
            last = connection.execute(
                select(fix_journal.c.hash).order_by(fix_journal.c.id.desc()).limit(1)
            ).scalar()
        self.prev_hash = last or GENESIS_HASH

    def append(
        self,
        direction: str,
        raw: str,
        *,
        run_id: str | None = None,
        session: str | None = None,
        logged_at: datetime | None = None,
    ) -> int:
        """One row for ``raw`` (SOH or ``|`` separated); returns its id."""
        raw = raw.replace("|", SOH)
        fields = dict(reversed(split_fields(raw)))  # first occurrence wins
        self.clock = logged_at or self.clock + timedelta(milliseconds=1)
        values = {
            "run_id": run_id or self.run_id,
            "session": session or self.session,
            "direction": direction,
            "msg_type": fields[35],
            "seq_num": int(fields[34]) if 34 in fields else None,
            "cl_ord_id": fields.get(11),
            "text": raw,
            "logged_at": self.clock,
            "prev_hash": self.prev_hash,
        }
        values["hash"] = journal_hash(self.prev_hash, values)
        with self.engine.begin() as connection:
            row_id = connection.execute(insert(fix_journal).values(**values)).inserted_primary_key
        self.prev_hash = values["hash"]
        return int(row_id[0])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def down_url(db_url: str, tmp_path: Path) -> str:
    """A database of the same kind that cannot be reached."""
    if db_url.startswith("sqlite"):
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        return f"sqlite:///{blocker / 'truex-qf.db'}"
    return f"postgresql+psycopg2://postgres@127.0.0.1:{closed_port()}/nowhere"


def read(url: str, table: Table) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            ordered = connection.execute(select(table).order_by(*table.primary_key.columns))
            return [dict(row._mapping) for row in ordered]
    finally:
        engine.dispose()


def journal(seq: int, run_id: str = "run-1", cl_ord_id: str | None = None) -> Row:
    return Row(
        "fix_journal",
        {
            "run_id": run_id,
            "session": OE_SESSION,
            "direction": "OUT",
            "msg_type": "D" if cl_ord_id else "0",
            "seq_num": seq,
            "cl_ord_id": cl_ord_id,
            "text": f"8=FIXT.1.1\x0135=0\x0134={seq}\x01",
            "logged_at": START + timedelta(microseconds=seq),
        },
    )


def assert_chain(url: str) -> list[dict[str, Any]]:
    """The journal links up from genesis and every hash matches its row; returns the rows."""
    rows = read(url, fix_journal)
    prev_hash = GENESIS_HASH
    for row in rows:
        assert row["prev_hash"] == prev_hash, f"row {row['id']} does not link"
        assert row["hash"] == journal_hash(prev_hash, row), f"row {row['id']} does not hash"
        prev_hash = row["hash"]
    return rows
