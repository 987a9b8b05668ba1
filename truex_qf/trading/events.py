"""What the market maker tells its listeners, besides the order manager's own events.

Listeners (the store recorder, metrics, alerts) run on the trading thread right after the fact,
so they must be cheap: they convert and enqueue, never wait on I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from truex_qf.domain.model import Side
from truex_qf.trading.risk import TradingState


@dataclass(frozen=True, slots=True)
class OrderSent:
    """A request went to the engine: ``kind`` is new, replace or cancel."""

    kind: str
    cl_ord_id: str
    symbol: str
    sent_ns: int
    trigger_ns: int = 0  # perf_counter_ns of the inbound message that caused it, when known


@dataclass(frozen=True, slots=True)
class RiskDenied:
    """The risk engine refused an order or replace."""

    symbol: str
    side: Side
    level: int
    reason_code: str
    detail: str


@dataclass(frozen=True, slots=True)
class TradingStateChanged:
    """ACTIVE / REDUCING / HALTED, with the recorded reason."""

    state: TradingState
    reason: str
