"""Capture file format v1: round trip, daily rotation, members, and a cut tail read quietly."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from truex_qf.capture import (
    CaptureFormatError,
    CaptureWriter,
    FixRecord,
    ReferenceRecord,
    read_capture,
)

SOH = "\x01"


def ns(text: str) -> int:
    """Wall-clock ns of an ISO UTC time."""
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def fix(msg_type: str, seq: int, body: str = "55=BTC-USD") -> str:
    return f"8=FIXT.1.1{SOH}9=50{SOH}35={msg_type}{SOH}34={seq}{SOH}{body}{SOH}10=000{SOH}"


class ManualClock:
    """A wall clock in ns that the test moves."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def writer(directory: Path, clock: ManualClock, **kwargs: object) -> CaptureWriter:
    return CaptureWriter(
        directory,
        symbols=["BTC-USD"],
        venue="sim",
        source="sim",
        sender_comp_id="MM1",
        clock_ns=clock,
        **kwargs,  # type: ignore[arg-type]
    )


def sample_records(start_ns: int, count: int) -> list[FixRecord | ReferenceRecord]:
    records: list[FixRecord | ReferenceRecord] = []
    for index in range(count):
        at = start_ns + index * 1_000_000
        if index % 3 == 2:
            records.append(ReferenceRecord(at, "coinbase", "BTC-USD", Decimal("65000.5") + index))
        else:
            records.append(FixRecord(at, "MD", fix("X" if index else "W", index + 1)))
    return records


def test_round_trip_keeps_every_record_and_the_header(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    clock = ManualClock(start)
    records = sample_records(start, 30)
    records.append(FixRecord(start + 10**9, "MD", fix("y", 99, "146=1\x0155=ETH-USD")))
    with writer(tmp_path, clock, extra={"flow_seed": 7}) as capture:
        for record in records:
            capture.write(record)
    assert capture.paths == [tmp_path / "capture-20261207.cap.gz"]

    stream = read_capture(tmp_path)
    assert list(stream) == records
    assert not stream.truncated
    assert stream.records == len(records)
    (header,) = stream.headers
    assert header.symbols == ("BTC-USD",)
    assert (header.venue, header.source, header.sender_comp_id) == ("sim", "sim", "MM1")
    assert header.started_utc == "2026-12-07T10:00:00.000000+00:00"
    assert header.extra == {"flow_seed": 7}
    assert [r.msg_type for r in records if isinstance(r, FixRecord)][:3] == ["W", "X", "X"]
    assert records[-1].msg_type == "y"  # type: ignore[union-attr]


def test_the_first_line_is_the_header_and_records_are_tab_separated(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    with writer(tmp_path, ManualClock(start)) as capture:
        capture.write_fix(start, "MD", fix("W", 1))
        capture.write_reference(start + 5, "coinbase", "BTC-USD", Decimal("65000.25"))
    lines = (
        gzip.decompress((tmp_path / "capture-20261207.cap.gz").read_bytes()).decode().splitlines()
    )
    assert lines[0].startswith('#truex-qf-capture v1 {"symbols":["BTC-USD"],"venue":"sim"')
    assert lines[1] == f"{start}\tF\tMD\t{fix('W', 1)}"
    assert lines[2] == f"{start + 5}\tR\tcoinbase\tBTC-USD\t65000.25"


def test_files_rotate_at_the_utc_day_boundary(tmp_path: Path) -> None:
    before = ns("2026-12-07T23:59:59.900000")
    after = ns("2026-12-08T00:00:00.100000")
    clock = ManualClock(before)
    with writer(tmp_path, clock, prefix="md") as capture:
        capture.write_fix(before, "MD", fix("W", 1))
        capture.write_fix(before + 50_000_000, "MD", fix("X", 2))
        clock.now_ns = after
        capture.write_fix(after, "MD", fix("X", 3))
        # A record stamped before midnight arriving after rotation stays in the open file.
        capture.write_fix(before + 60_000_000, "MD", fix("X", 4))
    first, second = tmp_path / "md-20261207.cap.gz", tmp_path / "md-20261208.cap.gz"
    assert capture.paths == [first, second]
    assert [r.raw for r in read_capture(first)] == [fix("W", 1), fix("X", 2)]
    day_two = read_capture(second)
    assert [r.raw for r in day_two] == [fix("X", 3), fix("X", 4)]
    assert day_two.headers[0].started_utc == "2026-12-08T00:00:00.100000+00:00"
    # A glob reads the days in date order.
    assert len(list(read_capture([str(tmp_path / "md-*.cap.gz")]))) == 4


def test_members_are_written_every_interval_and_read_back_as_one_stream(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    clock = ManualClock(start)
    capture = writer(tmp_path, clock, flush_interval_s=1.0)
    path = tmp_path / "capture-20261207.cap.gz"
    capture.write_fix(start, "MD", fix("W", 1))
    # Within the second: only the header member is on disk, and it reads as a capture.
    assert capture.members_written == 1
    assert list(read_capture(path)) == []
    clock.now_ns += 400_000_000
    assert not capture.flush_if_due()
    clock.now_ns += 600_000_000
    assert capture.flush_if_due()  # a quiet second still reaches the disk
    assert [r.raw for r in read_capture(path)] == [fix("W", 1)]
    for seq in range(2, 12):
        clock.now_ns += 500_000_000
        capture.write_fix(clock.now_ns, "MD", fix("X", seq))
    capture.close()
    assert capture.members_written >= 6
    stream = read_capture(path)
    assert [r.raw for r in stream] == [fix("W", 1)] + [fix("X", seq) for seq in range(2, 12)]
    assert not stream.truncated
    # Standard tools read the multi-member file too.
    assert gzip.decompress(path.read_bytes()).decode().count("\tF\tMD\t") == 11


def test_a_full_buffer_is_written_before_the_interval(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    capture = writer(tmp_path, ManualClock(start), max_buffer_bytes=1000)
    for seq in range(1, 40):
        capture.write_fix(start + seq, "MD", fix("X", seq))
    assert capture.members_written > 2
    capture.close()
    assert len(list(read_capture(tmp_path))) == 39


def test_a_cut_tail_yields_every_complete_record_and_says_so(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    path = tmp_path / "capture-20261207.cap.gz"
    member_ends = []
    with writer(tmp_path, ManualClock(start)) as capture:
        for seq in range(1, 6):
            capture.write_fix(start + seq, "MD", fix("X", seq))
            member_ends.append(path.stat().st_size)
            capture.flush()
    member_ends.append(path.stat().st_size)
    whole = path.read_bytes()
    expected = [fix("X", seq) for seq in range(1, 6)]
    cut_dir = tmp_path / "cut"
    cut_dir.mkdir()
    for length in range(1, len(whole)):
        cut = cut_dir / f"cut-{length}.cap.gz"
        cut.write_bytes(whole[:length])
        stream = read_capture(cut)
        raws = [r.raw for r in stream]  # never raises on a cut tail
        assert raws == expected[: len(raws)], length
        # A cut exactly between two members is a shorter capture, not a damaged one.
        assert stream.truncated == (length not in member_ends), length
        cut.unlink()
    # Cutting inside the last member loses that member's record only.
    last_member_start = whole.rfind(b"\x1f\x8b\x08")
    cut = cut_dir / "last.cap.gz"
    cut.write_bytes(whole[: last_member_start + 12])
    assert [r.raw for r in read_capture(cut)] == expected[:4]


def test_garbage_after_the_last_member_is_a_truncated_tail(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    with writer(tmp_path, ManualClock(start)) as capture:
        capture.write_fix(start, "MD", fix("W", 1))
    path = tmp_path / "capture-20261207.cap.gz"
    with path.open("ab") as tail:
        tail.write(b"\x00" * 4096)  # what a filesystem can leave after a crash
    stream = read_capture(path)
    assert [r.raw for r in stream] == [fix("W", 1)]
    assert stream.truncated_files == [path]


def test_kill_9_loses_at_most_the_unwritten_buffer(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from truex_qf.capture import CaptureWriter
        capture = CaptureWriter(Path({str(tmp_path)!r}), symbols=["BTC-USD"], venue="sim",
                                source="sim", flush_interval_s=3600)
        for seq in range(1, 101):
            capture.write_fix(time.time_ns(), "MD", f"8=FIXT.1.1\\x0135=X\\x0134={{seq}}\\x01")
            if seq == 60:
                capture.flush()
                print("flushed", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "flushed"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    stream = read_capture(tmp_path)
    seqs = [int(r.raw.split("\x0134=")[1].split("\x01")[0]) for r in stream]
    assert seqs == list(range(1, 61))
    recv = [r.recv_ns for r in read_capture(tmp_path)]
    assert recv == sorted(recv)


def test_a_second_capture_of_the_same_day_appends_after_its_own_header(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    for seq in (1, 2):
        with writer(tmp_path, ManualClock(start + seq)) as capture:
            capture.write_fix(start + seq, "MD", fix("X", seq))
    stream = read_capture(tmp_path)
    assert [r.raw for r in stream] == [fix("X", 1), fix("X", 2)]
    assert len(stream.headers) == 2


def test_files_whose_names_do_not_sort_by_time_are_read_in_receive_time_order(
    tmp_path: Path,
) -> None:
    # The demo names its captures demo-<run id>-YYYYMMDD: a folder of two demos' captures
    # sorts by run id, not by time. A backtest of the folder must not replay the later
    # market first (the earlier one's records would all land at the later one's end).
    start = ns("2026-12-07T10:00:00")
    for prefix, first_ns in (("demo-aaaa", start + 60 * 10**9), ("demo-ffff", start)):
        with writer(tmp_path, ManualClock(first_ns), prefix=prefix) as capture:
            for offset in range(3):
                capture.write_fix(first_ns + offset, "MD", fix("X", offset + 1))
    recv = [r.recv_ns for r in read_capture(tmp_path)]
    assert recv == sorted(recv)
    assert len(recv) == 6


def test_overlapping_captures_are_interleaved_by_receive_time(tmp_path: Path) -> None:
    # two captures of the same hour (say, one a symbol) replay as one market
    start = ns("2026-12-07T10:00:00")
    for prefix, first_ns in (("btc", start), ("eth", start + 1)):
        with writer(tmp_path, ManualClock(first_ns), prefix=prefix) as capture:
            for offset in range(0, 6, 2):
                capture.write_fix(first_ns + offset, "MD", fix("X", offset + 1))
    assert [r.recv_ns - start for r in read_capture(tmp_path)] == [0, 1, 2, 3, 4, 5]


def test_an_empty_capture_still_leaves_a_file(tmp_path: Path) -> None:
    clock = ManualClock(ns("2026-12-07T10:00:00"))
    writer(tmp_path, clock).close()
    stream = read_capture(tmp_path / "capture-20261207.cap.gz")
    assert list(stream) == []
    assert len(stream.headers) == 1


def test_same_records_give_the_same_bytes(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    for name in ("a", "b"):
        with writer(tmp_path / name, ManualClock(start)) as capture:
            for record in sample_records(start, 20):
                capture.write(record)
    assert (tmp_path / "a" / "capture-20261207.cap.gz").read_bytes() == (
        tmp_path / "b" / "capture-20261207.cap.gz"
    ).read_bytes()


def test_unknown_record_types_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.cap.gz"
    path.write_bytes(
        gzip.compress(
            b'#truex-qf-capture v1 {"symbols":[]}\n1\tZ\tnew\tthing\n2\tF\tMD\t35=W\x01\n'
        )
    )
    assert [r.recv_ns for r in read_capture(path)] == [2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not gzip at all", "not a gzip capture file"),
        (gzip.compress(b"1\tF\tMD\t35=W\x01\n"), "no header line"),
        (gzip.compress(b"#truex-qf-capture v9 {}\n"), "v9 is not supported"),
        (gzip.compress(b"#truex-qf-capture v1 {}\nabc\tF\tMD\t35=W\n"), "is not an integer"),
        (gzip.compress(b"#truex-qf-capture v1 {}\n1\tR\tcb\tBTC-USD\tx\n"), "is not a number"),
    ],
)
def test_what_is_not_a_capture_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.cap.gz"
    path.write_bytes(content)
    with pytest.raises(CaptureFormatError, match=message):
        list(read_capture(path))


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(CaptureFormatError, match="does not exist"):
        read_capture(tmp_path / "nope.cap.gz")
    with pytest.raises(CaptureFormatError, match="no capture file matches"):
        read_capture(str(tmp_path / "*.cap.gz"))
    with pytest.raises(CaptureFormatError, match=r"no \.cap\.gz file in"):
        read_capture(tmp_path)


def test_values_the_format_cannot_hold_are_refused(tmp_path: Path) -> None:
    start = ns("2026-12-07T10:00:00")
    with writer(tmp_path, ManualClock(start)) as capture:
        with pytest.raises(CaptureFormatError):
            capture.write_fix(start, "M\tD", fix("W", 1))
        with pytest.raises(CaptureFormatError):
            capture.write_fix(start, "MD", "35=W\n58=two lines")
        with pytest.raises(CaptureFormatError):
            capture.write_reference(start, "coinbase", "", Decimal(1))
