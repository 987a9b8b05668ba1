"""The journal's writer process: every message stored, redacted and chained, crash or not."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from tests.support.storage import STORE_WAIT_S, assert_chain, down_url
from tests.support.timing import wait_until
from truex_qf.storage import journal_process
from truex_qf.storage.database import make_engine
from truex_qf.storage.journal_process import JournalProcess
from truex_qf.storage.recorder import JournalMessage
from truex_qf.storage.schema import metadata

SECRET = "c2VjcmV0LXNpZ25hdHVyZQ=="


def message(seq: int) -> JournalMessage:
    raw = f"8=FIXT.1.1\x019=60\x0135=A\x0134={seq}\x01553=key\x01554={SECRET}\x0110=000\x01"
    return JournalMessage("run-1", "FIXT.1.1:ME->TRUEX_UAT_OE", "OUT", raw, time.time())


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def journals():
    started: list[JournalProcess] = []

    def start(url: str, spill_path: Path, **options) -> JournalProcess:
        journal = JournalProcess(url, spill_path, **options)
        journal.start()
        started.append(journal)
        return journal

    yield start
    for journal in started:
        journal.stop(timeout_s=10)


def test_every_message_is_stored_redacted_and_chained(db_url, tmp_path, journals):
    journal = journals(db_url, tmp_path / "spill.journal.jsonl")
    for seq in range(1, 2001):
        journal.submit(message(seq))
    assert journal.stop()
    rows = assert_chain(db_url)
    assert [row["seq_num"] for row in rows] == list(range(1, 2001))  # all, in order
    assert all(SECRET not in row["text"] for row in rows)
    assert journal.stats.written == 2000 and journal.stats.queue_depth == 0


def test_a_killed_writer_process_loses_nothing_submitted_after(db_url, tmp_path, journals):
    journal = journals(db_url, tmp_path / "spill.journal.jsonl")
    for seq in range(1, 101):
        journal.submit(message(seq))
    wait_until(lambda: journal.stats.written == 100, STORE_WAIT_S)
    journal._process.kill()  # the child dies; the trading process carries on
    journal._process.join(5)
    for seq in range(101, 201):
        journal.submit(message(seq))
    assert journal.stop()
    assert [row["seq_num"] for row in assert_chain(db_url)] == list(range(1, 201))


def test_a_full_spill_file_reaches_the_trading_process(db_url, tmp_path, journals):
    reasons: list[str] = []
    spill = tmp_path / "spill.journal.jsonl"
    journal = journals(
        down_url(db_url, tmp_path), spill, spill_max_bytes=2_000, on_spill_full=reasons.append
    )
    for seq in range(1, 51):
        journal.submit(message(seq))
    wait_until(
        lambda: bool(reasons), STORE_WAIT_S
    )  # the child said so; the pipeline halts trading on it
    assert "would exceed 2000 bytes" in reasons[0]
    assert journal.stop()  # at exit the rest goes to the spill file, past its limit
    assert SECRET not in spill.read_text()
    assert spill.read_text().count("\n") == 50


def test_sigterm_makes_the_writer_process_keep_what_it_holds(db_url, tmp_path, journals):
    # multiprocessing ends a daemonic child with SIGTERM when its parent exits without stop()
    spill = tmp_path / "spill.journal.jsonl"
    journal = journals(down_url(db_url, tmp_path), spill)
    for seq in range(1, 21):
        journal.submit(message(seq))
    wait_until(lambda: journal._child_received == 20, STORE_WAIT_S)
    journal._process.terminate()
    journal._process.join(15)
    assert journal._process.exitcode == 0  # it stopped its writer, it was not killed
    assert spill.read_text().count("\n") == 20 and SECRET not in spill.read_text()


def test_without_a_writer_process_the_journal_is_written_from_here(
    db_url, tmp_path, journals, monkeypatch
):
    # e.g. started from a daemonic process, which may not have children
    spawn = multiprocessing.get_context("spawn")

    class NoChildren:
        def Pipe(self, duplex):
            return spawn.Pipe(duplex=duplex)

        def Process(self, **_):
            return Unstartable()

    class Unstartable:
        pid = None

        def start(self):
            raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(journal_process.multiprocessing, "get_context", lambda _: NoChildren())
    journal = journals(db_url, tmp_path / "spill.journal.jsonl")
    for seq in range(1, 51):
        journal.submit(message(seq))
    assert journal.stop()
    assert [row["seq_num"] for row in assert_chain(db_url)] == list(range(1, 51))
