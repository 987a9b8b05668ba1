"""bench.reference_to_quote runs: a few reference ticks through the stream each cause an order
(the figures themselves are the bench's business, never asserted here)."""

from __future__ import annotations

from bench.reference_to_quote import measure


def test_stream_ticks_each_cause_an_order(tmp_path) -> None:
    figures = measure("stream", 3, tmp_path / "state")
    assert figures["n"] == 3
    assert figures["p50"] > 0
