"""bench.reference_to_quote and bench.reference_cost run: a few reference ticks through the
stream each cause an order, and a short run against the lagging book with informed takers
completes (the figures themselves are the bench's business, never asserted here)."""

from __future__ import annotations

from bench.reference_cost import run_once
from bench.reference_to_quote import measure


def test_stream_ticks_each_cause_an_order(tmp_path) -> None:
    figures = measure("stream", 3, tmp_path / "state")
    assert figures["n"] == 3
    assert figures["p50"] > 0


def test_reference_cost_runs_against_the_lagging_book(tmp_path) -> None:
    figures = run_once(True, 2.0, 19, tmp_path / "state")
    assert set(figures) == {
        "fills",
        "filled_base",
        "fills_by_informed_takers",
        "pnl_at_reference",
        "position_base",
    }
    assert figures["fills_by_informed_takers"] <= figures["fills"]
