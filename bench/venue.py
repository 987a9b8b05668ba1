"""The sending side of each pair: an acceptor (bare, or the simulator's) streaming market data."""

from __future__ import annotations

import os
import threading
import time
import traceback
from typing import Any

import quickfix as fix

from bench.bare import BareAcceptorApplication
from bench.common import BASELINE_MD_REQ_ID, HOST
from bench.process import (
    Handlers,
    _child_setup,
    _hard_exit,
    _session_id,
    _wait_until,
    serve,
    summarize_ns,
)
from bench.stream import BookStream, IncrementFactory, build_snapshot, send_stream
from truex_qf.config import Credentials
from truex_qf.sim.fix_acceptor import VenueAccount, VenueApplication
from truex_qf.sim.matching import MatchingEngine
from truex_qf.sim.server import SimulatorSettings, acceptor_settings


class BenchVenueApplication(VenueApplication):
    """The simulator's venue, with the bench as its only market-data source.

    The venue's own level changes (our quotes resting in its matching engine) would interleave
    with the bench's stream and corrupt the book the stream describes, so they are not
    published. The MDReqID of the client's subscription is kept for the stream's messages.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.subscribed = threading.Event()
        self.md_req_id: str | None = None
        self.service_ns: list[int] = []

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        start = time.perf_counter_ns()
        try:
            super().fromApp(message, session_id)  # guarded: only FIX exceptions escape
        finally:
            self.service_ns.append(time.perf_counter_ns() - start)

    def _on_market_data_request(
        self, fields: dict[int, str], pairs: list[tuple[int, str]], session: str
    ) -> None:
        super()._on_market_data_request(fields, pairs, session)
        self.md_req_id = fields.get(262)
        self.subscribed.set()

    def _send_increments(self, changes: list[Any]) -> None:
        """Not published: see the class docstring."""


for _hook in ("_on_market_data_request", "_send_increments"):
    if not hasattr(VenueApplication, _hook):  # the bench leans on these two; fail loudly
        raise ImportError(f"VenueApplication.{_hook} is gone: update BenchVenueApplication")


class Venue:
    """The sender: a ThreadedSocketAcceptor on the simulator's settings, and the stream."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.kind = config["kind"]
        account = VenueAccount(
            config["sender_comp_id"],
            config["client_id"],
            Credentials(config["api_key"], config["secret_key"]),
        )
        self.settings = SimulatorSettings(
            account=account,
            order_entry_port=config["order_entry_port"],
            market_data_port=config["market_data_port"],
            host=HOST,
        )
        engine_settings, roles = acceptor_settings(self.settings)
        self.engine_settings = engine_settings
        if self.kind == "bare":
            self.application: fix.Application = BareAcceptorApplication(account.client_id)
        else:
            self.application = BenchVenueApplication(
                account,
                MatchingEngine(self.settings.symbols),
                roles,
                self.settings.symbols,
            )
        self.md_session = _session_id(self.settings.market_data_comp_id, account.sender_comp_id)
        self.stream = BookStream(config["seed"])
        self.increments = IncrementFactory()
        self.store_factory = fix.MemoryStoreFactory()
        # No engine log: the same sender for both receivers, as cheap as it gets.
        self.acceptor = fix.ThreadedSocketAcceptor(
            self.application, self.store_factory, self.engine_settings
        )

    def start(self) -> None:
        self.acceptor.start()

    def commands(self) -> Handlers:
        return {
            "snapshot": self.snapshot,
            "stream": self.send,
            "stats": self.stats,
            "stop": self.stop,
        }

    def _md_req_id(self, timeout_s: float) -> str:
        if isinstance(self.application, BenchVenueApplication):
            application = self.application
            _wait_until(application.subscribed.is_set, timeout_s, "the market-data subscription")
            return application.md_req_id or BASELINE_MD_REQ_ID
        md_name = self.md_session.toString()
        _wait_until(lambda: md_name in self.application.logged_on, timeout_s, "logon")
        return BASELINE_MD_REQ_ID

    def snapshot(self, timeout_s: float = 20.0) -> dict[str, Any]:
        md_req_id = self._md_req_id(timeout_s)
        fix.Session.sendToTarget(build_snapshot(self.stream, md_req_id), self.md_session)
        return {"md_req_id": md_req_id}

    def send(self, n: int, rate: float | None, move_mid: bool = False) -> dict[str, Any]:
        md_req_id = self._md_req_id(1.0)
        started = time.perf_counter()
        messages = self.increments.build(self.stream, md_req_id, n, move_mid)
        build_s = time.perf_counter() - started
        result = send_stream(self.md_session, messages, rate)
        result["build_us_per_msg"] = round(build_s / max(n, 1) * 1e6, 1)
        result["target_rate"] = rate
        return result

    def stats(self) -> dict[str, Any]:
        if isinstance(self.application, BenchVenueApplication):
            return {"venue_fromapp_us": summarize_ns(self.application.service_ns)}
        return {}

    def stop(self) -> dict[str, Any]:
        self.acceptor.stop(True)
        return {}


def venue_main(conn: Any, config: dict[str, Any]) -> None:
    """Child process: the sender."""
    counting = _child_setup(config)
    try:
        venue = Venue(config)
        venue.start()
    except Exception:
        conn.send(("error", traceback.format_exc()))
        _hard_exit(1)
    conn.send(("ok", {"pid": os.getpid()}))
    handlers = venue.commands()
    stop = handlers["stop"]

    def stop_and_report() -> dict[str, Any]:
        stop()
        return {"log": dict(counting.counts)}

    handlers["stop"] = stop_and_report
    serve(conn, handlers)
    _hard_exit()
