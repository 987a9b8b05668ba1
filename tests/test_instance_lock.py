"""One instance per account and state folder, with real processes: `run`, a second `run`, `kill`.

The holder is a real ``truex-qf run`` logged on to a simulated venue, or (where only the lock
matters) a small Python process holding :class:`InstanceLock`. Every test points the account
locks at its own folder through XDG_RUNTIME_DIR, so no test sees another's (or a real) lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import account_env, run_cli, start_cli, wait_for_line
from tests.support.sessions import unique_comp_id
from truex_qf.app.demo import LocalVenue, demo_account, start_local_venue
from truex_qf.app.instance_lock import (
    LOCK_FILE,
    PID_FILE,
    InstanceLock,
    InstanceRunningError,
    account_key,
    find_holder,
)
from truex_qf.domain.errors import TruexError

CLI_TIMEOUT_S = 60.0


def _cli_env(local: LocalVenue, state_dir: Path, runtime_dir: Path) -> dict[str, str]:
    return account_env(
        local.client_settings,
        state_dir,
        TRUEX_REST_URL="off",
        XDG_RUNTIME_DIR=str(runtime_dir),
    )


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, timeout_s=CLI_TIMEOUT_S)


@pytest.fixture
def venue(tmp_path) -> Iterator[LocalVenue]:
    local = start_local_venue(tmp_path / "venue", demo_account(unique_comp_id()))
    yield local
    local.venue.stop(force=True)


def test_a_second_run_exits_at_once_and_kill_still_finds_the_first(tmp_path, venue):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    state = tmp_path / "state"
    env = _cli_env(venue, state, runtime)
    holder = start_cli("run", env=env)
    try:
        wait_for_line(holder.stderr, "OE up MD up", timeout_s=40)
        assert (state / PID_FILE).read_text().strip() == str(holder.pid)

        # the same state folder, then another folder on the same account
        second = _cli("run", env=env)
        elsewhere = _cli("run", env={**env, "TRUEX_STATE_DIR": str(tmp_path / "other")})
        for result in (second, elsewhere):
            assert result.returncode == 1, result.stderr
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert f"another truex-qf (process {holder.pid})" in result.stderr
            assert "Traceback" not in result.stderr
        assert "in the state folder" in second.stderr
        assert f"(state folder {state.resolve()})" in elsewhere.stderr
        # the holder is untouched: still running, still logged on, its PID file still its own
        assert holder.poll() is None
        assert (state / PID_FILE).read_text().strip() == str(holder.pid)
        assert not (tmp_path / "other" / PID_FILE).exists()

        killed = _cli("kill", env=env)
        assert killed.returncode == 0, killed.stderr
        assert killed.stdout.strip() == f"kill switch sent to process {holder.pid}"
        wait_for_line(holder.stderr, "kill switch engaged")
        holder.send_signal(signal.SIGINT)
        _, err = holder.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()
    assert holder.returncode == 130, err[-3000:]  # stopped by Ctrl-C, cleanly (cli docstring)
    assert "Traceback" not in err
    assert not (state / PID_FILE).exists()
    # released: the next run's lock is free, and kill says nothing runs
    assert find_holder(state) is None


_HOLD = """
import sys, time
from pathlib import Path
from truex_qf.app.instance_lock import InstanceLock
lock = InstanceLock(Path(sys.argv[1]), sys.argv[2])
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def _hold(state: Path, account: str, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(state), account],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_line(process.stdout, "held", timeout_s=20)
    return process


def test_kill_reports_a_dead_holder_and_ignores_a_stale_pid_file(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    state = tmp_path / "state"
    env = {**os.environ, "TRUEX_STATE_DIR": str(state), "XDG_RUNTIME_DIR": str(runtime)}
    holder = _hold(state, "ACCT@127.0.0.1:1/OE", env)
    try:
        assert find_holder(state).pid == holder.pid  # type: ignore[union-attr]
        holder.send_signal(signal.SIGKILL)  # no cleanup at all: the PID file stays behind
        holder.wait(timeout=CLI_TIMEOUT_S)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate()
    assert (state / PID_FILE).read_text().strip() == str(holder.pid)
    # a PID file naming a live process (this test) must not be believed either
    (state / PID_FILE).write_text(f"{os.getpid()}\n")

    result = _cli("kill", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: no running truex-qf found: nothing holds {state / LOCK_FILE} "
        f"(process {holder.pid}, its last holder, has exited)"
    )

    # what the dead holder left behind blocks nobody
    with InstanceLock(state, "ACCT@127.0.0.1:1/OE"):
        assert find_holder(state).pid == os.getpid()  # type: ignore[union-attr]
        assert (state / PID_FILE).read_text().strip() == str(os.getpid())
    assert not (state / PID_FILE).exists()


def test_kill_signals_the_lock_holder_not_the_pid_file(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    state = tmp_path / "state"
    env = {**os.environ, "TRUEX_STATE_DIR": str(state), "XDG_RUNTIME_DIR": str(runtime)}
    holder = _hold(state, "ACCT2@127.0.0.1:1/OE", env)
    try:
        (state / PID_FILE).write_text("999999999\n")  # overwritten by someone: ignored
        result = _cli("kill", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"kill switch sent to process {holder.pid}"
        holder.wait(timeout=CLI_TIMEOUT_S)  # SIGUSR1's default action ends the helper
        assert holder.returncode == -signal.SIGUSR1
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate()


def test_one_account_one_instance_across_state_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    (tmp_path / "runtime").mkdir()
    account = account_key("MM1", "UAT.truex.co", 19484, "TRUEX_UAT_OE")
    assert account == account_key("MM1", "uat.truex.co", 19484, "TRUEX_UAT_OE")
    first = tmp_path / "a"
    first.mkdir()
    (tmp_path / "b").mkdir()
    with InstanceLock(first, account):
        with pytest.raises(InstanceRunningError) as refused:
            InstanceLock(tmp_path / "b", account).acquire()
        assert str(refused.value) == (
            f"another truex-qf (process {os.getpid()}) is trading as {account} "
            f"(state folder {first.resolve()})"
        )
        # the refused attempt took nothing: its state folder is still free
        with InstanceLock(tmp_path / "b", account_key("MM2", "uat.truex.co", 19484, "X")):
            pass
        assert not (tmp_path / "b" / PID_FILE).exists()


def test_a_lock_folder_of_another_user_is_refused(tmp_path, monkeypatch):
    runtime = tmp_path / "runtime"
    (runtime / "truex-qf").mkdir(parents=True)
    try:
        os.chown(runtime / "truex-qf", os.getuid() + 1, -1)
    except PermissionError:
        pytest.skip("making a folder owned by another user needs root")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    with pytest.raises(TruexError, match="is not a folder of this user"):
        InstanceLock(tmp_path / "state", "A@h:1/T").acquire()
