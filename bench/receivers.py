"""The receiving side of each pair: bare QuickFIX, or truex-qf's Runner with its probes."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import threading
import time
import traceback
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import quickfix as fix

from bench.bare import (
    BareApplication,
    FloorApplication,
    ReflexApplication,
    ReflexClock,
    ReflexLogFactory,
    bare_new_order_single,
    floor_step_names,
)
from bench.common import (
    CONDITION_WAIT_S,
    HOST,
    MD_SYMBOL,
    RTT_PRICE,
    RTT_QTY,
    RTT_SYMBOL,
    TURN_WAIT_S,
    WRITER_SAMPLE_S,
    BenchError,
)
from bench.process import (
    Handlers,
    _child_setup,
    _hard_exit,
    _session_id,
    _wait_until,
    serve,
    summarize_ns,
)
from truex_qf.app.pipeline import Pipeline, PipelineSettings, pipeline_settings
from truex_qf.app.runner import Runner
from truex_qf.config import Credentials, FixSettings
from truex_qf.domain.model import (
    ExecType,
    ExecutionReport,
    MarketDataIncrement,
    Side,
)
from truex_qf.fix.engine_log import RedactingLogFactory
from truex_qf.fix.settings import initiator_settings
from truex_qf.storage.recorder import field_value
from truex_qf.strategy.quoting import QuoteParams, RequoteMode
from truex_qf.strategy.settings import StrategySettings, default_strategy
from truex_qf.trading.events import OrderSent
from truex_qf.trading.orders import ManagedOrder, OrderState, OrderStateChanged
from truex_qf.trading.risk import exposure_for


class BareClient:
    """The baseline receiver: bare QuickFIX initiator on ``sessions.cfg``."""

    def __init__(self, config: dict[str, Any]) -> None:
        fix_settings = _fix_settings(config)
        settings, _roles = initiator_settings(fix_settings)
        self.client_id = fix_settings.client_id
        self.settings = settings
        steps = config.get("floor_steps", 0)
        self.application: BareApplication
        # The engine log FixClient installs, without a journal tap; kept alive with the engine.
        self.log_factories: list[fix.LogFactory] = (
            [RedactingLogFactory(None)] if "engine_log" in floor_step_names(steps) else []
        )
        if config.get("reflex"):
            clock = ReflexClock()
            self.application = ReflexApplication(clock)
            self.log_factories = [ReflexLogFactory(clock)]  # only notes when a 35=D leaves
        elif steps:
            self.application = FloorApplication(steps)
        else:
            self.application = BareApplication()
        self.cpu_at_begin = 0.0
        self.store_factory = fix.FileStoreFactory(settings)
        # The transport truex-qf's FixClient uses: one engine thread for both sessions.
        self.initiator = fix.SocketInitiator(
            self.application, self.store_factory, self.settings, *self.log_factories
        )
        self.oe_session = _session_id(fix_settings.sender_comp_id, fix_settings.order_entry_target)
        self.md_session = _session_id(fix_settings.sender_comp_id, fix_settings.market_data_target)

    def start(self, timeout_s: float) -> None:
        self.initiator.start()
        names = {self.oe_session.toString(), self.md_session.toString()}
        _wait_until(lambda: names <= self.application.logged_on, timeout_s, "logon")

    def commands(self) -> Handlers:
        return {
            "settle": self.settle,
            "md_begin": self.md_begin,
            "md_wait": self.md_wait,
            "rtt": self.rtt,
            "reflex_begin": self.reflex_begin,
            "reflex_wait": self.reflex_wait,
            "stop": self.stop,
        }

    def settle(self, timeout_s: float) -> dict[str, Any]:
        _wait_until(lambda: self.application.count >= 1, timeout_s, "the snapshot")
        return {}

    def reflex_begin(self, n: int) -> dict[str, Any]:
        """Build ``n`` orders before the stream starts: one per 35=X to come."""
        application = self.application
        if not isinstance(application, ReflexApplication):
            raise BenchError("reflex_begin on a receiver that is not the reflex")
        orders = [bare_new_order_single(f"R{number}", self.client_id) for number in range(n)]
        application.arm_reflex(orders, self.oe_session)
        return {}

    def reflex_wait(self, timeout_s: float) -> dict[str, Any]:
        """Every X answered (or the time is up): (received, sendToTarget returned,
        onOutgoing) per answered X, in ns."""
        application = self.application
        if not isinstance(application, ReflexApplication):
            raise BenchError("reflex_wait on a receiver that is not the reflex")
        application.answered.wait(timeout_s)
        time.sleep(0.05)  # the acceptor's last 35=8 answers
        return {
            "x_answered": len(application.samples),
            "orders_built": len(application.orders),
            "callback_failures": application.failures,
            "samples": [list(sample) for sample in application.samples],
        }

    def md_begin(self, n: int) -> dict[str, Any]:
        self.application.arm(n)
        self.cpu_at_begin = time.process_time()
        return {}

    def md_wait(self, timeout_s: float, drain: bool = False) -> dict[str, Any]:
        application = self.application
        finished = application.done.wait(timeout_s)
        return {
            "processed": application.count,
            "first_ns": application.first_ns,
            "done_ns": application.last_ns if finished else 0,
            "max_queue_depth": 0,
            "cpu_s": time.process_time() - self.cpu_at_begin,
        }

    def rtt(self, n: int, warmup: int, timeout_s: float) -> dict[str, Any]:
        application = self.application
        deadline = time.monotonic() + timeout_s
        samples: list[int] = []
        sends: list[int] = []
        for number in range(warmup + n):
            application.arm(1)
            start = time.perf_counter_ns()
            message = bare_new_order_single(f"B{number}", self.client_id)
            fix.Session.sendToTarget(message, self.oe_session)
            sent = time.perf_counter_ns()
            if not application.done.wait(max(0.0, deadline - time.monotonic())):
                raise BenchError(f"no 35=8 for order {number} within {timeout_s} s")
            if number >= warmup:
                samples.append(application.last_ns - start)
                sends.append(sent - start)
        return {"rtt_ns": samples, "send_ns": sends}

    def stop(self) -> dict[str, Any]:
        self.initiator.stop(True)
        if not isinstance(self.application, FloorApplication):
            return {}
        book = self.application.books.book(MD_SYMBOL)
        return {
            "callback_failures": self.application.failures,
            "book_inconsistency": book.inconsistency if book is not None else None,
        }


class ProbedPipeline(Pipeline):
    """A Pipeline whose journal tap (the engine log's feed, which the Runner passes on) is
    probed: every call timed, and when our 35=D/G leave noted (while :attr:`tap_capture_out`)."""

    def __init__(self, settings: PipelineSettings) -> None:
        super().__init__(settings)
        self.tap_durations_ns: list[int] = []
        self.tap_out_ns: dict[str, int] = {}
        self.tap_capture_out = False

    def tap(self, session: str, direction: str, raw: str) -> None:
        start = time.perf_counter_ns()
        if (
            self.tap_capture_out
            and direction == "OUT"
            and ("\x0135=G\x01" in raw or "\x0135=D\x01" in raw)
        ):
            cl_ord_id = field_value(raw, "11")
            if cl_ord_id:
                self.tap_out_ns[cl_ord_id] = start
        Pipeline.tap(self, session, direction, raw)
        self.tap_durations_ns.append(time.perf_counter_ns() - start)


@dataclasses.dataclass
class MdTracker:
    """Progress of one market-data measurement, from book versions seen by the loop."""

    active: bool = False
    target_version: int = 0
    start_version: int = 0
    first_ns: int = 0
    done_ns: int = 0
    last_version: int = 0
    max_queue_depth: int = 0


def one_level_quoting(quoting: QuoteParams) -> QuoteParams:
    """The benches' quotes: one level a side at 5 bps, no edge floor and no inventory skew, so
    every move of fair value moves the quote (tick to quote, reference to quote)."""
    return dataclasses.replace(
        quoting,
        levels_per_side=1,
        spread_bps=Decimal(5),
        min_edge_bps=Decimal(0),
        inventory_skew_bps=Decimal(0),
        max_skew_bps=Decimal(0),
    )


def bench_strategy() -> StrategySettings:
    """One level a side, 5 bps, zero tolerance, 35=G requotes, message-rate limits lifted.

    The default strategy paces orders at 8/s (TrueX's reported limits); here every mid change
    must produce a requote so that tick to quote has samples. ETH-PYUSD gets a position limit
    so the round-trip orders pass the risk engine; it is not quoted.
    """
    base = default_strategy()
    symbol = base.symbols[0]
    quoting = one_level_quoting(symbol.quoting)
    symbol = dataclasses.replace(symbol, quoting=quoting)
    risk = dataclasses.replace(
        base.risk,
        max_position_base={MD_SYMBOL: quoting.max_position_base, RTT_SYMBOL: Decimal(1)},
        max_messages_per_s=1_000_000,
        max_messages_per_min=60_000_000,
    )
    return dataclasses.replace(
        base,
        symbols=(symbol,),
        risk=risk,
        loop_interval_s=1.0,
        requote_tolerance_bps=Decimal(0),
        requote_mode=RequoteMode.REPLACE,
    )


class ProbedRunner(Runner):
    """A Runner that calls :attr:`on_pass` at the end of every pass, on the loop or an engine
    thread, trading lock held: the bench's probe, kept out of the product."""

    on_pass: Callable[[], None] | None = None

    def _end_pass(self) -> None:
        super()._end_pass()
        if self.on_pass is not None:
            self.on_pass()


class TruexClient:
    """The truex-qf receiver: a Runner, driven one loop turn at a time."""

    def __init__(self, config: dict[str, Any]) -> None:
        fix_settings = _fix_settings(config)
        self.pipeline: ProbedPipeline | None = None
        if config["journal"]:
            self.pipeline = ProbedPipeline(
                pipeline_settings(fix_settings.state_dir, fix_settings.sender_comp_id, env={})
            )
        # Tick to quote requotes on every mid change; the market-data phases quote with the
        # default tolerance, so orders go out only when fair value moves beyond it, as in
        # production (where the venue's ~10 msg/s limit would stop anything else).
        self.ttq_strategy = bench_strategy()
        self.md_strategy = dataclasses.replace(
            self.ttq_strategy, requote_tolerance_bps=default_strategy().requote_tolerance_bps
        )
        self.runner = ProbedRunner(
            fix_settings,
            self.ttq_strategy,
            pipeline=self.pipeline,
            mode="bench",
            on_decision_lag=self._on_decision_lag,
        )
        self.mm = self.runner.mm
        self.events = self.runner.events
        # What the Runner hands the MarketMaker as its ``send``.
        client_send = self.runner.client.send
        self.send = self.pipeline.wrap_send(client_send) if self.pipeline else client_send
        self.md = MdTracker()
        # each quote decision's lag: from the oldest message it covered to its end (ns)
        self.decision_lags: list[int] = []
        self.flush_lags: list[int] = []  # of which the trading loop's (a burst's end)
        self.loop_ident = threading.get_ident()  # the thread that turns the loop
        self.orders_at_begin = 0
        self.cpu_at_begin = 0.0
        self.writer_depths: list[int] = []
        self._next_writer_sample = 0.0
        # tick to quote
        self.capture = False
        # (ClOrdID, trigger_ns, sent_ns, start of the requote pass that sent it)
        self.sent: list[tuple[str, int, int, int]] = []
        self.requote_ns = 0
        self.x_handled: dict[int, int] = {}  # received_ns of each X -> when handling began
        # order round trip
        self.watch: str | None = None
        self.watch_ack_ns = 0
        self.watch_er_ns = 0
        self.watch_first_er_ns = 0
        self.watch_first_applied_ns = 0
        self.mm.listeners.append(self._on_mm_event)
        self.runner.on_pass = self._on_pass

    def start(self) -> None:
        self.runner.start()

    def commands(self) -> Handlers:
        return {
            "settle": self.settle,
            "md_begin": self.md_begin,
            "md_wait": self.md_wait,
            "ttq_begin": self.ttq_begin,
            "ttq_wait": self.ttq_wait,
            "rtt": self.rtt,
            "stop": self.stop,
        }

    # ------------------------------------------------------------------ the loop

    def turn(self) -> None:
        """One trading-loop pass (market data is applied by the engine thread meanwhile);
        waits at most TURN_WAIT_S, so the bench notices what the engine threads applied."""
        self.runner.step(TURN_WAIT_S)
        if self.pipeline is not None and time.monotonic() >= self._next_writer_sample:
            self._next_writer_sample = time.monotonic() + WRITER_SAMPLE_S
            self.writer_depths.append(self._store_depth())

    def _on_pass(self) -> None:
        """The end of every pass, on the loop or an engine thread: the measurement's books."""
        md = self.md
        if md.active:
            now = time.perf_counter_ns()
            depth = self.events.qsize()
            if depth > md.max_queue_depth:
                md.max_queue_depth = depth
            book = self.mm.books.book(MD_SYMBOL)
            version = book.version if book is not None else 0
            if version != md.last_version:
                md.last_version = version
                if md.first_ns == 0:
                    md.first_ns = now
                if version >= md.target_version and md.done_ns == 0:
                    md.done_ns = now

    def _store_depth(self) -> int:
        """Rows submitted and not yet stored: the store writer's and the journal process's."""
        if self.pipeline is None:
            return 0
        return self.pipeline.writer.stats.queue_depth + self.pipeline.journal.stats.queue_depth

    def _cpu_s(self) -> float:
        """CPU time of this process and of the journal's writer process (it works for us)."""
        total = time.process_time()
        process = self.pipeline.journal._process if self.pipeline is not None else None
        if process is not None and process.pid is not None:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def _turn_until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        if not self._wait_for(condition, timeout_s):
            raise BenchError(f"timed out after {timeout_s} s waiting for {what}")

    def _wait_for(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Until ``condition`` holds (read under the trading lock) or the time is up. Every
        pass an engine thread makes notifies the lock's condition, so this wakes at once; the
        loop's own turn runs as the Runner's loop would, on its schedule or a queued event."""
        deadline = time.monotonic() + timeout_s
        lock = self.runner.trading_lock
        next_turn = 0.0
        while True:
            with lock:
                if condition():
                    return True
                lock.wait(CONDITION_WAIT_S)
                if condition():
                    return True
            now = time.monotonic()
            if now > deadline:
                return False
            if now >= next_turn:
                next_turn = now + TURN_WAIT_S
                self.runner.step(0.0)

    def _on_mm_event(self, event: object) -> None:
        if type(event) is OrderSent:
            if self.capture and event.kind != "cancel":
                self.sent.append(
                    (event.cl_ord_id, event.trigger_ns, event.sent_ns, self.requote_ns)
                )
        elif (
            type(event) is OrderStateChanged
            and self.watch is not None
            and event.cl_ord_id == self.watch
            and event.state is OrderState.NEW
        ):
            self.watch_ack_ns = time.perf_counter_ns()

    def _orders_sent(self) -> int:
        stats = self.mm.stats
        return stats.orders_sent + stats.replaces_sent + stats.cancels_sent

    def _quotes_settled(self) -> bool:
        book = self.mm.books.book(MD_SYMBOL)
        if book is None or book.best_bid_price() is None or book.best_offer_price() is None:
            return False
        working = self.mm.orders.working_orders(MD_SYMBOL)
        return len(working) == 2 and all(o.state is OrderState.NEW for o in working)

    def settle(self, timeout_s: float) -> dict[str, Any]:
        self._turn_until(self._quotes_settled, timeout_s, "the snapshot and two resting quotes")
        return {}

    # ------------------------------------------------------------------ market data

    def md_begin(self, n: int, tick_to_quote: bool = False) -> dict[str, Any]:
        self.mm.strategy = self.ttq_strategy if tick_to_quote else self.md_strategy
        self.orders_at_begin = self._orders_sent()
        self.cpu_at_begin = self._cpu_s()
        self.own_cpu_at_begin = time.process_time()
        book = self.mm.books.book(MD_SYMBOL)
        version = book.version if book is not None else 0
        self.md = MdTracker(
            active=True, target_version=version + n, start_version=version, last_version=version
        )
        with self.runner.trading_lock:
            self.decision_lags = []
            self.flush_lags = []
        return {}

    def _on_decision_lag(self, lag_ns: int) -> None:
        """The runner's listener for the whole run (trading lock held); records while a
        market-data measurement is active."""
        if not self.md.active:
            return
        self.decision_lags.append(lag_ns)
        if threading.get_ident() == self.loop_ident:
            self.flush_lags.append(lag_ns)

    def md_wait(self, timeout_s: float, drain: bool = False) -> dict[str, Any]:
        """Until the measurement's messages are processed; ``drain``: and, for the CPU
        figure, until the store writer has caught up (it works after the loop is done)."""
        md = self.md
        deadline = time.monotonic() + timeout_s
        # Turns, not _wait_for: a waiter on the lock's condition would wake on every message
        # and fight the engine thread for the GIL; done_ns is stamped by the pass itself.
        while md.done_ns == 0 and time.monotonic() < deadline:
            self.turn()
        with self.runner.trading_lock:
            md.active = False
        writer_drain_ms = None
        if self.pipeline is not None and md.done_ns:
            # The journal must keep up too: how long until the writer has stored everything?
            drained_by = time.monotonic() + 10.0
            while self._store_depth() and time.monotonic() < drained_by:
                self.runner.step(0.001)
            writer_drain_ms = (time.perf_counter_ns() - md.done_ns) / 1e6
            if drain:
                time.sleep(0.3)  # CPU figure: let its last commit finish
        cpu_s = self._cpu_s() - self.cpu_at_begin
        result = {
            "orders_sent": self._orders_sent() - self.orders_at_begin,
            "processed": md.last_version - md.start_version,
            "first_ns": md.first_ns,
            "done_ns": md.done_ns,
            "max_queue_depth": md.max_queue_depth,
            "cpu_s": cpu_s,
            "own_cpu_s": time.process_time() - self.own_cpu_at_begin,  # without the journal's
            # per quote decision, from its oldest message's receipt: the worst message it covers
            "decision_lag_us": summarize_ns(self.decision_lags),
            "decision_lag_loop_us": summarize_ns(self.flush_lags),
        }
        if writer_drain_ms is not None:
            result["writer_drain_ms"] = round(writer_drain_ms, 1)
        return result

    # ------------------------------------------------------------------ tick to quote

    def ttq_begin(self, n: int) -> dict[str, Any]:
        self.sent.clear()
        self.x_handled.clear()
        self.capture = True
        if self.pipeline is not None:
            self.pipeline.tap_out_ns.clear()
            self.pipeline.tap_capture_out = True
        handle = self.mm.handle
        x_handled = self.x_handled

        def recording_handle(event: object) -> None:
            if type(event) is MarketDataIncrement:
                x_handled[event.received_ns] = time.perf_counter_ns()
            handle(event)

        requote_dirty = self.mm.requote_dirty

        def timed_requote_dirty() -> None:
            self.requote_ns = time.perf_counter_ns()
            requote_dirty()

        # Probes for this phase, on the instance (ttq_wait's `del` brings the methods back):
        # the Runner builds the MarketMaker, so no subclass of it can take their place.
        self.mm.handle = recording_handle  # type: ignore[method-assign]  # the probe, see above
        self.mm.requote_dirty = timed_requote_dirty  # type: ignore[method-assign]  # likewise
        return self.md_begin(n, tick_to_quote=True)

    def ttq_wait(self, timeout_s: float) -> dict[str, Any]:
        progress = self.md_wait(timeout_s)
        grace = time.monotonic() + 0.05  # the last requotes and their acks
        while time.monotonic() < grace:
            self.turn()
        del self.mm.handle  # back to the class's methods
        del self.mm.requote_dirty
        self.capture = False
        out_ns = {}
        if self.pipeline is not None:
            self.pipeline.tap_capture_out = False
            out_ns = dict(self.pipeline.tap_out_ns)
        samples = []
        for cl_ord_id, trigger_ns, sent_ns, requote_ns in self.sent:
            handled_ns = self.x_handled.get(trigger_ns)
            if handled_ns is not None:
                tap_ns = out_ns.get(cl_ord_id, 0)
                samples.append(
                    (
                        trigger_ns,
                        sent_ns - trigger_ns,
                        tap_ns - trigger_ns if tap_ns else 0,
                        handled_ns - trigger_ns,
                        requote_ns - trigger_ns,
                    )
                )
        return {
            **progress,
            "x_processed": len(self.x_handled),
            "orders_sent": len(self.sent),
            # per order, from the X's received_ns, in ns: (trigger itself, to sendToTarget
            # return, to onOutgoing, to handling the X, to the requote pass starting)
            "samples": samples,
        }

    # ------------------------------------------------------------------ order round trip

    def rtt(self, n: int, warmup: int, timeout_s: float) -> dict[str, Any]:
        """D through the order manager and risk checks, until the New report is applied."""
        orders, risk, positions = self.mm.orders, self.mm.risk, self.mm.positions
        deadline = time.monotonic() + timeout_s
        handle = self.mm.handle

        def recording_handle(event: object) -> None:
            if type(event) is ExecutionReport and event.cl_ord_id == self.watch:
                if event.exec_type is ExecType.PENDING_NEW:  # TrueX's first answer
                    self.watch_first_er_ns = event.received_ns
                    handle(event)
                    self.watch_first_applied_ns = time.perf_counter_ns()
                    return
                if event.exec_type is ExecType.NEW:
                    self.watch_er_ns = event.received_ns
            handle(event)

        # A probe for this phase, on the instance (`del` below brings the method back): the
        # Runner builds the MarketMaker, so no subclass of it can take its place.
        self.mm.handle = recording_handle  # type: ignore[method-assign]  # the probe, see above
        total, decide, outbound, wire, inbound = [], [], [], [], []
        first_total, first_wire, first_inbound = [], [], []
        try:
            for number in range(warmup + n):
                self.watch_ack_ns = self.watch_er_ns = 0
                self.watch_first_er_ns = self.watch_first_applied_ns = 0
                with self.runner.trading_lock:  # as the market maker decides and sends
                    start = time.perf_counter_ns()
                    draft = orders.draft_new_order(
                        RTT_SYMBOL, Side.BUY, RTT_QTY, RTT_PRICE, post_only=True
                    )
                    self.watch = draft.cl_ord_id
                    exposure = exposure_for(RTT_SYMBOL, orders, positions)
                    decision = risk.check_new(draft, RTT_PRICE, 0.0, False, exposure)
                    if not decision.allowed:
                        raise BenchError(f"risk denied the round-trip order: {decision}")
                    orders.track(draft)
                    decided = time.perf_counter_ns()
                    if not self.send(draft):
                        raise BenchError("the engine refused to send the round-trip order")
                    sent = time.perf_counter_ns()
                remaining = deadline - time.monotonic()
                self._turn_until(lambda: self.watch_ack_ns != 0, remaining, "the New report")
                if number >= warmup:
                    if not self.watch_first_applied_ns:
                        raise BenchError("the venue sent no PendingNew before the New")
                    first_total.append(self.watch_first_applied_ns - start)
                    first_wire.append(self.watch_first_er_ns - sent)
                    first_inbound.append(self.watch_first_applied_ns - self.watch_first_er_ns)
                    total.append(self.watch_ack_ns - start)
                    decide.append(decided - start)
                    outbound.append(sent - decided)
                    wire.append(self.watch_er_ns - sent)
                    inbound.append(self.watch_ack_ns - self.watch_er_ns)
                with self.runner.trading_lock:
                    order = orders.get(draft.cl_ord_id)
                    self.send(orders.cancel(draft.cl_ord_id))
                remaining = deadline - time.monotonic()
                self._turn_until(functools.partial(_finished, order), remaining, "the cancel")
        finally:
            self.watch = None
            del self.mm.handle
        return {
            "rtt_ns": first_total,
            "first_wire_ns": first_wire,
            "first_inbound_ns": first_inbound,
            "rtt_to_new_ns": total,
            "decide_ns": decide,
            "send_ns": outbound,
            "wire_ns": wire,
            "inbound_ns": inbound,
        }

    # ------------------------------------------------------------------ the end

    def stop(self) -> dict[str, Any]:
        try:
            summary = self.runner.finish()
        finally:
            self.runner.client.stop(True)
            self.runner.close()
        book = self.mm.books.book(MD_SYMBOL)
        result: dict[str, Any] = {
            "resubscribes": self.mm.stats.resubscribes,
            "send_failures": self.mm.stats.send_failures,
            "venue_rejects": summary.venue_rejects,
            "risk_denials": summary.risk_denials,
            "orders_sent": summary.orders_sent,
            "replaces_sent": summary.replaces_sent,
            "book_inconsistency": book.inconsistency if book is not None else "no book",
        }
        if self.pipeline is not None:
            stats = self.pipeline.journal.stats
            result["tap_us"] = summarize_ns(self.pipeline.tap_durations_ns)
            result["writer"] = {
                "journal_written": stats.written,
                "journal_spilled": stats.spilled,
                "journal_failures": stats.failures,
                "store_written": self.pipeline.writer.stats.written,
                "queue_depth_after_drain": self._store_depth(),
                "queue_depth_max_while_trading": max(self.writer_depths, default=0),
                "queue_depth_samples": len(self.writer_depths),
            }
        return result


def _finished(order: ManagedOrder | None) -> bool:
    return order is not None and order.state.is_terminal


def _fix_settings(config: dict[str, Any]) -> FixSettings:
    return FixSettings(
        host=HOST,
        order_entry_port=config["order_entry_port"],
        market_data_port=config["market_data_port"],
        sender_comp_id=config["sender_comp_id"],
        client_id=config["client_id"],
        credentials=Credentials(config["api_key"], config["secret_key"]),
        state_dir=Path(config["state_dir"]),
    )


def client_main(conn: Any, config: dict[str, Any]) -> None:
    """Child process: the receiver, bare or truex-qf."""
    counting = _child_setup(config)
    client: BareClient | TruexClient
    try:
        if config["kind"] == "bare":
            client = BareClient(config)
            client.start(30.0)
            idle = None
        else:
            client = TruexClient(config)
            client.start()
            idle = client.turn
    except Exception:
        conn.send(("error", traceback.format_exc()))
        _hard_exit(1)
    conn.send(("ok", {"pid": os.getpid()}))
    handlers = client.commands()
    stop = handlers["stop"]

    def stop_and_report() -> dict[str, Any]:
        result = stop()
        return {**result, "log": dict(counting.counts), "log_first": counting.first}

    handlers["stop"] = stop_and_report
    serve(conn, handlers, idle)
    _hard_exit()
