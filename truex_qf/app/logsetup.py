"""Logging for the whole program: human lines on stderr and in a rotating file, FIX messages in
their own file.

- The console: every line through one :class:`rich.console.Console` on stderr
  (:func:`log_console`). The live view draws its footer on that same console, and rich prints
  each log line above the footer, so a line is never overwritten (see
  :mod:`truex_qf.app.live_view`). Not on a terminal, the lines are written as they are.
- ``<state>/log/truex-qf.log`` (10 MB x 5, rotating): every line the console gets, and the
  engine's session events, so WARNING and ERROR lines are on disk whatever the terminal did.
- ``<state>/log/fix-messages.log`` (50 MB x 5): the FIX message log, opt-in with ``-v``.

Handlers sit behind a :class:`~logging.handlers.QueueHandler`, so a log call on an engine
thread costs an enqueue; one listener thread does the formatting and the I/O. Every line that
can hold FIX text has passed through :func:`truex_qf.fix.redaction.redact` already.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import threading
from pathlib import Path

from rich.console import Console
from rich.text import Text

from truex_qf.domain.errors import ConfigError

LOG_FILE = "truex-qf.log"
LOG_FILE_MAX_BYTES = 10_000_000
LOG_FILE_BACKUPS = 5
MESSAGES_FILE = "fix-messages.log"
LINE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
MESSAGES_LOGGER = "truex_qf.fix.messages"

_listener: logging.handlers.QueueListener | None = None
_queue_handler: logging.Handler | None = None
_records: queue.SimpleQueue[logging.LogRecord] | None = None
_console: Console | None = None


def log_console() -> Console:
    """The console every log line is printed through (stderr), made once per process."""
    global _console
    if _console is None:
        _console = Console(stderr=True)
    return _console


class ConsoleHandler(logging.Handler):
    """Prints each record on a rich console: above its live footer when one is drawn.

    Lines are printed as they are: no markup, no highlighting, no wrapping by rich (the
    terminal wraps a long line; the footer's height does not depend on it).
    """

    def __init__(self, console: Console, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            self.console.print(Text(line), soft_wrap=True, highlight=False, markup=False)
        except Exception:
            self.handleError(record)


class _FlushMark(logging.Handler):
    """The listener's last handler: sets the event a :func:`flush_logging` mark carries. The
    listener handles records in order, so by then every line before the mark is out."""

    def emit(self, record: logging.LogRecord) -> None:
        flushed = getattr(record, "flushed", None)
        if isinstance(flushed, threading.Event):
            flushed.set()


def _not_a_mark(record: logging.LogRecord) -> bool:
    return not hasattr(record, "flushed")


def flush_logging(timeout_s: float = 2.0) -> None:
    """Wait (at most ``timeout_s``) until every line logged so far is printed and written: the
    live view calls it before it stops, so no line of the run lands below its last footer."""
    records = _records
    if records is None or _listener is None:
        return
    flushed = threading.Event()
    mark = {"name": __name__, "levelno": logging.CRITICAL, "flushed": flushed}
    records.put(logging.makeLogRecord(mark))
    flushed.wait(timeout_s)


def configure_logging(
    state_dir: Path | None, verbose: bool = False, console: Console | None = None
) -> None:
    """Install the handlers once; ``state_dir`` None keeps the log files off disk; ``console``
    replaces :func:`log_console` (tests)."""
    global _listener, _queue_handler, _records, _console
    if _listener is not None:
        return
    if console is not None:
        _console = console
    line_format = logging.Formatter(LINE_FORMAT)
    shown = ConsoleHandler(log_console(), logging.DEBUG if verbose else logging.INFO)
    shown.setFormatter(line_format)
    # The engine's message and session-event lines go to the files; on the console only with -v.
    shown.addFilter(lambda record: verbose or not record.name.startswith("truex_qf.fix."))
    handlers: list[logging.Handler] = [shown]
    if state_dir is not None:
        log_dir = state_dir / "log"
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            lines = logging.handlers.RotatingFileHandler(
                log_dir / LOG_FILE,
                maxBytes=LOG_FILE_MAX_BYTES,
                backupCount=LOG_FILE_BACKUPS,
                encoding="utf-8",
            )
            messages = logging.handlers.RotatingFileHandler(
                log_dir / MESSAGES_FILE, maxBytes=50_000_000, backupCount=5, encoding="utf-8"
            )
        except OSError as exc:  # a user's folder, not a bug: one line (the CLI's ConfigError)
            problem = exc.strerror or type(exc).__name__
            message = f"cannot write the log in {log_dir} ({problem})"
            raise ConfigError("TRUEX_STATE_DIR", message) from None
        lines.setLevel(logging.DEBUG if verbose else logging.INFO)
        lines.setFormatter(line_format)
        # every line but the FIX messages themselves (their own file, and the audit journal)
        lines.addFilter(lambda record: record.name != MESSAGES_LOGGER)
        messages.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        messages.addFilter(lambda record: record.name.startswith("truex_qf.fix"))
        handlers += [lines, messages]
    for handler in handlers:
        handler.filters.insert(0, _not_a_mark)  # before the filters that read the record
    handlers.append(_FlushMark())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _records = records
    root = logging.getLogger("truex_qf")
    root.setLevel(logging.DEBUG)
    # Every FIX message is already in the audit journal; formatting each one again for the
    # message log costs the engine's threads on every message, so that log is opt-in (-v).
    logging.getLogger(MESSAGES_LOGGER).setLevel(logging.DEBUG if verbose else logging.INFO)
    _queue_handler = logging.handlers.QueueHandler(records)
    root.addHandler(_queue_handler)
    root.propagate = False
    _listener = logging.handlers.QueueListener(records, *handlers, respect_handler_level=True)
    _listener.start()
    atexit.register(stop_logging)


def stop_logging() -> None:
    """Flush what is queued and close the files; called at exit. Safe twice; after it,
    :func:`configure_logging` installs afresh."""
    global _listener, _queue_handler, _records
    _records = None
    if _queue_handler is not None:
        package = logging.getLogger("truex_qf")
        package.removeHandler(_queue_handler)
        package.propagate = True  # as before configure_logging: records reach the root again
        _queue_handler = None
    if _listener is not None:
        listener, _listener = _listener, None
        listener.stop()
        for handler in listener.handlers:
            handler.close()
