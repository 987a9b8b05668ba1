"""Positions and PnL per symbol, built from fills only.

Fills are the one source of truth: orders say what we asked for, fills say what happened. The
book uses average cost: buying adds to the average entry price, selling against a long
realizes ``closed_qty * (exit - average)``; a fill larger than the position closes it and opens
the other side at the fill price. Fees are in the quote currency (spec §5.4); they are
subtracted from realized PnL and also reported on their own, so a fee schedule change is
visible apart from trading skill. Everything is :class:`~decimal.Decimal`.

Threading: owned by the trading thread, like :class:`~truex_qf.trading.orders.OrderManager`;
no locks. Duplicate fills are filtered upstream (the order manager dedupes ExecIDs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from truex_qf.domain.model import Side
from truex_qf.trading.orders import Fill

ZERO = Decimal(0)


@dataclass(slots=True)
class Position:
    """Running position of one symbol. ``quantity_base`` is signed: long > 0, short < 0.

    The open position's cost is kept as ``cost_basis_quote`` (what it cost, unsigned) and the
    average entry price is derived from it. Dividing only when part of a position closes keeps
    every round trip exact: once flat, realized PnL is exactly proceeds minus cost, with no
    28-digit rounding residue from a repeating average such as 302/3.
    """

    symbol: str
    quantity_base: Decimal = ZERO
    cost_basis_quote: Decimal = ZERO
    gross_realized_pnl_quote: Decimal = ZERO
    fees_quote: Decimal = ZERO
    bought_base: Decimal = ZERO
    sold_base: Decimal = ZERO
    fill_count: int = 0

    @property
    def avg_entry_price(self) -> Decimal | None:
        """Average cost of the open position; None when flat."""
        if self.quantity_base == ZERO:
            return None
        return self.cost_basis_quote / abs(self.quantity_base)

    @property
    def realized_pnl_quote(self) -> Decimal:
        """Realized trading PnL net of fees."""
        return self.gross_realized_pnl_quote - self.fees_quote

    def unrealized_pnl_quote(self, fair_value: Decimal) -> Decimal:
        """What closing the open position at ``fair_value`` would realize (fees excluded)."""
        if self.quantity_base == ZERO:
            return ZERO
        if self.quantity_base > ZERO:
            return self.quantity_base * fair_value - self.cost_basis_quote
        return self.cost_basis_quote + self.quantity_base * fair_value

    def apply(self, side: Side, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        """Apply one fill by average cost; see the module docstring."""
        if qty <= ZERO:
            raise ValueError(f"fill quantity must be positive, got {qty}")
        signed_qty = qty if side is Side.BUY else -qty
        if side is Side.BUY:
            self.bought_base += qty
        else:
            self.sold_base += qty
        self.fees_quote += fee
        self.fill_count += 1
        if self.quantity_base == ZERO or (self.quantity_base > ZERO) == (signed_qty > ZERO):
            self._add(signed_qty, price)
        else:
            self._reduce(signed_qty, price)

    def _add(self, signed_qty: Decimal, price: Decimal) -> None:
        """Open or extend: the cost grows, so the average becomes the weighted mean."""
        self.cost_basis_quote += abs(signed_qty) * price
        self.quantity_base += signed_qty

    def _reduce(self, signed_qty: Decimal, price: Decimal) -> None:
        """Close (part of) the position; any excess opens the other side at ``price``."""
        open_qty = abs(self.quantity_base)
        closed = min(abs(signed_qty), open_qty)
        direction = 1 if self.quantity_base > ZERO else -1
        # Closing everything releases the whole cost: no division, no residue.
        released_cost = (
            self.cost_basis_quote
            if closed == open_qty
            else self.cost_basis_quote * closed / open_qty
        )
        self.gross_realized_pnl_quote += (closed * price - released_cost) * direction
        self.cost_basis_quote -= released_cost
        self.quantity_base += signed_qty
        flipped_qty = abs(signed_qty) - closed
        if flipped_qty > ZERO:  # through zero: the rest is a new position at this price
            self.cost_basis_quote = flipped_qty * price


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """One symbol's position and PnL at a moment, for reports, metrics and the database.

    The unrealized and total figures are None when no fair value was given for the symbol.
    """

    symbol: str
    quantity_base: Decimal
    avg_entry_price: Decimal | None
    cost_basis_quote: Decimal
    realized_pnl_quote: Decimal
    gross_realized_pnl_quote: Decimal
    fees_quote: Decimal
    fair_value: Decimal | None
    unrealized_pnl_quote: Decimal | None
    total_pnl_quote: Decimal | None
    bought_base: Decimal
    sold_base: Decimal
    fill_count: int


class PositionBook:
    """Positions of every symbol traded, fed by :class:`~truex_qf.trading.orders.Fill` events."""

    def __init__(self) -> None:
        self._positions: dict[str, Position] = {}

    def on_fill(self, fill: Fill) -> Position:
        """Apply a fill event from the order manager."""
        return self.apply_fill(fill.symbol, fill.side, fill.qty, fill.price, fill.fee)

    def apply_fill(
        self, symbol: str, side: Side, qty: Decimal, price: Decimal, fee: Decimal = ZERO
    ) -> Position:
        """Apply one fill; ``fee`` is in quote currency, positive when paid (negative: rebate)."""
        position = self._positions.get(symbol)
        if position is None:
            position = self._positions[symbol] = Position(symbol)
        position.apply(side, qty, price, fee)
        return position

    def seed(self, symbol: str, quantity_base: Decimal, cost_basis_quote: Decimal) -> Position:
        """Start ``symbol`` from a position carried over (an earlier run's): its quantity and
        cost, with nothing realized in this book. Replaces what the book held for it: call it
        before the symbol's first fill of this run."""
        position = self._positions[symbol] = Position(
            symbol, quantity_base=quantity_base, cost_basis_quote=abs(cost_basis_quote)
        )
        return position

    def get(self, symbol: str) -> Position | None:
        """The position of ``symbol``, or None if it never traded."""
        return self._positions.get(symbol)

    def position_base(self, symbol: str) -> Decimal:
        """Signed position in base currency; zero for a symbol that never traded."""
        position = self._positions.get(symbol)
        return position.quantity_base if position else ZERO

    def unrealized_pnl(self, symbol: str, fair_value: Decimal) -> Decimal:
        """Mark-to-market PnL of the open position of ``symbol`` at ``fair_value``."""
        position = self._positions.get(symbol)
        return position.unrealized_pnl_quote(fair_value) if position else ZERO

    def snapshot(
        self, fair_values: Mapping[str, Decimal] | None = None
    ) -> dict[str, PositionSnapshot]:
        """Every position, sorted by symbol, marked to the fair values given (if any)."""
        marks = fair_values or {}
        return {
            symbol: self._snapshot_one(self._positions[symbol], marks.get(symbol))
            for symbol in sorted(self._positions)
        }

    @staticmethod
    def _snapshot_one(position: Position, fair_value: Decimal | None) -> PositionSnapshot:
        unrealized = None if fair_value is None else position.unrealized_pnl_quote(fair_value)
        return PositionSnapshot(
            symbol=position.symbol,
            quantity_base=position.quantity_base,
            avg_entry_price=position.avg_entry_price,
            cost_basis_quote=position.cost_basis_quote,
            realized_pnl_quote=position.realized_pnl_quote,
            gross_realized_pnl_quote=position.gross_realized_pnl_quote,
            fees_quote=position.fees_quote,
            fair_value=fair_value,
            unrealized_pnl_quote=unrealized,
            total_pnl_quote=None
            if unrealized is None
            else position.realized_pnl_quote + unrealized,
            bought_base=position.bought_base,
            sold_base=position.sold_base,
            fill_count=position.fill_count,
        )
