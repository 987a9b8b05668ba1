"""The FIX client as a service object: start, wait for logon, send commands, stop.

It owns the initiator, its store and log factories (which must outlive the engine) and the
:class:`TruexApplication`. Commands are routed to the session their message type belongs on:
TrueX treats an order-entry message on the market-data gateway (or the reverse) as a sequence
hole and queues everything after it (spec §1.1).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import quickfix as fix

from truex_qf.config import FixSettings
from truex_qf.domain.errors import LogonRejectedError, SessionTimeoutError, TruexError
from truex_qf.domain.model import (
    CancelOrder,
    Command,
    NewOrder,
    ReplaceOrder,
    RequestSecurityList,
    SessionRole,
    SubscribeMarketData,
)
from truex_qf.fix.application import EventSink, SessionState, TruexApplication
from truex_qf.fix.builders import MessageFactory
from truex_qf.fix.engine_log import MessageTap, RedactingLogFactory
from truex_qf.fix.settings import SESSIONS_CFG, initiator_settings

log = logging.getLogger("truex_qf.fix")

RECONNECT_QUIESCE_S = 1.5  # > the engine's 1 s connect loop, so no attempt is left in flight


class FixClient:
    """Both TrueX sessions (or a subset of roles) on one SocketInitiator: one engine thread.

    Every inbound message is applied in its callback under the trading lock, so Python work
    for the two sessions is serialized anyway (GIL and lock). With one thread per session
    (ThreadedSocketInitiator) the order-entry thread took the GIL whenever the market-data
    thread released it inside ``sendToTarget``, and the market-data thread then waited to get
    it back for ``toApp`` and the log: a hand-off, and on two cores a wake-up, per order.
    One engine thread reads both sockets in turn and never competes with itself.
    """

    def __init__(
        self,
        config: FixSettings,
        sink: EventSink,
        roles: frozenset[SessionRole] = frozenset(SessionRole),
        template: Path = SESSIONS_CFG,
        journal: MessageTap | None = None,
        app_sink: EventSink | None = None,
    ) -> None:
        self.config = config
        settings, all_roles = initiator_settings(config, template)
        self._settings = _only_roles(settings, all_roles, roles)
        self.roles = {name: role for name, role in all_roles.items() if role in roles}
        self.application = TruexApplication(config.credentials, self.roles, sink, app_sink)
        self._store_factory = fix.FileStoreFactory(self._settings)
        self._log_factory = RedactingLogFactory(journal)
        self._messages = MessageFactory()
        self._initiator: fix.SocketInitiator | None = None

    def start(self) -> None:
        """Connect and log on in the background; returns at once."""
        try:
            self._initiator = fix.SocketInitiator(
                self.application, self._store_factory, self._settings, self._log_factory
            )
            self._initiator.start()
        except (fix.ConfigError, fix.RuntimeError) as exc:
            raise TruexError(f"cannot start the FIX engine: {exc}") from None

    def stop(self, force: bool = False) -> None:
        """Log out and stop. ``force`` skips waiting for the venue's Logout answer.

        A session that is down may have a connect attempt in flight; QuickFIX 1.16 can crash
        stopping then (its connect threads are keyed by socket number, which a quick failing
        reconnect reuses, so one thread can escape the join and outlive the initiator). So
        reconnecting stops first, and an attempt in progress gets time to end.
        """
        if self._initiator is None:
            return
        down = [role for role, state in self.application.sessions.items() if not state.logged_on]
        if down:
            for role in down:
                self.set_enabled(role, False, "stopping")
            time.sleep(RECONNECT_QUIESCE_S)
        self._initiator.stop(force)
        self._initiator = None

    def session(self, role: SessionRole) -> SessionState:
        try:
            return self.application.sessions[role]
        except KeyError:
            raise TruexError(f"no {role.value} session configured") from None

    def wait_logged_on(self, role: SessionRole, timeout_s: float) -> None:
        """Block until ``role`` is logged on; a refusal or a timeout raises a typed error."""
        state = self.session(role)
        deadline = time.monotonic() + timeout_s
        with state.changed:
            while not state.logged_on:
                if state.refusal is not None:
                    raise LogonRejectedError(f"{role.value} logon refused: {state.refusal.text}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SessionTimeoutError(
                        f"{role.value} session to {self.config.host}:"
                        f"{_port(self.config, role)} not logged on after {timeout_s:g} s"
                    )
                state.changed.wait(remaining)

    def set_enabled(self, role: SessionRole, enabled: bool, reason: str = "") -> None:
        """Let the engine (re)connect this session, or hold it off (backoff, circuit breaker).

        ``Session.logon`` / ``Session.logout`` only flip the session's enabled flag (and log a
        connected session out); the engine's own connect loop does the rest.
        """
        session = fix.Session.lookupSession(self.session(role).session_id)
        if session is None:
            return
        if enabled:
            session.logon()
        else:
            session.logout(reason or "reconnect backoff")

    def is_logged_on(self, role: SessionRole) -> bool:
        state = self.application.sessions.get(role)
        return state is not None and state.logged_on

    def send(self, command: Command) -> bool:
        """Send on the session the command belongs to; False when the engine refused it."""
        client_id = self.config.client_id
        if isinstance(command, NewOrder):
            role, message = (
                SessionRole.ORDER_ENTRY,
                self._messages.new_order_single(command, client_id),
            )
        elif isinstance(command, CancelOrder):
            role, message = (
                SessionRole.ORDER_ENTRY,
                self._messages.order_cancel_request(command, client_id),
            )
        elif isinstance(command, ReplaceOrder):
            role, message = (
                SessionRole.ORDER_ENTRY,
                self._messages.order_cancel_replace_request(command, client_id),
            )
        elif isinstance(command, SubscribeMarketData):
            role, message = SessionRole.MARKET_DATA, self._messages.market_data_request(command)
        elif isinstance(command, RequestSecurityList):
            role, message = SessionRole.MARKET_DATA, self._messages.security_list_request(command)
        else:
            raise TypeError(f"not a FIX command: {command!r}")
        return bool(fix.Session.sendToTarget(message, self.session(role).session_id))


def _port(config: FixSettings, role: SessionRole) -> int:
    return config.order_entry_port if role is SessionRole.ORDER_ENTRY else config.market_data_port


def _only_roles(
    settings: fix.SessionSettings, roles: dict[str, SessionRole], wanted: frozenset[SessionRole]
) -> fix.SessionSettings:
    """A copy of ``settings`` holding only the sessions whose role is wanted."""
    if set(roles.values()) <= wanted:
        return settings
    chosen = fix.SessionSettings()
    chosen.set(settings.get())
    for session_id in settings.getSessions():
        if roles[session_id.toString()] in wanted:
            chosen.set(session_id, settings.get(session_id))
    return chosen
