"""The FIX journal's store writer, in a process of its own.

Every FIX message in and out becomes a journal row: at market-data rates that is tens of
thousands of rows a second, and building, hashing and inserting one costs the writer about
30 us of Python. In the trading process that work holds the GIL the engine's callbacks and the
trading loop need, and takes the second core from them (the bench measured 38 % of the
client's CPU with the journal on). So the journal has its own writer process:

- The engine log's tap calls :meth:`JournalProcess.submit` on the engine's threads: a deque
  append, nothing else.
- A forwarder thread sends what has accumulated every ``flush_interval_s`` over a pipe, as
  one pickled batch of plain tuples.
- The child runs an ordinary :class:`~truex_qf.storage.writer.StoreWriter` with its own spill
  file: redaction, the hash chain, batching, spilling while the database is away and the
  replay are all the writer's, unchanged. When its spill file is full the child says so and
  the trading process halts, as with the in-process writer.
- Nothing is lost to a crash of either side that the in-process writer would have kept: if
  the trading process dies, the child reads EOF, stores or spills what it has and exits; if
  the child dies, :meth:`submit` falls back to a writer thread in this process (same spill
  file, replayed by the next writer).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from truex_qf.storage.recorder import JournalMessage
from truex_qf.storage.writer import StoreStats, StoreWriter, log_only

log = logging.getLogger("truex_qf.storage")

START_TIMEOUT_S = 30.0
REPORT_INTERVAL_S = 0.1  # the child's counters reach the parent this often


class JournalProcess:
    """A :class:`StoreWriter` for journal messages, run in a child process."""

    def __init__(
        self,
        url: str,
        spill_path: Path,
        *,
        spill_max_bytes: int = 50_000_000,
        on_spill_full: Callable[[str], None] = log_only,
        flush_interval_s: float = 0.02,
    ) -> None:
        self.url = url
        self.spill_path = Path(spill_path)
        self._spill_max_bytes = spill_max_bytes
        self._on_spill_full = on_spill_full
        self._flush_interval_s = flush_interval_s
        self._pending: deque[JournalMessage] = deque()
        self._stopping = threading.Event()
        self._closed = False
        self._connection: Connection | None = None
        self._process: Any = None
        self._forwarder: threading.Thread | None = None
        self._fallback: StoreWriter | None = None  # when the child is gone
        self._child_stats: StoreStats | None = None
        self._sent = 0  # messages sent to the child
        self._child_received = 0  # of which the child has reported taking
        self._late = 0

    # ------------------------------------------------------------------ the callers' side

    def start(self) -> None:
        """Start the child (it replays its spill file first) and the forwarder thread."""
        context = multiprocessing.get_context("spawn")  # never fork a process with engine threads
        parent, child = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_child_main,
            args=(child, self.url, str(self.spill_path), self._spill_max_bytes),
            name="truex-qf-journal",
            daemon=True,
        )
        target: Callable[[], None] = self._forward
        try:
            self._process.start()
            child.close()
            self._connection = parent
            if not parent.poll(START_TIMEOUT_S):
                self._process.kill()
                raise RuntimeError(f"no answer in {START_TIMEOUT_S:g} s")
            kind, detail = parent.recv()
            if kind != "ready":
                self._process.join(5)
                raise RuntimeError(str(detail))
        except Exception as error:  # e.g. started from a daemonic process, which may not fork
            log.warning("journal: no writer process (%s); writing from this process", error)
            target = functools.partial(self._child_lost, error, announce=False)
        self._forwarder = threading.Thread(
            target=target, name="truex-qf-journal-forwarder", daemon=True
        )
        self._forwarder.start()

    def submit(self, item: JournalMessage) -> None:
        """Queue one journal message; never blocks, never raises (engine threads)."""
        if self._closed:
            self._late += 1
            if self._late == 1:
                log.error("journal: a message was submitted after stop(); not stored")
            return
        self._pending.append(item)

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Send what is pending, let the child store or spill everything, wait for it."""
        self._closed = True
        self._stopping.set()
        if self._forwarder is not None:
            self._forwarder.join(timeout_s)
        finished = self._forwarder is None or not self._forwarder.is_alive()
        if self._process is not None and self._process.pid is not None:  # it did start
            self._process.join(max(1.0, timeout_s))
            if self._process.is_alive():
                log.error("journal: the writer process did not finish in time; killing it")
                self._process.kill()
                finished = False
        if self._fallback is not None:
            finished = self._fallback.stop(timeout_s) and finished
        return finished

    @property
    def stats(self) -> StoreStats:
        """The child's last reported counters, with what this side still holds queued."""
        base = self._child_stats or StoreStats(0, 0, 0, 0, 0, 0, 0, False, False, None)
        fallback = self._fallback.stats if self._fallback is not None else None
        in_flight = self._sent - self._child_received + base.queue_depth
        depth = len(self._pending) + in_flight + (fallback.queue_depth if fallback else 0)
        return StoreStats(
            written=base.written + (fallback.written if fallback else 0),
            spilled=base.spilled + (fallback.spilled if fallback else 0),
            replayed=base.replayed + (fallback.replayed if fallback else 0),
            rejected=base.rejected + (fallback.rejected if fallback else 0),
            failures=base.failures + self._late + (fallback.failures if fallback else 0),
            queue_depth=depth,
            spill_bytes=fallback.spill_bytes if fallback else base.spill_bytes,
            spill_full=base.spill_full or bool(fallback and fallback.spill_full),
            database_up=fallback.database_up if fallback else base.database_up,
            last_error=(fallback.last_error if fallback else None) or base.last_error,
        )

    # ------------------------------------------------------------------ the forwarder

    def _forward(self) -> None:
        connection = self._connection
        assert connection is not None
        try:
            while True:
                stopping = self._stopping.wait(self._flush_interval_s)
                self._send(connection, self._drain())
                self._read_replies(connection)
                if stopping:
                    break
            connection.send(None)  # stop: store or spill everything, then report
            while True:
                if connection.poll(1.0):
                    if self._reply(connection.recv()):
                        break
                elif not self._process.is_alive():
                    break
        except (OSError, EOFError) as error:
            self._child_lost(error)
        except Exception:  # the forwarder must not die with messages pending
            log.exception("journal: forwarder failed")
            self._child_lost(RuntimeError("forwarder failed"))

    def _drain(self) -> list[tuple[Any, ...]]:
        pending = self._pending
        batch = []
        while pending:
            batch.append(tuple(pending.popleft()))
        return batch

    def _send(self, connection: Connection, batch: list[tuple[Any, ...]]) -> None:
        if not batch:
            return
        try:
            connection.send(batch)
            self._sent += len(batch)
        except (OSError, ValueError) as error:
            self._pending.extendleft(JournalMessage(*fields) for fields in reversed(batch))
            raise OSError(f"journal writer process unreachable: {error}") from error

    def _read_replies(self, connection: Connection) -> None:
        while connection.poll():
            self._reply(connection.recv())

    def _reply(self, message: tuple[str, Any]) -> bool:
        """Handle one message from the child; True on its final report."""
        kind, detail = message
        if kind == "stats":
            self._child_stats, self._child_received = detail
        elif kind == "spill_full":
            self._on_spill_full(detail)
        elif kind == "stopped":
            self._child_stats, self._child_received, finished = detail
            if not finished:
                log.error("journal: the writer process could not store or spill everything")
            return True
        return False

    def _child_lost(self, error: BaseException, announce: bool = True) -> None:
        """The child is gone (or never came): journal from this process, nothing dropped."""
        if announce:
            log.error("journal: writer process lost (%s); writing from this process", error)
        if self._fallback is None:
            self._fallback = StoreWriter(
                self.url,
                self.spill_path,
                spill_max_bytes=self._spill_max_bytes,
                on_spill_full=self._on_spill_full,
            )
            self._fallback.start()
        fallback = self._fallback
        # what the child had taken but not reported stored is unknown: it spilled or wrote
        # it if it could (see the module docstring); what is still here goes to the fallback
        self._sent = self._child_received = 0
        self._child_stats = None
        while True:
            while self._pending:
                fallback.submit(self._pending.popleft())
            if self._stopping.wait(self._flush_interval_s) and not self._pending:
                break


# ---------------------------------------------------------------------- the child


def _child_main(
    connection: Connection, url: str, spill_path: str, spill_max_bytes: int
) -> None:  # pragma: no cover - runs in the child process (tested through JournalProcess)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to act on
    # SIGTERM (multiprocessing ends daemonic children so when the parent exits without
    # stop()): store or spill what we hold, then go.
    terminated = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminated.set())
    lock = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with lock:
            connection.send(message)

    def spill_full(reason: str) -> None:
        with contextlib.suppress(OSError):
            send(("spill_full", reason))

    try:
        writer = StoreWriter(
            url, Path(spill_path), spill_max_bytes=spill_max_bytes, on_spill_full=spill_full
        )
        writer.start()
    except Exception as error:
        send(("failed", repr(error)))
        return
    send(("ready", None))
    last_report = 0.0
    received = 0
    while not terminated.is_set():
        if connection.poll(REPORT_INTERVAL_S):
            try:
                batch = connection.recv()
            except (EOFError, OSError):
                break  # the trading process is gone: store or spill what we have
            if batch is None:
                break
            for fields in batch:
                writer.submit(JournalMessage(*fields))
            received += len(batch)
        now = time.monotonic()
        if now - last_report >= REPORT_INTERVAL_S:
            last_report = now
            try:
                send(("stats", (writer.stats, received)))
            except OSError:
                break
    finished = writer.stop()
    with contextlib.suppress(OSError):
        send(("stopped", (writer.stats, received, finished)))
