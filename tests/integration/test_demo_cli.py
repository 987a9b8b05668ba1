"""The main job as a user runs it: `truex-qf demo`, then the store's commands on what it wrote."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess

from tests.support.processes import run_cli


def _cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, timeout_s=timeout)


def test_demo_then_audit_replay_and_reports(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEX_", "DATABASE_URL"))}
    env["TRUEX_STATE_DIR"] = str(tmp_path / "state")
    demo = _cli("demo", "--duration", "6", env=env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    for line in ("fills: ", "position: ", "realized pnl: ", "unrealized pnl: ", "risk denials: "):
        assert line in demo.stdout
    assert "working orders after shutdown: 0" in demo.stdout
    ours = int(re.search(r"^fills: (\d+)", demo.stdout, re.M).group(1))
    venue = int(re.search(r"simulator's record of our fills: (\d+)", demo.stdout).group(1))
    assert ours == venue

    # the demo names its capture and the command that backtests it with the demo's strategy
    printed = re.search(r"^backtest it: truex-qf (backtest .*)$", demo.stdout, re.M)
    assert printed, demo.stdout
    backtest = _cli(*printed.group(1).split(), env=env)
    assert backtest.returncode == 0, backtest.stderr[-3000:]
    assert re.search(r"^replayed \d+ market-data messages", backtest.stdout, re.M), backtest.stdout

    demo_env = {**env, "TRUEX_STATE_DIR": str(tmp_path / "state" / "demo")}
    verify = _cli("audit", "verify", env=demo_env)
    assert verify.returncode == 0 and "journal chain OK" in verify.stdout, verify.stdout
    replay = _cli("replay", env=demo_env)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "replay matches" in replay.stdout
    fills = _cli("fills", "--csv", env=demo_env)
    rows = list(csv.DictReader(io.StringIO(fills.stdout)))
    assert len(rows) == ours
    pnl = _cli("pnl", "--csv", env=demo_env)
    (symbol_row,) = csv.DictReader(io.StringIO(pnl.stdout))
    assert symbol_row["position_check"] == "agree"
    logons = _cli("audit", "show", "--type", "A", env=demo_env)
    assert logons.stdout.count("35=A|") == 4  # two sessions, both directions
    assert "554=***" in logons.stdout

    # no signature or secret anywhere under the state folder
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("utf-8", "replace")
            assert not re.search(r"(^|\x01|\|)554=(?!\*\*\*)", content), path
