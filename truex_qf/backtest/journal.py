"""A backtest's order flow in the run's FIX journal, so ``replay`` and ``audit show`` read it.

Every order command the market maker sends (35=D/F/G, OUT) and every report it receives
(35=8/9, IN) becomes a journal row under the session name ``BACKTEST`` (nothing crossed a
wire), stamped with the virtual time the market maker sent or received it, in the order it
did. The captured market data is not journalled again: the capture holds it. Texts are built
as the paper venue builds its own (:mod:`truex_qf.app.paper`): the product's request bodies,
the simulator's report messages.
"""

from __future__ import annotations

from collections.abc import Callable

from truex_qf.domain.model import (
    CancelOrder,
    ExecutionReport,
    NewOrder,
    OrderCancelReject,
    ReplaceOrder,
)
from truex_qf.fix.builders import (
    new_order_single_body,
    order_cancel_replace_request_body,
    order_cancel_request_body,
)
from truex_qf.fix.readers import SOH
from truex_qf.sim.messages import cancel_reject, execution_report
from truex_qf.storage.recorder import JournalMessage
from truex_qf.storage.rows import PendingRow

SESSION = "BACKTEST"
"""The journal's session name for a backtest's order flow (and the client ID in it)."""


def request_text(command: NewOrder | CancelOrder | ReplaceOrder) -> str:
    """35=D/F/G as the journal keeps an outbound message."""
    if isinstance(command, NewOrder):
        msg_type, body = "D", new_order_single_body(command, SESSION)
    elif isinstance(command, CancelOrder):
        msg_type, body = "F", order_cancel_request_body(command, SESSION)
    else:
        msg_type, body = "G", order_cancel_replace_request_body(command, SESSION)
    return f"8=FIXT.1.1{SOH}35={msg_type}{SOH}49={SESSION}{SOH}56={SESSION}{SOH}{body}"


def report_text(report: ExecutionReport | OrderCancelReject) -> str:
    """35=8/9 as the journal keeps an inbound message."""
    if isinstance(report, ExecutionReport):
        text = execution_report(report, "").toString()
    else:
        text = cancel_reject(report).toString()
    return f"8=FIXT.1.1{SOH}{text}"


class BacktestJournal:
    """Hands the store's writer one journal row per command out and report in."""

    def __init__(
        self, run_id: str, submit: Callable[[PendingRow], None], clock_s: Callable[[], float]
    ) -> None:
        self.run_id = run_id
        self._submit = submit
        self._clock_s = clock_s

    def sent(self, command: NewOrder | CancelOrder | ReplaceOrder) -> None:
        self._submit(
            JournalMessage(self.run_id, SESSION, "OUT", request_text(command), self._clock_s())
        )

    def received(self, report: ExecutionReport | OrderCancelReject) -> None:
        self._submit(
            JournalMessage(self.run_id, SESSION, "IN", report_text(report), self._clock_s())
        )
