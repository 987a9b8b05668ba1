"""The reconnect schedule: backoff with jitter, one failure per episode, the circuit breaker."""

import random

import pytest

from truex_qf.fix.reconnect import Action, BackoffPolicy, LinkState, SessionReconnector

NO_JITTER = BackoffPolicy(
    initial_s=1,
    max_s=8,
    multiplier=2,
    jitter=0,
    attempt_timeout_s=10,
    breaker_failures=5,
    breaker_cooldown_s=300,
)


def test_delays_grow_and_cap():
    rng = random.Random(1)
    assert [NO_JITTER.delay_s(n, rng) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_jitter_stays_within_its_fraction():
    policy = BackoffPolicy(initial_s=10, max_s=10, jitter=0.2)
    rng = random.Random(7)
    delays = [policy.delay_s(1, rng) for _ in range(500)]
    assert 8 <= min(delays) < 8.5 and 11.5 < max(delays) <= 12
    assert len(set(delays)) > 100  # really random, so reconnects do not synchronise


def test_failure_disables_then_enables_after_the_delay():
    link = SessionReconnector("oe", NO_JITTER, now_s=0)
    link.on_logged_on(1)
    assert link.on_down(5, "logout") is Action.DISABLE
    assert link.state is LinkState.WAITING
    assert link.poll(5.9) is None
    assert link.poll(6.0) is Action.ENABLE
    assert link.state is LinkState.CONNECTING


def test_refusal_then_logout_counts_once():
    link = SessionReconnector("oe", NO_JITTER, now_s=0)
    assert link.on_down(1, "logon refused") is Action.DISABLE
    assert link.on_down(1, "logout") is None  # the engine's onLogout after the refusal
    assert link.failures == 1


def test_silent_attempt_times_out():
    link = SessionReconnector("oe", NO_JITTER, now_s=0)
    assert link.poll(9.9) is None
    assert link.poll(10) is Action.DISABLE
    assert link.last_failure == "no logon within the attempt timeout"


def test_breaker_opens_after_consecutive_failures_and_cools_down():
    link = SessionReconnector("oe", NO_JITTER, now_s=0)
    now = 0.0
    for expected_wait in (1, 2, 4, 8):
        assert link.on_down(now, "refused") is Action.DISABLE
        assert link.resume_at_s == now + expected_wait
        now = link.resume_at_s
        assert link.poll(now) is Action.ENABLE
    assert link.on_down(now, "refused") is Action.DISABLE  # the fifth
    assert link.breaker_open
    assert link.poll(now + 299) is None
    assert link.poll(now + 300) is Action.ENABLE
    link.on_down(now + 301, "refused")
    assert link.resume_at_s == now + 301 + 1  # backoff starts afresh after the cool-down


def test_success_resets_the_count():
    link = SessionReconnector("oe", NO_JITTER, now_s=0)
    link.on_down(0, "x")
    link.poll(1)
    link.on_logged_on(2)
    link.on_down(3, "x")
    assert link.resume_at_s == 4  # 1 s again, not 2


def test_bad_policy_named():
    with pytest.raises(ValueError, match="multiplier"):
        BackoffPolicy(multiplier=0.5)
