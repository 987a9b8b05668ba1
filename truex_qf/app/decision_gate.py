"""When the engine thread decides after a market-data message (issue 19, "Coalesced decisions").

Every market-data message is applied to its book on arrival, in order, on the engine thread
that read it; only the quote decision (:meth:`~truex_qf.trading.market_maker.MarketMaker.
requote_dirty`) is coalesced. Deciding after each message of a burst is wasted work (TrueX
accepts about ten orders a second) and makes the last, freshest message of the burst wait
behind decisions on stale books.

QuickFIX does not say whether more data waits in its socket buffer, so the gate reads a cheap
sign of it: the engine thread read this message within :data:`BURST_GAP_US` of finishing the
previous one, i.e. it went straight from one message to the next. Then the decision waits
(deferred: the trading loop is woken to decide when the engine thread lets go), unless the
oldest message not yet decided on is :attr:`DecisionGate.max_lag_ns` old, in which case the
engine thread decides at once, mid-burst. A message that found the engine idle is decided on
at once. Whatever decides (a deferred flush, an order report, the periodic tick) covers every
message applied before it, and reports :meth:`DecisionGate.decided`.

Plain integers of nanoseconds from the caller's clock (``time.perf_counter_ns``, the clock of
the events' ``received_ns``): no clock is read here, so tests drive it with a fake one.
"""

from __future__ import annotations

BURST_GAP_US = 50
"""A message read this soon after the engine thread finished the previous one was most likely
already waiting: the thread went from one to the next without waiting on its socket."""


class DecisionGate:
    """The pending burst: when its oldest undecided message arrived, and whether to decide."""

    def __init__(self, max_lag_us: int, burst_gap_us: int = BURST_GAP_US) -> None:
        self.max_lag_ns = max_lag_us * 1000
        self.burst_gap_ns = burst_gap_us * 1000
        self.oldest_ns = 0
        """Receipt of the oldest message applied and not yet decided on; 0: none pending."""
        self._free_since_ns = 0  # when the engine thread last finished a message

    @property
    def pending(self) -> bool:
        return self.oldest_ns != 0

    def applied(self, received_ns: int, now_ns: int) -> bool:
        """One market-data message applied (received at ``received_ns``): decide now?

        Yes when the engine thread was idle before it (nothing else seems to wait) or when
        the oldest undecided message is ``max_lag_ns`` old; otherwise the decision is
        pending, to be taken by whoever comes next (:meth:`decided`).
        """
        if self.oldest_ns == 0:
            self.oldest_ns = received_ns or now_ns
        in_burst = 0 <= received_ns - self._free_since_ns < self.burst_gap_ns
        return not in_burst or now_ns - self.oldest_ns >= self.max_lag_ns

    def finished(self, now_ns: int) -> None:
        """The engine thread is done with a message (and its decision, if it took one)."""
        self._free_since_ns = now_ns

    def overdue(self, now_ns: int) -> bool:
        """Whether a pending decision has reached the bound."""
        return self.oldest_ns != 0 and now_ns - self.oldest_ns >= self.max_lag_ns

    def decided(self) -> int:
        """A decision covered everything applied so far: the receipt of the oldest message
        it covered (0: none was pending), and nothing is pending any more."""
        oldest, self.oldest_ns = self.oldest_ns, 0
        return oldest
