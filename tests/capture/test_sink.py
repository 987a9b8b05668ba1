"""The capture's writer thread: what the engine tap keeps, order, a quiet second on disk."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from tests.support.timing import wait_until
from truex_qf.capture import CaptureWriter, FixRecord, ReferenceRecord, read_capture
from truex_qf.capture.sink import CaptureSink, ReferencePoller, market_data_type

SOH = "\x01"
MD_SESSION = "FIXT.1.1:MM1->TRUEX_UAT_MD"


def raw(msg_type: str, seq: int = 1) -> str:
    return f"8=FIXT.1.1{SOH}9=20{SOH}35={msg_type}{SOH}34={seq}{SOH}10=000{SOH}"


def sink_in(directory: Path, **kwargs: float) -> CaptureSink:
    writer = CaptureWriter(directory, symbols=["BTC-PYUSD"], venue="sim", source="sim")
    return CaptureSink(writer, **kwargs)  # type: ignore[arg-type]


def test_the_tap_keeps_inbound_market_data_only(tmp_path: Path) -> None:
    sink = sink_in(tmp_path)
    sink.start()
    sink.tap(MD_SESSION, "IN", raw("A"))  # logon
    sink.tap(MD_SESSION, "IN", raw("0", 2))  # heartbeat
    sink.tap(MD_SESSION, "OUT", raw("V", 2))  # our request
    for seq, kind in enumerate(("y", "W", "X", "X", "Y", "BK"), start=3):
        sink.tap(MD_SESSION, "IN", raw(kind, seq))
    assert sink.stop()
    records = list(read_capture(tmp_path))
    assert [r.msg_type for r in records if isinstance(r, FixRecord)] == [
        "y",
        "W",
        "X",
        "X",
        "Y",
        "BK",
    ]
    assert all(isinstance(r, FixRecord) and r.session == "MD" for r in records)
    recv = [r.recv_ns for r in records]
    assert recv == sorted(recv)
    assert sink.fix_written == 6


def test_execution_reports_of_our_order_entry_sessions_are_kept_as_oe(tmp_path: Path) -> None:
    oe_session = "FIXT.1.1:MM1->TRUEX_UAT_OE"
    sink = sink_in(tmp_path)
    sink.order_entry_sessions = frozenset({oe_session})
    sink.start()
    sink.tap(oe_session, "OUT", raw("D", 2))  # our order: not kept
    sink.tap(oe_session, "IN", raw("8", 2))  # its report: kept
    sink.tap(oe_session, "IN", raw("9", 3))  # a cancel reject: not kept
    sink.tap(oe_session, "IN", raw("0", 4))  # heartbeat
    sink.tap("PAPER", "IN", raw("8", 1))  # a paper venue's report: never in the book
    sink.tap(MD_SESSION, "IN", raw("X", 5))
    assert sink.stop()
    records = [r for r in read_capture(tmp_path) if isinstance(r, FixRecord)]
    assert [(r.session, r.msg_type) for r in records] == [("OE", "8"), ("MD", "X")]


def test_without_order_entry_sessions_no_report_is_kept(tmp_path: Path) -> None:
    sink = sink_in(tmp_path)
    sink.start()
    sink.tap("FIXT.1.1:MM1->TRUEX_UAT_OE", "IN", raw("8", 2))
    assert sink.stop()
    assert list(read_capture(tmp_path)) == []


def test_market_data_type_reads_the_header_msg_type() -> None:
    assert market_data_type(raw("W")) == "W"
    assert market_data_type(raw("8")) is None
    assert market_data_type("garbage") is None


def test_a_record_stamped_before_the_last_takes_its_time(tmp_path: Path) -> None:
    sink = sink_in(tmp_path)
    sink.start()
    sink.put(FixRecord(2_000, "MD", raw("W")))
    sink.put(ReferenceRecord(1_500, "coinbase", "BTC-PYUSD", Decimal("100000.5")))
    sink.put(FixRecord(3_000, "MD", raw("X", 2)))
    assert sink.stop()
    assert [r.recv_ns for r in read_capture(tmp_path)] == [2_000, 2_000, 3_000]
    assert sink.clamped == 1
    assert (sink.fix_written, sink.reference_written) == (2, 1)


def test_a_quiet_second_still_reaches_the_disk(tmp_path: Path) -> None:
    sink = sink_in(tmp_path, idle_flush_s=0.05)
    sink.start()
    try:
        sink.tap(MD_SESSION, "IN", raw("W"))
        # No further message: the idle timer writes the member while the sink still runs.
        wait_until(lambda: sink.paths, timeout_s=10)
        wait_until(lambda: len(list(read_capture(sink.paths))) == 1, timeout_s=10)
    finally:
        assert sink.stop()


def test_a_record_the_format_cannot_hold_is_counted_not_fatal(tmp_path: Path) -> None:
    sink = sink_in(tmp_path)
    sink.start()
    sink.tap(MD_SESSION, "IN", raw("W") + "58=two\nlines" + SOH)
    sink.tap(MD_SESSION, "IN", raw("X", 2))
    assert sink.stop()
    assert sink.refused == 1
    assert [r.msg_type for r in read_capture(tmp_path)] == ["X"]  # type: ignore[union-attr]


def test_a_sink_never_started_still_leaves_its_file(tmp_path: Path) -> None:
    sink = sink_in(tmp_path)
    assert sink.stop()
    stream = read_capture(tmp_path)
    assert list(stream) == [] and len(stream.headers) == 1


@dataclass(frozen=True)
class Tick:
    price: Decimal


def test_the_poller_records_every_new_observation_even_at_the_same_price(tmp_path: Path) -> None:
    sink = sink_in(tmp_path)
    sink.start()
    latest: list[Tick | None] = [None]
    poller = ReferencePoller(sink, {"BTC-PYUSD": ("coinbase", lambda: latest[0])})
    seen: dict[str, object] = {}
    poller.poll(seen)  # nothing yet
    for price in ("100", "100", "101"):
        latest[0] = Tick(Decimal(price))  # a new observation each time
        poller.poll(seen)
        poller.poll(seen)  # the same observation again: not recorded twice
    assert sink.stop()
    records = list(read_capture(tmp_path))
    assert [(r.source, r.symbol, r.price) for r in records] == [  # type: ignore[union-attr]
        ("coinbase", "BTC-PYUSD", Decimal("100")),
        ("coinbase", "BTC-PYUSD", Decimal("100")),
        ("coinbase", "BTC-PYUSD", Decimal("101")),
    ]
