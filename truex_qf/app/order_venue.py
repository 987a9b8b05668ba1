"""Where a run's orders go when they do not go to the venue's order-entry session.

A :class:`~truex_qf.app.runner.Runner` given an :class:`OrderVenue` (paper trading,
``truex-qf run --paper``) starts no order-entry session at all: every order command the
market maker sends goes to the order venue, and what it answers comes back into the market
maker as the order-entry session's reports would. The runner only knows this protocol; the
CLI builds the implementation (:mod:`truex_qf.app.paper`, on the simulator's matching engine),
so the product never imports the simulator (import-linter contract
``product-without-simulator``).
"""

from __future__ import annotations

from typing import Protocol

from truex_qf.domain.model import (
    ORDER_COMMANDS,
    BusinessMessageReject,
    ExecutionReport,
    MarketDataIncrement,
    MarketDataSnapshot,
    OrderCancelReject,
    OrderCommand,
)

__all__ = ["ORDER_COMMANDS", "OrderCommand", "OrderReport", "OrderVenue"]

OrderReport = ExecutionReport | OrderCancelReject | BusinessMessageReject


class OrderVenue(Protocol):
    """A venue for our orders on this machine.

    Called holding the runner's trading lock, so by one thread at a time; the reports it
    returns are queued for the lock's next holder, as the order-entry session's are.
    """

    @property
    def label(self) -> str:
        """What the run calls itself in its status line, summary and session name (PAPER)."""
        ...

    def submit(self, command: OrderCommand) -> list[OrderReport]:
        """Take one order command; the reports the venue answers with, in order."""
        ...

    def on_market_data(self, event: MarketDataSnapshot | MarketDataIncrement) -> list[OrderReport]:
        """The live market moved: the reports of our orders that it filled, in order."""
        ...
