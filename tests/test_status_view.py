"""The status view: lines from a hand-built live dict and a stored run, and the redraw loop.

The live dict follows the JSON that :mod:`truex_qf.observe.live_state` writes (Decimals as
plain strings, times as epoch seconds), as :func:`read_live_state` hands it back.
"""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert

from tests.support.report_db import fill_database
from tests.support.services import redis_url_or_skip
from tests.support.terminal import WIDTH, needs_tmux, terminal_screen
from truex_qf.domain.errors import TruexError
from truex_qf.observe.live_state import DEFAULT_PREFIX
from truex_qf.ops.status_view import (
    DbSummary,
    EventLine,
    live_unavailable,
    read_db_summary,
    render_status,
    status_reader,
    watch,
)
from truex_qf.storage.database import make_engine
from truex_qf.storage.schema import metadata, risk_events, session_events

NOW = datetime(2025, 9, 10, 10, 5, 0, tzinfo=UTC).timestamp()
BTC, ETH = "BTC-PYUSD", "ETH-PYUSD"


def live_state(**state_changes) -> dict:  # type: ignore[no-untyped-def]
    """What read_live_state returns for a process quoting BTC-PYUSD and ETH-PYUSD."""
    state = {"state": "ACTIVE", "reason": "", "kill_switch": False, "taken_at": NOW - 1}
    state.update(state_changes)
    return {
        "state": state,
        "sessions": {
            "order_entry": {"up": True, "changed_at": NOW - 300},
            "market_data": {"up": False, "changed_at": NOW - 65},
            "taken_at": NOW - 1,
        },
        "symbols": {
            BTC: {
                "symbol": BTC,
                "bid_price": "100.5",
                "bid_size": "2",
                "ask_price": "101.25",
                "ask_size": "1.5",
                "fair_value": "100.875",
                "working_quotes": [
                    {"side": "BUY", "price": "100.4", "size": "0.1", "state": "NEW"},
                    {"side": "SELL", "price": "101.3", "size": "0.05", "state": "PENDING_NEW"},
                ],
                "position_base": "0.3",
                "realized_pnl_quote": "12.5",
                "unrealized_pnl_quote": "-1.2",
                "taken_at": NOW - 1,
            },
            ETH: {
                "symbol": ETH,
                "bid_price": None,
                "bid_size": None,
                "ask_price": None,
                "ask_size": None,
                "fair_value": None,
                "working_quotes": [],
                "position_base": "0",
                "realized_pnl_quote": "0",
                "unrealized_pnl_quote": None,
                "taken_at": NOW - 1,
            },
        },
    }


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'status.db'}")
    metadata.create_all(engine)
    fill_database(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(risk_events),
            [
                {
                    "run_id": "run-b",
                    "kind": "STATE",
                    "reason_code": "HALTED",
                    "symbol": None,
                    "detail": "order entry session down",
                    "at": datetime(2025, 9, 10, 10, 3, 55, tzinfo=UTC),
                },
                {
                    "run_id": "run-a",
                    "kind": "KILL_SWITCH",
                    "reason_code": "KILL_SWITCH",
                    "symbol": None,
                    "detail": "another run's event",
                    "at": datetime(2025, 9, 10, 9, 10, 0, tzinfo=UTC),
                },
            ],
        )
        connection.execute(
            insert(session_events),
            [
                {
                    "run_id": "run-b",
                    "session": "FIXT.1.1:ME->TRUEX_MD",
                    "role": "market_data",
                    "kind": "LOGOUT",
                    "text": "heartbeat timeout",
                    "at": datetime(2025, 9, 10, 10, 3, 55, tzinfo=UTC),
                },
            ],
        )
    yield engine
    engine.dispose()


def line_with(lines: list[str], text: str) -> str:
    matches = [line for line in lines if text in line]
    assert matches, f"no line with {text!r} in {lines}"
    return matches[0]


# --------------------------------------------------------------------------- rendering


def test_live_fields_are_all_shown():
    lines = render_status(live_state(reason="within limits"), None, now_s=NOW)
    assert lines[0].startswith("truex-qf status  10:05:00Z")
    sessions = line_with(lines, "sessions")
    assert "OE UP since 10:00:00Z (5m00s)" in sessions
    assert "MD DOWN since 10:03:55Z (1m05s)" in sessions
    trading = line_with(lines, "trading")
    assert "ACTIVE" in trading
    assert "reason: within limits" in trading
    assert "as of 10:04:59Z, 1s ago)" in trading
    assert "STALE" not in trading and "KILL" not in trading

    header = line_with(lines, "symbol")
    assert header.split() == ["symbol", "bid", "ask", "fair", "position", "realized", "unrealized"]
    btc = line_with(lines, BTC)
    for field in ("100.5 x 2", "101.25 x 1.5", "100.875", "0.3", "12.5", "-1.2"):
        assert field in btc
    # every value starts under its header
    for name, value in (("ask", "101.25 x 1.5"), ("fair", "100.875"), ("unrealized", "-1.2")):
        assert btc.index(value) == header.index(name)
    btc_quotes = lines[lines.index(btc) + 1]
    assert btc_quotes == "  quotes: BUY 0.1 @ 100.4 NEW, SELL 0.05 @ 101.3 PENDING_NEW"
    eth = line_with(lines, ETH)
    assert eth.split() == [ETH, "-", "-", "-", "0", "0.00", "-"]  # money: 2 decimals
    assert lines[lines.index(eth) + 1] == "  quotes: none"


def test_amounts_are_shown_at_the_instruments_precision():
    # a live demo published realized -0.0188480769230769230769231: 28 characters that pushed
    # the unrealized column past 100 columns ("un…")
    live = live_state()
    live["symbols"][BTC].update(
        bid_price="100156.5",
        ask_price="100231.5",
        fair_value="100203.0769",
        position_base="-0.0012",
        realized_pnl_quote="-0.0188480769230769230769231",
        unrealized_pnl_quote="-0.0162807692307692307692308",
    )
    lines = render_status(live, None, now_s=NOW)
    header = line_with(lines, "symbol")
    btc = line_with(lines, BTC)
    assert btc.split()[-4:] == ["100203.1", "-0.00120", "-0.02", "-0.02"]
    assert btc.rindex("-0.02") == header.index("unrealized")
    assert not btc.endswith("…")


def test_kill_switch_and_stale_snapshot_are_flagged():
    live = live_state(state="HALTED", reason="kill switch file", kill_switch=True)
    trading = line_with(render_status(live, None, now_s=NOW + 30), "trading")
    assert "HALTED  KILL SWITCH ENGAGED  reason: kill switch file" in trading
    assert "31s ago, STALE)" in trading


def test_no_live_state_and_no_database_degrade_to_one_line_each():
    lines = render_status(None, None, now_s=NOW)
    assert lines[0] == "truex-qf status  10:05:00Z"
    assert any(line.startswith("live state unavailable") for line in lines)
    assert len(lines) == 2


def test_redis_failure_reason_is_shown():
    lines = render_status(live_unavailable("redis redis://h:6379 unavailable: refused"), None)
    assert "live state unavailable: redis redis://h:6379 unavailable: refused" in lines


def test_nothing_published_is_not_an_error():
    empty = {"state": None, "sessions": None, "symbols": {}}
    (line,) = render_status(empty, None, now_s=NOW)[1:]
    assert line.startswith("live state: nothing published")


@pytest.mark.parametrize(
    "live",
    [
        {"state": "not a dict", "sessions": 3, "symbols": {BTC: None}},
        {"state": {}, "sessions": {"order_entry": "up"}, "symbols": {BTC: {"working_quotes": [1]}}},
        {"state": {"taken_at": "soon"}, "sessions": None, "symbols": []},
        {},
    ],
)
def test_malformed_live_state_never_raises(live):
    lines = render_status(live, DbSummary(run_id=None), now_s=NOW)
    assert lines[0].startswith("truex-qf status")


def test_lines_are_cut_to_the_width():
    summary = DbSummary(
        run_id="run-b",
        events=(EventLine(datetime.fromtimestamp(NOW, UTC), "RISK", "DENIAL", "X", "y" * 300),),
    )
    lines = render_status(live_state(reason="r" * 300), summary, width=40, now_s=NOW)
    assert max(len(line) for line in lines) == 40
    assert line_with(lines, "trading").endswith("…")


# --------------------------------------------------------------------------- the database


def test_db_summary_of_the_latest_run_newest_first(engine):
    summary = read_db_summary(engine)
    assert (summary.run_id, summary.mode, summary.ended_at) == ("run-b", "demo", None)
    assert summary.started_at == datetime(2025, 9, 10, 10, 0, 0, tzinfo=UTC)
    assert [(e.source, e.kind, e.subject) for e in summary.events] == [
        ("RISK", "STATE", "HALTED"),
        ("SESSION", "LOGOUT", "market_data"),
        ("RISK", "DENIAL", f"MAX_POSITION {BTC}"),
        ("SESSION", "LOGON", "order_entry"),
    ]
    assert summary.events[0].text == "order entry session down"


def test_db_summary_keeps_the_last_n_of_each_kind(engine):
    summary = read_db_summary(engine, events=1)
    assert [(e.source, e.kind) for e in summary.events] == [
        ("RISK", "STATE"),
        ("SESSION", "LOGOUT"),
    ]
    other = read_db_summary(engine, run_id="run-a")
    assert [e.text for e in other.events] == ["another run's event"]
    assert other.ended_at == datetime(2025, 9, 10, 9, 30, 0, tzinfo=UTC)


def test_events_are_rendered_with_the_run(engine):
    lines = render_status(live_state(), read_db_summary(engine), now_s=NOW)
    assert "run run-b (demo) started 10:00:00Z" in lines[0]
    start = lines.index("recent events (newest first)")
    assert lines[start + 1] == "  10:03:55Z  RISK     STATE HALTED: order entry session down"
    assert lines[start + 2] == "  10:03:55Z  SESSION  LOGOUT market_data: heartbeat timeout"
    assert lines[start + 3].endswith(f"DENIAL MAX_POSITION {BTC}: BUY level 0: over the limit")
    assert lines[start + 4] == "  10:00:00Z  SESSION  LOGON order_entry"


def test_the_title_of_an_ended_run_fits_100_columns():
    # after a paper run: "... run dd19e806-fff0-4442-ae6d-d66e19786c18 (paper) started
    # 14:17:07Z, end…": the full id took the room of the end time
    summary = DbSummary(
        run_id="dd19e806-fff0-4442-ae6d-d66e19786c18",
        mode="paper",
        started_at=datetime.fromtimestamp(NOW - 62, UTC),
        ended_at=datetime.fromtimestamp(NOW - 1, UTC),
    )
    title = render_status(None, summary, now_s=NOW)[0]
    assert title == (
        "truex-qf status  10:05:00Z  run dd19e806 (paper) started 10:03:58Z, ended 10:04:59Z"
    )


def test_empty_database_and_database_errors(tmp_path, engine):
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    bare = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    try:
        metadata.create_all(empty)
        assert read_db_summary(empty) == DbSummary(run_id=None)
        assert "events    no run stored" in render_status(None, read_db_summary(empty))
        with pytest.raises(TruexError):
            read_db_summary(bare)
        live, summary = status_reader(bare, redis_url=None, namespace=None)()
        assert live is None
        assert summary is not None and summary.error is not None
        line = line_with(render_status(live, summary, width=300), "database unavailable")
        assert "bare.db" in line
    finally:
        empty.dispose()
        bare.dispose()


def test_unreachable_redis_becomes_a_reason(engine):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    read = status_reader(engine, redis_url=f"redis://:secret@127.0.0.1:{port}/0", namespace="t")
    live, summary = read()
    assert live is not None and summary is not None and summary.run_id == "run-b"
    text = "\n".join(render_status(live, summary))
    assert "live state unavailable: redis" in text
    assert "secret" not in text


# --------------------------------------------------------------------------- stored snapshots


def test_without_redis_the_stored_snapshots_are_shown_dated(engine):
    # a fresh clone's `make demo` (no Redis) showed the run and its events, but no position and
    # no PnL, although the run stores them every 5 s
    live, summary = status_reader(engine, redis_url=None, namespace=None)()
    lines = render_status(live, summary, now_s=NOW)
    assert max(len(line) for line in lines) <= 100
    start = lines.index(line_with(lines, "NOT LIVE"))
    assert lines[start - 1] == "live state unavailable: not read (no Redis configured)"
    header = lines[start + 1]
    assert header.split() == [
        "symbol", "our", "bid", "our", "ask", "fair", "position", "realized", "unrealized"
    ]  # fmt: skip
    # run-b's last rows; run-a's BTC (position 3, fair 91) never shows
    btc = lines[start + 2]
    assert btc.split() == [BTC, "100.600", "101.200", "100.900", "1.00", "0.740", "0.400"]
    assert btc.index("0.400") == header.index("unrealized")
    assert lines[start + 3] == "  stored 10:00:20Z, 4m40s ago"
    eth = lines[start + 4]
    assert eth.split() == [ETH, "1999.50", "2000.50", "2000.00", "0.000", "0.00", "-"]
    assert lines[start + 5] == (  # its quotes were stored after its position and PnL
        "  stored 10:00:12Z, 4m48s ago; our quotes stored 10:00:20Z, 4m40s ago"
    )
    assert lines[start + 6].split() == ["SOL-PYUSD", "-", "-", "21.000", "5.00", "-", "-"]
    assert lines[start + 7] == "  stored 10:00:30Z, 4m30s ago"
    assert lines[start + 8] == "recent events (newest first)"


def test_stored_snapshots_stand_in_for_any_live_state_without_symbols(engine):
    summary = read_db_summary(engine)
    for live in (
        live_unavailable("redis redis://h:6379 unavailable: refused"),
        {"state": None, "sessions": None, "symbols": {}},
        {**live_state(), "symbols": {}},
    ):
        lines = render_status(live, summary, now_s=NOW)
        assert line_with(lines, "stored    NOT LIVE")
        assert "  stored 10:00:20Z, 4m40s ago" in lines
    empty = DbSummary(run_id="run-c")  # a run that has not written a snapshot yet
    assert "stored    no position or PnL snapshot yet (a run writes one every 5 s)" in (
        render_status(None, empty, now_s=NOW)
    )


def test_live_symbols_are_shown_alone(engine):
    summary = read_db_summary(engine)
    assert [s.symbol for s in summary.stored] == [BTC, ETH, "SOL-PYUSD"]
    lines = render_status(live_state(), summary, now_s=NOW)
    assert lines == render_status(live_state(), read_db_summary(engine, snapshots=False), now_s=NOW)
    assert not [line for line in lines if "stored" in line]
    assert "  quotes: BUY 0.1 @ 100.4 NEW, SELL 0.05 @ 101.3 PENDING_NEW" in lines


@pytest.mark.redis
def test_status_reader_reads_the_store_only_without_live_symbols(engine):
    import redis

    url = redis_url_or_skip()
    namespace = f"status{os.getpid()}"
    client = redis.Redis.from_url(url)
    live = live_state()
    keys = {
        "state": live["state"],
        "sessions": live["sessions"],
        "symbols": [BTC],
        f"symbol:{BTC}": live["symbols"][BTC],
    }
    try:
        for key, value in keys.items():
            client.set(f"{DEFAULT_PREFIX}:{namespace}:{key}", json.dumps(value), ex=30)
        live_now, summary = status_reader(engine, redis_url=url, namespace=namespace)()
        assert live_now is not None and summary is not None
        assert list(live_now["symbols"]) == [BTC] and summary.stored == ()
        lines = render_status(live_now, summary, now_s=NOW)
        assert line_with(lines, BTC).split()[1:3] == ["100.5", "x"]
        assert not [line for line in lines if "stored" in line]

        quiet, summary = status_reader(engine, redis_url=url, namespace=f"{namespace}-none")()
        assert quiet is not None and summary is not None and len(summary.stored) == 3
        lines = render_status(quiet, summary, now_s=NOW)
        assert "live state: nothing published" in lines[1]
        assert "  stored 10:00:20Z, 4m40s ago" in lines
    finally:
        client.delete(*(f"{DEFAULT_PREFIX}:{namespace}:{key}" for key in keys))
        client.close()


# --------------------------------------------------------------------------- watch


def test_watch_prints_once_per_interval_on_a_plain_stream():
    stream = io.StringIO()
    calls, sleeps = [], []

    def read():  # type: ignore[no-untyped-def]
        calls.append(1)
        return live_state(), None

    watch(read, stream, interval_s=2.0, iterations=2, sleep=sleeps.append, clock=lambda: NOW)
    output = stream.getvalue()
    assert len(calls) == 2
    assert output.count("truex-qf status") == 2
    assert output.count("OE UP since") == 2
    assert "\x1b[" not in output
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 2.0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@needs_tmux
def test_watch_redraws_in_place_on_a_terminal(tmp_path):
    stream = Terminal()
    clock = iter([NOW, NOW + 1, NOW + 2])
    read = lambda: (live_state(), None)  # noqa: E731
    watch(
        read, stream, 0.0, iterations=3, width=WIDTH - 1, sleep=lambda _: None, clock=clock.__next__
    )
    (tmp_path / "out").write_text(stream.getvalue())
    screen = terminal_screen(f"cat {tmp_path / 'out'}", tmp_path)
    # one view on screen, the last one (the title's clock moved each time), nothing wrapped
    last = render_status(live_state(), None, WIDTH - 1, now_s=NOW + 2)
    assert last[0].endswith(datetime.fromtimestamp(NOW + 2, UTC).strftime("%H:%M:%SZ"))
    while screen and not screen[-1]:
        screen.pop()
    assert screen == last


def test_watch_survives_a_failing_read():
    stream = io.StringIO()

    def read():  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    watch(read, stream, 0.0, iterations=2, sleep=lambda _: None)
    assert stream.getvalue().count("live state unavailable: RuntimeError: boom") == 2
