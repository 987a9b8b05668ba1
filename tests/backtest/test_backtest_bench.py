"""bench.backtest_speed runs and reports its figures (the speed itself is the bench's)."""

from __future__ import annotations

from pathlib import Path

from bench.backtest_speed import measure


def test_the_speed_bench_replays_and_reports(tmp_path: Path) -> None:
    alone = measure(60, 2, tmp_path, store=False)
    stored = measure(60, 2, tmp_path, store=True)
    for row in (alone, stored):
        assert row["messages"] > 100 and row["fills"] > 0 and row["x_real_time"] > 0
    # the same capture and strategy: the same replay, stored or not
    assert (alone["messages"], alone["fills"]) == (stored["messages"], stored["fills"])
