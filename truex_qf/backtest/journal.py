"""A backtest's order flow in the run's FIX journal, so ``replay`` and ``audit show`` read it.

Every order command the market maker sends (35=D/F/G, OUT) and every report it receives
(35=8/9, IN) becomes a journal row under the session name ``BACKTEST`` (nothing crossed a
wire), stamped with the virtual time the market maker sent or received it, in the order it
did. The captured market data is not journalled again: the capture holds it. Texts are built
by :mod:`truex_qf.sim.local_venue`, as the paper venue's (:mod:`truex_qf.app.paper`).
"""

from __future__ import annotations

from collections.abc import Callable

from truex_qf.domain.model import (
    ExecutionReport,
    OrderCancelReject,
    OrderCommand,
)
from truex_qf.sim.local_venue import report_text, request_text
from truex_qf.storage.recorder import JournalMessage
from truex_qf.storage.rows import PendingRow

SESSION = "BACKTEST"
"""The journal's session name for a backtest's order flow (and the client ID in it)."""


class BacktestJournal:
    """Hands the store's writer one journal row per command out and report in."""

    def __init__(
        self, run_id: str, submit: Callable[[PendingRow], None], clock_s: Callable[[], float]
    ) -> None:
        self.run_id = run_id
        self._submit = submit
        self._clock_s = clock_s

    def sent(self, command: OrderCommand) -> None:
        self._submit(
            JournalMessage(
                self.run_id, SESSION, "OUT", request_text(command, SESSION), self._clock_s()
            )
        )

    def received(self, report: ExecutionReport | OrderCancelReject) -> None:
        self._submit(
            JournalMessage(self.run_id, SESSION, "IN", report_text(report), self._clock_s())
        )
