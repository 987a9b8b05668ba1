"""Every user mistake is one line on stderr and exit 2, never a traceback: the real CLI, run as
a subprocess, through one table of cases (environment, arguments, files).

Each case fails while reading its settings, before any connection is made; the base
environment points at closed ports and switches REST off, so a case that wrongly got further
fails on its own line count rather than hanging.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CASE_TIMEOUT_S = 60.0
HUGE_INT = "9" * 5000  # more digits than Python turns into an int from text
SECRET = "hunter2-never-printed"


@dataclass(frozen=True)
class Case:
    """One mistake: the command line, the environment changes, and what the line must name.

    ``{tmp}`` in arguments and values is the test's folder, which holds ``afile`` (a plain
    file) and ``strategy.toml`` (the case's ``strategy`` text, when given).
    """

    name: str
    args: tuple[str, ...]
    expected: str
    env: dict[str, str] = field(default_factory=dict)
    strategy: str | None = None


def _strategy(line: str) -> str:
    return f"[symbols.BTC-PYUSD]\n{line}\n"


MONGO = "mongodb://127.0.0.1/x"
HTTP_DB = "http://example.com/x"

CASES = [
    # DATABASE_URL: a scheme SQLAlchemy has no dialect for, in every command that reads it
    Case(
        "db-mongodb-run",
        ("run",),
        "DATABASE_URL: unsupported database mongodb",
        {"DATABASE_URL": MONGO},
    ),
    Case(
        "db-mongodb-upgrade",
        ("db", "upgrade"),
        "DATABASE_URL: unsupported",
        {"DATABASE_URL": MONGO},
    ),
    Case("db-mongodb-orders", ("orders",), "DATABASE_URL: unsupported", {"DATABASE_URL": MONGO}),
    Case(
        "db-mongodb-audit",
        ("audit", "verify"),
        "DATABASE_URL: unsupported",
        {"DATABASE_URL": MONGO},
    ),
    Case(
        "db-http-run",
        ("run",),
        "DATABASE_URL: unsupported database http",
        {"DATABASE_URL": HTTP_DB},
    ),
    Case(
        "db-http-upgrade", ("db", "upgrade"), "DATABASE_URL: unsupported", {"DATABASE_URL": HTTP_DB}
    ),
    Case("db-http-replay", ("replay",), "DATABASE_URL: unsupported", {"DATABASE_URL": HTTP_DB}),
    Case(
        "db-not-url", ("fills",), "DATABASE_URL: not a database URL", {"DATABASE_URL": "not a url"}
    ),
    Case(
        "db-password-kept",
        ("pnl",),
        "DATABASE_URL: unsupported database mongodb",
        {"DATABASE_URL": f"mongodb://admin:{SECRET}@127.0.0.1/x"},
    ),
    Case(
        "db-port-range",
        ("db", "upgrade"),
        "DATABASE_URL: port 99999",
        {"DATABASE_URL": "postgresql://u@127.0.0.1:99999/db"},
    ),
    Case(
        "db-sqlite-below-file",
        ("db", "upgrade"),
        "DATABASE_URL: {tmp}/afile is a file",
        {"DATABASE_URL": "sqlite:///{tmp}/afile/x.db"},
    ),
    # TRUEX_STATE_DIR: a file, below a file, impossible, unwritable
    Case(
        "state-file-run",
        ("run",),
        "TRUEX_STATE_DIR: {tmp}/afile is a file",
        {"TRUEX_STATE_DIR": "{tmp}/afile"},
    ),
    Case(
        "state-file-simulate",
        ("simulate",),
        "TRUEX_STATE_DIR: {tmp}/afile is a file",
        {"TRUEX_STATE_DIR": "{tmp}/afile"},
    ),
    Case(
        "state-file-upgrade",
        ("db", "upgrade"),
        "TRUEX_STATE_DIR:",
        {"TRUEX_STATE_DIR": "{tmp}/afile"},
    ),
    Case(
        "state-file-kill",
        ("kill",),
        "TRUEX_STATE_DIR: {tmp}/afile is a file",
        {"TRUEX_STATE_DIR": "{tmp}/afile"},
    ),
    Case(
        "state-below-file-demo",
        ("demo", "--duration", "1"),
        "TRUEX_STATE_DIR: {tmp}/afile/sub: a part of the path is a file",
        {"TRUEX_STATE_DIR": "{tmp}/afile/sub"},
    ),
    Case(
        "state-impossible-run",
        ("run",),
        "TRUEX_STATE_DIR: cannot create the folder /proc/nonexistent/state",
        {"TRUEX_STATE_DIR": "/proc/nonexistent/state"},
    ),
    Case(
        "state-impossible-test-order",
        ("test-order",),
        "TRUEX_STATE_DIR: cannot",
        {"TRUEX_STATE_DIR": "/proc/nonexistent/state"},
    ),
    Case(
        "state-unwritable-orders",
        ("orders",),
        "TRUEX_STATE_DIR: cannot write in the folder /proc",
        {"TRUEX_STATE_DIR": "/proc"},
    ),
    Case(
        "balance-without-paper", ("run", "--balance", "PYUSD=100"), "--balance: only with --paper"
    ),
    Case("paper-balance-bad", ("run", "--paper", "--balance", "BTC=x"), "'x' is not a number"),
    # the strategy file: huge, tiny, not-a-number, infinite, negative, empty
    Case(
        "strategy-overflow",
        ("run",),
        "level_size_base: is out of range",
        strategy=_strategy('level_size_base = "1e1000000"'),
    ),
    Case(
        "strategy-underflow",
        ("run",),
        "level_size_base: is out of range",
        strategy=_strategy('level_size_base = "1e-1000000"'),
    ),
    Case(
        "strategy-nan",
        ("run",),
        "spread_bps: must be a finite number",
        strategy=_strategy('spread_bps = "NaN"'),
    ),
    Case(
        "strategy-toml-inf",
        ("run",),
        "spread_bps: must be a finite number",
        strategy=_strategy("spread_bps = inf"),
    ),
    Case(
        "strategy-infinity",
        ("run",),
        "max_position_base: must be a finite",
        strategy=_strategy('max_position_base = "-Infinity"'),
    ),
    Case(
        "strategy-negative",
        ("run",),
        "max_position_base: must be a positive number",
        strategy=_strategy("max_position_base = -1"),
    ),
    Case(
        "strategy-empty",
        ("run",),
        "spread_bps: must be a number",
        strategy=_strategy('spread_bps = ""'),
    ),
    Case("strategy-huge-int", ("run",), "invalid TOML", strategy=f"market_depth = {HUGE_INT}\n"),
    Case(
        "strategy-big-int",
        ("run",),
        "market_depth: is out of range",
        strategy="market_depth = 99999999999999999999\n",
    ),
    Case(
        "strategy-bad-url",
        ("run",),
        "coinbase_base_url: must be an http(s) URL",
        strategy='coinbase_base_url = "ftp://x"\n',
    ),
    # URLs
    Case(
        "rest-scheme",
        ("run",),
        "TRUEX_REST_URL: ftp:// is not supported",
        {"TRUEX_REST_URL": "ftp://uat.truex.co"},
    ),
    Case(
        "rest-no-host", ("run",), "TRUEX_REST_URL: http://: no host", {"TRUEX_REST_URL": "http://"}
    ),
    Case(
        "rest-port",
        ("run",),
        "TRUEX_REST_URL: http://h: malformed host or port",
        {"TRUEX_REST_URL": "http://h:99999"},
    ),
    Case("redis-no-scheme", ("run",), "REDIS_URL:", {"REDIS_URL": "localhost:6379"}),
    Case(
        "redis-port", ("run",), "REDIS_URL: redis://h: malformed", {"REDIS_URL": "redis://h:abc/0"}
    ),
    Case(
        "redis-status",
        ("status", "--once"),
        "REDIS_URL: http:// is not supported",
        {"REDIS_URL": "http://h"},
    ),
    Case(
        "webhook-no-scheme",
        ("run",),
        "TRUEX_ALERT_WEBHOOK_URL:",
        {"TRUEX_ALERT_WEBHOOK_URL": "hooks.example.com/x"},
    ),
    Case(
        "webhook-token-kept",
        ("run",),
        "TRUEX_ALERT_WEBHOOK_URL: not a URL",
        {"TRUEX_ALERT_WEBHOOK_URL": f"https://hooks.example.com/{SECRET} x"},
    ),
    # ports and hosts
    Case(
        "metrics-port-text",
        ("run",),
        "TRUEX_METRICS_PORT: 'abc' is not a port",
        {"TRUEX_METRICS_PORT": "abc"},
    ),
    Case(
        "metrics-port-range",
        ("run",),
        "TRUEX_METRICS_PORT: 70000 is not a port",
        {"TRUEX_METRICS_PORT": "70000"},
    ),
    Case("metrics-host", ("run",), "TRUEX_METRICS_HOST:", {"TRUEX_METRICS_HOST": "bad host!"}),
    Case(
        "oe-port-negative",
        ("run",),
        "TRUEX_ORDER_ENTRY_PORT: -1 is not a port",
        {"TRUEX_ORDER_ENTRY_PORT": "-1"},
    ),
    # other settings and arguments
    Case("api-key-empty", ("run",), "TRUEX_API_KEY: not set", {"TRUEX_API_KEY": ""}),
    Case(
        "unknown-orders",
        ("run",),
        "TRUEX_UNKNOWN_ORDERS: 'maybe'",
        {"TRUEX_UNKNOWN_ORDERS": "maybe"},
    ),
    Case("duration-negative", ("run", "--duration", "-5"), "--duration: -5 must be a positive"),
    Case("duration-nan", ("run", "--duration", "nan"), "--duration: nan must be a positive"),
    Case("duration-text", ("run", "--duration", "abc"), "'abc' is not a valid float"),
    Case("limit-text", ("orders", "--limit", "abc"), "'abc' is not a valid integer"),
    Case(
        "test-order-huge-price",
        ("test-order", "--price", "1e1000000"),
        "--price: '1e1000000' is out of range",
    ),
    Case(
        "test-order-nan-size",
        ("test-order", "--quantity", "NaN"),
        "--quantity: 'NaN' must be a positive",
    ),
    Case("env-file-folder", ("--env-file", "{tmp}", "run"), "Invalid value for '--env-file'"),
    Case(
        "audit-since",
        ("audit", "show", "--since", "yesterday"),
        "--since: 'yesterday' is not an ISO time",
    ),
    Case(
        "proxy-logon-timeout",
        ("proxy", "--oe", "127.0.0.1:1", "--oe-listen-port", "0", "--logon-timeout", "nan"),
        "--logon-timeout: must be a positive number",
    ),
    Case(
        "proxy-per-address",
        ("proxy", "--oe", "127.0.0.1:1", "--oe-listen-port", "0", "--max-per-address", "0"),
        "--max-per-address: must be at least 1",
    ),
]


def _base_env(tmp_path: Path) -> dict[str, str]:
    """Valid settings pointing at closed ports, nothing inherited that could change a case."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TRUEX_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    return {
        **inherited,
        "TRUEX_API_KEY": "11111111-2222-4333-8444-555555555555",
        "TRUEX_SECRET_KEY": "cli-errors-secret",
        "TRUEX_SENDER_COMP_ID": "CLIERRORS",
        "TRUEX_CLIENT_ID": "12345678901234567",
        "TRUEX_FIX_HOST": "127.0.0.1",
        "TRUEX_ORDER_ENTRY_PORT": "9",
        "TRUEX_MARKET_DATA_PORT": "13",
        "TRUEX_REST_URL": "off",
        "TRUEX_STATE_DIR": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(tmp_path),
    }


def test_the_table_is_large_and_names_are_unique():
    assert len(CASES) >= 25
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_user_mistake_is_one_line_and_exit_2(tmp_path: Path, case: Case) -> None:
    (tmp_path / "afile").write_text("not a folder\n")
    tmp = str(tmp_path)
    args = [arg.replace("{tmp}", tmp) for arg in case.args]
    if case.strategy is not None:
        strategy = tmp_path / "strategy.toml"
        strategy.write_text(case.strategy)
        args += ["--strategy", str(strategy)]
    env = _base_env(tmp_path)
    env.update({key: value.replace("{tmp}", tmp) for key, value in case.env.items()})

    result = subprocess.run(
        [sys.executable, "-m", "truex_qf.app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )

    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert case.expected.replace("{tmp}", tmp) in lines[0]
    assert SECRET not in result.stderr
    assert result.returncode == 2, (result.returncode, lines[0])
