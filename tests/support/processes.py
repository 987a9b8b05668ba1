"""truex-qf as a separate process, the way an operator runs it.

:func:`account_env` points a process at an account (a simulated one, usually); :func:`run_cli`
runs one command to the end, :func:`start_cli` starts one to watch, and :func:`wait_for_line`
reads its output up to a line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from truex_qf.config import FixSettings

CLI = (sys.executable, "-m", "truex_qf.app.cli")


def account_vars(settings: FixSettings) -> dict[str, str]:
    """The TRUEX_* variables that name ``settings``' gateway, keys, CompID and client id."""
    return {
        "TRUEX_FIX_HOST": settings.host,
        "TRUEX_ORDER_ENTRY_PORT": str(settings.order_entry_port),
        "TRUEX_MARKET_DATA_PORT": str(settings.market_data_port),
        "TRUEX_API_KEY": settings.credentials.api_key,
        "TRUEX_SECRET_KEY": settings.credentials.secret_key,
        "TRUEX_SENDER_COMP_ID": settings.sender_comp_id,
        "TRUEX_CLIENT_ID": settings.client_id,
    }


def account_env(settings: FixSettings, state_dir: Path, **overrides: str) -> dict[str, str]:
    """This process's environment with ``settings``' account, ``state_dir`` and unbuffered
    output (a test reads it line by line); ``overrides`` last."""
    return {
        **os.environ,
        **account_vars(settings),
        "TRUEX_STATE_DIR": str(state_dir),
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def store_env(state_dir: Path) -> dict[str, str]:
    """This process's environment with ``state_dir`` and unbuffered output, and no
    DATABASE_URL: the commands store their runs in SQLite under ``state_dir``."""
    env = {**os.environ, "TRUEX_STATE_DIR": str(state_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout_s: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """``truex-qf ARGS`` to the end, its output captured."""
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout_s)


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``truex-qf ARGS`` started, its stdout and stderr pipes to read."""
    return subprocess.Popen(
        [*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_line(stream: IO[str] | None, fragment: str, timeout_s: float = 30.0) -> str:
    """The first line of ``stream`` holding ``fragment``; fails at the end of the stream or
    after ``timeout_s`` (checked between lines), showing what it read."""
    assert stream is not None
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if fragment in line:
            return line
    raise AssertionError(f"{fragment!r} not seen; got {''.join(seen)[-2000:]}")
