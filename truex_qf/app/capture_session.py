"""``truex-qf capture``: record TrueX market data to capture files (truex_qf.capture.format).

Two sources:

- **A live market-data session** (:class:`MarketDataCapture`): the product's own
  :class:`~truex_qf.fix.client.FixClient` with only the market-data role, subscribed as
  ``run`` subscribes (a SecurityListRequest, then one MarketDataRequest for the symbols, again
  after every logon). Messages are taken from the engine log's tap, the text exactly as
  received, stamped ``time.time_ns()`` there and handed to the capture's writer thread
  (:class:`~truex_qf.capture.sink.CaptureSink`): the engine thread never touches the disk.
  Reference ticks (``--reference``) come from the same feeds ``run`` uses.
- **A stored run's FIX journal** (:func:`capture_from_run`): the inbound market-data rows of
  one run, and its own execution reports (session ``OE``, as ``run --capture`` records them),
  with the journal's receive time (microseconds).

The session's FIX sequence store lives in its own folder (``<state>/capture``), so a capture
never shares QuickFIX's files with a ``run`` of the same account.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from truex_qf.capture.format import CaptureWriter
from truex_qf.capture.sink import (
    MARKET_DATA_MSG_TYPES,
    MARKET_DATA_SESSION,
    ORDER_ENTRY_SESSION,
    CaptureSink,
    ReferencePoller,
)
from truex_qf.config import FixSettings
from truex_qf.domain.errors import ConfigError, LogonRejectedError, SessionTimeoutError, TruexError
from truex_qf.domain.model import (
    InboundEvent,
    LogonRefused,
    MarketDataReject,
    RequestSecurityList,
    SecurityList,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRole,
    SubscribeMarketData,
)
from truex_qf.fix.client import FixClient
from truex_qf.ops.runs import StoredRun, open_store
from truex_qf.storage.journal import STREAM_BATCH_ROWS, as_utc
from truex_qf.storage.schema import fix_journal, runs
from truex_qf.strategy.reference import ReferenceFeed

log = logging.getLogger("truex_qf.capture")

LOGON_TIMEOUT_S = 30.0
POLL_S = 0.1  # how often the capture loop looks at a stop request and the deadline
CAPTURE_SUBDIR = "capture"
"""The default output folder under TRUEX_STATE_DIR (and the session's own FIX store)."""


def check_capture_dir(option: str, directory: Path) -> Path:
    """``directory`` created if missing and proven writable, else a ConfigError (exit 2)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{threading.get_ident()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        problem = exc.strerror or type(exc).__name__
        raise ConfigError(option, f"cannot write capture files in {directory}: {problem}") from None
    return directory


@dataclass(frozen=True)
class CaptureOutcome:
    """What a capture wrote; ``lines()`` is what the command prints."""

    paths: tuple[Path, ...]
    market_data: int
    reference_ticks: int
    dropped: int = 0
    refused: int = 0
    error: str | None = None

    def lines(self) -> list[str]:
        lines = [
            f"captured {self.market_data} market-data messages and "
            f"{self.reference_ticks} reference ticks",
        ]
        lines += [f"capture file: {path}" for path in self.paths]
        if self.dropped or self.refused:
            lines.append(f"not captured: {self.dropped} dropped, {self.refused} refused")
        return lines


def sink_outcome(sink: CaptureSink) -> CaptureOutcome:
    return CaptureOutcome(
        paths=tuple(sink.paths),
        market_data=sink.fix_written,
        reference_ticks=sink.reference_written,
        dropped=sink.dropped,
        refused=sink.refused,
        error=sink.error,
    )


class MarketDataCapture:
    """One market-data session recording ``symbols`` until ``stop`` or the duration's end."""

    def __init__(
        self,
        fix_settings: FixSettings,
        symbols: Iterable[str],
        out_dir: Path,
        *,
        depth: int = 0,
        references: Mapping[str, ReferenceFeed] | None = None,
        source: str = "fix",
        prefix: str = "capture",
        stop: threading.Event | None = None,
        logon_timeout_s: float = LOGON_TIMEOUT_S,
    ) -> None:
        self.symbols = tuple(symbols)
        self.depth = depth
        self.stop_requested = stop if stop is not None else threading.Event()
        self.logon_timeout_s = logon_timeout_s
        # The session's own sequence store: never the files of a `run` of the same account.
        settings = replace(fix_settings, state_dir=fix_settings.state_dir / CAPTURE_SUBDIR)
        venue = f"{settings.market_data_target}@{settings.host}:{settings.market_data_port}"
        writer = CaptureWriter(
            out_dir,
            symbols=self.symbols,
            venue=venue,
            source=source,
            sender_comp_id=settings.sender_comp_id,
            prefix=prefix,
        )
        self.sink = CaptureSink(writer)
        self.references = dict(references or {})
        self.poller = (
            ReferencePoller(
                self.sink,
                {symbol: (feed.name, feed.latest) for symbol, feed in self.references.items()},
            )
            if self.references
            else None
        )
        # Session events and the few application messages the capture reads itself; the
        # market data goes to the sink through the engine log's tap, not through here.
        self.events: queue.SimpleQueue[InboundEvent] = queue.SimpleQueue()
        self.client = FixClient(
            settings,
            self.events.put,
            roles=frozenset({SessionRole.MARKET_DATA}),
            journal=self.sink.tap,
            app_sink=self._on_app_message,
        )
        self._request_ids = iter(range(1, 1 << 62))
        self.subscriptions = 0

    def _on_app_message(self, event: InboundEvent) -> None:
        """Engine thread: keep what the loop answers (rejects, the list); drop the rest."""
        if isinstance(event, MarketDataReject | SecurityList):
            self.events.put(event)

    def run(self, duration_s: float | None = None) -> CaptureOutcome:
        """Capture until ``duration_s`` passes or :attr:`stop_requested` is set."""
        self.sink.start()
        for feed in self.references.values():
            feed.start()
        if self.poller is not None:
            self.poller.start()
        try:
            self.client.start()
            self._wait_logged_on()
            deadline = None if duration_s is None else time.monotonic() + duration_s
            while not self.stop_requested.is_set():
                wait_s = POLL_S
                if deadline is not None:
                    wait_s = min(wait_s, deadline - time.monotonic())
                    if wait_s <= 0:
                        break
                try:
                    event = self.events.get(timeout=wait_s)
                except queue.Empty:
                    continue
                self._handle(event)
        finally:
            self.client.stop()
            if self.poller is not None:
                self.poller.stop()
            for feed in self.references.values():
                feed.stop()
            if not self.sink.stop():
                log.error("capture: the writer did not finish in time; the file may be cut")
        outcome = sink_outcome(self.sink)
        if outcome.error is not None:
            raise TruexError(f"capture: cannot write ({outcome.error})")
        return outcome

    def _wait_logged_on(self) -> None:
        """Logged on, or a typed error; a stop request (Ctrl-C) ends the wait early."""
        deadline = time.monotonic() + self.logon_timeout_s
        while True:
            try:
                self.client.wait_logged_on(SessionRole.MARKET_DATA, POLL_S)
                return
            except LogonRejectedError:
                raise
            except SessionTimeoutError:
                if self.stop_requested.is_set():
                    return
                if time.monotonic() >= deadline:
                    config = self.client.config
                    raise SessionTimeoutError(
                        f"market data session to {config.host}:{config.market_data_port} not "
                        f"logged on after {self.logon_timeout_s:g} s; is the venue reachable?"
                    ) from None

    def _handle(self, event: InboundEvent) -> None:
        if isinstance(event, SessionLoggedOn) and event.role is SessionRole.MARKET_DATA:
            self._subscribe()
        elif isinstance(event, SessionLoggedOut):
            log.warning("market data session down; QuickFIX reconnects, then we resubscribe")
        elif isinstance(event, LogonRefused):
            log.error("market data logon refused: %s", event.text)
        elif isinstance(event, MarketDataReject):
            raise TruexError(
                f"the venue refused the market data request {event.md_req_id}: "
                f"{event.text or 'no reason given'} (symbols {', '.join(self.symbols)})"
            )
        elif isinstance(event, SecurityList) and event.result in (None, "0"):
            listed = {security.symbol for security in event.securities}
            unlisted = sorted(set(self.symbols) - listed)
            if unlisted and listed:
                log.warning("the venue's security list does not name %s", ", ".join(unlisted))

    def _subscribe(self) -> None:
        """What the market maker sends on each market-data logon: the list, then the book."""
        number = next(self._request_ids)
        self.client.send(RequestSecurityList(f"CSL{number}"))
        self.client.send(SubscribeMarketData(f"CMD{number}", self.symbols, self.depth))
        self.subscriptions += 1
        log.info("subscribed to %s (depth %d)", ", ".join(self.symbols), self.depth)


# --------------------------------------------------------------------------- from a run


def _micros_ns(moment: datetime) -> int:
    utc = as_utc(moment)
    return int(utc.timestamp()) * 1_000_000_000 + utc.microsecond * 1_000


def _journal_rows(engine: Engine, run_id: str) -> Iterator[tuple[int, str, str]]:
    """(recv_ns, capture session, text) of the run's inbound market-data messages and of its
    own execution reports (35=8 of a FIX session: the order-entry one; a paper run's or a
    backtest's reports, journalled under PAPER or BACKTEST, never were in the venue's book),
    in journal order."""
    columns = fix_journal.c
    own_reports = (columns.msg_type == "8") & columns.session.like("FIX%")
    query = (
        select(columns.logged_at, columns.msg_type, columns.text)
        .where(
            columns.run_id == run_id,
            columns.direction == "IN",
            columns.msg_type.in_(sorted(MARKET_DATA_MSG_TYPES)) | own_reports,
        )
        .order_by(columns.id)
    )
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=STREAM_BATCH_ROWS).execute(query)
        for logged_at, msg_type, text in result:
            session = ORDER_ENTRY_SESSION if msg_type == "8" else MARKET_DATA_SESSION
            yield _micros_ns(logged_at), session, text


def _requested_symbols(engine: Engine, run_id: str) -> tuple[str, ...]:
    """The symbols the run's market-data requests (35=V) named, in first-asked order."""
    columns = fix_journal.c
    query = select(columns.text).where(
        columns.run_id == run_id, columns.direction == "OUT", columns.msg_type == "V"
    )
    symbols: dict[str, None] = {}
    with engine.connect() as connection:
        for (text,) in connection.execute(query.order_by(columns.id)):
            for item in text.split("\x01"):
                if item.startswith("55="):
                    symbols.setdefault(item[3:])
    return tuple(symbols)


def capture_from_run(run: StoredRun, out_dir: Path, prefix: str | None = None) -> CaptureOutcome:
    """Write ``run``'s inbound market data from its journal to ``out_dir`` (default prefix
    ``run-<id>``); the records keep the journal's receive times (to the microsecond)."""
    with open_store(run.url) as engine:
        with engine.connect() as connection:
            venue = connection.execute(
                select(runs.c.venue).where(runs.c.run_id == run.run_id)
            ).scalar_one_or_none()
        writer = CaptureWriter(
            out_dir,
            symbols=_requested_symbols(engine, run.run_id),
            venue=venue or "",
            source=f"run:{run.run_id}",
            sender_comp_id=run.sender_comp_id,
            prefix=prefix or f"run-{run.short_id}",
            extra={"mode": run.mode},
        )
        last_ns = 0
        with writer:
            for recv_ns, session, text in _journal_rows(engine, run.run_id):
                last_ns = max(last_ns, recv_ns)  # journal order; time never runs back
                writer.write_fix(last_ns, session, text)
    return CaptureOutcome(
        paths=tuple(writer.paths), market_data=writer.records_written, reference_ticks=0
    )
