"""Shared builders and event filters for the venue tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from truex_qf.domain.model import (
    ExecutionReport,
    NewOrder,
    OrderCancelReject,
    OrdType,
    SelfMatchPrevention,
    Side,
    TimeInForce,
)
from truex_qf.sim import LevelChanged, MatchingEngine, ToClient, TradePrinted, VenueEvent

SYMBOL = "BTC-PYUSD"
OTHER_SYMBOL = "ETH-PYUSD"
ALICE = "11111111111111111"
BOB = "22222222222222222"
CAROL = "33333333333333333"
FIXED_TIME = datetime(2025, 9, 10, 18, 32, 27, 341860, tzinfo=UTC)
FIRST_ID = 1000


def D(value: str | int) -> Decimal:
    return Decimal(value)


def make_engine(**overrides: object) -> MatchingEngine:
    """An engine on BTC-PYUSD and ETH-PYUSD with a fixed clock and IDs from 1000."""
    settings: dict[str, object] = {"clock": lambda: FIXED_TIME, "first_id": FIRST_ID}
    settings.update(overrides)
    return MatchingEngine([SYMBOL, OTHER_SYMBOL], **settings)  # type: ignore[arg-type]


def limit(
    cl_ord_id: str,
    side: Side,
    quantity: str,
    price: str,
    *,
    symbol: str = SYMBOL,
    time_in_force: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    smp: SelfMatchPrevention | None = None,
) -> NewOrder:
    return NewOrder(
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        time_in_force=time_in_force,
        post_only=post_only,
        self_match_prevention=smp,
    )


def market(cl_ord_id: str, side: Side, quantity: str, *, symbol: str = SYMBOL) -> NewOrder:
    return NewOrder(
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        price=None,
        ord_type=OrdType.MARKET,
        time_in_force=TimeInForce.IOC,
    )


def reports(events: list[VenueEvent], owner: str | None = None) -> list[ExecutionReport]:
    """The execution reports among ``events`` (for ``owner`` only, if given), in order."""
    return [
        event.message
        for event in events
        if isinstance(event, ToClient)
        and isinstance(event.message, ExecutionReport)
        and (owner is None or event.owner == owner)
    ]


def cancel_rejects(events: list[VenueEvent]) -> list[OrderCancelReject]:
    return [
        event.message
        for event in events
        if isinstance(event, ToClient) and isinstance(event.message, OrderCancelReject)
    ]


def fills(events: list[VenueEvent], owner: str | None = None) -> list[ExecutionReport]:
    return [report for report in reports(events, owner) if report.is_fill]


def level_changes(events: list[VenueEvent]) -> list[LevelChanged]:
    return [event for event in events if isinstance(event, LevelChanged)]


def prints(events: list[VenueEvent]) -> list[TradePrinted]:
    return [event for event in events if isinstance(event, TradePrinted)]


def exec_types(events: list[VenueEvent], owner: str | None = None) -> list[str]:
    """ExecType(150)/OrdStatus(39) pairs like ``"A/A"``, ``"F/1"`` for compact assertions."""
    return [f"{r.exec_type.value}/{r.ord_status.value}" for r in reports(events, owner)]
