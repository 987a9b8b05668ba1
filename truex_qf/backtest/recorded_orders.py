"""The market without the recorded run: a capture taken during a run of ours, less that run's
own resting orders.

A capture taken while one of our runs traded (the demo's, ``run --capture``) shows the venue's
book with that run's quotes in it: they were real orders at the venue. Replayed as they are,
they would be liquidity of other traders, queued ahead of the backtest's own orders and
trading with them. So such a capture also holds the run's execution reports (35=8, session
``OE``: :data:`truex_qf.capture.sink.ORDER_ENTRY_SESSION`), and :class:`OthersBook` rebuilds
from them what of the run rested where, and takes it out of every captured level before the
level reaches the backtest's venue mirror and market maker. A capture without ``OE`` records
(``truex-qf capture``: no order of ours) is the other traders' book as it is.

Resting orders, from the reports alone: an order rests at its price with its LeavesQty(151)
from its first report that is not PendingNew, moves with each Replaced, shrinks with each
fill, and is gone at its first terminal status (filled, cancelled, rejected, expired). Orders
are told apart by OrderID(37), which a replace keeps.

The two sessions' messages arrive a little apart (the venue sends the order's report and the
book update it causes one after the other): between the two, a level is short of (or holds
too much of) the run's order for that moment. Levels never go below zero.
"""

from __future__ import annotations

from decimal import Decimal

from truex_qf.domain.model import (
    RESTING_SIDE,
    BookChange,
    ExecutionReport,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    OrdStatus,
    Side,
)

_ZERO = Decimal(0)
_ENTRY_TYPES = {Side.BUY: MDEntryType.BID, Side.SELL: MDEntryType.OFFER}
Level = tuple[str, Side, Decimal]  # symbol, side, price


class OthersBook:
    """Captured levels and the recorded run's own resting orders; events rewritten to show
    the difference (module doc).

    ``symbols``: the ones the backtest trades (an increment entry without Symbol(55) is the
    only one's, as the venue mirror reads it). Until the first own report, every event passes
    through unchanged: a capture without them is the other traders' market as it is.
    """

    def __init__(self, symbols: tuple[str, ...]) -> None:
        self._only = symbols[0] if len(symbols) == 1 else None
        self._captured: dict[Level, Decimal] = {}
        self._own: dict[Level, Decimal] = {}
        self._orders: dict[str, tuple[Level, Decimal]] = {}  # by OrderID
        self._snapshots: set[str] = set()  # symbols whose book a snapshot started
        self.active = False
        """Whether the capture held any report of the recorded run's (so far)."""
        self.own_reports = 0

    def own_size(self, symbol: str, side: Side, price: Decimal) -> Decimal:
        """The recorded run's resting quantity at one level now."""
        return self._own.get((symbol, side, price), _ZERO)

    def _others(self, level: Level) -> Decimal:
        return max(self._captured.get(level, _ZERO) - self._own.get(level, _ZERO), _ZERO)

    # ------------------------------------------------------------------ market data

    def snapshot(self, snapshot: MarketDataSnapshot) -> MarketDataSnapshot:
        """Note the captured book; the snapshot as the others' (itself while inactive)."""
        symbol = snapshot.symbol
        self._snapshots.add(symbol)
        for level in [key for key in self._captured if key[0] == symbol]:
            del self._captured[level]
        for entry in snapshot.entries:
            side = RESTING_SIDE.get(entry.entry_type)
            if side is not None and entry.price > 0 and entry.size > 0:
                self._captured[(symbol, side, entry.price)] = entry.size
        if not self.active:
            return snapshot
        entries = []
        for entry in snapshot.entries:
            side = RESTING_SIDE.get(entry.entry_type)
            if side is not None and entry.price > 0 and entry.size > 0:
                others = self._others((symbol, side, entry.price))
                if others <= 0:
                    continue
                entry = type(entry)(entry.entry_type, entry.price, others, entry.level)
            entries.append(entry)
        return MarketDataSnapshot(snapshot.md_req_id, symbol, tuple(entries), snapshot.received_ns)

    def increment(self, increment: MarketDataIncrement) -> MarketDataIncrement:
        """Note the captured changes; the increment as the others' (itself while inactive).

        Rewritten level changes are NEWs of the others' size: a size of 0 removes the level,
        or does nothing where the others held none (a DELETE or CHANGE there would be a
        level the book never saw)."""
        changes = []
        for change in increment.changes:
            side = RESTING_SIDE.get(change.entry_type)
            symbol = change.symbol or self._only
            if side is None or symbol is None:
                changes.append(change)
                continue
            level = (symbol, side, change.price)
            if change.action is MDUpdateAction.DELETE or change.price <= 0:
                self._captured.pop(level, None)
            else:
                self._captured[level] = max(change.size, _ZERO)
            if self.active and change.price > 0:
                change = change._replace(action=MDUpdateAction.NEW, size=self._others(level))
            changes.append(change)
        if not self.active:
            return increment
        return increment._replace(changes=tuple(changes))

    # ------------------------------------------------------------------ the run's reports

    def own_report(self, report: ExecutionReport) -> MarketDataIncrement | None:
        """Apply one of the recorded run's reports; the change of the others' levels it
        makes, as an increment (None when no level of a snapshotted book changed)."""
        self.active = True
        self.own_reports += 1
        touched: dict[Level, Decimal] = {}  # with the others' size before
        before = self._orders.pop(report.order_id, None)
        if before is not None:
            level, size = before
            touched[level] = self._others(level)
            self._add_own(level, -size)
        status = report.ord_status
        if (
            not status.is_terminal
            and status is not OrdStatus.PENDING_NEW
            and report.price is not None
            and report.leaves_qty > 0
        ):
            level = (report.symbol, report.side, report.price)
            touched.setdefault(level, self._others(level))
            self._orders[report.order_id] = (level, report.leaves_qty)
            self._add_own(level, report.leaves_qty)
        changes = tuple(
            BookChange(MDUpdateAction.NEW, _ENTRY_TYPES[level[1]], level[2], others, level[0])
            for level, was in touched.items()
            if level[0] in self._snapshots and (others := self._others(level)) != was
        )
        if not changes:
            return None
        return MarketDataIncrement(None, changes, report.received_ns)

    def _add_own(self, level: Level, size: Decimal) -> None:
        total = self._own.get(level, _ZERO) + size
        if total > 0:
            self._own[level] = total
        else:
            self._own.pop(level, None)
