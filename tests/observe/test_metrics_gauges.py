"""The gauges a dashboard needs (fair value, quoted spread, book age), ``build_info``, the
zero series of known labels, and the alert counters fed by the alert manager."""

from __future__ import annotations

import importlib.metadata
import math
import platform
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.market_maker import quoting_market_maker
from tests.support.timing import FakeClock
from truex_qf.domain.model import LogonRefused, NewOrder, SessionLoggedOn, SessionRole, Side
from truex_qf.observe.alerts import (
    AUTH_FAILURE,
    FIRING,
    RESOLVED,
    RULES,
    SPILL_FULL,
    AlertManager,
)
from truex_qf.observe.metrics import (
    ORDER_TYPES,
    REJECT_REASONS,
    ROLES,
    Metrics,
    git_commit,
    quoted_spread_bps,
)
from truex_qf.strategy.settings import default_strategy
from truex_qf.trading.market_maker import MarketMaker
from truex_qf.trading.risk import REASON_CODES, TradingState


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_known_label_values_are_exposed_at_zero_before_any_event():
    metrics = Metrics()
    for order_type in ORDER_TYPES:
        for reason in REJECT_REASONS:
            labels = {"type": order_type, "reason": reason}
            assert value(metrics, "truexqf_orders_rejected_total", **labels) == 0, labels
    for reason in REJECT_REASONS:
        assert value(metrics, "truexqf_business_rejects_total", reason=reason) == 0
    for code in (*REASON_CODES, "OTHER"):
        assert value(metrics, "truexqf_risk_denials_total", reason=code) == 0
    for role in ROLES:
        assert value(metrics, "truexqf_session_rejects_total", role=role) == 0
        for result in ("accepted", "refused"):
            assert value(metrics, "truexqf_logons_total", role=role, result=result) == 0
    for rule in RULES:
        assert value(metrics, "truexqf_alerts_active", rule=rule) == 0
        for status in (FIRING, RESOLVED):
            assert value(metrics, "truexqf_alerts_total", rule=rule, status=status) == 0
    assert value(metrics, "truexqf_cancel_to_ack_seconds_count") == 0


def test_build_info_names_the_versions_and_the_commit():
    metrics = Metrics()
    families = {f.name: f for f in metrics.registry.collect()}
    (sample,) = families["truexqf_build_info"].samples
    assert sample.value == 1
    assert sample.labels["version"] == importlib.metadata.version("truex-qf")
    assert sample.labels["python"] == platform.python_version()
    assert sample.labels["quickfix"] == importlib.metadata.version("quickfix")
    assert re.fullmatch(r"[0-9a-f]{12}|unknown", sample.labels["commit"])


def _fake_git(tmp_path: Path, head: str, files: dict[str, str]) -> Path:
    package = tmp_path / "truex_qf"
    package.mkdir(parents=True)
    git = tmp_path / ".git"
    git.mkdir()
    (git / "HEAD").write_text(head + "\n")
    for name, text in files.items():
        path = git / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_git_commit_reads_loose_packed_and_detached_heads_without_git(tmp_path):
    sha = "0123456789abcdef0123456789abcdef01234567"
    loose = _fake_git(tmp_path / "a", "ref: refs/heads/main", {"refs/heads/main": sha + "\n"})
    assert git_commit(loose) == sha[:12]
    packed_refs = f"# pack-refs with: peeled\n{sha} refs/heads/main\n"
    packed = _fake_git(tmp_path / "b", "ref: refs/heads/main", {"packed-refs": packed_refs})
    assert git_commit(packed) == sha[:12]
    assert git_commit(_fake_git(tmp_path / "c", sha, {})) == sha[:12]
    assert git_commit(_fake_git(tmp_path / "d", "garbage", {})) == "unknown"
    lonely = tmp_path / "e" / "truex_qf"
    lonely.mkdir(parents=True)
    assert git_commit(lonely) == "unknown"


def test_quoted_spread_in_basis_points_of_our_mid():
    assert quoted_spread_bps(Decimal("99"), Decimal("101")) == pytest.approx(200.0)
    assert math.isnan(quoted_spread_bps(None, Decimal("101")))
    assert math.isnan(quoted_spread_bps(Decimal("99"), None))


def test_sample_sets_fair_value_quoted_spread_and_book_age():
    metrics = Metrics()
    mm, sent = quoting_market_maker()
    symbol = next(iter(mm.symbols))
    orders = [c for c in sent if isinstance(c, NewOrder)]
    best_bid = max(o.price for o in orders if o.side is Side.BUY)
    best_ask = min(o.price for o in orders if o.side is Side.SELL)
    book = mm.books.book(symbol)
    assert book is not None and book.updated_s is not None

    metrics.sample(mm)
    after_s = mm.clock()

    fair = value(metrics, "truexqf_fair_value_quote", symbol=symbol)
    assert fair == pytest.approx(float(mm.fair_values()[symbol]))
    spread = value(metrics, "truexqf_quoted_spread_bps", symbol=symbol)
    assert spread == pytest.approx(quoted_spread_bps(best_bid, best_ask))
    assert spread > 0
    age = value(metrics, "truexqf_book_age_seconds", symbol=symbol)
    assert age is not None and 0 <= age <= after_s - book.updated_s
    assert value(metrics, "truexqf_working_orders", symbol=symbol) == len(orders)


def test_a_symbol_without_book_or_quotes_has_zero_counters_and_nan_gauges():
    metrics = Metrics()
    mm = MarketMaker(default_strategy(), lambda command: True)
    metrics.sample(mm)
    for symbol in mm.symbols:
        assert value(metrics, "truexqf_fills_total", symbol=symbol) == 0
        assert value(metrics, "truexqf_filled_base_total", symbol=symbol, side="sell") == 0
        for name in (
            "truexqf_fair_value_quote",
            "truexqf_quoted_spread_bps",
            "truexqf_book_age_seconds",
        ):
            sampled = value(metrics, name, symbol=symbol)
            assert sampled is not None and math.isnan(sampled), name


def test_alerts_are_counted_by_rule_and_link_their_runbook_section():
    metrics = Metrics()
    clock = FakeClock()
    alerts = AlertManager(None, clock, on_alert=metrics.alert_raised)
    alerts.observe(LogonRefused(SessionRole.ORDER_ENTRY, "oe", "Authentication failed", "8"))
    assert value(metrics, "truexqf_alerts_total", rule=AUTH_FAILURE, status=FIRING) == 1
    assert value(metrics, "truexqf_alerts_active", rule=AUTH_FAILURE) == 1
    (firing,) = alerts.active()
    assert firing.runbook == "docs/runbook.md#auth_failure"
    assert "runbook: docs/runbook.md#auth_failure" in firing.payload("test")["text"]

    alerts.observe(SessionLoggedOn(SessionRole.ORDER_ENTRY, "oe"))
    assert value(metrics, "truexqf_alerts_total", rule=AUTH_FAILURE, status=RESOLVED) == 1
    assert value(metrics, "truexqf_alerts_active", rule=AUTH_FAILURE) == 0


def test_a_halt_for_a_full_spill_file_fires_spill_full():
    metrics = Metrics()
    alerts = AlertManager(None, FakeClock(), on_alert=metrics.alert_raised)
    mm, _sent = quoting_market_maker()
    alerts.sample(mm)
    assert value(metrics, "truexqf_alerts_active", rule=SPILL_FULL) == 0
    mm.risk.set_state(TradingState.HALTED, "STORAGE_SPILL_FULL")
    alerts.sample(mm)
    alerts.sample(mm)  # one firing per episode
    assert [a.rule for a in alerts.active() if a.rule == SPILL_FULL] == [SPILL_FULL]
    assert value(metrics, "truexqf_alerts_total", rule=SPILL_FULL, status=FIRING) == 1
    assert value(metrics, "truexqf_alerts_active", rule=SPILL_FULL) == 1


def test_a_failing_alert_listener_does_not_raise():
    def broken(_alert: object) -> None:
        raise RuntimeError("listener bug")

    alerts = AlertManager(None, FakeClock(), on_alert=broken)
    alerts.observe(LogonRefused(SessionRole.ORDER_ENTRY, "oe", "Authentication failed", "8"))
    assert [a.rule for a in alerts.active()] == [AUTH_FAILURE]
