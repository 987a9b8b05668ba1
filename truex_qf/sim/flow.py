"""Simulated other traders for the simulated TrueX exchange: moving prices, takers, depth.

Without other traders the market maker under test quotes into an empty, frozen market and
never sees a fill. :class:`SimulatedFlow` adds three things around one symbol:

- a fair value that follows a geometric random walk (it can never reach zero or go negative);
- makers (owner ``SIM-MAKER``) that keep a ladder of GTC limit orders on both sides around
  that fair value, re-quoting it every step, so the book's mid follows the walk;
- takers (owner ``SIM-TAKER``) that now and then send an IOC limit order at the best opposite
  price. They hit whatever rests there first, the FIX client's quotes included, and they are
  sometimes larger than that level, so both resting orders and takers get partial fills.

Lead and lag (issue 19), both off by default: the walk can be a *reference* venue's price
(``on_reference`` is told each new value, e.g.
:meth:`~truex_qf.sim.reference_feed.SimulatedReference.set`) that the TrueX book follows
``book_lag_steps`` steps late (the makers quote around the walk's value of that many steps
ago), and *informed takers* (owner ``SIM-INFORMED``) trade on that lead: with
``informed_taker_probability`` per step, whatever rests on the TrueX book on the wrong side of
the reference (a bid above it, an offer below it) is taken, as the venue's real takers
watching Coinbase do. A quote that follows the TrueX book alone is then picked off.

The flow talks to :class:`~truex_qf.sim.matching.MatchingEngine` directly (no FIX) and hands
every event list the engine returns to ``publish`` (``VenueApplication.publish`` in the
simulator), which sends reports and market data. The engine is not thread-safe and FIX
callbacks use it from other threads, so each step runs entirely under the venue's lock,
publishing included: subscribers then see events in the order the engine produced them.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal

from truex_qf.domain.clordid import ClOrdIdGenerator
from truex_qf.domain.model import (
    CancelOrder,
    ExecutionReport,
    NewOrder,
    ReplaceOrder,
    Side,
    TimeInForce,
)
from truex_qf.sim.matching import (
    NO_ORDER_ID,
    MatchingEngine,
    RestingOrderView,
    ToClient,
    VenueEvent,
)

MAKER_OWNER = "SIM-MAKER"
TAKER_OWNER = "SIM-TAKER"
INFORMED_OWNER = "SIM-INFORMED"

_LOG = logging.getLogger("truex_qf.sim.flow")
_BPS = Decimal(10_000)
# A walk step is a normal draw clipped at this many standard deviations, so one step's move
# has a known bound and the makers' re-quotes can be kept inside the engine's price band.
MAX_STEP_SIGMAS = 4.0
# The engine's default band is 5 % (500 bps) from the mid; a step's largest move plus the
# outermost quote's distance must stay below this, leaving room for the mid to lag a step.
MAX_REACH_BPS = Decimal(400)
# Twelve significant digits: far finer than any tick, and the fair value does not grow a
# longer Decimal with every multiplication.
_WALK_CONTEXT = Context(prec=12)
# Shared by every flow in the process (a counter plus the import time in base 36, 18 chars),
# so two flows on one engine, or a flow restarted on it, never reuse a ClOrdID.
_MAKER_CL_ORD_IDS = ClOrdIdGenerator("M")
_TAKER_CL_ORD_IDS = ClOrdIdGenerator("T")

Publish = Callable[[list[VenueEvent]], None]


@dataclass(frozen=True)
class FlowSettings:
    """How the simulated traders of one symbol behave; validated on creation.

    Distances are in basis points of the fair value; sizes in base units (rounded down to the
    lot at the quoted price). ``seed`` makes a run reproducible.
    """

    symbol: str = "BTC-PYUSD"
    start_price: Decimal = Decimal("100000")
    volatility_bps_per_step: Decimal = Decimal("2")  # standard deviation of one walk step
    step_interval_s: float = 0.2
    maker_levels: int = 5  # orders per side
    maker_spacing_bps: Decimal = Decimal("5")  # between neighbouring levels of one side
    maker_size: Decimal = Decimal("0.01")  # per order
    maker_half_spread_bps: Decimal = Decimal("8")  # fair value to the innermost quote
    taker_probability: float = 0.3  # chance per step that a taker crosses the spread
    taker_size_min: Decimal = Decimal("0.001")
    # Above maker_size on purpose: a larger taker clears the best level and the IOC
    # remainder is cancelled, so takers see partial fills too, not only resting orders.
    taker_size_max: Decimal = Decimal("0.02")
    book_lag_steps: int = 0  # the makers quote around the walk's value this many steps ago
    informed_taker_probability: float = 0.0  # chance per step of taking a stale price
    seed: int | None = None

    def __post_init__(self) -> None:
        in_range = {
            "start_price": self.start_price > 0,
            "volatility_bps_per_step": self.volatility_bps_per_step >= 0,
            "step_interval_s": self.step_interval_s > 0,
            "maker_levels": self.maker_levels >= 1,
            "maker_spacing_bps": self.maker_spacing_bps > 0,
            "maker_size": self.maker_size > 0,
            "maker_half_spread_bps": self.maker_half_spread_bps > 0,
            "taker_probability": 0 <= self.taker_probability <= 1,
            "taker_size_min": self.taker_size_min > 0,
            "taker_size_max": self.taker_size_max >= self.taker_size_min,
            "book_lag_steps": self.book_lag_steps >= 0,
            "informed_taker_probability": 0 <= self.informed_taker_probability <= 1,
        }
        for field_name, valid in in_range.items():
            if not valid:
                value = getattr(self, field_name)
                raise ValueError(f"FlowSettings.{field_name} out of range: {value!r}")
        if self.max_reach_bps > MAX_REACH_BPS:
            raise ValueError(
                "FlowSettings: outermost quote distance plus the largest walk step "
                f"({self.max_reach_bps} bps) must stay below {MAX_REACH_BPS} bps, "
                "inside the engine's price band"
            )

    @property
    def outermost_quote_bps(self) -> Decimal:
        """Distance of the outermost maker order from the fair value."""
        return self.maker_half_spread_bps + (self.maker_levels - 1) * self.maker_spacing_bps

    @property
    def max_reach_bps(self) -> Decimal:
        """How far from the previous mid a re-quoted order can land in one step."""
        largest_step = self.volatility_bps_per_step * Decimal(str(MAX_STEP_SIGMAS))
        return self.outermost_quote_bps + largest_step


class SimulatedFlow:
    """Random-walk fair value, a maker ladder around it and occasional takers, for one symbol.

    Call :meth:`step` directly (tests) or :meth:`start` a daemon thread that steps every
    ``settings.step_interval_s``; :meth:`stop` ends the thread and cancels the makers' orders.
    ``clock`` (seconds, monotonic) paces the thread.
    """

    def __init__(
        self,
        engine: MatchingEngine,
        publish: Publish,
        lock: threading.RLock,
        settings: FlowSettings,
        clock: Callable[[], float] = time.monotonic,
        on_reference: Callable[[Decimal], None] | None = None,
    ) -> None:
        self._engine = engine
        self._on_reference = on_reference
        self._publish = publish
        self._lock = lock
        self._settings = settings
        self._clock = clock
        self._random = random.Random(settings.seed)
        self._fair_value = settings.start_price
        # The walk's last values; the oldest is what the makers quote around (the book's lag).
        self._history: deque[Decimal] = deque(
            [settings.start_price], maxlen=settings.book_lag_steps + 1
        )
        # The fair value the resting ladder was quoted around: which way the walk moved since
        # decides which side is re-quoted first (see _requote_makers).
        self._quoted_fair_value = settings.start_price
        # OrderID (stable across replaces) of the maker order of each (side, level) slot.
        self._maker_order_ids: dict[tuple[Side, int], str] = {}
        self._step_sigma = float(settings.volatility_bps_per_step) / 10_000
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def fair_value(self) -> Decimal:
        """The random walk's current value (the reference's price when the book lags)."""
        return self._fair_value

    @property
    def book_value(self) -> Decimal:
        """The centre of the makers' ladder: the walk's value ``book_lag_steps`` steps ago."""
        return self._history[0]

    @property
    def settings(self) -> FlowSettings:
        return self._settings

    @property
    def is_running(self) -> bool:
        """Whether the background thread is stepping."""
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Step in a daemon thread every ``step_interval_s`` until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("simulated flow already started")
        self._stop_requested.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"sim-flow-{self._settings.symbol}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End the thread (if any), then cancel the makers' resting orders and publish that.

        Every working ``SIM-MAKER`` order of the symbol is cancelled, not only the ones this
        flow tracks, so nothing is left behind even after a step failed half-way. Safe to
        call twice and without :meth:`start` (after direct :meth:`step` calls).
        """
        thread = self._thread
        if thread is not None:
            self._stop_requested.set()
            thread.join()  # never under the lock: the thread needs it to finish its step
            self._thread = None
        with self._lock:
            self._maker_order_ids.clear()
            for order in self._working_maker_orders().values():
                self._cancel(order)

    def _run(self) -> None:
        interval_s = self._settings.step_interval_s
        next_step_at = self._clock()
        while True:
            next_step_at += interval_s
            delay_s = next_step_at - self._clock()
            if delay_s < 0:  # fell behind (slow publish): skip the missed steps, no burst
                next_step_at, delay_s = self._clock(), 0.0
            if self._stop_requested.wait(delay_s):
                return
            try:
                self.step()
            except Exception:
                _LOG.exception("simulated flow step failed for %s", self._settings.symbol)

    # ------------------------------------------------------------------ one step

    def step(self) -> None:
        """Move the fair value, maybe send a taker, then re-quote the makers' ladder.

        The taker goes before the re-quote so it trades against the quotes as they rested
        (stale ones included, as a real taker would) and the ladder is whole again after
        every step.
        """
        with self._lock:
            self._move_fair_value()
            self._history.append(self._fair_value)
            # Only used while the book has no mid and no trade, e.g. before the first quotes.
            self._engine.set_reference_price(self._settings.symbol, self.book_value)
            self._send_taker()
            self._send_informed_taker()
            self._requote_makers()
            reference = self._fair_value
        if self._on_reference is not None:  # outside the venue's lock: it may wait on I/O
            self._on_reference(reference)

    def _move_fair_value(self) -> None:
        """One geometric random-walk step: multiply by exp(clipped normal), so it stays > 0."""
        draw = min(MAX_STEP_SIGMAS, max(-MAX_STEP_SIGMAS, self._random.gauss(0.0, 1.0)))
        factor = Decimal(math.exp(draw * self._step_sigma))
        self._fair_value = _WALK_CONTEXT.multiply(self._fair_value, factor)

    def _send_taker(self) -> None:
        """With ``taker_probability``, an IOC limit at the best opposite price, random side."""
        settings = self._settings
        if self._random.random() >= settings.taker_probability:
            return
        side = Side.BUY if self._random.random() < 0.5 else Side.SELL
        size_range = settings.taker_size_max - settings.taker_size_min
        size = settings.taker_size_min + size_range * Decimal(self._random.random())
        top = self._engine.depth(settings.symbol, 1)
        opposite = top.offers if side is Side.BUY else top.bids
        if not opposite:
            return
        self._take(TAKER_OWNER, side, opposite[0].price, size)

    def _send_informed_taker(self) -> None:
        """With ``informed_taker_probability``, take the TrueX book's best price if it is on
        the wrong side of the reference (the walk's current value): an offer below it is
        bought, a bid above it sold, as much as a taker's largest size."""
        settings = self._settings
        if not settings.informed_taker_probability:
            return
        if self._random.random() >= settings.informed_taker_probability:
            return
        top = self._engine.depth(settings.symbol, 1)
        reference = self._fair_value
        if top.offers and top.offers[0].price < reference:
            self._take(INFORMED_OWNER, Side.BUY, top.offers[0].price, settings.taker_size_max)
        elif top.bids and top.bids[0].price > reference:
            self._take(INFORMED_OWNER, Side.SELL, top.bids[0].price, settings.taker_size_max)

    def _take(self, owner: str, side: Side, price: Decimal, size: Decimal) -> None:
        """An IOC limit order of ``owner`` at ``price``, rounded to the lot grid."""
        quantity = self._engine.grid.round_quantity(price, size)
        if self._engine.grid.check_order(price, quantity) is not None:
            return  # too small for the grid at this price; skip rather than be rejected
        order = NewOrder(
            _TAKER_CL_ORD_IDS.next_id(),
            self._settings.symbol,
            side,
            quantity,
            price,
            time_in_force=TimeInForce.IOC,
        )
        self._publish(self._engine.submit(owner, order))

    def _requote_makers(self) -> None:
        """Bring every (side, level) slot to its price around the fair value, at full size.

        The side the walk moved towards goes first (offers when it went up): its orders move
        away from the other side, so no re-priced order can cross one of the makers' own and
        be cancelled by self-match prevention.
        """
        centre = self.book_value
        moved_up = centre >= self._quoted_fair_value
        sides = (Side.SELL, Side.BUY) if moved_up else (Side.BUY, Side.SELL)
        working = self._working_maker_orders()
        tracked = set(self._maker_order_ids.values())
        for order_id, order in working.items():
            if order_id not in tracked:  # lost by a step that failed half-way
                self._cancel(order)
        for side in sides:
            for level in range(self._settings.maker_levels):
                self._quote_slot((side, level), working)
        self._quoted_fair_value = centre

    def _quote_slot(self, slot: tuple[Side, int], working: dict[str, RestingOrderView]) -> None:
        """Submit, replace or leave the maker order of one slot.

        An untouched order is re-priced by a replace; a partially filled one is cancelled and
        sent again instead, because a replace must keep the filled quantity, and that may be
        off the lot grid of the new price's bucket.
        """
        side, level = slot
        grid = self._engine.grid
        price = self.quote_price(side, level)
        quantity = grid.round_quantity(price, self._settings.maker_size)
        if grid.check_order(price, quantity) is not None:
            self._cancel_slot(slot, working)  # this level cannot be quoted at this price
            return
        current = working.get(self._maker_order_ids.get(slot, ""))
        if current is not None and current.price == price and current.leaves_qty == quantity:
            return
        if current is not None and not current.cum_qty:
            replace = ReplaceOrder(_MAKER_CL_ORD_IDS.next_id(), current.cl_ord_id, quantity, price)
            self._publish(self._engine.replace(MAKER_OWNER, replace))
            return
        self._cancel_slot(slot, working)
        cl_ord_id = _MAKER_CL_ORD_IDS.next_id()
        order = NewOrder(cl_ord_id, self._settings.symbol, side, quantity, price)
        events = self._engine.submit(MAKER_OWNER, order)
        order_id = _accepted_order_id(events, cl_ord_id)
        if order_id is not None:  # tracked before publishing, in case publishing raises
            self._maker_order_ids[slot] = order_id
        self._publish(events)

    def quote_price(self, side: Side, level: int) -> Decimal:
        """The maker price of ``level`` (0 = innermost) on ``side``, rounded away from mid."""
        settings = self._settings
        distance_bps = settings.maker_half_spread_bps + level * settings.maker_spacing_bps
        centre = self.book_value
        offset = centre * distance_bps / _BPS
        raw = centre - offset if side is Side.BUY else centre + offset
        return self._engine.grid.round_price(raw, side is Side.BUY)

    # ------------------------------------------------------------------ maker orders

    def _working_maker_orders(self) -> dict[str, RestingOrderView]:
        """The makers' working orders on this flow's symbol, by OrderID."""
        symbol = self._settings.symbol
        return {
            view.order_id: view
            for view in self._engine.working_orders(MAKER_OWNER)
            if view.symbol == symbol
        }

    def _cancel_slot(self, slot: tuple[Side, int], working: dict[str, RestingOrderView]) -> None:
        """Forget a slot's order and cancel it if it still rests."""
        order_id = self._maker_order_ids.pop(slot, None)
        current = working.get(order_id) if order_id is not None else None
        if current is not None:
            self._cancel(current)

    def _cancel(self, order: RestingOrderView) -> None:
        cancel = CancelOrder(_MAKER_CL_ORD_IDS.next_id(), order.cl_ord_id)
        self._publish(self._engine.cancel(MAKER_OWNER, cancel))


def _accepted_order_id(events: list[VenueEvent], cl_ord_id: str) -> str | None:
    """The OrderID the engine gave a new order, or None when it was refused before that."""
    for event in events:
        if (
            isinstance(event, ToClient)
            and isinstance(event.message, ExecutionReport)
            and event.message.cl_ord_id == cl_ord_id
            and event.message.order_id != NO_ORDER_ID
        ):
            return event.message.order_id
    return None
