"""`truex-qf test-order` end to end against the simulated exchange, in-process and as a CLI."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from decimal import Decimal

import pytest

from tests.support.processes import account_env, run_cli
from truex_qf.app.demo import DEMO_MID, DEMO_SYMBOL
from truex_qf.config import Credentials, FixSettings
from truex_qf.domain.errors import ConfigError, OrderRejectedError, TruexError
from truex_qf.domain.model import SessionRole, Side
from truex_qf.ops.testorder import TestOrderRequest, run_test_order


def test_place_acknowledge_cancel(local_venue):
    lines: list[str] = []
    run_test_order(
        local_venue.client_settings, TestOrderRequest(symbol=DEMO_SYMBOL), report=lines.append
    )
    text = "\n".join(lines)
    assert "order entry logged on" in text
    assert "acknowledged: New, OrderID" in text
    assert "canceled: OrderID" in text
    assert lines[-1].endswith("logged out")
    client_id = local_venue.client_settings.client_id
    assert local_venue.venue.engine.working_orders(client_id) == []
    # the price came from the top of book: 100 bps behind the best bid, on the 0.1 tick
    best_bid = local_venue.venue.engine.depth(DEMO_SYMBOL, 1).bids[0].price
    placed = next(line for line in lines if "sent NewOrderSingle" in line)
    price = Decimal(placed.rsplit("@ ", 1)[1])
    assert price < best_bid
    assert abs(price - best_bid * Decimal("0.99")) <= Decimal("0.1")


def test_explicit_price_needs_no_market_data(local_venue):
    lines: list[str] = []
    request = TestOrderRequest(symbol=DEMO_SYMBOL, side=Side.SELL, price=DEMO_MID * Decimal("1.02"))
    run_test_order(local_venue.client_settings, request, report=lines.append)
    assert not local_venue.venue.application.is_logged_on(SessionRole.MARKET_DATA)
    assert any("canceled" in line for line in lines)


def test_wrong_secret_is_refused_as_truex_does(local_venue):
    settings = local_venue.client_settings
    wrong = dataclasses.replace(
        settings, credentials=Credentials(settings.credentials.api_key, "wrong")
    )
    with pytest.raises(TruexError) as caught:
        run_test_order(wrong, TestOrderRequest(price=Decimal("90000"), timeout_s=5))
    assert "Authentication failed" in str(caught.value)
    assert "signature problem" in str(caught.value)
    journal = local_venue.venue.application.journal
    assert (SessionRole.ORDER_ENTRY, "Authentication failed") in journal.rejected_logons
    assert (SessionRole.ORDER_ENTRY, "3") in journal.admin_out  # 35=3, not a Logout
    assert (SessionRole.ORDER_ENTRY, "A") not in journal.admin_out


def test_order_reject_is_reported(local_venue):
    request = TestOrderRequest(symbol=DEMO_SYMBOL, price=DEMO_MID * Decimal("0.5"), timeout_s=5)
    with pytest.raises(OrderRejectedError, match="Order outside book price bands"):
        run_test_order(local_venue.client_settings, request)


def _cli_env(settings: FixSettings, **overrides: str) -> dict[str, str]:
    return account_env(settings, settings.state_dir, **overrides)


def _truex_qf(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, timeout_s=60)


def test_cli_exit_zero_with_only_the_environment(local_venue):
    result = _truex_qf("test-order", env=_cli_env(local_venue.client_settings))
    assert result.returncode == 0, result.stderr
    assert "test-order: OK" in result.stdout
    assert "canceled" in result.stdout


def test_cli_wrong_secret_one_line_nonzero(local_venue):
    env = _cli_env(local_venue.client_settings, TRUEX_SECRET_KEY="not-the-secret")
    result = _truex_qf("test-order", "--price", "90000", "--timeout", "5", env=env)
    assert result.returncode == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Authentication failed" in errors[0]
    assert "Traceback" not in result.stderr
    assert "not-the-secret" not in result.stdout + result.stderr


def test_cli_missing_setting_names_it(local_venue):
    env = _cli_env(local_venue.client_settings)
    del env["TRUEX_CLIENT_ID"]
    result = _truex_qf("test-order", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: TRUEX_CLIENT_ID: not set (TrueX client IDs are digits)"


def test_no_secret_in_state_folder(local_venue):
    settings = local_venue.client_settings
    result = _truex_qf("-v", "test-order", env=_cli_env(settings))
    assert result.returncode == 0, result.stderr
    secret = settings.credentials.secret_key
    files = [p for p in settings.state_dir.rglob("*") if p.is_file()]
    assert files, "the run should leave its engine store and log"
    for path in files:
        content = path.read_text(errors="replace")
        assert secret not in content
        assert not re.search(r"(^|\x01|\|)554=(?!\*\*\*)", content), path
    assert "554=***" in result.stderr  # the verbose message log shows the Logon, redacted


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--price", "90000.05"], "--price: Invalid price increment"),  # tick 0.1 here
        (["--price", "90000", "--quantity", "0.00005"], "--quantity: Invalid quantity increment"),
        (["--price", "90000", "--quantity", "0.00001"], "--quantity: Invalid quantity increment"),
    ],
)
def test_cli_order_off_the_grid_is_bad_input_exit_2(local_venue, args, named):
    result = _truex_qf("test-order", *args, env=_cli_env(local_venue.client_settings))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {named}"), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "tick 0.1, lot 0.0001" in result.stderr
    # refused before any logon: a typo costs no session
    assert local_venue.venue.application.journal.logon_attempts == []


def test_quantity_below_the_lot_with_a_price_from_the_book(local_venue):
    request = TestOrderRequest(symbol=DEMO_SYMBOL, quantity=Decimal("0.000001"), timeout_s=5)
    with pytest.raises(ConfigError, match=r"^--quantity: Invalid quantity increment"):
        run_test_order(local_venue.client_settings, request)
    assert local_venue.venue.engine.working_orders(local_venue.client_settings.client_id) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "-1"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
        (["--timeout", "inf"], "--timeout"),
        (["--distance-bps", "10000"], "--distance-bps"),
    ],
)
def test_cli_impossible_request_is_bad_input_exit_2(local_venue, args, named):
    result = _truex_qf("test-order", *args, env=_cli_env(local_venue.client_settings))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {named}: "), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert local_venue.venue.application.journal.logon_attempts == []
