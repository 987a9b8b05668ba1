"""``capture --from-run``: a run's inbound market data out of its journal, on SQLite and
PostgreSQL (a journal built row by row, so every time and every excluded row is known)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from tests.support.services import postgres_url_or_skip, temporary_postgres_database
from tests.support.storage import JournalAppender, fix
from truex_qf.app.capture_session import capture_from_run
from truex_qf.capture import FixRecord, read_capture
from truex_qf.ops.runs import StoredRun
from truex_qf.storage.database import make_engine, upgrade
from truex_qf.storage.schema import runs

RUN_ID = "5f0c1d2e-0000-4000-8000-000000000001"
OTHER_RUN = "5f0c1d2e-0000-4000-8000-000000000002"
MD = "FIXT.1.1:MYFIRM_MD1->TRUEX_UAT_MD"
OE = "FIXT.1.1:MYFIRM_OE1->TRUEX_UAT_OE"
T0 = datetime(2026, 12, 7, 23, 59, 59, 999_000, tzinfo=UTC)  # crosses midnight: two files


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'truex-qf.db'}"
        upgrade(url)
        yield url
    else:
        with temporary_postgres_database(postgres_url_or_skip()) as url:
            upgrade(url)
            yield url


def test_the_runs_inbound_market_data_with_its_receive_times(store_url: str, tmp_path: Path):
    engine = make_engine(store_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(runs).values(
                    run_id=RUN_ID,
                    mode="run",
                    venue="127.0.0.1:19484/20484",
                    sender_comp_id="MYFIRM",
                    started_at=T0,
                )
            )
        journal = JournalAppender(engine, run_id=RUN_ID, session=MD)
        at = [T0 + timedelta(microseconds=250 * i) for i in range(12)]
        wanted = []
        journal.append("OUT", fix("A", 1, (98, 0), (108, 30)), logged_at=at[0])
        journal.append("IN", fix("A", 1, (108, 30), outbound=False), logged_at=at[1])
        pairs = ((146, 2), (55, "BTC-PYUSD"), (55, "ETH-PYUSD"))
        request = fix("V", 2, (262, "MD1"), (263, 1), (264, 0), *pairs)
        journal.append("OUT", request, logged_at=at[2])
        for index, (kind, body) in enumerate(
            [
                ("y", [(320, "SL1"), (146, 1), (55, "BTC-PYUSD")]),
                ("W", [(262, "MD1"), (55, "BTC-PYUSD"), (268, 1), (269, 0), (270, 100)]),
                ("X", [(262, "MD1"), (268, 1), (279, 0), (269, 1), (55, "BTC-PYUSD")]),
            ],
            start=3,
        ):
            text = fix(kind, index, *body, outbound=False)
            journal.append("IN", text, logged_at=at[index])
            wanted.append((at[index], text))
        journal.append("IN", fix("0", 6, outbound=False), logged_at=at[6])  # heartbeat
        report = fix("8", 2, (11, "Q1"), outbound=False)  # ours: kept as OE
        journal.append("IN", report, session=OE, logged_at=at[7])
        wanted.append((at[7], report))
        journal.append("OUT", fix("D", 2, (11, "Q1")), session=OE, logged_at=at[7])
        paper = fix("8", 1, (11, "P1"), outbound=False)  # a paper venue's: never in the book
        journal.append("IN", paper, session="PAPER", logged_at=at[7])
        other = fix("X", 9, (55, "BTC-PYUSD"), outbound=False)
        journal.append("IN", other, run_id=OTHER_RUN, logged_at=at[8])
        last = fix("X", 7, (262, "MD1"), (55, "BTC-PYUSD"), outbound=False)
        journal.append("IN", last, logged_at=at[9])
        wanted.append((at[9], last))
    finally:
        engine.dispose()

    run = StoredRun(RUN_ID, "run", "MYFIRM", T0, None, store_url)
    outcome = capture_from_run(run, tmp_path / "out")
    assert outcome.market_data == 5
    assert [p.name for p in outcome.paths] == [
        "run-5f0c1d2e-20261207.cap.gz",
        "run-5f0c1d2e-20261208.cap.gz",
    ]
    stream = read_capture(outcome.paths)
    records = [r for r in stream if isinstance(r, FixRecord)]

    def ns(moment: datetime) -> int:
        return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000

    assert [(r.recv_ns, r.raw) for r in records] == [(ns(t), text) for t, text in wanted]
    assert [r.session for r in records] == ["MD", "MD", "MD", "OE", "MD"]
    header = stream.headers[0]
    assert header.symbols == ("BTC-PYUSD", "ETH-PYUSD")
    assert header.venue == "127.0.0.1:19484/20484"
    assert header.source == f"run:{RUN_ID}"
    assert header.sender_comp_id == "MYFIRM"
    assert header.extra == {"mode": "run"}
