"""TrueX's side of both gateways, for the simulated exchange: a QuickFIX acceptor application.

It follows TrueX's spec rather than our client's habits, so that any correct TrueX client can
trade against it and what TrueX refuses is refused the same way:

- Logon: the HMAC signature in 554 must match the configured credentials. 141=Y is optional,
  as at TrueX (spec §4.1, §15 #12): with it both sides start again at 1; without it the
  session continues its sequence numbers from the last connection (the acceptor's store lives
  as long as the venue), a Logon above the expected number draws a ResendRequest and one below
  it a Logout, as QuickFIX does. A bad signature is answered as TrueX does, with a session Reject
  ``35=3 | 373=8 | 58=Authentication failed`` and no Logon; the engine then disconnects.
  (QuickFIX answers ``RejectLogon`` with a Logout; ``toAdmin`` rewrites that Logout into the
  Reject. The engine decided to send it before ``toAdmin`` ran, so it still goes out.)
- A second Logon on a logged-on connection is answered ``35=3 | 45=<its MsgSeqNum> | 372=A |
  58=Already authenticated cannot logon again`` and the session carries on (spec §1.5). The
  engine alone would drop the connection before any callback ran, so the gate in front of it
  (:mod:`truex_qf.sim.gate`) hands it that Logon as a marked Heartbeat; ``fromAdmin``
  answers the mark.
- The Logon reply carries 108 and 1137 only (no 98, no 141 echoed), as TrueX's does (§12).
- Unknown CompIDs are refused by the engine itself: only the configured sessions exist.
- Header/body order, unknown tags and bad enum values are refused by the engine's dictionary
  validation (35=3, with ``58=Invalid tag (N)`` in TrueX's words wherever 371 names the tag);
  the acceptor loads the simulator's copy of the TrueX dictionaries
  (:mod:`truex_qf.sim.dictionaries`), which also lets 1137 ride on admin messages as TrueX does.
- A resent application message carrying OrigSendingTime (122) is refused ``35=3 |
  58=Invalid tag (122)`` and not acted on, as TrueX did (§1.6). A stale SendingTime is accepted
  (§14.21 unknown: the lenient side).
- Orders without Parties, or with another client ID, are rejected ``Invalid client``;
  order-entry messages on the market-data gateway and the reverse get
  ``35=j | 380=0 | 58=Invalid session ID``; an application message no gateway takes from a
  client (e.g. 35=8) gets ``35=j | 380=3``. A reject from the client (35=3 or 35=j) is logged
  and never answered.
- SecurityList entries carry TrueX's InstrumentExtension (870: 871=40 daily notional, 871=41
  daily number of trades); a SecurityListRequest with 263=1 subscribes to 35=BK reports, sent
  by :meth:`VenueApplication.list_symbol` and :meth:`VenueApplication.delist_symbol`.

All matching happens in :class:`~truex_qf.sim.matching.MatchingEngine` under one lock;
replies are sent while that lock is held so each client sees events in the order they
happened. Lock order is therefore venue lock, then the engine's session mutex (inside
``sendToTarget``). Callbacks the engine runs while holding a session mutex (``onLogon``,
``onLogout``, ``toAdmin``, ``toApp``) must never take the venue lock; ``fromApp`` and
``fromAdmin`` run without the mutex and may.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

import quickfix as fix

from truex_qf.config import Credentials
from truex_qf.domain.model import (
    CancelOrder,
    ExecutionReport,
    MDEntryType,
    MDUpdateAction,
    NewOrder,
    OrdType,
    ReplaceOrder,
    SelfMatchPrevention,
    SessionRole,
    Side,
    TimeInForce,
)
from truex_qf.fix.application import copy_session_id
from truex_qf.fix.callbacks import FROM_ADMIN, FROM_APP, TO_APP, guarded
from truex_qf.fix.readers import split_fields
from truex_qf.fix.redaction import printable
from truex_qf.fix.signing import logon_signature, signature_matches
from truex_qf.sim import messages as venue_messages
from truex_qf.sim.gate import SECOND_LOGON_MARKER
from truex_qf.sim.matching import LevelChanged, MatchingEngine, ToClient, TradePrinted

log = logging.getLogger("truex_qf.sim")

SIMULATED_OWNER_PREFIX = "SIM-"  # the simulator's own traders; every other owner is the client
ORDER_ENTRY_TYPES = frozenset({"D", "F", "G"})
MARKET_DATA_TYPES = frozenset({"V", "x"})
ALREADY_AUTHENTICATED = "Already authenticated cannot logon again"  # TrueX's text, spec §1.6


@dataclass(frozen=True)
class VenueAccount:
    """The one client this simulated venue knows: its CompID, client ID and API credentials."""

    sender_comp_id: str
    client_id: str
    credentials: Credentials


@dataclass
class Subscription:
    """One client's MarketDataRequest, by MDReqID."""

    md_req_id: str
    symbols: frozenset[str]
    session_id: fix.SessionID


@dataclass
class VenueJournal:
    """What the venue saw, for tests and operators: admin message types in and out per role."""

    admin_in: list[tuple[SessionRole, str]] = field(default_factory=list)
    admin_in_text: list[tuple[SessionRole, str]] = field(default_factory=list)  # redacted
    admin_out: list[tuple[SessionRole, str]] = field(default_factory=list)
    rejected_logons: list[tuple[SessionRole, str]] = field(default_factory=list)
    logon_attempts: list[tuple[SessionRole, float]] = field(default_factory=list)  # monotonic


class VenueApplication(fix.Application):
    """The acceptor side of TrueX's order-entry and market-data gateways."""

    def __init__(
        self,
        account: VenueAccount,
        engine: MatchingEngine,
        roles: dict[str, SessionRole],
        symbols: dict[str, str],
    ) -> None:
        super().__init__()
        self.account = account
        self.engine = engine
        self.symbols = dict(symbols)  # what the security list shows; list_symbol changes it
        self.journal = VenueJournal()
        self.lock = threading.RLock()
        self.closed = False
        # fault drills: the venue misbehaving on purpose, as TrueX UAT sometimes does
        self.withhold_acks = False  # accept orders into a black hole: no report at all
        self.refuse_logons = 0  # refuse this many logons ("Logons not allowed now")
        self._roles = roles
        self._sessions: dict[SessionRole, fix.SessionID] = {}
        self._logged_on: set[SessionRole] = set()
        self._auth_failed: dict[str, str] = {}  # session -> logon MsgSeqNum awaiting the Reject
        self._subscriptions: dict[str, Subscription] = {}
        # SecurityListRequests with 263=1, by SecurityReqID: the one symbol asked for, or None
        self._security_subscriptions: dict[str, str | None] = {}
        self._live_levels: set[tuple[str, Side, Decimal]] = set()
        self._exec_ids = itertools.count(1)
        self._handlers: dict[str, Callable[[dict[int, str], list[tuple[int, str]], str], None]] = {
            "D": self._on_new_order,
            "F": self._on_cancel,
            "G": self._on_replace,
            "V": self._on_market_data_request,
            "x": self._on_security_list_request,
        }

    # ------------------------------------------------------------------ sessions

    @guarded()
    def onCreate(self, session_id: fix.SessionID) -> None:
        self._sessions[self._roles[session_id.toString()]] = copy_session_id(session_id)

    @guarded()
    def onLogon(self, session_id: fix.SessionID) -> None:
        self._logged_on.add(self._roles[session_id.toString()])
        log.info("client logged on: %s", session_id.toString())

    @guarded()
    def onLogout(self, session_id: fix.SessionID) -> None:
        # The engine calls this holding the session's mutex: taking self.lock here would
        # deadlock against a publisher that holds self.lock inside sendToTarget. Subscriptions
        # of a logged-out session are dropped by the next publish instead.
        self._logged_on.discard(self._roles[session_id.toString()])

    def is_logged_on(self, role: SessionRole) -> bool:
        return role in self._logged_on

    def session_id(self, role: SessionRole) -> fix.SessionID:
        return self._sessions[role]

    # ------------------------------------------------------------------ admin

    @guarded()
    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        msg_type = header.getField(35)
        role = self._roles[session_id.toString()]
        logon_seq = self._auth_failed.pop(session_id.toString(), None)
        if msg_type == "5" and logon_seq is not None:
            # The Logout QuickFIX generated for RejectLogon becomes TrueX's Reject.
            message.removeField(58)
            header.setField(35, "3")
            message.setField(45, logon_seq)
            message.setField(372, "A")
            message.setField(373, "8")
            message.setField(58, "Authentication failed")
            msg_type = "3"
        elif msg_type == fix.MsgType_Logon:
            # TrueX's Logon reply is 108 and 1137 only (spec §12): no 98, no 141 echoed.
            message.removeField(98)
            message.removeField(141)
        elif msg_type == fix.MsgType_Reject and message.isSetField(371):
            # A tag-level reject in TrueX's words (spec §4.5): "Invalid tag (N)".
            message.setField(58, f"Invalid tag ({message.getField(371)})")
        self.journal.admin_out.append((role, msg_type))

    @guarded(FROM_ADMIN)
    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        msg_type = header.getField(35)
        role = self._roles[session_id.toString()]
        if msg_type == fix.MsgType_Heartbeat and _marks_second_logon(message):
            self._refuse_second_logon(role, header.getField(34), session_id)
            return
        self.journal.admin_in.append((role, msg_type))
        self.journal.admin_in_text.append((role, printable(message.toString())))
        if msg_type == fix.MsgType_Reject:
            # Logged, never answered: a reject of a reject would loop.
            log.warning(
                "client rejected a message (%s): %s", role.value, printable(message.toString())
            )
        elif msg_type == fix.MsgType_Logon:
            self._check_logon(message, session_id, role)

    def _check_logon(
        self, message: fix.Message, session_id: fix.SessionID, role: SessionRole
    ) -> None:
        header = message.getHeader()
        self.journal.logon_attempts.append((role, time.monotonic()))
        if self.refuse_logons > 0:
            self.refuse_logons -= 1
            self._refuse(role, "Logons not allowed now")
        username = message.getField(553) if message.isSetField(553) else ""
        password = message.getField(554) if message.isSetField(554) else ""
        credentials = self.account.credentials
        expected = logon_signature(
            credentials.secret_key,
            header.getField(52),
            "A",
            header.getField(34),
            header.getField(49),
            header.getField(56),
            username,
        )
        if username != credentials.api_key or not signature_matches(expected, password):
            self._auth_failed[session_id.toString()] = header.getField(34)
            self._refuse(role, "Authentication failed")

    def _refuse_second_logon(
        self, role: SessionRole, logon_seq: str, session_id: fix.SessionID
    ) -> None:
        """TrueX's answer to a Logon on a connection that is logged on; the session carries on.

        The gate (:mod:`truex_qf.sim.gate`) hands the engine that Logon as a marked
        Heartbeat with its header, so the engine has counted its MsgSeqNum already.
        """
        self.journal.admin_in.append((role, fix.MsgType_Logon))
        self.journal.rejected_logons.append((role, ALREADY_AUTHENTICATED))
        log.warning("refusing a second %s logon on a live connection", role.value)
        reject = fix.Message()
        reject.getHeader().setField(35, fix.MsgType_Reject)
        reject.setField(45, logon_seq)
        reject.setField(372, fix.MsgType_Logon)
        reject.setField(58, ALREADY_AUTHENTICATED)
        fix.Session.sendToTarget(reject, session_id)

    def _refuse(self, role: SessionRole, text: str) -> None:
        self.journal.rejected_logons.append((role, text))
        log.warning("refusing %s logon: %s", role.value, text)
        raise fix.RejectLogon(text)

    # ------------------------------------------------------------------ application

    @guarded(TO_APP)
    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        """Nothing to add: replies are complete when built."""

    @guarded(FROM_APP)
    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        if message.getHeader().isSetField(122):
            # TrueX refused a resent order carrying OrigSendingTime: "Invalid tag (122)" (spec
            # §1.6). The engine rejects it (373=5, 371=122); toAdmin words the text.
            raise fix.IncorrectTagValue(122)
        # One call into the engine for the text; the header's fields are read from it too.
        text = message.toString()
        pairs = split_fields(text)
        fields: dict[int, str] = {}
        for tag, value in pairs:
            fields.setdefault(tag, value)
        msg_type = fields.get(35, "")
        session = session_id.toString()
        role = self._roles[session]
        if msg_type == "j":
            # A reject is never answered with a reject: the client refused something we sent.
            log.warning("client rejected a message (%s): %s", role.value, printable(text))
            return
        allowed = ORDER_ENTRY_TYPES if role is SessionRole.ORDER_ENTRY else MARKET_DATA_TYPES
        if msg_type not in allowed:
            fix.Session.sendToTarget(_refusal(fields.get(34, ""), msg_type), session_id)
            return
        with self.lock:
            if not self.closed:
                self._handlers[msg_type](fields, pairs, session)

    # ------------------------------------------------------------------ order entry

    def _client_of(self, pairs: list[tuple[int, str]]) -> str | None:
        """The client ID in Parties, if it is the authorised one with role 3."""
        party, role = None, None
        for tag, value in pairs:
            if tag == 448:
                party = value
            elif tag == 452:
                role = value
        if party == self.account.client_id and role == "3":
            return party
        return None

    def _on_new_order(self, fields: dict[int, str], pairs: list[tuple[int, str]], _: str) -> None:
        # An empty owner makes the engine answer "Invalid client", after its ClOrdID check:
        # TrueX checks the ClOrdID first (spec §12).
        if self.withhold_acks:
            return  # drill: the order vanishes without an answer
        owner = self._client_of(pairs) or ""
        self._publish(self.engine.submit(owner, _read_new_order(fields), self._publish))

    def _on_cancel(self, fields: dict[int, str], pairs: list[tuple[int, str]], _: str) -> None:
        request = CancelOrder(cl_ord_id=fields.get(11, ""), orig_cl_ord_id=fields.get(41, ""))
        client = self._client_of(pairs) or f"unauthorised:{fields.get(448, '')}"
        self._publish(self.engine.cancel(client, request))

    def _on_replace(self, fields: dict[int, str], pairs: list[tuple[int, str]], _: str) -> None:
        client = self._client_of(pairs) or f"unauthorised:{fields.get(448, '')}"
        try:
            request = ReplaceOrder(
                cl_ord_id=fields.get(11, ""),
                orig_cl_ord_id=fields.get(41, ""),
                quantity=Decimal(fields[38]),
                price=Decimal(fields[44]),
                ord_type=OrdType(fields.get(40, "2")),
            )
        except (KeyError, ValueError, InvalidOperation):
            request = ReplaceOrder(fields.get(11, ""), fields.get(41, ""), Decimal(0), Decimal(0))
        self._publish(self.engine.replace(client, request))

    # ------------------------------------------------------------------ market data

    def _on_market_data_request(
        self, fields: dict[int, str], pairs: list[tuple[int, str]], session: str
    ) -> None:
        md_req_id = fields.get(262, "")
        session_id = self._sessions[SessionRole.MARKET_DATA]
        subscription_type = fields.get(263, "0")
        if subscription_type == "2":
            self._subscriptions.pop(md_req_id, None)
            return
        symbols = [value for tag, value in pairs if tag == 55]
        unknown = [symbol for symbol in symbols if symbol not in self.symbols]
        if not symbols or unknown:
            text = f"Unknown symbol {unknown[0]}" if unknown else "No symbol requested"
            fix.Session.sendToTarget(venue_messages.md_reject(md_req_id, text), session_id)
            return
        depth = int(fields.get(264, "1") or "1")
        levels = 20 if depth == 0 else depth  # TrueX: full depth starts with 20 levels a side
        for symbol in symbols:
            book = self.engine.depth(symbol, levels)
            fix.Session.sendToTarget(
                venue_messages.snapshot(
                    md_req_id,
                    symbol,
                    [(level.price, level.size) for level in book.bids],
                    [(level.price, level.size) for level in book.offers],
                ),
                session_id,
            )
        if subscription_type == "1":
            self._subscriptions[md_req_id] = Subscription(md_req_id, frozenset(symbols), session_id)

    def _on_security_list_request(
        self, fields: dict[int, str], pairs: list[tuple[int, str]], session: str
    ) -> None:
        request_id = fields.get(320, "")
        one_symbol = fields.get(55, "") if fields.get(559) == "0" else None
        subscription = fields.get(263, "0")
        if subscription == "2":
            self._security_subscriptions.pop(request_id, None)
            return  # TrueX's answer to an unsubscribe is unknown: none
        wanted = [s for s in self.symbols if one_symbol is None or s == one_symbol]
        fix.Session.sendToTarget(
            venue_messages.security_list(request_id, [self._listed(s) for s in wanted]),
            self._sessions[SessionRole.MARKET_DATA],
        )
        if subscription == "1":  # snapshot and updates: 35=BK follows each change
            self._security_subscriptions[request_id] = one_symbol

    def _listed(self, symbol: str) -> venue_messages.ListedSymbol:
        """A SecurityList entry whose "average daily" figures (871=40 notional, 41 number of
        trades) are the simulator's own trades in ``symbol`` since it started: a simulator
        rarely runs for a day, so that is its one day. Call with the venue lock held."""
        notional, count = Decimal(0), 0
        for trade in self.engine.trades():
            if trade.symbol == symbol:
                notional += trade.price * trade.quantity
                count += 1
        return venue_messages.ListedSymbol(symbol, self.symbols[symbol], notional, count)

    def list_symbol(self, symbol: str, currency: str) -> int:
        """Start trading ``symbol`` (or refresh its entry): every SecurityList subscriber gets
        a 35=BK with ListUpdateAction A (or M if it was listed). Returns how many were sent."""
        with self.lock:
            action = "M" if symbol in self.symbols else "A"
            self.symbols[symbol] = currency
            self.engine.add_symbol(symbol)
            return self._send_list_update(action, self._listed(symbol))

    def delist_symbol(self, symbol: str) -> int:
        """Stop listing ``symbol`` (its book stays): subscribers get a 35=BK with action D."""
        with self.lock:
            if symbol not in self.symbols:
                return 0
            entry = self._listed(symbol)
            del self.symbols[symbol]
            return self._send_list_update("D", entry)

    def _send_list_update(self, action: str, entry: venue_messages.ListedSymbol) -> int:
        if self.closed or SessionRole.MARKET_DATA not in self._logged_on:
            self._security_subscriptions.clear()  # a new logon subscribes again
            return 0
        sent = 0
        for request_id, one_symbol in self._security_subscriptions.items():
            if one_symbol is None or one_symbol == entry.symbol:
                fix.Session.sendToTarget(
                    venue_messages.security_list_update(request_id, [(action, entry)]),
                    self._sessions[SessionRole.MARKET_DATA],
                )
                sent += 1
        return sent

    # ------------------------------------------------------------------ publishing

    def publish(self, events: Iterable[object]) -> None:
        """Send what the matching engine produced; callable from any thread (e.g. sim flow).

        After :meth:`close` it does nothing: the engine's sessions are gone, and sending to
        them would touch freed memory.
        """
        with self.lock:
            if not self.closed:
                self._publish(events)

    def close(self) -> None:
        """Stop sending, once any publish in progress has finished; before the engine stops."""
        with self.lock:
            self.closed = True

    def _publish(self, events: Iterable[object]) -> None:
        changes: list[venue_messages.MDChange] = []
        for event in events:
            if isinstance(event, ToClient):
                self._to_client(event)
            elif isinstance(event, LevelChanged):
                changes.append(self._level_change(event))
            elif isinstance(event, TradePrinted):
                changes.append(
                    (
                        MDUpdateAction.NEW,
                        MDEntryType.TRADE,
                        event.symbol,
                        event.price,
                        event.quantity,
                        event.aggressor_side.value,
                    )
                )
        if changes and self._subscriptions:
            self._send_increments(changes)

    def _to_client(self, event: ToClient) -> None:
        simulated = event.owner.startswith(SIMULATED_OWNER_PREFIX)
        if simulated or SessionRole.ORDER_ENTRY not in self._logged_on:
            return  # simulated traders and disconnected clients get no FIX reports
        message = event.message
        if isinstance(message, ExecutionReport):
            echoed = event.owner if event.owner == self.account.client_id else ""
            out = venue_messages.execution_report(message, echoed)
        else:
            out = venue_messages.cancel_reject(message)
        fix.Session.sendToTarget(out, self._sessions[SessionRole.ORDER_ENTRY])

    def _level_change(self, event: LevelChanged) -> venue_messages.MDChange:
        key = (event.symbol, event.side, event.price)
        if event.size == 0:
            self._live_levels.discard(key)
            action = MDUpdateAction.DELETE
        elif key in self._live_levels:
            action = MDUpdateAction.CHANGE
        else:
            self._live_levels.add(key)
            action = MDUpdateAction.NEW
        entry_type = MDEntryType.BID if event.side is Side.BUY else MDEntryType.OFFER
        return (action, entry_type, event.symbol, event.price, event.size, None)

    def _send_increments(self, changes: list[venue_messages.MDChange]) -> None:
        if SessionRole.MARKET_DATA not in self._logged_on:
            self._subscriptions.clear()  # the subscriber logged out; a new logon resubscribes
            return
        for subscription in self._subscriptions.values():
            mine = [change for change in changes if change[2] in subscription.symbols]
            if mine:
                fix.Session.sendToTarget(
                    venue_messages.incremental(subscription.md_req_id, mine),
                    subscription.session_id,
                )

    # ------------------------------------------------------------------ drills

    def send_test_request(self, role: SessionRole, test_req_id: str) -> bool:
        """Send a TestRequest (35=1) as TrueX does when the client has gone quiet.

        False when the session is not logged on: the engine would store the message and never
        send it, and ``sendToTarget`` would still say True.
        """
        session = fix.Session.lookupSession(self._sessions[role])
        if session is None or not session.isLoggedOn():
            return False
        message = fix.Message()
        message.getHeader().setField(35, "1")
        message.setField(112, test_req_id)
        return bool(fix.Session.sendToTarget(message, self._sessions[role]))

    def disconnect(self, role: SessionRole) -> None:
        """Drop the client's connection of ``role`` (the venue's side), as a gateway crash would."""
        session = fix.Session.lookupSession(self._sessions[role])
        if session is not None:
            session.disconnect()

    def skip_outbound_sequence(self, role: SessionRole, count: int) -> int:
        """Jump our outgoing MsgSeqNum ahead by ``count``, so the client sees a gap.

        Returns the first number the client will find missing.
        """
        session = fix.Session.lookupSession(self._sessions[role])
        missing = session.getExpectedSenderNum()
        session.setNextSenderMsgSeqNum(missing + count)
        return int(missing)


def _marks_second_logon(heartbeat: fix.Message) -> bool:
    """Whether this Heartbeat is the gate's stand-in for a second Logon."""
    return heartbeat.isSetField(112) and heartbeat.getField(112).startswith(SECOND_LOGON_MARKER)


def _refusal(ref_seq_num: str, msg_type: str) -> fix.Message:
    """35=j for an application message this gateway does not take.

    TrueX's "Invalid session ID" is for a message of the other gateway (spec §1.6); a type that
    no TrueX gateway accepts from a client (e.g. an ExecutionReport) is an unsupported one.
    """
    if msg_type in ORDER_ENTRY_TYPES or msg_type in MARKET_DATA_TYPES:
        return venue_messages.business_reject(ref_seq_num, msg_type, "0", "Invalid session ID")
    return venue_messages.business_reject(ref_seq_num, msg_type, "3", "Unsupported Message Type")


def _member_or_raw(kind: type[Enum], code: str) -> Any:
    """The enum member for a known code, else the raw code for the engine to refuse (looked up
    in the enum's own map: its constructor costs a microsecond, three times per order)."""
    return kind._value2member_map_.get(code, code)


def _decimal_or_nan(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal("NaN")  # the engine rejects it as off the grid


def _read_new_order(fields: dict[int, str]) -> NewOrder:
    """A NewOrder from 35=D fields, codes left raw where they are not TrueX's.

    The engine coerces raw codes and refuses what it cannot read with TrueX's texts, so an odd
    value becomes an order reject rather than a dropped message.
    """
    smp = fields.get(2964)
    return NewOrder(
        cl_ord_id=fields.get(11, ""),
        symbol=fields.get(55, ""),
        side=_member_or_raw(Side, fields.get(54, "")),
        quantity=_decimal_or_nan(fields.get(38)) or Decimal("NaN"),
        price=_decimal_or_nan(fields.get(44)),
        ord_type=_member_or_raw(OrdType, fields.get(40, "")),
        time_in_force=_member_or_raw(TimeInForce, fields.get(59, TimeInForce.GTC.value)),
        post_only=fields.get(18) == "6",
        self_match_prevention=SelfMatchPrevention(smp) if smp in ("1", "2") else None,
    )
