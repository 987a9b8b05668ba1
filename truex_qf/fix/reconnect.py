"""When to let the engine reconnect a session: exponential backoff, jitter, a circuit breaker.

QuickFIX reconnects an enabled initiator session on its own (every ReconnectInterval, set to 1 s
in ``sessions.cfg``). This module decides *when* a session may be enabled, so a venue that drops
us, refuses our logons or rate-limits reconnects (TrueX UAT does, spec §13.2 item 12) is never
hammered: after a failure the session is disabled (``Session.logout``) for a growing delay, then
enabled again (``Session.logon``). After ``breaker_failures`` consecutive failures the breaker
opens and the session waits ``breaker_cooldown_s`` before the next try.

A failure is a refused logon, a logout or disconnect, or an attempt that has not logged on
within ``attempt_timeout_s`` (the engine reports a failed TCP connect only in its global log,
without saying which session, so time is the reliable signal). Pure logic, driven by the
trading loop's clock; :class:`~truex_qf.fix.client.FixClient` applies the actions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum


class LinkState(str, Enum):
    UP = "up"
    CONNECTING = "connecting"  # enabled: the engine is trying
    WAITING = "waiting"  # disabled until the backoff delay has passed
    BREAKER_OPEN = "breaker_open"  # disabled for the cool-down


class Action(str, Enum):
    ENABLE = "enable"
    DISABLE = "disable"


@dataclass(frozen=True)
class BackoffPolicy:
    """Delays in seconds. ``jitter`` is the fraction by which a delay may vary either way."""

    initial_s: float = 1.0
    max_s: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.2
    attempt_timeout_s: float = 15.0
    breaker_failures: int = 6
    breaker_cooldown_s: float = 300.0

    def __post_init__(self) -> None:
        checks = {
            "initial_s": self.initial_s > 0,
            "max_s": self.max_s >= self.initial_s,
            "multiplier": self.multiplier >= 1,
            "jitter": 0 <= self.jitter < 1,
            "attempt_timeout_s": self.attempt_timeout_s > 0,
            "breaker_failures": self.breaker_failures >= 1,
            "breaker_cooldown_s": self.breaker_cooldown_s > 0,
        }
        for name, valid in checks.items():
            if not valid:
                raise ValueError(f"BackoffPolicy.{name} out of range: {getattr(self, name)!r}")

    def delay_s(self, failures: int, rng: random.Random) -> float:
        """The wait after the ``failures``-th consecutive failure (1-based)."""
        base = min(self.initial_s * self.multiplier ** (failures - 1), self.max_s)
        return base * (1 + rng.uniform(-self.jitter, self.jitter))


class SessionReconnector:
    """One session's reconnect schedule."""

    def __init__(
        self, name: str, policy: BackoffPolicy, now_s: float, rng: random.Random | None = None
    ) -> None:
        self.name = name
        self.policy = policy
        self.state = LinkState.CONNECTING  # the engine starts every session enabled
        self.failures = 0
        self.attempt_started_s = now_s
        self.resume_at_s: float | None = None
        self.last_failure: str | None = None
        self._rng = rng or random.Random()

    def on_logged_on(self, now_s: float) -> None:
        self.state = LinkState.UP
        self.failures = 0
        self.resume_at_s = None

    def on_down(self, now_s: float, why: str) -> Action | None:
        """A refused logon, a logout or a disconnect. Repeats for one episode count once."""
        if self.state not in (LinkState.UP, LinkState.CONNECTING):
            return None
        return self._fail(now_s, why)

    def poll(self, now_s: float) -> Action | None:
        """What to do now, if anything: re-enable after the wait, or give up on a slow attempt."""
        if self.state is LinkState.CONNECTING:
            if now_s - self.attempt_started_s >= self.policy.attempt_timeout_s:
                return self._fail(now_s, "no logon within the attempt timeout")
            return None
        waiting = self.state in (LinkState.WAITING, LinkState.BREAKER_OPEN)
        if waiting and self.resume_at_s is not None and now_s >= self.resume_at_s:
            self.state = LinkState.CONNECTING
            self.attempt_started_s = now_s
            self.resume_at_s = None
            return Action.ENABLE
        return None

    @property
    def breaker_open(self) -> bool:
        return self.state is LinkState.BREAKER_OPEN

    def _fail(self, now_s: float, why: str) -> Action:
        self.failures += 1
        self.last_failure = why
        if self.failures >= self.policy.breaker_failures:
            self.state = LinkState.BREAKER_OPEN
            self.resume_at_s = now_s + self.policy.breaker_cooldown_s
            self.failures = 0  # after the cool-down, start the backoff afresh
        else:
            self.state = LinkState.WAITING
            self.resume_at_s = now_s + self.policy.delay_s(self.failures, self._rng)
        return Action.DISABLE
