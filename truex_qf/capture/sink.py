"""Capture off the hot path: a writer thread behind a queue, and a reference-price poller.

An engine callback only stamps the message (``time.time_ns()``), makes a record and puts it on
a queue (:meth:`CaptureSink.market_data`): no disk, no lock, no compression on the engine's
thread. The sink's own thread writes records, and every ``idle_flush_s`` makes the writer put
a quiet second's records on disk. A disk that fails or a queue that overflows costs records
(counted, logged once), never the session.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Final, Protocol

from truex_qf.capture.format import (
    CaptureFormatError,
    CaptureRecord,
    CaptureWriter,
    FixRecord,
    ReferenceRecord,
)

log = logging.getLogger("truex_qf.capture")

MARKET_DATA_SESSION: Final = "MD"
ORDER_ENTRY_SESSION: Final = "OE"
"""The session name of our own execution reports in a capture taken during a run of ours."""
EXECUTION_REPORT: Final = "\x0135=8\x01"

MARKET_DATA_MSG_TYPES: Final = frozenset({"W", "X", "Y", "y", "BK", "f", "h"})
"""Application messages of the market-data session: snapshot (W), incremental refresh (X),
request reject (Y), security list (y) and its updates (BK), security status (f), trading
session status (h). Admin messages (heartbeats, logon, resend...) are not captured."""

_Queued = CaptureRecord | tuple[int, str] | tuple[int, str, str] | None
"""What the writer thread takes: a record (put), a tap's (recv_ns, raw[, session]) tuple, or
None, the stop."""


def market_data_type(raw: str) -> str | None:
    """The MsgType of ``raw`` when it is a market-data application message, else None."""
    start = raw.find("\x0135=")
    if start < 0:
        return None
    start += 4
    kind = raw[start : raw.find("\x01", start)]
    return kind if kind in MARKET_DATA_MSG_TYPES else None


class CaptureSink:
    """A :class:`CaptureWriter` owned by a thread of its own; ``put`` never blocks.

    Records are written in the order they were put. Two producers (the engine and a reference
    feed) can race by microseconds between stamping and putting, so a record stamped before
    the last one written takes that one's time: a capture is always in ``recv_ns`` order.
    """

    def __init__(
        self,
        writer: CaptureWriter,
        *,
        max_pending: int = 1_000_000,
        idle_flush_s: float = 0.2,
    ) -> None:
        self.writer = writer
        self._queue: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self._max_pending = max_pending
        self._idle_flush_s = idle_flush_s
        self._thread = threading.Thread(target=self._main, name="capture-writer", daemon=True)
        self._last_ns = 0
        self.dropped = 0  # queue overflow or a failed disk
        self.refused = 0  # records the format cannot hold
        self.error: str | None = None
        self.clamped = 0
        self.fix_written = 0
        self.reference_written = 0
        self.order_entry_sessions: frozenset[str] = frozenset()
        """The engine's names of our order-entry sessions, whose inbound execution reports
        (35=8) are captured too (as session ``OE``), when the capture is taken during a run
        of ours: the captured book then holds our own resting orders, and a backtest takes
        them out again by these reports (docs/backtests.md)."""

    @property
    def paths(self) -> list[Path]:
        """The files written so far (one per UTC day)."""
        return list(self.writer.paths)

    @property
    def records_written(self) -> int:
        return self.writer.records_written

    def start(self) -> None:
        self._thread.start()

    # -- producers (any thread) -------------------------------------------------------------

    def put(self, record: CaptureRecord) -> None:
        """Queue ``record`` for the writer thread; dropped (and counted) when the queue is full."""
        if self._queue.qsize() >= self._max_pending:
            self.dropped += 1
            return
        self._queue.put(record)

    def tap(self, session: str, direction: str, raw: str) -> None:
        """A :data:`truex_qf.fix.engine_log.MessageTap`: inbound market-data application
        messages are captured, stamped now, and so are the execution reports of the
        :attr:`order_entry_sessions`; everything else is ignored.

        On the engine thread, so the least work possible: a (time, text) tuple is queued and
        the writer thread makes the record (a frozen dataclass here cost 1.7 us a message)."""
        if direction != "IN":
            return
        if market_data_type(raw) is not None:
            item: tuple[int, str] | tuple[int, str, str] = (time.time_ns(), raw)
        elif session in self.order_entry_sessions and EXECUTION_REPORT in raw:
            item = (time.time_ns(), raw, ORDER_ENTRY_SESSION)
        else:
            return
        if self._queue.qsize() >= self._max_pending:
            self.dropped += 1
            return
        self._queue.put(item)

    # -- the writer thread ------------------------------------------------------------------

    def _main(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._idle_flush_s)
            except queue.Empty:
                if self.error is None:
                    self._guarded(self.writer.flush_if_due)
                continue
            if item is None:
                break
            if isinstance(item, tuple):  # from tap: (recv_ns, raw[, session]); MD by default
                session = item[2] if len(item) == 3 else MARKET_DATA_SESSION
                self._write(FixRecord(item[0], session, item[1]))
            else:
                self._write(item)
        self._guarded(self.writer.close)

    def _write(self, record: CaptureRecord) -> None:
        if self.error is not None:
            self.dropped += 1
            return
        if record.recv_ns < self._last_ns:
            self.clamped += 1
            record = _restamped(record, self._last_ns)
        try:
            self.writer.write(record)
        except CaptureFormatError as exc:
            self.refused += 1
            if self.refused == 1:
                log.warning("capture: a record was refused (%s); counting the others", exc)
            return
        except OSError as exc:
            self._failed(exc)
            return
        self._last_ns = record.recv_ns
        if isinstance(record, FixRecord):
            self.fix_written += 1
        else:
            self.reference_written += 1

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        if self.error is None:
            self.error = f"{exc.strerror or exc} ({exc.filename or self.writer.directory})"
            log.error("capture: cannot write (%s); later records are dropped", self.error)
        self.dropped += 1

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Write what is queued, close the file; False if the thread did not finish in time."""
        if not self._thread.is_alive():
            if self._thread.ident is None:  # never started: still leave a (header-only) file
                self._guarded(self.writer.close)
            return True
        self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()


def _restamped(record: CaptureRecord, recv_ns: int) -> CaptureRecord:
    if isinstance(record, FixRecord):
        return FixRecord(recv_ns, record.session, record.raw)
    return ReferenceRecord(recv_ns, record.source, record.symbol, record.price)


class Observation(Protocol):
    """What the poller reads of a reference feed's latest value (strategy.ReferencePrice)."""

    @property
    def price(self) -> Decimal: ...


class ReferencePoller:
    """Captures every new observation of some reference feeds, polled every ``interval_s``.

    ``feeds`` maps a TrueX symbol to ``(source name, latest)``, where ``latest()`` returns the
    feed's newest observation (a new object per observation). Polling, rather than the feed's
    listener, sees an observation that repeats the last price too (the listener fires only on
    a move), which is what keeps a replayed reference as fresh as the live one was; and it
    leaves the listener to the trading side. Records are stamped when seen (at most
    ``interval_s`` after the feed received them).
    """

    def __init__(
        self,
        sink: CaptureSink,
        feeds: Mapping[str, tuple[str, Callable[[], Observation | None]]],
        *,
        interval_s: float = 0.01,
    ) -> None:
        self._sink = sink
        self._feeds = dict(feeds)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="capture-reference", daemon=True)
        self.ticks = 0

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        seen: dict[str, object] = {}
        while not self._stop.wait(self._interval_s):
            self.poll(seen)
        self.poll(seen)

    def poll(self, seen: dict[str, object]) -> None:
        """One look at every feed; ``seen`` holds the last observation captured per symbol."""
        for symbol, (source, latest) in self._feeds.items():
            try:
                observation = latest()
            except Exception:  # a feed's bug must not end the capture
                log.exception("capture: reading the %s reference of %s failed", source, symbol)
                continue
            if observation is None or observation is seen.get(symbol):
                continue
            seen[symbol] = observation
            self.ticks += 1
            self._sink.put(ReferenceRecord(time.time_ns(), source, symbol, observation.price))

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
