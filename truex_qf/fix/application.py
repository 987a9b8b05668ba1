"""The one ``quickfix.Application`` that owns both TrueX sessions.

It signs every outgoing Logon, turns refused logons into typed events, and hands every inbound
message, read into a domain value, to a sink. Session events (logon, logout, refusals, session
rejects) go to ``sink``, which must only queue: the engine calls ``onLogon``/``onLogout`` while
holding the session's mutex, and a sink that waited on anything the trading thread holds would
deadlock against a send. Application messages go to ``app_sink`` (``sink`` unless given):
``fromApp`` runs without any engine lock held, so that sink may apply the message at once under
the trading state's own lock (:class:`truex_qf.app.runner.Runner` does; see its docstring).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import quickfix as fix

from truex_qf.config import Credentials
from truex_qf.domain.model import (
    BusinessMessageReject,
    InboundEvent,
    ListUpdateAction,
    LogonRefused,
    SecurityListUpdate,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRejected,
    SessionRole,
)
from truex_qf.fix.callbacks import FROM_ADMIN, FROM_APP, TO_APP, guarded
from truex_qf.fix.readers import READERS, MalformedMessage, msg_type
from truex_qf.fix.redaction import printable
from truex_qf.fix.signing import logon_signature

log = logging.getLogger("truex_qf.fix")

EventSink = Callable[[InboundEvent], None]

# A tuple, not ``A | B``: that builds a new union object on every call (every message).
_EXPLAINED = (BusinessMessageReject, SecurityListUpdate)

SIGNATURE_PROBLEM = "8"  # SessionRejectReason(373): TrueX's answer to a bad Logon signature


@dataclass
class SessionState:
    """What the rest of the program may ask about one session, safe to read from any thread."""

    role: SessionRole
    session_id: fix.SessionID
    name: str
    logged_on: bool = False
    refusal: LogonRefused | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)


def copy_session_id(session_id: fix.SessionID) -> fix.SessionID:
    """A SessionID we own: the one passed to callbacks is lent, and has no copy constructor."""
    return fix.SessionID(
        session_id.getBeginString().getValue(),
        session_id.getSenderCompID().getValue(),
        session_id.getTargetCompID().getValue(),
    )


class TruexApplication(fix.Application):
    """Signs logons, routes inbound messages as domain events to ``sink``."""

    def __init__(
        self,
        credentials: Credentials,
        roles: dict[str, SessionRole],
        sink: EventSink,
        app_sink: EventSink | None = None,
    ) -> None:
        super().__init__()
        self._credentials = credentials
        self._roles = roles
        self._sink = sink
        self._app_sink = app_sink or sink
        self.sessions: dict[SessionRole, SessionState] = {}

    # ------------------------------------------------------------------ session lifecycle

    @guarded()
    def onCreate(self, session_id: fix.SessionID) -> None:
        name = session_id.toString()
        role = self._roles[name]
        self.sessions[role] = SessionState(role, copy_session_id(session_id), name)

    @guarded()
    def onLogon(self, session_id: fix.SessionID) -> None:
        state = self._state(session_id)
        log.info("%s logged on (%s)", state.role.value, state.name)
        self._sink(SessionLoggedOn(state.role, state.name))  # queued before the waiter wakes
        with state.changed:
            state.logged_on = True
            state.refusal = None
            state.changed.notify_all()

    @guarded()
    def onLogout(self, session_id: fix.SessionID) -> None:
        state = self._state(session_id)
        with state.changed:
            was_logged_on = state.logged_on
            state.logged_on = False
            state.changed.notify_all()
        if was_logged_on:
            log.info("%s logged out (%s)", state.role.value, state.name)
        self._sink(SessionLoggedOut(state.role, state.name))

    # ------------------------------------------------------------------ admin messages

    @guarded()
    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        if header.getField(35) != fix.MsgType_Logon:
            return
        # With ResetOnLogon the engine has already set 34=1 and 52 and added 141=Y, so the
        # signature computed here is over exactly what goes on the wire.
        username = self._credentials.api_key
        message.setField(553, username)
        message.setField(
            554,
            logon_signature(
                self._credentials.secret_key,
                header.getField(52),
                "A",
                header.getField(34),
                header.getField(49),
                header.getField(56),
                username,
            ),
        )

    @guarded(FROM_ADMIN)
    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        msg_type = message.getHeader().getField(35)
        if msg_type not in ("3", "5"):
            return
        state = self._state(session_id)
        text = message.getField(58) if message.isSetField(58) else ""
        reason = message.getField(373) if message.isSetField(373) else None
        if not state.logged_on:
            self._refused(state, text or "logon refused", reason)
        elif msg_type == "3":
            ref = message.getField(45) if message.isSetField(45) else ""
            log.warning("%s: venue rejected our message %s: %s", state.name, ref, text)
            self._sink(
                SessionRejected(
                    state.role, state.name, int(ref) if ref.isdigit() else None, reason, text
                )
            )
        elif text:
            log.warning("%s: venue logged us out: %s", state.name, text)

    def _refused(self, state: SessionState, text: str, reason: str | None) -> None:
        if reason == SIGNATURE_PROBLEM:
            text = f"{text} (signature problem: check TRUEX_API_KEY and TRUEX_SECRET_KEY)"
        refusal = LogonRefused(state.role, state.name, text, reason)
        log.error("%s: logon refused: %s", state.name, text)
        # The event goes on the queue before the waiter wakes, so whoever catches the
        # LogonRejectedError finds the refusal already queued for the alerts and the store.
        self._sink(refusal)
        with state.changed:
            state.refusal = refusal
            state.changed.notify_all()

    # ------------------------------------------------------------------ application messages

    @guarded(TO_APP)
    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        if header.isSetField(43) and header.getField(43) == "Y":
            # A resend of an old order would trade on stale intent: gap-fill it instead.
            raise fix.DoNotSend()

    @guarded(FROM_APP)
    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        received_ns = time.perf_counter_ns()
        raw = message.toString()
        # MsgType from the text the readers parse anyway: two SWIG calls fewer per message.
        kind = msg_type(raw)
        reader = READERS.get(kind)
        if reader is None:
            log.warning("ignoring unsupported message type 35=%s: %s", kind, printable(raw))
            return
        try:
            event = reader(raw, received_ns)
        except (MalformedMessage, ValueError) as exc:
            log.error("cannot read %s: %s", exc, printable(raw))
            return
        self._app_sink(event)
        if isinstance(event, _EXPLAINED):
            explain(event, session_id.toString())

    def _state(self, session_id: fix.SessionID) -> SessionState:
        return self.sessions[self._roles[session_id.toString()]]


def explain(event: BusinessMessageReject | SecurityListUpdate, session: str) -> None:
    """Say in the log what two of TrueX's messages mean, where the raw text would not.

    The event itself has gone to the sink already; this only logs (the trading side decides).
    """
    if isinstance(event, SecurityListUpdate):
        for update in event.updates:
            log.log(
                logging.WARNING if update.action is ListUpdateAction.DELETE else logging.INFO,
                "%s: venue security list %s %s",
                session,
                update.action.name.lower(),
                update.security.symbol,
            )
    elif event.invalid_session:
        log.error(
            "%s: venue answered 'Invalid session ID' (35=j, RefSeqNum %s): a message reached a "
            "gateway that does not know this session; check TRUEX_OE_TARGET_COMP_ID, "
            "TRUEX_MD_TARGET_COMP_ID and that order entry and market data go to their own ports",
            session,
            event.ref_seq_num,
        )
