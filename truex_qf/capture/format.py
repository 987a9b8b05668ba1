"""Capture file format v1: gzip text, one record a line, rotated daily (see docs/capture.md).

A file is UTF-8 text in one or more gzip members. Line 1 is ``#truex-qf-capture v1 <json>``;
every further line is a record whose fields are separated by one TAB::

    <recv_ns>\\tF\\t<session>\\t<raw FIX message, SOH kept as \\x01>
    <recv_ns>\\tR\\t<source>\\t<symbol>\\t<price>

``recv_ns`` is the wall clock (``time.time_ns()``) when the engine handed us the message.

Why gzip members: :class:`CaptureWriter` buffers lines and writes them as one complete gzip
member at least every second (and on close), each with a single ``write``; a ``kill -9`` loses at
most the unwritten second, and every member already on disk stays readable. ``cat``-joined files,
or a file a later capture appended to (a second header line), read as one stream.

:func:`read_capture` streams records from a list of files, globs or directories, merged in
receive-time order across files (their names need not sort by time); at a truncated or corrupt
tail it stops that file quietly and says so (``CaptureStream.truncated``).

Pure Python on purpose (no engine, no network): a backtest, the paper engine or a notebook
reads captures without QuickFIX.
"""

from __future__ import annotations

import glob
import gzip
import heapq
import json
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import IO, Final

__all__ = [
    "CAPTURE_SUFFIX",
    "FORMAT_VERSION",
    "CaptureFormatError",
    "CaptureHeader",
    "CaptureRecord",
    "CaptureStream",
    "CaptureWriter",
    "FixRecord",
    "ReferenceRecord",
    "capture_path",
    "read_capture",
]

FORMAT_VERSION: Final = "v1"
MAGIC: Final = "#truex-qf-capture"
CAPTURE_SUFFIX: Final = ".cap.gz"
SOH: Final = "\x01"
NS_PER_DAY: Final = 86_400 * 1_000_000_000
_EPOCH_DAY: Final = date(1970, 1, 1)
_READ_CHUNK: Final = 1 << 16


class CaptureFormatError(ValueError):
    """A file that is not a capture, a malformed record, or a value the format cannot hold."""


@dataclass(frozen=True, slots=True)
class FixRecord:
    """One FIX message as it arrived: ``raw`` is the whole message, SOH (``\\x01``) kept."""

    recv_ns: int
    session: str
    raw: str

    @property
    def msg_type(self) -> str:
        """The MsgType (tag 35) of ``raw``, or "" if it has none."""
        start = self.raw.find(f"{SOH}35=")
        if start < 0:
            return ""
        start += 4
        end = self.raw.find(SOH, start)
        return self.raw[start:] if end < 0 else self.raw[start:end]


@dataclass(frozen=True, slots=True)
class ReferenceRecord:
    """One reference price tick (e.g. Coinbase's last trade) as it arrived."""

    recv_ns: int
    source: str
    symbol: str
    price: Decimal


CaptureRecord = FixRecord | ReferenceRecord


@dataclass(frozen=True, slots=True)
class CaptureHeader:
    """The first line of a capture file: what was captured, where from and since when.

    ``source`` is "fix" (a live session), "sim" (the simulator) or "run:<id>" (a run's
    journal); ``extra`` keeps any further keys a later writer adds.
    """

    symbols: tuple[str, ...]
    venue: str
    started_utc: str
    source: str
    sender_comp_id: str
    extra: Mapping[str, object] = field(default_factory=dict)

    def to_line(self) -> str:
        """The header line, without its newline."""
        body: dict[str, object] = {
            "symbols": list(self.symbols),
            "venue": self.venue,
            "started_utc": self.started_utc,
            "source": self.source,
            "sender_comp_id": self.sender_comp_id,
        }
        for key, value in self.extra.items():
            body.setdefault(key, value)
        return f"{MAGIC} {FORMAT_VERSION} {json.dumps(body, separators=(',', ':'))}"

    @classmethod
    def from_line(cls, line: str) -> CaptureHeader:
        """Parse a header line; CaptureFormatError if it is not one this reader knows."""
        parts = line.split(" ", 2)
        if len(parts) < 3 or parts[0] != MAGIC:
            raise CaptureFormatError("not a truex-qf capture header")
        if parts[1] != FORMAT_VERSION:
            raise CaptureFormatError(
                f"capture format {parts[1]} is not supported (this reader knows {FORMAT_VERSION})"
            )
        try:
            body = json.loads(parts[2])
        except ValueError as exc:
            raise CaptureFormatError(f"capture header is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise CaptureFormatError("capture header is not a JSON object")
        known = ("symbols", "venue", "started_utc", "source", "sender_comp_id")
        return cls(
            symbols=tuple(str(symbol) for symbol in body.get("symbols") or ()),
            venue=str(body.get("venue", "")),
            started_utc=str(body.get("started_utc", "")),
            source=str(body.get("source", "")),
            sender_comp_id=str(body.get("sender_comp_id", "")),
            extra={key: value for key, value in body.items() if key not in known},
        )


def utc_text(moment_ns: int) -> str:
    """ISO 8601 UTC text of a wall-clock time in ns (microsecond precision)."""
    return datetime.fromtimestamp(moment_ns / 1e9, UTC).isoformat(timespec="microseconds")


def utc_day(moment_ns: int) -> date:
    """The UTC calendar day of a wall-clock time in ns."""
    return _EPOCH_DAY + timedelta(days=moment_ns // NS_PER_DAY)


def capture_path(directory: Path, prefix: str, day: date) -> Path:
    """``<directory>/<prefix>-YYYYMMDD.cap.gz``: the file holding ``day``'s records."""
    return directory / f"{prefix}-{day:%Y%m%d}{CAPTURE_SUFFIX}"


def _check_field(name: str, value: str) -> None:
    if not value or "\t" in value or "\n" in value or "\r" in value:
        raise CaptureFormatError(
            f"capture {name} {value!r} must be non-empty, without TAB or newline"
        )


class CaptureWriter:
    """Writes records to daily files ``<directory>/<prefix>-YYYYMMDD.cap.gz``.

    The day is the UTC day of each record's ``recv_ns``; a record of a later day closes the
    current file and opens the next (records are expected in ``recv_ns`` order; a late one
    stays in the current file). A file that exists already is appended to, after a header line
    of its own. Lines are buffered and written as one gzip member when ``flush_interval_s``
    (by ``clock_ns``) has passed since the last member, when the buffer reaches
    ``max_buffer_bytes``, on :meth:`flush` and on :meth:`close`; a caller that may go quiet
    calls :meth:`flush_if_due` on a timer so a quiet second still reaches the disk.

    Not thread-safe: one thread owns a writer (see ``capture.sink`` for the queue in front).
    """

    def __init__(
        self,
        directory: Path,
        *,
        symbols: Iterable[str],
        venue: str,
        source: str,
        sender_comp_id: str = "",
        prefix: str = "capture",
        extra: Mapping[str, object] | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
        flush_interval_s: float = 1.0,
        max_buffer_bytes: int = 1 << 20,
        compresslevel: int = 6,
    ) -> None:
        _check_field("prefix", prefix)
        if "/" in prefix:
            raise CaptureFormatError(f"capture prefix {prefix!r} must not contain '/'")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self._header_fields = (tuple(symbols), venue, source, sender_comp_id, dict(extra or {}))
        self._clock_ns = clock_ns
        self._flush_interval_ns = int(flush_interval_s * 1e9)
        self._max_buffer_bytes = max_buffer_bytes
        self._compresslevel = compresslevel
        self._file: IO[bytes] | None = None
        self._day: date | None = None
        self._buffer: list[str] = []
        self._buffered_chars = 0
        self._last_flush_ns = clock_ns()
        self._closed = False
        self.paths: list[Path] = []
        self.records_written = 0
        self.members_written = 0

    # -- records ----------------------------------------------------------------------------

    def write(self, record: CaptureRecord) -> None:
        """Append one record (FixRecord or ReferenceRecord)."""
        if isinstance(record, FixRecord):
            self.write_fix(record.recv_ns, record.session, record.raw)
        else:
            self.write_reference(record.recv_ns, record.source, record.symbol, record.price)

    def write_fix(self, recv_ns: int, session: str, raw: str) -> None:
        """Append a FIX message received at ``recv_ns`` on ``session`` ("MD" or "OE")."""
        _check_field("session", session)
        if not raw or "\n" in raw or "\r" in raw:
            raise CaptureFormatError("a captured FIX message must be non-empty, without newline")
        self._append(recv_ns, f"{recv_ns}\tF\t{session}\t{raw}\n")

    def write_reference(self, recv_ns: int, source: str, symbol: str, price: Decimal) -> None:
        """Append a reference price tick from ``source`` for ``symbol``."""
        _check_field("source", source)
        _check_field("symbol", symbol)
        self._append(recv_ns, f"{recv_ns}\tR\t{source}\t{symbol}\t{price}\n")

    def _append(self, recv_ns: int, line: str) -> None:
        if self._closed:
            raise CaptureFormatError("the capture writer is closed")
        day = utc_day(recv_ns)
        if self._day is None or day > self._day:
            self._open(day, recv_ns)
        self._buffer.append(line)
        self._buffered_chars += len(line)
        self.records_written += 1
        if self._buffered_chars >= self._max_buffer_bytes:
            self.flush()
        else:
            self.flush_if_due()

    # -- members and files ------------------------------------------------------------------

    def flush_if_due(self) -> bool:
        """Write the buffer as a member if ``flush_interval_s`` has passed; True if it did."""
        if self._buffer and self._clock_ns() - self._last_flush_ns >= self._flush_interval_ns:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Write the buffered lines as one complete gzip member (nothing if none)."""
        self._last_flush_ns = self._clock_ns()
        if not self._buffer or self._file is None:
            return
        text = "".join(self._buffer)
        self._buffer.clear()
        self._buffered_chars = 0
        self._write_member(text)

    def _write_member(self, text: str) -> None:
        assert self._file is not None
        # mtime=0: the same records give the same bytes (deterministic, diffable captures).
        member = gzip.compress(text.encode("utf-8"), compresslevel=self._compresslevel, mtime=0)
        view = memoryview(member)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]
        self.members_written += 1

    def _open(self, day: date, first_ns: int) -> None:
        self.flush()
        self._close_file()
        path = capture_path(self.directory, self.prefix, day)
        # Unbuffered: each member goes to the kernel in one write, so a killed process leaves
        # whole members behind (the page cache survives the process).
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - owned until _close_file
        self._day = day
        if path not in self.paths:
            self.paths.append(path)
        symbols, venue, source, sender_comp_id, extra = self._header_fields
        header = CaptureHeader(
            symbols=symbols,
            venue=venue,
            started_utc=utc_text(first_ns),
            source=source,
            sender_comp_id=sender_comp_id,
            extra=extra,
        )
        self._write_member(header.to_line() + "\n")

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        """Write what is buffered and close the file; a writer that saw no record still leaves
        one file (the header alone) for the clock's day, so a quiet capture is visible."""
        if self._closed:
            return
        if self._file is None:
            now_ns = self._clock_ns()
            self._open(utc_day(now_ns), now_ns)
        self.flush()
        self._close_file()
        self._closed = True

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- reading ---------------------------------------------------------------------------------


def expand_capture_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named by ``paths``: a file as given, a directory's ``*.cap.gz`` files, a glob's
    matches (each sorted by name; :class:`CaptureStream` merges them by receive time, so the
    order only breaks ties); CaptureFormatError if a name matches nothing."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob(f"*{CAPTURE_SUFFIX}"))
            if not found:
                raise CaptureFormatError(f"no {CAPTURE_SUFFIX} file in {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif glob.has_magic(str(item)):
            matches = sorted(Path(match) for match in glob.glob(str(item)))
            if not matches:
                raise CaptureFormatError(f"no capture file matches {item}")
            files.extend(matches)
        else:
            raise CaptureFormatError(f"capture file {item} does not exist")
    return files


class CaptureStream:
    """Records of one or more capture files, read as they are iterated.

    Several files are merged by receive time (each file's own order kept; equal times in file
    order): a folder of captures whose names do not sort by time (the demo's are
    ``demo-<run id>-YYYYMMDD``), or two captures of the same hour, replay as one market.

    After (or during) iteration: ``headers`` holds every header line met, ``records`` the
    number of records yielded, ``truncated_files`` the files whose tail was cut or corrupt
    (their complete records were yielded; the rest was skipped quietly).
    """

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self.files = expand_capture_paths(paths)
        self.headers: list[CaptureHeader] = []
        self.truncated_files: list[Path] = []
        self.records = 0

    @property
    def truncated(self) -> bool:
        """True if any file ended in a cut or corrupt tail."""
        return bool(self.truncated_files)

    def __iter__(self) -> Iterator[CaptureRecord]:
        # heapq.merge yields a lone file's records straight through: no key is read for them
        yield from heapq.merge(*map(self._read_file, self.files), key=attrgetter("recv_ns"))

    def _read_file(self, path: Path) -> Iterator[CaptureRecord]:
        has_header = False
        line_number = 0
        for line_bytes in self._complete_lines(path):
            line_number += 1
            try:
                line = line_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise CaptureFormatError(f"{path}:{line_number}: not UTF-8") from None
            if line.startswith("#"):
                if line.startswith(MAGIC):
                    try:
                        self.headers.append(CaptureHeader.from_line(line))
                    except CaptureFormatError as exc:
                        raise CaptureFormatError(f"{path}:{line_number}: {exc}") from None
                    has_header = True
                continue
            if not has_header:
                raise CaptureFormatError(f"{path}: not a truex-qf capture (no header line)")
            if not line:
                continue
            record = _parse_record(line, path, line_number)
            if record is not None:
                self.records += 1
                yield record

    def _complete_lines(self, path: Path) -> Iterator[bytes]:
        """Lines (without newline) of every gzip member in ``path``; at a cut or corrupt tail,
        the complete lines before it, then a note in ``truncated_files``."""
        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
        in_member = False
        pending = b""
        lines_seen = 0
        with open(path, "rb") as stream:
            if not stream.read(1):
                # A file opened by a writer killed before its header reached the disk.
                self.truncated_files.append(path)
                return
            stream.seek(0)
            while True:
                data = stream.read(_READ_CHUNK)
                if not data:
                    break
                while data:
                    try:
                        out = decompressor.decompress(data)
                    except zlib.error:
                        if lines_seen == 0:
                            raise CaptureFormatError(f"{path}: not a gzip capture file") from None
                        self.truncated_files.append(path)
                        return
                    in_member = True
                    if out:
                        pending += out
                        if b"\n" in pending:
                            lines = pending.split(b"\n")
                            pending = lines.pop()
                            lines_seen += len(lines)
                            yield from lines
                    if decompressor.eof:
                        data = decompressor.unused_data
                        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
                        in_member = False
                    else:
                        data = b""
        if in_member or pending:
            # A member cut short, or a last line without its newline: the writer never leaves
            # either behind except when it was killed mid-write (or the file was copied early).
            self.truncated_files.append(path)


def _parse_record(line: str, path: Path, line_number: int) -> CaptureRecord | None:
    where = f"{path}:{line_number}"
    parts = line.split("\t", 3)
    if len(parts) < 4:
        raise CaptureFormatError(f"{where}: a record needs 4 TAB-separated fields")
    try:
        recv_ns = int(parts[0])
    except ValueError:
        raise CaptureFormatError(f"{where}: recv_ns {parts[0]!r} is not an integer") from None
    kind = parts[1]
    if kind == "F":
        return FixRecord(recv_ns, parts[2], parts[3])
    if kind == "R":
        rest = parts[3].split("\t")
        if len(rest) != 2:
            raise CaptureFormatError(
                f"{where}: a reference record is recv_ns R source symbol price"
            )
        try:
            price = Decimal(rest[1])
        except InvalidOperation:
            raise CaptureFormatError(f"{where}: price {rest[1]!r} is not a number") from None
        return ReferenceRecord(recv_ns, parts[2], rest[0], price)
    # A record type a later version added: readers of v1 skip it rather than fail.
    return None


def read_capture(paths: Iterable[str | Path] | str | Path) -> CaptureStream:
    """Stream the records of capture ``paths`` (files, globs or directories), merged by
    receive time across files.

    Iterate the result for :class:`FixRecord` / :class:`ReferenceRecord`; it also reports
    ``headers`` and ``truncated_files``. CaptureFormatError names a missing file or a file that
    is not a capture.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return CaptureStream(paths)
