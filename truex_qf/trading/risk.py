"""Pre-trade risk: every new order and replace passes here before it is sent.

Each denial carries a reason code (the constants below) that flows unchanged to logs, metrics
and the database, and is counted per code. Cancels are never checked: in any state, including
HALTED, taking risk off must stay possible.

Exposure is worst case: the position plus every working and in-flight order on the side of the
new order (buys add, sells subtract) must stay within ``±max_position_base``, because any of
those orders may fill before we can cancel it.

Threading: owned by the trading thread; no locks. Time comes from an injectable clock or a
``now_s`` argument, so tests never sleep.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from truex_qf.domain.limits import RiskLimits
from truex_qf.domain.model import NewOrder, Side
from truex_qf.trading.orders import ManagedOrder, OrderManager
from truex_qf.trading.positions import PositionBook

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
BPS = Decimal(10_000)

# Reason codes: stable strings, written as-is to logs, metrics labels and database rows.
MAX_POSITION = "MAX_POSITION"
MAX_ORDER_QTY = "MAX_ORDER_QTY"
MAX_NOTIONAL = "MAX_NOTIONAL"
MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"
PRICE_COLLAR = "PRICE_COLLAR"
STALE_BOOK = "STALE_BOOK"
CROSSED_BOOK = "CROSSED_BOOK"
RATE_LIMIT = "RATE_LIMIT"
TRADING_HALTED = "TRADING_HALTED"
REDUCE_ONLY = "REDUCE_ONLY"
NO_FAIR_VALUE = "NO_FAIR_VALUE"
INVALID_ORDER = "INVALID_ORDER"

REASON_CODES = (
    MAX_POSITION,
    MAX_ORDER_QTY,
    MAX_NOTIONAL,
    MAX_OPEN_ORDERS,
    PRICE_COLLAR,
    STALE_BOOK,
    CROSSED_BOOK,
    RATE_LIMIT,
    TRADING_HALTED,
    REDUCE_ONLY,
    NO_FAIR_VALUE,
    INVALID_ORDER,
)


class TradingState(str, Enum):
    """ACTIVE trades freely; REDUCING only shrinks the position; HALTED sends only cancels;
    WAITING cannot quote yet and says why in its reason (waiting for reconciliation with the
    venue, no quotable symbol): never ACTIVE while unable to trade."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"
    WAITING = "WAITING"


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The answer to one check: allowed, or denied with a reason code and a human detail."""

    allowed: bool
    reason_code: str | None = None
    detail: str = ""

    @classmethod
    def allow(cls) -> RiskDecision:
        return cls(True)

    @classmethod
    def deny(cls, reason_code: str, detail: str) -> RiskDecision:
        return cls(False, reason_code, detail)


@dataclass(frozen=True, slots=True)
class Exposure:
    """What is already at risk in one symbol, before the order being checked.

    ``working_buy_base``/``working_sell_base`` are the worst-case open quantities of every
    working and in-flight order (PENDING_NEW and UNCERTAIN included). ``open_orders`` is the
    venue-wide count of working orders, for the open-order limit.
    """

    position_base: Decimal
    working_buy_base: Decimal = ZERO
    working_sell_base: Decimal = ZERO
    open_orders: int = 0


def exposure_for(symbol: str, orders: OrderManager, positions: PositionBook) -> Exposure:
    """Build the :class:`Exposure` of ``symbol`` from the order manager and the position book."""
    buy, sell, open_orders = orders.exposure_totals(symbol)
    return Exposure(positions.position_base(symbol), buy, sell, open_orders)


PACE_BURST_SHARE = 6
"""The pace's burst: the minute's budget over this, what may go out at once after a lull."""


class RateGovernor:
    """The venue's message limits, and the pace at which we spend them.

    The limits are sliding one-second and one-minute windows over sent messages (and venue
    rejects): a message at time t counts while ``now - t < window``, so at exactly one second
    later it has left the per-second window. A message beyond them is denied (:meth:`denial`).

    The pace (:meth:`paced`) spreads the minute's budget over the minute. Spent as fast as the
    per-second limit allows, a busy market used the whole minute's budget in half of it and left
    us without quotes for the rest (a 60 s paper run: quotes gone for its last 27 s). The pace
    is a token bucket holding at most ``per_min / PACE_BURST_SHARE`` messages, refilled at the
    rest of the budget over 60 s, so no 60 s window holds more than ``per_min`` paced messages,
    a quiet market's first requotes go out at once, and a busy one is requoted steadily.
    """

    def __init__(self, per_s: int, per_min: int) -> None:
        self._per_s = per_s
        self._per_min = per_min
        self._last_s: deque[float] = deque()
        self._last_min: deque[float] = deque()
        self._burst = float(max(1, per_min // PACE_BURST_SHARE))
        self._refill_per_s = (per_min - self._burst) / 60.0
        self._tokens = self._burst
        self._tokens_at: float | None = None

    def denial(self, now_s: float) -> str | None:
        """Why one more message now would exceed a window, or None if it fits."""
        self._expire(now_s)
        if len(self._last_s) >= self._per_s:
            return f"{len(self._last_s)} messages in the last second (max {self._per_s})"
        if len(self._last_min) >= self._per_min:
            return f"{len(self._last_min)} messages in the last minute (max {self._per_min})"
        return None

    def paced(self, now_s: float) -> bool:
        """Whether one more message now fits the limits and keeps to the pace."""
        return self.denial(now_s) is None and self._tokens_now(now_s) >= 1.0

    def record(self, now_s: float) -> None:
        """Count one message (or one venue reject) at ``now_s``."""
        self._expire(now_s)
        self._last_s.append(now_s)
        self._last_min.append(now_s)
        # A reject, or a message the pace was not asked about, may take the bucket below zero:
        # it is paid back before the next paced message.
        self._tokens = self._tokens_now(now_s) - 1.0
        self._tokens_at = now_s

    def _tokens_now(self, now_s: float) -> float:
        if self._tokens_at is None:
            return self._tokens
        elapsed = max(0.0, now_s - self._tokens_at)
        return min(self._burst, self._tokens + elapsed * self._refill_per_s)

    def _expire(self, now_s: float) -> None:
        while self._last_s and now_s - self._last_s[0] >= 1.0:
            self._last_s.popleft()
        while self._last_min and now_s - self._last_min[0] >= 60.0:
            self._last_min.popleft()


@dataclass(frozen=True, slots=True)
class _Proposal:
    """What the checks need of a new order or a replace."""

    symbol: str
    side: Side
    price: Decimal | None
    qty: Decimal
    added_exposure: Decimal
    adds_open_order: bool


@dataclass(slots=True)
class _StateRecord:
    state: TradingState
    reason: str
    at_s: float


class RiskEngine:
    """Pre-trade checks, trading state, kill switch and the message-rate governor."""

    def __init__(self, limits: RiskLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._governor = RateGovernor(limits.max_messages_per_s, limits.max_messages_per_min)
        self._denials: Counter[str] = Counter()
        now_s = clock()
        self._state = _StateRecord(TradingState.ACTIVE, "start", now_s)
        self._kill_switch = False

    # ----------------------------------------------------------------- trading state

    @property
    def state(self) -> TradingState:
        return self._state.state

    @property
    def state_reason(self) -> str:
        return self._state.reason

    @property
    def kill_switch_engaged(self) -> bool:
        return self._kill_switch

    def set_state(self, state: TradingState, reason: str, now_s: float | None = None) -> bool:
        """Move to ``state``; refused (False) while the kill switch holds the engine HALTED."""
        if self._kill_switch and state is not TradingState.HALTED:
            logger.warning("trading state %s refused: kill switch engaged", state.value)
            return False
        self._record_state(state, reason, now_s)
        return True

    def engage_kill_switch(self, reason: str, now_s: float | None = None) -> None:
        """HALTED for the rest of the process: :meth:`set_state` refuses any other state. To
        trade again the operator restarts the program (docs/runbook.md, ``KILL_SWITCH``), so
        nothing in a process that was killed can start it quoting again."""
        self._kill_switch = True
        self._record_state(TradingState.HALTED, f"kill switch: {reason}", now_s)

    def _record_state(self, state: TradingState, reason: str, now_s: float | None) -> None:
        at_s = self._now(now_s)
        logger.warning("trading state %s -> %s: %s", self._state.state.value, state.value, reason)
        self._state.state, self._state.reason, self._state.at_s = state, reason, at_s

    # ----------------------------------------------------------------- checks

    def check_new(
        self,
        order: NewOrder,
        fair_value: Decimal | None,
        book_age_s: float | None,
        book_crossed: bool,
        working_exposure: Exposure,
        now_s: float | None = None,
    ) -> RiskDecision:
        """Check a NewOrder before sending; an allowed order is counted by the rate governor."""
        proposal = _Proposal(
            symbol=order.symbol,
            side=order.side,
            price=order.price,
            qty=order.quantity,
            added_exposure=order.quantity,
            adds_open_order=True,
        )
        return self._check(proposal, fair_value, book_age_s, book_crossed, working_exposure, now_s)

    def check_replace(
        self,
        order: ManagedOrder,
        price: Decimal,
        qty: Decimal,
        fair_value: Decimal | None,
        book_age_s: float | None,
        book_crossed: bool,
        working_exposure: Exposure,
        now_s: float | None = None,
    ) -> RiskDecision:
        """Check replacing ``order`` by ``price``/``qty`` (new total quantity) before sending.

        ``working_exposure`` already holds the order's current open quantity; the replace adds
        only what it raises the total by (while it is in flight either quantity may trade).
        """
        proposal = _Proposal(
            symbol=order.symbol,
            side=order.side,
            price=price,
            qty=qty,
            added_exposure=max(qty - order.qty, ZERO),
            adds_open_order=False,
        )
        return self._check(proposal, fair_value, book_age_s, book_crossed, working_exposure, now_s)

    def has_message_budget(self, now_s: float | None = None) -> bool:
        """Whether one more order or replace fits the rate windows and the pace now.

        The trading loop asks before each order or replace and waits when the answer is no
        (:meth:`RateGovernor.paced`): pacing is not a denial, so it is neither counted nor
        logged as one.
        """
        return self._governor.paced(self._now(now_s))

    def record_reject(self, now_s: float | None = None) -> None:
        """Count a venue reject into the rate governor: rejects slow us down like messages."""
        self._governor.record(self._now(now_s))

    def denial_counts(self) -> dict[str, int]:
        """Denials so far, by reason code."""
        return dict(self._denials)

    def _check(
        self,
        proposal: _Proposal,
        fair_value: Decimal | None,
        book_age_s: float | None,
        book_crossed: bool,
        exposure: Exposure,
        now_s: float | None,
    ) -> RiskDecision:
        now = self._now(now_s)
        denial = (
            self._check_state(proposal, exposure)
            or self._check_order(proposal)
            or self._check_market(fair_value, book_age_s, book_crossed)
            or self._check_size(proposal, fair_value)
            or self._check_collar(proposal, fair_value)
            or self._check_open_orders(proposal, exposure)
            or self._check_position(proposal, exposure)
            or self._check_rate(now)
        )
        if denial is not None:
            self._denials[denial.reason_code or ""] += 1
            # The caller logs each new denial reason once; a line per denial would be a storm.
            logger.debug(
                "risk denied %s %s: %s", proposal.symbol, denial.reason_code, denial.detail
            )
            return denial
        self._governor.record(now)
        return RiskDecision.allow()

    def _check_state(self, proposal: _Proposal, exposure: Exposure) -> RiskDecision | None:
        if self.state is TradingState.HALTED or self.state is TradingState.WAITING:
            return RiskDecision.deny(TRADING_HALTED, self.state_reason)
        if self.state is TradingState.REDUCING and not _reduces(proposal, exposure):
            detail = (
                f"{proposal.side.name} {proposal.qty} does not reduce position "
                f"{exposure.position_base} (working buy {exposure.working_buy_base}, "
                f"sell {exposure.working_sell_base})"
            )
            return RiskDecision.deny(REDUCE_ONLY, detail)
        return None

    @staticmethod
    def _check_order(proposal: _Proposal) -> RiskDecision | None:
        if proposal.qty <= ZERO:
            return RiskDecision.deny(INVALID_ORDER, f"quantity {proposal.qty}")
        if proposal.price is not None and proposal.price <= ZERO:
            return RiskDecision.deny(INVALID_ORDER, f"price {proposal.price}")
        return None

    def _check_market(
        self, fair_value: Decimal | None, book_age_s: float | None, book_crossed: bool
    ) -> RiskDecision | None:
        if fair_value is None or fair_value <= ZERO:
            return RiskDecision.deny(NO_FAIR_VALUE, f"fair value {fair_value}")
        if book_age_s is None or book_age_s > self.limits.max_book_age_s:
            detail = f"book age {book_age_s}s > {self.limits.max_book_age_s}s"
            return RiskDecision.deny(STALE_BOOK, detail)
        if book_crossed:
            return RiskDecision.deny(CROSSED_BOOK, "best bid >= best offer")
        return None

    def _check_size(self, proposal: _Proposal, fair_value: Decimal | None) -> RiskDecision | None:
        if proposal.qty > self.limits.max_order_qty:
            detail = f"qty {proposal.qty} > {self.limits.max_order_qty}"
            return RiskDecision.deny(MAX_ORDER_QTY, detail)
        # A market order has no price of its own: value it at fair value.
        price = proposal.price if proposal.price is not None else fair_value or ZERO
        notional = proposal.qty * price
        if notional > self.limits.max_order_notional:
            detail = f"notional {notional} > {self.limits.max_order_notional}"
            return RiskDecision.deny(MAX_NOTIONAL, detail)
        return None

    def _check_collar(self, proposal: _Proposal, fair_value: Decimal | None) -> RiskDecision | None:
        if proposal.price is None or fair_value is None:
            return None
        distance_bps = abs(proposal.price - fair_value) * BPS / fair_value
        if distance_bps > self.limits.price_collar_bps:
            detail = (
                f"price {proposal.price} is {distance_bps:.2f} bps from fair value "
                f"{fair_value} (max {self.limits.price_collar_bps})"
            )
            return RiskDecision.deny(PRICE_COLLAR, detail)
        return None

    def _check_open_orders(self, proposal: _Proposal, exposure: Exposure) -> RiskDecision | None:
        if proposal.adds_open_order and exposure.open_orders >= self.limits.max_open_orders:
            detail = f"{exposure.open_orders} open orders (max {self.limits.max_open_orders})"
            return RiskDecision.deny(MAX_OPEN_ORDERS, detail)
        return None

    def _check_position(self, proposal: _Proposal, exposure: Exposure) -> RiskDecision | None:
        limit = self.limits.max_position_base.get(proposal.symbol)
        if limit is None:  # fail closed: a symbol nobody set a limit for is not traded
            return RiskDecision.deny(MAX_POSITION, f"no position limit for {proposal.symbol}")
        worst = _worst_case_after(proposal, exposure)
        if abs(worst) > limit and _moves_away(proposal.side, worst):
            detail = f"worst-case position {worst} beyond ±{limit}"
            return RiskDecision.deny(MAX_POSITION, detail)
        return None

    def _check_rate(self, now_s: float) -> RiskDecision | None:
        detail = self._governor.denial(now_s)
        return None if detail is None else RiskDecision.deny(RATE_LIMIT, detail)

    def _now(self, now_s: float | None) -> float:
        return self._clock() if now_s is None else now_s


def _worst_case_after(proposal: _Proposal, exposure: Exposure) -> Decimal:
    """Position if every working order on the proposal's side, and the proposal, filled."""
    if proposal.side is Side.BUY:
        return exposure.position_base + exposure.working_buy_base + proposal.added_exposure
    return exposure.position_base - exposure.working_sell_base - proposal.added_exposure


def _moves_away(side: Side, worst: Decimal) -> bool:
    """Whether the breach is on the side this order pushes toward (buys long, sells short)."""
    return worst > ZERO if side is Side.BUY else worst < ZERO


def _reduces(proposal: _Proposal, exposure: Exposure) -> bool:
    """Whether, even if all same-side orders fill, the position only shrinks toward zero."""
    position = exposure.position_base
    if proposal.side is Side.BUY:
        return position < ZERO and _worst_case_after(proposal, exposure) <= ZERO
    return position > ZERO and _worst_case_after(proposal, exposure) >= ZERO
