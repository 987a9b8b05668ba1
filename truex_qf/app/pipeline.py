"""Everything that records or watches a run: the store, the FIX journal, Redis, metrics, alerts.

The runner calls the hooks below at fixed points; each is cheap (an enqueue or a metric update)
because they run on the trading thread or the engine's threads. The I/O happens on the
components' own threads: the store writer, the Redis publisher, the metrics HTTP server and the
webhook sender. Storage being unreachable spills to disk; a full spill halts trading rather
than trade unrecorded. Redis or a webhook being down is logged and counted, nothing more.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from truex_qf.capture.format import CaptureWriter
from truex_qf.capture.sink import CaptureSink, ReferencePoller
from truex_qf.config import recording_settings
from truex_qf.domain.model import Command, SessionLoggedOn, SessionLoggedOut, SessionRole
from truex_qf.observe.alerts import AlertManager
from truex_qf.observe.live_state import (
    LiveSnapshot,
    LiveStatePublisher,
    build_snapshot,
    fill_payload,
    session_payload,
    trading_state_payload,
)
from truex_qf.observe.metrics import Metrics
from truex_qf.storage.database import (
    alembic_config,
    check_schema,
    current_revision_of,
    database_url,
    make_engine,
    upgrade,
)
from truex_qf.storage.journal_process import JournalProcess
from truex_qf.storage.recorder import JournalTap, StoreRecorder, quote_marks
from truex_qf.storage.recovery import (
    StoreStart,
    carried_positions,
    flush_spill,
    repair_crashed_runs,
)
from truex_qf.storage.rows import Row
from truex_qf.storage.schema import SCHEMA_REVISION
from truex_qf.storage.venue_decisions import (
    REST_SESSION,
    baseline_text,
    cancel_text,
    report_text,
    trade_text,
)
from truex_qf.storage.writer import StoreWriter
from truex_qf.strategy.reference import ReferenceFeed
from truex_qf.trading.events import (
    PositionBaseline,
    RecoveredTrade,
    TradingStateChanged,
    VenueCorrection,
    VenueOrdersCancelled,
)
from truex_qf.trading.market_maker import MarketMaker
from truex_qf.trading.orders import Fill

log = logging.getLogger("truex_qf.app.pipeline")

STORAGE_SPILL_FULL = "STORAGE_SPILL_FULL"
SAMPLE_INTERVAL_S = 1.0
SNAPSHOT_INTERVAL_S = 5.0


@dataclass(frozen=True)
class PipelineSettings:
    """Where a run records to. Only the database is always on (SQLite by default)."""

    database_url: str
    create_fresh_schema: bool  # the default SQLite file: create the schema on first use
    spill_path: Path
    redis_url: str | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    alert_webhook: str | None = None
    namespace: str = "default"
    spill_max_bytes: int = 50_000_000
    # Also write the inbound market data (and reference ticks) to capture files here
    # (truex_qf.capture): the demo's and `run --capture DIR`'s.
    capture_dir: Path | None = None


def pipeline_settings(
    state_dir: Path, namespace: str, env: Mapping[str, str] | None = None
) -> PipelineSettings:
    """From the environment as :func:`truex_qf.config.recording_settings` reads it (``env``:
    another mapping, for tests): DATABASE_URL, REDIS_URL, TRUEX_METRICS_PORT/HOST,
    TRUEX_ALERT_WEBHOOK_URL, TRUEX_LIVE_NAMESPACE."""
    url = database_url(state_dir, env)  # checked first, as before
    recording = recording_settings(env)
    return PipelineSettings(
        database_url=url,
        create_fresh_schema=recording.database_url is None,
        spill_path=state_dir / "store-spill.jsonl",
        redis_url=recording.redis_url,
        metrics_port=recording.metrics_port,
        metrics_host=recording.metrics_host,
        alert_webhook=recording.alert_webhook,
        namespace=recording.namespace or namespace,
    )


def journal_spill_path(spill_path: Path) -> Path:
    """The journal writer's own spill file, beside the store's (two writers, two files)."""
    return spill_path.with_name(f"{spill_path.stem}.journal{spill_path.suffix}")


def prepare_database(settings: PipelineSettings) -> None:
    """Refuse an out-of-date schema, except in the default SQLite file: the program's own file,
    created on first use and migrated forward (as ``truex-qf db upgrade`` would) when an older
    truex-qf made it, so a new version's ``make demo`` works on the state folder of the last."""
    url = settings.database_url
    if settings.create_fresh_schema:
        engine = make_engine(url)
        try:
            empty = not inspect(engine).get_table_names()
            with engine.connect() as connection:
                found = None if empty else current_revision_of(connection)
        finally:
            engine.dispose()
        older = {
            script.revision
            for script in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
        } - {SCHEMA_REVISION}
        if empty or found in older:
            upgrade(url)
            if found is not None:
                log.info("store: schema migrated from revision %s to %s", found, SCHEMA_REVISION)
    check_schema(url)


class Pipeline:
    """Built before the FIX client (the journal tap goes into it), attached to the market maker."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.run_id = str(uuid.uuid4())
        self.halt_reason: str | None = None
        self._halt = threading.Event()
        self.writer = StoreWriter(
            settings.database_url,
            settings.spill_path,
            spill_max_bytes=settings.spill_max_bytes,
            on_spill_full=self._on_spill_full,
        )
        # The journal (every FIX message) has a writer process of its own, with its own spill
        # file: see truex_qf.storage.journal_process.
        self.journal = JournalProcess(
            settings.database_url,
            journal_spill_path(settings.spill_path),
            spill_max_bytes=settings.spill_max_bytes,
            on_spill_full=self._on_spill_full,
        )
        self._journal = JournalTap(self.run_id, self.journal.submit)
        self.metrics = Metrics()
        self.alerts = AlertManager(settings.alert_webhook, on_alert=self.metrics.alert_raised)
        self.publisher = (
            LiveStatePublisher(settings.redis_url, namespace=settings.namespace)
            if settings.redis_url
            else None
        )
        self.metrics_port: int | None = None
        self._roles: Mapping[str, SessionRole] = {}
        self._mm: MarketMaker | None = None
        self._snapshot: LiveSnapshot | None = None
        self._recorder: StoreRecorder | None = None
        self._next_sample = 0.0
        self._next_store_snapshot = 0.0
        self._started_at = datetime.now(UTC)
        self._run_row: dict[str, object] = {}
        self.store_start: StoreStart | None = None  # what ``start`` recovered (mode run)
        self.capture: CaptureSink | None = None  # started by ``start`` with a capture_dir
        self._capture_references: dict[str, ReferenceFeed] = {}
        self._capture_poller: ReferencePoller | None = None

    # ------------------------------------------------------------------ wiring

    def tap(self, session: str, direction: str, raw: str) -> None:
        """The FIX engine log's feed (engine threads): journal every message, note liveness."""
        self._journal(session, direction, raw)
        capture = self.capture
        if capture is not None:
            capture.tap(session, direction, raw)
        role = self._roles.get(session)
        if role is None:
            return
        if direction == "IN":
            self.metrics.message_received(role)
            self.alerts.message_received(role)
            if "\x0135=2\x01" in raw:
                self.metrics.resend_request(role)
        elif "\x0135=2\x01" in raw:  # we asked for a resend: we saw a sequence gap
            self.metrics.sequence_gap(role)
            self.alerts.sequence_gap(role)

    def wrap_send(self, send: Callable[[Command], bool]) -> Callable[[Command], bool]:
        def sending(command: Command) -> bool:
            sent = send(command)
            if sent:
                self.metrics.command_sent(command)
            return sent

        return sending

    def attach(self, mm: MarketMaker, roles: Mapping[str, SessionRole]) -> None:
        self._mm = mm
        self._roles = roles
        self._recorder = StoreRecorder(self.run_id, self.writer.submit, mm.orders)
        mm.listeners.append(self._recorder)
        mm.listeners.append(self._on_market_maker_event)

    # ------------------------------------------------------------------ lifecycle

    def start(self, mode: str, venue: str, sender_comp_id: str) -> None:
        prepare_database(self.settings)
        if mode == "run":
            self.store_start = self._recover(sender_comp_id)
        self.writer.start()
        self.journal.start()
        self._start_capture(mode, venue, sender_comp_id)
        self._run_row = {
            "run_id": self.run_id,
            "mode": mode,
            "venue": venue,
            "sender_comp_id": sender_comp_id,
            "started_at": self._started_at,
            "ended_at": None,
        }
        self.writer.submit(Row("runs", dict(self._run_row)))
        if self.settings.metrics_port is not None:
            self.metrics_port = self.metrics.serve(
                self.settings.metrics_port, self.settings.metrics_host
            )
            log.info(
                "metrics on http://%s:%d/metrics", self.settings.metrics_host, self.metrics_port
            )
        if self.publisher is not None:
            self.publisher.start()
        log.info("run %s recording to the store", self.run_id)

    def capture_references(self, feeds: Mapping[str, ReferenceFeed]) -> None:
        """Reference feeds (per TrueX symbol) whose ticks the capture records too; call
        before :meth:`start`. Nothing happens without a capture_dir."""
        self._capture_references = dict(feeds)

    def _start_capture(self, mode: str, venue: str, sender_comp_id: str) -> None:
        directory = self.settings.capture_dir
        if directory is None:
            return
        writer = CaptureWriter(
            directory,
            symbols=tuple(self._mm.symbols) if self._mm is not None else (),
            venue=venue,
            source="sim" if mode == "demo" else "fix",
            sender_comp_id=sender_comp_id,
            prefix=f"{mode}-{self.run_id[:8]}",
            extra={"run_id": self.run_id},
        )
        self.capture = CaptureSink(writer)
        # our own execution reports too: the captured book holds our resting orders, which a
        # backtest of this capture takes out again (docs/backtests.md); a paper run has no
        # order-entry session (its orders were never in the book)
        self.capture.order_entry_sessions = frozenset(
            session for session, role in self._roles.items() if role is SessionRole.ORDER_ENTRY
        )
        self.capture.start()
        if self._capture_references:
            feeds = {s: (f.name, f.latest) for s, f in self._capture_references.items()}
            self._capture_poller = ReferencePoller(self.capture, feeds)
            self._capture_poller.start()
        log.info("capturing market data to %s", directory)

    @property
    def capture_paths(self) -> list[Path]:
        """The capture files this run wrote (none without a capture_dir)."""
        return self.capture.paths if self.capture is not None else []

    def _stop_capture(self) -> None:
        if self._capture_poller is not None:
            self._capture_poller.stop()
        capture = self.capture
        if capture is None:
            return
        if not capture.stop():
            log.error("capture: the writer did not finish in time; the file may be cut")
        if capture.error is not None:
            log.error("capture: market data not fully written: %s", capture.error)
        log.info(
            "capture: %d FIX messages (market data, our reports), %d reference ticks in %s",
            capture.fix_written,
            capture.reference_written,
            ", ".join(str(path) for path in capture.paths),
        )

    def _recover(self, sender_comp_id: str) -> StoreStart | None:
        """Spill files in, crashed runs repaired, the carried position (see
        :mod:`truex_qf.storage.recovery`); None when the database cannot be read now (the
        position then comes from the venue's whole trade history)."""
        url = self.settings.database_url
        engine = make_engine(url)
        try:
            flush_spill(url, journal_spill_path(self.settings.spill_path))
            flush_spill(url, self.settings.spill_path)
            repaired = repair_crashed_runs(engine, url, self.settings.spill_path, sender_comp_id)
            start = carried_positions(engine, sender_comp_id)
        except Exception as exc:  # a database away now: trade from the venue's record alone
            log.error(
                "store: cannot read the account's history (%s); position from the venue",
                " ".join(str(exc).split())[:200],
            )
            return None
        finally:
            engine.dispose()
        for position in start.positions.values():
            log.info(
                "store: %s position carried over: %s",
                position.symbol,
                position.quantity_base,
            )
        return dataclasses.replace(start, repaired_runs=repaired)

    def finish(self) -> None:
        """Last snapshot, close the run row, drain every queue (bounded), stop the threads."""
        mm = self._mm
        if mm is not None and self._recorder is not None:
            self._recorder.snapshot(mm.positions, mm.fair_values(), quote_marks(mm))
            self._publish_snapshot(mm)
        if self._run_row:
            self.writer.submit(Row("runs", {**self._run_row, "ended_at": datetime.now(UTC)}))
        self._stop_capture()
        if not self.journal.stop():
            log.error("the journal writer did not drain in time; see the messages above")
        if not self.writer.stop():
            log.error("the store writer did not drain in time; rows are in the spill file")
        if self.publisher is not None:
            self.publisher.stop()
        self.alerts.stop()
        self.metrics.close()

    # ------------------------------------------------------------------ trading-loop hooks

    def on_event(self, event: object) -> None:
        """Every inbound event the loop takes off its queue."""
        self.metrics.observe(event)
        self.alerts.observe(event)

    def after_pass(self, mm: MarketMaker) -> None:
        """The end of each loop turn: latency pairing, periodic sampling and snapshots."""
        self.metrics.pass_done()
        now = time.monotonic()
        if now >= self._next_sample:
            self._next_sample = now + SAMPLE_INTERVAL_S
            self.metrics.sample(mm)
            self.alerts.sample(mm)
            self._publish_snapshot(mm)
        if now >= self._next_store_snapshot and self._recorder is not None:
            self._next_store_snapshot = now + SNAPSHOT_INTERVAL_S
            self._recorder.snapshot(mm.positions, mm.fair_values(), quote_marks(mm))
        if self._halt.is_set() and mm.halt(STORAGE_SPILL_FULL):
            log.error("trading halted: %s", self.halt_reason)

    def _publish_snapshot(self, mm: MarketMaker) -> None:
        if self.publisher is not None:
            self._snapshot = build_snapshot(mm, previous=self._snapshot)
            self.publisher.publish_snapshot(self._snapshot)

    def _on_market_maker_event(self, event: object) -> None:
        self._journal_decision(event)
        if self.publisher is None:
            return
        if isinstance(event, Fill):
            self.publisher.publish_event("fills", fill_payload(event))
        elif isinstance(event, TradingStateChanged):
            self.publisher.publish_event("state", trading_state_payload(event.state, event.reason))
        elif isinstance(event, SessionLoggedOn | SessionLoggedOut):
            up = isinstance(event, SessionLoggedOn)
            self.publisher.publish_event("state", session_payload(event.role, up))

    def _journal_decision(self, event: object) -> None:
        """Reconciliation's decisions into the journal (see storage.venue_decisions)."""
        if isinstance(event, VenueCorrection):
            self._journal(REST_SESSION, "IN", report_text(event.report, event.adopted))
        elif isinstance(event, RecoveredTrade):
            self._journal(REST_SESSION, "IN", trade_text(event.fill))
        elif isinstance(event, PositionBaseline):
            text = baseline_text(event.symbol, event.quantity_base, event.cost_basis_quote)
            self._journal(REST_SESSION, "IN", text)
        elif isinstance(event, VenueOrdersCancelled):
            for order_id in event.order_ids:
                self._journal(REST_SESSION, "OUT", cancel_text(order_id))

    def _on_spill_full(self, reason: str) -> None:
        """Writer thread: ask the trading loop to halt (it applies it on its next turn)."""
        self.halt_reason = f"{STORAGE_SPILL_FULL}: {reason}"
        self._halt.set()


def describe_venue(host: str, order_entry_port: int, market_data_port: int) -> str:
    return f"{host}:{order_entry_port}/{market_data_port}"
