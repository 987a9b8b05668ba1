"""Logging for the whole program: human lines on stderr, the FIX message log in a file.

Handlers sit behind a :class:`~logging.handlers.QueueHandler`, so a log call on an engine
thread costs an enqueue; one listener thread does the formatting and the I/O. Every line that
can hold FIX text has passed through :func:`truex_qf.fix.redaction.redact` already.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
from pathlib import Path

from truex_qf.domain.errors import ConfigError

_listener: logging.handlers.QueueListener | None = None


def configure_logging(state_dir: Path | None, verbose: bool = False) -> None:
    """Install the handlers once; ``state_dir`` None keeps the message log off disk."""
    global _listener
    if _listener is not None:
        return
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.INFO)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    # The engine's message and session-event lines go to the file; on the console only with -v.
    console.addFilter(lambda record: verbose or not record.name.startswith("truex_qf.fix."))
    handlers: list[logging.Handler] = [console]
    if state_dir is not None:
        log_dir = state_dir / "log"
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            messages = logging.handlers.RotatingFileHandler(
                log_dir / "fix-messages.log", maxBytes=50_000_000, backupCount=5, encoding="utf-8"
            )
        except OSError as exc:  # a user's folder, not a bug: one line (the CLI's ConfigError)
            problem = exc.strerror or type(exc).__name__
            message = f"cannot write the log in {log_dir} ({problem})"
            raise ConfigError("TRUEX_STATE_DIR", message) from None
        messages.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        messages.addFilter(lambda record: record.name.startswith("truex_qf.fix"))
        handlers.append(messages)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger("truex_qf")
    root.setLevel(logging.DEBUG)
    # Every FIX message is already in the audit journal; formatting each one again for the
    # message log costs the engine's threads on every message, so that log is opt-in (-v).
    logging.getLogger("truex_qf.fix.messages").setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(logging.handlers.QueueHandler(records))
    root.propagate = False
    _listener = logging.handlers.QueueListener(records, *handlers, respect_handler_level=True)
    _listener.start()
    atexit.register(stop_logging)


def stop_logging() -> None:
    """Flush what is queued; called at exit."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
