"""QuickFIX's message and event log, redacted and bridged into Python ``logging``.

The engine's own FileLog would write the signed Logon (554) to disk in clear, and its
ScreenLog bypasses Python entirely; this factory gives each session a :class:`RedactingLog`
that masks credentials and hands lines to the ``truex_qf.fix.messages`` and
``truex_qf.fix.events`` loggers. Handlers on those loggers decide where lines go; they should
be non-blocking (see :func:`truex_qf.app.logsetup.configure_logging`), since these methods run on
the engine's threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import quickfix as fix

from truex_qf.fix.callbacks import guarded
from truex_qf.fix.redaction import printable

messages_log = logging.getLogger("truex_qf.fix.messages")
events_log = logging.getLogger("truex_qf.fix.events")

# (session, "IN" | "OUT", raw text): the audit journal's feed. It sees every message the engine
# sends or receives, admin and application alike, exactly as on the wire.
MessageTap = Callable[[str, str, str], None]


class RedactingLog(fix.Log):
    """One session's engine log: inbound, outbound and session events, secrets masked."""

    def __init__(self, session: str, tap: MessageTap | None = None) -> None:
        super().__init__()
        self.session = session
        self.tap = tap

    @guarded()
    def onIncoming(self, text: str) -> None:
        if self.tap is not None:
            self.tap(self.session, "IN", text)
        if messages_log.isEnabledFor(logging.DEBUG):
            messages_log.debug("%s IN  %s", self.session, printable(text))

    @guarded()
    def onOutgoing(self, text: str) -> None:
        if self.tap is not None:
            self.tap(self.session, "OUT", text)
        if messages_log.isEnabledFor(logging.DEBUG):
            messages_log.debug("%s OUT %s", self.session, printable(text))

    @guarded()
    def onEvent(self, text: str) -> None:
        events_log.info("%s %s", self.session, printable(text))

    def clear(self) -> None:
        """Nothing to clear: lines are not kept here."""

    def backup(self) -> None:
        """Nothing to back up: rotation belongs to the logging handlers."""


class RedactingLogFactory(fix.LogFactory):
    """Creates a :class:`RedactingLog` per session; keeps them alive as long as the engine."""

    def __init__(self, tap: MessageTap | None = None) -> None:
        super().__init__()
        self._tap = tap
        self._logs: list[RedactingLog] = []

    @guarded()
    def create(self, session_id: fix.SessionID | None = None) -> RedactingLog:
        name = session_id.toString() if session_id is not None else "engine"
        log = RedactingLog(name, self._tap if session_id is not None else None)
        # Hand the C++ object to the engine. Left owned by Python, SWIG frees it at garbage
        # collection and the engine's teardown frees it again: "double free", abort at exit.
        log.__disown__()
        self._logs.append(log)
        return log

    @guarded()
    def destroy(self, log: RedactingLog) -> None:
        """Logs live until the factory goes, which outlives the engine."""
