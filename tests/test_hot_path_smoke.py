"""``python -m bench.hot_path`` end to end on a few hundred messages: every figure is produced and
is a real measurement. No timing is judged; the check that matters is that the tick phase
really sends orders, so its figures time a requote that replaces quotes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.figures import positive

PROJECT_DIR = Path(__file__).resolve().parents[1]


def hot_path(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.hot_path", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hot_path_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "hot.json"
    finished = hot_path("--messages", "300", "--stages", "--json", str(output))
    assert finished.returncode == 0, finished.stderr[-4000:]
    report = json.loads(output.read_text(encoding="utf-8"))

    md = report["market_data"]
    assert md["messages"] == 300
    for part in ("to_string", "read", "apply", "requote_pass", "total"):
        positive(report, "market_data", "per_message_us", part)
    assert 0 < md["full_requotes"] < 300  # some messages reach the top of book, not all
    positive(report, "market_data", "full_requote_us")

    tick = report["tick"]
    assert tick["ticks_with_orders"] > 250  # every mid move replaces the quotes
    assert tick["orders"] >= tick["ticks_with_orders"]
    for part in ("read", "apply", "requote_to_first_order", "whole_requote"):
        positive(report, "tick", "p50_us", part)
    for step in (
        "quote_inputs",
        "fair_value",
        "proposal",
        "diff",
        "exposure",
        "risk_check_replace",
        "order_manager_replace",
    ):
        positive(report, "tick", "stages_p50_us", step)


def test_hot_path_refuses_a_run_too_short_to_measure() -> None:
    finished = hot_path("--messages", "3")
    assert finished.returncode == 2
    assert "--messages must be at least 10" in finished.stderr
    assert "Traceback" not in finished.stderr
