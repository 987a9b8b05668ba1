"""Turns what happens into storage rows: FIX messages into the journal, trading into tables.

Both run on the threads that saw the fact (the engine's for messages, the trading loop's for
orders and fills) and only hand ``submit`` (the background writer's non-blocking queue) a
:class:`~truex_qf.storage.rows.Row` or, for a FIX message, a :class:`JournalMessage` that the
writer's thread turns into a redacted row before anything else sees it, so no secret ever
reaches the spill file or the database and the engine's threads only pay for a queue put.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from truex_qf.domain.dispatch import HandlerTable, on
from truex_qf.domain.model import (
    LogonRefused,
    SessionLoggedOn,
    SessionLoggedOut,
    SessionRejected,
    Side,
)
from truex_qf.fix.redaction import redact
from truex_qf.storage.rows import Row
from truex_qf.trading.events import RiskDenied, TradingStateChanged
from truex_qf.trading.orders import Fill, OrderManager, OrderStateChanged
from truex_qf.trading.positions import PositionBook

if TYPE_CHECKING:
    from truex_qf.trading.market_maker import MarketMaker

Submit = Callable[[Row], None]


def now_utc() -> datetime:
    return datetime.now(UTC)


def field_value(raw: str, tag: str) -> str | None:
    """The first value of ``tag`` in raw FIX text (header or body), found without a full parse."""
    marker = f"\x01{tag}="
    start = raw.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = raw.find("\x01", start)
    return raw[start:end] if end >= 0 else raw[start:]


@dataclass(frozen=True, slots=True)
class QuoteMarks:
    """One symbol's quotes against the market, for the ``quote_snapshots`` table.

    ``bid_quote_price`` / ``ask_quote_price``: our best working bid and ask (None: none
    working); ``truex_price`` and ``reference_price``: what the last quote decision read of
    the TrueX book (others' orders) and of the reference (None: no reference configured, no
    price yet, or no decision yet), so they are the prices our quotes were made from.
    """

    symbol: str
    bid_quote_price: Decimal | None
    ask_quote_price: Decimal | None
    truex_price: Decimal | None
    reference_price: Decimal | None


def quote_marks(mm: MarketMaker) -> list[QuoteMarks]:
    """Each of ``mm``'s symbols' :class:`QuoteMarks` now; call holding the trading lock."""
    marks = []
    for symbol, state in mm.symbols.items():
        bids: list[Decimal] = []
        asks: list[Decimal] = []
        for order in mm.orders.working_orders(symbol):
            if order.price is not None:
                (bids if order.side is Side.BUY else asks).append(order.price)
        decision = state.decision
        marks.append(
            QuoteMarks(
                symbol=symbol,
                bid_quote_price=max(bids, default=None),
                ask_quote_price=min(asks, default=None),
                truex_price=decision.truex_price if decision is not None else None,
                reference_price=decision.reference_price if decision is not None else None,
            )
        )
    return marks


class JournalMessage(NamedTuple):
    """One message as the engine log saw it, not yet a row.

    The tap runs on the engine's threads for every message in and out, so it only records
    this (a tuple and a queue put); :meth:`row` does the parsing and the redaction on the
    store writer's thread, before the row can reach the spill file or the database.
    """

    run_id: str
    session: str
    direction: str
    raw: str
    logged_at_s: float  # time.time() when the engine log saw it

    def row(self) -> Row:
        raw = self.raw
        seq = field_value(raw, "34")
        return Row(
            "fix_journal",
            {
                "run_id": self.run_id,
                "session": self.session,
                "direction": self.direction,
                "msg_type": field_value(raw, "35") or "?",
                "seq_num": int(seq) if seq and seq.isdigit() else None,
                "cl_ord_id": field_value(raw, "11"),
                "text": redact(raw),
                "logged_at": datetime.fromtimestamp(self.logged_at_s, UTC),
            },
        )


class JournalTap:
    """Called by the engine log for every message in and out, admin and application."""

    def __init__(self, run_id: str, submit: Callable[[JournalMessage], None]) -> None:
        self.run_id = run_id
        self._submit = submit

    def __call__(self, session: str, direction: str, raw: str) -> None:
        self._submit(JournalMessage(self.run_id, session, direction, raw, time.time()))


class StoreRecorder:
    """A market-maker listener: orders, order events, fills, risk and session events."""

    def __init__(
        self,
        run_id: str,
        submit: Submit,
        orders: OrderManager,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        """``clock``: the UTC time rows are stamped with (a backtest's virtual clock)."""
        self.run_id = run_id
        self._now = clock
        self._submit = submit
        self._orders = orders
        self._created: dict[str, datetime] = {}  # first time each order lineage was seen
        self._handlers: HandlerTable = dict(
            [
                on(OrderStateChanged, self._order_changed),
                on(Fill, self._fill),
                on(RiskDenied, self._denied),
                on(TradingStateChanged, self._state_changed),
                on(SessionLoggedOn, self._session),
                on(SessionLoggedOut, self._session),
                on(LogonRefused, self._session),
                on(SessionRejected, self._session),
            ]
        )

    def __call__(self, event: object) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _row(self, table: str, **values: object) -> None:
        self._submit(Row(table, {"run_id": self.run_id, **values}))

    def _lineage(self, cl_ord_id: str) -> str:
        order = self._orders.get(cl_ord_id)
        return order.cl_ord_ids[0] if order and order.cl_ord_ids else cl_ord_id

    def _order_changed(self, event: OrderStateChanged) -> None:
        at = self._now()
        self._row(
            "order_events",
            cl_ord_id=self._lineage(event.cl_ord_id),
            event_cl_ord_id=event.cl_ord_id,
            previous_state=event.previous.value if event.previous else None,
            state=event.state.value,
            reason=event.reason,
            text=event.text,
            at=at,
        )
        self._upsert_order(event.cl_ord_id, at)

    def _fill(self, fill: Fill) -> None:
        at = self._now()
        self._row(
            "executions",
            exec_id=fill.exec_id,
            cl_ord_id=self._lineage(fill.cl_ord_id),
            order_id=fill.order_id,
            symbol=fill.symbol,
            side=fill.side.name,
            quantity=fill.qty,
            price=fill.price,
            fee=fill.fee,
            liquidity=fill.liquidity,
            trade_match_id=fill.trade_match_id,
            at=at,
        )
        # a second partial fill changes quantities without changing the state
        self._upsert_order(fill.cl_ord_id, at)

    def _upsert_order(self, cl_ord_id: str, at: datetime) -> None:
        """The order's current row: the writer upserts ``orders`` by its lineage key."""
        order = self._orders.get(cl_ord_id)
        if order is None:
            return
        lineage = self._lineage(cl_ord_id)
        self._row(
            "orders",
            cl_ord_id=lineage,
            current_cl_ord_id=order.cl_ord_id,
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side.name,
            ord_type=order.ord_type.name,
            time_in_force=order.time_in_force.name,
            price=order.price,
            quantity=order.qty,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves,
            avg_px=order.avg_px,
            state=order.state.value,
            created_at=self._created.setdefault(lineage, at),
            updated_at=at,
        )

    def _denied(self, event: RiskDenied) -> None:
        self._row(
            "risk_events",
            kind="DENIAL",
            reason_code=event.reason_code,
            symbol=event.symbol,
            detail=f"{event.side.name} level {event.level}: {event.detail}",
            at=self._now(),
        )

    def _state_changed(self, event: TradingStateChanged) -> None:
        self._row(
            "risk_events",
            kind="STATE",
            reason_code=event.state.value,
            symbol=None,
            detail=event.reason,
            at=self._now(),
        )

    def _session(
        self, event: SessionLoggedOn | SessionLoggedOut | LogonRefused | SessionRejected
    ) -> None:
        kind = {
            SessionLoggedOn: "LOGON",
            SessionLoggedOut: "LOGOUT",
            LogonRefused: "LOGON_REFUSED",
            SessionRejected: "REJECT",
        }[type(event)]
        self._row(
            "session_events",
            session=event.session,
            role=event.role.value,
            kind=kind,
            text=getattr(event, "text", None),
            at=self._now(),
        )

    def snapshot(
        self,
        positions: PositionBook,
        fair_values: Mapping[str, Decimal],
        quotes: Iterable[QuoteMarks] = (),
    ) -> None:
        """Position, PnL and our quotes against the market per symbol, now (the pipeline calls
        this periodically and at the end; ``quotes`` from :func:`quote_marks`)."""
        at = self._now()
        for marks in quotes:
            self._row(
                "quote_snapshots",
                symbol=marks.symbol,
                bid_quote_price=marks.bid_quote_price,
                ask_quote_price=marks.ask_quote_price,
                truex_price=marks.truex_price,
                reference_price=marks.reference_price,
                at=at,
            )
        for symbol, snap in positions.snapshot(fair_values).items():
            self._row(
                "position_snapshots",
                symbol=symbol,
                quantity_base=snap.quantity_base,
                avg_entry_price=snap.avg_entry_price,
                fair_value=snap.fair_value,
                at=at,
            )
            self._row(
                "pnl_snapshots",
                symbol=symbol,
                realized_pnl_quote=snap.realized_pnl_quote,
                unrealized_pnl_quote=snap.unrealized_pnl_quote,
                fees_quote=snap.fees_quote,
                at=at,
            )
