"""A trader's first minutes, end to end: a short demo, then `runs`, `summary` and the reports
find it without flags or with the id it printed; an unknown id is one line and exit 2."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading


def _cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "truex_qf.app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_then_runs_and_summary_find_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEX_", "DATABASE_URL"))}
    env["TRUEX_STATE_DIR"] = str(tmp_path / "state")
    nothing = _cli("summary", env=env)
    assert nothing.returncode == 1 and nothing.stderr.startswith("error: no run stored yet")

    demo = _cli("demo", "--duration", "5", env=env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    printed = re.search(r"see it with: truex-qf summary (\w+)$", demo.stdout, re.M)
    assert printed, demo.stdout
    short_id = printed.group(1)
    fills = int(re.search(r"^fills: (\d+)", demo.stdout, re.M).group(1))

    runs = _cli("runs", env=env)
    assert runs.returncode == 0, runs.stderr
    header, _rule, row, *rest = runs.stdout.splitlines()
    assert header.split() == ["id", "started_utc", "duration", "mode", "fills", "volume", "pnl"]
    assert not rest
    cells = row.split()
    assert cells[0] == short_id and cells[4] == "demo" and int(cells[5]) == fills

    summary = _cli("summary", env=env)  # no id: the latest run, the demo's included
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.startswith(f"run {short_id}")
    assert "(demo, DEMO_MM)" in summary.stdout and "BTC-PYUSD" in summary.stdout
    assert all(len(line) <= 100 for line in summary.stdout.splitlines())
    by_prefix = _cli("summary", short_id[:4], "--json", env=env)
    assert by_prefix.returncode == 0, by_prefix.stderr
    data = json.loads(by_prefix.stdout)
    assert data["run_id"].startswith(short_id) and data["mode"] == "demo"
    assert int(data["symbols"]["BTC-PYUSD"]["fills"]) == fills

    pnl = _cli("pnl", env=env)
    assert pnl.returncode == 0 and "BTC-PYUSD" in pnl.stdout and "PYUSD" in pnl.stdout
    assert all(len(line) <= 100 for line in pnl.stdout.splitlines())
    executions = _cli("audit", "show", "--type", "ExecutionReport", "--run-id", short_id, env=env)
    assert executions.returncode == 0, executions.stderr
    assert executions.stdout and all("35=8" in line for line in executions.stdout.splitlines())

    verify = _cli("audit", "verify", env=env)  # the demo's store is checked too
    assert verify.returncode == 0 and "journal chain OK" in verify.stdout, verify.stderr
    logons = _cli("audit", "show", "--type", "Logon", env=env)  # the latest run's store
    assert logons.returncode == 0 and logons.stdout.count("35=A") >= 4, logons.stderr

    page = tmp_path / "run.html"
    report = _cli("report", short_id, "--html", str(page), env=env)
    assert report.returncode == 0, report.stderr
    assert page.read_text().count("<svg class='chart'") == 3  # one symbol: pnl, inventory, fills

    for args in (("summary", "ffffffff"), ("pnl", "--run-id", "nope"), ("status", "--run-id", "x")):
        unknown = _cli(*args, env=env)
        assert unknown.returncode == 2, (args, unknown.stderr)
        assert unknown.stderr.count("\n") == 1 and "no such run" in unknown.stderr


def test_a_demo_stopped_by_ctrl_c_exits_130_after_a_clean_stop(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEX_", "DATABASE_URL"))}
    env["TRUEX_STATE_DIR"] = str(tmp_path / "state")
    demo = subprocess.Popen(
        [sys.executable, "-m", "truex_qf.app.cli", "demo", "--duration", "300"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(120, demo.kill)  # bounded, whatever happens
    watchdog.start()
    try:
        seen = []
        for line in demo.stderr:  # type: ignore[union-attr]
            seen.append(line)
            if "order_entry logged on" in line:
                break
        assert demo.poll() is None, "".join(seen)[-3000:]
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=110)
    finally:
        watchdog.cancel()
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 130, err[-3000:]
    assert "stopped by SIGINT (exit 130)" in err and "Traceback" not in err
    assert "working orders after shutdown: 0" in out  # the first Ctrl-C stops cleanly
    assert "see it with: truex-qf summary" in out
    runs = _cli("runs", env=env)
    assert runs.returncode == 0 and "running" not in runs.stdout  # the run row was closed
