"""What the market maker tells its listeners, besides the order manager's own events.

Listeners (the store recorder, metrics, alerts) run on the trading thread right after the fact,
so they must be cheap: they convert and enqueue, never wait on I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from truex_qf.domain.model import ExecutionReport, Side
from truex_qf.trading.orders import Fill
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


# ---------------------------------------------------------------------- reconciliation
# What reconciliation decided, told to listeners *before* it takes effect, so the journal
# records each decision where it happened and ``replay`` reproduces it.


@dataclass(frozen=True, slots=True)
class VenueCorrection:
    """A report reconciliation feeds the order manager on the venue's word (REST): a missed
    fill, a New never seen, an order marked canceled, or an adopted venue order (``adopted``)."""

    report: ExecutionReport
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class RecoveredTrade:
    """A venue trade of an order this run does not know (an earlier run's): position only."""

    fill: Fill


@dataclass(frozen=True, slots=True)
class PositionBaseline:
    """The position a run starts from (the store's, before the venue's missed trades):
    signed base quantity and what it cost (unsigned, quote currency)."""

    symbol: str
    quantity_base: Decimal
    cost_basis_quote: Decimal


@dataclass(frozen=True, slots=True)
class VenueOrdersCancelled:
    """Reconciliation asked the venue (REST) to cancel orders this run did not place."""

    order_ids: tuple[str, ...]
