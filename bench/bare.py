"""Bare QuickFIX: the baseline's applications and the floor receivers' steps, no truex-qf code."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime

import quickfix as fix
import quickfix50sp2 as fix50

from bench.common import RTT_PRICE, RTT_QTY, RTT_SYMBOL
from truex_qf.domain.model import (
    MarketDataIncrement,
    MarketDataSnapshot,
)
from truex_qf.fix.engine_threads import keep_thread_state
from truex_qf.fix.readers import READERS, msg_type
from truex_qf.marketdata.book import BookKeeper


class BareApplication(fix.Application):
    """Empty callbacks; ``fromApp`` only counts and time-stamps what the baseline measures."""

    def __init__(self) -> None:
        super().__init__()
        self.logged_on: set[str] = set()
        self.done = threading.Event()
        self.count = 0
        self.target = 0
        self.first_ns = 0
        self.last_ns = 0

    def arm(self, target: int) -> None:
        self.done.clear()
        self.count = 0
        self.first_ns = 0
        self.last_ns = 0
        self.target = target

    def onCreate(self, session_id: fix.SessionID) -> None:
        pass

    def onLogon(self, session_id: fix.SessionID) -> None:
        with contextlib.suppress(Exception):  # nothing may escape a callback (notes §1.2)
            self.logged_on.add(session_id.toString())

    def onLogout(self, session_id: fix.SessionID) -> None:
        with contextlib.suppress(Exception):
            self.logged_on.discard(session_id.toString())

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            now = time.perf_counter_ns()
            count = self.count + 1
            self.count = count
            if count == 1:
                self.first_ns = now
            self.last_ns = now
            if count == self.target:
                self.done.set()
        except Exception:
            pass


FLOOR_STEPS = (
    ("thread_state", "keeps its thread state"),
    ("engine_log", "+ a Python engine log"),
    ("text", "+ Message.toString"),
    ("read", "+ reads the 35=X"),
    ("book", "+ applies it to the book"),
)
"""What truex-qf's engine thread does for every market-data message before it decides
anything, in order; a floor receiver does the first N of them (``floor_steps``)."""


def floor_step_names(steps: int) -> frozenset[str]:
    """The names of the first ``steps`` of :data:`FLOOR_STEPS`."""
    return frozenset(name for name, _ in FLOOR_STEPS[:steps])


class FloorApplication(BareApplication):
    """The baseline plus the first ``steps`` of :data:`FLOOR_STEPS`, truex-qf's own code.

    Each step is what every truex-qf receiver pays per market-data message before the trading
    decision: keeping the engine thread's Python thread state (the binding otherwise builds
    and destroys one around every callback, :mod:`truex_qf.fix.engine_threads`), the engine
    log (:class:`~truex_qf.fix.engine_log.RedactingLog`, set up by :class:`BareClient`
    without a journal tap), the message's text, :func:`~truex_qf.fix.readers.read_increment`
    and :class:`~truex_qf.marketdata.book.BookKeeper`. The ladder's last rung against
    truex-qf's rate is what the quote decision, the Runner and the MarketMaker's dispatch
    cost; its rungs against the baseline say how much of the throughput target is left
    once a Python application has only read and stored the book.
    """

    def __init__(self, steps: int) -> None:
        super().__init__()
        names = floor_step_names(steps)
        self.keep = "thread_state" in names
        self.text = "text" in names
        self.read = "read" in names
        self.book = "book" in names
        self.books = BookKeeper()
        self.failures = 0

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            if self.keep:
                keep_thread_state()  # one attribute lookup after the first call
            if self.text:
                raw = message.toString()
                if self.read:
                    self._read(raw)
        except Exception:  # nothing may escape a callback (notes §1.2); counted, reported
            self.failures += 1
        super().fromApp(message, session_id)

    def _read(self, raw: str) -> None:
        """As ``TruexApplication.fromApp`` reads, then as ``MarketMaker`` applies to the book."""
        reader = READERS.get(msg_type(raw))
        if reader is None:
            return
        event = reader(raw, 0)
        if not self.book:
            return
        if type(event) is MarketDataIncrement:
            self.books.apply_increment(event, time.monotonic())
        elif type(event) is MarketDataSnapshot:
            self.books.apply_snapshot(event, time.monotonic())


class BareAcceptorApplication(BareApplication):
    """Answers every 35=D with one 35=8 at once, and nothing else."""

    def __init__(self, client_id: str) -> None:
        super().__init__()
        self.client_id = client_id
        self.exec_ids = 0

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            if message.getHeader().getField(35) == "D":
                self.exec_ids += 1
                reply = bare_execution_report(
                    message.getField(11), str(self.exec_ids), self.client_id
                )
                fix.Session.sendToTarget(reply, session_id)
        except Exception:
            pass


def _bare_message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(35, msg_type)
    return message


def bare_new_order_single(cl_ord_id: str, client_id: str) -> fix.Message:
    """The fields truex-qf's builder puts in a post-only limit order, set one by one."""
    message = _bare_message("D")
    message.setField(11, cl_ord_id)
    message.setField(18, "6")
    message.setField(38, str(RTT_QTY))
    message.setField(40, "2")
    message.setField(44, str(RTT_PRICE))
    message.setField(54, "1")
    message.setField(55, RTT_SYMBOL)
    message.setField(59, "1")
    parties = fix50.NewOrderSingle.NoPartyIDs()
    parties.setField(448, client_id)
    parties.setField(452, "3")
    message.addGroup(parties)
    return message


def bare_execution_report(cl_ord_id: str, exec_id: str, client_id: str) -> fix.Message:
    """A 35=8 New with the fields the simulator puts in one."""
    message = _bare_message("8")
    message.setField(37, f"O{exec_id}")
    message.setField(11, cl_ord_id)
    message.setField(17, exec_id)
    message.setField(150, "0")
    message.setField(39, "0")
    message.setField(55, RTT_SYMBOL)
    message.setField(54, "1")
    message.setField(40, "2")
    message.setField(38, str(RTT_QTY))
    message.setField(44, str(RTT_PRICE))
    message.setField(59, "1")
    message.setField(151, str(RTT_QTY))
    message.setField(14, "0")
    message.setField(60, datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f"))
    parties = fix50.ExecutionReport.NoPartyIDs()
    parties.setField(448, client_id)
    parties.setField(452, "3")
    message.addGroup(parties)
    return message


class ReflexClock:
    """When the last 35=D reached the engine log (perf_counter_ns)."""

    out_ns = 0


class ReflexLog(fix.Log):
    """The reflex receiver's engine log: when a 35=D leaves (``onOutgoing``), nothing else.

    The same hook truex-qf's tick to quote ends at (its engine log's journal tap), so both
    figures end where the order's text is handed to the socket.
    """

    def __init__(self, clock: ReflexClock) -> None:
        super().__init__()
        self.clock = clock

    def onIncoming(self, text: str) -> None:
        pass

    def onOutgoing(self, text: str) -> None:
        try:
            if "\x0135=D\x01" in text:
                self.clock.out_ns = time.perf_counter_ns()
        except Exception:  # nothing may escape a callback (notes §1.2)
            pass

    def onEvent(self, text: str) -> None:
        pass

    def clear(self) -> None:
        pass

    def backup(self) -> None:
        pass


class ReflexLogFactory(fix.LogFactory):
    """A :class:`ReflexLog` per session, kept alive as long as the engine (see
    :class:`~truex_qf.fix.engine_log.RedactingLogFactory`)."""

    def __init__(self, clock: ReflexClock) -> None:
        super().__init__()
        self.clock = clock
        self._logs: list[ReflexLog] = []

    def create(self, session_id: fix.SessionID | None = None) -> ReflexLog:
        log = ReflexLog(self.clock)
        log.__disown__()  # the engine frees it (see RedactingLogFactory.create)
        self._logs.append(log)
        return log

    def destroy(self, log: ReflexLog) -> None:
        pass


class ReflexApplication(BareApplication):
    """Issue 19's reflex: bare QuickFIX answering each 35=X with a prebuilt 35=D, sent from
    ``fromApp`` itself. The least any receiver can take from a tick to an order leaving.

    Per answered X: (fromApp entered, ``sendToTarget`` returned, the D at the engine log's
    ``onOutgoing``), all ``perf_counter_ns``.
    """

    def __init__(self, clock: ReflexClock) -> None:
        super().__init__()
        self.clock = clock
        self.orders: list[fix.Message] = []
        self.next_order = 0
        self.order_session: fix.SessionID | None = None
        self.samples: list[tuple[int, int, int]] = []
        self.answered = threading.Event()
        self.failures = 0

    def arm_reflex(self, orders: list[fix.Message], session: fix.SessionID) -> None:
        """Answer the next ``len(orders)`` 35=X, one prebuilt order each, on ``session``."""
        self.samples = []
        self.answered.clear()
        self.order_session = session
        self.next_order = 0
        self.orders = orders

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        received_ns = time.perf_counter_ns()
        try:
            index = self.next_order
            if index < len(self.orders) and message.getHeader().getField(35) == "X":
                self.next_order = index + 1
                fix.Session.sendToTarget(self.orders[index], self.order_session)
                returned_ns = time.perf_counter_ns()
                self.samples.append((received_ns, returned_ns, self.clock.out_ns))
                if index + 1 == len(self.orders):
                    self.answered.set()
        except Exception:  # nothing may escape a callback (notes §1.2); counted, reported
            self.failures += 1
        super().fromApp(message, session_id)
