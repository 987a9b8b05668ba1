"""Rebuild a run's orders, positions and PnL from its FIX journal alone, and audit the tables.

:func:`rebuild_from_journal` walks one run's ``fix_journal`` rows in id order (the order the
messages crossed the wire) through the same :class:`~truex_qf.trading.orders.OrderManager` and
:class:`~truex_qf.trading.positions.PositionBook` the live program uses:

- OUT 35=D registers the order with :meth:`OrderManager.track` (the journal's ClOrdID is the
  one the program chose);
- OUT 35=F / 35=G go through :meth:`OrderManager.cancel` / :meth:`OrderManager.replace`, which
  also move the order to PENDING_CANCEL / PENDING_REPLACE. Those methods draw the request's
  ClOrdID from the manager's ID generator, so the replay gives the manager a generator that
  hands out the ID read from the journal (:class:`JournalClOrdIds`) — the smallest adapter that
  keeps the manager's own request bookkeeping instead of copying it here;
- IN 35=8 / 35=9 / 35=j go through the readers to ``on_execution_report`` /
  ``on_cancel_reject`` / ``on_business_reject``; every Fill event reaches the PositionBook.

- rows of the ``REST`` session are reconciliation's decisions
  (:mod:`truex_qf.storage.venue_decisions`): its 35=8 go through ``on_execution_report`` like
  any report (an unknown ClOrdID with ExecType New is an adopted venue order, tracked first),
  35=AE is an earlier run's order's trade (a Fill for the position), 35=AP the position the
  run started from; its OUT rows (cancels of others' orders) are information only.

No other table is read. :func:`compare_with_tables` then lists every disagreement with what the
program stored in ``orders``, ``executions`` and the last ``position_snapshots`` and
``pnl_snapshots`` row per symbol.

Known limits: the live program's ack timeouts (ACK_TIMEOUT -> UNCERTAIN) depend on when it
checked its clock, which the journal does not record, so they are not replayed: an order that
never got an answer stays PENDING_* here where the program may have stored UNCERTAIN. The
journal orders a report that raced a request by wire time, which may differ from the order the
trading thread saw; the state table converges either way for the races TrueX produces.
Position and PnL snapshots are periodic: a difference noted as "older than the last fill" may
only mean the program had not taken a snapshot since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.model import (
    ExecType,
    NewOrder,
    OrdType,
    SelfMatchPrevention,
    Side,
    TimeInForce,
)
from truex_qf.fix.readers import (
    MalformedMessage,
    read_business_reject,
    read_cancel_reject,
    read_execution_report,
    split_fields,
)
from truex_qf.storage.journal import STREAM_BATCH_ROWS, as_utc
from truex_qf.storage.schema import (
    executions,
    fix_journal,
    orders,
    pnl_snapshots,
    position_snapshots,
)
from truex_qf.storage.venue_decisions import REST_SESSION
from truex_qf.trading.orders import (
    Fill,
    ManagedOrder,
    OrderEvent,
    OrderManager,
    OrderRefused,
    OrderWarning,
)
from truex_qf.trading.positions import Position, PositionBook

ZERO = Decimal(0)

# Replay warning codes (besides the OrderManager's own OrderWarning codes).
MALFORMED = "MALFORMED"
REQUEST_REFUSED = "REQUEST_REFUSED"
DUPLICATE_REQUEST = "DUPLICATE_REQUEST"

ROW = "row"
PRESENT = "present"
ABSENT = "absent"

_OUTBOUND = ("D", "F", "G")
_INBOUND = ("8", "9", "j")
_DECISIONS = ("AE", "AP")  # REST session only


# --------------------------------------------------------------------------- the adapter


class JournalClOrdIds(ClOrdIdGenerator):
    """A ClOrdID "generator" that hands out the IDs the journal says the program used.

    :meth:`OrderManager.cancel` and :meth:`OrderManager.replace` take the request's ClOrdID
    from ``next_id()``; :meth:`stage` sets what that call returns, once.
    """

    def __init__(self) -> None:
        super().__init__(prefix="J", boot_ms=0)
        self._staged: str | None = None

    def stage(self, cl_ord_id: str) -> None:
        self._staged = cl_ord_id

    def next_id(self) -> str:
        staged, self._staged = self._staged, None
        if staged is None:
            raise RuntimeError("replay asked for a ClOrdID the journal did not supply")
        return staged


# --------------------------------------------------------------------------- the state


@dataclass(frozen=True, slots=True)
class ReplayWarning:
    """Something the replay noticed at one journal row: an OrderWarning or a journal problem."""

    journal_id: int
    code: str
    cl_ord_id: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class ReplayedFill:
    """A Fill event of the replay, with the journal row it came from."""

    journal_id: int
    logged_at: datetime
    fill: Fill


@dataclass(slots=True)
class ReplayState:
    """Orders, positions and fills of one run as its journal tells them.

    ``lineages`` holds every order's first ClOrdID in the order the orders were sent;
    ``orders.get(any_id)`` finds the lineage of any of its IDs. ``resent_requests`` counts
    D/F/G rows that were PossDup resends of a request already replayed (skipped); venue
    resends of reports are in ``orders.duplicate_exec_ids``.
    """

    run_id: str
    orders: OrderManager
    positions: PositionBook
    lineages: list[str] = field(default_factory=list)
    fills: list[ReplayedFill] = field(default_factory=list)
    warnings: list[ReplayWarning] = field(default_factory=list)
    rows_replayed: int = 0
    resent_requests: int = 0
    last_journal_id: int | None = None
    last_fill_at: dict[str, datetime] = field(default_factory=dict)

    def order(self, cl_ord_id: str) -> ManagedOrder | None:
        """The lineage that any of its ClOrdIDs belongs to."""
        return self.orders.get(cl_ord_id)

    def all_orders(self) -> Iterator[ManagedOrder]:
        """Every order lineage, in the order the orders were sent."""
        for cl_ord_id in self.lineages:
            order = self.orders.get(cl_ord_id)
            if order is not None:
                yield order

    def position(self, symbol: str) -> Position | None:
        return self.positions.get(symbol)


class _JournalClock:
    """The manager's clock during replay: the ``logged_at`` of the row being replayed."""

    __slots__ = ("now_s",)

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


# --------------------------------------------------------------------------- rebuild


def rebuild_from_journal(engine: Engine, run_id: str) -> ReplayState:
    """Replay one run's order flow from ``fix_journal`` (see the module docstring)."""
    ids = JournalClOrdIds()
    clock = _JournalClock()
    state = ReplayState(
        run_id=run_id, orders=OrderManager(ids, clock=clock), positions=PositionBook()
    )
    columns = fix_journal.c
    query = (
        select(
            columns.id,
            columns.session,
            columns.direction,
            columns.msg_type,
            columns.text,
            columns.logged_at,
        )
        .where(
            columns.run_id == run_id,
            or_(
                and_(
                    columns.direction == "OUT",
                    columns.msg_type.in_(_OUTBOUND),
                    columns.session != REST_SESSION,
                ),
                and_(columns.direction == "IN", columns.msg_type.in_(_INBOUND)),
                and_(
                    columns.direction == "IN",
                    columns.msg_type.in_(_DECISIONS),
                    columns.session == REST_SESSION,
                ),
            ),
        )
        .order_by(columns.id)
    )
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=STREAM_BATCH_ROWS).execute(query)
        for row in result:
            logged_at = as_utc(row.logged_at)
            clock.now_s = logged_at.timestamp()
            if row.session == REST_SESSION:
                _replay_decision(state, row.id, row.msg_type, row.text, logged_at)
            else:
                _replay_row(state, ids, row.id, row.msg_type, row.text, logged_at)
    return state


def _replay_row(
    state: ReplayState,
    ids: JournalClOrdIds,
    journal_id: int,
    msg_type: str,
    text: str,
    logged_at: datetime,
) -> None:
    state.rows_replayed += 1
    state.last_journal_id = journal_id
    try:
        if msg_type in _OUTBOUND:
            _replay_request(state, ids, journal_id, msg_type, text)
            return
        manager = state.orders
        if msg_type == "8":
            events = manager.on_execution_report(read_execution_report(text))
        elif msg_type == "9":
            events = manager.on_cancel_reject(read_cancel_reject(text))
        else:
            events = manager.on_business_reject(read_business_reject(text))
    except (MalformedMessage, ValueError) as exc:  # bad enum values raise plain ValueError
        _warn(state, journal_id, MALFORMED, None, f"35={msg_type}: {exc}")
        return
    _take_events(state, journal_id, logged_at, events)


def _replay_decision(
    state: ReplayState, journal_id: int, msg_type: str, text: str, logged_at: datetime
) -> None:
    """One of reconciliation's decisions (see the module docstring)."""
    state.rows_replayed += 1
    state.last_journal_id = journal_id
    manager = state.orders
    try:
        if msg_type == "8":
            report = read_execution_report(text)
            if manager.get(report.cl_ord_id) is None and report.exec_type is ExecType.NEW:
                manager.track(
                    NewOrder(
                        report.cl_ord_id,
                        report.symbol,
                        report.side,
                        report.order_qty,
                        report.price,
                    )
                )
                state.lineages.append(report.cl_ord_id)
            events: list[OrderEvent] = manager.on_execution_report(report)
        elif msg_type == "AE":
            events = [_recovered_fill(_first_fields(msg_type, text))]
        else:  # AP
            fields = _first_fields(msg_type, text)
            state.positions.seed(
                _required(fields, msg_type, 55),
                _decimal(fields, msg_type, 53),
                _decimal(fields, msg_type, 381),
            )
            return
    except (MalformedMessage, ValueError) as exc:
        _warn(state, journal_id, MALFORMED, None, f"REST 35={msg_type}: {exc}")
        return
    _take_events(state, journal_id, logged_at, events)


def _recovered_fill(fields: Mapping[int, str]) -> Fill:
    fee = _decimal(fields, "AE", 137) if fields.get(137) else ZERO
    return Fill(
        cl_ord_id=_required(fields, "AE", 11),
        order_id=fields.get(37),
        symbol=_required(fields, "AE", 55),
        side=Side(_required(fields, "AE", 54)),
        qty=_decimal(fields, "AE", 32),
        price=_decimal(fields, "AE", 31),
        fee=fee,
        exec_id=_required(fields, "AE", 17),
        liquidity=fields.get(851),
        trade_match_id=fields.get(880),
    )


def _take_events(
    state: ReplayState, journal_id: int, logged_at: datetime, events: list[OrderEvent]
) -> None:
    for event in events:
        if isinstance(event, Fill):
            state.positions.on_fill(event)
            state.fills.append(ReplayedFill(journal_id, logged_at, event))
            state.last_fill_at[event.symbol] = logged_at
        elif isinstance(event, OrderWarning):
            _warn(state, journal_id, event.code, event.cl_ord_id, event.detail)


def _replay_request(
    state: ReplayState, ids: JournalClOrdIds, journal_id: int, msg_type: str, text: str
) -> None:
    """Register an outbound D/F/G in the manager, as the program did before sending it."""
    fields = _first_fields(msg_type, text)
    cl_ord_id = _required(fields, msg_type, 11)
    manager = state.orders
    if manager.get(cl_ord_id) is not None:
        # QuickFIX journals a request again when it resends it (PossDupFlag 43=Y) after a
        # ResendRequest: normal, counted. The same ID without 43=Y is a program bug.
        if fields.get(43) == "Y":
            state.resent_requests += 1
        else:
            _warn(state, journal_id, DUPLICATE_REQUEST, cl_ord_id, f"35={msg_type} reused the ID")
        return
    if msg_type == "D":
        manager.track(_new_order(fields))
        state.lineages.append(cl_ord_id)
        return
    orig_cl_ord_id = _required(fields, msg_type, 41)
    ids.stage(cl_ord_id)
    try:
        if msg_type == "F":
            manager.cancel(orig_cl_ord_id)
        else:
            price = _decimal(fields, msg_type, 44)
            manager.replace(orig_cl_ord_id, price, _decimal(fields, msg_type, 38))
    except OrderRefused as refused:
        # The live manager would have refused it too: the program sent it some other way.
        _warn(state, journal_id, REQUEST_REFUSED, cl_ord_id, f"35={msg_type}: {refused}")


def _warn(
    state: ReplayState, journal_id: int, code: str, cl_ord_id: str | None, detail: str
) -> None:
    state.warnings.append(ReplayWarning(journal_id, code, cl_ord_id, detail))


def _first_fields(msg_type: str, text: str) -> dict[int, str]:
    fields: dict[int, str] = {}
    try:
        pairs = split_fields(text)
    except ValueError:
        raise MalformedMessage(msg_type, 0, "text is not tag=value FIX") from None
    for tag, value in pairs:
        fields.setdefault(tag, value)
    return fields


def _required(fields: Mapping[int, str], msg_type: str, tag: int) -> str:
    value = fields.get(tag)
    if not value:
        raise MalformedMessage(msg_type, tag, "is missing")
    return value


def _decimal(fields: Mapping[int, str], msg_type: str, tag: int) -> Decimal:
    value = _required(fields, msg_type, tag)
    try:
        return Decimal(value)
    except InvalidOperation:
        raise MalformedMessage(msg_type, tag, f"is not a number: {value!r}") from None


def _new_order(fields: Mapping[int, str]) -> NewOrder:
    """The NewOrder a 35=D was built from (builders.py writes these tags)."""
    ord_type = OrdType(fields.get(40, OrdType.LIMIT.value))
    smp = fields.get(2964)
    return NewOrder(
        cl_ord_id=_required(fields, "D", 11),
        symbol=_required(fields, "D", 55),
        side=Side(_required(fields, "D", 54)),
        quantity=_decimal(fields, "D", 38),
        price=_decimal(fields, "D", 44) if fields.get(44) else None,
        ord_type=ord_type,
        time_in_force=TimeInForce(fields.get(59, TimeInForce.GTC.value)),
        post_only="6" in fields.get(18, "").split(),
        self_match_prevention=SelfMatchPrevention(smp) if smp else None,
    )


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True, slots=True)
class Difference:
    """One disagreement between a stored table and the replay.

    ``key`` is the row's key (ClOrdID of the lineage, ExecID, or symbol). For a row present on
    one side only, ``field`` is ``"row"`` and the values are ``"present"``/``"absent"``.
    """

    table: str
    key: str
    field: str
    stored: object
    replayed: object
    note: str = ""

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return (
            f"{self.table} {self.key} {self.field}: "
            f"stored {self.stored}, replayed {self.replayed}{note}"
        )


def compare_with_tables(engine: Engine, run_id: str, state: ReplayState) -> list[Difference]:
    """Every disagreement between the run's stored rows and ``state``, table by table.

    - ``orders`` (key: the lineage's first ClOrdID): current ClOrdID, OrderID, symbol, side,
      price, quantity, cum_qty, leaves_qty, state;
    - ``executions`` (key: ExecID): ClOrdID (any ID of the same lineage counts as equal; the
      recorder stores the lineage's first ID, the Fill event carries the current one), symbol,
      side, quantity, price, fee;
    - the last ``position_snapshots`` row per symbol: quantity_base, avg_entry_price;
    - the last ``pnl_snapshots`` row per symbol: realized_pnl_quote (net of fees, as
      :attr:`Position.realized_pnl_quote`), fees_quote.

    An order of this run whose row a later run took over (it adopted the order) is not a
    difference. Decimals are equal when they agree to 18 decimal places (PostgreSQL's
    NUMERIC(38, 18) rounds a repeating average price there). Sides compare by name, so BUY
    equals ``"1"``.
    """
    with engine.connect() as connection:
        stored_orders = _rows(connection, select(orders).where(orders.c.run_id == run_id))
        adopted_later = _adopted_later(connection, run_id, state, stored_orders)
        stored_fills = _rows(connection, select(executions).where(executions.c.run_id == run_id))
        positions = _rows(connection, _last_per_symbol(position_snapshots, run_id))
        pnl = _rows(connection, _last_per_symbol(pnl_snapshots, run_id))
    return [
        *_compare_orders(stored_orders, state, adopted_later),
        *_compare_executions(stored_fills, state),
        *_compare_snapshots(
            "position_snapshots", positions, state, _POSITION_FIELDS, require_row=True
        ),
        *_compare_snapshots("pnl_snapshots", pnl, state, _PNL_FIELDS, require_row=False),
    ]


def _rows(connection: Any, query: Any) -> list[Mapping[str, Any]]:
    return [row._mapping for row in connection.execute(query)]


def _last_per_symbol(table: Any, run_id: str) -> Any:
    last_ids = (
        select(func.max(table.c.id))
        .where(table.c.run_id == run_id)
        .group_by(table.c.symbol)
        .scalar_subquery()
    )
    return select(table).where(table.c.id.in_(last_ids))


_ORDER_FIELDS: tuple[tuple[str, Callable[[ManagedOrder], object]], ...] = (
    ("current_cl_ord_id", lambda order: order.cl_ord_id),
    ("order_id", lambda order: order.order_id),
    ("symbol", lambda order: order.symbol),
    ("side", lambda order: order.side.name),
    ("price", lambda order: order.price),
    ("quantity", lambda order: order.qty),
    ("cum_qty", lambda order: order.cum_qty),
    ("leaves_qty", lambda order: order.leaves),
    ("state", lambda order: order.state.value),
)


def _adopted_later(
    connection: Any, run_id: str, state: ReplayState, stored: list[Mapping[str, Any]]
) -> set[str]:
    """Orders of this run whose row belongs to a later run now: that run's reconciliation
    adopted them (TRUEX_UNKNOWN_ORDERS=adopt) under the same ClOrdID, the row's key."""
    mine = {row["cl_ord_id"] for row in stored}
    missing = [o.cl_ord_ids[0] for o in state.all_orders() if o.cl_ord_ids[0] not in mine]
    if not missing:
        return set()
    query = select(orders.c.cl_ord_id).where(
        orders.c.cl_ord_id.in_(missing), orders.c.run_id != run_id
    )
    return {row.cl_ord_id for row in connection.execute(query)}


def _compare_orders(
    stored: list[Mapping[str, Any]],
    state: ReplayState,
    adopted_later: AbstractSet[str] = frozenset(),
) -> list[Difference]:
    differences: list[Difference] = []
    stored_keys = set()
    for row in stored:
        key = row["cl_ord_id"]
        stored_keys.add(key)
        order = state.order(key)
        if order is None or order.cl_ord_ids[0] != key:
            differences.append(Difference("orders", key, ROW, PRESENT, ABSENT))
            continue
        for name, replayed_value in _ORDER_FIELDS:
            stored_value, replayed = _normalized(name, row[name]), replayed_value(order)
            if not _same(stored_value, replayed):
                differences.append(Difference("orders", key, name, stored_value, replayed))
    for order in state.all_orders():
        key = order.cl_ord_ids[0]
        if key not in stored_keys and key not in adopted_later:
            differences.append(Difference("orders", key, ROW, ABSENT, PRESENT))
    return differences


_FILL_FIELDS: tuple[tuple[str, Callable[[Fill], object]], ...] = (
    ("symbol", lambda fill: fill.symbol),
    ("side", lambda fill: fill.side.name),
    ("quantity", lambda fill: fill.qty),
    ("price", lambda fill: fill.price),
    ("fee", lambda fill: fill.fee),
)


def _compare_executions(stored: list[Mapping[str, Any]], state: ReplayState) -> list[Difference]:
    replayed_fills = {replayed.fill.exec_id: replayed.fill for replayed in state.fills}
    differences: list[Difference] = []
    for row in stored:
        key = row["exec_id"]
        fill = replayed_fills.pop(key, None)
        if fill is None:
            differences.append(Difference("executions", key, ROW, PRESENT, ABSENT))
            continue
        if not _same_lineage(state, row["cl_ord_id"], fill.cl_ord_id):
            replayed_key = _lineage_key(state, fill.cl_ord_id)
            differences.append(
                Difference("executions", key, "cl_ord_id", row["cl_ord_id"], replayed_key)
            )
        for name, replayed_value in _FILL_FIELDS:
            stored_value, replayed = _normalized(name, row[name]), replayed_value(fill)
            if not _same(stored_value, replayed):
                differences.append(Difference("executions", key, name, stored_value, replayed))
    differences += [
        Difference("executions", exec_id, ROW, ABSENT, PRESENT) for exec_id in replayed_fills
    ]
    return differences


def _lineage_key(state: ReplayState, cl_ord_id: str) -> str:
    """The lineage's first ClOrdID (the recorder's key), or the ID itself if unknown."""
    order = state.order(cl_ord_id)
    return order.cl_ord_ids[0] if order is not None else cl_ord_id


def _same_lineage(state: ReplayState, stored_id: str, replayed_id: str) -> bool:
    if stored_id == replayed_id:
        return True
    order = state.order(replayed_id)
    return order is not None and state.order(stored_id) is order


_POSITION_FIELDS: tuple[tuple[str, Callable[[Position], object]], ...] = (
    ("quantity_base", lambda position: position.quantity_base),
    ("avg_entry_price", lambda position: position.avg_entry_price),
)
_PNL_FIELDS: tuple[tuple[str, Callable[[Position], object]], ...] = (
    ("realized_pnl_quote", lambda position: position.realized_pnl_quote),
    ("fees_quote", lambda position: position.fees_quote),
)


def _compare_snapshots(
    table: str,
    stored: list[Mapping[str, Any]],
    state: ReplayState,
    fields: tuple[tuple[str, Callable[[Position], object]], ...],
    *,
    require_row: bool,
) -> list[Difference]:
    """The last stored snapshot per symbol against the replayed position at the journal's end.

    A symbol that never filled replays as a flat position. With ``require_row``, a symbol that
    filled but has no snapshot at all is a difference too.
    """
    differences: list[Difference] = []
    seen = set()
    for row in stored:
        symbol = row["symbol"]
        seen.add(symbol)
        position = state.position(symbol) or Position(symbol)
        last_fill = state.last_fill_at.get(symbol)
        taken_at = as_utc(row["at"])
        note = ""
        if last_fill is not None and taken_at < last_fill:
            note = f"snapshot at {taken_at.isoformat()} is older than the last fill {last_fill}"
        for name, replayed_value in fields:
            replayed = replayed_value(position)
            if not _same(row[name], replayed):
                differences.append(Difference(table, symbol, name, row[name], replayed, note))
    if require_row:
        differences += [
            Difference(table, symbol, ROW, ABSENT, PRESENT)
            for symbol in sorted(state.last_fill_at)
            if symbol not in seen
        ]
    return differences


_EXACT = Decimal("1e-18")
_WIDE = Context(prec=80)


def _same(stored: object, replayed: object) -> bool:
    if isinstance(stored, Decimal) and isinstance(replayed, Decimal):
        return stored.quantize(_EXACT, context=_WIDE) == replayed.quantize(_EXACT, context=_WIDE)
    return stored == replayed


def _normalized(name: str, value: object) -> object:
    """Stored sides may be names (BUY) or FIX values (1): compare them as names."""
    if name == "side" and isinstance(value, str) and value in Side._value2member_map_:
        return Side(value).name
    return value
