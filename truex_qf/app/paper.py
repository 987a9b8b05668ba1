"""Paper trading's order venue (``truex-qf run --paper``): our orders on this machine, filled
against the live book.

:class:`PaperVenue` puts the simulator's :class:`~truex_qf.sim.local_venue.LocalVenue` (the
matching engine under a mirror of the observed book, with its queue model; the fill model is
in that module and in docs/backtests.md) behind the product's
:class:`~truex_qf.app.order_venue.OrderVenue` protocol, which is all the runner knows. It adds
what a session would have: each report carries its receive time, and both directions go into
the run's FIX journal as FIX text under the session name ``PAPER`` (so ``audit show``,
``replay`` and the reports read a paper run as they read a live one; the session name says
that none of it crossed a wire).

Only the CLI imports this module: it is the one place where the product meets the simulator
(import-linter contract ``product-without-simulator``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal

from truex_qf.app.order_venue import OrderCommand, OrderReport
from truex_qf.domain.model import (
    ExecutionReport,
    MarketDataIncrement,
    MarketDataSnapshot,
    OrderCancelReject,
)
from truex_qf.sim.local_venue import (
    LocalVenue,
    local_venue_fees,
    received_at,
    report_text,
    request_text,
)
from truex_qf.strategy.settings import StrategySettings

PAPER = "PAPER"
PAPER_OWNER = "PAPER"  # our orders' owner in the paper venue's engine
JournalTap = Callable[[str, str, str], None]  # (session, direction, raw FIX text)


class PaperVenue:
    """The :class:`~truex_qf.app.order_venue.OrderVenue` of a paper run.

    ``journal``: the run's FIX journal tap (``Pipeline.tap``), or None. The fees are
    :func:`~truex_qf.sim.local_venue.local_venue_fees` of the strategy (a fill that added
    liquidity pays its ``maker_fee_bps``, one that took it nothing), as a backtest's. Orders
    are checked against TrueX's rules as the simulator knows them (grid, price band,
    post-only crossing). ``balances``: the paper account's starting balances per currency,
    enforced as TrueX does (every other currency 0); None: not limited.
    """

    label = PAPER

    def __init__(
        self,
        strategy: StrategySettings,
        journal: JournalTap | None = None,
        clock_ns: Callable[[], int] = time.perf_counter_ns,
        balances: Mapping[str, Decimal] | None = None,
    ) -> None:
        symbols = tuple(s.symbol for s in strategy.symbols)
        fees = local_venue_fees(strategy)
        self.venue = LocalVenue(
            symbols,
            owner=PAPER_OWNER,
            balances=balances,
            maker_fee_bps=fees.maker_bps,
            taker_fee_bps=fees.taker_bps,
            # ExecIDs unlike any earlier run's, as the simulator's (from the clock's us)
            first_id=int(time.time() * 1_000_000),
        )
        self._journal = journal
        self._clock_ns = clock_ns
        self.orders_received = 0  # order commands taken (none of them left the machine)

    def submit(self, command: OrderCommand) -> list[OrderReport]:
        """One order command of the market maker; the paper venue's reports."""
        self.orders_received += 1
        if self._journal is not None:
            self._journal(PAPER, "OUT", request_text(command, PAPER))
        return self._received(self.venue.submit(command))

    def on_market_data(self, event: MarketDataSnapshot | MarketDataIncrement) -> list[OrderReport]:
        """The live book moved: mirror it; the reports of our orders it filled."""
        return self._received(self.venue.on_market_data(event))

    def _received(
        self, reports: list[ExecutionReport] | list[ExecutionReport | OrderCancelReject]
    ) -> list[OrderReport]:
        if not reports:
            return []
        received_ns = self._clock_ns()
        stamped: list[OrderReport] = []
        for report in reports:
            report = received_at(report, received_ns)
            if self._journal is not None:
                self._journal(PAPER, "IN", report_text(report))
            stamped.append(report)
        return stamped
