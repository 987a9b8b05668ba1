"""A local venue for backtests and paper trading: the simulator's matching engine under an
observed book.

:class:`LocalVenue` is a :class:`~truex_qf.sim.matching.MatchingEngine` plus a *book mirror*.
The mirror keeps the engine's book equal to an observed L2 book (the venue's 35=W/35=X as
domain :class:`MarketDataSnapshot` / :class:`MarketDataIncrement` values) as resting orders of
the owner :data:`MARKET_OWNER`, and replays every observed trade as an order of
:data:`TAKER_OWNER`. Our orders (owner ``owner``) go through the same engine, so every TrueX
rule the simulator knows applies to them unchanged: grid, price band, post-only crossing,
self-match prevention, fees, balances when configured.

The fill model (also in docs/backtests.md), exactly:

1. **Queue position.** Our order joins the back of its price level: all the size the market
   shows at that price when the order arrives (or is re-priced) is ahead of it.
2. **Level increases** are new orders behind everything at that level (behind us).
3. **Level decreases** that no observed trade explains (cancels) are taken from the *back*
   of the queue first: size behind us goes first, and the size ahead of us shrinks only when
   the level falls below it. This is the conservative choice: others' cancels ahead of us
   are never assumed, so the queue ahead is never smaller than the level.
4. **Trades.** An observed trade of ``q`` at ``P`` with aggressor side ``S`` is an IOC order
   of side ``S`` for ``q`` limited at ``P``: it fills in price-time priority, so it first
   takes any of our orders at a better price than ``P``, then the queue ahead of us at ``P``,
   then us. At our price we fill by what the trade's quantity exceeds the queue ahead by.
5. **Trade-through.** An observed level at or through our price on the other side (an offer
   at or below our bid, a bid at or above our offer) is a market order that trades with us,
   at our price, as maker: someone was willing to trade there, and we were first in line.
6. **No market impact.** The observed book is the market without us: after every observed
   change of a level, the market's size there is the observed size, whatever we traded in
   the queue (a replayed trade that filled us took no more of the market's book than the
   observed change says). Size that traded *with* us at a level (ours crossing it as taker,
   or it crossing ours) stays taken until the market next changes that level; each new
   observed size of a level that crosses our order can trade with it again.
7. **Aggressor side.** From AggressorSide(2446) when the venue sends it; otherwise from the
   book before the message: at or above the best offer a buy, at or below the best bid a
   sell; a trade strictly inside the spread is skipped (counted in
   :attr:`LocalVenue.unattributed_trades`), since it could not have reached a resting order.

Within one 35=X the trades are replayed first (against the book as it was before the
message, as TrueX and the simulator print trades before the level changes they cause), then
the level changes, decreases before increases so that a book moving in one message is never
transiently crossed. A crossed observed book cannot be mirrored (the market's own bid and
offer would meet): the crossing part of a level is left out until a later message uncrosses
it (counted in :attr:`LocalVenue.crossed_skips`).

Both users keep the order flow in their run's FIX journal as FIX text under a session name of
their own (nothing crossed a wire): :func:`request_text` and :func:`report_text` build it, the
product's request bodies and the simulator's report messages; :func:`received_at` stamps a
report with the time its user received it, as the FIX readers do.

Everything is synchronous and single-threaded: no clock is read except the one given (for
TransactTime), and IDs come from a counter starting at ``first_id``, so the same calls give
the same reports byte for byte. Latency is the caller's business (when it calls).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from truex_qf.domain.clordid import to_base36
from truex_qf.domain.increments import PriceGrid
from truex_qf.domain.model import (
    RESTING_SIDE,
    CancelOrder,
    ExecType,
    ExecutionReport,
    MarketDataIncrement,
    MarketDataSnapshot,
    MDEntryType,
    MDUpdateAction,
    NewOrder,
    OrderCancelReject,
    OrderCommand,
    OrdType,
    ReplaceOrder,
    Side,
    TimeInForce,
)
from truex_qf.fix.builders import (
    new_order_single_body,
    order_cancel_replace_request_body,
    order_cancel_request_body,
)
from truex_qf.fix.readers import SOH
from truex_qf.sim.balances import BalanceBook
from truex_qf.sim.matching import MatchingEngine, ToClient, VenueEvent, utc_now
from truex_qf.sim.messages import cancel_reject, execution_report
from truex_qf.strategy.settings import StrategySettings

MARKET_OWNER = "SIM-MARKET"
"""The owner of the mirrored book's resting orders (``SIM-``: never limited by balances)."""
TAKER_OWNER = "SIM-MARKET-TAKER"
"""The owner of replayed trades: another owner than the book's, or self-match prevention
would stop a replayed trade at the first order of the market it meets."""
DEFAULT_OWNER = "LOCAL"
FORGET_EVERY = 10_000
"""Engine calls between two purges of the market's done orders (:meth:`MatchingEngine.forget`)."""

Report = ExecutionReport | OrderCancelReject

_ZERO = Decimal(0)
log = logging.getLogger("truex_qf.sim.local_venue")


@dataclass(frozen=True)
class VenueFees:
    """What the local venue charges a fill, in bps of its notional (negative: a rebate)."""

    maker_bps: Decimal
    taker_bps: Decimal


def local_venue_fees(
    strategy: StrategySettings,
    *,
    maker_fee_bps: Decimal | None = None,
    taker_fee_bps: Decimal | None = None,
) -> VenueFees:
    """The fees a paper run's or a backtest's local venue charges: the ones given, else the
    strategy's ``maker_fee_bps`` for fills that added liquidity (what the strategy expects to
    pay; the same for every symbol, else 0 with a warning, since the engine charges one fee
    for all) and 0 for fills that took it (the strategy names no taker fee)."""
    if maker_fee_bps is None:
        fees = {s.quoting.maker_fee_bps for s in strategy.symbols}
        maker_fee_bps = fees.pop() if len(fees) == 1 else _ZERO
        if fees:
            log.warning("local venue: symbols differ in maker_fee_bps; fills charge no fee")
    return VenueFees(maker_fee_bps, _ZERO if taker_fee_bps is None else taker_fee_bps)


@dataclass(slots=True)
class _Chunk:
    """One resting order of the market: its current ClOrdID and quantities."""

    cl_ord_id: str
    order_qty: Decimal
    cum_qty: Decimal = _ZERO

    @property
    def leaves(self) -> Decimal:
        return self.order_qty - self.cum_qty


_Level = tuple[str, Side, Decimal]  # symbol, side, price


class LocalVenue:
    """A matching engine that fills our orders against an observed market (module doc).

    ``symbols``: what the engine trades (market data of other symbols is ignored).
    ``balances``: our starting balances per asset, enforced; None (the default) records
    balances but refuses nothing. ``price_band``: as the engine's (None: no band).
    """

    def __init__(
        self,
        symbols: Iterable[str] | Mapping[str, str],
        *,
        owner: str = DEFAULT_OWNER,
        grid: PriceGrid = PriceGrid(),  # noqa: B008 - PriceGrid is frozen, sharing it is safe
        price_band: Decimal | None = Decimal("0.05"),
        maker_fee_bps: Decimal = _ZERO,
        taker_fee_bps: Decimal = _ZERO,
        clock: Callable[[], datetime] = utc_now,
        first_id: int = 1,
        balances: Mapping[str, Decimal] | None = None,
    ) -> None:
        if owner.startswith("SIM-"):
            raise ValueError(f"owner {owner!r}: SIM- owners are the market's")
        self.owner = owner
        symbols = dict(symbols) if isinstance(symbols, Mapping) else tuple(symbols)
        self.engine = MatchingEngine(
            symbols,
            grid,
            price_band=price_band,
            maker_fee_bps=maker_fee_bps,
            taker_fee_bps=taker_fee_bps,
            clock=clock,
            first_id=first_id,
            balances=(
                BalanceBook(enforced=False)
                if balances is None
                else BalanceBook(dict(balances), enforced=True)
            ),
            unchecked_owners=(MARKET_OWNER, TAKER_OWNER),
        )
        self._symbols = frozenset(symbols)
        self._ids = itertools.count(1)
        # The market's resting orders per level, in queue order (front first).
        self._levels: dict[_Level, list[_Chunk]] = {}
        self._chunks: dict[str, tuple[_Level, _Chunk]] = {}  # by current ClOrdID
        self._pending: list[Report] = []  # our reports of the operation in progress
        self._operations = 0  # engine calls since the market's done orders were forgotten
        self.unattributed_trades = 0
        """Observed trades skipped: no AggressorSide and a price inside the spread."""
        self.crossed_skips = 0
        """Level increases not mirrored because the observed book was crossed there."""
        self.replayed_trades = 0
        """Observed trades replayed as taker orders."""

    # ------------------------------------------------------------------ our orders

    def submit(self, command: OrderCommand) -> list[Report]:
        """One command of ours; the reports the venue sends back, in order."""
        if isinstance(command, NewOrder):
            events = self.engine.submit(self.owner, command)
        elif isinstance(command, ReplaceOrder):
            events = self.engine.replace(self.owner, command)
        elif isinstance(command, CancelOrder):
            events = self.engine.cancel(self.owner, command)
        else:
            raise TypeError(f"not an order command: {command!r}")
        self._take(events)
        return self._drain()

    def cancel_all(self) -> list[Report]:
        """Cancel every working order of ours (the venue's mass cancel)."""
        self._take(self.engine.cancel_all(self.owner))
        return self._drain()

    # ------------------------------------------------------------------ the market

    def on_market_data(self, event: object) -> list[Report]:
        """Mirror one observed market-data event; reports of our fills it caused.

        Snapshots and increments are mirrored; any other event is ignored.
        """
        if isinstance(event, MarketDataSnapshot):
            self._on_snapshot(event)
        elif isinstance(event, MarketDataIncrement):
            self._on_increment(event)
        return self._drain()

    def market_size(self, symbol: str, side: Side, price: Decimal) -> Decimal:
        """What the mirror holds of the market at one level (for checks and tests)."""
        return sum((c.leaves for c in self._levels.get((symbol, side, price), ())), _ZERO)

    def _on_snapshot(self, snapshot: MarketDataSnapshot) -> None:
        symbol = snapshot.symbol
        if symbol not in self._symbols:
            return
        targets: dict[_Level, Decimal] = {key: _ZERO for key in self._levels if key[0] == symbol}
        for entry in snapshot.entries:
            side = RESTING_SIDE.get(entry.entry_type)
            if side is None or entry.price <= 0 or entry.size <= 0:
                continue  # trades (the last one, not a new one) and the empty-book sentinel
            targets[(symbol, side, entry.price)] = entry.size
        self._mirror(targets)

    def _on_increment(self, increment: MarketDataIncrement) -> None:
        symbols = self._symbols
        only = next(iter(symbols)) if len(symbols) == 1 else None
        targets: dict[_Level, Decimal] = {}
        for change in increment.changes:
            symbol = change.symbol or only
            if symbol not in symbols:
                continue
            assert symbol is not None
            if change.entry_type is MDEntryType.TRADE:
                self._replay_trade(symbol, change.price, change.size, change.aggressor_side)
                continue
            side = RESTING_SIDE[change.entry_type]
            deleted = change.action is MDUpdateAction.DELETE or change.price <= 0
            targets[(symbol, side, change.price)] = _ZERO if deleted else max(change.size, _ZERO)
        self._mirror(targets)

    def _replay_trade(
        self, symbol: str, price: Decimal, quantity: Decimal, aggressor: Side | None
    ) -> None:
        if price <= 0 or quantity <= 0:
            return
        if aggressor is None:
            aggressor = self._infer_aggressor(symbol, price)
            if aggressor is None:
                self.unattributed_trades += 1
                return
        self.replayed_trades += 1
        order = NewOrder(
            self._next_cl_ord_id("T"),
            symbol,
            aggressor,
            quantity,
            price,
            OrdType.LIMIT,
            TimeInForce.IOC,
        )
        self._take(self.engine.submit(TAKER_OWNER, order))

    def _infer_aggressor(self, symbol: str, price: Decimal) -> Side | None:
        """The side a trade at ``price`` came from, by the market's book (ours left out)."""
        bids = [p for (s, side, p) in self._levels if s == symbol and side is Side.BUY]
        offers = [p for (s, side, p) in self._levels if s == symbol and side is Side.SELL]
        if offers and price >= min(offers):
            return Side.BUY
        if bids and price <= max(bids):
            return Side.SELL
        return None

    def _mirror(self, targets: dict[_Level, Decimal]) -> None:
        """Set each level's market size to its target: decreases first, then increases."""
        increases: list[tuple[_Level, Decimal]] = []
        for level, target in targets.items():
            current = self.market_size(*level)
            if target < current:
                self._shrink(level, current - target)
            elif target > current:
                increases.append((level, target))
        for level, target in increases:
            self._grow(level, target)

    def _shrink(self, level: _Level, amount: Decimal) -> None:
        """Take ``amount`` off the market's orders at ``level``, back of the queue first."""
        chunks = self._levels[level]
        for chunk in reversed(list(chunks)):
            if amount <= 0:
                break
            cut = min(amount, chunk.leaves)
            amount -= cut
            if cut == chunk.leaves:
                request = CancelOrder(self._next_cl_ord_id("C"), chunk.cl_ord_id)
                self._take(self.engine.cancel(MARKET_OWNER, request))
            else:
                request_id = self._next_cl_ord_id("R")
                replace = ReplaceOrder(
                    request_id, chunk.cl_ord_id, chunk.order_qty - cut, level[2], OrdType.LIMIT
                )
                self._take(self.engine.replace(MARKET_OWNER, replace))

    def _grow(self, level: _Level, target: Decimal) -> None:
        """Add a market order at ``level`` for what it lacks of ``target``; it trades first
        with any of our orders it crosses (trade-through), and only its rest is added."""
        symbol, side, price = level
        missing = target - self.market_size(*level)
        cl_ord_id = self._next_cl_ord_id("M")
        chunk = _Chunk(cl_ord_id, missing)
        self._levels.setdefault(level, []).append(chunk)
        self._chunks[cl_ord_id] = (level, chunk)
        order = NewOrder(cl_ord_id, symbol, side, missing, price, OrdType.LIMIT)
        self._take(self.engine.submit(MARKET_OWNER, order))
        found = self._chunks.get(cl_ord_id)
        if found is None and chunk.cum_qty < chunk.order_qty:
            self.crossed_skips += 1  # cancelled unfilled: it met the market's other side

    # ------------------------------------------------------------------ engine events

    def _take(self, events: list[VenueEvent]) -> None:
        """Keep our reports; follow the market's orders through theirs."""
        self._operations += 1
        if self._operations >= FORGET_EVERY:
            # the market's done orders would pile up in the engine (a day's capture turns
            # over millions): nothing asks about them again
            self._operations = 0
            self.engine.forget((MARKET_OWNER, TAKER_OWNER))
        for event in events:
            if not isinstance(event, ToClient):
                continue
            if event.owner == self.owner:
                self._pending.append(event.message)
            elif event.owner == MARKET_OWNER:
                self._follow(event.message)

    def _follow(self, message: Report) -> None:
        if not isinstance(message, ExecutionReport):
            return  # a cancel reject of our own bookkeeping: nothing moved
        exec_type = message.exec_type
        if exec_type is ExecType.REPLACED:
            found = self._chunks.pop(message.orig_cl_ord_id or "", None)
            if found is not None:
                level, chunk = found
                chunk.cl_ord_id = message.cl_ord_id
                chunk.order_qty = message.order_qty
                self._chunks[message.cl_ord_id] = (level, chunk)
            return
        found = self._chunks.get(message.cl_ord_id)
        if found is None:
            # a cancel answers under the cancel's ClOrdID; the order is the original one
            found = self._chunks.get(message.orig_cl_ord_id or "")
        if found is None:
            return
        level, chunk = found
        if exec_type is ExecType.TRADE:
            chunk.cum_qty = message.cum_qty
        if message.ord_status.is_terminal:
            self._drop(level, chunk)

    def _drop(self, level: _Level, chunk: _Chunk) -> None:
        del self._chunks[chunk.cl_ord_id]
        chunks = self._levels[level]
        chunks.remove(chunk)
        if not chunks:
            del self._levels[level]

    def _drain(self) -> list[Report]:
        reports, self._pending = self._pending, []
        return reports

    def _next_cl_ord_id(self, kind: str) -> str:
        return kind + to_base36(next(self._ids), 12)


def request_text(command: OrderCommand, session: str) -> str:
    """35=D/F/G of ours as a run's journal keeps an outbound message; ``session`` (the
    journal's session name) stands for the sender, the target and the client ID."""
    if isinstance(command, NewOrder):
        msg_type, body = "D", new_order_single_body(command, session)
    elif isinstance(command, CancelOrder):
        msg_type, body = "F", order_cancel_request_body(command, session)
    else:
        msg_type, body = "G", order_cancel_replace_request_body(command, session)
    return f"8=FIXT.1.1{SOH}35={msg_type}{SOH}49={session}{SOH}56={session}{SOH}{body}"


def report_text(report: Report) -> str:
    """35=8/9 to us as a run's journal keeps an inbound message."""
    if isinstance(report, ExecutionReport):
        text = execution_report(report, "").toString()
    else:
        text = cancel_reject(report).toString()
    return f"8=FIXT.1.1{SOH}{text}"


def received_at(report: Report, received_ns: int) -> Report:
    """``report`` stamped with the time its user received it (``received_ns``, on the user's
    clock), as the FIX readers stamp a report that arrives over a wire."""
    if isinstance(report, ExecutionReport):
        return report._replace(received_ns=received_ns)
    return dataclasses.replace(report, received_ns=received_ns)
