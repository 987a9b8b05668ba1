"""The operator's workflow as separate processes: simulate, run, kill, SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.support.processes import account_env, run_cli, start_cli, wait_for_line
from tests.support.sessions import unique_comp_id
from truex_qf.domain.netutil import free_port


def _env(tmp_path, oe_port: int, md_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "TRUEX_API_KEY": "11111111-2222-4333-8444-555555555555",
        "TRUEX_SECRET_KEY": "cli-test-secret",
        "TRUEX_SENDER_COMP_ID": unique_comp_id(),
        "TRUEX_CLIENT_ID": "12345678901234567",
        "TRUEX_FIX_HOST": "127.0.0.1",
        "TRUEX_ORDER_ENTRY_PORT": str(oe_port),
        "TRUEX_MARKET_DATA_PORT": str(md_port),
        "TRUEX_STATE_DIR": str(tmp_path / "state"),
        "PYTHONUNBUFFERED": "1",
    }


def _start_simulator(tmp_path):
    """``truex-qf simulate`` on three free ports, and the environment pointing at it. A port
    found free can be taken by another process before the simulator binds it (free_port's
    race, seen once under a loaded machine): the simulator then exits 1 saying the port is in
    use, and it is started again on other ports; any other early exit fails with its stderr."""
    for _ in range(3):
        oe_port, md_port, rest_port = free_port(), free_port(), free_port()
        env = {
            **_env(tmp_path, oe_port, md_port),
            "TRUEX_REST_URL": f"http://127.0.0.1:{rest_port}",
        }
        venue = start_cli(
            "simulate",
            "--oe-port",
            str(oe_port),
            "--md-port",
            str(md_port),
            "--rest-port",
            str(rest_port),
            "--seed",
            "BTC-PYUSD=100000",
            env=env,
        )
        try:
            wait_for_line(venue.stdout, "simulated TrueX on")
            return venue, env
        except AssertionError:
            venue.kill()
            _, err = venue.communicate(timeout=30)
            if "in use" not in err:
                raise AssertionError(f"simulate did not start: {err[-3000:]}") from None
    raise AssertionError("simulate found its ports taken three times")


def test_run_kill_then_sigint_exits_clean(tmp_path):
    venue, env = _start_simulator(tmp_path)
    try:
        trader = start_cli("run", env=env)
        try:
            wait_for_line(trader.stderr, "OE up MD up", timeout_s=30)
            killed = run_cli("kill", env=env, timeout_s=30)
            assert killed.returncode == 0, killed.stderr
            wait_for_line(trader.stderr, "kill switch engaged")
            trader.send_signal(signal.SIGINT)
            out, err = trader.communicate(timeout=60)
        finally:
            if trader.poll() is None:
                trader.kill()
        assert trader.returncode == 130, err[-3000:]  # stopped by Ctrl-C, cleanly
        assert "working orders after shutdown: 0" in out
        assert "trading state: HALTED (kill switch: kill command)" in out
        assert "Traceback" not in err
        assert not (tmp_path / "state" / "truex-qf.pid").exists()
    finally:
        venue.send_signal(signal.SIGTERM)
        venue.communicate(timeout=30)
    assert venue.returncode == 0


def test_kill_without_running_instance_is_one_line(tmp_path):
    env = _env(tmp_path, 1, 2)
    result = run_cli("kill", env=env, timeout_s=30)
    assert result.returncode == 1
    assert result.stderr.startswith("error: no running truex-qf found")
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_strategy_file_is_one_line(tmp_path):
    bad = tmp_path / "strategy.toml"
    bad.write_text("[symbols.BTC-PYUSD]\nspread_bps = -3\n")
    env = _env(tmp_path, free_port(), free_port())
    result = run_cli("run", "--strategy", str(bad), env=env, timeout_s=30)
    assert result.returncode == 2
    assert "symbols.BTC-PYUSD.spread_bps" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_cpu_wake_latency_is_one_line(tmp_path):
    env = _env(tmp_path, free_port(), free_port())
    result = run_cli("run", "--cpu-wake-latency-us", "0.5", env=env, timeout_s=30)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --cpu-wake-latency-us: '0.5' must be a whole number")
    assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- never ACTIVE
# while unable to trade: the run says what it waits for, then gives up with one line (exit 1)


def _orders_of(local) -> list[str]:
    """Every order the venue ever took from the account (finished ones included)."""
    venue = local.venue
    with venue.application.lock:
        known = venue.engine._orders_by_cl_ord_id
        return [cl for owner, cl in known if owner == local.client_settings.client_id]


def _gives_up(result, names: str) -> str:
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert names in errors[0]
    return errors[0]


def test_unreachable_rest_waits_for_reconciliation_then_gives_up(tmp_path):
    from truex_qf.app.demo import demo_account, start_local_venue

    local = start_local_venue(tmp_path / "venue", demo_account(unique_comp_id()))
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    from tests.support.services import redis_url_or_skip

    redis_url = redis_url_or_skip()
    env = account_env(
        local.client_settings,
        tmp_path / "state",
        TRUEX_REST_URL=closed,
        TRUEX_GIVE_UP_AFTER_S="12",
        REDIS_URL=redis_url,
    )
    try:
        trader = start_cli("run", env=env)
        try:
            wait_for_line(trader.stderr, "WAITING (waiting for reconciliation", 30)
            status = run_cli("status", "--once", env=env, timeout_s=30)
            out, err = trader.communicate(timeout=60)
        finally:
            if trader.poll() is None:
                trader.kill()
        result = subprocess.CompletedProcess(trader.args, trader.returncode, out, err)
        line = _gives_up(result, "TRUEX_REST_URL")
        assert closed in line and "will not quote without" in line
        assert _orders_of(local) == []  # nothing was sent without reconciliation
        assert status.returncode == 0, status.stderr
        assert "trading   WAITING  waiting for reconciliation" in status.stdout, status.stdout
    finally:
        local.venue.stop(force=True)


def test_a_symbol_the_venue_does_not_list_gives_up(tmp_path):
    from truex_qf.app.demo import demo_account, start_local_venue
    from truex_qf.sim.rest_server import SimulatorRestServer

    local = start_local_venue(tmp_path / "venue", demo_account(unique_comp_id()))
    rest = SimulatorRestServer(local.venue)
    rest.start()
    strategy = tmp_path / "strategy.toml"
    strategy.write_text("[symbols.DOGE-PYUSD]\n")
    env = account_env(
        local.client_settings,
        tmp_path / "state",
        TRUEX_REST_URL=rest.url,
        TRUEX_GIVE_UP_AFTER_S="3",
    )
    try:
        result = run_cli("run", "--strategy", str(strategy), env=env, timeout_s=90)
        line = _gives_up(result, "DOGE-PYUSD")
        assert "does not list" in line
        assert "no quotable symbol" in result.stderr
        assert _orders_of(local) == []
    finally:
        rest.stop()
        local.venue.stop(force=True)


def test_rest_off_quotes_and_says_it_is_not_reconciled(tmp_path):
    from truex_qf.app.demo import demo_account, start_local_venue

    local = start_local_venue(tmp_path / "venue", demo_account(unique_comp_id()))
    env = account_env(local.client_settings, tmp_path / "state", TRUEX_REST_URL="off")
    try:
        result = run_cli("run", "--duration", "4", env=env, timeout_s=90)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "ACTIVE (quoting without reconciliation" in result.stderr
        assert "trading state: HALTED (SHUTDOWN)" in result.stdout
    finally:
        local.venue.stop(force=True)


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_a_bad_give_up_time_is_one_line(tmp_path, value):
    env = {**_env(tmp_path, free_port(), free_port()), "TRUEX_GIVE_UP_AFTER_S": value}
    result = run_cli("run", env=env, timeout_s=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("error: TRUEX_GIVE_UP_AFTER_S:")
    assert len(result.stderr.strip().splitlines()) == 1
