"""Tests of :mod:`truex_qf.observe`, and the helpers they share.

The Redis tests get their server from ``tests/services.py`` (database 15; skipped without a
server, failed when ``TRUEX_QF_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

from truex_qf.domain.model import (
    BookEntry,
    ExecType,
    ExecutionReport,
    MarketDataSnapshot,
    MDEntryType,
    NewOrder,
    OrdStatus,
    SessionLoggedOn,
    SessionRole,
    SubscribeMarketData,
)
from truex_qf.strategy.settings import default_strategy
from truex_qf.trading.market_maker import MarketMaker


class LogCapture(logging.Handler):
    """Records of one logger, caught on the logger itself: the CLI's logging setup turns
    propagation off for ``truex_qf``, so pytest's root-level caplog can miss them."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogCapture:
        self.logger.addHandler(self)
        self._level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)

    def messages(self, min_level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= min_level]


def wait_until(condition: Callable[[], object], timeout_s: float = 5.0) -> None:
    """Poll ``condition`` until it is truthy; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.01)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> float:
        self.now_s += seconds
        return self.now_s


def quoting_market_maker() -> tuple[MarketMaker, list[object]]:
    """A market maker with both sessions up, a book, and its first quotes sent to a list."""
    sent: list[object] = []
    mm = MarketMaker(default_strategy(), lambda command: sent.append(command) or True)
    symbol = next(iter(mm.symbols))
    mm.handle(SessionLoggedOn(SessionRole.MARKET_DATA, "md"))
    mm.handle(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    request = next(c for c in sent if isinstance(c, SubscribeMarketData))
    mm.handle(
        MarketDataSnapshot(
            request.md_req_id,
            symbol,
            (
                BookEntry(MDEntryType.BID, Decimal("99900"), Decimal("1.5")),
                BookEntry(MDEntryType.OFFER, Decimal("100100"), Decimal("2")),
            ),
        )
    )
    mm.requote_dirty()
    return mm, sent


def fill_report(order: NewOrder, qty: Decimal, exec_id: str = "E1") -> ExecutionReport:
    """A full fill of ``order`` at its price."""
    return ExecutionReport(
        order_id="V1",
        cl_ord_id=order.cl_ord_id,
        exec_id=exec_id,
        exec_type=ExecType.TRADE,
        ord_status=OrdStatus.FILLED,
        symbol=order.symbol,
        side=order.side,
        order_qty=order.quantity,
        leaves_qty=Decimal(0),
        cum_qty=qty,
        price=order.price,
        last_qty=qty,
        last_px=order.price,
    )
