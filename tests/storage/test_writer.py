"""The background writer on real databases: SQLite files and PostgreSQL databases.

An unreachable database is a real one: a PostgreSQL URL on a closed port, a SQLite file that
cannot be opened, a TCP proxy that drops every connection, and a writer process killed with
SIGKILL. Nothing in the writer is replaced for these tests.
"""

from __future__ import annotations

import os
import select as select_module
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import make_url

from tests.support.netproxy import TcpProxy
from tests.support.services import postgres_url_or_skip, temporary_postgres_database
from tests.support.storage import (
    START,
    STORE_WAIT_S,
    assert_chain,
    down_url,
    journal,
    read,
)
from tests.support.timing import wait_until
from truex_qf.storage.database import upgrade
from truex_qf.storage.recorder import JournalMessage
from truex_qf.storage.rows import Row, from_json, to_json
from truex_qf.storage.schema import (
    executions,
    fix_journal,
    order_events,
    orders,
    runs,
)
from truex_qf.storage.writer import StoreWriter

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- fixtures, helpers


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'truex-qf.db'}"
        upgrade(url)
        yield url
        return
    with temporary_postgres_database(postgres_url_or_skip()) as url:
        upgrade(url)
        yield url


@pytest.fixture
def writers() -> Iterator[Callable[..., StoreWriter]]:
    """Starts writers; stops any a test left running (not the ones it meant to kill)."""
    started: list[StoreWriter] = []

    def start(url: str, spill_path: Path, **options: Any) -> StoreWriter:
        writer = StoreWriter(url, spill_path, **options)
        writer.start()
        started.append(writer)
        return writer

    yield start
    for writer in started:
        writer.stop(timeout_s=5)


def as_utc(value: datetime) -> datetime:
    """SQLite gives times back naive (they are stored as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def order(cl_ord_id: str, state: str, cum_qty: str, run_id: str = "run-1") -> Row:
    return Row(
        "orders",
        {
            "cl_ord_id": cl_ord_id,
            "run_id": run_id,
            "current_cl_ord_id": cl_ord_id,
            "order_id": None,
            "symbol": "BTC-PYUSD",
            "side": "BUY",
            "ord_type": "LIMIT",
            "time_in_force": "GTC",
            "price": Decimal("100000.25"),
            "quantity": Decimal("0.5"),
            "cum_qty": Decimal(cum_qty),
            "leaves_qty": Decimal("0.5") - Decimal(cum_qty),
            "avg_px": None,
            "state": state,
            "created_at": START,
            "updated_at": START + timedelta(seconds=1),
        },
    )


def execution(exec_id: str, fee: str) -> Row:
    return Row(
        "executions",
        {
            "exec_id": exec_id,
            "run_id": "run-1",
            "cl_ord_id": "Q1",
            "order_id": "O1",
            "symbol": "BTC-PYUSD",
            "side": "SELL",
            "quantity": Decimal("0.00000001"),
            "price": Decimal("99999.99"),
            "fee": Decimal(fee),
            "liquidity": "M",
            "trade_match_id": "T1",
            "at": START,
        },
    )


def event(number: int) -> Row:
    return Row(
        "order_events",
        {
            "run_id": "run-1",
            "cl_ord_id": f"Q{number}",
            "event_cl_ord_id": f"Q{number}",
            "previous_state": None,
            "state": "NEW",
            "reason": "ACK",
            "text": None,
            "at": START + timedelta(milliseconds=number),
        },
    )


def spill_rows(path: Path) -> list[Row]:
    return [from_json(line) for line in path.read_text().splitlines()] if path.exists() else []


# --------------------------------------------------------------------------- the happy path


def test_rows_come_back_exactly(db_url: str, tmp_path: Path, writers) -> None:
    writer = writers(db_url, tmp_path / "spill.jsonl")
    huge = Decimal("1234567890.123456789012345678")  # 18 decimals, 28 significant digits
    tiny = Decimal("0.000000000000000001")
    tokyo = datetime(2025, 9, 11, 3, 32, 27, 345901, tzinfo=ZoneInfo("Asia/Tokyo"))
    run = {
        "run_id": "run-1",
        "mode": "run",
        "venue": "uat.truex.co:19484/19485",
        "sender_comp_id": "MYFIRM_OE1",
        "started_at": tokyo,  # the same instant as START
        "ended_at": None,
    }
    writer.submit(Row("runs", run))
    placed = order("Q1", "NEW", "0").values | {"price": huge, "avg_px": tiny}
    writer.submit(Row("orders", placed))
    writer.submit(execution("E1", "-0.000000000000000001"))
    writer.submit(journal(1, cl_ord_id="Q1"))
    assert writer.stop()

    assert writer.stats.written == 4 and writer.stats.failures == 0
    (stored_run,) = read(db_url, runs)
    assert stored_run == run | {"started_at": stored_run["started_at"]}
    assert as_utc(stored_run["started_at"]) == START
    (stored_order,) = read(db_url, orders)
    assert stored_order["price"] == huge and str(stored_order["price"]) == str(huge)
    assert stored_order["avg_px"] == tiny and stored_order["avg_px"].as_tuple().exponent == -18
    for name in ("quantity", "cum_qty", "leaves_qty"):
        assert stored_order[name] == placed[name]
    assert as_utc(stored_order["updated_at"]) == placed["updated_at"]
    (stored_fill,) = read(db_url, executions)
    assert stored_fill["fee"] == Decimal("-1E-18") and stored_fill["quantity"] == Decimal("1E-8")
    (stored_message,) = assert_chain(db_url)
    expected = journal(1, cl_ord_id="Q1").values
    assert {k: stored_message[k] for k in expected if k != "logged_at"} == {
        k: v for k, v in expected.items() if k != "logged_at"
    }
    assert as_utc(stored_message["logged_at"]) == expected["logged_at"]  # to the microsecond


def test_all_38_digits_come_back(db_url: str, tmp_path: Path, writers) -> None:
    writer = writers(db_url, tmp_path / "spill.jsonl")
    huge = Decimal("12345678901234567890.123456789012345678")
    writer.submit(Row("orders", order("Q1", "NEW", "0").values | {"price": huge}))
    assert writer.stop()
    assert read(db_url, orders)[0]["price"] == huge


def test_orders_upsert_keeps_the_latest(db_url: str, tmp_path: Path, writers) -> None:
    writer = writers(db_url, tmp_path / "spill.jsonl", flush_interval_s=0)
    writer.submit(order("Q1", "PENDING_NEW", "0"))
    wait_until(lambda: writer.stats.written == 1, STORE_WAIT_S)
    for state, cum_qty in [("NEW", "0"), ("PARTIALLY_FILLED", "0.2"), ("FILLED", "0.5")]:
        writer.submit(order("Q1", state, cum_qty))  # probably one batch: merged by key
    writer.submit(order("Q2", "NEW", "0"))
    writer.submit(Row("runs", {**RUN, "ended_at": None}))
    writer.submit(Row("runs", {**RUN, "ended_at": START + timedelta(hours=1)}))
    assert writer.stop()
    stored = read(db_url, orders)
    assert [(o["cl_ord_id"], o["state"], o["cum_qty"]) for o in stored] == [
        ("Q1", "FILLED", Decimal("0.5")),
        ("Q2", "NEW", Decimal("0")),
    ]
    (run,) = read(db_url, runs)
    assert as_utc(run["ended_at"]) == START + timedelta(hours=1)


RUN = {
    "run_id": "run-1",
    "mode": "run",
    "venue": "127.0.0.1:5001",
    "sender_comp_id": "C",
    "started_at": START,
}


def test_a_repeated_exec_id_is_stored_once(db_url: str, tmp_path: Path, writers) -> None:
    writer = writers(db_url, tmp_path / "spill.jsonl")
    writer.submit(execution("E1", "0.01"))
    writer.submit(execution("E1", "0.02"))  # same batch
    writer.submit(execution("E2", "0.03"))
    assert writer.stop()
    again = writers(db_url, tmp_path / "spill.jsonl")
    again.submit(execution("E1", "0.04"))  # a later batch, a later run
    assert again.stop()
    assert [(e["exec_id"], e["fee"]) for e in read(db_url, executions)] == [
        ("E1", Decimal("0.01")),
        ("E2", Decimal("0.03")),
    ]


def test_the_journal_chain_continues_across_writers(db_url: str, tmp_path: Path, writers) -> None:
    first = writers(db_url, tmp_path / "spill.jsonl", batch_size=3)
    for seq in range(1, 8):
        first.submit(journal(seq, run_id="run-1"))
    assert first.stop()
    second = writers(db_url, tmp_path / "spill.jsonl")  # a restart: reads where the chain ends
    for seq in range(8, 12):
        second.submit(journal(seq, run_id="run-2", cl_ord_id=f"Q{seq}" if seq % 2 else None))
    assert second.stop()
    rows = assert_chain(db_url)
    assert [r["seq_num"] for r in rows] == list(range(1, 12))
    assert rows[7]["prev_hash"] == rows[6]["hash"] and rows[7]["run_id"] == "run-2"


def test_two_writers_at_once_keep_one_chain(db_url: str, tmp_path: Path, writers) -> None:
    """Two processes on one database (e.g. run and test-order): appends are serialised."""
    left = writers(db_url, tmp_path / "left.jsonl", flush_interval_s=0, batch_size=7)
    right = writers(db_url, tmp_path / "right.jsonl", flush_interval_s=0, batch_size=5)
    for seq in range(1, 301):
        (left if seq % 2 else right).submit(journal(seq, run_id="left" if seq % 2 else "right"))
    assert left.stop() and right.stop()
    assert left.stats.spilled == right.stats.spilled == 0
    rows = assert_chain(db_url)
    assert sorted(r["seq_num"] for r in rows) == list(range(1, 301))


def test_a_refused_row_is_set_aside_and_the_rest_stored(
    db_url: str, tmp_path: Path, writers
) -> None:
    writer = writers(db_url, tmp_path / "spill.jsonl")
    bad = Row("order_events", {**event(3).values, "state": None})  # NOT NULL
    for row in [event(1), event(2), bad, event(4), journal(1), journal(2)]:
        writer.submit(row)
    assert writer.stop()
    assert writer.stats.rejected == 1 and writer.stats.written == 5
    assert "IntegrityError" in (writer.stats.last_error or "")
    assert [e["cl_ord_id"] for e in read(db_url, order_events)] == ["Q1", "Q2", "Q4"]
    assert [r["seq_num"] for r in assert_chain(db_url)] == [1, 2]
    assert spill_rows(writer.rejected_path) == [bad]
    assert not (tmp_path / "spill.jsonl").exists()


def test_stop_drains_everything_and_throughput(
    db_url: str, tmp_path: Path, writers, capsys: pytest.CaptureFixture[str]
) -> None:
    count = 10_000
    rows = [journal(seq, cl_ord_id=f"Q{seq}") for seq in range(1, count + 1)]
    writer = writers(db_url, tmp_path / "spill.jsonl")
    started = time.perf_counter()
    for row in rows:
        writer.submit(row)
    submitted = time.perf_counter()
    assert writer.stop(timeout_s=60)
    elapsed = time.perf_counter() - started
    stored = assert_chain(db_url)
    assert len(stored) == count and writer.stats.written == count
    assert [r["seq_num"] for r in stored] == list(range(1, count + 1))
    backend = make_url(db_url).get_backend_name()
    with capsys.disabled():
        print(
            f"\n[{backend}] {count} journal rows stored in {elapsed:.2f} s: "
            f"{count / elapsed:,.0f} rows/s (submit: {(submitted - started) / count * 1e6:.1f} "
            f"us/row)"
        )


def test_submit_never_raises(db_url: str, tmp_path: Path, writers) -> None:
    writer = writers(db_url, tmp_path / "spill.jsonl")
    assert writer.stop()
    writer.submit(journal(1))  # after stop: logged and counted, not raised
    writer.submit("not a row")  # type: ignore[arg-type]
    assert writer.stats.failures == 2
    assert writer.stop()  # twice is fine
    assert read(db_url, fix_journal) == []


# --------------------------------------------------------------------------- outages


def mixed_rows(count: int) -> list[Row]:
    """Journal rows with events and order updates between them, in one submission order."""
    rows: list[Row] = []
    for number in range(1, count + 1):
        rows.append(journal(number))
        if number % 3 == 0:
            rows.append(event(number))
        if number % 5 == 0:
            rows.append(order("Q1", f"S{number}", "0"))
    return rows


def assert_all_stored(url: str, count: int) -> None:
    assert [r["seq_num"] for r in assert_chain(url)] == list(range(1, count + 1))
    assert [e["cl_ord_id"] for e in read(url, order_events)] == [
        f"Q{n}" for n in range(3, count + 1, 3)
    ]
    assert [o["state"] for o in read(url, orders)] == [f"S{count - count % 5}"]


def test_an_unreachable_database_spills_and_the_next_writer_replays(
    db_url: str, tmp_path: Path, writers
) -> None:
    spill = tmp_path / "spill.jsonl"
    rows = mixed_rows(40)
    down = writers(down_url(db_url, tmp_path), spill, batch_size=7)
    for row in rows:
        down.submit(row)
    assert down.stop()
    assert down.stats.spilled == len(rows) and down.stats.written == 0
    assert not down.stats.database_up and down.stats.last_error
    assert spill_rows(spill) == rows  # every row, in order, no hash yet

    up = writers(db_url, spill)
    up.submit(journal(41))  # newer than everything spilled
    assert up.stop()
    assert up.stats.replayed == len(rows) and up.stats.written == len(rows) + 1
    assert spill.stat().st_size == 0
    assert [r["seq_num"] for r in assert_chain(db_url)] == list(range(1, 42))


@pytest.mark.postgres
def test_an_outage_during_the_run_and_the_recovery(tmp_path: Path, writers) -> None:
    """The database goes away under a running writer and comes back to the same writer."""
    with temporary_postgres_database(postgres_url_or_skip()) as url:
        upgrade(url)
        server = make_url(url)
        proxy = TcpProxy(server.port or 5432)
        proxy.up()
        try:
            proxied = server.set(host="127.0.0.1", port=proxy.port)
            spill = tmp_path / "spill.jsonl"
            writer = writers(
                proxied.render_as_string(hide_password=False),
                spill,
                retry_interval_s=0.2,
                flush_interval_s=0.01,
            )
            rows = mixed_rows(60)
            for row in rows[:20]:
                writer.submit(row)
            wait_until(
                lambda: writer.stats.written == 20 and writer.stats.database_up, STORE_WAIT_S
            )

            proxy.down()
            for row in rows[20:50]:
                writer.submit(row)
            wait_until(lambda: writer.stats.spilled == 30, STORE_WAIT_S)
            assert not writer.stats.database_up
            assert spill_rows(spill) == rows[20:50]

            proxy.up()
            wait_until(
                lambda: writer.stats.replayed == 30 and spill.stat().st_size == 0, STORE_WAIT_S
            )
            for row in rows[50:]:
                writer.submit(row)
            assert writer.stop()
        finally:
            proxy.down()
        assert writer.stats.written == len(rows) and writer.stats.database_up
        assert_all_stored(url, 60)


def test_a_killed_writer_loses_nothing_it_spilled(db_url: str, tmp_path: Path, writers) -> None:
    spill = tmp_path / "spill.jsonl"
    count = 50
    script = textwrap.dedent(
        f"""
        import sys, time
        from datetime import UTC, datetime, timedelta
        from pathlib import Path
        from truex_qf.storage.rows import Row
        from truex_qf.storage.writer import StoreWriter

        writer = StoreWriter({down_url(db_url, tmp_path)!r}, Path({str(spill)!r}),
                             flush_interval_s=0.01, batch_size=8, retry_interval_s=60)
        writer.start()
        for seq in range(1, {count} + 1):
            writer.submit(Row("fix_journal", {{
                "run_id": "crashed", "session": "S", "direction": "IN", "msg_type": "0",
                "seq_num": seq, "cl_ord_id": None, "text": "35=0",
                "logged_at": datetime(2025, 9, 10, tzinfo=UTC) + timedelta(seconds=seq)}}))
        while writer.stats.spilled < {count}:
            time.sleep(0.01)
        print("spilled", flush=True)
        time.sleep(120)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select_module.select([child.stdout], [], [], 30)
        assert ready and child.stdout.readline().strip() == "spilled"
    finally:
        child.send_signal(signal.SIGKILL)  # no stop(), no cleanup
        child.wait(10)

    writer = writers(db_url, spill)
    writer.submit(journal(count + 1, run_id="next"))
    assert writer.stop()
    rows = assert_chain(db_url)
    assert [r["seq_num"] for r in rows] == list(range(1, count + 2))
    assert [r["run_id"] for r in rows] == ["crashed"] * count + ["next"]
    assert spill.stat().st_size == 0


def test_a_torn_last_line_is_set_aside(db_url: str, tmp_path: Path, writers) -> None:
    spill = tmp_path / "spill.jsonl"
    whole = [to_json(journal(1)), to_json(journal(2))]
    torn = to_json(journal(3))[:40]
    spill.write_text("\n".join(whole) + "\n" + torn)  # the crash came mid-write
    writer = writers(db_url, spill)
    assert writer.stop()
    assert [r["seq_num"] for r in assert_chain(db_url)] == [1, 2]
    assert writer.stats.replayed == 2 and spill.stat().st_size == 0
    assert writer.rejected_path.read_text() == torn + "\n"


def test_a_full_spill_file_calls_back_once_and_drops_nothing(
    db_url: str, tmp_path: Path, writers
) -> None:
    spill = tmp_path / "spill.jsonl"
    reasons: list[str] = []
    down = writers(
        down_url(db_url, tmp_path),
        spill,
        spill_max_bytes=3_000,
        on_spill_full=reasons.append,
        flush_interval_s=0.01,
        batch_size=4,
        retry_interval_s=0.05,
    )
    rows = [journal(seq) for seq in range(1, 101)]
    for row in rows[:50]:
        down.submit(row)
    wait_until(lambda: bool(reasons), STORE_WAIT_S)
    for row in rows[50:]:
        down.submit(row)
    wait_until(lambda: down.stats.queue_depth + down.stats.spilled == 100, STORE_WAIT_S)
    time.sleep(0.3)  # several retries while full
    assert len(reasons) == 1
    assert "would exceed 3000 bytes" in reasons[0] and str(spill) in reasons[0]
    stats = down.stats
    assert stats.spill_full and stats.spill_bytes <= 3_000 and stats.queue_depth > 0
    assert spill.stat().st_size <= 3_000

    assert down.stop()  # at exit, the held rows go to the spill file past its limit
    assert spill_rows(spill) == rows
    up = writers(db_url, spill)
    assert up.stop()
    assert [r["seq_num"] for r in assert_chain(db_url)] == list(range(1, 101))


# --------------------------------------------------------------------------- a cuttable link


def test_a_tapped_message_is_redacted_before_the_spill_or_the_database(
    db_url: str, tmp_path: Path, writers
) -> None:
    # The engine's tap queues the raw text; the writer's thread builds the redacted row.
    secret = "c2VjcmV0LXNpZ25hdHVyZQ=="
    raw = f"8=FIXT.1.1\x019=60\x0135=A\x0134=1\x01553=key\x01554={secret}\x0110=000\x01"
    spill = tmp_path / "spill.jsonl"
    down = writers(down_url(db_url, tmp_path), spill)
    down.submit(JournalMessage("run-1", "FIXT.1.1:ME->TRUEX_UAT_OE", "OUT", raw, time.time()))
    assert down.stop()
    assert down.stats.spilled == 1
    assert secret not in spill.read_text()

    up = writers(db_url, spill)
    assert up.stop()
    (stored,) = read(db_url, fix_journal)
    assert (stored["msg_type"], stored["seq_num"], stored["direction"]) == ("A", 1, "OUT")
    assert secret not in stored["text"] and "\x01554=***\x01" in stored["text"]
